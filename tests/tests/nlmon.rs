//! nlmon and `patchbay monitor` (root; tshark; CI rules as in netns.rs): a
//! scripted session (a bridge created, a port added, a MAC learned, the
//! MAC aged out) captured on an nlmon device decodes in tshark as
//! rtnetlink with no errors, and `patchbay monitor` prints the same
//! changes as `ip monitor` would.

use patchbay_tests::{lab, require};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ipn(lab: &patchbay_lab::Lab, ns: &str, args: &[&str]) {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a)
        .unwrap_or_else(|e| panic!("ip -n {ns} {args:?}: {e}"));
}

#[test]
fn an_nlmon_capture_of_a_bridge_session_decodes_as_rtnetlink() {
    if !require(&["tshark"], "tshark") {
        return;
    }
    let Some(mut lab) = lab("nl") else { return };
    let (m, h) = (lab.netns("m").unwrap(), lab.netns("h").unwrap());
    lab.ip(&[
        "link", "add", "p1", "netns", &m, "type", "veth", "peer", "name", "eth0", "netns", &h,
    ])
    .unwrap();
    ipn(&lab, &m, &["link", "set", "p1", "up"]);
    ipn(
        &lab,
        &h,
        &["link", "set", "eth0", "address", "02:00:00:00:77:01", "up"],
    );
    ipn(&lab, &h, &["addr", "add", "198.18.67.1/24", "dev", "eth0"]);
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    lab.pb(&["link", "add", "nlmon0", "type", "nlmon"]).unwrap();
    lab.pb(&["link", "set", "nlmon0", "up"]).unwrap();
    let pcap = std::env::temp_dir().join(format!("pb-nlmon-{}.pcap", lab.tag));
    let sock = lab.socket.clone();
    let spawn = |args: &[&str]| {
        Command::new(&lab.patchbay)
            .arg("--socket")
            .arg(&sock)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map(patchbay_lab::Proc::new)
            .unwrap()
    };
    let mut cap = spawn(&["capture", "nlmon0", "-w", pcap.to_str().unwrap()]);
    let mut mon = spawn(&["monitor"]);
    std::thread::sleep(Duration::from_millis(500));
    // The session.
    for l in [
        "link add br0 type bridge ageing_time 200",
        "link set p1 master br0",
        "link set br0 up",
    ] {
        lab.pb(&l.split(' ').collect::<Vec<_>>()).unwrap();
    }
    // The host speaks (an ARP request): its MAC is learned on p1, and
    // ages out 2 s later.
    let _ = lab.exec(&h, &["ping", "-c", "1", "-W", "1", "198.18.67.2"]);
    std::thread::sleep(Duration::from_millis(4500));
    let fdb = lab.pb(&["bridge", "fdb", "show", "br", "br0"]).unwrap();
    assert!(!fdb.contains("02:00:00:00:77:01"), "aged out: {fdb}");
    // SIGTERM: the capture writes what it has and exits.
    cap.terminate();
    mon.terminate();
    let _ = cap.wait();
    let out = mon.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let tsh = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "netlink-route.nltype",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .unwrap();
    let verbose = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .arg("-V")
        .output()
        .unwrap();
    let file = std::fs::read(&pcap).unwrap();
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(
        u32::from_le_bytes(file[20..24].try_into().unwrap()),
        253,
        "LINKTYPE_NETLINK"
    );
    let fields = String::from_utf8_lossy(&tsh.stdout).into_owned();
    let v = String::from_utf8_lossy(&verbose.stdout).into_owned();
    assert!(!v.contains("Malformed"), "{v}");
    for l in fields.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        assert!(
            f.get(1).is_none_or(|s| s.is_empty()),
            "expert info: {fields}"
        );
    }
    // The session's messages, in order: the bridge, the port joining it,
    // the MAC learned, the MAC aged out.
    let types: Vec<&str> = fields
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    let pos = |t: &str| types.iter().position(|x| *x == t);
    let (new_link, new_neigh, del_neigh) = (pos("16"), pos("28"), pos("29"));
    assert!(
        new_link.is_some() && new_neigh.is_some() && del_neigh.is_some(),
        "{fields}\n{text}"
    );
    assert!(new_link < new_neigh && new_neigh < del_neigh, "{fields}");
    assert!(v.contains("Linux netlink") || v.contains("Netlink"), "{v}");
    assert!(v.contains("br0"), "{v}");
    // The monitor saw the same, in ip monitor's words.
    assert!(text.contains(": br0: <"), "{text}");
    assert!(
        text.contains("dev p1 lladdr 02:00:00:00:77:01 REACHABLE"),
        "{text}"
    );
    assert!(
        text.contains("Deleted dev p1 lladdr 02:00:00:00:77:01 STALE"),
        "{text}"
    );
}

