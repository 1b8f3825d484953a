//! RSTP (802.1D-2004 / the CIST of 802.1Q-2005) as mstpd runs it, in
//! userspace over the bridge. BEHAVIOUR.md §1.8.
//!
//! mstpd is the reference (`mstp.c`): the same state machines, the same
//! variables, the same whole-second timers ticked once a second, the same
//! order of running. Each machine is a `match` on its state that makes at
//! most one transition and says whether it did; [`Rstp::run`] runs every
//! machine until none moves, which is what mstpd's
//! `br_state_machines_run` does with its dry runs. Names follow the
//! standard (`PISM` = Port Information, 13.32, and so on) so the two can be
//! read side by side.
//!
//! Only the CIST is run: `setforcevers` takes `stp` and `rstp`; MST BPDUs
//! from other bridges are read as RST BPDUs (their CIST part). The machines
//! here know nothing of frames or the FDB: they take decoded BPDUs, port
//! up/down, a one-second tick, and leave behind what the bridge must do
//! ([`Rstp::tx`], [`Rstp::flush`], the port states in [`RstpPort::pst`]).

use super::{Bridge, FdbEvent, PortState};
use crate::counters::DropReason;
use crate::fdb::PortNo;
use crate::time::Instant;
use crate::wire::bpdu::{self, Bpdu, BridgeId, ConfigBpdu, RstBpdu, RstRole};
use crate::wire::{Frame, Mac};
use std::time::Duration;

/// 802.1Q Table 13-3: the largest path cost.
pub const MAX_PATH_COST: u32 = 200_000_000;
/// Version numbers as `setforcevers` and the BPDU carry them.
pub const PROTO_STP: u8 = 0;
pub const PROTO_RSTP: u8 = 2;

/// mstpd's `compute_pcost`: 20 000 000 / speed in Mbit/s (802.1D-2004
/// long costs); unknown speed gives the largest cost.
pub fn auto_cost(speed_mbps: u32) -> u32 {
    if speed_mbps == 0 {
        MAX_PATH_COST
    } else if speed_mbps < 20_000_000 {
        20_000_000 / speed_mbps
    } else {
        1
    }
}

/// A CIST priority vector as RSTP needs it: root, external root path cost,
/// designated bridge, designated port. (The regional root and internal
/// cost of MSTP always equal the designated bridge and 0 outside a region,
/// so they do not change any comparison.) Smaller is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prio {
    pub root: BridgeId,
    pub cost: u32,
    pub bridge: BridgeId,
    pub port: u16,
}

/// Times in whole seconds, as mstpd keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    pub message_age: u32,
    pub max_age: u32,
    pub forward_delay: u32,
    pub hello: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Disabled,
    Root,
    Designated,
    Alternate,
    Backup,
}

impl Role {
    /// mstpctl's `ROLE_STR`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Disabled => "Disabled",
            Role::Root => "Root",
            Role::Designated => "Designated",
            Role::Alternate => "Alternate",
            Role::Backup => "Backup",
        }
    }
    /// mstpctl's `SHORT_ROLE_STR`.
    pub fn short(self) -> &'static str {
        match self {
            Role::Disabled => "Disa",
            Role::Root => "Root",
            Role::Designated => "Desg",
            Role::Alternate => "Altn",
            Role::Backup => "Back",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s.to_ascii_lowercase().as_str() {
            "disabled" => Role::Disabled,
            "root" => Role::Root,
            "designated" => Role::Designated,
            "alternate" => Role::Alternate,
            "backup" => Role::Backup,
            _ => return None,
        })
    }
}

/// `setportp2p yes|no|auto`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdminP2p {
    #[default]
    Auto,
    Yes,
    No,
}

impl AdminP2p {
    pub fn name(self) -> &'static str {
        match self {
            AdminP2p::Auto => "auto",
            AdminP2p::Yes => "yes",
            AdminP2p::No => "no",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum InfoIs {
    #[default]
    Disabled,
    Received,
    Mine,
    Aged,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum RcvdInfo {
    SuperiorDesignated,
    RepeatedDesignated,
    InferiorDesignated,
    InferiorRootAlternate,
    #[default]
    Other,
}

/// 13.28 Port Receive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Prx {
    #[default]
    Discard,
    Receive,
}

/// 13.29 Port Protocol Migration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Ppm {
    #[default]
    CheckingRstp,
    SelectingStp,
    Sensing,
}

/// 13.30 Bridge Detection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Bdm {
    Edge,
    #[default]
    NotEdge,
}

/// 13.31 Port Transmit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Ptx {
    #[default]
    Init,
    Periodic,
    Config,
    Tcn,
    Rstp,
    Idle,
}

/// 13.32 Port Information.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Pim {
    #[default]
    Disabled,
    Aged,
    Update,
    SuperiorDesignated,
    RepeatedDesignated,
    InferiorDesignated,
    NotDesignated,
    Other,
    Current,
    Receive,
}

/// 13.34 Port Role Transitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Prt {
    #[default]
    InitPort,
    DisablePort,
    DisabledPort,
    RootProposed,
    RootAgreed,
    RootSynced,
    Reroot,
    RootForward,
    RootLearn,
    Rerooted,
    RootPort,
    DesignatedPropose,
    DesignatedAgreed,
    DesignatedSynced,
    DesignatedRetired,
    DesignatedForward,
    DesignatedLearn,
    DesignatedDiscard,
    DesignatedPort,
    BlockPort,
    BackupPort,
    AlternateProposed,
    AlternateAgreed,
    AlternatePort,
}

/// 13.35 Port State Transition: what the bridge port is set to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pst {
    #[default]
    Discarding,
    Learning,
    Forwarding,
}

/// 13.36 Topology Change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Tcm {
    #[default]
    Inactive,
    Learning,
    Detected,
    NotifiedTcn,
    NotifiedTc,
    Propagating,
    Acknowledged,
    Active,
}

/// A received BPDU as the machines read it (mstpd's `rcvdBpduData`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rcvd {
    /// 0 (config or TCN) or 2 (RST; MST BPDUs are read as RST).
    pub version: u8,
    pub tcn: bool,
    pub tc: bool,
    pub tc_ack: bool,
    pub proposal: bool,
    pub role: Option<RstRole>,
    pub learning: bool,
    pub forwarding: bool,
    pub agreement: bool,
    pub prio: Prio,
    pub times: Times,
}

/// Why a frame to the group address was not a BPDU mstpd takes (14.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// Whole seconds from a BPDU time (`NEAREST_WHOLE_SECOND`: the low byte of
/// the 1/256 s value rounds).
fn whole_secs(d: Duration) -> u32 {
    (u32::from(bpdu::to_ticks(d)) + 128) >> 8
}

impl Rcvd {
    /// mstpd's validation (`MSTP_IN_rx_bpdu`, 802.1Q 14.4): TCN ≥ 4 bytes,
    /// config ≥ 35 of any version, RST version 2 ≥ 36, version ≥ 3 read as
    /// RST; other types and protocol ids are invalid.
    pub fn parse(b: &[u8]) -> Result<Rcvd, Invalid> {
        if b.len() < bpdu::TCN_LEN || b[0] != 0 || b[1] != 0 {
            return Err(Invalid);
        }
        let (c, version, flags) = match b[3] {
            bpdu::TYPE_TCN => {
                return Ok(Rcvd {
                    tcn: true,
                    ..Rcvd::default()
                })
            }
            bpdu::TYPE_CONFIG if b.len() >= bpdu::CONFIG_LEN => {
                (Bpdu::config_fields(b), PROTO_STP, b[4] & 0x81)
            }
            bpdu::TYPE_RST if b[2] >= PROTO_RSTP && b.len() >= bpdu::CONFIG_LEN => {
                if b[2] == PROTO_RSTP && b.len() < bpdu::RST_LEN {
                    return Err(Invalid);
                }
                (Bpdu::config_fields(b), PROTO_RSTP, b[4])
            }
            _ => return Err(Invalid),
        };
        let role = (version != PROTO_STP).then_some(match (flags >> 2) & 3 {
            0 => RstRole::Unknown,
            1 => RstRole::AlternateOrBackup,
            2 => RstRole::Root,
            _ => RstRole::Designated,
        });
        Ok(Rcvd {
            version,
            tcn: false,
            tc: flags & 0x01 != 0,
            tc_ack: flags & 0x80 != 0,
            proposal: flags & 0x02 != 0,
            role,
            learning: flags & 0x10 != 0,
            forwarding: flags & 0x20 != 0,
            agreement: flags & 0x40 != 0,
            prio: Prio {
                root: c.root,
                cost: c.root_path_cost,
                bridge: c.bridge_id,
                port: c.port_id,
            },
            times: Times {
                message_age: whole_secs(c.message_age),
                max_age: whole_secs(c.max_age),
                forward_delay: whole_secs(c.forward_delay),
                hello: whole_secs(c.hello_time),
            },
        })
    }
}

/// Bridge-wide settings (mstpctl's `set*` verbs), mstpd's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstpConfig {
    pub force_version: u8,
    /// Tree priority 0–15 (× 4096 in the bridge id).
    pub tree_prio: u8,
    pub max_age: u32,
    pub forward_delay: u32,
    pub hello: u32,
    pub tx_hold_count: u32,
    pub migrate_time: u32,
    pub max_hops: u32,
    pub ageing_time: u32,
}

impl Default for RstpConfig {
    fn default() -> Self {
        RstpConfig {
            force_version: PROTO_RSTP,
            tree_prio: 8,
            max_age: 20,
            forward_delay: 15,
            hello: 2,
            tx_hold_count: 6,
            migrate_time: 3,
            max_hops: 20,
            ageing_time: 300,
        }
    }
}

