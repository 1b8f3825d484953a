//! teamd's JSON configuration (teamd.conf(5)), accepted verbatim.
//!
//! Every key teamd reads is read here with teamd's default; a key teamd
//! does not know, or a value of the wrong type or out of teamd's range, is
//! refused with its JSON path (`$.ports.eth1.prio`) and what was expected.
//! Nothing is half-applied: parsing builds a new [`TeamConfig`] or fails.

use serde_json::{Map, Value};

use crate::wire::Mac;

/// `runner.name`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunnerName {
    Broadcast,
    #[default]
    RoundRobin,
    Random,
    ActiveBackup,
    LoadBalance,
    Lacp,
}

impl RunnerName {
    pub fn name(self) -> &'static str {
        match self {
            RunnerName::Broadcast => "broadcast",
            RunnerName::RoundRobin => "roundrobin",
            RunnerName::Random => "random",
            RunnerName::ActiveBackup => "activebackup",
            RunnerName::LoadBalance => "loadbalance",
            RunnerName::Lacp => "lacp",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "broadcast" => RunnerName::Broadcast,
            "roundrobin" => RunnerName::RoundRobin,
            "random" => RunnerName::Random,
            "activebackup" => RunnerName::ActiveBackup,
            "loadbalance" => RunnerName::LoadBalance,
            "lacp" => RunnerName::Lacp,
            _ => return None,
        })
    }
    /// Runners that hash frames to ports (`tx_hash`, `tx_balancer`).
    pub fn hashes(self) -> bool {
        matches!(self, RunnerName::LoadBalance | RunnerName::Lacp)
    }
}

/// `runner.hwaddr_policy` (activebackup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HwaddrPolicy {
    #[default]
    SameAll,
    ByActive,
    OnlyActive,
}

impl HwaddrPolicy {
    pub fn name(self) -> &'static str {
        match self {
            HwaddrPolicy::SameAll => "same_all",
            HwaddrPolicy::ByActive => "by_active",
            HwaddrPolicy::OnlyActive => "only_active",
        }
    }
}

/// `runner.agg_select_policy` (lacp).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AggSelectPolicy {
    #[default]
    LacpPrio,
    LacpPrioStable,
    Bandwidth,
    Count,
    PortConfig,
}

impl AggSelectPolicy {
    pub const NAMES: [&'static str; 5] = [
        "lacp_prio",
        "lacp_prio_stable",
        "bandwidth",
        "count",
        "port_config",
    ];
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// One `tx_hash` fragment (teamd_hash_func.c).
pub const HASH_FRAGS: [&str; 10] = [
    "eth", "vlan", "ipv4", "ipv6", "ip", "l3", "l4", "tcp", "udp", "sctp",
];

/// What one link watcher does, with teamd's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Carrier, with delays in ms.
    Ethtool { delay_up: u32, delay_down: u32 },
    /// ARP requests to `target_host` from `source_host`.
    ArpPing {
        interval: u32,
        init_wait: u32,
        missed_max: u32,
        source_host: [u8; 4],
        target_host: [u8; 4],
        validate_active: bool,
        validate_inactive: bool,
        vlanid: Option<u16>,
        send_always: bool,
    },
    /// IPv6 neighbour solicitations for `target_host`.
    NsnaPing {
        interval: u32,
        init_wait: u32,
        missed_max: u32,
        target_host: [u8; 16],
    },
}

impl Watch {
    pub fn name(&self) -> &'static str {
        match self {
            Watch::Ethtool { .. } => "ethtool",
            Watch::ArpPing { .. } => "arp_ping",
            Watch::NsnaPing { .. } => "nsna_ping",
        }
    }
}

/// `ports.<if>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    pub prio: i32,
    pub sticky: bool,
    pub queue_id: u16,
    pub lacp_prio: u16,
    pub lacp_key: u16,
    /// Replaces the team's `link_watch` for this port.
    pub link_watch: Option<Vec<Watch>>,
    /// The object as given (for `port config dump`).
    pub json: Value,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            prio: 0,
            sticky: false,
            queue_id: 0,
            lacp_prio: 255,
            lacp_key: 0,
            link_watch: None,
            json: Value::Object(Map::new()),
        }
    }
}

