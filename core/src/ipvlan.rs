//! IPVLAN and IPVTAP (`drivers/net/ipvlan/ipvlan_core.c`, BEHAVIOUR.md
//! §6.2): slaves that share their master's MAC and are told apart by their
//! IP addresses. Sans-IO and free of the graph: [`rx_plan`] says which
//! slave gets what the master received (or that the master keeps it),
//! [`tx_plan`] where a frame a slave sends goes. The graph (`graph.rs`,
//! `ipvlan_rx`/`ipvlan_xmit`) carries the plans out; a routed packet (l3
//! mode) leaves through `Outputs::routed` for the front end to route in
//! the master's namespace.
//!
//! The slaves' addresses are learned from what they send (the source
//! address of IPv4 and IPv6 packets and of ARP), since the addresses live
//! on the TAPs patchbay exposes, where the kernel configures them.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::graph::{IfId, Targets};
use crate::mcfilter::McFilter;
use crate::wire::{ethertype, Frame, Mac};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    L2,
    L3,
    /// l3 with netfilter in the kernel; here the same as l3 (no conntrack).
    L3s,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::L2 => "l2",
            Mode::L3 => "l3",
            Mode::L3s => "l3s",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::L2, Mode::L3, Mode::L3s]
            .into_iter()
            .find(|m| m.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    Bridge,
    Private,
    Vepa,
}

impl Flag {
    pub fn name(self) -> &'static str {
        match self {
            Flag::Bridge => "bridge",
            Flag::Private => "private",
            Flag::Vepa => "vepa",
        }
    }
    pub fn parse(s: &str) -> Option<Flag> {
        [Flag::Bridge, Flag::Private, Flag::Vepa]
            .into_iter()
            .find(|m| m.name() == s)
    }
}

/// Addresses a slave may hold (the kernel has no limit; this keeps a
/// misbehaving host from growing the table without end).
pub const MAX_ADDRS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipvlan {
    /// The port's mode and flag (every slave of a master shares them; the
    /// last `link add` sets them for all, as in the kernel).
    pub mode: Mode,
    pub flag: Flag,
    pub addrs: Vec<IpAddr>,
    pub mc: McFilter,
    /// `type ipvtap`.
    pub tap: bool,
}

impl Ipvlan {
    pub fn new(mode: Mode, flag: Flag) -> Ipvlan {
        Ipvlan {
            mode,
            flag,
            addrs: Vec::new(),
            mc: McFilter::default(),
            tap: false,
        }
    }
}

/// One slave as the master's handler sees it.
#[derive(Clone, Copy, Debug)]
pub struct Slave<'a> {
    pub id: IfId,
    pub up: bool,
    pub dev: &'a Ipvlan,
}

/// `ipvlan_get_L3_hdr` + the address `ipvlan_addr_lookup` looks up: the
/// destination (`use_dest`) or source of IPv4, IPv6 and ARP; a DAD
/// neighbour solicitation (from ::) by its target.
pub fn l3_addr(frame: &Frame<'_>, use_dest: bool) -> Option<IpAddr> {
    let b = frame.body().get(2..)?;
    match frame.ethertype() {
        ethertype::ARP if b.len() >= 28 => {
            let o = if use_dest { 24 } else { 14 };
            Some(IpAddr::V4(Ipv4Addr::new(
                b[o],
                b[o + 1],
                b[o + 2],
                b[o + 3],
            )))
        }
        ethertype::IPV4 if b.len() >= 20 => {
            let o = if use_dest { 16 } else { 12 };
            Some(IpAddr::V4(Ipv4Addr::new(
                b[o],
                b[o + 1],
                b[o + 2],
                b[o + 3],
            )))
        }
        ethertype::IPV6 if b.len() >= 40 => {
            let a = |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&b[o..o + 16]).expect("16"));
            if a(8).is_unspecified() && b[6] == 58 {
                // Only a solicitation is looked up, by its target.
                return (b.len() >= 64 && b[40] == 135).then(|| IpAddr::V6(a(48)));
            }
            Some(IpAddr::V6(a(if use_dest { 24 } else { 8 })))
        }
        _ => None,
    }
}

