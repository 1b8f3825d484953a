//! `patchbay save`: the running topology as a batch file that rebuilds it
//! (`patchbay -batch FILE`, `patchbay daemon --config FILE`).
//!
//! What a user configured is written, what protocols and traffic made is
//! not: devices with their options, addresses and MTUs, who is whose
//! member, bridge port options and VLANs, the FDB and neighbour entries a
//! user added, macvlan source lists, netdevsim knobs, mstpd's settings,
//! admin state. Learned entries, counters, timers and the spanning tree's
//! state are the traffic's and come back with it. Kernel netdevs used as
//! ports (veth ends, NICs) are the host's: the file names them as members
//! and expects them to exist.
//!
//! The lines come in phases, each needing only what earlier ones made:
//! devices in creation (ifindex) order, so lowers come before their
//! uppers; macvlan source lists; members in port order; bridge port
//! options and VLANs; the user's FDB and neighbour entries; mstpd's
//! bridges; admin state last, lowers first. Options are written when they differ from
//! what a new device of the kind gets, so a file reads as a person would
//! have written it. `cmd/tests.rs` rebuilds a graph holding every device
//! kind from its own file and compares every `show` of both.

use super::{bond, mstpctl};
use crate::bridge::{path_cost, PortFlags, PortState};
use crate::graph::{Graph, IfId, Iface, Kind};
use crate::wire::VlanProtocol;

