//! LACP (802.3ad / 802.1AX) as the kernel's bonding driver runs it
//! (`drivers/net/bonding/bond_3ad.c`): receive, periodic, mux, transmit and
//! churn machines per port, port and aggregator selection, the marker
//! responder. One implementation: the bond's 802.3ad mode and the team's
//! lacp runner both drive it. BEHAVIOUR.md §2.4.
//!
//! Like the kernel, each member (port) owns one aggregator, identified by a
//! number given at bind; ports join the aggregator whose partner and keys
//! match theirs. The machines run on a 100 ms tick ([`Lacp::tick`], the
//! kernel's `ad_work`); received PDUs go to [`Lacp::rx`]. What they leave
//! for the owner: frames to send ([`Lacp::tx`]), each port's
//! collecting/distributing flags, and the carrier ([`Lacp::carrier`]).
//! Function names follow the kernel's so the two read side by side.

use crate::wire::lacp::{self, state, Lacpdu, Marker, PortInfo, PDU_LEN};
use crate::wire::Mac;

/// Ticks per second (`AD_TIMER_INTERVAL` = 100 ms).
pub const TICKS_PER_SEC: u32 = 10;
const FAST_PERIODIC_TIME: u32 = 1;
const SLOW_PERIODIC_TIME: u32 = 30;
const SHORT_TIMEOUT_TIME: u32 = 3 * FAST_PERIODIC_TIME;
const LONG_TIMEOUT_TIME: u32 = 3 * SLOW_PERIODIC_TIME;
const CHURN_DETECTION_TIME: u32 = 60;
const AGGREGATE_WAIT_TIME: u32 = 2;
const MAX_TX_IN_SECOND: u32 = 3;
/// `AD_AGGREGATOR_SELECTION_TIMER`: seconds before the first selection.
const AGGREGATOR_SELECTION_TIMER: u32 = 8;

const DUPLEX_KEY_MASK: u16 = 0x0001;
const SPEED_KEY_MASK: u16 = 0x003e;

// sm_vars
const BEGIN: u16 = 0x1;
const LACP_ENABLED: u16 = 0x2;
const READY: u16 = 0x10;
const READY_N: u16 = 0x20;
const MATCHED: u16 = 0x40;
const STANDBY: u16 = 0x80;
const SELECTED: u16 = 0x100;
const CHURNED: u16 = 0x400;

/// `ad_select`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdSelect {
    #[default]
    Stable,
    Bandwidth,
    Count,
    /// teamd's `agg_select_policy` `lacp_prio`: the aggregator whose lead
    /// port has the best priority information (the better of actor and
    /// partner system, then port priority and number), re-chosen each time.
    LacpPrio,
    /// `lacp_prio_stable`: the same choice, kept while it has ports.
    LacpPrioStable,
    /// `port_config`: the aggregator holding the port with the highest
    /// teamd `prio`.
    PortConfig,
}

impl AdSelect {
    pub fn name(self) -> &'static str {
        match self {
            AdSelect::Stable => "stable",
            AdSelect::Bandwidth => "bandwidth",
            AdSelect::Count => "count",
            AdSelect::LacpPrio => "lacp_prio",
            AdSelect::LacpPrioStable => "lacp_prio_stable",
            AdSelect::PortConfig => "port_config",
        }
    }
    pub fn parse(s: &str) -> Option<AdSelect> {
        Some(match s {
            "stable" | "0" => AdSelect::Stable,
            "bandwidth" | "1" => AdSelect::Bandwidth,
            "count" | "2" => AdSelect::Count,
            _ => return None,
        })
    }
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// The owner's LACP settings (bond options `lacp_rate`, `lacp_active`,
/// `ad_select`, `ad_actor_sys_prio`, `ad_actor_system`, `ad_user_port_key`,
/// `min_links`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LacpConfig {
    pub fast: bool,
    pub active: bool,
    pub ad_select: AdSelect,
    pub sys_prio: u16,
    /// The actor system: `ad_actor_system`, else the owner's MAC.
    pub system: Mac,
    pub user_port_key: u16,
    pub min_links: u32,
    pub coupled_control: bool,
    /// Answer Marker Information PDUs (the bond's marker responder);
    /// teamd's lacp runner drops every slow-protocols PDU but LACPDUs.
    pub answer_markers: bool,
}

