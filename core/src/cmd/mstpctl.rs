//! `patchbay mstpctl ...`: mstpd's control verbs for the RSTP that patchbay
//! runs on its bridges ([`crate::bridge::rstp`]), with mstpctl's ranges,
//! words and output (`ctl_main.c`): the plain layout, `-j` as mstpctl's
//! `-f json` (every value a string), and a trailing parameter name to print
//! one value.

use super::{err, lookup, to_json, Args, CmdError, Opts};
use crate::bridge::rstp::{AdminP2p, Role, Rstp, RstpPort, PROTO_RSTP, PROTO_STP};
use crate::bridge::{Bridge, PortState};
use crate::fdb::PortNo;
use crate::graph::{Graph, IfId};
use crate::time::Instant;
use crate::wire::bpdu::BridgeId;
use serde_json::{Map, Value};
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MstpCmd {
    AddBridge(Vec<String>),
    DelBridge(Vec<String>),
    ShowBridge {
        bridges: Vec<String>,
        param: Option<String>,
    },
    ShowPort {
        bridge: String,
        ports: Vec<String>,
        param: Option<String>,
        detail: bool,
    },
    SetBridge {
        bridge: String,
        set: BridgeSet,
    },
    SetPort {
        bridge: String,
        port: String,
        set: PortSet,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeSet {
    MaxAge(u32),
    FwdDelay(u32),
    MaxHops(u32),
    Hello(u32),
    Ageing(u32),
    ForceVers(u8),
    TxHoldCount(u32),
    TreePrio(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSet {
    PathCost(u32),
    AdminEdge(bool),
    AutoEdge(bool),
    P2p(AdminP2p),
    RestrRole(bool),
    RestrTcn(bool),
    Mcheck,
    BpduGuard(bool),
    Network(bool),
    DontTxmt(bool),
    BpduFilter(bool),
    TreePortPrio(u8),
    TreePortCost(u32),
}

const BRIDGE_PARAMS: &[&str] = &[
    "stp enabled",
    "enabled",
    "bridge-id",
    "designated-root",
    "regional-root",
    "root-port",
    "path-cost",
    "internal-path-cost",
    "max-age",
    "bridge-max-age",
    "forward-delay",
    "bridge-forward-delay",
    "tx-hold-count",
    "max-hops",
    "hello-time",
    "ageing-time",
    "force-protocol-version",
    "time-since-topology-change",
    "topology-change-count",
    "topology-change",
];

const PORT_PARAMS: &[&str] = &[
    "enabled",
    "role",
    "state",
    "port-id",
    "external-port-cost",
    "admin-external-cost",
    "internal-port-cost",
    "admin-internal-cost",
    "designated-root",
    "dsgn-external-cost",
    "dsgn-regional-root",
    "dsgn-internal-cost",
    "designated-bridge",
    "designated-port",
    "admin-edge-port",
    "auto-edge-port",
    "oper-edge-port",
    "topology-change-ack",
    "point-to-point",
    "admin-point-to-point",
    "restricted-role",
    "restricted-TCN",
    "port-hello-time",
    "disputed",
    "bpdu-guard-port",
    "bpdu-guard-error",
    "bpdu-filter-port",
    "network-port",
    "ba-inconsistent",
    "num-tx-bpdu",
    "num-rx-bpdu",
    "num-tx-tcn",
    "num-rx-tcn",
    "num-transition-fwd",
    "num-transition-blk",
    "num-rx-bpdu-filtered",
    "received-bpdu",
    "received-stp",
    "received-rstp",
    "send-rstp",
    "received-tc-ack",
    "received-tcn",
];

/// `do_showport_fmt_json`'s order.
const PORT_JSON_ORDER: &[&str] = &[
    "enabled",
    "role",
    "port-id",
    "state",
    "external-port-cost",
    "internal-port-cost",
    "admin-external-cost",
    "admin-internal-cost",
    "designated-root",
    "dsgn-external-cost",
    "dsgn-regional-root",
    "dsgn-internal-cost",
    "designated-bridge",
    "designated-port",
    "admin-edge-port",
    "auto-edge-port",
    "oper-edge-port",
    "topology-change-ack",
    "point-to-point",
    "admin-point-to-point",
    "restricted-role",
    "restricted-TCN",
    "port-hello-time",
    "disputed",
    "bpdu-guard-port",
    "bpdu-guard-error",
    "bpdu-filter-port",
    "network-port",
    "ba-inconsistent",
    "num-tx-bpdu",
    "num-rx-bpdu",
    "num-rx-bpdu-filtered",
    "num-tx-tcn",
    "num-rx-tcn",
    "num-transition-fwd",
    "num-transition-blk",
    "received-bpdu",
    "received-stp",
    "received-rstp",
    "received-tc-ack",
    "received-tcn",
    "send-rstp",
];

fn yes_no(a: &mut Args<'_>, key: &str) -> Result<bool, CmdError> {
    let v = a.value(key)?;
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(a.bad(key, v, "yes or no")),
    }
}

fn ranged(a: &mut Args<'_>, key: &str, lo: u32, hi: u32, what: &str) -> Result<u32, CmdError> {
    let v: u32 = a.num(key, what)?;
    if !(lo..=hi).contains(&v) {
        return Err(err(
            &a.cmd,
            format!("{what} must be between {lo} and {hi}, got {v}"),
        ));
    }
    Ok(v)
}

fn mstid(a: &mut Args<'_>) -> Result<(), CmdError> {
    let v = a.value("mstid")?;
    if v != "0" {
        return Err(err(
            &a.cmd,
            format!("MSTI {v}: patchbay's mstpd runs the CIST only (mstid 0)"),
        ));
    }
    Ok(())
}

/// The words after `mstpctl`.
pub fn parse(words: &[String]) -> Result<MstpCmd, CmdError> {
    let Some(verb) = words.first() else {
        return Err(err(
            "mstpctl",
            "no command given (try 'mstpctl showbridge')",
        ));
    };
    let cmd = format!("mstpctl {verb}");
    let rest = &words[1..];
    let mut a = Args::new(rest, cmd.clone());
    let need = |n: usize, usage: &str| -> Result<(), CmdError> {
        if rest.len() < n {
            Err(err(&cmd, format!("too few arguments (usage: {usage})")))
        } else {
            Ok(())
        }
    };
    let names = |from: usize| rest[from..].to_vec();
    let c = match verb.as_str() {
        "addbridge" | "delbridge" => {
            need(1, &format!("{verb} <bridge> [<bridge> ...]"))?;
            if verb == "addbridge" {
                MstpCmd::AddBridge(names(0))
            } else {
                MstpCmd::DelBridge(names(0))
            }
        }
        "showbridge" => {
            let mut bridges = names(0);
            let mut param = None;
            if bridges.len() > 1 {
                // mstpctl joins nothing: "stp enabled" is one argument.
                if let Some(last) = bridges.last().filter(|l| BRIDGE_PARAMS.contains(&l.as_str())) {
                    param = Some(last.clone());
                    bridges.pop();
                }
            }
            MstpCmd::ShowBridge { bridges, param }
        }
        "showport" | "showportdetail" => {
            need(1, &format!("{verb} <bridge> [<port> ... [param]]"))?;
            let mut ports = names(1);
            let mut param = None;
            if ports.len() > 1 {
                if let Some(last) = ports.last().filter(|l| PORT_PARAMS.contains(&l.as_str())) {
                    param = Some(last.clone());
                    ports.pop();
                }
            }
            MstpCmd::ShowPort {
                bridge: rest[0].clone(),
                ports,
                param,
                detail: verb == "showportdetail",
            }
        }
        "setmaxage" | "setfdelay" | "setmaxhops" | "sethello" | "setageing" | "setforcevers"
        | "settxholdcount" => {
            need(2, &format!("{verb} <bridge> <value>"))?;
            let bridge = a.next().expect("checked").to_string();
            let set = match verb.as_str() {
                "setmaxage" => BridgeSet::MaxAge(ranged(&mut a, "max_age", 6, 40, "Bridge Max Age")?),
                "setfdelay" => {
                    BridgeSet::FwdDelay(ranged(&mut a, "fwd_delay", 4, 30, "Bridge Forward Delay")?)
                }
                "setmaxhops" => {
                    BridgeSet::MaxHops(ranged(&mut a, "max_hops", 6, 100, "Bridge Max Hops")?)
                }
                "sethello" => {
                    // mstpd (802.1Q-2011): the hello time is fixed.
                    let v: u32 = a.num("hello_time", "2")?;
                    if v != 2 {
                        return Err(err(&cmd, format!("Bridge Hello Time must be 2, got {v}")));
                    }
                    BridgeSet::Hello(v)
                }
                "setageing" => BridgeSet::Ageing(ranged(
                    &mut a,
                    "ageing_time",
                    10,
                    1_000_000,
                    "Bridge Ageing Time",
                )?),
                "settxholdcount" => BridgeSet::TxHoldCount(ranged(
                    &mut a,
                    "tx_hold_count",
                    1,
                    10,
                    "Transmit Hold Count",
                )?),
                _ => {
                    let v = a.value("version")?;
                    BridgeSet::ForceVers(match v {
                        "stp" => PROTO_STP,
                        "rstp" => PROTO_RSTP,
                        "mstp" => {
                            return Err(err(
                                &cmd,
                                "mstp: patchbay's mstpd runs the CIST only; use rstp (or stp)",
                            ))
                        }
                        _ => return Err(a.bad("version", v, "mstp, rstp or stp")),
                    })
                }
            };
            MstpCmd::SetBridge { bridge, set }
        }
        "settreeprio" => {
            need(3, "settreeprio <bridge> <mstid> <priority>")?;
            let bridge = a.next().expect("checked").to_string();
            mstid(&mut a)?;
            let p = ranged(&mut a, "priority", 0, 15, "Bridge Priority")?;
            MstpCmd::SetBridge {
                bridge,
                set: BridgeSet::TreePrio(p as u8),
            }
        }
        "setportpathcost" | "setportadminedge" | "setportautoedge" | "setportp2p"
        | "setportrestrrole" | "setportrestrtcn" | "setbpduguard" | "setportnetwork"
        | "setportdonttxmt" | "setportbpdufilter" | "portmcheck" => {
            let n = if verb == "portmcheck" { 2 } else { 3 };
            need(n, &format!("{verb} <bridge> <port>{}", if n == 3 { " <value>" } else { "" }))?;
            let bridge = a.next().expect("checked").to_string();
            let port = a.next().expect("checked").to_string();
            let set = match verb.as_str() {
                "setportpathcost" => PortSet::PathCost(ranged(
                    &mut a,
                    "cost",
                    0,
                    crate::bridge::rstp::MAX_PATH_COST,
                    "Port Path Cost",
                )?),
                "setportadminedge" => PortSet::AdminEdge(yes_no(&mut a, "edge")?),
                "setportautoedge" => PortSet::AutoEdge(yes_no(&mut a, "autoedge")?),
                "setportp2p" => {
                    let v = a.value("p2p")?;
                    PortSet::P2p(match v {
                        "yes" => AdminP2p::Yes,
                        "no" => AdminP2p::No,
                        "auto" => AdminP2p::Auto,
                        _ => return Err(a.bad("p2p", v, "yes, no or auto")),
                    })
                }
                "setportrestrrole" => PortSet::RestrRole(yes_no(&mut a, "restrrole")?),
                "setportrestrtcn" => PortSet::RestrTcn(yes_no(&mut a, "restrtcn")?),
                "setbpduguard" => PortSet::BpduGuard(yes_no(&mut a, "bpduguard")?),
                "setportnetwork" => {
                    let v = yes_no(&mut a, "network")?;
                    if v {
                        return Err(err(
                            &cmd,
                            "network ports (bridge assurance) are not implemented in patchbay's mstpd",
                        ));
                    }
                    PortSet::Network(v)
                }
                "setportdonttxmt" => PortSet::DontTxmt(yes_no(&mut a, "donttxmt")?),
                "setportbpdufilter" => PortSet::BpduFilter(yes_no(&mut a, "bpdufilter")?),
                _ => PortSet::Mcheck,
            };
            MstpCmd::SetPort { bridge, port, set }
        }
        "settreeportprio" | "settreeportcost" => {
            need(4, &format!("{verb} <bridge> <port> <mstid> <value>"))?;
            let bridge = a.next().expect("checked").to_string();
            let port = a.next().expect("checked").to_string();
            mstid(&mut a)?;
            let set = if verb == "settreeportprio" {
                PortSet::TreePortPrio(ranged(&mut a, "priority", 0, 15, "Port Priority")? as u8)
            } else {
                PortSet::TreePortCost(ranged(
                    &mut a,
                    "cost",
                    0,
                    crate::bridge::rstp::MAX_PATH_COST,
                    "Port Path Cost",
                )?)
            };
            MstpCmd::SetPort { bridge, port, set }
        }
        other => {
            return Err(err(
                "mstpctl",
                format!(
                    "unknown command \"{other}\" (expected addbridge, delbridge, showbridge, showport, showportdetail, set*, settreeprio, settreeportprio, settreeportcost or portmcheck)"
                ),
            ))
        }
    };
    if let Some(w) = a
        .next()
        .filter(|_| matches!(c, MstpCmd::SetBridge { .. } | MstpCmd::SetPort { .. }))
    {
        return Err(a.unknown(w, "nothing more"));
    }
    Ok(c)
}

/// mstpctl's `BR_ID_FMT`: `8.000.02:00:00:00:00:01`.
pub fn br_id(id: BridgeId) -> String {
    let p = id.priority();
    let m = id.mac().0;
    format!(
        "{:X}.{:03X}.{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        p >> 12,
        p & 0x0fff,
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5]
    )
}

/// mstpctl's `PRT_ID_FMT`: `8.001`.
pub fn prt_id(id: u16) -> String {
    format!("{:X}.{:03X}", id >> 12, id & 0x0fff)
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn bridge_of<'g>(g: &'g Graph, cmd: &str, name: &str) -> Result<(IfId, &'g Bridge), CmdError> {
    let id = lookup(g, cmd, name)?;
    let b = g
        .iface(id)
        .bridge()
        .ok_or_else(|| err(cmd, format!("{name} is not a bridge")))?;
    Ok((id, b))
}

fn rstp_of<'b>(cmd: &str, name: &str, b: &'b Bridge) -> Result<&'b Rstp, CmdError> {
    b.rstp.as_deref().ok_or_else(|| {
        err(
            cmd,
            format!("bridge {name} is not known to mstpd (run 'mstpctl addbridge {name}')"),
        )
    })
}

