//! Every frame the graph is given ends in exactly one fate (forwarded,
//! delivered, or a named drop), whatever it is and whichever device takes
//! it: a seeded storm of malformed and well-formed frames through a graph
//! of every kind of device with a receive path.

use patchbay_core::cmd::{self, Opts};
use patchbay_core::counters::Fates;
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::rng::Rng;
use patchbay_core::wire::{build_frame, ethertype, Mac, Offload, Tag};
use patchbay_core::{AttachId, Graph, Instant};

fn run(g: &mut Graph, now: Instant, line: &str) {
    let c = cmd::parse(&cmd::split_line(line).unwrap()).unwrap_or_else(|e| panic!("{line}: {e}"));
    cmd::apply(g, now, &c, Opts::default()).unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// One frame of the storm: garbage, broken headers, protocol frames with
/// bodies of noise, and ordinary traffic between a few hosts.
fn storm_frame(r: &mut Rng) -> Vec<u8> {
    let junk: Vec<u8> = (0..128).map(|_| r.next_u64() as u8).collect();
    let noise = |n: usize| -> Vec<u8> { junk[..n.min(128)].to_vec() };
    let host = |i: u64| Mac::local(0x5000 + i);
    let k = r.below(12);
    let len = r.below(120) as usize;
    let (a, b) = (host(r.below(6)), host(r.below(6)));
    match k {
        0 => noise(r.below(80) as usize),
        1 => build_frame(b, a, &[], ethertype::VLAN, &[]),
        2 => build_frame(
            "01:80:c2:00:00:00".parse().unwrap(),
            a,
            &[],
            (len as u16).max(3),
            &noise(len),
        ),
        3 => build_frame(
            "01:80:c2:00:00:02".parse().unwrap(),
            a,
            &[],
            0x8809,
            &noise(len),
        ),
        4 => build_frame(b, a, &[], ethertype::IPV4, &noise(len % 19)),
        5 => build_frame(Mac::BROADCAST, a, &[], ethertype::ARP, &noise(len % 27)),
        6 => build_frame(
            "01:00:5e:00:00:16".parse().unwrap(),
            a,
            &[],
            ethertype::IPV4,
            &noise(len),
        ),
        7 => build_frame(
            b,
            a,
            &[Tag::new(ethertype::VLAN, r.below(4096) as u16, 0)],
            ethertype::IPV4,
            &[0; 46],
        ),
        8 => build_frame(
            b,
            "01:00:5e:00:00:09".parse().unwrap(),
            &[],
            ethertype::IPV4,
            &[0; 46],
        ),
        9 => build_frame(
            "01:80:c2:00:00:01".parse().unwrap(),
            a,
            &[],
            0x8808,
            &[0; 46],
        ),
        10 => build_frame(Mac::BROADCAST, a, &[], ethertype::IPV4, &[0; 46]),
        _ => build_frame(b, a, &[], ethertype::IPV4, &[0; 46]),
    }
}

#[test]
fn every_frame_of_a_storm_ends_in_exactly_one_fate() {
    let mut g = Graph::new();
    let mut out = Outputs::new();
    let mut now = Instant::ZERO;
    let mut wires = vec![];
    let mut add = |g: &mut Graph, name: &str, role: Role| {
        let n = wires.len() as u32 + 1;
        let id = g
            .add(name, Kind::Tap, Mac::local(0x1000 + u64::from(n)), 1500)
            .unwrap();
        g.attach(
            id,
            Attachment {
                id: AttachId(n),
                role,
            },
        );
        wires.push(AttachId(n));
    };
    for (n, role) in [
        ("p1", Role::Wire),
        ("p2", Role::Wire),
        ("e1", Role::Wire),
        ("e2", Role::Wire),
        ("t1", Role::Wire),
        ("t2", Role::Wire),
        ("l0", Role::Wire),
        ("h0", Role::Host),
    ] {
        add(&mut g, n, role);
    }
    for l in [
        "link add br0 type bridge vlan_filtering 1 stp_state 1 forward_delay 200",
        "link add bond0 type bond mode 802.3ad",
        "link set e1 master bond0",
        "link set e2 master bond0",
        r#"link add team0 type team config '{"runner": {"name": "activebackup"}}'"#,
        "link set t1 master team0",
        "link set t2 master team0",
        "link set p1 master br0",
        "link set p2 master br0",
        "link set bond0 master br0",
        "link add link br0 name br0.10 type vlan id 10",
        "link add link l0 name mv0 type macvlan mode bridge",
        "link add link l0 name mv1 type macvlan mode private",
        "link add vx0 type vxlan id 7 dstport 4789 local 198.18.0.1",
        "link set vx0 master br0",
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.2",
        "bridge vlan add dev p2 vid 10",
        "link set h0 master br0",
        "link set p2 down",
    ] {
        run(&mut g, now, l);
    }
    for d in [
        "br0", "bond0", "team0", "e1", "e2", "t1", "t2", "p1", "l0", "mv0", "vx0", "br0.10", "h0",
    ] {
        run(&mut g, now, &format!("link set {d} up"));
    }
    let mut r = Rng::new(0x5eed);
    let mut given = 0u64;
    for i in 0..60_000u64 {
        let f = storm_frame(&mut r);
        if r.below(10) == 0 {
            // A datagram to the VTEP: a VXLAN header (sometimes broken)
            // and a frame.
            let mut d = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
            if r.below(3) == 0 {
                d[0] = r.next_u64() as u8;
            }
            d.extend_from_slice(&f);
            let vx = g.by_name("vx0").unwrap();
            g.receive_underlay(now, vx, "198.18.0.2".parse().unwrap(), &d, &mut out);
        } else {
            let a = wires[r.below(wires.len() as u64) as usize];
            g.receive(now, a, &f, None, Offload::NONE, &mut out);
        }
        given += 1;
        out.flush(|_, _| {});
        out.clear_datagrams();
        if i % 500 == 0 {
            now = Instant::from_nanos(i * 1_000_000);
            g.handle_timeout(now, &mut out);
            out.flush(|_, _| {});
            out.clear_datagrams();
        }
    }
    let mut total = Fates::default();
    for (_, f) in g.iter() {
        let t = f.counters.fates;
        assert_eq!(t.unaccounted, 0, "{}: {t:?}", f.name);
        assert_eq!(
            t.read,
            t.forwarded + t.delivered + t.dropped,
            "{}: {t:?}",
            f.name
        );
        total.read += t.read;
        total.forwarded += t.forwarded;
        total.delivered += t.delivered;
        total.dropped += t.dropped;
    }
    assert_eq!(total.read, given, "{total:?}");
    // The storm reached every fate.
    assert!(
        total.forwarded > 0 && total.delivered > 0 && total.dropped > 0,
        "{total:?}"
    );
}