impl Default for LacpConfig {
    fn default() -> Self {
        LacpConfig {
            fast: false,
            active: true,
            ad_select: AdSelect::Stable,
            sys_prio: 65535,
            system: Mac::ZERO,
            user_port_key: 0,
            min_links: 0,
            coupled_control: true,
            answer_markers: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxState {
    /// Before the first tick (`AD_RX_DUMMY`): BEGIN moves out of it.
    #[default]
    Dummy,
    Initialize,
    PortDisabled,
    LacpDisabled,
    Expired,
    Defaulted,
    Current,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MuxState {
    #[default]
    Dummy,
    Detached,
    Waiting,
    Attached,
    Collecting,
    Distributing,
    CollectingDistributing,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PeriodicState {
    #[default]
    Dummy,
    NoPeriodic,
    Fast,
    Slow,
    Tx,
}

/// `AD_CHURN_MONITOR`, `AD_CHURN`, `AD_NO_CHURN`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Churn {
    #[default]
    Monitor,
    Churn,
    NoChurn,
}

impl Churn {
    /// `bond_3ad_churn_desc`.
    pub fn desc(self) -> &'static str {
        match self {
            Churn::Monitor => "monitoring",
            Churn::Churn => "churned",
            Churn::NoChurn => "none",
        }
    }
}

/// One member's LACP state (the kernel's `struct port` and the slave flags
/// LACP sets).
#[derive(Clone, Debug)]
pub struct LacpPort {
    /// `actor_port_number`, 1.. in the order members were added.
    pub number: u16,
    pub perm_mac: Mac,
    pub actor_system: Mac,
    pub actor_system_priority: u16,
    pub actor_port_priority: u16,
    pub actor_admin_key: u16,
    pub actor_oper_key: u16,
    pub actor_oper_state: u8,
    pub partner_admin: PortInfo,
    pub partner_oper: PortInfo,
    pub is_enabled: bool,
    sm_vars: u16,
    pub rx_state: RxState,
    rx_timer: u32,
    periodic: PeriodicState,
    periodic_timer: u32,
    pub mux_state: MuxState,
    mux_timer: u32,
    tx_timer: u32,
    pub churn_actor: Churn,
    pub churn_partner: Churn,
    churn_actor_timer: u32,
    churn_partner_timer: u32,
    pub churn_actor_count: u32,
    pub churn_partner_count: u32,
    ntt: bool,
    /// The aggregator (by id) the port is attached to.
    pub aggregator: Option<u16>,
    // The member as the owner sees it.
    /// The owner's link state is up (`slave->link == BOND_LINK_UP`).
    pub link_up: bool,
    /// The device is running with carrier (`bond_slave_is_up`).
    pub dev_up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
    // The slave flags LACP sets: active = collecting and distributing.
    pub tx_enabled: bool,
    pub rx_enabled: bool,
    pub stats: LacpStats,
    /// A key fixed by the owner (teamd's `lacp_key`): no speed and duplex
    /// bits.
    pub fixed_key: Option<u16>,
    /// The owner's port priority (teamd's `prio`, for `port_config`).
    pub owner_prio: i32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LacpStats {
    pub lacpdu_rx: u64,
    pub lacpdu_tx: u64,
    pub lacpdu_unknown_rx: u64,
    pub lacpdu_illegal_rx: u64,
    pub lacpdu_loopback_rx: u64,
    pub marker_rx: u64,
    pub marker_tx: u64,
    pub marker_resp_rx: u64,
    pub marker_resp_tx: u64,
    pub marker_unknown_rx: u64,
}

impl LacpPort {
    /// The key says full duplex (the kernel's test for an aggregatable
    /// port); a key fixed by the owner carries no duplex bit, so the link's
    /// own duplex counts.
    fn full_duplex_key(&self) -> bool {
        match self.fixed_key {
            Some(_) => self.full_duplex,
            None => self.actor_oper_key & DUPLEX_KEY_MASK != 0,
        }
    }

    /// Collecting and distributing (`bond_is_active_slave`).
    pub fn is_active(&self) -> bool {
        self.tx_enabled && self.rx_enabled
    }
}

/// The kernel's `struct aggregator`: one per member.
#[derive(Clone, Debug, Default)]
pub struct Aggregator {
    pub id: u16,
    pub mac: Mac,
    pub is_individual: bool,
    pub actor_admin_key: u16,
    pub actor_oper_key: u16,
    pub partner_system: Mac,
    pub partner_system_priority: u16,
    pub partner_oper_key: u16,
    /// Attached ports, newest first (the kernel's `lag_ports` list).
    pub lag_ports: Vec<u16>,
    pub is_active: bool,
}

impl Aggregator {
    fn clear(&mut self) {
        self.is_individual = false;
        self.actor_admin_key = 0;
        self.actor_oper_key = 0;
        self.partner_system = Mac::ZERO;
        self.partner_system_priority = 0;
        self.partner_oper_key = 0;
        self.lag_ports.clear();
        self.is_active = false;
    }

    pub fn has_partner(&self) -> bool {
        self.partner_system != Mac::ZERO
    }
}

/// Details of the active aggregator (`struct ad_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdInfo {
    pub aggregator_id: u16,
    pub ports: u32,
    pub actor_key: u16,
    pub partner_key: u16,
    pub partner_system: Mac,
}

/// LACP over an owner's members (`BOND_AD_INFO` + the slaves' AD info).
#[derive(Clone, Debug, Default)]
pub struct Lacp {
    pub cfg: LacpConfig,
    /// Members in the owner's order; `aggs[i]` is member i's aggregator.
    pub ports: Vec<LacpPort>,
    pub aggs: Vec<Aggregator>,
    next_agg_id: u16,
    agg_select_timer: u32,
    /// Frames to send: (member index, whole frame).
    pub tx: Vec<(usize, Vec<u8>)>,
    /// Something changed what may send or receive: the owner refreshes its
    /// view (`update_slave_arr`).
    pub changed: bool,
    pub carrier: bool,
}

/// `__get_link_speed`: the 802.3ad speed code (0 = unknown or link down).
pub fn speed_code(speed_mbps: u32) -> u16 {
    match speed_mbps {
        10 => 2,
        100 => 3,
        1_000 => 4,
        2_500 => 5,
        5_000 => 6,
        10_000 => 7,
        14_000 => 8,
        20_000 => 9,
        25_000 => 10,
        40_000 => 11,
        50_000 => 12,
        56_000 => 13,
        100_000 => 14,
        200_000 => 15,
        400_000 => 16,
        800_000 => 17,
        _ => 0,
    }
}

/// `__get_agg_bandwidth`'s Mbit/s for a speed code.
fn code_bandwidth(code: u16) -> u32 {
    match code {
        1 => 1,
        2 => 10,
        3 => 100,
        4 => 1_000,
        5 => 2_500,
        6 => 5_000,
        7 => 10_000,
        8 => 14_000,
        9 => 20_000,
        10 => 25_000,
        11 => 40_000,
        12 => 50_000,
        13 => 56_000,
        14 => 100_000,
        15 => 200_000,
        16 => 400_000,
        17 => 800_000,
        _ => 0,
    }
}

fn secs(n: u32) -> u32 {
    n * TICKS_PER_SEC
}

impl Lacp {
    pub fn new(cfg: LacpConfig) -> Self {
        Lacp {
            cfg,
            ..Lacp::default()
        }
    }

    fn idx(&self, number: u16) -> usize {
        self.ports
            .iter()
            .position(|p| p.number == number)
            .expect("a live port number")
    }

    fn agg_idx(&self, id: u16) -> usize {
        self.aggs
            .iter()
            .position(|a| a.id == id)
            .expect("a live aggregator id")
    }

    /// The aggregator of port index `i`, if attached.
    pub fn port_agg(&self, i: usize) -> Option<&Aggregator> {
        self.ports[i]
            .aggregator
            .map(|id| &self.aggs[self.agg_idx(id)])
    }

    /// `bond_3ad_initiate_agg_selection`.
    pub fn initiate_agg_selection(&mut self, ticks: u32) {
        self.agg_select_timer = ticks;
    }

    /// The owner opened (`bond_open`): select within a tick.
    pub fn open(&mut self) {
        self.initiate_agg_selection(1);
    }

    /// `bond_3ad_bind_slave` (and `bond_3ad_initialize` for the first):
    /// returns the member's index.
    pub fn add_port(
        &mut self,
        perm_mac: Mac,
        link_up: bool,
        speed_mbps: u32,
        full_duplex: bool,
    ) -> usize {
        let number = if self.ports.is_empty() {
            self.next_agg_id = 0;
            self.initiate_agg_selection(secs(AGGREGATOR_SELECTION_TIMER));
            1
        } else {
            self.ports.last().map_or(1, |p| p.number + 1)
        };
        let tmpl = PortInfo {
            system_priority: 0xffff,
            system: Mac::ZERO,
            key: 1,
            port_priority: 0xff,
            port: 1,
            state: 0,
        };
        let mut st = state::AGGREGATION;
        if self.cfg.active {
            st |= state::ACTIVITY;
        }
        if self.cfg.fast {
            st |= state::TIMEOUT;
        }
        let mut p = LacpPort {
            number,
            perm_mac,
            actor_system: self.cfg.system,
            actor_system_priority: self.cfg.sys_prio,
            actor_port_priority: 0xff,
            actor_admin_key: self.cfg.user_port_key << 6,
            actor_oper_key: 0,
            actor_oper_state: st,
            partner_admin: tmpl,
            partner_oper: tmpl,
            is_enabled: true,
            sm_vars: BEGIN | LACP_ENABLED,
            rx_state: RxState::Dummy,
            rx_timer: 0,
            periodic: PeriodicState::Dummy,
            periodic_timer: 0,
            mux_state: MuxState::Dummy,
            mux_timer: 0,
            tx_timer: TICKS_PER_SEC / MAX_TX_IN_SECOND,
            churn_actor: Churn::Monitor,
            churn_partner: Churn::Monitor,
            churn_actor_timer: 0,
            churn_partner_timer: 0,
            churn_actor_count: 0,
            churn_partner_count: 0,
            ntt: false,
            aggregator: None,
            link_up,
            dev_up: link_up,
            speed_mbps,
            full_duplex,
            tx_enabled: false,
            rx_enabled: false,
            stats: LacpStats::default(),
            fixed_key: None,
            owner_prio: 0,
        };
        Self::update_actor_keys(&mut p, false);
        self.next_agg_id += 1;
        self.aggs.push(Aggregator {
            id: self.next_agg_id,
            mac: self.cfg.system,
            ..Aggregator::default()
        });
        self.ports.push(p);
        self.changed = true;
        self.ports.len() - 1
    }

    /// `ad_update_actor_keys`.
    fn update_actor_keys(p: &mut LacpPort, reset: bool) {
        if let Some(k) = p.fixed_key {
            p.actor_admin_key = k;
            p.actor_oper_key = k;
            return;
        }
        let old = p.actor_oper_key;
        p.actor_admin_key &= !(SPEED_KEY_MASK | DUPLEX_KEY_MASK);
        let (mut speed, mut duplex, mut ospeed) = (0, 0, 0);
        if !reset {
            speed = if p.link_up {
                speed_code(p.speed_mbps)
            } else {
                0
            };
            ospeed = (old & SPEED_KEY_MASK) >> 1;
            duplex = u16::from(p.link_up && p.full_duplex);
            p.actor_admin_key |= (speed << 1) | duplex;
        }
        p.actor_oper_key = p.actor_admin_key;
        if old != p.actor_oper_key {
            if duplex != 0 {
                p.sm_vars |= LACP_ENABLED;
            } else {
                p.sm_vars &= !LACP_ENABLED;
            }
            if !reset && speed != 0 && duplex != 0 && ospeed != speed {
                p.sm_vars |= BEGIN;
            }
        }
    }

    /// `bond_3ad_unbind_slave`: tells the partner the port is leaving,
    /// moves its aggregator's other ports elsewhere, and drops it.
    pub fn remove_port(&mut self, i: usize) {
        {
            let p = &mut self.ports[i];
            p.actor_oper_state &= !(state::SYNCHRONIZATION
                | state::COLLECTING
                | state::DISTRIBUTING
                | state::AGGREGATION);
        }
        self.send_lacpdu(i);
        let number = self.ports[i].number;
        if !self.aggs[i].lag_ports.is_empty() {
            let only_me = self.aggs[i].lag_ports == [number];
            if !only_me {
                // Find an empty aggregator (or one holding only this port)
                // to take over the others.
                let target = (0..self.aggs.len()).find(|j| {
                    *j != i
                        && (self.aggs[*j].lag_ports.is_empty()
                            || self.aggs[*j].lag_ports == [number])
                });
                if let Some(j) = target {
                    let select = self.aggs[j].lag_ports == [number] && self.aggs[j].is_active;
                    let old = self.aggs[i].clone();
                    let a = &mut self.aggs[j];
                    a.is_individual = old.is_individual;
                    a.actor_admin_key = old.actor_admin_key;
                    a.actor_oper_key = old.actor_oper_key;
                    a.partner_system = old.partner_system;
                    a.partner_system_priority = old.partner_system_priority;
                    a.partner_oper_key = old.partner_oper_key;
                    a.lag_ports = old.lag_ports.clone();
                    a.is_active = old.is_active;
                    let new_id = a.id;
                    for n in &old.lag_ports {
                        let k = self.idx(*n);
                        self.ports[k].aggregator = Some(new_id);
                    }
                    self.aggs[i].clear();
                    if select {
                        self.agg_selection_logic();
                    }
                }
            } else {
                let select = self.aggs[i].is_active;
                self.aggs[i].clear();
                self.ports[i].aggregator = None;
                if select {
                    self.agg_selection_logic();
                }
            }
        }
        // Detach the port from whichever aggregator holds it now.
        for j in 0..self.aggs.len() {
            if let Some(pos) = self.aggs[j].lag_ports.iter().position(|n| *n == number) {
                self.aggs[j].lag_ports.remove(pos);
                if self.agg_active_ports(j) == 0 {
                    let select = self.aggs[j].is_active;
                    if self.aggs[j].lag_ports.is_empty() {
                        self.aggs[j].clear();
                    }
                    if select {
                        self.agg_selection_logic();
                    }
                }
                break;
            }
        }
        self.ports.remove(i);
        self.aggs.remove(i);
        self.changed = true;
        self.set_carrier();
    }

    /// Per-port settings an owner other than bonding gives (teamd's
    /// `lacp_key`, `lacp_prio` and `prio`).
    pub fn set_port_settings(&mut self, i: usize, key: Option<u16>, port_priority: u16, prio: i32) {
        let p = &mut self.ports[i];
        p.fixed_key = key;
        p.actor_port_priority = port_priority;
        p.owner_prio = prio;
        Self::update_actor_keys(p, false);
        p.ntt = true;
    }

    /// `bond_3ad_handle_link_change`.
    pub fn link_change(&mut self, i: usize, up: bool, speed_mbps: u32, full_duplex: bool) {
        let p = &mut self.ports[i];
        p.link_up = up;
        p.dev_up = up;
        p.speed_mbps = speed_mbps;
        p.full_duplex = full_duplex;
        p.is_enabled = up;
        Self::update_actor_keys(p, !up);
        if !up {
            // `bond_set_slave_inactive_flags` on link down.
            p.tx_enabled = false;
            p.rx_enabled = false;
        }
        self.agg_selection_logic();
        self.changed = true;
    }

    /// `bond_3ad_update_lacp_rate` / `_active` and the actor settings.
    pub fn update_config(&mut self, cfg: LacpConfig) {
        let old = self.cfg;
        self.cfg = cfg;
        for p in &mut self.ports {
            if old.fast != cfg.fast {
                if cfg.fast {
                    p.actor_oper_state |= state::TIMEOUT;
                } else {
                    p.actor_oper_state &= !state::TIMEOUT;
                }
            }
            if old.active != cfg.active {
                if cfg.active {
                    p.actor_oper_state |= state::ACTIVITY;
                } else {
                    p.actor_oper_state &= !state::ACTIVITY;
                }
            }
            p.actor_system = cfg.system;
            p.actor_system_priority = cfg.sys_prio;
            p.ntt = true;
        }
    }

    /// A slow-protocols frame body (after the Ethernet header) received on
    /// member `i` (`bond_3ad_rx_indication`). Returns whether LACP took it.
    pub fn rx(&mut self, i: usize, pdu: &[u8]) -> bool {
        if pdu.len() < PDU_LEN {
            self.ports[i].stats.lacpdu_illegal_rx += 1;
            return false;
        }
        match pdu[0] {
            lacp::SUBTYPE_LACP => {
                let l = Lacpdu::parse(pdu).expect("length and subtype checked");
                self.rx_machine(Some(&l), i);
                true
            }
            lacp::SUBTYPE_MARKER => {
                let m = Marker::parse(pdu).expect("length and subtype checked");
                match m.tlv_type {
                    lacp::MARKER_INFORMATION if !self.cfg.answer_markers => {
                        // teamd: not a LACPDU, dropped unanswered.
                        self.ports[i].stats.marker_rx += 1;
                    }
                    lacp::MARKER_INFORMATION => {
                        self.ports[i].stats.marker_rx += 1;
                        // `bond_3ad_rx_indication`: the request echoed
                        // whole, only its TLV type changed.
                        let mut resp: [u8; PDU_LEN] =
                            pdu[..PDU_LEN].try_into().expect("length checked");
                        resp[2] = lacp::MARKER_RESPONSE;
                        let src = self.ports[i].perm_mac;
                        self.tx.push((i, lacp::frame(src, &resp)));
                        self.ports[i].stats.marker_resp_tx += 1;
                    }
                    lacp::MARKER_RESPONSE => self.ports[i].stats.marker_resp_rx += 1,
                    _ => self.ports[i].stats.marker_unknown_rx += 1,
                }
                true
            }
            _ => {
                self.ports[i].stats.lacpdu_unknown_rx += 1;
                false
            }
        }
    }

    /// `bond_3ad_state_machine_handler`: one 100 ms tick.
    pub fn tick(&mut self) {
        if self.ports.is_empty() {
            return;
        }
        if self.agg_select_timer > 0 {
            self.agg_select_timer -= 1;
            if self.agg_select_timer == 0 {
                self.agg_selection_logic();
            }
        }
        for i in 0..self.ports.len() {
            self.rx_machine(None, i);
            self.periodic_machine(i);
            self.port_selection_logic(i);
            self.mux_machine(i);
            self.tx_machine(i);
            self.churn_machine(i);
            self.ports[i].sm_vars &= !BEGIN;
        }
    }

    // ----- rx machine helpers -----

    fn choose_matched(p: &mut LacpPort, l: &Lacpdu) {
        let a = &l.partner;
        let matched = (a.port == p.number
            && a.port_priority == p.actor_port_priority
            && a.system == p.actor_system
            && a.system_priority == p.actor_system_priority
            && a.key == p.actor_oper_key
            && (a.state & state::AGGREGATION) == (p.actor_oper_state & state::AGGREGATION))
            || l.actor.state & state::AGGREGATION == 0;
        if matched {
            p.sm_vars |= MATCHED;
        } else {
            p.sm_vars &= !MATCHED;
        }
    }

    fn record_pdu(p: &mut LacpPort, l: &Lacpdu) {
        Self::choose_matched(p, l);
        p.partner_oper = l.actor;
        p.actor_oper_state &= !state::DEFAULTED;
        if p.sm_vars & MATCHED != 0 && l.actor.state & state::SYNCHRONIZATION != 0 {
            p.partner_oper.state |= state::SYNCHRONIZATION;
        } else {
            p.partner_oper.state &= !state::SYNCHRONIZATION;
        }
    }

    fn record_default(p: &mut LacpPort) {
        p.partner_oper = p.partner_admin;
        p.actor_oper_state |= state::DEFAULTED;
    }

    fn same_partner(a: &PortInfo, b: &PortInfo) -> bool {
        a.port == b.port
            && a.port_priority == b.port_priority
            && a.system == b.system
            && a.system_priority == b.system_priority
            && a.key == b.key
            && (a.state & state::AGGREGATION) == (b.state & state::AGGREGATION)
    }

    fn update_selected(p: &mut LacpPort, l: &Lacpdu) {
        if !Self::same_partner(&l.actor, &p.partner_oper) {
            p.sm_vars &= !SELECTED;
        }
    }

    fn update_default_selected(p: &mut LacpPort) {
        if !Self::same_partner(&p.partner_admin, &p.partner_oper) {
            p.sm_vars &= !SELECTED;
        }
    }

    fn update_ntt(p: &mut LacpPort, l: &Lacpdu) {
        let a = &l.partner;
        let bits = state::ACTIVITY | state::TIMEOUT | state::SYNCHRONIZATION | state::AGGREGATION;
        if a.port != p.number
            || a.port_priority != p.actor_port_priority
            || a.system != p.actor_system
            || a.system_priority != p.actor_system_priority
            || a.key != p.actor_oper_key
            || (a.state & bits) != (p.actor_oper_state & bits)
        {
            p.ntt = true;
        }
    }

    /// `ad_rx_machine`.
    fn rx_machine(&mut self, l: Option<&Lacpdu>, i: usize) {
        let p = &mut self.ports[i];
        let last = p.rx_state;
        if l.is_some() {
            p.stats.lacpdu_rx += 1;
        }
        if p.sm_vars & BEGIN != 0 {
            p.rx_state = RxState::Initialize;
            p.sm_vars |= CHURNED;
        } else if !p.is_enabled {
            p.rx_state = RxState::PortDisabled;
        } else if l.is_some()
            && matches!(
                p.rx_state,
                RxState::Expired | RxState::Defaulted | RxState::Current
            )
        {
            if p.rx_state != RxState::Current {
                p.sm_vars |= CHURNED;
            }
            p.rx_timer = 0;
            p.rx_state = RxState::Current;
        } else if p.rx_timer > 0 && {
            p.rx_timer -= 1;
            p.rx_timer == 0
        } {
            match p.rx_state {
                RxState::Expired => p.rx_state = RxState::Defaulted,
                RxState::Current => p.rx_state = RxState::Expired,
                _ => {}
            }
        } else if p.rx_state == RxState::PortDisabled && p.is_enabled {
            p.rx_state = if p.sm_vars & LACP_ENABLED != 0 {
                RxState::Expired
            } else {
                RxState::LacpDisabled
            };
        }
        if p.rx_state == last && l.is_none() {
            return;
        }
        match p.rx_state {
            RxState::Dummy => {}
            RxState::Initialize | RxState::PortDisabled => {
                if p.rx_state == RxState::Initialize {
                    if !p.full_duplex_key() {
                        p.sm_vars &= !LACP_ENABLED;
                    } else {
                        p.sm_vars |= LACP_ENABLED;
                    }
                    p.sm_vars &= !SELECTED;
                    Self::record_default(p);
                    p.actor_oper_state &= !state::EXPIRED;
                    p.rx_state = RxState::PortDisabled;
                }
                p.sm_vars &= !MATCHED;
                p.partner_oper.state &= !state::SYNCHRONIZATION;
            }
            RxState::LacpDisabled => {
                p.sm_vars &= !SELECTED;
                Self::record_default(p);
                p.partner_oper.state &= !state::AGGREGATION;
                p.sm_vars |= MATCHED;
                p.actor_oper_state &= !state::EXPIRED;
            }
            RxState::Expired => {
                p.sm_vars &= !MATCHED;
                p.partner_oper.state &= !state::SYNCHRONIZATION;
                p.partner_oper.state |= state::TIMEOUT;
                p.rx_timer = secs(SHORT_TIMEOUT_TIME);
                p.actor_oper_state |= state::EXPIRED;
                p.sm_vars |= CHURNED;
            }
            RxState::Defaulted => {
                Self::update_default_selected(p);
                Self::record_default(p);
                p.sm_vars |= MATCHED;
                p.actor_oper_state &= !state::EXPIRED;
            }
            RxState::Current => {
                let l = l.expect("CURRENT is entered with a PDU");
                // A PDU with our own system id came back: a loop.
                if l.actor.system == p.actor_system {
                    p.stats.lacpdu_loopback_rx += 1;
                    return;
                }
                Self::update_selected(p, l);
                Self::update_ntt(p, l);
                Self::record_pdu(p, l);
                p.rx_timer = if p.actor_oper_state & state::TIMEOUT != 0 {
                    secs(SHORT_TIMEOUT_TIME)
                } else {
                    secs(LONG_TIMEOUT_TIME)
                };
                p.actor_oper_state &= !state::EXPIRED;
            }
        }
    }

    /// `ad_churn_machine`.
    fn churn_machine(&mut self, i: usize) {
        let p = &mut self.ports[i];
        if p.sm_vars & CHURNED != 0 {
            p.sm_vars &= !CHURNED;
            p.churn_actor = Churn::Monitor;
            p.churn_partner = Churn::Monitor;
            p.churn_actor_timer = secs(CHURN_DETECTION_TIME);
            p.churn_partner_timer = secs(CHURN_DETECTION_TIME);
            return;
        }
        if p.churn_actor_timer > 0 {
            p.churn_actor_timer -= 1;
            if p.churn_actor_timer == 0 && p.churn_actor == Churn::Monitor {
                if p.actor_oper_state & state::SYNCHRONIZATION != 0 {
                    p.churn_actor = Churn::NoChurn;
                } else {
                    p.churn_actor_count += 1;
                    p.churn_actor = Churn::Churn;
                }
            }
        }
        if p.churn_partner_timer > 0 {
            p.churn_partner_timer -= 1;
            if p.churn_partner_timer == 0 && p.churn_partner == Churn::Monitor {
                if p.partner_oper.state & state::SYNCHRONIZATION != 0 {
                    p.churn_partner = Churn::NoChurn;
                } else {
                    p.churn_partner_count += 1;
                    p.churn_partner = Churn::Churn;
                }
            }
        }
    }

    /// The LACPDU this port would send now (`__update_lacpdu_from_port`).
    pub fn lacpdu(&self, i: usize) -> Lacpdu {
        let p = &self.ports[i];
        Lacpdu {
            actor: PortInfo {
                system_priority: p.actor_system_priority,
                system: p.actor_system,
                key: p.actor_oper_key,
                port_priority: p.actor_port_priority,
                port: p.number,
                state: p.actor_oper_state,
            },
            partner: p.partner_oper,
            collector_max_delay: 0,
        }
    }

    fn send_lacpdu(&mut self, i: usize) {
        let pdu = self.lacpdu(i).emit();
        let src = self.ports[i].perm_mac;
        self.tx.push((i, lacp::frame(src, &pdu)));
        self.ports[i].stats.lacpdu_tx += 1;
    }

    /// `ad_tx_machine`: at most 3 PDUs a second.
    fn tx_machine(&mut self, i: usize) {
        let p = &mut self.ports[i];
        if p.tx_timer > 0 {
            p.tx_timer -= 1;
            if p.tx_timer == 0 {
                if p.ntt && p.sm_vars & LACP_ENABLED != 0 {
                    self.send_lacpdu(i);
                    self.ports[i].ntt = false;
                }
                self.ports[i].tx_timer = TICKS_PER_SEC / MAX_TX_IN_SECOND;
            }
        }
    }

    /// `ad_periodic_machine`.
    fn periodic_machine(&mut self, i: usize) {
        let p = &mut self.ports[i];
        let last = p.periodic;
        let partner_short = p.partner_oper.state & state::TIMEOUT != 0;
        if p.sm_vars & BEGIN != 0
            || p.sm_vars & LACP_ENABLED == 0
            || !p.is_enabled
            || (p.actor_oper_state & state::ACTIVITY == 0
                && p.partner_oper.state & state::ACTIVITY == 0)
        {
            p.periodic = PeriodicState::NoPeriodic;
        } else if p.periodic_timer > 0 {
            p.periodic_timer -= 1;
            if p.periodic_timer == 0 {
                p.periodic = PeriodicState::Tx;
            } else {
                match p.periodic {
                    PeriodicState::Fast if !partner_short => p.periodic = PeriodicState::Slow,
                    PeriodicState::Slow if partner_short => {
                        p.periodic_timer = 0;
                        p.periodic = PeriodicState::Tx;
                    }
                    _ => {}
                }
            }
        } else {
            match p.periodic {
                PeriodicState::NoPeriodic => p.periodic = PeriodicState::Fast,
                PeriodicState::Tx => {
                    p.periodic = if partner_short {
                        PeriodicState::Fast
                    } else {
                        PeriodicState::Slow
                    }
                }
                _ => {}
            }
        }
        if p.periodic != last {
            match p.periodic {
                PeriodicState::NoPeriodic | PeriodicState::Dummy => p.periodic_timer = 0,
                // One tick was spent in PERIODIC_TX.
                PeriodicState::Fast => p.periodic_timer = secs(FAST_PERIODIC_TIME) - 1,
                PeriodicState::Slow => p.periodic_timer = secs(SLOW_PERIODIC_TIME) - 1,
                PeriodicState::Tx => p.ntt = true,
            }
        }
    }

    fn agg_ports_are_ready(&self, agg: usize) -> bool {
        self.aggs[agg]
            .lag_ports
            .iter()
            .all(|n| self.ports[self.idx(*n)].sm_vars & READY_N != 0)
    }

    fn set_agg_ports_ready(&mut self, agg: usize) {
        let ready = self.agg_ports_are_ready(agg);
        for n in self.aggs[agg].lag_ports.clone() {
            let k = self.idx(n);
            if ready {
                self.ports[k].sm_vars |= READY;
            } else {
                self.ports[k].sm_vars &= !READY;
            }
        }
    }

    /// `__agg_active_ports`: attached ports that are enabled (link up).
    pub fn agg_active_ports(&self, agg: usize) -> u32 {
        self.aggs[agg]
            .lag_ports
            .iter()
            .filter(|n| self.ports[self.idx(**n)].is_enabled)
            .count() as u32
    }

    fn agg_bandwidth(&self, agg: usize) -> u32 {
        let n = self.agg_active_ports(agg);
        let Some(first) = self.aggs[agg].lag_ports.first() else {
            return 0;
        };
        let p = &self.ports[self.idx(*first)];
        let code = if p.link_up {
            speed_code(p.speed_mbps)
        } else {
            0
        };
        n * code_bandwidth(code)
    }

    fn agg_device_up(&self, agg: usize) -> bool {
        self.aggs[agg]
            .lag_ports
            .iter()
            .any(|n| self.ports[self.idx(*n)].dev_up)
    }

    fn active_agg(&self) -> Option<usize> {
        self.aggs.iter().position(|a| a.is_active)
    }

    /// `ad_agg_selection_test`: is `curr` better than `best`?
    fn agg_selection_test(&self, best: Option<usize>, curr: usize) -> usize {
        let Some(best) = best else { return curr };
        let (b, c) = (&self.aggs[best], &self.aggs[curr]);
        if !c.is_individual && b.is_individual {
            return curr;
        }
        if c.is_individual && !b.is_individual {
            return best;
        }
        if c.has_partner() && !b.has_partner() {
            return curr;
        }
        if !c.has_partner() && b.has_partner() {
            return best;
        }
        match self.cfg.ad_select {
            AdSelect::LacpPrio | AdSelect::LacpPrioStable => {
                match self.agg_prio_info(curr).cmp(&self.agg_prio_info(best)) {
                    std::cmp::Ordering::Less => return curr,
                    std::cmp::Ordering::Greater => return best,
                    std::cmp::Ordering::Equal => {}
                }
            }
            AdSelect::PortConfig => {
                let prio = |j: usize| {
                    self.aggs[j]
                        .lag_ports
                        .iter()
                        .map(|n| self.ports[self.idx(*n)].owner_prio)
                        .max()
                };
                match prio(curr).cmp(&prio(best)) {
                    std::cmp::Ordering::Greater => return curr,
                    std::cmp::Ordering::Less => return best,
                    std::cmp::Ordering::Equal => {}
                }
            }
            _ => {}
        }
        if self.cfg.ad_select == AdSelect::Count {
            let (nc, nb) = (self.agg_active_ports(curr), self.agg_active_ports(best));
            if nc > nb {
                return curr;
            }
            if nc < nb {
                return best;
            }
        }
        if self.agg_bandwidth(curr) > self.agg_bandwidth(best) {
            return curr;
        }
        best
    }

    /// teamd's `get_lacp_port_prio_info` for an aggregator's lead port: the
    /// better (lower) of actor and partner system, then that side's port
    /// priority and number. Lower is better.
    fn agg_prio_info(&self, j: usize) -> (u16, Mac, u16, u16) {
        let Some(n) = self.aggs[j].lag_ports.first() else {
            return (u16::MAX, Mac::BROADCAST, u16::MAX, u16::MAX);
        };
        let p = &self.ports[self.idx(*n)];
        let actor = (p.actor_system_priority, p.actor_system);
        let partner = (p.partner_oper.system_priority, p.partner_oper.system);
        if actor < partner {
            (actor.0, actor.1, p.actor_port_priority, p.number)
        } else {
            (
                partner.0,
                partner.1,
                p.partner_oper.port_priority,
                p.partner_oper.port,
            )
        }
    }

    /// `ad_agg_selection_logic`.
    fn agg_selection_logic(&mut self) {
        let active = self.active_agg();
        let mut best = active.filter(|a| self.agg_device_up(*a));
        for j in 0..self.aggs.len() {
            self.aggs[j].is_active = false;
            if self.agg_active_ports(j) > 0 && self.agg_device_up(j) {
                best = Some(self.agg_selection_test(best, j));
            }
        }
        if let (Some(b), Some(a)) = (best, active) {
            if matches!(
                self.cfg.ad_select,
                AdSelect::Stable | AdSelect::LacpPrioStable
            ) {
                let (aa, ba) = (&self.aggs[a], &self.aggs[b]);
                if !aa.lag_ports.is_empty()
                    && self.agg_active_ports(a) > 0
                    && (aa.has_partner() || !ba.has_partner())
                    && !(aa.actor_oper_key == 0 && ba.actor_oper_key != 0)
                {
                    best = None;
                    self.aggs[a].is_active = true;
                }
            }
        }
        if best.is_some() && best == active {
            best = None;
            self.aggs[active.expect("equal to best")].is_active = true;
        }
        if let Some(b) = best {
            self.aggs[b].is_active = true;
            if let Some(a) = active {
                for n in self.aggs[a].lag_ports.clone() {
                    let k = self.idx(n);
                    self.disable_port(k);
                }
            }
            self.changed = true;
        }
        // An aggregator of individual links: its ports are enabled anyway.
        if let Some(a) = self.active_agg() {
            if !self.aggs[a].has_partner() {
                for n in self.aggs[a].lag_ports.clone() {
                    let k = self.idx(n);
                    self.enable_port(k);
                }
            }
        }
        self.set_carrier();
    }

    /// `bond_3ad_set_carrier`: an active aggregator with at least
    /// `min_links` enabled ports.
    fn set_carrier(&mut self) {
        self.carrier = match self.active_agg() {
            Some(a) => self.agg_active_ports(a) >= self.cfg.min_links,
            None => false,
        };
    }

    /// Makes the aggregator port `k` is attached to the active one (teamd's
    /// `state item set ports.X.runner.aggregator.selected`). Selection
    /// runs again on the next change, by the configured policy.
    pub fn select_aggregator_of(&mut self, k: usize) {
        let Some(id) = self.ports[k].aggregator else {
            return;
        };
        let j = self.agg_idx(id);
        if self.aggs[j].is_active {
            return;
        }
        if let Some(a) = self.active_agg() {
            self.aggs[a].is_active = false;
            for n in self.aggs[a].lag_ports.clone() {
                let i = self.idx(n);
                self.disable_port(i);
            }
        }
        self.aggs[j].is_active = true;
        self.changed = true;
        self.set_carrier();
    }

    fn disable_port(&mut self, k: usize) {
        let p = &mut self.ports[k];
        p.tx_enabled = false;
        p.rx_enabled = false;
        self.changed = true;
    }

    fn enable_port(&mut self, k: usize) {
        let p = &mut self.ports[k];
        if p.link_up && p.dev_up {
            p.tx_enabled = true;
            p.rx_enabled = true;
            self.changed = true;
        }
    }

    /// `ad_port_selection_logic`.
    fn port_selection_logic(&mut self, i: usize) {
        if self.ports[i].sm_vars & SELECTED != 0 {
            return;
        }
        let number = self.ports[i].number;
        if let Some(id) = self.ports[i].aggregator.take() {
            let j = self.agg_idx(id);
            if let Some(pos) = self.aggs[j].lag_ports.iter().position(|n| *n == number) {
                self.aggs[j].lag_ports.remove(pos);
                if self.aggs[j].lag_ports.is_empty() {
                    self.aggs[j].clear();
                }
            }
        }
        let p = &self.ports[i];
        let mut free = None;
        let mut found = None;
        for (j, a) in self.aggs.iter().enumerate() {
            if a.lag_ports.is_empty() {
                free.get_or_insert(j);
                continue;
            }
            if a.actor_oper_key == p.actor_oper_key
                && a.partner_system == p.partner_oper.system
                && a.partner_system_priority == p.partner_oper.system_priority
                && a.partner_oper_key == p.partner_oper.key
                && a.has_partner()
                && !a.is_individual
            {
                found = Some(j);
                break;
            }
        }
        let j = match (found, free) {
            (Some(j), _) => {
                self.aggs[j].lag_ports.insert(0, number);
                j
            }
            (None, Some(j)) => {
                let p = &self.ports[i];
                let a = &mut self.aggs[j];
                a.is_individual = !p.full_duplex_key();
                a.actor_admin_key = p.actor_admin_key;
                a.actor_oper_key = p.actor_oper_key;
                a.partner_system = p.partner_oper.system;
                a.partner_system_priority = p.partner_oper.system_priority;
                a.partner_oper_key = p.partner_oper.key;
                a.lag_ports.insert(0, number);
                j
            }
            (None, None) => return,
        };
        let id = self.aggs[j].id;
        self.ports[i].aggregator = Some(id);
        self.ports[i].sm_vars |= SELECTED;
        self.set_agg_ports_ready(j);
        self.agg_selection_logic();
        if !self.aggs[j].is_active {
            self.ports[i].actor_oper_state &= !state::SYNCHRONIZATION;
        }
    }

    fn move_to_attached(p: &mut LacpPort) -> bool {
        if p.sm_vars & SELECTED == 0
            || p.sm_vars & STANDBY != 0
            || p.partner_oper.state & state::SYNCHRONIZATION == 0
            || p.actor_oper_state & state::SYNCHRONIZATION == 0
        {
            p.mux_state = MuxState::Attached;
        }
        p.mux_state == MuxState::Attached
    }

    /// `ad_mux_machine`.
    fn mux_machine(&mut self, i: usize) {
        let agg = self.ports[i].aggregator.map(|id| self.agg_idx(id));
        let agg_active = agg.is_some_and(|a| self.aggs[a].is_active);
        let agg_partner = agg.is_some_and(|a| self.aggs[a].has_partner());
        let timer_running = self.agg_select_timer > 0;
        let coupled = self.cfg.coupled_control;
        let last = self.ports[i].mux_state;
        let mut ready_update = false;
        {
            let p = &mut self.ports[i];
            if p.sm_vars & BEGIN != 0 {
                p.mux_state = MuxState::Detached;
            } else {
                match p.mux_state {
                    MuxState::Dummy => {}
                    MuxState::Detached => {
                        if p.sm_vars & (SELECTED | STANDBY) != 0 {
                            p.mux_state = MuxState::Waiting;
                        }
                    }
                    MuxState::Waiting => {
                        if p.sm_vars & SELECTED == 0 {
                            p.sm_vars &= !READY_N;
                            ready_update = true;
                            p.mux_state = MuxState::Detached;
                        } else {
                            if p.mux_timer > 0 {
                                p.mux_timer -= 1;
                                if p.mux_timer == 0 {
                                    p.sm_vars |= READY_N;
                                }
                            }
                            ready_update = true;
                        }
                    }
                    MuxState::Attached => {
                        if p.sm_vars & SELECTED != 0
                            && p.partner_oper.state & state::SYNCHRONIZATION != 0
                            && !timer_running
                        {
                            if agg_active {
                                p.mux_state = if coupled {
                                    MuxState::CollectingDistributing
                                } else {
                                    MuxState::Collecting
                                };
                            }
                        } else if p.sm_vars & SELECTED == 0 || p.sm_vars & STANDBY != 0 {
                            p.sm_vars &= !READY_N;
                            ready_update = true;
                            p.mux_state = MuxState::Detached;
                        } else if agg_active {
                            p.actor_oper_state |= state::SYNCHRONIZATION;
                        }
                    }
                    MuxState::CollectingDistributing => {
                        if !Self::move_to_attached(p) && agg_active && !p.is_active() {
                            self.enable_port(i);
                        }
                    }
                    MuxState::Collecting => {
                        if !Self::move_to_attached(p) {
                            if p.sm_vars & SELECTED != 0
                                && p.partner_oper.state & state::SYNCHRONIZATION != 0
                                && p.partner_oper.state & state::COLLECTING != 0
                            {
                                p.mux_state = MuxState::Distributing;
                            } else if agg_active && !p.rx_enabled {
                                self.enable_collecting(i);
                            }
                        }
                    }
                    MuxState::Distributing => {
                        if p.sm_vars & SELECTED == 0
                            || p.sm_vars & STANDBY != 0
                            || p.partner_oper.state & state::COLLECTING == 0
                            || p.partner_oper.state & state::SYNCHRONIZATION == 0
                            || p.actor_oper_state & state::SYNCHRONIZATION == 0
                        {
                            p.mux_state = MuxState::Collecting;
                        } else if agg_active && !p.is_active() {
                            self.enable_port(i);
                        }
                    }
                }
            }
        }
        if ready_update {
            if let Some(a) = agg {
                self.set_agg_ports_ready(a);
            }
            // WAITING → ATTACHED once all the aggregator's ports are ready.
            let p = &mut self.ports[i];
            if p.mux_state == MuxState::Waiting && p.sm_vars & READY != 0 && p.mux_timer == 0 {
                p.mux_state = MuxState::Attached;
            }
        }
        let now = self.ports[i].mux_state;
        if now == last {
            return;
        }
        let p = &mut self.ports[i];
        match now {
            MuxState::Dummy => {}
            MuxState::Detached => {
                p.actor_oper_state &=
                    !(state::SYNCHRONIZATION | state::COLLECTING | state::DISTRIBUTING);
                if agg_partner {
                    self.disable_port(i);
                }
                self.ports[i].ntt = true;
            }
            MuxState::Waiting => p.mux_timer = secs(AGGREGATE_WAIT_TIME),
            MuxState::Attached => {
                if agg_active {
                    p.actor_oper_state |= state::SYNCHRONIZATION;
                } else {
                    p.actor_oper_state &= !state::SYNCHRONIZATION;
                }
                p.actor_oper_state &= !(state::COLLECTING | state::DISTRIBUTING);
                if agg_partner {
                    self.disable_port(i);
                }
                self.ports[i].ntt = true;
            }
            MuxState::CollectingDistributing => {
                p.actor_oper_state |=
                    state::COLLECTING | state::DISTRIBUTING | state::SYNCHRONIZATION;
                if agg_active {
                    self.enable_port(i);
                }
                self.ports[i].ntt = true;
            }
            MuxState::Collecting => {
                p.actor_oper_state |= state::COLLECTING | state::SYNCHRONIZATION;
                p.actor_oper_state &= !state::DISTRIBUTING;
                self.enable_collecting(i);
                if agg_partner {
                    self.ports[i].tx_enabled = false;
                    self.changed = true;
                }
                self.ports[i].ntt = true;
            }
            MuxState::Distributing => {
                p.actor_oper_state |= state::DISTRIBUTING | state::SYNCHRONIZATION;
                if agg_active {
                    self.enable_port(i);
                }
            }
        }
    }

    fn enable_collecting(&mut self, i: usize) {
        let active = self.port_agg(i).is_some_and(|a| a.is_active);
        let p = &mut self.ports[i];
        if active && p.link_up && p.dev_up {
            p.rx_enabled = true;
            self.changed = true;
        }
    }

    /// `__bond_3ad_get_active_agg_info`.
    pub fn active_agg_info(&self) -> Option<AdInfo> {
        let a = self
            .ports
            .iter()
            .filter_map(|p| p.aggregator)
            .map(|id| self.agg_idx(id))
            .find(|j| self.aggs[*j].is_active)?;
        let agg = &self.aggs[a];
        Some(AdInfo {
            aggregator_id: agg.id,
            ports: self.agg_active_ports(a),
            actor_key: agg.actor_oper_key,
            partner_key: agg.partner_oper_key,
            partner_system: agg.partner_system,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> Mac {
        Mac([2, 0, 0, 0, 0, n])
    }

    /// A bond's LACP with `n` 1 Gbit/s full-duplex members, opened.
    fn side(sys: u8, n: u8, cfg: LacpConfig) -> Lacp {
        let mut l = Lacp::new(LacpConfig {
            system: mac(sys),
            ..cfg
        });
        for k in 0..n {
            l.add_port(mac(sys * 16 + k), true, 1000, true);
        }
        l.open();
        l
    }

    /// A Marker Information PDU is echoed whole with only its TLV type
    /// changed (length 0x10 stays 0x10, as Wireshark expects); teamd's
    /// lacp runner does not answer it.
    #[test]
    fn markers_are_echoed_by_the_bond_only() {
        let req = Marker {
            tlv_type: lacp::MARKER_INFORMATION,
            requester_port: 1,
            requester_system: mac(9),
            requester_transaction_id: 42,
        }
        .emit();
        assert_eq!(req[3], 0x10, "the marker TLV is 16 bytes long");
        let mut bond = side(1, 1, LacpConfig::default());
        bond.tx.clear();
        assert!(bond.rx(0, &req));
        let (port, resp) = bond.tx.pop().expect("a response");
        assert_eq!(port, 0);
        let body = &resp[14..];
        assert_eq!(body[2], lacp::MARKER_RESPONSE);
        assert_eq!(body[3], 0x10);
        let mut want = req;
        want[2] = lacp::MARKER_RESPONSE;
        assert_eq!(body, &want[..], "the request, echoed");
        assert_eq!(bond.ports[0].stats.marker_resp_tx, 1);

        let mut team = side(
            2,
            1,
            LacpConfig {
                answer_markers: false,
                ..LacpConfig::default()
            },
        );
        team.tx.clear();
        assert!(team.rx(0, &req));
        assert!(team.tx.is_empty(), "teamd does not answer markers");
        assert_eq!(team.ports[0].stats.marker_resp_tx, 0);
    }

    fn deliver(from: &mut Lacp, to: &mut Lacp) {
        for (k, f) in std::mem::take(&mut from.tx) {
            if k < to.ports.len() {
                to.rx(k, &f[14..]);
            }
        }
    }

    /// Runs both sides for `ticks`, member k of `a` wired to member k of
    /// `b`; returns the tick at which both had every member collecting and
    /// distributing, if they did.
    fn run(a: &mut Lacp, b: &mut Lacp, ticks: u32) -> Option<u32> {
        let mut done = None;
        for t in 1..=ticks {
            a.tick();
            b.tick();
            deliver(a, b);
            deliver(b, a);
            let all = |l: &Lacp| {
                l.ports.iter().all(|p| {
                    p.is_active()
                        && p.actor_oper_state & (state::COLLECTING | state::DISTRIBUTING) == 0x30
                })
            };
            if done.is_none() && all(a) && all(b) {
                done = Some(t);
            }
        }
        done
    }

    #[test]
    fn two_bonds_aggregate_within_five_seconds_at_slow_rate() {
        let (mut a, mut b) = (
            side(1, 2, LacpConfig::default()),
            side(2, 2, LacpConfig::default()),
        );
        let t = run(&mut a, &mut b, 100).expect("never collecting+distributing");
        assert!(t <= 50, "took {t} ticks");
        let info = a.active_agg_info().unwrap();
        assert_eq!(info.ports, 2);
        assert_eq!(info.partner_system, mac(2));
        // Key: 1 Gbit/s (speed code 4) << 1 | full duplex.
        assert_eq!(info.actor_key, 9);
        assert!(a.carrier && b.carrier);
    }

    #[test]
    fn a_looped_back_lacpdu_is_ignored() {
        let mut a = side(1, 2, LacpConfig::default());
        for _ in 0..30 {
            a.tick();
            // Member 0's PDUs come back to member 1 (a loop through a hub).
            for (k, f) in std::mem::take(&mut a.tx) {
                if k == 0 {
                    a.rx(1, &f[14..]);
                }
            }
        }
        assert!(
            a.ports[1].stats.lacpdu_loopback_rx > 0,
            "{:?} {:?} {:?}",
            a.ports[0].stats,
            a.ports[1].stats,
            a.ports[1].rx_state
        );
        assert_eq!(
            a.ports[1].partner_oper.system,
            Mac::ZERO,
            "nothing recorded"
        );
    }

    #[test]
    fn partners_with_different_keys_get_separate_aggregators() {
        let mut a = side(1, 2, LacpConfig::default());
        let mut b = side(2, 1, LacpConfig::default());
        let mut c = side(
            3,
            1,
            LacpConfig {
                user_port_key: 5,
                ..LacpConfig::default()
            },
        );
        for _ in 0..60 {
            for l in [&mut a, &mut b, &mut c] {
                l.tick();
            }
            for (k, f) in std::mem::take(&mut a.tx) {
                if k == 0 {
                    b.rx(0, &f[14..]);
                } else {
                    c.rx(0, &f[14..]);
                }
            }
            for (_, f) in std::mem::take(&mut b.tx) {
                a.rx(0, &f[14..]);
            }
            for (_, f) in std::mem::take(&mut c.tx) {
                a.rx(1, &f[14..]);
            }
        }
        let (g0, g1) = (a.port_agg(0).unwrap().id, a.port_agg(1).unwrap().id);
        assert_ne!(g0, g1);
        // One aggregator is active: only its port carries traffic.
        assert_eq!(a.ports.iter().filter(|p| p.is_active()).count(), 1);
        assert_eq!(c.ports[0].actor_oper_key, (5 << 6) | 9);
    }

    #[test]
    fn a_lost_member_is_noticed_in_three_seconds_at_fast_rate() {
        let fast = LacpConfig {
            fast: true,
            ..LacpConfig::default()
        };
        let (mut a, mut b) = (side(1, 2, fast), side(2, 2, fast));
        run(&mut a, &mut b, 50).expect("aggregated");
        // Member 1's wire goes silent (a blocked path, carrier kept).
        let mut lost_at = None;
        for t in 1..=60 {
            a.tick();
            b.tick();
            for (k, f) in std::mem::take(&mut a.tx) {
                if k == 0 {
                    b.rx(0, &f[14..]);
                }
            }
            for (k, f) in std::mem::take(&mut b.tx) {
                if k == 0 {
                    a.rx(0, &f[14..]);
                }
            }
            if lost_at.is_none() && !a.ports[1].is_active() {
                lost_at = Some(t);
            }
        }
        let t = lost_at.expect("member 1 never left the aggregate");
        assert!(t <= 31, "noticed after {t} ticks");
        assert!(a.ports[0].is_active());
    }
}