/// One port's RSTP state: mstpd's `port_t` and the CIST `per_tree_port_t`.
#[derive(Clone, Debug, Default)]
pub struct RstpPort {
    // Settings (mstpctl setport*).
    pub priority: u8,
    pub admin_cost: u32,
    pub admin_edge: bool,
    pub auto_edge: bool,
    pub admin_p2p: AdminP2p,
    pub restricted_role: bool,
    pub restricted_tcn: bool,
    pub bpdu_guard: bool,
    pub bpdu_filter: bool,
    pub network: bool,
    pub dont_txmt: bool,
    // Link facts.
    pub port_no: PortNo,
    pub port_id: u16,
    pub enabled: bool,
    pub cost: u32,
    pub oper_p2p: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
    pub bpdu_guard_error: bool,
    /// Seconds of bridge uptime when the machines (re)started on it.
    pub start_time: u64,
    // Counters, as mstpctl shows them.
    pub rx_bpdu: u64,
    pub rx_tcn: u64,
    pub tx_bpdu: u64,
    pub tx_tcn: u64,
    pub rx_bpdu_filtered: u64,
    pub trans_fwd: u64,
    pub trans_blk: u64,
    // Per-port machines and variables.
    prx: Prx,
    ppm: Ppm,
    bdm: Bdm,
    ptx: Ptx,
    rcvd: Rcvd,
    pub rcvd_bpdu: bool,
    pub rcvd_rstp: bool,
    pub rcvd_stp: bool,
    pub rcvd_tc_ack: bool,
    pub rcvd_tcn: bool,
    edge_delay_while: u32,
    mdelay_while: u32,
    hello_when: u32,
    tx_count: u32,
    mcheck: bool,
    pub send_rstp: bool,
    pub oper_edge: bool,
    new_info: bool,
    pub tc_ack: bool,
    rapid_ageing_while: u32,
    // CIST per-tree-port machines and variables.
    pim: Pim,
    prt: Prt,
    pub pst: Pst,
    tcm: Tcm,
    rcvd_msg: bool,
    rcvd_tc: bool,
    tc_prop: bool,
    updt_info: bool,
    pub disputed: bool,
    rcvd_info: RcvdInfo,
    msg_prio: Prio,
    msg_times: Times,
    pub port_prio: Prio,
    pub port_times: Times,
    designated_prio: Prio,
    designated_times: Times,
    info_is: InfoIs,
    pub role: Role,
    selected_role: Role,
    selected: bool,
    reselect: bool,
    sync: bool,
    synced: bool,
    re_root: bool,
    learn: bool,
    forward: bool,
    learning: bool,
    forwarding: bool,
    proposing: bool,
    proposed: bool,
    agree: bool,
    agreed: bool,
    fd_while: u32,
    rr_while: u32,
    rb_while: u32,
    pub tc_while: u32,
    rcvd_info_while: u32,
    /// `role` as the bridge last reported it (for the simulator's lanes).
    pub role_seen: Role,
}

/// mstpd's port identifier: priority in the top 4 bits, port number in 12.
pub fn port_id(priority: u8, no: PortNo) -> u16 {
    (u16::from(priority & 0x0f) << 12) | (no & 0x0fff)
}

/// What the machines left for the bridge to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this BPDU on the port.
    Tx(PortNo, Bpdu),
    /// Flush the port's learned entries (`brport/flush`).
    Flush(PortNo),
    /// Age entries after this many seconds, or restore `ageing_time`
    /// (`None`): rapid ageing towards an STP bridge.
    Ageing(Option<u32>),
    /// The port's BPDU guard tripped: shut it down.
    Shutdown(PortNo),
}

/// mstpd's bridge (`bridge_t` + the CIST `tree_t`).
#[derive(Clone, Debug)]
pub struct Rstp {
    pub cfg: RstpConfig,
    pub mac: Mac,
    pub enabled: bool,
    ports: Vec<Option<RstpPort>>,
    /// Port numbers in the order mstpd keeps them (order of addition).
    order: Vec<PortNo>,
    pub root_prio: Prio,
    pub root_port_id: u16,
    pub root_times: Times,
    prs_init: bool,
    pub topology_change: bool,
    pub tc_count: u64,
    pub time_since_tc: u64,
    pub tc_port: Option<PortNo>,
    pub last_tc_port: Option<PortNo>,
    pub uptime: u64,
    next_tick: Option<Instant>,
    pub actions: Vec<Action>,
    /// Role selection changed the root or the root port since the bridge
    /// last looked.
    pub root_changed: bool,
    /// `tc_count` as the bridge last reported it.
    pub tc_seen: u64,
    /// Runs that hit the step limit (a bug if ever non-zero).
    pub runaway: u64,
}

impl Rstp {
    pub fn new(mac: Mac) -> Self {
        Rstp {
            cfg: RstpConfig::default(),
            mac,
            enabled: false,
            ports: vec![None],
            order: Vec::new(),
            root_prio: Prio::default(),
            root_port_id: 0,
            root_times: Times::default(),
            prs_init: true,
            topology_change: false,
            tc_count: 0,
            time_since_tc: 0,
            tc_port: None,
            last_tc_port: None,
            uptime: 0,
            next_tick: None,
            actions: Vec::new(),
            root_changed: false,
            tc_seen: 0,
            runaway: 0,
        }
    }

    pub fn bridge_id(&self) -> BridgeId {
        BridgeId::new(u16::from(self.cfg.tree_prio) << 12, self.mac)
    }

    fn rstp_version(&self) -> bool {
        self.cfg.force_version >= PROTO_RSTP
    }

    fn bridge_prio(&self) -> Prio {
        let id = self.bridge_id();
        Prio {
            root: id,
            cost: 0,
            bridge: id,
            port: 0,
        }
    }

    fn bridge_times(&self) -> Times {
        Times {
            message_age: 0,
            max_age: self.cfg.max_age,
            forward_delay: self.cfg.forward_delay,
            hello: self.cfg.hello,
        }
    }

    pub fn port(&self, no: PortNo) -> Option<&RstpPort> {
        self.ports.get(usize::from(no))?.as_ref()
    }

    pub fn port_mut(&mut self, no: PortNo) -> Option<&mut RstpPort> {
        self.ports.get_mut(usize::from(no))?.as_mut()
    }

    pub fn ports(&self) -> impl Iterator<Item = &RstpPort> {
        self.order.iter().filter_map(|n| self.port(*n))
    }

    fn p(&self, no: PortNo) -> &RstpPort {
        self.port(no).expect("a live RSTP port")
    }

    fn pm(&mut self, no: PortNo) -> &mut RstpPort {
        self.port_mut(no).expect("a live RSTP port")
    }

    /// The root port's number, if any.
    pub fn root_port(&self) -> Option<PortNo> {
        (self.root_port_id != 0).then_some(self.root_port_id & 0x0fff)
    }

    pub fn is_root(&self) -> bool {
        self.root_prio.root == self.bridge_id()
    }

    // ----- external events (MSTP_IN_*) -----

    /// `MSTP_IN_port_create_and_add_tail`.
    pub fn add_port(&mut self, no: PortNo) {
        let i = usize::from(no);
        if self.ports.len() <= i {
            self.ports.resize(i + 1, None);
        }
        self.ports[i] = Some(RstpPort {
            priority: 8,
            auto_edge: true,
            port_no: no,
            port_id: port_id(8, no),
            cost: MAX_PATH_COST,
            port_times: Times {
                hello: self.cfg.hello,
                ..Times::default()
            },
            ..RstpPort::default()
        });
        self.order.push(no);
        self.port_begin(no);
    }

    /// `MSTP_IN_delete_port`: its role is gone, the others reselect.
    pub fn del_port(&mut self, no: PortNo) {
        if self.port(no).is_none() {
            return;
        }
        self.ports[usize::from(no)] = None;
        self.order.retain(|n| *n != no);
        if self.enabled {
            for n in self.order.clone() {
                let p = self.pm(n);
                p.selected = false;
                p.reselect = true;
            }
            self.run();
        }
    }

    /// `MSTP_IN_set_bridge_enable`: the bridge device went up or down.
    pub fn set_bridge_enable(&mut self, now: Instant, up: bool) {
        if self.enabled == up {
            return;
        }
        self.enabled = up;
        self.topology_change = false;
        self.time_since_tc = 0;
        self.tc_count = 0;
        self.tc_port = None;
        self.last_tc_port = None;
        if self.ports().any(|p| p.rapid_ageing_while > 0) {
            self.actions.push(Action::Ageing(None));
        }
        for no in self.order.clone() {
            let p = self.pm(no);
            p.rcvd_tc_ack = false;
            p.rcvd_tcn = false;
            p.rapid_ageing_while = 0;
            p.rcvd_tc = false;
            p.tc_prop = false;
            p.updt_info = false;
            p.disputed = false;
            p.rcvd_info = RcvdInfo::Other;
            p.msg_prio = Prio::default();
            p.msg_times = Times::default();
            p.rx_bpdu = 0;
            p.rx_tcn = 0;
            p.tx_bpdu = 0;
            p.tx_tcn = 0;
            p.trans_fwd = 0;
            p.trans_blk = 0;
            p.rx_bpdu_filtered = 0;
        }
        self.next_tick = up.then(|| now + Duration::from_secs(1));
        self.bridge_begin();
    }

    /// `MSTP_IN_set_port_enable`: a port's link went up or down, with its
    /// speed and duplex (auto cost and auto point-to-point).
    pub fn set_port_enable(&mut self, no: PortNo, up: bool, speed_mbps: u32, full_duplex: bool) {
        let Some(p) = self.port_mut(no) else {
            return;
        };
        let mut changed = false;
        if up {
            p.speed_mbps = speed_mbps;
            p.full_duplex = full_duplex;
            let cost = if p.admin_cost == 0 {
                auto_cost(speed_mbps)
            } else {
                p.admin_cost
            };
            if p.cost != cost {
                p.cost = cost;
                changed = true;
            }
            let p2p = match p.admin_p2p {
                AdminP2p::Yes => true,
                AdminP2p::No => false,
                AdminP2p::Auto => full_duplex,
            };
            if p.oper_p2p != p2p {
                p.oper_p2p = p2p;
                changed = true;
            }
            if !p.enabled {
                p.enabled = true;
                p.bpdu_guard_error = false;
                p.rx_bpdu_filtered = 0;
                p.rx_bpdu = 0;
                p.rx_tcn = 0;
                p.tx_bpdu = 0;
                p.tx_tcn = 0;
                changed = true;
            }
        } else if p.enabled {
            p.enabled = false;
            changed = true;
        }
        if changed {
            self.run();
        }
    }

