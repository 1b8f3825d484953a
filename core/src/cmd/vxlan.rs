//! `link add NAME type vxlan ...` as iproute2 parses it (`iplink_vxlan.c`),
//! with the kernel's defaults, and the vxlan part of `-d link show`.

use super::{err, Args, CmdError};
use crate::vxlan::{Df, Tos, Ttl, Vxlan, VxlanConfig};
use crate::wire::vxlan::LINUX_PORT;
use core::net::IpAddr;
use serde_json::{json, Value};

/// What iproute2 prints on stderr when `dstport` is not given.
pub const DSTPORT_WARNING: &str = "vxlan: destination port not specified\nWill use Linux kernel default (non-standard value)\nUse 'dstport 4789' to get the IANA assigned value\nUse 'dstport 0' to get default and quiet this message";

/// The options after `type vxlan`; the flag says `dstport` was given.
pub(crate) fn parse_opts(a: &mut Args<'_>) -> Result<(VxlanConfig, bool), CmdError> {
    let mut c = VxlanConfig::default();
    let (mut vni, mut dstport_given, mut group) = (None, false, false);
    let ip = |a: &mut Args<'_>, key: &str| -> Result<IpAddr, CmdError> {
        let v = a.value(key)?;
        v.parse()
            .map_err(|_| a.bad(key, v, "an IPv4 or IPv6 address"))
    };
    while let Some(x) = a.peek() {
        a.next();
        match x {
            "id" | "vni" => {
                let v: u32 = a.num(x, "a VNI from 0 to 16777215")?;
                if v > 0x00ff_ffff {
                    return Err(a.bad(x, &v.to_string(), "a VNI from 0 to 16777215"));
                }
                vni = Some(v);
            }
            "remote" => {
                let r = ip(a, "remote")?;
                if r.is_multicast() || r.is_unspecified() {
                    return Err(a.bad("remote", &r.to_string(), "a unicast address (use group for multicast)"));
                }
                c.remote = Some(r);
            }
            "group" => {
                let g = ip(a, "group")?;
                if !g.is_multicast() {
                    return Err(a.bad("group", &g.to_string(), "a multicast address (use remote for unicast)"));
                }
                c.remote = Some(g);
                group = true;
            }
            "local" => c.local = Some(ip(a, "local")?),
            "dev" => c.dev = Some(a.value("dev")?.to_string()),
            "dstport" => {
                let p: u16 = a.num("dstport", "a UDP port")?;
                c.dstport = if p == 0 { LINUX_PORT } else { p };
                dstport_given = true;
            }
            "srcport" | "port" => {
                let lo: u16 = a.num("srcport", "MIN MAX, two UDP ports")?;
                let hi: u16 = a.num("srcport", "MIN MAX, two UDP ports")?;
                if hi < lo {
                    return Err(a.bad("srcport", &format!("{lo} {hi}"), "MIN MAX with MIN <= MAX"));
                }
                c.srcport = (lo, hi);
            }
            "ttl" | "hoplimit" => {
                c.ttl = match a.value(x)? {
                    "auto" => Ttl::Auto,
                    "inherit" => Ttl::Inherit,
                    v => match v.parse::<u8>() {
                        Ok(0) => Ttl::Auto,
                        Ok(t) => Ttl::Value(t),
                        Err(_) => return Err(a.bad(x, v, "1 to 255, auto or inherit")),
                    },
                }
            }
            "tos" | "dsfield" => {
                c.tos = match a.value(x)? {
                    "inherit" => Tos::Inherit,
                    v => {
                        let h = v.strip_prefix("0x").unwrap_or(v);
                        match u8::from_str_radix(h, 16) {
                            Ok(t) => Tos::Value(t),
                            Err(_) => return Err(a.bad(x, v, "a hex TOS byte or inherit")),
                        }
                    }
                }
            }
            "df" => {
                c.df = match a.value("df")? {
                    "set" => Df::Set,
                    "unset" => Df::Unset,
                    "inherit" => Df::Inherit,
                    v => return Err(a.bad("df", v, "set, unset or inherit")),
                }
            }
            "learning" => c.learning = true,
            "nolearning" => c.learning = false,
            "ageing" => c.ageing = a.num("ageing", "seconds")?,
            "maxaddress" | "maxaddr" => c.maxaddress = a.num(x, "a number of FDB entries (0: no limit)")?,
            "proxy" => c.proxy = true,
            "noproxy" => c.proxy = false,
            "l2miss" => c.l2miss = true,
            "nol2miss" => c.l2miss = false,
            "l3miss" => c.l3miss = true,
            "nol3miss" => c.l3miss = false,
            "udpcsum" => c.udpcsum = true,
            "noudpcsum" => c.udpcsum = false,
            "rsc" | "external" | "collect_metadata" | "gbp" | "gpe" | "vnifilter" | "remcsumtx" | "remcsumrx" => {
                return Err(err(&a.cmd, format!("\"{x}\" is not supported by patchbay's vxlan device")))
            }
            other => {
                return Err(a.unknown(
                    other,
                    "id, remote, group, local, dev, dstport, srcport, ttl, tos, df, [no]learning, ageing, maxaddress, [no]proxy, [no]l2miss, [no]l3miss, [no]udpcsum",
                ))
            }
        }
    }
    c.vni = vni.ok_or_else(|| err(&a.cmd, "a VXLAN id is required (id VNI)"))?;
    if group && c.dev.is_none() {
        return Err(err(
            &a.cmd,
            "a multicast group needs a lower device (group ADDR dev IF)",
        ));
    }
    if let (Some(l), Some(r)) = (c.local, c.remote) {
        if l.is_ipv4() != r.is_ipv4() {
            return Err(err(
                &a.cmd,
                "local and remote/group must be of the same address family",
            ));
        }
    }
    Ok((c, dstport_given))
}

