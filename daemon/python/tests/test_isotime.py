import datetime
import sys
import unittest
from unittest import mock

from tests import have
from st2common.util import date as date_utils
from st2common.util import isotime

UTC = datetime.timezone.utc
NO_DATEUTIL = {"dateutil": None, "dateutil.tz": None, "dateutil.parser": None}


class ParseTest(unittest.TestCase):
    def test_parse_utc_z_gives_aware_utc_datetime(self):
        dt = isotime.parse("2016-01-01T10:00:00.000000Z")
        self.assertEqual(dt, datetime.datetime(2016, 1, 1, 10, 0, 0, tzinfo=UTC))
        self.assertIsNotNone(dt.tzinfo)
        self.assertEqual(dt.utcoffset(), datetime.timedelta(0))
        self.assertEqual(dt.tzinfo.tzname(dt), "UTC")

    def test_parse_accepts_stackstorm_utc_forms(self):
        expected = datetime.datetime(2000, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
        for text in ("2000-01-01 12:00:00.123Z", "2000-01-01T12:00:00.123+00", "2000-01-01T12:00:00.123+0000",
                     "2000-01-01T12:00:00.123000+00:00"):
            with self.subTest(text=text):
                self.assertEqual(isotime.parse(text), expected)

    def test_parse_validates_by_default(self):
        for text in ("2000-01-01T12:00:00", "2000-01-01T12:00:00+02:00", "not a date", "2000-01-01T12:00:00.1Z"):
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    isotime.parse(text)

    def test_parse_other_offset_converts_to_utc_unless_preserved(self):
        text = "2016-01-01T10:00:00+02:00"
        dt = isotime.parse(text, validate_value=False)
        self.assertEqual((dt.hour, dt.utcoffset()), (8, datetime.timedelta(0)))
        kept = isotime.parse(text, preserve_original_tz=True, validate_value=False)
        self.assertEqual((kept.hour, kept.utcoffset()), (10, datetime.timedelta(hours=2)))
        self.assertEqual(kept, dt)

    def test_date_parse_naive_is_utc_and_negative_offsets_work(self):
        self.assertEqual(date_utils.parse("2016-01-01 10:00:00"), datetime.datetime(2016, 1, 1, 10, tzinfo=UTC))
        self.assertEqual(date_utils.parse("2016-01-01T10:00:00-0530"),
                         datetime.datetime(2016, 1, 1, 15, 30, tzinfo=UTC))

    def test_parse_without_dateutil(self):
        with mock.patch.dict(sys.modules, NO_DATEUTIL):
            dt = isotime.parse("2016-01-01T10:00:00.5Z", validate_value=False)
            self.assertIs(dt.tzinfo, UTC)
            self.assertEqual(dt, datetime.datetime(2016, 1, 1, 10, 0, 0, 500000, tzinfo=UTC))
            with self.assertRaisesRegex(ValueError, "python-dateutil"):
                date_utils.parse("January 1 2016 10:00")

    @unittest.skipUnless(have("dateutil"), "python-dateutil is not installed (st2d provides it at run time)")
    def test_parse_with_dateutil_reads_other_formats_and_returns_tzutc(self):
        from dateutil.tz import tzutc
        dt = date_utils.parse("January 1 2016 10:00")
        self.assertEqual(dt, datetime.datetime(2016, 1, 1, 10, tzinfo=UTC))
        self.assertIsInstance(dt.tzinfo, tzutc)
        self.assertIsInstance(isotime.parse("2016-01-01T10:00:00Z").tzinfo, tzutc)


class FormatTest(unittest.TestCase):
    def test_format(self):
        dt = datetime.datetime(2016, 1, 1, 10, 0, 0, 123, tzinfo=UTC)
        self.assertEqual(isotime.format(dt), "2016-01-01T10:00:00.000123+00:00")
        self.assertEqual(isotime.format(dt, usec=False), "2016-01-01T10:00:00+00:00")
        self.assertEqual(isotime.format(dt, offset=False), "2016-01-01T10:00:00.000123Z")
        self.assertEqual(isotime.format(datetime.datetime(2016, 1, 1), usec=False), "2016-01-01T00:00:00+00:00")

    def test_format_other_offsets(self):
        tz = datetime.timezone(datetime.timedelta(hours=-5, minutes=-30), "XST")
        dt = datetime.datetime(2016, 1, 1, 10, tzinfo=tz)
        self.assertEqual(isotime.format(dt, usec=False), "2016-01-01T10:00:00-05:30")
        self.assertEqual(isotime.format(dt, usec=False, offset=False), "2016-01-01T10:00:00XST")

    def test_format_string_and_epoch(self):
        self.assertEqual(isotime.format("2016-01-01T10:00:00Z", usec=False), "2016-01-01T10:00:00+00:00")
        self.assertEqual(isotime.format(0), "1970-01-01T00:00:00.000000+00:00")
        self.assertEqual(isotime.format(1451642400, offset=False, usec=False), "2016-01-01T10:00:00Z")

    def test_round_trip(self):
        dt = datetime.datetime(2021, 6, 30, 23, 59, 58, 999999, tzinfo=UTC)
        self.assertEqual(isotime.parse(isotime.format(dt)), dt)


class ValidateTest(unittest.TestCase):
    def test_validate(self):
        self.assertTrue(isotime.validate("2000-01-01 12:00:00Z"))
        self.assertTrue(isotime.validate("2000-01-01T12:00:00.000000+00:00"))
        self.assertTrue(isotime.validate(datetime.datetime(2000, 1, 1)))
        self.assertFalse(isotime.validate("2000-01-01T12:00:00+01:00", raise_exception=False))
        self.assertFalse(isotime.validate(12345, raise_exception=False))
        with self.assertRaisesRegex(ValueError, "does not match expected format"):
            isotime.validate("2000-01-01")


class DateHelpersTest(unittest.TestCase):
    def test_add_utc_tz(self):
        self.assertEqual(date_utils.add_utc_tz(datetime.datetime(2016, 1, 1)).utcoffset(), datetime.timedelta(0))
        with self.assertRaisesRegex(ValueError, "non UTC"):
            date_utils.add_utc_tz(datetime.datetime(2016, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1))))

    def test_convert_to_utc(self):
        plus_one = datetime.timezone(datetime.timedelta(hours=1))
        converted = date_utils.convert_to_utc(datetime.datetime(2016, 1, 1, 10, tzinfo=plus_one))
        self.assertEqual((converted.hour, converted.utcoffset()), (9, datetime.timedelta(0)))
        naive = date_utils.convert_to_utc(datetime.datetime(2016, 1, 1, 10))
        self.assertEqual((naive.hour, naive.utcoffset()), (10, datetime.timedelta(0)))

    def test_append_milliseconds_and_now(self):
        start = datetime.datetime(2016, 1, 1, 10, tzinfo=UTC)
        self.assertEqual(date_utils.append_milliseconds_to_time(start, 1500),
                         datetime.datetime(2016, 1, 1, 10, 0, 1, 500000, tzinfo=UTC))
        now = date_utils.get_datetime_utc_now()
        self.assertEqual(now.utcoffset(), datetime.timedelta(0))
        self.assertLess(abs((now - datetime.datetime.now(UTC)).total_seconds()), 5)

    def test_isotime_keeps_the_older_names(self):
        self.assertIs(isotime.add_utc_tz, date_utils.add_utc_tz)
        self.assertIs(isotime.convert_to_utc, date_utils.convert_to_utc)
        self.assertIs(isotime.get_datetime_utc_now, date_utils.get_datetime_utc_now)


if __name__ == "__main__":
    unittest.main()
