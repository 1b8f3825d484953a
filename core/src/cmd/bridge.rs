//! `bridge fdb|link|vlan`, as the `bridge` tool of iproute2 takes them.

use super::link::{link_row, port_of};
use super::show::{FdbRow, PortVlans};
use super::{err, lookup, to_json, Args, CmdError, Command, FdbAdd, Opts, PortChanges, VlanCmd};
use crate::bridge::PortState;
use crate::fdb::{EntryFlags, FdbError, FdbKey, PortNo};
use crate::graph::{Graph, IfId};
use crate::time::Instant;
use crate::wire::Mac;
use serde_json::{json, Value};
use std::fmt::Write;

pub(super) fn parse(w: &[String]) -> Result<Command, CmdError> {
    let obj = w.first().map(String::as_str).unwrap_or("");
    let verb = w.get(1).map(String::as_str).unwrap_or("show");
    let rest = if w.len() > 2 { &w[2..] } else { &[] };
    let cmd = format!("bridge {obj} {verb}");
    if obj == "mdb" {
        return super::mdb::parse(&w[1..]);
    }
    match (obj, verb) {
        ("fdb", "add" | "replace" | "append") => parse_fdb_add(rest, cmd, verb),
        ("fdb", "del" | "delete") => {
            let mut a = Args::new(rest, cmd.clone());
            let (mut mac, mut dev, mut vlan, mut dst) = (None, None, None, None);
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value("dev")?.to_string()),
                    "vlan" => vlan = Some(vid(&mut a, "vlan")?),
                    "dst" => {
                        let v = a.value("dst")?;
                        dst = Some(
                            v.parse()
                                .map_err(|_| a.bad("dst", v, "an IPv4 or IPv6 address"))?,
                        );
                    }
                    "master" | "self" | "permanent" | "static" | "dynamic" | "local" => {}
                    _ if mac.is_none() => {
                        mac = Some(x.parse::<Mac>().map_err(|e| err(&cmd, e.to_string()))?)
                    }
                    _ => return Err(a.unknown(x, "LLADDR dev DEV [vlan VID]")),
                }
            }
            Ok(Command::FdbDel {
                mac: mac
                    .ok_or_else(|| err(&cmd, "no address given (bridge fdb del LLADDR dev DEV)"))?,
                dev: dev.ok_or_else(|| err(&cmd, "argument \"dev\" is required"))?,
                vlan,
                dst,
            })
        }
        ("fdb", "show" | "list" | "ls") => {
            let mut a = Args::new(rest, cmd);
            let (mut dev, mut br) = (None, None);
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value("dev")?.to_string()),
                    "br" => br = Some(a.value("br")?.to_string()),
                    _ => return Err(a.unknown(x, "dev DEV or br BRIDGE")),
                }
            }
            Ok(Command::FdbShow { dev, br })
        }
        ("link", "set") => {
            let mut a = Args::new(rest, cmd.clone());
            let mut dev = None;
            let mut p = PortChanges::default();
            while let Some(x) = a.peek() {
                if x == "dev" {
                    a.next();
                    dev = Some(a.value("dev")?.to_string());
                } else if !parse_port_words(&mut a, &mut p, false)? {
                    return Err(a.unknown(x, "dev DEV, learning, flood, mcast_flood, bcast_flood, hairpin, isolated, guard, root_block, fastleave, mcast_router, state, cost or priority"));
                }
            }
            let dev = dev.ok_or_else(|| err(&cmd, "argument \"dev\" is required"))?;
            Ok(Command::BridgeLinkSet { dev, port: p })
        }
        ("link", "show" | "list" | "ls") => {
            let mut a = Args::new(rest, cmd);
            let mut dev = None;
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value("dev")?.to_string()),
                    _ => return Err(a.unknown(x, "dev DEV")),
                }
            }
            Ok(Command::BridgeLinkShow { dev })
        }
        ("vlan", "add" | "del" | "delete") => {
            let mut a = Args::new(rest, cmd.clone());
            let mut v = VlanCmd {
                dev: String::new(),
                vids: (0, 0),
                pvid: false,
                untagged: false,
                self_: false,
            };
            let mut have_vid = false;
            while let Some(x) = a.next() {
                match x {
                    "dev" => v.dev = a.value("dev")?.to_string(),
                    "vid" => {
                        let s = a.value("vid")?;
                        let (lo, hi) = match s.split_once('-') {
                            Some((l, h)) => (l, h),
                            None => (s, s),
                        };
                        let p = |t: &str| t.parse::<u16>().ok().filter(|v| (1..=4094).contains(v));
                        match (p(lo), p(hi)) {
                            (Some(l), Some(h)) if l <= h => v.vids = (l, h),
                            _ => {
                                return Err(a.bad(
                                    "vid",
                                    s,
                                    "a VLAN id or range from 1 to 4094 (10 or 10-20)",
                                ))
                            }
                        }
                        have_vid = true;
                    }
                    "pvid" => v.pvid = true,
                    "untagged" => v.untagged = true,
                    "self" => v.self_ = true,
                    "master" => {}
                    _ => {
                        return Err(
                            a.unknown(x, "dev DEV vid VID [pvid] [untagged] [self] [master]")
                        )
                    }
                }
            }
            if v.dev.is_empty() {
                return Err(err(&cmd, "argument \"dev\" is required"));
            }
            if !have_vid {
                return Err(err(&cmd, "argument \"vid\" is required"));
            }
            if v.pvid && v.vids.0 != v.vids.1 {
                return Err(err(&cmd, "pvid takes a single VLAN, not a range"));
            }
            Ok(if verb == "add" {
                Command::VlanAdd(v)
            } else {
                Command::VlanDel(v)
            })
        }
        ("vlan", "show" | "list" | "ls") => {
            let mut a = Args::new(rest, cmd);
            let mut dev = None;
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value("dev")?.to_string()),
                    _ => return Err(a.unknown(x, "dev DEV")),
                }
            }
            Ok(Command::VlanShow { dev })
        }
        ("fdb" | "link" | "vlan", v) => Err(err(
            format!("bridge {obj}"),
            format!("unknown verb \"{v}\""),
        )),
        (o, _) => Err(err(
            "bridge",
            format!("unknown object \"{o}\" (expected fdb, link or vlan)"),
        )),
    }
}