/// `notify_peers` / `mcast_rejoin`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repeat {
    pub count: u32,
    /// ms.
    pub interval: u32,
}

/// A whole teamd configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamConfig {
    pub device: Option<String>,
    pub hwaddr: Option<Mac>,
    pub debug_level: u32,
    pub runner: RunnerName,
    pub hwaddr_policy: HwaddrPolicy,
    pub tx_hash: Vec<&'static str>,
    /// `tx_balancer` `basic`, with its `balancing_interval` in tenths of a
    /// second.
    pub tx_balancer: Option<u32>,
    pub lacp_active: bool,
    pub fast_rate: bool,
    pub sys_prio: u16,
    pub min_ports: u32,
    pub agg_select_policy: AggSelectPolicy,
    pub link_watch: Vec<Watch>,
    /// `link_watch_policy` `all` (else `any`).
    pub watch_all: bool,
    pub notify_peers: Repeat,
    pub mcast_rejoin: Repeat,
    /// In the order given.
    pub ports: Vec<(String, PortConfig)>,
    /// The document as given (`config dump`).
    pub json: Value,
    /// teamd's ZeroMQ control endpoint (`teamd -Z ADDRESS`; the link
    /// option `zmq ADDRESS`): a command-line setting, not part of the
    /// document.
    pub zmq: Option<String>,
}

impl Default for TeamConfig {
    fn default() -> Self {
        TeamConfig::parse("{}").expect("the empty configuration is valid")
    }
}

/// A configuration teamd would not take, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct ConfigError {
    pub path: String,
    pub msg: String,
}

fn err<T>(path: &str, msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        path: path.to_string(),
        msg: msg.into(),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An object's keys, each checked against what may be there.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(path: &str, v: &'a Value) -> Result<Self, ConfigError> {
        match v {
            Value::Object(map) => Ok(Obj {
                path: path.to_string(),
                map,
            }),
            other => err(path, format!("expected an object, found {}", kind(other))),
        }
    }
    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
    /// Refuses keys outside `allowed`.
    fn only(&self, allowed: &[&str], what: &str) -> Result<(), ConfigError> {
        for k in self.map.keys() {
            if !allowed.contains(&k.as_str()) {
                return err(
                    &self.at(k),
                    format!("unknown key for {what} (known: {})", allowed.join(", ")),
                );
            }
        }
        Ok(())
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }
    fn bool(&self, key: &str, dflt: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(dflt),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => err(
                &self.at(key),
                format!("expected true or false, found {}", kind(v)),
            ),
        }
    }
    fn int(&self, key: &str, dflt: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
        match self.get(key) {
            None => Ok(dflt),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Ok(i),
                _ => err(
                    &self.at(key),
                    format!("{n} is out of range (an integer from {min} to {max})"),
                ),
            },
            Some(v) => err(
                &self.at(key),
                format!("expected an integer from {min} to {max}, found {}", kind(v)),
            ),
        }
    }
    fn str(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => err(
                &self.at(key),
                format!("expected a string, found {}", kind(v)),
            ),
        }
    }
    fn choice<T: Copy>(
        &self,
        key: &str,
        dflt: T,
        names: &[&str],
        values: &[T],
    ) -> Result<T, ConfigError> {
        match self.str(key)? {
            None => Ok(dflt),
            Some(s) => match names.iter().position(|n| *n == s) {
                Some(i) => Ok(values[i]),
                None => err(
                    &self.at(key),
                    format!("\"{s}\" is not one of {}", names.join(", ")),
                ),
            },
        }
    }
}

fn u32_of(i: i64) -> u32 {
    u32::try_from(i).expect("range checked")
}

const WATCH_KEYS: [&str; 3] = ["ethtool", "arp_ping", "nsna_ping"];

