//! The bridge and VLAN devices driven through the graph, with virtual
//! attachments and a hand-driven clock (BEHAVIOUR.md §1, §4).

use patchbay_core::cmd::{self, Opts};
use patchbay_core::counters::DropReason;
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::wire::{build_frame, ethertype, Frame, Mac, Offload, Tag};
use patchbay_core::{AttachId, Graph, Instant};

mod common;
use common::*;

#[test]
fn unknown_unicast_floods_to_every_other_port_once_then_learns() {
    let mut lab = Lab::new(4, "");
    let (a, b) = (mac(0xa), mac(0xb));
    assert_eq!(lab.ports_reached(1, &eth(b, a)), vec![2, 3, 4]);
    // b answers: a is known on port 1, so only port 1 gets it.
    assert_eq!(lab.ports_reached(3, &eth(a, b)), vec![1]);
    assert_eq!(lab.ports_reached(1, &eth(b, a)), vec![3]);
    let fdb = lab.run("bridge fdb show br br0");
    assert!(fdb.contains(&format!("{a} dev p1 master br0\n")), "{fdb}");
    assert!(fdb.contains(&format!("{b} dev p3 master br0\n")), "{fdb}");
}

#[test]
fn broadcast_reaches_every_other_port_and_is_byte_identical() {
    let mut lab = Lab::new(3, "");
    let f = eth(Mac::BROADCAST, mac(1));
    let got = lab.send(2, &f);
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![1, 3]);
    assert!(got.iter().all(|(_, bytes)| *bytes == f));
}

#[test]
fn roaming_moves_the_entry() {
    let mut lab = Lab::new(3, "");
    lab.send(1, &eth(mac(9), mac(1)));
    lab.send(2, &eth(mac(9), mac(1)));
    assert_eq!(lab.ports_reached(3, &eth(mac(1), mac(9))), vec![2]);
}

#[test]
fn entries_age_out_on_the_virtual_clock() {
    let mut lab = Lab::new(2, "ageing_time 1000");
    lab.send(1, &eth(mac(2), mac(1)));
    assert_eq!(lab.ports_reached(2, &eth(mac(1), mac(2))), vec![1]);
    assert_eq!(lab.g.poll_timeout(), Some(secs(10)));
    lab.now = secs(10);
    lab.g.handle_timeout(lab.now, &mut lab.out);
    // mac(1) aged out; mac(2) was learned at t=0 too and is gone as well.
    assert!(!lab.run("bridge fdb show").contains(&mac(1).to_string()));
    assert_eq!(
        lab.ports_reached(2, &eth(mac(1), mac(2))),
        vec![1],
        "flooded again"
    );
}

#[test]
fn ageing_time_zero_never_learns() {
    let mut lab = Lab::new(3, "ageing_time 0");
    lab.send(1, &eth(mac(2), mac(1)));
    assert_eq!(lab.ports_reached(2, &eth(mac(1), mac(2))), vec![1, 3]);
}

#[test]
fn port_flags_learning_flood_and_isolation() {
    let mut lab = Lab::new(4, "");
    lab.run("bridge link set dev p2 flood off");
    assert_eq!(lab.ports_reached(1, &eth(mac(99), mac(1))), vec![3, 4]);
    lab.run("bridge link set dev p3 bcast_flood off");
    assert_eq!(
        lab.ports_reached(1, &eth(Mac::BROADCAST, mac(1))),
        vec![2, 4]
    );
    lab.run("bridge link set dev p4 mcast_flood off");
    let mcast: Mac = "01:00:5e:00:00:01".parse().unwrap();
    assert_eq!(lab.ports_reached(1, &eth(mcast, mac(1))), vec![2, 3]);
    lab.run("bridge link set dev p1 learning off");
    lab.send(1, &eth(Mac::BROADCAST, mac(0x77)));
    assert!(!lab.run("bridge fdb show").contains(&mac(0x77).to_string()));
    // Isolated ports do not talk to each other, but do talk to others.
    let mut lab = Lab::new(3, "");
    lab.run("bridge link set dev p1 isolated on");
    lab.run("bridge link set dev p2 isolated on");
    assert_eq!(lab.ports_reached(1, &eth(Mac::BROADCAST, mac(1))), vec![3]);
    assert_eq!(
        lab.ports_reached(3, &eth(Mac::BROADCAST, mac(3))),
        vec![1, 2]
    );
}