fn port_name(g: &Graph, b: &Bridge, no: PortNo) -> String {
    b.port(no)
        .map_or_else(|| "?".into(), |p| g.iface(p.ifid).name.clone())
}

/// The kernel port state mstpd reads back, for its `STATE_STR`.
fn state_words(b: &Bridge, no: PortNo) -> (&'static str, &'static str) {
    match b.port(no).map(|p| p.state) {
        Some(PortState::Learning) => ("learning", "lear"),
        Some(PortState::Forwarding) => ("forwarding", "forw"),
        _ => ("discarding", "disc"),
    }
}

fn bridge_values(g: &Graph, name: &str, b: &Bridge, r: &Rstp) -> Vec<(&'static str, String)> {
    let root_port = r.root_port().map(|n| (port_name(g, b, n), n));
    let tc_name = |p: Option<PortNo>| p.map_or_else(|| "None".to_string(), |n| port_name(g, b, n));
    let _ = name;
    vec![
        ("stp enabled", yn(b.user_stp()).into()),
        ("enabled", yn(r.enabled).into()),
        ("bridge-id", br_id(r.bridge_id())),
        ("designated-root", br_id(r.root_prio.root)),
        // Outside a region the regional root is this bridge.
        ("regional-root", br_id(r.bridge_id())),
        (
            "root-port",
            root_port.map_or_else(String::new, |(n, no)| format!("{n} (#{no})")),
        ),
        ("path-cost", r.root_prio.cost.to_string()),
        ("internal-path-cost", "0".into()),
        ("max-age", r.root_times.max_age.to_string()),
        ("bridge-max-age", r.cfg.max_age.to_string()),
        ("forward-delay", r.root_times.forward_delay.to_string()),
        ("bridge-forward-delay", r.cfg.forward_delay.to_string()),
        ("tx-hold-count", r.cfg.tx_hold_count.to_string()),
        ("max-hops", r.cfg.max_hops.to_string()),
        ("hello-time", r.cfg.hello.to_string()),
        ("ageing-time", r.cfg.ageing_time.to_string()),
        (
            "force-protocol-version",
            if r.cfg.force_version == PROTO_STP {
                "stp"
            } else {
                "rstp"
            }
            .into(),
        ),
        ("time-since-topology-change", r.time_since_tc.to_string()),
        ("topology-change-count", r.tc_count.to_string()),
        ("topology-change", yn(r.topology_change).into()),
        ("topology-change-port", tc_name(r.tc_port)),
        ("last-topology-change-port", tc_name(r.last_tc_port)),
    ]
}

