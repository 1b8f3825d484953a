//! `link add|del|set|show` and `tuntap add|del`.

use super::show::{Detail, LinkDetails, LinkRow};
use super::{
    err, graph_err, lookup, Args, BridgeOpts, CmdError, Command, LinkAdd, LinkKind, LinkSet, Opts,
    PortChanges,
};
use crate::bridge::{Bridge, BridgeConfig, GROUP_FWD_RESTRICTED};
use crate::graph::{Graph, IfId, Kind};
use crate::time::{from_centisecs, to_centisecs, Instant};
use crate::vlan::VlanDev;
use crate::wire::{Mac, VlanProtocol};
use serde_json::{json, Value};
use std::fmt::Write;

pub(super) fn parse_tuntap(w: &[String]) -> Result<Command, CmdError> {
    let verb = w.first().map(String::as_str).unwrap_or("");
    let cmd = format!("tuntap {verb}");
    let mut a = Args::new(&w[w.len().min(1)..], cmd.clone());
    let mut name = None;
    let mut mode = None;
    while let Some(x) = a.next() {
        match x {
            "dev" | "name" => name = Some(a.value(x)?.to_string()),
            "mode" => mode = Some(a.value("mode")?),
            "user" | "group" => {
                a.value(x)?;
            }
            "one_queue" | "pi" | "vnet_hdr" | "multi_queue" => {}
            _ if name.is_none() => name = Some(x.to_string()),
            _ => return Err(a.unknown(x, "dev NAME, mode tap")),
        }
    }
    let name = name.ok_or_else(|| err(&cmd, "no device name given (tuntap add NAME mode tap)"))?;
    match mode {
        Some("tap") => {}
        Some("tun") => {
            return Err(err(
                &cmd,
                "mode tun carries no Ethernet frames; patchbay switches frames, use mode tap",
            ))
        }
        Some(m) => return Err(a.bad("mode", m, "tap")),
        None => return Err(err(&cmd, "argument \"mode\" is required (mode tap)")),
    }
    check_name(&cmd, &name)?;
    match verb {
        "add" => Ok(Command::TuntapAdd { name }),
        "del" | "delete" => Ok(Command::TuntapDel { name }),
        v => Err(err(
            "tuntap",
            format!("unknown verb \"{v}\" (expected add or del)"),
        )),
    }
}

/// Interface names follow the kernel's rules: 1–15 bytes, no '/', ':' or
/// whitespace.
pub(crate) fn check_name(cmd: &str, name: &str) -> Result<(), CmdError> {
    if name.is_empty()
        || name.len() > 15
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
        || name.contains('\0')
        || name == "."
        || name == ".."
    {
        return Err(err(cmd, format!("\"{name}\" is not a valid interface name (1 to 15 characters, no '/', ':', spaces or NUL; not '.' or '..')")));
    }
    Ok(())
}

pub(super) fn parse(w: &[String]) -> Result<Command, CmdError> {
    let verb = w.first().map(String::as_str).unwrap_or("show");
    let rest = if w.is_empty() { w } else { &w[1..] };
    match verb {
        "add" => parse_add(rest),
        "del" | "delete" => {
            let mut a = Args::new(rest, "link del");
            let mut name = None;
            while let Some(x) = a.next() {
                match x {
                    "dev" => name = Some(a.value("dev")?.to_string()),
                    "type" => {
                        a.value("type")?;
                    }
                    _ if name.is_none() => name = Some(x.to_string()),
                    _ => return Err(a.unknown(x, "dev NAME")),
                }
            }
            let name =
                name.ok_or_else(|| err("link del", "no device given (link del dev NAME)"))?;
            Ok(Command::LinkDel { name })
        }
        "set" | "change" => parse_set(rest),
        "show" | "list" | "lst" | "sh" | "ls" => {
            let mut a = Args::new(rest, "link show");
            let (mut dev, mut master, mut kind) = (None, None, None);
            while let Some(x) = a.next() {
                match x {
                    "dev" => dev = Some(a.value("dev")?.to_string()),
                    "master" => master = Some(a.value("master")?.to_string()),
                    "type" => kind = Some(a.value("type")?.to_string()),
                    "up" => {}
                    _ if dev.is_none() => dev = Some(x.to_string()),
                    _ => return Err(a.unknown(x, "dev NAME, master NAME or type KIND")),
                }
            }
            Ok(Command::LinkShow { dev, master, kind })
        }
        v => Err(err(
            "link",
            format!("unknown verb \"{v}\" (expected add, del, set or show)"),
        )),
    }
}

fn parse_add(w: &[String]) -> Result<Command, CmdError> {
    let mut a = Args::new(w, "link add");
    let (mut name, mut link, mut kind, mut mtu, mut address, mut up) =
        (None, None, None, None, None, false);
    let mut netns = None;
    while let Some(x) = a.next() {
        match x {
            "link" => link = Some(a.value("link")?.to_string()),
            "netns" => netns = Some(a.value("netns")?.to_string()),
            "name" | "dev" => name = Some(a.value(x)?.to_string()),
            "mtu" => mtu = Some(a.num("mtu", "an MTU in bytes")?),
            "address" => address = Some(a.unicast("address")?),
            "up" => up = true,
            "type" => {
                let t = a.value("type")?;
                a.cmd = format!("link add {} type {t}", name.as_deref().unwrap_or(""));
                kind = Some(match t {
                    "bridge" => LinkKind::Bridge(parse_bridge_opts(&mut a)?),
                    "vlan" => parse_vlan_opts(&mut a)?,
                    "bond" => LinkKind::Bond(super::bond::parse_opts(&mut a)?),
                    "team" => LinkKind::Team(Box::new(super::team::parse_opts(&mut a)?)),
                    "vxlan" => {
                        let (c, given) = super::vxlan::parse_opts(&mut a)?;
                        LinkKind::Vxlan(Box::new(c), given)
                    }
                    "macvlan" | "macvtap" => {
                        LinkKind::Macvlan(Box::new(parse_macvlan_opts(&mut a, t == "macvtap")?))
                    }
                    "ipvlan" | "ipvtap" => {
                        LinkKind::Ipvlan(Box::new(parse_ipvlan_opts(&mut a, t == "ipvtap")?))
                    }
                    "veth" => parse_veth_opts(&mut a)?,
                    "dummy" => LinkKind::Dummy,
                    "nlmon" => LinkKind::Nlmon,
                    "netdevsim" => LinkKind::Netdevsim(parse_netdevsim_opts(&mut a)?),
                    other => return Err(a.bad("type", other, "bridge, bond, team, vlan, vxlan, macvlan, macvtap, ipvlan, ipvtap, veth, dummy, nlmon or netdevsim")),
                });
            }
            _ if name.is_none() => name = Some(x.to_string()),
            _ => {
                let kind_opts = match &kind {
                    Some(LinkKind::Bridge(_)) => BRIDGE_OPTS,
                    _ => "",
                };
                return Err(a.unknown(x, &format!("link, name, mtu, address or type{kind_opts}")));
            }
        }
    }
    let name = name.ok_or_else(|| {
        err(
            "link add",
            "no device name given (link add NAME type bridge)",
        )
    })?;
    check_name("link add", &name)?;
    let kind = kind.ok_or_else(|| {
        err(
            format!("link add {name}"),
            "argument \"type\" is required (type bridge or type vlan)",
        )
    })?;
    if matches!(kind, LinkKind::Macvlan(_) | LinkKind::Ipvlan(_)) && link.is_none() {
        return Err(err(
            format!("link add {name}"),
            "a macvlan or ipvlan needs a lower device (link add link eth0 name mv0 type macvlan mode bridge)",
        ));
    }
    if matches!(kind, LinkKind::Nlmon) && address.is_some() {
        return Err(err(
            format!("link add {name}"),
            "an nlmon device has no address (EINVAL)",
        ));
    }
    if matches!(
        kind,
        LinkKind::Veth { .. } | LinkKind::Dummy | LinkKind::Nlmon
    ) && link.is_some()
    {
        return Err(err(
            format!("link add {name}"),
            "a veth or dummy takes no \"link\" device",
        ));
    }
    if matches!(kind, LinkKind::Vlan { .. }) && link.is_none() {
        return Err(err(
            format!("link add {name} type vlan"),
            "a VLAN needs a lower device (link add link eth0 name eth0.2 type vlan id 2)",
        ));
    }
    if matches!(
        kind,
        LinkKind::Bridge(_) | LinkKind::Bond(_) | LinkKind::Team(_)
    ) && link.is_some()
    {
        return Err(err(
            format!("link add {name}"),
            "a bridge, bond or team takes no \"link\" device (add members with 'link set DEV master NAME')",
        ));
    }
    Ok(Command::LinkAdd(LinkAdd {
        name,
        link,
        kind,
        mtu,
        address,
        up,
        netns,
    }))
}

