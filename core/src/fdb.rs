//! The bridge forwarding database (`br_fdb.c`): (MAC, VID) → port.
//!
//! Learning refreshes `updated` on every frame, a dynamic entry roams to the
//! port it was last seen on unless it is sticky, local entries never move,
//! and expiry follows the kernel: an entry dies when `now ≥ updated +
//! hold_time`, the collector runs at the earliest expiry and at least 10 ms
//! apart. `fdb_max_learned` bounds what learning may add, so a MAC flood
//! cannot grow the table without limit (0 = no limit, the kernel default).

use crate::time::Instant;
use crate::wire::Mac;
use hashbrown::HashMap;
use std::time::Duration;

/// A bridge port number (1..=1023; 0 is reserved by the kernel).
pub type PortNo = u16;

/// The key of the table: MAC and VID packed into one word (VID 0 when the
/// bridge does not filter VLANs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FdbKey(u64);

impl FdbKey {
    pub fn new(mac: Mac, vid: u16) -> Self {
        let m = mac.0;
        let v = u64::from_be_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0]);
        FdbKey(v | u64::from(vid))
    }
    pub fn mac(self) -> Mac {
        let b = self.0.to_be_bytes();
        Mac([b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    pub fn vid(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryFlags {
    /// Terminated on the bridge itself (`local`/`permanent`).
    pub local: bool,
    /// Added by the user as `static`: forwarded, never aged.
    pub is_static: bool,
    /// Never roams to another port.
    pub sticky: bool,
    /// Learned by something outside the bridge; never aged.
    pub extern_learn: bool,
    /// Added by a command rather than learned.
    pub added_by_user: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The port the MAC is behind; `None` for the bridge device itself.
    pub port: Option<PortNo>,
    pub flags: EntryFlags,
    pub updated: Instant,
}

impl Entry {
    pub fn ages(&self) -> bool {
        !(self.flags.local || self.flags.is_static || self.flags.extern_learn)
    }
    /// The NUD state the kernel announces the entry with: permanent for
    /// a local one, noarp for a static one, reachable for a learned or
    /// dynamic one (`fdb_to_nud`).
    pub fn nud(&self) -> u16 {
        if self.flags.local {
            0x80
        } else if self.flags.is_static {
            0x40
        } else {
            0x02
        }
    }

    /// The NUD state `bridge fdb show` prints.
    pub fn state_name(&self) -> &'static str {
        if self.flags.local {
            "permanent"
        } else if self.flags.is_static {
            "static"
        } else {
            ""
        }
    }
}

/// What learning did with one source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learned {
    New,
    Refreshed,
    Roamed {
        from: PortNo,
    },
    /// A local entry or a sticky one is not moved by traffic.
    Kept,
    /// `fdb_max_learned` reached; nothing was added.
    Full,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FdbError {
    #[error("an entry for {0} vlan {1} already exists (use 'replace' to change it)")]
    Exists(Mac, u16),
    #[error("no entry for {0} vlan {1}")]
    NotFound(Mac, u16),
    #[error("a sticky entry cannot also be permanent")]
    StickyLocal,
}

/// Minimum spacing of collector runs (the kernel's 10 ms).
const GC_MIN_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Clone, Debug)]
pub struct Fdb {
    map: HashMap<FdbKey, Entry>,
    learned: u32,
    pub max_learned: u32,
    next_gc: Option<Instant>,
    /// Record [`FdbNote`]s (the daemon's rtnetlink stream wants them).
    pub record: bool,
    /// Entries added or removed other than by learning and ageing (which
    /// the bridge reports itself), oldest first.
    pub notes: Vec<FdbNote>,
}

/// An entry a command, a port or an address change added or removed: an
/// RTM_NEWNEIGH or RTM_DELNEIGH, as `fdb_notify` sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbNote {
    pub mac: Mac,
    pub vid: u16,
    pub port: Option<PortNo>,
    /// [`Entry::nud`].
    pub nud: u16,
    pub added: bool,
}

impl FdbNote {
    fn of(key: FdbKey, e: &Entry, added: bool) -> FdbNote {
        FdbNote {
            mac: key.mac(),
            vid: key.vid(),
            port: e.port,
            nud: e.nud(),
            added,
        }
    }
}

impl Default for Fdb {
    fn default() -> Self {
        Self::new()
    }
}

