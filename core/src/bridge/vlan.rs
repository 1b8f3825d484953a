//! Per-port VLAN membership of a VLAN-filtering bridge (`br_vlan.c`).

/// Which VIDs a port (or the bridge device itself) is a member of, which of
/// them leave untagged, and the PVID. A bitmap of 4096 bits each way: one
/// lookup per frame, no hashing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VlanSet {
    members: [u64; 64],
    untagged: [u64; 64],
    /// 0 = no PVID: untagged frames are dropped on ingress.
    pub pvid: u16,
}

impl Default for VlanSet {
    fn default() -> Self {
        VlanSet {
            members: [0; 64],
            untagged: [0; 64],
            pvid: 0,
        }
    }
}

#[inline]
fn bit(set: &[u64; 64], vid: u16) -> bool {
    let v = usize::from(vid & 0x0fff);
    set[v / 64] >> (v % 64) & 1 != 0
}

fn put(set: &mut [u64; 64], vid: u16, on: bool) {
    let v = usize::from(vid & 0x0fff);
    if on {
        set[v / 64] |= 1 << (v % 64);
    } else {
        set[v / 64] &= !(1 << (v % 64));
    }
}

impl VlanSet {
    /// The membership a new port gets: `default_pvid` as PVID and untagged.
    pub fn with_default(pvid: u16) -> Self {
        let mut s = VlanSet::default();
        if pvid != 0 {
            s.add(pvid, true, true);
        }
        s
    }

    /// `bridge vlan add vid V [pvid] [untagged]`: adding again replaces the
    /// flags; `pvid` moves the PVID here, and re-adding the current PVID
    /// without `pvid` clears it (as the kernel does).
    pub fn add(&mut self, vid: u16, pvid: bool, untagged: bool) {
        put(&mut self.members, vid, true);
        put(&mut self.untagged, vid, untagged);
        if pvid {
            self.pvid = vid;
        } else if self.pvid == vid {
            self.pvid = 0;
        }
    }

    pub fn del(&mut self, vid: u16) -> bool {
        let was = self.contains(vid);
        put(&mut self.members, vid, false);
        put(&mut self.untagged, vid, false);
        if self.pvid == vid {
            self.pvid = 0;
        }
        was
    }

    #[inline]
    pub fn contains(&self, vid: u16) -> bool {
        bit(&self.members, vid)
    }

    #[inline]
    pub fn is_untagged(&self, vid: u16) -> bool {
        bit(&self.untagged, vid)
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (1..4095u16).filter(|v| self.contains(*v))
    }

    pub fn is_empty(&self) -> bool {
        self.members.iter().all(|w| *w == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_membership_is_pvid_untagged() {
        let s = VlanSet::with_default(1);
        assert!(s.contains(1) && s.is_untagged(1));
        assert_eq!(s.pvid, 1);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn pvid_moves_and_clears() {
        let mut s = VlanSet::with_default(1);
        s.add(10, true, true);
        assert_eq!(s.pvid, 10);
        assert!(s.contains(1), "the old PVID VLAN stays a member");
        s.add(10, false, false);
        assert_eq!(s.pvid, 0);
        assert!(!s.is_untagged(10));
        s.add(20, false, false);
        assert!(s.del(20));
        assert!(!s.del(20));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 10]);
    }
}
