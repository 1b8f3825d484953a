//! MACVLAN and MACVTAP (`drivers/net/macvlan.c`, BEHAVIOUR.md §6.1): devices
//! with their own MAC on one lower device, and the lower's receive handler
//! (`macvlan_handle_frame`) that hands them what arrives, by mode.
//!
//! Sans-IO and free of the graph: [`rx_plan`] says which siblings get a
//! frame the lower received and whether the lower's own stack keeps it;
//! [`tx_plan`] says where a frame a macvlan sends goes. The graph
//! (`graph.rs`, `macvlan_rx`/`macvlan_xmit`) carries the plans out.
//! `macvtap` is the same device; patchbay exposes every device as a TAP, so
//! the two differ only in their kind's name.

use crate::graph::{IfId, Targets};
use crate::mcfilter::McFilter;
use crate::wire::Mac;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Private,
    Vepa,
    Bridge,
    Passthru,
    Source,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::Private,
        Mode::Vepa,
        Mode::Bridge,
        Mode::Passthru,
        Mode::Source,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Private => "private",
            Mode::Vepa => "vepa",
            Mode::Bridge => "bridge",
            Mode::Passthru => "passthru",
            Mode::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// `macaddr add|del|set|flush` (source mode's allowed senders).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacaddrOp {
    Add(Mac),
    Del(Mac),
    Set(Vec<Mac>),
    Flush,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Macvlan {
    pub mode: Mode,
    /// passthru: leave the lower's promiscuity alone.
    pub nopromisc: bool,
    /// source: a frame from a listed sender goes to this device only.
    pub nodst: bool,
    /// source mode: the senders whose frames this device gets a copy of.
    pub sources: Vec<Mac>,
    /// `bcqueuelen` (kept and shown; patchbay delivers broadcasts inline).
    pub bcqueuelen: u32,
    /// `type macvtap`.
    pub tap: bool,
    /// Its multicast filter.
    pub mc: McFilter,
}

impl Macvlan {
    pub fn new(mode: Mode) -> Macvlan {
        Macvlan {
            mode,
            nopromisc: false,
            nodst: false,
            sources: Vec::new(),
            bcqueuelen: 1000,
            tap: false,
            mc: McFilter::default(),
        }
    }

    /// Its multicast filter (`macvlan_compute_filter`): broadcast, the
    /// groups it is in; everything when promiscuous (passthru).
    pub fn accepts(&self, dst: Mac) -> bool {
        self.mode == Mode::Passthru || self.mc.accepts(dst)
    }

    /// Applies `macaddr ...`; false when `del` names an address not listed.
    pub fn macaddr(&mut self, op: &MacaddrOp) -> bool {
        match op {
            MacaddrOp::Add(m) => {
                if !self.sources.contains(m) {
                    self.sources.push(*m);
                }
            }
            MacaddrOp::Del(m) => {
                let n = self.sources.len();
                self.sources.retain(|x| x != m);
                return self.sources.len() < n;
            }
            MacaddrOp::Set(ms) => {
                self.sources.clear();
                for m in ms {
                    if !self.sources.contains(m) {
                        self.sources.push(*m);
                    }
                }
            }
            MacaddrOp::Flush => self.sources.clear(),
        }
        true
    }
}

/// One macvlan on the lower, as the lower's handler sees it.
#[derive(Clone, Copy, Debug)]
pub struct Sibling<'a> {
    pub id: IfId,
    pub mac: Mac,
    pub up: bool,
    pub dev: &'a Macvlan,
}

