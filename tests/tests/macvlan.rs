//! MACVLAN against the kernel's macvlan driver, in network namespaces
//! (root; CI rules as in netns.rs). The same frames are sent through the
//! kernel's macvlans and through patchbay's on the same lower device, and
//! who receives what is compared: the delivery table of each mode, checked
//! against the live kernel rather than written down.
//!
//! Layout: namespace `sw` holds a kernel bridge (the "switch") with port
//! `swp` (hairpin on or off) towards the lower device `eth0` in namespace
//! `m`, and port `ext` towards the outside host `o`. Macvlans A and B on
//! `eth0` are moved into namespaces `a` and `b`.

use patchbay_lab::{raw_capture, raw_send, Lab};
use patchbay_tests::lab;
use std::time::Duration;

const MAC_A: &str = "02:00:00:00:0a:01";
const MAC_B: &str = "02:00:00:00:0b:01";
const MAC_L: &str = "02:00:00:00:0c:01";
const MAC_O: &str = "02:00:00:00:0d:01";
const MCAST: &str = "01:00:5e:01:02:03";
const BCAST: &str = "ff:ff:ff:ff:ff:ff";

fn ipn(lab: &Lab, ns: &str, args: &[&str]) {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a)
        .unwrap_or_else(|e| panic!("ip -n {ns} {args:?}: {e}"));
}

fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

struct Net {
    sw: String,
    m: String,
    a: String,
    b: String,
    o: String,
}

fn net(lab: &mut Lab) -> Net {
    let n = Net {
        sw: lab.netns("sw").unwrap(),
        m: lab.netns("m").unwrap(),
        a: lab.netns("a").unwrap(),
        b: lab.netns("b").unwrap(),
        o: lab.netns("o").unwrap(),
    };
    lab.ip(&[
        "link", "add", "swp", "netns", &n.sw, "type", "veth", "peer", "name", "eth0", "netns", &n.m,
    ])
    .unwrap();
    lab.ip(&[
        "link", "add", "ext", "netns", &n.sw, "type", "veth", "peer", "name", "eth0", "netns", &n.o,
    ])
    .unwrap();
    ipn(
        lab,
        &n.sw,
        &["link", "add", "name", "br0", "type", "bridge"],
    );
    for p in ["swp", "ext"] {
        ipn(
            lab,
            &n.sw,
            &["link", "set", "dev", p, "master", "br0", "up"],
        );
    }
    ipn(lab, &n.sw, &["link", "set", "br0", "up"]);
    ipn(lab, &n.m, &["link", "set", "eth0", "address", MAC_L, "up"]);
    ipn(lab, &n.o, &["link", "set", "eth0", "address", MAC_O, "up"]);
    n
}

