//! The daemon under abuse (root, network namespaces): a million-entry FDB
//! dumped while pings flow, and the storm-and-soak run (malformed frames,
//! control-socket floods and FDB churn together, while TCP and pings
//! flow). Each lab is removed when its test ends, also when it fails.

use patchbay_core::wire::{build_frame, Mac};
use patchbay_lab::{raw_send, Lab, Proc};
use patchbay_tests::pb_json as pbj;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `VmRSS` or `VmHWM` of a process, in KiB.
fn vm(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// Starts the peak (`VmHWM`) over from the present size.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

/// What `ping` said at its end: (sent, received, max RTT in ms).
fn ping_summary(out: &str) -> (u64, u64, f64) {
    let num = |l: &str, before: &str| -> u64 {
        let i = l.find(before).unwrap_or_else(|| panic!("{out}"));
        l[..i].split_whitespace().last().unwrap().parse().unwrap()
    };
    let l = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no summary: {out}"));
    let (sent, got) = (num(l, " packets transmitted"), num(l, " received"));
    let max = out
        .lines()
        .find_map(|l| l.split(" = ").nth(1).filter(|_| l.starts_with("rtt")))
        .and_then(|v| v.split('/').nth(2)?.parse().ok())
        .unwrap_or(f64::INFINITY);
    (sent, got, max)
}

/// `ping` from `ns` to `to` every `interval_ms`, `count` times, started.
fn pinger(lab: &Lab, ns: &str, to: &str, interval_ms: u32, count: u32) -> Proc {
    let i = format!("{:.3}", f64::from(interval_ms) / 1000.0);
    let c = count.to_string();
    lab.spawn(ns, &["ping", "-n", "-q", "-i", &i, "-c", &c, "-W", "2", to])
        .unwrap()
}

fn ping_result(p: Proc) -> (u64, u64, f64) {
    let o = p.wait_with_output().unwrap();
    ping_summary(&String::from_utf8_lossy(&o.stdout))
}

/// Frames from `n` sources (02:xx from `base`) to the LLDP group: each
/// source is learned, and the frame stays on its port (`link_local`).
fn sources(base: u64, n: u64) -> Vec<Vec<u8>> {
    let lldp: Mac = "01:80:c2:00:00:0e".parse().unwrap();
    (0..n)
        .map(|i| build_frame(lldp, Mac::local(base + i), &[], 0x88b5, &[0; 46]))
        .collect()
}

/// Sends `n` learnable sources from `ns`'s `dev` in paced batches (so the
/// daemon keeps up), until the bridge has learned `want` of them or 60 s
/// passed; returns how many it learned.
fn fill_fdb(lab: &Lab, ns: &str, dev: &str, br: &str, n: u64, want: u64) -> u64 {
    let batch = 20_000;
    let t0 = Instant::now();
    let mut sent = 0;
    let mut base = 0x10_0000;
    loop {
        while sent < n {
            raw_send(ns, dev, sources(base + sent, batch)).unwrap();
            sent += batch;
            std::thread::sleep(Duration::from_millis(20));
        }
        // (Counted with the dump under test; the ports' own entries are
        // a few more.)
        let learned = streamed(lab, &["bridge", "fdb", "show", "br", br]).1;
        if learned >= want || t0.elapsed() > Duration::from_secs(60) {
            return learned;
        }
        // Some were lost on the way in: send the missing ones again, from
        // new sources.
        base += sent;
        sent = n - (want - learned).min(n) - batch;
    }
}

/// `patchbay ARGS` with its output read as it comes, counted, and its
/// first and last bytes kept: (bytes, lines, `{` count, head, tail).
fn streamed(lab: &Lab, args: &[&str]) -> (u64, u64, u64, Vec<u8>, Vec<u8>) {
    let mut child = Command::new(&lab.patchbay)
        .arg("--socket")
        .arg(&lab.socket)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let (mut bytes, mut lines, mut objs) = (0u64, 0u64, 0u64);
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let b = &buf[..n];
        if head.len() < 64 {
            head.extend_from_slice(&b[..b.len().min(64 - head.len())]);
        }
        tail.extend_from_slice(b);
        if tail.len() > 256 {
            tail.drain(..tail.len() - 256);
        }
        bytes += n as u64;
        lines += b.iter().filter(|c| **c == b'\n').count() as u64;
        objs += b.iter().filter(|c| **c == b'{').count() as u64;
    }
    assert!(child.wait().unwrap().success(), "patchbay {args:?} failed");
    (bytes, lines, objs, head, tail)
}