/// The lines that rebuild `g`; `netns` names the namespace a device's
/// netdev was moved to (`link set DEV netns NS`), which only the front end
/// knows.
pub fn save(g: &Graph, netns: &dyn Fn(IfId) -> Option<String>) -> String {
    let mut devs: Vec<(IfId, &Iface)> = g.iter().collect();
    devs.sort_by_key(|(_, f)| f.ifindex);
    let mut out = String::from(
        "# patchbay save: rebuild with 'patchbay -batch FILE' or 'patchbay daemon --config FILE'\n",
    );
    let mut line = |words: Vec<String>| {
        out += &words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        out.push('\n');
    };
    // Devices.
    for &(id, f) in &devs {
        for w in add_lines(g, id, f, netns) {
            line(w);
        }
    }
    for &(_, f) in &devs {
        if let Kind::Macvlan(m) = &f.kind {
            if !m.sources.is_empty() {
                let mut w = words(&["link", "set", &f.name, "type", "macvlan", "macaddr", "set"]);
                w.extend(m.sources.iter().map(|s| s.to_string()));
                line(w);
            }
        }
    }
    // Members, in port order.
    let mut members: Vec<(u32, u16, &Iface)> = devs
        .iter()
        .filter_map(|&(_, f)| f.master.map(|m| (g.iface(m).ifindex, f.port_no, f)))
        .collect();
    members.sort_by_key(|&(m, p, _)| (m, p));
    for &(_, _, f) in &members {
        let m = &g.iface(f.master.expect("a member")).name;
        line(words(&["link", "set", &f.name, "master", m]));
    }
    // Bridge ports: options and VLANs; the bridge's own VLANs.
    for &(_, f) in &devs {
        let Some(b) = f.bridge() else { continue };
        for p in b.ports() {
            let pf = g.iface(p.ifid);
            let mut w = words(&["bridge", "link", "set", "dev", &pf.name]);
            let n = w.len();
            port_options(b.cfg.stp_state, p, pf, &mut w);
            if w.len() > n {
                line(w);
            }
            vlan_lines(&pf.name, &p.vlans, b.cfg.default_pvid, false, &mut line);
        }
        vlan_lines(&f.name, &b.self_vlans, b.cfg.default_pvid, true, &mut line);
    }
    // Entries a user added.
    for &(_, f) in &devs {
        if let Some(b) = f.bridge() {
            fdb_lines(g, f, b, &mut line);
        }
        if let Kind::Vxlan(v) = &f.kind {
            let mut macs: Vec<_> = v.fdb.iter().filter(|(_, e)| !e.learned).collect();
            macs.sort_by_key(|(m, _)| **m);
            for (mac, e) in macs {
                let state = match e.state {
                    crate::vxlan::State::Dynamic => "dynamic",
                    s => s.name(),
                };
                // `remote` made the all-zeros entry with its first remote.
                let made = |r: &crate::vxlan::Remote| {
                    *mac == crate::wire::Mac::ZERO
                        && Some(r.ip) == v.cfg.remote
                        && r.port.is_none()
                        && r.vni.is_none()
                };
                let skip = e.remotes.iter().position(made);
                for (i, r) in e.remotes.iter().enumerate() {
                    if Some(i) == skip {
                        continue;
                    }
                    let first = i == 0 || (i == 1 && skip == Some(0));
                    let verb = if first && skip.is_none() {
                        "add"
                    } else {
                        "append"
                    };
                    let mut w = words(&["bridge", "fdb", verb, &mac.to_string(), "dev", &f.name]);
                    w.extend(words(&["dst", &r.ip.to_string()]));
                    if let Some(p) = r.port {
                        w.extend(words(&["port", &p.to_string()]));
                    }
                    if let Some(n) = r.vni {
                        w.extend(words(&["vni", &n.to_string()]));
                    }
                    w.extend(words(&["self", state]));
                    line(w);
                }
            }
            let mut ips: Vec<_> = v
                .neigh
                .iter()
                .filter(|(_, n)| {
                    matches!(
                        n.nud,
                        crate::vxlan::Nud::Permanent | crate::vxlan::Nud::Noarp
                    )
                })
                .collect();
            ips.sort_by_key(|(ip, _)| **ip);
            for (ip, n) in ips {
                let mut w = words(&["neigh", "add", &ip.to_string(), "lladdr"]);
                w.extend(words(&[
                    &n.mac.to_string(),
                    "dev",
                    &f.name,
                    "nud",
                    &n.nud.name().to_lowercase(),
                ]));
                if n.router {
                    w.push("router".into());
                }
                line(w);
            }
        }
    }
    // mstpd's bridges and what was set on them.
    for &(_, f) in &devs {
        if let Some(r) = f.bridge().and_then(|b| b.rstp.as_deref()) {
            for w in mstpctl::save(g, &f.name, r) {
                line(w);
            }
        }
    }
    // Admin state, lowers first.
    for &(_, f) in &devs {
        if f.admin_up && !matches!(f.kind, Kind::External) {
            line(words(&["link", "set", &f.name, "up"]));
        }
    }
    // MDB entries added by hand, as comments: an entry needs its port
    // forwarding (the kernel refuses one on a disabled port too), which a
    // replay at start cannot promise, so they are kept to run by hand.
    let mut first = true;
    for &(_, f) in &devs {
        let Some(b) = f.bridge() else { continue };
        let mut entries: Vec<_> = b.mc.entries();
        entries.reverse();
        for (k, e) in entries {
            for pg in e
                .ports
                .iter()
                .filter(|pg| pg.origin == crate::bridge::mcast::Origin::Static)
            {
                let Some(p) = b.port(pg.port) else { continue };
                if std::mem::take(&mut first) {
                    out.push_str("# MDB entries added by hand: run these once the ports forward\n");
                }
                let mut w = words(&[
                    "bridge",
                    "mdb",
                    "add",
                    "dev",
                    &f.name,
                    "port",
                    &g.iface(p.ifid).name,
                    "grp",
                    &k.group.to_string(),
                ]);
                if let Some(src) = k.src {
                    w.extend(words(&["src", &src.to_string()]));
                }
                w.push(if pg.permanent { "permanent" } else { "temp" }.into());
                if k.vid != 0 {
                    w.extend(words(&["vid", &k.vid.to_string()]));
                }
                out.push_str("# ");
                out.push_str(&w.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" "));
                out.push('\n');
            }
        }
    }
    out
}

