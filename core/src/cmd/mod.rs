//! The iproute2 command language, with `patchbay` in place of `ip` and
//! `bridge`: parsing words into typed [`Command`]s, applying them to a
//! [`Graph`], and printing what iproute2 prints (text, or JSON with `-j`).
//!
//! Parsing is kept apart from the devices (VPP keeps `l2_input.c` apart from
//! `l2_input_node.c`): a command is checked whole before anything changes,
//! so a bad command changes nothing. The daemon, `-batch` files and the
//! simulator's scenario files all come through here.

pub mod bond;
mod bridge;
pub mod help;
pub use bridge::{render_port_rows, FdbDump, PortRow, FDB_SORTED_MAX};
mod link;
pub mod mdb;
pub use link::{c_hex, default_mac};
pub mod mstpctl;
pub mod neigh;
pub mod save;
pub mod show;
mod stats;
pub mod team;
pub mod vxlan;

use crate::bridge::PortFlags;
use crate::fdb::EntryFlags;
use crate::graph::{Graph, GraphError, IfId};
use crate::time::Instant;
use crate::wire::{Mac, VlanProtocol};
use std::fmt;
use std::str::FromStr;

/// How output is printed (`-j`, `-d`, `-s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    pub json: bool,
    pub details: bool,
    pub stats: bool,
}

/// A command that could not be carried out. It names the command, the
/// argument and why; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError {
    pub cmd: String,
    pub msg: String,
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cmd, self.msg)
    }
}

impl std::error::Error for CmdError {}

pub(crate) fn err(cmd: impl AsRef<str>, msg: impl Into<String>) -> CmdError {
    CmdError {
        cmd: cmd.as_ref().into(),
        msg: msg.into(),
    }
}

fn graph_err(cmd: &str, e: GraphError) -> CmdError {
    err(cmd, e.to_string())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    MdbAdd(Box<mdb::MdbChange>),
    MdbDel(Box<mdb::MdbChange>),
    MdbShow {
        dev: Option<String>,
    },
    TuntapAdd {
        name: String,
    },
    TuntapDel {
        name: String,
    },
    LinkAdd(LinkAdd),
    LinkDel {
        name: String,
    },
    LinkSet(Box<LinkSet>),
    LinkShow {
        dev: Option<String>,
        master: Option<String>,
        kind: Option<String>,
    },
    FdbAdd(FdbAdd),
    FdbDel {
        mac: Mac,
        dev: String,
        vlan: Option<u16>,
        /// VXLAN: one remote of the entry.
        dst: Option<core::net::IpAddr>,
    },
    FdbShow {
        dev: Option<String>,
        br: Option<String>,
    },
    BridgeLinkSet {
        dev: String,
        port: PortChanges,
    },
    BridgeLinkShow {
        dev: Option<String>,
    },
    VlanAdd(VlanCmd),
    VlanDel(VlanCmd),
    VlanShow {
        dev: Option<String>,
    },
    Stats {
        dev: Option<String>,
    },
    /// `mstpctl [-f json|plain] VERB ...`; the flag says `-f json` was given.
    Mstpctl(mstpctl::MstpCmd, bool),
    BondShow {
        dev: Option<String>,
    },
    /// `teamctl TEAM VERB ...`.
    Teamctl(String, team::TeamctlCmd),
    /// `neigh ...` on a vxlan device's table.
    Neigh(neigh::NeighCmd),
    /// `save`: the running topology as a batch file ([`save::save`]).
    Save,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Bridge(BridgeOpts),
    Bond(bond::BondOpts),
    Team(Box<crate::team::TeamConfig>),
    /// The flag: `dstport` was given.
    Vxlan(Box<crate::vxlan::VxlanConfig>, bool),
    Vlan {
        id: u16,
        protocol: VlanProtocol,
    },
    /// `type macvlan` / `type macvtap` (the flag inside says which).
    Macvlan(Box<crate::macvlan::Macvlan>),
    /// `type ipvlan` / `type ipvtap`.
    Ipvlan(Box<crate::ipvlan::Ipvlan>),
    /// `type veth [peer [name] NAME [address MAC]]`.
    Veth {
        peer: Option<String>,
        peer_address: Option<Mac>,
        peer_netns: Option<String>,
    },
    Dummy,
    Nlmon,
    Netdevsim(NetdevsimOpts),
}

