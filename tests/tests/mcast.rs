//! Multicast snooping A/B against the kernel bridge, in network namespaces
//! (root; skipped without, failing under CI=true). Each side has three
//! hosts on veths: `a` sends to a group, `b` joins it with a socket
//! (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP: Linux hosts report with IGMPv3 and
//! MLDv2, which the bridges at their default IGMPv2/MLDv1 take as joins),
//! `c` does not. The kernel's bridge lives in a namespace of its own, the
//! patchbay daemon's ports are the root namespace's veth ends. Both bridges
//! are `mcast_snooping 1 mcast_querier 1` with a 3 s query response
//! interval (the start-up delay during which both flood).

use patchbay_lab::Lab;
use patchbay_tests::{json, lab};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Counts, for `secs`, the frames `eth0` receives that are UDP to `group`
/// port 5000 (AF_PACKET: whether or not this host is a member); joins the
/// group first when `join` is 1, or only for source `join` (IPv4, then
/// the host's own address follows). Prints the count.
const COUNTER: &str = r#"
import socket, struct, sys, time
fam, group, join, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
keep = None
if join not in ("0", "1"):
    # A source-specific join (INCLUDE {join}): struct ip_mreq_source, with
    # the interface's address (the hosts have no route to pick one).
    me = socket.inet_aton(sys.argv[5])
    keep = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep.setsockopt(socket.IPPROTO_IP, 39, socket.inet_aton(group) + me + socket.inet_aton(join))
elif join == "1":
    if fam == "4":
        keep = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # ip_mreqn with the interface: the hosts have no route to pick one.
        keep.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        socket.inet_aton(group) + socket.inet_aton("0.0.0.0")
                        + struct.pack("@i", socket.if_nametoindex("eth0")))
    else:
        keep = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        keep.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                        socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", socket.if_nametoindex("eth0")))
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
raw.bind(("eth0", 0))
raw.settimeout(0.1)
want = socket.inet_pton(socket.AF_INET if fam == "4" else socket.AF_INET6, group)
n, end = 0, time.time() + secs
print("ready", flush=True)
while time.time() < end:
    try:
        f = raw.recv(2048)
    except socket.timeout:
        continue
    if fam == "4" and f[12:14] == b"\x08\x00" and f[14 + 16:14 + 20] == want and f[14 + 9] == 17:
        n += 1
    if fam == "6" and f[12:14] == b"\x86\xdd" and f[14 + 24:14 + 40] == want and f[14 + 6] == 17:
        n += 1
print(n, flush=True)
"#;

/// Sends `n` datagrams to `group` port 5000 out of eth0, 5 ms apart.
const SENDER: &str = r#"
import socket, struct, sys, time
fam, group, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if fam == "4":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    dst = (group, 5000)
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("eth0"))
    dst = (group, 5000, 0, socket.if_nametoindex("eth0"))
for i in range(n):
    s.sendto(b"patchbay multicast %d" % i, dst)
    time.sleep(0.005)
"#;

const PY: &str = "/usr/bin/python3";

/// One side of the A/B: three host namespaces and a bridge, with a way to
/// read its MDB as (host, group) pairs.
struct Side {
    kernel: bool,
    /// The kernel bridge's namespace.
    ks: Option<String>,
    /// (host namespace, its bridge port).
    hosts: Vec<(String, String)>,
}

/// The bridge is made with these, then given `mcast_querier 1` in a
/// command of its own: in one command the kernel turns the querier on
/// before it takes the new response interval (`br_changelink`'s order),
/// and the start-up delay would be the default 10 s. Startup queries 1 s
/// apart: the kernel bridge's first MLD queries find no IPv6 address on
/// it yet (it gets its link-local once a port forwards), and until one
/// goes out it counts no MLD querier of its own.
const OPTS: &[&str] = &[
    "mcast_snooping",
    "1",
    "mcast_query_response_interval",
    "300",
    "mcast_startup_query_interval",
    "100",
];