fn bridge_plain(name: &str, v: &[(&str, String)]) -> String {
    let get = |k: &str| {
        v.iter()
            .find(|(n, _)| *n == k)
            .map_or("", |(_, s)| s.as_str())
    };
    let mut s = String::new();
    let _ = writeln!(s, "{name} CIST info");
    let _ = writeln!(s, "  stp enabled     {}", get("stp enabled"));
    let _ = writeln!(s, "  enabled         {}", get("enabled"));
    let _ = writeln!(s, "  bridge id       {}", get("bridge-id"));
    let _ = writeln!(s, "  designated root {}", get("designated-root"));
    let _ = writeln!(s, "  regional root   {}", get("regional-root"));
    let rp = get("root-port");
    let _ = writeln!(
        s,
        "  root port       {}",
        if rp.is_empty() { "none" } else { rp }
    );
    let _ = writeln!(
        s,
        "  path cost     {:<10} internal path cost   {}",
        get("path-cost"),
        get("internal-path-cost")
    );
    let _ = writeln!(
        s,
        "  max age       {:<10} bridge max age       {}",
        get("max-age"),
        get("bridge-max-age")
    );
    let _ = writeln!(
        s,
        "  forward delay {:<10} bridge forward delay {}",
        get("forward-delay"),
        get("bridge-forward-delay")
    );
    let _ = writeln!(
        s,
        "  tx hold count {:<10} max hops             {}",
        get("tx-hold-count"),
        get("max-hops")
    );
    let _ = writeln!(
        s,
        "  hello time    {:<10} ageing time          {}",
        get("hello-time"),
        get("ageing-time")
    );
    let _ = writeln!(
        s,
        "  force protocol version     {}",
        get("force-protocol-version")
    );
    let _ = writeln!(
        s,
        "  time since topology change {}",
        get("time-since-topology-change")
    );
    let _ = writeln!(
        s,
        "  topology change count      {}",
        get("topology-change-count")
    );
    let _ = writeln!(s, "  topology change            {}", get("topology-change"));
    let _ = writeln!(
        s,
        "  topology change port       {}",
        get("topology-change-port")
    );
    let _ = writeln!(
        s,
        "  last topology change port  {}",
        get("last-topology-change-port")
    );
    s
}

