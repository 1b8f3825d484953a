//! `neigh add|replace|change|del|show|flush` as iproute2's `ip neigh`
//! spells them, on the one table patchbay keeps: a VXLAN device's, which
//! its `proxy` answers ARP and neighbour solicitations from.

use super::{err, lookup, to_json, Args, CmdError, Opts};
use crate::graph::{Graph, IfId, Kind};
use crate::vxlan::{Neighbour, Nud, Vxlan};
use crate::wire::Mac;
use core::net::IpAddr;
use serde_json::{json, Value};
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Add,
    Replace,
    Change,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NeighCmd {
    Set {
        how: How,
        ip: IpAddr,
        mac: Option<Mac>,
        nud: Nud,
        router: bool,
        dev: String,
    },
    Del {
        ip: IpAddr,
        dev: String,
    },
    Show {
        dev: Option<String>,
        /// `nud STATE`, or every state with `nud all`; by default `show`
        /// leaves NOARP entries out and `flush` keeps PERMANENT and NOARP
        /// ones, as iproute2 does.
        nud: Option<Vec<Nud>>,
        flush: bool,
    },
}

const USAGE: &str = "ADDR lladdr MAC dev DEV [nud STATE] [router]";

pub(super) fn parse(words: &[String]) -> Result<NeighCmd, CmdError> {
    let verb = words.first().map(String::as_str).unwrap_or("show");
    let cmd = format!("neigh {verb}");
    let mut a = Args::new(words.get(1..).unwrap_or(&[]), &cmd);
    let how = match verb {
        "add" | "a" => Some(How::Add),
        "replace" => Some(How::Replace),
        "change" | "chg" => Some(How::Change),
        "del" | "delete" | "show" | "list" | "lst" | "ls" | "flush" => None,
        v => {
            return Err(err(
                "neigh",
                format!(
                    "unknown command \"{v}\" (expected add, replace, change, del, show or flush)"
                ),
            ))
        }
    };
    if matches!(verb, "show" | "list" | "lst" | "ls" | "flush") {
        let (mut dev, mut nud) = (None, None);
        while let Some(x) = a.next() {
            match x {
                "dev" => dev = Some(a.value("dev")?.to_string()),
                "nud" => {
                    let v = a.value("nud")?;
                    nud = Some(if v == "all" {
                        Nud::ALL.to_vec()
                    } else {
                        vec![Nud::parse(v).ok_or_else(|| a.bad("nud", v, "a state or all"))?]
                    });
                }
                x => return Err(a.unknown(x, "dev DEV, nud STATE|all")),
            }
        }
        if verb == "flush" && dev.is_none() {
            return Err(err(&cmd, "flush requires arguments (dev DEV)"));
        }
        return Ok(NeighCmd::Show {
            dev,
            nud,
            flush: verb == "flush",
        });
    }
    let (mut ip, mut mac, mut nud, mut router, mut dev) = (None, None, Nud::Permanent, false, None);
    while let Some(x) = a.next() {
        match x {
            "lladdr" => mac = Some(a.mac("lladdr")?),
            "nud" => {
                let v = a.value("nud")?;
                nud = Nud::parse(v).ok_or_else(|| {
                    a.bad("nud", v, "permanent, noarp, reachable, stale, delay, probe, failed, incomplete or none")
                })?;
            }
            "router" => router = true,
            "dev" => dev = Some(a.value("dev")?.to_string()),
            "to" => {
                let v = a.value("to")?;
                ip = Some(parse_ip(&a, v)?);
            }
            "proxy" => {
                return Err(err(
                    &cmd,
                    "proxy entries (neighbour proxying by the host) are not emulated; the vxlan device's proxy answers from ordinary entries",
                ))
            }
            x if ip.is_none() => ip = Some(parse_ip(&a, x)?),
            x => return Err(a.unknown(x, USAGE)),
        }
    }
    let ip = ip.ok_or_else(|| err(&cmd, format!("an address is needed ({USAGE})")))?;
    let dev = dev.ok_or_else(|| err(&cmd, format!("dev DEV is needed ({USAGE})")))?;
    Ok(match how {
        Some(how) => {
            if mac.is_none() && nud.connected() {
                return Err(err(&cmd, format!("lladdr MAC is needed ({USAGE})")));
            }
            NeighCmd::Set {
                how,
                ip,
                mac,
                nud,
                router,
                dev,
            }
        }
        None => NeighCmd::Del { ip, dev },
    })
}