fn vid(a: &mut Args<'_>, key: &str) -> Result<u16, CmdError> {
    let v: u16 = a.num(key, "a VLAN id from 0 to 4094")?;
    if v > 4094 {
        return Err(a.bad(key, &v.to_string(), "a VLAN id from 0 to 4094"));
    }
    Ok(v)
}

/// Parses one per-port option at the cursor; false if the word is not one.
/// `ip link set ... type bridge_slave` and `bridge link set` share these.
pub(super) fn parse_port_words(
    a: &mut Args<'_>,
    p: &mut PortChanges,
    stop_on_unknown: bool,
) -> Result<bool, CmdError> {
    let mut any = false;
    while let Some(x) = a.peek() {
        let slot = match x {
            "learning" => &mut p.learning,
            "flood" => &mut p.flood,
            "mcast_flood" => &mut p.mcast_flood,
            "bcast_flood" => &mut p.bcast_flood,
            "hairpin" => &mut p.hairpin,
            "isolated" => &mut p.isolated,
            "guard" => &mut p.guard,
            "root_block" => &mut p.root_block,
            "fastleave" | "mcast_fast_leave" => &mut p.fast_leave,
            "mcast_router" => {
                a.next();
                let v: u8 = a.num(
                    "mcast_router",
                    "0 (disabled), 1 (learn from queries), 2 (always) or 3 (temporary)",
                )?;
                if v > crate::bridge::mcast::ROUTER_TEMP {
                    return Err(a.bad("mcast_router", &v.to_string(), "0 (disabled), 1 (learn from queries), 2 (always) or 3 (temporary) (EINVAL)"));
                }
                p.mcast_router = Some(v);
                any = true;
                continue;
            }
            "state" => {
                a.next();
                let n: u8 = a.num("state", "a port state from 0 to 4")?;
                let Some(st) = PortState::from_number(n) else {
                    return Err(a.bad("state", &n.to_string(), "0 (disabled) to 4 (blocking)"));
                };
                p.state = Some(st);
                any = true;
                continue;
            }
            "cost" => {
                a.next();
                let c: u32 = a.num("cost", "a path cost from 1 to 65535")?;
                if !(1..=65535).contains(&c) {
                    return Err(a.bad("cost", &c.to_string(), "a path cost from 1 to 65535"));
                }
                p.cost = Some(c);
                any = true;
                continue;
            }
            "priority" => {
                a.next();
                let v: u8 = a.num("priority", "a port priority from 0 to 63")?;
                if v > 63 {
                    return Err(a.bad("priority", &v.to_string(), "a port priority from 0 to 63"));
                }
                p.priority = Some(v);
                any = true;
                continue;
            }
            "group_fwd_mask" => {
                a.next();
                let v: u16 = a.num("group_fwd_mask", "a 16-bit mask")?;
                if v & crate::bridge::GROUP_FWD_RESTRICTED != 0 {
                    return Err(err(&a.cmd, format!("group_fwd_mask {v:#x} sets bits 0-2 (STP, PAUSE, LACP), which the kernel refuses (EINVAL)")));
                }
                p.group_fwd_mask = Some(v);
                any = true;
                continue;
            }
            _ => {
                if stop_on_unknown || any {
                    return Ok(any);
                }
                return Ok(false);
            }
        };
        a.next();
        *slot = Some(a.on_off(x)?);
        any = true;
        if !stop_on_unknown {
            return Ok(true);
        }
    }
    Ok(any)
}

