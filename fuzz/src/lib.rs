//! What the fuzzers feed the core, in one place: the cargo-fuzz targets in
//! `fuzz/targets/` call [`frames`] and [`commands`], and `tests/replay.rs`
//! runs the same functions over every file in `fuzz/corpus/` and
//! `fuzz/regressions/`, so CI replays what the fuzzers found without a
//! nightly toolchain.
//!
//! Both start from one graph ([`lab`]) holding every device the frame path
//! can meet: a bridge running the kernel's 802.1D, a VLAN-filtering bridge
//! running RSTP, a bond in 802.3ad, a team with the lacp runner, a team in
//! activebackup with ARP and NS/NA link watchers, a VXLAN device with
//! proxy and miss reports, macvlans, ipvlans (l2 and l3) and a VLAN
//! device, on netdevsim ports with wire attachments, the upper devices with
//! host attachments as the daemon exposes them.

use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::wire::{Offload, Tag};
use patchbay_core::{AttachId, Graph, IfId, Instant};
use std::time::Duration;

/// The topology every input starts from, as `-batch` lines.
pub const SETUP: &[&str] = &[
    "link add br0 type bridge stp_state 1 forward_delay 400 hello_time 100 max_age 600",
    "link add br1 type bridge stp_state 1 vlan_filtering 1",
    "mstpctl addbridge br1",
    "link add bond0 type bond mode 802.3ad lacp_rate fast miimon 100",
    "link add team0 type team config '{\"runner\": {\"name\": \"lacp\", \"fast_rate\": true}}'",
    "link add team1 type team config '{\"runner\": {\"name\": \"activebackup\"}, \"link_watch\": [{\"name\": \"arp_ping\", \"interval\": 100, \"missed_max\": 2, \"source_host\": \"198.18.9.1\", \"target_host\": \"198.18.9.9\"}, {\"name\": \"nsna_ping\", \"interval\": 100, \"missed_max\": 2, \"target_host\": \"fd00::9\"}], \"link_watch_policy\": \"any\"}'",
    "link add vx0 type vxlan id 100 local 198.18.0.1 dstport 4789 proxy l2miss l3miss ageing 30",
    "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.2",
    "neigh add 198.18.30.9 lladdr 02:00:00:00:00:09 dev vx0",
    "link add p1 type netdevsim",
    "link add p2 type netdevsim",
    "link add p3 type netdevsim",
    "link add p4 type netdevsim",
    "link add p5 type netdevsim",
    "link add p6 type netdevsim",
    "link add p7 type netdevsim",
    "link add p8 type netdevsim",
    "link add p9 type netdevsim",
    "link add p10 type netdevsim",
    "link add p11 type netdevsim",
    "link add p12 type netdevsim",
    "link add p13 type netdevsim delay 5ms",
    "link set p1 master br0",
    "link set p2 master br0",
    "link set vx0 master br0",
    "link set p3 master br1",
    "link set p4 master br1",
    "bridge vlan add dev p4 vid 10",
    "bridge vlan add dev p4 vid 20 pvid untagged",
    "link set p5 master bond0",
    "link set p6 master bond0",
    "link set bond0 master br1",
    "link set p7 master team0",
    "link set p8 master team0",
    "link set p11 master team1",
    "link set p12 master team1",
    "link set team0 master br0",
    "link add mv0 link p9 type macvlan mode bridge",
    "link add mv1 link p9 type macvlan mode vepa",
    "link add ipv0 link p10 type ipvlan mode l2",
    "link add ipv1 link p10 type ipvlan mode l3",
    "link add link p13 name p13.5 type vlan id 5",
    "link add link p13.5 name p13.5.7 type vlan id 7 protocol 802.1ad",
];

/// Devices that get an attachment, in attachment order: the ports (wire
/// attachments) and then the devices the daemon exposes as TAPs (host).
pub const ATTACHED: &[(&str, Role)] = &[
    ("p1", Role::Wire),
    ("p2", Role::Wire),
    ("p3", Role::Wire),
    ("p4", Role::Wire),
    ("p5", Role::Wire),
    ("p6", Role::Wire),
    ("p7", Role::Wire),
    ("p8", Role::Wire),
    ("p9", Role::Wire),
    ("p10", Role::Wire),
    ("p11", Role::Wire),
    ("p12", Role::Wire),
    ("p13", Role::Wire),
    ("br0", Role::Host),
    ("br1", Role::Host),
    ("bond0", Role::Host),
    ("team0", Role::Host),
    ("team1", Role::Host),
    ("vx0", Role::Host),
    ("mv0", Role::Host),
    ("mv1", Role::Host),
    ("ipv0", Role::Host),
    ("ipv1", Role::Host),
    ("p13.5", Role::Host),
    ("p13.5.7", Role::Host),
];