/// The session both rtnetlink tests run, on the kernel and on patchbay.
const SESSION: [&[&str]; 8] = [
    &["link", "add", "br0", "type", "bridge"],
    &["link", "set", "n3", "master", "br0"],
    &["link", "set", "n1", "master", "br0"],
    &[
        "bridge",
        "fdb",
        "add",
        "02:00:00:00:77:01",
        "dev",
        "n1",
        "master",
        "static",
    ],
    &[
        "bridge",
        "fdb",
        "del",
        "02:00:00:00:77:01",
        "dev",
        "n1",
        "master",
    ],
    &["link", "set", "n1", "nomaster"],
    &["link", "set", "n1", "master", "br0"],
    &["link", "del", "br0"],
];

/// In each namespace, veths n1 (02:00:00:00:00:01) and n3 (…:03), their
/// peers n2 and n4.
fn two_ports(lab: &patchbay_lab::Lab, nss: &[&str]) {
    for ns in nss {
        for (d, peer, mac) in [
            ("n1", "n2", "02:00:00:00:00:01"),
            ("n3", "n4", "02:00:00:00:00:03"),
        ] {
            ipn(
                lab,
                ns,
                &["link", "add", d, "type", "veth", "peer", "name", peer],
            );
            ipn(lab, ns, &["link", "set", d, "address", mac]);
        }
    }
}

/// Whether the kernel here can filter VLANs (and so makes VLAN 1).
fn filters_vlans(lab: &patchbay_lab::Lab, ns: &str) -> bool {
    let ok = Command::new("ip")
        .args([
            "-n",
            ns,
            "link",
            "add",
            "vf0",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ])
        .output()
        .unwrap()
        .status
        .success();
    if ok {
        ipn(lab, ns, &["link", "del", "vf0"]);
    }
    ok
}

/// One rtnetlink message, as the comparison sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Nl {
    ty: u16,
    family: u8,
    flags: u16,
    seq: u32,
    /// `ifi_change` (links) or NUD state and `ndm_flags` (neighbours).
    change: u32,
    /// Top-level attribute types in order, 0x8000 set where nested.
    attrs: Vec<u16>,
}

fn nl_parse(m: &[u8]) -> Option<Nl> {
    let u16_at = |i: usize| u16::from_ne_bytes([m[i], m[i + 1]]);
    let u32_at = |i: usize| u32::from_ne_bytes(m[i..i + 4].try_into().unwrap());
    if m.len() < 17 {
        return None;
    }
    let ty = u16_at(4);
    let (change, body) = match ty {
        16 | 17 if m.len() >= 32 => (u32_at(28), 32),
        28..=30 if m.len() >= 28 => (u32::from(u16_at(24)) << 8 | u32::from(m[26]), 28),
        _ => return None,
    };
    let mut attrs = vec![];
    let mut i = body;
    while i + 4 <= m.len() {
        let (l, t) = (usize::from(u16_at(i)), u16_at(i + 2));
        if l < 4 {
            break;
        }
        attrs.push(t & 0x8000 | t & 0x3fff);
        i += l.next_multiple_of(4);
    }
    Some(Nl {
        ty,
        family: m[16],
        flags: u16_at(6),
        seq: u32_at(8),
        change,
        attrs,
    })
}