fn parse_fdb_add(w: &[String], cmd: String, verb: &str) -> Result<Command, CmdError> {
    let mut a = Args::new(w, cmd.clone());
    let (mut mac, mut dev, mut vlan) = (None, None, None);
    let (mut dst, mut dst_port, mut dst_vni) = (None, None, None);
    let mut f = EntryFlags::default();
    let (mut is_static, mut dynamic, mut local) = (false, false, false);
    while let Some(x) = a.next() {
        match x {
            "dev" => dev = Some(a.value("dev")?.to_string()),
            "vlan" => vlan = Some(vid(&mut a, "vlan")?),
            "master" | "self" | "use" => {}
            "local" | "permanent" => local = true,
            "static" => is_static = true,
            "dynamic" => dynamic = true,
            "sticky" => f.sticky = true,
            "extern_learn" => f.extern_learn = true,
            "dst" => {
                let v = a.value("dst")?;
                dst = Some(
                    v.parse()
                        .map_err(|_| a.bad("dst", v, "an IPv4 or IPv6 address"))?,
                );
            }
            "port" | "dst_port" => dst_port = Some(a.num("port", "a UDP port")?),
            "vni" => {
                let v: u32 = a.num("vni", "a VNI from 0 to 16777215")?;
                if v > 0x00ff_ffff {
                    return Err(a.bad("vni", &v.to_string(), "a VNI from 0 to 16777215"));
                }
                dst_vni = Some(v);
            }
            "via" | "src_vni" | "nhid" | "router" => {
                return Err(err(
                    &cmd,
                    format!("\"{x}\" is not supported by patchbay's vxlan device"),
                ))
            }
            _ if mac.is_none() => {
                mac = Some(x.parse::<Mac>().map_err(|e| err(&cmd, e.to_string()))?)
            }
            _ => {
                return Err(a.unknown(
                    x,
                    "LLADDR dev DEV [vlan VID] [local|static|dynamic] [sticky]",
                ))
            }
        }
    }
    if u8::from(is_static) + u8::from(dynamic) + u8::from(local) > 1 {
        return Err(err(
            &cmd,
            "choose one of local/permanent, static and dynamic",
        ));
    }
    f.local = !is_static && !dynamic;
    f.is_static = is_static;
    let mac = mac.ok_or_else(|| err(&cmd, "no address given (bridge fdb add LLADDR dev DEV)"))?;
    if mac.is_multicast() && dst.is_none() {
        return Err(err(&cmd, format!("{mac} is a multicast address; the FDB holds unicast addresses (multicast groups go in the MDB)")));
    }
    Ok(Command::FdbAdd(FdbAdd {
        mac,
        dev: dev.ok_or_else(|| err(&cmd, "argument \"dev\" is required"))?,
        vlan,
        flags: f,
        replace: verb == "replace",
        append: verb == "append",
        dst,
        dst_port,
        dst_vni,
        dynamic,
    }))
}

