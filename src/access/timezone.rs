//! Time zones as access rules: periods (decoded by [`Period::from_packed`]), weekdays, holidays
//! and the rule's own validity [note §1.4, §5.2 items 6–7; AMB-38]. Pure code: every function takes the local time it judges.
//!
//! What a time zone id means, everywhere in [`super`]:
//! - `0` names no time zone. Where a parameter makes 0 mean "no restriction" (the door's
//!   `DoorValidTZ`), the caller says so; everywhere else (an authorization, a first-card row) a
//!   rule naming 0 contains no time at all.
//! - An id with no stored `timezone` row contains no time: a privilege that points at a deleted
//!   rule denies rather than opening the door around the clock.

use super::model::{Holiday, Period, TimeZone};
use crate::protocol::civil::{LocalDateTime, days_from_civil};

impl Period {
    /// Whether the minute of `now` lies in the period, both ends included (an end of 12:00 covers
    /// 12:00:59). [`Period::NONE`] contains nothing.
    pub fn contains(&self, now: LocalDateTime) -> bool {
        let minute = u16::from(now.hour) * 60 + u16::from(now.minute);
        *self != Period::NONE && self.start <= minute && minute <= self.end
    }
}

/// The day of the week of `date`, Sunday = 0 (the order of `SunTime…SatTime`).
pub fn weekday(date: LocalDateTime) -> usize {
    // 1970-01-01 was a Thursday.
    (days_from_civil(date.year, date.month, date.day) + 4).rem_euclid(7) as usize
}

/// The holiday type (1..=3) of `date`, if a holiday falls on it [AMB-38]. An exact-date holiday
/// wins over a yearly one on the same day; between equals the lower type wins, so the answer does
/// not depend on the order the rows were stored in. Rows with a type outside 1..=3 are ignored.
pub fn holiday_kind(date: LocalDateTime, holidays: &[Holiday]) -> Option<u8> {
    holidays
        .iter()
        .filter(|h| (1..=3).contains(&h.kind) && h.month == date.month && h.day == date.day)
        .filter(|h| h.yearly || h.year == date.year)
        .min_by_key(|h| (h.yearly, h.kind))
        .map(|h| h.kind)
}

impl TimeZone {
    /// The three periods that apply on `date`: the holiday type's `Hol<n>Time1..3` on a holiday,
    /// else the weekday's.
    pub fn periods_on(&self, date: LocalDateTime, holidays: &[Holiday]) -> &[Period; 3] {
        match holiday_kind(date, holidays) {
            Some(kind) => &self.holidays[usize::from(kind - 1)],
            None => &self.days[weekday(date)],
        }
    }

    /// The period that contains `now`, if the rule is valid at `now` (its own `StartTime` /
    /// `EndTime`, both included [note §5.2 item 6]) and one of the day's periods contains it.
    pub fn period_at(&self, now: LocalDateTime, holidays: &[Holiday]) -> Option<Period> {
        if !in_window(self.valid_from, self.valid_until, now) {
            return None;
        }
        self.periods_on(now, holidays)
            .iter()
            .copied()
            .find(|p| p.contains(now))
    }
}

/// Whether `now` lies in a validity window whose ends are both included; a missing end is open.
pub(super) fn in_window(
    from: Option<LocalDateTime>,
    until: Option<LocalDateTime>,
    now: LocalDateTime,
) -> bool {
    from.is_none_or(|from| now >= from) && until.is_none_or(|until| now <= until)
}

/// Finds time zone `id` among `timezones`. `0` and unknown ids give `None` (see the module doc).
pub fn find(timezones: &[TimeZone], id: u32) -> Option<&TimeZone> {
    if id == 0 {
        return None;
    }
    timezones.iter().find(|tz| tz.id == id)
}