fn hosts(lab: &mut Lab, p: &str, v6: bool) -> Vec<(String, String)> {
    ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let ns = lab.netns(&format!("{p}{h}")).unwrap();
            let port = lab
                .veth_host(&format!("{p}p{h}"), &ns, &format!("198.18.40.{}/24", i + 1))
                .unwrap();
            if v6 {
                // IPv6 on, without DAD: the host reports its groups (its
                // solicited-node group too) at once.
                lab.exec_ok(
                    &ns,
                    &[
                        "sysctl",
                        "-qw",
                        "net.ipv6.conf.eth0.accept_dad=0",
                        "net.ipv6.conf.eth0.disable_ipv6=0",
                    ],
                )
                .unwrap();
            }
            (ns, port)
        })
        .collect()
}

impl Side {
    fn kernel(lab: &mut Lab, v6: bool, extra: &[&str]) -> Side {
        let ks = lab.netns("ks").unwrap();
        let hosts = hosts(lab, "k", v6);
        let mut args = vec!["-n", &ks, "link", "add", "br0", "type", "bridge"];
        args.extend_from_slice(OPTS);
        args.extend_from_slice(extra);
        lab.ip(&args).unwrap();
        lab.ip(&[
            "-n",
            &ks,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_querier",
            "1",
        ])
        .unwrap();
        // The bridge's own MLD querier needs an IPv6 address (a link-local
        // one, without DAD), as the kernel's does.
        lab.exec_ok(
            &ks,
            &[
                "sysctl",
                "-qw",
                "net.ipv6.conf.br0.accept_dad=0",
                "net.ipv6.conf.br0.disable_ipv6=0",
            ],
        )
        .unwrap();
        for (_, port) in &hosts {
            lab.ip(&["link", "set", port, "netns", &ks]).unwrap();
            lab.ip(&["-n", &ks, "link", "set", port, "master", "br0", "up"])
                .unwrap();
        }
        lab.ip(&["-n", &ks, "link", "set", "br0", "up"]).unwrap();
        Side {
            kernel: true,
            ks: Some(ks),
            hosts,
        }
    }

    fn patchbay(lab: &mut Lab, v6: bool, extra: &[&str]) -> Side {
        let hosts = hosts(lab, "p", v6);
        lab.start_daemon().unwrap();
        let br = lab.name("br");
        let mut add = vec!["link", "add", &br, "type", "bridge"];
        add.extend_from_slice(OPTS);
        add.extend_from_slice(extra);
        lab.pb(&add).unwrap();
        lab.pb(&["link", "set", &br, "type", "bridge", "mcast_querier", "1"])
            .unwrap();
        for (_, port) in &hosts {
            lab.pb(&["link", "set", port, "master", &br]).unwrap();
        }
        lab.pb(&["link", "set", &br, "up"]).unwrap();
        Side {
            kernel: false,
            ks: None,
            hosts,
        }
    }

