//! A lab of network namespaces for the demo, the integration tests and the
//! comparison harness: namespaces, veth pairs and a patchbay daemon, all
//! removed again when the [`Lab`] is dropped, also after a failure.
//!
//! Only addresses of the benchmarking range 198.18.0.0/15 are used, and
//! nothing outside the namespaces and devices the lab made is touched.
//! [`harness`] measures the switches the comparison runs through it.

pub mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A process a test or the harness started: killed and reaped when dropped,
/// so a failing test leaves no process behind.
#[derive(Debug)]
pub struct Proc(Option<Child>);

impl Proc {
    pub fn new(child: Child) -> Proc {
        Proc(Some(child))
    }

    /// The process's piped stdout, to read while it runs.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.0.as_mut().and_then(|c| c.stdout.take())
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        match self.0.as_mut() {
            Some(c) => c.try_wait(),
            None => Ok(None),
        }
    }

    pub fn kill(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
        }
    }

    /// Asks the process to finish (SIGTERM), as Ctrl-C would: a capture
    /// writes out what it has.
    pub fn terminate(&mut self) {
        if let Some(c) = self.0.as_ref() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
    }

    /// Waits for the process (after it ended or was killed) and collects
    /// its output.
    pub fn wait_with_output(mut self) -> std::io::Result<Output> {
        self.0.take().expect("a live process").wait_with_output()
    }

    /// Waits for the process to end by itself.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let status = self.0.as_mut().expect("a live process").wait();
        self.0 = None;
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct Lab {
    /// A short tag unique to this lab, used in every name it makes.
    pub tag: String,
    netns: Vec<String>,
    links: Vec<String>,
    daemon: Option<Child>,
    pub socket: PathBuf,
    pub patchbay: PathBuf,
    /// Extra arguments for every daemon this lab starts (`--layout ...`).
    pub daemon_args: Vec<String>,
    /// Environment for every daemon this lab starts (a private D-Bus
    /// system bus's address).
    pub daemon_env: Vec<(String, String)>,
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
            daemon_args: vec![],
            daemon_env: vec![],
        }
    }

    /// A lab whose names are the suffixes as given (`host-a`, `br0`), for
    /// the demo, where a person reads them; `None` when one of `names` is
    /// taken already (a namespace or a netdev of that name exists), so the
    /// caller can fall back to [`Lab::new`]'s unique names.
    pub fn plain(patchbay: &Path, names: &[&str]) -> Option<Lab> {
        let taken = |n: &str| {
            Path::new("/run/netns").join(n).exists() || Path::new("/sys/class/net").join(n).exists()
        };
        if names.iter().any(|n| taken(n)) {
            return None;
        }
        let mut lab = Lab::new("", patchbay);
        lab.socket =
            std::env::temp_dir().join(format!("patchbay-demo-{}.sock", std::process::id()));
        lab.tag = String::new();
        Some(lab)
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
    pub fn spawn(&self, ns: &str, args: &[&str]) -> Result<Proc, String> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map(Proc::new)
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
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
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

    /// The MAC of `dev` inside `ns`.
    pub fn mac(&self, ns: &str, dev: &str) -> Result<String, String> {
        let p = format!("/sys/class/net/{dev}/address");
        self.exec_ok(ns, &["cat", &p]).map(|s| s.trim().to_string())
    }

    /// A counter of `dev` inside `ns` (`rx_packets`, `tx_bytes`, ...).
    pub fn counter(&self, ns: &str, dev: &str, name: &str) -> Result<u64, String> {
        let p = format!("/sys/class/net/{dev}/statistics/{name}");
        self.exec_ok(ns, &["cat", &p])?
            .trim()
            .parse()
            .map_err(|e| format!("{p}: {e}"))
    }

    /// Remembers a root-namespace device to delete at the end.
    pub fn track_link(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// Starts `patchbay daemon` on the lab's socket and waits until it answers.
    pub fn start_daemon(&mut self) -> Result<(), String> {
        self.start_daemon_with(&[])
    }

    /// Starts the daemon with extra arguments (`--layout pipeline`).
    pub fn start_daemon_with(&mut self, extra: &[&str]) -> Result<(), String> {
        self.start_daemon_in(None, extra)
    }

    /// Starts the daemon inside network namespace `ns` (its TAPs and its
    /// VXLAN underlay live there), or in the current one.
    pub fn start_daemon_in(&mut self, ns: Option<&str>, extra: &[&str]) -> Result<(), String> {
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.patchbay);
                c
            }
            None => Command::new(&self.patchbay),
        };
        let child = cmd
            .args(["daemon", "--socket"])
            .arg(&self.socket)
            .args(&self.daemon_args)
            .args(extra)
            .envs(self.daemon_env.iter().map(|(k, v)| (k, v)))
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

    /// The running daemon's process id.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
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
        // A daemon that died leaves its teams' teamd sockets behind; the
        // lab's device names start with its tag.
        if let Ok(dir) = std::fs::read_dir(patchbay_io::daemon::TEAMD_RUN_DIR) {
            for e in dir.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.tag) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
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