/// Whether time zone `id` contains `now`; `0` and missing zones contain no time.
pub fn zone_contains(
    timezones: &[TimeZone],
    id: u32,
    now: LocalDateTime,
    holidays: &[Holiday],
) -> bool {
    find(timezones, id).is_some_and(|tz| tz.period_at(now, holidays).is_some())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(in crate::access) fn at(text: &str) -> LocalDateTime {
        LocalDateTime::parse(text).unwrap()
    }

    pub(crate) fn period(start: &str, end: &str) -> Period {
        let minutes = |t: &str| {
            let (h, m) = t.split_once(':').unwrap();
            h.parse::<u16>().unwrap() * 60 + m.parse::<u16>().unwrap()
        };
        Period {
            start: minutes(start),
            end: minutes(end),
        }
    }

    /// A zone open `start`–`end` every weekday (Mon–Fri), closed at weekends and on holidays.
    pub(in crate::access) fn office_hours(id: u32, start: &str, end: &str) -> TimeZone {
        let mut days = [[Period::NONE; 3]; 7];
        for day in &mut days[1..=5] {
            day[0] = period(start, end);
        }
        TimeZone {
            id,
            days,
            holidays: [[Period::NONE; 3]; 3],
            valid_from: None,
            valid_until: None,
        }
    }

    #[test]
    fn a_period_includes_both_end_minutes_and_none_contains_nothing() {
        let morning = period("08:30", "12:00");
        for (time, inside) in [
            ("2026-11-23 08:29:59", false),
            ("2026-11-23 08:30:00", true),
            ("2026-11-23 12:00:59", true),
            ("2026-11-23 12:01:00", false),
        ] {
            assert_eq!(morning.contains(at(time)), inside, "{time}");
        }
        assert!(!Period::NONE.contains(at("2026-11-23 00:00:00")));
    }

    #[test]
    fn numbers_weekdays_from_sunday() {
        for (date, day) in [
            ("2026-11-22 12:00:00", 0), // Sunday
            ("2026-11-23 12:00:00", 1),
            ("2026-11-28 12:00:00", 6),
            ("1970-01-01 00:00:00", 4),
            ("2000-02-29 00:00:00", 2),
        ] {
            assert_eq!(weekday(at(date)), day, "{date}");
        }
    }

    fn holiday(date: (i32, u8, u8), kind: u8, yearly: bool) -> Holiday {
        Holiday {
            year: date.0,
            month: date.1,
            day: date.2,
            kind,
            yearly,
        }
    }

    #[test]
    fn finds_the_holiday_type_of_a_date() {
        let holidays = [
            holiday((2020, 12, 25), 1, true),
            holiday((2026, 11, 23), 3, false),
            holiday((2026, 11, 23), 2, true),
            holiday((2026, 5, 1), 9, false),
        ];
        for (date, kind) in [
            ("2026-12-25 10:00:00", Some(1)), // yearly, stored for another year
            ("2026-11-23 10:00:00", Some(3)), // exact date beats the yearly row
            ("2027-11-23 10:00:00", Some(2)), // the exact date was 2026 only
            ("2026-05-01 10:00:00", None),    // type 9 is not a holiday type
            ("2026-11-24 10:00:00", None),
        ] {
            assert_eq!(holiday_kind(at(date), &holidays), kind, "{date}");
        }
    }

    #[test]
    fn a_holiday_uses_its_types_periods_instead_of_the_weekdays() {
        let mut tz = office_hours(5, "08:00", "18:00");
        tz.holidays[1][0] = period("10:00", "12:00");
        let holidays = [holiday((2026, 11, 23), 2, false)];
        for (time, holidays, inside) in [
            ("2026-11-23 09:00:00", &holidays[..], false),
            ("2026-11-23 11:00:00", &holidays[..], true),
            ("2026-11-23 09:00:00", &[][..], true),
            ("2026-11-22 11:00:00", &[][..], false), // Sunday
        ] {
            assert_eq!(
                tz.period_at(at(time), holidays).is_some(),
                inside,
                "{time} {holidays:?}"
            );
        }
    }

    #[test]
    fn a_zone_is_empty_outside_its_own_validity() {
        let mut tz = office_hours(5, "08:00", "18:00");
        tz.valid_from = Some(at("2026-11-23 09:00:00"));
        tz.valid_until = Some(at("2026-11-24 17:00:00"));
        for (time, inside) in [
            ("2026-11-23 08:59:59", false),
            ("2026-11-23 09:00:00", true),
            ("2026-11-24 17:00:00", true),
            ("2026-11-24 17:00:01", false),
        ] {
            assert_eq!(tz.period_at(at(time), &[]).is_some(), inside, "{time}");
        }
    }

    #[test]
    fn returns_the_period_that_contains_now() {
        let mut tz = office_hours(5, "08:00", "12:00");
        tz.days[1][2] = period("13:00", "17:30");
        assert_eq!(
            tz.period_at(at("2026-11-23 14:00:00"), &[]),
            Some(period("13:00", "17:30"))
        );
    }

    #[test]
    fn zone_zero_and_missing_zones_contain_no_time() {
        let zones = [office_hours(5, "00:00", "23:59")];
        let monday = at("2026-11-23 10:00:00");
        assert!(zone_contains(&zones, 5, monday, &[]));
        assert!(!zone_contains(&zones, 6, monday, &[]));
        let mut zero = zones[0].clone();
        zero.id = 0;
        assert!(!zone_contains(&[zero], 0, monday, &[]));
    }
}