/// The graph every input starts from: [`SETUP`] applied, [`ATTACHED`]
/// attached, everything up (built once, cloned for each input).
pub fn lab() -> Graph {
    static LAB: std::sync::OnceLock<Graph> = std::sync::OnceLock::new();
    LAB.get_or_init(build_lab).clone()
}

fn build_lab() -> Graph {
    let mut g = Graph::new();
    for line in SETUP {
        run(&mut g, Instant::ZERO, line).unwrap_or_else(|e| panic!("setup: {line}: {e}"));
    }
    for (i, (name, role)) in ATTACHED.iter().enumerate() {
        let id = g
            .by_name(name)
            .unwrap_or_else(|| panic!("setup: no {name}"));
        g.attach(
            id,
            Attachment {
                id: AttachId(i as u32),
                role: *role,
            },
        );
    }
    let names: Vec<String> = g.iter().map(|(_, f)| f.name.clone()).collect();
    for n in names {
        run(&mut g, Instant::ZERO, &format!("link set {n} up")).expect("up");
    }
    g
}

/// One `-batch` line through parse and apply.
pub fn run(g: &mut Graph, now: Instant, line: &str) -> Result<String, String> {
    let words = cmd::batch_words(line)?;
    if words.is_empty() {
        return Ok(String::new());
    }
    let c = cmd::parse(&words).map_err(|e| e.to_string())?;
    cmd::apply(g, now, &c, Opts::default())
        .map(|o| o.text)
        .map_err(|e| e.to_string())
}

/// Reads an input as a little program.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }
}

/// Opcodes of a frame-path input (the first byte of each step, mod 5).
pub mod op {
    /// `[0, attachment, len u16 le, flags, (tci u16 be)?, (offload 10)?, frame]`:
    /// flags bit 0 a stripped tag follows, bit 1 a virtio-net header.
    pub const FRAME: u8 = 0;
    /// `[1, t]`: the clock moves `t` × 50 ms and the timers run.
    pub const TIME: u8 = 1;
    /// `[2, src, len u16 le, payload]`: a UDP payload vx0's underlay
    /// received from 198.18.0.src; with `src` ≥ 128, `[2, src, seg u16
    /// le, len u16 le, payload]`: a UDP GRO read of datagrams `seg` bytes apart
    /// (`Graph::receive_underlay_run`), from 198.18.0.(src − 128).
    pub const UNDERLAY: u8 = 2;
    /// `[3, port]`: the port's carrier flips.
    pub const CARRIER: u8 = 3;
    /// `[4, len, line]`: a command.
    pub const COMMAND: u8 = 4;
}

