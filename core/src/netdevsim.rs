//! netdevsim ports: patchbay's simulated port (`link add dev sim0 type
//! netdevsim`) with knobs for carrier, speed and duplex (kept on the
//! interface) and fault injection (here): dropping, corrupting and
//! delaying frames in each direction, decided by a seeded generator so a
//! scenario replays the same way. The daemon's port is a TAP; the
//! simulator's is a wire end. Both run this code.

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Instant;
use crate::wire::Offload;

/// Which way a frame crosses the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the wire into patchbay.
    Rx,
    /// From patchbay onto the wire.
    Tx,
}

/// What happens to one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop,
    /// Flip the bits of the byte at this offset (from the frame start).
    Corrupt(usize),
    Delay,
}

/// A frame held back by `delay`.
#[derive(Clone, Debug)]
pub struct Held {
    pub due: Instant,
    pub dir: Dir,
    pub data: Vec<u8>,
    pub offload: Offload,
}

#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Parts per million of frames dropped, corrupted.
    pub drop_ppm: u32,
    pub corrupt_ppm: u32,
    pub delay: Duration,
    rng: crate::rng::Rng,
    held: VecDeque<Held>,
    pub dropped: u64,
    pub corrupted: u64,
    pub delayed: u64,
}

impl Faults {
    pub fn new(seed: u64) -> Faults {
        Faults {
            rng: crate::rng::Rng::new(seed),
            ..Faults::default()
        }
    }

    pub fn active(&self) -> bool {
        self.drop_ppm > 0 || self.corrupt_ppm > 0 || !self.delay.is_zero()
    }

    fn next(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn roll(&mut self, ppm: u32) -> bool {
        ppm > 0 && (self.next() % 1_000_000) < u64::from(ppm)
    }

    /// The fate of a frame of `len` bytes.
    pub fn decide(&mut self, len: usize) -> Verdict {
        if self.roll(self.drop_ppm) {
            self.dropped += 1;
            return Verdict::Drop;
        }
        if len > 14 && self.roll(self.corrupt_ppm) {
            self.corrupted += 1;
            // Past the Ethernet header: the payload is damaged, the frame
            // still reaches its port (a checksum further up catches it).
            let at = 14 + (self.next() as usize) % (len - 14);
            return Verdict::Corrupt(at);
        }
        if !self.delay.is_zero() {
            self.delayed += 1;
            return Verdict::Delay;
        }
        Verdict::Pass
    }

    pub fn hold(&mut self, now: Instant, dir: Dir, data: Vec<u8>, offload: Offload) {
        self.held.push_back(Held {
            due: now + self.delay,
            dir,
            data,
            offload,
        });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.front().map(|h| h.due)
    }

    /// The next held frame that is due by `now` (in the order they came).
    pub fn release(&mut self, now: Instant) -> Option<Held> {
        if self.held.front().is_some_and(|h| h.due <= now) {
            return self.held.pop_front();
        }
        None
    }

    /// `drop 10%` and the like: a percentage as parts per million.
    pub fn parse_pct(s: &str) -> Option<u32> {
        let v: f64 = s.strip_suffix('%').unwrap_or(s).parse().ok()?;
        (0.0..=100.0)
            .contains(&v)
            .then(|| (v * 10_000.0).round() as u32)
    }

    pub fn pct(ppm: u32) -> String {
        let v = f64::from(ppm) / 10_000.0;
        format!("{v}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_what_was_asked_and_replay() {
        let mut f = Faults::new(7);
        f.drop_ppm = Faults::parse_pct("10%").unwrap();
        f.corrupt_ppm = Faults::parse_pct("1%").unwrap();
        let v: Vec<Verdict> = (0..100_000).map(|_| f.decide(100)).collect();
        let drops = v.iter().filter(|x| **x == Verdict::Drop).count();
        let bad = v
            .iter()
            .filter(|x| matches!(x, Verdict::Corrupt(_)))
            .count();
        assert!((9_500..10_500).contains(&drops), "{drops}");
        assert!((700..1_100).contains(&bad), "{bad}");
        assert!(v
            .iter()
            .all(|x| !matches!(x, Verdict::Corrupt(at) if *at < 14 || *at >= 100)));
        let mut g = Faults::new(7);
        g.drop_ppm = f.drop_ppm;
        g.corrupt_ppm = f.corrupt_ppm;
        let w: Vec<Verdict> = (0..100_000).map(|_| g.decide(100)).collect();
        assert_eq!(v, w, "the same seed, the same faults");
        assert_eq!(Faults::parse_pct("0.5%"), Some(5_000));
        assert_eq!(Faults::parse_pct("101%"), None);
        assert_eq!(Faults::pct(5_000), "0.5%");
    }

    #[test]
    fn delay_holds_frames_in_order() {
        let mut f = Faults::new(1);
        f.delay = Duration::from_millis(20);
        assert_eq!(f.decide(60), Verdict::Delay);
        f.hold(Instant::ZERO, Dir::Tx, vec![1], Offload::NONE);
        f.hold(
            Instant::from_nanos(5_000_000),
            Dir::Rx,
            vec![2],
            Offload::NONE,
        );
        assert_eq!(f.poll_timeout(), Some(Instant::from_nanos(20_000_000)));
        assert!(f.release(Instant::from_nanos(19_999_999)).is_none());
        let h = f.release(Instant::from_nanos(25_000_000)).unwrap();
        assert_eq!((h.dir, h.data), (Dir::Tx, vec![1]));
        assert_eq!(
            f.release(Instant::from_nanos(25_000_000)).unwrap().data,
            vec![2]
        );
        assert!(f.release(Instant::from_nanos(99_000_000)).is_none());
    }
}
