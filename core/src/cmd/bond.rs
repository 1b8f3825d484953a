//! `type bond` options as `ip link` takes them (iproute2's
//! `iplink_bond.c`, the kernel's `bond_options.c` for ranges), their
//! `-d` output, and `patchbay bond show` with `/proc/net/bonding`'s content.

use super::{err, lookup, to_json, Args, CmdError, Opts};
use crate::bond::{
    ArpValidate, Bond, BondConfig, FailOverMac, HashPolicy, Link, Mode, PrimaryReselect,
};
use crate::graph::{Graph, IfId};
use crate::lacp::AdSelect;
use crate::wire::lacp::state;
use crate::wire::Mac;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// Options given on the command line (`None`: not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BondOpts {
    pub mode: Option<Mode>,
    pub miimon: Option<u32>,
    pub updelay: Option<u32>,
    pub downdelay: Option<u32>,
    pub peer_notify_delay: Option<u32>,
    pub use_carrier: Option<bool>,
    pub arp_interval: Option<u32>,
    pub arp_ip_target: Option<Vec<[u8; 4]>>,
    pub ns_ip6_target: Option<Vec<[u8; 16]>>,
    pub arp_validate: Option<ArpValidate>,
    pub arp_all_targets: Option<bool>,
    pub arp_missed_max: Option<u32>,
    pub primary: Option<String>,
    pub primary_reselect: Option<PrimaryReselect>,
    pub fail_over_mac: Option<FailOverMac>,
    pub xmit_hash_policy: Option<HashPolicy>,
    pub resend_igmp: Option<u32>,
    pub num_grat_arp: Option<u32>,
    pub all_slaves_active: Option<bool>,
    pub min_links: Option<u32>,
    pub lp_interval: Option<u32>,
    pub packets_per_slave: Option<u32>,
    pub lacp_rate: Option<bool>,
    pub lacp_active: Option<bool>,
    pub ad_select: Option<AdSelect>,
    pub ad_actor_sys_prio: Option<u16>,
    pub ad_actor_system: Option<Mac>,
    pub ad_user_port_key: Option<u16>,
    pub tlb_dynamic_lb: Option<bool>,
    pub coupled_control: Option<bool>,
}

