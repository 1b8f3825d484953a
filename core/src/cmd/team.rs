//! `link add NAME type team [zmq ADDRESS] config JSON` and `patchbay teamctl TEAM ...`:
//! teamdctl's verbs (`utils/teamdctl.c`) over the team devices patchbay
//! runs ([`crate::team`]), with teamd's state document and teamdctl's
//! output: JSON dumps sorted and indented by four, `state view` as
//! teamdctl's indented summary.

use super::{err, lookup, CmdError, Opts};
use crate::graph::{Graph, IfId, Kind};
use crate::team::config::{self, PortConfig, RunnerName, TeamConfig, Watch};
use crate::team::Team;
use crate::time::Instant;
use core::net::{Ipv4Addr, Ipv6Addr};
use serde_json::{json, Map, Value};
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TeamctlCmd {
    ConfigDump { noports: bool, actual: bool },
    StateDump,
    StateView,
    PortAdd(String),
    PortRemove(String),
    PortPresent(String),
    PortConfigUpdate(String, String),
    PortConfigDump(String),
    ItemGet(String),
    ItemSet(String, String),
}

const USAGE: &str = "config dump [noports|actual], state [dump|view], port add|remove|present DEV, port config update DEV JSON, port config dump DEV, state item get|set PATH [VALUE]";

/// `teamctl TEAM VERB ...`.
pub fn parse(words: &[String]) -> Result<(String, TeamctlCmd), CmdError> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let Some((team, rest)) = w.split_first() else {
        return Err(err(
            "teamctl",
            format!("no team device given (teamctl TEAM COMMAND; commands: {USAGE})"),
        ));
    };
    let cmd = format!("teamctl {team}");
    let c = match rest {
        ["config", "dump"] => TeamctlCmd::ConfigDump {
            noports: false,
            actual: false,
        },
        ["config", "dump", "noports"] => TeamctlCmd::ConfigDump {
            noports: true,
            actual: false,
        },
        ["config", "dump", "actual"] => TeamctlCmd::ConfigDump {
            noports: false,
            actual: true,
        },
        ["state"] | ["state", "view"] => TeamctlCmd::StateView,
        ["state", "dump"] => TeamctlCmd::StateDump,
        ["port", "add", d] => TeamctlCmd::PortAdd(d.to_string()),
        ["port", "remove", d] => TeamctlCmd::PortRemove(d.to_string()),
        ["port", "present", d] => TeamctlCmd::PortPresent(d.to_string()),
        ["port", "config", "update", d, j] => {
            TeamctlCmd::PortConfigUpdate(d.to_string(), j.to_string())
        }
        ["port", "config", "dump", d] => TeamctlCmd::PortConfigDump(d.to_string()),
        ["state", "item", "get", p] => TeamctlCmd::ItemGet(p.to_string()),
        ["state", "item", "set", p, v] => TeamctlCmd::ItemSet(p.to_string(), v.to_string()),
        [] => return Err(err(&cmd, format!("no command given ({USAGE})"))),
        other => {
            return Err(err(
                &cmd,
                format!("unknown command \"{}\" ({USAGE})", other.join(" ")),
            ))
        }
    };
    Ok((team.to_string(), c))
}

/// An error as teamd's control methods give it (`teamd_ctl.c`): a code
/// and a message, both teamd's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeamdError {
    pub code: &'static str,
    pub message: &'static str,
}

/// A request naming a method teamd does not have. teamd leaves it
/// unanswered; over ZeroMQ that would stall the REP socket, so patchbay
/// answers it there with this.
pub const UNKNOWN_METHOD: TeamdError = TeamdError {
    code: "UnknownMethod",
    message: "Unknown method.",
};

/// A ZeroMQ message that is not a request (see [`UNKNOWN_METHOD`]).
pub const NOT_A_REQUEST: TeamdError = TeamdError {
    code: "UnsupportedMessage",
    message: "Unsupported message type.",
};

const INVALID_ARGS: TeamdError = TeamdError {
    code: "InvalidArgs",
    message: "Did not receive correct message arguments.",
};

