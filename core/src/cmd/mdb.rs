//! Multicast snooping from the command line: the `mcast_*` options of
//! `link add/set type bridge` with their checks and `-d link show` rows,
//! and `bridge mdb add|del|show` as bridge(8) takes and prints them.

use super::show::Detail;
use super::{err, lookup, to_json, Args, CmdError, Command, Opts};
use crate::bridge::mcast::{self, McastConfig, MdbKey, Origin, QUERY_INTERVAL_MIN};
use crate::bridge::Bridge;
use crate::graph::{Graph, IfId};
use crate::time::Instant;
use core::net::IpAddr;
use serde_json::{json, Value};
use std::time::Duration;

/// `mcast_*` options as given; times in centiseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McastOpts {
    pub snooping: Option<bool>,
    pub vlan_snooping: Option<bool>,
    pub router: Option<u8>,
    pub query_use_ifaddr: Option<bool>,
    pub querier: Option<bool>,
    pub hash_elasticity: Option<u32>,
    pub hash_max: Option<u32>,
    pub last_member_count: Option<u32>,
    pub startup_query_count: Option<u32>,
    pub last_member_interval: Option<u64>,
    pub membership_interval: Option<u64>,
    pub querier_interval: Option<u64>,
    pub query_interval: Option<u64>,
    pub query_response_interval: Option<u64>,
    pub startup_query_interval: Option<u64>,
    pub stats_enabled: Option<bool>,
    pub igmp_version: Option<u8>,
    pub mld_version: Option<u8>,
}