/// `type macvlan|macvtap [mode M] [nopromisc] [nodst] [bcqueuelen N] [bclim N]`.
fn parse_macvlan_opts(a: &mut Args<'_>, tap: bool) -> Result<crate::macvlan::Macvlan, CmdError> {
    use crate::macvlan::{Macvlan, Mode};
    let mut m = Macvlan::new(Mode::Vepa);
    m.tap = tap;
    while let Some(x) = a.peek() {
        match x {
            "mode" => {
                a.next();
                let v = a.value("mode")?;
                m.mode = Mode::parse(v)
                    .ok_or_else(|| a.bad("mode", v, "private, vepa, bridge, passthru or source"))?;
            }
            "nopromisc" => {
                a.next();
                m.nopromisc = true;
            }
            "nodst" => {
                a.next();
                m.nodst = true;
            }
            "bcqueuelen" => {
                a.next();
                m.bcqueuelen = a.num("bcqueuelen", "a queue length")?;
            }
            "bclim" => {
                a.next();
                let _: i32 = a.num("bclim", "a number of users")?;
            }
            _ => break,
        }
    }
    if m.nopromisc && m.mode != Mode::Passthru {
        return Err(err(&a.cmd, "nopromisc applies to mode passthru only"));
    }
    if m.nodst && m.mode != Mode::Source {
        return Err(err(&a.cmd, "nodst applies to mode source only"));
    }
    Ok(m)
}

/// `type ipvlan|ipvtap [mode l2|l3|l3s] [bridge|private|vepa]`.
fn parse_ipvlan_opts(a: &mut Args<'_>, tap: bool) -> Result<crate::ipvlan::Ipvlan, CmdError> {
    use crate::ipvlan::{Flag, Ipvlan, Mode};
    let mut v = Ipvlan::new(Mode::L3, Flag::Bridge);
    v.tap = tap;
    while let Some(x) = a.peek() {
        if x == "mode" {
            a.next();
            let m = a.value("mode")?;
            v.mode = Mode::parse(m).ok_or_else(|| a.bad("mode", m, "l2, l3 or l3s"))?;
        } else if let Some(f) = Flag::parse(x) {
            a.next();
            v.flag = f;
        } else {
            break;
        }
    }
    Ok(v)
}

/// The knobs of a netdevsim port.
fn parse_netdevsim_opts(a: &mut Args<'_>) -> Result<super::NetdevsimOpts, CmdError> {
    let mut o = super::NetdevsimOpts::default();
    let pct = |a: &mut Args<'_>, k: &str| -> Result<u32, CmdError> {
        let v = a.value(k)?;
        crate::netdevsim::Faults::parse_pct(v)
            .ok_or_else(|| a.bad(k, v, "a percentage from 0% to 100%"))
    };
    while let Some(x) = a.peek() {
        match x {
            "carrier" => {
                a.next();
                o.carrier = Some(a.on_off("carrier")?);
            }
            "speed" => {
                a.next();
                o.speed = Some(a.num("speed", "a speed in Mbit/s")?);
            }
            "duplex" => {
                a.next();
                let v = a.value("duplex")?;
                o.full_duplex = Some(match v {
                    "full" => true,
                    "half" => false,
                    _ => return Err(a.bad("duplex", v, "full or half")),
                });
            }
            "drop" => {
                a.next();
                o.drop_ppm = Some(pct(a, "drop")?);
            }
            "corrupt" => {
                a.next();
                o.corrupt_ppm = Some(pct(a, "corrupt")?);
            }
            "delay" => {
                a.next();
                let v = a.value("delay")?;
                o.delay = Some(
                    parse_duration(v)
                        .ok_or_else(|| a.bad("delay", v, "a time such as 20ms, 1.5s or 500us"))?,
                );
            }
            _ => break,
        }
    }
    Ok(o)
}

/// `20ms`, `1.5s`, `500us`; a bare number is milliseconds.
fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "ms"),
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| *v >= 0.0 && v.is_finite())?;
    let secs = match unit {
        "s" => v,
        "ms" => v / 1e3,
        "us" => v / 1e6,
        _ => return None,
    };
    (secs <= 60.0).then(|| std::time::Duration::from_secs_f64(secs))
}

/// Applies netdevsim knobs to port `id`.
pub(super) fn apply_netdevsim(g: &mut Graph, now: Instant, id: IfId, o: &super::NetdevsimOpts) {
    let f = g.iface_mut(id);
    if let Some(v) = o.speed {
        f.speed_mbps = v;
    }
    if let Some(v) = o.full_duplex {
        f.full_duplex = v;
    }
    if o.drop_ppm.is_some() || o.corrupt_ppm.is_some() || o.delay.is_some() {
        let seed = u64::from(f.ifindex) ^ 0x9e37_79b9_7f4a_7c15;
        let x = f
            .faults
            .get_or_insert_with(|| Box::new(crate::netdevsim::Faults::new(seed)));
        if let Some(v) = o.drop_ppm {
            x.drop_ppm = v;
        }
        if let Some(v) = o.corrupt_ppm {
            x.corrupt_ppm = v;
        }
        if let Some(v) = o.delay {
            x.delay = v;
        }
    }
    match o.carrier {
        Some(c) => g.set_carrier(now, id, c),
        None => g.link_changed(now, id),
    }
}

