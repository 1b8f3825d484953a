//! `patchbay compare TOPOLOGY [--traffic quick|standard] [--rounds N] [-j]
//! [--svg FILE]`: one topology file, applied to the kernel (over
//! rtnetlink, `--backend kernel`) and to patchbay (the daemon) in turn, in
//! a namespace of its own, with test hosts h1, h2, ... in theirs; the same
//! traffic through each (64-byte frames from the project's generator, TCP
//! with iperf3 when installed, ping round trips), the machine's CPU per
//! forwarded frame, and what each switch learned and decided (FDB, port
//! states), side by side with every difference listed.
//!
//! The topology names the hosts' ports `h1`, `h2`, ...: the harness makes
//! each a veth whose far end is `eth0` in host namespace N, address
//! 198.18.70.N/24; traffic goes from h1 to h2.

use crate::client::Opts;
use patchbay_io::harness::{measure, median, Hosts, Sample};
use patchbay_io::lab::{check_prerequisites, Lab};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::ExitCode;

struct Args {
    topo: String,
    secs: f64,
    pings: u32,
    rounds: usize,
    svg: Option<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        topo: String::new(),
        secs: 5.0,
        pings: 500,
        rounds: 3,
        svg: None,
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
            "--svg" => {
                a.svg = Some(v.ok_or("--svg needs a file name")?.clone());
                i += 1;
            }
            x if a.topo.is_empty() && !x.starts_with('-') => a.topo = x.to_string(),
            x => return Err(format!("unknown argument {x} (expected TOPOLOGY [--traffic quick|standard] [--rounds N] [--svg FILE])")),
        }
        i += 1;
    }
    if a.topo.is_empty() {
        return Err("which topology? (patchbay compare TOPOLOGY.pb)".into());
    }
    Ok(a)
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

/// The devices a topology makes (`link add NAME`), to remove after a run.
fn made(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() >= 3 && w[0] == "link" && w[1] == "add" {
            let mut i = 2;
            let mut name = None;
            while i < w.len() && w[i] != "type" {
                match w[i] {
                    "name" | "dev" => {
                        name = w.get(i + 1).map(|s| s.to_string());
                        i += 1;
                    }
                    "link" | "address" | "mtu" | "netns" => i += 1,
                    x if name.is_none() => name = Some(x.to_string()),
                    _ => {}
                }
                i += 1;
            }
            v.extend(name);
        }
    }
    v
}