#[test]
fn hairpin_sends_back_out_of_the_ingress_port() {
    let mut lab = Lab::new(2, "");
    lab.send(1, &eth(mac(2), mac(1)));
    lab.send(1, &eth(mac(1), mac(2)));
    assert_eq!(
        lab.ports_reached(1, &eth(mac(2), mac(3))),
        Vec::<u32>::new()
    );
    assert_eq!(
        lab.drops("p1", DropReason::NoRoute),
        2,
        "both frames were for a MAC behind p1"
    );
    lab.run("bridge link set dev p1 hairpin on");
    assert_eq!(lab.ports_reached(1, &eth(mac(2), mac(3))), vec![1]);
}

#[test]
fn link_local_frames_are_not_forwarded_unless_masked() {
    let mut lab = Lab::new(3, "");
    let lldp: Mac = "01:80:c2:00:00:0e".parse().unwrap();
    let pause: Mac = "01:80:c2:00:00:01".parse().unwrap();
    let stp: Mac = "01:80:c2:00:00:00".parse().unwrap();
    assert!(lab.ports_reached(1, &eth(lldp, mac(1))).is_empty());
    assert!(lab.ports_reached(1, &eth(pause, mac(1))).is_empty());
    assert_eq!(lab.drops("p1", DropReason::Pause), 1);
    // STP off: BPDUs are forwarded like data.
    assert_eq!(lab.ports_reached(1, &eth(stp, mac(1))), vec![2, 3]);
    lab.run("link set br0 type bridge group_fwd_mask 0x4000");
    assert_eq!(lab.ports_reached(1, &eth(lldp, mac(1))), vec![2, 3]);
    assert!(lab
        .try_run("link set br0 type bridge group_fwd_mask 0x2")
        .unwrap_err()
        .contains("bits 0-2"));
}

#[test]
fn invalid_source_and_malformed_frames_are_counted() {
    let mut lab = Lab::new(2, "");
    assert!(lab
        .ports_reached(1, &eth(mac(2), Mac::BROADCAST))
        .is_empty());
    assert!(lab.ports_reached(1, &eth(mac(2), Mac::ZERO)).is_empty());
    assert_eq!(lab.drops("p1", DropReason::InvalidSrcMac), 2);
    assert!(lab.ports_reached(1, &[0u8; 10]).is_empty());
    assert_eq!(lab.drops("p1", DropReason::Runt), 1);
    let mut bad_tag = eth(mac(2), mac(1));
    bad_tag.truncate(14);
    bad_tag[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
    bad_tag.push(0);
    assert!(lab.ports_reached(1, &bad_tag).is_empty());
    assert_eq!(lab.drops("p1", DropReason::TruncatedTag), 1);
    let huge = build_frame(mac(2), mac(1), &[], ethertype::IPV4, &[0; 3000]);
    assert!(lab.ports_reached(1, &huge).is_empty());
    assert_eq!(lab.drops("p1", DropReason::Oversize), 1);
    // And it still forwards.
    assert_eq!(lab.ports_reached(1, &eth(mac(2), mac(1))), vec![2]);
}

#[test]
fn vlan_filtering_isolates_access_ports_and_tags_on_the_trunk() {
    let mut lab = Lab::new(4, "vlan_filtering 1");
    // p1, p2: access VLAN 10; p3: access VLAN 20; p4: trunk for 10 and 20.
    for (p, v) in [("p1", 10), ("p2", 10), ("p3", 20)] {
        lab.run(&format!("bridge vlan add dev {p} vid {v} pvid untagged"));
        lab.run(&format!("bridge vlan del dev {p} vid 1"));
    }
    lab.run("bridge vlan add dev p4 vid 10");
    lab.run("bridge vlan add dev p4 vid 20");
    lab.run("bridge vlan del dev p4 vid 1");
    let got = lab.send(1, &eth(Mac::BROADCAST, mac(1)));
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![2, 4]);
    assert_eq!(
        got[0].1,
        eth(Mac::BROADCAST, mac(1)),
        "access port: untagged"
    );
    assert_eq!(
        got[1].1,
        tagged(Mac::BROADCAST, mac(1), 10),
        "trunk: tagged 10"
    );
    // A frame tagged 20 from the trunk reaches only p3, untagged.
    let got = lab.send(4, &tagged(Mac::BROADCAST, mac(4), 20));
    assert_eq!(got, vec![(3, eth(Mac::BROADCAST, mac(4)))]);
    // Same MAC in two VLANs is two entries.
    lab.send(3, &eth(Mac::BROADCAST, mac(1)));
    assert_eq!(lab.ports_reached(4, &tagged(mac(1), mac(4), 10)), vec![1]);
    assert_eq!(lab.ports_reached(4, &tagged(mac(1), mac(4), 20)), vec![3]);
    // Ingress checks: an untagged frame on the trunk (no PVID), a VID the
    // port lacks.
    assert!(lab
        .ports_reached(4, &eth(Mac::BROADCAST, mac(4)))
        .is_empty());
    assert_eq!(lab.drops("p4", DropReason::NoPvid), 1);
    assert!(lab
        .ports_reached(1, &tagged(Mac::BROADCAST, mac(1), 20))
        .is_empty());
    assert_eq!(lab.drops("p1", DropReason::VlanIngress), 1);
    let show = lab.run("bridge vlan show dev p1");
    assert!(
        show.contains("p1                10 PVID Egress Untagged"),
        "{show}"
    );
}