/// Takes one `mcast_*` option off `a` if the next word is one; `false`
/// when it is not.
pub(super) fn parse_opt(a: &mut Args<'_>, o: &mut McastOpts) -> Result<bool, CmdError> {
    let Some(x) = a.peek() else {
        return Ok(false);
    };
    let cs = "centiseconds";
    match x {
        "mcast_snooping"
        | "mcast_vlan_snooping"
        | "mcast_query_use_ifaddr"
        | "mcast_querier"
        | "mcast_stats_enabled" => {
            a.next();
            let v = Some(a.flag01(x)?);
            match x {
                "mcast_snooping" => o.snooping = v,
                "mcast_vlan_snooping" => o.vlan_snooping = v,
                "mcast_query_use_ifaddr" => o.query_use_ifaddr = v,
                "mcast_querier" => o.querier = v,
                _ => o.stats_enabled = v,
            }
        }
        "mcast_router" => {
            a.next();
            let v: u8 = a.num(x, "0 (disabled), 1 (learn from queries) or 2 (always)")?;
            if v > mcast::ROUTER_PERM {
                return Err(a.bad(
                    x,
                    &v.to_string(),
                    "0 (disabled), 1 (learn from queries) or 2 (always); 3 is for ports (EINVAL)",
                ));
            }
            o.router = Some(v);
        }
        "mcast_igmp_version" => {
            a.next();
            let v: u8 = a.num(x, "2 or 3")?;
            if !(2..=3).contains(&v) {
                return Err(a.bad(x, &v.to_string(), "2 or 3 (EINVAL)"));
            }
            o.igmp_version = Some(v);
        }
        "mcast_mld_version" => {
            a.next();
            let v: u8 = a.num(x, "1 or 2")?;
            if !(1..=2).contains(&v) {
                return Err(a.bad(x, &v.to_string(), "1 or 2 (EINVAL)"));
            }
            o.mld_version = Some(v);
        }
        "mcast_hash_elasticity" => {
            a.next();
            o.hash_elasticity = Some(a.num(x, "a number (deprecated: always 16)")?);
        }
        "mcast_hash_max" => {
            a.next();
            o.hash_max = Some(a.num(x, "a number of MDB entries")?);
        }
        "mcast_last_member_count" => {
            a.next();
            o.last_member_count = Some(a.num(x, "a count")?);
        }
        "mcast_startup_query_count" => {
            a.next();
            o.startup_query_count = Some(a.num(x, "a count")?);
        }
        "mcast_last_member_interval" => {
            a.next();
            o.last_member_interval = Some(a.num(x, cs)?);
        }
        "mcast_membership_interval" => {
            a.next();
            o.membership_interval = Some(a.num(x, cs)?);
        }
        "mcast_querier_interval" => {
            a.next();
            o.querier_interval = Some(a.num(x, cs)?);
        }
        "mcast_query_interval" => {
            a.next();
            o.query_interval = Some(a.num(x, cs)?);
        }
        "mcast_query_response_interval" => {
            a.next();
            o.query_response_interval = Some(a.num(x, cs)?);
        }
        "mcast_startup_query_interval" => {
            a.next();
            o.startup_query_interval = Some(a.num(x, cs)?);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn centis(v: u64) -> Duration {
    Duration::from_millis(v.saturating_mul(10))
}

fn to_centis(d: Duration) -> u64 {
    (d.as_millis() / 10) as u64
}

/// What the options make of `c`, refused where patchbay does not emulate
/// them yet. `vlan_filtering` is the bridge's (new) setting. Querier and
/// snooping changes are returned in the config; [`commit`] runs them.
pub(super) fn config(
    cmd: &str,
    o: &McastOpts,
    mut c: McastConfig,
    vlan_filtering: bool,
) -> Result<McastConfig, CmdError> {
    if o.vlan_snooping == Some(true) {
        if !vlan_filtering {
            return Err(err(
                cmd,
                "Cannot enable multicast vlan snooping with vlan filtering disabled (EINVAL)",
            ));
        }
        return Err(err(cmd, "mcast_vlan_snooping 1 (a querier and router ports per VLAN) is not emulated yet; without it the MDB is still kept per VLAN"));
    }
    if o.stats_enabled == Some(true) {
        return Err(err(cmd, "mcast_stats_enabled 1 is not emulated yet; `patchbay stats` counts malformed IGMP/MLD by name"));
    }
    let set = |d: &mut Duration, v: Option<u64>| {
        if let Some(v) = v {
            *d = centis(v);
        }
    };
    if let Some(v) = o.router {
        c.router = v;
    }
    if let Some(v) = o.igmp_version {
        c.igmp_version = v;
    }
    if let Some(v) = o.mld_version {
        c.mld_version = v;
    }
    if let Some(v) = o.query_use_ifaddr {
        c.query_use_ifaddr = v;
    }
    if let Some(v) = o.hash_max {
        c.hash_max = v;
    }
    if let Some(v) = o.last_member_count {
        c.last_member_count = v;
    }
    if let Some(v) = o.startup_query_count {
        c.startup_query_count = v;
    }
    set(&mut c.last_member_interval, o.last_member_interval);
    set(&mut c.membership_interval, o.membership_interval);
    set(&mut c.querier_interval, o.querier_interval);
    set(&mut c.query_interval, o.query_interval);
    set(&mut c.query_response_interval, o.query_response_interval);
    set(&mut c.startup_query_interval, o.startup_query_interval);
    // `br_multicast_set_query_intvl` and `_startup_query_intvl` raise a
    // value under a second to a second.
    c.query_interval = c.query_interval.max(QUERY_INTERVAL_MIN);
    c.startup_query_interval = c.startup_query_interval.max(QUERY_INTERVAL_MIN);
    Ok(c)
}

/// Puts a config from [`config`] on bridge `b` in `br_changelink`'s
/// order: the router setting, snooping, use_ifaddr and the querier first
/// (each through its own path), the counts and intervals after. So
/// `mcast_querier 1 mcast_query_response_interval 300` in one command
/// waits the old response interval before snooping acts, as the kernel's
/// bridge does.
pub(super) fn commit(b: &mut Bridge, now: Instant, o: &McastOpts, new: McastConfig, running: bool) {
    b.mc_set_router(new.router).expect("checked when parsed");
    if let Some(v) = o.snooping {
        b.mc_set_snooping(now, v, running);
    }
    b.mc.cfg.query_use_ifaddr = new.query_use_ifaddr;
    if let Some(v) = o.querier {
        b.mc_set_querier(now, v, running);
    }
    b.mc.cfg = McastConfig {
        snooping: b.mc.cfg.snooping,
        querier: b.mc.cfg.querier,
        ..new
    };
}

/// The bridge's multicast rows of `-d link show`, in `bridge_print_opt`'s
/// order and under its JSON keys.
pub(super) fn details(b: &Bridge) -> Vec<Detail> {
    let c = &b.mc.cfg;
    let u = |k: &str, t: &str, v: u64| Detail::uint(k, t, v);
    vec![
        u("mcast_snooping", "mcast_snooping", c.snooping.into()),
        u("no_linklocal_learn", "no_linklocal_learn", 0),
        u(
            "mcast_vlan_snooping",
            "mcast_vlan_snooping",
            c.vlan_snooping.into(),
        ),
        u("mcast_router", "mcast_router", c.router.into()),
        u(
            "mcast_query_use_ifaddr",
            "mcast_query_use_ifaddr",
            c.query_use_ifaddr.into(),
        ),
        u("mcast_querier", "mcast_querier", c.querier.into()),
        u(
            "mcast_hash_elasticity",
            "mcast_hash_elasticity",
            c.hash_elasticity.into(),
        ),
        u("mcast_hash_max", "mcast_hash_max", c.hash_max.into()),
        u(
            "mcast_last_member_cnt",
            "mcast_last_member_count",
            c.last_member_count.into(),
        ),
        u(
            "mcast_startup_query_cnt",
            "mcast_startup_query_count",
            c.startup_query_count.into(),
        ),
        u(
            "mcast_last_member_intvl",
            "mcast_last_member_interval",
            to_centis(c.last_member_interval),
        ),
        u(
            "mcast_membership_intvl",
            "mcast_membership_interval",
            to_centis(c.membership_interval),
        ),
        u(
            "mcast_querier_intvl",
            "mcast_querier_interval",
            to_centis(c.querier_interval),
        ),
        u(
            "mcast_query_intvl",
            "mcast_query_interval",
            to_centis(c.query_interval),
        ),
        u(
            "mcast_query_response_intvl",
            "mcast_query_response_interval",
            to_centis(c.query_response_interval),
        ),
        u(
            "mcast_startup_query_intvl",
            "mcast_startup_query_interval",
            to_centis(c.startup_query_interval),
        ),
        u(
            "mcast_stats_enabled",
            "mcast_stats_enabled",
            c.stats_enabled.into(),
        ),
        u(
            "mcast_igmp_version",
            "mcast_igmp_version",
            c.igmp_version.into(),
        ),
        u(
            "mcast_mld_version",
            "mcast_mld_version",
            c.mld_version.into(),
        ),
    ]
}

/// `bridge mdb add|replace|del`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdbChange {
    pub dev: String,
    pub port: String,
    pub grp: IpAddr,
    /// An (S,G) entry's source.
    pub src: Option<IpAddr>,
    pub permanent: bool,
    pub vid: Option<u16>,
    pub replace: bool,
}

pub(super) fn parse(w: &[String]) -> Result<Command, CmdError> {
    let verb = w.first().map(String::as_str).unwrap_or("show");
    let rest = if w.len() > 1 { &w[1..] } else { &[] };
    let cmd = format!("bridge mdb {verb}");
    let mut a = Args::new(rest, cmd.clone());
    match verb {
        "show" | "list" | "ls" | "lst" => {
            let mut dev = None;
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value("dev")?.to_string()),
                    _ => return Err(a.unknown(x, "dev DEV")),
                }
            }
            Ok(Command::MdbShow { dev })
        }
        "add" | "replace" | "del" | "delete" => {
            let (mut dev, mut port, mut grp, mut vid, mut src) = (None, None, None, None, None);
            let mut permanent = false;
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value(x)?.to_string()),
                    "port" => port = Some(a.value(x)?.to_string()),
                    "grp" => {
                        let v = a.value(x)?;
                        let g: IpAddr = v.parse().map_err(|_| {
                            if v.contains(':') && v.len() == 17 {
                                err(&cmd, format!("grp {v}: layer-2 (MAC) groups are not emulated; give an IPv4 or IPv6 group"))
                            } else {
                                a.bad(x, v, "an IPv4 or IPv6 multicast group")
                            }
                        })?;
                        if !g.is_multicast() {
                            return Err(err(
                                &cmd,
                                format!("grp {g} is not a multicast address (EINVAL)"),
                            ));
                        }
                        grp = Some(g);
                    }
                    "permanent" => permanent = true,
                    "temp" => permanent = false,
                    "vid" => {
                        let v: u16 = a.num(x, "a VLAN id from 1 to 4094")?;
                        if !(1..=4094).contains(&v) {
                            return Err(a.bad(x, &v.to_string(), "a VLAN id from 1 to 4094"));
                        }
                        vid = Some(v);
                    }
                    "src" => {
                        let v = a.value(x)?;
                        let s: IpAddr = v
                            .parse()
                            .map_err(|_| a.bad(x, v, "an IPv4 or IPv6 source address"))?;
                        if s.is_multicast() || s.is_unspecified() {
                            return Err(err(
                                &cmd,
                                format!("src {s}: a source is a unicast address (EINVAL)"),
                            ));
                        }
                        src = Some(s);
                    }
                    "filter_mode" | "source_list" => {
                        return Err(err(&cmd, format!("{x}: a *,G entry's filter mode and source list are set by the hosts' reports; patchbay does not take them by hand yet (an (S,G) entry: src SOURCE)")));
                    }
                    "proto" => {
                        a.value(x)?;
                    }
                    _ => {
                        return Err(a.unknown(
                            x,
                            "dev BRIDGE port PORT grp GROUP [permanent|temp] [vid VID]",
                        ))
                    }
                }
            }
            let need = |v: Option<String>, k: &str| {
                v.ok_or_else(|| err(&cmd, format!("argument \"{k}\" is required (bridge mdb {verb} dev BRIDGE port PORT grp GROUP)")))
            };
            let c = MdbChange {
                dev: need(dev, "dev")?,
                port: need(port, "port")?,
                grp: grp.ok_or_else(|| err(&cmd, "argument \"grp\" is required"))?,
                src,
                permanent,
                vid,
                replace: verb == "replace",
            };
            Ok(if verb.starts_with("del") {
                Command::MdbDel(Box::new(c))
            } else {
                Command::MdbAdd(Box::new(c))
            })
        }
        _ => Err(err(
            "bridge mdb",
            format!("unknown command \"{verb}\" (add, replace, del or show)"),
        )),
    }
}