fn parse_watch(path: &str, v: &Value) -> Result<Watch, ConfigError> {
    let o = Obj::new(path, v)?;
    let name = match o.str("name")? {
        Some(n) => n,
        None => return err(&o.at("name"), "a link watcher needs a name"),
    };
    const MS: i64 = i32::MAX as i64;
    Ok(match name {
        "ethtool" => {
            o.only(&["name", "delay_up", "delay_down"], "the ethtool link watcher")?;
            Watch::Ethtool {
                delay_up: u32_of(o.int("delay_up", 0, 0, MS)?),
                delay_down: u32_of(o.int("delay_down", 0, 0, MS)?),
            }
        }
        "arp_ping" => {
            o.only(
                &[
                    "name",
                    "interval",
                    "init_wait",
                    "missed_max",
                    "source_host",
                    "target_host",
                    "validate_active",
                    "validate_inactive",
                    "vlanid",
                    "send_always",
                ],
                "the arp_ping link watcher",
            )?;
            let ip = |key: &str, required: bool| -> Result<[u8; 4], ConfigError> {
                match o.str(key)? {
                    None if required => err(&o.at(key), "arp_ping needs a target_host"),
                    None => Ok([0; 4]),
                    Some(s) => match s.parse::<core::net::Ipv4Addr>() {
                        Ok(a) => Ok(a.octets()),
                        Err(_) => err(&o.at(key), format!("\"{s}\" is not an IPv4 address")),
                    },
                }
            };
            Watch::ArpPing {
                interval: u32_of(o.int("interval", 1000, 0, MS)?),
                init_wait: u32_of(o.int("init_wait", 0, 0, MS)?),
                missed_max: u32_of(o.int("missed_max", 3, 0, MS)?),
                source_host: ip("source_host", false)?,
                target_host: ip("target_host", true)?,
                validate_active: o.bool("validate_active", false)?,
                validate_inactive: o.bool("validate_inactive", false)?,
                vlanid: match o.get("vlanid") {
                    None => None,
                    Some(_) => Some(o.int("vlanid", 0, 0, 4095)? as u16),
                },
                send_always: o.bool("send_always", false)?,
            }
        }
        "nsna_ping" => {
            o.only(
                &["name", "interval", "init_wait", "missed_max", "target_host"],
                "the nsna_ping link watcher",
            )?;
            let target = match o.str("target_host")? {
                None => return err(&o.at("target_host"), "nsna_ping needs a target_host"),
                Some(s) => match s.parse::<core::net::Ipv6Addr>() {
                    Ok(a) => a.octets(),
                    Err(_) => {
                        return err(&o.at("target_host"), format!("\"{s}\" is not an IPv6 address"))
                    }
                },
            };
            Watch::NsnaPing {
                interval: u32_of(o.int("interval", 1000, 0, MS)?),
                init_wait: u32_of(o.int("init_wait", 0, 0, MS)?),
                missed_max: u32_of(o.int("missed_max", 3, 0, MS)?),
                target_host: target,
            }
        }
        "tipc" => {
            return err(
                &o.at("name"),
                "the tipc link watcher is not supported by patchbay (no TIPC); use ethtool, arp_ping or nsna_ping",
            )
        }
        other => {
            return err(
                &o.at("name"),
                format!("\"{other}\" is not a link watcher ({})", WATCH_KEYS.join(", ")),
            )
        }
    })
}

/// `link_watch`: an object or an array of them.
fn parse_watches(path: &str, v: &Value) -> Result<Vec<Watch>, ConfigError> {
    match v {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, w)| parse_watch(&format!("{path}[{i}]"), w))
            .collect(),
        other => Ok(vec![parse_watch(path, other)?]),
    }
}

fn parse_repeat(o: &Obj<'_>, key: &str, count: u32) -> Result<Repeat, ConfigError> {
    let Some(v) = o.get(key) else {
        return Ok(Repeat { count, interval: 0 });
    };
    let r = Obj::new(&o.at(key), v)?;
    r.only(&["count", "interval"], key)?;
    Ok(Repeat {
        count: u32_of(r.int("count", i64::from(count), 0, 255)?),
        interval: u32_of(r.int("interval", 0, 0, i64::from(i32::MAX))?),
    })
}

/// One `ports.<if>` object.
pub fn parse_port(path: &str, v: &Value) -> Result<PortConfig, ConfigError> {
    let o = Obj::new(path, v)?;
    o.only(
        &[
            "prio",
            "sticky",
            "queue_id",
            "lacp_prio",
            "lacp_key",
            "link_watch",
        ],
        "a port",
    )?;
    Ok(PortConfig {
        prio: o.int("prio", 0, i64::from(i32::MIN), i64::from(i32::MAX))? as i32,
        sticky: o.bool("sticky", false)?,
        queue_id: o.int("queue_id", 0, 0, 65535)? as u16,
        lacp_prio: o.int("lacp_prio", 255, 0, 65535)? as u16,
        lacp_key: o.int("lacp_key", 0, 0, 65535)? as u16,
        link_watch: o
            .get("link_watch")
            .map(|w| parse_watches(&o.at("link_watch"), w))
            .transpose()?,
        json: v.clone(),
    })
}