#[test]
fn priority_tagged_frames_take_the_pvid_and_keep_their_pcp() {
    let mut lab = Lab::new(2, "vlan_filtering 1");
    lab.run("bridge vlan add dev p2 vid 1");
    let prio = build_frame(
        Mac::BROADCAST,
        mac(1),
        &[Tag::new(ethertype::VLAN, 0, 5)],
        ethertype::IPV4,
        &[0; 46],
    );
    let got = lab.send(1, &prio);
    let f = Frame::parse(&got[0].1, None, Offload::NONE).unwrap();
    assert_eq!(f.outer_tag().map(|t| (t.vid(), t.pcp())), Some((1, 5)));
}

#[test]
fn without_filtering_tags_pass_through_untouched() {
    let mut lab = Lab::new(2, "");
    let f = tagged(Mac::BROADCAST, mac(1), 33);
    assert_eq!(lab.send(1, &f), vec![(2, f)]);
}

#[test]
fn vlan_devices_tag_on_tx_and_take_their_vid_on_rx_including_qinq() {
    let mut g = Graph::new();
    let mut out = Outputs::new();
    let eth0 = g.add("eth0", Kind::Tap, mac(1), 1500).unwrap();
    g.attach(
        eth0,
        Attachment {
            id: AttachId(1),
            role: Role::Wire,
        },
    );
    let run = |g: &mut Graph, l: &str| {
        let c = cmd::parse(&cmd::split_line(l).unwrap()).unwrap();
        cmd::apply(g, Instant::ZERO, &c, Opts::default()).unwrap();
    };
    run(
        &mut g,
        "link add link eth0 name eth0.100 type vlan id 100 protocol 802.1ad",
    );
    run(
        &mut g,
        "link add link eth0.100 name eth0.100.20 type vlan id 20",
    );
    for d in ["eth0", "eth0.100", "eth0.100.20"] {
        run(&mut g, &format!("link set {d} up"));
    }
    let inner = g.by_name("eth0.100.20").unwrap();
    g.attach(
        inner,
        Attachment {
            id: AttachId(2),
            role: Role::Host,
        },
    );
    // The host sends on eth0.100.20: two tags, S-tag outermost, leave eth0.
    let f = eth(mac(7), mac(1));
    g.receive(
        Instant::ZERO,
        AttachId(2),
        &f,
        None,
        Offload::NONE,
        &mut out,
    );
    let mut sent = vec![];
    out.flush(|a, b| sent.extend(b.iter().map(|(f, _)| (a.0, f.to_vec()))));
    let s_tag = Tag::new(ethertype::QINQ, 100, 0);
    let c_tag = Tag::new(ethertype::VLAN, 20, 0);
    let double = build_frame(
        mac(7),
        mac(1),
        &[s_tag, c_tag],
        ethertype::IPV4,
        &ipv4_body(),
    );
    assert_eq!(sent, vec![(1, double.clone())]);
    // The same frame received on eth0 climbs to eth0.100.20 untagged.
    g.receive(
        Instant::ZERO,
        AttachId(1),
        &double,
        None,
        Offload::NONE,
        &mut out,
    );
    let mut got = vec![];
    out.flush(|a, b| got.extend(b.iter().map(|(f, _)| (a.0, f.to_vec()))));
    assert_eq!(got, vec![(2, f)]);
    // Another VID is not theirs: nothing is delivered.
    let other = build_frame(
        mac(7),
        mac(1),
        &[Tag::new(ethertype::QINQ, 101, 0)],
        ethertype::IPV4,
        &[0; 46],
    );
    g.receive(
        Instant::ZERO,
        AttachId(1),
        &other,
        None,
        Offload::NONE,
        &mut out,
    );
    assert_eq!(out.queued(), 0);
    assert_eq!(g.iface(eth0).counters.dropped(DropReason::Unclaimed), 1);
    // A duplicate VLAN on the same lower is refused.
    let c = cmd::parse(
        &cmd::split_line("link add link eth0 name x type vlan id 100 protocol 802.1ad").unwrap(),
    )
    .unwrap();
    let e = cmd::apply(&mut g, Instant::ZERO, &c, Opts::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("already has a 802.1ad VLAN device with id 100"),
        "{e}"
    );
}