/// The bridge, and the port (`None`: the bridge itself) a change names.
fn target(g: &Graph, cmd: &str, c: &MdbChange) -> Result<(IfId, Option<u16>), CmdError> {
    let br = lookup(g, cmd, &c.dev)?;
    if g.iface(br).bridge().is_none() {
        return Err(err(cmd, format!("\"{}\" is not a bridge (EINVAL)", c.dev)));
    }
    let p = lookup(g, cmd, &c.port)?;
    if p == br {
        return Ok((br, None));
    }
    let f = g.iface(p);
    if f.master != Some(br) {
        return Err(err(
            cmd,
            format!("\"{}\" is not a port of {} (EINVAL)", c.port, c.dev),
        ));
    }
    Ok((br, Some(f.port_no)))
}

fn key(c: &MdbChange) -> MdbKey {
    MdbKey {
        vid: c.vid.unwrap_or(0),
        group: c.grp,
        src: c.src,
    }
}

pub(super) fn add(g: &mut Graph, now: Instant, c: &MdbChange) -> Result<(), CmdError> {
    let cmd = "bridge mdb add";
    let (br, port) = target(g, cmd, c)?;
    if mcast::unsnooped(c.grp) {
        let what = match c.grp {
            IpAddr::V4(_) => "IPv4 entry group address is local multicast",
            IpAddr::V6(_) => "IPv6 entry group address is link-local all nodes",
        };
        return Err(err(cmd, format!("{what} (EINVAL)")));
    }
    let b = g.iface_mut(br).bridge_mut().expect("checked");
    b.mdb_add(now, port, key(c), c.permanent, c.replace)
        .map_err(|e| err(cmd, e.0))
}