/// `type veth [peer [name] NAME [address MAC] [netns NS]]`.
fn parse_veth_opts(a: &mut Args<'_>) -> Result<LinkKind, CmdError> {
    let (mut peer, mut peer_address, mut peer_netns) = (None, None, None);
    if a.peek() == Some("peer") {
        a.next();
        while let Some(x) = a.peek() {
            match x {
                "name" => {
                    a.next();
                    peer = Some(a.value("name")?.to_string());
                }
                "address" => {
                    a.next();
                    peer_address = Some(a.unicast("address")?);
                }
                "netns" => {
                    a.next();
                    peer_netns = Some(a.value("netns")?.to_string());
                }
                w if peer.is_none() => {
                    peer = Some(w.to_string());
                    a.next();
                }
                _ => break,
            }
        }
    }
    if let Some(p) = &peer {
        check_name("link add", p)?;
    }
    Ok(LinkKind::Veth {
        peer,
        peer_address,
        peer_netns,
    })
}

fn parse_vlan_opts(a: &mut Args<'_>) -> Result<LinkKind, CmdError> {
    let (mut id, mut protocol) = (None, VlanProtocol::Dot1Q);
    while let Some(x) = a.peek() {
        match x {
            "id" => {
                a.next();
                let v: u16 = a.num("id", "a VLAN id from 0 to 4094")?;
                if v > 4094 {
                    return Err(a.bad("id", &v.to_string(), "a VLAN id from 0 to 4094"));
                }
                id = Some(v);
            }
            "protocol" => {
                a.next();
                let v = a.value("protocol")?;
                protocol = VlanProtocol::parse(v)
                    .ok_or_else(|| a.bad("protocol", v, "802.1Q or 802.1ad"))?;
            }
            "reorder_hdr" | "gvrp" | "mvrp" | "loose_binding" | "bridge_binding" => {
                a.next();
                let v = a.on_off(x)?;
                if x == "reorder_hdr" && !v {
                    return Err(err(&a.cmd, "reorder_hdr off is not emulated: the VLAN device always sees untagged frames"));
                }
            }
            _ => break,
        }
    }
    let id = id.ok_or_else(|| err(&a.cmd, "argument \"id\" is required (type vlan id N)"))?;
    Ok(LinkKind::Vlan { id, protocol })
}

/// What `type bridge` takes, as an error lists it.
pub(super) const BRIDGE_OPTS: &str = ", or a bridge option: ageing_time, forward_delay, hello_time, max_age, stp_state, priority, vlan_filtering, vlan_protocol, vlan_default_pvid, group_fwd_mask, fdb_max_learned, mcast_snooping, mcast_vlan_snooping, mcast_router, mcast_query_use_ifaddr, mcast_querier, mcast_hash_elasticity, mcast_hash_max, mcast_last_member_count, mcast_startup_query_count, mcast_last_member_interval, mcast_membership_interval, mcast_querier_interval, mcast_query_interval, mcast_query_response_interval, mcast_startup_query_interval, mcast_stats_enabled, mcast_igmp_version, mcast_mld_version";

fn parse_bridge_opts(a: &mut Args<'_>) -> Result<BridgeOpts, CmdError> {
    let mut o = BridgeOpts::default();
    while let Some(x) = a.peek() {
        match x {
            "ageing_time" => {
                a.next();
                o.ageing_time = Some(a.num(x, "centiseconds")?);
            }
            "forward_delay" => {
                a.next();
                o.forward_delay = Some(a.num(x, "centiseconds")?);
            }
            "hello_time" => {
                a.next();
                o.hello_time = Some(a.num(x, "centiseconds")?);
            }
            "max_age" => {
                a.next();
                o.max_age = Some(a.num(x, "centiseconds")?);
            }
            "stp_state" => {
                a.next();
                o.stp_state = Some(a.num(x, "0 or 1")?);
            }
            "priority" => {
                a.next();
                o.priority = Some(a.num(x, "a number from 0 to 65535")?);
            }
            "vlan_filtering" => {
                a.next();
                o.vlan_filtering = Some(a.flag01(x)?);
            }
            "vlan_protocol" => {
                a.next();
                let v = a.value(x)?;
                o.vlan_protocol =
                    Some(VlanProtocol::parse(v).ok_or_else(|| a.bad(x, v, "802.1Q or 802.1ad"))?);
            }
            "vlan_default_pvid" => {
                a.next();
                let v: u16 = a.num(x, "a VLAN id from 0 to 4094")?;
                if v > 4094 {
                    return Err(a.bad(x, &v.to_string(), "a VLAN id from 0 to 4094"));
                }
                o.vlan_default_pvid = Some(v);
            }
            "group_fwd_mask" => {
                a.next();
                let v: u16 = a.num(x, "a 16-bit mask")?;
                if v & GROUP_FWD_RESTRICTED != 0 {
                    return Err(err(&a.cmd, format!("group_fwd_mask {v:#x} sets bits 0-2 (STP, PAUSE, LACP), which the kernel refuses (EINVAL)")));
                }
                o.group_fwd_mask = Some(v);
            }
            "fdb_max_learned" => {
                a.next();
                o.fdb_max_learned = Some(a.num(x, "a number of entries (0 = no limit)")?);
            }
            _ => {
                if !super::mdb::parse_opt(a, &mut o.mcast)? {
                    break;
                }
            }
        }
    }
    if let Some(s) = o.stp_state {
        if s > 2 {
            return Err(a.bad("stp_state", &s.to_string(), "0 (off) or 1 (on)"));
        }
    }
    if let Some(cs) = o.ageing_time {
        if cs != 0 && !(10..=100_000_000).contains(&cs) {
            return Err(a.bad(
                "ageing_time",
                &cs.to_string(),
                "0 or 10 to 100000000 centiseconds",
            ));
        }
    }
    Ok(o)
}

fn parse_port_opts(a: &mut Args<'_>) -> Result<PortChanges, CmdError> {
    let mut p = PortChanges::default();
    super::bridge::parse_port_words(a, &mut p, true)?;
    Ok(p)
}

/// `macaddr add|del MAC | set [MAC ...] | flush`.
fn parse_macaddr(a: &mut Args<'_>) -> Result<crate::macvlan::MacaddrOp, CmdError> {
    use crate::macvlan::MacaddrOp;
    if a.next() != Some("macaddr") {
        return Err(err(
            &a.cmd,
            "expected macaddr add|del MAC, macaddr set [MAC ...] or macaddr flush",
        ));
    }
    let op = a.value("macaddr")?;
    Ok(match op {
        "add" => MacaddrOp::Add(a.mac("macaddr add")?),
        "del" => MacaddrOp::Del(a.mac("macaddr del")?),
        "flush" => MacaddrOp::Flush,
        "set" => {
            let mut v = Vec::new();
            while let Some(w) = a.peek() {
                match w.parse::<Mac>() {
                    Ok(m) => {
                        a.next();
                        v.push(m);
                    }
                    Err(_) => break,
                }
            }
            MacaddrOp::Set(v)
        }
        o => return Err(a.bad("macaddr", o, "add, del, set or flush")),
    })
}

