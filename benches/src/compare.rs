//! The side-by-side harness: the same two hosts, the same veths, the same
//! traffic, through the kernel bridge and through patchbay, alternating in
//! one run; medians and their ratio.
//!
//! sudo target/release/compare [--seconds N] [--rounds R]
//!
//! 64-byte rate: host a blasts 60-byte frames (64 on the wire with the FCS)
//! at host b's MAC with sendmmsg; the rate is what b's eth0 counts as
//! received per second. TCP: iperf3 from a to b with the veths' default
//! offloads, bits per second received.

use patchbay_core::wire::{build_frame, Mac};
use patchbay_io::lab::{check_prerequisites, raw_blast, Lab};
use std::process::ExitCode;
use std::time::Duration;

struct Args {
    seconds: u64,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 5,
        rounds: 3,
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
            x => {
                return Err(format!(
                    "unknown argument {x} (expected --seconds N, --rounds R)"
                ))
            }
        }
        i += 2;
    }
    Ok(a)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

struct Topo {
    a: String,
    b: String,
    pa: String,
    pb: String,
}

fn rate(lab: &Lab, t: &Topo, secs: u64) -> Result<f64, String> {
    let (amac, bmac): (Mac, Mac) = (
        lab.mac(&t.a, "eth0")?.parse().map_err(|e| format!("{e}"))?,
        lab.mac(&t.b, "eth0")?.parse().map_err(|e| format!("{e}"))?,
    );
    let frame = build_frame(bmac, amac, &[], 0x88b5, &[0; 46]);
    let rx0 = lab.counter(&t.b, "eth0", "rx_packets")?;
    let sent = raw_blast(&t.a, "eth0", frame, Duration::from_secs(secs))?;
    std::thread::sleep(Duration::from_millis(300));
    let rx1 = lab.counter(&t.b, "eth0", "rx_packets")?;
    let got = rx1 - rx0;
    eprintln!("    sent {sent}, received {got}");
    Ok(got as f64 / secs as f64)
}

fn tcp(lab: &Lab, t: &Topo, secs: u64) -> Result<f64, String> {
    let mut server = lab.spawn(&t.b, &["iperf3", "-s", "-1", "-B", "198.18.5.2"])?;
    std::thread::sleep(Duration::from_millis(500));
    let out = lab.exec_ok(
        &t.a,
        &["iperf3", "-c", "198.18.5.2", "-t", &secs.to_string(), "-J"],
    );
    server.kill();
    let v: serde_json::Value =
        serde_json::from_str(&out?).map_err(|e| format!("iperf3 JSON: {e}"))?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or_else(|| "iperf3 gave no throughput".to_string())
}

fn warm(lab: &Lab, t: &Topo) -> Result<(), String> {
    for _ in 0..50 {
        if lab
            .exec(&t.a, &["ping", "-c", "1", "-W", "1", "198.18.5.2"])
            .is_ok_and(|o| o.status.success())
        {
            let _ = lab.exec(&t.b, &["ping", "-c", "1", "-W", "1", "198.18.5.1"]);
            return Ok(());
        }
    }
    Err("a cannot reach b".into())
}

fn run(a: &Args) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.with_file_name("patchbay");
    if !bin.exists() {
        return Err(format!(
            "{} not found (cargo build --release --bins)",
            bin.display()
        ));
    }
    let mut lab = Lab::new("cmp", &bin);
    let (na, nb) = (lab.netns("a")?, lab.netns("b")?);
    let pa = lab.veth_host("pa", &na, "198.18.5.1/24")?;
    let pb = lab.veth_host("pb", &nb, "198.18.5.2/24")?;
    let t = Topo {
        a: na,
        b: nb,
        pa,
        pb,
    };
    let kbr = lab.name("kb");
    let ubr = lab.name("ub");
    let layouts = ["run-to-completion", "pipeline"];
    let (mut k_rate, mut k_tcp) = (vec![], vec![]);
    let mut u_rate = vec![vec![]; layouts.len()];
    let mut u_tcp = vec![vec![]; layouts.len()];
    for r in 0..a.rounds {
        eprintln!("round {}/{}: kernel bridge", r + 1, a.rounds);
        lab.ip(&["link", "add", &kbr, "type", "bridge"])?;
        lab.track_link(&kbr);
        for p in [&t.pa, &t.pb] {
            lab.ip(&["link", "set", p, "master", &kbr])?;
        }
        lab.ip(&["link", "set", &kbr, "up"])?;
        warm(&lab, &t)?;
        k_rate.push(rate(&lab, &t, a.seconds)?);
        k_tcp.push(tcp(&lab, &t, a.seconds)?);
        lab.ip(&["link", "del", &kbr])?;
        for (li, layout) in layouts.iter().enumerate() {
            eprintln!("round {}/{}: patchbay, {layout}", r + 1, a.rounds);
            lab.start_daemon_with(&["--layout", layout])?;
            lab.pb(&["link", "add", &ubr, "type", "bridge"])?;
            lab.pb(&["link", "set", &ubr, "up"])?;
            for p in [&t.pa, &t.pb] {
                lab.pb(&["link", "set", p, "master", &ubr])?;
            }
            warm(&lab, &t)?;
            u_rate[li].push(rate(&lab, &t, a.seconds)?);
            u_tcp[li].push(tcp(&lab, &t, a.seconds)?);
            lab.stop_daemon();
        }
    }
    let (kr, kt) = (median(&mut k_rate.clone()), median(&mut k_tcp.clone()));
    println!(
        "medians of {} rounds, {} s each, two hosts on veth, same run",
        a.rounds, a.seconds
    );
    println!(
        "{:<36} {:>14} {:>14} {:>8}",
        "", "kernel bridge", "patchbay", "ratio"
    );
    for (li, layout) in layouts.iter().enumerate() {
        let (ur, ut) = (
            median(&mut u_rate[li].clone()),
            median(&mut u_tcp[li].clone()),
        );
        println!(
            "{:<36} {:>14.0} {:>14.0} {:>8.2}",
            format!("64-byte frames/s, {layout}"),
            kr,
            ur,
            ur / kr
        );
        println!(
            "{:<36} {:>14.2} {:>14.2} {:>8.2}",
            format!("TCP Gbit/s, {layout}"),
            kt / 1e9,
            ut / 1e9,
            ut / kt
        );
    }
    let gb = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.2}", x / 1e9))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("rounds: kernel rate {k_rate:.0?} tcp Gbit/s {}", gb(&k_tcp));
    for (li, layout) in layouts.iter().enumerate() {
        println!(
            "rounds: {layout} rate {:.0?} tcp Gbit/s {}",
            u_rate[li],
            gb(&u_tcp[li])
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