fn ipv4(s: &str) -> Option<[u8; 4]> {
    let v: Vec<u8> = s
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// The options after `type bond`; stops at the first word it does not
/// know, for the caller to name.
pub(super) fn parse_opts(a: &mut Args<'_>) -> Result<BondOpts, CmdError> {
    let mut o = BondOpts::default();
    fn pick<T>(
        a: &mut Args<'_>,
        key: &str,
        what: &str,
        f: fn(&str) -> Option<T>,
    ) -> Result<T, CmdError> {
        let v = a.value(key)?;
        f(v).ok_or_else(|| a.bad(key, v, what))
    }
    let onoff01 = |s: &str| match s {
        "1" | "on" => Some(true),
        "0" | "off" => Some(false),
        _ => None,
    };
    while let Some(x) = a.peek() {
        match x {
            "mode" => {
                a.next();
                o.mode = Some(pick(a, x, "balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb or balance-alb", Mode::parse)?);
            }
            "miimon" | "updelay" | "downdelay" | "peer_notify_delay" | "arp_interval"
            | "resend_igmp" | "min_links" | "lp_interval" | "packets_per_slave"
            | "arp_missed_max" => {
                a.next();
                let v: u32 = a.num(x, "a number")?;
                match x {
                    "miimon" => o.miimon = Some(v),
                    "updelay" => o.updelay = Some(v),
                    "downdelay" => o.downdelay = Some(v),
                    "peer_notify_delay" => o.peer_notify_delay = Some(v),
                    "arp_interval" => o.arp_interval = Some(v),
                    "resend_igmp" => {
                        if v > 255 {
                            return Err(a.bad(x, &v.to_string(), "0 to 255"));
                        }
                        o.resend_igmp = Some(v)
                    }
                    "min_links" => o.min_links = Some(v),
                    "lp_interval" => {
                        if v == 0 {
                            return Err(a.bad(x, "0", "1 or more seconds"));
                        }
                        o.lp_interval = Some(v)
                    }
                    "packets_per_slave" => {
                        if v > 65535 {
                            return Err(a.bad(x, &v.to_string(), "0 to 65535"));
                        }
                        o.packets_per_slave = Some(v)
                    }
                    _ => {
                        if !(1..=255).contains(&v) {
                            return Err(a.bad(x, &v.to_string(), "1 to 255"));
                        }
                        o.arp_missed_max = Some(v)
                    }
                }
            }
            "num_grat_arp" | "num_unsol_na" => {
                a.next();
                let v: u32 = a.num(x, "0 to 255")?;
                if v > 255 {
                    return Err(a.bad(x, &v.to_string(), "0 to 255"));
                }
                o.num_grat_arp = Some(v);
            }
            "arp_ip_target" => {
                a.next();
                let v = a.value(x)?;
                let t: Option<Vec<[u8; 4]>> = v.split(',').map(ipv4).collect();
                let t = t.ok_or_else(|| a.bad(x, v, "IPv4 addresses separated by commas"))?;
                if t.len() > crate::bond::MAX_ARP_TARGETS {
                    return Err(a.bad(x, v, "at most 16 addresses"));
                }
                o.arp_ip_target = Some(t);
            }
            "ns_ip6_target" => {
                a.next();
                let v = a.value(x)?;
                let t: Option<Vec<[u8; 16]>> = v
                    .split(',')
                    .map(|p| p.parse::<core::net::Ipv6Addr>().ok().map(|a| a.octets()))
                    .collect();
                let t = t.ok_or_else(|| a.bad(x, v, "IPv6 addresses separated by commas"))?;
                if t.len() > crate::bond::MAX_ARP_TARGETS {
                    return Err(a.bad(x, v, "at most 16 addresses"));
                }
                // `bond_is_ip6_target_ok`: not ::, not loopback, not multicast.
                if let Some(bad) = t.iter().find(|a| {
                    let ip = core::net::Ipv6Addr::from(**a);
                    ip.is_unspecified() || ip.is_loopback() || ip.is_multicast()
                }) {
                    let shown = core::net::Ipv6Addr::from(*bad).to_string();
                    return Err(a.bad(
                        x,
                        &shown,
                        "a unicast IPv6 address (not ::, ::1 or multicast)",
                    ));
                }
                o.ns_ip6_target = Some(t);
            }
            "arp_validate" => {
                a.next();
                o.arp_validate = Some(pick(
                    a,
                    x,
                    "none, active, backup, all, filter, filter_active or filter_backup",
                    ArpValidate::parse,
                )?);
            }
            "arp_all_targets" => {
                a.next();
                o.arp_all_targets = Some(pick(a, x, "any or all", |s| match s {
                    "any" | "0" => Some(false),
                    "all" | "1" => Some(true),
                    _ => None,
                })?);
            }
            "primary" => {
                a.next();
                o.primary = Some(a.value(x)?.to_string());
            }
            "primary_reselect" => {
                a.next();
                o.primary_reselect = Some(pick(
                    a,
                    x,
                    "always, better or failure",
                    PrimaryReselect::parse,
                )?);
            }
            "fail_over_mac" => {
                a.next();
                o.fail_over_mac = Some(pick(a, x, "none, active or follow", FailOverMac::parse)?);
            }
            "xmit_hash_policy" => {
                a.next();
                o.xmit_hash_policy = Some(pick(
                    a,
                    x,
                    "layer2, layer2+3, layer3+4, encap2+3, encap3+4 or vlan+srcmac",
                    HashPolicy::parse,
                )?);
            }
            "lacp_rate" => {
                a.next();
                o.lacp_rate = Some(pick(a, x, "slow or fast", |s| match s {
                    "slow" | "0" => Some(false),
                    "fast" | "1" => Some(true),
                    _ => None,
                })?);
            }
            "lacp_active" => {
                a.next();
                let v = a.value(x)?;
                o.lacp_active = Some(onoff01(v).ok_or_else(|| a.bad(x, v, "on or off"))?);
            }
            "ad_select" => {
                a.next();
                o.ad_select = Some(pick(a, x, "stable, bandwidth or count", AdSelect::parse)?);
            }
            "ad_actor_sys_prio" => {
                a.next();
                let v: u16 = a.num(x, "1 to 65535")?;
                if v == 0 {
                    return Err(a.bad(x, "0", "1 to 65535"));
                }
                o.ad_actor_sys_prio = Some(v);
            }
            "ad_user_port_key" => {
                a.next();
                let v: u16 = a.num(x, "0 to 1023")?;
                if v > 1023 {
                    return Err(a.bad(x, &v.to_string(), "0 to 1023"));
                }
                o.ad_user_port_key = Some(v);
            }
            "ad_actor_system" => {
                a.next();
                let m = a.mac(x)?;
                if m.is_multicast() || m == Mac::ZERO {
                    return Err(a.bad(x, &m.to_string(), "a unicast MAC address"));
                }
                o.ad_actor_system = Some(m);
            }
            "all_slaves_active" | "use_carrier" | "tlb_dynamic_lb" | "coupled_control" => {
                a.next();
                let v = a.value(x)?;
                let b = onoff01(v).ok_or_else(|| a.bad(x, v, "0 or 1"))?;
                match x {
                    "all_slaves_active" => o.all_slaves_active = Some(b),
                    "use_carrier" => o.use_carrier = Some(b),
                    "tlb_dynamic_lb" => o.tlb_dynamic_lb = Some(b),
                    _ => o.coupled_control = Some(b),
                }
            }
            _ => break,
        }
    }
    Ok(o)
}

/// Applies options to a configuration, as `bond_option_set` would one by
/// one; `has_slaves` guards the options the kernel refuses to change then.
pub(super) fn apply_opts(
    cmd: &str,
    mut c: BondConfig,
    o: &BondOpts,
    has_slaves: bool,
) -> Result<BondConfig, CmdError> {
    if let Some(m) = o.mode {
        if has_slaves && m != c.mode {
            return Err(err(cmd, "option mode: unable to set because the bond device has slaves (EBUSY): remove them first"));
        }
        c.mode = m;
    }
    macro_rules! set {
        ($($f:ident <- $g:ident),*) => { $(if let Some(v) = o.$g.clone() { c.$f = v; })* };
    }
    set!(miimon <- miimon, updelay <- updelay, downdelay <- downdelay, peer_notif_delay <- peer_notify_delay,
         use_carrier <- use_carrier, arp_interval <- arp_interval, arp_ip_target <- arp_ip_target,
         ns_ip6_target <- ns_ip6_target,
         arp_validate <- arp_validate, arp_all_targets <- arp_all_targets, arp_missed_max <- arp_missed_max,
         primary_reselect <- primary_reselect, fail_over_mac <- fail_over_mac,
         xmit_hash_policy <- xmit_hash_policy, resend_igmp <- resend_igmp, num_grat_arp <- num_grat_arp,
         all_slaves_active <- all_slaves_active, min_links <- min_links, lp_interval <- lp_interval,
         packets_per_slave <- packets_per_slave, lacp_fast <- lacp_rate, lacp_active <- lacp_active,
         ad_select <- ad_select, ad_actor_sys_prio <- ad_actor_sys_prio, ad_actor_system <- ad_actor_system,
         ad_user_port_key <- ad_user_port_key, tlb_dynamic_lb <- tlb_dynamic_lb, coupled_control <- coupled_control);
    if let Some(p) = &o.primary {
        c.primary = (!p.is_empty()).then(|| p.clone());
    }
    if o.arp_interval.is_some_and(|v| v > 0) && o.miimon.is_none() {
        // `arp_interval` turns the MII monitor off unless miimon is given.
        c.miimon = 0;
    }
    if o.miimon.is_some_and(|v| v > 0) && o.arp_interval.is_none() {
        c.arp_interval = 0;
    }
    if c.arp_interval > 0 && c.arp_ip_target.is_empty() && c.ns_ip6_target.is_empty() {
        return Err(err(
            cmd,
            "arp_interval needs arp_ip_target or ns_ip6_target: give at least one target address",
        ));
    }
    if c.arp_interval > 0 && c.mode == Mode::Ieee8023ad {
        return Err(err(
            cmd,
            "the ARP monitor does not apply to 802.3ad (LACP monitors the links)",
        ));
    }
    if c.mode == Mode::Ieee8023ad && c.fail_over_mac != FailOverMac::None {
        return Err(err(cmd, "fail_over_mac applies to active-backup only"));
    }
    Ok(c)
}

fn ip(a: &[u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// IPv6 addresses as the kernel prints them (`%pI6c`).
fn ip6s(t: &[[u8; 16]]) -> Vec<String> {
    t.iter()
        .map(|a| core::net::Ipv6Addr::from(*a).to_string())
        .collect()
}

/// `IFLA_BOND_*` as iproute2's `-j -d` prints them, in its order.
pub(super) fn info_json(g: &Graph, b: &Bond) -> Value {
    let c = &b.cfg;
    let mut m = Map::new();
    m.insert("mode".into(), c.mode.name().into());
    if let Some(a) = b.active_slave() {
        m.insert("active_slave".into(), a.name.clone().into());
    }
    m.insert("miimon".into(), c.miimon.into());
    let round = |d: u32| d.checked_div(c.miimon).unwrap_or(0) * c.miimon;
    m.insert("updelay".into(), round(c.updelay).into());
    m.insert("downdelay".into(), round(c.downdelay).into());
    m.insert("peer_notify_delay".into(), round(c.peer_notif_delay).into());
    m.insert("use_carrier".into(), u8::from(c.use_carrier).into());
    m.insert("arp_interval".into(), c.arp_interval.into());
    m.insert("arp_missed_max".into(), c.arp_missed_max.into());
    if !c.arp_ip_target.is_empty() {
        m.insert(
            "arp_ip_target".into(),
            c.arp_ip_target.iter().map(ip).collect::<Vec<_>>().into(),
        );
    }
    if !c.ns_ip6_target.is_empty() {
        m.insert("ns_ip6_target".into(), ip6s(&c.ns_ip6_target).into());
    }
    m.insert(
        "arp_validate".into(),
        if c.arp_validate == ArpValidate::None {
            Value::Null
        } else {
            c.arp_validate.name().into()
        },
    );
    m.insert(
        "arp_all_targets".into(),
        if c.arp_all_targets { "all" } else { "any" }.into(),
    );
    if let Some(p) = c
        .primary
        .as_ref()
        .filter(|p| b.slaves.iter().any(|s| &s.name == *p))
    {
        m.insert("primary".into(), p.clone().into());
    }
    m.insert("primary_reselect".into(), c.primary_reselect.name().into());
    m.insert("fail_over_mac".into(), c.fail_over_mac.name().into());
    m.insert("xmit_hash_policy".into(), c.xmit_hash_policy.name().into());
    m.insert("resend_igmp".into(), c.resend_igmp.into());
    m.insert("num_peer_notif".into(), c.num_grat_arp.into());
    m.insert(
        "all_slaves_active".into(),
        u8::from(c.all_slaves_active).into(),
    );
    m.insert("min_links".into(), c.min_links.into());
    m.insert("lp_interval".into(), c.lp_interval.into());
    m.insert("packets_per_slave".into(), c.packets_per_slave.into());
    m.insert(
        "ad_lacp_active".into(),
        if c.lacp_active { "on" } else { "off" }.into(),
    );
    m.insert(
        "ad_lacp_rate".into(),
        if c.lacp_fast { "fast" } else { "slow" }.into(),
    );
    m.insert("ad_select".into(), c.ad_select.name().into());
    if c.mode == Mode::Ieee8023ad {
        if let Some(i) = b.lacp.active_agg_info() {
            m.insert(
                "ad_info".into(),
                json!({"aggregator": i.aggregator_id, "num_ports": i.ports, "actor_key": i.actor_key,
                       "partner_key": i.partner_key, "partner_mac": i.partner_system.to_string()}),
            );
        }
        m.insert("ad_actor_sys_prio".into(), c.ad_actor_sys_prio.into());
        m.insert("ad_user_port_key".into(), c.ad_user_port_key.into());
        m.insert(
            "ad_actor_system".into(),
            b.lacp.cfg.system.to_string().into(),
        );
    }
    m.insert("tlb_dynamic_lb".into(), u8::from(c.tlb_dynamic_lb).into());
    let _ = g;
    Value::Object(m)
}

/// The same as `ip -d link show` prints it after `bond`.
pub(super) fn info_text(g: &Graph, b: &Bond) -> String {
    let v = info_json(g, b);
    let mut s = String::from("    bond");
    for (k, val) in v.as_object().expect("an object") {
        let key = match k.as_str() {
            "num_peer_notif" => "num_grat_arp",
            "ad_lacp_rate" => "lacp_rate",
            "ad_lacp_active" => "lacp_active",
            k => k,
        };
        match val {
            Value::Null => s.push_str(&format!(" {key} none")),
            Value::Array(a) => {
                let t: Vec<String> = a
                    .iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect();
                s.push_str(&format!(" {key} {}", t.join(",")));
            }
            Value::Object(o) => {
                for (ik, iv) in o {
                    let ival = iv.as_str().map_or_else(|| iv.to_string(), str::to_string);
                    let name = match ik.as_str() {
                        "aggregator" => "ad_aggregator",
                        "num_ports" => "ad_num_ports",
                        "actor_key" => "ad_actor_key",
                        "partner_key" => "ad_partner_key",
                        _ => "ad_partner_mac",
                    };
                    s.push_str(&format!(" {name} {ival}"));
                }
            }
            Value::String(t) => s.push_str(&format!(" {key} {t}")),
            other => s.push_str(&format!(" {key} {other}")),
        }
    }
    s.push('\n');
    s
}

/// `ad_actor_oper_port_state_str`.
fn state_words(st: u8) -> Vec<&'static str> {
    let names = [
        (state::ACTIVITY, "active"),
        (state::TIMEOUT, "short_timeout"),
        (state::AGGREGATION, "aggregating"),
        (state::SYNCHRONIZATION, "in_sync"),
        (state::COLLECTING, "collecting"),
        (state::DISTRIBUTING, "distributing"),
        (state::DEFAULTED, "defaulted"),
        (state::EXPIRED, "expired"),
    ];
    names
        .iter()
        .filter(|(b, _)| st & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// `IFLA_BOND_SLAVE_*` for a member.
pub(super) fn slave_json(b: &Bond, id: u16) -> Option<Value> {
    let k = b.slaves.iter().position(|s| s.id == id)?;
    let s = &b.slaves[k];
    let mut m = Map::new();
    m.insert(
        "state".into(),
        if s.active { "ACTIVE" } else { "BACKUP" }.into(),
    );
    m.insert(
        "mii_status".into(),
        match s.link {
            Link::Up => "UP",
            Link::Fail => "GOING_DOWN",
            Link::Down => "DOWN",
            Link::Back => "GOING_BACK",
        }
        .into(),
    );
    m.insert("link_failure_count".into(), s.link_failure_count.into());
    m.insert("perm_hwaddr".into(), s.perm_mac.to_string().into());
    m.insert("queue_id".into(), s.queue_id.into());
    if b.cfg.mode == Mode::Ieee8023ad {
        if let Some(a) = b.lacp.port_agg(k) {
            m.insert("ad_aggregator_id".into(), a.id.into());
        }
        let p = &b.lacp.ports[k];
        m.insert("ad_actor_oper_port_state".into(), p.actor_oper_state.into());
        m.insert(
            "ad_actor_oper_port_state_str".into(),
            state_words(p.actor_oper_state).into(),
        );
        m.insert(
            "ad_partner_oper_port_state".into(),
            p.partner_oper.state.into(),
        );
        m.insert(
            "ad_partner_oper_port_state_str".into(),
            state_words(p.partner_oper.state).into(),
        );
    }
    Some(Value::Object(m))
}

pub(super) fn slave_text(b: &Bond, id: u16) -> Option<String> {
    let v = slave_json(b, id)?;
    let mut s = String::from("    bond_slave");
    for (k, val) in v.as_object().expect("an object") {
        match val {
            Value::Array(a) => {
                let t: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                s.push_str(&format!(" {k} <{}>", t.join(",")));
            }
            Value::String(t) => s.push_str(&format!(" {k} {t}")),
            other => s.push_str(&format!(" {k} {other}")),
        }
    }
    s.push('\n');
    Some(s)
}

/// `patchbay bond show [BOND]`: `/proc/net/bonding/BOND`, or with `-j`
/// the same as an object per bond.
pub(super) fn show(g: &Graph, dev: Option<&str>, opts: Opts) -> Result<String, CmdError> {
    let cmd = "bond show";
    let ids: Vec<IfId> = match dev {
        Some(d) => {
            let id = lookup(g, cmd, d)?;
            if g.iface(id).bond().is_none() {
                return Err(err(cmd, format!("\"{d}\" is not a bond")));
            }
            vec![id]
        }
        None => g
            .iter()
            .filter(|(_, f)| f.bond().is_some())
            .map(|(id, _)| id)
            .collect(),
    };
    if opts.json {
        let v: Vec<Value> = ids
            .iter()
            .map(|id| {
                let f = g.iface(*id);
                let b = f.bond().expect("a bond");
                let slaves: Vec<Value> = b
                    .slaves
                    .iter()
                    .map(|s| {
                        let mut o = json!({"ifname": s.name, "speed": s.speed_mbps,
                            "duplex": if s.full_duplex { "full" } else { "half" }});
                        if let Some(Value::Object(extra)) = slave_json(b, s.id) {
                            for (k, v) in extra {
                                o[k] = v;
                            }
                        }
                        o
                    })
                    .collect();
                json!({
                    "ifname": f.name,
                    "mii_status": if g.oper_up(*id) { "up" } else { "down" },
                    "info": info_json(g, b),
                    "slaves": slaves,
                })
            })
            .collect();
        return Ok(to_json(Value::Array(v)));
    }
    let mut s = String::new();
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            s.push('\n');
        }
        let b = g.iface(*id).bond().expect("a bond");
        s.push_str(&proc_text(b, g.oper_up(*id)));
    }
    Ok(s)
}

/// `bond show` words.
pub(super) fn parse(rest: &[String]) -> Result<super::Command, CmdError> {
    let mut a = Args::new(rest, "bond");
    match a.next() {
        None | Some("show" | "list" | "lst") => {
            let dev = match a.next() {
                Some("dev") => Some(a.value("dev")?.to_string()),
                Some(d) => Some(d.to_string()),
                None => None,
            };
            if let Some(w) = a.next() {
                return Err(a.unknown(w, "nothing more"));
            }
            Ok(super::Command::BondShow { dev })
        }
        Some(v) => Err(err("bond", format!("unknown verb \"{v}\" (expected show)"))),
    }
}

/// `/proc/net/bonding/BOND` as `bond_info_show_master` and
/// `bond_info_show_slave` print it.
pub(super) fn proc_text(b: &Bond, carrier: bool) -> String {
    let c = &b.cfg;
    let mut s = String::new();
    let _ = writeln!(s, "Ethernet Channel Bonding Driver: v6.18 (patchbay)\n");
    let _ = write!(s, "Bonding Mode: {}", c.mode.long_name());
    if c.mode == Mode::ActiveBackup && c.fail_over_mac != FailOverMac::None {
        let _ = write!(s, " (fail_over_mac {})", c.fail_over_mac.name());
    }
    s.push('\n');
    if c.mode.uses_xmit_hash() {
        let _ = writeln!(
            s,
            "Transmit Hash Policy: {} ({})",
            c.xmit_hash_policy.name(),
            c.xmit_hash_policy as u8
        );
    }
    if c.mode.uses_primary() {
        let prim = b.primary_id().and_then(|id| b.slave(id));
        let _ = write!(
            s,
            "Primary Slave: {}",
            prim.map_or("None", |p| p.name.as_str())
        );
        if prim.is_some() {
            let _ = write!(s, " (primary_reselect {})", c.primary_reselect.name());
        }
        let _ = writeln!(
            s,
            "\nCurrently Active Slave: {}",
            b.active_slave().map_or("None", |a| a.name.as_str())
        );
    }
    let _ = writeln!(s, "MII Status: {}", if carrier { "up" } else { "down" });
    let _ = writeln!(s, "MII Polling Interval (ms): {}", c.miimon);
    let round = |d: u32| b.ticks(d) * c.miimon;
    let _ = writeln!(s, "Up Delay (ms): {}", round(c.updelay));
    let _ = writeln!(s, "Down Delay (ms): {}", round(c.downdelay));
    let _ = writeln!(
        s,
        "Peer Notification Delay (ms): {}",
        round(c.peer_notif_delay)
    );
    if c.arp_interval > 0 {
        let _ = writeln!(s, "ARP Polling Interval (ms): {}", c.arp_interval);
        let _ = writeln!(s, "ARP Missed Max: {}", c.arp_missed_max);
        let t: Vec<String> = c
            .arp_ip_target
            .iter()
            .map(|a| format!(" {}.{}.{}.{}", a[0], a[1], a[2], a[3]))
            .collect();
        let _ = writeln!(s, "ARP IP target/s (n.n.n.n form):{}", t.join(","));
        let t: Vec<String> = ip6s(&c.ns_ip6_target)
            .iter()
            .map(|a| format!(" {a}"))
            .collect();
        let _ = writeln!(s, "NS IPv6 target/s (xx::xx form):{}", t.join(","));
    }
    if c.mode == Mode::Ieee8023ad {
        let _ = writeln!(s, "\n802.3ad info");
        let _ = writeln!(
            s,
            "LACP active: {}",
            if c.lacp_active { "on" } else { "off" }
        );
        let _ = writeln!(
            s,
            "LACP rate: {}",
            if c.lacp_fast { "fast" } else { "slow" }
        );
        let _ = writeln!(s, "Min links: {}", c.min_links);
        let _ = writeln!(
            s,
            "Aggregator selection policy (ad_select): {}",
            c.ad_select.name()
        );
        let _ = writeln!(s, "System priority: {}", b.lacp.cfg.sys_prio);
        let _ = writeln!(s, "System MAC address: {}", b.lacp.cfg.system);
        match b.lacp.active_agg_info() {
            None => {
                let _ = writeln!(s, "bond has no active aggregator");
            }
            Some(i) => {
                let _ = writeln!(s, "Active Aggregator Info:");
                let _ = writeln!(s, "\tAggregator ID: {}", i.aggregator_id);
                let _ = writeln!(s, "\tNumber of ports: {}", i.ports);
                let _ = writeln!(s, "\tActor Key: {}", i.actor_key);
                let _ = writeln!(s, "\tPartner Key: {}", i.partner_key);
                let _ = writeln!(s, "\tPartner Mac Address: {}", i.partner_system);
            }
        }
    }
    for (k, sl) in b.slaves.iter().enumerate() {
        let _ = writeln!(s, "\nSlave Interface: {}", sl.name);
        let _ = writeln!(s, "MII Status: {}", sl.link.name());
        if sl.speed_mbps == 0 {
            let _ = writeln!(s, "Speed: Unknown");
        } else {
            let _ = writeln!(s, "Speed: {} Mbps", sl.speed_mbps);
        }
        let _ = writeln!(
            s,
            "Duplex: {}",
            if sl.full_duplex { "full" } else { "half" }
        );
        let _ = writeln!(s, "Link Failure Count: {}", sl.link_failure_count);
        let _ = writeln!(s, "Permanent HW addr: {}", sl.perm_mac);
        let _ = writeln!(s, "Slave queue ID: {}", sl.queue_id);
        if c.mode == Mode::Ieee8023ad {
            let p = &b.lacp.ports[k];
            match b.lacp.port_agg(k) {
                None => {
                    let _ = writeln!(s, "Aggregator ID: N/A");
                }
                Some(a) => {
                    let _ = writeln!(s, "Aggregator ID: {}", a.id);
                    let _ = writeln!(s, "Actor Churn State: {}", p.churn_actor.desc());
                    let _ = writeln!(s, "Partner Churn State: {}", p.churn_partner.desc());
                    let _ = writeln!(s, "Actor Churned Count: {}", p.churn_actor_count);
                    let _ = writeln!(s, "Partner Churned Count: {}", p.churn_partner_count);
                    let _ = writeln!(s, "details actor lacp pdu:");
                    let _ = writeln!(s, "    system priority: {}", p.actor_system_priority);
                    let _ = writeln!(s, "    system mac address: {}", p.actor_system);
                    let _ = writeln!(s, "    port key: {}", p.actor_oper_key);
                    let _ = writeln!(s, "    port priority: {}", p.actor_port_priority);
                    let _ = writeln!(s, "    port number: {}", p.number);
                    let _ = writeln!(s, "    port state: {}", p.actor_oper_state);
                    let q = &p.partner_oper;
                    let _ = writeln!(s, "details partner lacp pdu:");
                    let _ = writeln!(s, "    system priority: {}", q.system_priority);
                    let _ = writeln!(s, "    system mac address: {}", q.system);
                    let _ = writeln!(s, "    oper key: {}", q.key);
                    let _ = writeln!(s, "    port priority: {}", q.port_priority);
                    let _ = writeln!(s, "    port number: {}", q.port);
                    let _ = writeln!(s, "    port state: {}", q.state);
                }
            }
        }
    }
    s
}

/// `patchbay save`'s words after `type bond`: every option that differs
/// from a new bond's, mode first (the others are checked against it).
pub(super) fn save_options(c: &BondConfig) -> Vec<String> {
    let d = BondConfig::default();
    let mut w: Vec<String> = Vec::new();
    let mut put = |k: &str, v: String| {
        w.push(k.into());
        w.push(v);
    };
    if c.mode != d.mode {
        put("mode", c.mode.name().into());
    }
    for (k, v, dv) in [
        ("miimon", c.miimon, d.miimon),
        ("updelay", c.updelay, d.updelay),
        ("downdelay", c.downdelay, d.downdelay),
        ("peer_notify_delay", c.peer_notif_delay, d.peer_notif_delay),
        ("arp_interval", c.arp_interval, d.arp_interval),
        ("arp_missed_max", c.arp_missed_max, d.arp_missed_max),
        ("resend_igmp", c.resend_igmp, d.resend_igmp),
        ("num_grat_arp", c.num_grat_arp, d.num_grat_arp),
        ("min_links", c.min_links, d.min_links),
        ("lp_interval", c.lp_interval, d.lp_interval),
        (
            "packets_per_slave",
            c.packets_per_slave,
            d.packets_per_slave,
        ),
    ] {
        if v != dv {
            put(k, v.to_string());
        }
    }
    if c.arp_ip_target != d.arp_ip_target {
        let t: Vec<String> = c
            .arp_ip_target
            .iter()
            .map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))
            .collect();
        put("arp_ip_target", t.join(","));
    }
    if c.ns_ip6_target != d.ns_ip6_target {
        put("ns_ip6_target", ip6s(&c.ns_ip6_target).join(","));
    }
    if c.arp_validate != d.arp_validate {
        put("arp_validate", c.arp_validate.name().into());
    }
    if c.arp_all_targets != d.arp_all_targets {
        put(
            "arp_all_targets",
            if c.arp_all_targets { "all" } else { "any" }.into(),
        );
    }
    if let Some(p) = &c.primary {
        put("primary", p.clone());
    }
    if c.primary_reselect != d.primary_reselect {
        put("primary_reselect", c.primary_reselect.name().into());
    }
    if c.fail_over_mac != d.fail_over_mac {
        put("fail_over_mac", c.fail_over_mac.name().into());
    }
    if c.xmit_hash_policy != d.xmit_hash_policy {
        put("xmit_hash_policy", c.xmit_hash_policy.name().into());
    }
    if c.lacp_fast != d.lacp_fast {
        put(
            "lacp_rate",
            if c.lacp_fast { "fast" } else { "slow" }.into(),
        );
    }
    if c.lacp_active != d.lacp_active {
        put(
            "lacp_active",
            if c.lacp_active { "on" } else { "off" }.into(),
        );
    }
    if c.ad_select != d.ad_select {
        put("ad_select", c.ad_select.name().into());
    }
    if c.ad_actor_sys_prio != d.ad_actor_sys_prio {
        put("ad_actor_sys_prio", c.ad_actor_sys_prio.to_string());
    }
    if c.ad_actor_system != d.ad_actor_system {
        put("ad_actor_system", c.ad_actor_system.to_string());
    }
    if c.ad_user_port_key != d.ad_user_port_key {
        put("ad_user_port_key", c.ad_user_port_key.to_string());
    }
    for (k, v, dv) in [
        (
            "all_slaves_active",
            c.all_slaves_active,
            d.all_slaves_active,
        ),
        ("use_carrier", c.use_carrier, d.use_carrier),
        ("tlb_dynamic_lb", c.tlb_dynamic_lb, d.tlb_dynamic_lb),
        ("coupled_control", c.coupled_control, d.coupled_control),
    ] {
        if v != dv {
            put(k, u8::from(v).to_string());
        }
    }
    w
}
