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
    let _ = server.kill();
    let _ = server.wait();
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
    lab.start_daemon()?;
    lab.pb(&["link", "add", &ubr, "type", "bridge"])?;
    lab.pb(&["link", "set", &ubr, "up"])?;
    let (mut k_rate, mut k_tcp, mut u_rate, mut u_tcp) = (vec![], vec![], vec![], vec![]);
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
        eprintln!("round {}/{}: patchbay", r + 1, a.rounds);
        for p in [&t.pa, &t.pb] {
            lab.pb(&["link", "set", p, "master", &ubr])?;
        }
        warm(&lab, &t)?;
        u_rate.push(rate(&lab, &t, a.seconds)?);
        u_tcp.push(tcp(&lab, &t, a.seconds)?);
        for p in [&t.pa, &t.pb] {
            lab.pb(&["link", "set", p, "nomaster"])?;
        }
    }
    let (kr, ur, kt, ut) = (
        median(&mut k_rate),
        median(&mut u_rate),
        median(&mut k_tcp),
        median(&mut u_tcp),
    );
    println!(
        "medians of {} rounds, {} s each, two hosts on veth, same run",
        a.rounds, a.seconds
    );
    println!(
        "{:<28} {:>14} {:>14} {:>8}",
        "", "kernel bridge", "patchbay", "ratio"
    );
    println!(
        "{:<28} {:>14.0} {:>14.0} {:>8.2}",
        "64-byte frames per second",
        kr,
        ur,
        ur / kr
    );
    println!(
        "{:<28} {:>14.2} {:>14.2} {:>8.2}",
        "TCP Gbit/s (iperf3)",
        kt / 1e9,
        ut / 1e9,
        ut / kt
    );
    println!("rounds: kernel rate {k_rate:.0?} patchbay rate {u_rate:.0?}");
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