/// Runs a frame-path input against [`lab`]: frames into `Graph::receive`
/// on any attachment, datagrams into the VXLAN device, time, carrier and
/// commands, in the order the input says. It must not panic.
pub fn frames(data: &[u8]) {
    let mut g = lab();
    let mut out = Outputs::new();
    let mut now = Instant::ZERO;
    let vx0 = g.by_name("vx0").expect("vx0");
    let ports: Vec<IfId> = ATTACHED
        .iter()
        .filter(|(_, r)| *r == Role::Wire)
        .map(|(n, _)| g.by_name(n).expect("port"))
        .collect();
    let mut r = Reader { data };
    // Bounded, so a long input cannot make a slow one.
    for _ in 0..256 {
        let Some(o) = r.byte() else { break };
        match o % 5 {
            op::FRAME => {
                let (Some(a), Some(len), Some(flags)) = (r.byte(), r.u16(), r.byte()) else {
                    break;
                };
                let stripped = if flags & 1 != 0 {
                    let Some(tci) = r.u16() else { break };
                    Some(Tag {
                        tpid: 0x8100,
                        tci: tci.swap_bytes(),
                    })
                } else {
                    None
                };
                let offload = if flags & 2 != 0 {
                    let h = r.take(10);
                    if h.len() < 10 {
                        break;
                    }
                    let u = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
                    Offload {
                        flags: h[0],
                        gso_type: h[1],
                        hdr_len: u(2),
                        gso_size: u(4),
                        csum_start: u(6),
                        csum_offset: u(8),
                    }
                } else {
                    Offload::NONE
                };
                let frame = r.take(usize::from(len));
                let attach = AttachId(u32::from(a) % ATTACHED.len() as u32);
                g.receive(now, attach, frame, stripped, offload, &mut out);
            }
            op::TIME => {
                let Some(t) = r.byte() else { break };
                now = now + Duration::from_millis(u64::from(t) * 50);
                timers(&mut g, now, &mut out);
            }
            op::UNDERLAY => {
                let Some(src) = r.byte() else { break };
                let seg = if src >= 128 {
                    let Some(s) = r.u16() else { break };
                    Some(usize::from(s).max(1))
                } else {
                    None
                };
                let Some(len) = r.u16() else { break };
                let payload = r.take(usize::from(len));
                let from = core::net::IpAddr::from([198, 18, 0, src & 0x7f]);
                match seg {
                    Some(seg) => {
                        let run: Vec<&[u8]> = payload.chunks(seg).collect();
                        g.receive_underlay_run(now, vx0, from, &run, &mut out);
                    }
                    None => g.receive_underlay(now, vx0, from, payload, &mut out),
                }
            }
            op::CARRIER => {
                let Some(p) = r.byte() else { break };
                let id = ports[usize::from(p) % ports.len()];
                let up = !g.iface(id).carrier;
                g.set_carrier(now, id, up);
            }
            _ => {
                let Some(len) = r.byte() else { break };
                let line = String::from_utf8_lossy(r.take(usize::from(len))).into_owned();
                let _ = run(&mut g, now, &line);
            }
        }
        drain(&mut g, &mut out);
    }
    // Whatever the input did, the clock can run on.
    timers(&mut g, now + Duration::from_secs(5), &mut out);
}

fn timers(g: &mut Graph, now: Instant, out: &mut Outputs) {
    // Every deadline up to `now`, in order, as the daemon's loop runs them.
    for _ in 0..10_000 {
        match g.poll_timeout() {
            Some(t) if t <= now => {
                g.handle_timeout(t, out);
                drain(g, out);
            }
            _ => break,
        }
    }
    g.handle_timeout(now, out);
    drain(g, out);
}

/// What a front end does after a burst: send (here: read and drop) what
/// was queued, and take the events.
fn drain(g: &mut Graph, out: &mut Outputs) {
    out.flush(|_, b| {
        for (f, _) in b.iter() {
            std::hint::black_box(f);
        }
    });
    while g.poll_event().is_some() {}
}

/// What shows print of the whole graph: the state a failed command must
/// leave as it was.
pub fn snapshot(g: &mut Graph, now: Instant) -> String {
    let mut s = String::new();
    for line in [
        "link show",
        "bridge link show",
        "bridge fdb show",
        "bridge vlan show",
        "bond show",
        "neigh show",
        "mstpctl showport br1",
        "teamctl team0 state dump",
        "teamctl team1 config dump actual",
    ] {
        let c = cmd::parse(&cmd::batch_words(line).expect("words")).expect("parse");
        let o = Opts {
            json: true,
            details: true,
            stats: true,
        };
        match cmd::apply(g, now, &c, o) {
            Ok(o) => s.push_str(&o.text),
            Err(e) => s.push_str(&e.to_string()),
        }
        s.push('\n');
    }
    s
}

/// Runs a command input against [`lab`]: each line (lossy UTF-8) is parsed
/// and applied. A command that fails must leave every show as it was; one
/// that succeeds may change anything. It must not panic.
pub fn commands(data: &[u8]) {
    let mut g = lab();
    let text = String::from_utf8_lossy(data);
    let mut now = Instant::ZERO;
    for line in text.lines().take(64) {
        let Ok(words) = cmd::batch_words(line) else {
            continue;
        };
        if words.is_empty() {
            continue;
        }
        now = now + Duration::from_millis(10);
        let Ok(c) = cmd::parse(&words) else { continue };
        let before = snapshot(&mut g, now);
        let r = cmd::apply(&mut g, now, &c, Opts::default());
        if let Err(e) = r {
            let after = snapshot(&mut g, now);
            assert!(
                before == after,
                "\"{line}\" failed ({e}) but changed the graph:\n{}",
                diff(&before, &after)
            );
        }
    }
}

fn diff(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("- {x}\n+ {y}\n"))
        .collect()
}
