//! A lab of network namespaces for the demo, the integration tests and the
//! comparison harness: namespaces, veth pairs and a patchbay daemon, all
//! removed again when the [`Lab`] is dropped, also after a failure.
//!
//! Only addresses of the benchmarking range 198.18.0.0/15 are used, and
//! nothing outside the namespaces and devices the lab made is touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub struct Lab {
    /// A short tag unique to this lab, used in every name it makes.
    pub tag: String,
    netns: Vec<String>,
    links: Vec<String>,
    daemon: Option<Child>,
    pub socket: PathBuf,
    pub patchbay: PathBuf,
}

/// Why a lab cannot run here: not root, or `ip` missing.
pub fn check_prerequisites() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root: it creates network namespaces, veth pairs and TAP devices (run it with sudo)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("needs the `ip` command from iproute2 (apt-get install iproute2)".into()),
    }
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(o)
}

impl Lab {
    /// `prefix` is at most 4 characters; names stay within 15.
    pub fn new(prefix: &str, patchbay: &Path) -> Lab {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{prefix}{}{n}", std::process::id() % 10_000);
        let socket = std::env::temp_dir().join(format!("patchbay-{tag}.sock"));
        Lab {
            tag,
            netns: vec![],
            links: vec![],
            daemon: None,
            socket,
            patchbay: patchbay.to_path_buf(),
        }
    }

    /// `ip ARGS` in the root namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new("ip").args(args)).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Runs a program inside namespace `ns`.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<Output, String> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .map_err(|e| format!("ip netns exec {ns} {args:?}: {e}"))
    }

    /// Like [`Lab::exec`] but an error when the program fails.
    pub fn exec_ok(&self, ns: &str, args: &[&str]) -> Result<String, String> {
        let o = self.exec(ns, args)?;
        if !o.status.success() {
            return Err(format!(
                "in {ns}: {args:?} failed: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Starts a program in `ns` in the background; the caller waits for it.
    pub fn spawn(&self, ns: &str, args: &[&str]) -> Result<Child, String> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {args:?} in {ns}: {e}"))
    }

    /// A name unique to this lab: `{tag}{suffix}`.
    pub fn name(&self, suffix: &str) -> String {
        let n = format!("{}{suffix}", self.tag);
        assert!(n.len() <= 15, "interface name {n} too long");
        n
    }

    /// Creates namespace `{tag}{suffix}` with loopback up and IPv6 DAD off.
    pub fn netns(&mut self, suffix: &str) -> Result<String, String> {
        let ns = self.name(suffix);
        self.ip(&["netns", "add", &ns])?;
        self.netns.push(ns.clone());
        self.ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        let _ = self.exec(
            &ns,
            &[
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ],
        );
        Ok(ns)
    }

    /// A veth pair: `{tag}{suffix}` stays in the root namespace (down, no
    /// address, IPv6 off: it is a switch port), `eth0` goes into `ns` with
    /// `addr` (CIDR) and up.
    pub fn veth_host(&mut self, suffix: &str, ns: &str, addr: &str) -> Result<String, String> {
        let port = self.name(suffix);
        self.ip(&[
            "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ])?;
        self.links.push(port.clone());
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{port}/disable_ipv6"), "1");
        self.ip(&["link", "set", &port, "up"])?;
        self.host_addr(ns, "eth0", addr)?;
        Ok(port)
    }

    /// Gives `dev` in `ns` an address and brings it up.
    pub fn host_addr(&self, ns: &str, dev: &str, addr: &str) -> Result<(), String> {
        self.ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
        self.ip(&["-n", ns, "link", "set", dev, "up"])?;
        Ok(())
    }

    /// Remembers a root-namespace device to delete at the end.
    pub fn track_link(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// Starts `patchbay daemon` on the lab's socket and waits until it answers.
    pub fn start_daemon(&mut self) -> Result<(), String> {
        let child = Command::new(&self.patchbay)
            .args(["daemon", "--socket"])
            .arg(&self.socket)
            .env(
                "PATCHBAY_LOG",
                std::env::var("PATCHBAY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.patchbay.display()))?;
        self.daemon = Some(child);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return Ok(());
            }
            if let Some(c) = self.daemon.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Err(format!("patchbay daemon exited at start: {st}"));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("patchbay daemon did not come up within 10 s".into())
    }

    /// `patchbay --socket S ARGS`; the output, or the error it printed.
    pub fn pb(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new(&self.patchbay)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after 5 s).
    pub fn stop_daemon(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.daemon.take()?;
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_daemon();
        for l in self.links.drain(..) {
            let _ = Command::new("ip")
                .args(["link", "del", &l])
                .stderr(Stdio::null())
                .status();
        }
        for ns in self.netns.drain(..) {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}