#[test]
fn a_vlan_device_on_a_bridge_port_takes_its_frames_first() {
    let mut lab = Lab::new(2, "");
    lab.run("link add link p1 name p1.5 type vlan id 5");
    lab.run("link set p1.5 up");
    let v = lab.id("p1.5");
    lab.g.attach(
        v,
        Attachment {
            id: AttachId(9),
            role: Role::Host,
        },
    );
    let got = lab.send(1, &tagged(Mac::BROADCAST, mac(1), 5));
    assert_eq!(got, vec![(9, eth(Mac::BROADCAST, mac(1)))]);
    let got = lab.send(1, &tagged(Mac::BROADCAST, mac(1), 6));
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn the_bridge_device_gets_local_traffic_and_sends_through_the_fdb() {
    let mut lab = Lab::new(2, "");
    let br = lab.id("br0");
    lab.g.attach(
        br,
        Attachment {
            id: AttachId(100),
            role: Role::Host,
        },
    );
    let br_mac = lab.g.iface(br).mac;
    // A frame to the bridge's own address goes to the host only.
    assert_eq!(lab.ports_reached(1, &eth(br_mac, mac(1))), vec![100]);
    // Broadcast: every other port and the host.
    assert_eq!(
        lab.ports_reached(1, &eth(Mac::BROADCAST, mac(1))),
        vec![2, 100]
    );
    // The host's reply goes straight to p1, where mac(1) was learned.
    assert_eq!(lab.ports_reached(100, &eth(mac(1), br_mac)), vec![1]);
    // Host broadcast ignores bcast_flood, as the kernel does.
    lab.run("bridge link set dev p2 bcast_flood off");
    assert_eq!(
        lab.ports_reached(100, &eth(Mac::BROADCAST, br_mac)),
        vec![1, 2]
    );
}

#[test]
fn down_ports_are_disabled_and_flushed_then_forward_again() {
    let mut lab = Lab::new(3, "");
    lab.send(3, &eth(Mac::BROADCAST, mac(3)));
    assert!(lab
        .run("bridge fdb show")
        .contains(&format!("{} dev p3 master br0\n", mac(3))));
    lab.run("link set p3 down");
    assert!(lab
        .run("bridge link show")
        .contains("p3: <BROADCAST,MULTICAST> mtu 1500 master br0 state disabled"));
    assert!(
        !lab.run("bridge fdb show")
            .contains(&format!("{} dev p3", mac(3))),
        "dynamic entries of a down port are flushed"
    );
    assert_eq!(lab.ports_reached(1, &eth(Mac::BROADCAST, mac(1))), vec![2]);
    assert_eq!(
        lab.drops("p3", DropReason::AdminDown),
        0,
        "a disabled port is not even tried"
    );
    assert!(lab
        .ports_reached(3, &eth(Mac::BROADCAST, mac(3)))
        .is_empty());
    assert_eq!(lab.drops("p3", DropReason::AdminDown), 1);
    // Carrier loss does the same, and carrier back brings it back.
    let p2 = lab.id("p2");
    lab.g.set_carrier(lab.now, p2, false);
    assert!(lab
        .ports_reached(1, &eth(Mac::BROADCAST, mac(1)))
        .is_empty());
    lab.g.set_carrier(lab.now, p2, true);
    lab.run("link set p3 up");
    assert_eq!(
        lab.ports_reached(1, &eth(Mac::BROADCAST, mac(1))),
        vec![2, 3]
    );
    lab.run("bridge link set dev p2 state 0");
    assert_eq!(lab.ports_reached(1, &eth(Mac::BROADCAST, mac(1))), vec![3]);
    assert!(lab
        .ports_reached(2, &eth(Mac::BROADCAST, mac(2)))
        .is_empty());
    assert_eq!(lab.drops("p2", DropReason::PortState), 1);
}

#[test]
fn fdb_limit_and_static_entries() {
    let mut lab = Lab::new(2, "fdb_max_learned 3");
    for i in 0..10 {
        lab.send(1, &eth(Mac::BROADCAST, mac(100 + i)));
    }
    let show = lab.try_run("bridge fdb show dev p1").unwrap();
    let rows: serde_json::Value = serde_json::from_str(&show).unwrap();
    let dynamic = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("state").is_none())
        .count();
    assert_eq!(dynamic, 3);
    lab.run("bridge fdb add 02:00:00:00:99:99 dev p2 master static");
    assert_eq!(
        lab.ports_reached(1, &eth("02:00:00:00:99:99".parse().unwrap(), mac(100))),
        vec![2]
    );
    let e = lab
        .try_run("bridge fdb add 02:00:00:00:99:99 dev p2 master static")
        .unwrap_err();
    assert!(e.contains("already exists"), "{e}");
    lab.run("bridge fdb del 02:00:00:00:99:99 dev p2");
    assert!(lab
        .try_run("bridge fdb del 02:00:00:00:99:99 dev p2")
        .is_err());
}

