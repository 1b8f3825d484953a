//! The engine: the core's [`Graph`] and simulated hosts joined by wires, on
//! a virtual clock that jumps to the next event or the graph's next timer.

use crate::host::{Heard, Host};
use crate::report::{
    Assertion, Change, Entry, FlowReport, PingReport, Report, WireReport, WireTraffic,
};
use crate::rng::Rng;
use crate::{time, topo};
use patchbay_core::bridge::mcast::Proto;
use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Event, Kind, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::wire::{Mac, Offload};
use patchbay_core::{AttachId, Graph, IfId, Instant};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::Ipv4Addr;

/// Virtual nanoseconds per bucket of the wires' traffic counts (100 ms).
pub const TRAFFIC_BUCKET: u64 = 100_000_000;

/// A scenario line that could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct SimError {
    pub line: usize,
    pub msg: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Port(IfId),
    Host(usize),
}

#[derive(Clone, Debug, Default)]
struct DirStats {
    frames: u64,
    bytes: u64,
    lost: u64,
    protocols: BTreeMap<&'static str, u64>,
}

#[derive(Clone, Debug)]
struct Wire {
    name: String,
    ends: [End; 2],
    delay: u64,
    jitter: u64,
    loss: f64,
    speed_mbps: u32,
    full_duplex: bool,
    up: bool,
    /// Per direction: when the sender's serializer is free again, and the
    /// last arrival (wires keep frames in order).
    next_free: [u64; 2],
    last_arrival: [u64; 2],
    stats: [DirStats; 2],
    pcap: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct Flow {
    src: usize,
    /// `None`: a broadcast flow, counted at every other host.
    dst: Option<usize>,
    /// Broadcast flows: copies of each sequence number seen, by host.
    seen_by: BTreeMap<usize, Vec<u32>>,
    size: usize,
    interval: u64,
    until: u64,
    next_seq: u64,
    sent: u64,
    received: u64,
    duplicates: u64,
    seen: Vec<u64>,
}

#[derive(Clone, Debug)]
struct Ping {
    src: usize,
    to: Ipv4Addr,
    dst_name: String,
    id: u16,
    count: u16,
    interval: u64,
    sent: u16,
    replies: u16,
}

#[derive(Debug)]
enum EvKind {
    Deliver {
        wire: usize,
        to: usize,
        frame: Vec<u8>,
    },
    Command {
        line: usize,
        words: Vec<String>,
    },
    FlowTick(usize),
    PingTick(usize),
    /// A VXLAN datagram reaching a VTEP over the simulated underlay.
    Underlay {
        dev: IfId,
        src: core::net::IpAddr,
        payload: Vec<u8>,
    },
}

#[derive(Debug)]
struct Ev {
    t: u64,
    seq: u64,
    kind: EvKind,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.t, self.seq).cmp(&(o.t, o.seq))
    }
}

