//! `patchbay compare TOPOLOGY [--traffic quick|standard] [--rounds N] [-j]
//! [--svg FILE] [--html FILE]`: one topology file, applied to the kernel (over
//! rtnetlink, `--backend kernel`) and to patchbay (the daemon) in turn, in
//! a namespace of its own, with test hosts h1, h2, ... in theirs; the same
//! traffic through each (64-byte frames from the project's generator, TCP
//! with iperf3 when installed, ping round trips), the machine's CPU per
//! forwarded frame, and what each switch learned and decided (FDB, port
//! states and spanning-tree roles), side by side with every difference
//! listed.
//!
//! The topology names the hosts' ports `h1`, `h2`, ...: the harness makes
//! each a veth whose far end is `eth0` in host namespace N, address
//! 198.18.70.N/24; traffic goes from h1 to h2.

use crate::client::Opts;
use crate::report;
use patchbay_lab::harness::{measure, median, Baseline, Hosts, Sample, LOAD_PPS};
use patchbay_lab::{check_prerequisites, Lab};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::ExitCode;

struct Args {
    topo: String,
    secs: f64,
    pings: u32,
    rounds: usize,
    svg: Option<String>,
    html: Option<String>,
    ovs: bool,
    /// The command line, to print as the way to reproduce the run.
    command: String,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        topo: String::new(),
        secs: 5.0,
        pings: 500,
        rounds: 3,
        svg: None,
        html: None,
        ovs: true,
        command: std::iter::once("patchbay compare")
            .chain(args.iter().map(String::as_str))
            .map(shell_word)
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1);
        match args[i].as_str() {
            "--traffic" => {
                match v.map(String::as_str) {
                    Some("quick") => (a.secs, a.pings, a.rounds) = (1.0, 100, 1),
                    Some("standard") => (a.secs, a.pings, a.rounds) = (5.0, 500, 3),
                    x => return Err(format!("--traffic quick|standard, not {x:?}")),
                }
                i += 1;
            }
            "--rounds" => {
                a.rounds = v
                    .and_then(|s| s.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--rounds needs a number of rounds")?;
                i += 1;
            }
            "--no-ovs" => a.ovs = false,
            "--svg" => {
                a.svg = Some(v.ok_or("--svg needs a file name")?.clone());
                i += 1;
            }
            "--html" => {
                a.html = Some(v.ok_or("--html needs a file name")?.clone());
                i += 1;
            }
            x if a.topo.is_empty() && !x.starts_with('-') => a.topo = x.to_string(),
            x => return Err(format!("unknown argument {x} (expected TOPOLOGY [--traffic quick|standard] [--rounds N] [--svg FILE] [--html FILE] [--no-ovs])")),
        }
        i += 1;
    }
    if a.topo.is_empty() {
        return Err("which topology? (patchbay compare TOPOLOGY.pb)".into());
    }
    Ok(a)
}

/// A word as a shell reads it back: quoted when it must be.
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
        || w == "patchbay compare"
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// The host ports a topology names (`h1`, `h2`, ...), in order.
fn host_ports(text: &str) -> Vec<u32> {
    let mut v = BTreeSet::new();
    for w in text.split_whitespace() {
        if let Some(n) = w.strip_prefix('h').and_then(|d| d.parse::<u32>().ok()) {
            if (1..=250).contains(&n) {
                v.insert(n);
            }
        }
    }
    v.into_iter().collect()
}

/// The devices a topology makes (`link add NAME`), to remove after a run
/// (a veth's peer goes with it); lines that do not parse make nothing.
fn made(text: &str) -> Vec<String> {
    use patchbay_core::cmd::{self, Command};
    text.lines()
        .filter_map(|l| cmd::parse(&cmd::batch_words(l).ok()?).ok())
        .filter_map(|c| match c {
            Command::LinkAdd(a) => Some(a.name),
            _ => None,
        })
        .collect()
}

/// Which switch a column measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Kernel,
    /// The daemon, attaching its ports as `--attach` says, and whether it
    /// busy-polls (`--poll`).
    Patchbay(&'static str, bool),
    /// Open vSwitch's netdev datapath with ports of this interface type
    /// ("system": AF_PACKET sockets; "afxdp": AF_XDP in generic mode).
    Ovs(&'static str),
}

/// One backend's results.
struct Column {
    /// The JSON key of its values in each row.
    key: &'static str,
    /// Its heading in the table.
    name: &'static str,
    backend: Backend,
    samples: Vec<Sample>,
    seen: Behaviour,
    error: Option<String>,
}

impl Column {
    fn new(key: &'static str, name: &'static str, backend: Backend) -> Column {
        Column {
            key,
            name,
            backend,
            samples: vec![],
            seen: Behaviour::default(),
            error: None,
        }
    }
}

/// What a switch ended with: its FDB entries for the hosts, its MDB's
/// port entries, its bridge ports' states and, with spanning tree, their
/// roles (root, designated, alternate, disabled), each as a line of text
/// to compare.
#[derive(Default)]
struct Behaviour {
    fdb: BTreeSet<String>,
    mdb: BTreeSet<String>,
    states: BTreeSet<String>,
    roles: BTreeSet<String>,
}

impl Behaviour {
    /// Every line one has and the other lacks, in words.
    fn differences(&self, other: &Behaviour, me: &str, them: &str) -> Vec<String> {
        let mut v = Vec::new();
        for (what, a, b) in [
            ("fdb", &self.fdb, &other.fdb),
            ("mdb", &self.mdb, &other.mdb),
            ("port state", &self.states, &other.states),
            ("port role", &self.roles, &other.roles),
        ] {
            for x in a.difference(b) {
                v.push(format!("{what}: {me} has \"{x}\", {them} does not"));
            }
            for x in b.difference(a) {
                v.push(format!("{what}: {them} has \"{x}\", {me} does not"));
            }
        }
        v
    }

    fn json(&self) -> Value {
        json!({"fdb": self.fdb, "mdb": self.mdb, "port_states": self.states, "port_roles": self.roles})
    }
}

impl Column {
    fn med(&self, f: impl Fn(&Sample) -> f64) -> f64 {
        let mut v: Vec<f64> = self.samples.iter().map(f).filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return f64::NAN;
        }
        median(&mut v)
    }
}

