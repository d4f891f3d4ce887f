-- feeds schema 1: the store (site settings, stories, updates, retired ids)
-- and the build state, so that no machine keeps anything on its disk that matters.

CREATE TABLE site (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),  -- one site per schema
    settings    text NOT NULL,                  -- site.toml, as written
    seq         bigint NOT NULL                 -- its change sequence number
);

-- Every change to the store takes the next number: a story's version is the
-- number of its last change, so "what changed since" is a comparison.
CREATE SEQUENCE change_seq;

CREATE TABLE stories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL UNIQUE
                CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    title       text NOT NULL CHECK (btrim(title) <> ''),
    summary     text NOT NULL DEFAULT '',
    link        text CHECK (link ~ '^https?://'),
    timezone    text NOT NULL,                  -- IANA zone of its local times
    language    text,                           -- NULL: the site's
    authors     jsonb,                          -- NULL: the site's author; else as in TOML
    tags        text[] NOT NULL DEFAULT '{}',
    status      text NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'ended')),
    created     timestamptz,
    background  text NOT NULL DEFAULT '',       -- Markdown before the first update
    seq         bigint NOT NULL,                -- change_seq of its last change
    changed_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz                     -- removed: its rows stay, its ids taken
);
CREATE INDEX stories_seq ON stories (seq);

CREATE TABLE updates (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    story_id      bigint NOT NULL REFERENCES stories (id) ON DELETE RESTRICT,
    -- The last part of its tag: id. Unique per story, so the id is unique per
    -- site; a deleted update keeps its row (deleted_at), so it is never reused.
    anchor        text NOT NULL CHECK (anchor ~ '^[A-Za-z][A-Za-z0-9_-]{0,63}$'),
    published     timestamptz NOT NULL,
    local_time    timestamp NOT NULL,           -- as the reporter wrote it
    utc_offset    interval NOT NULL,            -- of local_time in the story's zone then
    title         text NOT NULL DEFAULT '',     -- as written (Markdown); '' derives one
    body          text NOT NULL DEFAULT '',     -- Markdown
    author        text,                         -- "Name" or "Name <email>"; NULL: the story's
    updated       timestamptz,                  -- an explicit edit time
    retracted     boolean NOT NULL DEFAULT false,
    retracted_at  timestamptz,
    note          text,                         -- why it was retracted
    deleted_at    timestamptz,                  -- removed from the story: a tombstone row
    revision      integer NOT NULL DEFAULT 1,   -- grows with every change to it
    UNIQUE (story_id, anchor),
    CHECK (published = (local_time - utc_offset) AT TIME ZONE 'UTC'),
    CHECK (btrim(body) <> '' OR btrim(title) <> ''),
    CHECK (updated IS NULL OR updated >= published),
    CHECK (retracted_at IS NULL OR (retracted AND retracted_at >= published)),
    CHECK (note IS NULL OR retracted)
);

-- Anchors of updates that were published and are gone (from builds).
CREATE TABLE retired (
    story_slug  text NOT NULL,
    anchor      text NOT NULL,
    PRIMARY KEY (story_slug, anchor)
);

-- The build state: what builds published (first-published and edit times,
-- tombstones), one record per story and the index, as the build writes them.
CREATE TABLE build_state (
    name        text PRIMARY KEY,
    body        bytea NOT NULL
);

CREATE TABLE build_meta (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    generation  bigint NOT NULL DEFAULT 0,      -- grows with every build that saved state
    building    text,                           -- who is publishing now (NULL: nobody)
    started_at  timestamptz
);
INSERT INTO build_meta DEFAULT VALUES;