/// A simulation in progress.
#[derive(Debug)]
pub struct Sim {
    pub graph: Graph,
    out: Outputs,
    now: u64,
    seed: u64,
    rng: Rng,
    wires: Vec<Wire>,
    hosts: Vec<Host>,
    host_by_name: BTreeMap<String, usize>,
    /// Attachment id → (wire, side).
    attach_ends: Vec<(usize, usize)>,
    heap: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    flows: Vec<Flow>,
    pings: Vec<Ping>,
    timeline: Vec<Entry>,
    /// The timeline's state changes by lane, and the scheduled events
    /// (the picture's lanes and marks, `report::Change`).
    changes: Vec<Change>,
    marks: Vec<Entry>,
    /// Frames put on each wire per protocol per [`TRAFFIC_BUCKET`].
    traffic: BTreeMap<(usize, &'static str, u64), u64>,
    assertions: Vec<Assertion>,
    /// Time of the last port-state or link change.
    settled: u64,
    events_processed: u64,
    record_pcap: bool,
    /// Ports made by `wire`, numbering their addresses.
    ports_made: u64,
    /// Timeline entries for FDB learning (off for very large runs).
    pub log_learning: bool,
    /// Events a scenario may process before the run is stopped (a
    /// forwarding loop grows them without bound).
    pub max_events: u64,
    stopped: bool,
    /// Called every 100,000 events with (virtual now, events so far), for
    /// progress display; nothing in the run depends on it.
    progress: Option<ProgressHook>,
}

/// The progress callback (not part of any result, so not shown by Debug).
struct ProgressHook(Box<dyn FnMut(u64, u64)>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

fn err(line: usize, msg: impl Into<String>) -> SimError {
    SimError {
        line,
        msg: msg.into(),
    }
}

/// Hosts get addresses in 198.18.0.0/15 in the order they are declared.
fn host_ip(n: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    Ipv4Addr::from(base + 1 + n as u32)
}

impl Sim {
    pub fn new(seed: u64, record_pcap: bool) -> Sim {
        let mut graph = Graph::new();
        graph.record_events(true);
        Sim {
            graph,
            out: Outputs::new(),
            now: 0,
            seed,
            rng: Rng::new(seed),
            wires: vec![],
            hosts: vec![],
            host_by_name: BTreeMap::new(),
            attach_ends: vec![],
            heap: BinaryHeap::new(),
            seq: 0,
            flows: vec![],
            pings: vec![],
            timeline: vec![],
            changes: vec![],
            marks: vec![],
            traffic: BTreeMap::new(),
            assertions: vec![],
            settled: 0,
            events_processed: 0,
            record_pcap,
            ports_made: 1,
            log_learning: true,
            max_events: 20_000_000,
            stopped: false,
            progress: None,
        }
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    /// Installs a progress hook (see the `progress` field).
    pub fn on_progress(&mut self, f: impl FnMut(u64, u64) + 'static) {
        self.progress = Some(ProgressHook(Box::new(f)));
    }

    fn schedule(&mut self, t: u64, kind: EvKind) {
        self.seq += 1;
        self.heap.push(Reverse(Ev {
            t,
            seq: self.seq,
            kind,
        }));
    }

    fn log(&mut self, text: String) {
        self.timeline.push(Entry { t: self.now, text });
    }

    /// A lane of the picture changes state (and the timeline says so).
    fn change(&mut self, lane: String, state: &str, text: String) {
        self.changes.push(Change {
            t: self.now,
            lane,
            state: state.to_string(),
        });
        self.log(text);
    }

    /// A scheduled event: in the timeline and marked in the picture.
    fn mark(&mut self, text: String) {
        self.marks.push(Entry {
            t: self.now,
            text: text.clone(),
        });
        self.log(text);
    }

    /// Reads a whole scenario before anything runs: every line splits,
    /// every verb is known, every `run` and `at` has a time and `at`
    /// times do not go back, and every device command (also one an `at`
    /// schedules) parses. What needs the topology (a device that must
    /// exist) is found when the line runs.
    pub fn check_script(text: &str) -> Result<(), SimError> {
        let mut now = 0u64;
        for (i, l) in text.lines().enumerate() {
            let line = i + 1;
            let words = cmd::split_line(l).map_err(|e| err(line, e))?;
            if words.is_empty() {
                continue;
            }
            now = Self::check_line(line, &words, now)?;
        }
        Ok(())
    }

    /// One line of [`Sim::check_script`]; the virtual time after it.
    fn check_line(line: usize, w: &[String], now: u64) -> Result<u64, SimError> {
        let time_of = |t: Option<&String>, usage: &str| {
            t.and_then(|t| time::parse(t))
                .ok_or_else(|| err(line, usage.to_string()))
        };
        match w[0].as_str() {
            "seed" | "host" | "wire" | "topology" | "ping" | "traffic" | "expect" | "join"
            | "leave" | "mcast" => Ok(now),
            "tuntap" => Err(err(
                line,
                "tuntap: the simulator has no TAP devices; use 'wire' to connect ports",
            )),
            "run" => Ok(now + time_of(w.get(1), "run DURATION: like 60s")?),
            "at" => {
                let t = time_of(w.get(1), "at TIME COMMAND: TIME like 12s or 500ms")?;
                if w.len() < 3 {
                    return Err(err(line, "at TIME COMMAND: no command"));
                }
                if t < now {
                    return Err(err(
                        line,
                        format!(
                            "at {}: that is before the current time {}",
                            w[1],
                            time::fmt(now)
                        ),
                    ));
                }
                if matches!(w[2].as_str(), "run" | "at" | "seed" | "topology") {
                    return Err(err(
                        line,
                        format!("at {}: \"{}\" cannot be scheduled", w[1], w[2]),
                    ));
                }
                Self::check_line(line, &w[2..], now).map(|_| now)
            }
            _ => {
                cmd::parse(w).map_err(|e| err(line, e.to_string()))?;
                Ok(now)
            }
        }
    }

    /// Runs a whole scenario, read whole first ([`Sim::check_script`]).
    pub fn run_script(&mut self, text: &str) -> Result<(), SimError> {
        Self::check_script(text)?;
        for (i, l) in text.lines().enumerate() {
            let words = cmd::split_line(l).map_err(|e| err(i + 1, e))?;
            if words.is_empty() {
                continue;
            }
            self.exec(i + 1, &words)?;
        }
        Ok(())
    }

    /// Carries out one scenario line now.
    pub fn exec(&mut self, line: usize, w: &[String]) -> Result<(), SimError> {
        let s: Vec<&str> = w.iter().map(String::as_str).collect();
        match s[0] {
            "seed" => Ok(()), // read before the run starts (see `scenario_seed`)
            "host" => self.host(line, &s[1..]),
            "wire" => self.wire(line, &s[1..]),
            "topology" => {
                let lines = topo::expand(&s[1..], &mut self.rng).map_err(|m| err(line, m))?;
                for l in lines {
                    let words = cmd::split_line(&l).expect("generated lines split");
                    self.exec(line, &words)?;
                }
                Ok(())
            }
            "at" => {
                let t = s
                    .get(1)
                    .and_then(|t| time::parse(t))
                    .ok_or_else(|| err(line, "at TIME COMMAND: TIME like 12s or 500ms"))?;
                if s.len() < 3 {
                    return Err(err(line, "at TIME COMMAND: no command"));
                }
                if t < self.now {
                    return Err(err(
                        line,
                        format!(
                            "at {}: that is before the current time {}",
                            s[1],
                            time::fmt(self.now)
                        ),
                    ));
                }
                self.schedule(
                    t,
                    EvKind::Command {
                        line,
                        words: w[2..].to_vec(),
                    },
                );
                Ok(())
            }
            "run" => {
                let d = s
                    .get(1)
                    .and_then(|t| time::parse(t))
                    .ok_or_else(|| err(line, "run DURATION: like 60s"))?;
                self.run_for(d);
                Ok(())
            }
            "ping" => self.start_ping(line, &s[1..]),
            "traffic" => self.start_traffic(line, &s[1..]),
            "join" | "leave" | "mcast" => self.multicast(line, &s),
            "expect" => {
                let (ok, detail) = self.check(line, &s[1..])?;
                self.assertions.push(Assertion {
                    line,
                    t: self.now,
                    text: s.join(" "),
                    ok,
                    detail,
                });
                Ok(())
            }
            "tuntap" => Err(err(
                line,
                "tuntap: the simulator has no TAP devices; use 'wire' to connect ports",
            )),
            _ => {
                let c = cmd::parse(w).map_err(|e| err(line, e.to_string()))?;
                let now = Instant::from_nanos(self.now);
                let out = cmd::apply(&mut self.graph, now, &c, Opts::default())
                    .map_err(|e| err(line, e.to_string()))?;
                self.drain_events();
                // What a show command printed goes into the timeline.
                for l in out.text.lines() {
                    self.log(l.to_string());
                }
                Ok(())
            }
        }
    }

    fn host(&mut self, line: usize, s: &[&str]) -> Result<(), SimError> {
        let name = *s
            .first()
            .ok_or_else(|| err(line, "host NAME [mac MAC] [ip ADDR] [ip6 ADDR]"))?;
        if self.host_by_name.contains_key(name) || self.graph.by_name(name).is_some() {
            return Err(err(line, format!("host {name}: the name is taken")));
        }
        let n = self.hosts.len();
        let mut mac = Mac::local(0x00_0100_0000 + n as u64 + 1);
        let mut ip = Some(host_ip(n));
        let mut ip6 = None;
        let mut i = 1;
        while i < s.len() {
            match (s[i], s.get(i + 1)) {
                ("mac", Some(v)) => mac = v.parse().map_err(|e| err(line, format!("host {name}: {e}")))?,
                ("ip", Some(v)) => {
                    let a = v.split('/').next().unwrap_or(v);
                    ip = Some(a.parse().map_err(|_| err(line, format!("host {name}: \"{v}\" is not an IPv4 address")))?);
                }
                ("ip6", Some(v)) => {
                    let a = v.split('/').next().unwrap_or(v);
                    ip6 = Some(a.parse().map_err(|_| err(line, format!("host {name}: \"{v}\" is not an IPv6 address")))?);
                }
                (k, _) => return Err(err(line, format!("host {name}: unknown or incomplete argument \"{k}\" (expected mac MAC, ip ADDR, ip6 ADDR)"))),
            }
            i += 2;
        }
        let mut h = Host::new(name, mac, ip);
        h.ip6 = ip6;
        self.hosts.push(h);
        self.host_by_name.insert(name.into(), n);
        Ok(())
    }

    /// The end called `name`: a host, or a port (made here as a netdevsim
    /// port if it does not exist yet).
    fn end(&mut self, line: usize, name: &str) -> Result<End, SimError> {
        if let Some(h) = self.host_by_name.get(name) {
            return Ok(End::Host(*h));
        }
        if let Some(id) = self.graph.by_name(name) {
            let f = self.graph.iface(id);
            if f.attach.is_some() {
                return Err(err(line, format!("wire: \"{name}\" is already wired")));
            }
            // A bond or bridge device: the wire reaches its own stack (the
            // host side, as the daemon's TAP does): a host that *is* the
            // bond's or bridge's owner.
            if !matches!(
                f.kind,
                Kind::Netdevsim
                    | Kind::Bond(_)
                    | Kind::Team(_)
                    | Kind::Bridge(_)
                    | Kind::Macvlan(_)
                    | Kind::Veth { .. }
                    | Kind::Dummy
            ) {
                return Err(err(
                    line,
                    format!(
                        "wire: \"{name}\" is a {} device; wires connect hosts, ports, and the host side of bonds, bridges, macvlans, veths and dummies",
                        f.kind.info_kind().unwrap_or("kernel")
                    ),
                ));
            }
            return Ok(End::Port(id));
        }
        let id = self
            .graph
            .add(
                name,
                Kind::Netdevsim,
                // As a NIC's address is: scattered, not in wiring order
                // (bridges take their smallest port's).
                patchbay_core::cmd::default_mac(self.graph.mac_seed, name),
                1500,
            )
            .map_err(|e| err(line, e.to_string()))?;
        self.ports_made += 1;
        self.graph
            .set_admin(Instant::from_nanos(self.now), id, true);
        Ok(End::Port(id))
    }

    fn wire(&mut self, line: usize, s: &[&str]) -> Result<(), SimError> {
        if s.len() < 2 {
            return Err(err(
                line,
                "wire A B [delay D] [jitter D] [loss P%] [speed MBPS] [duplex half|full] | wire A B up|down | wire A B set ...",
            ));
        }
        if let Some(state) = s.get(2).filter(|x| **x == "up" || **x == "down") {
            let w = self
                .find_wire(s[0], s[1])
                .ok_or_else(|| err(line, format!("no wire between {} and {}", s[0], s[1])))?;
            self.set_wire(w, *state == "up");
            return Ok(());
        }
        if s.get(2) == Some(&"set") {
            // Fault injection on a live wire: new delay, jitter, loss, speed.
            let w = self
                .find_wire(s[0], s[1])
                .ok_or_else(|| err(line, format!("no wire between {} and {}", s[0], s[1])))?;
            let cur = &self.wires[w];
            let p = wire_params(
                line,
                &s[3..],
                (
                    cur.delay,
                    cur.jitter,
                    cur.loss,
                    cur.speed_mbps,
                    cur.full_duplex,
                ),
            )?;
            let wire = &mut self.wires[w];
            (
                wire.delay,
                wire.jitter,
                wire.loss,
                wire.speed_mbps,
                wire.full_duplex,
            ) = p;
            let name = wire.name.clone();
            self.mark(format!("wire {name} set {}", s[3..].join(" ")));
            return Ok(());
        }
        let (delay, jitter, loss, speed, full_duplex) =
            wire_params(line, &s[2..], (1_000, 0, 0.0, 1000, true))?;
        let a = self.end(line, s[0])?;
        let b = self.end(line, s[1])?;
        for e in [a, b] {
            if let End::Port(id) = e {
                let f = self.graph.iface_mut(id);
                if matches!(f.kind, Kind::Netdevsim) {
                    f.speed_mbps = speed;
                    f.full_duplex = full_duplex;
                }
            }
        }
        let idx = self.wires.len();
        for (side, e) in [a, b].iter().enumerate() {
            if let End::Port(id) = e {
                let attach = AttachId(self.attach_ends.len() as u32);
                self.attach_ends.push((idx, side));
                let role = if matches!(self.graph.iface(*id).kind, Kind::Netdevsim) {
                    Role::Wire
                } else {
                    Role::Host
                };
                self.graph.attach(*id, Attachment { id: attach, role });
            }
        }
        self.wires.push(Wire {
            name: format!("{}-{}", s[0], s[1]),
            ends: [a, b],
            delay,
            jitter,
            loss,
            speed_mbps: speed,
            full_duplex,
            up: true,
            next_free: [0; 2],
            last_arrival: [0; 2],
            stats: Default::default(),
            pcap: self.record_pcap.then(|| {
                patchbay_core::pcap::header(patchbay_core::pcap::LINKTYPE_ETHERNET).to_vec()
            }),
        });
        Ok(())
    }

    fn end_name(&self, e: End) -> &str {
        match e {
            End::Port(id) => &self.graph.iface(id).name,
            End::Host(h) => &self.hosts[h].name,
        }
    }

    fn find_wire(&self, a: &str, b: &str) -> Option<usize> {
        self.wires.iter().position(|w| {
            let (x, y) = (self.end_name(w.ends[0]), self.end_name(w.ends[1]));
            (x == a && y == b) || (x == b && y == a)
        })
    }

    fn set_wire(&mut self, w: usize, up: bool) {
        if self.wires[w].up == up {
            return;
        }
        self.wires[w].up = up;
        let name = self.wires[w].name.clone();
        let state = if up { "up" } else { "down" };
        self.changes.push(Change {
            t: self.now,
            lane: format!("wire {name}"),
            state: state.to_string(),
        });
        // Its lane shows it; the `at` that did it is the mark.
        self.log(format!("wire {name} {state}"));
        for e in self.wires[w].ends {
            match e {
                End::Port(id) => self
                    .graph
                    .set_carrier(Instant::from_nanos(self.now), id, up),
                End::Host(h) => self.hosts[h].carrier = up,
            }
        }
        self.drain_events();
    }

    fn host_idx(&self, line: usize, name: &str) -> Result<usize, SimError> {
        self.host_by_name
            .get(name)
            .copied()
            .ok_or_else(|| err(line, format!("no host named \"{name}\"")))
    }

    fn start_ping(&mut self, line: usize, s: &[&str]) -> Result<(), SimError> {
        let usage = "ping HOST TARGET [count N] [interval D]";
        if s.len() < 2 {
            return Err(err(line, usage));
        }
        let src = self.host_idx(line, s[0])?;
        if self.hosts[src].ip.is_none() {
            return Err(err(line, format!("ping: host {} has no address", s[0])));
        }
        let to = match self.host_by_name.get(s[1]) {
            Some(h) => self.hosts[*h]
                .ip
                .ok_or_else(|| err(line, format!("ping: host {} has no address", s[1])))?,
            None => s[1].parse().map_err(|_| {
                err(
                    line,
                    format!("ping: \"{}\" is neither a host nor an IPv4 address", s[1]),
                )
            })?,
        };
        let (mut count, mut interval) = (1u16, 1_000_000_000u64);
        let mut i = 2;
        while i < s.len() {
            let v = s.get(i + 1).ok_or_else(|| err(line, usage))?;
            match s[i] {
                "count" => {
                    count = v
                        .parse()
                        .map_err(|_| err(line, format!("ping: count \"{v}\"")))?
                }
                "interval" => {
                    interval = time::parse(v)
                        .ok_or_else(|| err(line, format!("ping: interval \"{v}\"")))?
                }
                k => {
                    return Err(err(
                        line,
                        format!("ping: unknown argument \"{k}\" ({usage})"),
                    ))
                }
            }
            i += 2;
        }
        let idx = self.pings.len();
        self.pings.push(Ping {
            src,
            to,
            dst_name: s[1].into(),
            id: idx as u16 + 1,
            count,
            interval,
            sent: 0,
            replies: 0,
        });
        let now = self.now;
        self.schedule(now, EvKind::PingTick(idx));
        Ok(())
    }

    /// `join HOST GROUP [v1|v2|v3]` (IGMPv3/MLDv2 by default, as Linux),
    /// `leave HOST GROUP`, `mcast HOST GROUP count N`: N UDP datagrams to
    /// the group, back to back.
    fn multicast(&mut self, line: usize, s: &[&str]) -> Result<(), SimError> {
        let usage = "join HOST GROUP [v1|v2|v3] | leave HOST GROUP | mcast HOST GROUP count N";
        let (Some(host), Some(g)) = (s.get(1), s.get(2)) else {
            return Err(err(line, usage));
        };
        let h = self.host_idx(line, host)?;
        let g: std::net::IpAddr = g
            .parse()
            .ok()
            .filter(|g: &std::net::IpAddr| g.is_multicast())
            .ok_or_else(|| err(line, format!("{}: \"{g}\" is not a multicast group", s[0])))?;
        let frames = match (s[0], &s[3..]) {
            ("join", rest) => {
                let v = match (rest, g.is_ipv4()) {
                    ([], true) => 3,
                    ([], false) => 2,
                    (["v1"], _) => 1,
                    (["v2"], _) => 2,
                    (["v3"], true) => 3,
                    _ => {
                        return Err(err(
                            line,
                            format!(
                                "join: a version is v1, v2 or v3 (IGMP), v1 or v2 (MLD) ({usage})"
                            ),
                        ))
                    }
                };
                self.hosts[h].join(g, v)
            }
            ("leave", []) => self.hosts[h].leave(g),
            ("mcast", ["count", n]) => {
                let n: u64 = n
                    .parse()
                    .map_err(|_| err(line, format!("mcast: count \"{n}\" is not a number")))?;
                (0..n).map(|i| self.hosts[h].mc_data(g, i)).collect()
            }
            _ => return Err(err(line, usage)),
        };
        for f in frames {
            self.host_send(h, f);
        }
        Ok(())
    }

    fn bridge_of(&self, line: usize, br: &str) -> Result<&patchbay_core::bridge::Bridge, SimError> {
        let id = self
            .graph
            .by_name(br)
            .ok_or_else(|| err(line, format!("expect: no bridge {br}")))?;
        self.graph
            .iface(id)
            .bridge()
            .ok_or_else(|| err(line, format!("expect: {br} is not a bridge")))
    }

    /// `expect mdb BR has|lacks GROUP [on PORT|BR]`, `expect mdb BR router
    /// PORT yes|no`.
    fn check_mdb(&self, line: usize, br: &str, rest: &[&str]) -> Result<(bool, String), SimError> {
        let b = self.bridge_of(line, br)?;
        let port_no = |p: &str| -> Result<Option<u16>, SimError> {
            if p == br {
                return Ok(None);
            }
            let id = self
                .graph
                .by_name(p)
                .ok_or_else(|| err(line, format!("expect mdb: no device {p}")))?;
            let f = self.graph.iface(id);
            if f.master != self.graph.by_name(br) {
                return Err(err(line, format!("expect mdb: {p} is not a port of {br}")));
            }
            Ok(Some(f.port_no))
        };
        match rest {
            [verb @ ("has" | "lacks"), g, tail @ ..] => {
                let g: std::net::IpAddr = g
                    .parse()
                    .map_err(|_| err(line, format!("expect mdb: \"{g}\" is not a group")))?;
                let on = match tail {
                    [] => None,
                    ["on", p] => Some(port_no(p)?),
                    _ => return Err(err(line, "expect mdb BR has|lacks GROUP [on PORT]")),
                };
                let entries: Vec<_> = b.mc.mdb.iter().filter(|(k, _)| k.group == g).collect();
                let present = entries.iter().any(|(_, e)| match on {
                    None => true,
                    Some(None) => e.host_joined,
                    Some(Some(no)) => e.ports.iter().any(|p| p.port == no),
                });
                let ports: Vec<String> = entries
                    .iter()
                    .flat_map(|(_, e)| e.ports.iter())
                    .filter_map(|p| b.port(p.port))
                    .map(|p| self.graph.iface(p.ifid).name.clone())
                    .collect();
                let ok = present == (*verb == "has");
                Ok((ok, format!("{br}: {g} on [{}]", ports.join(" "))))
            }
            ["router", p, want @ ("yes" | "no")] => {
                let no = port_no(p)?.ok_or_else(|| err(line, "expect mdb router: name a port"))?;
                let r = b
                    .port(no)
                    .is_some_and(|pt| pt.mc.v.iter().any(|v| v.is_router));
                Ok((
                    r == (*want == "yes"),
                    format!("{br}: {p} is {}a router port", if r { "" } else { "not " }),
                ))
            }
            _ => Err(err(
                line,
                "expect mdb BR has|lacks GROUP [on PORT] | mdb BR router PORT yes|no",
            )),
        }
    }

    fn start_traffic(&mut self, line: usize, s: &[&str]) -> Result<(), SimError> {
        let usage = "traffic HOST HOST|broadcast rate FRAMES_PER_SECOND [size BYTES] [for D]";
        if s.len() < 2 {
            return Err(err(line, usage));
        }
        let src = self.host_idx(line, s[0])?;
        let dst = if s[1] == "broadcast" {
            None
        } else {
            Some(self.host_idx(line, s[1])?)
        };
        let (mut rate, mut size, mut dur) = (10.0f64, 64usize, u64::MAX);
        let mut i = 2;
        while i < s.len() {
            let v = s.get(i + 1).ok_or_else(|| err(line, usage))?;
            match s[i] {
                "rate" => {
                    rate = v.parse().ok().filter(|r: &f64| *r > 0.0).ok_or_else(|| {
                        err(
                            line,
                            format!("traffic: rate \"{v}\" is not a positive number"),
                        )
                    })?
                }
                "size" => {
                    size = v
                        .parse()
                        .ok()
                        .filter(|s| (64..=9018).contains(s))
                        .ok_or_else(|| {
                            err(
                                line,
                                format!(
                                    "traffic: size \"{v}\" is not 64 to 9018 bytes (with the FCS)"
                                ),
                            )
                        })?
                }
                "for" => {
                    dur = time::parse(v).ok_or_else(|| {
                        err(line, format!("traffic: for \"{v}\" is not a duration"))
                    })?
                }
                k => {
                    return Err(err(
                        line,
                        format!("traffic: unknown argument \"{k}\" ({usage})"),
                    ))
                }
            }
            i += 2;
        }
        let idx = self.flows.len();
        let interval = (1e9 / rate).round().max(1.0) as u64;
        self.flows.push(Flow {
            src,
            dst,
            seen_by: BTreeMap::new(),
            size,
            interval,
            until: self.now.saturating_add(dur),
            next_seq: 0,
            sent: 0,
            received: 0,
            duplicates: 0,
            seen: vec![],
        });
        let now = self.now;
        self.schedule(now, EvKind::FlowTick(idx));
        Ok(())
    }

    /// Advances the clock by `d`, processing every event and timer on the way.
    pub fn run_for(&mut self, d: u64) {
        let end = self.now.saturating_add(d);
        loop {
            if self.stopped {
                return;
            }
            if self.events_processed >= self.max_events {
                self.stopped = true;
                let busiest = self
                    .wires
                    .iter()
                    .max_by_key(|w| w.stats[0].frames + w.stats[1].frames)
                    .map(|w| {
                        format!(
                            "{} ({} frames)",
                            w.name,
                            w.stats[0].frames + w.stats[1].frames
                        )
                    })
                    .unwrap_or_default();
                let detail = format!(
                    "stopped after {} events at {}: a forwarding loop? busiest wire {busiest}",
                    self.events_processed,
                    time::fmt(self.now)
                );
                self.log(detail.clone());
                self.assertions.push(Assertion {
                    line: 0,
                    t: self.now,
                    text: "event limit".into(),
                    ok: false,
                    detail,
                });
                return;
            }
            let next_ev = self.heap.peek().map(|Reverse(e)| e.t);
            let next_timer = self.graph.poll_timeout().map(Instant::as_nanos);
            let t = match (next_ev, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if t > end {
                break;
            }
            self.now = t.max(self.now);
            if next_timer.is_some_and(|x| x <= self.now) {
                self.graph
                    .handle_timeout(Instant::from_nanos(self.now), &mut self.out);
                self.flush();
                self.drain_events();
            }
            if next_ev.is_some_and(|x| x <= self.now) {
                let Reverse(ev) = self.heap.pop().expect("peeked");
                self.events_processed += 1;
                if self.events_processed.is_multiple_of(100_000) {
                    if let Some(p) = self.progress.as_mut() {
                        (p.0)(self.now, self.events_processed);
                    }
                }
                self.handle(ev.kind);
            }
        }
        self.now = end;
    }

    fn handle(&mut self, kind: EvKind) {
        match kind {
            EvKind::Underlay { dev, src, payload } => {
                let now = Instant::from_nanos(self.now);
                self.graph
                    .receive_underlay(now, dev, src, &payload, &mut self.out);
                self.flush();
                self.drain_events();
            }
            EvKind::Deliver { wire, to, frame } => {
                if !self.wires[wire].up {
                    self.wires[wire].stats[1 - to].lost += 1;
                    return;
                }
                match self.wires[wire].ends[to] {
                    End::Port(id) => {
                        let Some(a) = self.graph.iface(id).attach else {
                            return;
                        };
                        let now = Instant::from_nanos(self.now);
                        self.graph
                            .receive(now, a.id, &frame, None, Offload::NONE, &mut self.out);
                        self.flush();
                        self.drain_events();
                    }
                    End::Host(h) => {
                        let (replies, heard) = self.hosts[h].receive(&frame);
                        match heard {
                            Heard::Traffic { flow, seq } => {
                                if let Some(f) = self
                                    .flows
                                    .get_mut(flow as usize)
                                    .filter(|f| f.dst.is_none() && f.src != h)
                                {
                                    let v = f.seen_by.entry(h).or_default();
                                    let i = seq as usize;
                                    if v.len() <= i {
                                        v.resize(i + 1, 0);
                                    }
                                    v[i] += 1;
                                } else if let Some(f) = self
                                    .flows
                                    .get_mut(flow as usize)
                                    .filter(|f| f.dst == Some(h))
                                {
                                    let i = seq as usize;
                                    if f.seen.len() <= i {
                                        f.seen.resize(i + 1, 0);
                                    }
                                    f.seen[i] += 1;
                                    if f.seen[i] == 1 {
                                        f.received += 1;
                                    } else {
                                        f.duplicates += 1;
                                    }
                                }
                            }
                            Heard::EchoReply { id, .. } => {
                                if let Some(p) =
                                    self.pings.get_mut(id as usize - 1).filter(|p| p.src == h)
                                {
                                    p.replies += 1;
                                }
                            }
                            Heard::Nothing => {}
                        }
                        for f in replies {
                            self.host_send(h, f);
                        }
                    }
                }
            }
            EvKind::Command { line, words } => {
                self.mark(format!("at: {}", words.join(" ")));
                if let Err(e) = self.exec(line, &words) {
                    // A scheduled command that fails fails the run.
                    self.log(format!("command failed: {e}"));
                    self.assertions.push(Assertion {
                        line,
                        t: self.now,
                        text: format!("at {}: {}", time::fmt(self.now), words.join(" ")),
                        ok: false,
                        detail: e.msg,
                    });
                }
            }
            EvKind::FlowTick(i) => {
                let f = &mut self.flows[i];
                if self.now >= f.until {
                    return;
                }
                let (src, seq, size, interval) = (f.src, f.next_seq, f.size, f.interval);
                f.next_seq += 1;
                f.sent += 1;
                let dst = f.dst.map_or(Mac::BROADCAST, |d| self.hosts[d].mac);
                let frame = self.hosts[src].traffic_frame(dst, i as u32, seq, size);
                self.host_send(src, frame);
                let t = self.now + interval;
                self.schedule(t, EvKind::FlowTick(i));
            }
            EvKind::PingTick(i) => {
                let p = &mut self.pings[i];
                if p.sent >= p.count {
                    return;
                }
                p.sent += 1;
                let (src, to, id, seq, interval) = (p.src, p.to, p.id, p.sent, p.interval);
                let frames = self.hosts[src].ping(to, id, seq);
                for f in frames {
                    self.host_send(src, f);
                }
                let t = self.now + interval;
                self.schedule(t, EvKind::PingTick(i));
            }
        }
    }

    fn host_send(&mut self, h: usize, frame: Vec<u8>) {
        if !self.hosts[h].carrier {
            return;
        }
        self.hosts[h].tx_frames += 1;
        let Some((w, side)) = self.wires.iter().enumerate().find_map(|(i, w)| {
            w.ends
                .iter()
                .position(|e| *e == End::Host(h))
                .map(|s| (i, s))
        }) else {
            return;
        };
        self.transmit(w, side, frame);
    }

    /// Puts a frame on wire `w` from end `side`.
    fn transmit(&mut self, w: usize, side: usize, frame: Vec<u8>) {
        let now = self.now;
        let wire = &mut self.wires[w];
        if !wire.up {
            wire.stats[side].lost += 1;
            return;
        }
        if let Some(p) = wire.pcap.as_mut() {
            patchbay_core::pcap::record(p, now, &frame);
        }
        let st = &mut wire.stats[side];
        st.frames += 1;
        st.bytes += frame.len() as u64;
        let proto = protocol(&frame);
        *st.protocols.entry(proto).or_insert(0) += 1;
        *self
            .traffic
            .entry((w, proto, now / TRAFFIC_BUCKET))
            .or_insert(0) += 1;
        if wire.loss > 0.0 && self.rng.unit() < wire.loss {
            wire.stats[side].lost += 1;
            return;
        }
        // Serialization at the wire's speed (preamble, FCS and gap: +24 bytes).
        let bits = (frame.len() as u64 + 24) * 8;
        let ser = if wire.speed_mbps > 0 {
            bits * 1000 / u64::from(wire.speed_mbps)
        } else {
            0
        };
        let depart = now.max(wire.next_free[side]) + ser;
        wire.next_free[side] = depart;
        let jitter = if wire.jitter > 0 {
            self.rng.below(wire.jitter + 1)
        } else {
            0
        };
        let arrival = (depart + wire.delay + jitter).max(wire.last_arrival[side]);
        wire.last_arrival[side] = arrival;
        self.schedule(
            arrival,
            EvKind::Deliver {
                wire: w,
                to: 1 - side,
                frame,
            },
        );
    }

    /// The underlay: an IP network joining every VXLAN device by its
    /// `local` address, 1 ms across. A datagram goes to the device whose
    /// `local` is its destination, or to every device of a multicast group,
    /// on the same destination port.
    fn send_underlay(&mut self) {
        use patchbay_core::graph::Kind;
        let sent: Vec<(IfId, patchbay_core::vxlan::Encap, Vec<u8>)> = self
            .out
            .datagrams
            .iter()
            .map(|d| (d.dev, d.encap, self.out.datagram(d).to_vec()))
            .collect();
        for (from, e, payload) in sent {
            let Some(Kind::Vxlan(v)) = self.graph.get(from).map(|f| &f.kind) else {
                continue;
            };
            let Some(src) = v.cfg.local else {
                self.log(format!(
                    "{}: no local address, datagram to {} dropped",
                    self.graph.iface(from).name,
                    e.dst
                ));
                continue;
            };
            let to: Vec<IfId> = self
                .graph
                .iter()
                .filter(|(id, f)| {
                    *id != from
                        && match &f.kind {
                            Kind::Vxlan(w) => {
                                w.cfg.dstport == e.port
                                    && (w.cfg.local == Some(e.dst)
                                        || (e.dst.is_multicast() && w.cfg.remote == Some(e.dst)))
                            }
                            _ => false,
                        }
                })
                .map(|(id, _)| id)
                .collect();
            let t = self.now + 1_000_000;
            for dev in to {
                self.schedule(
                    t,
                    EvKind::Underlay {
                        dev,
                        src,
                        payload: payload.clone(),
                    },
                );
            }
        }
    }

    fn flush(&mut self) {
        if !self.out.datagrams.is_empty() {
            self.send_underlay();
        }
        let mut sent: Vec<(AttachId, Vec<u8>)> = Vec::new();
        self.out.flush(|a, b| {
            for (f, _) in b.iter() {
                sent.push((a, f.to_vec()));
            }
        });
        for (a, f) in sent {
            let (w, side) = self.attach_ends[a.0 as usize];
            self.transmit(w, side, f);
        }
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.graph.poll_event() {
            let name = |g: &Graph, id: IfId| {
                g.get(id)
                    .map(|f| f.name.clone())
                    .unwrap_or_else(|| "?".into())
            };
            // The lane and state the event sets, for the picture.
            let mut lane: Option<(String, String)> = None;
            let text = match e {
                Event::FdbLearned {
                    bridge,
                    mac,
                    vid,
                    port,
                } => {
                    if !self.log_learning {
                        continue;
                    }
                    format!(
                        "{}: learned {mac}{} on {}",
                        name(&self.graph, bridge),
                        vlan(vid),
                        name(&self.graph, port)
                    )
                }
                Event::FdbMoved {
                    bridge,
                    mac,
                    vid,
                    from,
                    to,
                } => format!(
                    "{}: {mac}{} moved from {} to {}",
                    name(&self.graph, bridge),
                    vlan(vid),
                    from.map(|f| name(&self.graph, f))
                        .unwrap_or_else(|| "?".into()),
                    name(&self.graph, to)
                ),
                // In the timeline as their sums (FdbExpired) or the
                // commands that made them.
                Event::FdbAged { .. }
                | Event::LinkAdded { .. }
                | Event::LinkRemoved { .. }
                | Event::FdbEntry { .. }
                | Event::PortJoined { .. }
                | Event::PortLeft { .. } => continue,
                Event::VxlanMiss { dev, miss } => match miss {
                    patchbay_core::vxlan::Miss::L2(mac) => {
                        format!("miss lladdr {mac} dev {}", name(&self.graph, dev))
                    }
                    patchbay_core::vxlan::Miss::L3(ip) => {
                        format!("miss {ip} dev {}", name(&self.graph, dev))
                    }
                },
                Event::Mdb {
                    bridge, port, note, ..
                } => {
                    let src = note
                        .key
                        .src
                        .map(|s| format!(" src {s}"))
                        .unwrap_or_default();
                    format!(
                        "{}: mdb {} {} {}{src}{}",
                        name(&self.graph, bridge),
                        if note.added { "+" } else { "-" },
                        name(&self.graph, port),
                        note.key.group,
                        vlan(note.key.vid)
                    )
                }
                Event::MdbRouter {
                    bridge,
                    port,
                    added,
                    ..
                } => format!(
                    "{}: multicast router port {} {}",
                    name(&self.graph, bridge),
                    if added { "+" } else { "-" },
                    name(&self.graph, port)
                ),
                Event::FdbExpired { bridge, count } => format!(
                    "{}: {count} fdb entries aged out",
                    name(&self.graph, bridge)
                ),
                Event::PortState {
                    bridge,
                    port,
                    state,
                } => {
                    self.settled = self.now;
                    let (b, p) = (name(&self.graph, bridge), name(&self.graph, port));
                    lane = Some((format!("{b} {p}"), state.name().to_string()));
                    format!("{b}: port {p} {}", state.name())
                }
                Event::PortRole { bridge, port, role } => {
                    let (b, p) = (name(&self.graph, bridge), name(&self.graph, port));
                    lane = Some((format!("{b} {p} role"), role.name().to_lowercase()));
                    format!("{b}: port {p} role {}", role.name().to_lowercase())
                }
                Event::Link { dev, up } => {
                    self.settled = self.now;
                    let (d, state) = (name(&self.graph, dev), if up { "up" } else { "down" });
                    lane = Some((format!("link {d}"), state.to_string()));
                    format!("link {d} {state}")
                }
                Event::Root { bridge, root, port } => {
                    self.settled = self.now;
                    let b = name(&self.graph, bridge);
                    let state = match port {
                        Some(p) => format!("root port {}", name(&self.graph, p)),
                        None => "is the root".to_string(),
                    };
                    lane = Some((format!("{b} root"), state));
                    match port {
                        Some(p) => format!("{b}: root {root} via {}", name(&self.graph, p)),
                        None => format!("{b}: is the root ({root})"),
                    }
                }
                Event::TopologyChange { bridge } => {
                    format!("{}: topology change detected", name(&self.graph, bridge))
                }
                Event::BondLink { bond, slave, link } => {
                    let (b, p) = (name(&self.graph, bond), name(&self.graph, slave));
                    lane = Some((format!("{b} {p} link"), link.name().to_string()));
                    format!("{b}: {p} link {}", link.name())
                }
                Event::BondActive { bond, slave } => {
                    let b = name(&self.graph, bond);
                    let active = slave.map_or_else(|| "none".to_string(), |s| name(&self.graph, s));
                    lane = Some((format!("{b} active"), active.clone()));
                    format!(
                        "{b}: active {} {active}",
                        if self.graph.get(bond).is_some_and(|f| f.team().is_some()) {
                            "port"
                        } else {
                            "slave"
                        },
                    )
                }
                Event::BondDistributing { bond, slave, on } => {
                    let (b, p) = (name(&self.graph, bond), name(&self.graph, slave));
                    let state = match (self.graph.get(bond).is_some_and(|f| f.team().is_some()), on)
                    {
                        (true, true) => "enabled",
                        (true, false) => "disabled",
                        (false, true) => "collecting and distributing",
                        (false, false) => "not distributing",
                    };
                    lane = Some((format!("{b} {p} tx"), state.to_string()));
                    format!("{b}: {p} {state}")
                }
            };
            match lane {
                Some((lane, state)) => self.change(lane, &state, text),
                None => self.log(text),
            }
        }
    }

    /// Evaluates `expect ...`: (passed, what was found).
    fn check(&mut self, line: usize, s: &[&str]) -> Result<(bool, String), SimError> {
        let usage = "expect fdb BR has|lacks MAC|HOST [on PORT] [vlan V] | port PORT state S | port PORT cost N | port PORT role R | port PORT edge yes|no | mstpctl BR [PORT] PARAM VALUE | link DEV up|down | delivered|lost|duplicates H1 H2 OP N | replies H1 H2 OP N | settled before T | drops DEV REASON OP N | stp BR root BR2|is-root | stp BR root-port PORT|none | ports STATE OP N | spanning-tree | loop-free | broadcast HOST once|at-most-once | bond BOND active SLAVE|none | bond BOND slave S link up|down|going-down|going-back | bond BOND slave S distributing yes|no | bond BOND slave S aggregator same-as|differs-from S2 | team TEAM active PORT|none | team TEAM port P link up|down | team TEAM port P enabled yes|no | teamctl TEAM PATH VALUE | counter DEV rx|tx OP N | not CHECK";
        match s {
            ["bond", b, rest @ ..] => self.check_bond(line, b, rest, usage),
            ["team", t, rest @ ..] => self.check_team(line, t, rest, usage),
            ["teamctl", t, path, want] => {
                // One value as `teamctl T state item get PATH` prints it.
                let words: Vec<String> = [t, "state", "item", "get", path]
                    .iter()
                    .map(|w| w.to_string())
                    .collect();
                let (team, c) = patchbay_core::cmd::team::parse(&words)
                    .map_err(|e| err(line, e.to_string()))?;
                let now = Instant::from_nanos(self.now);
                let got = patchbay_core::cmd::team::apply(
                    &mut self.graph,
                    now,
                    &team,
                    &c,
                    Opts::default(),
                )
                .map_err(|e| err(line, e.to_string()))?;
                let got = got.trim().to_string();
                Ok((got == *want, format!("{t} {path} = {got}")))
            }
            ["counter", dev, dir @ ("rx" | "tx"), op, n] => {
                let id = self
                    .graph
                    .by_name(dev)
                    .ok_or_else(|| err(line, format!("expect: no device {dev}")))?;
                let c = &self.graph.iface(id).counters;
                let v = if *dir == "rx" {
                    c.rx_packets
                } else {
                    c.tx_packets
                };
                let (ok, want) = compare(line, v, v, op, n)?;
                Ok((ok, format!("{dev} {dir} {v} frames (wanted {op} {want})")))
            }
            ["received", host, g, op, n] => {
                let h = self.host_idx(line, host)?;
                let g: std::net::IpAddr = g
                    .parse()
                    .map_err(|_| err(line, format!("expect received: \"{g}\" is not a group")))?;
                let v = self.hosts[h].mc_rx.get(&g).copied().unwrap_or(0);
                let (ok, want) = compare(line, v, v, op, n)?;
                Ok((
                    ok,
                    format!("{host} received {v} datagrams to {g} (wanted {op} {want})"),
                ))
            }
            ["mdb", br, rest @ ..] => self.check_mdb(line, br, rest),
            ["querier", br, fam @ ("ipv4" | "ipv6"), want] => {
                let b = self.bridge_of(line, br)?;
                let p = if *fam == "ipv4" { Proto::V4 } else { Proto::V6 };
                let q = &b.mc.q[p as usize];
                let got = match (q.other_timer, q.port) {
                    (Some(_), Some(no)) => b
                        .port(no)
                        .map(|pt| self.graph.iface(pt.ifid).name.clone())
                        .unwrap_or_else(|| "a port gone".into()),
                    (Some(_), None) => "self".into(),
                    (None, _) if b.mc.cfg.querier => "self".into(),
                    (None, _) => "none".into(),
                };
                Ok((got == *want, format!("{br} {fam} querier: {got}")))
            }
            ["not", rest @ ..] if !rest.is_empty() => {
                let (ok, detail) = self.check(line, rest)?;
                Ok((!ok, detail))
            }
            ["fdb", br, verb @ ("has" | "lacks"), who, rest @ ..] => {
                let bid = self
                    .graph
                    .by_name(br)
                    .ok_or_else(|| err(line, format!("expect: no bridge {br}")))?;
                let b = self
                    .graph
                    .iface(bid)
                    .bridge()
                    .ok_or_else(|| err(line, format!("expect: {br} is not a bridge")))?;
                let mac = match self.host_by_name.get(*who) {
                    Some(h) => self.hosts[*h].mac,
                    None => who.parse::<Mac>().map_err(|e| err(line, e.to_string()))?,
                };
                let (mut on, mut vid) = (None, 0u16);
                let mut i = 0;
                while i < rest.len() {
                    match (rest[i], rest.get(i + 1)) {
                        ("on", Some(p)) => on = Some(*p),
                        ("vlan", Some(v)) => {
                            vid = v
                                .parse()
                                .map_err(|_| err(line, format!("expect: vlan \"{v}\"")))?
                        }
                        _ => return Err(err(line, usage)),
                    }
                    i += 2;
                }
                let found = b.fdb.lookup(mac, vid).map(|e| {
                    e.port
                        .and_then(|p| b.port(p))
                        .map(|p| self.graph.iface(p.ifid).name.clone())
                        .unwrap_or_else(|| (*br).to_string())
                });
                let detail = match &found {
                    Some(p) => format!("{mac}{} is on {p}", vlan(vid)),
                    None => format!("{mac}{} is not in the fdb", vlan(vid)),
                };
                let ok = match *verb {
                    "has" => found.is_some() && on.is_none_or(|o| found.as_deref() == Some(o)),
                    _ => found.is_none(),
                };
                Ok((ok, detail))
            }
            ["port", port, "cost", want] => {
                let id = self
                    .graph
                    .by_name(port)
                    .ok_or_else(|| err(line, format!("expect: no port {port}")))?;
                let f = self.graph.iface(id);
                let cost = f
                    .master
                    .and_then(|m| self.graph.iface(m).bridge())
                    .and_then(|b| b.port(f.port_no))
                    .map(|p| p.cost)
                    .ok_or_else(|| err(line, format!("expect: {port} is not a bridge port")))?;
                Ok((
                    want.parse() == Ok(cost),
                    format!("{port} has path cost {cost}"),
                ))
            }
            ["port", port, "state", want] => {
                let id = self
                    .graph
                    .by_name(port)
                    .ok_or_else(|| err(line, format!("expect: no port {port}")))?;
                let f = self.graph.iface(id);
                let st = f
                    .master
                    .and_then(|m| self.graph.iface(m).bridge())
                    .and_then(|b| b.port(f.port_no))
                    .map(|p| p.state.name())
                    .ok_or_else(|| err(line, format!("expect: {port} is not a bridge port")))?;
                Ok((st == *want, format!("{port} is {st}")))
            }
            ["port", port, "role", want] => {
                let id = self
                    .graph
                    .by_name(port)
                    .ok_or_else(|| err(line, format!("expect: no port {port}")))?;
                let f = self.graph.iface(id);
                let role = f
                    .master
                    .and_then(|m| self.graph.iface(m).bridge())
                    .and_then(|b| b.rstp.as_ref())
                    .and_then(|r| r.port(f.port_no))
                    .map(|p| p.role)
                    .ok_or_else(|| {
                        err(
                            line,
                            format!("expect: {port} is not a port of a bridge mstpd runs"),
                        )
                    })?;
                let want_role = patchbay_core::bridge::rstp::Role::parse(want).ok_or_else(|| {
                    err(line, format!("expect: role \"{want}\" (expected root, designated, alternate, backup or disabled)"))
                })?;
                Ok((role == want_role, format!("{port} is {}", role.name())))
            }
            ["port", port, "edge", want @ ("yes" | "no")] => {
                let id = self
                    .graph
                    .by_name(port)
                    .ok_or_else(|| err(line, format!("expect: no port {port}")))?;
                let f = self.graph.iface(id);
                let edge = f
                    .master
                    .and_then(|m| self.graph.iface(m).bridge())
                    .and_then(|b| b.rstp.as_ref())
                    .and_then(|r| r.port(f.port_no))
                    .map(|p| p.oper_edge)
                    .ok_or_else(|| {
                        err(
                            line,
                            format!("expect: {port} is not a port of a bridge mstpd runs"),
                        )
                    })?;
                Ok((
                    edge == (*want == "yes"),
                    format!("{port} oper edge {}", if edge { "yes" } else { "no" }),
                ))
            }
            ["link", dev, want @ ("up" | "down")] => {
                let id = self
                    .graph
                    .by_name(dev)
                    .ok_or_else(|| err(line, format!("expect: no device {dev}")))?;
                let up = self.graph.oper_up(id);
                Ok((
                    (*want == "up") == up,
                    format!("{dev} is {}", if up { "up" } else { "down" }),
                ))
            }
            [what @ ("delivered" | "lost" | "duplicates"), h1, h2, op, n] => {
                let (a, b) = (self.host_idx(line, h1)?, self.host_idx(line, h2)?);
                let flows: Vec<&Flow> = self
                    .flows
                    .iter()
                    .filter(|f| f.src == a && f.dst == Some(b))
                    .collect();
                if flows.is_empty() {
                    return Err(err(line, format!("expect: no traffic from {h1} to {h2}")));
                }
                let sent: u64 = flows.iter().map(|f| f.sent).sum();
                let got: u64 = flows.iter().map(|f| f.received).sum();
                let dup: u64 = flows.iter().map(|f| f.duplicates).sum();
                let v = match *what {
                    "delivered" => got,
                    "lost" => sent - got,
                    _ => dup,
                };
                let (ok, want) = compare(line, v, sent, op, n)?;
                Ok((
                    ok,
                    format!("{what} {v} of {sent} sent (wanted {op} {want})"),
                ))
            }
            ["replies", h1, h2, op, n] => {
                let a = self.host_idx(line, h1)?;
                let ps: Vec<&Ping> = self
                    .pings
                    .iter()
                    .filter(|p| p.src == a && p.dst_name == *h2)
                    .collect();
                if ps.is_empty() {
                    return Err(err(line, format!("expect: no ping from {h1} to {h2}")));
                }
                let sent: u64 = ps.iter().map(|p| u64::from(p.sent)).sum();
                let got: u64 = ps.iter().map(|p| u64::from(p.replies)).sum();
                let (ok, want) = compare(line, got, sent, op, n)?;
                Ok((
                    ok,
                    format!("{got} replies to {sent} requests (wanted {op} {want})"),
                ))
            }
            ["stp", br, "root", want] => {
                let b = self.bridge(line, br)?;
                let root = b.span_root();
                let ok = if *want == "is-root" {
                    root == b.span_id()
                } else {
                    root == self.bridge(line, want)?.span_id()
                };
                Ok((ok, format!("{br}'s root is {root}")))
            }
            ["stp", br, "root-port", want] => {
                let b = self.bridge(line, br)?;
                let rp = b
                    .port(b.span_root_port())
                    .map(|p| self.graph.iface(p.ifid).name.clone())
                    .unwrap_or_else(|| "none".into());
                Ok((rp == *want, format!("{br}'s root port is {rp}")))
            }
            ["ports", state, op, n] => {
                let mut count = 0u64;
                for (_, f) in self.graph.iter() {
                    if let Some(b) = f.bridge() {
                        count += b.ports().filter(|p| p.state.name() == *state).count() as u64;
                    }
                }
                let (ok, want) = compare(line, count, count, op, n)?;
                Ok((
                    ok,
                    format!("{count} ports are {state} (wanted {op} {want})"),
                ))
            }
            ["spanning-tree"] => Ok(self.spanning_tree(true)),
            ["loop-free"] => Ok(self.spanning_tree(false)),
            ["broadcast", h, how @ ("once" | "at-most-once")] => {
                // Every other host got every broadcast of h's flows exactly
                // once (or, for `at-most-once`, none twice).
                let a = self.host_idx(line, h)?;
                let flows: Vec<&Flow> = self
                    .flows
                    .iter()
                    .filter(|f| f.src == a && f.dst.is_none())
                    .collect();
                if flows.is_empty() {
                    return Err(err(line, format!("expect: no broadcast traffic from {h}")));
                }
                let (mut missing, mut extra, mut checked) = (0u64, 0u64, 0u64);
                for f in &flows {
                    for other in (0..self.hosts.len()).filter(|o| *o != a) {
                        let seen = f.seen_by.get(&other);
                        for seq in 0..f.sent as usize {
                            let n = seen.and_then(|v| v.get(seq)).copied().unwrap_or(0);
                            checked += 1;
                            match n {
                                0 => missing += 1,
                                1 => {}
                                n => extra += u64::from(n) - 1,
                            }
                        }
                    }
                }
                Ok((
                    (missing == 0 || *how == "at-most-once") && extra == 0,
                    format!(
                        "{checked} (host, frame) pairs: {missing} missing, {extra} extra copies"
                    ),
                ))
            }
            ["mstpctl", br, rest @ ..] if !rest.is_empty() => {
                // One value as `mstpctl showbridge BR PARAM` or
                // `mstpctl showport BR PORT PARAM` prints it.
                let (want, words): (&str, Vec<String>) = match rest {
                    [param, want] => (
                        want,
                        ["showbridge", br, param]
                            .iter()
                            .map(|w| w.to_string())
                            .collect(),
                    ),
                    [port, param, want] => (
                        want,
                        ["showport", br, port, param]
                            .iter()
                            .map(|w| w.to_string())
                            .collect(),
                    ),
                    _ => return Err(err(line, usage)),
                };
                let c = patchbay_core::cmd::mstpctl::parse(&words)
                    .map_err(|e| err(line, e.to_string()))?;
                let now = Instant::from_nanos(self.now);
                let got =
                    patchbay_core::cmd::mstpctl::apply(&mut self.graph, now, &c, Opts::default())
                        .map_err(|e| err(line, e.to_string()))?;
                let got = got.trim().to_string();
                Ok((got == *want, format!("{} is {got}", words[1..].join(" "))))
            }
            ["settled", "before", t] => {
                let t = time::parse(t)
                    .ok_or_else(|| err(line, format!("expect: \"{t}\" is not a time")))?;
                Ok((
                    self.settled <= t,
                    format!("last port or link change at {}", time::fmt(self.settled)),
                ))
            }
            ["drops", dev, reason, op, n] => {
                let id = self
                    .graph
                    .by_name(dev)
                    .ok_or_else(|| err(line, format!("expect: no device {dev}")))?;
                let r = patchbay_core::counters::DropReason::ALL
                    .iter()
                    .find(|r| r.name() == *reason)
                    .ok_or_else(|| err(line, format!("expect: no drop reason \"{reason}\"")))?;
                let v = self.graph.iface(id).counters.dropped(*r);
                let (ok, want) = compare(line, v, v, op, n)?;
                Ok((
                    ok,
                    format!("{dev} dropped {v} as {reason} (wanted {op} {want})"),
                ))
            }
            _ => Err(err(line, usage)),
        }
    }

    fn check_bond(
        &self,
        line: usize,
        name: &str,
        s: &[&str],
        usage: &str,
    ) -> Result<(bool, String), SimError> {
        let id = self
            .graph
            .by_name(name)
            .ok_or_else(|| err(line, format!("expect: no bond {name}")))?;
        let b = self
            .graph
            .iface(id)
            .bond()
            .ok_or_else(|| err(line, format!("expect: {name} is not a bond")))?;
        let slave = |n: &str| {
            b.slaves
                .iter()
                .position(|x| x.name == n)
                .ok_or_else(|| err(line, format!("expect: {n} is not a member of {name}")))
        };
        match s {
            ["active", want] => {
                let got = b.active_slave().map_or("none", |a| a.name.as_str());
                Ok((got == *want, format!("{name}'s active slave is {got}")))
            }
            ["slave", sl, "link", want] => {
                let k = slave(sl)?;
                let got = b.slaves[k].link.name().replace(' ', "-");
                Ok((got == *want, format!("{sl} link {got}")))
            }
            ["slave", sl, "distributing", want @ ("yes" | "no")] => {
                let k = slave(sl)?;
                let on = b.lacp.ports.get(k).is_some_and(|p| p.is_active());
                Ok((on == (*want == "yes"), format!("{sl} distributing: {on}")))
            }
            ["slave", sl, "aggregator", how @ ("same-as" | "differs-from"), other] => {
                let (k, j) = (slave(sl)?, slave(other)?);
                let (a, c) = (
                    b.lacp.port_agg(k).map(|x| x.id),
                    b.lacp.port_agg(j).map(|x| x.id),
                );
                let same = a.is_some() && a == c;
                Ok((
                    same == (*how == "same-as"),
                    format!("{sl} in aggregator {a:?}, {other} in {c:?}"),
                ))
            }
            _ => Err(err(line, usage)),
        }
    }

    fn check_team(
        &self,
        line: usize,
        name: &str,
        s: &[&str],
        usage: &str,
    ) -> Result<(bool, String), SimError> {
        let id = self
            .graph
            .by_name(name)
            .ok_or_else(|| err(line, format!("expect: no team {name}")))?;
        let t = self
            .graph
            .iface(id)
            .team()
            .ok_or_else(|| err(line, format!("expect: {name} is not a team")))?;
        let port = |n: &str| {
            t.port_by_name(n)
                .ok_or_else(|| err(line, format!("expect: {n} is not a port of {name}")))
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        match s {
            ["active", want] => {
                let got = t
                    .active
                    .and_then(|a| t.port(a))
                    .map_or("none", |p| p.name.as_str());
                Ok((got == *want, format!("{name}'s active port is {got}")))
            }
            ["port", p, "link", want @ ("up" | "down")] => {
                let got = if port(p)?.link_up { "up" } else { "down" };
                Ok((got == *want, format!("{p} link {got}")))
            }
            ["port", p, "enabled", want @ ("yes" | "no")] => {
                let got = yes(port(p)?.enabled);
                Ok((got == *want, format!("{p} enabled: {got}")))
            }
            _ => Err(err(line, usage)),
        }
    }

    fn bridge(&self, line: usize, name: &str) -> Result<&patchbay_core::bridge::Bridge, SimError> {
        let id = self
            .graph
            .by_name(name)
            .ok_or_else(|| err(line, format!("expect: no bridge {name}")))?;
        self.graph
            .iface(id)
            .bridge()
            .ok_or_else(|| err(line, format!("expect: {name} is not a bridge")))
    }

    /// Whether the wires whose two ends are forwarding bridge ports form one
    /// tree over all bridges that are up: as many such wires as bridges less one, and
    /// every bridge reached (union-find).
    /// The forwarding links form one tree (`whole`), or at least no loop.
    fn spanning_tree(&self, whole: bool) -> (bool, String) {
        // Bridges whose device is up; a bridge that is down is out of the tree.
        let bridges: Vec<IfId> = self
            .graph
            .iter()
            .filter(|(_, f)| f.bridge().is_some() && f.admin_up)
            .map(|(id, _)| id)
            .collect();
        let index: BTreeMap<IfId, usize> =
            bridges.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut parent: Vec<usize> = (0..bridges.len()).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let forwarding_bridge = |e: End| -> Option<usize> {
            let End::Port(id) = e else { return None };
            let f = self.graph.iface(id);
            let br = f.master?;
            let st = self.graph.iface(br).bridge()?.port(f.port_no)?.state;
            (st == patchbay_core::bridge::PortState::Forwarding)
                .then(|| index.get(&br).copied())
                .flatten()
        };
        let (mut edges, mut cycles) = (0usize, 0usize);
        for w in self.wires.iter().filter(|w| w.up) {
            if let (Some(a), Some(b)) = (forwarding_bridge(w.ends[0]), forwarding_bridge(w.ends[1]))
            {
                edges += 1;
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra == rb {
                    cycles += 1;
                } else {
                    parent[ra] = rb;
                }
            }
        }
        let roots = (0..bridges.len())
            .filter(|i| find(&mut parent, *i) == *i)
            .count();
        let ok = cycles == 0 && (roots == 1 || !whole);
        (
            ok,
            format!(
                "{} bridges, {edges} forwarding links, {cycles} loops, {roots} component(s)",
                bridges.len()
            ),
        )
    }

    /// The report of everything so far.
    pub fn report(&self) -> Report {
        let name = |e: End| self.end_name(e).to_string();
        Report {
            seed: self.seed,
            virtual_time: self.now,
            events: self.events_processed,
            timeline: self.timeline.clone(),
            changes: self.changes.clone(),
            marks: self.marks.clone(),
            traffic_bucket: TRAFFIC_BUCKET,
            traffic: {
                let mut v: Vec<WireTraffic> = Vec::new();
                for (&(w, proto, bucket), &n) in &self.traffic {
                    let wire = &self.wires[w].name;
                    match v.last_mut() {
                        Some(t) if &t.wire == wire && t.protocol == proto => {
                            t.counts.push((bucket, n))
                        }
                        _ => v.push(WireTraffic {
                            wire: wire.clone(),
                            protocol: proto.to_string(),
                            counts: vec![(bucket, n)],
                        }),
                    }
                }
                v
            },
            flows: self
                .flows
                .iter()
                .map(|f| FlowReport {
                    from: self.hosts[f.src].name.clone(),
                    to: f
                        .dst
                        .map_or_else(|| "broadcast".into(), |d| self.hosts[d].name.clone()),
                    sent: f.sent,
                    delivered: f.received,
                    duplicates: f.duplicates,
                })
                .collect(),
            pings: self
                .pings
                .iter()
                .map(|p| PingReport {
                    from: self.hosts[p.src].name.clone(),
                    to: p.dst_name.clone(),
                    sent: u64::from(p.sent),
                    replies: u64::from(p.replies),
                })
                .collect(),
            wires: self
                .wires
                .iter()
                .map(|w| WireReport {
                    name: w.name.clone(),
                    a: name(w.ends[0]),
                    b: name(w.ends[1]),
                    up: w.up,
                    frames: [w.stats[0].frames, w.stats[1].frames],
                    lost: [w.stats[0].lost, w.stats[1].lost],
                    protocols: {
                        let mut m: BTreeMap<String, u64> = BTreeMap::new();
                        for s in &w.stats {
                            for (k, v) in &s.protocols {
                                *m.entry((*k).to_string()).or_insert(0) += v;
                            }
                        }
                        m
                    },
                })
                .collect(),
            assertions: self.assertions.clone(),
        }
    }

    /// One pcap per wire (name, bytes), when recording.
    pub fn pcaps(&self) -> Vec<(String, &[u8])> {
        self.wires
            .iter()
            .filter_map(|w| w.pcap.as_deref().map(|p| (w.name.clone(), p)))
            .collect()
    }
}

/// `delay D jitter D loss P% speed MBPS duplex half|full`, over `cur`.
fn wire_params(
    line: usize,
    s: &[&str],
    cur: (u64, u64, f64, u32, bool),
) -> Result<(u64, u64, f64, u32, bool), SimError> {
    let (mut delay, mut jitter, mut loss, mut speed, mut full) = cur;
    let mut i = 0;
    while i < s.len() {
        let v = s
            .get(i + 1)
            .ok_or_else(|| err(line, format!("wire: \"{}\" needs a value", s[i])))?;
        match s[i] {
            "delay" => delay = time::parse(v).ok_or_else(|| err(line, format!("wire: delay \"{v}\" is not a duration")))?,
            "jitter" => jitter = time::parse(v).ok_or_else(|| err(line, format!("wire: jitter \"{v}\" is not a duration")))?,
            "loss" => {
                let p: f64 = v.trim_end_matches('%').parse().map_err(|_| err(line, format!("wire: loss \"{v}\" is not a percentage")))?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(err(line, format!("wire: loss {v} is not between 0% and 100%")));
                }
                loss = p / 100.0;
            }
            "speed" => speed = v.parse().map_err(|_| err(line, format!("wire: speed \"{v}\" is not Mbit/s")))?,
            "duplex" => {
                full = match *v {
                    "full" => true,
                    "half" => false,
                    _ => return Err(err(line, format!("wire: duplex \"{v}\" is not full or half"))),
                }
            }
            k => return Err(err(line, format!("wire: unknown argument \"{k}\" (expected delay, jitter, loss, speed or duplex)"))),
        }
        i += 2;
    }
    Ok((delay, jitter, loss, speed, full))
}

fn vlan(vid: u16) -> String {
    if vid == 0 {
        String::new()
    } else {
        format!(" vlan {vid}")
    }
}

/// `v OP n`, where n may be a percentage of `total`.
fn compare(line: usize, v: u64, total: u64, op: &str, n: &str) -> Result<(bool, String), SimError> {
    let want = match n.strip_suffix('%') {
        Some(p) => {
            let p: f64 = p.parse().map_err(|_| {
                err(
                    line,
                    format!("expect: \"{n}\" is not a number or percentage"),
                )
            })?;
            (total as f64 * p / 100.0).ceil() as u64
        }
        None => n.parse().map_err(|_| {
            err(
                line,
                format!("expect: \"{n}\" is not a number or percentage"),
            )
        })?,
    };
    let ok = match op {
        "==" => v == want,
        "!=" => v != want,
        ">=" => v >= want,
        "<=" => v <= want,
        ">" => v > want,
        "<" => v < want,
        _ => {
            return Err(err(
                line,
                format!("expect: \"{op}\" is not one of == != >= <= > <"),
            ))
        }
    };
    Ok((
        ok,
        if n.ends_with('%') {
            format!("{n} = {want}")
        } else {
            want.to_string()
        },
    ))
}

/// What a frame is, for the per-wire protocol counts.
fn protocol(f: &[u8]) -> &'static str {
    if f.len() < 14 {
        return "runt";
    }
    if f[..6] == [0x01, 0x80, 0xc2, 0, 0, 0] {
        return "stp";
    }
    let mut et = u16::from_be_bytes([f[12], f[13]]);
    let mut off = 14;
    while (et == 0x8100 || et == 0x88a8) && f.len() >= off + 4 {
        et = u16::from_be_bytes([f[off + 2], f[off + 3]]);
        off += 4;
    }
    match et {
        0x0806 => "arp",
        0x0800 if f.len() > off + 9 && f[off + 9] == 1 => "icmp",
        0x0800 => "ipv4",
        0x86dd => "ipv6",
        0x8809 => "lacp",
        crate::host::TRAFFIC_ETHERTYPE => "traffic",
        _ => "other",
    }
}