/// The bridge and port number an FDB command on `dev` means: a port of a
/// bridge, or the bridge itself (port `None`).
fn fdb_target(g: &Graph, cmd: &str, dev: &str) -> Result<(IfId, Option<PortNo>), CmdError> {
    let id = lookup(g, cmd, dev)?;
    if g.iface(id).bridge().is_some() {
        return Ok((id, None));
    }
    let (br, no) = port_of(g, cmd, id)?;
    Ok((br, Some(no)))
}

fn fdb_vids(g: &Graph, br: IfId, port: Option<PortNo>, vlan: Option<u16>) -> Vec<u16> {
    if let Some(v) = vlan {
        return vec![v];
    }
    let b = g.iface(br).bridge().expect("bridge");
    let mut v = vec![0];
    match port.and_then(|p| b.port(p)) {
        Some(p) => v.extend(p.vlans.iter()),
        None => v.extend(b.self_vlans.iter()),
    }
    v
}

pub(super) fn fdb_add(g: &mut Graph, now: Instant, a: &FdbAdd) -> Result<(), CmdError> {
    let cmd = format!("bridge fdb add {} dev {}", a.mac, a.dev);
    if let Some(id) = g
        .by_name(&a.dev)
        .filter(|id| matches!(g.iface(*id).kind, crate::graph::Kind::Vxlan(_)))
    {
        let crate::graph::Kind::Vxlan(v) = &mut g.iface_mut(id).kind else {
            unreachable!("checked")
        };
        let dst = a
            .dst
            .ok_or_else(|| err(&cmd, "a vxlan entry needs a destination (dst IP)"))?;
        let state = if a.dynamic {
            crate::vxlan::State::Dynamic
        } else if a.flags.is_static {
            crate::vxlan::State::Static
        } else {
            crate::vxlan::State::Permanent
        };
        let how = if a.append {
            crate::vxlan::FdbOp::Append
        } else if a.replace {
            crate::vxlan::FdbOp::Replace
        } else {
            crate::vxlan::FdbOp::Add
        };
        let r = crate::vxlan::Remote {
            ip: dst,
            port: a.dst_port,
            vni: a.dst_vni,
        };
        return v
            .fdb_add(now, a.mac, r, state, how)
            .map_err(|e| err(&cmd, e.to_string()));
    }
    if a.dst.is_some() || a.append {
        return Err(err(
            &cmd,
            format!(
                "\"{}\" is not a vxlan device: dst and append are for vxlan FDBs",
                a.dev
            ),
        ));
    }
    let (br, port) = fdb_target(g, &cmd, &a.dev)?;
    let vids = fdb_vids(g, br, port, a.vlan);
    let b = g.iface_mut(br).bridge_mut().expect("bridge");
    if port.is_none() && !a.flags.local {
        return Err(err(
            &cmd,
            "an entry on the bridge device itself is a host entry: use local/permanent",
        ));
    }
    if let Some(p) = port.and_then(|p| b.port(p)) {
        use crate::bridge::PortState::*;
        // `fdb_add_entry`: a port that cannot learn takes local and
        // static entries only (checked with ip on 6.18: `static` on a
        // disabled port is taken, `dynamic` refused).
        if !a.flags.local && !a.flags.is_static && !matches!(p.state, Learning | Forwarding) {
            return Err(err(&cmd, format!("the port is {} (EPERM): only local and static entries can be added to a port that is not learning or forwarding", p.state.name())));
        }
    }
    if !a.replace {
        for v in &vids {
            if b.fdb.lookup(a.mac, *v).is_some() {
                return Err(err(&cmd, FdbError::Exists(a.mac, *v).to_string()));
            }
        }
    }
    let hold = b.hold_time();
    for v in vids {
        b.fdb
            .add(now, FdbKey::new(a.mac, v), port, a.flags, true, hold)
            .map_err(|e| err(&cmd, e.to_string()))?;
    }
    Ok(())
}

