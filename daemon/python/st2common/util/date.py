"""Date helpers of StackStorm's `st2common.util.date`: timezone-aware UTC datetimes and parsing.

Owns: making and parsing aware datetimes. Must not: need python-dateutil to import (it is used
when present, for the UTC tzinfo StackStorm returns and for formats beyond ISO 8601).
"""
import datetime
import re

__all__ = ["get_datetime_utc_now", "append_milliseconds_to_time", "add_utc_tz", "convert_to_utc", "parse"]

# ISO 8601 / RFC 3339 as StackStorm's fast parser reads it; anything else goes to dateutil.
_ISO_RE = re.compile(
    r"^\s*(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T\s](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$")


def _utc():
    """dateutil's tzutc() when dateutil is there (as StackStorm returns), else the stdlib UTC."""
    try:
        from dateutil.tz import tzutc
    except ImportError:
        return datetime.timezone.utc
    return tzutc()


def _is_utc(dt):
    return dt.tzinfo.utcoffset(dt) == datetime.timedelta(0)


def get_datetime_utc_now():
    """The current time, aware, in UTC."""
    return datetime.datetime.now(_utc())


def append_milliseconds_to_time(date, millis):
    """`date` plus `millis` milliseconds, in UTC."""
    return convert_to_utc(date + datetime.timedelta(milliseconds=millis))


def add_utc_tz(dt):
    """`dt` marked as UTC; a naive `dt` is taken to be UTC. A non-UTC offset is a ValueError."""
    if dt.tzinfo is not None and not _is_utc(dt):
        raise ValueError("datetime already contains a non UTC timezone")
    return dt.replace(tzinfo=_utc())


def convert_to_utc(dt):
    """`dt` converted to UTC; a naive `dt` is taken to be UTC already."""
    if dt.tzinfo is None:
        return add_utc_tz(dt)
    return dt.astimezone(_utc())


def _parse_iso(text):
    """The datetime in an ISO 8601 string, or None when `text` is not one."""
    match = _ISO_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = None
    if offset in ("Z", "z"):
        tz = datetime.timezone.utc
    elif offset:
        digits = offset[1:].replace(":", "")
        delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = datetime.timezone(-delta if offset[0] == "-" else delta)
    try:
        return datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                 int(second or 0), micro, tzinfo=tz)
    except ValueError:
        return None


def _parse_any(text):
    dt = _parse_iso(text)
    if dt is not None:
        return dt
    try:
        import dateutil.parser
    except ImportError:
        raise ValueError('Unable to parse date "%s": not ISO 8601 (python-dateutil, which reads '
                         'other formats, is not installed)' % text)
    return dateutil.parser.parse(text)


def parse(value, preserve_original_tz=False):
    """An aware datetime from a date string; no offset means UTC. The result is in UTC unless
    `preserve_original_tz`."""
    dt = _parse_any(str(value))
    if dt.tzinfo is None:
        dt = add_utc_tz(dt)
    elif _is_utc(dt):
        dt = dt.replace(tzinfo=_utc())
    if not preserve_original_tz:
        dt = convert_to_utc(dt)
    return dt