#[test]
fn kernel_stp_takes_config_bpdus_and_ignores_rst_ones() {
    use patchbay_core::wire::bpdu::{Bpdu, BridgeId, ConfigBpdu, RstBpdu, RstRole};
    use std::time::Duration;
    let mut lab = Lab::new(2, "stp_state 1");
    let peer = Mac::local(0x77);
    let better = BridgeId::new(0x1000, peer);
    let config = ConfigBpdu {
        topology_change: false,
        topology_change_ack: false,
        root: better,
        root_path_cost: 0,
        bridge_id: better,
        port_id: 0x8001,
        message_age: Duration::ZERO,
        max_age: Duration::from_secs(20),
        hello_time: Duration::from_secs(2),
        forward_delay: Duration::from_secs(15),
    };
    let rst = Bpdu::Rst(RstBpdu {
        config,
        proposal: true,
        role: RstRole::Designated,
        learning: false,
        forwarding: false,
        agreement: false,
        version: 2,
    });
    // Ports listen after enslaving; an RST BPDU is not for kernel STP.
    assert!(lab.ports_reached(1, &rst.frame(peer)).is_empty());
    assert_eq!(lab.drops("p1", DropReason::BadBpdu), 1);
    let show = lab.try_run("link show dev br0").unwrap();
    assert!(!show.contains("1000."), "an RST BPDU changed the root");
    // A config BPDU with a better root is taken: p1 becomes the root port.
    // The BPDU is consumed, not flooded; what leaves is the bridge's own
    // relay on its designated port p2, from p2's address, naming the new root.
    let input = Bpdu::Config(config).frame(peer);
    let got = lab.send(1, &input);
    assert_eq!(got.len(), 1, "{got:?}");
    let (port, relay) = &got[0];
    assert_eq!(*port, 2);
    assert_ne!(relay, &input);
    assert_eq!(
        &relay[6..12],
        &Mac::local(0x1002).0,
        "sent from p2's address"
    );
    assert_eq!(&relay[22..30], &better.0, "root id in the relayed BPDU");
    let c = cmd::parse(&cmd::split_line("link show dev br0").unwrap()).unwrap();
    let out = cmd::apply(
        &mut lab.g,
        lab.now,
        &c,
        Opts {
            json: true,
            details: true,
            stats: false,
        },
    )
    .unwrap()
    .text;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["linkinfo"]["info_data"]["root_id"], better.iproute2());
    assert_eq!(v[0]["linkinfo"]["info_data"]["root_port"], 1);
    assert_eq!(v[0]["linkinfo"]["info_data"]["root_path_cost"], 100);
}

