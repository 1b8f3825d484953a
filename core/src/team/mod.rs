//! The team device with teamd in front of it (BEHAVIOUR.md §3): the
//! kernel's `team` modes and teamd's runners, link watchers and state, as
//! one sans-IO device.
//!
//! Who decides what, as in Linux: the kernel part transmits by the mode
//! (broadcast, roundrobin, random, activebackup, loadbalance) over the ports
//! that are *enabled* and have *linkup*; teamd's part sets those two per
//! port: linkup from the link watchers (ethtool, arp_ping, nsna_ping, with
//! `link_watch_policy`), enabled from the runner (every port with link;
//! activebackup only the active one, chosen by `prio`, speed and duplex,
//! `sticky` kept; lacp the ports collecting and distributing in the
//! selected aggregator). LACP is [`crate::lacp`], the same machines the
//! bond runs; the host-address learning and announcements are
//! [`crate::wire::host`]'s.
//!
//! The transmit path takes no lock: the team is owned by the forwarding
//! thread like every device, and [`Team::xmit`] reads a port list kept up
//! to date when ports change (the kernel's RCU-protected `en_port_list`).

pub mod config;
pub mod hash;

use std::time::Duration;

use crate::bond::{LagEvent, Link, NewSlave, Rx};
use crate::counters::DropReason;
use crate::graph::IfId;
use crate::lacp::{AdSelect, Lacp, LacpConfig};
use crate::lag::announce::Announcer;
use crate::time::Instant;
use crate::wire::host;
use crate::wire::lacp::{ETHERTYPE_SLOW, LACP_GROUP};
use crate::wire::{ethertype, Frame, Mac, Tag};
use config::{AggSelectPolicy, HwaddrPolicy};
pub use config::{ConfigError, PortConfig, RunnerName, TeamConfig, Watch};
use hash::Recipe;

/// One link watcher's state on one port.
#[derive(Clone, Debug)]
pub struct Watcher {
    pub watch: Watch,
    pub up: bool,
    /// ethtool: the carrier state waiting out its delay, and when.
    pending: Option<(bool, Instant)>,
    /// arp_ping / nsna_ping: the next periodic check.
    next: Option<Instant>,
    pub missed: u32,
    reply_received: bool,
    pub probes: u64,
}

impl Watcher {
    fn new(watch: Watch) -> Self {
        Watcher {
            watch,
            up: false,
            pending: None,
            next: None,
            missed: 0,
            reply_received: false,
            probes: 0,
        }
    }
}

/// One port.
#[derive(Clone, Debug)]
pub struct TeamPort {
    pub ifid: IfId,
    /// Unique within the team (the graph's `port_no`).
    pub id: u16,
    pub name: String,
    pub mac: Mac,
    /// The device runs with carrier.
    pub dev_up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
    pub cfg: PortConfig,
    pub watchers: Vec<Watcher>,
    /// What the watchers say (`user_linkup`).
    pub link_up: bool,
    /// The runner lets it carry traffic (the team option `enabled`).
    pub enabled: bool,
    pub link_changes: u32,
}

impl TeamPort {
    fn txable(&self) -> bool {
        self.enabled && self.link_up
    }
}

#[derive(Clone, Debug)]
pub struct Team {
    pub cfg: TeamConfig,
    pub ports: Vec<TeamPort>,
    /// Enabled ports by index (`en_port_list`): what roundrobin, random and
    /// loadbalance count over.
    en_ports: Vec<u16>,
    next_id: u16,
    /// activebackup's active port.
    pub active: Option<u16>,
    sent_packets: u32,
    rng: crate::rng::Rng,
    recipe: Recipe,
    pub lacp: Option<Lacp>,
    pub up: bool,
    pub carrier: bool,
    /// The daemon serves teamd's D-Bus service for it (the state's
    /// `setup.dbus_enabled`).
    pub dbus: bool,
    pub mac: Mac,
    pub tx: Vec<(u16, Vec<u8>)>,
    pub announce: Announcer,
    pub record: bool,
    pub events: Vec<LagEvent>,
    /// basic tx_balancer: hash → port, bytes per hash now and at the last
    /// rebalance.
    htpm: Vec<Option<u16>>,
    hash_bytes: Vec<u64>,
    hash_last: Vec<u64>,
    next_balance: Option<Instant>,
    next_ad: Option<Instant>,
}

impl Team {
    pub fn new(cfg: TeamConfig, mac: Mac) -> Self {
        let mac = cfg.hwaddr.unwrap_or(mac);
        let lacp = (cfg.runner == RunnerName::Lacp).then(|| Lacp::new(Self::lacp_cfg(&cfg, mac)));
        let recipe = Recipe::new(&cfg.tx_hash);
        Team {
            cfg,
            ports: Vec::new(),
            en_ports: Vec::new(),
            next_id: 0,
            active: None,
            sent_packets: 0,
            rng: crate::rng::Rng::new(0x2545_f491_4f6c_dd1d),
            recipe,
            lacp,
            up: false,
            carrier: false,
            dbus: false,
            mac,
            tx: Vec::new(),
            announce: Announcer::default(),
            record: false,
            events: Vec::new(),
            htpm: vec![None; 256],
            hash_bytes: vec![0; 256],
            hash_last: vec![0; 256],
            next_balance: None,
            next_ad: None,
        }
    }