/// teamd's control method `method` with its string arguments, as the
/// verb it is. `None`: teamd has no such method (and answers nothing);
/// too few arguments: teamd's `InvalidArgs` (more are ignored, as teamd's
/// `get_args` reads only what it needs).
pub fn teamd_method(method: &str, args: &[String]) -> Option<Result<TeamctlCmd, TeamdError>> {
    let arg = |i: usize| args.get(i).cloned().ok_or(INVALID_ARGS);
    let one = |f: fn(String) -> TeamctlCmd| arg(0).map(f);
    let two = |f: fn(String, String) -> TeamctlCmd| Ok(f(arg(0)?, arg(1)?));
    Some(match method {
        "ConfigDump" => Ok(TeamctlCmd::ConfigDump {
            noports: false,
            actual: false,
        }),
        "ConfigDumpActual" => Ok(TeamctlCmd::ConfigDump {
            noports: false,
            actual: true,
        }),
        "StateDump" => Ok(TeamctlCmd::StateDump),
        "PortAdd" => one(TeamctlCmd::PortAdd),
        "PortRemove" => one(TeamctlCmd::PortRemove),
        "PortConfigDump" => one(TeamctlCmd::PortConfigDump),
        "PortConfigUpdate" => two(TeamctlCmd::PortConfigUpdate),
        "StateItemValueGet" => one(TeamctlCmd::ItemGet),
        "StateItemValueSet" => two(TeamctlCmd::ItemSet),
        _ => return None,
    })
}

/// The words of `c` after `teamctl TEAM`, for the one command path.
pub fn teamctl_words(c: &TeamctlCmd) -> Vec<String> {
    let w: Vec<&str> = match c {
        TeamctlCmd::ConfigDump { noports: true, .. } => vec!["config", "dump", "noports"],
        TeamctlCmd::ConfigDump { actual: true, .. } => vec!["config", "dump", "actual"],
        TeamctlCmd::ConfigDump { .. } => vec!["config", "dump"],
        TeamctlCmd::StateDump => vec!["state", "dump"],
        TeamctlCmd::StateView => vec!["state", "view"],
        TeamctlCmd::PortAdd(d) => vec!["port", "add", d],
        TeamctlCmd::PortRemove(d) => vec!["port", "remove", d],
        TeamctlCmd::PortPresent(d) => vec!["port", "present", d],
        TeamctlCmd::PortConfigUpdate(d, j) => vec!["port", "config", "update", d, j],
        TeamctlCmd::PortConfigDump(d) => vec!["port", "config", "dump", d],
        TeamctlCmd::ItemGet(p) => vec!["state", "item", "get", p],
        TeamctlCmd::ItemSet(p, v) => vec!["state", "item", "set", p, v],
    };
    w.into_iter().map(str::to_string).collect()
}

/// teamd's error for verb `c` on `team`, which failed saying `why`.
pub fn teamd_error(g: &Graph, team: &str, c: &TeamctlCmd, why: &str) -> TeamdError {
    let no_dev = TeamdError {
        code: "NoSuchDev",
        message: "No such device.",
    };
    let missing = |d: &str| g.by_name(d).is_none() || why.contains("no device named");
    let fail = |code, message| TeamdError { code, message };
    match c {
        TeamctlCmd::PortAdd(d) if missing(d) => no_dev,
        TeamctlCmd::PortAdd(_) => fail("PortAddFail", "Failed to add port."),
        // teamd knows only its ports: another device is "no such device".
        TeamctlCmd::PortRemove(_) => no_dev,
        TeamctlCmd::PortConfigUpdate(d, _) if missing(d) => no_dev,
        TeamctlCmd::PortConfigUpdate(..) => fail("ConfigUpdateFail", "Failed to update config."),
        TeamctlCmd::PortConfigDump(d) if missing(d) => no_dev,
        TeamctlCmd::ConfigDump { actual: true, .. } => {
            fail("ConfigDumpActualFail", "Failed to dump actual config.")
        }
        TeamctlCmd::PortConfigDump(_) | TeamctlCmd::ConfigDump { .. } => {
            fail("ConfigDumpFail", "Failed to dump config.")
        }
        TeamctlCmd::StateDump | TeamctlCmd::StateView | TeamctlCmd::PortPresent(_) => {
            fail("StateDumpFail", "Failed to dump state.")
        }
        TeamctlCmd::ItemGet(_) if why.contains("not found") => {
            fail("PathDoesNotExist", "Item path does not exist.")
        }
        TeamctlCmd::ItemGet(_) => fail("ItemValueGetFail", "Failed to get item value."),
        TeamctlCmd::ItemSet(path, _) if why.contains("cannot be set") => {
            // A path the state has is read-only; one it lacks does not exist.
            let exists = team_of(g, "", team)
                .ok()
                .is_some_and(|(id, t)| get_path(&state_json(g, id, t), path).is_some());
            if exists {
                fail("OpNotSupp", "Operation not supported.")
            } else {
                fail("PathDoesNotExist", "Item path does not exist.")
            }
        }
        TeamctlCmd::ItemSet(..) => fail("ItemValueSetFail", "Failed to set item value."),
    }
}