/// The up slave that owns `ip`.
fn owner(slaves: &[Slave<'_>], ip: IpAddr) -> Option<IfId> {
    slaves
        .iter()
        .find(|s| s.up && s.dev.addrs.contains(&ip))
        .map(|s| s.id)
}

/// `ipvlan_handle_frame` on the master for `frame`: the slaves that get it
/// go into `to`; true when the master's own stack keeps it.
pub fn rx_plan(slaves: &[Slave<'_>], master: Mac, frame: &Frame<'_>, to: &mut Targets) -> bool {
    let Some(mode) = slaves.first().map(|s| s.dev.mode) else {
        return true;
    };
    let dst = frame.dst();
    if mode == Mode::L2 && dst.is_multicast() {
        // `ipvlan_external_frame`: our own MAC and a slave's source address
        // is a slave's frame come back, not for the slaves again.
        let own = frame.src() == master
            && l3_addr(frame, false).is_some_and(|a| owner(slaves, a).is_some());
        if !own {
            to.extend(
                slaves
                    .iter()
                    .filter(|s| s.up && s.dev.mc.accepts(dst))
                    .map(|s| s.id),
            );
        }
        return true;
    }
    // l3 lookup by destination (l2 unicast as well).
    match l3_addr(frame, true).and_then(|a| owner(slaves, a)) {
        Some(s) => {
            to.push(s);
            false
        }
        None => true,
    }
}

/// Where a frame a slave sends goes (`ipvlan_queue_xmit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxPlan {
    /// Slaves that receive it directly.
    pub local: Targets,
    /// l2, to the master's own address: its stack gets it
    /// (`dev_forward_skb` on the master).
    pub master_stack: bool,
    /// Out of the master as it is (l2).
    pub wire: bool,
    /// l3: routed in the master's namespace (the IP packet, without its
    /// Ethernet header).
    pub route: bool,
}

/// `ipvlan_xmit_mode_l2` / `ipvlan_xmit_mode_l3` for slave `me`.
pub fn tx_plan(slaves: &[Slave<'_>], me: IfId, frame: &Frame<'_>) -> TxPlan {
    let mut p = TxPlan::default();
    let Some(dev) = slaves.iter().find(|s| s.id == me).map(|s| s.dev) else {
        return p;
    };
    let dst = frame.dst();
    match dev.mode {
        Mode::L2 => {
            if dev.flag != Flag::Vepa && dst == frame.src() {
                match l3_addr(frame, true).and_then(|a| owner(slaves, a)) {
                    Some(_) if dev.flag == Flag::Private => {}
                    Some(s) => p.local.push(s),
                    None => p.master_stack = true,
                }
                return p;
            }
            if dst.is_multicast() {
                p.local.extend(
                    slaves
                        .iter()
                        .filter(|s| s.id != me && s.up && s.dev.mc.accepts(dst))
                        .map(|s| s.id),
                );
            }
            p.wire = true;
        }
        Mode::L3 | Mode::L3s => {
            let Some(a) = l3_addr(frame, true) else {
                return p;
            };
            if dev.flag != Flag::Vepa {
                if let Some(s) = owner(slaves, a) {
                    if dev.flag != Flag::Private {
                        p.local.push(s);
                    }
                    return p;
                }
            }
            // `ipvlan_process_outbound`: no multicast or broadcast, and
            // only IP is routed.
            if !dst.is_multicast() && frame.ethertype() != ethertype::ARP {
                p.route = true;
            }
        }
    }
    p
}

/// Learns a slave's address from what it sends; false when another slave
/// holds it already (the kernel refuses a duplicate with EADDRINUSE).
pub fn learn(slaves: &[Slave<'_>], me: IfId, frame: &Frame<'_>) -> Option<IpAddr> {
    let a = l3_addr(frame, false)?;
    let usable = match a {
        IpAddr::V4(v) => !v.is_unspecified() && !v.is_multicast() && !v.is_broadcast(),
        IpAddr::V6(v) => !v.is_unspecified() && !v.is_multicast(),
    };
    let mine = slaves.iter().find(|s| s.id == me)?;
    let taken = slaves.iter().any(|s| s.dev.addrs.contains(&a));
    (usable && !taken && mine.dev.addrs.len() < MAX_ADDRS).then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Offload};

    const M: Mac = Mac([2, 0, 0, 0, 0, 0xee]);
    const O: Mac = Mac([2, 0, 0, 0, 0, 0xff]);

    fn ip4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&[0; 8]);
        ip
    }

    fn devs(mode: Mode, flag: Flag) -> [Ipvlan; 2] {
        let mut a = Ipvlan::new(mode, flag);
        a.addrs.push("198.18.0.1".parse().unwrap());
        let mut b = Ipvlan::new(mode, flag);
        b.addrs.push("198.18.0.2".parse().unwrap());
        [a, b]
    }

    fn slaves(d: &[Ipvlan; 2]) -> [Slave<'_>; 2] {
        [
            Slave {
                id: IfId(1),
                up: true,
                dev: &d[0],
            },
            Slave {
                id: IfId(2),
                up: true,
                dev: &d[1],
            },
        ]
    }

    fn plan(mode: Mode, flag: Flag, dst: Mac, to: [u8; 4]) -> TxPlan {
        let d = devs(mode, flag);
        let s = slaves(&d);
        let raw = build_frame(dst, M, &[], 0x0800, &ip4([198, 18, 0, 1], to));
        let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        tx_plan(&s, IfId(1), &f)
    }

    #[test]
    fn l2_talks_to_a_sibling_by_address_unless_private_or_vepa() {
        let b = [198, 18, 0, 2];
        assert_eq!(plan(Mode::L2, Flag::Bridge, M, b).local[..], [IfId(2)]);
        assert_eq!(
            plan(Mode::L2, Flag::Private, M, b),
            TxPlan::default(),
            "private: dropped"
        );
        let v = plan(Mode::L2, Flag::Vepa, M, b);
        assert!(v.wire && v.local.is_empty(), "vepa: out of the master");
        // Our MAC but nobody's address: the master's own stack.
        assert!(plan(Mode::L2, Flag::Bridge, M, [198, 18, 0, 9]).master_stack);
        // Another MAC: the wire.
        assert!(plan(Mode::L2, Flag::Bridge, O, b).wire);
        // A broadcast: the other slave and the wire.
        let bc = plan(Mode::L2, Flag::Private, Mac::BROADCAST, b);
        assert_eq!(
            (bc.local.to_vec(), bc.wire),
            (vec![IfId(2)], true),
            "l2 multicast ignores the flag"
        );
    }

    #[test]
    fn l3_routes_and_drops_broadcast() {
        let b = [198, 18, 0, 2];
        assert_eq!(plan(Mode::L3, Flag::Bridge, M, b).local[..], [IfId(2)]);
        assert_eq!(plan(Mode::L3, Flag::Private, M, b), TxPlan::default());
        assert!(plan(Mode::L3, Flag::Bridge, M, [203, 0, 113, 1]).route);
        assert!(
            plan(Mode::L3, Flag::Vepa, M, b).route,
            "vepa: routed out even to a sibling"
        );
        assert_eq!(
            plan(Mode::L3s, Flag::Bridge, Mac::BROADCAST, [198, 18, 0, 255]),
            TxPlan::default()
        );
    }

    #[test]
    fn the_master_demultiplexes_by_address() {
        for mode in [Mode::L2, Mode::L3] {
            let d = devs(mode, Flag::Bridge);
            let s = slaves(&d);
            let raw = build_frame(M, O, &[], 0x0800, &ip4([203, 0, 113, 1], [198, 18, 0, 2]));
            let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
            let mut to = Targets::new();
            assert!(!rx_plan(&s, M, &f, &mut to));
            assert_eq!(to[..], [IfId(2)]);
            let raw = build_frame(M, O, &[], 0x0800, &ip4([203, 0, 113, 1], [198, 18, 0, 7]));
            let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
            to.clear();
            assert!(rx_plan(&s, M, &f, &mut to), "nobody's: the master's");
            assert!(to.is_empty());
            // A broadcast: l2 hands it to every slave and the master; l3
            // looks it up like unicast (an ARP request for a slave's
            // address goes to that slave only).
            let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
            arp.extend_from_slice(&O.0);
            arp.extend_from_slice(&[203, 0, 113, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 1]);
            let raw = build_frame(Mac::BROADCAST, O, &[], 0x0806, &arp);
            let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
            to.clear();
            let pass = rx_plan(&s, M, &f, &mut to);
            if mode == Mode::L2 {
                assert!(pass);
                assert_eq!(to[..], [IfId(1), IfId(2)]);
            } else {
                assert!(!pass);
                assert_eq!(to[..], [IfId(1)]);
            }
        }
    }

    #[test]
    fn addresses_are_learned_once() {
        let d = devs(Mode::L2, Flag::Bridge);
        let s = slaves(&d);
        let raw = build_frame(O, M, &[], 0x0800, &ip4([198, 18, 0, 2], [198, 18, 0, 9]));
        let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert_eq!(learn(&s, IfId(1), &f), None, "B's address stays B's");
        let raw = build_frame(O, M, &[], 0x0800, &ip4([198, 18, 0, 5], [198, 18, 0, 9]));
        let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert_eq!(learn(&s, IfId(1), &f), Some("198.18.0.5".parse().unwrap()));
        let raw = build_frame(O, M, &[], 0x0800, &ip4([0, 0, 0, 0], [255, 255, 255, 255]));
        let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert_eq!(learn(&s, IfId(1), &f), None);
    }
}
