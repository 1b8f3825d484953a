//! balance-tlb and balance-alb (`drivers/net/bonding/bond_alb.c`):
//! transmit load balancing over a 256-entry table of destinations by load,
//! rebalanced every 10 s, and (alb) receive load balancing by answering
//! each peer's ARP with the MAC of the member it should send to.
//!
//! Members keep their own addresses in these modes; the active member's is
//! the bond's (the kernel moves addresses between members on failover; in
//! patchbay the bond's address always stands for the active member).

use super::{Bond, Mode};
use crate::wire::{build_frame, ethertype, Frame, Mac};

/// `TLB_HASH_TABLE_SIZE`, `RLB_HASH_TABLE_SIZE`.
const TABLE: usize = 256;
/// `BOND_TLB_REBALANCE_INTERVAL` seconds, in 100 ms ticks.
const REBALANCE_TICKS: u32 = 100;
const REBALANCE_INTERVAL: u64 = 10;
/// `RLB_UPDATE_DELAY` ticks, `RLB_UPDATE_RETRY` rounds, `RLB_ARP_BURST_SIZE`.
const RLB_UPDATE_DELAY: u32 = 2;
const RLB_UPDATE_RETRY: u32 = 3;
const RLB_ARP_BURST_SIZE: usize = 2;

#[derive(Clone, Copy, Debug, Default)]
struct TlbEntry {
    slave: Option<u16>,
    tx_bytes: u64,
    load_history: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct RlbEntry {
    assigned: bool,
    ip_src: [u8; 4],
    ip_dst: [u8; 4],
    mac_dst: Mac,
    slave: Option<u16>,
    ntt: bool,
}

/// `struct alb_bond_info`.
#[derive(Clone, Debug)]
pub struct Alb {
    tx: Vec<TlbEntry>,
    /// Load per member id (bytes over the last interval, as history).
    load: Vec<(u16, u64)>,
    unbalanced_load: u64,
    rebalance_counter: u32,
    lp_counter: u32,
    rx: Vec<RlbEntry>,
    rx_slave: Option<u16>,
    rx_ntt: bool,
    update_delay: u32,
    update_retry: u32,
}

impl Default for Alb {
    fn default() -> Self {
        Alb {
            tx: vec![TlbEntry::default(); TABLE],
            load: Vec::new(),
            unbalanced_load: 0,
            rebalance_counter: 0,
            lp_counter: 0,
            rx: vec![RlbEntry::default(); TABLE],
            rx_slave: None,
            rx_ntt: false,
            update_delay: 0,
            update_retry: 0,
        }
    }
}

/// `_simple_hash`: the bytes xor'ed.
fn simple_hash(b: &[u8]) -> usize {
    usize::from(b.iter().fold(0u8, |h, x| h ^ x))
}

/// `alb_determine_nd`: an IPv6 neighbour solicitation or advertisement.
fn is_nd(frame: &Frame<'_>) -> bool {
    let b = &frame.body()[2..];
    b.len() > 40 && b[6] == 58 && matches!(b[40], 135 | 136)
}

impl Bond {
    /// The address a member sends from in these modes: the bond's for the
    /// active member, its own for the others.
    fn member_mac(&self, id: u16) -> Mac {
        if self.curr_active == Some(id) {
            self.mac
        } else {
            self.slave(id).map_or(self.mac, |s| s.perm_mac)
        }
    }

    fn load_of(&self, id: u16) -> u64 {
        self.alb
            .load
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(0, |x| x.1)
    }

    fn add_load(&mut self, id: u16, v: u64) {
        match self.alb.load.iter_mut().find(|(i, _)| *i == id) {
            Some(x) => x.1 += v,
            None => self.alb.load.push((id, v)),
        }
    }

    fn can_tx(&self, id: u16) -> bool {
        self.slave(id)
            .is_some_and(|s| s.dev_up && s.link == super::Link::Up && s.active)
    }

