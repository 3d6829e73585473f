//! The only place that reads the system clock.
//!
//! [`DeviceClock`] gives the time as the device uses it: a monotonic clock for delays, and the
//! system's UTC clock plus the correction learned from the server's `Date` header (the agent does
//! not change the system clock), shown in the zone the server's `TimeZone` names. It is shared by
//! the network and hardware threads. [`ManualClock`] drives tests and the simulation.

use crate::protocol::civil::LocalDateTime;
use crate::protocol::options::UtcOffset;
use crate::protocol::session::{Mono, Now};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of raw time: monotonic milliseconds and UTC milliseconds, uncorrected.
pub trait TimeSource: Send + Sync {
    fn raw_now(&self) -> Now;
}

/// A shared source, so a test can keep a handle on the [`ManualClock`] it hands out.
impl<T: TimeSource + ?Sized> TimeSource for std::sync::Arc<T> {
    fn raw_now(&self) -> Now {
        (**self).raw_now()
    }
}

pub struct SystemTimeSource {
    origin: Instant,
}

impl SystemTimeSource {
    #[allow(clippy::disallowed_methods, reason = "this is the clock shell")]
    pub fn new() -> SystemTimeSource {
        SystemTimeSource {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemTimeSource {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeSource for SystemTimeSource {
    #[allow(clippy::disallowed_methods, reason = "this is the clock shell")]
    fn raw_now(&self) -> Now {
        let mono = Mono(self.origin.elapsed().as_millis() as u64);
        let utc_ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        };
        Now { mono, utc_ms }
    }
}

/// A clock that moves only when told to.
pub struct ManualClock {
    now: Mutex<Now>,
}

impl ManualClock {
    pub fn new(start: Now) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    pub fn advance_ms(&self, ms: u64) {
        let mut now = self.now.lock().expect("clock lock");
        now.mono = now.mono.plus_millis(ms);
        now.utc_ms += ms as i64;
    }

    /// Moves both clocks forward to monotonic time `at` (never backwards).
    pub fn advance_to(&self, at: Mono) {
        let delta =
            at.0.saturating_sub(self.now.lock().expect("clock lock").mono.0);
        self.advance_ms(delta);
    }
}

impl TimeSource for ManualClock {
    fn raw_now(&self) -> Now {
        *self.now.lock().expect("clock lock")
    }
}

pub struct DeviceClock {
    source: Box<dyn TimeSource>,
    correction_ms: AtomicI64,
    zone_minutes: AtomicI32,
}

impl DeviceClock {
    pub fn new(source: Box<dyn TimeSource>, correction_ms: i64, zone: UtcOffset) -> DeviceClock {
        DeviceClock {
            source,
            correction_ms: AtomicI64::new(correction_ms),
            zone_minutes: AtomicI32::new(zone.0),
        }
    }

    /// Monotonic time and the corrected UTC wall clock.
    pub fn now(&self) -> Now {
        let raw = self.source.raw_now();
        Now {
            mono: raw.mono,
            utc_ms: raw.utc_ms + self.correction_ms.load(Ordering::Relaxed),
        }
    }

    /// The local wall-clock time records are stamped with.
    pub fn local_now(&self) -> LocalDateTime {
        self.local_at(self.now().utc_ms)
    }

    pub fn local_at(&self, utc_ms: i64) -> LocalDateTime {
        LocalDateTime::from_unix(utc_ms.div_euclid(1000), self.zone().0)
    }

    pub fn zone(&self) -> UtcOffset {
        UtcOffset(self.zone_minutes.load(Ordering::Relaxed))
    }

    pub fn set_zone(&self, zone: UtcOffset) {
        self.zone_minutes.store(zone.0, Ordering::Relaxed);
    }

    /// Moves the wall clock by `delta_ms`; returns the total correction now in force.
    pub fn adjust(&self, delta_ms: i64) -> i64 {
        self.correction_ms.fetch_add(delta_ms, Ordering::Relaxed) + delta_ms
    }

    pub fn correction_ms(&self) -> i64 {
        self.correction_ms.load(Ordering::Relaxed)
    }
}

/// Measures how long something took, for log lines and benchmarks.
pub struct MonoStopwatch(Instant);

impl MonoStopwatch {
    #[allow(clippy::disallowed_methods, reason = "this is the clock shell")]
    pub fn start() -> MonoStopwatch {
        MonoStopwatch(Instant::now())
    }

    pub fn elapsed_ms(&self) -> u128 {
        self.0.elapsed().as_millis()
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrects_wall_time_and_keeps_monotonic_time() {
        let manual = ManualClock::new(Now {
            mono: Mono(0),
            utc_ms: 1_000_000,
        });
        let clock = DeviceClock::new(Box::new(manual), 0, UtcOffset(60));
        assert_eq!(clock.adjust(5_000), 5_000);
        assert_eq!(
            clock.now(),
            Now {
                mono: Mono(0),
                utc_ms: 1_005_000
            }
        );
        assert_eq!(clock.local_now().to_string(), "1970-01-01 01:16:45");
        clock.set_zone(UtcOffset(-60));
        assert_eq!(clock.local_now().hour, 23);
    }
}