impl Fdb {
    pub fn new() -> Self {
        Fdb {
            map: HashMap::new(),
            learned: 0,
            max_learned: 0,
            next_gc: None,
            record: false,
            notes: Vec::new(),
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        Fdb {
            map: HashMap::with_capacity(n),
            ..Self::new()
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries that learning added (the ones `fdb_max_learned` counts).
    pub fn learned_count(&self) -> u32 {
        self.learned
    }

    #[inline]
    pub fn lookup(&self, mac: Mac, vid: u16) -> Option<&Entry> {
        self.map.get(&FdbKey::new(mac, vid))
    }

    /// Learns `mac` on `port`. `hold` is the current ageing time: it decides
    /// when the collector must next run.
    #[inline]
    pub fn learn(
        &mut self,
        now: Instant,
        mac: Mac,
        vid: u16,
        port: PortNo,
        hold: Duration,
    ) -> Learned {
        let key = FdbKey::new(mac, vid);
        if let Some(e) = self.map.get_mut(&key) {
            if e.flags.local || e.flags.is_static {
                return Learned::Kept;
            }
            if e.port == Some(port) {
                e.updated = now;
                return Learned::Refreshed;
            }
            if e.flags.sticky {
                return Learned::Kept;
            }
            let from = e.port.unwrap_or(0);
            e.port = Some(port);
            e.updated = now;
            return Learned::Roamed { from };
        }
        if self.max_learned != 0 && self.learned >= self.max_learned {
            return Learned::Full;
        }
        self.map.insert(
            key,
            Entry {
                port: Some(port),
                flags: EntryFlags::default(),
                updated: now,
            },
        );
        self.learned += 1;
        if self.next_gc.is_none() {
            self.next_gc = Some(now + hold);
        }
        Learned::New
    }

    /// Adds an entry from a command. `replace` overwrites an existing one.
    pub fn add(
        &mut self,
        now: Instant,
        key: FdbKey,
        port: Option<PortNo>,
        flags: EntryFlags,
        replace: bool,
        hold: Duration,
    ) -> Result<(), FdbError> {
        if flags.sticky && flags.local {
            return Err(FdbError::StickyLocal);
        }
        let (mac, vid) = (key.mac(), key.vid());
        let entry = Entry {
            port,
            flags: EntryFlags {
                added_by_user: true,
                ..flags
            },
            updated: now,
        };
        match self.map.get_mut(&key) {
            Some(_) if !replace => return Err(FdbError::Exists(mac, vid)),
            Some(e) => {
                if !e.flags.added_by_user && !e.flags.local {
                    self.learned -= 1;
                }
                *e = entry;
            }
            None => {
                self.map.insert(key, entry);
            }
        }
        if entry.ages() && self.next_gc.is_none() {
            self.next_gc = Some(now + hold);
        }
        self.note(key, &entry, true);
        Ok(())
    }

    /// Adds a local entry for an address of the bridge or one of its ports.
    /// A local entry already there stays as it is (`fdb_add_local`: "it
    /// is okay to have multiple ports with the same address, just use the
    /// first one"), and nothing is announced.
    pub fn add_local(&mut self, now: Instant, mac: Mac, vid: u16, port: Option<PortNo>) {
        let key = FdbKey::new(mac, vid);
        if self.map.get(&key).is_some_and(|e| e.flags.local) {
            return;
        }
        let e = Entry {
            port,
            flags: EntryFlags {
                local: true,
                ..EntryFlags::default()
            },
            updated: now,
        };
        if let Some(old) = self.map.insert(key, e) {
            if !old.flags.added_by_user && !old.flags.local {
                self.learned -= 1;
            }
        }
        self.note(key, &e, true);
    }

    /// Notes every entry as added (a bridge's own, when it is made).
    pub fn note_all(&mut self) {
        if self.record {
            let notes = &mut self.notes;
            notes.extend(self.map.iter().map(|(k, e)| FdbNote::of(*k, e, true)));
        }
    }

    fn note(&mut self, key: FdbKey, e: &Entry, added: bool) {
        if self.record {
            self.notes.push(FdbNote::of(key, e, added));
        }
    }

    pub fn remove(&mut self, mac: Mac, vid: u16) -> Result<Entry, FdbError> {
        let key = FdbKey::new(mac, vid);
        let e = self.map.remove(&key).ok_or(FdbError::NotFound(mac, vid))?;
        if !e.flags.added_by_user && !e.flags.local {
            self.learned -= 1;
        }
        self.note(key, &e, false);
        Ok(e)
    }

    /// Hands `port`'s local entries for `mac` to the bridge itself
    /// (`fdb_delete_local`: the port leaves, but the bridge has its
    /// address); nothing is announced.
    pub fn keep_local_for_bridge(&mut self, port: PortNo, mac: Mac) {
        for (k, e) in self.map.iter_mut() {
            if e.flags.local && e.port == Some(port) && k.mac() == mac {
                e.port = None;
            }
        }
    }

    /// Removes every entry on `port` (the port left the bridge), or only the
    /// dynamic ones.
    pub fn flush_port(&mut self, port: PortNo, dynamic_only: bool) {
        let mut gone = 0;
        let (record, notes) = (self.record, &mut self.notes);
        self.map.retain(|k, e| {
            let keep = e.port != Some(port) || (dynamic_only && !e.ages());
            if !keep && !e.flags.added_by_user && !e.flags.local {
                gone += 1;
            }
            if !keep && record {
                notes.push(FdbNote::of(*k, e, false));
            }
            keep
        });
        self.learned -= gone;
    }

    /// Removes the local entries for `mac` (an address changed).
    pub fn remove_local(&mut self, mac: Mac, port: Option<PortNo>) {
        self.remove_noting(|k, e| e.flags.local && k.mac() == mac && e.port == port);
    }

    /// Removes the bridge's own local entries (those of no port), noting
    /// each, as the bridge goes.
    pub fn remove_own_local(&mut self) {
        self.remove_noting(|_, e| e.flags.local && e.port.is_none());
    }

    /// Removes the entries `gone` picks, noting each.
    fn remove_noting(&mut self, gone: impl Fn(&FdbKey, &Entry) -> bool) {
        let (record, notes) = (self.record, &mut self.notes);
        self.map.retain(|k, e| {
            let keep = !gone(k, e);
            if !keep && record {
                notes.push(FdbNote::of(*k, e, false));
            }
            keep
        });
    }

    /// When the collector next needs to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_gc
    }

    /// Runs the collector if it is due: removes entries older than `hold`
    /// and schedules the next run at the earliest remaining expiry.
    /// Returns how many entries expired.
    pub fn handle_timeout(&mut self, now: Instant, hold: Duration) -> usize {
        self.handle_timeout_into(now, hold, None)
    }

    /// As [`Fdb::handle_timeout`], and lists each entry that aged out
    /// (MAC, VID, port) in `expired` when given.
    pub fn handle_timeout_into(
        &mut self,
        now: Instant,
        hold: Duration,
        mut expired: Option<&mut Vec<(Mac, u16, Option<PortNo>)>>,
    ) -> usize {
        match self.next_gc {
            Some(t) if t <= now => {}
            _ => return 0,
        }
        let mut next: Option<Instant> = None;
        let mut gone = 0usize;
        self.map.retain(|k, e| {
            if !e.ages() {
                return true;
            }
            let expires = e.updated + hold;
            if expires <= now {
                if !e.flags.added_by_user {
                    gone += 1;
                }
                if let Some(x) = expired.as_deref_mut() {
                    x.push((k.mac(), k.vid(), e.port));
                }
                return false;
            }
            next = Some(next.map_or(expires, |n| n.min(expires)));
            true
        });
        self.learned -= gone as u32;
        self.next_gc = next.map(|n| n.max(now + GC_MIN_INTERVAL));
        gone
    }

    /// Makes the collector run at `now` (the hold time got shorter).
    pub fn schedule_gc(&mut self, now: Instant) {
        if !self.map.is_empty() {
            self.next_gc = Some(now);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (FdbKey, &Entry)> {
        self.map.iter().map(|(k, e)| (*k, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: Duration = Duration::from_secs(300);
    fn t(s: u64) -> Instant {
        Instant::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn key_packs_mac_and_vid() {
        let k = FdbKey::new(Mac::local(0xabcdef), 4094);
        assert_eq!(k.mac(), Mac::local(0xabcdef));
        assert_eq!(k.vid(), 4094);
        assert_ne!(FdbKey::new(Mac::local(1), 1), FdbKey::new(Mac::local(1), 2));
    }

    #[test]
    fn learns_refreshes_and_roams() {
        let mut f = Fdb::new();
        let m = Mac::local(1);
        assert_eq!(f.learn(t(0), m, 0, 1, AGE), Learned::New);
        assert_eq!(f.learn(t(5), m, 0, 1, AGE), Learned::Refreshed);
        assert_eq!(f.lookup(m, 0).unwrap().updated, t(5));
        assert_eq!(f.learn(t(6), m, 0, 2, AGE), Learned::Roamed { from: 1 });
        assert_eq!(f.lookup(m, 0).unwrap().port, Some(2));
        assert_eq!(f.learned_count(), 1);
        assert!(f.lookup(m, 1).is_none(), "another VLAN is another key");
    }

    #[test]
    fn local_and_sticky_entries_do_not_move() {
        let mut f = Fdb::new();
        let m = Mac::local(1);
        f.add_local(t(0), m, 0, Some(1));
        assert_eq!(f.learn(t(1), m, 0, 2, AGE), Learned::Kept);
        assert_eq!(f.lookup(m, 0).unwrap().port, Some(1));
        let s = Mac::local(2);
        let sticky = EntryFlags {
            sticky: true,
            ..Default::default()
        };
        f.add(t(0), FdbKey::new(s, 0), Some(1), sticky, false, AGE)
            .unwrap();
        assert_eq!(f.learn(t(1), s, 0, 3, AGE), Learned::Kept);
        assert_eq!(f.lookup(s, 0).unwrap().port, Some(1));
    }

    #[test]
    fn ages_out_on_a_hand_driven_clock() {
        let mut f = Fdb::new();
        let (a, b) = (Mac::local(1), Mac::local(2));
        f.learn(t(0), a, 0, 1, AGE);
        f.learn(t(100), b, 0, 2, AGE);
        f.add(
            t(0),
            FdbKey::new(Mac::local(3), 0),
            Some(1),
            EntryFlags {
                is_static: true,
                ..Default::default()
            },
            false,
            AGE,
        )
        .unwrap();
        assert_eq!(f.poll_timeout(), Some(t(300)));
        assert_eq!(f.handle_timeout(t(299), AGE), 0, "not due yet");
        assert_eq!(f.handle_timeout(t(300), AGE), 1);
        assert!(f.lookup(a, 0).is_none());
        assert!(f.lookup(b, 0).is_some());
        assert_eq!(f.poll_timeout(), Some(t(400)));
        // Traffic refreshes b: the run at 400 finds nothing due and moves on.
        f.learn(t(350), b, 0, 2, AGE);
        assert_eq!(f.handle_timeout(t(400), AGE), 0);
        assert_eq!(f.poll_timeout(), Some(t(650)));
        assert_eq!(f.handle_timeout(t(650), AGE), 1);
        assert_eq!(f.len(), 1, "the static entry never ages");
        assert_eq!(f.poll_timeout(), None);
        assert_eq!(f.learned_count(), 0);
    }

    #[test]
    fn a_shorter_hold_time_expires_sooner() {
        let mut f = Fdb::new();
        f.learn(t(0), Mac::local(1), 0, 1, AGE);
        f.schedule_gc(t(20));
        assert_eq!(f.handle_timeout(t(20), Duration::from_secs(15)), 1);
    }

    #[test]
    fn the_limit_stops_a_mac_flood() {
        let mut f = Fdb::new();
        f.max_learned = 100;
        for i in 0..10_000 {
            f.learn(t(0), Mac::local(i), 0, 1, AGE);
        }
        assert_eq!(f.len(), 100);
        assert_eq!(f.learn(t(0), Mac::local(50_000), 0, 1, AGE), Learned::Full);
        // Known MACs still refresh and roam at the limit.
        assert_eq!(
            f.learn(t(1), Mac::local(5), 0, 2, AGE),
            Learned::Roamed { from: 1 }
        );
        // User entries do not count against it.
        f.add(
            t(0),
            FdbKey::new(Mac::local(77_777), 0),
            Some(1),
            EntryFlags::default(),
            false,
            AGE,
        )
        .unwrap();
        assert_eq!(f.learned_count(), 100);
        f.flush_port(1, false);
        assert_eq!(f.learned_count(), 1);
    }

    #[test]
    fn add_and_remove_follow_the_kernel_errors() {
        let mut f = Fdb::new();
        let m = Mac::local(9);
        f.add(
            t(0),
            FdbKey::new(m, 0),
            Some(1),
            EntryFlags::default(),
            false,
            AGE,
        )
        .unwrap();
        assert_eq!(
            f.add(
                t(0),
                FdbKey::new(m, 0),
                Some(2),
                EntryFlags::default(),
                false,
                AGE
            ),
            Err(FdbError::Exists(m, 0))
        );
        f.add(
            t(0),
            FdbKey::new(m, 0),
            Some(2),
            EntryFlags::default(),
            true,
            AGE,
        )
        .unwrap();
        assert_eq!(f.lookup(m, 0).unwrap().port, Some(2));
        f.remove(m, 0).unwrap();
        assert_eq!(f.remove(m, 0), Err(FdbError::NotFound(m, 0)));
    }
}