    fn lacp_cfg(cfg: &TeamConfig, mac: Mac) -> LacpConfig {
        LacpConfig {
            fast: cfg.fast_rate,
            active: cfg.lacp_active,
            ad_select: match cfg.agg_select_policy {
                AggSelectPolicy::LacpPrio => AdSelect::LacpPrio,
                AggSelectPolicy::LacpPrioStable => AdSelect::LacpPrioStable,
                AggSelectPolicy::Bandwidth => AdSelect::Bandwidth,
                AggSelectPolicy::Count => AdSelect::Count,
                AggSelectPolicy::PortConfig => AdSelect::PortConfig,
            },
            sys_prio: cfg.sys_prio,
            system: mac,
            user_port_key: 0,
            // teamd sets the carrier itself from min_ports.
            min_links: 0,
            coupled_control: true,
            // teamd's lacp runner reads LACPDUs only.
            answer_markers: false,
        }
    }

    fn idx(&self, id: u16) -> Option<usize> {
        self.ports.iter().position(|p| p.id == id)
    }

    pub fn port(&self, id: u16) -> Option<&TeamPort> {
        self.ports.iter().find(|p| p.id == id)
    }

    pub fn port_by_name(&self, name: &str) -> Option<&TeamPort> {
        self.ports.iter().find(|p| p.name == name)
    }

    fn event(&mut self, e: LagEvent) {
        if self.record {
            self.events.push(e);
        }
    }

    /// `teamdctl port add`: a device joins.
    pub fn add_port(&mut self, now: Instant, new: NewSlave<'_>) -> u16 {
        let id = self.next_id;
        self.next_id += 1;
        let cfg = self.cfg.port(new.name);
        let watchers = self
            .cfg
            .watches(new.name)
            .into_iter()
            .map(Watcher::new)
            .collect();
        self.ports.push(TeamPort {
            ifid: new.ifid,
            id,
            name: new.name.to_string(),
            mac: new.perm_mac,
            dev_up: new.carrier,
            speed_mbps: new.speed_mbps,
            full_duplex: new.full_duplex,
            cfg: cfg.clone(),
            watchers,
            link_up: false,
            enabled: false,
            link_changes: 0,
        });
        if let Some(l) = self.lacp.as_mut() {
            let i = l.add_port(new.perm_mac, new.carrier, new.speed_mbps, new.full_duplex);
            l.set_port_settings(i, Some(cfg.lacp_key), cfg.lacp_prio, cfg.prio);
        }
        let k = self.ports.len() - 1;
        self.start_watchers(now, k);
        self.refresh(now);
        id
    }

    /// `teamdctl port remove`.
    pub fn remove_port(&mut self, now: Instant, id: u16) {
        let Some(k) = self.idx(id) else { return };
        if let Some(l) = self.lacp.as_mut() {
            l.remove_port(k);
            self.take_lacp_tx_for_removed(k, id);
        }
        self.ports.remove(k);
        self.en_ports.retain(|p| *p != id);
        if self.active == Some(id) {
            self.active = None;
            self.event(LagEvent::Active { slave: None });
        }
        for m in self.htpm.iter_mut() {
            if *m == Some(id) {
                *m = None;
            }
        }
        self.refresh(now);
    }

    /// The LACPDU telling the partner a port leaves goes out on it before
    /// it goes.
    fn take_lacp_tx_for_removed(&mut self, k: usize, id: u16) {
        let Some(l) = self.lacp.as_mut() else { return };
        for (i, f) in std::mem::take(&mut l.tx) {
            let to = if i == k {
                Some(id)
            } else {
                // Indices past the removed port moved down by one.
                let j = if i > k { i + 1 } else { i };
                self.ports.get(j).map(|p| p.id)
            };
            if let Some(to) = to {
                self.tx.push((to, f));
            }
        }
    }