pub(super) fn fdb_del(
    g: &mut Graph,
    mac: Mac,
    dev: &str,
    vlan: Option<u16>,
    dst: Option<core::net::IpAddr>,
) -> Result<(), CmdError> {
    let cmd = format!("bridge fdb del {mac} dev {dev}");
    if let Some(id) = g
        .by_name(dev)
        .filter(|id| matches!(g.iface(*id).kind, crate::graph::Kind::Vxlan(_)))
    {
        let crate::graph::Kind::Vxlan(v) = &mut g.iface_mut(id).kind else {
            unreachable!("checked")
        };
        return v.fdb_del(mac, dst).map_err(|e| err(&cmd, e.to_string()));
    }
    let (br, port) = fdb_target(g, &cmd, dev)?;
    let vids = fdb_vids(g, br, port, vlan);
    let b = g.iface_mut(br).bridge_mut().expect("bridge");
    let present: Vec<u16> = vids
        .into_iter()
        .filter(|v| b.fdb.lookup(mac, *v).is_some_and(|e| e.port == port))
        .collect();
    if present.is_empty() {
        return Err(err(
            &cmd,
            FdbError::NotFound(mac, vlan.unwrap_or(0)).to_string(),
        ));
    }
    for v in present {
        b.fdb.remove(mac, v).map_err(|e| err(&cmd, e.to_string()))?;
    }
    Ok(())
}

pub(super) fn fdb_show(
    g: &Graph,
    now: Instant,
    dev: Option<&str>,
    br: Option<&str>,
    opts: Opts,
) -> Result<String, CmdError> {
    let mut d = FdbDump::new(g, dev, br, opts)?;
    let mut out = String::new();
    while let Some(chunk) = d.next_chunk(g, now, usize::MAX) {
        out.push_str(&chunk);
    }
    Ok(out)
}

/// A dump larger than this is written in the table's order, not sorted:
/// sorting a million entries would hold up forwarding (the kernel's own
/// dump is in its list's order).
pub const FDB_SORTED_MAX: usize = 65_536;

/// `bridge fdb show` a chunk at a time, so a daemon can answer a million
/// entries between bursts of frames without holding the whole answer: the
/// entries' keys are taken when the dump starts (8–16 bytes each), and
/// each chunk looks them up again, as a netlink dump resumes: an entry
/// gone since is left out, one learned since is not shown. Concatenated,
/// the chunks are exactly the one-shot answer (`-j` included).
#[derive(Debug)]
pub struct FdbDump {
    items: Vec<DumpItem>,
    pos: usize,
    dev: Option<IfId>,
    opts: Opts,
    /// Rows written so far (for `-j`'s separators).
    rows: usize,
    done: bool,
}

#[derive(Clone, Copy, Debug)]
enum DumpItem {
    /// A bridge's entry (the bridge, the key).
    Bridge(IfId, FdbKey),
    /// A VXLAN device's own (`self`) entry, with all its remotes.
    Vxlan(IfId, Mac),
}

impl FdbDump {
    /// `bridge fdb show [dev DEV] [br BR]`: checks the names and takes the
    /// entries' keys.
    pub fn new(
        g: &Graph,
        dev: Option<&str>,
        br: Option<&str>,
        opts: Opts,
    ) -> Result<FdbDump, CmdError> {
        let cmd = "bridge fdb show";
        let dev_id = dev.map(|d| lookup(g, cmd, d)).transpose()?;
        let br_id = br.map(|b| lookup(g, cmd, b)).transpose()?;
        let mut items = Vec::new();
        for (id, f) in g.iter() {
            let Some(b) = f.bridge() else { continue };
            if br_id.is_some_and(|x| x != id) {
                continue;
            }
            let from = items.len();
            items.extend(b.fdb.iter().map(|(k, _)| DumpItem::Bridge(id, k)));
            if b.fdb.len() <= FDB_SORTED_MAX {
                items[from..].sort_by_cached_key(|i| {
                    let DumpItem::Bridge(_, k) = *i else {
                        unreachable!("a bridge's")
                    };
                    let port = b.fdb.lookup(k.mac(), k.vid()).and_then(|e| e.port);
                    (port, k.vid(), k.mac())
                });
            }
        }
        // VXLAN devices' own FDBs (`self` entries), one row per remote.
        if br_id.is_none() {
            for (id, f) in g.iter() {
                let crate::graph::Kind::Vxlan(v) = &f.kind else {
                    continue;
                };
                if dev_id.is_some_and(|d| d != id) {
                    continue;
                }
                let mut macs: Vec<Mac> = v.fdb.keys().copied().collect();
                if macs.len() <= FDB_SORTED_MAX {
                    macs.sort_unstable();
                }
                items.extend(macs.into_iter().map(|m| DumpItem::Vxlan(id, m)));
            }
        }
        Ok(FdbDump {
            items,
            pos: 0,
            dev: dev_id,
            opts,
            rows: 0,
            done: false,
        })
    }