    /// `MSTP_IN_rx_bpdu`: the bytes after LLC of a frame to the group
    /// address on port `no`. Returns false when it was not taken.
    pub fn rx_bpdu(&mut self, no: PortNo, payload: &[u8]) -> bool {
        let enabled = self.enabled;
        let Some(p) = self.port_mut(no) else {
            return false;
        };
        p.rx_bpdu += 1;
        if p.bpdu_guard {
            p.bpdu_guard_error = true;
            self.actions.push(Action::Shutdown(no));
            return false;
        }
        if p.bpdu_filter {
            p.rx_bpdu_filtered += 1;
            return false;
        }
        if !enabled || p.rcvd_bpdu {
            return false;
        }
        let Ok(r) = Rcvd::parse(payload) else {
            return false;
        };
        if r.tcn || r.tc {
            p.rx_tcn += 1;
        }
        p.rcvd = r;
        p.rcvd_bpdu = true;
        self.run();
        true
    }

    /// When the next one-second tick is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// Runs the one-second ticks that are due (`MSTP_IN_one_second`).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.next_tick.filter(|t| *t <= now) {
            self.next_tick = Some(t + Duration::from_secs(1));
            self.one_second();
        }
    }

    fn one_second(&mut self) {
        self.uptime += 1;
        if !self.enabled {
            return;
        }
        if !self.topology_change {
            self.time_since_tc += 1;
        }
        let mut restore = false;
        for no in self.order.clone() {
            self.ptsm_tick(no);
            let p = self.pm(no);
            if p.rapid_ageing_while > 0 {
                p.rapid_ageing_while -= 1;
                restore |= p.rapid_ageing_while == 0;
            }
        }
        if restore && self.ports().all(|p| p.rapid_ageing_while == 0) {
            self.actions.push(Action::Ageing(None));
        }
        self.run();
    }

    /// `MSTP_IN_port_mcheck`: try RSTP again on a port that fell back.
    pub fn mcheck(&mut self, no: PortNo) {
        let ok = self.rstp_version() && self.enabled;
        if let Some(p) = self.port_mut(no) {
            if ok && p.enabled {
                p.mcheck = true;
                p.proposing = true;
                self.run();
            }
        }
    }

    /// Bridge times or version changed (`MSTP_IN_set_cist_bridge_config`).
    pub fn config_changed(&mut self, times: bool, init: bool) {
        if times {
            let hello = self.cfg.hello;
            for no in self.order.clone() {
                let p = self.pm(no);
                p.selected = false;
                p.reselect = true;
                p.port_times.hello = hello;
            }
        }
        if !self.enabled {
            return;
        }
        if init {
            self.bridge_begin();
        } else {
            self.run();
        }
    }

    /// `settxholdcount`: every port's transmit count starts over.
    pub fn reset_tx_counts(&mut self) {
        for no in self.order.clone() {
            self.pm(no).tx_count = 0;
        }
    }

    /// The tree priority or bridge address changed: the bridge identifier
    /// is new, so the machines restart (`MSTP_IN_set_bridge_address`).
    pub fn identity_changed(&mut self) {
        if self.enabled {
            self.bridge_begin();
        }
    }

    /// A port setting changed that needs reselection (cost, priority).
    pub fn port_reselect(&mut self, no: PortNo) {
        if let Some(p) = self.port_mut(no) {
            p.selected = false;
            p.reselect = true;
            if p.enabled {
                self.run();
            }
        }
    }

    /// Runs the machines after a port setting changed.
    pub fn port_changed(&mut self, no: PortNo) {
        if self.port(no).is_some_and(|p| p.enabled) {
            self.run();
        }
    }

    /// `setportadminedge`: restarts the port's Bridge Detection machine.
    pub fn set_admin_edge(&mut self, no: PortNo, edge: bool) {
        if let Some(p) = self.port_mut(no) {
            if p.admin_edge != edge {
                p.admin_edge = edge;
                self.bdsm_begin(no);
                self.port_changed(no);
            }
        }
    }

    /// `setportp2p`.
    pub fn set_admin_p2p(&mut self, no: PortNo, v: AdminP2p) {
        if let Some(p) = self.port_mut(no) {
            p.admin_p2p = v;
            let p2p = match v {
                AdminP2p::Yes => true,
                AdminP2p::No => false,
                AdminP2p::Auto => p.full_duplex,
            };
            if p.oper_p2p != p2p {
                p.oper_p2p = p2p;
                self.port_changed(no);
            }
        }
    }

    /// `setportpathcost` (0 = auto from speed).
    pub fn set_admin_cost(&mut self, no: PortNo, cost: u32) {
        if let Some(p) = self.port_mut(no) {
            p.admin_cost = cost;
            let c = if cost == 0 {
                auto_cost(p.speed_mbps)
            } else {
                cost
            };
            if p.cost != c {
                p.cost = c;
                p.selected = false;
                p.reselect = true;
                self.port_changed(no);
            }
        }
    }

    /// `settreeportprio`.
    pub fn set_port_priority(&mut self, no: PortNo, prio: u8) {
        if let Some(p) = self.port_mut(no) {
            let id = port_id(prio, no);
            p.priority = prio;
            if p.port_id != id {
                p.port_id = id;
                self.port_reselect(no);
            }
        }
    }

    // ----- BEGIN -----

    fn bridge_begin(&mut self) {
        if !self.enabled {
            return;
        }
        let order = self.order.clone();
        for &no in &order {
            self.prsm_to_discard(no);
            self.ppmsm_to_checking_rstp(no);
            self.bdsm_begin(no);
            self.ptsm_to_init(no);
        }
        for &no in &order {
            self.pm(no).start_time = self.uptime;
            self.pism_to_disabled(no);
        }
        self.prssm_to_init_tree();
        for &no in &order {
            self.prtsm_to_init_port(no);
        }
        for &no in &order {
            self.pstsm_to_discarding(no);
        }
        for &no in &order {
            self.tcsm_to_inactive(no);
        }
        self.run();
    }

    fn port_begin(&mut self, no: PortNo) {
        if !self.enabled {
            return;
        }
        self.prsm_to_discard(no);
        self.ppmsm_to_checking_rstp(no);
        self.bdsm_begin(no);
        self.ptsm_to_init(no);
        self.pm(no).start_time = self.uptime;
        self.pism_to_disabled(no);
        self.prssm_run();
        self.prtsm_to_init_port(no);
        self.pstsm_to_discarding(no);
        self.tcsm_to_inactive(no);
        self.run();
    }

    /// Runs every machine until none makes a transition.
    pub fn run(&mut self) {
        if !self.enabled {
            return;
        }
        for _ in 0..100_000 {
            let mut moved = false;
            let order = self.order.clone();
            for &no in &order {
                while self.prsm_run(no) {
                    moved = true;
                }
            }
            for &no in &order {
                while self.ppmsm_run(no) {
                    moved = true;
                }
            }
            for &no in &order {
                while self.bdsm_run(no) {
                    moved = true;
                }
            }
            for &no in &order {
                while self.ptsm_run(no) {
                    moved = true;
                }
            }
            for &no in &order {
                while self.pism_run(no) {
                    moved = true;
                }
            }
            while self.prssm_run() {
                moved = true;
            }
            for &no in &order {
                while self.prtsm_run(no) {
                    moved = true;
                }
            }
            for &no in &order {
                while self.pstsm_run(no) {
                    moved = true;
                }
            }
            for &no in &order {
                while self.tcsm_run(no) {
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
        self.runaway += 1;
    }

    // ----- 13.26 procedures -----

    /// `set_TopologyChange`.
    fn set_topology_change(&mut self, yes: bool, no: PortNo) {
        let was = self.topology_change;
        if yes {
            self.topology_change = true;
            self.time_since_tc = 0;
            if !was {
                self.tc_count += 1;
            }
            self.tc_port = self.last_tc_port;
            self.last_tc_port = Some(no);
            return;
        }
        if !was {
            return;
        }
        let running = self.ports().any(|p| p.tc_while != 0);
        self.topology_change = running;
        if self.topology_change {
            self.time_since_tc = 0;
        }
    }

    /// 13.26.1 betterorsameInfo.
    fn better_or_same_info(&self, no: PortNo, new: InfoIs) -> bool {
        let p = self.p(no);
        match (new, p.info_is) {
            (InfoIs::Received, InfoIs::Received) => p.msg_prio <= p.port_prio,
            (InfoIs::Mine, InfoIs::Mine) => p.designated_prio <= p.port_prio,
            _ => false,
        }
    }

    /// 13.26.5 newTcWhile.
    fn new_tc_while(&mut self, no: PortNo) {
        if self.p(no).tc_while != 0 {
            return;
        }
        let rt = self.root_times;
        let p = self.pm(no);
        if p.send_rstp {
            p.tc_while = p.port_times.hello + 1;
            p.new_info = true;
        } else {
            p.tc_while = rt.max_age + rt.forward_delay;
        }
        self.set_topology_change(true, no);
    }

    /// 13.26.6 rcvInfo.
    fn rcv_info(&mut self, no: PortNo) -> RcvdInfo {
        let p = self.pm(no);
        let b = p.rcvd;
        if b.tcn {
            p.rcvd_tcn = true;
            p.rcvd_tc = true;
            return RcvdInfo::Other;
        }
        let designated = match b.role {
            None => true,
            Some(RstRole::Designated) => true,
            Some(RstRole::Root | RstRole::AlternateOrBackup) => false,
            Some(RstRole::Unknown) if b.version == PROTO_RSTP => true,
            Some(RstRole::Unknown) => return RcvdInfo::Other,
        };
        p.msg_prio = b.prio;
        p.msg_times = b.times;
        let (m, mt) = (p.msg_prio, p.msg_times);
        let better = m < p.port_prio;
        if designated {
            if better
                || (m.bridge.mac() == p.port_prio.bridge.mac()
                    && (m.port ^ p.port_prio.port) & 0x0fff == 0)
            {
                return RcvdInfo::SuperiorDesignated;
            }
            let same = m == p.port_prio && mt == p.port_times;
            if !same && m <= p.port_prio {
                return RcvdInfo::SuperiorDesignated;
            }
            if same && p.info_is == InfoIs::Received {
                return RcvdInfo::RepeatedDesignated;
            }
            return RcvdInfo::InferiorDesignated;
        }
        if !better {
            return RcvdInfo::InferiorRootAlternate;
        }
        RcvdInfo::Other
    }

    /// 13.26.7 recordAgreement.
    fn record_agreement(&mut self, no: PortNo) {
        let rstp = self.rstp_version();
        let p = self.pm(no);
        if rstp && p.oper_p2p && p.rcvd.agreement {
            p.agreed = true;
            p.proposing = false;
        } else {
            p.agreed = false;
        }
    }

    /// 13.26.8 recordDispute.
    fn record_dispute(&mut self, no: PortNo) {
        let p = self.pm(no);
        if p.rcvd.learning {
            p.disputed = true;
            p.agreed = false;
        }
    }

    /// 13.26.10 recordProposal.
    fn record_proposal(&mut self, no: PortNo) {
        let p = self.pm(no);
        if p.rcvd.proposal {
            p.proposed = true;
        }
    }

    /// 13.26.11 recordTimes: mstpd keeps the port's own hello time.
    fn record_times(&mut self, no: PortNo) {
        let p = self.pm(no);
        let hello = p.port_times.hello;
        p.port_times = p.msg_times;
        p.port_times.hello = hello;
    }

    /// 13.24.s fdbFlush: flush at once under RSTP, rapid ageing under STP.
    fn set_fdb_flush(&mut self, no: PortNo) {
        if self.p(no).oper_edge {
            return;
        }
        if self.rstp_version() {
            self.actions.push(Action::Flush(no));
        } else {
            let fd = self.p(no).designated_times.forward_delay;
            self.pm(no).rapid_ageing_while = fd;
            self.actions.push(Action::Ageing(Some(fd)));
        }
    }

    /// 13.26.16 setTcFlags.
    fn set_tc_flags(&mut self, no: PortNo) {
        let p = self.pm(no);
        if p.rcvd.tc_ack {
            p.rcvd_tc_ack = true;
        }
        if p.rcvd.tc {
            p.rcvd_tc = true;
        }
    }

    /// 13.26.17 setTcPropTree.
    fn set_tc_prop_tree(&mut self, no: PortNo) {
        if self.p(no).restricted_tcn {
            return;
        }
        for n in self.order.clone() {
            if n != no {
                self.pm(n).tc_prop = true;
            }
        }
    }

    fn times_secs(t: u32) -> Duration {
        Duration::from_secs(u64::from(t))
    }

    fn config_of(&self, no: PortNo) -> ConfigBpdu {
        let p = self.p(no);
        ConfigBpdu {
            topology_change: p.tc_while != 0,
            topology_change_ack: p.tc_ack,
            root: p.designated_prio.root,
            root_path_cost: p.designated_prio.cost,
            bridge_id: p.designated_prio.bridge,
            port_id: p.designated_prio.port,
            message_age: Self::times_secs(p.designated_times.message_age),
            max_age: Self::times_secs(p.designated_times.max_age),
            hello_time: Self::times_secs(p.port_times.hello),
            forward_delay: Self::times_secs(p.designated_times.forward_delay),
        }
    }

    fn can_send(&self, no: PortNo) -> bool {
        let p = self.p(no);
        p.role != Role::Disabled && !p.dont_txmt
    }

    fn push_tx(&mut self, no: PortNo, b: Bpdu) {
        let tc = match &b {
            Bpdu::Tcn => true,
            Bpdu::Config(c) => c.topology_change,
            Bpdu::Rst(r) => r.config.topology_change,
        };
        let p = self.pm(no);
        p.tx_bpdu += 1;
        if tc {
            p.tx_tcn += 1;
        }
        self.actions.push(Action::Tx(no, b));
    }

    /// 13.26.19 txConfig.
    fn tx_config(&mut self, no: PortNo) {
        if self.can_send(no) {
            let c = self.config_of(no);
            self.push_tx(no, Bpdu::Config(c));
        }
    }

    /// 13.26.20 txRstp.
    fn tx_rstp(&mut self, no: PortNo) {
        if !self.can_send(no) {
            return;
        }
        let config = self.config_of(no);
        let p = self.p(no);
        let r = RstBpdu {
            config,
            proposal: p.proposing,
            role: match p.role {
                Role::Root => RstRole::Root,
                Role::Designated => RstRole::Designated,
                _ => RstRole::AlternateOrBackup,
            },
            learning: p.learning,
            forwarding: p.forwarding,
            agreement: p.agree,
            version: PROTO_RSTP,
        };
        self.push_tx(no, Bpdu::Rst(r));
    }

    /// txTcn.
    fn tx_tcn(&mut self, no: PortNo) {
        if self.can_send(no) {
            self.push_tx(no, Bpdu::Tcn);
        }
    }

    /// 13.26.22 updtRcvdInfoWhile.
    fn updt_rcvd_info_while(&mut self, no: PortNo) {
        let p = self.pm(no);
        let t = p.port_times;
        p.rcvd_info_while = if t.message_age < t.max_age {
            3 * t.hello
        } else {
            0
        };
    }

    /// 13.26.23 updtRolesTree.
    fn updt_roles_tree(&mut self) {
        let own = self.bridge_id();
        let mut root = self.bridge_prio();
        let mut root_port_id = 0u16;
        let mut root_no = None;
        for p in self.ports() {
            if p.info_is == InfoIs::Received && !p.restricted_role && p.port_prio.bridge != own {
                let mut cand = p.port_prio;
                cand.cost = cand.cost.saturating_add(p.cost);
                if (cand, p.port_id) <= (root, root_port_id) {
                    root = cand;
                    root_port_id = p.port_id;
                    root_no = Some(p.port_no);
                }
            }
        }
        self.root_prio = root;
        self.root_port_id = root_port_id;
        self.root_times = match root_no {
            Some(n) => {
                let mut t = self.p(n).port_times;
                t.message_age += 1;
                t
            }
            None => self.bridge_times(),
        };
        let rt = self.root_times;
        for no in self.order.clone() {
            let p = self.pm(no);
            p.designated_prio = Prio {
                root: root.root,
                cost: root.cost,
                bridge: own,
                port: p.port_id,
            };
            p.designated_times = Times {
                hello: p.port_times.hello,
                ..rt
            };
        }
        for no in self.order.clone() {
            let p = self.pm(no);
            match p.info_is {
                InfoIs::Disabled => p.selected_role = Role::Disabled,
                InfoIs::Aged => {
                    p.selected_role = Role::Designated;
                    p.updt_info = true;
                }
                InfoIs::Mine => {
                    p.selected_role = Role::Designated;
                    if p.port_prio != p.designated_prio || p.port_times != p.designated_times {
                        p.updt_info = true;
                    }
                }
                InfoIs::Received => {
                    if root_no == Some(no) {
                        p.selected_role = Role::Root;
                        p.updt_info = false;
                    } else if p.port_prio <= p.designated_prio {
                        p.selected_role = if p.port_prio.bridge != own {
                            Role::Alternate
                        } else {
                            Role::Backup
                        };
                        p.updt_info = false;
                    } else {
                        p.selected_role = Role::Designated;
                        p.updt_info = true;
                    }
                }
            }
        }
    }

    // ----- 13.27 Port Timers -----

    fn ptsm_tick(&mut self, no: PortNo) {
        let dec = |v: &mut u32| *v = v.saturating_sub(1);
        let p = self.pm(no);
        dec(&mut p.hello_when);
        dec(&mut p.mdelay_while);
        dec(&mut p.edge_delay_while);
        dec(&mut p.tx_count);
        dec(&mut p.fd_while);
        dec(&mut p.rr_while);
        dec(&mut p.rb_while);
        dec(&mut p.rcvd_info_while);
        if p.tc_while > 0 {
            p.tc_while -= 1;
            if p.tc_while == 0 {
                self.set_topology_change(false, no);
            }
        }
    }

    // ----- 13.28 Port Receive -----

    fn prsm_to_discard(&mut self, no: PortNo) {
        let m = self.cfg.migrate_time;
        let p = self.pm(no);
        p.prx = Prx::Discard;
        p.rcvd_bpdu = false;
        p.rcvd_rstp = false;
        p.rcvd_stp = false;
        p.rcvd_msg = false;
        p.edge_delay_while = m;
    }

    fn prsm_to_receive(&mut self, no: PortNo) {
        let m = self.cfg.migrate_time;
        let p = self.pm(no);
        p.prx = Prx::Receive;
        // updtBPDUVersion
        if p.rcvd.version >= PROTO_RSTP {
            p.rcvd_rstp = true;
        } else {
            p.rcvd_stp = true;
        }
        p.rcvd_msg = true;
        p.oper_edge = false;
        p.rcvd_bpdu = false;
        p.edge_delay_while = m;
    }

    fn prsm_run(&mut self, no: PortNo) -> bool {
        let m = self.cfg.migrate_time;
        let p = self.p(no);
        if (p.rcvd_bpdu || p.edge_delay_while != m) && !p.enabled {
            let moves = p.prx != Prx::Discard
                || p.rcvd_bpdu
                || p.rcvd_rstp
                || p.rcvd_stp
                || p.edge_delay_while != m
                || p.rcvd_msg;
            if moves {
                self.prsm_to_discard(no);
            }
            return moves;
        }
        let go = match p.prx {
            Prx::Discard => p.rcvd_bpdu && p.enabled,
            Prx::Receive => p.rcvd_bpdu && p.enabled && !p.rcvd_msg,
        };
        if go {
            self.prsm_to_receive(no);
        }
        go
    }

    // ----- 13.29 Port Protocol Migration -----

    fn ppmsm_to_checking_rstp(&mut self, no: PortNo) {
        let (rstp, m) = (self.rstp_version(), self.cfg.migrate_time);
        let p = self.pm(no);
        p.ppm = Ppm::CheckingRstp;
        p.mcheck = false;
        p.send_rstp = rstp;
        p.mdelay_while = m;
    }

    fn ppmsm_run(&mut self, no: PortNo) -> bool {
        let (rstp, m) = (self.rstp_version(), self.cfg.migrate_time);
        let p = self.pm(no);
        match p.ppm {
            Ppm::CheckingRstp => {
                if p.mdelay_while != m && !p.enabled {
                    self.ppmsm_to_checking_rstp(no);
                    return true;
                }
                if p.mdelay_while == 0 {
                    p.ppm = Ppm::Sensing;
                    p.rcvd_rstp = false;
                    p.rcvd_stp = false;
                    return true;
                }
                false
            }
            Ppm::SelectingStp => {
                if p.mdelay_while == 0 || !p.enabled || p.mcheck {
                    p.ppm = Ppm::Sensing;
                    p.rcvd_rstp = false;
                    p.rcvd_stp = false;
                    return true;
                }
                false
            }
            Ppm::Sensing => {
                if !p.enabled || p.mcheck || (rstp && !p.send_rstp && p.rcvd_rstp) {
                    self.ppmsm_to_checking_rstp(no);
                    return true;
                }
                if p.send_rstp && p.rcvd_stp {
                    p.ppm = Ppm::SelectingStp;
                    p.send_rstp = false;
                    p.mdelay_while = m;
                    return true;
                }
                false
            }
        }
    }

    // ----- 13.30 Bridge Detection -----

    fn bdsm_begin(&mut self, no: PortNo) {
        let p = self.pm(no);
        if p.admin_edge {
            p.bdm = Bdm::Edge;
            p.oper_edge = true;
        } else {
            p.bdm = Bdm::NotEdge;
            p.oper_edge = false;
        }
    }

    fn bdsm_run(&mut self, no: PortNo) -> bool {
        let p = self.pm(no);
        match p.bdm {
            Bdm::Edge => {
                if ((!p.enabled || !p.auto_edge) && !p.admin_edge) || !p.oper_edge {
                    p.bdm = Bdm::NotEdge;
                    p.oper_edge = false;
                    return true;
                }
                false
            }
            Bdm::NotEdge => {
                if (!p.enabled && p.admin_edge)
                    || (p.edge_delay_while == 0 && p.auto_edge && p.send_rstp && p.proposing)
                {
                    p.bdm = Bdm::Edge;
                    p.oper_edge = true;
                    return true;
                }
                false
            }
        }
    }

    // ----- 13.31 Port Transmit -----

    fn ptsm_to_init(&mut self, no: PortNo) {
        let p = self.pm(no);
        p.ptx = Ptx::Init;
        p.new_info = true;
        p.tx_count = 0;
    }

    fn ptsm_run(&mut self, no: PortNo) -> bool {
        let hold = self.cfg.tx_hold_count;
        let p = self.pm(no);
        if !p.enabled {
            let moves = p.ptx != Ptx::Init || !p.new_info || p.tx_count != 0;
            if moves {
                self.ptsm_to_init(no);
            }
            return moves;
        }
        match p.ptx {
            Ptx::Init | Ptx::Config | Ptx::Tcn | Ptx::Rstp | Ptx::Periodic => {
                // → IDLE
                p.ptx = Ptx::Idle;
                p.hello_when = p.port_times.hello;
                true
            }
            Ptx::Idle => {
                if !p.selected || p.updt_info {
                    return false;
                }
                if p.hello_when == 0 {
                    p.ptx = Ptx::Periodic;
                    p.new_info = p.new_info
                        || p.role == Role::Designated
                        || (p.role == Role::Root && p.tc_while != 0);
                    return true;
                }
                if p.tx_count >= hold || p.bpdu_filter || !p.new_info {
                    return false;
                }
                if p.send_rstp {
                    p.ptx = Ptx::Rstp;
                    p.new_info = false;
                    self.tx_rstp(no);
                    let p = self.pm(no);
                    p.tx_count += 1;
                    p.tc_ack = false;
                    return true;
                }
                match p.role {
                    Role::Designated => {
                        p.ptx = Ptx::Config;
                        p.new_info = false;
                        self.tx_config(no);
                        let p = self.pm(no);
                        p.tx_count += 1;
                        p.tc_ack = false;
                        true
                    }
                    Role::Root => {
                        p.ptx = Ptx::Tcn;
                        p.new_info = false;
                        self.tx_tcn(no);
                        self.pm(no).tx_count += 1;
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    // ----- 13.32 Port Information -----

    fn pism_to_disabled(&mut self, no: PortNo) {
        let p = self.pm(no);
        p.pim = Pim::Disabled;
        p.rcvd_msg = false;
        p.proposing = false;
        p.proposed = false;
        p.agree = false;
        p.agreed = false;
        p.rcvd_info_while = 0;
        p.info_is = InfoIs::Disabled;
        p.reselect = true;
        p.selected = false;
    }

    fn pism_to_aged(&mut self, no: PortNo) {
        let p = self.pm(no);
        p.pim = Pim::Aged;
        p.info_is = InfoIs::Aged;
        p.reselect = true;
        p.selected = false;
    }

    fn pism_to_update(&mut self, no: PortNo) {
        let bos = self.better_or_same_info(no, InfoIs::Mine);
        let p = self.pm(no);
        p.pim = Pim::Update;
        p.proposing = false;
        p.proposed = false;
        p.agreed = p.agreed && bos;
        p.synced = p.synced && p.agreed;
        p.port_prio = p.designated_prio;
        p.port_times = p.designated_times;
        p.updt_info = false;
        p.info_is = InfoIs::Mine;
        p.new_info = true;
    }

    fn pism_to_superior_designated(&mut self, no: PortNo) {
        {
            let p = self.pm(no);
            p.pim = Pim::SuperiorDesignated;
            p.agreed = false;
            p.proposing = false;
        }
        self.record_proposal(no);
        self.set_tc_flags(no);
        let bos = self.better_or_same_info(no, InfoIs::Received);
        {
            let p = self.pm(no);
            p.agree = p.agree && bos;
        }
        self.record_agreement(no);
        let p = self.pm(no);
        p.synced = p.synced && p.agreed;
        p.port_prio = p.msg_prio;
        self.record_times(no);
        self.updt_rcvd_info_while(no);
        let p = self.pm(no);
        p.info_is = InfoIs::Received;
        p.reselect = true;
        p.selected = false;
        p.rcvd_msg = false;
    }

    fn pism_to_repeated_designated(&mut self, no: PortNo) {
        self.pm(no).pim = Pim::RepeatedDesignated;
        self.record_proposal(no);
        self.set_tc_flags(no);
        self.record_agreement(no);
        self.updt_rcvd_info_while(no);
        self.pm(no).rcvd_msg = false;
    }

    fn pism_run(&mut self, no: PortNo) -> bool {
        let p = self.p(no);
        if !p.enabled && p.info_is != InfoIs::Disabled {
            self.pism_to_disabled(no);
            return true;
        }
        match p.pim {
            Pim::Disabled => {
                if p.enabled {
                    self.pism_to_aged(no);
                    return true;
                }
                if p.rcvd_msg {
                    self.pism_to_disabled(no);
                    return true;
                }
                false
            }
            Pim::Aged => {
                if p.selected && p.updt_info {
                    self.pism_to_update(no);
                    return true;
                }
                false
            }
            Pim::Update
            | Pim::SuperiorDesignated
            | Pim::RepeatedDesignated
            | Pim::InferiorDesignated
            | Pim::NotDesignated
            | Pim::Other => {
                self.pm(no).pim = Pim::Current;
                true
            }
            Pim::Current => {
                if p.rcvd_msg && !p.updt_info {
                    self.pm(no).pim = Pim::Receive;
                    let info = self.rcv_info(no);
                    self.pm(no).rcvd_info = info;
                    return true;
                }
                if p.info_is == InfoIs::Received
                    && p.rcvd_info_while == 0
                    && !p.updt_info
                    && !p.rcvd_msg
                {
                    self.pism_to_aged(no);
                    return true;
                }
                if p.selected && p.updt_info {
                    self.pism_to_update(no);
                    return true;
                }
                false
            }
            Pim::Receive => {
                match p.rcvd_info {
                    RcvdInfo::SuperiorDesignated => self.pism_to_superior_designated(no),
                    RcvdInfo::RepeatedDesignated => self.pism_to_repeated_designated(no),
                    RcvdInfo::InferiorDesignated => {
                        self.pm(no).pim = Pim::InferiorDesignated;
                        self.record_dispute(no);
                        self.pm(no).rcvd_msg = false;
                    }
                    RcvdInfo::InferiorRootAlternate => {
                        self.pm(no).pim = Pim::NotDesignated;
                        self.record_agreement(no);
                        self.set_tc_flags(no);
                        self.pm(no).rcvd_msg = false;
                    }
                    RcvdInfo::Other => {
                        let p = self.pm(no);
                        p.pim = Pim::Other;
                        p.rcvd_msg = false;
                    }
                }
                true
            }
        }
    }

    // ----- 13.33 Port Role Selection -----

    fn prssm_to_init_tree(&mut self) {
        self.prs_init = true;
        for no in self.order.clone() {
            self.pm(no).selected_role = Role::Disabled;
        }
    }

    fn prssm_to_role_selection(&mut self) {
        self.prs_init = false;
        for no in self.order.clone() {
            self.pm(no).reselect = false;
        }
        let old = (self.root_prio.root, self.root_port_id);
        self.updt_roles_tree();
        for no in self.order.clone() {
            self.pm(no).selected = true;
        }
        if old != (self.root_prio.root, self.root_port_id) {
            self.root_changed = true;
        }
    }

    fn prssm_run(&mut self) -> bool {
        if self.prs_init || self.ports().any(|p| p.reselect) {
            self.prssm_to_role_selection();
            return true;
        }
        false
    }

    // ----- 13.34 Port Role Transitions -----

    fn prtsm_to_init_port(&mut self, no: PortNo) {
        let p = self.pm(no);
        p.prt = Prt::InitPort;
        p.role = Role::Disabled;
        p.learn = false;
        p.forward = false;
        p.synced = false;
        p.sync = true;
        p.re_root = true;
        p.rr_while = p.designated_times.forward_delay;
        p.fd_while = p.designated_times.max_age;
        p.rb_while = 0;
    }

    /// 13.25.1 allSynced, for port `no`.
    fn all_synced(&self, no: PortNo) -> bool {
        let role = self.p(no).role;
        for q in self.ports() {
            if !q.selected || q.role != q.selected_role || q.updt_info {
                return false;
            }
            let ok = match role {
                Role::Root | Role::Alternate => q.role == Role::Root || q.synced,
                Role::Designated => q.port_no == no || q.synced,
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// 17.20.10 reRooted: no other port has rrWhile running.
    fn re_rooted(&self, no: PortNo) -> bool {
        self.ports().all(|q| q.port_no == no || q.rr_while == 0)
    }

    fn set_sync_tree(&mut self) {
        for n in self.order.clone() {
            self.pm(n).sync = true;
        }
    }

    fn set_re_root_tree(&mut self) {
        for n in self.order.clone() {
            self.pm(n).re_root = true;
        }
    }

    fn prtsm_run(&mut self, no: PortNo) -> bool {
        let rstp = self.rstp_version();
        let migrate = self.cfg.migrate_time;
        let all_synced = self.all_synced(no);
        let re_rooted = self.re_rooted(no);
        let p = self.pm(no);
        let fwd_delay = p.designated_times.forward_delay;
        let hello = p.port_times.hello;
        let forward_delay = if p.send_rstp { hello } else { fwd_delay };
        let max_age = p.designated_times.max_age;
        let ready = p.selected && !p.updt_info;

        if p.role != p.selected_role && ready {
            match p.selected_role {
                Role::Disabled => {
                    p.prt = Prt::DisablePort;
                    p.role = Role::Disabled;
                    p.learn = false;
                    p.forward = false;
                }
                Role::Root => {
                    p.prt = Prt::RootPort;
                    p.role = Role::Root;
                    p.rr_while = fwd_delay;
                }
                Role::Designated => {
                    p.prt = Prt::DesignatedPort;
                    p.role = Role::Designated;
                }
                Role::Alternate | Role::Backup => {
                    p.prt = Prt::BlockPort;
                    p.role = p.selected_role;
                    p.learn = false;
                    p.forward = false;
                }
            }
            return true;
        }

        match p.prt {
            Prt::InitPort => {
                p.prt = Prt::DisablePort;
                p.role = Role::Disabled;
                p.learn = false;
                p.forward = false;
                true
            }
            Prt::DisablePort => {
                if ready && !p.learning && !p.forwarding {
                    p.prt = Prt::DisabledPort;
                    p.fd_while = max_age;
                    p.synced = true;
                    p.rr_while = 0;
                    p.sync = false;
                    p.re_root = false;
                    return true;
                }
                false
            }
            Prt::DisabledPort => {
                if ready && (p.sync || p.re_root || !p.synced || p.fd_while != max_age) {
                    p.fd_while = max_age;
                    p.synced = true;
                    p.rr_while = 0;
                    p.sync = false;
                    p.re_root = false;
                    return true;
                }
                false
            }
            Prt::RootProposed
            | Prt::RootAgreed
            | Prt::RootSynced
            | Prt::Reroot
            | Prt::RootForward
            | Prt::RootLearn
            | Prt::Rerooted => {
                p.prt = Prt::RootPort;
                p.role = Role::Root;
                p.rr_while = fwd_delay;
                true
            }
            Prt::RootPort => {
                if !ready {
                    return false;
                }
                if !p.forward && !p.re_root {
                    p.prt = Prt::Reroot;
                    self.set_re_root_tree();
                    return true;
                }
                if (p.agreed && !p.synced) || (p.sync && p.synced) {
                    p.prt = Prt::RootSynced;
                    p.synced = true;
                    p.sync = false;
                    return true;
                }
                if (all_synced && !p.agree) || (p.proposed && p.agree) {
                    p.prt = Prt::RootAgreed;
                    p.proposed = false;
                    p.sync = false;
                    p.agree = true;
                    p.new_info = true;
                    return true;
                }
                if p.proposed && !p.agree {
                    p.prt = Prt::RootProposed;
                    p.proposed = false;
                    self.set_sync_tree();
                    return true;
                }
                if p.fd_while == 0 || (re_rooted && p.rb_while == 0 && rstp) {
                    if !p.learn {
                        p.prt = Prt::RootLearn;
                        p.fd_while = forward_delay;
                        p.learn = true;
                        return true;
                    } else if !p.forward {
                        p.prt = Prt::RootForward;
                        p.fd_while = 0;
                        p.forward = true;
                        return true;
                    }
                }
                if p.re_root && p.forward {
                    p.prt = Prt::Rerooted;
                    p.re_root = false;
                    return true;
                }
                if p.rr_while != fwd_delay {
                    p.rr_while = fwd_delay;
                    return true;
                }
                false
            }
            Prt::DesignatedPropose
            | Prt::DesignatedAgreed
            | Prt::DesignatedSynced
            | Prt::DesignatedRetired
            | Prt::DesignatedForward
            | Prt::DesignatedLearn
            | Prt::DesignatedDiscard => {
                p.prt = Prt::DesignatedPort;
                p.role = Role::Designated;
                true
            }
            Prt::DesignatedPort => {
                if !ready {
                    return false;
                }
                if p.re_root && p.rr_while == 0 {
                    p.prt = Prt::DesignatedRetired;
                    p.re_root = false;
                    return true;
                }
                if (!p.learning && !p.forwarding && !p.synced)
                    || (p.agreed && !p.synced)
                    || (p.oper_edge && !p.synced)
                    || (p.sync && p.synced)
                {
                    p.prt = Prt::DesignatedSynced;
                    p.rr_while = 0;
                    p.synced = true;
                    p.sync = false;
                    return true;
                }
                if all_synced && (p.proposed || !p.agree) {
                    p.prt = Prt::DesignatedAgreed;
                    p.proposed = false;
                    p.sync = false;
                    p.agree = true;
                    p.new_info = true;
                    return true;
                }
                if !p.forward && !p.agreed && !p.proposing && !p.oper_edge {
                    p.prt = Prt::DesignatedPropose;
                    p.proposing = true;
                    p.edge_delay_while = if p.oper_p2p { migrate } else { max_age };
                    p.new_info = true;
                    return true;
                }
                if (p.fd_while == 0 || p.agreed || p.oper_edge)
                    && (p.rr_while == 0 || !p.re_root)
                    && !p.sync
                {
                    if !p.learn {
                        p.prt = Prt::DesignatedLearn;
                        p.learn = true;
                        p.fd_while = forward_delay;
                        return true;
                    } else if !p.forward {
                        p.prt = Prt::DesignatedForward;
                        p.forward = true;
                        p.fd_while = 0;
                        p.agreed = p.send_rstp;
                        return true;
                    }
                }
                if ((p.sync && !p.synced) || (p.re_root && p.rr_while != 0) || p.disputed)
                    && !p.oper_edge
                    && (p.learn || p.forward)
                {
                    p.prt = Prt::DesignatedDiscard;
                    p.learn = false;
                    p.forward = false;
                    p.disputed = false;
                    p.fd_while = forward_delay;
                    return true;
                }
                false
            }
            Prt::BlockPort => {
                if ready && !p.learning && !p.forwarding {
                    Self::to_alternate_port(p, forward_delay);
                    return true;
                }
                false
            }
            Prt::BackupPort | Prt::AlternateProposed | Prt::AlternateAgreed => {
                Self::to_alternate_port(p, forward_delay);
                true
            }
            Prt::AlternatePort => {
                if !ready {
                    return false;
                }
                if (all_synced && !p.agree) || (p.proposed && p.agree) {
                    p.prt = Prt::AlternateAgreed;
                    p.proposed = false;
                    p.agree = true;
                    p.new_info = true;
                    return true;
                }
                if p.proposed && !p.agree {
                    p.prt = Prt::AlternateProposed;
                    p.proposed = false;
                    self.set_sync_tree();
                    return true;
                }
                if p.rb_while != 2 * hello && p.role == Role::Backup {
                    p.prt = Prt::BackupPort;
                    p.rb_while = 2 * hello;
                    return true;
                }
                if p.fd_while != forward_delay || p.sync || p.re_root || !p.synced {
                    Self::to_alternate_port(p, forward_delay);
                    return true;
                }
                false
            }
        }
    }

    fn to_alternate_port(p: &mut RstpPort, forward_delay: u32) {
        p.prt = Prt::AlternatePort;
        p.fd_while = forward_delay;
        p.synced = true;
        p.rr_while = 0;
        p.sync = false;
        p.re_root = false;
    }

    // ----- 13.35 Port State Transition -----

    fn pstsm_to_discarding(&mut self, no: PortNo) {
        let p = self.pm(no);
        if p.pst == Pst::Forwarding {
            p.trans_blk += 1;
        }
        p.pst = Pst::Discarding;
        p.learning = false;
        p.forwarding = false;
    }

    fn pstsm_run(&mut self, no: PortNo) -> bool {
        let p = self.pm(no);
        match p.pst {
            Pst::Discarding if p.learn => {
                p.pst = Pst::Learning;
                p.learning = true;
                true
            }
            Pst::Learning if !p.learn => {
                self.pstsm_to_discarding(no);
                true
            }
            Pst::Learning if p.forward => {
                p.pst = Pst::Forwarding;
                p.forwarding = true;
                p.trans_fwd += 1;
                true
            }
            Pst::Forwarding if !p.forward => {
                self.pstsm_to_discarding(no);
                true
            }
            _ => false,
        }
    }

    // ----- 13.36 Topology Change -----

    fn tcsm_to_inactive(&mut self, no: PortNo) {
        self.pm(no).tcm = Tcm::Inactive;
        self.set_fdb_flush(no);
        self.pm(no).tc_while = 0;
        self.set_topology_change(false, no);
        self.pm(no).tc_ack = false;
    }

    fn tcsm_to_learning(&mut self, no: PortNo) {
        let p = self.pm(no);
        p.tcm = Tcm::Learning;
        p.rcvd_tcn = false;
        p.rcvd_tc_ack = false;
        p.rcvd_tc = false;
        p.tc_prop = false;
    }

    fn tcsm_run(&mut self, no: PortNo) -> bool {
        let p = self.p(no);
        let active = matches!(p.role, Role::Root | Role::Designated);
        match p.tcm {
            Tcm::Inactive => {
                // fdbFlush is done at once (or by rapid ageing), so it is
                // never pending here.
                if p.learn {
                    self.tcsm_to_learning(no);
                    return true;
                }
                false
            }
            Tcm::Learning => {
                if active && p.forward && !p.oper_edge {
                    self.pm(no).tcm = Tcm::Detected;
                    self.new_tc_while(no);
                    self.set_tc_prop_tree(no);
                    self.pm(no).new_info = true;
                    return true;
                }
                if p.rcvd_tc || p.tc_prop || p.rcvd_tcn || p.rcvd_tc_ack {
                    self.tcsm_to_learning(no);
                    return true;
                }
                if !(active || p.learn || p.learning) {
                    self.tcsm_to_inactive(no);
                    return true;
                }
                false
            }
            Tcm::NotifiedTcn => {
                self.tcsm_notified_tc(no);
                true
            }
            Tcm::Detected | Tcm::NotifiedTc | Tcm::Propagating | Tcm::Acknowledged => {
                self.pm(no).tcm = Tcm::Active;
                true
            }
            Tcm::Active => {
                if !active || p.oper_edge {
                    self.tcsm_to_learning(no);
                    return true;
                }
                if p.rcvd_tcn {
                    self.pm(no).tcm = Tcm::NotifiedTcn;
                    self.new_tc_while(no);
                    return true;
                }
                if p.rcvd_tc {
                    self.tcsm_notified_tc(no);
                    return true;
                }
                if p.tc_prop {
                    self.pm(no).tcm = Tcm::Propagating;
                    self.new_tc_while(no);
                    self.set_fdb_flush(no);
                    self.pm(no).tc_prop = false;
                    return true;
                }
                if p.rcvd_tc_ack {
                    let p = self.pm(no);
                    p.tcm = Tcm::Acknowledged;
                    p.tc_while = 0;
                    p.rcvd_tc_ack = false;
                    self.set_topology_change(false, no);
                    return true;
                }
                false
            }
        }
    }

    fn tcsm_notified_tc(&mut self, no: PortNo) {
        let p = self.pm(no);
        p.tcm = Tcm::NotifiedTc;
        p.rcvd_tc = false;
        p.rcvd_tcn = false;
        if p.role == Role::Designated {
            p.tc_ack = true;
        }
        self.set_tc_prop_tree(no);
    }
}

/// The bridge's side: mstpd attached over its ports (BEHAVIOUR.md §1.8).
impl Bridge {
    /// mstpd runs this bridge's spanning tree (`stp_state 2`, user STP).
    pub fn user_stp(&self) -> bool {
        self.cfg.stp_state == 2 && self.rstp.is_some()
    }

    /// The bridge id of whichever spanning tree runs (mstpd's or the
    /// kernel's).
    pub fn span_id(&self) -> BridgeId {
        match &self.rstp {
            Some(r) if self.user_stp() => r.bridge_id(),
            _ => self.stp.bridge_id,
        }
    }

    /// The root bridge as the running spanning tree sees it.
    pub fn span_root(&self) -> BridgeId {
        match &self.rstp {
            Some(r) if self.user_stp() => r.root_prio.root,
            _ => self.stp.designated_root,
        }
    }

    /// The root port as the running spanning tree sees it (0: none).
    pub fn span_root_port(&self) -> PortNo {
        match &self.rstp {
            Some(r) if self.user_stp() => r.root_port().unwrap_or(0),
            _ => self.stp.root_port,
        }
    }

    /// `mstpctl addbridge`: mstpd takes the bridge. If STP is on, the
    /// kernel's stops and mstpd's starts, as when `/sbin/bridge-stp`
    /// answers yes.
    pub fn mstp_add(&mut self, now: Instant) {
        if self.rstp.is_some() {
            return;
        }
        let mut r = Rstp::new(self.stp.bridge_id.mac());
        r.cfg.ageing_time = self.cfg.ageing_time.as_secs() as u32;
        for no in self.ports().map(|p| p.port_no).collect::<Vec<_>>() {
            r.add_port(no);
        }
        self.rstp = Some(Box::new(r));
        if self.cfg.stp_state != 0 {
            self.set_stp_state(now, 1);
        }
    }

    /// `mstpctl delbridge`: back to kernel STP if STP is on. (mstpd would
    /// leave the kernel in user STP with frozen port states; patchbay hands
    /// the bridge to the kernel's STP instead.)
    pub fn mstp_del(&mut self, now: Instant) {
        if self.rstp.is_none() {
            return;
        }
        let on = self.cfg.stp_state != 0;
        if on {
            self.set_stp_state(now, 0);
        }
        self.rstp = None;
        self.rapid_ageing = None;
        if on {
            // The kernel's STP takes over; its ports start again from
            // blocking (listening, learning), never forwarding at once.
            self.set_stp_state(now, 1);
            for no in self.ports().map(|p| p.port_no).collect::<Vec<_>>() {
                if self
                    .port(no)
                    .is_some_and(|p| p.state != PortState::Disabled)
                {
                    self.stp_enable_port(now, no);
                }
            }
        }
    }

    /// Starts mstpd's machines on this bridge and its up ports.
    pub(crate) fn rstp_start(&mut self, now: Instant) {
        let up = self.stp.enabled;
        let ports: Vec<(PortNo, u32, bool)> = self
            .ports()
            .filter(|p| p.state != PortState::Disabled)
            .map(|p| (p.port_no, p.speed_mbps, p.full_duplex))
            .collect();
        let Some(r) = self.rstp.as_mut() else {
            return;
        };
        r.set_bridge_enable(now, up);
        if up {
            for (no, speed, duplex) in ports {
                r.set_port_enable(no, true, speed, duplex);
            }
        }
        self.rstp_apply(now);
    }

    pub(crate) fn rstp_stop(&mut self, now: Instant) {
        if let Some(r) = self.rstp.as_mut() {
            r.set_bridge_enable(now, false);
            r.actions.clear();
        }
        self.rapid_ageing = None;
    }

    /// A port's link changed while mstpd runs the bridge.
    pub(crate) fn rstp_port_enable(&mut self, now: Instant, no: PortNo, up: bool) {
        if !self.user_stp() {
            return;
        }
        let (speed, duplex) = self
            .port(no)
            .map_or((0, true), |p| (p.speed_mbps, p.full_duplex));
        if let Some(r) = self.rstp.as_mut() {
            r.set_port_enable(no, up, speed, duplex);
        }
        self.rstp_apply(now);
    }

    /// A frame to the group address on port `no`, under user STP: up the
    /// stack to mstpd (`MSTP_IN_rx_bpdu`).
    pub(crate) fn rstp_receive(
        &mut self,
        now: Instant,
        no: PortNo,
        frame: &Frame<'_>,
    ) -> Result<(), DropReason> {
        let payload = bpdu::payload(frame).map_err(|_| DropReason::BadBpdu)?;
        let valid = Rcvd::parse(payload).is_ok();
        if let Some(r) = self.rstp.as_mut() {
            r.rx_bpdu(no, payload);
        }
        self.rstp_apply(now);
        if valid {
            Ok(())
        } else {
            Err(DropReason::BadBpdu)
        }
    }

    /// Carries out what the machines asked for: BPDUs out, flushes, rapid
    /// ageing, BPDU guard shutdowns, and port states (mstpd's
    /// `MSTP_OUT_set_state`; a port the kernel holds disabled stays so).
    pub(crate) fn rstp_apply(&mut self, now: Instant) {
        let Some(r) = self.rstp.as_mut() else {
            return;
        };
        let actions = std::mem::take(&mut r.actions);
        let root_changed = std::mem::take(&mut r.root_changed);
        let tc = r.tc_count != r.tc_seen;
        r.tc_seen = r.tc_count;
        let (root, root_port) = (r.root_prio.root, r.root_port().unwrap_or(0));
        let states: Vec<(PortNo, Pst)> = r.ports().map(|p| (p.port_no, p.pst)).collect();
        let mut roles = Vec::new();
        if self.record {
            for no in r.order.clone() {
                let p = r.pm(no);
                if p.role != p.role_seen {
                    p.role_seen = p.role;
                    roles.push(FdbEvent::PortRole {
                        port: no,
                        role: p.role,
                    });
                }
            }
        }
        let mut shutdown = Vec::new();
        for a in actions {
            match a {
                Action::Tx(no, b) => self.stp.tx.push((no, b)),
                Action::Flush(no) => self.fdb.flush_port(no, true),
                Action::Ageing(Some(s)) => {
                    self.rapid_ageing = Some(Duration::from_secs(u64::from(s)));
                    self.fdb.schedule_gc(now);
                }
                Action::Ageing(None) => self.rapid_ageing = None,
                Action::Shutdown(no) => shutdown.push(no),
            }
        }
        if self.user_stp() {
            for (no, pst) in states {
                let cur = self.port(no).map(|p| p.state);
                if cur.is_none() || cur == Some(PortState::Disabled) {
                    continue;
                }
                let want = match pst {
                    Pst::Discarding => PortState::Blocking,
                    Pst::Learning => PortState::Learning,
                    Pst::Forwarding => PortState::Forwarding,
                };
                self.set_port_state(no, want);
            }
        }
        if self.record {
            if root_changed {
                self.events.push(FdbEvent::Root {
                    root,
                    port: root_port,
                });
            }
            if tc {
                self.events.push(FdbEvent::TopologyChange);
            }
            self.events.extend(roles);
        }
        for no in shutdown {
            if self
                .port(no)
                .is_some_and(|p| p.state != PortState::Disabled)
            {
                self.stp_disable_port(now, no);
            }
        }
    }

    pub(crate) fn rstp_poll_timeout(&self) -> Option<Instant> {
        self.rstp.as_ref().and_then(|r| r.poll_timeout())
    }

    pub(crate) fn rstp_handle_timeout(&mut self, now: Instant) {
        if let Some(r) = self.rstp.as_mut() {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
                self.rstp_apply(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> Mac {
        Mac([0x02, 0, 0, 0, 0, n])
    }

    fn bytes(b: &Bpdu) -> Vec<u8> {
        let mut v = Vec::new();
        b.emit(&mut v);
        v
    }

    /// A bridge with ports 1..=n up on full-duplex 1 Gbit/s links.
    fn bridge(n: u8, ports: u16) -> Rstp {
        let mut r = Rstp::new(mac(n));
        for no in 1..=ports {
            r.add_port(no);
        }
        r.set_bridge_enable(Instant::ZERO, true);
        for no in 1..=ports {
            r.set_port_enable(no, true, 1000, true);
        }
        r
    }

    fn take_tx(r: &mut Rstp) -> Vec<(PortNo, Vec<u8>)> {
        r.actions
            .drain(..)
            .filter_map(|a| match a {
                Action::Tx(no, b) => Some((no, bytes(&b))),
                _ => None,
            })
            .collect()
    }

    /// Carries BPDUs between `a` port 1 and `b` port 1 until both are
    /// quiet; returns how many went across.
    fn exchange(a: &mut Rstp, b: &mut Rstp) -> usize {
        let mut n = 0;
        loop {
            let (ta, tb) = (take_tx(a), take_tx(b));
            if ta.is_empty() && tb.is_empty() {
                return n;
            }
            for (no, bpdu) in ta {
                if no == 1 {
                    b.rx_bpdu(1, &bpdu);
                    n += 1;
                }
            }
            for (no, bpdu) in tb {
                if no == 1 {
                    a.rx_bpdu(1, &bpdu);
                    n += 1;
                }
            }
        }
    }

    #[test]
    fn first_rst_bpdu_is_mstpds_byte_for_byte() {
        let mut r = bridge(1, 1);
        let tx = take_tx(&mut r);
        let (no, b) = &tx[0];
        assert_eq!(*no, 1);
        // Version 2, type 2; flags: proposal, role designated (3 << 2) and
        // agreement (a designated port with every other port synced agrees,
        // DESIGNATED_AGREED).
        // Root and bridge 8000.02:00:00:00:00:01, cost 0, port 8.001;
        // message age 0, max age 20, hello 2, forward delay 15, in whole
        // seconds (the low byte is 0); version 1 length 0.
        let want = [
            0x00, 0x00, 0x02, 0x02, 0x4e, //
            0x80, 0x00, 0x02, 0, 0, 0, 0, 0x01, //
            0, 0, 0, 0, //
            0x80, 0x00, 0x02, 0, 0, 0, 0, 0x01, //
            0x80, 0x01, //
            0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x0f, 0x00, //
            0x00,
        ];
        assert_eq!(b.as_slice(), &want[..]);
    }

    #[test]
    fn received_bpdus_are_validated_as_mstpd_does() {
        let mut c = vec![0u8; 35];
        c[2] = 3; // a config BPDU of a later version is still STP
        c[29] = 0x14;
        c[30] = 0x80; // max age 20.5 s rounds to 21
        c[31] = 0x02;
        c[32] = 0x7f; // hello 2.496 s rounds to 2
        let r = Rcvd::parse(&c).unwrap();
        assert_eq!(
            (r.version, r.role, r.times.max_age, r.times.hello),
            (0, None, 21, 2)
        );
        let mut rst = vec![0u8; 36];
        rst[2] = 2;
        rst[3] = 2;
        rst[4] = 0x0c | 0x40; // designated, agreement
        let r = Rcvd::parse(&rst).unwrap();
        assert_eq!(
            (r.version, r.role, r.agreement),
            (2, Some(RstRole::Designated), true)
        );
        assert_eq!(Rcvd::parse(&rst[..35]), Err(Invalid), "RST needs 36 bytes");
        let mut mst = rst.clone();
        mst[2] = 3;
        mst.truncate(35);
        assert_eq!(
            Rcvd::parse(&mst).map(|r| r.version),
            Ok(2),
            "MST read as RST"
        );
        assert!(Rcvd::parse(&[0, 0, 0, 0x80]).unwrap().tcn);
        assert_eq!(Rcvd::parse(&[0, 0, 0, 0x55, 0]), Err(Invalid));
        assert_eq!(Rcvd::parse(&[0, 1, 0, 0x80]), Err(Invalid));
        let mut rst1 = rst.clone();
        rst1[2] = 1;
        assert_eq!(Rcvd::parse(&rst1), Err(Invalid), "RST type with version 1");
    }

    #[test]
    fn two_bridges_agree_without_waiting_for_a_timer() {
        let (mut a, mut b) = (bridge(1, 1), bridge(2, 1));
        let n = exchange(&mut a, &mut b);
        assert!(n > 0);
        let (pa, pb) = (a.port(1).unwrap(), b.port(1).unwrap());
        assert_eq!((pa.role, pa.pst), (Role::Designated, Pst::Forwarding));
        assert_eq!((pb.role, pb.pst), (Role::Root, Pst::Forwarding));
        assert!(a.is_root() && !b.is_root());
        assert_eq!(b.root_prio.root, a.bridge_id());
        assert_eq!(b.root_prio.cost, 20_000, "20 000 000 / 1000 Mbit/s");
        assert_eq!(b.root_times.message_age, 1);
    }

    #[test]
    fn a_port_that_hears_stp_talks_stp_after_the_migration_delay() {
        let mut r = bridge(2, 1);
        take_tx(&mut r);
        let config = Bpdu::Config(ConfigBpdu {
            topology_change: false,
            topology_change_ack: false,
            root: BridgeId::new(0x8000, mac(1)),
            root_path_cost: 0,
            bridge_id: BridgeId::new(0x8000, mac(1)),
            port_id: 0x8001,
            message_age: Duration::ZERO,
            max_age: Duration::from_secs(20),
            hello_time: Duration::from_secs(2),
            forward_delay: Duration::from_secs(15),
        });
        let cfg = bytes(&config);
        r.rx_bpdu(1, &cfg);
        assert!(r.port(1).unwrap().send_rstp, "still checking for 3 s");
        for s in 1..=3 {
            r.handle_timeout(Instant::ZERO + Duration::from_secs(s));
        }
        r.rx_bpdu(1, &cfg);
        let p = r.port(1).unwrap();
        assert!(!p.send_rstp && p.rcvd_stp);
        assert_eq!(p.role, Role::Root);
        // A root port towards an STP bridge sends nothing but TCNs.
        take_tx(&mut r);
        r.port_mut(1).unwrap().tc_while = 0;
        assert!(take_tx(&mut r).iter().all(|(_, b)| b == &[0, 0, 0, 0x80]));
    }

    #[test]
    fn bpdu_guard_shuts_the_port_and_filter_drops_silently() {
        let mut r = bridge(1, 2);
        take_tx(&mut r);
        r.port_mut(1).unwrap().bpdu_guard = true;
        r.port_mut(2).unwrap().bpdu_filter = true;
        let tcn = [0, 0, 0, 0x80];
        r.rx_bpdu(1, &tcn);
        r.rx_bpdu(2, &tcn);
        assert_eq!(r.actions, vec![Action::Shutdown(1)]);
        assert!(r.port(1).unwrap().bpdu_guard_error);
        assert_eq!(r.port(2).unwrap().rx_bpdu_filtered, 1);
        assert!(!r.port(2).unwrap().rcvd_tcn);
    }

    #[test]
    fn auto_cost_and_port_ids_are_mstpds() {
        assert_eq!(auto_cost(10), 2_000_000);
        assert_eq!(auto_cost(10_000), 2_000);
        assert_eq!(auto_cost(0), MAX_PATH_COST);
        assert_eq!(auto_cost(40_000_000), 1);
        assert_eq!(port_id(8, 3), 0x8003);
        assert_eq!(port_id(15, 0x1234), 0xf234);
    }
}