fn parse_set(w: &[String]) -> Result<Command, CmdError> {
    let mut a = Args::new(w, "link set");
    let mut s = LinkSet::default();
    while let Some(x) = a.next() {
        match x {
            "dev" => s.name = a.value("dev")?.to_string(),
            "up" => s.up = Some(true),
            "down" => s.up = Some(false),
            "master" => s.master = Some(Some(a.value("master")?.to_string())),
            "nomaster" => s.master = Some(None),
            "mtu" => s.mtu = Some(a.num("mtu", "an MTU in bytes")?),
            "address" => s.address = Some(a.unicast("address")?),
            "netns" => s.netns = Some(a.value("netns")?.to_string()),
            "name" => {
                let n = a.value("name")?;
                check_name("link set", n)?;
                s.rename = Some(n.to_string());
            }
            // `ip link set link dev macvlan0 ...` (the kernel's macvlan
            // documentation writes it so): "link" before "dev" says nothing.
            "link" if a.peek() == Some("dev") => {}
            "link" => {
                return Err(err(
                    "link set",
                    "the lower device is fixed at creation (link set does not take \"link\")",
                ))
            }
            "type" => {
                let t = a.value("type")?;
                a.cmd = format!("link set {} type {t}", s.name);
                match t {
                    "bridge" => s.bridge = Some(parse_bridge_opts(&mut a)?),
                    "bridge_slave" => s.port = Some(parse_port_opts(&mut a)?),
                    "bond" => s.bond = Some(super::bond::parse_opts(&mut a)?),
                    "macvlan" | "macvtap" => s.macaddr = Some(parse_macaddr(&mut a)?),
                    "netdevsim" => s.netdevsim = Some(parse_netdevsim_opts(&mut a)?),
                    other => {
                        return Err(a.bad(
                            "type",
                            other,
                            "bridge, bridge_slave, bond, macvlan, macvtap or netdevsim",
                        ))
                    }
                }
            }
            _ if s.name.is_empty() => s.name = x.to_string(),
            _ => {
                return Err(a.unknown(
                    x,
                    "up, down, master, nomaster, mtu, address, name, netns or type",
                ))
            }
        }
    }
    if s.name.is_empty() {
        return Err(err("link set", "no device given (link set dev NAME up)"));
    }
    if let Some(m) = s.mtu {
        if !(68..=65535).contains(&m) {
            return Err(a.bad("mtu", &m.to_string(), "68 to 65535"));
        }
    }
    Ok(Command::LinkSet(Box::new(s)))
}

/// The kernel's ranges for the spanning-tree times (checked while STP is
/// on, as `br_set_forward_delay` does; ERANGE otherwise).
fn check_stp_times(cmd: &str, c: &BridgeConfig) -> Result<(), CmdError> {
    let cs = |d: std::time::Duration| to_centisecs(d);
    if c.stp_state != 0 && !(200..=3000).contains(&cs(c.forward_delay)) {
        return Err(err(
            cmd,
            format!(
                "forward_delay {} is out of range with STP on: 200 to 3000 centiseconds (ERANGE)",
                cs(c.forward_delay)
            ),
        ));
    }
    if !(100..=1000).contains(&cs(c.hello_time)) {
        return Err(err(
            cmd,
            format!(
                "hello_time {} is out of range: 100 to 1000 centiseconds (ERANGE)",
                cs(c.hello_time)
            ),
        ));
    }
    if !(600..=4000).contains(&cs(c.max_age)) {
        return Err(err(
            cmd,
            format!(
                "max_age {} is out of range: 600 to 4000 centiseconds (ERANGE)",
                cs(c.max_age)
            ),
        ));
    }
    Ok(())
}

fn bridge_config(o: &BridgeOpts, mut c: BridgeConfig) -> BridgeConfig {
    if let Some(v) = o.ageing_time {
        c.ageing_time = from_centisecs(v);
    }
    if let Some(v) = o.forward_delay {
        c.forward_delay = from_centisecs(v);
    }
    if let Some(v) = o.hello_time {
        c.hello_time = from_centisecs(v);
    }
    if let Some(v) = o.max_age {
        c.max_age = from_centisecs(v);
    }
    if let Some(v) = o.stp_state {
        // A new bridge has no mstpd yet: on means kernel STP.
        c.stp_state = u32::from(v != 0);
    }
    if let Some(v) = o.priority {
        c.priority = v;
    }
    if let Some(v) = o.vlan_filtering {
        c.vlan_filtering = v;
    }
    if let Some(v) = o.vlan_protocol {
        c.vlan_protocol = v;
    }
    if let Some(v) = o.vlan_default_pvid {
        c.default_pvid = v;
    }
    if let Some(v) = o.group_fwd_mask {
        c.group_fwd_mask = v;
    }
    if let Some(v) = o.fdb_max_learned {
        c.fdb_max_learned = v;
    }
    c
}