pub(super) fn del(g: &mut Graph, c: &MdbChange) -> Result<(), CmdError> {
    let cmd = "bridge mdb del";
    let (br, port) = target(g, cmd, c)?;
    let b = g.iface_mut(br).bridge_mut().expect("checked");
    b.mdb_del(port, key(c))
        .map_err(|e| err(cmd, format!("{} (EINVAL)", e.0)))
}

/// iproute2's `format_timer(cs, 1)`: `%4u.%.2u`.
fn aligned(cs: u64) -> String {
    format!("{:4}.{:02}", cs / 100, cs % 100)
}

/// One MDB entry as bridge(8) prints it (`print_mdb_entry`), for `bridge
/// mdb show` from a bridge's MDB and for `bridge monitor mdb` from an
/// RTM_NEWMDB/RTM_DELMDB message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdbRow {
    pub dev_index: u32,
    pub dev: String,
    pub port: String,
    pub group: IpAddr,
    pub src: Option<IpAddr>,
    pub permanent: bool,
    /// `MDBA_MDB_EATTR_GROUP_MODE`, where the bridge tracks sources.
    pub mode: Option<mcast::FilterMode>,
    /// Sources with their timers in centiseconds.
    pub sources: Vec<(IpAddr, u64)>,
    /// `MDBA_MDB_EATTR_RTPROT` (`RTPROT_KERNEL`, `RTPROT_STATIC`, ...);
    /// none for the bridge's host.
    pub proto: Option<u8>,
    /// `MDB_FLAGS_*`.
    pub flags: u8,
    pub vid: u16,
    /// The timer in centiseconds.
    pub timer_cs: u64,
}

