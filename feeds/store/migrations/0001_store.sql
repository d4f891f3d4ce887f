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
    body        bytea NOT NULL,
    generation  bigint NOT NULL DEFAULT 0      -- the build that wrote it (build_meta's)
);

CREATE TABLE build_meta (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    generation  bigint NOT NULL DEFAULT 0,      -- grows with every build that saved state
    building    text,                           -- who is publishing now (NULL: nobody)
    started_at  timestamptz
);
INSERT INTO build_meta DEFAULT VALUES;

-- A change made by hand in SQL (a DBA fixing a typo) is a change like any
-- other: the story gets the next change number and the workers are told.
-- feeds' own writes say who they are (set_config('feeds.writer', 'feeds'))
-- and number and announce their changes themselves, once per change.
CREATE FUNCTION feeds_by_hand() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT current_setting('feeds.writer', true) IS DISTINCT FROM 'feeds' $$;

CREATE FUNCTION feeds_update_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_slug text;
BEGIN
    UPDATE stories SET seq = nextval('change_seq'), changed_at = now()
        WHERE id IN (NEW.story_id, OLD.story_id)
        RETURNING slug INTO changed_slug;
    PERFORM pg_notify('feeds_changes', coalesce(changed_slug, ''));
    RETURN NULL;
END $$;

CREATE TRIGGER updates_changed_by_hand
    AFTER INSERT OR UPDATE OR DELETE ON updates
    FOR EACH ROW WHEN (feeds_by_hand())
    EXECUTE FUNCTION feeds_update_changed();

CREATE FUNCTION feeds_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM nextval('change_seq');
        PERFORM pg_notify('feeds_changes', '');
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.seq IS DISTINCT FROM OLD.seq THEN
        RETURN NEW;  -- numbered already (by the trigger above)
    END IF;
    NEW.seq := nextval('change_seq');
    IF TG_TABLE_NAME = 'stories' THEN
        PERFORM pg_notify('feeds_changes', to_jsonb(NEW) ->> 'slug');
    ELSE
        PERFORM pg_notify('feeds_changes', '');
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER stories_changed_by_hand
    BEFORE INSERT OR UPDATE OR DELETE ON stories
    FOR EACH ROW WHEN (feeds_by_hand())
    EXECUTE FUNCTION feeds_row_changed();

CREATE TRIGGER site_changed_by_hand
    BEFORE INSERT OR UPDATE ON site
    FOR EACH ROW WHEN (feeds_by_hand())
    EXECUTE FUNCTION feeds_row_changed();