/// The address a new emulated device gets when none is given: locally
/// administered, from the name and `seed` ([`Graph::mac_seed`]). Seed 0
/// (the simulator) makes a topology file reproducible; the daemon's
/// random seed makes each instance's addresses its own, as the kernel's
/// random ones are (`eth_hw_addr_random`).
pub fn default_mac(seed: u64, name: &str) -> Mac {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let salt = if seed == 0 {
        Vec::new()
    } else {
        seed.to_le_bytes().to_vec()
    };
    for b in salt.iter().copied().chain(name.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Mac::local(h & 0xff_ffff_ffff)
}

pub(super) fn add(g: &mut Graph, now: Instant, a: &LinkAdd) -> Result<IfId, CmdError> {
    let cmd = format!("link add {}", a.name);
    if g.by_name(&a.name).is_some() {
        return Err(err(
            &cmd,
            format!("a device named \"{}\" already exists", a.name),
        ));
    }
    let mac = a
        .address
        .unwrap_or_else(|| default_mac(g.mac_seed, &a.name));
    let id = match &a.kind {
        LinkKind::Bridge(o) => {
            let cfg = bridge_config(o, BridgeConfig::default());
            check_stp_times(&cmd, &cfg)?;
            let mc = super::mdb::config(&cmd, &o.mcast, Default::default(), cfg.vlan_filtering)?;
            let mut b = Bridge::with_address(cfg, mac);
            super::mdb::commit(&mut b, now, &o.mcast, mc, false);
            b.mac_set = a.address.is_some();
            b.add_local_addr(now, mac, None);
            g.add(
                &a.name,
                Kind::Bridge(Box::new(b)),
                mac,
                a.mtu.unwrap_or(1500),
            )
            .map_err(|e| graph_err(&cmd, e))?
        }
        LinkKind::Bond(o) => {
            let cfg = super::bond::apply_opts(&cmd, crate::bond::BondConfig::default(), o, false)?;
            let b = crate::bond::Bond::new(cfg, mac, a.address.is_some());
            g.add(&a.name, Kind::Bond(Box::new(b)), mac, a.mtu.unwrap_or(1500))
                .map_err(|e| graph_err(&cmd, e))?
        }
        LinkKind::Team(cfg) => {
            if let Some(d) = cfg.device.as_deref().filter(|d| *d != a.name) {
                return Err(err(
                    &cmd,
                    format!(
                        "the config names device \"{d}\"; leave \"device\" out or make it \"{}\"",
                        a.name
                    ),
                ));
            }
            let mac = cfg.hwaddr.or(a.address).unwrap_or(mac);
            let kind = super::team::new_team((**cfg).clone(), mac);
            g.add(&a.name, kind, mac, a.mtu.unwrap_or(1500))
                .map_err(|e| graph_err(&cmd, e))?
        }
        LinkKind::Vxlan(cfg, _) => {
            // The lower's MTU when patchbay knows the device; else 1500
            // less the overhead (a kernel lower is not attached).
            let lower = cfg
                .dev
                .as_deref()
                .and_then(|d| g.by_name(d))
                .map(|l| g.iface(l).mtu);
            let lower = lower.or(cfg.dev.as_ref().map(|_| 1500));
            let v = crate::vxlan::Vxlan::new((**cfg).clone(), mac, lower);
            let mtu = a.mtu.unwrap_or(v.mtu);
            if mtu > v.mtu {
                return Err(err(
                    &cmd,
                    format!("mtu {mtu} is more than the lower device allows ({})", v.mtu),
                ));
            }
            g.add(&a.name, Kind::Vxlan(Box::new(v)), mac, mtu)
                .map_err(|e| graph_err(&cmd, e))?
        }
        LinkKind::Macvlan(m) => {
            let lower_name = a
                .link
                .as_deref()
                .ok_or_else(|| err(&cmd, "this kind needs a lower device: link DEV"))?;
            let lower = lookup(g, &cmd, lower_name)?;
            g.add_macvlan(&a.name, lower, (**m).clone(), mac, a.mtu)
                .map_err(|e| graph_err(&cmd, e))?
        }
        LinkKind::Ipvlan(v) => {
            let lower_name = a
                .link
                .as_deref()
                .ok_or_else(|| err(&cmd, "this kind needs a lower device: link DEV"))?;
            let lower = lookup(g, &cmd, lower_name)?;
            g.add_ipvlan(&a.name, lower, (**v).clone(), a.mtu)
                .map_err(|e| graph_err(&cmd, e))?
        }
        LinkKind::Veth {
            peer, peer_address, ..
        } => {
            // The kernel names an unnamed peer veth0, veth1, ...
            let peer = peer.clone().unwrap_or_else(|| {
                (0..)
                    .map(|i| format!("veth{i}"))
                    .find(|n| g.by_name(n).is_none() && *n != a.name)
                    .expect("a free name")
            });
            let pmac = peer_address.unwrap_or_else(|| default_mac(g.mac_seed, &peer));
            g.add_veth(&a.name, &peer, (mac, pmac), a.mtu.unwrap_or(1500))
                .map_err(|e| graph_err(&cmd, e))?
                .0
        }
        LinkKind::Dummy => g
            .add(&a.name, Kind::Dummy, mac, a.mtu.unwrap_or(1500))
            .map_err(|e| graph_err(&cmd, e))?,
        LinkKind::Netdevsim(o) => {
            let id = g
                .add(&a.name, Kind::Netdevsim, mac, a.mtu.unwrap_or(1500))
                .map_err(|e| graph_err(&cmd, e))?;
            apply_netdevsim(g, now, id, o);
            id
        }
        // NLMSG_GOODSIZE on a 4 KiB page; no address.
        LinkKind::Nlmon => g
            .add(&a.name, Kind::Nlmon, Mac::ZERO, a.mtu.unwrap_or(3776))
            .map_err(|e| graph_err(&cmd, e))?,
        LinkKind::Vlan { id, protocol } => {
            let lower_name = a
                .link
                .as_deref()
                .ok_or_else(|| err(&cmd, "this kind needs a lower device: link DEV"))?;
            let lower = lookup(g, &cmd, lower_name)?;
            let v = g
                .add_vlan(
                    &a.name,
                    lower,
                    VlanDev {
                        id: *id,
                        protocol: *protocol,
                    },
                )
                .map_err(|e| graph_err(&cmd, e))?;
            let f = g.iface_mut(v);
            if let Some(m) = a.address {
                f.mac = m;
            }
            if let Some(m) = a.mtu {
                f.mtu = m;
            }
            v
        }
    };
    if a.up {
        g.set_admin(now, id, true);
    }
    Ok(id)
}

pub(super) fn set(g: &mut Graph, now: Instant, s: &LinkSet) -> Result<(), CmdError> {
    let plan = check_set(g, s)?;
    commit_set(g, now, s, plan);
    Ok(())
}

/// `link set` resolved and checked by [`check_set`]: the device, its new
/// master, and the bridge and bond configurations it ends with.
#[derive(Debug)]
pub(super) struct SetPlan {
    id: IfId,
    /// `Some(None)`: nomaster.
    master: Option<Option<IfId>>,
    bridge: Option<(BridgeConfig, crate::bridge::mcast::McastConfig)>,
    bond: Option<crate::bond::BondConfig>,
}

/// Every reason `link set` can be refused, found before anything changes
/// (the kernel's `do_setlink` would stop half way; patchbay does not).
pub(super) fn check_set(g: &Graph, s: &LinkSet) -> Result<SetPlan, CmdError> {
    let cmd = format!("link set {}", s.name);
    let id = lookup(g, &cmd, &s.name)?;
    let master = match &s.master {
        Some(Some(m)) => {
            let br = lookup(g, &cmd, m)?;
            if g.iface(br).bridge().is_none() && g.iface(br).lag().is_none() {
                return Err(err(
                    &cmd,
                    format!("argument \"master\": \"{m}\" is not a bridge or a bond"),
                ));
            }
            if br == id {
                return Err(err(&cmd, "a device cannot be its own master"));
            }
            if matches!(g.iface(id).kind, Kind::Bridge(_)) {
                return Err(err(&cmd, format!("a bridge cannot be a port of a bridge (\"{}\"): the kernel refuses it with ELOOP", s.name)));
            }
            if let Some(cur) = g.iface(id).master {
                if cur != br {
                    return Err(err(&cmd, format!("\"{}\" is already enslaved to \"{}\" (run 'patchbay link set {} nomaster' first)", s.name, g.iface(cur).name, s.name)));
                }
            }
            g.check_enslave(id, br).map_err(|e| graph_err(&cmd, e))?;
            Some(Some(br))
        }
        Some(None) => Some(None),
        None => None,
    };
    let bridge = match &s.bridge {
        Some(o) => {
            let Some(b) = g.iface(id).bridge() else {
                return Err(err(
                    &cmd,
                    format!(
                        "\"{}\" is not a bridge: bridge options do not apply",
                        s.name
                    ),
                ));
            };
            let new = bridge_config(o, b.cfg.clone());
            check_stp_times(&cmd, &new)?;
            let mc = super::mdb::config(&cmd, &o.mcast, b.mc.cfg.clone(), new.vlan_filtering)?;
            Some((new, mc))
        }
        None => None,
    };
    if let Some(p) = &s.port {
        // The master the device has when the port options apply: the one
        // this command gives it, as `do_setlink` enslaves first.
        let br = match master {
            Some(Some(br)) if g.iface(br).bridge().is_some() => br,
            Some(_) => port_of(g, &cmd, id).and(Err(err(
                &cmd,
                "bridge_slave options need a bridge as the master",
            )))?,
            None => port_of(g, &cmd, id)?.0,
        };
        super::bridge::check_port(g, &cmd, br, p)?;
    }
    if s.netdevsim.is_some() && !matches!(g.iface(id).kind, Kind::Netdevsim) {
        return Err(err(&cmd, format!("\"{}\" is not a netdevsim port", s.name)));
    }
    if s.macaddr.is_some() {
        match &g.iface(id).kind {
            Kind::Macvlan(m) if m.mode == crate::macvlan::Mode::Source => {}
            Kind::Macvlan(m) => {
                return Err(err(
                    &cmd,
                    format!(
                        "macaddr applies to mode source; \"{}\" is mode {}",
                        s.name,
                        m.mode.name()
                    ),
                ))
            }
            _ => return Err(err(&cmd, format!("\"{}\" is not a macvlan", s.name))),
        }
    }
    if let Some(n) = s.rename.as_ref().filter(|n| **n != s.name) {
        if g.by_name(n).is_some() {
            return Err(err(
                &cmd,
                format!("a device named \"{n}\" already exists (EEXIST)"),
            ));
        }
        if g.iface(id).admin_up {
            return Err(err(&cmd, format!("\"{}\" is up: the kernel renames a device only while it is down (EBUSY); run 'patchbay link set {} down' first", s.name, s.name)));
        }
    }
    if let (Some(m), Some(l)) = (s.mtu, g.iface(id).link) {
        // `vlan_dev_change_mtu`: no more than the lower device's.
        if matches!(g.iface(id).kind, Kind::Vlan(_)) && m > g.iface(l).mtu {
            return Err(err(
                &cmd,
                format!(
                    "mtu {m} is more than the lower device's ({}) (ERANGE)",
                    g.iface(l).mtu
                ),
            ));
        }
        if matches!(g.iface(id).kind, Kind::Macvlan(_)) && m > g.iface(l).mtu {
            return Err(err(
                &cmd,
                format!(
                    "mtu {m} is more than the lower device's ({}) (EINVAL)",
                    g.iface(l).mtu
                ),
            ));
        }
    }
    let bond = match &s.bond {
        Some(o) => {
            let Some(b) = g.iface(id).bond() else {
                return Err(err(
                    &cmd,
                    format!("\"{}\" is not a bond: bond options do not apply", s.name),
                ));
            };
            Some(super::bond::apply_opts(
                &cmd,
                b.cfg.clone(),
                o,
                !b.slaves.is_empty(),
            )?)
        }
        None => None,
    };
    Ok(SetPlan {
        id,
        master,
        bridge,
        bond,
    })
}

/// Carries out a `link set` that [`check_set`] accepted; it cannot fail.
pub(super) fn commit_set(g: &mut Graph, now: Instant, s: &LinkSet, plan: SetPlan) {
    let id = plan.id;
    match plan.master {
        Some(Some(br)) => {
            g.enslave(now, id, br).expect("checked by check_enslave");
        }
        Some(None) if g.iface(id).master.is_some() => {
            g.release(now, id).expect("enslaved");
        }
        _ => {}
    }
    if let (Some(o), Some((mut new, mc))) = (&s.bridge, plan.bridge) {
        let running = g.iface(id).admin_up;
        let b = g.iface_mut(id).bridge_mut().expect("checked");
        super::mdb::commit(b, now, &o.mcast, mc, running);
        let old = b.cfg.clone();
        // The spanning-tree settings go through their own paths, which
        // recompute the tree (`br_stp_set_enabled`, `br_stp_set_bridge_priority`, ...).
        new.stp_state = old.stp_state;
        new.priority = old.priority;
        b.cfg = new.clone();
        b.set_fdb_max_learned(b.cfg.fdb_max_learned);
        b.set_timers(new.max_age, new.hello_time, new.forward_delay);
        if let Some(p) = o.priority {
            b.set_bridge_priority(now, p);
        }
        if let Some(v) = o.stp_state {
            b.set_stp_state(now, v);
        }
        if b.cfg.ageing_time < old.ageing_time {
            b.fdb.schedule_gc(now);
        }
    }
    if let Some(cfg) = plan.bond {
        let b = g.iface_mut(id).bond_mut().expect("checked");
        b.cfg = cfg;
        b.config_changed();
        g.link_changed(now, id);
    }
    if let Some(p) = &s.port {
        super::bridge::commit_port(g, now, id, p);
    }
    if let (Some(op), Kind::Macvlan(m)) = (&s.macaddr, &mut g.iface_mut(id).kind) {
        m.macaddr(op);
    }
    if let Some(o) = &s.netdevsim {
        apply_netdevsim(g, now, id, o);
    }
    if let Some(n) = &s.rename {
        g.rename(id, n).expect("checked: the name is free");
    }
    if let Some(m) = s.mtu.filter(|m| *m != g.iface(id).mtu) {
        g.iface_mut(id).mtu = m;
        g.note_link(id);
    }
    if let Some(up) = s.up {
        g.set_admin(now, id, up);
    }
    if let Some(mac) = s.address {
        // A bridge keeps an address it was given (`NET_ADDR_SET`) instead
        // of following its ports'.
        if let Some(b) = g.iface_mut(id).bridge_mut() {
            b.mac_set = true;
        }
        g.set_mac(now, id, mac);
        // passthru: the lower takes the address too (`dev_set_mac_address`
        // on the lower device in `macvlan_set_mac_address`).
        let f = g.iface(id);
        if let (Kind::Macvlan(m), Some(l)) = (&f.kind, f.link) {
            if m.mode == crate::macvlan::Mode::Passthru {
                g.set_mac(now, l, mac);
            }
        }
    }
}

pub(super) fn port_of(g: &Graph, cmd: &str, id: IfId) -> Result<(IfId, u16), CmdError> {
    let f = g.iface(id);
    match f.master {
        Some(br) if g.iface(br).bridge().is_some() => Ok((br, f.port_no)),
        _ => Err(err(
            cmd,
            format!(
                "\"{}\" is not a bridge port (link set {} master BRIDGE first)",
                f.name, f.name
            ),
        )),
    }
}

fn flags(g: &Graph, id: IfId) -> Vec<&'static str> {
    let f = g.iface(id);
    let mut v = vec!["BROADCAST", "MULTICAST"];
    if f.admin_up {
        v.push("UP");
        if g.oper_up(id) {
            v.push("LOWER_UP");
        } else {
            v.insert(0, "NO-CARRIER");
        }
    }
    v
}