/// `RTPROT_KERNEL`: learned by snooping.
pub const RTPROT_KERNEL: u8 = 2;
/// `RTPROT_STATIC`: `bridge mdb add`.
pub const RTPROT_STATIC: u8 = 4;

/// iproute2's name of a route protocol (`rtnl_rtprot_n2a`).
fn rtprot_name(p: u8) -> String {
    match p {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        n => n.to_string(),
    }
}

impl MdbRow {
    /// The line (without its newline) and the JSON object; `details` and
    /// `stats` as `-d` and `-s`.
    pub fn render(&self, details: bool, stats: bool) -> (String, Value) {
        // iproute2 6.1's spacing: each field with a space before it, and
        // one after the protocol (so `proto kernel  vid 10`).
        let mut line = format!("dev {} port {} grp {}", self.dev, self.port, self.group);
        let mut row = json!({
            "index": self.dev_index, "dev": self.dev, "port": self.port,
            "grp": self.group.to_string(),
        });
        if let Some(src) = self.src {
            line.push_str(&format!(" src {src}"));
            row["src"] = src.to_string().into();
        }
        let state = if self.permanent { "permanent" } else { "temp" };
        line.push_str(&format!(" {state}"));
        row["state"] = state.into();
        if details {
            if let Some(m) = self.mode {
                line.push_str(&format!(" filter_mode {}", m.name()));
                row["filter_mode"] = m.name().into();
            }
            if !self.sources.is_empty() {
                let list: Vec<String> = self
                    .sources
                    .iter()
                    .map(|(a, t)| format!("{a}/{}", aligned(*t).trim()))
                    .collect();
                line.push_str(&format!(" source_list {}", list.join(",")));
                row["source_list"] = self
                    .sources
                    .iter()
                    .map(|(a, t)| json!({"address": a.to_string(), "timer": aligned(*t).trim()}))
                    .collect::<Vec<_>>()
                    .into();
            }
            if let Some(p) = self.proto {
                let o = rtprot_name(p);
                line.push_str(&format!(" proto {o} "));
                row["protocol"] = o.into();
            }
        }
        let mut flags = Vec::new();
        for (bit, name) in [
            (1, "offload"),
            (mcast::MDB_FLAGS_FAST_LEAVE, "fast_leave"),
            (mcast::MDB_FLAGS_STAR_EXCL, "added_by_star_ex"),
            (mcast::MDB_FLAGS_BLOCKED, "blocked"),
        ] {
            if self.flags & bit != 0 {
                flags.push(name);
                line.push_str(&format!(" {name}"));
            }
        }
        row["flags"] = flags.into();
        if self.vid != 0 {
            line.push_str(&format!(" vid {}", self.vid));
            row["vid"] = self.vid.into();
        }
        if stats {
            let tm = aligned(self.timer_cs);
            line.push_str(&format!(" {tm}"));
            row["timer"] = tm.into();
        }
        (line.trim_end().to_string(), row)
    }
}

