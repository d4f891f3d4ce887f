from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.timeutil import (
    TimeError,
    format_offset,
    naive_local,
    parse_offset,
    resolve_local,
    rfc822,
    rfc3339,
    zone,
)

TEHRAN = zone("Asia/Tehran")
NEW_YORK = zone("America/New_York")


def test_tehran_half_hour_daylight_offset() -> None:
    # Iran was on daylight time, UTC+04:30, in May 2018.
    got = resolve_local(datetime(2018, 5, 17, 2, 30), TEHRAN)
    assert got.utcoffset() == timedelta(hours=4, minutes=30)
    assert got.astimezone(UTC) == datetime(2018, 5, 16, 22, 0, tzinfo=UTC)


def test_skipped_time_is_an_error_naming_the_fix() -> None:
    with pytest.raises(TimeError, match=r"2025-03-09 02:30 does not exist in America/New_York"):
        resolve_local(datetime(2025, 3, 9, 2, 30), NEW_YORK)


def test_repeated_time_is_an_error_offering_both_offsets() -> None:
    with pytest.raises(TimeError) as err:
        resolve_local(datetime(2025, 11, 2, 1, 30), NEW_YORK)
    assert "happens twice" in str(err.value)
    assert "-04:00" in str(err.value) and "-05:00" in str(err.value)


@pytest.mark.parametrize(
    ("offset", "utc_hour"), [(timedelta(hours=-4), 5), (timedelta(hours=-5), 6)]
)
def test_explicit_offset_resolves_a_repeated_time(offset: timedelta, utc_hour: int) -> None:
    got = resolve_local(datetime(2025, 11, 2, 1, 30), NEW_YORK, offset)
    assert got.astimezone(UTC) == datetime(2025, 11, 2, utc_hour, 30, tzinfo=UTC)
    assert got.tzinfo is NEW_YORK


def test_offset_the_zone_does_not_use_is_refused() -> None:
    with pytest.raises(TimeError, match=r"offset \+03:30 is not used by Asia/Tehran"):
        resolve_local(datetime(2018, 5, 17, 2, 30), TEHRAN, timedelta(hours=3, minutes=30))


@pytest.mark.parametrize(
    ("date", "time", "message"),
    [
        ("2018-05-17", "25:10", "hours run 00-23"),
        ("2018-05-17", "02:61", "minutes run 00-59"),
        ("2018-13-01", "02:00", "months run 01-12"),
        ("2018-02-30", "02:00", "has no day 30"),
        ("17/05/2018", "02:00", "YYYY-MM-DD"),
        ("2018-05-17", "2.30", "HH:MM"),
    ],
)
def test_impossible_times_say_what_is_wrong(date: str, time: str, message: str) -> None:
    with pytest.raises(TimeError, match=message):
        naive_local(date, time)


def test_unknown_zone() -> None:
    with pytest.raises(TimeError, match="unknown timezone 'Mars/Olympus'"):
        zone("Mars/Olympus")


def test_formats() -> None:
    dt = datetime(2018, 5, 17, 2, 30, tzinfo=TEHRAN)
    assert rfc3339(dt) == "2018-05-17T02:30:00+04:30"
    assert rfc3339(dt.astimezone(UTC)) == "2018-05-16T22:00:00Z"
    assert rfc822(dt) == "Thu, 17 May 2018 02:30:00 +0430"
    assert parse_offset("-0330") == -timedelta(hours=3, minutes=30)
    with pytest.raises(TypeError):
        rfc3339(datetime(2018, 5, 17))


ZONES = [
    "Asia/Tehran",
    "America/New_York",
    "Europe/Lisbon",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
]


@given(
    instant=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
    ),
    name=st.sampled_from(ZONES),
)
def test_written_local_time_with_offset_round_trips(instant: datetime, name: str) -> None:
    """What a heading says (wall time + offset) always resolves to the instant meant."""
    tz = zone(name)
    instant = instant.replace(microsecond=0)
    local = instant.astimezone(tz)
    offset = local.utcoffset()
    assert offset is not None
    written = naive_local(local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S"))
    got = resolve_local(written, tz, parse_offset(format_offset(offset)))
    # In UTC: PEP 495 makes an instant in a repeated hour unequal to every
    # instant of another zone, so == across zones would lie.
    assert got.astimezone(UTC) == instant


@given(
    naive=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31)),
    name=st.sampled_from(ZONES),
)
def test_resolving_without_offset_is_exact_or_refused(naive: datetime, name: str) -> None:
    """Refused exactly when the wall-clock time occurs zero or two times.

    The oracle does not use `fold`: it tries every offset the zone uses within
    a day of the time and keeps the instants whose local wall time (UTC ->
    local, which is never ambiguous) is the one written.
    """
    tz = zone(name)
    naive = naive.replace(microsecond=0)
    offsets = {
        (naive + timedelta(hours=h)).replace(tzinfo=UTC).astimezone(tz).utcoffset()
        for h in range(-26, 27, 2)
    }
    instants = {naive.replace(tzinfo=timezone(o)).astimezone(UTC) for o in offsets if o is not None}
    matching = [i for i in instants if i.astimezone(tz).replace(tzinfo=None) == naive]
    if len(matching) == 1:
        assert resolve_local(naive, tz).astimezone(UTC) == matching[0]
    else:
        with pytest.raises(TimeError, match="does not exist" if not matching else "happens twice"):
            resolve_local(naive, tz)


@pytest.mark.parametrize(
    "name", ["localtime", "America", "posix/UTC", "../etc/passwd", "Nowhere/City", "UTC ", ""]
)
def test_only_iana_zone_names_are_zones(name: str) -> None:
    from feeds.timeutil import zone

    with pytest.raises(TimeError, match="IANA"):
        zone(name)


@pytest.mark.parametrize("name", ["UTC", "Etc/GMT+5", "America/Argentina/Buenos_Aires", "EST5EDT"])
def test_iana_zone_names_load(name: str) -> None:
    from feeds.timeutil import zone

    assert zone(name).key == name