    /// `tlb_get_least_loaded_slave`: the largest gap between speed and load.
    fn least_loaded(&self) -> Option<u16> {
        self.slaves
            .iter()
            .filter(|s| self.can_tx(s.id))
            .map(|s| {
                let gap = (i64::from(s.speed_mbps) << 20) - ((self.load_of(s.id) as i64) << 3);
                (gap, s.id)
            })
            .fold(None, |best: Option<(i64, u16)>, (g, id)| match best {
                Some((bg, _)) if bg >= g => best,
                _ => Some((g, id)),
            })
            .map(|(_, id)| id)
    }

    /// `tlb_choose_channel`.
    fn tlb_choose(&mut self, index: usize, len: usize) -> Option<u16> {
        let mut assigned = self.alb.tx[index].slave;
        if assigned.is_none() {
            assigned = self.least_loaded();
            if let Some(id) = assigned {
                self.alb.tx[index].slave = Some(id);
                let h = self.alb.tx[index].load_history;
                self.add_load(id, h);
            }
        }
        if assigned.is_some() {
            self.alb.tx[index].tx_bytes += len as u64;
        }
        assigned
    }

    /// `tlb_clear_slave`: forget the member's destinations (`save`: keep
    /// their load as history for the next assignment).
    fn tlb_clear(&mut self, id: u16, save: bool) {
        for e in self.alb.tx.iter_mut().filter(|e| e.slave == Some(id)) {
            if save {
                e.load_history = 1 + e.tx_bytes / REBALANCE_INTERVAL;
                e.tx_bytes = 0;
            }
            e.slave = None;
        }
        if let Some(x) = self.alb.load.iter_mut().find(|(i, _)| *i == id) {
            x.1 = 0;
        }
    }

    /// `bond_xmit_tlb_slave_get` / `bond_xmit_alb_slave_get`: the member,
    /// or None for "send on the active member".
    fn alb_slave_get(&mut self, frame: &mut Frame<'_>) -> Option<u16> {
        let dst = frame.dst();
        let et = frame.ethertype();
        let l3 = frame.body().get(2..).unwrap_or(&[]);
        if self.cfg.mode == Mode::BalanceTlb {
            if dst.is_multicast()
                || !(et == ethertype::IPV4 || (et == ethertype::IPV6 && !is_nd(frame)))
            {
                return None;
            }
            let h = super::hash::xmit_hash(frame, self.cfg.xmit_hash_policy);
            return if self.cfg.tlb_dynamic_lb {
                self.tlb_choose((h & 0xff) as usize, frame.len())
            } else {
                (!self.usable.is_empty()).then(|| self.usable[h as usize % self.usable.len()])
            };
        }
        let start = match et {
            ethertype::IPV4 => {
                if dst.is_broadcast() || l3.len() < 20 || l3[16..20] == [255; 4] || l3[9] == 2 {
                    return None;
                }
                16..20
            }
            ethertype::IPV6 => {
                let all_nodes = dst == Mac([0x33, 0x33, 0, 0, 0, 1]);
                if dst.is_broadcast()
                    || all_nodes
                    || is_nd(frame)
                    || l3.len() < 40
                    || l3[8..24] == [0; 16]
                {
                    return None;
                }
                24..40
            }
            ethertype::ARP => return self.rlb_arp_xmit(frame),
            _ => return None,
        };
        if self.cfg.tlb_dynamic_lb {
            let idx = simple_hash(&l3[start]);
            self.tlb_choose(idx, frame.len())
        } else {
            let h = super::hash::xmit_hash(frame, self.cfg.xmit_hash_policy);
            (!self.usable.is_empty()).then(|| self.usable[h as usize % self.usable.len()])
        }
    }

    /// `bond_do_alb_xmit`: the chosen member (or the active one), sending
    /// from its own address when it is not the active member.
    pub(super) fn alb_xmit(&mut self, frame: &mut Frame<'_>, out: &mut Vec<u16>) {
        let chosen = self.alb_slave_get(frame);
        let tx = match chosen {
            Some(id) => Some(id),
            None => {
                if self.cfg.tlb_dynamic_lb {
                    self.alb.unbalanced_load += frame.len() as u64;
                }
                self.curr_active
            }
        };
        match tx {
            Some(id) if self.can_tx(id) => {
                if self.curr_active != Some(id) && frame.src() == self.mac {
                    let mac = self.member_mac(id);
                    frame.set_src(mac);
                }
                out.push(id);
            }
            Some(id) if self.cfg.tlb_dynamic_lb && chosen.is_some() => self.tlb_clear(id, false),
            _ => {}
        }
    }

