//! The bonding driver (`drivers/net/bonding/bond_main.c`): modes, the MII
//! link monitor with updelay/downdelay, active slave selection with
//! `primary`/`primary_reselect`, the transmit hash, and 802.3ad through
//! [`crate::lacp`]. BEHAVIOUR.md §2.
//!
//! The bond decides; the [`crate::graph`] moves frames: [`Bond::xmit`]
//! says which members a frame leaves by (`bond_start_xmit`), [`Bond::rx`]
//! whether a frame a member received goes up to the bond
//! (`bond_handle_frame`). Timers (`mii_work` every `miimon` ms, `ad_work`
//! every 100 ms, peer notification) are deadlines in [`Bond::poll_timeout`].

mod alb;
pub mod hash;

use crate::counters::DropReason;
use crate::graph::IfId;
use crate::lacp::{AdSelect, Lacp, LacpConfig};
use crate::lag::announce::Announcer;
pub use crate::lag::{LagEvent, Link, NewSlave, Rx};
use crate::time::Instant;
use crate::wire::lacp::{ETHERTYPE_SLOW, LACP_GROUP};
use crate::wire::{ethertype, Frame, Mac};
pub use hash::HashPolicy;
use std::time::Duration;

/// `BOND_MAX_ARP_TARGETS`.
pub const MAX_ARP_TARGETS: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    BalanceRr = 0,
    ActiveBackup = 1,
    BalanceXor = 2,
    Broadcast = 3,
    Ieee8023ad = 4,
    BalanceTlb = 5,
    BalanceAlb = 6,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::BalanceRr => "balance-rr",
            Mode::ActiveBackup => "active-backup",
            Mode::BalanceXor => "balance-xor",
            Mode::Broadcast => "broadcast",
            Mode::Ieee8023ad => "802.3ad",
            Mode::BalanceTlb => "balance-tlb",
            Mode::BalanceAlb => "balance-alb",
        }
    }

    /// `bond_mode_name`, as /proc/net/bonding prints it.
    pub fn long_name(self) -> &'static str {
        match self {
            Mode::BalanceRr => "load balancing (round-robin)",
            Mode::ActiveBackup => "fault-tolerance (active-backup)",
            Mode::BalanceXor => "load balancing (xor)",
            Mode::Broadcast => "fault-tolerance (broadcast)",
            Mode::Ieee8023ad => "IEEE 802.3ad Dynamic link aggregation",
            Mode::BalanceTlb => "transmit load balancing",
            Mode::BalanceAlb => "adaptive load balancing",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "balance-rr" | "0" => Mode::BalanceRr,
            "active-backup" | "1" => Mode::ActiveBackup,
            "balance-xor" | "2" => Mode::BalanceXor,
            "broadcast" | "3" => Mode::Broadcast,
            "802.3ad" | "4" => Mode::Ieee8023ad,
            "balance-tlb" | "5" => Mode::BalanceTlb,
            "balance-alb" | "6" => Mode::BalanceAlb,
            _ => return None,
        })
    }

    /// `bond_uses_primary`: modes with one current active slave.
    pub fn uses_primary(self) -> bool {
        matches!(
            self,
            Mode::ActiveBackup | Mode::BalanceTlb | Mode::BalanceAlb
        )
    }

    /// `bond_mode_uses_xmit_hash`.
    pub fn uses_xmit_hash(self) -> bool {
        matches!(self, Mode::BalanceXor | Mode::Ieee8023ad | Mode::BalanceTlb)
    }

    fn is_lb(self) -> bool {
        matches!(self, Mode::BalanceTlb | Mode::BalanceAlb)
    }
}

/// `primary_reselect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrimaryReselect {
    #[default]
    Always = 0,
    Better = 1,
    Failure = 2,
}

impl PrimaryReselect {
    pub fn name(self) -> &'static str {
        match self {
            PrimaryReselect::Always => "always",
            PrimaryReselect::Better => "better",
            PrimaryReselect::Failure => "failure",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "always" | "0" => PrimaryReselect::Always,
            "better" | "1" => PrimaryReselect::Better,
            "failure" | "2" => PrimaryReselect::Failure,
            _ => return None,
        })
    }
}

/// `fail_over_mac`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailOverMac {
    #[default]
    None = 0,
    Active = 1,
    Follow = 2,
}

impl FailOverMac {
    pub fn name(self) -> &'static str {
        match self {
            FailOverMac::None => "none",
            FailOverMac::Active => "active",
            FailOverMac::Follow => "follow",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" | "0" => FailOverMac::None,
            "active" | "1" => FailOverMac::Active,
            "follow" | "2" => FailOverMac::Follow,
            _ => return None,
        })
    }
}

/// `arp_validate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArpValidate {
    #[default]
    None = 0,
    Active = 1,
    Backup = 2,
    All = 3,
    Filter = 4,
    FilterActive = 5,
    FilterBackup = 6,
}

impl ArpValidate {
    pub fn name(self) -> &'static str {
        match self {
            ArpValidate::None => "none",
            ArpValidate::Active => "active",
            ArpValidate::Backup => "backup",
            ArpValidate::All => "all",
            ArpValidate::Filter => "filter",
            ArpValidate::FilterActive => "filter_active",
            ArpValidate::FilterBackup => "filter_backup",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" | "0" => ArpValidate::None,
            "active" | "1" => ArpValidate::Active,
            "backup" | "2" => ArpValidate::Backup,
            "all" | "3" => ArpValidate::All,
            "filter" | "4" => ArpValidate::Filter,
            "filter_active" | "5" => ArpValidate::FilterActive,
            "filter_backup" | "6" => ArpValidate::FilterBackup,
            _ => return None,
        })
    }
}

/// Bond options with the kernel's names and defaults (BEHAVIOUR.md §2.2).
/// Delays are in milliseconds, as `ip link` takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BondConfig {
    pub mode: Mode,
    pub miimon: u32,
    pub updelay: u32,
    pub downdelay: u32,
    pub peer_notif_delay: u32,
    pub arp_interval: u32,
    pub arp_ip_target: Vec<[u8; 4]>,
    /// IPv6 targets of the same monitor, probed with neighbour
    /// solicitations (`ns_ip6_target`, kernels 6.0 and later).
    pub ns_ip6_target: Vec<[u8; 16]>,
    pub arp_validate: ArpValidate,
    /// false: any, true: all.
    pub arp_all_targets: bool,
    pub arp_missed_max: u32,
    pub primary: Option<String>,
    pub primary_reselect: PrimaryReselect,
    pub fail_over_mac: FailOverMac,
    pub xmit_hash_policy: HashPolicy,
    pub lacp_fast: bool,
    pub lacp_active: bool,
    pub ad_select: AdSelect,
    pub ad_actor_sys_prio: u16,
    pub ad_actor_system: Mac,
    pub ad_user_port_key: u16,
    pub min_links: u32,
    pub all_slaves_active: bool,
    pub num_grat_arp: u32,
    pub packets_per_slave: u32,
    pub resend_igmp: u32,
    pub tlb_dynamic_lb: bool,
    pub lp_interval: u32,
    pub use_carrier: bool,
    pub coupled_control: bool,
}