pub use patchbay_io::sys::in_netns;

fn raw_socket(dev: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let ifindex = patchbay_io::sys::ifindex(dev)
        .ok_or_else(|| std::io::Error::other(format!("no device {dev}")))?;
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); owned right away.
    let raw = patchbay_io::sys::cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    })?;
    // SAFETY: fresh descriptor.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_ll is plain old data.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: valid sockaddr_ll of the given size.
    patchbay_io::sys::cvt(unsafe {
        libc::bind(
            raw,
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    })?;
    Ok(fd)
}

/// Sends raw frames on `dev` inside `ns`. Returns, per frame, whether the
/// kernel took it.
pub fn raw_send(ns: &str, dev: &str, frames: Vec<Vec<u8>>) -> Result<Vec<bool>, String> {
    let dev = dev.to_string();
    in_netns(ns, move || {
        let fd = raw_socket(&dev).map_err(|e| e.to_string())?;
        Ok(frames
            .iter()
            .map(|f| {
                // SAFETY: send(2) of a live buffer on our socket.
                unsafe {
                    libc::send(
                        std::os::fd::AsRawFd::as_raw_fd(&fd),
                        f.as_ptr() as *const libc::c_void,
                        f.len(),
                        0,
                    ) >= 0
                }
            })
            .collect())
    })
    .join()
    .map_err(|_| "raw_send thread panicked".to_string())?
    .and_then(|r| r)
}

/// Captured frames, or why not.
pub type Captured = std::thread::JoinHandle<Result<Vec<Vec<u8>>, String>>;

/// Captures what `dev` inside `ns` receives for `dur` (incoming frames
/// only). The capture is open when this returns; join the handle for the
/// frames.
pub fn raw_capture(ns: &str, dev: &str, dur: Duration) -> Result<Captured, String> {
    let dev = dev.to_string();
    let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let h = in_netns(ns, move || -> Result<Vec<Vec<u8>>, String> {
        let fd = match raw_socket(&dev) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return Err(e.to_string());
            }
        };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of this size.
        unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        let _ = tx.send(Ok(()));
        let t0 = Instant::now();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while t0.elapsed() < dur {
            // SAFETY: sockaddr_ll is plain old data.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: recvfrom into live buffers of the given sizes.
            let n = unsafe {
                libc::recvfrom(
                    raw,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                    &mut from as *mut _ as *mut libc::sockaddr,
                    &mut len,
                )
            };
            if n > 0 && from.sll_pkttype != libc::PACKET_OUTGOING {
                got.push(buf[..n as usize].to_vec());
            }
        }
        Ok(got)
    });
    type Inner = std::thread::JoinHandle<Result<Result<Vec<Vec<u8>>, String>, String>>;
    let flat = |h: Inner| {
        h.join()
            .map_err(|_| "capture thread panicked".to_string())?
            .and_then(|r| r)
    };
    match rx.recv() {
        Ok(Ok(())) => Ok(std::thread::spawn(move || flat(h))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(flat(h).err().unwrap_or_default()),
    }
}

