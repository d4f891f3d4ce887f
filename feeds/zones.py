"""Time zone abbreviations: what newsrooms print, and what readers expect to see.

``ZONES`` maps each abbreviation to its IANA zone and, for a specific one
(EDT), the offset it fixes; a generic one (ET) names the zone with its daylight
saving rules. The importer reads stamps with it; pages write local times with
:func:`abbreviation`, which prefers the zone database's own letters (BST, CEST,
EDT) and falls back on this table for zones whose database abbreviation is a
number (Asia/Tehran's "+0330" is IRST to its readers).
"""

from __future__ import annotations

from datetime import datetime, timedelta

_H = timedelta(hours=1)
_M = timedelta(minutes=1)

# Abbreviation -> (IANA zone, fixed offset or None for the zone's own rules).
ZONES: dict[str, tuple[str, timedelta | None]] = {
    "ET": ("America/New_York", None),
    "EST": ("America/New_York", -5 * _H),
    "EDT": ("America/New_York", -4 * _H),
    "CT": ("America/Chicago", None),
    "CST": ("America/Chicago", -6 * _H),
    "CDT": ("America/Chicago", -5 * _H),
    "MT": ("America/Denver", None),
    "MST": ("America/Denver", -7 * _H),
    "MDT": ("America/Denver", -6 * _H),
    "PT": ("America/Los_Angeles", None),
    "PST": ("America/Los_Angeles", -8 * _H),
    "PDT": ("America/Los_Angeles", -7 * _H),
    "AKST": ("America/Anchorage", -9 * _H),
    "AKDT": ("America/Anchorage", -8 * _H),
    "HST": ("Pacific/Honolulu", -10 * _H),
    "AST": ("America/Halifax", -4 * _H),
    "ADT": ("America/Halifax", -3 * _H),
    "NST": ("America/St_Johns", -(3 * _H + 30 * _M)),
    "NDT": ("America/St_Johns", -(2 * _H + 30 * _M)),
    "GMT": ("UTC", timedelta(0)),
    "UTC": ("UTC", timedelta(0)),
    "Z": ("UTC", timedelta(0)),
    "BST": ("Europe/London", _H),
    "UK": ("Europe/London", None),
    "IST": ("Asia/Kolkata", 5 * _H + 30 * _M),
    "WET": ("Europe/Lisbon", timedelta(0)),
    "WEST": ("Europe/Lisbon", _H),
    "CET": ("Europe/Paris", _H),
    "CEST": ("Europe/Paris", 2 * _H),
    "MEZ": ("Europe/Berlin", _H),
    "MESZ": ("Europe/Berlin", 2 * _H),
    "EET": ("Europe/Athens", 2 * _H),
    "EEST": ("Europe/Athens", 3 * _H),
    "MSK": ("Europe/Moscow", 3 * _H),
    "IRST": ("Asia/Tehran", 3 * _H + 30 * _M),
    "IRDT": ("Asia/Tehran", 4 * _H + 30 * _M),
    "GST": ("Asia/Dubai", 4 * _H),
    "PKT": ("Asia/Karachi", 5 * _H),
    "NPT": ("Asia/Kathmandu", 5 * _H + 45 * _M),
    "ICT": ("Asia/Bangkok", 7 * _H),
    "WIB": ("Asia/Jakarta", 7 * _H),
    "HKT": ("Asia/Hong_Kong", 8 * _H),
    "SGT": ("Asia/Singapore", 8 * _H),
    "JST": ("Asia/Tokyo", 9 * _H),
    "KST": ("Asia/Seoul", 9 * _H),
    "ACST": ("Australia/Adelaide", 9 * _H + 30 * _M),
    "ACDT": ("Australia/Adelaide", 10 * _H + 30 * _M),
    "AEST": ("Australia/Sydney", 10 * _H),
    "AEDT": ("Australia/Sydney", 11 * _H),
    "AWST": ("Australia/Perth", 8 * _H),
    "NZST": ("Pacific/Auckland", 12 * _H),
    "NZDT": ("Pacific/Auckland", 13 * _H),
    "CHAST": ("Pacific/Chatham", 12 * _H + 45 * _M),
    "CHADT": ("Pacific/Chatham", 13 * _H + 45 * _M),
    "SAST": ("Africa/Johannesburg", 2 * _H),
    "EAT": ("Africa/Nairobi", 3 * _H),
    "WAT": ("Africa/Lagos", _H),
    "BRT": ("America/Sao_Paulo", -3 * _H),
    "ART": ("America/Argentina/Buenos_Aires", -3 * _H),
    "COT": ("America/Bogota", -5 * _H),
}


_BY_ZONE_OFFSET = {
    (zone, offset): name for name, (zone, offset) in ZONES.items() if offset is not None
}


def abbreviation(local: datetime) -> str:
    """The abbreviation readers of ``local``'s zone expect ("BST", "IRDT"), or "" if
    the zone has none."""
    name = local.tzname() or ""
    if name.isalpha() and name.upper() == name:
        return name  # the zone database's own: BST, CEST, EDT, UTC, GMT
    key = getattr(local.tzinfo, "key", "")
    offset = local.utcoffset()
    return _BY_ZONE_OFFSET.get((key, offset), "") if offset is not None else ""