#[test]
fn mstpctl_takes_the_bridge_and_speaks_its_language() {
    let mut lab = Lab::new(2, "stp_state 1");
    let e = lab.try_run("mstpctl showbridge br0").unwrap_err();
    assert!(
        e.contains("not known to mstpd") && e.contains("addbridge br0"),
        "{e}"
    );
    lab.run("mstpctl addbridge br0");
    // User STP: the kernel reports stp_state 2.
    let b = lab.g.iface(lab.id("br0")).bridge().unwrap();
    assert_eq!(b.cfg.stp_state, 2);
    assert!(b.user_stp());
    let plain = lab.run("mstpctl showbridge br0");
    assert!(
        plain.starts_with("br0 CIST info\n  stp enabled     yes\n  enabled         yes\n"),
        "{plain}"
    );
    assert!(
        plain.contains("  force protocol version     rstp\n"),
        "{plain}"
    );
    assert!(
        plain.contains("  max age       20         bridge max age       20\n"),
        "{plain}"
    );
    assert_eq!(lab.run("mstpctl showbridge br0 root-port"), "\n");
    let one = lab.run("mstpctl showport br0 p1");
    // Full duplex, so point-to-point (no '*'); not an edge yet (no 'E').
    assert!(one.starts_with("   p1    8.001 "), "{one}");
    assert!(one.trim_end().ends_with("Desg"), "{one}");
    let j = lab.try_run("mstpctl showportdetail br0 p2").unwrap();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v[0]["port"], "p2");
    assert_eq!(v[0]["role"], "Designated");
    assert_eq!(v[0]["port-id"], "8.002");
    assert_eq!(v[0]["send-rstp"], "yes");
    // Settings with mstpctl's ranges and words; a bad one changes nothing.
    lab.run("mstpctl settreeprio br0 0 4");
    let id = lab.run("mstpctl showbridge br0 bridge-id");
    assert!(
        id.starts_with("4.000.") && id.len() == "4.000.02:00:00:00:00:00\n".len(),
        "{id}"
    );
    let e = lab.try_run("mstpctl setmaxage br0 41").unwrap_err();
    assert!(e.contains("Bridge Max Age must be between 6 and 40"), "{e}");
    let e = lab.try_run("mstpctl setmaxage br0 40").unwrap_err();
    assert!(
        e.contains("2 * (Bridge Forward Delay - 1 second) >= Bridge Max Age"),
        "{e}"
    );
    assert_eq!(lab.run("mstpctl showbridge br0 bridge-max-age"), "20\n");
    let e = lab.try_run("mstpctl sethello br0 1").unwrap_err();
    assert!(e.contains("Bridge Hello Time must be 2"), "{e}");
    let e = lab.try_run("mstpctl setforcevers br0 mstp").unwrap_err();
    assert!(e.contains("CIST only"), "{e}");
    let e = lab.try_run("mstpctl settreeprio br0 1 4").unwrap_err();
    assert!(e.contains("MSTI 1"), "{e}");
    lab.run("mstpctl setportpathcost br0 p1 1234");
    assert_eq!(
        lab.run("mstpctl showport br0 p1 external-port-cost"),
        "1234\n"
    );
    lab.run("mstpctl setportadminedge br0 p2 yes");
    assert_eq!(lab.run("mstpctl showport br0 p2 oper-edge-port"), "yes\n");
    lab.run("mstpctl setforcevers br0 stp");
    assert_eq!(
        lab.run("mstpctl showbridge br0 force-protocol-version"),
        "stp\n"
    );
    // An admin edge port forwards at once; `bridge link` shows it.
    let l = lab.run("bridge link show dev p2");
    assert!(l.contains("state forwarding"), "{l}");
    // delbridge: back to the kernel's STP.
    lab.run("mstpctl delbridge br0");
    let b = lab.g.iface(lab.id("br0")).bridge().unwrap();
    assert_eq!(b.cfg.stp_state, 1);
    assert!(b.rstp.is_none());
    // ... whose ports start again from listening.
    let l = lab.run("bridge link show dev p1");
    assert!(l.contains("state listening"), "{l}");
}