/// `type netdevsim [carrier on|off] [speed MBPS] [duplex full|half]
/// [drop P%] [corrupt P%] [delay D]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetdevsimOpts {
    pub carrier: Option<bool>,
    pub speed: Option<u32>,
    pub full_duplex: Option<bool>,
    pub drop_ppm: Option<u32>,
    pub corrupt_ppm: Option<u32>,
    pub delay: Option<std::time::Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkAdd {
    pub name: String,
    pub link: Option<String>,
    pub kind: LinkKind,
    pub mtu: Option<u32>,
    pub address: Option<Mac>,
    pub up: bool,
    /// `netns NAME`: where the front end puts the device's TAP.
    pub netns: Option<String>,
}

/// Bridge options as `type bridge ...` takes them; times in centiseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BridgeOpts {
    pub ageing_time: Option<u64>,
    pub forward_delay: Option<u64>,
    pub hello_time: Option<u64>,
    pub max_age: Option<u64>,
    pub stp_state: Option<u32>,
    pub priority: Option<u16>,
    pub vlan_filtering: Option<bool>,
    pub vlan_protocol: Option<VlanProtocol>,
    pub vlan_default_pvid: Option<u16>,
    pub group_fwd_mask: Option<u16>,
    pub fdb_max_learned: Option<u32>,
    pub mcast: Box<mdb::McastOpts>,
}

/// Per-port options (`bridge link set`, `ip link set ... type bridge_slave`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortChanges {
    pub learning: Option<bool>,
    pub flood: Option<bool>,
    pub mcast_flood: Option<bool>,
    pub bcast_flood: Option<bool>,
    pub hairpin: Option<bool>,
    pub isolated: Option<bool>,
    pub state: Option<crate::bridge::PortState>,
    pub cost: Option<u32>,
    pub priority: Option<u8>,
    pub group_fwd_mask: Option<u16>,
    pub guard: Option<bool>,
    pub root_block: Option<bool>,
    /// `fastleave` / `mcast_fast_leave`.
    pub fast_leave: Option<bool>,
    pub mcast_router: Option<u8>,
}

impl PortChanges {
    pub fn apply_flags(&self, f: &mut PortFlags) {
        let set = |dst: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut f.learning, self.learning);
        set(&mut f.flood, self.flood);
        set(&mut f.mcast_flood, self.mcast_flood);
        set(&mut f.bcast_flood, self.bcast_flood);
        set(&mut f.hairpin, self.hairpin);
        set(&mut f.isolated, self.isolated);
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkSet {
    pub name: String,
    pub up: Option<bool>,
    /// `Some(None)` = nomaster.
    pub master: Option<Option<String>>,
    pub mtu: Option<u32>,
    pub address: Option<Mac>,
    pub bridge: Option<BridgeOpts>,
    pub bond: Option<bond::BondOpts>,
    pub port: Option<PortChanges>,
    /// `type macvlan macaddr ...`.
    pub macaddr: Option<crate::macvlan::MacaddrOp>,
    /// `type netdevsim ...` knobs.
    pub netdevsim: Option<NetdevsimOpts>,
    /// `netns NAME`: the front end moves the device's TAP there.
    pub netns: Option<String>,
    /// `name NEW`: the device's new name (only while it is down).
    pub rename: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdbAdd {
    pub mac: Mac,
    pub dev: String,
    pub vlan: Option<u16>,
    pub flags: EntryFlags,
    pub replace: bool,
    /// VXLAN: `append`, and `dst IP [port P] [vni N]`.
    pub append: bool,
    pub dst: Option<core::net::IpAddr>,
    pub dst_port: Option<u16>,
    pub dst_vni: Option<u32>,
    /// VXLAN: `static` (else permanent, or `dynamic`).
    pub dynamic: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VlanCmd {
    pub dev: String,
    pub vids: (u16, u16),
    pub pvid: bool,
    pub untagged: bool,
    pub self_: bool,
}

impl Command {
    /// Devices the command needs as ports or lowers: a front end that can
    /// attach existing kernel netdevs does so for these before applying.
    pub fn lowers(&self) -> Vec<&str> {
        match self {
            Command::LinkAdd(a) => a.link.as_deref().into_iter().collect(),
            Command::LinkSet(s) if matches!(s.master, Some(Some(_))) => vec![s.name.as_str()],
            Command::Teamctl(_, team::TeamctlCmd::PortAdd(d)) => vec![d.as_str()],
            _ => vec![],
        }
    }
}

/// Walks the words of one command.
pub(crate) struct Args<'a> {
    words: &'a [String],
    i: usize,
    pub cmd: String,
}

impl<'a> Args<'a> {
    pub fn new(words: &'a [String], cmd: impl Into<String>) -> Self {
        Args {
            words,
            i: 0,
            cmd: cmd.into(),
        }
    }

    pub fn next(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.i)?;
        self.i += 1;
        Some(w.as_str())
    }

    pub fn peek(&self) -> Option<&'a str> {
        self.words.get(self.i).map(String::as_str)
    }