/// A million learned entries are dumped (text and `-j`) whole, while
/// pings every 10 ms keep flowing through the bridge and the daemon's
/// memory does not grow by the answer's size. Before the dump was
/// streamed, 1.02 M entries took 4.7 s with forwarding stopped (pings
/// waited 4 s) and the daemon peaked at 1.45 GB.
#[test]
fn a_million_entry_fdb_dump_streams_while_forwarding_goes_on() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut lab) = patchbay_tests::lab("fd") else {
        return;
    };
    if !patchbay_tests::require(&["ping"], "iputils-ping") {
        return;
    }
    let (a, b, c) = (
        lab.netns("a").unwrap(),
        lab.netns("b").unwrap(),
        lab.netns("c").unwrap(),
    );
    let pa = lab.veth_host("pa", &a, "198.18.21.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.21.2/24").unwrap();
    let pc = lab.veth_host("pc", &c, "198.18.21.3/24").unwrap();
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    for cmd in [
        format!("link add {br} type bridge"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {pc} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    let want = 1_000_000;
    let learned = fill_fdb(&lab, &c, "eth0", &br, want, want);
    assert!(learned >= want, "the bridge learned {learned} of {want}");
    let pid = lab.daemon_pid().unwrap();
    // Pings through the bridge every 10 ms while both dumps run.
    let ping = pinger(&lab, &a, "198.18.21.2", 10, 600);
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = vm(pid, "VmRSS");
    reset_peak(pid);
    let t0 = Instant::now();
    let (_, text_lines, _, _, _) = streamed(&lab, &["bridge", "fdb", "show", "br", &br]);
    let text_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let (json_bytes, json_lines, objs, head, tail) =
        streamed(&lab, &["-j", "bridge", "fdb", "show", "br", &br]);
    let json_s = t0.elapsed().as_secs_f64();
    let peak = vm(pid, "VmHWM");
    let (sent, got, max_rtt) = ping_result(ping);
    eprintln!(
        "fdb dump of {learned} learned entries: text {text_lines} lines in {text_s:.2} s, \
         -j {json_bytes} bytes in {json_s:.2} s; daemon RSS {rss0} kB, peak during the dumps \
         {peak} kB; pings {got}/{sent}, max RTT {max_rtt} ms"
    );
    // Every entry: the learned ones, the ports' own and the bridge's.
    assert!(text_lines >= learned, "{text_lines} lines for {learned}");
    assert_eq!(objs, text_lines, "-j has one object per text line");
    assert_eq!(json_lines, 1, "-j is one line");
    assert_eq!(&head[..2], b"[{", "{}", String::from_utf8_lossy(&head));
    assert!(
        tail.ends_with(b"}]\n"),
        "{}",
        String::from_utf8_lossy(&tail)
    );
    // Nothing of the answer is held: the key list (16 bytes an entry) and
    // a chunk or two, not the hundred MB the answer is.
    assert!(
        peak < rss0 + 48 * 1024,
        "the daemon grew from {rss0} kB to {peak} kB during the dumps"
    );
    // Forwarding went on: the old answer held it up for seconds.
    assert!(
        got + 3 >= sent,
        "pings lost during the dumps: {got} of {sent}"
    );
    assert!(
        max_rtt < 1000.0,
        "a ping waited {max_rtt} ms during the dumps"
    );
}

/// The tests of this file one at a time: each loads the machine, and the
/// other's bounds assume it has it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The malformed storm: random bytes and lengths, broken and reserved
/// tags, garbage BPDUs and LACPDUs, PAUSE, truncated IPv4/ARP/IGMP,
/// multicast sources, fake VXLAN; seeded, so a failure can be replayed.
fn storm(rng: &mut patchbay_core::rng::Rng, n: usize) -> Vec<Vec<u8>> {
    use patchbay_core::wire::{ethertype, Tag};
    let mut out = Vec::with_capacity(n);
    let host = |i: u64| Mac::local(0xbad000 + i);
    for _ in 0..n {
        let len = rng.below(200) as usize;
        let junk: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let (a, b) = (host(rng.below(16)), host(rng.below(16)));
        let f = match rng.below(13) {
            0 => junk[..len.min(60)].to_vec(),
            1 => build_frame(b, a, &[], ethertype::VLAN, &[]),
            2 => build_frame(
                b,
                a,
                &[Tag::new(ethertype::QINQ, 5, 0)],
                ethertype::VLAN,
                &junk[..len.min(1)],
            ),
            3 => build_frame(
                b,
                a,
                &[Tag::new(ethertype::VLAN, 4095, 0)],
                ethertype::IPV4,
                &[0; 46],
            ),
            4 => build_frame(
                "01:80:c2:00:00:00".parse().unwrap(),
                a,
                &[],
                (len as u16).max(3),
                &junk,
            ),
            5 => build_frame("01:80:c2:00:00:02".parse().unwrap(), a, &[], 0x8809, &junk),
            6 => build_frame(
                "01:80:c2:00:00:01".parse().unwrap(),
                a,
                &[],
                0x8808,
                &[0; 46],
            ),
            7 => build_frame(b, a, &[], ethertype::IPV4, &junk[..len.min(19)]),
            8 => build_frame(Mac::BROADCAST, a, &[], ethertype::ARP, &junk[..len.min(27)]),
            9 => {
                // IGMP, cut short.
                let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0];
                ip.extend_from_slice(&[198, 18, 22, 9, 224, 0, 0, 22]);
                ip.extend_from_slice(&junk[..len.min(5)]);
                build_frame(
                    "01:00:5e:00:00:16".parse().unwrap(),
                    a,
                    &[],
                    ethertype::IPV4,
                    &ip,
                )
            }
            10 => build_frame(
                b,
                "01:00:5e:00:00:09".parse().unwrap(),
                &[],
                ethertype::IPV4,
                &[0; 46],
            ),
            11 => {
                // UDP to 4789 with a VXLAN header of noise.
                let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0];
                ip.extend_from_slice(&[198, 18, 22, 9, 198, 18, 22, 1]);
                ip.extend_from_slice(&[0x12, 0xb5, 0x12, 0xb5, 0, 0, 0, 0]);
                ip.extend_from_slice(&junk);
                let l = ip.len() as u16;
                ip[2..4].copy_from_slice(&l.to_be_bytes());
                build_frame(b, a, &[], ethertype::IPV4, &ip)
            }
            _ => junk.clone(),
        };
        out.push(f);
    }
    out
}