fn port_values(b: &Bridge, no: PortNo, p: &RstpPort) -> Vec<(&'static str, String)> {
    let (state, _) = state_words(b, no);
    vec![
        ("enabled", yn(p.enabled).into()),
        ("role", p.role.name().into()),
        ("state", state.into()),
        ("port-id", prt_id(p.port_id)),
        ("external-port-cost", p.cost.to_string()),
        ("admin-external-cost", p.admin_cost.to_string()),
        ("internal-port-cost", p.cost.to_string()),
        ("admin-internal-cost", p.admin_cost.to_string()),
        ("designated-root", br_id(p.port_prio.root)),
        ("dsgn-external-cost", p.port_prio.cost.to_string()),
        ("dsgn-regional-root", br_id(p.port_prio.bridge)),
        ("dsgn-internal-cost", "0".into()),
        ("designated-bridge", br_id(p.port_prio.bridge)),
        ("designated-port", prt_id(p.port_prio.port)),
        ("admin-edge-port", yn(p.admin_edge).into()),
        ("auto-edge-port", yn(p.auto_edge).into()),
        ("oper-edge-port", yn(p.oper_edge).into()),
        ("topology-change-ack", yn(p.tc_ack).into()),
        ("point-to-point", yn(p.oper_p2p).into()),
        ("admin-point-to-point", p.admin_p2p.name().into()),
        ("restricted-role", yn(p.restricted_role).into()),
        ("restricted-TCN", yn(p.restricted_tcn).into()),
        ("port-hello-time", p.port_times.hello.to_string()),
        ("disputed", yn(p.disputed).into()),
        ("bpdu-guard-port", yn(p.bpdu_guard).into()),
        ("bpdu-guard-error", yn(p.bpdu_guard_error).into()),
        ("bpdu-filter-port", yn(p.bpdu_filter).into()),
        ("network-port", yn(p.network).into()),
        ("ba-inconsistent", "no".into()),
        ("num-tx-bpdu", p.tx_bpdu.to_string()),
        ("num-rx-bpdu", p.rx_bpdu.to_string()),
        ("num-tx-tcn", p.tx_tcn.to_string()),
        ("num-rx-tcn", p.rx_tcn.to_string()),
        ("num-transition-fwd", p.trans_fwd.to_string()),
        ("num-transition-blk", p.trans_blk.to_string()),
        ("num-rx-bpdu-filtered", p.rx_bpdu_filtered.to_string()),
        ("received-bpdu", yn(p.rcvd_bpdu).into()),
        ("received-stp", yn(p.rcvd_stp).into()),
        ("received-rstp", yn(p.rcvd_rstp).into()),
        ("send-rstp", yn(p.send_rstp).into()),
        ("received-tc-ack", yn(p.rcvd_tc_ack).into()),
        ("received-tcn", yn(p.rcvd_tcn).into()),
    ]
}