    /// Entries the dump has still to look at.
    pub fn remaining(&self) -> usize {
        self.items.len() - self.pos
    }

    /// The next piece of the answer, from at most `max` entries; `None`
    /// once the whole answer was given (an empty FDB still gives its one
    /// piece: `[]` with `-j`).
    pub fn next_chunk(&mut self, g: &Graph, now: Instant, max: usize) -> Option<String> {
        if self.done {
            return None;
        }
        let mut out = String::new();
        if self.pos == 0 && self.opts.json {
            out.push('[');
        }
        let end = self.pos.saturating_add(max).min(self.items.len());
        for item in &self.items[self.pos..end] {
            for row in self.rows_of(g, now, *item) {
                if self.opts.json {
                    if self.rows > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(&row.json()).expect("json"));
                } else {
                    out.push_str(&row.text());
                }
                self.rows += 1;
            }
        }
        self.pos = end;
        if self.pos == self.items.len() {
            self.done = true;
            if self.opts.json {
                out.push_str("]\n");
            }
        }
        Some(out)
    }

    /// An entry's rows as it is now (none if it went, or the device did).
    fn rows_of(&self, g: &Graph, now: Instant, item: DumpItem) -> Vec<FdbRow> {
        match item {
            DumpItem::Bridge(id, k) => {
                let Some(f) = g.get(id) else { return vec![] };
                let Some(b) = f.bridge() else { return vec![] };
                let Some(e) = b.fdb.lookup(k.mac(), k.vid()) else {
                    return vec![];
                };
                let ifid = e.port.and_then(|p| b.port(p)).map(|p| p.ifid).unwrap_or(id);
                if self.dev.is_some_and(|d| d != ifid) {
                    return vec![];
                }
                let age = now.saturating_duration_since(e.updated);
                let mut flags = vec![];
                if e.flags.extern_learn {
                    flags.push("extern_learn");
                }
                if e.flags.sticky {
                    flags.push("sticky");
                }
                let state = e.state_name();
                vec![FdbRow {
                    mac: k.mac().to_string(),
                    ifname: Some(g.iface(ifid).name.clone()),
                    vlan: (k.vid() != 0).then_some(k.vid()),
                    used: (self.opts.stats || self.opts.details)
                        .then_some((age.as_secs(), age.as_secs())),
                    flags,
                    master: Some(f.name.clone()),
                    state: (!state.is_empty()).then(|| state.to_string()),
                    ..Default::default()
                }]
            }
            DumpItem::Vxlan(id, mac) => {
                let Some(f) = g.get(id) else { return vec![] };
                let crate::graph::Kind::Vxlan(v) = &f.kind else {
                    return vec![];
                };
                let Some(e) = v.fdb.get(&mac) else {
                    return vec![];
                };
                e.remotes
                    .iter()
                    .map(|r| FdbRow {
                        mac: mac.to_string(),
                        ifname: Some(f.name.clone()),
                        dst: Some(r.ip.to_string()),
                        port: r.port,
                        vni: r.vni,
                        flags: vec!["self"],
                        state: (!e.state.name().is_empty()).then(|| e.state.name().to_string()),
                        ..Default::default()
                    })
                    .collect()
            }
        }
    }
}

pub(super) fn port_set(
    g: &mut Graph,
    now: Instant,
    cmd: &str,
    dev: &str,
    p: &PortChanges,
) -> Result<(), CmdError> {
    let id = lookup(g, cmd, dev)?;
    let (br, _) = port_of(g, cmd, id)?;
    check_port(g, cmd, br, p)?;
    commit_port(g, now, id, p);
    Ok(())
}

/// Everything that can refuse port changes `p` on a port of bridge `br`,
/// checked before anything changes.
pub(super) fn check_port(g: &Graph, cmd: &str, br: IfId, p: &PortChanges) -> Result<(), CmdError> {
    let b = g.iface(br).bridge().expect("a bridge");
    if p.state.is_some() && b.kernel_stp() {
        return Err(err(cmd, "argument \"state\": the kernel's spanning tree owns the port states while stp_state is 1 (EBUSY)"));
    }
    Ok(())
}