/// teamd's UNIX-socket messages (`teamd_usock.c`): a request is
/// `REQUEST\nMETHOD\nARG\n...`, each argument with `\n` and `\\`
/// escaped. The method and its arguments, or `None` for what teamd
/// ignores (another message type, no method, a corrupt argument).
pub fn usock_request(msg: &str) -> Option<(String, Vec<String>)> {
    request(msg, usock_decode)
}

/// teamd's ZeroMQ messages (`teamd_zmq.c`): the same lines, the
/// arguments as they are (libteamdctl's ZeroMQ client escapes nothing).
/// The reply is [`usock_reply`]'s.
pub fn zmq_request(msg: &str) -> Option<(String, Vec<String>)> {
    request(msg, |a| Some(a.to_string()))
}

fn request(msg: &str, decode: impl Fn(&str) -> Option<String>) -> Option<(String, Vec<String>)> {
    // `teamd_*_msg_getline` skips empty lines.
    let mut lines = msg.split('\n').filter(|l| !l.is_empty());
    if lines.next()? != "REQUEST" {
        return None;
    }
    let method = lines.next()?.to_string();
    let args = lines.map(decode).collect::<Option<Vec<String>>>()?;
    Some((method, args))
}

fn usock_decode(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            'n' => out.push('\n'),
            '\\' => out.push('\\'),
            _ => return None,
        }
    }
    Some(out)
}

/// teamd's reply: `REPLY_SUCCESS\n` and the answer, or `REPLY_ERROR\n`,
/// the code and the message, each on its line.
pub fn usock_reply(r: Result<&str, TeamdError>) -> String {
    match r {
        Ok(text) => format!("REPLY_SUCCESS\n{text}"),
        Err(e) => format!("REPLY_ERROR\n{}\n{}\n", e.code, e.message),
    }
}

/// `type team` options: `config JSON` (or what the client read from
/// `config_file F`) and `zmq ADDRESS`, teamd's `-Z`.
pub(crate) fn parse_opts(a: &mut super::Args<'_>) -> Result<TeamConfig, CmdError> {
    let mut cfg = None;
    let mut zmq = None;
    while let Some(x) = a.peek() {
        match x {
            "zmq" => {
                a.next();
                let z = a.value("zmq")?;
                zmq = Some(zmq_address(&a.cmd, z)?);
            }
            "config" => {
                a.next();
                let text = a.value("config")?;
                cfg =
                    Some(TeamConfig::parse(text).map_err(|e| err(&a.cmd, format!("config {e}")))?);
            }
            "config_file" => {
                a.next();
                let f = a.value("config_file")?;
                return Err(err(
                    &a.cmd,
                    format!("config_file {f}: files are read by the patchbay client; give the JSON with config '...'"),
                ));
            }
            _ => break,
        }
    }
    let mut cfg = cfg.unwrap_or_default();
    cfg.zmq = zmq;
    Ok(cfg)
}

