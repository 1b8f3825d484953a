//! GUIDE.md's own examples for macvlan, veth and dummy, run with
//! `patchbay` in place of `ip` (root; CI rules as in netns.rs). The daemon
//! runs in namespace `m`, whose `eth0` is the lower device; the devices it
//! makes appear there as TAPs and are moved where the guide moves them.

use patchbay_lab::{raw_capture, raw_send, Lab};
use patchbay_tests::lab;
use std::time::Duration;

fn ipn(lab: &Lab, ns: &str, args: &[&str]) {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a)
        .unwrap_or_else(|e| panic!("ip -n {ns} {args:?}: {e}"));
}

fn pb(lab: &Lab, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    lab.pb(&words)
        .unwrap_or_else(|e| panic!("patchbay {line}: {e}"))
}

/// Namespace `m` with `eth0` (up), whose peer `wire0` is in namespace `w`.
fn lower(lab: &mut Lab) -> (String, String) {
    let (m, w) = (lab.netns("m").unwrap(), lab.netns("w").unwrap());
    lab.ip(&[
        "link", "add", "eth0", "netns", &m, "type", "veth", "peer", "name", "wire0", "netns", &w,
    ])
    .unwrap();
    ipn(lab, &m, &["link", "set", "eth0", "up"]);
    ipn(lab, &w, &["link", "set", "wire0", "up"]);
    (m, w)
}

fn ping(lab: &Lab, ns: &str, to: &str) -> bool {
    lab.exec(ns, &["ping", "-c", "2", "-i", "0.2", "-W", "1", to])
        .is_ok_and(|o| o.status.success())
}

#[test]
fn two_bridge_mode_macvlans_in_two_namespaces_reach_each_other() {
    let Some(mut lab) = lab("gm") else { return };
    let (m, _w) = lower(&mut lab);
    let (net1, net2) = (lab.netns("net1").unwrap(), lab.netns("net2").unwrap());
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    pb(&lab, "link add macvlan1 link eth0 type macvlan mode bridge");
    pb(&lab, "link add macvlan2 link eth0 type macvlan mode bridge");
    pb(&lab, &format!("link set macvlan1 netns {net1}"));
    pb(&lab, &format!("link set macvlan2 netns {net2}"));
    pb(&lab, "link set macvlan1 up");
    pb(&lab, "link set macvlan2 up");
    ipn(
        &lab,
        &net1,
        &["addr", "add", "198.18.61.1/24", "dev", "macvlan1"],
    );
    ipn(
        &lab,
        &net2,
        &["addr", "add", "198.18.61.2/24", "dev", "macvlan2"],
    );
    assert!(ping(&lab, &net1, "198.18.61.2"), "macvlan1 to macvlan2");
    assert!(ping(&lab, &net2, "198.18.61.1"), "macvlan2 to macvlan1");
    let d = pb(&lab, "-d link show macvlan1");
    assert!(d.contains("macvlan1@eth0"), "{d}");
    assert!(d.contains("macvlan mode bridge"), "{d}");
    // GUIDE.md's macvtap line: the same device, its TAP for a VM.
    pb(&lab, "link add link eth0 name macvtap0 type macvtap");
    let d = pb(&lab, "-d link show macvtap0");
    assert!(d.contains("macvtap mode vepa"), "default vepa: {d}");
    let t = lab
        .exec_ok(&m, &["ip", "-d", "link", "show", "macvtap0"])
        .unwrap();
    assert!(t.contains("tun type tap"), "a TAP a VM can open: {t}");
    // Unique addresses on one lower, one passthru per lower.
    let e = lab
        .pb(&[
            "link",
            "add",
            "mv3",
            "link",
            "eth0",
            "address",
            &mac_of(&lab, &net1, "macvlan1"),
            "type",
            "macvlan",
        ])
        .unwrap_err();
    assert!(e.contains("in use on eth0"), "{e}");
    let e = lab
        .pb(&[
            "link", "add", "mv4", "link", "eth0", "type", "macvlan", "mode", "passthru",
        ])
        .unwrap_err();
    assert!(e.contains("must be the only macvlan"), "{e}");
}