/// What a switch learned about the hosts, its port states and roles, from
/// the JSON of `bridge fdb show`, `bridge link show` and `link show -d`.
fn behaviour(fdb: &str, links: &str, details: &str, hosts: &[String]) -> Behaviour {
    let mut f = BTreeSet::new();
    if let Ok(Value::Array(v)) = serde_json::from_str::<Value>(fdb) {
        for e in v {
            let mac = e["mac"].as_str().unwrap_or("");
            if hosts.iter().any(|h| h == mac)
                && e.get("state").and_then(Value::as_str) != Some("permanent")
            {
                f.insert(format!(
                    "{mac} on {}{}",
                    e["ifname"].as_str().unwrap_or("?"),
                    e.get("vlan")
                        .map(|v| format!(" vlan {v}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    let mut s = BTreeSet::new();
    if let Ok(Value::Array(v)) = serde_json::from_str::<Value>(links) {
        for e in v {
            s.insert(format!(
                "{} {}",
                e["ifname"].as_str().unwrap_or("?"),
                e["state"].as_str().unwrap_or("?")
            ));
        }
    }
    Behaviour {
        fdb: f,
        mdb: BTreeSet::new(),
        states: s,
        roles: roles(details),
    }
}

/// The MDB's port entries from the JSON of `bridge -j mdb show`, as "grp
/// G [src S] on PORT [flags]"; the bridge's own joins left out (a kernel
/// bridge joins groups of its own IPv6 stack), and solicited-node groups
/// named as such (they follow a host's MAC).
fn mdb_entries(json: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(Value::Array(bridges)) = serde_json::from_str::<Value>(json) else {
        return out;
    };
    for b in bridges {
        for e in b["mdb"].as_array().into_iter().flatten() {
            let (dev, port) = (
                e["dev"].as_str().unwrap_or(""),
                e["port"].as_str().unwrap_or(""),
            );
            if dev == port {
                continue;
            }
            let g = e["grp"].as_str().unwrap_or("?");
            let g = if g.starts_with("ff02::1:ff") {
                "a solicited-node group"
            } else {
                g
            };
            let src = e["src"]
                .as_str()
                .map(|s| format!(" src {s}"))
                .unwrap_or_default();
            let flags: Vec<&str> = e["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!(" {}", flags.join(","))
            };
            out.insert(format!("grp {g}{src} on {port}{flags}"));
        }
    }
    out
}

/// The spanning-tree role of every port of a bridge that runs STP, from
/// `link show -d -j` (iproute2's keys, which patchbay's output shares: a
/// port's `no`, `id`, and `bridge_id`, its designated bridge):
/// the bridge's root port is the root; a port whose designated bridge and
/// port are its own bridge and itself is designated; the rest (802.1D's
/// blocked ports) alternate; a disabled port is disabled.
fn roles(details: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(Value::Array(links)) = serde_json::from_str::<Value>(details) else {
        return out;
    };
    let hex = |v: &Value| {
        v.as_u64().or_else(|| {
            v.as_str()
                .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        })
    };
    let stp_bridges: std::collections::HashMap<&str, &Value> = links
        .iter()
        .filter(|l| l["linkinfo"]["info_kind"] == "bridge")
        .filter(|l| {
            l["linkinfo"]["info_data"]["stp_state"]
                .as_u64()
                .unwrap_or(0)
                != 0
        })
        .filter_map(|l| Some((l["ifname"].as_str()?, &l["linkinfo"]["info_data"])))
        .collect();
    for l in &links {
        let (Some(name), Some(master)) = (l["ifname"].as_str(), l["master"].as_str()) else {
            continue;
        };
        let Some(b) = stp_bridges.get(master) else {
            continue;
        };
        let p = &l["linkinfo"]["info_slave_data"];
        let role = if p["state"] == "disabled" {
            "disabled"
        } else if hex(&b["root_port"]).is_some() && hex(&b["root_port"]) == hex(&p["no"]) {
            "root"
        } else if p["bridge_id"] == b["bridge_id"] && hex(&p["designated_port"]) == hex(&p["id"]) {
            "designated"
        } else {
            "alternate"
        };
        out.insert(format!("{name} {role}"));
    }
    out
}

fn progress(msg: &str) {
    eprintln!("compare: {msg}");
}

pub fn run(args: &[String], o: Opts) -> ExitCode {
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("Error: compare: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(why) = check_prerequisites() {
        eprintln!("Error: compare {why}");
        return ExitCode::from(1);
    }
    match compare(&a, o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: compare: {e}");
            ExitCode::from(1)
        }
    }
}

fn compare(a: &Args, o: Opts) -> Result<(), String> {
    let text = std::fs::read_to_string(&a.topo).map_err(|e| format!("{}: {e}", a.topo))?;
    let ports = host_ports(&text);
    if ports.len() < 2 || ports[..2] != [1, 2] {
        return Err(format!(
            "{} must name host ports h1 and h2 (it names {ports:?})",
            a.topo
        ));
    }
    let bin = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut lab = Lab::new("cmp", &bin);
    let sw = lab.netns("sw")?;
    let mut hns = Vec::new();
    for n in &ports {
        let h = lab.netns(&format!("h{n}"))?;
        let port = format!("h{n}");
        lab.ip(&[
            "link", "add", &port, "netns", &sw, "type", "veth", "peer", "name", "eth0", "netns", &h,
        ])?;
        lab.ip(&["-n", &sw, "link", "set", &port, "up"])?;
        lab.host_addr(&h, "eth0", &format!("198.18.70.{n}/24"))?;
        hns.push(h);
    }
    let macs: Vec<String> = hns
        .iter()
        .map(|h| lab.mac(h, "eth0"))
        .collect::<Result<_, _>>()?;
    let t = Hosts {
        a: hns[0].clone(),
        b: hns[1].clone(),
        a_ip: "198.18.70.1".into(),
        b_ip: "198.18.70.2".into(),
    };
    let base = Baseline::new(&mut lab)?;
    let topo_file = std::env::temp_dir().join(format!("patchbay-compare-{}.pb", lab.tag));
    std::fs::write(&topo_file, &text).map_err(|e| e.to_string())?;
    let tf = topo_file.to_str().expect("utf-8 path").to_string();
    // Patchbay with each attachment this kernel offers (the first, the
    // daemon's default, is the "patchbay" column), then Open vSwitch with
    // each port type it offers.
    let mut cols = vec![Column::new("kernel", "kernel", Backend::Kernel)];
    match patchbay_io::xsk::supported() {
        Ok(()) => {
            cols.push(Column::new(
                "patchbay",
                "patchbay af_xdp",
                Backend::Patchbay("af_xdp", false),
            ));
            cols.push(Column::new(
                "patchbay_poll",
                "patchbay af_xdp --poll",
                Backend::Patchbay("af_xdp", true),
            ));
        }
        Err(e) => progress(&format!("patchbay af_xdp: not run: {e}")),
    }
    let (key, name) = if cols.len() == 1 {
        ("patchbay", "patchbay af_packet")
    } else {
        ("patchbay_af_packet", "patchbay af_packet")
    };
    cols.push(Column::new(
        key,
        name,
        Backend::Patchbay("af_packet", false),
    ));
    let binpath = bin.to_str().expect("utf-8 path").to_string();
    // Open vSwitch's userspace datapath, when installed and the topology
    // is bridges and veths it can take.
    let ovs_plan = if !a.ovs {
        None
    } else if patchbay_lab::have("ovs-vswitchd") && patchbay_lab::have("ovsdb-tool") {
        match ovs_translate(&text) {
            Ok(p) => Some(p),
            Err(e) => {
                progress(&format!("ovs: not run: {e}"));
                None
            }
        }
    } else {
        progress(
            "ovs: not run: Open vSwitch is not installed (apt-get install openvswitch-switch)",
        );
        None
    };
    let ovs = match &ovs_plan {
        Some(_) => match patchbay_lab::Ovs::try_start(&lab, &sw, &["userspace-tso-enable=true"]) {
            Ok(o) => Some(o),
            Err(e) => {
                progress(&format!("ovs: not run: {e}"));
                None
            }
        },
        None => None,
    };
    if let Some(o) = &ovs {
        cols.push(Column::new("ovs", "ovs af_packet", Backend::Ovs("system")));
        let types = o
            .try_vsctl(&["get", "Open_vSwitch", ".", "iface_types"])
            .unwrap_or_default();
        if types.contains("afxdp") {
            cols.push(Column::new(
                "ovs_af_xdp",
                "ovs af_xdp",
                Backend::Ovs("afxdp"),
            ));
        } else {
            progress(&format!(
                "ovs af_xdp: not run: this Open vSwitch has no afxdp ports (its types: {types})"
            ));
        }
    }
    for r in 0..a.rounds {
        for c in cols.iter_mut().filter(|c| c.error.is_none()) {
            progress(&format!(
                "round {}/{}: {}: applying {}",
                r + 1,
                a.rounds,
                c.name,
                a.topo
            ));
            let what = "64-byte frames, the same over a bare veth pair, TCP, round trips";
            let s = match c.backend {
                Backend::Kernel => {
                    let out = lab.exec(&sw, &[&binpath, "--backend", "kernel", "-batch", &tf])?;
                    if !out.status.success() {
                        let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
                        progress(&format!("kernel: {e}"));
                        c.error = Some(e);
                        continue;
                    }
                    progress(&format!("kernel: {what}"));
                    let s = measure(&lab, &t, a.secs, a.pings, None, Some(&base));
                    // Read through the kernel backend: the same words and
                    // JSON as patchbay's own answers.
                    let kernel = |args: &[&str]| {
                        let mut v = vec![binpath.as_str(), "--backend", "kernel", "-j"];
                        v.extend_from_slice(args);
                        lab.exec(&sw, &v)
                            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                            .unwrap_or_default()
                    };
                    c.seen = behaviour(
                        &kernel(&["bridge", "fdb", "show"]),
                        &kernel(&["bridge", "link", "show"]),
                        &kernel(&["-d", "link", "show"]),
                        &macs,
                    );
                    // The kernel backend does not carry `bridge mdb`: the
                    // kernel's own bridge(8) reads it.
                    let mdb = lab
                        .exec(&sw, &["bridge", "-j", "mdb", "show"])
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_default();
                    c.seen.mdb = mdb_entries(&mdb);
                    for d in made(&text).iter().rev() {
                        let _ = lab.ip(&["-n", &sw, "link", "del", d]);
                    }
                    s
                }
                Backend::Patchbay(attach, poll) => {
                    let mut args = vec!["--attach", attach];
                    if poll {
                        args.push("--poll");
                    }
                    lab.start_daemon_in(Some(&sw), &args)?;
                    if let Err(e) = lab.pb(&["-batch", &tf]) {
                        lab.stop_daemon();
                        let _ = std::fs::remove_file(&topo_file);
                        return Err(format!("{}: {}", c.name, e.trim()));
                    }
                    progress(&format!("{}: {what}", c.name));
                    let s = measure(&lab, &t, a.secs, a.pings, lab.daemon_pid(), Some(&base));
                    let fdb = lab.pb(&["-j", "bridge", "fdb", "show"]).unwrap_or_default();
                    let links = lab
                        .pb(&["-j", "bridge", "link", "show"])
                        .unwrap_or_default();
                    let details = lab.pb(&["-d", "-j", "link", "show"]).unwrap_or_default();
                    c.seen = behaviour(&fdb, &links, &details, &macs);
                    let mdb = lab.pb(&["-j", "bridge", "mdb", "show"]).unwrap_or_default();
                    c.seen.mdb = mdb_entries(&mdb);
                    lab.stop_daemon();
                    s
                }
                Backend::Ovs(kind) => {
                    let (Some(ovs), Some(plan)) = (&ovs, &ovs_plan) else {
                        continue;
                    };
                    let s = match ovs_apply(&lab, ovs, &sw, &binpath, plan, kind) {
                        Err(e) => Err(e),
                        Ok(()) => {
                            progress(&format!("{}: {what}", c.name));
                            let s = measure(
                                &lab,
                                &t,
                                a.secs,
                                a.pings,
                                Some(ovs.vswitchd_pid()),
                                Some(&base),
                            );
                            c.seen = ovs_behaviour(ovs, plan, &macs);
                            s
                        }
                    };
                    ovs_teardown(&lab, ovs, &sw, plan);
                    s
                }
            };
            match s {
                Ok(s) => c.samples.push(s),
                Err(e) => c.error = Some(e),
            }
        }
    }
    drop(ovs);
    let _ = std::fs::remove_file(&topo_file);
    shared_baseline(&mut cols);
    report(a, &cols, o)
}

/// The bare pair costs the same whichever switch runs beside it; what
/// else the machine does only adds to a reading. So the lowest reading of
/// the run is the pair's own, and every switch's share is taken against
/// it (a busy stretch during one column's readings, seen on CI at twice
/// the others', would otherwise make that switch's share look negative).
fn shared_baseline(cols: &mut [Column]) {
    let low = cols
        .iter()
        .flat_map(|c| c.samples.iter().map(|s| s.baseline_cpu_ns))
        // A zero reading is a failed one: no pair forwards for nothing.
        .filter(|x| !x.is_nan() && *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    if !low.is_finite() {
        return;
    }
    for s in cols.iter_mut().flat_map(|c| c.samples.iter_mut()) {
        s.baseline_cpu_ns = low;
        s.own_cpu_ns = s.load_cpu_ns - low;
    }
}

/// A topology as Open vSwitch builds it: bridges and their ports with
/// ovs-vsctl, veths and up/down with the kernel backend.
struct OvsPlan {
    bridges: Vec<(String, Vec<String>)>,
    ports: Vec<(String, String)>,
    kernel: Vec<String>,
    up: Vec<String>,
    made: Vec<String>,
    stp: bool,
}

fn ovs_translate(text: &str) -> Result<OvsPlan, String> {
    use patchbay_core::cmd::{self, Command, LinkKind};
    let mut p = OvsPlan {
        bridges: vec![],
        ports: vec![],
        kernel: vec![],
        up: vec![],
        made: made(text),
        stp: false,
    };
    for (n, line) in text.lines().enumerate() {
        let w = cmd::batch_words(line).map_err(|e| e.to_string())?;
        if w.is_empty() {
            continue;
        }
        let c = cmd::parse(&w).map_err(|e| format!("line {}: {e}", n + 1))?;
        let is_br = |p: &OvsPlan, name: &str| p.bridges.iter().any(|b| b.0 == name);
        match &c {
            Command::LinkAdd(a) => match &a.kind {
                LinkKind::Bridge(o) => {
                    let mut v = vec![format!("datapath_type=netdev")];
                    if o.stp_state.unwrap_or(0) > 0 {
                        v.push("stp_enable=true".into());
                        p.stp = true;
                    }
                    if let Some(x) = o.priority {
                        v.push(format!("other_config:stp-priority={x}"));
                    }
                    // OVS keeps to 802.1D's ranges in whole seconds
                    // (forward delay 4-30, and max age at most
                    // 2 × (forward delay - 1)); the kernel takes 2 s. The
                    // nearest legal timers: they change how long the
                    // tree takes, not what it decides.
                    let fd = o.forward_delay.map(|x| (x / 100).clamp(4, 30));
                    let max_age = o.max_age.map(|x| (x / 100).clamp(6, 40)).unwrap_or(20);
                    if let Some(fd) = fd {
                        v.push(format!("other_config:stp-forward-delay={fd}"));
                    }
                    let limit = 2 * (fd.unwrap_or(15) - 1);
                    if o.max_age.is_some() || max_age > limit {
                        v.push(format!("other_config:stp-max-age={}", max_age.min(limit)));
                    }
                    if let Some(x) = o.hello_time {
                        v.push(format!(
                            "other_config:stp-hello-time={}",
                            (x / 100).clamp(1, 10)
                        ));
                    }
                    p.bridges.push((a.name.clone(), v));
                }
                LinkKind::Veth { .. } => p.kernel.push(line.trim().to_string()),
                _ => {
                    return Err(format!(
                        "line {}: \"{}\" has no plain Open vSwitch translation here",
                        n + 1,
                        line.trim()
                    ))
                }
            },
            Command::LinkSet(s)
                if s.bridge.is_none()
                    && s.bond.is_none()
                    && s.port.is_none()
                    && s.mtu.is_none()
                    && s.address.is_none() =>
            {
                if let Some(Some(m)) = &s.master {
                    if !is_br(&p, m) {
                        return Err(format!("line {}: {m} is not a bridge", n + 1));
                    }
                    p.ports.push((m.clone(), s.name.clone()));
                }
                if s.up == Some(true) {
                    if is_br(&p, &s.name) {
                        p.up.push(s.name.clone());
                    } else {
                        p.kernel.push(format!("link set {} up", s.name));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "line {}: \"{}\" has no plain Open vSwitch translation here",
                    n + 1,
                    line.trim()
                ))
            }
        }
    }
    Ok(p)
}

fn ovs_apply(
    lab: &Lab,
    ovs: &patchbay_lab::Ovs,
    sw: &str,
    bin: &str,
    p: &OvsPlan,
    kind: &str,
) -> Result<(), String> {
    for l in &p.kernel {
        let mut args = vec![bin, "--backend", "kernel"];
        args.extend(l.split_whitespace());
        let o = lab.exec(sw, &args)?;
        if !o.status.success() {
            return Err(format!(
                "{l}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
    }
    for (b, opts) in &p.bridges {
        let mut args = vec!["add-br", b.as_str(), "--", "set", "bridge", b.as_str()];
        args.extend(opts.iter().map(String::as_str));
        ovs.try_vsctl(&args)?;
    }
    // Spanning-tree port numbers as the kernel gives them (1, 2, ... in
    // the order the ports join their bridge; OVS would number them in its
    // own order): port ids, and so the tree's tie-breaks, are the same.
    let mut next: std::collections::HashMap<&str, u32> = Default::default();
    for (b, port) in &p.ports {
        let n = next.entry(b.as_str()).or_insert(0);
        *n += 1;
        let num = format!("other_config:stp-port-num={n}");
        let mut args = vec!["add-port", b, port, "--", "set", "Port", port, &num];
        if kind == "afxdp" {
            // One queue, generic XDP (veth has no zero-copy), as the
            // issue's measurement had it.
            args.extend([
                "--",
                "set",
                "Interface",
                port,
                "type=afxdp",
                "options:xdp-mode=generic",
                "options:n_rxq=1",
            ]);
        }
        ovs.try_vsctl(&args)?;
    }
    for b in &p.up {
        lab.ip(&["-n", sw, "link", "set", b, "up"])?;
    }
    Ok(())
}

fn ovs_teardown(lab: &Lab, ovs: &patchbay_lab::Ovs, sw: &str, p: &OvsPlan) {
    for (b, _) in &p.bridges {
        let _ = ovs.try_vsctl(&["--if-exists", "del-br", b]);
    }
    for d in p.made.iter().rev() {
        if !p.bridges.iter().any(|b| &b.0 == d) {
            let _ = lab.ip(&["-n", sw, "link", "del", d]);
        }
    }
}

/// Open vSwitch's FDB (fdb/show) and port states (STP status, else
/// forwarding), in the kernel's words.
fn ovs_behaviour(ovs: &patchbay_lab::Ovs, p: &OvsPlan, hosts: &[String]) -> Behaviour {
    // OpenFlow port numbers are per bridge.
    let mut names = std::collections::HashMap::new();
    for (b, port) in &p.ports {
        if let Ok(n) = ovs.try_vsctl(&["get", "Interface", port, "ofport"]) {
            names.insert((b.clone(), n.trim().to_string()), port.clone());
        }
    }
    let mut fdb = BTreeSet::new();
    for (b, _) in &p.bridges {
        for l in ovs.appctl(&["fdb/show", b]).lines().skip(1) {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() >= 3 && hosts.iter().any(|h| h == w[2]) {
                let port = names
                    .get(&(b.clone(), w[0].to_string()))
                    .cloned()
                    .unwrap_or_else(|| w[0].to_string());
                let vlan = if w[1] == "0" {
                    String::new()
                } else {
                    format!(" vlan {}", w[1])
                };
                fdb.insert(format!("{} on {port}{vlan}", w[2]));
            }
        }
    }
    let mut states = BTreeSet::new();
    let mut roles = BTreeSet::new();
    let status = |port: &str, key: &str| {
        ovs.try_vsctl(&["get", "Port", port, &format!("status:{key}")])
            .map(|s| s.trim_matches('"').to_string())
            .unwrap_or_else(|_| "?".into())
    };
    for (_, port) in &p.ports {
        if p.stp {
            states.insert(format!("{port} {}", status(port, "stp_state")));
            roles.insert(format!("{port} {}", status(port, "stp_role")));
        } else {
            states.insert(format!("{port} forwarding"));
        }
    }
    // Open vSwitch snoops only with mcast_snooping_enable, which the plan
    // does not set: no MDB.
    Behaviour {
        fdb,
        mdb: BTreeSet::new(),
        states,
        roles,
    }
}

/// A row of the report: its JSON key, its label in the text table, its
/// title and unit in the pictures, which way is better, the measure and
/// its unit's scale.
struct Row {
    key: &'static str,
    label: &'static str,
    title: &'static str,
    unit: &'static str,
    better: Better,
    f: fn(&Sample) -> f64,
    scale: f64,
}

const fn row(
    key: &'static str,
    label: &'static str,
    title: &'static str,
    unit: &'static str,
    better: Better,
    f: fn(&Sample) -> f64,
    scale: f64,
) -> Row {
    Row {
        key,
        label,
        title,
        unit,
        better,
        f,
        scale,
    }
}

use crate::report::Better::{self, Higher, Lower, Neither};

/// The report's rows. The rows after `cpu_ns` are at [`LOAD_PPS`]
/// (100k frames/s).
const ROWS: [Row; 11] = [
    row(
        "offered",
        "64-byte frames/s offered",
        "64-byte frames offered",
        "frames/s",
        Neither,
        |s| s.offered,
        1.0,
    ),
    row(
        "rate",
        "64-byte frames/s delivered",
        "64-byte frames delivered",
        "frames/s",
        Higher,
        |s| s.rate,
        1.0,
    ),
    row(
        "tcp",
        "TCP Gbit/s (iperf3)",
        "TCP (iperf3)",
        "Gbit/s",
        Higher,
        |s| s.tcp,
        1e9,
    ),
    row(
        "rtt_median",
        "round trip median µs",
        "round trip, median",
        "µs",
        Lower,
        |s| s.rtt_median,
        1.0,
    ),
    row(
        "rtt_p99",
        "round trip p99 µs",
        "round trip, 99th percentile",
        "µs",
        Lower,
        |s| s.rtt_p99,
        1.0,
    ),
    row(
        "cpu_ns",
        "CPU ns/frame, machine, max rate",
        "the machine's CPU per frame at the highest rate",
        "ns/frame",
        Lower,
        |s| s.cpu_ns,
        1.0,
    ),
    row(
        "own_cpu_ns",
        "switch CPU ns/frame at 100k/s",
        "the switch's CPU per frame at 100k frames/s",
        "ns/frame",
        Lower,
        |s| s.own_cpu_ns,
        1.0,
    ),
    row(
        "baseline_cpu_ns",
        "  bare veth pair's (subtracted)",
        "a bare veth pair's CPU per frame (subtracted)",
        "ns/frame",
        Neither,
        |s| s.baseline_cpu_ns,
        1.0,
    ),
    row(
        "switch_cpu_ns",
        "  of which switch process",
        "of which the switch process",
        "ns/frame",
        Lower,
        |s| s.switch_cpu_ns,
        1.0,
    ),
    row(
        "load_delivered",
        "  delivered at 100k/s",
        "share delivered at 100k frames/s",
        "",
        Higher,
        |s| s.load_delivered,
        1.0,
    ),
    row(
        "rounds",
        "rounds",
        "rounds measured",
        "",
        Neither,
        |_| 1.0,
        1.0,
    ),
];

/// The key of a column's ratio to the kernel in each row ("ratio" for the
/// daemon's default column, `ratio_KEY` for the others).
fn ratio_key(key: &str) -> String {
    if key == "patchbay" {
        "ratio".into()
    } else {
        format!("ratio_{key}")
    }
}

/// Likewise for its behavioural differences from the kernel.
fn diff_key(key: &str) -> String {
    if key == "patchbay" {
        "differences".into()
    } else {
        format!("differences_{key}")
    }
}

/// Every round's value of row `r` in column `c`, scaled.
fn raw(c: &Column, r: &Row) -> Vec<f64> {
    if r.key == "rounds" {
        return vec![c.samples.len() as f64];
    }
    c.samples.iter().map(|s| (r.f)(s) / r.scale).collect()
}

/// The report as `-j` prints it and the pictures read it: per row each
/// column's median, its ratio to the kernel's, every round's value
/// (`raw`) and whether the median is inside the noise (`noise`).
fn report_json(a: &Args, cols: &[Column]) -> Value {
    let k = &cols[0];
    let others = &cols[1..];
    let mut rows = serde_json::Map::new();
    for r in &ROWS {
        let val = |c: &Column| {
            if r.key == "rounds" {
                c.samples.len() as f64
            } else {
                c.med(r.f) / r.scale
            }
        };
        let kv = val(k);
        let mut row = json!({"kernel": num(kv)});
        let mut raws = json!({"kernel": raw(k, r).into_iter().map(num).collect::<Vec<_>>()});
        let mut noise = json!({});
        for c in cols {
            let v = val(c);
            let rounds: Vec<f64> = raw(c, r).into_iter().filter(|x| x.is_finite()).collect();
            if r.key != "rounds" && v.is_finite() && report::is_noise(v, &rounds) {
                noise[c.key] = json!(true);
            }
        }
        for c in others {
            row[c.key] = num(val(c));
            row[ratio_key(c.key)] = num(val(c) / kv);
            raws[c.key] = json!(raw(c, r).into_iter().map(num).collect::<Vec<_>>());
        }
        row["raw"] = raws;
        if noise.as_object().is_some_and(|o| !o.is_empty()) {
            row["noise"] = noise;
        }
        rows.insert(r.key.into(), row);
    }
    let metrics: Vec<Value> = ROWS
        .iter()
        .map(|r| json!({"key": r.key, "label": r.title, "unit": r.unit, "better": r.better.name()}))
        .collect();
    let k = &cols[0];
    let mut behaviour = json!({"kernel": k.seen.json()});
    let mut errors = json!({"kernel": k.error});
    for c in others {
        let who = if c.key.starts_with("ovs") {
            "Open vSwitch"
        } else {
            "patchbay"
        };
        let d = k.seen.differences(&c.seen, "the kernel", who);
        behaviour[c.key] = c.seen.json();
        behaviour[diff_key(c.key)] = json!(d);
        errors[c.key] = json!(c.error);
    }
    let columns: Vec<Value> = cols
        .iter()
        .map(|c| json!({"key": c.key, "name": c.name}))
        .collect();
    json!({
        "topology": a.topo,
        "seconds": a.secs,
        "rounds": a.rounds,
        "load_pps": LOAD_PPS,
        "command": a.command,
        "environment": environment(a),
        "metrics": metrics,
        "columns": columns,
        "rows": rows,
        "behaviour": behaviour,
        "errors": errors,
    })
}

/// What the numbers were measured on.
fn environment(a: &Args) -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    json!({
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "patchbay": env!("CARGO_PKG_VERSION"),
        "traffic": format!(
            "{} s of 64-byte UDP at the highest rate and at {LOAD_PPS} frames/s, TCP (iperf3), {} pings, per round",
            a.secs, a.pings
        ),
        "hosts": "veth pairs with the kernel's default offloads, 198.18.70.N/24",
    })
}

fn report(a: &Args, cols: &[Column], o: Opts) -> Result<(), String> {
    let k = &cols[0];
    let others = &cols[1..];
    let j = report_json(a, cols);
    let all_diffs: Vec<String> = others
        .iter()
        .flat_map(|c| {
            j["behaviour"][diff_key(c.key)]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |d| format!("{}: {d}", c.name))
        })
        .collect();
    if let Some(f) = &a.svg {
        std::fs::write(f, report::svg(&j)).map_err(|e| format!("{f}: {e}"))?;
        progress(&format!("charts written to {f}"));
    }
    if let Some(f) = &a.html {
        std::fs::write(f, report::html(&j)).map_err(|e| format!("{f}: {e}"))?;
        progress(&format!("report written to {f}"));
    }
    if o.json {
        println!("{j}");
        return Ok(());
    }
    println!(
        "{} — medians of {} round(s), {} s each, same run; ratio = column / kernel",
        a.topo, a.rounds, a.secs
    );
    print!("{:<30} {:>10}", "", "kernel");
    for c in others {
        print!(" {:>18} {:>6}", c.name, "ratio");
    }
    println!();
    for Row { key, label, .. } in &ROWS {
        let r = &j["rows"][key];
        let noisy = |c: &str| r["noise"][c].as_bool() == Some(true);
        let f = |v: &Value| {
            v.as_f64().map_or("-".to_string(), |x| {
                if x.abs() >= 100.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.2}")
                }
            })
        };
        // A value inside its rounds' noise is said to be, with its number.
        let cell = |c: &str| {
            if noisy(c) {
                format!("noise({})", f(&r[c]))
            } else {
                f(&r[c])
            }
        };
        print!("{label:<30} {:>10}", cell("kernel"));
        for c in others {
            let ratio = if noisy("kernel") || noisy(c.key) {
                "noise".to_string()
            } else {
                f(&r[ratio_key(c.key)])
            };
            print!(" {:>18} {:>6}", cell(c.key), ratio);
        }
        println!();
    }
    let counts = |b: &Behaviour| {
        format!(
            "{} / {} / {} / {}",
            b.fdb.len(),
            b.mdb.len(),
            b.states.len(),
            b.roles.len()
        )
    };
    print!(
        "{:<30} {:>10}",
        "FDB / MDB / states / roles",
        counts(&k.seen)
    );
    for c in others {
        let same = if j["behaviour"][diff_key(c.key)]
            .as_array()
            .is_some_and(|d| d.is_empty())
        {
            "same"
        } else {
            "differ"
        };
        print!(" {:>18} {:>6}", counts(&c.seen), same);
    }
    println!();
    println!(
        "switch CPU = the machine's CPU per frame at {LOAD_PPS} frames/s less the same \
         traffic's over a bare veth pair"
    );
    for d in &all_diffs {
        println!("  difference: {d}");
    }
    for c in cols {
        if let Some(e) = &c.error {
            println!("  {}: {e}", c.name);
        }
    }
    Ok(())
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bridge -j mdb show` as Linux 6.18's bridge printed it (a member on
    /// p1, the bridge's own joins), and an (S,G) entry: port entries
    /// compare, the bridge's own do not, solicited-node groups by name.
    #[test]
    fn mdb_port_entries_are_compared() {
        let kernel = r#"[{"mdb":[{"index":2,"dev":"br0","port":"p1","grp":"239.1.2.3","state":"temp","flags":[]},{"index":2,"dev":"br0","port":"p1","grp":"ff02::1:ffe9:8cd4","state":"temp","flags":[]},{"index":2,"dev":"br0","port":"br0","grp":"ff02::6a","state":"temp","flags":[]}],"router":{}}]"#;
        let ours = r#"[{"mdb":[{"index":9,"dev":"br0","port":"p1","grp":"239.1.2.3","state":"temp","flags":[]},{"index":9,"dev":"br0","port":"p1","grp":"ff02::1:ff00:1","state":"temp","flags":[]},{"index":9,"dev":"br0","port":"p2","grp":"239.1.2.3","src":"198.18.0.1","state":"temp","flags":["blocked"]}],"router":{}}]"#;
        let (k, p) = (mdb_entries(kernel), mdb_entries(ours));
        assert_eq!(
            k.iter().cloned().collect::<Vec<_>>(),
            ["grp 239.1.2.3 on p1", "grp a solicited-node group on p1"]
        );
        let a = Behaviour {
            mdb: k,
            ..Default::default()
        };
        let b = Behaviour {
            mdb: p,
            ..Default::default()
        };
        assert_eq!(
            a.differences(&b, "kernel", "patchbay"),
            ["mdb: patchbay has \"grp 239.1.2.3 src 198.18.0.1 on p2 blocked\", kernel does not"]
        );
    }

    /// `-j` keeps every round's values beside the median, and marks a
    /// median inside its rounds' noise (a negative switch cost, one
    /// smaller than its spread) so no picture draws it.
    #[test]
    fn the_report_keeps_every_round_and_marks_noise() {
        let a = parse(&["t.pb".into(), "--rounds".into(), "3".into()]).unwrap();
        assert_eq!(a.command, "patchbay compare t.pb --rounds 3");
        let sample = |rate: f64, own: f64| Sample {
            rate,
            own_cpu_ns: own,
            ..Sample::default()
        };
        let mut k = Column::new("kernel", "kernel", Backend::Kernel);
        k.samples = vec![
            sample(700.0, -300.0),
            sample(727.0, -209.0),
            sample(731.0, 150.0),
        ];
        let mut p = Column::new("patchbay", "patchbay", Backend::Patchbay("af_xdp", false));
        p.samples = vec![
            sample(455.0, 900.0),
            sample(461.0, 950.0),
            sample(470.0, 990.0),
        ];
        let j = report_json(&a, &[k, p]);
        assert_eq!(
            j["rows"]["rate"]["raw"]["kernel"],
            json!([700.0, 727.0, 731.0])
        );
        assert_eq!(
            j["rows"]["rate"]["raw"]["patchbay"],
            json!([455.0, 461.0, 470.0])
        );
        assert_eq!(j["rows"]["rate"]["kernel"], json!(727.0));
        assert!(j["rows"]["rate"].get("noise").is_none());
        assert_eq!(j["rows"]["own_cpu_ns"]["noise"], json!({"kernel": true}));
        assert_eq!(j["rounds"], json!(3));
        let m = &j["metrics"][1];
        assert_eq!(
            (m["key"].as_str(), m["unit"].as_str(), m["better"].as_str()),
            (Some("rate"), Some("frames/s"), Some("higher"))
        );
        assert!(j["environment"]["cores"].as_u64().unwrap() > 0);
        // The pictures read it.
        assert!(report::svg(&j).contains("noise: median -209 ns/frame"));
    }

    #[test]
    fn the_command_line_is_quoted_for_a_shell() {
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("--svg"), "--svg");
    }
}
