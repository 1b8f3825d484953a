//! VXLAN against the kernel's vxlan driver, in network namespaces (root;
//! CI-only rules as in netns.rs). The daemon runs inside its own namespace
//! `u` (its underlay socket and TAPs live there); the kernel VTEP in `k`;
//! the underlay is a veth between them on 198.18.20.0/24; hosts h1 (behind
//! patchbay's bridge) and h2 (behind the kernel's) share 198.18.30.0/24.

use patchbay_lab::Lab;
use patchbay_tests::{lab, tcp_transfer};

fn ipn(lab: &Lab, ns: &str, args: &[&str]) {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a)
        .unwrap_or_else(|e| panic!("ip -n {ns} {args:?}: {e}"));
}

/// A veth pair from namespace `a` (name `na`) to namespace `b` (`nb`).
fn veth(lab: &Lab, a: &str, na: &str, b: &str, nb: &str) {
    lab.ip(&[
        "link", "add", na, "netns", a, "type", "veth", "peer", "name", nb, "netns", b,
    ])
    .unwrap();
    for (ns, d) in [(a, na), (b, nb)] {
        ipn(lab, ns, &["link", "set", d, "up"]);
    }
}

/// How the two VTEPs find each other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Remote,
    HeadEnd,
    Group,
    /// `remote` over an IPv6 underlay.
    Remote6,
    /// `group` over an IPv6 underlay.
    Group6,
}

impl Mode {
    fn ipv6(self) -> bool {
        matches!(self, Mode::Remote6 | Mode::Group6)
    }
}