impl Default for BondConfig {
    fn default() -> Self {
        BondConfig {
            mode: Mode::BalanceRr,
            miimon: 100,
            updelay: 0,
            downdelay: 0,
            peer_notif_delay: 0,
            arp_interval: 0,
            arp_ip_target: Vec::new(),
            ns_ip6_target: Vec::new(),
            arp_validate: ArpValidate::None,
            arp_all_targets: false,
            arp_missed_max: 2,
            primary: None,
            primary_reselect: PrimaryReselect::Always,
            fail_over_mac: FailOverMac::None,
            xmit_hash_policy: HashPolicy::Layer2,
            lacp_fast: false,
            lacp_active: true,
            ad_select: AdSelect::Stable,
            ad_actor_sys_prio: 65535,
            ad_actor_system: Mac::ZERO,
            ad_user_port_key: 0,
            min_links: 0,
            all_slaves_active: false,
            num_grat_arp: 1,
            packets_per_slave: 1,
            resend_igmp: 1,
            tlb_dynamic_lb: true,
            lp_interval: 1,
            use_carrier: true,
            coupled_control: true,
        }
    }
}

/// One member (`struct slave`).
#[derive(Clone, Debug)]
pub struct Slave {
    pub ifid: IfId,
    /// Unique within the bond (the graph's `port_no`).
    pub id: u16,
    pub name: String,
    pub perm_mac: Mac,
    pub link: Link,
    delay: u32,
    pub link_failure_count: u32,
    /// The device: running with carrier (`bond_slave_is_up` + MII).
    pub dev_up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
    /// Active, not backup (`bond_is_active_slave`).
    pub active: bool,
    /// Takes no frames for the bond (`slave->inactive`).
    pub inactive: bool,
    pub queue_id: u16,
    // The ARP monitor's clocks, in ns (may be before the epoch).
    last_rx: i64,
    last_tx: i64,
    target_rx: [i64; MAX_ARP_TARGETS],
    last_link_up: i64,
}

#[derive(Clone, Debug)]
pub struct Bond {
    pub cfg: BondConfig,
    pub slaves: Vec<Slave>,
    next_id: u16,
    pub curr_active: Option<u16>,
    rr_counter: u32,
    rng: crate::rng::Rng,
    pub lacp: Lacp,
    pub up: bool,
    pub carrier: bool,
    pub mac: Mac,
    /// The address came from the user (not the first slave's).
    pub mac_set: bool,
    next_mii: Option<Instant>,
    next_ad: Option<Instant>,
    /// Control frames to send: (member id, frame).
    pub tx: Vec<(u16, Vec<u8>)>,
    /// What the host above sent from: announced on failover, IGMP reports
    /// replayed so switches move the groups (`resend_igmp`).
    pub announce: Announcer,
    /// Members that may transmit under the xor/802.3ad/rr rules
    /// (`usable_slaves`), by id.
    usable: Vec<u16>,
    pub record: bool,
    pub events: Vec<LagEvent>,
    next_arp: Option<Instant>,
    next_alb: Option<Instant>,
    alb: alb::Alb,
    /// balance-alb sent a rewritten copy of the frame itself.
    alb_consumed: bool,
    /// The backup being tried while there is no active slave (ARP monitor).
    current_arp_slave: Option<u16>,
    pub arp_probes: u64,
    /// Neighbour solicitations sent for `ns_ip6_target`.
    pub ns_probes: u64,
}