/// Sends `frame` on `dev` inside `ns` for `dur`: as fast as `sendmmsg`
/// goes, or paced at `pps` frames a second (a batch each millisecond or
/// so). Returns how many frames the kernel took. The comparison harness's
/// load generator.
pub fn raw_blast(
    ns: &str,
    dev: &str,
    frame: Vec<u8>,
    dur: Duration,
    pps: Option<f64>,
) -> Result<u64, String> {
    let dev = dev.to_string();
    in_netns(ns, move || -> Result<u64, String> {
        let fd = raw_socket(&dev).map_err(|e| e.to_string())?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let one: libc::c_int = 1;
        // SAFETY: PACKET_QDISC_BYPASS takes an int.
        unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &one as *const _ as *const libc::c_void,
                4,
            )
        };
        const N: usize = 64;
        let mut iov = libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        };
        // SAFETY: plain old data.
        let mut msgs: [libc::mmsghdr; N] = unsafe { std::mem::zeroed() };
        for m in msgs.iter_mut() {
            m.msg_hdr.msg_iov = &mut iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // Paced: `batch` frames every `batch / pps` seconds, on an
        // absolute schedule so that a late batch does not lower the rate.
        let batch = pps.map_or(N, |r| ((r / 1000.0).ceil() as usize).clamp(1, N));
        let t0 = Instant::now();
        let mut sent = 0u64;
        let mut due = 0u64;
        while t0.elapsed() < dur {
            if let Some(r) = pps {
                let at = t0 + Duration::from_secs_f64(due as f64 / r);
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                due += batch as u64;
            }
            // SAFETY: every message points at the same live frame; the
            // kernel only reads it.
            let r = unsafe { libc::sendmmsg(raw, msgs.as_mut_ptr(), batch as u32, 0) };
            if r > 0 {
                sent += r as u64;
            }
        }
        Ok(sent)
    })
    .join()
    .map_err(|_| "blast thread panicked".to_string())?
    .and_then(|r| r)
}

/// A private Open vSwitch for a test: ovsdb-server and ovs-vswitchd in
/// network namespace `ns`, database and sockets in `dir`, stopped and
/// removed when dropped.
#[derive(Debug)]
pub struct Ovs {
    pub dir: PathBuf,
    _db: Proc,
    _vswitchd: Proc,
}

