//! The measurements of the side-by-side comparisons (`patchbay compare`
//! and the `compare` bench): the same traffic between two test hosts,
//! whatever switch is between them. The load generator is the project's
//! own (`lab::raw_blast`, sendmmsg on AF_PACKET); TCP uses iperf3.

use crate::{raw_blast, Lab};
use patchbay_core::wire::{build_frame, Mac};
use std::time::{Duration, Instant};

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

/// The offered load at which the switch's own CPU is measured: below what
/// every switch here forwards without loss, so that every column does the
/// same work per frame.
pub const LOAD_PPS: f64 = 100_000.0;

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
    /// The whole machine's CPU per delivered frame at [`LOAD_PPS`], and
    /// the share of the offered frames delivered then.
    pub load_cpu_ns: f64,
    pub load_delivered: f64,
    /// The same load's CPU per frame over a bare veth pair ([`Baseline`]),
    /// the lower of a run right before and one right after; NaN without a
    /// baseline.
    pub baseline_cpu_ns: f64,
    /// The switch's own CPU per frame, whatever runs it (softirq for the
    /// kernel bridge, a process and its system calls for the others):
    /// `load_cpu_ns - baseline_cpu_ns`.
    pub own_cpu_ns: f64,
}

/// A process's user + system time so far, in nanoseconds.
fn proc_ns(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses): fields 3.. ; utime and
    // stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 1e9 / clock_ticks())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// A reading of the whole machine's busy time. Where every online CPU has
/// cpuidle, busy = wall time × CPUs − idle residency (microseconds);
/// otherwise /proc/stat's busy columns (every one but idle and iowait), in
/// clock ticks of 10 ms.
#[derive(Clone, Copy, Debug)]
struct CpuReading {
    at: Instant,
    idle_us: Option<(u64, u32)>,
    busy_ticks: u64,
}

impl CpuReading {
    fn now() -> CpuReading {
        CpuReading {
            at: Instant::now(),
            idle_us: cpuidle_us(),
            busy_ticks: busy_ticks(),
        }
    }

    /// Busy nanoseconds of the whole machine from `self` to `later`.
    fn busy_ns(&self, later: &CpuReading) -> f64 {
        match (self.idle_us, later.idle_us) {
            (Some((i0, n)), Some((i1, m))) if n == m => {
                let wall = later.at.duration_since(self.at).as_nanos() as f64 * n as f64;
                (wall - i1.saturating_sub(i0) as f64 * 1e3).max(0.0)
            }
            _ => later.busy_ticks.saturating_sub(self.busy_ticks) as f64 * 1e9 / clock_ticks(),
        }
    }
}