/// `__br_handle_local_finish`: a link-local frame the bridge keeps (LLDP
/// here; a BPDU with STP on) teaches its source, counted and announced as
/// any other learned address; Pause teaches nothing.
#[test]
fn link_local_frames_the_bridge_keeps_teach_their_source() {
    let mut lab = Lab::new(3, "");
    lab.g.record_events(true);
    let lldp: Mac = "01:80:c2:00:00:0e".parse().unwrap();
    let pause: Mac = "01:80:c2:00:00:01".parse().unwrap();
    assert!(lab.ports_reached(1, &eth(lldp, mac(7))).is_empty());
    assert!(lab.ports_reached(2, &eth(pause, mac(8))).is_empty());
    // Unicast to mac(7) now goes to p1 only; mac(8) is unknown (flooded).
    assert_eq!(lab.ports_reached(2, &eth(mac(7), mac(9))), vec![1]);
    assert_eq!(lab.ports_reached(1, &eth(mac(8), mac(7))), vec![2, 3]);
    let br = lab.id("br0");
    let learned = lab.g.iface(br).bridge().unwrap().learned_new;
    // mac(7) from LLDP, mac(9) from data.
    assert_eq!(learned, 2);
    let mut announced = Vec::new();
    while let Some(e) = lab.g.poll_event() {
        if let patchbay_core::graph::Event::FdbLearned { mac, .. } = e {
            announced.push(mac);
        }
    }
    assert!(announced.contains(&mac(7)), "{announced:?}");
}

/// `br_port_state_selection`: an STP bridge's carrier comes on when its
/// first port starts forwarding (2 × forward_delay after it came up), not
/// before, and the change is announced (an RTM_NEWLINK) then.
#[test]
fn an_stp_bridges_carrier_follows_its_forwarding_ports() {
    let mut lab = Lab::new(2, "stp_state 1 forward_delay 400");
    lab.g.record_events(true);
    let br = lab.id("br0");
    assert!(!lab.g.oper_up(br), "no port forwards yet");
    let mut up_at = None;
    for s in 1..=10 {
        lab.now = secs(s);
        lab.g.handle_timeout(lab.now, &mut lab.out);
        while let Some(e) = lab.g.poll_event() {
            if let patchbay_core::graph::Event::Link { dev, up: true } = e {
                if dev == br && up_at.is_none() {
                    up_at = Some(s);
                }
            }
        }
    }
    assert_eq!(up_at, Some(8), "carrier on at 2 x forward_delay");
    assert!(lab.g.oper_up(br));
    let l = lab.run("link show br0");
    assert!(l.contains("state UP"), "{l}");
}