    fn name(&self) -> &'static str {
        if self.kernel {
            "kernel"
        } else {
            "patchbay"
        }
    }

    fn host(&self, i: usize) -> &str {
        &self.hosts[i].0
    }

    /// `bridge -j mdb show` of the bridge: (host index, group) of every
    /// port entry, solicited-node groups as "solicited-node" (the bridge's own joins left out: the kernel bridge
    /// joins ff02::6a and its solicited-node group, patchbay's has no
    /// IPv6 stack of its own).
    fn mdb(&self, lab: &Lab) -> BTreeSet<(usize, String)> {
        self.mdb_sg(lab)
            .into_iter()
            .filter(|e| e.2.is_empty())
            .map(|e| (e.0, e.1))
            .collect()
    }

    /// Every port entry as (host index, group, source or "", flags).
    fn mdb_sg(&self, lab: &Lab) -> BTreeSet<(usize, String, String, String)> {
        let text = match &self.ks {
            Some(ks) => {
                let o = std::process::Command::new("bridge")
                    .args(["-n", ks, "-j", "mdb", "show"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).into_owned()
            }
            None => lab.pb(&["-j", "bridge", "mdb", "show"]).unwrap(),
        };
        let v = json(&text);
        let mut set = BTreeSet::new();
        for b in v.as_array().unwrap() {
            for e in b["mdb"].as_array().into_iter().flatten() {
                let port = e["port"].as_str().unwrap();
                if let Some(i) = self.hosts.iter().position(|h| h.1 == port) {
                    // A host's solicited-node group follows its MAC, which
                    // differs between the sides.
                    let g = e["grp"].as_str().unwrap();
                    let g = if g.starts_with("ff02::1:ff") {
                        "solicited-node"
                    } else {
                        g
                    };
                    let src = e["src"].as_str().unwrap_or("").to_string();
                    let flags: Vec<&str> = e["flags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.as_str())
                        .collect();
                    set.insert((i, g.to_string(), src, flags.join(",")));
                }
            }
        }
        set
    }

    /// `bridge monitor mdb` on the bridge, running (the kernel's line
    /// buffered: it is killed at the end).
    fn monitor(&self, lab: &Lab) -> patchbay_lab::Proc {
        match &self.ks {
            Some(ks) => lab
                .spawn(ks, &["stdbuf", "-oL", "bridge", "monitor", "mdb"])
                .unwrap(),
            None => patchbay_lab::Proc::new(
                std::process::Command::new(&lab.patchbay)
                    .arg("--socket")
                    .arg(&lab.socket)
                    .args(["bridge", "monitor", "mdb"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap(),
            ),
        }
    }

    /// What a monitor printed, sorted, in words both sides share: the
    /// bridge as BR, ports by host (`port b`); the bridge's own entries
    /// and the hosts' solicited-node groups (joined as their addresses
    /// came up, perhaps before the monitor started) left out.
    fn monitored(&self, mut p: patchbay_lab::Proc) -> Vec<String> {
        p.terminate();
        let out = p.wait_with_output().unwrap();
        let mut lines = Vec::new();
        'line: for l in String::from_utf8_lossy(&out.stdout).lines() {
            let mut w: Vec<String> = l.split_whitespace().map(str::to_string).collect();
            for i in 0..w.len().saturating_sub(1) {
                let next = w[i + 1].clone();
                match w[i].as_str() {
                    "port" | "dev" | "master" => {
                        if let Some(h) = self.hosts.iter().position(|h| h.1 == next) {
                            w[i + 1] = ["a", "b", "c"][h].into();
                        } else if w[i] == "port" {
                            continue 'line;
                        } else {
                            w[i + 1] = "BR".into();
                        }
                    }
                    "grp" if next.starts_with("ff02::1:ff") => continue 'line,
                    _ => {}
                }
            }
            lines.push(w.join(" "));
        }
        lines.sort();
        lines
    }

    /// `bridge mdb add|del` on the bridge.
    fn mdb_cmd(&self, lab: &Lab, verb: &str, host: usize, group: &str) {
        let port = &self.hosts[host].1;
        let mut w = vec!["mdb", verb, "dev"];
        let br = lab.name("br");
        w.push(if self.kernel { "br0" } else { &br });
        w.extend(["port", port, "grp", group]);
        if verb == "add" {
            w.push("permanent");
        }
        match &self.ks {
            Some(ks) => {
                let mut a = vec!["-n", ks.as_str()];
                a.extend(&w);
                let o = std::process::Command::new("bridge")
                    .args(&a)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "bridge {a:?}: {o:?}");
            }
            None => {
                let mut a = vec!["bridge"];
                a.extend(&w);
                lab.pb(&a).unwrap();
            }
        }
    }

    fn set_fastleave(&self, lab: &Lab, host: usize) {
        let port = &self.hosts[host].1;
        match &self.ks {
            Some(ks) => {
                let o = std::process::Command::new("bridge")
                    .args(["-n", ks, "link", "set", "dev", port, "fastleave", "on"])
                    .status()
                    .unwrap();
                assert!(o.success());
            }
            None => {
                lab.pb(&["bridge", "link", "set", "dev", port, "fastleave", "on"])
                    .unwrap();
            }
        }
    }
}

/// Starts the counters on b (member) and c (not), sends `n` datagrams from
/// a, and returns (b's count, c's count).
fn deliver(lab: &Lab, s: &Side, fam: &str, group: &str, join_b: bool, n: u32) -> (u64, u64) {
    let secs = "4";
    let b = lab
        .spawn(
            s.host(1),
            &[
                PY,
                "-c",
                COUNTER,
                fam,
                group,
                if join_b { "1" } else { "0" },
                secs,
            ],
        )
        .unwrap();
    let c = lab
        .spawn(s.host(2), &[PY, "-c", COUNTER, fam, group, "0", secs])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    lab.exec_ok(s.host(0), &[PY, "-c", SENDER, fam, group, &n.to_string()])
        .unwrap();
    (count(b), count(c))
}

/// What a counter printed last: its count.
fn count(p: patchbay_lab::Proc) -> u64 {
    let o = p.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.lines()
        .last()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "the counter said {out:?} {}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
}

/// Waits until `cond` holds on both sides, up to `limit`.
fn wait_both(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A member that keeps its socket open for `secs` (so its reports keep
/// the entry), started in the background.
fn member(
    lab: &Lab,
    s: &Side,
    host: usize,
    fam: &str,
    group: &str,
    secs: &str,
) -> patchbay_lab::Proc {
    lab.spawn(s.host(host), &[PY, "-c", COUNTER, fam, group, "1", secs])
        .unwrap()
}

fn ab(fam: &str, group: &str) {
    if !patchbay_tests::require(&["bridge", "stdbuf", PY], "iproute2 coreutils python3") {
        return;
    }
    let Some(mut lab) = lab("mc") else { return };
    let v6 = fam == "6";
    let sides = [
        Side::kernel(&mut lab, v6, &[]),
        Side::patchbay(&mut lab, v6, &[]),
    ];
    let monitors: Vec<_> = sides.iter().map(|s| s.monitor(&lab)).collect();
    std::thread::sleep(Duration::from_millis(300));
    // Wait out the querier's start-up delay (3 s) on both; b joins.
    let mut members: Vec<_> = sides
        .iter()
        .map(|s| member(&lab, s, 1, fam, group, "60"))
        .collect();
    std::thread::sleep(Duration::from_millis(3500));
    for s in &sides {
        let (b, c) = deliver(&lab, s, fam, group, false, 50);
        assert_eq!((b, c), (50, 0), "{}: member b and non-member c", s.name());
    }
    // The same MDB: b's membership of the group (and, for IPv6, every
    // host's solicited-node group).
    let mdbs: Vec<_> = sides.iter().map(|s| s.mdb(&lab)).collect();
    assert!(
        mdbs[0].contains(&(1, group.to_string())),
        "kernel: {:?}",
        mdbs[0]
    );
    assert_eq!(mdbs[0], mdbs[1], "kernel's MDB, then patchbay's");
    // A group nobody joined: the kernel sends it to router ports only
    // (none here), so does patchbay.
    let other = if v6 { "ff0e::99" } else { "239.9.9.9" };
    for s in &sides {
        let (b, c) = deliver(&lab, s, fam, other, false, 20);
        assert_eq!((b, c), (0, 0), "{}: an unjoined group", s.name());
    }
    // Leave (the socket closes) without fast leave: the querier asks, the
    // entry lasts last_member_count × last_member_interval (2 s).
    for m in &mut members {
        m.kill();
    }
    std::thread::sleep(Duration::from_millis(300));
    for s in &sides {
        assert!(
            s.mdb(&lab).contains(&(1, group.to_string())),
            "{}: still a member 0.3 s after the leave",
            s.name()
        );
    }
    assert!(
        wait_both(Duration::from_secs(4), || sides
            .iter()
            .all(|s| !s.mdb(&lab).contains(&(1, group.to_string())))),
        "the entry goes within the last-member time on both"
    );
    // Fast leave: gone at once.
    for s in &sides {
        s.set_fastleave(&lab, 1);
        let mut m = member(&lab, s, 1, fam, group, "1.5");
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            s.mdb(&lab).contains(&(1, group.to_string())),
            "{}: joined",
            s.name()
        );
        m.wait().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    for s in &sides {
        assert!(
            !s.mdb(&lab).contains(&(1, group.to_string())),
            "{}: fast leave removed b at once",
            s.name()
        );
    }
    // After leaving, b gets nothing.
    for s in &sides {
        let (b, c) = deliver(&lab, s, fam, group, false, 20);
        assert_eq!((b, c), (0, 0), "{}: after the leave", s.name());
    }
    // A permanent entry by hand, and its deletion.
    let fixed = if v6 { "ff0e::1299" } else { "239.1.2.99" };
    for s in &sides {
        s.mdb_cmd(&lab, "add", 2, fixed);
        s.mdb_cmd(&lab, "del", 2, fixed);
    }
    std::thread::sleep(Duration::from_millis(300));
    // `bridge monitor mdb` printed the same on both: b's join and leave,
    // its join and fast leave, c's permanent entry added and deleted.
    let seen: Vec<Vec<String>> = sides
        .iter()
        .zip(monitors)
        .map(|(s, m)| s.monitored(m))
        .collect();
    let want = |l: &str| seen[0].iter().any(|x| x == l);
    assert!(
        want(&format!("dev BR port b grp {group} temp"))
            && want(&format!(
                "Deleted dev BR port b grp {group} temp fast_leave"
            ))
            && want(&format!("Deleted dev BR port c grp {fixed} permanent")),
        "the kernel's bridge monitor mdb: {:?}",
        seen[0]
    );
    assert_eq!(
        seen[0], seen[1],
        "bridge monitor mdb: the kernel's, then patchbay's"
    );
}

#[test]
fn igmp_snooping_matches_the_kernel_bridge() {
    ab("4", "239.1.2.3");
}

#[test]
fn mld_snooping_matches_the_kernel_bridge() {
    ab("6", "ff0e::1234");
}

/// IGMPv3 source filtering, both bridges at `mcast_igmp_version 3`: b
/// joins the group for a's address only (INCLUDE {a}); a's datagrams reach
/// b, c's (another source) do not; both bridges list the same *,G and
/// (S,G) entries.
#[test]
fn igmpv3_source_filtering_matches_the_kernel_bridge() {
    if !patchbay_tests::require(&["bridge", "stdbuf", PY], "iproute2 coreutils python3") {
        return;
    }
    let Some(mut lab) = lab("m3") else { return };
    let v3 = ["mcast_igmp_version", "3"];
    let sides = [
        Side::kernel(&mut lab, false, &v3),
        Side::patchbay(&mut lab, false, &v3),
    ];
    let group = "239.5.6.7";
    let monitors: Vec<_> = sides.iter().map(|s| s.monitor(&lab)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut members: Vec<_> = sides
        .iter()
        .map(|s| {
            lab.spawn(
                s.host(1),
                &[
                    PY,
                    "-c",
                    COUNTER,
                    "4",
                    group,
                    "198.18.40.1",
                    "60",
                    "198.18.40.2",
                ],
            )
            .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(3500));
    for s in &sides {
        let (b, c) = deliver(&lab, s, "4", group, false, 40);
        assert_eq!((b, c), (40, 0), "{}: from the included source", s.name());
        // c sends: another source, which b did not ask for.
        let counter = lab
            .spawn(s.host(1), &[PY, "-c", COUNTER, "4", group, "0", "3"])
            .unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        lab.exec_ok(s.host(2), &[PY, "-c", SENDER, "4", group, "30"])
            .unwrap();
        assert_eq!(
            count(counter),
            0,
            "{}: from a source b did not include",
            s.name()
        );
    }
    let mdbs: Vec<_> = sides.iter().map(|s| s.mdb_sg(&lab)).collect();
    assert!(
        mdbs[0].contains(&(1, group.into(), "198.18.40.1".into(), String::new())),
        "kernel: {:?}",
        mdbs[0]
    );
    assert_eq!(mdbs[0], mdbs[1], "kernel's MDB, then patchbay's");
    for m in &mut members {
        m.kill();
    }
    // The leave: b's group and source entries go.
    assert!(
        wait_both(Duration::from_secs(4), || sides
            .iter()
            .all(|s| s.mdb_sg(&lab).is_empty())),
        "the entries go on both"
    );
    // `bridge monitor mdb` printed the same on both, announcement by
    // announcement (a new *,G, its sources changing, the (S,G) entry).
    let seen: Vec<Vec<String>> = sides
        .iter()
        .zip(monitors)
        .map(|(s, m)| s.monitored(m))
        .collect();
    assert!(
        seen[0]
            .iter()
            .any(|l| l == &format!("dev BR port b grp {group} src 198.18.40.1 temp")),
        "the kernel's bridge monitor mdb: {:?}",
        seen[0]
    );
    assert_eq!(
        seen[0], seen[1],
        "bridge monitor mdb: the kernel's, then patchbay's"
    );
}