/// One backend's results.
struct Column {
    name: &'static str,
    samples: Vec<Sample>,
    fdb: BTreeSet<String>,
    states: BTreeSet<String>,
    error: Option<String>,
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

/// What a switch learned about the hosts, and its port states, from the
/// JSON of `bridge fdb show` / `bridge link show`.
fn behaviour(fdb: &str, links: &str, hosts: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
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
    (f, s)
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
    let topo_file = std::env::temp_dir().join(format!("patchbay-compare-{}.pb", lab.tag));
    std::fs::write(&topo_file, &text).map_err(|e| e.to_string())?;
    let tf = topo_file.to_str().expect("utf-8 path").to_string();
    let mut cols = vec![
        Column {
            name: "kernel",
            samples: vec![],
            fdb: BTreeSet::new(),
            states: BTreeSet::new(),
            error: None,
        },
        Column {
            name: "patchbay",
            samples: vec![],
            fdb: BTreeSet::new(),
            states: BTreeSet::new(),
            error: None,
        },
    ];
    let binpath = bin.to_str().expect("utf-8 path").to_string();
    for r in 0..a.rounds {
        // The kernel's.
        if cols[0].error.is_none() {
            progress(&format!(
                "round {}/{}: kernel: applying {}",
                r + 1,
                a.rounds,
                a.topo
            ));
            let out = lab.exec(&sw, &[&binpath, "--backend", "kernel", "-batch", &tf])?;
            if !out.status.success() {
                let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
                progress(&format!("kernel: {e}"));
                cols[0].error = Some(e);
            } else {
                progress("kernel: 64-byte frames, TCP, round trips");
                let s = measure(&lab, &t, a.secs, a.pings);
                let fdb = lab
                    .exec(&sw, &["bridge", "-j", "fdb", "show"])
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                let links = lab
                    .exec(&sw, &["bridge", "-j", "link", "show"])
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                (cols[0].fdb, cols[0].states) = behaviour(&fdb, &links, &macs);
                for d in made(&text).iter().rev() {
                    let _ = lab.ip(&["-n", &sw, "link", "del", d]);
                }
                match s {
                    Ok(s) => cols[0].samples.push(s),
                    Err(e) => cols[0].error = Some(e),
                }
            }
        }
        // patchbay's.
        progress(&format!(
            "round {}/{}: patchbay: applying {}",
            r + 1,
            a.rounds,
            a.topo
        ));
        lab.start_daemon_in(Some(&sw), &[])?;
        if let Err(e) = lab.pb(&["-batch", &tf]) {
            lab.stop_daemon();
            let _ = std::fs::remove_file(&topo_file);
            return Err(format!("patchbay: {}", e.trim()));
        }
        progress("patchbay: 64-byte frames, TCP, round trips");
        let s = measure(&lab, &t, a.secs, a.pings);
        let fdb = lab.pb(&["-j", "bridge", "fdb", "show"]).unwrap_or_default();
        let links = lab
            .pb(&["-j", "bridge", "link", "show"])
            .unwrap_or_default();
        (cols[1].fdb, cols[1].states) = behaviour(&fdb, &links, &macs);
        lab.stop_daemon();
        match s {
            Ok(s) => cols[1].samples.push(s),
            Err(e) => cols[1].error = Some(e),
        }
    }
    let _ = std::fs::remove_file(&topo_file);
    report(a, &cols, o)
}

type Row = (&'static str, &'static str, fn(&Sample) -> f64, f64);

const ROWS: [Row; 7] = [
    ("offered", "64-byte frames/s offered", |s| s.offered, 1.0),
    ("rate", "64-byte frames/s delivered", |s| s.rate, 1.0),
    ("tcp", "TCP Gbit/s (iperf3)", |s| s.tcp, 1e9),
    ("rtt_median", "round trip median µs", |s| s.rtt_median, 1.0),
    ("rtt_p99", "round trip p99 µs", |s| s.rtt_p99, 1.0),
    ("cpu_ns", "CPU ns per frame (machine)", |s| s.cpu_ns, 1.0),
    ("rounds", "rounds", |_| 1.0, 1.0),
];

fn report(a: &Args, cols: &[Column], o: Opts) -> Result<(), String> {
    let (k, p) = (&cols[0], &cols[1]);
    let mut diffs = Vec::new();
    for (what, ks, ps) in [
        ("fdb", &k.fdb, &p.fdb),
        ("port state", &k.states, &p.states),
    ] {
        for x in ks.difference(ps) {
            diffs.push(format!("{what}: kernel has \"{x}\", patchbay does not"));
        }
        for x in ps.difference(ks) {
            diffs.push(format!("{what}: patchbay has \"{x}\", the kernel does not"));
        }
    }
    let mut rows = serde_json::Map::new();
    for (key, _, f, scale) in ROWS {
        let (kv, pv) = if key == "rounds" {
            (k.samples.len() as f64, p.samples.len() as f64)
        } else {
            (k.med(f) / scale, p.med(f) / scale)
        };
        rows.insert(
            key.into(),
            json!({"kernel": num(kv), "patchbay": num(pv), "ratio": num(pv / kv)}),
        );
    }
    let j = json!({
        "topology": a.topo,
        "seconds": a.secs,
        "rows": rows,
        "behaviour": {
            "kernel": {"fdb": k.fdb, "port_states": k.states},
            "patchbay": {"fdb": p.fdb, "port_states": p.states},
            "differences": diffs,
        },
        "errors": {"kernel": k.error, "patchbay": p.error},
    });
    if let Some(f) = &a.svg {
        std::fs::write(f, svg(&j)).map_err(|e| format!("{f}: {e}"))?;
        progress(&format!("bar chart written to {f}"));
    }
    if o.json {
        println!("{j}");
        return Ok(());
    }
    println!(
        "{} — medians of {} round(s), {} s each, same run",
        a.topo, a.rounds, a.secs
    );
    println!(
        "{:<30} {:>14} {:>14} {:>8}",
        "", "kernel", "patchbay", "ratio"
    );
    for (key, label, _, _) in ROWS {
        let r = &j["rows"][key];
        let f = |v: &Value| {
            v.as_f64().map_or("-".to_string(), |x| {
                if x.abs() >= 100.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.2}")
                }
            })
        };
        println!(
            "{label:<30} {:>14} {:>14} {:>8}",
            f(&r["kernel"]),
            f(&r["patchbay"]),
            f(&r["ratio"])
        );
    }
    println!(
        "{:<30} {:>14} {:>14} {:>8}",
        "behaviour: FDB, port states",
        format!("{} / {}", k.fdb.len(), k.states.len()),
        format!("{} / {}", p.fdb.len(), p.states.len()),
        if diffs.is_empty() { "same" } else { "differ" }
    );
    for d in &diffs {
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

/// A bar chart of every row as a ratio to the kernel (1.0 = the kernel).
fn svg(j: &Value) -> String {
    let keys = ["rate", "tcp", "rtt_median", "rtt_p99", "cpu_ns"];
    let (w, bar, gap) = (640.0, 18.0, 14.0);
    let h = 40.0 + keys.len() as f64 * (2.0 * bar + gap);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><text x="10" y="20">{} — patchbay / kernel (kernel = 1.0)</text>"#,
        j["topology"].as_str().unwrap_or("")
    );
    let max = keys
        .iter()
        .filter_map(|k| j["rows"][k]["ratio"].as_f64())
        .fold(1.0f64, f64::max);
    let scale = (w - 220.0) / max;
    for (i, k) in keys.iter().enumerate() {
        let y = 35.0 + i as f64 * (2.0 * bar + gap);
        let r = j["rows"][k]["ratio"].as_f64().unwrap_or(0.0);
        s += &format!(r#"<text x="10" y="{}">{k}</text>"#, y + bar);
        s += &format!(
            r##"<rect x="200" y="{y}" width="{}" height="{bar}" fill="#888"/>"##,
            scale
        );
        s += &format!(
            r##"<rect x="200" y="{}" width="{}" height="{bar}" fill="#2a7"/>"##,
            y + bar,
            r * scale
        );
        s += &format!(
            r#"<text x="{}" y="{}">{r:.2}</text>"#,
            205.0 + r * scale,
            y + 2.0 * bar - 4.0
        );
    }
    s += "</svg>\n";
    s
}
