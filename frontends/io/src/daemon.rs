//! The daemon: a mio event loop that owns the attachments and the control
//! socket and runs the core on every burst, in one of two thread layouts.
//!
//! Run to completion ([`Layout::RunToCompletion`]): one thread. A readable
//! attachment is drained in bursts of 32 (`recvmmsg` / `read`), each frame
//! walks the interface graph, and the per-attachment transmit batches are
//! flushed (`sendmmsg` / `writev`) before the next burst.
//!
//! Pipeline ([`Layout::Pipeline`]): a receive thread (`rxthread.rs`) reads
//! bursts into a shared slot pool and pushes them onto lock-free per-port
//! rings; this thread, the forwarding worker, drains the rings through the
//! graph and sends. Either way, commands from the control socket are applied
//! by the thread that owns the graph, between bursts, so the packet path
//! takes no lock. ARCHITECTURE.md says which layout the benchmark favours.

mod control;
mod effects;
mod hostsync;
mod teamd;
mod teamd_bus;
pub use teamd::RUN_DIR as TEAMD_RUN_DIR;

use crate::attach::Port;
use crate::proto::{Request, Response};
use crate::ring::{split, PortRing, RxBufs, BURST};
use crate::rxthread::{self, RxCtl, Shared, ATTACH_BASE, BURSTS_PER_TURN, SIDE_BASE};
use crate::tap::Tap;
use crate::{pcap, sys};
use crossbeam_channel::{Receiver, Sender};

use mio::net::{UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};
use patchbay_core::cmd::{self, Command, Opts};
use patchbay_core::counters::DropReason;
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::{AttachId, Graph, IfId, Instant};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

const LISTENER: Token = Token(0);
const SIGNAL: Token = Token(1);
const WAKE: Token = Token(2);
const LINKMON: Token = Token(3);
/// VXLAN underlay sockets: one per destination port, up to 8.
const UNDERLAY_BASE: usize = 8;
const CLIENT_BASE: usize = 16;
/// How often kernel link state (IFF_UP, carrier) is read back.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// A capture client that falls this far behind loses frames.
const CAPTURE_BACKLOG: usize = 16 << 20;

/// How the daemon spreads its work over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One thread: receive, forward and send each burst in turn.
    RunToCompletion,
    /// Receive threads (this many, each owning a shard of the ports'
    /// receive side) and a forwarding worker, joined by per-port rings.
    Pipeline(usize),
}

impl Layout {
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "run-to-completion" | "rtc" => Some(Layout::RunToCompletion),
            "pipeline" => Some(Layout::Pipeline(Self::default_workers())),
            _ => None,
        }
    }

    /// Receive threads unless `--workers` says: one per four cores, at
    /// least one. The hosts whose traffic the switch carries need cores
    /// too; on this project's 2-core machine that leaves one.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 4).max(1))
    }
}

/// The worker's side of the pipeline layout.
#[derive(Debug)]
struct Pipe {
    shared: Arc<Shared>,
    /// Rings by attachment id.
    rings: Vec<Option<Arc<PortRing>>>,
    /// Rings of removed attachments, drained until the receive thread
    /// confirms it stopped filling them.
    retired: Vec<Arc<PortRing>>,
    /// The receive threads; attachment `a` belongs to `rx[a % rx.len()]`.
    rx: Vec<RxWorker>,
    acks: Receiver<AttachId>,
}

/// One receive thread: it owns its attachments' receive side.
#[derive(Debug)]
struct RxWorker {
    ctl: Sender<RxCtl>,
    registry: mio::Registry,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pipe {
    fn owner(&self, a: usize) -> &RxWorker {
        &self.rx[a % self.rx.len()]
    }
}

/// Slots in the pipeline's pool: enough for every ring of a few dozen ports.
const POOL_SLOTS: usize = 1024;

#[derive(Debug)]
struct Att {
    port: Arc<Port>,
    ifid: IfId,
    /// The kernel netdev behind the attachment.
    netdev: String,
    /// The namespace its netdev is in ([`Daemon::nss`]; 0, the daemon's
    /// own, until a TAP is moved).
    ns: usize,
    /// An exposed TAP's state as the daemon last saw or set it: what the
    /// host changed since is told from what patchbay changed
    /// (`hostsync.rs`).
    seen: Option<hostsync::TapState>,
    /// An AF_XDP port's socket counters as last folded into the graph's.
    xsk: crate::xsk::XskStats,
}

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    /// How much of `outbuf` was sent.
    outpos: usize,
    /// The client closed its side: nothing more to read.
    eof: bool,
    capture: Option<IfId>,
    /// `patchbay monitor`: the rtnetlink stream.
    monitor: bool,
    closing: bool,
    /// A `bridge fdb show` being answered a chunk a turn (`control.rs`).
    dump: Option<cmd::FdbDump>,
}

