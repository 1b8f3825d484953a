//! Time as the core sees it: a monotonic instant handed in by the caller.
//!
//! The daemon maps its monotonic clock onto this; the simulator advances it
//! by hand. Nothing in the core reads a clock.

use std::ops::{Add, Sub};
use std::time::Duration;

/// Nanoseconds since an epoch chosen by whoever drives the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_nanos() as u64))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Centiseconds, the unit netlink and sysfs use for bridge times.
pub fn to_centisecs(d: Duration) -> u64 {
    (d.as_millis() / 10) as u64
}

pub fn from_centisecs(cs: u64) -> Duration {
    Duration::from_millis(cs * 10)
}
