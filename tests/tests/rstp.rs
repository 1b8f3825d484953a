//! RSTP interop in network namespaces against a peer nobody here wrote:
//! Open vSwitch's userspace datapath (`datapath_type=netdev`) with
//! `rstp_enable=true`, joined to a patchbay bridge run by patchbay's mstpd
//! over two parallel veth links, with a host on each side. Root and
//! CI-only rules as in netns.rs; OVS runs from a private database and
//! socket directory, and is stopped with the test.

use patchbay_lab::{Lab, Proc};
use patchbay_tests::{json, lab, require, Ovs};
use std::process::Command;
use std::time::{Duration, Instant};

/// "1.000.86c8a1b73e40" (OVS) and "1.000.86:C8:A1:B7:3E:40" (mstpctl) alike.
fn norm_id(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// mstpctl's view of one port: (role, state).
fn pb_port(lab: &Lab, br: &str, port: &str) -> (String, String) {
    let v = json(
        &lab.pb(&["-j", "mstpctl", "showportdetail", br, port])
            .unwrap(),
    );
    (
        v[0]["role"].as_str().unwrap().to_string(),
        v[0]["state"].as_str().unwrap().to_string(),
    )
}

/// Waits until patchbay names `root` and its two links are one Root
/// forwarding and one Alternate discarding, with OVS's ports all
/// Designated and forwarding. Returns how long it took and the root port.
fn wait_tree(
    lab: &Lab,
    ovs: &Ovs,
    br: &str,
    links: [(&str, &str); 2],
    root: &str,
    limit: Duration,
) -> (Duration, String) {
    let t0 = Instant::now();
    loop {
        let got_root = json(&lab.pb(&["-j", "mstpctl", "showbridge", br]).unwrap())[0]
            ["designated-root"]
            .as_str()
            .unwrap()
            .to_string();
        let ours: Vec<(String, String)> = links.iter().map(|(p, _)| pb_port(lab, br, p)).collect();
        let theirs: Vec<(String, String)> = links
            .iter()
            .map(|(_, o)| {
                (
                    ovs.status("port", o, "rstp_port_role"),
                    ovs.status("port", o, "rstp_port_state"),
                )
            })
            .collect();
        let root_ok = norm_id(&got_root) == norm_id(root);
        let one_root = ours
            .iter()
            .filter(|(r, s)| r == "Root" && s == "forwarding")
            .count()
            == 1;
        let one_alt = ours
            .iter()
            .filter(|(r, s)| r == "Alternate" && s == "discarding")
            .count()
            == 1;
        let ovs_ok = theirs
            .iter()
            .all(|(r, s)| r == "Designated" && s == "Forwarding")
            && ovs.status("port", "o3", "rstp_port_state") == "Forwarding";
        if root_ok && one_root && one_alt && ovs_ok {
            let rp = links
                .iter()
                .zip(&ours)
                .find(|(_, (r, _))| r == "Root")
                .map(|((p, _), _)| p.to_string())
                .unwrap();
            return (t0.elapsed(), rp);
        }
        assert!(
            t0.elapsed() < limit,
            "no common tree within {limit:?}: root {got_root} (want {root}), patchbay {ours:?}, OVS {theirs:?}\n{}",
            ovs.vswitchd_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ping(lab: &Lab, ns: &str, to: &str) -> Result<String, String> {
    lab.exec_ok(ns, &["ping", "-c", "3", "-i", "0.2", "-W", "1", to])
}

#[test]
fn ovs_and_patchbay_agree_on_an_rstp_tree_and_fail_over_at_once() {
    let Some(mut lab) = lab("rs") else { return };
    if !require(
        &[
            "ovsdb-server",
            "ovs-vswitchd",
            "ovs-vsctl",
            "ovsdb-tool",
            "tshark",
        ],
        "openvswitch-switch tshark",
    ) {
        return;
    }
    let ons = lab.netns("ovs").unwrap();
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    // Two parallel links patchbay <-> OVS: a loop RSTP must cut.
    let (la, lb) = (lab.name("a"), lab.name("b"));
    for (l, o) in [(&la, "o1"), (&lb, "o2")] {
        lab.ip(&[
            "link", "add", l, "type", "veth", "peer", "name", o, "netns", &ons,
        ])
        .unwrap();
        lab.track_link(l);
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{l}/disable_ipv6"), "1");
        lab.ip(&["link", "set", l, "up"]).unwrap();
        lab.ip(&["-n", &ons, "link", "set", o, "up"]).unwrap();
    }
    // h1 on patchbay, h2 on OVS.
    let hp = lab.veth_host("h", &h1, "198.18.7.1/24").unwrap();
    lab.ip(&[
        "link", "add", "o3", "netns", &ons, "type", "veth", "peer", "name", "eth0", "netns", &h2,
    ])
    .unwrap();
    lab.ip(&["-n", &ons, "link", "set", "o3", "up"]).unwrap();
    lab.host_addr(&h2, "eth0", "198.18.7.2/24").unwrap();

    let ovs = Ovs::start(&lab, &ons);
    // OVS is the root (priority 4096); its host port is an admin edge.
    ovs.vsctl(&[
        "add-br",
        "ovsbr",
        "--",
        "set",
        "bridge",
        "ovsbr",
        "datapath_type=netdev",
        "rstp_enable=true",
        "other_config:rstp-priority=4096",
    ]);
    for o in ["o1", "o2"] {
        ovs.vsctl(&["add-port", "ovsbr", o]);
    }
    ovs.vsctl(&[
        "add-port",
        "ovsbr",
        "o3",
        "--",
        "set",
        "port",
        "o3",
        "other_config:rstp-port-admin-edge=true",
    ]);
    let ovs_id = ovs.status("bridge", "ovsbr", "rstp_bridge_id");

    // tshark listens on a port's netdev: frames an AF_XDP port sends
    // and receives bypass the kernel's packet taps (ARCHITECTURE.md,
    // AF_XDP ports), so this port is attached with AF_PACKET.
    lab.daemon_args = vec!["--attach".into(), "af_packet".into()];
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    lab.pb(&["link", "add", &br, "type", "bridge", "stp_state", "1"])
        .unwrap();
    lab.pb(&["mstpctl", "addbridge", &br]).unwrap();
    for p in [&la, &lb, &hp] {
        lab.pb(&["link", "set", p, "master", &br]).unwrap();
    }
    lab.pb(&["mstpctl", "setportadminedge", &br, &hp, "yes"])
        .unwrap();
    let d = json(&lab.pb(&["-j", "-d", "link", "show", &br]).unwrap());
    assert_eq!(d[0]["linkinfo"]["info_data"]["stp_state"], 2, "user STP");
    // Capture patchbay's BPDUs on one link, for tshark.
    let cap = std::env::temp_dir().join(format!("{}-rst.pcap", lab.tag));
    let mut tshark = Command::new("tshark")
        .args([
            "-i",
            &la,
            "-a",
            "duration:5",
            "-f",
            "ether dst 01:80:c2:00:00:00",
            "-w",
        ])
        .arg(&cap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Proc::new)
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    let links = [(la.as_str(), "o1"), (lb.as_str(), "o2")];
    let (took, rp) = wait_tree(&lab, &ovs, &br, links, &ovs_id, Duration::from_secs(20));
    // OVS sends on every hello (2 s); patchbay's proposals meet OVS's
    // designated ports, so the first OVS hello after patchbay comes up
    // settles it.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    if let Err(e) = ping(&lab, &h1, "198.18.7.2") {
        panic!(
            "{e}\npatchbay ports: {}\nOVS o3: {} {}\n{}\n{}\n{}\n{}",
            lab.pb(&["mstpctl", "showport", &br]).unwrap(),
            ovs.status("port", "o3", "rstp_port_role"),
            ovs.status("port", "o3", "rstp_port_state"),
            lab.pb(&["-s", "stats"]).unwrap_or_default(),
            ovs.appctl(&["fdb/show", "ovsbr"]),
            ovs.appctl(&["dpctl/dump-flows"])
                + &lab
                    .ip(&["-n", &h2, "-s", "link", "show"])
                    .unwrap_or_default()
                + &lab.ip(&["-n", &h2, "addr"]).unwrap_or_default()
                + &lab
                    .ip(&["-n", &ons, "-s", "link", "show", "o3"])
                    .unwrap_or_default(),
            ovs.vswitchd_log()
        );
    }

    // Cut patchbay's root port: the alternate takes over without waiting
    // for a timer.
    let t1 = Instant::now();
    lab.ip(&["link", "set", &rp, "down"]).unwrap();
    let alt = if rp == la { lb.as_str() } else { la.as_str() };
    loop {
        if pb_port(&lab, &br, alt) == ("Root".to_string(), "forwarding".to_string()) {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(5),
            "no failover: {:?}",
            pb_port(&lab, &br, alt)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let failover = t1.elapsed();
    assert!(
        failover < Duration::from_secs(1),
        "failover took {failover:?}"
    );
    ping(&lab, &h1, "198.18.7.2").unwrap();
    // Restore: the same tree comes back.
    let t2 = Instant::now();
    lab.ip(&["link", "set", &rp, "up"]).unwrap();
    let (back, rp2) = wait_tree(&lab, &ovs, &br, links, &ovs_id, Duration::from_secs(20));
    assert_eq!(rp2, rp);
    eprintln!(
        "RSTP with OVS (real time): tree in {:.2} s, failover {:.0} ms, link back {:.2} s ({:.2} s)",
        took.as_secs_f64(),
        failover.as_secs_f64() * 1e3,
        back.as_secs_f64(),
        t2.elapsed().as_secs_f64()
    );

    // patchbay's RST BPDUs decode in tshark, without malformed or warning
    // expert info.
    let _ = tshark.wait();
    let mac = std::fs::read_to_string(format!("/sys/class/net/{la}/address"))
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
    assert!(
        text.contains("Protocol Version Identifier: Rapid Spanning Tree (2)"),
        "{text}"
    );
    assert!(
        text.contains("BPDU Type: Rapid/Multiple Spanning Tree (0x02)"),
        "{text}"
    );
    assert!(text.contains("Version 1 Length: 0"), "{text}");
    assert!(
        !text.contains("Malformed") && !text.contains("[Expert Info (Warning"),
        "tshark complains:\n{text}"
    );
}