impl TeamConfig {
    /// Parses teamd's JSON.
    pub fn parse(text: &str) -> Result<TeamConfig, ConfigError> {
        let v: Value = serde_json::from_str(text).or_else(|e| {
            err(
                "$",
                format!("not JSON: {e} (give teamd's configuration, e.g. '{{\"runner\": {{\"name\": \"activebackup\"}}}}')"),
            )
        })?;
        Self::from_value(v)
    }

    pub fn from_value(v: Value) -> Result<TeamConfig, ConfigError> {
        let o = Obj::new("$", &v)?;
        o.only(
            &[
                "device",
                "hwaddr",
                "debug_level",
                "runner",
                "link_watch",
                "link_watch_policy",
                "notify_peers",
                "mcast_rejoin",
                "ports",
            ],
            "a team",
        )?;
        let hwaddr = match o.str("hwaddr")? {
            None => None,
            Some(s) => match s.parse::<Mac>() {
                Ok(m) if m.is_valid_source() => Some(m),
                _ => {
                    return err(
                        &o.at("hwaddr"),
                        format!("\"{s}\" is not a unicast MAC address"),
                    )
                }
            },
        };
        let empty = Value::Object(Map::new());
        let rv = o.get("runner").unwrap_or(&empty);
        let r = Obj::new(&o.at("runner"), rv)?;
        let runner = match r.str("name")? {
            None => RunnerName::RoundRobin,
            Some(s) => match RunnerName::parse(s) {
                Some(n) => n,
                None => {
                    return err(
                        &r.at("name"),
                        format!(
                            "\"{s}\" is not a runner (broadcast, roundrobin, random, activebackup, loadbalance, lacp)"
                        ),
                    )
                }
            },
        };
        let mut allowed = vec!["name"];
        match runner {
            RunnerName::ActiveBackup => allowed.push("hwaddr_policy"),
            RunnerName::LoadBalance => allowed.extend(["tx_hash", "tx_balancer"]),
            RunnerName::Lacp => allowed.extend([
                "tx_hash",
                "tx_balancer",
                "active",
                "fast_rate",
                "sys_prio",
                "min_ports",
                "agg_select_policy",
            ]),
            _ => {}
        }
        r.only(&allowed, &format!("the {} runner", runner.name()))?;
        let hwaddr_policy = r.choice(
            "hwaddr_policy",
            HwaddrPolicy::SameAll,
            &["same_all", "by_active", "only_active"],
            &[
                HwaddrPolicy::SameAll,
                HwaddrPolicy::ByActive,
                HwaddrPolicy::OnlyActive,
            ],
        )?;
        let tx_hash = match r.get("tx_hash") {
            None => vec!["eth", "ipv4", "ipv6"],
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (i, f) in a.iter().enumerate() {
                    let p = format!("{}[{i}]", r.at("tx_hash"));
                    let Value::String(s) = f else {
                        return err(&p, format!("expected a string, found {}", kind(f)));
                    };
                    match HASH_FRAGS.iter().find(|h| **h == s) {
                        Some(h) => out.push(*h),
                        None => {
                            return err(
                                &p,
                                format!(
                                    "\"{s}\" is not a hash fragment ({})",
                                    HASH_FRAGS.join(", ")
                                ),
                            )
                        }
                    }
                }
                out
            }
            Some(v) => {
                return err(
                    &r.at("tx_hash"),
                    format!("expected an array of strings, found {}", kind(v)),
                )
            }
        };
        let tx_balancer = match r.get("tx_balancer") {
            None => None,
            Some(v) => {
                let b = Obj::new(&r.at("tx_balancer"), v)?;
                b.only(&["name", "balancing_interval"], "tx_balancer")?;
                let basic = match b.str("name")? {
                    None | Some("basic") => true,
                    Some("none") => false,
                    Some(s) => {
                        return err(&b.at("name"), format!("\"{s}\" is not a balancer (basic)"))
                    }
                };
                let iv = u32_of(b.int("balancing_interval", 50, 0, i64::from(i32::MAX))?);
                basic.then_some(iv)
            }
        };
        let link_watch = match o.get("link_watch") {
            None => vec![Watch::Ethtool {
                delay_up: 0,
                delay_down: 0,
            }],
            Some(w) => parse_watches(&o.at("link_watch"), w)?,
        };
        let watch_all = o.choice("link_watch_policy", false, &["any", "all"], &[false, true])?;
        let ab = u32::from(runner == RunnerName::ActiveBackup);
        let notify_peers = parse_repeat(&o, "notify_peers", ab)?;
        let mcast_rejoin = parse_repeat(&o, "mcast_rejoin", ab)?;
        let mut ports = Vec::new();
        if let Some(pv) = o.get("ports") {
            let p = Obj::new(&o.at("ports"), pv)?;
            for (name, v) in p.map {
                if name.is_empty() || name.len() > 15 {
                    return err(&p.at(name), "not an interface name (1 to 15 characters)");
                }
                ports.push((name.clone(), parse_port(&p.at(name), v)?));
            }
        }
        Ok(TeamConfig {
            zmq: None,
            device: o.str("device")?.map(str::to_string),
            hwaddr,
            debug_level: u32_of(o.int("debug_level", 0, 0, i64::from(i32::MAX))?),
            runner,
            hwaddr_policy,
            tx_hash,
            tx_balancer,
            lacp_active: r.bool("active", true)?,
            fast_rate: r.bool("fast_rate", false)?,
            sys_prio: r.int("sys_prio", 65535, 0, 65535)? as u16,
            min_ports: u32_of(r.int("min_ports", 1, 1, 1024)?),
            agg_select_policy: r.choice(
                "agg_select_policy",
                AggSelectPolicy::LacpPrio,
                &AggSelectPolicy::NAMES,
                &[
                    AggSelectPolicy::LacpPrio,
                    AggSelectPolicy::LacpPrioStable,
                    AggSelectPolicy::Bandwidth,
                    AggSelectPolicy::Count,
                    AggSelectPolicy::PortConfig,
                ],
            )?,
            link_watch,
            watch_all,
            notify_peers,
            mcast_rejoin,
            ports,
            json: v.clone(),
        })
    }

    /// The port's settings (defaults for a port the configuration does not
    /// name).
    pub fn port(&self, name: &str) -> PortConfig {
        self.ports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }

    /// The watchers that run on a port.
    pub fn watches(&self, name: &str) -> Vec<Watch> {
        self.port(name)
            .link_watch
            .unwrap_or_else(|| self.link_watch.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // teamd/example_configs from libteam, as written (tabs and all).
    const AB_ETHTOOL_1: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	{"name": "ethtool"},
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const AB_ETHTOOL_3: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	{
		"name": "ethtool",
		"delay_up": 2500,
		"delay_down": 1000
	},
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const AB_ARP_PING_1: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	{
		"name": "arp_ping",
		"interval": 100,
		"missed_max": 30,
		"source_host": "192.168.23.2",
		"target_host": "192.168.23.1"
	},
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const AB_ETHTOOL_2: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	{"name": "ethtool"},
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true,
			"queue_id": 4
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const AB_MULTI_LW_1: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	[
		{
		"name": "arp_ping",
		"interval": 100,
		"missed_max": 30,
		"source_host": "192.168.23.2",
		"target_host": "192.168.23.1"
		},
		{
		"name": "arp_ping",
		"interval": 50,
		"missed_max": 20,
		"source_host": "192.168.24.2",
		"target_host": "192.168.24.1"
		}
	],
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const LB_2: &str = r#"{
	"device":		"team0",
	"runner": {
		"name": "loadbalance",
		"tx_hash": ["eth", "ipv4", "ipv6"]
	},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const RR: &str = r#"{
	"device":		"team0",
	"runner":		{"name": "roundrobin"},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const AB_ARP_PING_2: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	{
		"name": "arp_ping",
		"interval": 100,
		"missed_max": 30,
		"source_host": "192.168.23.2",
		"target_host": "192.168.23.1"
	},
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"link_watch":	{
				"name": "arp_ping",
				"interval": 100,
				"missed_max": 0,
				"source_host": "192.168.23.2",
				"target_host": "192.168.23.1"
			},
			"prio": 100
		}
	}
}"#;
    const AB_MULTI_LW_2: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch_policy": "all",
	"link_watch":	[
		{
		"name": "arp_ping",
		"interval": 100,
		"missed_max": 30,
		"target_host": "192.168.23.1"
		},
		{
		"name": "ethtool"
		}
	],
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const AB_NSNA: &str = r#"{
	"device":	"team0",
	"runner":	{"name": "activebackup"},
	"link_watch":	{
		"name": "nsna_ping",
		"interval": 200,
		"missed_max": 15,
		"target_host": "fe80::210:18ff:feaa:bbcc"
	},
	"ports":	{
		"eth1": {
			"prio": -10,
			"sticky": true
		},
		"eth2": {
			"prio": 100
		}
	}
}"#;
    const BROADCAST: &str = r#"{
	"device":		"team0",
	"runner":		{"name": "broadcast"},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const LACP_1: &str = r#"{
	"device":		"team0",
	"runner": {
		"name": "lacp",
		"active": true,
		"fast_rate": true,
		"tx_hash": ["eth", "ipv4", "ipv6"]
	},
	"link_watch":		{"name": "ethtool"},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const LB_3: &str = r#"{
	"device":		"team0",
	"runner": {
		"name": "loadbalance",
		"tx_hash": ["eth", "ipv4", "ipv6"],
		"tx_balancer": {
			"name": "basic"
		}
	},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const LB_1: &str = r#"{
	"device":		"team0",
	"runner":		{"name": "loadbalance"},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const RR_2: &str = r#"{
	"device":		"team0",
	"runner":		{"name": "roundrobin"},
	"link_watch":	{
		"name": "arp_ping",
		"interval": 1000,
		"missed_max": 2,
		"source_host": "192.168.23.2",
		"target_host": "192.168.23.1"
	},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;
    const RANDOM: &str = r#"{
	"device":		"team0",
	"runner":		{"name": "random"},
	"ports":		{"eth1": {}, "eth2": {}}
}"#;

    #[test]
    fn teamds_example_configs_are_accepted_as_written() {
        let c = TeamConfig::parse(AB_ETHTOOL_1).unwrap();
        assert_eq!(c.runner, RunnerName::ActiveBackup);
        assert_eq!(c.port("eth1").prio, -10);
        assert!(c.port("eth1").sticky);
        assert_eq!(c.port("eth2").prio, 100);
        assert_eq!(c.notify_peers.count, 1, "activebackup notifies once");
        let c = TeamConfig::parse(AB_ETHTOOL_3).unwrap();
        assert_eq!(
            c.link_watch,
            vec![Watch::Ethtool {
                delay_up: 2500,
                delay_down: 1000
            }]
        );
        let c = TeamConfig::parse(AB_ARP_PING_2).unwrap();
        let Watch::ArpPing {
            interval,
            missed_max,
            source_host,
            target_host,
            ..
        } = c.watches("eth1")[0]
        else {
            panic!("arp_ping")
        };
        assert_eq!(
            (interval, missed_max, source_host, target_host),
            (100, 30, [192, 168, 23, 2], [192, 168, 23, 1])
        );
        let Watch::ArpPing { missed_max, .. } = c.watches("eth2")[0] else {
            panic!("arp_ping")
        };
        assert_eq!(missed_max, 0, "eth2's own watcher");
        let c = TeamConfig::parse(AB_MULTI_LW_2).unwrap();
        assert!(c.watch_all);
        assert_eq!(c.link_watch.len(), 2);
        assert_eq!(c.link_watch[1].name(), "ethtool");
        let c = TeamConfig::parse(AB_NSNA).unwrap();
        assert_eq!(c.link_watch[0].name(), "nsna_ping");
        let c = TeamConfig::parse(BROADCAST).unwrap();
        assert_eq!(c.runner, RunnerName::Broadcast);
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.notify_peers.count, 0);
        let c = TeamConfig::parse(LACP_1).unwrap();
        assert!(c.fast_rate && c.lacp_active);
        assert_eq!((c.sys_prio, c.min_ports), (65535, 1));
        assert_eq!(c.port("eth1").lacp_prio, 255);
        let c = TeamConfig::parse(LB_3).unwrap();
        assert_eq!(c.tx_balancer, Some(50));
        let c = TeamConfig::parse(LB_1).unwrap();
        assert_eq!(c.tx_hash, vec!["eth", "ipv4", "ipv6"]);
        assert_eq!(c.tx_balancer, None);
        let c = TeamConfig::parse(RR_2).unwrap();
        assert_eq!(c.runner, RunnerName::RoundRobin);
        let c = TeamConfig::parse(RANDOM).unwrap();
        assert_eq!(c.runner, RunnerName::Random);
        let c = TeamConfig::parse(AB_ARP_PING_1).unwrap();
        assert_eq!(c.watches("eth2")[0].name(), "arp_ping");
        let c = TeamConfig::parse(AB_ETHTOOL_2).unwrap();
        assert_eq!(c.port("eth1").queue_id, 4);
        let c = TeamConfig::parse(AB_MULTI_LW_1).unwrap();
        assert_eq!(c.link_watch.len(), 2);
        assert!(!c.watch_all, "any by default");
        let c = TeamConfig::parse(LB_2).unwrap();
        assert_eq!(c.runner, RunnerName::LoadBalance);
        let c = TeamConfig::parse(RR).unwrap();
        assert_eq!(c.runner, RunnerName::RoundRobin);
    }

    #[test]
    fn defaults_are_teamds() {
        let c = TeamConfig::parse("{}").unwrap();
        assert_eq!(c.runner, RunnerName::RoundRobin);
        assert_eq!(
            c.link_watch,
            vec![Watch::Ethtool {
                delay_up: 0,
                delay_down: 0
            }]
        );
        assert!(!c.watch_all);
        assert_eq!(c.hwaddr_policy, HwaddrPolicy::SameAll);
        assert_eq!(c.agg_select_policy, AggSelectPolicy::LacpPrio);
        let c = TeamConfig::parse(
            r#"{"link_watch": {"name": "arp_ping", "target_host": "198.18.0.1"}}"#,
        )
        .unwrap();
        assert_eq!(
            c.link_watch[0],
            Watch::ArpPing {
                interval: 1000,
                init_wait: 0,
                missed_max: 3,
                source_host: [0; 4],
                target_host: [198, 18, 0, 1],
                validate_active: false,
                validate_inactive: false,
                vlanid: None,
                send_always: false,
            }
        );
    }

    #[test]
    fn bad_configs_name_the_path_and_what_was_expected() {
        let e = |s: &str| TeamConfig::parse(s).unwrap_err().to_string();
        assert!(e(r#"{"runer": {}}"#).starts_with("$.runer: unknown key for a team"));
        assert_eq!(
            e(r#"{"ports": {"eth1": {"prio": "high"}}}"#),
            "$.ports.eth1.prio: expected an integer from -2147483648 to 2147483647, found a string"
        );
        assert_eq!(
            e(r#"{"runner": {"name": "roundrobin", "fast_rate": true}}"#),
            "$.runner.fast_rate: unknown key for the roundrobin runner (known: name)"
        );
        assert_eq!(
            e(r#"{"runner": {"name": "lacp", "min_ports": 0}}"#),
            "$.runner.min_ports: 0 is out of range (an integer from 1 to 1024)"
        );
        assert!(e(r#"{"link_watch": [{"name": "arp_ping"}]}"#)
            .starts_with("$.link_watch[0].target_host: arp_ping needs a target_host"));
        assert!(
            e(r#"{"runner": {"name": "loadbalance", "tx_hash": ["eth", "mpls"]}}"#)
                .starts_with("$.runner.tx_hash[1]: \"mpls\" is not a hash fragment")
        );
        assert!(
            e(r#"{"ports": {"eth0": {"link_watch": {"name": "tipc"}}}}"#)
                .contains("tipc link watcher is not supported")
        );
        assert!(e("{").starts_with("$: not JSON"));
        assert!(e(r#"{"ports": {"eth1": {"sticky": 1}}}"#)
            .starts_with("$.ports.eth1.sticky: expected true or false, found a number"));
    }
}