pub struct Daemon {
    poll: Poll,
    graph: Graph,
    out: Outputs,
    rx: RxBufs,
    atts: Vec<Option<Att>>,
    clients: Vec<Option<Client>>,
    listener: UnixListener,
    signal: UnixStream,
    /// The namespaces the netdevs are in, the daemon's own first, each
    /// with an ioctl socket and an rtnetlink link monitor; a slot is freed
    /// when no TAP is left in it.
    nss: Vec<Option<crate::netns::Netns>>,
    socket: PathBuf,
    epoch: std::time::Instant,
    wall_epoch: u64,
    pending: Vec<AttachId>,
    /// Clients whose requests wait for the next turn (`control.rs`).
    busy: Vec<usize>,
    stop: bool,
    pipe: Option<Pipe>,
    /// The last command's warning, for its response.
    warning: String,
    /// A `bridge fdb show` the last command started, for its client.
    dump: Option<cmd::FdbDump>,
    underlays: Vec<crate::underlay::Underlay>,
    /// Receive buffer for underlay datagrams (reused).
    underlay_buf: Vec<u8>,
    /// Raw sockets that route ipvlan l3 packets out of their masters.
    router: crate::route::Router,
    /// How kernel netdevs are attached.
    attach: crate::attach::Policy,
    /// `--poll`: never sleep; read every AF_XDP ring each turn.
    busy_poll: bool,
    /// Each team's teamd control socket and its teamdctl connections
    /// (`teamd.rs`).
    teamd: Vec<Option<teamd::Listener>>,
    teamd_conns: Vec<Option<teamd::Conn>>,
    /// teamd's D-Bus service and ZeroMQ endpoints, on their own thread
    /// (`teamd_bus.rs`), started with the first team.
    bus: Option<teamd_bus::Bus>,
    /// Whether teams are offered on the system bus (`--no-dbus`).
    dbus: bool,
    /// Wakes the loop (the receive threads, the teamd thread).
    waker: Arc<mio::Waker>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Binds the control socket (mode 0600) and installs SIGINT/SIGTERM.
    pub fn new(socket: &Path, layout: Layout) -> io::Result<Daemon> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if socket.exists() {
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "a patchbay daemon already listens on {} (stop it, or pass --socket)",
                        socket.display()
                    ),
                ));
            }
            std::fs::remove_file(socket)?;
        }
        let mut listener = UnixListener::bind(socket)?;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let (tx, mut rx) = UnixStream::pair()?;
        let std_tx: std::os::unix::net::UnixStream = tx.into();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::low_level::pipe::register(sig, std_tx.try_clone()?)?;
        }
        poll.registry()
            .register(&mut rx, SIGNAL, Interest::READABLE)?;
        // Link changes arrive as rtnetlink events; the once-a-second poll
        // stays as a fallback.
        let own = crate::netns::Netns::own()?;
        match &own.mon {
            Some(fd) => poll.registry().register(
                &mut mio::unix::SourceFd(&fd.as_raw_fd()),
                LINKMON,
                Interest::READABLE,
            )?,
            None => warn!("no rtnetlink link monitor: link changes are polled once a second"),
        }
        // mio allows one waker per poll: the receive threads and the
        // teamd thread share it.
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE)?);
        let pipe = match layout {
            Layout::RunToCompletion => None,
            Layout::Pipeline(n) => Some(Self::start_pipe(waker.clone(), n)?),
        };
        let wall_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(Daemon {
            warning: String::new(),
            dump: None,
            underlays: Vec::new(),
            underlay_buf: vec![0; 65536],
            router: crate::route::Router::default(),
            attach: crate::attach::Policy::default(),
            busy_poll: false,
            teamd: Vec::new(),
            teamd_conns: Vec::new(),
            bus: None,
            dbus: true,
            waker,
            poll,
            graph: {
                // Events become rtnetlink messages (nlmon, monitor).
                let mut g = Graph::new();
                g.record_events(true);
                g.mac_seed = sys::random_u64();
                g
            },
            out: Outputs::new(),
            rx: RxBufs::new(),
            atts: Vec::new(),
            clients: Vec::new(),
            listener,
            signal: rx,
            nss: vec![Some(own)],
            socket: socket.to_path_buf(),
            epoch: std::time::Instant::now(),
            wall_epoch,
            pending: Vec::new(),
            busy: Vec::new(),
            stop: false,
            pipe,
        })
    }

    /// How the kernel netdevs given from now on are attached.
    pub fn set_attach(&mut self, policy: crate::attach::Policy) {
        self.attach = policy;
    }

    /// Polling mode (`patchbay daemon --poll`), like a PMD thread: the
    /// daemon's threads never sleep, and every AF_XDP ring is read each
    /// turn without waiting for `epoll` to say so. The lowest round trip
    /// and the highest rate, for a core (two in the pipeline layout) kept
    /// busy. The default sleeps in `epoll` when there is nothing to do.
    pub fn set_busy_poll(&mut self, on: bool) {
        self.busy_poll = on;
        if let Some(p) = &self.pipe {
            p.shared.busy_poll.store(on, Ordering::Relaxed);
        }
    }

    /// Whether teams are offered on the system bus as teamd offers them
    /// (`patchbay daemon --no-dbus` says no).
    pub fn set_dbus(&mut self, on: bool) {
        self.dbus = on;
    }

    fn start_pipe(waker: Arc<mio::Waker>, workers: usize) -> io::Result<Pipe> {
        let shared = Arc::new(Shared {
            pool: crate::ring::Pool::new(POOL_SLOTS * workers.max(1)),
            sleeping: false.into(),
            stop: false.into(),
            busy_poll: false.into(),
            waker,
        });
        let (ack_tx, acks) = crossbeam_channel::unbounded();
        let mut rx = Vec::new();
        for i in 0..workers.max(1) {
            let rx_poll = Poll::new()?;
            let registry = rx_poll.registry().try_clone()?;
            let (ctl, ctl_rx) = crossbeam_channel::unbounded();
            let (s, acks) = (shared.clone(), ack_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("patchbay-rx{i}"))
                .spawn(move || rxthread::run(rx_poll, s, ctl_rx, acks))?;
            rx.push(RxWorker {
                ctl,
                registry,
                thread: Some(thread),
            });
        }
        Ok(Pipe {
            shared,
            rings: Vec::new(),
            retired: Vec::new(),
            rx,
            acks,
        })
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// Runs until SIGINT or SIGTERM, then removes every TAP it created.
    pub fn run(&mut self) -> io::Result<()> {
        info!(socket = %self.socket.display(), "patchbay daemon listening");
        let mut events = Events::with_capacity(256);
        let mut next_sync = self.now() + SYNC_INTERVAL;
        while !self.stop {
            let now = self.now();
            let mut deadline = next_sync;
            if let Some(t) = self.graph.poll_timeout() {
                deadline = deadline.min(t);
            }
            let busy = !self.pending.is_empty() || !self.busy.is_empty() || self.drain_rings();
            let timeout = if busy || self.busy_poll || !self.may_sleep() {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    WAKE => self.serve_bus_calls(),
                    LINKMON => {
                        if self.drain_monitors() {
                            self.sync_links();
                            self.sync_taps();
                        }
                    }
                    SIGNAL => {
                        let mut b = [0u8; 64];
                        let _ = self.signal.read(&mut b);
                        info!("signal received, stopping");
                        self.stop = true;
                    }
                    Token(t) if (UNDERLAY_BASE..CLIENT_BASE).contains(&t) => {
                        self.underlay_rx(t - UNDERLAY_BASE);
                    }
                    Token(t) if (teamd::TEAMD_BASE..SIDE_BASE).contains(&t) => {
                        self.teamd_event(t - teamd::TEAMD_BASE);
                    }
                    Token(t) if t >= SIDE_BASE => {
                        let a = if t >= ATTACH_BASE {
                            t - ATTACH_BASE
                        } else {
                            let a = t - SIDE_BASE;
                            if let Some(Some(att)) = self.atts.get(a) {
                                att.port.side_ready();
                            }
                            a
                        };
                        let a = AttachId(a as u32);
                        if !self.pending.contains(&a) {
                            self.pending.push(a);
                        }
                    }
                    Token(t) => self.client_event(t - CLIENT_BASE),
                }
            }
            if self.busy_poll && self.pipe.is_none() {
                for (i, att) in self.atts.iter().enumerate() {
                    let a = AttachId(i as u32);
                    if att
                        .as_ref()
                        .is_some_and(|t| matches!(*t.port, Port::Xdp(_)))
                        && !self.pending.contains(&a)
                    {
                        self.pending.push(a);
                    }
                }
            }
            self.service_pending();
            self.serve_busy();
            let now = self.now();
            self.graph.handle_timeout(now, &mut self.out);
            // Timers may have produced frames (BPDUs, LACPDUs).
            self.flush();
            if self.graph.take_macs_changed() {
                self.sync_taps();
            }
            self.drain_events();
            if now >= next_sync {
                self.sync_links();
                self.sync_taps();
                self.sync_ipvlan_addrs();
                next_sync = now + SYNC_INTERVAL;
            }
        }
        self.shutdown();
        Ok(())
    }

    /// Pipeline layout: runs up to a burst from every ring through the
    /// graph. Returns whether there was anything to do.
    fn drain_rings(&mut self) -> bool {
        let Some(pipe) = self.pipe.as_mut() else {
            return false;
        };
        while let Ok(a) = pipe.acks.try_recv() {
            // The receive thread stopped filling it: drain it one last time.
            if let Some(i) = pipe.retired.iter().position(|r| r.attach == a) {
                let r = pipe.retired.swap_remove(i);
                while let Some(d) = r.ring.pop() {
                    let _ = pipe.shared.pool.free.push(d.slot);
                }
            }
        }
        let mut work = false;
        let now = Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64);
        for i in 0..pipe.rings.len() {
            let Some(r) = pipe.rings[i].as_ref() else {
                continue;
            };
            let mut n = 0;
            while n < BURST {
                let Some(d) = r.ring.pop() else { break };
                // SAFETY: the descriptor came off the ring, so this thread
                // owns the slot until it pushes the index back below.
                let slot = unsafe { pipe.shared.pool.slot(d.slot) };
                if d.trunc {
                    self.graph.refused_read(r.attach, DropReason::Oversize, 1);
                } else {
                    let (data, off) = split(slot, d.len as usize);
                    self.graph
                        .receive(now, r.attach, data, d.tag, off, &mut self.out);
                }
                let _ = pipe.shared.pool.free.push(d.slot);
                n += 1;
            }
            work |= n > 0;
        }
        if work {
            self.flush();
        }
        work
    }

    /// Pipeline layout: announces that the worker is about to block, unless
    /// a ring filled in the meantime (then the caller polls without waiting).
    fn may_sleep(&self) -> bool {
        let Some(pipe) = self.pipe.as_ref() else {
            return true;
        };
        pipe.shared.sleeping.store(true, Ordering::SeqCst);
        if pipe.rings.iter().flatten().any(|r| !r.ring.is_empty()) {
            pipe.shared.sleeping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn service_pending(&mut self) {
        let mut i = 0;
        while i < self.pending.len() {
            let a = self.pending[i];
            let mut drained = false;
            for _ in 0..BURSTS_PER_TURN {
                match self.rx_burst(a) {
                    Ok(n) if n == BURST => continue,
                    Ok(_) => {
                        drained = true;
                        break;
                    }
                    Err(e) => {
                        if e.raw_os_error() == Some(libc::ENETDOWN) {
                            // The port's netdev is down: expected, and it
                            // reads again when it comes back.
                            tracing::debug!("receive: {e}");
                        } else {
                            warn!(attach = a.0, "receive failed: {e}");
                        }
                        drained = true;
                        break;
                    }
                }
            }
            if drained {
                self.pending.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// One burst from attachment `a` through the graph and out again.
    fn rx_burst(&mut self, a: AttachId) -> io::Result<usize> {
        let Some(att) = self.atts.get(a.0 as usize).and_then(Option::as_ref) else {
            return Ok(0);
        };
        let n = att.port.recv_burst(&mut self.rx)?;
        if n == 0 {
            return Ok(0);
        }
        let now = self.now();
        for i in 0..n {
            let (data, tag, off, trunc) = self.rx.frame(i);
            if trunc {
                self.graph.refused_read(a, DropReason::Oversize, 1);
                continue;
            }
            self.graph.receive(now, a, data, tag, off, &mut self.out);
            if self.out.datagrams_due() {
                self.underlay_send();
                self.out.clear_datagrams();
            }
        }
        self.flush();
        Ok(n)
    }

    fn flush(&mut self) {
        if !self.out.captures.is_empty() {
            let ts = self.wall_epoch + self.now().as_nanos();
            for (rec, data) in self.out.captured() {
                for c in self.clients.iter_mut().flatten() {
                    if c.capture == Some(rec.ifid) && c.outbuf.len() < CAPTURE_BACKLOG {
                        pcap::record(&mut c.outbuf, ts, data);
                    }
                }
            }
            for i in 0..self.clients.len() {
                if self.clients[i]
                    .as_ref()
                    .is_some_and(|c| c.capture.is_some() && !c.outbuf.is_empty())
                {
                    self.client_write(i);
                }
            }
        }
        if !self.out.datagrams.is_empty() {
            self.underlay_send();
        }
        if !self.out.routed.is_empty() {
            self.route_send();
        }
        let Daemon {
            out, atts, graph, ..
        } = self;
        out.flush(|a, batch| {
            let Some(att) = atts.get(a.0 as usize).and_then(Option::as_ref) else {
                return;
            };
            let sent = att.port.send_batch(batch);
            if sent.lost.is_empty() {
                return;
            }
            debug!(dev = %att.netdev, lost = sent.lost.len(), "the kernel refused frames");
            if let Some(f) = graph.get_mut(att.ifid) {
                // A port's frames were counted as sent (tx); what an
                // exposed device delivers to its host was counted as
                // received, and stays so.
                let port = f.attach.is_some_and(|a| a.role == Role::Wire);
                for (why, len) in sent.lost {
                    if port {
                        f.counters.unsent(why, len);
                    } else {
                        f.counters.drop(why);
                    }
                }
            }
        });
    }

    /// Pipeline layout: moves the rings' overflow counts into the graph's
    /// counters, so `stats` shows them.
    fn fold_ring_drops(&mut self) {
        let Some(pipe) = self.pipe.as_ref() else {
            return;
        };
        for r in pipe.rings.iter().flatten() {
            let n = r.take_full();
            if n > 0 {
                self.graph.refused_read(r.attach, DropReason::RxRingFull, n);
            }
        }
    }

    fn add_attachment(&mut self, id: IfId, port: Port, netdev: &str, role: Role) -> io::Result<()> {
        let a = self
            .atts
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.atts.push(None);
                self.atts.len() - 1
            });
        let port = Arc::new(port);
        let fds = port.fds();
        let attach = AttachId(a as u32);
        // The attachment's descriptor wakes the loop with its token; a
        // second one (an AF_XDP port's AF_PACKET socket) with its own.
        let register = |r: &mio::Registry| -> io::Result<()> {
            for (i, fd) in fds.iter().enumerate() {
                let base = if i == 0 { ATTACH_BASE } else { SIDE_BASE };
                r.register(
                    &mut mio::unix::SourceFd(fd),
                    Token(base + a),
                    Interest::READABLE,
                )?;
            }
            Ok(())
        };
        match self.pipe.as_mut() {
            None => {
                register(self.poll.registry())?;
                // Frames may already be waiting: edge-triggered polling would not say.
                self.pending.push(attach);
            }
            Some(pipe) => {
                let ring = Arc::new(PortRing::new(attach));
                if a >= pipe.rings.len() {
                    pipe.rings.resize_with(a + 1, || None);
                }
                pipe.rings[a] = Some(ring.clone());
                // The ring reaches the receive thread before the descriptor
                // can wake it.
                let w = pipe.owner(a);
                let _ = w.ctl.send(RxCtl::Add(ring, port.clone()));
                register(&w.registry)?;
            }
        }
        self.atts[a] = Some(Att {
            port,
            ifid: id,
            netdev: netdev.to_string(),
            ns: 0,
            seen: None,
            xsk: Default::default(),
        });
        self.graph.attach(id, Attachment { id: attach, role });
        self.graph.iface_mut(id).via = self.atts[a].as_ref().expect("just set").port.kind();
        Ok(())
    }

    fn close_attachment(&mut self, a: AttachId) {
        if let Some(att) = self.atts.get_mut(a.0 as usize).and_then(Option::take) {
            let fds = att.port.fds();
            let deregister = |r: &mio::Registry| {
                for fd in &fds {
                    let _ = r.deregister(&mut mio::unix::SourceFd(fd));
                }
            };
            match self.pipe.as_mut() {
                None => deregister(self.poll.registry()),
                Some(pipe) => {
                    deregister(&pipe.owner(a.0 as usize).registry);
                    if let Some(r) = pipe.rings.get_mut(a.0 as usize).and_then(Option::take) {
                        pipe.retired.push(r);
                    }
                    let _ = pipe.owner(a.0 as usize).ctl.send(RxCtl::Remove(a));
                }
            }
            self.pending.retain(|p| *p != a);
            debug!(dev = %att.netdev, "closed attachment");
        }
    }

    /// Datagrams the underlay received: to the device of their VNI.
    fn underlay_rx(&mut self, i: usize) {
        let mut buf = std::mem::take(&mut self.underlay_buf);
        // What a burst of datagrams decapsulated leaves in one batch per
        // port, as a burst from a port does.
        let mut burst = 0;
        while let Some(u) = self.underlays.get(i) {
            let (n, src, seg) = match u.recv(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!("underlay receive: {e}");
                    break;
                }
            };
            // A coalesced run (UDP GRO) is its datagrams back to back: each
            // stretch of one VNI goes to its device as a run (whose TCP
            // segments the core may coalesce in turn).
            let seg = seg.unwrap_or(n).max(1);
            let mut chunks = buf[..n].chunks(seg).peekable();
            while let Some(first) = chunks.next() {
                let vni_of = |d: &[u8]| {
                    d.get(4..7)
                        .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]))
                };
                let vni = vni_of(first);
                let mut run: smallvec::SmallVec<[&[u8]; 64]> = smallvec::smallvec![first];
                while let Some(d) = chunks.next_if(|d| vni_of(d) == vni) {
                    run.push(d);
                }
                let Some(u) = self.underlays.get(i) else {
                    break;
                };
                let dev = u.devs.iter().copied().find(|d| {
                    matches!(self.graph.get(*d).map(|f| &f.kind), Some(Kind::Vxlan(v)) if Some(v.cfg.vni) == vni)
                });
                let Some(dev) = dev else { continue };
                let now = self.now();
                if run.len() == 1 {
                    self.graph
                        .receive_underlay(now, dev, src, first, &mut self.out);
                } else {
                    self.graph
                        .receive_underlay_run(now, dev, src, &run, &mut self.out);
                }
                burst += run.len();
                if burst >= BURST {
                    self.flush();
                    burst = 0;
                }
            }
        }
        self.flush();
        self.underlay_buf = buf;
    }

    /// The control plane's events as rtnetlink messages: sent on every nlmon
    /// device that is up (to its captures) and to `patchbay monitor`.
    fn drain_events(&mut self) {
        self.graph.collect_all();
        let mut msgs = Vec::new();
        while let Some(e) = self.graph.poll_event() {
            msgs.extend(crate::rtnl::encode(&self.graph, &e));
        }
        if msgs.is_empty() {
            return;
        }
        let ts = self.wall_epoch + self.now().as_nanos();
        let nlmons: Vec<IfId> = self
            .graph
            .iter()
            .filter(|(_, f)| matches!(f.kind, Kind::Nlmon) && f.admin_up)
            .map(|(id, _)| id)
            .collect();
        let mut rec = Vec::new();
        for m in &msgs {
            rec.clear();
            rec.extend_from_slice(&crate::rtnl::cooked_header(crate::rtnl::NETLINK_ROUTE));
            rec.extend_from_slice(m);
            for id in &nlmons {
                self.graph.iface_mut(*id).counters.tx(rec.len());
            }
            for c in self.clients.iter_mut().flatten() {
                let to_me = c.monitor || c.capture.is_some_and(|id| nlmons.contains(&id));
                if to_me && c.outbuf.len() < CAPTURE_BACKLOG {
                    pcap::record(&mut c.outbuf, ts, &rec);
                }
            }
        }
        for i in 0..self.clients.len() {
            if self.clients[i]
                .as_ref()
                .is_some_and(|c| (c.monitor || c.capture.is_some()) && !c.outbuf.is_empty())
            {
                self.client_write(i);
            }
        }
    }

    /// Routes the ipvlan l3 packets of this burst out of their masters.
    fn route_send(&mut self) {
        for r in &self.out.routed {
            let Some(a) = self.graph.get(r.0).and_then(|f| f.attach) else {
                continue;
            };
            let Some(att) = self.atts.get(a.id.0 as usize).and_then(Option::as_ref) else {
                continue;
            };
            if let Err(e) = self.router.send(&att.netdev, self.out.routed_packet(r)) {
                debug!(dev = %att.netdev, "route: {e}");
                if let Some(f) = self.graph.get_mut(r.0) {
                    f.counters.drops[DropReason::TxError as usize] += 1;
                }
            }
        }
    }

    /// The addresses configured on the ipvlan slaves' TAPs (where the host
    /// puts them) join those learned from their traffic.
    fn sync_ipvlan_addrs(&mut self) {
        let taps: Vec<(IfId, String, usize)> = self
            .graph
            .iter()
            .filter(|(_, f)| matches!(f.kind, Kind::Ipvlan(_)))
            .filter_map(|(id, f)| {
                let att = self.atts.get(f.attach?.id.0 as usize)?.as_ref()?;
                Some((id, att.netdev.clone(), att.ns))
            })
            .collect();
        for (id, dev, ns) in taps {
            let addrs = self
                .ns(ns)
                .and_then(|n| n.run(move || crate::route::addresses(&dev)).ok())
                .unwrap_or_default();
            let master = self.graph.iface(id).link;
            let taken: Vec<std::net::IpAddr> = master
                .map(|m| self.graph.iface(m).ipvlans.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|s| *s != id)
                .filter_map(|s| match &self.graph.iface(s).kind {
                    Kind::Ipvlan(v) => Some(v.addrs.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            if let Kind::Ipvlan(v) = &mut self.graph.iface_mut(id).kind {
                for a in addrs {
                    if !v.addrs.contains(&a)
                        && !taken.contains(&a)
                        && v.addrs.len() < patchbay_core::ipvlan::MAX_ADDRS
                    {
                        v.addrs.push(a);
                    }
                }
            }
        }
    }

    /// Sends the VXLAN datagrams of this burst: a run of one flow's
    /// datagrams of one size (a TSO packet the core segmented) in one UDP
    /// GSO send where it can, the rest one by one.
    fn underlay_send(&mut self) {
        let ds = &self.out.datagrams;
        let mut i = 0;
        while i < ds.len() {
            let d = &ds[i];
            let Some(Kind::Vxlan(v)) = self.graph.get(d.dev).map(|f| &f.kind) else {
                i += 1;
                continue;
            };
            let Some(u) = self.underlays.iter_mut().find(|u| u.devs.contains(&d.dev)) else {
                i += 1;
                continue;
            };
            // The run: same device and outer fields, the first's size (the
            // last may be shorter), within one GSO send's limits.
            let mut end = i + 1;
            let mut bytes = d.len as usize;
            while end < ds.len()
                && end - i < crate::underlay::GSO_MAX_SEGS
                && ds[end].dev == d.dev
                && ds[end].encap == d.encap
                && ds[end].len <= d.len
                && ds[end - 1].len == d.len
                && bytes + ds[end].len as usize <= crate::underlay::GSO_MAX_BYTES
            {
                bytes += ds[end].len as usize;
                end += 1;
            }
            let mut run: [&[u8]; crate::underlay::GSO_MAX_SEGS] =
                [&[]; crate::underlay::GSO_MAX_SEGS];
            for (r, x) in run.iter_mut().zip(&ds[i..end]) {
                *r = self.out.datagram(x);
            }
            let run = &run[..end - i];
            if !u.send_gso(&v.cfg, &d.encap, run) {
                let mut failed = 0;
                for p in run {
                    if let Err(e) = u.send(&v.cfg, &d.encap, p) {
                        debug!(dst = %d.encap.dst, "underlay send: {e}");
                        failed += 1;
                    }
                }
                if let Some(f) = self.graph.get_mut(d.dev) {
                    f.counters.drops[DropReason::TxError as usize] += failed;
                }
            }
            i = end;
        }
    }

    /// AF_XDP ports: whether the program is still attached (the port goes
    /// on over AF_PACKET if not, and says so), and what the socket
    /// dropped, as drops of the port.
    fn sync_xsk(&mut self) {
        for att in self.atts.iter_mut().flatten() {
            let Port::Xdp(x) = &*att.port else { continue };
            let via = att.port.kind();
            let Some(f) = self.graph.get_mut(att.ifid) else {
                continue;
            };
            if f.via != via {
                warn!(dev = %att.netdev, "the port's XDP program is gone (detached or replaced from outside): its frames now arrive over AF_PACKET");
                f.via = via;
            }
            let st = x.stats();
            let lost = |s: &crate::xsk::XskStats| s.rx_dropped + s.rx_ring_full;
            let n = lost(&st).saturating_sub(lost(&att.xsk));
            f.counters.drops[DropReason::RxRingFull as usize] += n;
            f.counters.drops[DropReason::TxError as usize] +=
                st.tx_invalid_descs.saturating_sub(att.xsk.tx_invalid_descs);
            att.xsk = st;
        }
    }

    /// Reads IFF_UP and carrier of the kernel netdevs used as ports.
    fn sync_links(&mut self) {
        self.sync_xsk();
        let now = self.now();
        for att in self.atts.iter().flatten() {
            let Some(f) = self.graph.get(att.ifid) else {
                continue;
            };
            if !matches!(f.kind, Kind::External) {
                continue;
            }
            let (was_up, had_carrier) = (f.admin_up, f.carrier);
            let (up, carrier) = match sys::flags(&att.netdev) {
                Ok(st) => st,
                Err(_) => {
                    if had_carrier {
                        warn!(dev = %att.netdev, "the netdev is gone");
                    }
                    (was_up, false)
                }
            };
            if (up, carrier) != (was_up, had_carrier) {
                info!(dev = %att.netdev, up, carrier, "link state changed");
                self.graph.iface_mut(att.ifid).admin_up = up;
                self.graph.set_carrier(now, att.ifid, carrier);
            }
        }
    }

    /// Reads what the link monitors (one per namespace) queued; whether
    /// anything changed.
    fn drain_monitors(&self) -> bool {
        let mut any = false;
        for n in self.nss.iter().flatten() {
            any |= n.mon.as_ref().is_some_and(sys::drain_monitor);
        }
        any
    }

    fn shutdown(&mut self) {
        if let Some(pipe) = self.pipe.as_mut() {
            pipe.shared.stop.store(true, Ordering::Relaxed);
            for w in &mut pipe.rx {
                if let Some(t) = w.thread.take() {
                    let _ = t.join();
                }
            }
        }
        let n = self
            .atts
            .iter()
            .flatten()
            .filter(|a| matches!(*a.port, Port::Tap(_)))
            .count();
        for i in 0..self.atts.len() {
            self.close_attachment(AttachId(i as u32));
        }
        for i in 0..self.teamd.len() {
            self.close_teamd(i);
        }
        // Gives back the D-Bus names and closes the ZeroMQ endpoints.
        self.bus = None;
        let _ = std::fs::remove_file(&self.socket);
        info!(taps = n, "stopped; TAP devices removed");
    }
}