    /// `teamdctl port config update`.
    pub fn update_port_config(&mut self, now: Instant, id: u16, cfg: PortConfig) {
        let Some(k) = self.idx(id) else { return };
        let watches = cfg
            .link_watch
            .clone()
            .unwrap_or_else(|| self.cfg.link_watch.clone());
        let name = self.ports[k].name.clone();
        if let Some(slot) = self.cfg.ports.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = cfg.clone();
        } else {
            self.cfg.ports.push((name, cfg.clone()));
        }
        if let Some(l) = self.lacp.as_mut() {
            l.set_port_settings(k, Some(cfg.lacp_key), cfg.lacp_prio, cfg.prio);
        }
        let p = &mut self.ports[k];
        p.cfg = cfg;
        if p.watchers.iter().map(|w| &w.watch).ne(watches.iter()) {
            p.watchers = watches.into_iter().map(Watcher::new).collect();
            self.start_watchers(now, k);
        }
        self.refresh(now);
    }

    fn start_watchers(&mut self, now: Instant, k: usize) {
        let p = &mut self.ports[k];
        let dev_up = p.dev_up;
        for w in &mut p.watchers {
            match w.watch {
                // teamd reads the carrier when the port is added: no delay.
                Watch::Ethtool { .. } => w.up = dev_up,
                Watch::ArpPing { init_wait, .. } | Watch::NsnaPing { init_wait, .. } => {
                    w.up = false;
                    w.next = Some(now + Duration::from_millis(u64::from(init_wait)));
                }
            }
        }
    }

    /// The device's carrier and speed changed.
    pub fn set_port_dev(&mut self, now: Instant, id: u16, up: bool, speed: u32, duplex: bool) {
        let Some(k) = self.idx(id) else { return };
        let p = &mut self.ports[k];
        if p.dev_up == up && (!up || (p.speed_mbps == speed && p.full_duplex == duplex)) {
            return;
        }
        p.dev_up = up;
        if up {
            p.speed_mbps = speed;
            p.full_duplex = duplex;
        }
        for w in &mut p.watchers {
            if let Watch::Ethtool {
                delay_up,
                delay_down,
            } = w.watch
            {
                let delay = if up { delay_up } else { delay_down };
                if w.up == up {
                    // Back before the delay ran out.
                    w.pending = None;
                } else if delay == 0 {
                    w.pending = None;
                    w.up = up;
                } else {
                    w.pending = Some((up, now + Duration::from_millis(u64::from(delay))));
                }
            }
        }
        if let Some(l) = self.lacp.as_mut() {
            l.link_change(k, up, speed, duplex);
        }
        self.refresh(now);
    }

    /// The team device came up or went down.
    pub fn set_up(&mut self, now: Instant, up: bool) {
        if self.up == up {
            return;
        }
        self.up = up;
        if up {
            if let Some(l) = self.lacp.as_mut() {
                l.open();
                self.next_ad = Some(now);
            }
            if let Some(iv) = self.cfg.tx_balancer {
                self.next_balance = Some(now + Duration::from_millis(u64::from(iv.max(1)) * 100));
            }
        } else {
            self.next_ad = None;
            self.next_balance = None;
        }
        self.refresh(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.tx.is_empty() {
            return Some(Instant::ZERO);
        }
        let watch = self.ports.iter().flat_map(|p| {
            p.watchers
                .iter()
                .flat_map(|w| [w.pending.map(|(_, t)| t), w.next])
        });
        [
            self.next_ad,
            self.next_balance,
            self.announce.notify.next(),
            self.announce.rejoin.next(),
        ]
        .into_iter()
        .chain(watch)
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for k in 0..self.ports.len() {
            for j in 0..self.ports[k].watchers.len() {
                let w = &mut self.ports[k].watchers[j];
                if let Some((up, t)) = w.pending {
                    if t <= now {
                        w.up = up;
                        w.pending = None;
                    }
                }
                while let Some(t) = self.ports[k].watchers[j].next.filter(|t| *t <= now) {
                    self.periodic(t, k, j);
                }
            }
        }
        while let Some(t) = self.next_ad.filter(|t| *t <= now) {
            if let Some(l) = self.lacp.as_mut() {
                l.tick();
            }
            self.next_ad = Some(t + Duration::from_millis(100));
            self.after_lacp(t);
        }
        while let Some(t) = self.next_balance.filter(|t| *t <= now) {
            self.rebalance();
            let iv = u64::from(self.cfg.tx_balancer.unwrap_or(50).max(1)) * 100;
            self.next_balance = Some(t + Duration::from_millis(iv));
        }
        let every = Duration::from_millis(u64::from(self.cfg.notify_peers.interval));
        while self.announce.notify.take_due(now, every) {
            self.notify_peers();
        }
        let every = Duration::from_millis(u64::from(self.cfg.mcast_rejoin.interval));
        while self.announce.rejoin.take_due(now, every) {
            self.rejoin();
        }
        self.refresh(now);
    }

    /// `lw_psr_callback_periodic`: count the interval, then probe.
    fn periodic(&mut self, t: Instant, k: usize, j: usize) {
        let enabled_any = self.ports.iter().any(|p| p.enabled);
        let mac = self.port_hwaddr(k);
        let p = &mut self.ports[k];
        // `forced_send`: enabled ports probe, or every port while none is.
        let forced = p.enabled || !enabled_any;
        let id = p.id;
        let w = &mut p.watchers[j];
        let (interval, missed_max) = match w.watch {
            Watch::ArpPing {
                interval,
                missed_max,
                ..
            }
            | Watch::NsnaPing {
                interval,
                missed_max,
                ..
            } => (interval, missed_max),
            Watch::Ethtool { .. } => {
                w.next = None;
                return;
            }
        };
        if w.reply_received {
            w.up = true;
            w.missed = 0;
        } else {
            w.missed += 1;
            if w.missed > missed_max && w.up {
                w.up = false;
            }
        }
        w.reply_received = false;
        w.next = Some(t + Duration::from_millis(u64::from(interval.max(1))));
        match w.watch {
            Watch::ArpPing {
                source_host,
                target_host,
                vlanid,
                send_always,
                ..
            } if forced || send_always => {
                let tags: Vec<Tag> = vlanid
                    .map(|v| Tag::new(ethertype::VLAN, v, 0))
                    .into_iter()
                    .collect();
                w.probes += 1;
                self.tx
                    .push((id, host::arp_request(mac, source_host, target_host, &tags)));
            }
            Watch::NsnaPing { target_host, .. } if forced => {
                w.probes += 1;
                let f = host::neighbour_solicitation(mac, host::link_local(mac), target_host);
                self.tx.push((id, f));
            }
            _ => {}
        }
    }

    /// The address port `k` has in Linux: the team's (the kernel sets it
    /// on every port, teamd's `same_all`), or its own under activebackup's
    /// `by_active`, and under `only_active` unless it is the active port.
    /// patchbay leaves the ports' own addresses alone; this is what the
    /// team's own frames (watcher probes) carry.
    pub fn port_hwaddr(&self, k: usize) -> Mac {
        let p = &self.ports[k];
        match (self.cfg.runner, self.cfg.hwaddr_policy) {
            (RunnerName::ActiveBackup, HwaddrPolicy::ByActive) => p.mac,
            (RunnerName::ActiveBackup, HwaddrPolicy::OnlyActive) if self.active != Some(p.id) => {
                p.mac
            }
            _ => self.mac,
        }
    }

    /// What the ARP and NS/NA watchers make of a frame a port received.
    fn watch_rx(&mut self, k: usize, frame: &Frame<'_>) {
        let enabled = self.ports[k].enabled;
        let p = &mut self.ports[k];
        for w in &mut p.watchers {
            match w.watch {
                Watch::ArpPing {
                    source_host,
                    target_host,
                    validate_active,
                    validate_inactive,
                    vlanid,
                    ..
                } => {
                    if frame.ethertype() != ethertype::ARP {
                        continue;
                    }
                    let tag_ok = match (vlanid, frame.tags().first()) {
                        (None, None) => true,
                        (None, Some(t)) => t.tci == 0,
                        (Some(v), Some(t)) => t.vid() == v,
                        (Some(_), None) => false,
                    };
                    let b = frame.body();
                    if !tag_ok || b.len() < 2 + 28 {
                        continue;
                    }
                    let arp = &b[2..];
                    let op = u16::from_be_bytes([arp[6], arp[7]]);
                    if op != 1 && op != 2 {
                        continue;
                    }
                    if (enabled && validate_active) || (!enabled && validate_inactive) {
                        let hdr_ok = arp[..6] == [0, 1, 8, 0, 6, 4] && op == 2;
                        let sip: [u8; 4] = arp[14..18].try_into().expect("4 bytes");
                        let tip: [u8; 4] = arp[24..28].try_into().expect("4 bytes");
                        let ours = (source_host == tip && target_host == sip)
                            || (target_host == tip && source_host == sip);
                        if !hdr_ok || !ours {
                            continue;
                        }
                    }
                    w.reply_received = true;
                }
                Watch::NsnaPing { target_host, .. } => {
                    if host::na_target(frame) == Some(target_host) {
                        w.reply_received = true;
                    }
                }
                Watch::Ethtool { .. } => {}
            }
        }
    }

    /// After anything changed: linkup from the watchers, enabled from the
    /// runner, carrier, events. Idempotent.
    fn refresh(&mut self, now: Instant) {
        let all = self.cfg.watch_all;
        for k in 0..self.ports.len() {
            let p = &self.ports[k];
            // `teamd_link_watch_port_up`: no watcher is up; `any` returns
            // the last watcher's state when none is up.
            let mut link = true;
            for w in &p.watchers {
                link = w.up;
                if link != all {
                    break;
                }
            }
            if p.link_up != link {
                let ifid = p.ifid;
                let p = &mut self.ports[k];
                p.link_up = link;
                if !link {
                    p.link_changes += 1;
                }
                self.event(LagEvent::SlaveLink {
                    slave: ifid,
                    link: if link { Link::Up } else { Link::Down },
                });
            }
        }
        match self.cfg.runner {
            RunnerName::ActiveBackup => self.ab_select(now),
            RunnerName::Lacp => {
                // `lacp_port_should_be_enabled`: in the selected aggregator,
                // collecting and distributing, and the partner in sync (no
                // partner, no traffic: teamd has no individual fallback).
                let sync = crate::wire::lacp::state::SYNCHRONIZATION;
                let active: Vec<bool> = self
                    .lacp
                    .as_ref()
                    .map(|l| {
                        l.ports
                            .iter()
                            .map(|p| p.is_active() && p.partner_oper.state & sync != 0)
                            .collect()
                    })
                    .unwrap_or_default();
                for k in 0..self.ports.len() {
                    let on = active.get(k).copied().unwrap_or(false) && self.ports[k].link_up;
                    self.set_enabled(now, k, on);
                }
            }
            _ => {
                for k in 0..self.ports.len() {
                    let on = self.ports[k].link_up;
                    self.set_enabled(now, k, on);
                }
            }
        }
        let carrier = if self.cfg.runner == RunnerName::Lacp {
            // `lacp_update_carrier`.
            self.ports.iter().filter(|p| p.enabled).count() as u32 >= self.cfg.min_ports
        } else {
            // `__team_carrier_check`.
            self.ports.iter().any(|p| p.link_up)
        };
        let carrier = carrier && self.up;
        if carrier != self.carrier {
            self.carrier = carrier;
            self.event(LagEvent::Carrier { up: carrier });
        }
    }

    /// `team_port_enable` / `team_port_disable`.
    fn set_enabled(&mut self, now: Instant, k: usize, on: bool) {
        let p = &mut self.ports[k];
        if p.enabled == on {
            return;
        }
        p.enabled = on;
        let (id, ifid) = (p.id, p.ifid);
        if on {
            self.en_ports.push(id);
            if self.cfg.notify_peers.count > 0 {
                self.announce.notify.start(now, self.cfg.notify_peers.count);
            }
            if self.cfg.mcast_rejoin.count > 0 {
                self.announce.start_rejoin(now, self.cfg.mcast_rejoin.count);
            }
        } else {
            self.en_ports.retain(|x| *x != id);
            for m in self.htpm.iter_mut() {
                if *m == Some(id) {
                    *m = None;
                }
            }
        }
        self.event(LagEvent::Distributing { slave: ifid, on });
    }

    /// `ab_link_watch_handler`: the best port by prio, then speed, then
    /// duplex (teamd's test: higher prio *or* higher speed wins, the
    /// current port considered first), kept if the current one is sticky.
    fn ab_select(&mut self, now: Instant) {
        let mut active = self.active.and_then(|id| self.idx(id));
        if let Some(a) = active {
            if !self.ports[a].link_up {
                active = None;
            }
        }
        let mut best: Option<(usize, i32, u32, bool)> = None;
        let order = active.into_iter().chain(0..self.ports.len());
        for k in order {
            let p = &self.ports[k];
            if !p.link_up || best.is_some_and(|b| b.0 == k) {
                continue;
            }
            let better = match best {
                None => true,
                Some((_, prio, speed, duplex)) => {
                    p.cfg.prio > prio
                        || p.speed_mbps > speed
                        || (p.speed_mbps == speed && p.full_duplex && !duplex)
                }
            };
            if better {
                best = Some((k, p.cfg.prio, p.speed_mbps, p.full_duplex));
            }
        }
        let mut new = active;
        if let Some((b, ..)) = best {
            if Some(b) != active && active.is_none_or(|a| !self.ports[a].cfg.sticky) {
                new = Some(b);
            }
        }
        let new_id = new.map(|k| self.ports[k].id);
        if new_id != self.active {
            self.active = new_id;
            let ifid = new.map(|k| self.ports[k].ifid);
            self.event(LagEvent::Active { slave: ifid });
            if self.cfg.hwaddr_policy == HwaddrPolicy::ByActive {
                if let Some(k) = new {
                    self.mac = self.ports[k].mac;
                }
            }
        }
        for k in 0..self.ports.len() {
            let on = Some(k) == new;
            self.set_enabled(now, k, on);
        }
    }

    fn after_lacp(&mut self, now: Instant) {
        if let Some(l) = self.lacp.as_mut() {
            for (k, f) in std::mem::take(&mut l.tx) {
                if let Some(p) = self.ports.get(k) {
                    self.tx.push((p.id, f));
                }
            }
            l.changed = false;
        }
        self.refresh(now);
    }

    /// `tb_rebalance`: the busiest hash first, each to the least loaded
    /// port; hashes idle since the last time keep their port.
    fn rebalance(&mut self) {
        let ports: Vec<u16> = self.en_ports.clone();
        if ports.is_empty() {
            return;
        }
        let delta: Vec<u64> = (0..256)
            .map(|h| self.hash_bytes[h] - self.hash_last[h])
            .collect();
        self.hash_last.clone_from(&self.hash_bytes);
        let mut load = vec![0u64; ports.len()];
        let mut order: Vec<usize> = (0..256).collect();
        // Stable: equal deltas in hash order, as teamd's scan.
        order.sort_by(|a, b| delta[*b].cmp(&delta[*a]));
        for h in order {
            if self.htpm[h].is_some() && delta[h] == 0 {
                continue;
            }
            let (i, _) = load
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| **l)
                .expect("ports");
            self.htpm[h] = Some(ports[i]);
            load[i] += delta[h];
        }
    }

    fn notify_peers(&mut self) {
        let Some(to) = self.announce_port() else {
            return;
        };
        for f in self.announce.notify_frames(self.mac) {
            self.tx.push((to, f));
        }
    }

    fn rejoin(&mut self) {
        let Some(to) = self.announce_port() else {
            return;
        };
        for f in self.announce.rejoin_frames() {
            self.tx.push((to, f));
        }
    }

    /// Where the stack's announcements leave: activebackup's active port,
    /// else the first enabled one (the stack sends through the team, which
    /// hashes; one copy is enough to move a switch's entry).
    fn announce_port(&self) -> Option<u16> {
        self.active.or_else(|| self.en_ports.first().copied())
    }

    fn next_random(&mut self) -> u32 {
        self.rng.next_u64() as u32
    }

    /// `team_get_first_port_txable_rcu`: the port itself if it can send,
    /// else the next that can, in port order, wrapping.
    fn first_txable(&self, id: u16) -> Option<u16> {
        let start = self.idx(id)?;
        let n = self.ports.len();
        (0..n)
            .map(|i| &self.ports[(start + i) % n])
            .find(|p| p.txable())
            .map(|p| p.id)
    }

    /// The port a hash maps to without a balancer (`lb_hash_select_tx_port`).
    fn by_index(&self, num: u32) -> Option<u16> {
        let n = self.en_ports.len();
        (n > 0).then(|| self.en_ports[num as usize % n])
    }

    /// `team_xmit`: the ports a frame the team device sends leaves by.
    pub fn xmit(
        &mut self,
        _now: Instant,
        frame: &mut Frame<'_>,
        out: &mut Vec<u16>,
    ) -> Result<(), DropReason> {
        self.announce.host.learn(self.mac, frame);
        if self.ports.is_empty() || !self.up {
            return Err(DropReason::NoSlave);
        }
        match self.cfg.runner {
            RunnerName::Broadcast => {
                out.extend(self.ports.iter().filter(|p| p.txable()).map(|p| p.id));
            }
            RunnerName::RoundRobin => {
                let n = self.sent_packets;
                self.sent_packets = n.wrapping_add(1);
                out.extend(self.by_index(n).and_then(|id| self.first_txable(id)));
            }
            RunnerName::Random => {
                let n = self.next_random();
                out.extend(self.by_index(n).and_then(|id| self.first_txable(id)));
            }
            RunnerName::ActiveBackup => {
                out.extend(
                    self.active
                        .filter(|id| self.port(*id).is_some_and(TeamPort::txable)),
                );
            }
            RunnerName::LoadBalance | RunnerName::Lacp => {
                let h = hash::tx_hash(frame, self.recipe);
                let port = self.htpm[usize::from(h)]
                    .or_else(|| self.by_index(u32::from(h)))
                    .filter(|id| self.port(*id).is_some_and(TeamPort::txable));
                if port.is_some() {
                    self.hash_bytes[usize::from(h)] += frame.len() as u64;
                }
                out.extend(port);
            }
        }
        if out.is_empty() {
            return Err(DropReason::NoSlave);
        }
        Ok(())
    }

    /// `team_handle_frame`: a frame port `id` received.
    pub fn rx(&mut self, now: Instant, id: u16, frame: &mut Frame<'_>) -> Rx {
        let Some(k) = self.idx(id) else {
            return Rx::Exact;
        };
        self.watch_rx(k, frame);
        if frame.ethertype() == ETHERTYPE_SLOW
            && frame.dst() == LACP_GROUP
            && frame.tags().is_empty()
        {
            if let Some(l) = self.lacp.as_mut() {
                // teamd's packet socket takes LACPDUs on every port.
                let taken = l.rx(k, &frame.body()[2..]);
                self.after_lacp(now);
                if taken {
                    return Rx::Consumed;
                }
            }
        }
        let p = &self.ports[k];
        if !p.enabled {
            // Exact-match delivery only (link-local frames stay on the
            // port too).
            return Rx::Exact;
        }
        if self.cfg.runner == RunnerName::ActiveBackup && self.active != Some(id) {
            return Rx::Exact;
        }
        Rx::Pass
    }

    /// `state item set runner.active_port`: teamd makes it active
    /// whatever its link (`ab_state_active_port_set`).
    pub fn set_active_port(&mut self, now: Instant, name: &str) -> bool {
        let Some(k) = self.ports.iter().position(|p| p.name == name) else {
            return false;
        };
        let id = self.ports[k].id;
        if self.active != Some(id) {
            self.active = Some(id);
            let ifid = self.ports[k].ifid;
            self.event(LagEvent::Active { slave: Some(ifid) });
            for j in 0..self.ports.len() {
                self.set_enabled(now, j, j == k);
            }
        }
        true
    }

    /// `state item set ports.PORT.runner.aggregator.selected true`.
    pub fn select_aggregator_of(&mut self, now: Instant, name: &str) -> bool {
        let Some(k) = self.ports.iter().position(|p| p.name == name) else {
            return false;
        };
        if let Some(l) = self.lacp.as_mut() {
            l.select_aggregator_of(k);
        }
        self.after_lacp(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Offload};

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    fn team(cfg: &str, ports: &[(&str, u32)]) -> Team {
        let mut t = Team::new(TeamConfig::parse(cfg).unwrap(), Mac::local(0x900));
        for (i, (name, speed)) in ports.iter().enumerate() {
            t.add_port(
                ms(0),
                NewSlave {
                    ifid: IfId(i as u32 + 1),
                    name,
                    perm_mac: Mac::local(0x910 + i as u64),
                    carrier: true,
                    speed_mbps: *speed,
                    full_duplex: true,
                },
            );
        }
        t.set_up(ms(0), true);
        t
    }

    #[test]
    fn activebackup_takes_a_faster_port_over_a_higher_prio_as_teamd() {
        // teamd's test: prio higher *or* speed higher wins (not prio
        // first): p2 at 10G beats p1's prio 100.
        let t = team(
            r#"{"runner": {"name": "activebackup"}, "ports": {"p1": {"prio": 100}}}"#,
            &[("p1", 1000), ("p2", 10000)],
        );
        assert_eq!(t.port(t.active.unwrap()).unwrap().name, "p2");
        // Equal speeds: prio decides.
        let t = team(
            r#"{"runner": {"name": "activebackup"}, "ports": {"p2": {"prio": 100}}}"#,
            &[("p1", 1000), ("p2", 1000)],
        );
        assert_eq!(t.port(t.active.unwrap()).unwrap().name, "p2");
    }

    #[test]
    fn activebackup_failover_notifies_peers_and_rejoins_groups() {
        let mut t = team(
            r#"{"runner": {"name": "activebackup"}, "notify_peers": {"count": 2, "interval": 50}, "mcast_rejoin": {"count": 1}}"#,
            &[("p1", 1000), ("p2", 1000)],
        );
        assert_eq!(t.port(t.active.unwrap()).unwrap().name, "p1");
        // The host says who it is (an ARP from the team's address) and
        // joins a group (an IGMPv2 report).
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&t.mac.0);
        arp.extend_from_slice(&[198, 18, 0, 1]);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&[198, 18, 0, 2]);
        let f = build_frame(Mac::BROADCAST, t.mac, &[], ethertype::ARP, &arp);
        let mut out = Vec::new();
        t.xmit(
            ms(10),
            &mut Frame::parse(&f, None, Offload::NONE).unwrap(),
            &mut out,
        )
        .unwrap();
        let mut ip = vec![
            0x46, 0, 0, 32, 0, 0, 0, 0, 1, 2, 0, 0, 198, 18, 0, 1, 239, 1, 1, 1,
        ];
        ip.extend_from_slice(&[0x94, 4, 0, 0, 0x16, 0, 0, 0, 239, 1, 1, 1]);
        let f = build_frame(Mac([1, 0, 0x5e, 1, 1, 1]), t.mac, &[], ethertype::IPV4, &ip);
        out.clear();
        t.xmit(
            ms(10),
            &mut Frame::parse(&f, None, Offload::NONE).unwrap(),
            &mut out,
        )
        .unwrap();
        t.tx.clear();
        // p1 loses its carrier: p2 is enabled, and the stack's
        // announcements leave by it, count times interval apart.
        t.set_port_dev(ms(100), 0, false, 0, false);
        assert_eq!(t.port(t.active.unwrap()).unwrap().name, "p2");
        t.handle_timeout(ms(100));
        let garp = |tx: &[(u16, Vec<u8>)]| {
            tx.iter()
                .filter(|(p, f)| *p == 1 && f[12..14] == [8, 6] && f[28..32] == [198, 18, 0, 1])
                .count()
        };
        let igmp = |tx: &[(u16, Vec<u8>)]| tx.iter().filter(|(p, f)| *p == 1 && f[23] == 2).count();
        assert_eq!((garp(&t.tx), igmp(&t.tx)), (1, 1));
        t.tx.clear();
        t.handle_timeout(ms(149));
        assert_eq!(garp(&t.tx), 0, "interval 50 ms");
        t.handle_timeout(ms(150));
        assert_eq!((garp(&t.tx), igmp(&t.tx)), (1, 0));
        t.handle_timeout(ms(1000));
        assert_eq!(t.announce.sent, 2);
    }

    fn arp(op: u8, smac: Mac, sip: [u8; 4], tip: [u8; 4], tags: &[crate::wire::Tag]) -> Vec<u8> {
        host::arp(op.into(), smac, Mac::BROADCAST, sip, Mac::ZERO, tip, tags)
    }

    fn hear(t: &mut Team, now: Instant, port: u16, f: &[u8]) {
        let mut fr = Frame::parse(f, None, Offload::NONE).unwrap();
        t.rx(now, port, &mut fr);
    }

    #[test]
    fn arp_ping_validation_vlan_and_send_always() {
        const SRC: [u8; 4] = [198, 18, 0, 1];
        const DST: [u8; 4] = [198, 18, 0, 2];
        let peer = Mac::local(0x77);
        let cfg = r#"{"runner": {"name": "activebackup"},
            "link_watch": {"name": "arp_ping", "interval": 100, "missed_max": 1,
                "source_host": "198.18.0.1", "target_host": "198.18.0.2",
                "validate_active": true, "vlanid": 7},
            "ports": {"p1": {"prio": 10}, "p2": {"link_watch": {"name": "arp_ping", "interval": 100,
                "missed_max": 1, "source_host": "198.18.0.1", "target_host": "198.18.0.2", "send_always": true}}}}"#;
        let mut t = team(cfg, &[("p1", 1000), ("p2", 1000)]);
        let tag7 = [crate::wire::Tag::new(ethertype::VLAN, 7, 0)];
        // Nothing heard yet: no port enabled, so both probe (p1 on VLAN 7).
        t.handle_timeout(ms(0));
        let probes: Vec<(u16, bool)> =
            t.tx.iter()
                .map(|(p, f)| (*p, f[12..14] == [0x81, 0]))
                .collect();
        assert_eq!(probes, vec![(0, true), (1, false)]);
        t.tx.clear();
        // Untagged replies do not count on p1 (vlanid 7); tagged ones do.
        hear(&mut t, ms(50), 0, &arp(2, peer, DST, SRC, &[]));
        hear(&mut t, ms(50), 1, &arp(2, peer, DST, SRC, &[]));
        t.handle_timeout(ms(100));
        assert!(!t.ports[0].link_up && t.ports[1].link_up);
        hear(&mut t, ms(150), 0, &arp(2, peer, DST, SRC, &tag7));
        hear(
            &mut t,
            ms(150),
            1,
            &arp(1, peer, [198, 18, 0, 9], [198, 18, 0, 8], &[]),
        );
        t.handle_timeout(ms(200));
        assert!(t.ports[0].link_up, "a tagged reply");
        assert_eq!(t.port(t.active.unwrap()).unwrap().name, "p1");
        t.tx.clear();
        // p1 is active and validates: an unrelated request does not count,
        // a reply from the target to us does. p2 (no validation) takes any
        // ARP; it is inactive but send_always, so it probes still.
        hear(
            &mut t,
            ms(250),
            0,
            &arp(1, peer, [198, 18, 0, 9], [198, 18, 0, 8], &tag7),
        );
        hear(
            &mut t,
            ms(250),
            1,
            &arp(1, peer, [198, 18, 0, 9], [198, 18, 0, 8], &[]),
        );
        t.handle_timeout(ms(300));
        assert!(t.ports[1].link_up);
        assert_eq!(t.ports[0].watchers[0].missed, 1);
        assert_eq!(
            t.tx.iter().filter(|(p, _)| *p == 1).count(),
            1,
            "send_always"
        );
        hear(
            &mut t,
            ms(350),
            0,
            &arp(1, peer, [198, 18, 0, 9], [198, 18, 0, 8], &tag7),
        );
        t.handle_timeout(ms(400));
        assert!(!t.ports[0].link_up, "missed_max 1: two silent intervals");
        assert_eq!(t.port(t.active.unwrap()).unwrap().name, "p2");
    }

    #[test]
    fn the_basic_balancer_moves_the_busiest_hashes_apart() {
        let mut t = team(
            r#"{"runner": {"name": "loadbalance", "tx_hash": ["eth"], "tx_balancer": {"name": "basic", "balancing_interval": 10}}}"#,
            &[("p1", 1000), ("p2", 1000)],
        );
        // Four destinations whose hash bytes are all even: without the
        // balancer every one maps to the first enabled port.
        let src = Mac::local(0x900);
        let dsts: Vec<Mac> = (0..64u8)
            .map(|k| Mac([0x02, 0, 0, 0, 0x10, k]))
            .filter(|d| {
                let f = build_frame(*d, src, &[], 0x88b5, &[0; 46]);
                let fr = Frame::parse(&f, None, Offload::NONE).unwrap();
                hash::tx_hash(&fr, t.recipe).is_multiple_of(2)
            })
            .take(4)
            .collect();
        assert_eq!(dsts.len(), 4);
        let send = |t: &mut Team| {
            let mut per = [0u32; 2];
            for d in &dsts {
                let f = build_frame(*d, src, &[], 0x88b5, &[0; 46]);
                let mut fr = Frame::parse(&f, None, Offload::NONE).unwrap();
                let mut out = Vec::new();
                t.xmit(ms(0), &mut fr, &mut out).unwrap();
                per[usize::from(out[0])] += 1;
            }
            per
        };
        assert_eq!(send(&mut t), [4, 0]);
        // One second (balancing_interval 10): the rebalance spreads them.
        t.handle_timeout(ms(1000));
        assert_eq!(send(&mut t), [2, 2]);
    }
}