    pub fn value(&mut self, key: &str) -> Result<&'a str, CmdError> {
        self.next()
            .ok_or_else(|| err(&self.cmd, format!("argument \"{key}\" needs a value")))
    }

    pub fn num<T: FromStr>(&mut self, key: &str, what: &str) -> Result<T, CmdError> {
        let v = self.value(key)?;
        parse_num(v).ok_or_else(|| self.bad(key, v, what))
    }

    pub fn on_off(&mut self, key: &str) -> Result<bool, CmdError> {
        let v = self.value(key)?;
        match v {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(self.bad(key, v, "\"on\" or \"off\"")),
        }
    }

    pub fn flag01(&mut self, key: &str) -> Result<bool, CmdError> {
        let v = self.value(key)?;
        match v {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(self.bad(key, v, "0 or 1")),
        }
    }

    pub fn mac(&mut self, key: &str) -> Result<Mac, CmdError> {
        let v = self.value(key)?;
        v.parse().map_err(|e: crate::wire::ParseMacError| {
            err(&self.cmd, format!("argument \"{key}\": {e}"))
        })
    }

    /// A device's own address: unicast and not zero, as
    /// `eth_validate_addr` requires (EADDRNOTAVAIL otherwise).
    pub fn unicast(&mut self, key: &str) -> Result<Mac, CmdError> {
        let m = self.mac(key)?;
        if !m.is_valid_source() {
            return Err(err(
                &self.cmd,
                format!("argument \"{key}\": {m} is not a unicast address (EADDRNOTAVAIL)"),
            ));
        }
        Ok(m)
    }

    pub fn bad(&self, key: &str, value: &str, expected: &str) -> CmdError {
        err(
            &self.cmd,
            format!(
                "argument \"{key}\" expects {expected}, got \"{value}\"{}",
                did_you_mean(value, expected)
            ),
        )
    }

    pub fn unknown(&self, word: &str, expected: &str) -> CmdError {
        err(
            &self.cmd,
            format!(
                "unknown argument \"{word}\" (expected {expected}){}",
                did_you_mean(word, expected)
            ),
        )
    }
}

/// `; did you mean "X"?` when one word of `expected` (the list an error
/// names) is within a typo of `word`, else nothing: the suggestions come
/// from the same text that lists what the parser takes.
pub fn did_you_mean(word: &str, expected: &str) -> String {
    let best = expected
        .split(|c: char| {
            !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '+')
        })
        // Words, not numbers: "6553" is no typo of "65535".
        .filter(|w| w.len() >= 2 && *w != word && w.starts_with(|c: char| c.is_ascii_alphabetic()))
        // The list's own English, never a suggestion.
        .filter(|w| {
            !matches!(
                *w,
                "or" | "and" | "an" | "to" | "of" | "in" | "from" | "the" | "as" | "is" | "option"
            )
        })
        .map(|w| (edit_distance(word, w), w))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, w)) if d <= (word.len() / 3).clamp(1, 2) => format!("; did you mean \"{w}\"?"),
        _ => String::new(),
    }
}

/// Levenshtein distance, on bytes (the words are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Decimal, or hex with 0x.
fn parse_num<T: FromStr>(s: &str) -> Option<T> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let v = u64::from_str_radix(h, 16).ok()?;
        return v.to_string().parse().ok();
    }
    s.parse().ok()
}