/// The entries a user added to a bridge's FDB. An entry added without
/// `vlan` is made for VLAN 0 and each VLAN of the port (`br_fdb_add`), so
/// it is written once, followed by what changed on single VLANs since.
fn fdb_lines(g: &Graph, f: &Iface, b: &crate::bridge::Bridge, line: &mut dyn FnMut(Vec<String>)) {
    use crate::fdb::{EntryFlags, PortNo};
    use crate::wire::Mac;
    let user: std::collections::BTreeMap<(Option<PortNo>, Mac, u16), EntryFlags> = b
        .fdb
        .iter()
        .filter(|(_, e)| e.flags.added_by_user)
        .map(|(k, e)| ((e.port, k.mac(), k.vid()), e.flags))
        .collect();
    let entry = |verb: &str, port: Option<PortNo>, mac: Mac, vid: u16, fl: Option<EntryFlags>| {
        let dev = match port.and_then(|p| b.port(p)) {
            Some(p) => g.iface(p.ifid).name.as_str(),
            None => f.name.as_str(),
        };
        let mut w = words(&["bridge", "fdb", verb, &mac.to_string(), "dev", dev]);
        if vid != 0 {
            w.extend(words(&["vlan", &vid.to_string()]));
        }
        w.push(if port.is_some() { "master" } else { "self" }.into());
        if let Some(fl) = fl {
            w.push(if fl.local { "permanent" } else { "static" }.into());
            if fl.sticky {
                w.push("sticky".into());
            }
            if fl.extern_learn {
                w.push("extern_learn".into());
            }
        }
        w
    };
    let mut covered = std::collections::BTreeSet::new();
    for (&(port, mac, vid), &fl) in &user {
        if vid != 0 {
            continue;
        }
        line(entry("add", port, mac, 0, Some(fl)));
        let vlans = match port.and_then(|p| b.port(p)) {
            Some(p) => &p.vlans,
            None => &b.self_vlans,
        };
        for v in vlans.iter() {
            covered.insert((port, mac, v));
            match user.get(&(port, mac, v)) {
                Some(x) if *x == fl => {}
                Some(x) => line(entry("replace", port, mac, v, Some(*x))),
                None => line(entry("del", port, mac, v, None)),
            }
        }
    }
    for (&(port, mac, vid), &fl) in &user {
        if vid != 0 && !covered.contains(&(port, mac, vid)) {
            line(entry("add", port, mac, vid, Some(fl)));
        }
    }
}