/// Idle microseconds summed over every online CPU's cpuidle states, and
/// how many CPUs; None unless every online CPU has them.
fn cpuidle_us() -> Option<(u64, u32)> {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u32;
    let mut total = 0u64;
    for cpu in 0..online {
        let dir = format!("/sys/devices/system/cpu/cpu{cpu}/cpuidle");
        let mut found = false;
        for st in std::fs::read_dir(&dir).ok()?.flatten() {
            let t = std::fs::read_to_string(st.path().join("time")).ok()?;
            total += t.trim().parse::<u64>().ok()?;
            found = true;
        }
        if !found {
            return None;
        }
    }
    Some((total, online))
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

/// What one run of the generator gave.
#[derive(Clone, Copy, Debug)]
pub struct Blast {
    /// Frames per second offered and delivered.
    pub offered: f64,
    pub delivered: f64,
    /// The whole machine's CPU per delivered frame, ns.
    pub cpu_ns: f64,
    /// The switch process's CPU per delivered frame, ns (NaN without one).
    pub switch_ns: f64,
}

/// 64-byte frames from a to b for `secs`, as fast as the generator goes or
/// at `pps`.
pub fn blast(
    lab: &Lab,
    t: &Hosts,
    secs: f64,
    pps: Option<f64>,
    switch: Option<u32>,
) -> Result<Blast, String> {
    let (amac, bmac): (Mac, Mac) = (
        lab.mac(&t.a, "eth0")?.parse().map_err(|e| format!("{e}"))?,
        lab.mac(&t.b, "eth0")?.parse().map_err(|e| format!("{e}"))?,
    );
    let frame = build_frame(bmac, amac, &[], 0x88b5, &[0; 46]);
    let rx0 = lab.counter(&t.b, "eth0", "rx_packets")?;
    let sw0 = switch.and_then(proc_ns);
    let cpu0 = CpuReading::now();
    let sent = raw_blast(&t.a, "eth0", frame, Duration::from_secs_f64(secs), pps)?;
    let cpu1 = CpuReading::now();
    let sw1 = switch.and_then(proc_ns);
    std::thread::sleep(Duration::from_millis(300));
    let rx1 = lab.counter(&t.b, "eth0", "rx_packets")?;
    let got = rx1.saturating_sub(rx0).max(1) as f64;
    Ok(Blast {
        offered: sent as f64 / secs,
        delivered: got / secs,
        cpu_ns: cpu0.busy_ns(&cpu1) / got,
        switch_ns: match (sw0, sw1) {
            (Some(a), Some(b)) => (b - a).max(0.0) / got,
            _ => f64::NAN,
        },
    })
}

/// The generator and receiver with no switch: two namespaces joined by a
/// bare veth pair (`eth0` in each). Its CPU per frame at [`LOAD_PPS`] is
/// what every switch's is measured against.
#[derive(Debug)]
pub struct Baseline {
    pub hosts: Hosts,
}

impl Baseline {
    pub fn new(lab: &mut Lab) -> Result<Baseline, String> {
        let (a, b) = (lab.netns("d1")?, lab.netns("d2")?);
        lab.ip(&[
            "link", "add", "eth0", "netns", &a, "type", "veth", "peer", "name", "eth0", "netns", &b,
        ])?;
        lab.host_addr(&a, "eth0", "198.18.71.1/24")?;
        lab.host_addr(&b, "eth0", "198.18.71.2/24")?;
        Ok(Baseline {
            hosts: Hosts {
                a,
                b,
                a_ip: "198.18.71.1".into(),
                b_ip: "198.18.71.2".into(),
            },
        })
    }

    /// The machine's CPU per frame at [`LOAD_PPS`] over the bare pair.
    pub fn measure(&self, lab: &Lab, secs: f64) -> Result<f64, String> {
        Ok(blast(lab, &self.hosts, secs, Some(LOAD_PPS), None)?.cpu_ns)
    }
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

/// One round: warm up, the 64-byte rate, the CPU at [`LOAD_PPS`] (and
/// the same over `baseline`'s bare pair just before and just after, the
/// lower of the two), TCP (NaN without iperf3), latency. `switch` is the
/// switch's process, when it has one.
pub fn measure(
    lab: &Lab,
    t: &Hosts,
    secs: f64,
    pings: u32,
    switch: Option<u32>,
    baseline: Option<&Baseline>,
) -> Result<Sample, String> {
    warm(lab, t)?;
    let top = blast(lab, t, secs, None, switch)?;
    // The bare pair's CPU on either side of the switch's: other work on
    // the machine only ever adds CPU, so the lower of the two is the
    // pair's own (one busy second would otherwise make the switch's share
    // look negative).
    let before = match baseline {
        Some(b) => b.measure(lab, secs)?,
        None => f64::NAN,
    };
    let load = blast(lab, t, secs, Some(LOAD_PPS), switch)?;
    let base = match baseline {
        Some(b) => b.measure(lab, secs)?.min(before),
        None => f64::NAN,
    };
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
        offered: top.offered,
        rate: top.delivered,
        tcp,
        rtt_median,
        rtt_p99,
        cpu_ns: top.cpu_ns,
        switch_cpu_ns: load.switch_ns,
        load_cpu_ns: load.cpu_ns,
        load_delivered: load.delivered / load.offered.max(1.0),
        baseline_cpu_ns: base,
        own_cpu_ns: load.cpu_ns - base,
    })
}