    /// `__rlb_next_rx_slave`: round robin over members, fastest first.
    fn rlb_next_rx_slave(&mut self) -> Option<u16> {
        let mut before: Option<(u32, u16)> = None;
        let mut after: Option<(u32, u16)> = None;
        let mut found = false;
        for s in &self.slaves {
            if !self.can_tx(s.id) {
                continue;
            }
            let cand = (s.speed_mbps, s.id);
            if !found {
                if before.is_none_or(|b| b.0 < s.speed_mbps) {
                    before = Some(cand);
                }
            } else if after.is_none_or(|a| a.0 < s.speed_mbps) {
                after = Some(cand);
            }
            if Some(s.id) == self.alb.rx_slave {
                found = true;
            }
        }
        let pick = match (after, before) {
            (Some(a), Some(b)) if a.0 < b.0 => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        if let Some((_, id)) = pick {
            self.alb.rx_slave = Some(id);
        }
        pick.map(|(_, id)| id)
    }

    /// `rlb_arp_xmit` + `rlb_choose_channel`: an ARP the host sends picks,
    /// per peer, the member that peer should reach us by; a reply carries
    /// that member's address.
    fn rlb_arp_xmit(&mut self, frame: &mut Frame<'_>) -> Option<u16> {
        let b = frame.body().get(2..)?;
        if b.len() < 28 {
            return None;
        }
        let op = u16::from_be_bytes([b[6], b[7]]);
        let sha = Mac(b[8..14].try_into().ok()?);
        if sha != self.mac && !self.slaves.iter().any(|s| s.perm_mac == sha) {
            return None;
        }
        let ip_src: [u8; 4] = b[14..18].try_into().ok()?;
        let tha = Mac(b[18..24].try_into().ok()?);
        let ip_dst: [u8; 4] = b[24..28].try_into().ok()?;
        let idx = simple_hash(&ip_dst);
        let e = self.alb.rx[idx];
        let mut slave = None;
        if e.assigned && e.ip_src == ip_src && e.ip_dst == ip_dst {
            if !tha.is_broadcast() {
                self.alb.rx[idx].mac_dst = tha;
            }
            slave = e.slave;
        } else if e.assigned {
            if let Some(a) = self.curr_active.filter(|a| e.slave != Some(*a)) {
                self.alb.rx[idx].slave = Some(a);
                self.rlb_update_client(idx);
            }
        }
        if slave.is_none() {
            slave = self.rlb_next_rx_slave();
            if let Some(id) = slave {
                let valid = !tha.is_multicast() && tha != Mac::ZERO;
                self.alb.rx[idx] = RlbEntry {
                    assigned: true,
                    ip_src,
                    ip_dst,
                    mac_dst: tha,
                    slave: Some(id),
                    ntt: valid,
                };
                if valid {
                    self.alb.rx_ntt = true;
                }
            }
        }
        if op == 2 {
            // A reply goes out of the chosen member, carrying its address:
            // the peer will send to it. The frame is rebuilt with it.
            if let Some(id) = slave {
                let mac = self.member_mac(id);
                if mac != sha {
                    let mut bytes = frame.to_vec();
                    let arp = frame.header_len() + 2;
                    bytes[6..12].copy_from_slice(&mac.0);
                    bytes[arp + 8..arp + 14].copy_from_slice(&mac.0);
                    self.tx.push((id, bytes));
                    self.alb_consumed = true;
                }
            }
        } else if op == 1 {
            self.alb.update_delay = RLB_UPDATE_DELAY;
        }
        slave
    }

    /// `rlb_update_client`: ARP replies telling a peer which address to
    /// send to.
    fn rlb_update_client(&mut self, idx: usize) {
        let e = self.alb.rx[idx];
        let Some(id) = e.slave else { return };
        if e.mac_dst.is_multicast() || e.mac_dst == Mac::ZERO {
            return;
        }
        let mac = self.member_mac(id);
        let mut arp = Vec::with_capacity(28);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        arp.extend_from_slice(&mac.0);
        arp.extend_from_slice(&e.ip_src);
        arp.extend_from_slice(&e.mac_dst.0);
        arp.extend_from_slice(&e.ip_dst);
        let f = build_frame(e.mac_dst, mac, &[], ethertype::ARP, &arp);
        for _ in 0..RLB_ARP_BURST_SIZE {
            self.tx.push((id, f.clone()));
        }
    }

    /// `rlb_arp_recv`: a peer's ARP reply tells us its address.
    pub(super) fn rlb_arp_recv(&mut self, frame: &Frame<'_>) {
        let b = frame.body().get(2..).unwrap_or(&[]);
        if frame.ethertype() != ethertype::ARP || b.len() < 28 || b[6..8] != [0, 2] {
            return;
        }
        let sha = Mac(b[8..14].try_into().expect("6"));
        let sip: [u8; 4] = b[14..18].try_into().expect("4");
        let tip: [u8; 4] = b[24..28].try_into().expect("4");
        let idx = simple_hash(&sip);
        let e = &mut self.alb.rx[idx];
        if e.assigned && e.ip_src == tip && e.ip_dst == sip && e.mac_dst != sha {
            e.mac_dst = sha;
            e.ntt = true;
            self.alb.rx_ntt = true;
        }
    }

    /// `rlb_clear_slave`: a member's peers move to another member and are
    /// told so.
    pub(super) fn alb_slave_gone(&mut self, id: u16) {
        if self.cfg.mode == Mode::BalanceTlb || self.cfg.mode == Mode::BalanceAlb {
            self.tlb_clear(id, false);
        }
        if self.cfg.mode != Mode::BalanceAlb {
            return;
        }
        for idx in 0..TABLE {
            if self.alb.rx[idx].slave == Some(id) {
                let next = self.rlb_next_rx_slave();
                let e = &mut self.alb.rx[idx];
                e.slave = next;
                if next.is_some() && !e.mac_dst.is_multicast() && e.mac_dst != Mac::ZERO {
                    e.ntt = true;
                    self.alb.rx_ntt = true;
                    self.alb.update_retry = RLB_UPDATE_RETRY;
                }
            }
        }
    }

    /// `bond_alb_monitor`: every 100 ms.
    pub(super) fn alb_monitor(&mut self) {
        if self.slaves.is_empty() {
            self.alb.rebalance_counter = 0;
            self.alb.lp_counter = 0;
            return;
        }
        self.alb.rebalance_counter += 1;
        self.alb.lp_counter += 1;
        if self.alb.lp_counter >= self.cfg.lp_interval * 10 {
            // Learning packets: each member's address, so switches know
            // where each member is.
            for s in self.slaves.clone() {
                let mac = self.member_mac(s.id);
                let f = build_frame(mac, mac, &[], 0x9000, &[0; 46]);
                self.tx.push((s.id, f));
            }
            self.alb.lp_counter = 0;
        }
        if self.alb.rebalance_counter >= REBALANCE_TICKS {
            let ids: Vec<u16> = self.slaves.iter().map(|s| s.id).collect();
            for id in ids {
                self.tlb_clear(id, true);
                if self.curr_active == Some(id) {
                    let l = self.alb.unbalanced_load / REBALANCE_INTERVAL;
                    self.add_load(id, l);
                    self.alb.unbalanced_load = 0;
                }
            }
            self.alb.rebalance_counter = 0;
        }
        if self.cfg.mode == Mode::BalanceAlb && self.alb.rx_ntt {
            if self.alb.update_delay > 0 {
                self.alb.update_delay -= 1;
            } else {
                for idx in 0..TABLE {
                    if self.alb.rx[idx].ntt {
                        self.rlb_update_client(idx);
                        if self.alb.update_retry == 0 {
                            self.alb.rx[idx].ntt = false;
                        }
                    }
                }
                self.alb.update_delay = RLB_UPDATE_DELAY;
                if self.alb.update_retry > 0 {
                    self.alb.update_retry -= 1;
                } else {
                    self.alb.rx_ntt = false;
                }
            }
        }
    }

    /// Members' own addresses: a frame to one of them is for the bond.
    pub(super) fn is_member_mac(&self, mac: Mac) -> bool {
        self.slaves.iter().any(|s| s.perm_mac == mac)
    }
}
