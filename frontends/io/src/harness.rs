//! The measurements of the side-by-side comparisons (`patchbay compare`
//! and the `compare` bench): the same traffic between two test hosts,
//! whatever switch is between them. The load generator is the project's
//! own (`lab::raw_blast`, sendmmsg on AF_PACKET); TCP uses iperf3.

use crate::lab::{raw_blast, Lab};
use patchbay_core::wire::{build_frame, Mac};
use std::time::Duration;

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// The two test hosts, each with `eth0`.
#[derive(Clone, Debug)]
pub struct Hosts {
    pub a: String,
    pub b: String,
    pub a_ip: String,
    pub b_ip: String,
}

/// What one round measured on one backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// 64-byte frames per second offered by the generator and delivered.
    pub offered: f64,
    pub rate: f64,
    pub tcp: f64,
    pub rtt_median: f64,
    pub rtt_p99: f64,
    /// Nanoseconds of CPU, the whole machine's, per delivered frame
    /// during the rate test (the same generator in every run).
    pub cpu_ns: f64,
    /// The switch process's own CPU per delivered frame (patchbay's daemon,
    /// ovs-vswitchd); NaN for the kernel, which has no such process.
    pub switch_cpu_ns: f64,
}

/// A process's user + system time so far, in clock ticks.
fn proc_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses): fields 3.. ; utime and
    // stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Busy jiffies of the whole machine so far (/proc/stat: every column
/// but idle and iowait).
fn busy_ticks() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let l = s.lines().next()?.to_string();
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(
                v.iter().sum::<u64>()
                    - v.get(3).copied().unwrap_or(0)
                    - v.get(4).copied().unwrap_or(0),
            )
        })
        .unwrap_or(0)
}

/// 64-byte frames from a to b for `secs`: (offered/s, delivered/s, CPU ns
/// per delivered frame, whole machine).
pub fn rate(
    lab: &Lab,
    t: &Hosts,
    secs: f64,
    switch: Option<u32>,
) -> Result<(f64, f64, f64, f64), String> {
    let (amac, bmac): (Mac, Mac) = (
        lab.mac(&t.a, "eth0")?.parse().map_err(|e| format!("{e}"))?,
        lab.mac(&t.b, "eth0")?.parse().map_err(|e| format!("{e}"))?,
    );
    let frame = build_frame(bmac, amac, &[], 0x88b5, &[0; 46]);
    let rx0 = lab.counter(&t.b, "eth0", "rx_packets")?;
    let cpu0 = busy_ticks();
    let sw0 = switch.and_then(proc_ticks);
    let sent = raw_blast(&t.a, "eth0", frame, Duration::from_secs_f64(secs))?;
    let cpu1 = busy_ticks();
    let sw1 = switch.and_then(proc_ticks);
    std::thread::sleep(Duration::from_millis(300));
    let rx1 = lab.counter(&t.b, "eth0", "rx_packets")?;
    let got = rx1.saturating_sub(rx0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let per_frame = |ticks: u64| ticks as f64 / hz * 1e9 / got.max(1) as f64;
    let switch_ns = match (sw0, sw1) {
        (Some(a), Some(b)) => per_frame(b.saturating_sub(a)),
        _ => f64::NAN,
    };
    Ok((
        sent as f64 / secs,
        got as f64 / secs,
        per_frame(cpu1 - cpu0),
        switch_ns,
    ))
}

/// TCP from a to b with iperf3 for `secs`, bits per second received.
pub fn tcp(lab: &Lab, t: &Hosts, secs: f64) -> Result<f64, String> {
    let mut server = lab.spawn(&t.b, &["iperf3", "-s", "-1", "-B", &t.b_ip])?;
    std::thread::sleep(Duration::from_millis(500));
    let out = lab.exec_ok(
        &t.a,
        &[
            "iperf3",
            "-c",
            &t.b_ip,
            "-t",
            &format!("{secs}"),
            "-J",
            "--connect-timeout",
            "3000",
        ],
    );
    server.kill();
    let v: serde_json::Value =
        serde_json::from_str(&out?).map_err(|e| format!("iperf3 JSON: {e}"))?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or_else(|| "iperf3 gave no throughput".to_string())
}

/// Round trips of `n` pings 2 ms apart: (median, 99th percentile) in µs.
pub fn latency(lab: &Lab, t: &Hosts, n: u32) -> Result<(f64, f64), String> {
    let out = lab.exec_ok(
        &t.a,
        &[
            "ping",
            "-n",
            "-c",
            &n.to_string(),
            "-i",
            "0.002",
            "-W",
            "1",
            &t.b_ip,
        ],
    )?;
    let mut rtts: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|x| x.split_whitespace().next()?.parse::<f64>().ok())
        .map(|ms| ms * 1000.0)
        .collect();
    if rtts.len() < (n as usize).div_ceil(2) {
        return Err(format!("only {} of {n} pings answered", rtts.len()));
    }
    Ok((median(&mut rtts), percentile(&mut rtts, 0.99)))
}

pub fn warm(lab: &Lab, t: &Hosts) -> Result<(), String> {
    for _ in 0..50 {
        if lab
            .exec(&t.a, &["ping", "-c", "1", "-W", "1", &t.b_ip])
            .is_ok_and(|o| o.status.success())
        {
            let _ = lab.exec(&t.b, &["ping", "-c", "1", "-W", "1", &t.a_ip]);
            return Ok(());
        }
    }
    Err(format!("{} cannot reach {}", t.a_ip, t.b_ip))
}

/// Whether iperf3 is installed (TCP is measured only then).
pub fn have_iperf3() -> bool {
    std::process::Command::new("iperf3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One round: warm up, the 64-byte rate, TCP (NaN without iperf3),
/// latency.
/// `switch` is the switch's process, when it has one.
pub fn measure(
    lab: &Lab,
    t: &Hosts,
    secs: f64,
    pings: u32,
    switch: Option<u32>,
) -> Result<Sample, String> {
    warm(lab, t)?;
    let (offered, rate, cpu_ns, switch_cpu_ns) = rate(lab, t, secs, switch)?;
    // A TCP run that fails (no iperf3, or a switch that loses it) is a
    // missing number, not a lost round.
    let tcp = if have_iperf3() {
        tcp(lab, t, secs).unwrap_or_else(|e| {
            eprintln!("compare: TCP: {e}");
            f64::NAN
        })
    } else {
        f64::NAN
    };
    let (rtt_median, rtt_p99) = latency(lab, t, pings)?;
    Ok(Sample {
        offered,
        rate,
        tcp,
        rtt_median,
        rtt_p99,
        cpu_ns,
        switch_cpu_ns,
    })
}