fn vtep_pair(mode: Mode) {
    let Some(mut lab) = lab("vx") else { return };
    let (u, k, h1, h2) = (
        lab.netns("u").unwrap(),
        lab.netns("k").unwrap(),
        lab.netns("h1").unwrap(),
        lab.netns("h2").unwrap(),
    );
    for ns in [&u, &k, &h1, &h2] {
        ipn(&lab, ns, &["link", "set", "lo", "up"]);
    }
    // Underlay.
    veth(&lab, &u, "ul", &k, "ul");
    ipn(&lab, &u, &["addr", "add", "198.18.20.1/24", "dev", "ul"]);
    if mode.ipv6() {
        for ns in [&u, &k] {
            lab.exec_ok(ns, &["sysctl", "-qw", "net.ipv6.conf.ul.disable_ipv6=0"])
                .unwrap();
        }
        ipn(
            &lab,
            &u,
            &["addr", "add", "fd00:20::1/64", "dev", "ul", "nodad"],
        );
        ipn(
            &lab,
            &k,
            &["addr", "add", "fd00:20::2/64", "dev", "ul", "nodad"],
        );
    }
    // Over a veth the kernel leaves the inner checksums of what its VTEP
    // sends to "the NIC" (CHECKSUM_PARTIAL crosses the pair); a UDP socket
    // cannot see that, so make it compute them, as a real NIC's wire would
    // carry them.
    lab.exec_ok(&k, &["ethtool", "-K", "ul", "tx", "off"])
        .unwrap();
    ipn(&lab, &k, &["addr", "add", "198.18.20.2/24", "dev", "ul"]);
    // Hosts.
    veth(&lab, &u, "hp", &h1, "eth0");
    veth(&lab, &k, "hp", &h2, "eth0");
    ipn(&lab, &h1, &["addr", "add", "198.18.30.1/24", "dev", "eth0"]);
    ipn(&lab, &h2, &["addr", "add", "198.18.30.2/24", "dev", "eth0"]);
    // Room for the 50 bytes of VXLAN (70 over IPv6) on a 1500-byte
    // underlay, as one configures hosts behind any VTEP. Offloads stay on:
    // patchbay segments h1's TSO frames before encapsulating them.
    let mtu = if mode.ipv6() { "1430" } else { "1450" };
    for ns in [&h1, &h2] {
        ipn(&lab, ns, &["link", "set", "eth0", "mtu", mtu]);
    }

    // The kernel's VTEP.
    let how = |peer: &'static str| -> Vec<&'static str> {
        match mode {
            Mode::Remote => vec!["remote", peer],
            Mode::HeadEnd => vec![],
            Mode::Group => vec!["group", "239.1.1.1", "dev", "ul"],
            Mode::Group6 => vec!["group", "ff05::100", "dev", "ul"],
            Mode::Remote6 => vec![
                "remote",
                if peer.ends_with(".1") {
                    "fd00:20::1"
                } else {
                    "fd00:20::2"
                },
            ],
        }
    };
    let local = |me: &'static str| -> &'static str {
        match (mode, me) {
            (Mode::Remote6 | Mode::Group6, "198.18.20.1") => "fd00:20::1",
            (Mode::Remote6 | Mode::Group6, _) => "fd00:20::2",
            _ => me,
        }
    };
    let mut add = vec!["link", "add", "vxk", "type", "vxlan", "id", "100"];
    add.extend(["local", local("198.18.20.2"), "dstport", "4789"]);
    add.extend(how("198.18.20.1"));
    ipn(&lab, &k, &add);
    if mode == Mode::HeadEnd {
        lab.ip(&[
            "netns",
            "exec",
            &k,
            "bridge",
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "vxk",
            "dst",
            "198.18.20.1",
        ])
        .unwrap();
    }
    ipn(&lab, &k, &["link", "add", "brk", "type", "bridge"]);
    ipn(&lab, &k, &["link", "set", "vxk", "master", "brk", "up"]);
    ipn(&lab, &k, &["link", "set", "hp", "master", "brk"]);
    ipn(&lab, &k, &["link", "set", "brk", "up"]);
    // patchbay's.
    lab.start_daemon_in(Some(&u), &[]).unwrap();
    let mut add = vec!["link", "add", "vx0", "type", "vxlan", "id", "100"];
    add.extend(["local", local("198.18.20.1"), "dstport", "4789"]);
    add.extend(how("198.18.20.2"));
    lab.pb(&add).unwrap();
    if mode == Mode::HeadEnd {
        lab.pb(&[
            "bridge",
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "vx0",
            "dst",
            "198.18.20.2",
        ])
        .unwrap();
    }
    lab.pb(&["link", "add", "br0", "type", "bridge"]).unwrap();
    lab.pb(&["link", "set", "vx0", "master", "br0"]).unwrap();
    lab.pb(&["link", "set", "hp", "master", "br0"]).unwrap();
    lab.pb(&["link", "set", "vx0", "up"]).unwrap();
    lab.pb(&["link", "set", "br0", "up"]).unwrap();

    lab.exec_ok(
        &h1,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.30.2"],
    )
    .unwrap();
    tcp_transfer(&h1, &h2, "198.18.30.2", 4 << 20);
    // Learning on both sides: each knows the other's host behind the
    // other's VTEP.
    let mac = |ns: &str| {
        lab.exec_ok(ns, &["cat", "/sys/class/net/eth0/address"])
            .unwrap()
            .trim()
            .to_string()
    };
    let (m1, m2) = (mac(&h1), mac(&h2));
    let ours = lab.pb(&["bridge", "fdb", "show", "dev", "vx0"]).unwrap();
    let default = match mode {
        Mode::Group => "00:00:00:00:00:00 dev vx0 dst 239.1.1.1 self permanent",
        Mode::Group6 => "00:00:00:00:00:00 dev vx0 dst ff05::100 self permanent",
        Mode::Remote6 => "00:00:00:00:00:00 dev vx0 dst fd00:20::2 self permanent",
        _ => "00:00:00:00:00:00 dev vx0 dst 198.18.20.2 self permanent",
    };
    assert!(ours.contains(default), "{ours}");
    assert!(
        ours.contains(&format!("{m2} dev vx0 dst {} self", local("198.18.20.2"))),
        "{ours}"
    );
    let theirs = lab
        .ip(&["netns", "exec", &k, "bridge", "fdb", "show", "dev", "vxk"])
        .unwrap();
    assert!(
        theirs.contains(&format!("{m1} dst {}", local("198.18.20.1"))),
        "{theirs}"
    );
}

#[test]
fn a_patchbay_vtep_talks_to_the_kernels_with_remote() {
    vtep_pair(Mode::Remote);
}

#[test]
fn a_patchbay_vtep_talks_to_the_kernels_by_head_end_replication() {
    vtep_pair(Mode::HeadEnd);
}