fn operstate(g: &Graph, id: IfId) -> &'static str {
    let f = g.iface(id);
    if !f.admin_up {
        "DOWN"
    } else if g.oper_up(id) {
        "UP"
    } else if matches!(f.kind, Kind::Vlan(_)) {
        "LOWERLAYERDOWN"
    } else {
        "DOWN"
    }
}

/// Centiseconds left on a timer, as the kernel reports it
/// (`br_timer_value`: 0 when it is not running).
fn timer_left(t: Option<Instant>, now: Instant) -> u64 {
    t.map_or(0, |t| to_centisecs(t.saturating_duration_since(now)))
}

/// A bridge's settings and state in `bridge_print_opt`'s order, under its
/// keys; what patchbay does not emulate (netfilter calls, VLAN stats;
/// ARCHITECTURE.md) it leaves out. Timers need `now`.
fn bridge_details(b: &Bridge, now: Option<Instant>) -> Vec<Detail> {
    let c = &b.cfg;
    let u = |k: &str, v: u64| Detail::uint(k, k, v);
    let mut v = vec![
        u("forward_delay", to_centisecs(c.forward_delay)),
        u("hello_time", to_centisecs(c.hello_time)),
        u("max_age", to_centisecs(c.max_age)),
        u("ageing_time", to_centisecs(c.ageing_time)),
        u("stp_state", c.stp_state.into()),
        u("priority", c.priority.into()),
        u("vlan_filtering", c.vlan_filtering.into()),
        Detail::any(
            "vlan_protocol",
            format!("vlan_protocol {} ", c.vlan_protocol.name()),
            c.vlan_protocol.name(),
        ),
    ];
    let (bid, root) = (b.stp.bridge_id.iproute2(), b.stp.designated_root.iproute2());
    v.push(Detail::any("bridge_id", format!("bridge_id {bid} "), bid));
    v.push(Detail::any(
        "root_id",
        format!("designated_root {root} "),
        root,
    ));
    v.push(u("root_port", b.stp.root_port.into()));
    v.push(u("root_path_cost", b.stp.root_path_cost.into()));
    v.push(u("topology_change", b.stp.topology_change.into()));
    v.push(u(
        "topology_change_detected",
        b.stp.topology_change_detected.into(),
    ));
    if let Some(now) = now {
        v.push(Detail::timer(
            "hello_timer",
            timer_left(b.stp.hello_timer, now),
        ));
        v.push(Detail::timer("tcn_timer", timer_left(b.stp.tcn_timer, now)));
        v.push(Detail::timer(
            "topology_change_timer",
            timer_left(b.stp.topology_change_timer, now),
        ));
        v.push(Detail::timer(
            "gc_timer",
            timer_left(b.fdb.poll_timeout(), now),
        ));
    }
    v.push(u("vlan_default_pvid", c.default_pvid.into()));
    v.push(Detail::hex(
        "group_fwd_mask",
        "group_fwd_mask",
        c.group_fwd_mask.into(),
    ));
    let ga = crate::wire::bpdu::STP_GROUP.to_string();
    v.push(Detail::any(
        "group_addr",
        format!("group_address {ga} "),
        ga,
    ));
    v.extend(super::mdb::details(b));
    // Newer iproute2 prints these two; 6.1 does not.
    v.push(u("fdb_n_learned", b.fdb.learned_count() as u64));
    v.push(u("fdb_max_learned", c.fdb_max_learned.into()));
    v
}

