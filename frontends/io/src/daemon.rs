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

use crate::attach::Port;
use crate::packet::PacketSocket;
use crate::proto::{Request, Response};
use crate::ring::{split, PortRing, RxBufs, BURST};
use crate::rxthread::{self, RxCtl, Shared, ATTACH_BASE, BURSTS_PER_TURN};
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
use std::os::fd::{AsRawFd, OwnedFd};
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
    /// A receive thread and a forwarding worker joined by per-port rings.
    Pipeline,
}

impl Layout {
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "run-to-completion" | "rtc" => Some(Layout::RunToCompletion),
            "pipeline" => Some(Layout::Pipeline),
            _ => None,
        }
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
    ctl: Sender<RxCtl>,
    acks: Receiver<AttachId>,
    registry: mio::Registry,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Slots in the pipeline's pool: enough for every ring of a few dozen ports.
const POOL_SLOTS: usize = 1024;

#[derive(Debug)]
struct Att {
    port: Arc<Port>,
    ifid: IfId,
    /// The kernel netdev behind the attachment.
    netdev: String,
    /// The network namespace its TAP was moved to (`netns NAME`).
    netns: Option<String>,
}

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    capture: Option<IfId>,
    /// `patchbay monitor`: the rtnetlink stream.
    monitor: bool,
    closing: bool,
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
    /// rtnetlink RTMGRP_LINK socket.
    linkmon: Option<OwnedFd>,
    socket: PathBuf,
    epoch: std::time::Instant,
    wall_epoch: u64,
    pending: Vec<AttachId>,
    stop: bool,
    pipe: Option<Pipe>,
    /// The last command's warning, for its response.
    warning: String,
    underlays: Vec<crate::underlay::Underlay>,
    /// Receive buffer for underlay datagrams (reused).
    underlay_buf: Vec<u8>,
    /// Raw sockets that route ipvlan l3 packets out of their masters.
    router: crate::route::Router,
    /// Sequence numbers of the rtnetlink messages the events become.
    nl_seq: u32,
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
        let linkmon = match sys::link_monitor() {
            Ok(fd) => {
                poll.registry().register(
                    &mut mio::unix::SourceFd(&fd.as_raw_fd()),
                    LINKMON,
                    Interest::READABLE,
                )?;
                Some(fd)
            }
            Err(e) => {
                warn!("no rtnetlink link monitor ({e}): link changes are polled once a second");
                None
            }
        };
        let pipe = match layout {
            Layout::RunToCompletion => None,
            Layout::Pipeline => Some(Self::start_pipe(&poll)?),
        };
        let wall_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(Daemon {
            warning: String::new(),
            underlays: Vec::new(),
            underlay_buf: vec![0; 65536],
            router: crate::route::Router::default(),
            nl_seq: 0,
            poll,
            graph: {
                // Events become rtnetlink messages (nlmon, monitor).
                let mut g = Graph::new();
                g.record_events(true);
                g
            },
            out: Outputs::new(),
            rx: RxBufs::new(),
            atts: Vec::new(),
            clients: Vec::new(),
            listener,
            signal: rx,
            linkmon,
            socket: socket.to_path_buf(),
            epoch: std::time::Instant::now(),
            wall_epoch,
            pending: Vec::new(),
            stop: false,
            pipe,
        })
    }

    fn start_pipe(poll: &Poll) -> io::Result<Pipe> {
        let rx_poll = Poll::new()?;
        let registry = rx_poll.registry().try_clone()?;
        let shared = Arc::new(Shared {
            pool: crate::ring::Pool::new(POOL_SLOTS),
            sleeping: false.into(),
            stop: false.into(),
            waker: mio::Waker::new(poll.registry(), WAKE)?,
        });
        let (ctl, ctl_rx) = crossbeam_channel::unbounded();
        let (ack_tx, acks) = crossbeam_channel::unbounded();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("patchbay-rx".into())
            .spawn(move || rxthread::run(rx_poll, s, ctl_rx, ack_tx))?;
        Ok(Pipe {
            shared,
            rings: Vec::new(),
            retired: Vec::new(),
            ctl,
            acks,
            registry,
            thread: Some(thread),
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
            let busy = !self.pending.is_empty() || self.drain_rings();
            let timeout = if busy || !self.may_sleep() {
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
                    WAKE => {}
                    LINKMON => {
                        if self.linkmon.as_ref().is_some_and(sys::drain_monitor) {
                            self.sync_links();
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
                    Token(t) if t >= ATTACH_BASE => {
                        let a = AttachId((t - ATTACH_BASE) as u32);
                        if !self.pending.contains(&a) {
                            self.pending.push(a);
                        }
                    }
                    Token(t) => self.client_event(t - CLIENT_BASE),
                }
            }
            self.service_pending();
            let now = self.now();
            self.graph.handle_timeout(now, &mut self.out);
            // Timers may have produced frames (BPDUs, LACPDUs).
            self.flush();
            if self.graph.take_macs_changed() {
                self.sync_host_macs();
            }
            self.drain_events();
            if now >= next_sync {
                self.sync_links();
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
                    if let Some(id) = self.graph.by_attach(r.attach) {
                        self.graph.iface_mut(id).counters.drop(DropReason::Oversize);
                    }
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
                if let Some(id) = self.graph.by_attach(a) {
                    self.graph.iface_mut(id).counters.drop(DropReason::Oversize);
                }
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
            let r = att.port.send_batch(batch);
            let lost = match r {
                Ok(n) => batch.len() - n,
                Err(e) => {
                    debug!(dev = %att.netdev, "send failed: {e}");
                    batch.len()
                }
            };
            if lost > 0 {
                if let Some(f) = graph.get_mut(att.ifid) {
                    f.counters.drops[DropReason::TxError as usize] += lost as u64;
                }
            }
        });
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let i = self
                        .clients
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or_else(|| {
                            self.clients.push(None);
                            self.clients.len() - 1
                        });
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        Token(CLIENT_BASE + i),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        warn!("cannot register client: {e}");
                        continue;
                    }
                    self.clients[i] = Some(Client {
                        stream,
                        inbuf: Vec::new(),
                        outbuf: Vec::new(),
                        capture: None,
                        monitor: false,
                        closing: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    warn!("accept: {e}");
                    break;
                }
            }
        }
    }

    fn client_event(&mut self, i: usize) {
        let mut closed = false;
        if let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) {
            let mut buf = [0u8; 16384];
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => c.inbuf.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
        } else {
            return;
        }
        loop {
            let c = self.clients[i].as_mut().expect("live client");
            let Some(nl) = c.inbuf.iter().position(|b| *b == b'\n') else {
                break;
            };
            let line: Vec<u8> = c.inbuf.drain(..=nl).collect();
            let reply = match serde_json::from_slice::<Request>(&line) {
                Ok(req) => self.handle_request(i, req),
                Err(e) => Response {
                    ok: false,
                    error: format!("bad request: {e}"),
                    ..Default::default()
                },
            };
            let c = self.clients[i].as_mut().expect("live client");
            let mut s = serde_json::to_vec(&reply).expect("json");
            s.push(b'\n');
            // A capture's pcap header must follow its answer line.
            let nlmon = c
                .capture
                .is_some_and(|id| matches!(self.graph.get(id).map(|f| &f.kind), Some(Kind::Nlmon)));
            let header = if (c.capture.is_some() || c.monitor) && reply.ok {
                Some(pcap::header(if nlmon || c.monitor {
                    pcap::LINKTYPE_NETLINK
                } else {
                    pcap::LINKTYPE_ETHERNET
                }))
            } else {
                None
            };
            let mut buf = std::mem::take(&mut c.outbuf);
            c.outbuf = s;
            if let Some(h) = header {
                c.outbuf.extend_from_slice(&h);
            }
            c.outbuf.append(&mut buf);
        }
        self.client_write(i);
        if closed
            || self.clients[i]
                .as_ref()
                .is_some_and(|c| c.closing && c.outbuf.is_empty())
        {
            self.drop_client(i);
        }
    }

    fn client_write(&mut self, i: usize) {
        let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        while !c.outbuf.is_empty() {
            match c.stream.write(&c.outbuf) {
                Ok(0) => break,
                Ok(n) => {
                    c.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.outbuf.clear();
                    c.closing = true;
                    break;
                }
            }
        }
    }

    fn drop_client(&mut self, i: usize) {
        if let Some(mut c) = self.clients[i].take() {
            let _ = self.poll.registry().deregister(&mut c.stream);
            if let Some(id) = c.capture {
                let still = self.clients.iter().flatten().any(|o| o.capture == Some(id));
                if let Some(f) = self.graph.get_mut(id) {
                    f.capture = still;
                }
            }
        }
    }

    fn handle_request(&mut self, client: usize, req: Request) -> Response {
        if req.monitor {
            self.clients[client].as_mut().expect("client").monitor = true;
            return Response {
                ok: true,
                ..Default::default()
            };
        }
        if let Some(dev) = req.capture {
            return match self.graph.by_name(&dev) {
                Some(id) => {
                    self.graph.iface_mut(id).capture = true;
                    self.clients[client].as_mut().expect("client").capture = Some(id);
                    Response {
                        ok: true,
                        ..Default::default()
                    }
                }
                None => Response {
                    ok: false,
                    error: format!("capture: no device named \"{dev}\" (see 'patchbay link show')"),
                    ..Default::default()
                },
            };
        }
        let opts = Opts {
            json: req.json,
            details: req.details,
            stats: req.stats,
        };
        match self.execute(&req.words, opts) {
            Ok(out) => Response {
                ok: true,
                out,
                warning: std::mem::take(&mut self.warning),
                ..Default::default()
            },
            Err(e) => Response {
                ok: false,
                error: e,
                ..Default::default()
            },
        }
    }

    /// Parses and carries out one command. On error nothing is changed.
    pub fn execute(&mut self, words: &[String], opts: Opts) -> Result<String, String> {
        let c = cmd::parse(words).map_err(|e| e.to_string())?;
        self.fold_ring_drops();
        let now = self.now();
        let mut attached = Vec::new();
        for name in c.lowers() {
            match self.ensure_attached(name) {
                Ok(Some(id)) => attached.push(id),
                Ok(None) => {}
                Err(e) => {
                    self.release_unused(&attached);
                    return Err(e);
                }
            }
        }
        let res = match &c {
            Command::TuntapAdd { name } => self.tuntap_add(name).map(|_| String::new()),
            Command::TuntapDel { name } => self.tuntap_del(name).map(|_| String::new()),
            Command::LinkAdd(a) if matches!(a.kind, cmd::LinkKind::Vxlan(..)) => {
                let cmd::LinkKind::Vxlan(cfg, _) = &a.kind else { unreachable!("matched") };
                self.vxlan_add(&c, &a.name, cfg, now, opts)
            }
            Command::LinkAdd(a) => {
                let r = cmd::apply(&mut self.graph, now, &c, opts).map_err(|e| e.to_string());
                match r {
                    Ok(o) => {
                        self.warning = o.warning;
                        let id = self.graph.by_name(&a.name).expect("just added");
                        self.expose_added(id, a).map(|_| String::new()).inspect_err(|_| {
                            self.remove_devices(id);
                        })
                    }
                    Err(e) => Err(e),
                }
            }
            Command::LinkSet(s) if s.netns.is_some() => {
                let ns = s.netns.as_deref().expect("matched");
                let r = cmd::apply(&mut self.graph, now, &c, opts).map(|o| o.text).map_err(|e| e.to_string());
                r.and_then(|t| {
                    let id = self.graph.by_name(&s.name).expect("applied");
                    self.link_set_effects(id, s.up, s.address.is_some());
                    self.move_tap(id, ns).map(|_| t)
                })
            }
            Command::LinkDel { name } => match self.graph.by_name(name).map(|id| (id, &self.graph.iface(id).kind)) {
                Some((_, Kind::External)) => Err(format!(
                    "link del {name}: \"{name}\" is a kernel device that patchbay only uses; release it with 'patchbay link set {name} nomaster'"
                )),
                Some((_, Kind::Tap)) => Err(format!("link del {name}: \"{name}\" is a TAP; remove it with 'patchbay tuntap del {name} mode tap'")),
                Some((id, _)) => {
                    self.remove_devices(id);
                    Ok(String::new())
                }
                None => cmd::apply(&mut self.graph, now, &c, opts).map(|o| o.text).map_err(|e| e.to_string()),
            },
            Command::LinkSet(s) => {
                let r = cmd::apply(&mut self.graph, now, &c, opts).map(|o| o.text).map_err(|e| e.to_string());
                if r.is_ok() {
                    let id = self.graph.by_name(&s.name).expect("applied");
                    self.link_set_effects(id, s.up, s.address.is_some());
                    self.passthru_address(id, s.address);
                }
                r
            }
            _ => cmd::apply(&mut self.graph, now, &c, opts).map(|o| o.text).map_err(|e| e.to_string()),
        };
        if res.is_err() {
            self.release_unused(&attached);
        } else {
            let all: Vec<IfId> = self
                .graph
                .iter()
                .filter(|(_, f)| matches!(f.kind, Kind::External))
                .map(|(id, _)| id)
                .collect();
            self.release_unused(&all);
            self.sync_host_macs();
        }
        res
    }

    /// A device's address can change under a command (a bond takes its
    /// first member's): the TAP that exposes it follows.
    fn sync_host_macs(&self) {
        for att in self.atts.iter().flatten() {
            let Some(f) = self.graph.get(att.ifid) else {
                continue;
            };
            if f.attach.is_some_and(|a| a.role == Role::Host)
                && sys::mac(&att.netdev).is_ok_and(|m| m != f.mac)
            {
                if let Err(e) = sys::set_mac(&att.netdev, f.mac) {
                    warn!(dev = %att.netdev, "cannot set the TAP address: {e}");
                }
            }
        }
    }

    /// Pipeline layout: moves the rings' overflow counts into the graph's
    /// counters, so `stats` shows them.
    fn fold_ring_drops(&mut self) {
        let Some(pipe) = self.pipe.as_ref() else {
            return;
        };
        for r in pipe.rings.iter().flatten() {
            let n = r.take_full();
            if let Some(id) = self.graph.by_attach(r.attach).filter(|_| n > 0) {
                self.graph.iface_mut(id).counters.drops[DropReason::RxRingFull as usize] += n;
            }
        }
    }

    /// Makes sure a kernel netdev named `name` is in the graph with an
    /// AF_PACKET attachment. Returns the id if it was attached just now.
    fn ensure_attached(&mut self, name: &str) -> Result<Option<IfId>, String> {
        if self.graph.by_name(name).is_some() {
            return Ok(None);
        }
        let Some(ifindex) = sys::ifindex(name) else {
            return Err(format!("no device named \"{name}\": it is neither a patchbay device nor a kernel netdev in this namespace"));
        };
        let mac =
            sys::mac(name).map_err(|e| format!("cannot read the address of \"{name}\": {e}"))?;
        let mtu = sys::mtu(name).unwrap_or(1500);
        let (up, carrier) = sys::flags(name).unwrap_or((false, false));
        let sock = PacketSocket::open(ifindex)
            .map_err(|e| format!("cannot open a packet socket on \"{name}\": {e}"))?;
        let id = self
            .graph
            .add(name, Kind::External, mac, mtu)
            .map_err(|e| e.to_string())?;
        let (speed, duplex) = sys::link_speed(name);
        {
            let f = self.graph.iface_mut(id);
            f.admin_up = up;
            f.carrier = carrier;
            f.speed_mbps = speed;
            f.full_duplex = duplex;
        }
        self.add_attachment(id, Port::Packet(sock), name, Role::Wire)
            .map_err(|e| e.to_string())?;
        info!(dev = name, ifindex, "attached kernel netdev");
        Ok(Some(id))
    }

    /// Releases external devices that are no longer a port or a lower.
    fn release_unused(&mut self, ids: &[IfId]) {
        for id in ids {
            let Some(f) = self.graph.get(*id) else {
                continue;
            };
            if matches!(f.kind, Kind::External)
                && f.master.is_none()
                && f.vlan_uppers.is_empty()
                && f.macvlans.is_empty()
                && f.ipvlans.is_empty()
            {
                info!(dev = %f.name, "released kernel netdev");
                self.remove_devices(*id);
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
        let fd = port.as_raw_fd();
        let attach = AttachId(a as u32);
        match self.pipe.as_mut() {
            None => {
                self.poll.registry().register(
                    &mut mio::unix::SourceFd(&fd),
                    Token(ATTACH_BASE + a),
                    Interest::READABLE,
                )?;
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
                let _ = pipe.ctl.send(RxCtl::Add(ring, port.clone()));
                pipe.registry.register(
                    &mut mio::unix::SourceFd(&fd),
                    Token(ATTACH_BASE + a),
                    Interest::READABLE,
                )?;
            }
        }
        self.atts[a] = Some(Att {
            port,
            ifid: id,
            netdev: netdev.to_string(),
            netns: None,
        });
        self.graph.attach(id, Attachment { id: attach, role });
        Ok(())
    }

    fn close_attachment(&mut self, a: AttachId) {
        if let Some(att) = self.atts.get_mut(a.0 as usize).and_then(Option::take) {
            let fd = att.port.as_raw_fd();
            match self.pipe.as_mut() {
                None => {
                    let _ = self
                        .poll
                        .registry()
                        .deregister(&mut mio::unix::SourceFd(&fd));
                }
                Some(pipe) => {
                    let _ = pipe.registry.deregister(&mut mio::unix::SourceFd(&fd));
                    if let Some(r) = pipe.rings.get_mut(a.0 as usize).and_then(Option::take) {
                        pipe.retired.push(r);
                    }
                    let _ = pipe.ctl.send(RxCtl::Remove(a));
                }
            }
            self.pending.retain(|p| *p != a);
            debug!(dev = %att.netdev, "closed attachment");
        }
    }

    /// Removes a device and its uppers from the graph and closes their
    /// attachments (a TAP disappears with its descriptor).
    /// `link add ... type vxlan`: the device, its TAP, and its underlay
    /// socket (shared by the devices on one destination port).
    fn vxlan_add(
        &mut self,
        c: &Command,
        name: &str,
        cfg: &patchbay_core::vxlan::VxlanConfig,
        now: patchbay_core::Instant,
        opts: Opts,
    ) -> Result<String, String> {
        let cmd = format!("link add {name} type vxlan");
        if self.pipe.is_some() {
            return Err(format!("{cmd}: the pipeline layout has no VXLAN underlay yet; run the daemon with --layout run-to-completion"));
        }
        if cfg.remote.is_some_and(|a| a.is_ipv6()) && !cfg.local.is_some_and(|a| a.is_ipv6()) {
            return Err(format!(
                "{cmd}: an IPv6 remote needs an IPv6 local address (local ADDR)"
            ));
        }
        let lower = match (&cfg.dev, cfg.remote) {
            (Some(d), Some(g)) if g.is_multicast() => Some(sys::ifindex(d).ok_or_else(|| {
                format!("{cmd}: no lower device \"{d}\" in the daemon's namespace")
            })?),
            _ => None,
        };
        let i = match self.underlays.iter().position(|u| u.port == cfg.dstport) {
            Some(i) => i,
            None => {
                if self.underlays.len() >= CLIENT_BASE - UNDERLAY_BASE {
                    return Err(format!(
                        "{cmd}: patchbay listens on at most {} VXLAN ports",
                        CLIENT_BASE - UNDERLAY_BASE
                    ));
                }
                let mut u = crate::underlay::Underlay::open(cfg.dstport).map_err(|e| {
                    format!(
                        "{cmd}: cannot open the underlay on UDP port {}: {e}",
                        cfg.dstport
                    )
                })?;
                let i = self.underlays.len();
                self.poll
                    .registry()
                    .register(&mut u.udp, Token(UNDERLAY_BASE + i), Interest::READABLE)
                    .map_err(|e| format!("{cmd}: {e}"))?;
                self.underlays.push(u);
                i
            }
        };
        if let (Some(ix), Some(g)) = (lower, cfg.remote) {
            self.underlays[i]
                .join(g, ix)
                .map_err(|e| format!("{cmd}: cannot join {g}: {e}"))?;
        }
        let o = cmd::apply(&mut self.graph, now, c, opts).map_err(|e| e.to_string())?;
        self.warning = o.warning;
        let id = self.graph.by_name(name).expect("just added");
        self.expose(id).inspect_err(|_| self.remove_devices(id))?;
        self.underlays[i].devs.push(id);
        Ok(String::new())
    }

    /// Datagrams the underlay received: to the device of their VNI.
    fn underlay_rx(&mut self, i: usize) {
        let mut buf = std::mem::take(&mut self.underlay_buf);
        // What a burst of datagrams decapsulated leaves in one batch per
        // port, as a burst from a port does.
        let mut burst = 0;
        while let Some(u) = self.underlays.get(i) {
            let (n, from) = match u.udp.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!("underlay receive: {e}");
                    break;
                }
            };
            let vni = buf
                .get(4..7)
                .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]));
            let dev = u.devs.iter().copied().find(|d| {
                matches!(self.graph.get(*d).map(|f| &f.kind), Some(Kind::Vxlan(v)) if Some(v.cfg.vni) == vni)
            });
            let Some(dev) = dev else { continue };
            let now = self.now();
            // A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d.
            let src = match from.ip() {
                std::net::IpAddr::V6(a) => a
                    .to_ipv4_mapped()
                    .map_or(std::net::IpAddr::V6(a), std::net::IpAddr::V4),
                a => a,
            };
            self.graph
                .receive_underlay(now, dev, src, &buf[..n], &mut self.out);
            burst += 1;
            if burst == BURST {
                self.flush();
                burst = 0;
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
            self.nl_seq = self.nl_seq.wrapping_add(1);
            msgs.extend(crate::rtnl::encode(&self.graph, &e, self.nl_seq));
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
        let taps: Vec<(IfId, String, Option<String>)> = self
            .graph
            .iter()
            .filter(|(_, f)| matches!(f.kind, Kind::Ipvlan(_)))
            .filter_map(|(id, f)| {
                let att = self.atts.get(f.attach?.id.0 as usize)?.as_ref()?;
                Some((id, att.netdev.clone(), att.netns.clone()))
            })
            .collect();
        for (id, dev, ns) in taps {
            let addrs = match ns {
                None => crate::route::addresses(&dev),
                Some(ns) => {
                    let d = dev.clone();
                    crate::lab::in_netns(&ns, move || crate::route::addresses(&d))
                        .join()
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default()
                }
            };
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

    /// Sends the VXLAN datagrams of this burst.
    fn underlay_send(&mut self) {
        for d in &self.out.datagrams {
            let Some(Kind::Vxlan(v)) = self.graph.get(d.dev).map(|f| &f.kind) else {
                continue;
            };
            let Some(u) = self.underlays.iter_mut().find(|u| u.devs.contains(&d.dev)) else {
                continue;
            };
            if let Err(e) = u.send(&v.cfg, &d.encap, self.out.datagram(d)) {
                debug!(dst = %d.encap.dst, "underlay send: {e}");
                if let Some(f) = self.graph.get_mut(d.dev) {
                    f.counters.drops[DropReason::TxError as usize] += 1;
                }
            }
        }
    }

    fn remove_devices(&mut self, id: IfId) {
        for u in &mut self.underlays {
            u.devs.retain(|d| *d != id);
        }
        for (_, f) in self.graph.remove(self.now(), id) {
            if let Some(a) = f.attach {
                self.close_attachment(a.id);
            }
        }
    }

    fn tuntap_add(&mut self, name: &str) -> Result<(), String> {
        let cmd = format!("tuntap add {name}");
        if self.graph.by_name(name).is_some() || sys::ifindex(name).is_some() {
            return Err(format!("{cmd}: a device named \"{name}\" already exists"));
        }
        let tap = Tap::create(name).map_err(|e| format!("{cmd}: {e}"))?;
        let mac = sys::mac(name).map_err(|e| format!("{cmd}: {e}"))?;
        let id = self
            .graph
            .add(name, Kind::Tap, mac, 1500)
            .map_err(|e| format!("{cmd}: {e}"))?;
        // The port side of a TAP is up while patchbay holds it; the netdev
        // facing the host has its own state, which the host sets.
        let (speed, duplex) = sys::link_speed(name);
        let f = self.graph.iface_mut(id);
        f.admin_up = true;
        // As the TAP reports itself to ethtool (10 Mbit/s, full duplex).
        f.speed_mbps = speed;
        f.full_duplex = duplex;
        self.add_attachment(id, Port::Tap(tap), name, Role::Wire)
            .map_err(|e| format!("{cmd}: {e}"))?;
        info!(dev = name, "created TAP");
        Ok(())
    }

    fn tuntap_del(&mut self, name: &str) -> Result<(), String> {
        let cmd = format!("tuntap del {name}");
        let id = self
            .graph
            .by_name(name)
            .ok_or_else(|| format!("{cmd}: no TAP named \"{name}\" made by patchbay"))?;
        if !matches!(self.graph.iface(id).kind, Kind::Tap) {
            return Err(format!(
                "{cmd}: \"{name}\" is not a TAP (use 'patchbay link del {name}')"
            ));
        }
        self.remove_devices(id);
        Ok(())
    }

    /// Exposes what `link add` made (both ends of a veth) and moves the
    /// TAPs into the namespaces the command names.
    fn expose_added(&mut self, id: IfId, a: &cmd::LinkAdd) -> Result<(), String> {
        if matches!(self.graph.iface(id).kind, Kind::Nlmon) {
            // Not an Ethernet device: its traffic is read with
            // `patchbay capture`, so it has no TAP.
            return Ok(());
        }
        if matches!(self.graph.iface(id).kind, Kind::Netdevsim) {
            // A port: its TAP is the far end of its wire, as `tuntap add`'s.
            let name = self.graph.iface(id).name.clone();
            if sys::ifindex(&name).is_some() {
                return Err(format!(
                    "link add {name}: a kernel device named \"{name}\" already exists"
                ));
            }
            let tap = Tap::create(&name)
                .map_err(|e| format!("link add {name}: cannot create its TAP: {e}"))?;
            self.add_attachment(id, Port::Tap(tap), &name, Role::Wire)
                .map_err(|e| format!("link add {name}: {e}"))?;
            if let Some(ns) = &a.netns {
                self.move_tap(id, ns)?;
            }
            return Ok(());
        }
        self.expose(id)?;
        let peer = match self.graph.iface(id).kind {
            Kind::Veth { peer: Some(p) } => Some(p),
            _ => None,
        };
        if let Some(p) = peer {
            self.expose(p)?;
        }
        if let Some(ns) = &a.netns {
            self.move_tap(id, ns)?;
        }
        if let (
            Some(p),
            cmd::LinkKind::Veth {
                peer_netns: Some(ns),
                ..
            },
        ) = (peer, &a.kind)
        {
            self.move_tap(p, ns)?;
        }
        Ok(())
    }

    /// A passthru macvlan's new address goes to its kernel lower as well.
    fn passthru_address(&mut self, id: IfId, mac: Option<patchbay_core::wire::Mac>) {
        let (Some(mac), Some(f)) = (mac, self.graph.get(id)) else {
            return;
        };
        let (Kind::Macvlan(m), Some(l)) = (&f.kind, f.link) else {
            return;
        };
        if m.mode != patchbay_core::macvlan::Mode::Passthru {
            return;
        }
        let netdev = self
            .graph
            .get(l)
            .and_then(|lf| lf.attach)
            .and_then(|a| self.atts.get(a.id.0 as usize)?.as_ref())
            .map(|a| a.netdev.clone());
        if let Some(n) = netdev {
            if let Err(e) = sys::set_mac(&n, mac) {
                warn!(dev = %n, "passthru: cannot set the lower's address: {e}");
            }
        }
    }

    /// `netns NAME`: moves the TAP that stands for device `id` into a
    /// network namespace; patchbay keeps its descriptor, so the device works
    /// on, and later `link set` changes reach the TAP there.
    fn move_tap(&mut self, id: IfId, ns: &str) -> Result<(), String> {
        let f = self.graph.iface(id);
        let name = f.name.clone();
        let ours = matches!(f.kind, Kind::Netdevsim | Kind::Tap);
        let a = match f.attach {
            Some(a) if a.role == Role::Host || ours => a,
            _ => {
                return Err(format!(
                    "link set {name} netns {ns}: \"{name}\" is a kernel device patchbay uses, not one of its TAPs; move it with ip link set {name} netns {ns}"
                ))
            }
        };
        let att = self.atts[a.id.0 as usize]
            .as_mut()
            .expect("live attachment");
        if att.netns.is_some() {
            return Err(format!("link set {name} netns {ns}: its TAP is in namespace {} already; move it with ip -n {} link set {name} netns {ns}", att.netns.as_deref().unwrap_or(""), att.netns.as_deref().unwrap_or("")));
        }
        sys::move_to_netns(&att.netdev, ns)
            .map_err(|e| format!("link set {name} netns {ns}: {e}"))?;
        att.netns = Some(ns.to_string());
        Ok(())
    }

    /// Exposes a new emulated device as a TAP of the same name, so the host
    /// can address it (`ip addr add`, `ip link set ... netns`).
    fn expose(&mut self, id: IfId) -> Result<(), String> {
        let (name, mac, up) = {
            let f = self.graph.iface(id);
            (f.name.clone(), f.mac, f.admin_up)
        };
        if sys::ifindex(&name).is_some() {
            return Err(format!("link add {name}: a kernel device named \"{name}\" already exists, and patchbay exposes its devices as TAPs of their own name"));
        }
        let tap = Tap::create(&name)
            .map_err(|e| format!("link add {name}: cannot create its TAP: {e}"))?;
        if let Err(e) = sys::set_mac(&name, mac) {
            warn!(dev = %name, "cannot set the TAP address: {e}");
        }
        let noarp = match &self.graph.iface(id).kind {
            Kind::Dummy => true,
            // l3 slaves do not ARP (`ipvlan_set_port_mode`).
            Kind::Ipvlan(v) => v.mode != patchbay_core::ipvlan::Mode::L2,
            _ => false,
        };
        if noarp {
            if let Err(e) = sys::set_noarp(&name) {
                warn!(dev = %name, "cannot set NOARP on the TAP: {e}");
            }
        }
        if up {
            let _ = sys::set_up(&name, true);
        }
        self.add_attachment(id, Port::Tap(tap), &name, Role::Host)
            .map_err(|e| format!("link add {name}: {e}"))
    }

    /// Carries `link set` through to the kernel netdev behind a device.
    fn link_set_effects(&mut self, id: IfId, up: Option<bool>, address: bool) {
        let f = self.graph.iface(id);
        let Some(a) = f.attach else { return };
        let Some(att) = self.atts.get(a.id.0 as usize).and_then(Option::as_ref) else {
            return;
        };
        let netdev = att.netdev.clone();
        let mac = (address && a.role == Role::Host).then_some(f.mac);
        let apply = move || {
            if let Some(up) = up {
                if let Err(e) = sys::set_up(&netdev, up) {
                    debug!(dev = %netdev, "cannot change the netdev's state (moved to another namespace?): {e}");
                }
            }
            if let Some(mac) = mac {
                if let Err(e) = sys::set_mac(&netdev, mac) {
                    warn!(dev = %netdev, "cannot set the TAP address: {e}");
                }
            }
        };
        match att.netns.clone() {
            // The TAP lives in another namespace: change it there.
            Some(ns) => match crate::lab::in_netns(&ns, apply).join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!("cannot reach namespace {ns}: {e}"),
                Err(_) => warn!("the thread for namespace {ns} panicked"),
            },
            None => apply(),
        }
        if matches!(f.kind, Kind::Tap) {
            // The port side of a TAP stays up; the user's up/down went to the netdev.
            self.graph.iface_mut(id).admin_up = true;
        }
    }

    /// Reads IFF_UP and carrier of the kernel netdevs used as ports.
    fn sync_links(&mut self) {
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

    fn shutdown(&mut self) {
        if let Some(pipe) = self.pipe.as_mut() {
            pipe.shared.stop.store(true, Ordering::Relaxed);
            if let Some(t) = pipe.thread.take() {
                let _ = t.join();
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
        let _ = std::fs::remove_file(&self.socket);
        info!(taps = n, "stopped; TAP devices removed");
    }
}
