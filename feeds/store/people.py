"""Authors as written in TOML: "Name", "Name <email>", or {name, email, uri}."""

from __future__ import annotations

from ..model import Person


def person(value: object) -> Person | str:
    """A Person, or a message saying what is wrong with ``value``."""
    if isinstance(value, str):
        if "<" in value:
            import email.utils  # only then: importing it costs more than reading a story

            display, address = email.utils.parseaddr(value)
            if address and "@" in address and display:
                return Person(name=display.strip(), email=address)
        if value.strip():
            return Person(name=value.strip())
        return "an author's name cannot be empty"
    if isinstance(value, dict):
        unknown = set(value) - {"name", "email", "uri"}
        if unknown:
            return f"unknown author key {sorted(unknown)[0]!r}; use name, email, uri"
        name: object = value.get("name")
        mail: object = value.get("email")
        uri: object = value.get("uri")
        if not isinstance(name, str) or not name.strip():
            return 'an author table needs a name: {name = "...", email = "..."}'
        if mail is not None and (not isinstance(mail, str) or "@" not in mail):
            return f"author email {mail!r} is not an email address"
        if uri is not None and (
            not isinstance(uri, str) or not uri.startswith(("http://", "https://"))
        ):
            return f"author uri {uri!r} must be an http(s) URL"
        return Person(name=name.strip(), email=mail, uri=uri)
    return 'an author is a string ("Name" or "Name <email>") or a table {name = "..."}'