/// C's `%#x`, which iproute2 prints masks with: `0` for zero (no `0x`),
/// `0x4000` otherwise.
pub fn c_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// A bridge port's settings and STP state in `bridge_slave_print_opt`'s
/// order, under its keys; what patchbay does not emulate (proxy ARP,
/// multicast to-unicast, neighbour suppression, VLAN tunnels, locked
/// ports; ARCHITECTURE.md) it leaves out.
fn port_details(g: &Graph, id: IfId, now: Option<Instant>) -> Option<Vec<Detail>> {
    let f = g.iface(id);
    let b = g.iface(f.master?).bridge()?;
    let p = b.port(f.port_no)?;
    let u = |k: &str, v: u64| Detail::uint(k, k, v);
    let (db, dr) = (
        p.stp.designated_bridge.iproute2(),
        p.stp.designated_root.iproute2(),
    );
    let mut v = vec![
        Detail::any(
            "state",
            format!("state {} ", p.state.name()),
            p.state.name(),
        ),
        u("priority", p.priority.into()),
        u("cost", p.cost.into()),
        Detail::on_off("hairpin", "hairpin", p.flags.hairpin),
        Detail::on_off("guard", "guard", p.guard),
        Detail::on_off("root_block", "root_block", p.root_block),
        Detail::on_off("fastleave", "fastleave", p.mc.fast_leave),
        Detail::on_off("learning", "learning", p.flags.learning),
        Detail::on_off("flood", "flood", p.flags.flood),
        Detail::hex("id", "port_id", p.stp.port_id.into()),
        Detail::hex("no", "port_no", p.port_no as u64),
        u("designated_port", p.stp.designated_port.into()),
        u("designated_cost", p.stp.designated_cost.into()),
        Detail::any("bridge_id", format!("designated_bridge {db} "), db),
        Detail::any("root_id", format!("designated_root {dr} "), dr),
    ];
    if let Some(now) = now {
        v.push(Detail::timer(
            "hold_timer",
            timer_left(p.stp.hold_timer, now),
        ));
        v.push(Detail::timer(
            "message_age_timer",
            timer_left(p.stp.message_age_timer, now),
        ));
        v.push(Detail::timer(
            "forward_delay_timer",
            timer_left(p.stp.forward_delay_timer, now),
        ));
    }
    v.push(u("topology_change_ack", p.stp.topology_change_ack.into()));
    v.push(u("config_pending", p.stp.config_pending.into()));
    v.push(Detail::uint(
        "multicast_router",
        "mcast_router",
        p.mc.router.into(),
    ));
    v.push(Detail {
        json: None,
        text: Some(format!(
            "mcast_fast_leave {} ",
            if p.mc.fast_leave { "on" } else { "off" }
        )),
    });
    v.push(Detail::on_off(
        "mcast_flood",
        "mcast_flood",
        p.flags.mcast_flood,
    ));
    v.push(Detail::on_off(
        "bcast_flood",
        "bcast_flood",
        p.flags.bcast_flood,
    ));
    v.push(Detail::hex(
        "group_fwd_mask",
        "group_fwd_mask",
        p.group_fwd_mask.into(),
    ));
    let m = format!("{:#x}", p.group_fwd_mask);
    v.push(Detail::any(
        "group_fwd_mask_str",
        format!("group_fwd_mask_str {m} "),
        m,
    ));
    v.push(Detail::on_off("isolated", "isolated", p.flags.isolated));
    Some(v)
}

/// A kind's settings as one JSON object and its text (what the kind's
/// own printer wrote after its name): details for the one renderer.
fn details_of(json: Value, text: &str, kind: &str) -> Vec<Detail> {
    let mut v: Vec<Detail> = match json {
        Value::Object(m) => m.into_iter().map(|(k, x)| Detail::json(&k, x)).collect(),
        _ => Vec::new(),
    };
    let t = text.trim_end_matches('\n');
    let t = t.strip_prefix(&format!("    {kind} ")).unwrap_or(t);
    v.push(Detail::text(t.to_string()));
    v
}

/// What iproute2 shows after the `@`: the lower, or a veth's peer.
fn link_of(f: &crate::graph::Iface) -> Option<IfId> {
    match f.kind {
        Kind::Veth { peer } => peer,
        _ => f.link,
    }
}