fn port_detail_plain(br: &str, port: &str, v: &[(&str, String)]) -> String {
    let get = |k: &str| {
        v.iter()
            .find(|(n, _)| *n == k)
            .map_or("", |(_, s)| s.as_str())
    };
    let mut s = String::new();
    let _ = writeln!(s, "{br}:{port} CIST info");
    let pairs: [(&str, &str, &str, &str); 20] = [
        (
            "enabled           ",
            "enabled",
            "role                ",
            "role",
        ),
        (
            "port id           ",
            "port-id",
            "state               ",
            "state",
        ),
        (
            "external port cost",
            "external-port-cost",
            "admin external cost ",
            "admin-external-cost",
        ),
        (
            "internal port cost",
            "internal-port-cost",
            "admin internal cost ",
            "admin-internal-cost",
        ),
        (
            "designated root   ",
            "designated-root",
            "dsgn external cost  ",
            "dsgn-external-cost",
        ),
        (
            "dsgn regional root",
            "dsgn-regional-root",
            "dsgn internal cost  ",
            "dsgn-internal-cost",
        ),
        (
            "designated bridge ",
            "designated-bridge",
            "designated port     ",
            "designated-port",
        ),
        (
            "admin edge port   ",
            "admin-edge-port",
            "auto edge port      ",
            "auto-edge-port",
        ),
        (
            "oper edge port    ",
            "oper-edge-port",
            "topology change ack ",
            "topology-change-ack",
        ),
        (
            "point-to-point    ",
            "point-to-point",
            "admin point-to-point",
            "admin-point-to-point",
        ),
        (
            "restricted role   ",
            "restricted-role",
            "restricted TCN      ",
            "restricted-TCN",
        ),
        (
            "port hello time   ",
            "port-hello-time",
            "disputed            ",
            "disputed",
        ),
        (
            "bpdu guard port   ",
            "bpdu-guard-port",
            "bpdu guard error    ",
            "bpdu-guard-error",
        ),
        (
            "network port      ",
            "network-port",
            "BA inconsistent     ",
            "ba-inconsistent",
        ),
        (
            "bpdu filter port  ",
            "bpdu-filter-port",
            "Num RX BPDU Filtered",
            "num-rx-bpdu-filtered",
        ),
        (
            "Num TX BPDU       ",
            "num-tx-bpdu",
            "Num TX TCN          ",
            "num-tx-tcn",
        ),
        (
            "Num RX BPDU       ",
            "num-rx-bpdu",
            "Num RX TCN          ",
            "num-rx-tcn",
        ),
        (
            "Num Transition FWD",
            "num-transition-fwd",
            "Num Transition BLK  ",
            "num-transition-blk",
        ),
        (
            "Rcvd BPDU         ",
            "received-bpdu",
            "Rcvd STP            ",
            "received-stp",
        ),
        (
            "Rcvd RSTP         ",
            "received-rstp",
            "Send RSTP           ",
            "send-rstp",
        ),
    ];
    for (l1, k1, l2, k2) in pairs {
        let _ = writeln!(s, "  {l1} {:<23} {l2} {}", get(k1), get(k2));
    }
    let _ = writeln!(
        s,
        "  Rcvd TC Ack        {:<23} Rcvd TCN             {}",
        get("received-tc-ack"),
        get("received-tcn")
    );
    s
}