/// A bridge's MDB as rows, in `bridge mdb show` order (newest entry first;
/// of an entry the bridge's host, then the ports in port order).
pub fn rows(g: &Graph, now: Instant, br: IfId) -> Vec<MdbRow> {
    let f = g.iface(br);
    let Some(b) = f.bridge() else {
        return Vec::new();
    };
    let cs = |t: Option<Instant>| u64::from(mcast::timer_cs(now, t));
    let mut out = Vec::new();
    for (k, e) in b.mc.entries() {
        let v3 = b.mc_v3(mcast::Proto::of(k.group));
        let base = MdbRow {
            dev_index: f.ifindex,
            dev: f.name.clone(),
            port: f.name.clone(),
            group: k.group,
            src: k.src,
            permanent: false,
            mode: None,
            sources: Vec::new(),
            proto: None,
            flags: 0,
            vid: k.vid,
            timer_cs: cs(e.timer),
        };
        // The host first, as the kernel dumps it (`br_mdb_fill_info`).
        if e.host_joined {
            out.push(base.clone());
        }
        for pg in &e.ports {
            let Some(p) = b.port(pg.port) else { continue };
            out.push(MdbRow {
                port: g.iface(p.ifid).name.clone(),
                permanent: pg.permanent,
                mode: v3.then_some(pg.filter_mode),
                sources: pg.srcs.iter().map(|x| (x.addr, cs(x.timer))).collect(),
                proto: Some(match pg.origin {
                    Origin::Kernel => RTPROT_KERNEL,
                    Origin::Static => RTPROT_STATIC,
                }),
                flags: pg.flags(),
                timer_cs: cs(pg.timer),
                ..base.clone()
            });
        }
    }
    out
}

/// A router port as `bridge -d mdb show` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterRow {
    pub port: String,
    /// Centiseconds.
    pub timer_cs: u64,
    /// Its `mcast_router` (2: permanent; otherwise temp).
    pub kind: u8,
}

/// One bridge's part of `bridge mdb show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdbShow {
    pub dev: String,
    pub rows: Vec<MdbRow>,
    pub routers: Vec<RouterRow>,
}

/// `bridge mdb show` as bridge(8) prints it: per bridge its entries, then
/// with `-d` its router ports (with `-s` their timers and types).
pub fn render_show(bridges: &[MdbShow], opts: Opts) -> String {
    let mut text = String::new();
    let mut json = Vec::new();
    for b in bridges {
        let mut rows = Vec::new();
        for r in &b.rows {
            let (line, row) = r.render(opts.details, opts.stats);
            text.push_str(&line);
            text.push('\n');
            rows.push(row);
        }
        let mut router = serde_json::Map::new();
        if opts.details && !b.routers.is_empty() {
            let kind = |r: &RouterRow| {
                if r.kind == mcast::ROUTER_PERM {
                    "permanent"
                } else {
                    "temp"
                }
            };
            if opts.stats {
                for r in &b.routers {
                    text.push_str(&format!(
                        "router ports on {}: {} {} {}\n",
                        b.dev,
                        r.port,
                        aligned(r.timer_cs),
                        kind(r)
                    ));
                }
            } else {
                let names: Vec<&str> = b.routers.iter().map(|r| r.port.as_str()).collect();
                text.push_str(&format!(
                    "router ports on {}: {} \n",
                    b.dev,
                    names.join(" ")
                ));
            }
            let list: Vec<Value> = b
                .routers
                .iter()
                .map(|r| {
                    if opts.stats {
                        json!({"port": r.port, "timer": aligned(r.timer_cs), "type": kind(r)})
                    } else {
                        json!({"port": r.port})
                    }
                })
                .collect();
            router.insert(b.dev.clone(), Value::Array(list));
        }
        json.push(json!({"mdb": rows, "router": router}));
    }
    if opts.json {
        to_json(Value::Array(json))
    } else {
        text
    }
}

/// `bridge mdb show`: per bridge its entries ([`rows`]), then with `-d`
/// its router ports.
pub(super) fn show(
    g: &Graph,
    now: Instant,
    dev: Option<&str>,
    opts: Opts,
) -> Result<String, CmdError> {
    let cmd = "bridge mdb show";
    let only = dev.map(|d| lookup(g, cmd, d)).transpose()?;
    let mut bridges = Vec::new();
    for (id, f) in g.iter() {
        let Some(b) = f.bridge() else { continue };
        if only.is_some_and(|o| o != id) {
            continue;
        }
        let routers = b
            .ports()
            .filter(|p| p.mc.v.iter().any(|v| v.is_router))
            .map(|p| RouterRow {
                port: g.iface(p.ifid).name.clone(),
                timer_cs: p
                    .mc
                    .v
                    .iter()
                    .map(|v| mcast::timer_cs(now, v.router_timer))
                    .max()
                    .map_or(0, u64::from),
                kind: p.mc.router,
            })
            .collect();
        bridges.push(MdbShow {
            dev: f.name.clone(),
            rows: rows(g, now, id),
            routers,
        });
    }
    Ok(render_show(&bridges, opts))
}