/// A ZeroMQ endpoint patchbay can bind, as teamd's `-Z` takes it:
/// `tcp://HOST:PORT` or `ipc://PATH`.
fn zmq_address(cmd: &str, addr: &str) -> Result<String, CmdError> {
    let bad = |why: &str| {
        Err(err(
            cmd,
            format!("zmq \"{addr}\": {why} (give tcp://ADDRESS:PORT or ipc://PATH)"),
        ))
    };
    if let Some(rest) = addr.strip_prefix("tcp://") {
        let Some((host, port)) = rest.rsplit_once(':') else {
            return bad("no port");
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host != "*" && host.parse::<core::net::IpAddr>().is_err() {
            return bad("not an IP address (or *)");
        }
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return bad("not a port (1 to 65535)");
        }
    } else if let Some(path) = addr.strip_prefix("ipc://") {
        if path.is_empty() {
            return bad("no path");
        }
    } else {
        return bad("an endpoint patchbay does not serve");
    }
    Ok(addr.to_string())
}

fn team_of<'g>(g: &'g Graph, cmd: &str, name: &str) -> Result<(IfId, &'g Team), CmdError> {
    let id = lookup(g, cmd, name)?;
    match g.iface(id).team() {
        Some(t) => Ok((id, t)),
        None => Err(err(cmd, format!("\"{name}\" is not a team device"))),
    }
}

/// Sorted keys, as teamdctl dumps (`JSON_SORT_KEYS`).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// teamdctl's dump: four-space indent, sorted keys.
pub fn dump(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    sorted(v).serialize(&mut ser).expect("json");
    let mut s = String::from_utf8(buf).expect("utf-8");
    s.push('\n');
    s
}

fn watch_json(w: &Watch) -> Value {
    match w {
        Watch::Ethtool {
            delay_up,
            delay_down,
        } => {
            json!({"name": "ethtool", "delay_up": delay_up, "delay_down": delay_down})
        }
        Watch::ArpPing {
            interval,
            init_wait,
            missed_max,
            source_host,
            target_host,
            validate_active,
            validate_inactive,
            vlanid,
            send_always,
        } => {
            let mut o = json!({"name": "arp_ping", "interval": interval, "init_wait": init_wait,
                "missed_max": missed_max, "source_host": Ipv4Addr::from(*source_host).to_string(),
                "target_host": Ipv4Addr::from(*target_host).to_string(),
                "validate_active": validate_active, "validate_inactive": validate_inactive,
                "send_always": send_always});
            if let Some(v) = vlanid {
                o["vlanid"] = json!(v);
            }
            o
        }
        Watch::NsnaPing {
            interval,
            init_wait,
            missed_max,
            target_host,
        } => json!({"name": "nsna_ping", "interval": interval, "init_wait": init_wait,
            "missed_max": missed_max, "target_host": Ipv6Addr::from(*target_host).to_string()}),
    }
}

fn port_cfg_json(p: &PortConfig, runner: RunnerName) -> Value {
    let mut o = json!({"prio": p.prio, "sticky": p.sticky, "queue_id": p.queue_id});
    if runner == RunnerName::Lacp {
        o["lacp_prio"] = json!(p.lacp_prio);
        o["lacp_key"] = json!(p.lacp_key);
    }
    if let Some(w) = &p.link_watch {
        o["link_watch"] = Value::Array(w.iter().map(watch_json).collect());
    }
    o
}