/// mstpctl lists a bridge's ports in `versionsort` order of their names.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).saturating_mul(10) + u64::from(d));
        } else {
            if let Some(n) = num.take() {
                out.push((std::mem::take(&mut text), n));
            }
            text.push(c);
        }
    }
    out.push((text, num.unwrap_or(0)));
    out
}

fn array(items: Vec<String>, json: bool) -> String {
    if json {
        let mut s = format!("[{}]", items.join(","));
        s.push('\n');
        s
    } else {
        items.concat()
    }
}

/// Applies or shows; returns what mstpctl prints.
pub fn apply(g: &mut Graph, now: Instant, c: &MstpCmd, opts: Opts) -> Result<String, CmdError> {
    match c {
        MstpCmd::AddBridge(names) | MstpCmd::DelBridge(names) => {
            let add = matches!(c, MstpCmd::AddBridge(_));
            let cmd = if add {
                "mstpctl addbridge"
            } else {
                "mstpctl delbridge"
            };
            // Check them all first: a bad name changes nothing.
            let ids = names
                .iter()
                .map(|n| bridge_of(g, cmd, n).map(|(id, _)| id))
                .collect::<Result<Vec<_>, _>>()?;
            for id in ids {
                let b = g.iface_mut(id).bridge_mut().expect("checked");
                if add {
                    b.mstp_add(now);
                } else {
                    b.mstp_del(now);
                }
            }
            Ok(String::new())
        }
        MstpCmd::ShowBridge { bridges, param } => {
            let cmd = "mstpctl showbridge";
            let names: Vec<String> = if bridges.is_empty() {
                let mut v: Vec<String> = g
                    .iter()
                    .filter(|(_, f)| f.bridge().is_some_and(|b| b.rstp.is_some()))
                    .map(|(_, f)| f.name.clone())
                    .collect();
                v.sort_by_key(|n| natural_key(n));
                v
            } else {
                bridges.clone()
            };
            let mut items = Vec::new();
            for n in &names {
                let (_, b) = bridge_of(g, cmd, n)?;
                let r = rstp_of(cmd, n, b)?;
                let v = bridge_values(g, n, b, r);
                items.push(show_one(n, None, &v, param.as_deref(), opts.json, |v| {
                    bridge_plain(n, v)
                }));
            }
            Ok(array(items, opts.json))
        }
        MstpCmd::ShowPort {
            bridge,
            ports,
            param,
            detail,
        } => {
            let cmd = if *detail {
                "mstpctl showportdetail"
            } else {
                "mstpctl showport"
            };
            let (_, b) = bridge_of(g, cmd, bridge)?;
            let r = rstp_of(cmd, bridge, b)?;
            let mut nos: Vec<(String, PortNo)> = Vec::new();
            if ports.is_empty() {
                for p in b.ports() {
                    nos.push((g.iface(p.ifid).name.clone(), p.port_no));
                }
                nos.sort_by_key(|(n, _)| natural_key(n));
            } else {
                for n in ports {
                    let id = lookup(g, cmd, n)?;
                    let f = g.iface(id);
                    let ok = f.master.is_some_and(|m| g.iface(m).name == *bridge);
                    if !ok {
                        return Err(err(cmd, format!("{n} is not a port of {bridge}")));
                    }
                    nos.push((n.clone(), f.port_no));
                }
            }
            let mut items = Vec::new();
            for (n, no) in nos {
                let Some(p) = r.port(no) else { continue };
                let v = port_values(b, no, p);
                let item = if *detail || param.is_some() {
                    show_one(
                        n.as_str(),
                        Some(bridge),
                        &v,
                        param.as_deref(),
                        opts.json,
                        |v| port_detail_plain(bridge, &n, v),
                    )
                } else if opts.json {
                    let keys = [
                        "point-to-point",
                        "oper-edge-port",
                        "port-id",
                        "enabled",
                        "state",
                        "role",
                        "designated-bridge",
                        "designated-port",
                        "designated-root",
                    ];
                    let mut m = Map::new();
                    m.insert("port".into(), Value::String(n.clone()));
                    m.insert("bridge".into(), Value::String(bridge.clone()));
                    for k in keys {
                        let val = v.iter().find(|(x, _)| *x == k).map(|(_, s)| s.clone());
                        m.insert(k.into(), Value::String(val.unwrap_or_default()));
                    }
                    to_json(Value::Object(m)).trim_end().to_string()
                } else {
                    let (_, short) = state_words(b, no);
                    format!(
                        "{}{} {:<5} {} {:>4} {} {} {} {}\n",
                        if p.oper_p2p { ' ' } else { '*' },
                        if p.oper_edge { 'E' } else { ' ' },
                        n,
                        prt_id(p.port_id),
                        if p.enabled { short } else { "down" },
                        br_id(p.port_prio.root),
                        br_id(p.port_prio.bridge),
                        prt_id(p.port_prio.port),
                        p.role.short()
                    )
                };
                items.push(item);
            }
            Ok(array(items, opts.json))
        }
        MstpCmd::SetBridge { bridge, set } => {
            let cmd = "mstpctl set";
            let (id, b) = bridge_of(g, cmd, bridge)?;
            let r = rstp_of(cmd, bridge, b)?;
            let mut cfg = r.cfg;
            match *set {
                BridgeSet::MaxAge(v) => cfg.max_age = v,
                BridgeSet::FwdDelay(v) => cfg.forward_delay = v,
                BridgeSet::MaxHops(v) => cfg.max_hops = v,
                BridgeSet::Hello(v) => cfg.hello = v,
                BridgeSet::Ageing(v) => cfg.ageing_time = v,
                BridgeSet::ForceVers(v) => cfg.force_version = v,
                BridgeSet::TxHoldCount(v) => cfg.tx_hold_count = v,
                BridgeSet::TreePrio(v) => cfg.tree_prio = v,
            }
            if 2 * (cfg.forward_delay - 1) < cfg.max_age {
                return Err(err(
                    cmd,
                    format!(
                        "Configured Bridge Times don't meet 2 * (Bridge Forward Delay - 1 second) >= Bridge Max Age (forward delay {}, max age {})",
                        cfg.forward_delay, cfg.max_age
                    ),
                ));
            }
            let old = r.cfg;
            let b = g.iface_mut(id).bridge_mut().expect("checked");
            if let BridgeSet::Ageing(v) = *set {
                // mstpd writes the bridge's ageing_time.
                b.cfg.ageing_time = std::time::Duration::from_secs(u64::from(v));
                b.fdb.schedule_gc(now);
            }
            let r = b.rstp.as_mut().expect("checked");
            r.cfg = cfg;
            let times = (old.max_age, old.forward_delay, old.hello, old.max_hops)
                != (cfg.max_age, cfg.forward_delay, cfg.hello, cfg.max_hops);
            if old.tree_prio != cfg.tree_prio {
                r.identity_changed();
            } else if times
                || old.force_version != cfg.force_version
                || old.tx_hold_count != cfg.tx_hold_count
            {
                if old.tx_hold_count != cfg.tx_hold_count {
                    r.reset_tx_counts();
                }
                r.config_changed(times, old.force_version != cfg.force_version);
            }
            b.rstp_apply(now);
            Ok(String::new())
        }
        MstpCmd::SetPort { bridge, port, set } => {
            let cmd = "mstpctl setport";
            let (id, b) = bridge_of(g, cmd, bridge)?;
            rstp_of(cmd, bridge, b)?;
            let pid = lookup(g, cmd, port)?;
            let f = g.iface(pid);
            if f.master != Some(id) {
                return Err(err(cmd, format!("{port} is not a port of {bridge}")));
            }
            let no = f.port_no;
            let b = g.iface_mut(id).bridge_mut().expect("checked");
            let r = b.rstp.as_mut().expect("checked");
            match *set {
                PortSet::PathCost(c) | PortSet::TreePortCost(c) => r.set_admin_cost(no, c),
                PortSet::AdminEdge(v) => r.set_admin_edge(no, v),
                PortSet::AutoEdge(v) => {
                    r.port_mut(no).expect("port").auto_edge = v;
                    r.port_changed(no);
                }
                PortSet::P2p(v) => r.set_admin_p2p(no, v),
                PortSet::RestrRole(v) => {
                    r.port_mut(no).expect("port").restricted_role = v;
                    r.port_changed(no);
                }
                PortSet::RestrTcn(v) => {
                    r.port_mut(no).expect("port").restricted_tcn = v;
                    r.port_changed(no);
                }
                PortSet::Mcheck => r.mcheck(no),
                PortSet::BpduGuard(v) => r.port_mut(no).expect("port").bpdu_guard = v,
                PortSet::Network(v) => r.port_mut(no).expect("port").network = v,
                PortSet::DontTxmt(v) => r.port_mut(no).expect("port").dont_txmt = v,
                PortSet::BpduFilter(v) => {
                    let p = r.port_mut(no).expect("port");
                    p.bpdu_filter = v;
                    p.rx_bpdu_filtered = 0;
                }
                PortSet::TreePortPrio(v) => r.set_port_priority(no, v),
            }
            b.rstp_apply(now);
            Ok(String::new())
        }
    }
}