#[test]
fn a_patchbay_vtep_talks_to_the_kernels_over_a_multicast_group() {
    vtep_pair(Mode::Group);
}

#[test]
fn a_patchbay_vtep_talks_to_the_kernels_over_ipv6() {
    vtep_pair(Mode::Remote6);
}

#[test]
fn a_patchbay_vtep_talks_to_the_kernels_over_an_ipv6_multicast_group() {
    vtep_pair(Mode::Group6);
}

#[test]
fn three_patchbay_instances_form_one_segment_by_head_end_replication() {
    // Three labs, three daemons, each in its own namespace standing for a
    // machine; a kernel bridge in `net` is the underlay between them.
    let Some(mut a) = lab("va") else { return };
    let (Some(mut b), Some(mut c)) = (lab("vb"), lab("vc")) else {
        return;
    };
    let net = a.netns("net").unwrap();
    ipn(&a, &net, &["link", "add", "name", "ubr", "type", "bridge"]);
    ipn(&a, &net, &["link", "set", "ubr", "up"]);
    let mut hosts = Vec::new();
    for (i, l) in [&mut a, &mut b, &mut c].into_iter().enumerate() {
        let n = i + 1;
        let (u, h) = (l.netns("u").unwrap(), l.netns("h").unwrap());
        for ns in [&u, &h] {
            ipn(l, ns, &["link", "set", "lo", "up"]);
        }
        veth(l, &u, "ul", &net, &format!("p{n}"));
        ipn(l, &net, &["link", "set", &format!("p{n}"), "master", "ubr"]);
        ipn(
            l,
            &u,
            &["addr", "add", &format!("198.18.40.{n}/24"), "dev", "ul"],
        );
        veth(l, &u, "hp", &h, "eth0");
        ipn(
            l,
            &h,
            &["addr", "add", &format!("198.18.50.{n}/24"), "dev", "eth0"],
        );
        ipn(l, &h, &["link", "set", "eth0", "mtu", "1450"]);
        l.exec_ok(
            &h,
            &["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_broadcasts=0"],
        )
        .unwrap();
        l.start_daemon_in(Some(&u), &[]).unwrap();
        let local = format!("198.18.40.{n}");
        l.pb(&[
            "link", "add", "vx0", "type", "vxlan", "id", "100", "local", &local, "dstport", "4789",
        ])
        .unwrap();
        for m in (1..=3).filter(|m| *m != n) {
            l.pb(&[
                "bridge",
                "fdb",
                "append",
                "00:00:00:00:00:00",
                "dev",
                "vx0",
                "dst",
                &format!("198.18.40.{m}"),
            ])
            .unwrap();
        }
        l.pb(&["link", "add", "br0", "type", "bridge"]).unwrap();
        l.pb(&["link", "set", "vx0", "master", "br0"]).unwrap();
        l.pb(&["link", "set", "hp", "master", "br0"]).unwrap();
        l.pb(&["link", "set", "vx0", "up"]).unwrap();
        l.pb(&["link", "set", "br0", "up"]).unwrap();
        hosts.push(h);
    }
    // Every host reaches every other.
    for (x, y) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
        a.exec_ok(
            &hosts[x],
            &[
                "ping",
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
                &format!("198.18.50.{}", y + 1),
            ],
        )
        .unwrap_or_else(|e| panic!("h{} to h{}: {e}", x + 1, y + 1));
    }
    // TCP with the hosts' default offloads, patchbay to patchbay: a TSO
    // packet leaves as one UDP GSO send and arrives as one GRO read (the
    // kernel bridge between carries it whole); every byte arrives intact.
    tcp_transfer(&hosts[0], &hosts[1], "198.18.50.2", 4 << 20);
    // A broadcast arrives once at each other host: h1 pings the subnet's
    // broadcast address; h2 and h3 count the echo requests they receive.
    let counters: Vec<_> = hosts[1..]
        .iter()
        .map(|h| {
            std::process::Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    h,
                    "timeout",
                    "4",
                    "tcpdump",
                    "-n",
                    "-l",
                    "-i",
                    "eth0",
                    "icmp[icmptype] == 8",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = a.exec(
        &hosts[0],
        &[
            "ping",
            "-b",
            "-c",
            "5",
            "-i",
            "0.2",
            "-W",
            "1",
            "198.18.50.255",
        ],
    );
    for (i, c) in counters.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        let n = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("ICMP echo request"))
            .count();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(n, 5, "h{} saw {n} copies of 5 broadcasts:\n{text}", i + 2);
    }
}