fn ip_key(a: IpAddr, v4: &str, v6: &str) -> String {
    if a.is_ipv4() {
        v4.into()
    } else {
        v6.into()
    }
}

/// `info_data` as `ip -j -d link show` prints it for vxlan.
pub(crate) fn info_json(v: &Vxlan) -> Value {
    let c = &v.cfg;
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(c.vni));
    if let Some(r) = c.remote {
        let k = if r.is_multicast() {
            ip_key(r, "group", "group6")
        } else {
            ip_key(r, "remote", "remote6")
        };
        o.insert(k, json!(r.to_string()));
    }
    if let Some(l) = c.local {
        o.insert(ip_key(l, "local", "local6"), json!(l.to_string()));
    }
    if let Some(d) = &c.dev {
        o.insert("link".into(), json!(d));
    }
    o.insert(
        "port_range".into(),
        json!({"low": c.srcport.0, "high": c.srcport.1}),
    );
    o.insert("port".into(), json!(c.dstport));
    o.insert("learning".into(), json!(c.learning));
    o.insert("proxy".into(), json!(c.proxy));
    o.insert("rsc".into(), json!(false));
    o.insert("l2miss".into(), json!(c.l2miss));
    o.insert("l3miss".into(), json!(c.l3miss));
    match c.ttl {
        Ttl::Inherit => o.insert("ttl".into(), json!("inherit")),
        Ttl::Auto => o.insert("ttl".into(), json!(0)),
        Ttl::Value(t) => o.insert("ttl".into(), json!(t)),
    };
    if let Tos::Value(t) = c.tos {
        if t != 0 {
            o.insert("tos".into(), json!(format!("{t:#x}")));
        }
    } else {
        o.insert("tos".into(), json!("inherit"));
    }
    o.insert(
        "df".into(),
        json!(match c.df {
            Df::Set => "set",
            Df::Unset => "unset",
            Df::Inherit => "inherit",
        }),
    );
    o.insert("ageing".into(), json!(c.ageing));
    if c.maxaddress > 0 {
        o.insert("limit".into(), json!(c.maxaddress));
    }
    o.insert("udp_csum".into(), json!(c.udpcsum));
    o.insert("udp_zero_csum6_tx".into(), json!(false));
    o.insert("udp_zero_csum6_rx".into(), json!(false));
    Value::Object(o)
}

/// The `-d link show` line for vxlan.
pub(crate) fn info_text(v: &Vxlan) -> String {
    let c = &v.cfg;
    let mut s = format!("    vxlan id {}", c.vni);
    if let Some(r) = c.remote {
        s += &format!(" {} {r}", if r.is_multicast() { "group" } else { "remote" });
    }
    if let Some(l) = c.local {
        s += &format!(" local {l}");
    }
    if let Some(d) = &c.dev {
        s += &format!(" dev {d}");
    }
    s += &format!(
        " srcport {} {} dstport {}",
        c.srcport.0, c.srcport.1, c.dstport
    );
    if !c.learning {
        s += " nolearning";
    }
    if c.proxy {
        s += " proxy";
    }
    if c.l2miss {
        s += " l2miss";
    }
    if c.l3miss {
        s += " l3miss";
    }
    s += &match c.ttl {
        Ttl::Auto => " ttl auto".to_string(),
        Ttl::Inherit => " ttl inherit".to_string(),
        Ttl::Value(t) => format!(" ttl {t}"),
    };
    match c.tos {
        Tos::Inherit => s += " tos inherit",
        Tos::Value(0) => {}
        Tos::Value(t) => s += &format!(" tos {t:#x}"),
    }
    match c.df {
        Df::Set => s += " df set",
        Df::Inherit => s += " df inherit",
        Df::Unset => {}
    }
    s += &format!(" ageing {}", c.ageing);
    if c.maxaddress > 0 {
        s += &format!(" maxaddress {}", c.maxaddress);
    }
    s += if c.udpcsum { " udpcsum" } else { " noudpcsum" };
    s += " noudp6zerocsumtx noudp6zerocsumrx\n";
    s
}