fn mac_of(lab: &Lab, ns: &str, dev: &str) -> String {
    lab.exec_ok(ns, &["cat", &format!("/sys/class/net/{dev}/address")])
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn source_mode_admits_exactly_the_listed_clients() {
    let Some(mut lab) = lab("gs") else { return };
    let (m, w) = lower(&mut lab);
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    // GUIDE.md, word for word after `patchbay`.
    for l in [
        "link add link eth0 name macvlan0 type macvlan mode source",
        "link add link eth0 name macvlan1 type macvlan mode source",
        "link set link dev macvlan0 type macvlan macaddr add 00:11:11:11:11:11",
        "link set link dev macvlan0 type macvlan macaddr add 00:22:22:22:22:22",
        "link set link dev macvlan0 type macvlan macaddr add 00:33:33:33:33:33",
        "link set link dev macvlan1 type macvlan macaddr add 00:33:33:33:33:33",
        "link set link dev macvlan1 type macvlan macaddr add 00:44:44:44:44:44",
        "link set macvlan0 up",
        "link set macvlan1 up",
    ] {
        pb(&lab, l);
    }
    let d = pb(&lab, "-d link show macvlan0");
    assert!(
        d.contains("remotes (3) 00:11:11:11:11:11 00:22:22:22:22:22 00:33:33:33:33:33"),
        "{d}"
    );
    let caps: Vec<_> = ["macvlan0", "macvlan1"]
        .iter()
        .map(|d| raw_capture(&m, d, Duration::from_millis(1000)).unwrap())
        .collect();
    // Five clients on the wire, each sending one broadcast and one
    // unicast to an address nobody has.
    let mut frames = Vec::new();
    for c in [0x11u8, 0x22, 0x33, 0x44, 0x55] {
        for dst in [[0xff; 6], [2, 0, 0, 0, 0, 0x99]] {
            let mut f = dst.to_vec();
            f.extend_from_slice(&[0, c, c, c, c, c]);
            f.extend_from_slice(&[0x88, 0xb5]);
            f.extend_from_slice(&[0; 46]);
            frames.push(f);
        }
    }
    raw_send(&w, "wire0", frames).unwrap();
    let got: Vec<Vec<u8>> = caps
        .into_iter()
        .map(|c| {
            let mut s: Vec<u8> = c
                .join()
                .unwrap()
                .unwrap()
                .iter()
                .filter(|f| f.len() >= 14 && f[12..14] == [0x88, 0xb5])
                .map(|f| f[7])
                .collect();
            s.sort();
            s
        })
        .collect();
    assert_eq!(
        got[0],
        [0x11, 0x11, 0x22, 0x22, 0x33, 0x33],
        "macvlan0: 11, 22, 33"
    );
    assert_eq!(
        got[1],
        [0x33, 0x33, 0x44, 0x44],
        "macvlan1: 33, 44; 55 nowhere"
    );
    // macaddr del / flush, and the mode check.
    pb(
        &lab,
        "link set dev macvlan0 type macvlan macaddr del 00:11:11:11:11:11",
    );
    pb(&lab, "link set dev macvlan1 type macvlan macaddr flush");
    let j = pb(&lab, "-j -d link show macvlan0");
    assert!(j.contains("\"macaddr_count\":2"), "{j}");
    pb(&lab, "link add mvb link eth0 type macvlan mode bridge");
    let e = lab
        .pb(&[
            "link",
            "set",
            "mvb",
            "type",
            "macvlan",
            "macaddr",
            "add",
            "00:11:11:11:11:11",
        ])
        .unwrap_err();
    assert!(e.contains("macaddr applies to mode source"), "{e}");
}

#[test]
fn a_veth_pair_between_two_namespaces() {
    let Some(mut lab) = lab("gv") else { return };
    let m = lab.netns("m").unwrap();
    let (net1, net2) = (lab.netns("net1").unwrap(), lab.netns("net2").unwrap());
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    pb(
        &lab,
        &format!("link add veth1 netns {net1} type veth peer name veth2 netns {net2}"),
    );
    pb(&lab, "link set veth1 up");
    ipn(
        &lab,
        &net1,
        &["addr", "add", "198.18.63.1/24", "dev", "veth1"],
    );
    ipn(
        &lab,
        &net2,
        &["addr", "add", "198.18.63.2/24", "dev", "veth2"],
    );
    // Carrier only while both ends are up.
    let s = pb(&lab, "link show veth1");
    assert!(s.contains("veth1@veth2") && s.contains("NO-CARRIER"), "{s}");
    assert!(!ping(&lab, &net1, "198.18.63.2"));
    pb(&lab, "link set veth2 up");
    let s = pb(&lab, "link show veth1");
    assert!(s.contains("state UP"), "{s}");
    assert!(ping(&lab, &net1, "198.18.63.2"), "veth1 to veth2");
    // The peer's MTU is checked.
    pb(&lab, "link set veth2 mtu 1000");
    let big = lab
        .exec(
            &net1,
            &["ping", "-c", "1", "-W", "1", "-s", "1200", "198.18.63.2"],
        )
        .unwrap();
    assert!(!big.status.success());
    let st = pb(&lab, "stats veth1");
    assert!(st.contains("oversize"), "{st}");
    assert!(ping(&lab, &net1, "198.18.63.2"), "small frames still cross");
    // Deleting one end deletes the pair.
    pb(&lab, "link del veth1");
    assert!(lab.pb(&["link", "show", "veth2"]).is_err());
}

#[test]
fn a_dummy_with_an_address() {
    let Some(mut lab) = lab("gd") else { return };
    let m = lab.netns("m").unwrap();
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    pb(&lab, "link add dummy1 type dummy");
    ipn(
        &lab,
        &m,
        &["addr", "add", "198.18.64.1/24", "dev", "dummy1"],
    );
    pb(&lab, "link set dummy1 up");
    // Its own address answers (the stack's); what it sends is counted and
    // discarded, and nothing ever arrives.
    assert!(ping(&lab, &m, "198.18.64.1"));
    assert!(!ping(&lab, &m, "198.18.64.2"));
    let j: serde_json::Value = serde_json::from_str(&pb(&lab, "-j stats dummy1")).unwrap();
    let st = &j[0]["stats"];
    assert!(st["tx_packets"].as_u64().unwrap() >= 2, "{j}");
    assert_eq!(st["rx_packets"], 0, "{j}");
    let flags = lab.exec_ok(&m, &["ip", "link", "show", "dummy1"]).unwrap();
    assert!(flags.contains("NOARP"), "{flags}");
    let d = pb(&lab, "-d link show dummy1");
    assert!(d.contains("dummy"), "{d}");
}

#[test]
fn ipvlan_l2_in_a_namespace_and_l3_routed_by_the_master() {
    let Some(mut lab) = lab("gi") else { return };
    let (m, w) = lower(&mut lab);
    let (ns0, ns1, ns2) = (
        lab.netns("ns0").unwrap(),
        lab.netns("ns1").unwrap(),
        lab.netns("ns2").unwrap(),
    );
    ipn(&lab, &w, &["addr", "add", "198.18.65.9/24", "dev", "wire0"]);
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    // GUIDE.md: an l2 slave moved into a namespace.
    pb(&lab, "link add name ipvl0 link eth0 type ipvlan mode l2");
    pb(&lab, &format!("link set dev ipvl0 netns {ns0}"));
    pb(
        &lab,
        "link add link eth0 name ipvl1 type ipvlan mode l2 bridge",
    );
    pb(&lab, &format!("link set dev ipvl1 netns {ns1}"));
    pb(&lab, "link set ipvl0 up");
    pb(&lab, "link set ipvl1 up");
    ipn(
        &lab,
        &ns0,
        &["addr", "add", "198.18.65.1/24", "dev", "ipvl0"],
    );
    ipn(
        &lab,
        &ns1,
        &["addr", "add", "198.18.65.2/24", "dev", "ipvl1"],
    );
    // Both share the master's MAC.
    let eth0 = lab
        .exec_ok(&m, &["cat", "/sys/class/net/eth0/address"])
        .unwrap();
    let s0 = lab
        .exec_ok(&ns0, &["cat", "/sys/class/net/ipvl0/address"])
        .unwrap();
    assert_eq!(s0, eth0);
    std::thread::sleep(Duration::from_millis(1300));
    assert!(ping(&lab, &ns0, "198.18.65.9"), "slave to the outside");
    assert!(ping(&lab, &w, "198.18.65.2"), "outside to a slave");
    assert!(
        ping(&lab, &ns0, "198.18.65.2"),
        "slave to slave (l2 bridge)"
    );
    let st = pb(&lab, "stats ipvl0");
    assert!(st.contains("ipvlan: addresses 198.18.65.1"), "{st}");
    let d = pb(&lab, "-d link show ipvl1");
    assert!(
        d.contains("ipvl1@eth0") && d.contains("ipvlan  mode l2 bridge"),
        "{d}"
    );
    // macvlan and ipvlan do not share a lower.
    let e = lab
        .pb(&["link", "add", "mv0", "link", "eth0", "type", "macvlan"])
        .unwrap_err();
    assert!(e.contains("cannot share a lower device"), "{e}");
    // One mode per master: an l3 slave turns the others l3 as well.
    pb(&lab, "link add link eth0 name ipvl2 type ipvlan mode l3");
    let d = pb(&lab, "-d link show ipvl0");
    assert!(d.contains("mode l3 bridge"), "{d}");
    // l3: the master's namespace routes. The outside reaches the slave's
    // network through the master's address.
    pb(&lab, &format!("link set dev ipvl2 netns {ns2}"));
    pb(&lab, "link set ipvl2 up");
    ipn(
        &lab,
        &m,
        &["addr", "add", "198.18.65.254/24", "dev", "eth0"],
    );
    ipn(
        &lab,
        &ns2,
        &["addr", "add", "198.18.66.1/24", "dev", "ipvl2"],
    );
    ipn(&lab, &ns2, &["route", "add", "default", "dev", "ipvl2"]);
    ipn(
        &lab,
        &w,
        &["route", "add", "198.18.66.0/24", "via", "198.18.65.254"],
    );
    let flags = lab.exec_ok(&ns2, &["ip", "link", "show", "ipvl2"]).unwrap();
    assert!(flags.contains("NOARP"), "l3 slaves do not ARP: {flags}");
    std::thread::sleep(Duration::from_millis(1300));
    assert!(
        ping(&lab, &w, "198.18.66.1"),
        "outside to the l3 slave, routed back by the master"
    );
    assert!(ping(&lab, &ns2, "198.18.65.9"), "l3 slave to the outside");
}

#[test]
fn netdevsim_ports_take_their_knobs_in_the_daemon() {
    let Some(mut lab) = lab("gn") else { return };
    let m = lab.netns("m").unwrap();
    let (a, b) = (lab.netns("a").unwrap(), lab.netns("b").unwrap());
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    pb(&lab, "link add br0 type bridge");
    pb(
        &lab,
        &format!("link add dev sim0 netns {a} type netdevsim speed 100 duplex half"),
    );
    pb(&lab, &format!("link add dev sim1 netns {b} type netdevsim"));
    for l in [
        "link set sim0 master br0",
        "link set sim1 master br0",
        "link set sim0 up",
        "link set sim1 up",
        "link set br0 up",
    ] {
        pb(&lab, l);
    }
    // The TAPs are the far ends of the ports' wires: the hosts' NICs.
    ipn(&lab, &a, &["addr", "add", "198.18.68.1/24", "dev", "sim0"]);
    ipn(&lab, &a, &["link", "set", "sim0", "up"]);
    ipn(&lab, &b, &["addr", "add", "198.18.68.2/24", "dev", "sim1"]);
    ipn(&lab, &b, &["link", "set", "sim1", "up"]);
    assert!(ping(&lab, &a, "198.18.68.2"));
    let d = pb(&lab, "-d link show sim0");
    assert!(
        d.contains("netdevsim speed 100 duplex half carrier on"),
        "{d}"
    );
    let rtt = |lab: &Lab| -> f64 {
        let o = lab
            .exec_ok(
                &a,
                &["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.68.2"],
            )
            .unwrap();
        o.lines()
            .filter_map(|l| l.split("time=").nth(1))
            .filter_map(|x| x.split_whitespace().next()?.parse::<f64>().ok())
            .fold(f64::INFINITY, f64::min)
    };
    assert!(rtt(&lab) < 40.0);
    // 30 ms each way on sim0: a round trip crosses it twice.
    pb(&lab, "link set sim0 type netdevsim delay 30ms");
    let r = rtt(&lab);
    assert!(
        (60.0..200.0).contains(&r),
        "rtt {r} ms with 2 x 30 ms of delay"
    );
    pb(&lab, "link set sim0 type netdevsim delay 0 drop 100%");
    assert!(!ping(&lab, &a, "198.18.68.2"));
    let j: serde_json::Value = serde_json::from_str(&pb(&lab, "-j stats sim0")).unwrap();
    assert!(
        j[0]["stats"]["drops"]["injected"].as_u64().unwrap() >= 2,
        "{j}"
    );
    pb(&lab, "link set sim0 type netdevsim drop 0% carrier off");
    assert!(!ping(&lab, &a, "198.18.68.2"));
    let s = pb(&lab, "bridge link show");
    assert!(s.contains("sim0") && s.contains("disabled"), "{s}");
    pb(&lab, "link set sim0 type netdevsim carrier on");
    std::thread::sleep(Duration::from_millis(100));
    assert!(ping(&lab, &a, "198.18.68.2"), "back with its carrier");
}

#[test]
fn a_passthru_macvlan_owns_its_lower_and_its_address() {
    let Some(mut lab) = lab("gp") else { return };
    let (m, _w) = lower(&mut lab);
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    pb(&lab, "link add mvp link eth0 type macvlan mode passthru");
    let eth0 = lab
        .exec_ok(&m, &["cat", "/sys/class/net/eth0/address"])
        .unwrap();
    let mvp = lab
        .exec_ok(&m, &["cat", "/sys/class/net/mvp/address"])
        .unwrap();
    assert_eq!(mvp, eth0, "passthru takes the lower's address");
    let e = lab
        .pb(&[
            "link", "add", "mv2", "link", "eth0", "type", "macvlan", "mode", "bridge",
        ])
        .unwrap_err();
    assert!(e.contains("a passthru macvlan"), "{e}");
    pb(&lab, "link set mvp address 02:00:00:00:99:01");
    let eth0 = lab
        .exec_ok(&m, &["cat", "/sys/class/net/eth0/address"])
        .unwrap();
    assert_eq!(
        eth0.trim(),
        "02:00:00:00:99:01",
        "and hands its new one to the lower"
    );
}
