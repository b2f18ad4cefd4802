"""ISO 8601 helpers of StackStorm's `st2common.util.isotime`: validate, parse and format
timestamps (the older names `add_utc_tz`, `convert_to_utc` and `get_datetime_utc_now`, which
StackStorm moved to `st2common.util.date`, are here too).

Owns: the ISO 8601 string form of datetimes. Must not: need python-dateutil to import.
"""
import datetime
import re

from st2common.util import date as date_utils
from st2common.util.date import add_utc_tz, convert_to_utc, get_datetime_utc_now  # noqa: F401

__all__ = ["format", "validate", "parse"]

ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%S"
ISO8601_FORMAT_MICROSECOND = "%Y-%m-%dT%H:%M:%S.%f"
# What `validate` accepts: a UTC timestamp, "T" or a space between date and time, 3 to 6 digits
# of fraction, and Z, +00, +0000 or +00:00.
ISO8601_UTC_REGEX = r"^\d{4}-\d{2}-\d{2}[\sT]\d{2}:\d{2}:\d{2}(\.\d{3,6})?(Z|\+00(:?00)?)$"


def _offset_text(dt):
    """"+HH:MM" for the offset of `dt` ("+00:00" when naive)."""
    delta = dt.utcoffset() if dt.tzinfo is not None else None
    if delta is None:
        return "+00:00"
    sign = "-" if delta < datetime.timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return "%s%02d:%02d" % (sign, minutes // 60, minutes % 60)


def format(dt, usec=True, offset=True):  # noqa: A001 - StackStorm's name
    """`dt` (a datetime, an ISO 8601 string, or an int of seconds since the epoch) as ISO 8601:
    with microseconds when `usec`, and "+HH:MM" when `offset`, else "Z" for UTC or the zone's
    name."""
    if isinstance(dt, str):
        dt = parse(dt)
    elif isinstance(dt, int):
        dt = datetime.datetime.fromtimestamp(dt, date_utils._utc())
    text = dt.strftime(ISO8601_FORMAT_MICROSECOND if usec else ISO8601_FORMAT)
    if offset:
        return text + _offset_text(dt)
    name = dt.tzinfo.tzname(dt) if dt.tzinfo is not None else "UTC"
    return text + ("Z" if name == "UTC" else name)


def validate(value, raise_exception=True):
    """True for a datetime or a UTC ISO 8601 string; otherwise a ValueError, or False when not
    `raise_exception`."""
    if isinstance(value, datetime.datetime) or (isinstance(value, str) and re.match(ISO8601_UTC_REGEX, value)):
        return True
    if raise_exception:
        raise ValueError("Datetime value does not match expected format.")
    return False


def parse(value, preserve_original_tz=False, validate_value=True):
    """The aware datetime of an ISO 8601 string, in UTC unless `preserve_original_tz`;
    `validate_value` first checks the string with `validate`."""
    if validate_value:
        validate(value, raise_exception=True)
    return date_utils.parse(value=value, preserve_original_tz=preserve_original_tz)