/// Device `id` in the one model of `link show` (`cmd::show`), as
/// iproute2 would print the same device of the kernel; timers need `now`.
pub(super) fn link_row(g: &Graph, id: IfId, opts: Opts, now: Option<Instant>) -> LinkRow {
    let f = g.iface(id);
    let mut r = LinkRow {
        ifindex: f.ifindex,
        link: link_of(f).map(|l| g.iface(l).name.clone()),
        ifname: f.name.clone(),
        flags: flags(g, id).into_iter().map(str::to_string).collect(),
        mtu: f.mtu,
        qdisc: "noqueue".into(),
        master: f.master.map(|m| g.iface(m).name.clone()),
        operstate: operstate(g, id).into(),
        txqlen: Some(1000),
        link_type: "ether".into(),
        address: f.mac.to_string(),
        broadcast: "ff:ff:ff:ff:ff:ff".into(),
        ..Default::default()
    };
    if opts.details {
        // A bridge port listens to everything, as the kernel's does.
        let port = f.master.is_some_and(|m| g.iface(m).bridge().is_some());
        let mut d = LinkDetails {
            head: LinkDetails::head(port.into(), port.into(), 68, 65535),
            kind: f.kind.info_kind().map(str::to_string),
            ..Default::default()
        };
        match &f.kind {
            Kind::Bridge(b) => d.data = bridge_details(b, now),
            Kind::Vlan(v) => {
                d.data = details_of(
                    json!({"protocol": v.protocol.name(), "id": v.id, "flags": ["REORDER_HDR"]}),
                    &format!("protocol {} id {} <REORDER_HDR>", v.protocol.name(), v.id),
                    "vlan",
                )
            }
            Kind::Tap => {
                d.data = details_of(
                    json!({"type": "tap", "pi": false, "vnet_hdr": true}),
                    "type tap pi off vnet_hdr on",
                    "tun",
                )
            }
            Kind::Netdevsim => {
                let mut j = json!({"speed": f.speed_mbps, "duplex": if f.full_duplex { "full" } else { "half" }, "carrier": f.carrier});
                let mut t = format!(
                    "speed {} duplex {} carrier {}",
                    f.speed_mbps,
                    if f.full_duplex { "full" } else { "half" },
                    if f.carrier { "on" } else { "off" }
                );
                if let Some(x) = &f.faults {
                    j["drop"] = crate::netdevsim::Faults::pct(x.drop_ppm).into();
                    j["corrupt"] = crate::netdevsim::Faults::pct(x.corrupt_ppm).into();
                    j["delay_ms"] = (x.delay.as_secs_f64() * 1e3).into();
                    j["dropped"] = x.dropped.into();
                    j["corrupted"] = x.corrupted.into();
                    j["delayed"] = x.delayed.into();
                    let _ = write!(
                        t,
                        " drop {} corrupt {} delay {}ms",
                        crate::netdevsim::Faults::pct(x.drop_ppm),
                        crate::netdevsim::Faults::pct(x.corrupt_ppm),
                        x.delay.as_secs_f64() * 1e3
                    );
                }
                d.data = details_of(j, &t, "netdevsim");
            }
            Kind::Bond(b) => {
                d.data = details_of(
                    super::bond::info_json(g, b),
                    &super::bond::info_text(g, b),
                    "bond",
                )
            }
            Kind::Vxlan(v) => {
                d.data = details_of(
                    super::vxlan::info_json(v),
                    &super::vxlan::info_text(v),
                    "vxlan",
                )
            }
            Kind::Macvlan(m) => {
                let kind = if m.tap { "macvtap" } else { "macvlan" };
                let mut v = vec![Detail::any(
                    "mode",
                    format!("mode {} ", m.mode.name()),
                    m.mode.name(),
                )];
                if m.nopromisc {
                    v.push(Detail::any("nopromisc", "nopromisc ", true));
                }
                if m.nodst {
                    v.push(Detail::any("nodst", "nodst ", true));
                }
                v.push(Detail::uint(
                    "bcqueuelen",
                    "bcqueuelen",
                    m.bcqueuelen.into(),
                ));
                v.push(Detail::uint(
                    "usedbcqueuelen",
                    "usedbcqueuelen",
                    m.bcqueuelen.into(),
                ));
                if m.mode == crate::macvlan::Mode::Source {
                    let n = m.sources.len();
                    v.push(Detail::any("macaddr_count", format!("remotes ({n}) "), n));
                    let a: Vec<String> = m.sources.iter().map(|x| x.to_string()).collect();
                    v.push(Detail {
                        json: Some(("macaddr_data".into(), a.clone().into())),
                        text: Some(a.iter().map(|x| format!("{x} ")).collect()),
                    });
                }
                d.kind = Some(kind.into());
                d.data = v;
            }
            Kind::Ipvlan(v) => {
                let kind = if v.tap { "ipvtap" } else { "ipvlan" };
                let mut j = json!({"mode": v.mode.name()});
                j[v.flag.name()] = true.into();
                d.data = details_of(
                    j,
                    &format!(" mode {} {} ", v.mode.name(), v.flag.name()),
                    kind,
                );
            }
            Kind::Team(_) | Kind::External | Kind::Veth { .. } | Kind::Dummy | Kind::Nlmon => {}
        }
        let bond = f.master.and_then(|m| g.iface(m).bond());
        if let (Some(j), Some(t)) = (
            bond.and_then(|b| super::bond::slave_json(b, f.port_no)),
            bond.and_then(|b| super::bond::slave_text(b, f.port_no)),
        ) {
            d.slave_kind = Some("bond".into());
            d.slave_data = details_of(j, &t, "bond_slave");
        }
        if let Some(pd) = port_details(g, id, now) {
            d.slave_kind = Some("bridge".into());
            d.slave_data = pd;
        }
        if !f.via.is_empty() {
            // patchbay's own: how frames enter and leave the device.
            d.tail.push(Detail::any(
                "attach",
                format!("attach {} ", f.via),
                f.via.as_str(),
            ));
        }
        r.details = Some(d);
    }
    if opts.stats {
        let c = &f.counters;
        let t = format!(
            "    RX:  bytes packets dropped\n    {:>10} {:>7} {:>7}\n    TX:  bytes packets\n    {:>10} {:>7}\n",
            c.rx_bytes,
            c.rx_packets,
            c.total_drops(),
            c.tx_bytes,
            c.tx_packets
        );
        r.stats = Some((c.to_json(), t));
    }
    r
}

pub(super) fn show(
    g: &Graph,
    now: Instant,
    dev: Option<&str>,
    master: Option<&str>,
    kind: Option<&str>,
    opts: Opts,
) -> Result<String, CmdError> {
    let cmd = "link show";
    let want_master = master.map(|m| lookup(g, cmd, m)).transpose()?;
    let ids: Vec<IfId> = match dev {
        Some(d) => vec![lookup(g, cmd, d)?],
        None => g
            .iter()
            .filter(|(_, f)| want_master.is_none_or(|m| f.master == Some(m)))
            .filter(|(_, f)| kind.is_none_or(|k| f.kind.info_kind() == Some(k)))
            .map(|(id, _)| id)
            .collect(),
    };
    let rows: Vec<LinkRow> = ids
        .iter()
        .map(|id| link_row(g, *id, opts, Some(now)))
        .collect();
    Ok(super::show::render_links(&rows, opts.json))
}
