//! Calendar arithmetic and the time formats the PUSH protocols use.
//!
//! Pure code: every function takes the instant it works on. Records carry the device's local time
//! as `YYYY-MM-DD HH:MM:SS` [000 G10]; the server's clock arrives in the HTTP `Date` header
//! (RFC 1123, GMT) [000 §5]; `SET OPTION DateTime=` may carry ZK's packed integer encoding
//! (server-dialects §2.3).

use std::fmt;

/// A calendar date and wall-clock time with no zone attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Why a date or time text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date/time {text:?}: {reason}")]
pub struct TimeParseError {
    pub text: String,
    pub reason: &'static str,
}

fn time_error(text: &str, reason: &'static str) -> TimeParseError {
    TimeParseError {
        text: text.to_owned(),
        reason,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl LocalDateTime {
    /// Builds a value after checking every field's range.
    pub fn new(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(LocalDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// The wall-clock time at `unix_secs` in a zone `offset_minutes` east of UTC.
    pub fn from_unix(unix_secs: i64, offset_minutes: i32) -> Self {
        let local = unix_secs + i64::from(offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        LocalDateTime {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        }
    }

    /// Seconds since the Unix epoch, reading this value as a time `offset_minutes` east of UTC.
    pub fn to_unix(&self, offset_minutes: i32) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400 + i64::from(self.seconds_of_day())
            - i64::from(offset_minutes) * 60
    }

    pub fn seconds_of_day(&self) -> u32 {
        u32::from(self.hour) * 3600 + u32::from(self.minute) * 60 + u32::from(self.second)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS`. Also takes a `T` separator (ISO 8601, sent by some servers)
    /// and spaces after the colons, which the seed's examples show (`15: 16: 28`).
    pub fn parse(text: &str) -> Result<Self, TimeParseError> {
        let compact: String = text.trim().chars().collect();
        let (date, time) = compact
            .split_once([' ', 'T'])
            .ok_or_else(|| time_error(text, "expected a date and a time"))?;
        let mut date_parts = date.split('-');
        let year = parse_number(date_parts.next(), text, 4)?;
        let month = parse_number(date_parts.next(), text, 2)?;
        let day = parse_number(date_parts.next(), text, 2)?;
        if date_parts.next().is_some() {
            return Err(time_error(text, "too many date fields"));
        }
        let time: String = time.chars().filter(|c| *c != ' ').collect();
        let mut time_parts = time.split(':');
        let hour = parse_number(time_parts.next(), text, 2)?;
        let minute = parse_number(time_parts.next(), text, 2)?;
        let second = match time_parts.next() {
            Some(s) => parse_number(Some(s), text, 2)?,
            None => 0,
        };
        if time_parts.next().is_some() {
            return Err(time_error(text, "too many time fields"));
        }
        LocalDateTime::new(
            year as i32,
            month as u8,
            day as u8,
            hour as u8,
            minute as u8,
            second as u8,
        )
        .ok_or_else(|| time_error(text, "field out of range"))
    }

    /// Parses a date alone (`YYYY-MM-DD` or `YYYYMMDD`) as the start of that day.
    pub fn parse_date(text: &str) -> Result<Self, TimeParseError> {
        let t = text.trim();
        let digits: String = t.chars().filter(|c| *c != '-').collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(time_error(text, "expected YYYYMMDD or YYYY-MM-DD"));
        }
        let n = |r: std::ops::Range<usize>| digits[r].parse::<u32>().unwrap_or(0);
        LocalDateTime::new(n(0..4) as i32, n(4..6) as u8, n(6..8) as u8, 0, 0, 0)
            .ok_or_else(|| time_error(text, "field out of range"))
    }

    /// ZK's packed encoding used by `SET OPTION DateTime=` (server-dialects §2.3):
    /// `((year-2000)*12*31 + (month-1)*31 + day-1) * 86400 + h*3600 + m*60 + s`.
    pub fn from_zk_packed(value: u64) -> Option<Self> {
        let second = (value % 60) as u8;
        let minute = (value / 60 % 60) as u8;
        let hour = (value / 3600 % 24) as u8;
        let days = value / 86_400;
        let day = (days % 31) as u8 + 1;
        let month = (days / 31 % 12) as u8 + 1;
        let year = i32::try_from(days / 31 / 12).ok()?.checked_add(2000)?;
        LocalDateTime::new(year, month, day, hour, minute, second)
    }

    pub fn to_zk_packed(&self) -> u64 {
        let days = (self.year as i64 - 2000).max(0) as u64 * 12 * 31
            + u64::from(self.month - 1) * 31
            + u64::from(self.day - 1);
        days * 86_400 + u64::from(self.seconds_of_day())
    }
}

fn parse_number(part: Option<&str>, text: &str, max_digits: usize) -> Result<u32, TimeParseError> {
    let part = part
        .ok_or_else(|| time_error(text, "missing field"))?
        .trim();
    if part.is_empty() || part.len() > max_digits || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(time_error(text, "not a number"));
    }
    part.parse().map_err(|_| time_error(text, "not a number"))
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parses an HTTP `Date` header into Unix seconds: IMF-fixdate (`Fri, 03 Jul 2015 06:53:01 GMT`),
/// RFC 850 (`Friday, 03-Jul-15 06:53:01 GMT`) and asctime (`Fri Jul  3 06:53:01 2015`), the three
/// forms RFC 9110 §5.6.7 makes a recipient accept. Stray spaces after the colons are tolerated.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let cleaned = text.replace(": ", ":");
    let tokens: Vec<&str> = cleaned
        .split([' ', ','])
        .filter(|t| !t.is_empty())
        .collect();
    let month_of = |t: &str| {
        MONTHS
            .iter()
            .position(|m| t.eq_ignore_ascii_case(m))
            .map(|i| i as u8 + 1)
    };
    let (year, month, day, time) = match tokens.as_slice() {
        // IMF-fixdate: weekday, day, month, year, time, GMT
        [_, day, mon, year, time, zone] if zone.eq_ignore_ascii_case("GMT") => (
            year.parse::<i32>().ok()?,
            month_of(mon)?,
            day.parse::<u8>().ok()?,
            *time,
        ),
        // RFC 850: weekday, dd-Mon-yy, time, GMT
        [_, dmy, time, zone] if zone.eq_ignore_ascii_case("GMT") => {
            let mut parts = dmy.split('-');
            let day = parts.next()?.parse::<u8>().ok()?;
            let month = month_of(parts.next()?)?;
            let yy = parts.next()?.parse::<i32>().ok()?;
            let year = if yy < 70 {
                2000 + yy
            } else if yy < 100 {
                1900 + yy
            } else {
                yy
            };
            (year, month, day, *time)
        }
        // asctime: weekday, month, day, time, year
        [_, mon, day, time, year] => (
            year.parse::<i32>().ok()?,
            month_of(mon)?,
            day.parse::<u8>().ok()?,
            *time,
        ),
        _ => return None,
    };
    let mut hms = time.split(':').map(|p| p.parse::<u8>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    Some(LocalDateTime::new(year, month, day, hour, minute, second)?.to_unix(0))
}

/// Formats Unix seconds as an IMF-fixdate, the form servers put in `Date`.
pub fn format_http_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTH_NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = LocalDateTime::from_unix(unix_secs, 0);
    let weekday = DAYS[unix_secs.div_euclid(86_400).rem_euclid(7) as usize];
    format!(
        "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        t.day,
        MONTH_NAMES[usize::from(t.month - 1)],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_days_both_ways_over_four_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn formats_local_time_with_offset() {
        // 2015-07-30 07:16:28 UTC is 15:16:28 in UTC+8 (the ATTLOG example's zone).
        let t = LocalDateTime::from_unix(1_438_240_588, 8 * 60);
        assert_eq!(t.to_string(), "2015-07-30 15:16:28");
        assert_eq!(t.to_unix(8 * 60), 1_438_240_588);
        assert_eq!(
            LocalDateTime::from_unix(0, -210).to_string(),
            "1969-12-31 20:30:00"
        );
    }

    #[test]
    fn accepts_record_times_with_the_seeds_stray_spaces_and_iso_t() {
        let want = LocalDateTime::new(2015, 7, 29, 11, 11, 11).unwrap();
        assert_eq!(LocalDateTime::parse("2015-07-29 11:11:11").unwrap(), want);
        assert_eq!(LocalDateTime::parse("2015-07-29 11: 11: 11").unwrap(), want);
        assert_eq!(LocalDateTime::parse("2015-07-29T11:11:11").unwrap(), want);
        assert_eq!(
            LocalDateTime::parse(" 2015-07-29 11:11 ").unwrap().second,
            0
        );
    }

    #[test]
    fn rejects_impossible_record_times() {
        for bad in [
            "",
            "2015-07-29",
            "2015-02-30 00:00:00",
            "2015-07-29 24:00:00",
            "2015-7-29x 1:1:1",
            "a-b-c d:e:f",
        ] {
            assert!(LocalDateTime::parse(bad).is_err(), "{bad:?}");
        }
        assert!(LocalDateTime::parse("2016-02-29 00:00:00").is_ok());
        assert!(LocalDateTime::parse("2100-02-29 00:00:00").is_err());
    }

    #[test]
    fn parses_plain_dates_in_both_layouts() {
        assert_eq!(
            LocalDateTime::parse_date("20260131").unwrap().to_string(),
            "2026-01-31 00:00:00"
        );
        assert_eq!(LocalDateTime::parse_date("2026-01-31").unwrap().day, 31);
        assert!(LocalDateTime::parse_date("2026013").is_err());
        assert!(LocalDateTime::parse_date("20261332").is_err());
    }

    #[test]
    fn parses_the_three_http_date_forms() {
        let want = 1_435_906_381; // Fri, 03 Jul 2015 06:53:01 GMT
        assert_eq!(parse_http_date("Fri, 03 Jul 2015 06:53:01 GMT"), Some(want));
        assert_eq!(
            parse_http_date("Fri, 03 Jul 2015 06: 53: 01 GMT"),
            Some(want)
        );
        assert_eq!(
            parse_http_date("Friday, 03-Jul-15 06:53:01 GMT"),
            Some(want)
        );
        assert_eq!(parse_http_date("Fri Jul  3 06:53:01 2015"), Some(want));
        assert_eq!(format_http_date(want), "Fri, 03 Jul 2015 06:53:01 GMT");
    }

    #[test]
    fn rejects_malformed_http_dates() {
        for bad in [
            "",
            "yesterday",
            "Fri, 03 Jul 2015 06:53 GMT",
            "Fri, 32 Jul 2015 06:53:01 GMT",
            "Fri, 03 Foo 2015 06:53:01 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn zk_packed_datetime_round_trips() {
        let t = LocalDateTime::new(2027, 5, 17, 8, 30, 5).unwrap();
        assert_eq!(LocalDateTime::from_zk_packed(t.to_zk_packed()), Some(t));
        // The value a real server sent (server-dialects §2.3) decodes to a plausible date.
        let sent = LocalDateTime::from_zk_packed(864_374_335).unwrap();
        assert_eq!(sent.year, 2026);
    }
}