/// The configuration with every default filled in and the ports actually
/// in the team (`config dump actual`).
fn actual_config(g: &Graph, id: IfId, t: &Team) -> Value {
    let c = &t.cfg;
    let mut runner = json!({"name": c.runner.name()});
    match c.runner {
        RunnerName::ActiveBackup => runner["hwaddr_policy"] = json!(c.hwaddr_policy.name()),
        RunnerName::LoadBalance | RunnerName::Lacp => {
            runner["tx_hash"] = json!(c.tx_hash);
            if let Some(iv) = c.tx_balancer {
                runner["tx_balancer"] = json!({"name": "basic", "balancing_interval": iv});
            }
            if c.runner == RunnerName::Lacp {
                runner["active"] = json!(c.lacp_active);
                runner["fast_rate"] = json!(c.fast_rate);
                runner["sys_prio"] = json!(c.sys_prio);
                runner["min_ports"] = json!(c.min_ports);
                runner["agg_select_policy"] = json!(c.agg_select_policy.name());
            }
        }
        _ => {}
    }
    let mut ports = Map::new();
    for p in &t.ports {
        ports.insert(p.name.clone(), port_cfg_json(&p.cfg, c.runner));
    }
    json!({
        "device": g.iface(id).name,
        "hwaddr": t.mac.to_string(),
        "debug_level": c.debug_level,
        "runner": runner,
        "link_watch": c.link_watch.iter().map(watch_json).collect::<Vec<_>>(),
        "link_watch_policy": if c.watch_all { "all" } else { "any" },
        "notify_peers": {"count": c.notify_peers.count, "interval": c.notify_peers.interval},
        "mcast_rejoin": {"count": c.mcast_rejoin.count, "interval": c.mcast_rejoin.interval},
        "ports": ports,
    })
}

fn ifinfo(g: &Graph, id: IfId, mac: crate::wire::Mac) -> Value {
    let f = g.iface(id);
    json!({"dev_addr": mac.to_string(), "dev_addr_len": 6, "ifindex": f.ifindex, "ifname": f.name})
}

/// teamd's state document (`state dump`).
pub fn state_json(g: &Graph, id: IfId, t: &Team) -> Value {
    let mut ports = Map::new();
    for (k, p) in t.ports.iter().enumerate() {
        let mut list = Map::new();
        for (i, w) in p.watchers.iter().enumerate() {
            let mut o = watch_json(&w.watch);
            o["up"] = json!(w.up);
            o["down_count"] = json!(p.link_changes);
            if !matches!(w.watch, Watch::Ethtool { .. }) {
                o["missed"] = json!(w.missed);
            }
            list.insert(format!("link_watch_{i}"), o);
        }
        let mut port = json!({
            "ifinfo": ifinfo(g, p.ifid, p.mac),
            "link": {"duplex": if p.full_duplex { "full" } else { "half" }, "speed": p.speed_mbps, "up": p.dev_up},
            "link_watches": {"list": list, "up": p.link_up},
        });
        if let Some(l) = &t.lacp {
            if let Some(lp) = l.ports.get(k) {
                let agg = l.port_agg(k);
                let sel = agg.is_some_and(|a| a.is_active);
                let info = |sp: u16, sys: crate::wire::Mac, key: u16, pp: u16, pn: u16, st: u8| {
                    json!({"system_priority": sp, "system": sys.to_string(), "key": key,
                        "port_priority": pp, "port": pn, "state": st})
                };
                let po = &lp.partner_oper;
                port["runner"] = json!({
                    "selected": sel,
                    "aggregator": {"id": agg.map_or(0, |a| a.id), "selected": sel},
                    "state": if p.enabled { "current" } else if lp.rx_state == crate::lacp::RxState::Defaulted { "defaulted" } else if lp.rx_state == crate::lacp::RxState::Expired { "expired" } else { "disabled" },
                    "key": lp.actor_oper_key,
                    "prio": lp.actor_port_priority,
                    "actor_lacpdu_info": info(lp.actor_system_priority, lp.actor_system, lp.actor_oper_key, lp.actor_port_priority, lp.number, lp.actor_oper_state),
                    "partner_lacpdu_info": info(po.system_priority, po.system, po.key, po.port_priority, po.port, po.state),
                });
            }
        }
        ports.insert(p.name.clone(), port);
    }
    let mut runner = Map::new();
    match t.cfg.runner {
        RunnerName::ActiveBackup => {
            let name = t
                .active
                .and_then(|a| t.port(a))
                .map_or("", |p| p.name.as_str());
            runner.insert("active_port".into(), json!(name));
        }
        RunnerName::Lacp => {
            runner.insert("active".into(), json!(t.cfg.lacp_active));
            runner.insert("fast_rate".into(), json!(t.cfg.fast_rate));
            runner.insert("sys_prio".into(), json!(t.cfg.sys_prio));
            runner.insert(
                "select_policy".into(),
                json!(t.cfg.agg_select_policy.name()),
            );
        }
        _ => {}
    }
    let mode = match t.cfg.runner {
        RunnerName::Lacp => "loadbalance",
        r => r.name(),
    };
    let mut v = json!({
        "setup": {"daemonized": false, "dbus_enabled": t.dbus, "debug_level": t.cfg.debug_level,
            "kernel_team_mode_name": mode, "pid": 0, "pid_file": "", "runner_name": t.cfg.runner.name(),
            "zmq_enabled": t.cfg.zmq.is_some()},
        "team_device": {"ifinfo": ifinfo(g, id, t.mac)},
    });
    if !ports.is_empty() {
        v["ports"] = Value::Object(ports);
    }
    if !runner.is_empty() {
        v["runner"] = Value::Object(runner);
    }
    v
}

