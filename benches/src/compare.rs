//! The side-by-side harness: the same two hosts, the same veths, the same
//! traffic, through the kernel bridge and through patchbay, alternating in
//! one run; medians and their ratio.
//!
//! sudo target/release/compare [--seconds N] [--rounds R] [--topology bridge|vxlan]
//!
//! 64-byte rate: host a blasts 60-byte frames (64 on the wire with the FCS)
//! at host b's MAC with sendmmsg; the rate is what b's eth0 counts as
//! received per second. TCP: iperf3 from a to b with the veths' default
//! offloads, bits per second received. Latency: 500 pings 2 ms apart,
//! median and 99th percentile of the round trips.

use patchbay_lab::harness::{measure, median, Baseline, Hosts, Sample};
use patchbay_lab::{check_prerequisites, Lab};
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topology {
    /// Two hosts on one bridge.
    Bridge,
    /// Two hosts, each behind a bridge with a VTEP, on two "machines"
    /// (namespaces) joined by a veth underlay.
    Vxlan,
}

struct Args {
    seconds: u64,
    rounds: usize,
    topology: Topology,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 5,
        rounds: 3,
        topology: Topology::Bridge,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let num = |i: usize| {
            v.get(i + 1)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(format!("{} needs a number", v[i]))
        };
        match v[i].as_str() {
            "--seconds" => a.seconds = num(i)?,
            "--rounds" => a.rounds = num(i)? as usize,
            "--topology" => {
                a.topology = match v.get(i + 1).map(String::as_str) {
                    Some("bridge") => Topology::Bridge,
                    Some("vxlan") => Topology::Vxlan,
                    x => return Err(format!("--topology bridge|vxlan, not {x:?}")),
                }
            }
            x => {
                return Err(format!(
                "unknown argument {x} (expected --seconds N, --rounds R, --topology bridge|vxlan)"
            ))
            }
        }
        i += 2;
    }
    Ok(a)
}

/// `ip -n NS ARGS`.
fn ipn(lab: &Lab, ns: &str, args: &[&str]) -> Result<(), String> {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a).map(drop)
}

/// A veth pair from `na` in namespace `a` to `nb` in `b`, both up.
fn veth(lab: &Lab, a: &str, na: &str, b: &str, nb: &str) -> Result<(), String> {
    lab.ip(&[
        "link", "add", na, "netns", a, "type", "veth", "peer", "name", nb, "netns", b,
    ])?;
    ipn(lab, a, &["link", "set", na, "up"])?;
    ipn(lab, b, &["link", "set", nb, "up"])
}

/// A row of the table: its name, the measure, its unit's scale.
type Row = (&'static str, fn(&Sample) -> f64, f64);

/// One backend's rounds.
struct Column {
    name: String,
    samples: Vec<Sample>,
}

impl Column {
    fn new(name: &str) -> Column {
        Column {
            name: name.into(),
            samples: vec![],
        }
    }

    fn median(&self, f: impl Fn(&Sample) -> f64) -> f64 {
        median(&mut self.samples.iter().map(f).collect::<Vec<_>>())
    }
}

fn bin() -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.with_file_name("patchbay");
    if !bin.exists() {
        return Err(format!(
            "{} not found (cargo build --release --bins)",
            bin.display()
        ));
    }
    Ok(bin)
}

/// Two hosts on a kernel bridge, then on patchbay's in each layout.
fn bridge(a: &Args, cols: &mut Vec<Column>) -> Result<(), String> {
    let mut lab = Lab::new("cmp", &bin()?);
    let (na, nb) = (lab.netns("a")?, lab.netns("b")?);
    let pa = lab.veth_host("pa", &na, "198.18.5.1/24")?;
    let pb = lab.veth_host("pb", &nb, "198.18.5.2/24")?;
    let t = Hosts {
        a: na,
        b: nb,
        a_ip: "198.18.5.1".into(),
        b_ip: "198.18.5.2".into(),
    };
    let kbr = lab.name("kb");
    let ubr = lab.name("ub");
    let layouts = ["run-to-completion", "pipeline"];
    cols.push(Column::new("kernel bridge"));
    for l in layouts {
        cols.push(Column::new(&format!("patchbay {l}")));
    }
    let base = Baseline::new(&mut lab)?;
    for r in 0..a.rounds {
        eprintln!("round {}/{}: kernel bridge", r + 1, a.rounds);
        lab.ip(&["link", "add", &kbr, "type", "bridge"])?;
        lab.track_link(&kbr);
        for p in [&pa, &pb] {
            lab.ip(&["link", "set", p, "master", &kbr])?;
        }
        lab.ip(&["link", "set", &kbr, "up"])?;
        cols[0]
            .samples
            .push(measure(&lab, &t, a.seconds as f64, 500, None, Some(&base))?);
        lab.ip(&["link", "del", &kbr])?;
        for (li, layout) in layouts.iter().enumerate() {
            eprintln!("round {}/{}: patchbay, {layout}", r + 1, a.rounds);
            lab.start_daemon_with(&["--layout", layout])?;
            lab.pb(&["link", "add", &ubr, "type", "bridge"])?;
            lab.pb(&["link", "set", &ubr, "up"])?;
            for p in [&pa, &pb] {
                lab.pb(&["link", "set", p, "master", &ubr])?;
            }
            let pid = lab.daemon_pid();
            cols[li + 1]
                .samples
                .push(measure(&lab, &t, a.seconds as f64, 500, pid, Some(&base))?);
            lab.stop_daemon();
        }
    }
    Ok(())
}