/// One bridge or port: the whole block, or one parameter's value.
fn show_one(
    name: &str,
    bridge: Option<&str>,
    v: &[(&'static str, String)],
    param: Option<&str>,
    json: bool,
    plain: impl Fn(&[(&'static str, String)]) -> String,
) -> String {
    if let Some(k) = param {
        let mut val = v
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        // The single root-port value is the name alone.
        if k == "root-port" {
            val = val.split(" (#").next().unwrap_or("").to_string();
        }
        return if json {
            format!("\"{val}\"")
        } else {
            format!("{val}\n")
        };
    }
    if !json {
        return plain(v);
    }
    let mut m = Map::new();
    match bridge {
        Some(b) => {
            m.insert("port".into(), Value::String(name.into()));
            m.insert("bridge".into(), Value::String(b.into()));
        }
        None => {
            m.insert("bridge".into(), Value::String(name.into()));
        }
    }
    let order: Vec<&str> = if bridge.is_some() {
        PORT_JSON_ORDER.to_vec()
    } else {
        v.iter().map(|(k, _)| *k).collect()
    };
    for k in order {
        let val = v.iter().find(|(n, _)| *n == k).map(|(_, s)| s.clone());
        let key = if k == "stp enabled" { "stp-enabled" } else { k };
        m.insert(key.into(), Value::String(val.unwrap_or_default()));
    }
    to_json(Value::Object(m)).trim_end().to_string()
}

/// `Role` by name, for the simulator's expectations.
pub fn role_named(s: &str) -> Option<Role> {
    Role::parse(s)
}

/// `patchbay save`'s lines for a bridge mstpd has taken: `addbridge`, then
/// every bridge and port setting that differs from mstpd's defaults.
pub(super) fn save(g: &Graph, name: &str, r: &crate::bridge::rstp::Rstp) -> Vec<Vec<String>> {
    use crate::bridge::rstp::RstpConfig;
    let w = super::save::words;
    let mut out = vec![w(&["mstpctl", "addbridge", name])];
    let d = RstpConfig::default();
    let c = &r.cfg;
    for (verb, v, dv) in [
        ("setmaxage", c.max_age, d.max_age),
        ("setfdelay", c.forward_delay, d.forward_delay),
        ("setmaxhops", c.max_hops, d.max_hops),
        ("setageing", c.ageing_time, d.ageing_time),
        ("settxholdcount", c.tx_hold_count, d.tx_hold_count),
    ] {
        if v != dv {
            out.push(w(&["mstpctl", verb, name, &v.to_string()]));
        }
    }
    if c.force_version != d.force_version {
        let v = if c.force_version == PROTO_STP {
            "stp"
        } else {
            "rstp"
        };
        out.push(w(&["mstpctl", "setforcevers", name, v]));
    }
    if c.tree_prio != d.tree_prio {
        out.push(w(&[
            "mstpctl",
            "settreeprio",
            name,
            "0",
            &c.tree_prio.to_string(),
        ]));
    }
    let b = g.by_name(name).and_then(|id| g.iface(id).bridge());
    let yn = |v: bool| if v { "yes" } else { "no" };
    for p in r.ports() {
        let Some(port) = b.and_then(|b| b.port(p.port_no)) else {
            continue;
        };
        let pn = g.iface(port.ifid).name.as_str();
        let mut set = |verb: &str, v: &str| out.push(w(&["mstpctl", verb, name, pn, v]));
        if p.admin_cost != 0 {
            set("setportpathcost", &p.admin_cost.to_string());
        }
        if p.priority != 8 {
            out.push(w(&[
                "mstpctl",
                "settreeportprio",
                name,
                pn,
                "0",
                &p.priority.to_string(),
            ]));
        }
        let mut set = |verb: &str, v: &str| out.push(w(&["mstpctl", verb, name, pn, v]));
        for (verb, v, dv) in [
            ("setportadminedge", p.admin_edge, false),
            ("setportautoedge", p.auto_edge, true),
            ("setportrestrrole", p.restricted_role, false),
            ("setportrestrtcn", p.restricted_tcn, false),
            ("setbpduguard", p.bpdu_guard, false),
            ("setportdonttxmt", p.dont_txmt, false),
            ("setportbpdufilter", p.bpdu_filter, false),
        ] {
            if v != dv {
                set(verb, yn(v));
            }
        }
        match p.admin_p2p {
            AdminP2p::Auto => {}
            AdminP2p::Yes => set("setportp2p", "yes"),
            AdminP2p::No => set("setportp2p", "no"),
        }
    }
    out
}