fn is_subsequence(small: &[u16], big: &[u16]) -> bool {
    let mut it = big.iter();
    small.iter().all(|a| it.any(|b| b == a))
}

/// The rtnetlink stream of one bridge session, the kernel's (a kernel
/// bridge in a namespace, read on a NETLINK_ROUTE socket in the link,
/// neigh and mdb groups) and patchbay's (`patchbay monitor`, the same
/// messages nlmon carries), compared after each operation field by field:
/// the message types and families, `nlmsg_flags`, sequence numbers,
/// `ifi_change`, neighbour states and flags, and the attributes and their
/// nesting. What may differ: ifindex values and addresses; timing and the
/// order within one operation; how often the kernel repeats an
/// RTM_NEWLINK (one per flag change, such as promiscuity); the attributes
/// of a family-0 RTM_NEWLINK patchbay does not carry (statistics, queues,
/// GSO limits; what it carries must come in the kernel's order);
/// IFLA_LINK in a veth port's AF_BRIDGE messages (its peer's index); and,
/// where the kernel here has no VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING
/// off, as on this machine: it makes no VLAN 1), patchbay's local entries
/// of VLAN 1, which a kernel with it makes and announces.
#[test]
fn the_rtnetlink_stream_is_the_kernels_for_a_bridge_session() {
    let Some(mut lab) = lab("nk") else { return };
    let (k, p) = (lab.netns("k").unwrap(), lab.netns("p").unwrap());
    // Two ports, n1 with the smaller address: the bridge takes it while
    // n1 is a port, and n3's when n1 leaves (not the last port's leaving,
    // where the kernel's bridge takes 00:00:00:00:00:00 and patchbay's
    // keeps its address: see Deviations).
    two_ports(&lab, &[&k, &p]);
    let vlans = filters_vlans(&lab, &k);
    lab.start_daemon_in(Some(&p), &[]).unwrap();
    let (kernel, kstop) = patchbay_lab::rtnl_listen(&k, &[1, 3, 26]).unwrap();
    // patchbay's stream: the monitor request, then a pcap of cooked
    // netlink records.
    let (ptx, pb_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let mon = std::os::unix::net::UnixStream::connect(&lab.socket).unwrap();
    {
        use std::io::Write;
        (&mon).write_all(b"{\"monitor\":true}\n").unwrap();
    }
    let reader = {
        let mon = mon.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::{BufRead, Read};
            let mut r = std::io::BufReader::new(mon);
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("\"ok\":true"), "{line}");
            let mut hdr = [0u8; 24];
            if r.read_exact(&mut hdr).is_err() {
                return;
            }
            let mut rec = [0u8; 16];
            while r.read_exact(&mut rec).is_ok() {
                let n = u32::from_le_bytes(rec[8..12].try_into().unwrap()) as usize;
                let mut data = vec![0u8; n];
                if r.read_exact(&mut data).is_err() {
                    return;
                }
                let _ = ptx.send(data[16..].to_vec());
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let drain = |rx: &std::sync::mpsc::Receiver<Vec<u8>>| -> Vec<Nl> {
        std::iter::from_fn(|| rx.recv_timeout(Duration::from_millis(500)).ok())
            .filter_map(|m| nl_parse(&m))
            .collect()
    };
    let mut failures = vec![];
    for op in SESSION {
        let (tool, words) = match op[0] {
            "bridge" => ("bridge", &op[1..]),
            _ => ("ip", op),
        };
        let mut args = vec!["-n", k.as_str()];
        args.extend_from_slice(words);
        let o = Command::new(tool).args(&args).output().unwrap();
        assert!(o.status.success(), "{tool} {args:?}: {o:?}");
        lab.pb(op).unwrap();
        let (km, mut pm) = (drain(&kernel), drain(&pb_rx));
        if !vlans {
            pm.retain(|m| !(matches!(m.ty, 28 | 29) && m.attrs.contains(&5)));
        }
        let kinds = |v: &[Nl]| {
            let mut k: Vec<(u16, u8)> = v.iter().map(|m| (m.ty, m.family)).collect();
            k.sort();
            k.dedup();
            k
        };
        let what = format!("{}:\n  kernel {km:?}\n  patchbay {pm:?}", op.join(" "));
        if kinds(&km) != kinds(&pm) {
            failures.push(format!(
                "message kinds differ ({:?} vs {:?}) for {what}",
                kinds(&km),
                kinds(&pm)
            ));
            continue;
        }
        for m in &pm {
            let same: Vec<&Nl> = km
                .iter()
                .filter(|x| x.ty == m.ty && x.family == m.family)
                .collect();
            let ok = same.iter().any(|x| {
                x.flags == m.flags
                    && x.seq == m.seq
                    && x.change == m.change
                    && match (m.ty, m.family) {
                        // Neighbours and AF_BRIDGE links: every attribute,
                        // in order (less a veth's IFLA_LINK).
                        (28..=30, _) => x.attrs == m.attrs,
                        (16 | 17, 7) => {
                            x.attrs
                                .iter()
                                .filter(|a| **a != 5)
                                .copied()
                                .collect::<Vec<_>>()
                                == m.attrs
                        }
                        _ => is_subsequence(&m.attrs, &x.attrs),
                    }
            });
            if !ok {
                failures.push(format!("no kernel message like {m:?} for {what}"));
            }
        }
    }
    kstop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = mon.shutdown(std::net::Shutdown::Both);
    let _ = reader.join();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Reads a monitor's output as it comes, for [`records`].
fn collect(p: &mut patchbay_lab::Proc) -> std::sync::Arc<std::sync::Mutex<String>> {
    let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stdout = p.take_stdout().expect("piped stdout");
    let o = out.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            o.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    out
}

/// Monitor text as records (a link's second line joined to its first),
/// trailing blanks trimmed, ifindex values replaced by `N`.
fn records(text: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for l in text.lines() {
        let l = l.trim_end();
        if let (Some(cont), Some(last)) = (l.strip_prefix("    "), v.last_mut()) {
            last.push_str(" | ");
            last.push_str(cont);
            continue;
        }
        if !l.is_empty() {
            v.push(l.to_string());
        }
    }
    v.iter()
        .map(|r| {
            let (del, rest) = match r.strip_prefix("Deleted ") {
                Some(x) => ("Deleted ", x),
                None => ("", r.as_str()),
            };
            match rest.split_once(": ") {
                Some((i, tail)) if i.chars().all(|c| c.is_ascii_digit()) => {
                    format!("{del}N: {tail}")
                }
                _ => r.clone(),
            }
        })
        .collect()
}

/// `patchbay monitor` and `patchbay bridge monitor` print the lines
/// iproute2's `ip monitor` and `bridge monitor` print for the kernel's
/// bridge, through the session of the stream test above, operation by
/// operation (as sets: the order within one operation may differ). What
/// may differ, each a deviation named in ARCHITECTURE.md: ifindex values
/// and the bridge's first (random) address;
/// the kernel's repeated RTM_NEWLINKs (`event FEATURE CHANGE` and the
/// like) and its IPv4/IPv6 netconf lines, which patchbay does not send; a
/// veth port's `@peer` (IFLA_LINK) and the `M-DOWN` iproute2 derives
/// from it; and, where the kernel here has no VLAN
/// filtering, patchbay's VLAN 1 entries.
#[test]
fn patchbay_monitor_prints_what_ip_and_bridge_monitor_print() {
    let Some(mut lab) = lab("nm") else { return };
    let (k, p) = (lab.netns("k").unwrap(), lab.netns("p").unwrap());
    two_ports(&lab, &[&k, &p]);
    let vlans = filters_vlans(&lab, &k);
    lab.start_daemon_in(Some(&p), &[]).unwrap();
    let pbin = lab.patchbay.to_str().unwrap().to_string();
    let sock = lab.socket.to_str().unwrap().to_string();
    let mut procs = vec![
        lab.spawn(&k, &["ip", "monitor"]).unwrap(),
        lab.spawn(&k, &["bridge", "monitor"]).unwrap(),
        lab.spawn(&p, &[&pbin, "--socket", &sock, "monitor"])
            .unwrap(),
        lab.spawn(&p, &[&pbin, "--socket", &sock, "bridge", "monitor"])
            .unwrap(),
    ];
    let outs: Vec<_> = procs.iter_mut().map(collect).collect();
    std::thread::sleep(Duration::from_millis(500));
    let kernel_only = |r: &String| {
        r.starts_with("inet ")
            || r.starts_with("inet6 ")
            || r.starts_with("Deleted inet")
            || r.contains(" event ")
    };
    // A veth's "@peer" after its name: patchbay does not carry IFLA_LINK.
    let no_peer = |r: String| -> String {
        match r.split_once(": ") {
            Some((head, tail)) => match tail.split_once(": <") {
                Some((name, rest)) => {
                    // And M-DOWN, which iproute2 derives from that peer.
                    let name = name.split('@').next().unwrap_or(name);
                    let rest = rest.replace(",M-DOWN>", ">");
                    format!("{head}: {name}: <{rest}")
                }
                None => r.clone(),
            },
            None => r,
        }
    };
    // The address each bridge starts with is random: named BRADDR, from
    // the entry each stream announces for it first.
    let mut braddr: Vec<Option<String>> = vec![None; 4];
    let mut seen = [0usize; 4];
    let mut failures = Vec::new();
    let mut shown = String::new();
    for op in SESSION {
        let (tool, words) = match op[0] {
            "bridge" => ("bridge", &op[1..]),
            _ => ("ip", op),
        };
        let mut args = vec!["-n", k.as_str()];
        args.extend_from_slice(words);
        let o = Command::new(tool).args(&args).output().unwrap();
        assert!(o.status.success(), "{tool} {args:?}: {o:?}");
        lab.pb(op).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        let new: Vec<Vec<String>> = outs
            .iter()
            .zip(seen.iter_mut())
            .map(|(o, s)| {
                let all = o.lock().unwrap().clone();
                // Whole lines only.
                let end = all.rfind('\n').map_or(0, |i| i + 1);
                let chunk = all[*s..end].to_string();
                *s = end;
                records(&chunk)
            })
            .zip(braddr.iter_mut())
            .map(|(rs, b)| {
                for r in &rs {
                    let w: Vec<&str> = r.split(' ').collect();
                    let found = match w.as_slice() {
                        ["dev", "br0", "lladdr", mac, "PERMANENT"] => Some(*mac),
                        [mac, "dev", "br0", "master", "br0", "permanent"] => Some(*mac),
                        _ => None,
                    };
                    if b.is_none() {
                        *b = found.map(str::to_string);
                    }
                }
                rs.into_iter()
                    .map(|r| match b {
                        Some(m) => r.replace(m.as_str(), "BRADDR"),
                        None => r,
                    })
                    .collect::<Vec<String>>()
            })
            .collect();
        for (i, what) in [(0, "ip monitor"), (1, "bridge monitor")] {
            let theirs: std::collections::BTreeSet<String> = new[i]
                .iter()
                .filter(|r| !kernel_only(r))
                .cloned()
                .map(no_peer)
                .collect();
            let ours: std::collections::BTreeSet<String> = new[i + 2]
                .iter()
                .filter(|r| vlans || !r.contains(" vlan "))
                .cloned()
                .collect();
            shown.push_str(&format!(
                "{} [{what}]\n  kernel:   {theirs:?}\n  patchbay: {ours:?}\n",
                op.join(" ")
            ));
            if theirs.is_empty() {
                failures.push(format!(
                    "{} [{what}]: the kernel's printed nothing",
                    op.join(" ")
                ));
            }
            if theirs != ours {
                failures.push(format!(
                    "{} [{what}]: only the kernel's: {:?}; only patchbay's: {:?}",
                    op.join(" "),
                    theirs.difference(&ours).collect::<Vec<_>>(),
                    ours.difference(&theirs).collect::<Vec<_>>()
                ));
            }
        }
    }
    for mut p in procs {
        p.terminate();
        let _ = p.wait();
    }
    eprintln!("{shown}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
