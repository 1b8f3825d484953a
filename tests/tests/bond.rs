//! Bonds in network namespaces (root; CI-only rules as in netns.rs). The
//! bond device is exposed as a TAP of its own name, moved into the host's
//! namespace; its members are veth ends patchbay attaches with AF_PACKET.

use patchbay_lab::{Lab, Proc};
use patchbay_tests::{json, lab, require, tcp_transfer_paced, tx_counters, veth_pair, Ovs};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn ping(lab: &Lab, ns: &str, to: &str) -> Result<String, String> {
    lab.exec_ok(ns, &["ping", "-c", "3", "-i", "0.2", "-W", "2", to])
}

/// Moves the bond's TAP into `ns` with `addr`.
fn bond_into(lab: &Lab, bond: &str, ns: &str, addr: &str) {
    lab.ip(&["link", "set", bond, "netns", ns]).unwrap();
    lab.host_addr(ns, bond, addr).unwrap();
}

fn bond_json(lab: &Lab, bond: &str) -> Value {
    json(&lab.pb(&["-j", "bond", "show", bond]).unwrap())[0].clone()
}

#[test]
fn an_active_backup_bond_keeps_tcp_alive_through_a_member_flap() {
    let Some(mut lab) = lab("bd") else { return };
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    let (m1, n1, m2, n2) = (
        lab.name("m1"),
        lab.name("n1"),
        lab.name("m2"),
        lab.name("n2"),
    );
    veth_pair(&mut lab, &m1, &n1);
    veth_pair(&mut lab, &m2, &n2);
    let hp = lab.veth_host("h", &h2, "198.18.8.2/24").unwrap();
    lab.start_daemon().unwrap();
    let (bond, br) = (lab.name("bond"), lab.name("br"));
    lab.pb(&[
        "link",
        "add",
        &bond,
        "type",
        "bond",
        "mode",
        "active-backup",
        "miimon",
        "50",
    ])
    .unwrap();
    lab.pb(&["link", "set", &m1, "master", &bond]).unwrap();
    lab.pb(&["link", "set", &m2, "master", &bond]).unwrap();
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    for p in [&n1, &n2, &hp] {
        lab.pb(&["link", "set", p, "master", &br]).unwrap();
    }
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    lab.pb(&["link", "set", &bond, "up"]).unwrap();
    bond_into(&lab, &bond, &h1, "198.18.8.1/24");
    ping(&lab, &h1, "198.18.8.2").unwrap();
    let b = bond_json(&lab, &bond);
    assert_eq!(b["info"]["active_slave"], m1.as_str(), "{b:#}");
    let before = (tx_counters(&lab, &m1), tx_counters(&lab, &m2));

    // 6 MiB in 64 KiB pieces, 25 ms apart: about 2.5 s of transfer, during
    // which the active member's link goes down for a second.
    let t = tcp_transfer_paced(
        &h1,
        &h2,
        "198.18.8.2",
        6 << 20,
        64 << 10,
        Duration::from_millis(25),
    );
    std::thread::sleep(Duration::from_millis(500));
    let cut = Instant::now();
    lab.ip(&["link", "set", &n1, "down"]).unwrap();
    // The MII monitor (50 ms) makes m2 active.
    loop {
        let b = bond_json(&lab, &bond);
        if b["info"]["active_slave"] == m2.as_str() {
            break;
        }
        assert!(cut.elapsed() < Duration::from_secs(3), "no failover: {b:#}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let failover = cut.elapsed();
    std::thread::sleep(Duration::from_millis(1000));
    lab.ip(&["link", "set", &n1, "up"]).unwrap();
    t.finish();
    let after = (tx_counters(&lab, &m1), tx_counters(&lab, &m2));
    // Both members carried the transfer: m1 before the cut, m2 after
    // (bytes: the frames are 64 KiB TSO segments, so few).
    let (d1, d2) = (after.0 .1 - before.0 .1, after.1 .1 - before.1 .1);
    let (f1, f2) = (after.0 .0 - before.0 .0, after.1 .0 - before.1 .0);
    assert!(
        d1 >= 256 << 10 && d2 >= 2 << 20,
        "tx bytes: m1 {d1}, m2 {d2}"
    );
    let b = bond_json(&lab, &bond);
    let m1s = b["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ifname"] == m1.as_str())
        .unwrap()
        .clone();
    assert_eq!(m1s["link_failure_count"], 1, "{b:#}");
    eprintln!(
        "active-backup failover (real time, miimon 50): {:.0} ms; tx m1 {f1} frames {d1} bytes, m2 {f2} frames {d2} bytes",
        failover.as_secs_f64() * 1e3
    );
}

#[test]
fn an_lacp_bond_aggregates_with_open_vswitch() {
    let Some(mut lab) = lab("bo") else { return };
    if !require(
        &[
            "ovsdb-server",
            "ovs-vswitchd",
            "ovs-vsctl",
            "ovs-appctl",
            "tshark",
        ],
        "openvswitch-switch tshark",
    ) {
        return;
    }
    let ons = lab.netns("ovs").unwrap();
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    let (x1, x2) = (lab.name("x1"), lab.name("x2"));
    for (x, o) in [(&x1, "o1"), (&x2, "o2")] {
        lab.ip(&[
            "link", "add", x, "type", "veth", "peer", "name", o, "netns", &ons,
        ])
        .unwrap();
        lab.track_link(x);
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{x}/disable_ipv6"), "1");
        lab.ip(&["link", "set", x, "up"]).unwrap();
        lab.ip(&["-n", &ons, "link", "set", o, "up"]).unwrap();
    }
    lab.ip(&[
        "link", "add", "o3", "netns", &ons, "type", "veth", "peer", "name", "eth0", "netns", &h2,
    ])
    .unwrap();
    lab.ip(&["-n", &ons, "link", "set", "o3", "up"]).unwrap();
    lab.host_addr(&h2, "eth0", "198.18.9.2/24").unwrap();
    // OVS's userspace datapath does not complete partial checksums: the
    // hosts finish theirs (the usual advice for veths into OVS netdev).
    lab.exec_ok(&h2, &["ethtool", "-K", "eth0", "tx", "off"])
        .unwrap();

    let ovs = Ovs::start(&lab, &ons);
    ovs.vsctl(&[
        "add-br",
        "ovsbr",
        "--",
        "set",
        "bridge",
        "ovsbr",
        "datapath_type=netdev",
    ]);
    ovs.vsctl(&[
        "add-bond",
        "ovsbr",
        "bond0",
        "o1",
        "o2",
        "lacp=active",
        "bond_mode=balance-tcp",
        "other_config:lacp-time=fast",
    ]);
    ovs.vsctl(&["add-port", "ovsbr", "o3"]);

    // tshark listens on a port's netdev: frames an AF_XDP port sends
    // and receives bypass the kernel's packet taps (ARCHITECTURE.md,
    // AF_XDP ports), so this port is attached with AF_PACKET.
    lab.daemon_args = vec!["--attach".into(), "af_packet".into()];
    lab.start_daemon().unwrap();
    let bond = lab.name("lb");
    lab.pb(&[
        "link",
        "add",
        &bond,
        "type",
        "bond",
        "mode",
        "802.3ad",
        "lacp_rate",
        "fast",
        "xmit_hash_policy",
        "layer3+4",
    ])
    .unwrap();
    lab.pb(&["link", "set", &x1, "master", &bond]).unwrap();
    lab.pb(&["link", "set", &x2, "master", &bond]).unwrap();
    let cap = std::env::temp_dir().join(format!("{}-lacp.pcap", lab.tag));
    let mut tshark = Command::new("tshark")
        .args([
            "-i",
            &x1,
            "-a",
            "duration:6",
            "-f",
            "ether proto 0x8809",
            "-w",
        ])
        .arg(&cap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Proc::new)
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    lab.pb(&["link", "set", &bond, "up"]).unwrap();
    bond_into(&lab, &bond, &h1, "198.18.9.1/24");
    lab.exec_ok(&h1, &["ethtool", "-K", &bond, "tx", "off"])
        .unwrap();

    // Both sides: both members collecting and distributing, partners known.
    let ours = |lab: &Lab| {
        let b = bond_json(lab, &bond);
        let ok = b["slaves"].as_array().unwrap().iter().all(|s| {
            s["ad_actor_oper_port_state"].as_u64().unwrap_or(0) & 0x30 == 0x30
                && s["ad_partner_oper_port_state"].as_u64().unwrap_or(0) & 0x30 == 0x30
        });
        (ok, b)
    };
    loop {
        let (ok, b) = ours(&lab);
        let theirs = ovs.appctl(&["lacp/show", "bond0"]);
        if ok && theirs.contains("negotiated") && theirs.matches("current attached").count() == 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no aggregate within 20 s:\npatchbay {b:#}\nOVS {theirs}\n{}",
            ovs.vswitchd_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let agg = t0.elapsed();
    let (_, b) = ours(&lab);
    let theirs = ovs.appctl(&["lacp/show", "bond0"]);
    // OVS names our system as its partner, and we name its.
    let our_sys = b["info"]["ad_actor_system"].as_str().unwrap().to_string();
    assert!(
        theirs.contains(&format!("partner sys_id: {our_sys}")),
        "{theirs}"
    );
    let partner = b["info"]["ad_info"]["partner_mac"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(theirs.contains(&format!("sys_id: {partner}")), "{theirs}");
    ping(&lab, &h1, "198.18.9.2").unwrap();
    tcp_transfer_paced(&h1, &h2, "198.18.9.2", 4 << 20, 1 << 20, Duration::ZERO).finish();
    eprintln!(
        "802.3ad with OVS (real time, fast rate): both sides collecting+distributing in {:.2} s",
        agg.as_secs_f64()
    );

    // patchbay's LACPDUs decode in tshark, without malformed or warning
    // expert info.
    let _ = tshark.wait();
    let mac = std::fs::read_to_string(format!("/sys/class/net/{x1}/address"))
        .unwrap()
        .trim()
        .to_string();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&cap)
        .args(["-Y", &format!("eth.src == {mac}"), "-V"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&cap);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Link Aggregation Control Protocol"), "{text}");
    // 10 Gbit/s veth, full duplex: key (7 << 1) | 1.
    assert!(text.contains("Key: 15"), "{text}");
    assert!(
        !text.contains("Malformed") && !text.contains("[Expert Info (Warning"),
        "tshark complains:\n{text}"
    );
}