/// Sends every test frame and returns "sender->dst: receivers" lines.
fn deliveries(n: &Net, senders: &[&str]) -> Vec<String> {
    let ends = [
        ("A", n.a.as_str(), "A", MAC_A),
        ("B", n.b.as_str(), "B", MAC_B),
        ("L", n.m.as_str(), "eth0", MAC_L),
        ("O", n.o.as_str(), "eth0", MAC_O),
    ];
    // Teach the switch where everyone is.
    for (_, ns, dev, m) in ends {
        let mut f = mac("02:00:00:00:ff:ff").to_vec();
        f.extend_from_slice(&mac(m));
        f.extend_from_slice(&[0x88, 0xb6]);
        f.extend_from_slice(&[0; 46]);
        raw_send(ns, dev, vec![f]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let caps: Vec<_> = ends
        .iter()
        .filter(|e| e.0 != "L")
        .map(|(who, ns, dev, _)| {
            (
                *who,
                raw_capture(ns, dev, Duration::from_millis(1500)).unwrap(),
            )
        })
        .collect();
    let dsts = [
        ("A", MAC_A),
        ("B", MAC_B),
        ("L", MAC_L),
        ("O", MAC_O),
        ("bcast", BCAST),
        ("mcast", MCAST),
    ];
    let mut tokens = Vec::new();
    for (si, (who, ns, dev, smac)) in ends.iter().enumerate() {
        if !senders.contains(who) {
            continue;
        }
        let mut frames = Vec::new();
        for (di, (dname, dmac)) in dsts.iter().enumerate() {
            if dname == who {
                continue;
            }
            let tok = (si * 16 + di) as u8;
            let mut f = mac(dmac).to_vec();
            f.extend_from_slice(&mac(smac));
            f.extend_from_slice(&[0x88, 0xb5, 0x70, tok]);
            f.extend_from_slice(&[0; 44]);
            frames.push(f);
            tokens.push((tok, format!("{who}->{dname}")));
        }
        raw_send(ns, dev, frames).unwrap();
    }
    let mut got: Vec<(u8, &str)> = Vec::new();
    for (who, c) in caps {
        for f in c.join().unwrap().unwrap() {
            if f.len() >= 16 && f[12..15] == [0x88, 0xb5, 0x70] {
                got.push((f[15], who));
            }
        }
    }
    tokens
        .into_iter()
        .map(|(t, name)| {
            let mut r: Vec<&str> = got.iter().filter(|g| g.0 == t).map(|g| g.1).collect();
            r.sort();
            format!("{name}: {}", r.join(" "))
        })
        .collect()
}

/// A process in namespace `ns` joins 239.1.2.3 (01:00:5e:01:02:03) on
/// `dev` for three seconds: the kernel adds the group to the device's list
/// and sends an IGMP report, which is all patchbay sees of it.
fn join_group(lab: &Lab, ns: &str, dev: &str) -> std::thread::JoinHandle<Result<(), String>> {
    ipn(lab, ns, &["addr", "add", "198.18.60.1/24", "dev", dev]);
    let h = patchbay_lab::in_netns(ns, || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        s.join_multicast_v4(
            &"239.1.2.3".parse().unwrap(),
            &"198.18.60.1".parse().unwrap(),
        )
        .unwrap();
        std::thread::sleep(Duration::from_secs(3));
    });
    std::thread::sleep(Duration::from_millis(300));
    h
}

/// One mode, kernel then patchbay, same frames; the tables must agree.
fn compare(mode: &str, hairpin: bool, source_list: &[&str]) -> Vec<String> {
    compare_with(mode, hairpin, source_list, false)
}

fn compare_with(mode: &str, hairpin: bool, source_list: &[&str], join: bool) -> Vec<String> {
    let Some(mut lab) = lab("mv") else {
        return vec![];
    };
    let n = net(&mut lab);
    ipn(
        &lab,
        &n.sw,
        &[
            "link",
            "set",
            "dev",
            "swp",
            "type",
            "bridge_slave",
            "hairpin",
            if hairpin { "on" } else { "off" },
        ],
    );
    let senders = ["A", "B", "L", "O"];
    // The kernel's macvlans.
    for (name, m, ns) in [("A", MAC_A, &n.a), ("B", MAC_B, &n.b)] {
        ipn(
            &lab,
            &n.m,
            &[
                "link", "add", name, "link", "eth0", "address", m, "type", "macvlan", "mode", mode,
            ],
        );
        ipn(&lab, &n.m, &["link", "set", name, "netns", ns]);
        ipn(&lab, ns, &["link", "set", name, "up"]);
    }
    for s in source_list {
        ipn(
            &lab,
            &n.a,
            &["link", "set", "A", "type", "macvlan", "macaddr", "add", s],
        );
    }
    let j = join.then(|| join_group(&lab, &n.a, "A"));
    let theirs = deliveries(&n, &senders);
    if let Some(j) = j {
        j.join().unwrap().unwrap();
    }
    ipn(&lab, &n.a, &["link", "del", "A"]);
    ipn(&lab, &n.b, &["link", "del", "B"]);
    // patchbay's, on the same lower, moved into the same namespaces.
    lab.start_daemon_in(Some(&n.m), &[]).unwrap();
    for (name, m, ns) in [("A", MAC_A, &n.a), ("B", MAC_B, &n.b)] {
        lab.pb(&[
            "link", "add", name, "link", "eth0", "address", m, "netns", ns, "type", "macvlan",
            "mode", mode,
        ])
        .unwrap();
        lab.pb(&["link", "set", name, "up"]).unwrap();
    }
    for s in source_list {
        lab.pb(&[
            "link", "set", "link", "dev", "A", "type", "macvlan", "macaddr", "add", s,
        ])
        .unwrap();
    }
    let j = join.then(|| join_group(&lab, &n.a, "A"));
    let ours = deliveries(&n, &senders);
    if let Some(j) = j {
        j.join().unwrap().unwrap();
    }
    lab.stop_daemon();
    assert_eq!(ours, theirs, "mode {mode}, hairpin {hairpin}: patchbay (left) and the kernel (right) deliver differently");
    theirs
}

fn row<'a>(t: &'a [String], name: &str) -> &'a str {
    t.iter()
        .find(|r| r.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no row {name} in {t:?}"))
}

#[test]
fn bridge_mode_delivers_as_the_kernel_does() {
    let t = compare("bridge", false, &[]);
    if t.is_empty() {
        return;
    }
    // What the kernel does, so that the table is not vacuous.
    assert_eq!(row(&t, "A->B"), "A->B: B");
    assert_eq!(row(&t, "A->bcast"), "A->bcast: B O");
    assert_eq!(row(&t, "O->bcast"), "O->bcast: A B");
}

#[test]
fn vepa_mode_with_a_hairpin_switch_delivers_as_the_kernel_does() {
    let t = compare("vepa", true, &[]);
    if t.is_empty() {
        return;
    }
    assert_eq!(row(&t, "A->B"), "A->B: B");
    assert_eq!(row(&t, "A->bcast"), "A->bcast: B O");
}

#[test]
fn vepa_mode_without_hairpin_delivers_as_the_kernel_does() {
    let t = compare("vepa", false, &[]);
    if t.is_empty() {
        return;
    }
    assert_eq!(row(&t, "A->B"), "A->B: ");
}

#[test]
fn private_mode_delivers_as_the_kernel_does() {
    let t = compare("private", true, &[]);
    if t.is_empty() {
        return;
    }
    assert_eq!(row(&t, "A->bcast"), "A->bcast: A O");
}

#[test]
fn source_mode_delivers_as_the_kernel_does() {
    let t = compare("source", false, &[MAC_O]);
    if t.is_empty() {
        return;
    }
    // A lists the outside host: a copy of all it sends; B lists nobody.
    assert_eq!(row(&t, "O->L"), "O->L: A");
    assert_eq!(row(&t, "O->B"), "O->B: A");
}

#[test]
fn a_macvlan_hears_the_groups_its_host_joined_as_the_kernels_does() {
    let t = compare_with("bridge", false, &[], true);
    if t.is_empty() {
        return;
    }
    assert_eq!(
        row(&t, "O->mcast"),
        "O->mcast: A",
        "A joined 239.1.2.3, B did not"
    );
    assert_eq!(row(&t, "B->mcast"), "B->mcast: A O");
}