/// A client that sends `data` and reads whatever comes back until the
/// daemon hangs up or a minute passes; returns the answer lines.
fn flood_client(socket: &std::path::Path, data: Vec<u8>) -> usize {
    use std::io::Write;
    let s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for c in data.chunks(64 << 10) {
            if w.write_all(c).is_err() {
                break;
            }
        }
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let n = BufReader::new(s).lines().map_while(Result::ok).count();
    writer.join().unwrap();
    n
}

/// Storm, control-socket floods and FDB churn together, for about 45 s,
/// while TCP and pings flow through an STP bridge: the daemon does not
/// panic, the pings get through (no more than 1 % lost), the TCP stream
/// arrives intact, memory stays flat, another client is answered within
/// seconds under a 100,000-request flood, and every frame the daemon read
/// ends in exactly one fate.
#[test]
fn storm_and_soak() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut lab) = patchbay_tests::lab("sk") else {
        return;
    };
    if !patchbay_tests::require(&["ping"], "iputils-ping") {
        return;
    }
    let (a, b, c, d) = (
        lab.netns("a").unwrap(),
        lab.netns("b").unwrap(),
        lab.netns("c").unwrap(),
        lab.netns("d").unwrap(),
    );
    let pa = lab.veth_host("pa", &a, "198.18.22.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.22.2/24").unwrap();
    let pd = lab.veth_host("pd", &d, "198.18.22.4/24").unwrap();
    lab.start_daemon().unwrap();
    let (br, tc) = (lab.name("br"), lab.name("tc"));
    for cmd in [
        format!("tuntap add {tc} mode tap"),
        format!("link add {br} type bridge stp_state 1 forward_delay 200"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {pd} master {br}"),
        format!("link set {tc} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    lab.ip(&["link", "set", &tc, "netns", &c]).unwrap();
    lab.host_addr(&c, &tc, "198.18.22.3/24").unwrap();
    lab.ip(&["-n", &c, "link", "set", &tc, "mtu", "9000"])
        .unwrap();
    // Listening and learning take 2 × 2 s.
    let t0 = Instant::now();
    while lab
        .exec(&a, &["ping", "-c", "1", "-W", "1", "198.18.22.2"])
        .map_or(true, |o| !o.status.success())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the bridge never forwarded"
        );
    }
    let pid = lab.daemon_pid().unwrap();
    let socket = lab.socket.clone();
    let run_for = Duration::from_secs(45);
    let ping = pinger(&lab, &a, "198.18.22.2", 10, 4500);
    let tcp = patchbay_tests::tcp_transfer_paced(
        &a,
        &b,
        "198.18.22.2",
        48 << 20,
        32 << 10,
        Duration::from_millis(25),
    );
    let start = Instant::now();
    let mut rss_warm = 0;
    let (mut storm_sent, mut storm_refused) = (0u64, 0u64);
    let mut latencies: Vec<f64> = Vec::new();
    let mut flood_answers = 0;
    std::thread::scope(|s| {
        // FDB churn: static entries added and removed, and learned
        // sources coming and going (a bounded set, so memory can stay
        // flat).
        let churn = s.spawn(|| {
            let file = std::env::temp_dir().join(format!("patchbay-{}-churn", lab.tag));
            let mut round = 0u64;
            while start.elapsed() < run_for {
                let mut text = String::new();
                for i in 0..200u64 {
                    text += &format!(
                        "bridge fdb add {} dev {pd} master static\n",
                        Mac::local(0xc0000 + i)
                    );
                }
                for i in 0..200u64 {
                    text += &format!(
                        "bridge fdb del {} dev {pd} master\n",
                        Mac::local(0xc0000 + i)
                    );
                }
                std::fs::write(&file, text).unwrap();
                lab.pb(&["-batch", file.to_str().unwrap()]).unwrap();
                raw_send(&d, "eth0", sources(0x20_0000 + (round % 4) * 5_000, 5_000)).unwrap();
                round += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = std::fs::remove_file(&file);
            round
        });
        // Control floods, one after another: 100,000 pipelined requests,
        // 10 MB of random bytes, 2 MB with no newline.
        let floods = s.spawn(|| {
            let mut rng = patchbay_core::rng::Rng::new(7);
            let mut answers = 0;
            while start.elapsed() < run_for {
                let req = serde_json::json!({"words": ["link", "show", pa], "json": true})
                    .to_string()
                    + "\n";
                answers += flood_client(&socket, req.repeat(100_000).into_bytes());
                let junk: Vec<u8> = (0..10 << 20).map(|_| rng.next_u64() as u8).collect();
                flood_client(&socket, junk);
                flood_client(&socket, vec![b'x'; 2 << 20]);
            }
            answers
        });
        // Another client meanwhile: how long its answer takes.
        let probe = s.spawn(|| {
            let mut lat = vec![];
            while start.elapsed() < run_for {
                let t = Instant::now();
                lab.pb(&["link", "show", &pb]).unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                std::thread::sleep(Duration::from_millis(200));
            }
            lat
        });
        // The storm, from the TAP host, paced.
        let mut rng = patchbay_core::rng::Rng::new(0x570a);
        while start.elapsed() < run_for {
            let sent = raw_send(&c, &tc, storm(&mut rng, 1_000)).unwrap();
            storm_sent += sent.iter().filter(|x| **x).count() as u64;
            storm_refused += sent.iter().filter(|x| !**x).count() as u64;
            if rss_warm == 0 && start.elapsed() > Duration::from_secs(10) {
                rss_warm = vm(pid, "VmRSS");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let rounds = churn.join().unwrap();
        flood_answers = floods.join().unwrap();
        latencies = probe.join().unwrap();
        assert!(rounds > 10, "FDB churn ran {rounds} rounds");
    });
    tcp.finish();
    let (sent, got, max_rtt) = ping_result(ping);
    let rss_end = vm(pid, "VmRSS");
    latencies.sort_by(f64::total_cmp);
    let (lat_med, lat_max) = (latencies[latencies.len() / 2], *latencies.last().unwrap());
    // Every frame read ended in one fate; the storm's all reached the
    // daemon or were dropped by the TAP's queue, which the kernel counts.
    let st = pbj(&lab, &["stats"]);
    let mut read_tc = 0;
    for e in st.as_array().unwrap() {
        let Some(f) = e["stats"].get("fates") else {
            continue;
        };
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(n("unaccounted"), 0, "{e}");
        assert_eq!(
            n("read"),
            n("forwarded") + n("delivered") + n("dropped"),
            "{e}"
        );
        if e["ifname"] == tc.as_str() {
            read_tc = n("read");
        }
    }
    let queue_drops = lab.counter(&c, &tc, "tx_dropped").unwrap();
    assert!(
        read_tc + queue_drops >= storm_sent,
        "the storm port read {read_tc} frames and its queue dropped {queue_drops}, of {storm_sent} sent"
    );
    assert!(
        lab.stop_daemon().is_some_and(|s| s.success()),
        "the daemon did not stop cleanly after the soak (did it panic?)"
    );
    eprintln!(
        "storm-and-soak {:.0} s: storm {storm_sent} frames ({storm_refused} refused by the kernel); \
         pings {got}/{sent}, max RTT {max_rtt} ms; RSS {rss_warm} kB at 10 s, {rss_end} kB at the end; \
         another client's answer under the floods: median {lat_med:.1} ms, max {lat_max:.1} ms \
         ({} probes); {flood_answers} flood answers; stats read {read_tc} on the storm port, {queue_drops} dropped by its queue",
        start.elapsed().as_secs_f64(),
        latencies.len()
    );
    assert!(
        sent >= 4000 && got * 100 >= sent * 99,
        "pings lost: {got} of {sent}"
    );
    assert!(
        rss_end < rss_warm + 32 * 1024,
        "memory grew from {rss_warm} kB to {rss_end} kB"
    );
    assert!(lat_max < 5000.0, "another client waited {lat_max} ms");
    assert!(
        flood_answers >= 100_000,
        "{flood_answers} answers to the floods"
    );
}