/// Host a behind machine va, host b behind machine vb; va and vb joined by
/// a veth underlay (198.18.20.0/24). On each machine a bridge joins the
/// host's port and a VTEP (VNI 100, `remote` the other machine, port
/// 4789): the kernel's on both, then patchbay's on both. Hosts get MTU
/// 1450 (room for the 50 bytes of VXLAN).
fn vxlan(a: &Args, cols: &mut Vec<Column>) -> Result<(), String> {
    let bin = bin()?;
    let mut lab = Lab::new("cmv", &bin);
    let mut lab_b = Lab::new("cmw", &bin);
    let (ha, hb) = (lab.netns("a")?, lab.netns("b")?);
    let (va, vb) = (lab.netns("va")?, lab.netns("vb")?);
    veth(&lab, &va, "ul", &vb, "ul")?;
    ipn(&lab, &va, &["addr", "add", "198.18.20.1/24", "dev", "ul"])?;
    ipn(&lab, &vb, &["addr", "add", "198.18.20.2/24", "dev", "ul"])?;
    for (h, v, ip) in [(&ha, &va, "198.18.5.1/24"), (&hb, &vb, "198.18.5.2/24")] {
        veth(&lab, v, "hp", h, "eth0")?;
        ipn(&lab, h, &["addr", "add", ip, "dev", "eth0"])?;
        ipn(&lab, h, &["link", "set", "eth0", "mtu", "1450"])?;
    }
    let t = Hosts {
        a: ha,
        b: hb,
        a_ip: "198.18.5.1".into(),
        b_ip: "198.18.5.2".into(),
    };
    let ends = [
        (&va, "198.18.20.1", "198.18.20.2"),
        (&vb, "198.18.20.2", "198.18.20.1"),
    ];
    cols.push(Column::new("kernel vxlan"));
    cols.push(Column::new("patchbay vxlan"));
    let base = Baseline::new(&mut lab)?;
    for r in 0..a.rounds {
        eprintln!("round {}/{}: kernel VTEPs", r + 1, a.rounds);
        for (v, local, remote) in ends {
            ipn(
                &lab,
                v,
                &[
                    "link", "add", "vx0", "type", "vxlan", "id", "100", "local", local, "remote",
                    remote, "dstport", "4789",
                ],
            )?;
            ipn(&lab, v, &["link", "add", "name", "br0", "type", "bridge"])?;
            ipn(&lab, v, &["link", "set", "vx0", "master", "br0", "up"])?;
            ipn(&lab, v, &["link", "set", "hp", "master", "br0"])?;
            ipn(&lab, v, &["link", "set", "br0", "up"])?;
        }
        cols[0]
            .samples
            .push(measure(&lab, &t, a.seconds as f64, 500, None, Some(&base))?);
        for (v, _, _) in ends {
            ipn(&lab, v, &["link", "del", "vx0"])?;
            ipn(&lab, v, &["link", "del", "br0"])?;
        }
        eprintln!("round {}/{}: patchbay VTEPs", r + 1, a.rounds);
        for (l, (v, local, remote)) in [&mut lab, &mut lab_b].into_iter().zip(ends) {
            l.start_daemon_in(Some(v), &[])?;
            l.pb(&[
                "link", "add", "vx0", "type", "vxlan", "id", "100", "local", local, "remote",
                remote, "dstport", "4789",
            ])?;
            l.pb(&["link", "add", "name", "br0", "type", "bridge"])?;
            l.pb(&["link", "set", "vx0", "master", "br0"])?;
            l.pb(&["link", "set", "hp", "master", "br0"])?;
            l.pb(&["link", "set", "vx0", "up"])?;
            l.pb(&["link", "set", "br0", "up"])?;
        }
        // The sending side's daemon (the other does the decapsulation).
        let pid = lab.daemon_pid();
        cols[1]
            .samples
            .push(measure(&lab, &t, a.seconds as f64, 500, pid, Some(&base))?);
        lab.stop_daemon();
        lab_b.stop_daemon();
    }
    Ok(())
}

fn run(a: &Args) -> Result<(), String> {
    let mut cols = vec![];
    let what = match a.topology {
        Topology::Bridge => {
            bridge(a, &mut cols)?;
            "two hosts on a bridge over veth"
        }
        Topology::Vxlan => {
            vxlan(a, &mut cols)?;
            "two hosts behind two VTEPs over a veth underlay"
        }
    };
    println!(
        "medians of {} rounds, {} s each, {what}, same run",
        a.rounds, a.seconds
    );
    let base = &cols[0];
    for c in &cols[1..] {
        println!();
        println!("{:<28} {:>16} {:>16} {:>8}", "", base.name, c.name, "ratio");
        let rows: [Row; 5] = [
            ("64-byte frames/s", |s| s.rate, 1.0),
            ("TCP Gbit/s", |s| s.tcp, 1e9),
            ("round trip median µs", |s| s.rtt_median, 1.0),
            ("round trip p99 µs", |s| s.rtt_p99, 1.0),
            ("switch CPU ns/frame at 100k/s", |s| s.own_cpu_ns, 1.0),
        ];
        for (name, f, scale) in rows {
            let (k, u) = (base.median(f) / scale, c.median(f) / scale);
            println!("{name:<28} {k:>16.2} {u:>16.2} {:>8.2}", u / k);
        }
    }
    println!();
    for c in &cols {
        let v = |f: fn(&Sample) -> f64, scale: f64| {
            c.samples
                .iter()
                .map(|s| format!("{:.2}", f(s) / scale))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "rounds, {}: frames/s {} | TCP Gbit/s {} | rtt median µs {}",
            c.name,
            v(|s| s.rate, 1.0),
            v(|s| s.tcp, 1e9),
            v(|s| s.rtt_median, 1.0)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("compare: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(why) = check_prerequisites() {
        eprintln!("compare {why}");
        return ExitCode::from(1);
    }
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(1)
        }
    }
}