pub(super) fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// A word as `split_line` reads it back: quoted when it holds a space, a
/// quote, `#` or a backslash.
fn quote(w: &str) -> String {
    if !w.is_empty()
        && !w
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '#' | '\\'))
    {
        return w.to_string();
    }
    let mut s = String::from("'");
    for c in w.chars() {
        if matches!(c, '\'' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

/// `link add` (or `tuntap add`) for one device; nothing for what the file
/// does not create (a kernel netdev, a veth's second end).
fn add_lines(
    g: &Graph,
    id: IfId,
    f: &Iface,
    netns: &dyn Fn(IfId) -> Option<String>,
) -> Vec<Vec<String>> {
    let lower = f.link.map(|l| g.iface(l));
    let mut w = words(&["link", "add"]);
    if let Some(l) = lower {
        if !matches!(f.kind, Kind::Vxlan(_)) {
            w.extend(words(&["link", &l.name]));
        }
    }
    w.extend(words(&["name", &f.name]));
    // The MTU a new device of the kind gets.
    let default_mtu = match (&f.kind, lower) {
        (Kind::Vlan(_) | Kind::Macvlan(_) | Kind::Ipvlan(_), Some(l)) => l.mtu,
        (Kind::Vxlan(v), _) => v.mtu,
        (Kind::Nlmon, _) => 3776,
        _ => 1500,
    };
    if f.mtu != default_mtu {
        w.extend(words(&["mtu", &f.mtu.to_string()]));
    }
    let address = match &f.kind {
        Kind::Nlmon | Kind::Ipvlan(_) => false,
        Kind::Bond(b) => b.mac_set,
        Kind::Bridge(b) => b.mac_set,
        _ => true,
    };
    if address {
        w.extend(words(&["address", &f.mac.to_string()]));
    }
    if let Some(ns) = netns(id) {
        w.extend(words(&["netns", &ns]));
    }
    w.push("type".into());
    match &f.kind {
        Kind::External => return vec![],
        Kind::Tap => {
            // `tuntap add` takes no MTU or namespace; `link set` does.
            let mut set = words(&["link", "set", &f.name]);
            if f.mtu != 1500 {
                set.extend(words(&["mtu", &f.mtu.to_string()]));
            }
            if let Some(ns) = netns(id) {
                set.extend(words(&["netns", &ns]));
            }
            let add = words(&["tuntap", "add", &f.name, "mode", "tap"]);
            return if set.len() > 3 {
                vec![add, set]
            } else {
                vec![add]
            };
        }
        Kind::Netdevsim => {
            w.push("netdevsim".into());
            if !f.carrier {
                w.extend(words(&["carrier", "off"]));
            }
            if f.speed_mbps != 0 {
                w.extend(words(&["speed", &f.speed_mbps.to_string()]));
            }
            if !f.full_duplex {
                w.extend(words(&["duplex", "half"]));
            }
            if let Some(x) = &f.faults {
                use crate::netdevsim::Faults;
                if x.drop_ppm != 0 {
                    w.extend(words(&["drop", &Faults::pct(x.drop_ppm)]));
                }
                if x.corrupt_ppm != 0 {
                    w.extend(words(&["corrupt", &Faults::pct(x.corrupt_ppm)]));
                }
                if !x.delay.is_zero() {
                    w.extend(words(&["delay", &format!("{}us", x.delay.as_micros())]));
                }
            }
        }
        Kind::Bridge(b) => {
            w.push("bridge".into());
            bridge_options(b, &mut w);
        }
        Kind::Bond(b) => {
            w.push("bond".into());
            w.extend(bond::save_options(&b.cfg));
        }
        Kind::Team(t) => {
            w.push("team".into());
            if let Some(z) = &t.cfg.zmq {
                w.extend(words(&["zmq", z]));
            }
            if t.cfg.json.as_object().is_some_and(|o| !o.is_empty()) {
                w.extend(words(&["config", &t.cfg.json.to_string()]));
            }
        }
        Kind::Vxlan(v) => {
            w.push("vxlan".into());
            vxlan_options(&v.cfg, &mut w);
        }
        Kind::Vlan(v) => {
            w.extend(words(&["vlan", "id", &v.id.to_string()]));
            if v.protocol != VlanProtocol::Dot1Q {
                w.extend(words(&["protocol", v.protocol.name()]));
            }
        }
        Kind::Macvlan(m) => {
            w.extend(words(&[
                if m.tap { "macvtap" } else { "macvlan" },
                "mode",
                m.mode.name(),
            ]));
            if m.nopromisc {
                w.push("nopromisc".into());
            }
            if m.nodst {
                w.push("nodst".into());
            }
            if m.bcqueuelen != crate::macvlan::Macvlan::new(m.mode).bcqueuelen {
                w.extend(words(&["bcqueuelen", &m.bcqueuelen.to_string()]));
            }
        }
        Kind::Ipvlan(v) => {
            w.extend(words(&[
                if v.tap { "ipvtap" } else { "ipvlan" },
                "mode",
                v.mode.name(),
                v.flag.name(),
            ]));
        }
        Kind::Veth { peer } => {
            w.push("veth".into());
            if let Some(p) = peer.map(|p| (p, g.iface(p))) {
                if p.1.ifindex < f.ifindex {
                    return vec![];
                }
                w.extend(words(&[
                    "peer",
                    "name",
                    &p.1.name,
                    "address",
                    &p.1.mac.to_string(),
                ]));
                if let Some(ns) = netns(p.0) {
                    w.extend(words(&["netns", &ns]));
                }
            }
        }
        Kind::Dummy => w.push("dummy".into()),
        Kind::Nlmon => w.push("nlmon".into()),
    }
    vec![w]
}

fn bridge_options(b: &crate::bridge::Bridge, w: &mut Vec<String>) {
    let d = crate::bridge::BridgeConfig::default();
    let c = &b.cfg;
    let cs = |t: std::time::Duration| (t.as_millis() / 10).to_string();
    let mut put = |k: &str, v: String| {
        w.push(k.into());
        w.push(v);
    };
    if c.stp_state != d.stp_state {
        put("stp_state", c.stp_state.to_string());
    }
    if c.priority != d.priority {
        put("priority", c.priority.to_string());
    }
    if c.forward_delay != d.forward_delay {
        put("forward_delay", cs(c.forward_delay));
    }
    if c.hello_time != d.hello_time {
        put("hello_time", cs(c.hello_time));
    }
    if c.max_age != d.max_age {
        put("max_age", cs(c.max_age));
    }
    if c.ageing_time != d.ageing_time {
        put("ageing_time", cs(c.ageing_time));
    }
    if c.vlan_filtering != d.vlan_filtering {
        put("vlan_filtering", u8::from(c.vlan_filtering).to_string());
    }
    if c.vlan_protocol != d.vlan_protocol {
        put("vlan_protocol", c.vlan_protocol.name().into());
    }
    if c.default_pvid != d.default_pvid {
        put("vlan_default_pvid", c.default_pvid.to_string());
    }
    if c.group_fwd_mask != d.group_fwd_mask {
        put("group_fwd_mask", c.group_fwd_mask.to_string());
    }
    if c.fdb_max_learned != d.fdb_max_learned {
        put("fdb_max_learned", c.fdb_max_learned.to_string());
    }
    // The multicast options that differ from a new bridge's, as `-d link
    // show` words them.
    let fresh = super::mdb::details(&crate::bridge::Bridge::default());
    for (now, new) in super::mdb::details(b).iter().zip(&fresh) {
        if now.text != new.text {
            let t = now.text.as_deref().unwrap_or_default();
            w.extend(t.split_whitespace().map(String::from));
        }
    }
}

/// `bridge link set dev PORT ...`: what differs from a new port's.
fn port_options(stp_state: u32, p: &crate::bridge::Port, f: &Iface, w: &mut Vec<String>) {
    let d = PortFlags::default();
    let on = |b: bool| if b { "on" } else { "off" }.to_string();
    let mut put = |k: &str, v: String| {
        w.push(k.into());
        w.push(v);
    };
    for (k, v, dv) in [
        ("learning", p.flags.learning, d.learning),
        ("flood", p.flags.flood, d.flood),
        ("mcast_flood", p.flags.mcast_flood, d.mcast_flood),
        ("bcast_flood", p.flags.bcast_flood, d.bcast_flood),
        ("hairpin", p.flags.hairpin, d.hairpin),
        ("isolated", p.flags.isolated, d.isolated),
        ("guard", p.guard, false),
        ("root_block", p.root_block, false),
    ] {
        if v != dv {
            put(k, on(v));
        }
    }
    if p.cost != path_cost(f.speed_mbps) {
        put("cost", p.cost.to_string());
    }
    if p.priority != crate::bridge::DEFAULT_PORT_PRIORITY {
        put("priority", p.priority.to_string());
    }
    if p.group_fwd_mask != 0 {
        put("group_fwd_mask", p.group_fwd_mask.to_string());
    }
    if p.mc.fast_leave {
        put("fastleave", on(true));
    }
    if p.mc.router != crate::bridge::mcast::ROUTER_TEMP_QUERY {
        put("mcast_router", p.mc.router.to_string());
    }
    // A state set by hand (only without STP, as the kernel allows it).
    if stp_state == 0 && f.admin_up && f.carrier && p.state == PortState::Blocking {
        put("state", "blocking".into());
    }
}

/// `bridge vlan del|add` turning a new port's membership into `set`'s.
fn vlan_lines(
    dev: &str,
    set: &crate::bridge::vlan::VlanSet,
    default_pvid: u16,
    self_: bool,
    line: &mut dyn FnMut(Vec<String>),
) {
    let fresh = crate::bridge::vlan::VlanSet::with_default(default_pvid);
    if *set == fresh {
        return;
    }
    let tail = |w: &mut Vec<String>| {
        if self_ {
            w.push("self".into());
        }
    };
    for v in fresh.iter() {
        if !set.contains(v) {
            let mut w = words(&["bridge", "vlan", "del", "dev", dev, "vid", &v.to_string()]);
            tail(&mut w);
            line(w);
        }
    }
    // Runs of VIDs with the same flags, the PVID on its own.
    let vids: Vec<u16> = set.iter().collect();
    let mut i = 0;
    while i < vids.len() {
        let (v0, u) = (vids[i], set.is_untagged(vids[i]));
        let mut j = i;
        if set.pvid != v0 {
            while j + 1 < vids.len()
                && vids[j + 1] == vids[j] + 1
                && set.pvid != vids[j + 1]
                && set.is_untagged(vids[j + 1]) == u
            {
                j += 1;
            }
        }
        let range = if j == i {
            v0.to_string()
        } else {
            format!("{v0}-{}", vids[j])
        };
        // A VID the port had from the start is left alone when only its
        // PVID moved to another VID (adding that one with `pvid` moves it).
        let pvid_same = (fresh.pvid == v0) == (set.pvid == v0)
            || (fresh.pvid == v0 && set.pvid != 0 && set.contains(set.pvid));
        let same = fresh.contains(v0) && j == i && fresh.is_untagged(v0) == u && pvid_same;
        if !same {
            let mut w = words(&["bridge", "vlan", "add", "dev", dev, "vid", &range]);
            if set.pvid == v0 {
                w.push("pvid".into());
            }
            if u {
                w.push("untagged".into());
            }
            tail(&mut w);
            line(w);
        }
        i = j + 1;
    }
}

fn vxlan_options(c: &crate::vxlan::VxlanConfig, w: &mut Vec<String>) {
    use crate::vxlan::{Df, Tos, Ttl, VxlanConfig};
    let d = VxlanConfig::default();
    let mut put = |k: &str, v: String| {
        w.push(k.into());
        w.push(v);
    };
    put("id", c.vni.to_string());
    if let Some(r) = c.remote {
        put(
            if r.is_multicast() { "group" } else { "remote" },
            r.to_string(),
        );
    }
    if let Some(l) = c.local {
        put("local", l.to_string());
    }
    if let Some(dev) = &c.dev {
        put("dev", dev.clone());
    }
    // Always given: iproute2 warns when it is not.
    put("dstport", c.dstport.to_string());
    if c.ttl != d.ttl {
        put(
            "ttl",
            match c.ttl {
                Ttl::Auto => "auto".into(),
                Ttl::Inherit => "inherit".into(),
                Ttl::Value(t) => t.to_string(),
            },
        );
    }
    if c.tos != d.tos {
        put(
            "tos",
            match c.tos {
                Tos::Inherit => "inherit".into(),
                Tos::Value(t) => format!("{t:02x}"),
            },
        );
    }
    if c.df != d.df {
        put(
            "df",
            match c.df {
                Df::Set => "set",
                Df::Unset => "unset",
                Df::Inherit => "inherit",
            }
            .into(),
        );
    }
    if c.ageing != d.ageing {
        put("ageing", c.ageing.to_string());
    }
    if c.maxaddress != d.maxaddress {
        put("maxaddress", c.maxaddress.to_string());
    }
    if c.srcport != d.srcport {
        w.extend(words(&[
            "srcport",
            &c.srcport.0.to_string(),
            &c.srcport.1.to_string(),
        ]));
    }
    for (on, yes, no, dv) in [
        (c.learning, "learning", "nolearning", d.learning),
        (c.proxy, "proxy", "noproxy", d.proxy),
        (c.l2miss, "l2miss", "nol2miss", d.l2miss),
        (c.l3miss, "l3miss", "nol3miss", d.l3miss),
        (c.udpcsum, "udpcsum", "noudpcsum", d.udpcsum),
    ] {
        if on != dv {
            w.push(if on { yes } else { no }.into());
        }
    }
}