/// Parses the words of one command (without `patchbay` and global options).
pub fn parse(words: &[String]) -> Result<Command, CmdError> {
    let Some(first) = words.first() else {
        return Err(err("patchbay", "no command given (try 'link show')"));
    };
    let rest = &words[1..];
    match first.as_str() {
        "link" | "l" => link::parse(rest),
        "tuntap" | "tap" => link::parse_tuntap(rest),
        "bridge" => bridge::parse(rest),
        "fdb" | "vlan" => bridge::parse(words),
        "bond" => bond::parse(rest),
        "neigh" | "neighbour" | "neighbor" | "n" => neigh::parse(rest).map(Command::Neigh),
        "teamctl" | "teamdctl" => team::parse(rest).map(|(t, c)| Command::Teamctl(t, c)),
        "mstpctl" => {
            // mstpctl's own format switch, as well as patchbay's -j.
            let (json, rest) = match rest {
                [f, v, tail @ ..] if f == "-f" || f == "--format" => match v.as_str() {
                    "json" => (true, tail),
                    "plain" => (false, tail),
                    _ => {
                        return Err(err(
                            "mstpctl",
                            format!("format \"{v}\" (expected json or plain)"),
                        ))
                    }
                },
                _ => (false, rest),
            };
            mstpctl::parse(rest).map(|c| Command::Mstpctl(c, json))
        }
        "save" => match rest {
            [] => Ok(Command::Save),
            [w, ..] => Err(err(
                "save",
                format!("unexpected \"{w}\" (the client writes the file: patchbay save [FILE])"),
            )),
        },
        "stats" => {
            let mut a = Args::new(rest, "stats");
            let dev = match a.next() {
                Some("dev") => Some(a.value("dev")?.to_string()),
                Some(d) => Some(d.to_string()),
                None => None,
            };
            Ok(Command::Stats { dev })
        }
        other => {
            let expected = "link, tuntap, bridge, neigh, bond, teamctl, mstpctl, stats or save";
            Err(err(
                "patchbay",
                format!(
                    "unknown object \"{other}\" (expected {expected}){}",
                    did_you_mean(other, expected)
                ),
            ))
        }
    }
}

/// What a command printed, what it warns of (stderr in iproute2), and
/// what the front end must carry out on the host for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub text: String,
    pub warning: String,
    pub effects: Vec<Effect>,
}

/// The host side of a command the graph has taken: what a front end with
/// real netdevs does next (the daemon: TAPs, namespaces, kernel settings;
/// the simulator has no host side and ignores them). Everything a command
/// can be refused for was checked before the graph changed, so these come
/// only from a command that succeeded; a front end checks its own side
/// (a namespace that must exist, a name the kernel has taken) before it
/// applies the command (`patchbay_io::effects`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A device was made (`link add`; both ends of a veth): the daemon
    /// exposes it as a TAP of its name, or gives a netdevsim port its
    /// wire TAP.
    Created(IfId),
    /// A device left the graph; the attachment it had, if any, is closed.
    Removed(IfId, Option<crate::graph::AttachId>),
    /// Admin state: the device's netdev follows.
    Admin(IfId, bool),
    /// MTU: the device's netdev follows.
    Mtu(IfId, u32),
    /// Address: the device's netdev follows.
    Address(IfId, Mac),
    /// `netns NAME`: the device's TAP moves there.
    Netns(IfId, String),
    /// `name NEW`: the device's netdev takes the new name.
    Name(IfId, String),
}