/// teamdctl's `state view`, from the state document.
pub fn state_view(state: &Value) -> String {
    let mut s = String::new();
    let runner = state["setup"]["runner_name"].as_str().unwrap_or("");
    let _ = writeln!(s, "setup:\n  runner: {runner}");
    let updown = |b: &Value| {
        if b.as_bool() == Some(true) {
            "up"
        } else {
            "down"
        }
    };
    let yesno = |b: &Value| {
        if b.as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
    };
    if let Some(ports) = state["ports"].as_object() {
        s.push_str("ports:\n");
        for (name, p) in ports {
            let lw = &p["link_watches"];
            let _ = writeln!(
                s,
                "  {name}\n    link watches:\n      link summary: {}",
                updown(&lw["up"])
            );
            if let Some(list) = lw["list"].as_object() {
                for (key, w) in list {
                    let _ = writeln!(
                        s,
                        "      instance[{key}]:\n        name: {}\n        link: {}\n        down count: {}",
                        w["name"].as_str().unwrap_or(""),
                        updown(&w["up"]),
                        w["down_count"]
                    );
                }
            }
            let r = &p["runner"];
            if runner == "lacp" && r.is_object() {
                let sel = if r["aggregator"]["selected"].as_bool() == Some(true) {
                    ", Selected"
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    "    runner:\n      aggregator ID: {}{sel}\n      selected: {}\n      state: {}",
                    r["aggregator"]["id"],
                    yesno(&r["selected"]),
                    r["state"].as_str().unwrap_or("")
                );
            }
        }
    }
    let r = &state["runner"];
    if runner == "activebackup" {
        let _ = writeln!(
            s,
            "runner:\n  active port: {}",
            r["active_port"].as_str().unwrap_or("")
        );
    }
    if runner == "lacp" {
        let _ = writeln!(
            s,
            "runner:\n  active: {}\n  fast rate: {}",
            yesno(&r["active"]),
            yesno(&r["fast_rate"])
        );
    }
    s
}

fn get_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

