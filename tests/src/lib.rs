//! Helpers shared by the integration tests in `tests/`: where the patchbay
//! binary is, and a namespace lab that skips without root, except under
//! CI=true where it fails (CI must run these tests).

use patchbay_lab::{check_prerequisites, Lab};
use std::path::PathBuf;

/// The `patchbay` binary next to the test binary (`$PATCHBAY_BIN` overrides).
pub fn patchbay_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PATCHBAY_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("patchbay");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build --release --bins), or set PATCHBAY_BIN",
        bin.display()
    );
    bin
}

/// Says that the running test is skipped, and why: on stderr (shown with
/// `--nocapture`) and as a line of `$PATCHBAY_SKIP_LOG`, which the
/// README's test command (`.ci/test`) counts and lists at the end, so a
/// skip is never a silent pass.
pub fn skipped(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    eprintln!("skipped: {test}: {why}");
    if let Some(path) = std::env::var_os("PATCHBAY_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(f, "{test}: {why}");
        }
    }
}

/// A lab, or `None` (test skipped) when this machine cannot run one.
pub fn lab(prefix: &str) -> Option<Lab> {
    if let Err(why) = check_prerequisites() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and this test cannot run: it {why}");
        }
        skipped(&format!("it {why}"));
        return None;
    }
    Some(Lab::new(prefix, &patchbay_bin()))
}

/// Whether every program in `progs` is installed. A missing one skips the
/// test (false), except under CI=true, where it fails: `.ci/run` installs
/// `packages`.
pub fn require(progs: &[&str], packages: &str) -> bool {
    for prog in progs {
        if !have(prog) {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and {prog} is missing: .ci/run installs {packages}");
            }
            skipped(&format!(
                "{prog} is not installed (apt-get install {packages})"
            ));
            return false;
        }
    }
    true
}

/// A veth pair with both ends in the root namespace, up, IPv6 off.
pub fn veth_pair(lab: &mut Lab, a: &str, b: &str) {
    lab.ip(&["link", "add", a, "type", "veth", "peer", "name", b])
        .unwrap();
    lab.track_link(a);
    for d in [a, b] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{d}/disable_ipv6"), "1");
        lab.ip(&["link", "set", d, "up"]).unwrap();
    }
}

/// A device's (tx frames, tx bytes), as `patchbay -j -s link show` says.
pub fn tx_counters(lab: &Lab, dev: &str) -> (u64, u64) {
    let v = json(&lab.pb(&["-j", "-s", "link", "show", dev]).unwrap());
    let s = &v[0]["stats64"];
    (
        s["tx_packets"].as_u64().unwrap(),
        s["tx_bytes"].as_u64().unwrap(),
    )
}

/// Parses JSON output, naming it when it is not JSON.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Deterministic payload (xorshift), so the receiver can check every byte.
pub fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A TCP transfer under way: [`Transfer::finish`] waits for it and checks
/// every byte.
#[derive(Debug)]
pub struct Transfer {
    len: usize,
    client: std::thread::JoinHandle<Result<(), String>>,
    server: std::thread::JoinHandle<Result<Vec<u8>, String>>,
}

impl Transfer {
    pub fn finish(self) {
        self.client.join().unwrap().unwrap();
        let got = self.server.join().unwrap().unwrap();
        assert_eq!(got.len(), self.len, "bytes received");
        assert!(got == payload(self.len), "payload corrupted in transit");
    }
}

/// Starts sending `len` bytes over TCP from namespace `from` to
/// `to_addr`:5001 in `to_ns`, `chunk` bytes at a time with `pause` between
/// chunks (so a transfer can be made to last while the test does things).
pub fn tcp_transfer_paced(
    from: &str,
    to_ns: &str,
    to_addr: &str,
    len: usize,
    chunk: usize,
    pause: std::time::Duration,
) -> Transfer {
    use patchbay_lab::in_netns;
    use std::io::{Read, Write};
    use std::time::Duration;
    let addr: std::net::SocketAddr = format!("{to_addr}:5001").parse().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = in_netns(to_ns, move || {
        let l = std::net::TcpListener::bind(addr).expect("bind");
        tx.send(()).unwrap();
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::with_capacity(len);
        s.read_to_end(&mut got).expect("read");
        got
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("server listening");
    let client = in_netns(from, move || {
        let mut s =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        let data = payload(len);
        for c in data.chunks(chunk.max(1)) {
            s.write_all(c).expect("write");
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        s.shutdown(std::net::Shutdown::Write).unwrap();
    });
    Transfer {
        len,
        client,
        server,
    }
}

/// Sends `len` bytes over TCP from `from` to `to_addr` in `to_ns` and checks
/// that every byte arrives intact.
pub fn tcp_transfer(from: &str, to_ns: &str, to_addr: &str, len: usize) {
    tcp_transfer_paced(from, to_ns, to_addr, len, len, std::time::Duration::ZERO).finish();
}

pub use patchbay_lab::Ovs;

/// The program is on PATH.
pub fn have(prog: &str) -> bool {
    patchbay_lab::have(prog)
}

/// `patchbay -j ARGS` through the lab's daemon, parsed; panics naming the
/// command when it fails or prints no JSON.
pub fn pb_json(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["-j"];
    a.extend_from_slice(args);
    let out = lab
        .pb(&a)
        .unwrap_or_else(|e| panic!("patchbay {args:?}: {e}"));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("patchbay -j {args:?}: {e}: {out}"))
}