/// Applies a command to the graph. `tuntap` needs a front end that can make
/// TAP devices; here it is refused.
pub fn apply(g: &mut Graph, now: Instant, cmd: &Command, opts: Opts) -> Result<Output, CmdError> {
    let mut effects = Vec::new();
    let text = match cmd {
        Command::TuntapAdd { .. } | Command::TuntapDel { .. } => {
            return Err(err(
                "tuntap",
                "TAP devices are made by the daemon (run 'patchbay daemon')",
            ))
        }
        Command::LinkAdd(a) => {
            let id = link::add(g, now, a)?;
            effects.push(Effect::Created(id));
            let peer = match g.iface(id).kind {
                crate::graph::Kind::Veth { peer } => peer,
                _ => None,
            };
            if let Some(p) = peer {
                effects.push(Effect::Created(p));
            }
            if let Some(ns) = &a.netns {
                effects.push(Effect::Netns(id, ns.clone()));
            }
            if let (
                Some(p),
                LinkKind::Veth {
                    peer_netns: Some(ns),
                    ..
                },
            ) = (peer, &a.kind)
            {
                effects.push(Effect::Netns(p, ns.clone()));
            }
            String::new()
        }
        Command::LinkDel { name } => {
            let id = lookup(g, "link del", name)?;
            for (id, f) in g.remove(now, id) {
                effects.push(Effect::Removed(id, f.attach.map(|a| a.id)));
            }
            String::new()
        }
        Command::LinkSet(s) => {
            link::set(g, now, s)?;
            let id = lookup(g, "link set", s.rename.as_ref().unwrap_or(&s.name))?;
            if let Some(n) = &s.rename {
                effects.push(Effect::Name(id, n.clone()));
            }
            if let Some(up) = s.up {
                effects.push(Effect::Admin(id, up));
            }
            if let Some(m) = s.mtu {
                effects.push(Effect::Mtu(id, m));
            }
            if let Some(mac) = s.address {
                effects.push(Effect::Address(id, mac));
                // A passthru macvlan's lower took the address too.
                let f = g.iface(id);
                if let (crate::graph::Kind::Macvlan(m), Some(l)) = (&f.kind, f.link) {
                    if m.mode == crate::macvlan::Mode::Passthru {
                        effects.push(Effect::Address(l, mac));
                    }
                }
            }
            if let Some(ns) = &s.netns {
                effects.push(Effect::Netns(id, ns.clone()));
            }
            String::new()
        }
        Command::LinkShow { dev, master, kind } => link::show(
            g,
            now,
            dev.as_deref(),
            master.as_deref(),
            kind.as_deref(),
            opts,
        )?,
        Command::FdbAdd(a) => bridge::fdb_add(g, now, a).map(|_| String::new())?,
        Command::FdbDel {
            mac,
            dev,
            vlan,
            dst,
        } => bridge::fdb_del(g, *mac, dev, *vlan, *dst).map(|_| String::new())?,
        Command::FdbShow { dev, br } => {
            bridge::fdb_show(g, now, dev.as_deref(), br.as_deref(), opts)?
        }
        Command::MdbAdd(c) => mdb::add(g, now, c).map(|_| String::new())?,
        Command::MdbDel(c) => mdb::del(g, c).map(|_| String::new())?,
        Command::MdbShow { dev } => mdb::show(g, now, dev.as_deref(), opts)?,
        Command::BridgeLinkSet { dev, port } => {
            bridge::port_set(g, now, "bridge link set", dev, port).map(|_| String::new())?
        }
        Command::BridgeLinkShow { dev } => bridge::link_show(g, dev.as_deref(), opts)?,
        Command::VlanAdd(v) => bridge::vlan_change(g, now, v, true).map(|_| String::new())?,
        Command::VlanDel(v) => bridge::vlan_change(g, now, v, false).map(|_| String::new())?,
        Command::VlanShow { dev } => bridge::vlan_show(g, dev.as_deref(), opts)?,
        Command::Stats { dev } => stats::show(g, dev.as_deref(), opts)?,
        Command::BondShow { dev } => bond::show(g, dev.as_deref(), opts)?,
        Command::Teamctl(t, c) => team::apply(g, now, t, c, opts)?,
        Command::Neigh(c) => neigh::apply(g, c, opts)?,
        Command::Save => save::save(g, &|_| None),
        Command::Mstpctl(c, json) => mstpctl::apply(
            g,
            now,
            c,
            Opts {
                json: opts.json || *json,
                ..opts
            },
        )?,
    };
    g.refresh_timers();
    g.collect_all();
    let warning = match cmd {
        Command::LinkAdd(LinkAdd {
            kind: LinkKind::Vxlan(_, false),
            ..
        }) => vxlan::DSTPORT_WARNING.to_string(),
        _ => String::new(),
    };
    Ok(Output {
        text,
        warning,
        effects,
    })
}

pub(crate) fn lookup(g: &Graph, cmd: &str, name: &str) -> Result<IfId, CmdError> {
    g.by_name(name)
        .ok_or_else(|| graph_err(cmd, GraphError::NoDevice(name.into())))
}

pub(crate) fn to_json(v: serde_json::Value) -> String {
    let mut s = serde_json::to_string(&v).expect("json");
    s.push('\n');
    s
}

/// A line of a `-batch` file as the words of one command: [`split_line`],
/// less a leading `ip` or `patchbay` (so that a file of `ip` commands
/// runs as it is). Empty for a blank or comment line.
pub fn batch_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = split_line(line)?;
    if words.first().is_some_and(|w| w == "ip" || w == "patchbay") {
        words.remove(0);
    }
    Ok(words)
}

/// Splits a line of a `-batch` file into words: whitespace separates,
/// single and double quotes group, `#` starts a comment.
pub fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests;