pub fn apply(
    g: &mut Graph,
    now: Instant,
    team: &str,
    c: &TeamctlCmd,
    opts: Opts,
) -> Result<String, CmdError> {
    let cmd = format!("teamctl {team}");
    let (id, t) = team_of(g, &cmd, team)?;
    Ok(match c {
        TeamctlCmd::ConfigDump { noports, actual } => {
            let mut v = if *actual {
                actual_config(g, id, t)
            } else {
                t.cfg.json.clone()
            };
            if let Some(m) = v.as_object_mut() {
                // teamd's configuration always names its device (teamdctl
                // reads it from there).
                m.entry("device").or_insert_with(|| team.into());
                if *noports {
                    m.remove("ports");
                }
            }
            dump(&v)
        }
        TeamctlCmd::StateDump => dump(&state_json(g, id, t)),
        TeamctlCmd::StateView => {
            let st = state_json(g, id, t);
            if opts.json {
                super::to_json(st)
            } else {
                state_view(&st)
            }
        }
        TeamctlCmd::PortPresent(d) => {
            if t.port_by_name(d).is_none() {
                return Err(err(&cmd, format!("port \"{d}\" is not in {team}")));
            }
            String::new()
        }
        TeamctlCmd::PortConfigDump(d) => {
            let Some(p) = t.port_by_name(d) else {
                return Err(err(&cmd, format!("port \"{d}\" is not in {team}")));
            };
            dump(&port_cfg_json(&p.cfg, t.cfg.runner))
        }
        TeamctlCmd::ItemGet(path) => {
            let st = state_json(g, id, t);
            match get_path(&st, path) {
                Some(Value::String(s)) => format!("{s}\n"),
                Some(v) if !v.is_object() && !v.is_array() => format!("{v}\n"),
                _ => {
                    return Err(err(
                        &cmd,
                        format!(
                            "state item \"{path}\" not found (try 'teamctl {team} state dump')"
                        ),
                    ))
                }
            }
        }
        TeamctlCmd::PortAdd(d) => {
            let dev = lookup(g, &cmd, d)?;
            g.enslave(now, dev, id)
                .map_err(|e| super::graph_err(&cmd, e))?;
            String::new()
        }
        TeamctlCmd::PortRemove(d) => {
            let dev = lookup(g, &cmd, d)?;
            if g.iface(dev).master != Some(id) {
                return Err(err(&cmd, format!("port \"{d}\" is not in {team}")));
            }
            g.release(now, dev).map_err(|e| super::graph_err(&cmd, e))?;
            String::new()
        }
        TeamctlCmd::PortConfigUpdate(d, text) => {
            let Some(pid) = t.port_by_name(d).map(|p| p.id) else {
                return Err(err(&cmd, format!("port \"{d}\" is not in {team}")));
            };
            let v: Value = serde_json::from_str(text)
                .map_err(|e| err(&cmd, format!("port config: not JSON: {e}")))?;
            let pc = config::parse_port(&format!("$.ports.{d}"), &v)
                .map_err(|e| err(&cmd, e.to_string()))?;
            let t = g.iface_mut(id).team_mut().expect("checked");
            t.update_port_config(now, pid, pc);
            g.after_lag_change(now, id);
            String::new()
        }
        TeamctlCmd::ItemSet(path, value) => {
            let t = g.iface_mut(id).team_mut().expect("checked");
            match path.split('.').collect::<Vec<_>>().as_slice() {
                ["setup", "debug_level"] => {
                    t.cfg.debug_level = value
                        .parse()
                        .map_err(|_| err(&cmd, format!("debug_level \"{value}\" is not a number")))?;
                }
                ["runner", "active_port"] => {
                    if t.cfg.runner != RunnerName::ActiveBackup {
                        return Err(err(&cmd, "runner.active_port is set on the activebackup runner only"));
                    }
                    if !t.set_active_port(now, value) {
                        return Err(err(&cmd, format!("port \"{value}\" is not in {team}")));
                    }
                }
                ["ports", port, "runner", "aggregator", "selected"] => {
                    if value != "true" {
                        return Err(err(&cmd, "only \"true\" can be set: it selects the port's aggregator"));
                    }
                    if t.cfg.runner != RunnerName::Lacp {
                        return Err(err(&cmd, "aggregators exist on the lacp runner only"));
                    }
                    if !t.select_aggregator_of(now, port) {
                        return Err(err(&cmd, format!("port \"{port}\" is not in {team}")));
                    }
                }
                _ => {
                    return Err(err(
                        &cmd,
                        format!("state item \"{path}\" cannot be set (settable: setup.debug_level, runner.active_port, ports.PORT.runner.aggregator.selected)"),
                    ))
                }
            }
            g.after_lag_change(now, id);
            String::new()
        }
    })
}

/// A team added with `link add`.
pub fn new_team(cfg: TeamConfig, mac: crate::wire::Mac) -> Kind {
    Kind::Team(Box::new(Team::new(cfg, mac)))
}