/// `macvlan_forward_source`: source-mode devices listing `src` get a copy;
/// true when one of them is `nodst` (the frame goes no further).
fn forward_source(sibs: &[Sibling<'_>], src: Mac, to: &mut Targets) -> bool {
    let mut consume = false;
    for s in sibs {
        if s.dev.mode == Mode::Source && s.dev.sources.contains(&src) {
            consume |= s.dev.nodst;
            if s.up {
                to.push(s.id);
            }
        }
    }
    consume
}

/// `macvlan_broadcast`: up siblings whose mode is in `modes` and whose
/// filter takes `dst`, except `except`.
fn broadcast(
    sibs: &[Sibling<'_>],
    dst: Mac,
    except: Option<IfId>,
    modes: &[Mode],
    to: &mut Targets,
) {
    for s in sibs {
        if Some(s.id) != except && s.up && modes.contains(&s.dev.mode) && s.dev.accepts(dst) {
            to.push(s.id);
        }
    }
}

/// `macvlan_handle_frame` for a frame the lower received from `src` to
/// `dst`: the siblings that get a copy go into `to`; the result says
/// whether the lower's own stack gets it too (`RX_HANDLER_PASS`).
pub fn rx_plan(sibs: &[Sibling<'_>], dst: Mac, src: Mac, to: &mut Targets) -> bool {
    if dst.is_multicast() {
        if forward_source(sibs, src, to) {
            return false;
        }
        let from = sibs.iter().find(|s| s.mac == src);
        if let Some(s) = from.filter(|s| !matches!(s.dev.mode, Mode::Vepa | Mode::Bridge)) {
            // From a private, passthru or source sibling: back to it only.
            if s.up {
                to.push(s.id);
            }
            return false;
        }
        // `macvlan_multicast_rx`, the broadcast worker.
        match from {
            None => broadcast(
                sibs,
                dst,
                None,
                &[Mode::Private, Mode::Vepa, Mode::Passthru, Mode::Bridge],
                to,
            ),
            Some(s) if s.dev.mode == Mode::Vepa => {
                broadcast(sibs, dst, Some(s.id), &[Mode::Vepa, Mode::Bridge], to)
            }
            // Bridge siblings saw it on the way out.
            Some(s) => broadcast(sibs, dst, Some(s.id), &[Mode::Vepa], to),
        }
        return true;
    }
    if forward_source(sibs, src, to) {
        return false;
    }
    let passthru = sibs.iter().find(|s| s.dev.mode == Mode::Passthru);
    let v = passthru.or_else(|| sibs.iter().find(|s| s.mac == dst));
    match v {
        None => true,
        Some(s) if s.dev.mode == Mode::Source => true,
        Some(s) => {
            // Down: dropped, and the lower does not get it either.
            if s.up {
                to.push(s.id);
            }
            false
        }
    }
}

/// Where a frame a macvlan sends goes (`macvlan_queue_xmit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxPlan {
    /// Bridge-mode siblings that get a multicast copy directly.
    pub local: Targets,
    /// Bridge mode, unicast to a bridge-mode sibling: handed to the lower's
    /// receive path (`dev_forward_skb`), which delivers it.
    pub via_lower: bool,
    /// Out through the lower device.
    pub wire: bool,
}

/// `macvlan_queue_xmit` for `me` sending to `dst`.
pub fn tx_plan(sibs: &[Sibling<'_>], me: IfId, mode: Mode, dst: Mac) -> TxPlan {
    let mut p = TxPlan::default();
    if mode == Mode::Bridge {
        if dst.is_multicast() {
            broadcast(sibs, dst, Some(me), &[Mode::Bridge], &mut p.local);
        } else if sibs
            .iter()
            .any(|s| s.mac == dst && s.dev.mode == Mode::Bridge)
        {
            p.via_lower = true;
            return p;
        }
    }
    p.wire = true;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOWER: Mac = Mac([2, 0, 0, 0, 0, 0xee]);
    const OUT: Mac = Mac([2, 0, 0, 0, 0, 0xff]);
    const BCAST: Mac = Mac::BROADCAST;
    const MCAST: Mac = Mac([0x01, 0, 0x5e, 0, 0, 1]);

    fn mac(i: u8) -> Mac {
        Mac([2, 0, 0, 0, 0, i])
    }

    /// Who of A (1), B (2), the lower's stack (L) and the outside (O)
    /// receives what `from` sends to `dst`, with a switch that hairpins
    /// (reflects back down the lower's wire) or not.
    fn deliveries(devs: &[Macvlan], from: &str, dst: Mac, hairpin: bool) -> String {
        let sibs: Vec<Sibling<'_>> = devs
            .iter()
            .enumerate()
            .map(|(i, d)| Sibling {
                id: IfId(i as u32 + 1),
                mac: mac(i as u8 + 1),
                up: true,
                dev: d,
            })
            .collect();
        let mut got: Vec<String> = Vec::new();
        let name = |id: IfId| ["A", "B"][id.0 as usize - 1].to_string();
        // What arrives on the lower from its wire.
        let on_wire_in = |src: Mac, got: &mut Vec<String>| {
            let mut to = Targets::new();
            if rx_plan(&sibs, dst, src, &mut to) {
                got.push("L".into());
            }
            got.extend(to.into_iter().map(name));
        };
        let src;
        let mut wire_out = false;
        match from {
            "O" => {
                src = OUT;
                on_wire_in(src, &mut got);
            }
            "L" => {
                // The lower's own stack sends straight to its wire.
                src = LOWER;
                wire_out = true;
            }
            _ => {
                let me = if from == "A" { IfId(1) } else { IfId(2) };
                src = mac(me.0 as u8);
                let p = tx_plan(&sibs, me, devs[me.0 as usize - 1].mode, dst);
                got.extend(p.local.into_iter().map(name));
                if p.via_lower {
                    on_wire_in(src, &mut got);
                }
                wire_out = p.wire;
            }
        }
        if wire_out {
            if dst == OUT || dst.is_multicast() {
                got.push("O".into());
            }
            if hairpin && dst != OUT {
                on_wire_in(src, &mut got);
            }
        }
        got.sort();
        got.dedup();
        got.join(" ")
    }

    fn table(mode: Mode, hairpin: bool) -> Vec<String> {
        let devs = [Macvlan::new(mode), Macvlan::new(mode)];
        let mut rows = Vec::new();
        for from in ["A", "L", "O"] {
            for (what, dst) in [
                ("B", mac(2)),
                ("L", LOWER),
                ("O", OUT),
                ("bcast", BCAST),
                ("mcast", MCAST),
            ] {
                if what == from {
                    continue;
                }
                rows.push(format!(
                    "{from}->{what}: {}",
                    deliveries(&devs, from, dst, hairpin)
                ));
            }
        }
        rows
    }

    #[test]
    fn bridge_mode_delivers_between_siblings_without_the_switch() {
        assert_eq!(
            table(Mode::Bridge, false),
            [
                "A->B: B",
                "A->L: ",
                "A->O: O",
                "A->bcast: B O",
                "A->mcast: B O",
                "L->B: ",
                "L->O: O",
                "L->bcast: O",
                "L->mcast: O",
                "O->B: B",
                "O->L: L",
                "O->bcast: A B L",
                "O->mcast: A B L",
            ]
        );
    }

    #[test]
    fn vepa_needs_the_switch_to_hairpin() {
        assert_eq!(
            table(Mode::Vepa, false),
            [
                "A->B: ",
                "A->L: ",
                "A->O: O",
                "A->bcast: O",
                "A->mcast: O",
                "L->B: ",
                "L->O: O",
                "L->bcast: O",
                "L->mcast: O",
                "O->B: B",
                "O->L: L",
                "O->bcast: A B L",
                "O->mcast: A B L",
            ]
        );
        // With a hairpin the frame comes back: siblings and the lower get
        // it, the sender's own broadcast is not returned to it.
        assert_eq!(
            table(Mode::Vepa, true)[..5],
            [
                "A->B: B",
                "A->L: L",
                "A->O: O",
                "A->bcast: B L O",
                "A->mcast: B L O"
            ]
        );
        assert_eq!(
            table(Mode::Vepa, true)[5..9],
            [
                "L->B: B",
                "L->O: O",
                "L->bcast: A B L O",
                "L->mcast: A B L O"
            ]
        );
    }

    #[test]
    fn private_never_hears_its_siblings_broadcasts() {
        let t = table(Mode::Private, true);
        // Hairpinned broadcasts from A go back to A only (the kernel's
        // "forward to original port"), not to B or the lower; unicast is
        // not filtered (the kernel checks sources for multicast only).
        assert_eq!(t[3], "A->bcast: A O");
        assert_eq!(t[4], "A->mcast: A O");
        assert_eq!(t[0], "A->B: B");
        // From outside, everyone.
        assert_eq!(t[11], "O->bcast: A B L");
        assert_eq!(
            table(Mode::Private, false)[..5],
            ["A->B: ", "A->L: ", "A->O: O", "A->bcast: O", "A->mcast: O"]
        );
    }

    #[test]
    fn source_mode_admits_only_listed_senders() {
        let mut a = Macvlan::new(Mode::Source);
        a.macaddr(&MacaddrOp::Set(vec![OUT]));
        let b = Macvlan::new(Mode::Source);
        let devs = [a, b];
        // A lists the outside host: a copy of whatever it sends, unicast to
        // anyone or broadcast; B lists nobody and gets nothing, even frames
        // to its own address. The lower still gets everything.
        assert_eq!(deliveries(&devs, "O", LOWER, false), "A L");
        assert_eq!(deliveries(&devs, "O", mac(2), false), "A L");
        assert_eq!(deliveries(&devs, "O", BCAST, false), "A L");
        let mut nodst = devs.clone();
        nodst[0].nodst = true;
        assert_eq!(deliveries(&nodst, "O", LOWER, false), "A", "nodst: A only");
        // del, flush.
        let mut a = devs[0].clone();
        assert!(a.macaddr(&MacaddrOp::Del(OUT)));
        assert!(!a.macaddr(&MacaddrOp::Del(OUT)));
        a.macaddr(&MacaddrOp::Add(OUT));
        a.macaddr(&MacaddrOp::Flush);
        assert!(a.sources.is_empty());
    }

    #[test]
    fn groups_are_learned_from_the_hosts_reports() {
        let g = Mac([0x01, 0, 0x5e, 1, 2, 3]);
        let mut a = Macvlan::new(Mode::Bridge);
        assert!(!a.accepts(g) && a.accepts(BCAST) && a.accepts(MCAST));
        let devs = [a.clone(), Macvlan::new(Mode::Bridge)];
        assert_eq!(deliveries(&devs, "O", g, false), "L", "nobody joined");
        // IGMPv2 report for 239.1.2.3, then a leave.
        let mut ip = vec![0x46, 0, 0, 32, 0, 0, 0, 0, 1, 2, 0, 0];
        ip.extend_from_slice(&[198, 18, 0, 1, 239, 1, 2, 3, 0x94, 4, 0, 0]);
        let mut body = vec![0x08, 0x00];
        body.extend_from_slice(&ip);
        body.extend_from_slice(&[0x16, 0, 0, 0, 239, 1, 2, 3]);
        a.mc.snoop(0x0800, &body);
        assert!(a.accepts(g));
        let devs = [a.clone(), Macvlan::new(Mode::Bridge)];
        assert_eq!(deliveries(&devs, "O", g, false), "A L");
        let n = body.len();
        body[n - 8] = 0x17;
        a.mc.snoop(0x0800, &body);
        assert!(!a.accepts(g));
        // MLDv2: join ff05::1:3 (33:33:00:01:00:03) behind hop-by-hop.
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 36, 0, 1];
        ip6.extend_from_slice(&[0; 32]);
        ip6.extend_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]);
        ip6.extend_from_slice(&[143, 0, 0, 0, 0, 0, 0, 1]);
        let mut grp = [0u8; 16];
        grp[0] = 0xff;
        grp[1] = 0x05;
        grp[13] = 1;
        grp[15] = 3;
        ip6.extend_from_slice(&[4, 0, 0, 0]);
        ip6.extend_from_slice(&grp);
        let mut body6 = vec![0x86, 0xdd];
        body6.extend_from_slice(&ip6);
        a.mc.snoop(0x86dd, &body6);
        assert!(a.accepts(Mac([0x33, 0x33, 0, 1, 0, 3])));
    }

    #[test]
    fn passthru_takes_all_unicast() {
        let devs = [Macvlan::new(Mode::Passthru)];
        let sibs = [Sibling {
            id: IfId(1),
            mac: LOWER,
            up: true,
            dev: &devs[0],
        }];
        let mut to = Targets::new();
        assert!(!rx_plan(&sibs, mac(9), OUT, &mut to));
        assert_eq!(to[..], [IfId(1)]);
        to.clear();
        assert!(rx_plan(&sibs, BCAST, OUT, &mut to));
        assert_eq!(to[..], [IfId(1)]);
    }
}