/// `proxy`: the same ARP request from the same host (same MAC, same
/// address) to a kernel VTEP and to patchbay's, each with the same
/// neighbour entry: the replies the hosts receive are the same bytes, and
/// neither VTEP sent anything into the tunnel.
#[test]
fn the_proxy_answers_arp_as_the_kernels_does() {
    use patchbay_lab::raw_capture;
    use std::time::Duration;
    let Some(mut lab) = lab("vp") else { return };
    let (u, k, h1, h2) = (
        lab.netns("u").unwrap(),
        lab.netns("k").unwrap(),
        lab.netns("h1").unwrap(),
        lab.netns("h2").unwrap(),
    );
    for (vtep, h) in [(&u, &h1), (&k, &h2)] {
        veth(&lab, vtep, "hp", h, "eth0");
        ipn(
            &lab,
            h,
            &["link", "set", "eth0", "address", "02:00:00:00:00:01"],
        );
        ipn(&lab, h, &["addr", "add", "198.18.30.1/24", "dev", "eth0"]);
    }
    let vx = [
        "type", "vxlan", "id", "100", "dstport", "4789", "proxy", "l3miss",
    ];
    let neigh = [
        "neigh",
        "add",
        "198.18.30.9",
        "lladdr",
        "02:00:00:00:00:09",
        "nud",
        "permanent",
        "dev",
    ];
    let mut add = vec!["link", "add", "vxk"];
    add.extend(vx);
    ipn(&lab, &k, &add);
    let mut n = neigh.to_vec();
    n.push("vxk");
    ipn(&lab, &k, &n);
    ipn(&lab, &k, &["link", "add", "name", "brk", "type", "bridge"]);
    ipn(&lab, &k, &["link", "set", "vxk", "master", "brk", "up"]);
    ipn(&lab, &k, &["link", "set", "hp", "master", "brk"]);
    ipn(&lab, &k, &["link", "set", "brk", "up"]);
    lab.start_daemon_in(Some(&u), &[]).unwrap();
    let mut add = vec!["link", "add", "vx0"];
    add.extend(vx);
    lab.pb(&add).unwrap();
    let mut n = neigh.to_vec();
    n.push("vx0");
    lab.pb(&n).unwrap();
    for l in [
        "link add br0 type bridge",
        "link set vx0 master br0",
        "link set hp master br0",
        "link set vx0 up",
        "link set br0 up",
    ] {
        lab.pb(&l.split(' ').collect::<Vec<_>>()).unwrap();
    }
    let arp_replies = |h: &str| -> Vec<Vec<u8>> {
        let cap = raw_capture(h, "eth0", Duration::from_millis(1500)).unwrap();
        // The ping itself goes nowhere (02:..:09 is not behind any
        // remote); its ARP request is what matters.
        let _ = lab.exec(h, &["ping", "-c", "1", "-W", "1", "198.18.30.9"]);
        cap.join()
            .unwrap()
            .unwrap()
            .into_iter()
            .filter(|f| f.len() >= 14 && f[12..14] == [0x08, 0x06])
            .collect()
    };
    let theirs = arp_replies(&h2);
    let ours = arp_replies(&h1);
    assert_eq!(theirs.len(), 1, "the kernel's proxy answers once");
    assert_eq!(
        &theirs[0][..12],
        &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9],
        "from the neighbour's MAC to the host"
    );
    assert_eq!(
        ours, theirs,
        "patchbay's reply is the kernel's, byte for byte"
    );
    let host_neigh = lab
        .exec_ok(&h1, &["ip", "neigh", "show", "198.18.30.9"])
        .unwrap();
    assert!(
        host_neigh.contains("lladdr 02:00:00:00:00:09"),
        "{host_neigh}"
    );
    // One reply made; the echo request that followed had nowhere to go
    // (no remote, no default entry) and is the one no_egress drop.
    let stats = lab.pb(&["stats", "vx0"]).unwrap();
    assert!(stats.contains("1 proxy replies"), "{stats}");
    assert!(stats.contains("no_egress 1"), "{stats}");
}