impl Drop for Ovs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Ovs {
    pub fn start(lab: &Lab, ns: &str) -> Ovs {
        Ovs::try_start(lab, ns, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts ovsdb-server and ovs-vswitchd in `ns`, or says why not.
    /// `other_config` (`key=value`) is set in the database before
    /// ovs-vswitchd starts: some keys (userspace-tso-enable) are read
    /// only then.
    pub fn try_start(lab: &Lab, ns: &str, other_config: &[&str]) -> Result<Ovs, String> {
        let dir = std::env::temp_dir().join(format!("{}-ovs", lab.tag));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let d = dir.to_str().expect("utf-8 path").to_string();
        let ok = Command::new("ovsdb-tool")
            .args(["create", &format!("{d}/conf.db")])
            .arg("/usr/share/openvswitch/vswitch.ovsschema")
            .status()
            .map_err(|e| format!("ovsdb-tool: {e}"))?;
        if !ok.success() {
            return Err("ovsdb-tool create failed".into());
        }
        let db = lab.spawn(
            ns,
            &[
                "ovsdb-server",
                &format!("{d}/conf.db"),
                &format!("--remote=punix:{d}/db.sock"),
                &format!("--unixctl={d}/ovsdb.ctl"),
                &format!("--pidfile={d}/ovsdb.pid"),
                &format!("--log-file={d}/ovsdb.log"),
                "-vconsole:off",
            ],
        )?;
        wait_for(&dir.join("db.sock"))?;
        let mut ovs = Ovs {
            dir: dir.clone(),
            _db: db,
            _vswitchd: Proc::new(Command::new("true").spawn().map_err(|e| e.to_string())?),
        };
        ovs.try_vsctl(&["--no-wait", "init"])?;
        for kv in other_config {
            ovs.try_vsctl(&[
                "--no-wait",
                "set",
                "Open_vSwitch",
                ".",
                &format!("other_config:{kv}"),
            ])?;
        }
        ovs._vswitchd = lab.spawn(
            ns,
            &[
                "env",
                &format!("OVS_RUNDIR={d}"),
                "ovs-vswitchd",
                &format!("unix:{d}/db.sock"),
                &format!("--unixctl={d}/vswitchd.ctl"),
                &format!("--pidfile={d}/vswitchd.pid"),
                &format!("--log-file={d}/vswitchd.log"),
                "-vconsole:off",
            ],
        )?;
        wait_for(&dir.join("vswitchd.ctl"))?;
        Ok(ovs)
    }

    pub fn vsctl(&self, args: &[&str]) -> String {
        self.try_vsctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// ovs-vswitchd's process id (the switch's own CPU time is read from it).
    pub fn vswitchd_pid(&self) -> u32 {
        self._vswitchd.id()
    }

    pub fn try_vsctl(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new("ovs-vsctl")
            .arg(format!("--db=unix:{}/db.sock", self.dir.display()))
            .args(args)
            .output()
            .map_err(|e| format!("ovs-vsctl: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "ovs-vsctl {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// `rstp_status` key of a bridge or port, unquoted.
    pub fn status(&self, table: &str, rec: &str, key: &str) -> String {
        self.vsctl(&["get", table, rec, &format!("rstp_status:{key}")])
            .trim_matches('"')
            .to_string()
    }

    pub fn appctl(&self, args: &[&str]) -> String {
        let o = Command::new("ovs-appctl")
            .arg("-t")
            .arg(self.dir.join("vswitchd.ctl"))
            .args(args)
            .output();
        let Ok(o) = o else {
            return String::new();
        };
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    pub fn vswitchd_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("vswitchd.log")).unwrap_or_default()
    }
}

/// The program is on PATH.
pub fn have(prog: &str) -> bool {
    which(prog).is_some()
}

/// Where the program on PATH is.
pub fn which(prog: &str) -> Option<PathBuf> {
    let o = Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !p.is_empty()).then(|| PathBuf::from(p))
}

fn wait_for(p: &Path) -> Result<(), String> {
    let t0 = Instant::now();
    while !p.exists() {
        if t0.elapsed() > Duration::from_secs(10) {
            return Err(format!("{} never appeared", p.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// rtnetlink notifications: a NETLINK_ROUTE socket in `ns` that joined
/// `groups` (RTNLGRP_* numbers), read on its own thread until the
/// returned flag is set; each message arrives whole on the channel.
pub fn rtnl_listen(
    ns: &str,
    groups: &[u32],
) -> Result<
    (
        std::sync::mpsc::Receiver<Vec<u8>>,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    ),
    String,
> {
    use std::sync::atomic::AtomicBool;
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let groups = groups.to_vec();
    let _ = in_netns(ns, move || {
        // SAFETY: socket(2) with constant arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            let _ = ready_tx.send(Err(std::io::Error::last_os_error().to_string()));
            return;
        }
        // SAFETY: we own fd from here on; OwnedFd closes it.
        let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // SAFETY: a zeroed sockaddr_nl is valid (pid 0: the kernel picks).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: bind(2) with a sockaddr_nl of its size.
        let r = unsafe {
            libc::bind(
                fd,
                &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        let mut ok = r == 0;
        for g in &groups {
            // SAFETY: NETLINK_ADD_MEMBERSHIP takes an int.
            ok &= unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_NETLINK,
                    libc::NETLINK_ADD_MEMBERSHIP,
                    g as *const u32 as *const libc::c_void,
                    4,
                )
            } == 0;
        }
        // SAFETY: SO_RCVTIMEO takes a timeval of this size.
        ok &= unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            )
        } == 0;
        if !ok {
            let _ = ready_tx.send(Err(std::io::Error::last_os_error().to_string()));
            return;
        }
        let _ = ready_tx.send(Ok(()));
        let mut buf = vec![0u8; 1 << 16];
        while !stop2.load(Ordering::Relaxed) {
            // SAFETY: recv(2) into a buffer of this length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                continue;
            }
            let mut b = &buf[..n as usize];
            while b.len() >= 16 {
                let len = u32::from_ne_bytes(b[..4].try_into().unwrap()) as usize;
                if len < 16 || len > b.len() {
                    break;
                }
                let _ = tx.send(b[..len].to_vec());
                b = &b[len.next_multiple_of(4).min(b.len())..];
            }
        }
        drop(owned);
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|e| format!("rtnetlink listener in {ns}: {e}"))??;
    Ok((rx, stop))
}