fn parse_ip(a: &Args<'_>, w: &str) -> Result<IpAddr, CmdError> {
    w.parse()
        .map_err(|_| a.bad("to", w, "an IPv4 or IPv6 address"))
}

fn vxlan_mut<'g>(g: &'g mut Graph, cmd: &str, dev: &str) -> Result<&'g mut Vxlan, CmdError> {
    let id = lookup(g, cmd, dev)?;
    match &mut g.iface_mut(id).kind {
        Kind::Vxlan(v) => Ok(v),
        _ => Err(err(
            cmd,
            format!("{dev} is not a vxlan device: patchbay keeps neighbour entries only for a vxlan device's proxy (use ip neigh for the kernel's side of {dev})"),
        )),
    }
}

pub(super) fn apply(g: &mut Graph, c: &NeighCmd, opts: Opts) -> Result<String, CmdError> {
    match c {
        NeighCmd::Set {
            how,
            ip,
            mac,
            nud,
            router,
            dev,
        } => {
            let cmd = match how {
                How::Add => "neigh add",
                How::Replace => "neigh replace",
                How::Change => "neigh change",
            };
            let v = vxlan_mut(g, cmd, dev)?;
            let old = v.neigh.get(ip).copied();
            match (how, old) {
                (How::Add, Some(_)) => {
                    return Err(err(
                        cmd,
                        format!("{ip} dev {dev}: the entry exists (use neigh replace)"),
                    ))
                }
                (How::Change, None) => {
                    return Err(err(
                        cmd,
                        format!("{ip} dev {dev}: no such entry (use neigh add)"),
                    ))
                }
                _ => {}
            }
            let mac = mac.or(old.map(|o| o.mac)).unwrap_or(Mac::ZERO);
            v.neigh.insert(
                *ip,
                Neighbour {
                    mac,
                    nud: *nud,
                    router: *router,
                },
            );
            Ok(String::new())
        }
        NeighCmd::Del { ip, dev } => {
            let v = vxlan_mut(g, "neigh del", dev)?;
            v.neigh
                .remove(ip)
                .map(|_| String::new())
                .ok_or_else(|| err("neigh del", format!("{ip} dev {dev}: no such entry")))
        }
        NeighCmd::Show {
            dev,
            nud,
            flush: true,
        } => {
            let dev = dev.as_deref().expect("parse requires dev");
            let v = vxlan_mut(g, "neigh flush", dev)?;
            v.neigh.retain(|_, n| match nud {
                Some(states) => !states.contains(&n.nud),
                None => matches!(n.nud, Nud::Permanent | Nud::Noarp),
            });
            Ok(String::new())
        }
        NeighCmd::Show {
            dev,
            nud,
            flush: false,
        } => show(g, dev.as_deref(), nud.as_deref(), opts),
    }
}

fn show(g: &Graph, dev: Option<&str>, nud: Option<&[Nud]>, opts: Opts) -> Result<String, CmdError> {
    let ids: Vec<IfId> = match dev {
        Some(d) => vec![lookup(g, "neigh show", d)?],
        None => g.iter().map(|(id, _)| id).collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        let f = g.iface(id);
        if let Kind::Vxlan(v) = &f.kind {
            let mut es: Vec<_> = v
                .neigh
                .iter()
                .filter(|(_, n)| nud.map_or(n.nud != Nud::Noarp, |s| s.contains(&n.nud)))
                .collect();
            es.sort_by_key(|(ip, _)| (ip.is_ipv6(), **ip));
            rows.extend(es.into_iter().map(|(ip, n)| (f.name.clone(), *ip, *n)));
        }
    }
    if opts.json {
        let v: Vec<Value> = rows
            .iter()
            .map(|(dev, ip, n)| {
                let mut m = json!({"dst": ip.to_string(), "dev": dev});
                if n.mac != Mac::ZERO || n.nud.connected() {
                    m["lladdr"] = n.mac.to_string().into();
                }
                if n.router {
                    m["router"] = Value::Null;
                }
                m["state"] = json!([n.nud.name()]);
                m
            })
            .collect();
        return Ok(to_json(Value::Array(v)));
    }
    let mut s = String::new();
    for (dev, ip, n) in rows {
        let _ = write!(s, "{ip} dev {dev}");
        if n.mac != Mac::ZERO || n.nud.connected() {
            let _ = write!(s, " lladdr {}", n.mac);
        }
        if n.router {
            s.push_str(" router");
        }
        let _ = writeln!(s, " {}", n.nud.name());
    }
    Ok(s)
}