/// Carries out port changes that [`check_port`] accepted on bridge port `id`.
pub(super) fn commit_port(g: &mut Graph, now: Instant, id: IfId, p: &PortChanges) {
    let f = g.iface(id);
    let (br, no) = (f.master.expect("a bridge port"), f.port_no);
    let b = g.iface_mut(br).bridge_mut().expect("a bridge");
    let port = b.port_mut(no).expect("port of its master");
    p.apply_flags(&mut port.flags);
    if let Some(m) = p.group_fwd_mask {
        port.group_fwd_mask = m;
    }
    if let Some(g) = p.guard {
        port.guard = g;
    }
    if let Some(r) = p.root_block {
        port.root_block = r;
    }
    if let Some(s) = p.state {
        b.set_port_state(no, s);
    }
    if let Some(c) = p.cost {
        b.set_path_cost(now, no, c);
    }
    if let Some(pr) = p.priority {
        b.set_port_priority(now, no, pr);
    }
    if p.learning == Some(false) {
        b.fdb.flush_port(no, true);
    }
    if let Some(f) = p.fast_leave {
        b.port_mut(no).expect("port of its master").mc.fast_leave = f;
    }
    if let Some(v) = p.mcast_router {
        b.mc_set_port_router(now, no, v)
            .expect("checked when parsed");
    }
}

pub(super) fn link_show(g: &Graph, dev: Option<&str>, opts: Opts) -> Result<String, CmdError> {
    let cmd = "bridge link show";
    let only = dev.map(|d| lookup(g, cmd, d)).transpose()?;
    let rows: Vec<PortRow> = g
        .iter()
        .filter(|(id, f)| {
            f.master.is_some_and(|m| g.iface(m).bridge().is_some()) && only.is_none_or(|o| o == *id)
        })
        .map(|(id, f)| {
            let l = link_row(g, id, Opts::default(), None);
            let master = g.iface(f.master.expect("port"));
            let p = master
                .bridge()
                .and_then(|b| b.port(f.port_no))
                .expect("port");
            PortRow {
                ifindex: f.ifindex,
                ifname: f.name.clone(),
                link: l.link,
                flags: l.flags,
                mtu: f.mtu,
                master: master.name.clone(),
                state: p.state.name().to_string(),
                priority: p.priority.into(),
                cost: p.cost,
                hairpin: p.flags.hairpin,
                learning: p.flags.learning,
                flood: p.flags.flood,
                mcast_flood: p.flags.mcast_flood,
                bcast_flood: p.flags.bcast_flood,
                isolated: p.flags.isolated,
            }
        })
        .collect();
    Ok(render_port_rows(&rows, opts))
}

/// One bridge port as `bridge link show` prints it, whoever's bridge it
/// is: patchbay's (from the graph) or the kernel's (the kernel backend's
/// RTM_GETLINK dump), so that both print alike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRow {
    pub ifindex: u32,
    pub ifname: String,
    /// What iproute2 shows after the `@` (a veth's peer, a lower).
    pub link: Option<String>,
    pub flags: Vec<String>,
    pub mtu: u32,
    pub master: String,
    pub state: String,
    pub priority: u32,
    pub cost: u32,
    pub hairpin: bool,
    pub learning: bool,
    pub flood: bool,
    pub mcast_flood: bool,
    pub bcast_flood: bool,
    pub isolated: bool,
}