impl Bond {
    pub fn new(cfg: BondConfig, mac: Mac, mac_set: bool) -> Self {
        let lacp = Lacp::new(Self::lacp_cfg(&cfg, mac));
        Bond {
            cfg,
            slaves: Vec::new(),
            next_id: 0,
            curr_active: None,
            rr_counter: 0,
            rng: crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15),
            lacp,
            up: false,
            carrier: false,
            mac,
            mac_set,
            next_mii: None,
            next_ad: None,
            tx: Vec::new(),
            announce: Announcer::default(),
            usable: Vec::new(),
            record: false,
            events: Vec::new(),
            next_arp: None,
            next_alb: None,
            alb: alb::Alb::default(),
            alb_consumed: false,
            current_arp_slave: None,
            arp_probes: 0,
            ns_probes: 0,
        }
    }

    fn lacp_cfg(cfg: &BondConfig, mac: Mac) -> LacpConfig {
        LacpConfig {
            fast: cfg.lacp_fast,
            active: cfg.lacp_active,
            ad_select: cfg.ad_select,
            sys_prio: cfg.ad_actor_sys_prio,
            system: if cfg.ad_actor_system == Mac::ZERO {
                mac
            } else {
                cfg.ad_actor_system
            },
            user_port_key: cfg.ad_user_port_key,
            min_links: cfg.min_links,
            coupled_control: cfg.coupled_control,
            answer_markers: true,
        }
    }

    fn idx(&self, id: u16) -> Option<usize> {
        self.slaves.iter().position(|s| s.id == id)
    }

    pub fn slave(&self, id: u16) -> Option<&Slave> {
        self.slaves.iter().find(|s| s.id == id)
    }

    pub fn active_slave(&self) -> Option<&Slave> {
        self.curr_active.and_then(|id| self.slave(id))
    }

    pub(crate) fn primary_id(&self) -> Option<u16> {
        let name = self.cfg.primary.as_deref()?;
        self.slaves.iter().find(|s| s.name == name).map(|s| s.id)
    }

    fn event(&mut self, e: LagEvent) {
        if self.record {
            self.events.push(e);
        }
    }

    /// Options changed: the LACP settings follow.
    pub fn config_changed(&mut self) {
        let c = Self::lacp_cfg(&self.cfg, self.mac);
        self.lacp.update_config(c);
        self.update_usable();
        self.set_carrier();
    }

    /// `bond_enslave`: a member joins. `carrier` is the device's running
    /// state with carrier. Returns its id.
    pub fn add_slave(&mut self, now: Instant, new: NewSlave<'_>) -> u16 {
        let NewSlave {
            ifid,
            name,
            perm_mac,
            carrier,
            speed_mbps,
            full_duplex,
        } = new;
        if self.slaves.is_empty() && !self.mac_set {
            // The bond takes its first member's address.
            self.mac = perm_mac;
            self.lacp.cfg = Self::lacp_cfg(&self.cfg, self.mac);
        }
        self.next_id += 1;
        let id = self.next_id;
        let (link, delay) = if self.cfg.miimon > 0 {
            if carrier {
                if self.cfg.updelay > 0 {
                    (Link::Back, self.ticks(self.cfg.updelay))
                } else {
                    (Link::Up, 0)
                }
            } else {
                (Link::Down, 0)
            }
        } else if self.cfg.arp_interval > 0 {
            (if carrier { Link::Up } else { Link::Down }, 0)
        } else {
            (Link::Up, 0)
        };
        let mode = self.cfg.mode;
        let t = now.as_nanos() as i64;
        let long_ago = t - self.arp_delta() - 1_000_000;
        let s = Slave {
            ifid,
            id,
            name: name.into(),
            perm_mac,
            link,
            delay,
            link_failure_count: 0,
            dev_up: carrier,
            speed_mbps,
            full_duplex,
            active: false,
            inactive: false,
            queue_id: 0,
            last_rx: long_ago,
            last_tx: long_ago,
            target_rx: [long_ago; MAX_ARP_TARGETS],
            last_link_up: if link == Link::Down { long_ago } else { t },
        };
        self.slaves.push(s);
        let k = self.slaves.len() - 1;
        match mode {
            Mode::ActiveBackup | Mode::Ieee8023ad => self.set_inactive(k),
            Mode::BalanceTlb | Mode::BalanceAlb => {
                self.slaves[k].active = true;
                if !self.cfg.all_slaves_active {
                    self.slaves[k].inactive = true;
                }
            }
            _ => self.set_active(k),
        }
        if mode == Mode::Ieee8023ad {
            self.lacp.add_port(
                perm_mac,
                link == Link::Up && carrier,
                speed_mbps,
                full_duplex,
            );
        }
        if mode.uses_primary() {
            self.select_active_slave(now);
        }
        self.update_usable();
        self.set_carrier();
        id
    }

    /// `__bond_release_one`.
    pub fn remove_slave(&mut self, now: Instant, id: u16) {
        let Some(k) = self.idx(id) else { return };
        if self.cfg.mode == Mode::Ieee8023ad && k < self.lacp.ports.len() {
            self.lacp.remove_port(k);
            self.take_lacp_tx();
        }
        self.alb_slave_gone(id);
        self.slaves.remove(k);
        if self.curr_active == Some(id) {
            self.curr_active = None;
            if self.cfg.mode.uses_primary() {
                self.select_active_slave(now);
            }
        }
        self.update_usable();
        self.set_carrier();
    }

    fn set_active(&mut self, k: usize) {
        let s = &mut self.slaves[k];
        s.active = true;
        s.inactive = false;
    }

    /// `bond_set_slave_inactive_flags`.
    fn set_inactive(&mut self, k: usize) {
        let lb = self.cfg.mode.is_lb();
        let all = self.cfg.all_slaves_active;
        let s = &mut self.slaves[k];
        if !lb {
            s.active = false;
        }
        if !all {
            s.inactive = true;
        }
    }

    pub(crate) fn ticks(&self, ms: u32) -> u32 {
        ms.checked_div(self.cfg.miimon).unwrap_or(0)
    }

    /// The device's carrier and speed changed (the graph tells; the MII
    /// monitor looks at its next tick, as the kernel polls).
    pub fn set_slave_dev(&mut self, id: u16, up: bool, speed_mbps: u32, full_duplex: bool) {
        if let Some(k) = self.idx(id) {
            let s = &mut self.slaves[k];
            s.dev_up = up;
            if up {
                s.speed_mbps = speed_mbps;
                s.full_duplex = full_duplex;
            }
            if self.cfg.miimon == 0 && self.cfg.arp_interval == 0 {
                // Nothing monitors links; the LACP port still follows the
                // device (`bond_3ad_handle_link_change` from notifiers).
                if self.cfg.mode == Mode::Ieee8023ad {
                    self.lacp.ports[k].dev_up = up;
                }
            }
        }
    }

    /// The bond device came up (`bond_open`) or went down.
    pub fn set_up(&mut self, now: Instant, up: bool) {
        if self.up == up {
            return;
        }
        self.up = up;
        if up {
            self.next_mii = (self.cfg.miimon > 0).then_some(now);
            self.next_arp = (self.cfg.arp_interval > 0 && self.cfg.miimon == 0).then_some(now);
            self.next_alb = self.cfg.mode.is_lb().then_some(now);
            if self.cfg.mode == Mode::Ieee8023ad {
                self.next_ad = Some(now);
                self.lacp.open();
            }
            if self.cfg.mode.uses_primary() {
                self.select_active_slave(now);
            }
        } else {
            self.next_mii = None;
            self.next_ad = None;
            self.next_arp = None;
            self.next_alb = None;
        }
        self.update_usable();
        self.set_carrier();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.tx.is_empty() {
            return Some(Instant::ZERO);
        }
        [
            self.next_mii,
            self.next_ad,
            self.next_arp,
            self.next_alb,
            self.announce.rejoin.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.next_mii.filter(|t| *t <= now) {
            self.mii_monitor(t);
            let step = Duration::from_millis(u64::from(self.cfg.miimon.max(1)));
            self.next_mii = Some(t + step);
        }
        while let Some(t) = self.next_arp.filter(|t| *t <= now) {
            if self.cfg.mode == Mode::ActiveBackup {
                self.ab_arp_mon(t);
            } else {
                self.loadbalance_arp_mon(t);
            }
            let step = Duration::from_millis(u64::from(self.cfg.arp_interval.max(1)));
            self.next_arp = Some(t + step);
        }
        // `bond_resend_igmp_join_requests_delayed`: 200 ms apart.
        while self
            .announce
            .rejoin
            .take_due(now, Duration::from_millis(200))
        {
            self.resend_igmp();
        }
        while let Some(t) = self.next_alb.filter(|t| *t <= now) {
            self.alb_monitor();
            self.next_alb = Some(t + Duration::from_millis(100));
        }
        while let Some(t) = self.next_ad.filter(|t| *t <= now) {
            self.lacp.tick();
            self.after_lacp();
            self.next_ad = Some(t + Duration::from_millis(100));
        }
    }

    fn take_lacp_tx(&mut self) {
        for (k, f) in std::mem::take(&mut self.lacp.tx) {
            if let Some(s) = self.slaves.get(k) {
                self.tx.push((s.id, f));
            }
        }
    }

    /// After the LACP machines ran: frames out, flags into the slaves,
    /// carrier.
    fn after_lacp(&mut self) {
        self.take_lacp_tx();
        if std::mem::take(&mut self.lacp.changed) {
            for (k, p) in self.lacp.ports.iter().enumerate() {
                let active = p.is_active();
                let s = &mut self.slaves[k];
                let was = s.active;
                s.active = active;
                s.inactive = !active && !self.cfg.all_slaves_active;
                if was != active && self.record {
                    self.events.push(LagEvent::Distributing {
                        slave: s.ifid,
                        on: active,
                    });
                }
            }
            self.update_usable();
        }
        self.set_carrier();
    }

    /// `bond_mii_monitor`: `bond_miimon_inspect` + `bond_miimon_commit`.
    fn mii_monitor(&mut self, now: Instant) {
        // Further peer notifications go out one per MII interval
        // (peer_notif_delay 0).
        if self.announce.notify.take() {
            self.notify_peers();
        }
        let ignore_updelay = if self.cfg.mode == Mode::ActiveBackup {
            self.curr_active.is_none()
        } else {
            self.usable.is_empty()
        };
        let mut ignore_updelay = ignore_updelay;
        let (down, up) = (self.ticks(self.cfg.downdelay), self.ticks(self.cfg.updelay));
        let mut commits: Vec<(usize, Link)> = Vec::new();
        for k in 0..self.slaves.len() {
            let s = &mut self.slaves[k];
            let link_state = s.dev_up;
            match s.link {
                Link::Up | Link::Fail => {
                    if s.link == Link::Up {
                        if link_state {
                            continue;
                        }
                        s.link = Link::Fail;
                        s.delay = down;
                        if self.record {
                            self.events.push(LagEvent::SlaveLink {
                                slave: s.ifid,
                                link: Link::Fail,
                            });
                        }
                    }
                    if link_state {
                        s.link = Link::Up;
                        if self.record {
                            self.events.push(LagEvent::SlaveLink {
                                slave: s.ifid,
                                link: Link::Up,
                            });
                        }
                        continue;
                    }
                    if s.delay == 0 {
                        commits.push((k, Link::Down));
                        continue;
                    }
                    s.delay -= 1;
                }
                Link::Down | Link::Back => {
                    if s.link == Link::Down {
                        if !link_state {
                            continue;
                        }
                        s.link = Link::Back;
                        s.delay = up;
                        if self.record && up > 0 {
                            self.events.push(LagEvent::SlaveLink {
                                slave: s.ifid,
                                link: Link::Back,
                            });
                        }
                    }
                    if !link_state {
                        s.link = Link::Down;
                        continue;
                    }
                    if ignore_updelay {
                        s.delay = 0;
                    }
                    if s.delay == 0 {
                        commits.push((k, Link::Up));
                        ignore_updelay = false;
                        continue;
                    }
                    s.delay -= 1;
                }
            }
        }
        if commits.is_empty() {
            return;
        }
        let mut failover = false;
        let primary = self.primary_id();
        for (k, link) in commits {
            let id = self.slaves[k].id;
            let ifid = self.slaves[k].ifid;
            match link {
                Link::Up => {
                    self.slaves[k].link = Link::Up;
                    match self.cfg.mode {
                        Mode::Ieee8023ad => self.set_inactive(k),
                        Mode::ActiveBackup => {}
                        _ => self.set_active(k),
                    }
                    if self.cfg.mode == Mode::Ieee8023ad {
                        let s = &self.slaves[k];
                        let (sp, du) = (s.speed_mbps, s.full_duplex);
                        self.lacp.link_change(k, true, sp, du);
                    }
                    if self.curr_active.is_none() || Some(id) == primary {
                        failover = true;
                    }
                }
                _ => {
                    let s = &mut self.slaves[k];
                    s.link = Link::Down;
                    s.link_failure_count = s.link_failure_count.saturating_add(1);
                    if matches!(self.cfg.mode, Mode::ActiveBackup | Mode::Ieee8023ad) {
                        self.set_inactive(k);
                    }
                    self.alb_slave_gone(id);
                    if self.cfg.mode == Mode::Ieee8023ad {
                        self.lacp.link_change(k, false, 0, false);
                    }
                    if self.curr_active == Some(id) {
                        failover = true;
                    }
                }
            }
            self.event(LagEvent::SlaveLink { slave: ifid, link });
        }
        if failover && self.cfg.mode.uses_primary() {
            self.select_active_slave(now);
        }
        if self.cfg.mode == Mode::Ieee8023ad {
            self.after_lacp();
        }
        self.update_usable();
        self.set_carrier();
    }

    /// `bond_choose_primary_or_current`.
    fn choose_primary_or_current(&self) -> Option<u16> {
        let prim = self.primary_id().and_then(|id| self.slave(id));
        let curr = self.active_slave();
        let Some(prim) = prim.filter(|p| p.link == Link::Up) else {
            return curr.filter(|c| c.link == Link::Up).map(|c| c.id);
        };
        let Some(curr) = curr.filter(|c| c.link == Link::Up) else {
            return Some(prim.id);
        };
        match self.cfg.primary_reselect {
            PrimaryReselect::Always => Some(prim.id),
            PrimaryReselect::Better => {
                if prim.speed_mbps < curr.speed_mbps
                    || (prim.speed_mbps == curr.speed_mbps && prim.full_duplex <= curr.full_duplex)
                {
                    Some(curr.id)
                } else {
                    Some(prim.id)
                }
            }
            PrimaryReselect::Failure => Some(curr.id),
        }
    }

    /// `bond_find_best_slave`.
    fn find_best_slave(&self) -> Option<u16> {
        if let Some(id) = self.choose_primary_or_current() {
            return Some(id);
        }
        let mut best: Option<(u32, u16)> = None;
        for s in &self.slaves {
            if s.link == Link::Up {
                return Some(s.id);
            }
            if s.link == Link::Back && s.dev_up && best.is_none_or(|(d, _)| s.delay < d) {
                best = Some((s.delay, s.id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// `bond_select_active_slave` + `bond_change_active_slave`.
    fn select_active_slave(&mut self, now: Instant) {
        let best = self.find_best_slave();
        if best == self.curr_active {
            return;
        }
        let old = self.curr_active;
        if let Some(k) = old.and_then(|id| self.idx(id)) {
            if self.cfg.mode == Mode::ActiveBackup {
                self.set_inactive(k);
            }
        }
        self.curr_active = best;
        if let Some(k) = best.and_then(|id| self.idx(id)) {
            if self.slaves[k].link == Link::Back {
                // Used before its updelay ran out: it is up now.
                self.slaves[k].link = Link::Up;
            }
            self.set_active(k);
            if self.cfg.mode == Mode::ActiveBackup && self.cfg.fail_over_mac == FailOverMac::Active
            {
                // The bond takes the new active member's address (the host
                // behind it follows), and announces it.
                self.mac = self.slaves[k].perm_mac;
            }
            if self.cfg.mode == Mode::ActiveBackup && old.is_some() {
                // Tell the neighbours where the bond's addresses are now.
                self.announce.notify.start(now, self.cfg.num_grat_arp);
                if self.announce.notify.take() {
                    self.notify_peers();
                }
            }
            if old.is_some() {
                // The host's reports again, resend_igmp times, 200 ms
                // apart, the first now.
                self.announce.start_rejoin(now, self.cfg.resend_igmp);
                if self
                    .announce
                    .rejoin
                    .take_due(now, Duration::from_millis(200))
                {
                    self.resend_igmp();
                }
            }
        }
        let ifid = best.and_then(|id| self.slave(id)).map(|s| s.ifid);
        self.event(LagEvent::Active { slave: ifid });
    }

    /// One round of peer notification: a gratuitous ARP for each address
    /// the host used, from the bond's address, out of the active slave.
    fn notify_peers(&mut self) {
        let Some(active) = self.curr_active else {
            return;
        };
        for f in self.announce.notify_frames(self.mac) {
            self.tx.push((active, f));
        }
    }

    /// One round of the host's IGMP reports, out of the active slave.
    fn resend_igmp(&mut self) {
        let Some(active) = self.curr_active else {
            return;
        };
        for f in self.announce.rejoin_frames() {
            self.tx.push((active, f));
        }
    }

    /// `bond_update_slave_arr`: who may transmit in the hash modes.
    fn update_usable(&mut self) {
        let agg = (self.cfg.mode == Mode::Ieee8023ad)
            .then(|| self.lacp.active_agg_info().map(|i| i.aggregator_id));
        self.usable = self
            .slaves
            .iter()
            .enumerate()
            .filter(|(k, s)| {
                let can_tx = s.dev_up && s.link == Link::Up && s.active;
                let in_agg = match agg {
                    None => true,
                    Some(a) => a.is_some() && self.lacp.port_agg(*k).map(|x| x.id) == a,
                };
                can_tx && in_agg
            })
            .map(|(_, s)| s.id)
            .collect();
    }

    /// `bond_set_carrier`.
    fn set_carrier(&mut self) {
        let up = if self.cfg.mode == Mode::Ieee8023ad {
            self.lacp.carrier
        } else {
            self.slaves.iter().any(|s| s.link == Link::Up)
        };
        if up != self.carrier {
            self.carrier = up;
            self.event(LagEvent::Carrier { up });
        }
    }

    /// `bond_get_slave_by_id`: from member `n` on, the first that can
    /// transmit, wrapping.
    fn slave_by_id(&self, n: usize) -> Option<u16> {
        let can = |s: &Slave| s.dev_up && s.link == Link::Up && s.active;
        let len = self.slaves.len();
        (0..len)
            .map(|i| &self.slaves[(n + i) % len])
            .find(|s| can(s))
            .map(|s| s.id)
    }

    fn next_random(&mut self) -> u32 {
        self.rng.next_u64() as u32
    }

    /// `bond_start_xmit`: the members a frame the bond device sends leaves
    /// by (none: dropped).
    pub fn xmit(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        out: &mut Vec<u16>,
    ) -> Result<(), DropReason> {
        self.announce.host.learn(self.mac, frame);
        if self.slaves.is_empty() || !self.up {
            return Err(DropReason::NoSlave);
        }
        match self.cfg.mode {
            Mode::BalanceRr => {
                if crate::wire::host::is_igmp(frame) {
                    let id = self.curr_active.or_else(|| self.slave_by_id(0));
                    out.extend(id);
                } else {
                    let n = match self.cfg.packets_per_slave {
                        0 => self.next_random(),
                        p => {
                            self.rr_counter = self.rr_counter.wrapping_add(1);
                            self.rr_counter / p
                        }
                    };
                    out.extend(self.slave_by_id(n as usize % self.slaves.len()));
                }
            }
            Mode::ActiveBackup => out.extend(self.curr_active),
            Mode::Broadcast => out.extend(
                self.slaves
                    .iter()
                    .filter(|s| s.dev_up && s.link == Link::Up)
                    .map(|s| s.id),
            ),
            Mode::BalanceTlb | Mode::BalanceAlb => {
                self.alb_consumed = false;
                self.alb_xmit(frame, out);
                if std::mem::take(&mut self.alb_consumed) {
                    return Ok(());
                }
            }
            Mode::BalanceXor | Mode::Ieee8023ad => {
                if !self.usable.is_empty() {
                    let h = hash::xmit_hash(frame, self.cfg.xmit_hash_policy);
                    out.push(self.usable[h as usize % self.usable.len()]);
                }
            }
        }
        if out.is_empty() {
            return Err(DropReason::NoSlave);
        }
        let t = now.as_nanos() as i64;
        for id in out.iter() {
            if let Some(k) = self.idx(*id) {
                let s = &mut self.slaves[k];
                if s.dev_up {
                    // `dev_trans_start`: what the ARP monitor sees of tx.
                    s.last_tx = t;
                }
            }
        }
        Ok(())
    }

    /// `bond_handle_frame`: a frame member `id` received.
    pub fn rx(&mut self, now: Instant, id: u16, frame: &mut Frame<'_>) -> Rx {
        let Some(k) = self.idx(id) else {
            return Rx::Exact;
        };
        if self.cfg.arp_interval > 0 {
            self.rcv_validate(now, k, frame);
        }
        if self.cfg.mode == Mode::Ieee8023ad
            && frame.ethertype() == ETHERTYPE_SLOW
            && frame.dst() == LACP_GROUP
            && frame.tags().is_empty()
        {
            let taken = self.lacp.rx(k, &frame.body()[2..]);
            self.after_lacp();
            if taken {
                return Rx::Consumed;
            }
        }
        if self.cfg.mode == Mode::BalanceAlb {
            self.rlb_arp_recv(frame);
            // A peer sent to a member's own address (as RLB told it): the
            // bond's stack takes it as its own.
            if self.is_member_mac(frame.dst()) {
                frame.set_dst(self.mac);
            }
        }
        let s = &self.slaves[k];
        if s.inactive {
            let unicast = !frame.dst().is_multicast();
            if self.cfg.mode == Mode::BalanceAlb && unicast {
                return Rx::Pass;
            }
            return Rx::Exact;
        }
        Rx::Pass
    }

    fn arp_delta(&self) -> i64 {
        i64::from(self.cfg.arp_interval) * 1_000_000
    }

    /// `bond_time_in_interval`: `last` within `m` intervals (and half a
    /// one) of `now`.
    fn in_interval(&self, now: i64, last: i64, m: i64) -> bool {
        let d = self.arp_delta();
        now >= last - d && now <= last + m * d + d / 2
    }

    /// `slave_do_arp_validate`: validation applies to this member's state
    /// (bit 0 active, bit 1 backup).
    fn do_arp_validate(&self, k: usize) -> bool {
        let state = if self.slaves[k].active { 0 } else { 1 };
        (self.cfg.arp_validate as u32) & (1 << state) != 0
    }

    fn arp_validate_only(&self) -> bool {
        (self.cfg.arp_validate as u32) & 4 != 0
    }

    /// `slave_last_rx`.
    fn slave_last_rx(&self, k: usize) -> i64 {
        let s = &self.slaves[k];
        if self.cfg.arp_all_targets {
            let n = self.cfg.arp_ip_target.len().max(1);
            s.target_rx[..n].iter().copied().min().unwrap_or(s.last_rx)
        } else {
            s.last_rx
        }
    }

    /// `bond_rcv_validate`: what a member received counts as life.
    fn rcv_validate(&mut self, now: Instant, k: usize, frame: &Frame<'_>) {
        let t = now.as_nanos() as i64;
        let is_arp = frame.ethertype() == ethertype::ARP;
        let is_ipv6 = frame.ethertype() == ethertype::IPV6;
        if !self.do_arp_validate(k) {
            if !self.arp_validate_only() || is_arp || is_ipv6 {
                self.slaves[k].last_rx = t;
            }
            return;
        }
        // PACKET_OTHERHOST frames are not looked at.
        if frame.dst() != self.mac && !frame.dst().is_multicast() {
            return;
        }
        if is_ipv6 {
            self.na_rcv(t, k, frame);
            return;
        }
        if !is_arp {
            return;
        }
        // `bond_arp_rcv`.
        let b = &frame.body()[2..];
        if b.len() < 28 || b[0..4] != [0, 1, 8, 0] || b[4] != 6 || b[5] != 4 {
            return;
        }
        let reply = b[7] == 2;
        let sip: [u8; 4] = b[14..18].try_into().expect("4");
        let tip: [u8; 4] = b[24..28].try_into().expect("4");
        let curr = self.curr_active.and_then(|id| self.idx(id));
        let arp_slave = self.current_arp_slave.and_then(|id| self.idx(id));
        if self.slaves[k].active {
            self.validate_arp(t, k, sip, tip);
        } else if curr.is_some_and(|c| self.slave_last_rx(c) > self.slaves[c].last_link_up) {
            // A backup hears the active member's request: swapped.
            self.validate_arp(t, k, tip, sip);
        } else if let Some(a) = arp_slave {
            if reply && self.in_interval(t, self.slaves[a].last_tx, 1) {
                self.validate_arp(t, k, sip, tip);
            }
        }
    }

    /// `bond_validate_arp`.
    fn validate_arp(&mut self, t: i64, k: usize, sip: [u8; 4], tip: [u8; 4]) {
        if sip == [0; 4] || !self.announce.host.addrs.contains(&tip) {
            return;
        }
        let Some(i) = self.cfg.arp_ip_target.iter().position(|x| *x == sip) else {
            return;
        };
        let s = &mut self.slaves[k];
        s.last_rx = t;
        s.target_rx[i] = t;
    }

    /// `bond_na_rcv`: a neighbour solicitation or advertisement counts as
    /// an answer from an `ns_ip6_target`, trusted as `bond_arp_rcv` trusts
    /// ARP (on the active member; swapped on a backup once the active one
    /// hears; on the member being tried).
    fn na_rcv(&mut self, t: i64, k: usize, frame: &Frame<'_>) {
        let b = &frame.body()[2..];
        if b.len() < 40 + 4 || b[6] != 58 || !matches!(b[40], 135 | 136) {
            return;
        }
        let saddr: [u8; 16] = b[8..24].try_into().expect("16");
        let daddr: [u8; 16] = b[24..40].try_into().expect("16");
        let curr = self.curr_active.and_then(|id| self.idx(id));
        let arp_slave = self.current_arp_slave.and_then(|id| self.idx(id));
        if self.slaves[k].active {
            self.validate_na(t, k, saddr, daddr);
        } else if curr.is_some_and(|c| self.slave_last_rx(c) > self.slaves[c].last_link_up) {
            self.validate_na(t, k, daddr, saddr);
        } else if let Some(a) = arp_slave {
            if self.in_interval(t, self.slaves[a].last_tx, 1) {
                self.validate_na(t, k, saddr, daddr);
            }
        }
    }

    /// `bond_validate_na`: from a target, to all nodes or to one of the
    /// host's addresses.
    fn validate_na(&mut self, t: i64, k: usize, saddr: [u8; 16], daddr: [u8; 16]) {
        const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        if saddr == [0; 16] || (daddr != ALL_NODES && !self.announce.host.addrs6.contains(&daddr)) {
            return;
        }
        let Some(i) = self.cfg.ns_ip6_target.iter().position(|x| *x == saddr) else {
            return;
        };
        let s = &mut self.slaves[k];
        s.last_rx = t;
        s.target_rx[i] = t;
    }

    /// `bond_send_validate`: the ARP requests, then the neighbour
    /// solicitations, out of member `k`.
    fn send_validate(&mut self, t: i64, k: usize) {
        self.arp_send_all(t, k);
        self.ns_send_all(t, k);
    }

    /// `bond_ns_send_all`: a solicitation for every IPv6 target, from the
    /// host's address of the target's scope (link-local or not), or from
    /// the unspecified address while the host has used none.
    fn ns_send_all(&mut self, t: i64, k: usize) {
        let link_local = |a: &[u8; 16]| a[0] == 0xfe && a[1] & 0xc0 == 0x80;
        let id = self.slaves[k].id;
        for target in self.cfg.ns_ip6_target.clone() {
            let src = self
                .announce
                .host
                .addrs6
                .iter()
                .find(|a| link_local(a) == link_local(&target))
                .copied()
                .unwrap_or([0; 16]);
            let f = crate::wire::host::neighbour_solicitation(self.mac, src, target);
            self.tx.push((id, f));
            self.ns_probes += 1;
            if self.slaves[k].dev_up {
                self.slaves[k].last_tx = t;
            }
        }
    }

    /// `bond_arp_send_all`: a request for every target, from the bond's
    /// address (0.0.0.0 while the host has used none), out of member `k`.
    fn arp_send_all(&mut self, t: i64, k: usize) {
        let sip = self.announce.host.addrs.first().copied().unwrap_or([0; 4]);
        let id = self.slaves[k].id;
        for tip in self.cfg.arp_ip_target.clone() {
            let f = crate::wire::host::arp_request(self.mac, sip, tip, &[]);
            self.tx.push((id, f));
            self.arp_probes += 1;
            if self.slaves[k].dev_up {
                self.slaves[k].last_tx = t;
            }
        }
    }

    fn set_link(&mut self, k: usize, link: Link) {
        if self.slaves[k].link != link {
            self.slaves[k].link = link;
            let ifid = self.slaves[k].ifid;
            self.event(LagEvent::SlaveLink { slave: ifid, link });
        }
    }

    /// `bond_loadbalance_arp_mon`: up while it sends and hears within the
    /// interval, down after `arp_missed_max` quiet intervals.
    fn loadbalance_arp_mon(&mut self, now: Instant) {
        let t = now.as_nanos() as i64;
        let missed = i64::from(self.cfg.arp_missed_max);
        let mut changed = false;
        for k in 0..self.slaves.len() {
            let (tx, rx) = (self.slaves[k].last_tx, self.slaves[k].last_rx);
            if self.slaves[k].link != Link::Up {
                if self.in_interval(t, tx, 1) && self.in_interval(t, rx, 1) {
                    self.set_link(k, Link::Up);
                    self.set_active(k);
                    changed = true;
                }
            } else if !self.in_interval(t, tx, missed) || !self.in_interval(t, rx, missed) {
                self.set_link(k, Link::Down);
                let s = &mut self.slaves[k];
                s.link_failure_count = s.link_failure_count.saturating_add(1);
                changed = true;
            }
            if self.slaves[k].dev_up {
                self.send_validate(t, k);
            }
        }
        if changed {
            self.update_usable();
            self.set_carrier();
        }
    }

    /// `bond_activebackup_arp_mon`: inspect, commit, probe.
    fn ab_arp_mon(&mut self, now: Instant) {
        let t = now.as_nanos() as i64;
        let missed = i64::from(self.cfg.arp_missed_max);
        // bond_ab_arp_inspect
        let mut proposals: Vec<(usize, Link)> = Vec::new();
        for k in 0..self.slaves.len() {
            let last_rx = self.slave_last_rx(k);
            let s = &self.slaves[k];
            if s.link != Link::Up {
                if self.in_interval(t, last_rx, 1) {
                    proposals.push((k, Link::Up));
                } else if s.link == Link::Back {
                    proposals.push((k, Link::Fail));
                }
                continue;
            }
            if self.in_interval(t, s.last_link_up, 2) {
                continue;
            }
            if !s.active
                && self.current_arp_slave.is_none()
                && !self.in_interval(t, last_rx, missed + 1)
            {
                proposals.push((k, Link::Down));
            }
            if s.active
                && (!self.in_interval(t, s.last_tx, missed)
                    || !self.in_interval(t, last_rx, missed))
            {
                proposals.push((k, Link::Down));
            }
        }
        // bond_ab_arp_commit
        let mut failover = false;
        let primary = self.primary_id();
        for (k, link) in proposals {
            let id = self.slaves[k].id;
            let curr = self.curr_active;
            match link {
                Link::Up => {
                    let tx_ok = self.in_interval(t, self.slaves[k].last_tx, 1);
                    if (curr.is_none() && tx_ok)
                        || (curr != Some(id) && self.current_arp_slave == Some(id))
                    {
                        self.set_link(k, Link::Up);
                        self.slaves[k].last_link_up = t;
                        if let Some(a) = self.current_arp_slave.take().and_then(|a| self.idx(a)) {
                            self.set_inactive(a);
                        }
                        if curr.is_none() || Some(id) == primary {
                            failover = true;
                        }
                    }
                }
                Link::Down => {
                    let s = &mut self.slaves[k];
                    s.link_failure_count = s.link_failure_count.saturating_add(1);
                    self.set_link(k, Link::Down);
                    self.set_inactive(k);
                    if curr == Some(id) {
                        self.current_arp_slave = None;
                        failover = true;
                    }
                }
                Link::Fail => {
                    self.set_link(k, Link::Fail);
                    self.set_inactive(k);
                    if curr.is_some() {
                        self.current_arp_slave = None;
                    }
                }
                Link::Back => {}
            }
        }
        if failover {
            self.select_active_slave(now);
            if let Some(k) = self.curr_active.and_then(|id| self.idx(id)) {
                self.slaves[k].last_link_up = t;
            }
        }
        // bond_ab_arp_probe
        if let Some(k) = self.curr_active.and_then(|id| self.idx(id)) {
            self.send_validate(t, k);
        } else if !self.slaves.is_empty() {
            let n = self.slaves.len();
            for k in 0..n {
                if !self.slaves[k].dev_up && self.slaves[k].link == Link::Up {
                    let s = &mut self.slaves[k];
                    s.link_failure_count = s.link_failure_count.saturating_add(1);
                    self.set_link(k, Link::Down);
                    self.set_inactive(k);
                }
            }
            // The next member after the one tried last, that is up.
            let start = self.current_arp_slave.and_then(|id| self.idx(id));
            let next = match start {
                None => (0..n).find(|k| self.slaves[*k].dev_up),
                Some(s) => (1..=n)
                    .map(|i| (s + i) % n)
                    .find(|k| self.slaves[*k].dev_up),
            };
            if let Some(k) = next {
                self.set_link(k, Link::Back);
                self.set_active(k);
                self.send_validate(t, k);
                self.slaves[k].last_link_up = t;
                self.current_arp_slave = Some(self.slaves[k].id);
            }
        }
        self.update_usable();
        self.set_carrier();
    }
}

/// `ndisc_send_unsol_na`: an unsolicited neighbour advertisement for
/// `target` to all nodes (ff02::1), override set, with our link-layer
/// address.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Offload};

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    fn bond(cfg: BondConfig) -> Bond {
        let mut b = Bond::new(cfg, Mac([2, 0, 0, 0, 0, 0xb0]), true);
        for k in 1..=2u8 {
            b.add_slave(
                ms(0),
                NewSlave {
                    ifid: IfId(u32::from(k)),
                    name: &format!("eth{k}"),
                    perm_mac: Mac([2, 0, 0, 0, 0, k]),
                    carrier: true,
                    speed_mbps: 1000,
                    full_duplex: true,
                },
            );
        }
        b.set_up(ms(0), true);
        b
    }

    #[test]
    fn active_backup_failover_announces_the_hosts_addresses() {
        let mut b = bond(BondConfig {
            mode: Mode::ActiveBackup,
            num_grat_arp: 2,
            ..BondConfig::default()
        });
        assert_eq!(b.active_slave().map(|s| s.name.as_str()), Some("eth1"));
        // The host sends an ARP from the bond: 198.18.0.7 is its address.
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&b.mac.0);
        arp.extend_from_slice(&[198, 18, 0, 7]);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&[198, 18, 0, 1]);
        let f = build_frame(Mac::BROADCAST, b.mac, &[], ethertype::ARP, &arp);
        let mut out = Vec::new();
        b.xmit(
            ms(0),
            &mut Frame::parse(&f, None, Offload::NONE).unwrap(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, vec![1]);
        b.handle_timeout(ms(0));
        b.set_slave_dev(1, false, 0, false);
        b.handle_timeout(ms(100));
        assert_eq!(b.active_slave().map(|s| s.name.as_str()), Some("eth2"));
        // One gratuitous ARP at once, the second on the next MII tick.
        assert_eq!(b.tx.len(), 1);
        let (id, g) = &b.tx[0];
        assert_eq!(*id, 2);
        let g = Frame::parse(g, None, Offload::NONE).unwrap();
        assert_eq!(g.dst(), Mac::BROADCAST);
        assert_eq!(g.src(), b.mac);
        let body = &g.body()[2..];
        assert_eq!(&body[14..18], &[198, 18, 0, 7], "sender");
        assert_eq!(&body[24..28], &[198, 18, 0, 7], "target = sender");
        b.tx.clear();
        b.handle_timeout(ms(200));
        assert_eq!(b.tx.len(), 1);
        b.tx.clear();
        b.handle_timeout(ms(300));
        assert!(b.tx.is_empty(), "num_grat_arp 2");
    }

    #[test]
    fn failover_advertises_the_hosts_ipv6_addresses() {
        let mut b = bond(BondConfig {
            mode: Mode::ActiveBackup,
            ..BondConfig::default()
        });
        // The host sends from fd00::7 through the bond.
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        let me: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
        ip6.extend_from_slice(&me);
        ip6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip6.extend_from_slice(&[0; 8]);
        let f = build_frame(
            Mac([0x33, 0x33, 0, 0, 0, 1]),
            b.mac,
            &[],
            ethertype::IPV6,
            &ip6,
        );
        let mut out = Vec::new();
        b.xmit(
            ms(0),
            &mut Frame::parse(&f, None, Offload::NONE).unwrap(),
            &mut out,
        )
        .unwrap();
        b.handle_timeout(ms(0));
        b.set_slave_dev(1, false, 0, false);
        b.handle_timeout(ms(100));
        let na =
            b.tx.iter()
                .map(|(_, f)| f)
                .find(|f| f[12..14] == [0x86, 0xdd])
                .expect("an NA");
        let ip = &na[14..];
        assert_eq!(&na[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(ip[6], 58, "ICMPv6");
        assert_eq!(ip[7], 255, "hop limit 255, as ND requires");
        let icmp = &ip[40..];
        assert_eq!((icmp[0], icmp[4]), (136, 0x20), "NA with override");
        assert_eq!(&icmp[8..24], &me);
        assert_eq!(&icmp[24..26], &[2, 1], "target link-layer address option");
        assert_eq!(&icmp[26..32], &b.mac.0);
        // The checksum verifies: the sum over pseudo-header and message is
        // all ones.
        let mut sum = crate::wire::csum::Sum::default();
        sum.add(&ip[8..40]);
        sum.add(&(icmp.len() as u32).to_be_bytes());
        sum.add(&[0, 0, 0, 58]);
        sum.add(icmp);
        assert_eq!(sum.folded(), 0xffff);
    }

    #[test]
    fn fail_over_mac_active_takes_the_active_members_address() {
        let mut b = bond(BondConfig {
            mode: Mode::ActiveBackup,
            fail_over_mac: FailOverMac::Active,
            ..BondConfig::default()
        });
        assert_eq!(b.mac, Mac([2, 0, 0, 0, 0, 1]));
        b.handle_timeout(ms(0));
        b.set_slave_dev(1, false, 0, false);
        b.handle_timeout(ms(100));
        assert_eq!(b.mac, Mac([2, 0, 0, 0, 0, 2]));
    }

    #[test]
    fn failover_resends_the_hosts_igmp_reports() {
        let mut b = bond(BondConfig {
            mode: Mode::ActiveBackup,
            resend_igmp: 2,
            ..BondConfig::default()
        });
        // An IGMPv2 report for 239.1.1.1 from the host.
        let mut ip = vec![
            0x46, 0, 0, 32, 0, 0, 0, 0, 1, 2, 0, 0, 198, 18, 0, 7, 239, 1, 1, 1,
        ];
        ip.extend_from_slice(&[0x94, 4, 0, 0]); // router alert
        ip.extend_from_slice(&[0x16, 0, 0, 0, 239, 1, 1, 1]);
        let f = build_frame(Mac([1, 0, 0x5e, 1, 1, 1]), b.mac, &[], ethertype::IPV4, &ip);
        let mut out = Vec::new();
        b.xmit(
            ms(0),
            &mut Frame::parse(&f, None, Offload::NONE).unwrap(),
            &mut out,
        )
        .unwrap();
        b.handle_timeout(ms(0));
        b.set_slave_dev(1, false, 0, false);
        b.handle_timeout(ms(100));
        let reports = |b: &Bond| b.tx.iter().filter(|(_, x)| *x == f).count();
        assert_eq!(reports(&b), 1, "at failover");
        assert!(
            b.tx.iter().all(|(id, _)| *id == 2),
            "out of the new active member"
        );
        b.tx.clear();
        b.handle_timeout(ms(250));
        assert_eq!(reports(&b), 0, "200 ms later, not before");
        b.handle_timeout(ms(300));
        assert_eq!(reports(&b), 1, "the second of resend_igmp 2");
        b.tx.clear();
        b.handle_timeout(ms(1000));
        assert_eq!(reports(&b), 0);
    }

    #[test]
    fn primary_reselect_better_keeps_a_faster_current_slave() {
        let mut b = bond(BondConfig {
            mode: Mode::ActiveBackup,
            primary: Some("eth1".into()),
            primary_reselect: PrimaryReselect::Better,
            ..BondConfig::default()
        });
        b.slaves[1].speed_mbps = 10_000;
        b.handle_timeout(ms(0));
        b.set_slave_dev(1, false, 0, false);
        b.handle_timeout(ms(100));
        assert_eq!(b.curr_active, Some(2));
        // eth1 (1000) comes back: eth2 (10000) is better, so it stays.
        b.set_slave_dev(1, true, 1000, true);
        b.handle_timeout(ms(200));
        assert_eq!(b.slave(1).unwrap().link, Link::Up);
        assert_eq!(b.curr_active, Some(2));
    }

    #[test]
    fn round_robin_starts_at_the_second_member_and_honours_packets_per_slave() {
        let mut b = bond(BondConfig {
            packets_per_slave: 2,
            ..BondConfig::default()
        });
        let f = build_frame(
            Mac([2, 0, 0, 0, 0, 9]),
            Mac([2, 0, 0, 0, 0, 8]),
            &[],
            0x88b5,
            &[0; 46],
        );
        let mut f = Frame::parse(&f, None, Offload::NONE).unwrap();
        let mut seq = Vec::new();
        for _ in 0..6 {
            let mut out = Vec::new();
            b.xmit(ms(0), &mut f, &mut out).unwrap();
            seq.push(out[0]);
        }
        // Counter 1..6, / 2 = 0,1,1,2,2,3 → members 1,2,2,1,1,2.
        assert_eq!(seq, vec![1, 2, 2, 1, 1, 2]);
    }

    #[test]
    fn inactive_members_keep_frames_to_themselves() {
        let mut b = bond(BondConfig {
            mode: Mode::ActiveBackup,
            ..BondConfig::default()
        });
        let f = build_frame(
            Mac::BROADCAST,
            Mac([2, 0, 0, 0, 0, 9]),
            &[],
            0x0800,
            &[0; 46],
        );
        let mut f = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(b.rx(ms(0), 1, &mut f), Rx::Pass);
        assert_eq!(b.rx(ms(0), 2, &mut f), Rx::Exact);
    }
}