/// `bridge [-d] [-j] link show`'s output for `rows`.
pub fn render_port_rows(rows: &[PortRow], opts: Opts) -> String {
    if opts.json {
        let v: Vec<Value> = rows
            .iter()
            .map(|p| {
                let mut m = json!({"ifindex": p.ifindex});
                if let Some(l) = &p.link {
                    m["link"] = l.as_str().into();
                }
                for (k, v) in [
                    ("ifname", json!(p.ifname)),
                    ("flags", json!(p.flags)),
                    ("mtu", json!(p.mtu)),
                    ("master", json!(p.master)),
                    ("state", json!(p.state)),
                    ("priority", json!(p.priority)),
                    ("cost", json!(p.cost)),
                ] {
                    m[k] = v;
                }
                if opts.details {
                    for (k, v) in [
                        ("hairpin", p.hairpin),
                        ("learning", p.learning),
                        ("flood", p.flood),
                        ("mcast_flood", p.mcast_flood),
                        ("bcast_flood", p.bcast_flood),
                        ("isolated", p.isolated),
                    ] {
                        m[k] = v.into();
                    }
                }
                m
            })
            .collect();
        return to_json(Value::Array(v));
    }
    let mut s = String::new();
    for p in rows {
        let _ = writeln!(
            s,
            "{}: {}{}: <{}> mtu {} master {} state {} priority {} cost {}",
            p.ifindex,
            p.ifname,
            p.link.as_ref().map(|l| format!("@{l}")).unwrap_or_default(),
            p.flags.join(","),
            p.mtu,
            p.master,
            p.state,
            p.priority,
            p.cost
        );
        if opts.details {
            let o = |b: bool| if b { "on" } else { "off" };
            let _ = writeln!(
                s,
                "    hairpin {} learning {} flood {} mcast_flood {} bcast_flood {} isolated {}",
                o(p.hairpin),
                o(p.learning),
                o(p.flood),
                o(p.mcast_flood),
                o(p.bcast_flood),
                o(p.isolated)
            );
        }
    }
    s
}

pub(super) fn vlan_change(
    g: &mut Graph,
    now: Instant,
    v: &VlanCmd,
    add: bool,
) -> Result<(), CmdError> {
    let cmd = format!(
        "bridge vlan {} dev {}",
        if add { "add" } else { "del" },
        v.dev
    );
    let id = lookup(g, &cmd, &v.dev)?;
    let is_bridge = g.iface(id).bridge().is_some();
    if is_bridge && !v.self_ {
        return Err(err(
            &cmd,
            format!(
                "\"{}\" is the bridge itself: add \"self\" to change its own VLANs",
                v.dev
            ),
        ));
    }
    let (br, port) = if is_bridge {
        (id, None)
    } else {
        let (b, n) = port_of(g, &cmd, id)?;
        (b, Some(n))
    };
    let mac = if is_bridge {
        Some(g.iface(id).mac)
    } else {
        g.port_local_mac(id)
    };
    let b = g.iface_mut(br).bridge_mut().expect("bridge");
    let set = match port {
        Some(n) => &mut b.port_mut(n).expect("port").vlans,
        None => &mut b.self_vlans,
    };
    if !add && !(v.vids.0..=v.vids.1).any(|x| set.contains(x)) {
        return Err(err(
            &cmd,
            format!("vid {} is not configured on \"{}\"", v.vids.0, v.dev),
        ));
    }
    for x in v.vids.0..=v.vids.1 {
        if add {
            set.add(x, v.pvid, v.untagged);
        } else {
            set.del(x);
        }
    }
    let Some(mac) = mac else { return Ok(()) };
    for x in v.vids.0..=v.vids.1 {
        if add {
            b.fdb.add_local(now, mac, x, port);
        } else if b
            .fdb
            .lookup(mac, x)
            .is_some_and(|e| e.flags.local && e.port == port)
        {
            let _ = b.fdb.remove(mac, x);
        }
    }
    Ok(())
}

/// (VID, is the PVID, leaves untagged).
type VlanRow = (u16, bool, bool);

pub(super) fn vlan_show(g: &Graph, dev: Option<&str>, opts: Opts) -> Result<String, CmdError> {
    let cmd = "bridge vlan show";
    let only = dev.map(|d| lookup(g, cmd, d)).transpose()?;
    let mut rows: Vec<(String, Vec<VlanRow>)> = Vec::new();
    for (id, f) in g.iter() {
        if only.is_some_and(|o| o != id) {
            continue;
        }
        let set = if let Some(b) = f.bridge() {
            &b.self_vlans
        } else if let Some(b) = f.master.and_then(|m| g.iface(m).bridge()) {
            &b.port(f.port_no).expect("port").vlans
        } else {
            continue;
        };
        rows.push((
            f.name.clone(),
            set.iter()
                .map(|v| (v, set.pvid == v, set.is_untagged(v)))
                .collect(),
        ));
    }
    let rows: Vec<PortVlans> = rows
        .into_iter()
        .map(|(ifname, vlans)| PortVlans { ifname, vlans })
        .collect();
    Ok(super::show::render_vlans(&rows, opts.json))
}
