//! 802.1D spanning tree as the kernel runs it (`br_stp.c`, `br_stp_timer.c`,
//! `br_stp_if.c`). BEHAVIOUR.md §1.7.
//!
//! Each kernel function has its namesake here, in the same order of steps,
//! so the two can be read side by side. Timers are deadlines (`Option
//! <Instant>`) that `handle_timeout` fires; BPDUs to send are queued in
//! [`StpBridge::tx`] and the graph puts them on the ports. With
//! `stp_state 0` the same enable/disable paths run and a port goes straight
//! to forwarding, as in the kernel.

use super::{Bridge, FdbEvent, PortState};
use crate::counters::DropReason;
use crate::fdb::PortNo;
use crate::time::Instant;
use crate::wire::bpdu::{self, Bpdu, BridgeId, ConfigBpdu};
use crate::wire::{Frame, Mac};
use std::time::Duration;

/// `BR_HOLD_TIME`: at most one config BPDU per port per second.
pub const HOLD_TIME: Duration = Duration::from_secs(1);
/// `MESSAGE_AGE_INCR` with HZ = 1000: (HZ / 256 + 1) jiffies.
pub const MESSAGE_AGE_INCR: Duration = Duration::from_millis(4);
/// `BR_PORT_BITS`: the port number's share of the port id.
pub const PORT_BITS: u32 = 10;

/// Bridge-wide spanning-tree state (`struct net_bridge`'s STP fields).
#[derive(Clone, Debug)]
pub struct StpBridge {
    /// The bridge device is up (`br_stp_enable_bridge` ran).
    pub enabled: bool,
    pub bridge_id: BridgeId,
    pub designated_root: BridgeId,
    pub root_path_cost: u32,
    /// 0 = none (this bridge is the root).
    pub root_port: PortNo,
    pub max_age: Duration,
    pub hello_time: Duration,
    pub forward_delay: Duration,
    pub topology_change: bool,
    pub topology_change_detected: bool,
    pub hello_timer: Option<Instant>,
    pub tcn_timer: Option<Instant>,
    pub topology_change_timer: Option<Instant>,
    /// BPDUs to send, by port.
    pub tx: Vec<(PortNo, Bpdu)>,
    pub tcn_count: u64,
    next: Option<Instant>,
}

impl StpBridge {
    pub fn new(mac: Mac, priority: u16, max_age: Duration, hello: Duration, fd: Duration) -> Self {
        let id = BridgeId::new(priority, mac);
        StpBridge {
            enabled: false,
            bridge_id: id,
            designated_root: id,
            root_path_cost: 0,
            root_port: 0,
            max_age,
            hello_time: hello,
            forward_delay: fd,
            topology_change: false,
            topology_change_detected: false,
            hello_timer: None,
            tcn_timer: None,
            topology_change_timer: None,
            tx: Vec::new(),
            tcn_count: 0,
            next: None,
        }
    }
}

/// Per-port spanning-tree state (`struct net_bridge_port`'s STP fields).
#[derive(Clone, Debug, Default)]
pub struct StpPort {
    pub port_id: u16,
    pub designated_root: BridgeId,
    pub designated_cost: u32,
    pub designated_bridge: BridgeId,
    pub designated_port: u16,
    /// When the designated information arrived, and its message age then.
    pub designated_at: Instant,
    pub designated_age: Duration,
    pub topology_change_ack: bool,
    pub config_pending: bool,
    pub message_age_timer: Option<Instant>,
    pub forward_delay_timer: Option<Instant>,
    pub hold_timer: Option<Instant>,
    /// The cost was set by the user (`BR_ADMIN_COST`).
    pub admin_cost: bool,
    pub rx_bpdu: u64,
    pub tx_bpdu: u64,
    pub rx_tcn: u64,
    pub tx_tcn: u64,
}

/// `br_make_port_id`.
pub fn make_port_id(priority: u8, port_no: PortNo) -> u16 {
    (u16::from(priority) << PORT_BITS) | (port_no & ((1 << PORT_BITS) - 1))
}

/// `round_jiffies` with HZ = 1000: to the whole second, down when within a
/// quarter second past one, else up.
pub fn round_secs(t: Instant) -> Instant {
    let ms = t.as_nanos() / 1_000_000;
    let rem = ms % 1000;
    let r = if rem < 250 { ms - rem } else { ms - rem + 1000 };
    Instant::from_nanos(r * 1_000_000)
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Bridge {
    /// Kernel STP is running (`stp_state 1`; 2 is mstpd's, user STP).
    pub fn kernel_stp(&self) -> bool {
        self.cfg.stp_state == 1
    }

    fn port_nos(&self) -> impl Iterator<Item = PortNo> + '_ {
        self.ports().map(|p| p.port_no)
    }

    fn sp(&self, no: PortNo) -> &super::Port {
        self.port(no).expect("a live port number")
    }

    fn sp_mut(&mut self, no: PortNo) -> &mut super::Port {
        self.port_mut(no).expect("a live port number")
    }

    /// The earliest spanning-tree deadline (cached; recomputed by every
    /// entry point that changes a timer).
    pub fn stp_poll_timeout(&self) -> Option<Instant> {
        if !self.stp.tx.is_empty() {
            return Some(Instant::ZERO);
        }
        self.stp.next
    }

    fn refresh_next(&mut self) {
        let s = &self.stp;
        let mut n = min_opt(min_opt(s.hello_timer, s.tcn_timer), s.topology_change_timer);
        for p in self.ports() {
            n = min_opt(
                n,
                min_opt(
                    min_opt(p.stp.message_age_timer, p.stp.forward_delay_timer),
                    p.stp.hold_timer,
                ),
            );
        }
        self.stp.next = n;
    }

    pub fn is_root_bridge(&self) -> bool {
        self.stp.designated_root == self.stp.bridge_id
    }

    pub fn is_designated_port(&self, no: PortNo) -> bool {
        let p = &self.sp(no).stp;
        p.designated_bridge == self.stp.bridge_id && p.designated_port == p.port_id
    }

    fn should_become_root_port(&self, no: PortNo, root_port: PortNo) -> bool {
        let p = self.sp(no);
        if p.state == PortState::Disabled || self.is_designated_port(no) {
            return false;
        }
        if self.stp.bridge_id <= p.stp.designated_root {
            return false;
        }
        if root_port == 0 {
            return true;
        }
        let rp = self.sp(root_port);
        let (a, b) = (&p.stp, &rp.stp);
        (
            a.designated_root,
            a.designated_cost + p.cost,
            a.designated_bridge,
            a.designated_port,
            a.port_id,
        ) < (
            b.designated_root,
            b.designated_cost + rp.cost,
            b.designated_bridge,
            b.designated_port,
            b.port_id,
        )
    }

    fn root_port_block(&mut self, now: Instant, no: PortNo) {
        self.set_port_state(no, PortState::Listening);
        if !self.stp.forward_delay.is_zero() {
            self.sp_mut(no).stp.forward_delay_timer = Some(now + self.stp.forward_delay);
        }
    }

    fn root_selection(&mut self, now: Instant) {
        let mut root_port = 0;
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            if !self.should_become_root_port(no, root_port) {
                continue;
            }
            if self.sp(no).root_block {
                self.root_port_block(now, no);
            } else {
                root_port = no;
            }
        }
        let old = (self.stp.designated_root, self.stp.root_port);
        self.stp.root_port = root_port;
        if root_port == 0 {
            self.stp.designated_root = self.stp.bridge_id;
            self.stp.root_path_cost = 0;
        } else {
            let p = self.sp(root_port);
            let (root, cost) = (p.stp.designated_root, p.stp.designated_cost + p.cost);
            self.stp.designated_root = root;
            self.stp.root_path_cost = cost;
        }
        if self.record && old != (self.stp.designated_root, self.stp.root_port) {
            self.events.push(FdbEvent::Root {
                root: self.stp.designated_root,
                port: root_port,
            });
        }
    }

    fn become_root_bridge(&mut self, now: Instant) {
        self.stp.max_age = self.cfg.max_age;
        self.stp.hello_time = self.cfg.hello_time;
        self.stp.forward_delay = self.cfg.forward_delay;
        self.topology_change_detection(now);
        self.stp.tcn_timer = None;
        if self.stp.enabled {
            self.config_bpdu_generation(now);
            self.stp.hello_timer = Some(now + self.stp.hello_time);
        }
    }

    fn transmit_config(&mut self, now: Instant, no: PortNo) {
        if self.sp(no).stp.hold_timer.is_some() {
            self.sp_mut(no).stp.config_pending = true;
            return;
        }
        let message_age = if self.is_root_bridge() {
            Duration::ZERO
        } else {
            let root = &self.sp(self.stp.root_port).stp;
            (now - root.designated_at) + root.designated_age + MESSAGE_AGE_INCR
        };
        let p = &self.sp(no).stp;
        let c = ConfigBpdu {
            topology_change: self.stp.topology_change,
            topology_change_ack: p.topology_change_ack,
            root: self.stp.designated_root,
            root_path_cost: self.stp.root_path_cost,
            bridge_id: self.stp.bridge_id,
            port_id: p.port_id,
            message_age,
            max_age: self.stp.max_age,
            hello_time: self.stp.hello_time,
            forward_delay: self.stp.forward_delay,
        };
        if message_age < self.stp.max_age {
            // `br_send_config_bpdu` sends only under kernel STP, and only
            // then is the hold timer armed.
            let kernel = self.kernel_stp();
            if kernel {
                self.stp.tx.push((no, Bpdu::Config(c)));
            }
            let p = &mut self.sp_mut(no).stp;
            p.topology_change_ack = false;
            p.config_pending = false;
            if kernel {
                p.tx_bpdu += 1;
                p.hold_timer = Some(round_secs(now + HOLD_TIME));
            }
        }
    }

    fn record_config_information(&mut self, now: Instant, no: PortNo, b: &ConfigBpdu) {
        let p = &mut self.sp_mut(no).stp;
        p.designated_root = b.root;
        p.designated_cost = b.root_path_cost;
        p.designated_bridge = b.bridge_id;
        p.designated_port = b.port_id;
        p.designated_at = now;
        p.designated_age = b.message_age;
        p.message_age_timer = Some(now + b.max_age.saturating_sub(b.message_age));
    }

    fn record_config_timeout_values(&mut self, now: Instant, b: &ConfigBpdu) {
        self.stp.max_age = b.max_age;
        self.stp.hello_time = b.hello_time;
        self.stp.forward_delay = b.forward_delay;
        self.set_topology_change(now, b.topology_change);
    }

    fn transmit_tcn(&mut self) {
        let rp = self.stp.root_port;
        if self.kernel_stp() && rp != 0 && self.port(rp).is_some() {
            self.stp.tx.push((rp, Bpdu::Tcn));
            self.sp_mut(rp).stp.tx_tcn += 1;
        }
    }

    fn should_become_designated_port(&self, no: PortNo) -> bool {
        if self.is_designated_port(no) {
            return true;
        }
        let p = &self.sp(no).stp;
        if p.designated_root != self.stp.designated_root {
            return true;
        }
        (self.stp.root_path_cost, self.stp.bridge_id, p.port_id)
            < (p.designated_cost, p.designated_bridge, p.designated_port)
    }

    fn designated_port_selection(&mut self) {
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            if self.sp(no).state != PortState::Disabled && self.should_become_designated_port(no) {
                self.become_designated_port(no);
            }
        }
    }

    fn supersedes_port_info(&self, no: PortNo, b: &ConfigBpdu) -> bool {
        let p = &self.sp(no).stp;
        match (b.root, b.root_path_cost, b.bridge_id).cmp(&(
            p.designated_root,
            p.designated_cost,
            p.designated_bridge,
        )) {
            std::cmp::Ordering::Less => return true,
            std::cmp::Ordering::Greater => return false,
            std::cmp::Ordering::Equal => {}
        }
        if b.bridge_id != self.stp.bridge_id {
            return true;
        }
        b.port_id <= p.designated_port
    }

    fn topology_change_acknowledged(&mut self) {
        self.stp.topology_change_detected = false;
        self.stp.tcn_timer = None;
    }

    /// `br_topology_change_detection`.
    fn topology_change_detection(&mut self, now: Instant) {
        if !self.kernel_stp() {
            return;
        }
        if self.is_root_bridge() {
            self.set_topology_change(now, true);
            self.stp.topology_change_timer = Some(now + self.cfg.forward_delay + self.cfg.max_age);
        } else if !self.stp.topology_change_detected {
            self.transmit_tcn();
            self.stp.tcn_timer = Some(now + self.cfg.hello_time);
        }
        if !self.stp.topology_change_detected && self.record {
            self.events.push(FdbEvent::TopologyChange);
        }
        self.stp.topology_change_detected = true;
    }

    /// `__br_set_topology_change`: while a topology change is on, entries
    /// age after forward_delay ([`Bridge::hold_time`]).
    fn set_topology_change(&mut self, now: Instant, val: bool) {
        if val && !self.stp.topology_change {
            self.fdb.schedule_gc(now);
        }
        self.stp.topology_change = val;
    }

    fn config_bpdu_generation(&mut self, now: Instant) {
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            if self.sp(no).state != PortState::Disabled && self.is_designated_port(no) {
                self.transmit_config(now, no);
            }
        }
    }

    fn configuration_update(&mut self, now: Instant) {
        self.root_selection(now);
        self.designated_port_selection();
    }

    fn become_designated_port(&mut self, no: PortNo) {
        let (root, cost, id) = (
            self.stp.designated_root,
            self.stp.root_path_cost,
            self.stp.bridge_id,
        );
        let p = &mut self.sp_mut(no).stp;
        p.designated_root = root;
        p.designated_cost = cost;
        p.designated_bridge = id;
        p.designated_port = p.port_id;
    }

    fn make_blocking(&mut self, now: Instant, no: PortNo) {
        let st = self.sp(no).state;
        if st != PortState::Disabled && st != PortState::Blocking {
            if st == PortState::Forwarding || st == PortState::Learning {
                self.topology_change_detection(now);
            }
            self.set_port_state(no, PortState::Blocking);
            self.sp_mut(no).stp.forward_delay_timer = None;
        }
    }

    fn make_forwarding(&mut self, now: Instant, no: PortNo) {
        if self.sp(no).state != PortState::Blocking {
            return;
        }
        if !self.kernel_stp() || self.stp.forward_delay.is_zero() {
            self.set_port_state(no, PortState::Forwarding);
            self.topology_change_detection(now);
            self.sp_mut(no).stp.forward_delay_timer = None;
        } else {
            self.set_port_state(no, PortState::Listening);
        }
        if !self.stp.forward_delay.is_zero() && self.kernel_stp() {
            let fd = self.stp.forward_delay;
            self.sp_mut(no).stp.forward_delay_timer = Some(now + fd);
        }
    }

    /// `br_port_state_selection`. Under user STP the kernel leaves the
    /// port states to mstpd.
    fn port_state_selection(&mut self, now: Instant) {
        if self.cfg.stp_state == 2 {
            self.mc_port_state_selection(now);
            return;
        }
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            if self.sp(no).state == PortState::Disabled {
                continue;
            }
            if no == self.stp.root_port {
                let p = &mut self.sp_mut(no).stp;
                p.config_pending = false;
                p.topology_change_ack = false;
                self.make_forwarding(now, no);
            } else if self.is_designated_port(no) {
                self.sp_mut(no).stp.message_age_timer = None;
                self.make_forwarding(now, no);
            } else {
                let p = &mut self.sp_mut(no).stp;
                p.config_pending = false;
                p.topology_change_ack = false;
                self.make_blocking(now, no);
            }
        }
        self.mc_port_state_selection(now);
    }

    /// The end of `br_port_state_selection`: a port that is not disabled
    /// or blocking (re)starts its multicast queries.
    pub(super) fn mc_port_state_selection(&mut self, now: Instant) {
        let nos: Vec<PortNo> = self
            .ports()
            .filter(|p| !matches!(p.state, PortState::Disabled | PortState::Blocking))
            .map(|p| p.port_no)
            .collect();
        for no in nos {
            self.mc_enable_port(now, no);
        }
    }

    fn topology_change_acknowledge(&mut self, now: Instant, no: PortNo) {
        self.sp_mut(no).stp.topology_change_ack = true;
        self.transmit_config(now, no);
    }

    /// `br_received_config_bpdu`.
    fn received_config_bpdu(&mut self, now: Instant, no: PortNo, b: &ConfigBpdu) {
        self.sp_mut(no).stp.rx_bpdu += 1;
        let was_root = self.is_root_bridge();
        if self.supersedes_port_info(no, b) {
            self.record_config_information(now, no, b);
            self.configuration_update(now);
            self.port_state_selection(now);
            if !self.is_root_bridge() && was_root {
                self.stp.hello_timer = None;
                if self.stp.topology_change_detected {
                    self.stp.topology_change_timer = None;
                    self.transmit_tcn();
                    self.stp.tcn_timer = Some(now + self.cfg.hello_time);
                }
            }
            if no == self.stp.root_port {
                self.record_config_timeout_values(now, b);
                self.config_bpdu_generation(now);
                if b.topology_change_ack {
                    self.topology_change_acknowledged();
                }
            }
        } else if self.is_designated_port(no) {
            self.transmit_config(now, no);
        }
    }

    /// `br_received_tcn_bpdu`.
    fn received_tcn_bpdu(&mut self, now: Instant, no: PortNo) {
        self.sp_mut(no).stp.rx_tcn += 1;
        if self.is_designated_port(no) {
            self.topology_change_detection(now);
            self.topology_change_acknowledge(now, no);
        }
    }

    /// `br_stp_rcv`: a frame to the group address on port `no`, with kernel
    /// STP on. Returns a drop reason when the frame was not a usable BPDU.
    pub fn stp_receive(
        &mut self,
        now: Instant,
        no: PortNo,
        frame: &Frame<'_>,
    ) -> Result<(), DropReason> {
        if !self.stp.enabled || self.sp(no).state == PortState::Disabled {
            return Err(DropReason::PortState);
        }
        let payload = bpdu::payload(frame).map_err(|_| DropReason::BadBpdu)?;
        if self.sp(no).guard {
            // BPDU guard: a BPDU on this port disables it.
            self.stp_disable_port(now, no);
            self.refresh_next();
            return Ok(());
        }
        match Bpdu::parse(payload) {
            Ok(Bpdu::Config(c)) => {
                if c.message_age > c.max_age {
                    return Err(DropReason::BadBpdu);
                }
                self.received_config_bpdu(now, no, &c);
            }
            Ok(Bpdu::Tcn) => self.received_tcn_bpdu(now, no),
            // RST/MST BPDUs are not for kernel STP (`br_stp_rcv` wants
            // version 0), nor is anything unparsable.
            Ok(Bpdu::Rst(_)) | Err(_) => return Err(DropReason::BadBpdu),
        }
        self.refresh_next();
        Ok(())
    }

    /// Fires every spanning-tree timer that is due (`br_stp_timer.c`).
    pub fn stp_handle_timeout(&mut self, now: Instant) {
        loop {
            let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
            if due(self.stp.hello_timer) {
                self.stp.hello_timer = None;
                if self.stp.enabled {
                    self.config_bpdu_generation(now);
                    if self.kernel_stp() {
                        self.stp.hello_timer = Some(round_secs(now + self.stp.hello_time));
                    }
                }
                continue;
            }
            if due(self.stp.tcn_timer) {
                self.stp.tcn_timer = None;
                if !self.is_root_bridge() && self.stp.enabled {
                    self.transmit_tcn();
                    self.stp.tcn_timer = Some(now + self.cfg.hello_time);
                }
                continue;
            }
            if due(self.stp.topology_change_timer) {
                self.stp.topology_change_timer = None;
                self.stp.topology_change_detected = false;
                self.set_topology_change(now, false);
                continue;
            }
            let mut fired = false;
            let nos: Vec<PortNo> = self.port_nos().collect();
            for no in nos {
                let p = &self.sp(no).stp;
                if due(p.message_age_timer) {
                    self.sp_mut(no).stp.message_age_timer = None;
                    self.message_age_expired(now, no);
                    fired = true;
                } else if due(p.forward_delay_timer) {
                    self.sp_mut(no).stp.forward_delay_timer = None;
                    self.forward_delay_expired(now, no);
                    fired = true;
                } else if due(p.hold_timer) {
                    self.sp_mut(no).stp.hold_timer = None;
                    if self.sp(no).stp.config_pending {
                        self.transmit_config(now, no);
                    }
                    fired = true;
                }
            }
            if !fired {
                break;
            }
        }
        self.refresh_next();
    }

    fn message_age_expired(&mut self, now: Instant, no: PortNo) {
        if self.sp(no).state == PortState::Disabled {
            return;
        }
        let was_root = self.is_root_bridge();
        self.become_designated_port(no);
        self.configuration_update(now);
        self.port_state_selection(now);
        if self.is_root_bridge() && !was_root {
            self.become_root_bridge(now);
        }
    }

    fn forward_delay_expired(&mut self, now: Instant, no: PortNo) {
        match self.sp(no).state {
            PortState::Listening => {
                self.set_port_state(no, PortState::Learning);
                let fd = self.stp.forward_delay;
                self.sp_mut(no).stp.forward_delay_timer = Some(now + fd);
            }
            PortState::Learning => {
                self.set_port_state(no, PortState::Forwarding);
                let id = self.stp.bridge_id;
                let designated_for_some = self
                    .ports()
                    .any(|p| p.state != PortState::Disabled && p.stp.designated_bridge == id);
                if designated_for_some {
                    self.topology_change_detection(now);
                }
            }
            _ => {}
        }
    }

    /// `br_init_port`.
    fn init_port(&mut self, no: PortNo) {
        let p = self.sp_mut(no);
        p.stp.port_id = make_port_id(p.priority, no);
        self.become_designated_port(no);
        self.set_port_state(no, PortState::Blocking);
        let p = &mut self.sp_mut(no).stp;
        p.topology_change_ack = false;
        p.config_pending = false;
    }

    /// `br_stp_enable_bridge`: the bridge device came up; `up` are the
    /// ports whose devices are up.
    pub fn stp_enable_bridge(&mut self, now: Instant, up: &[PortNo]) {
        self.stp.enabled = true;
        if self.user_stp() {
            if let Some(r) = self.rstp.as_mut() {
                r.set_bridge_enable(now, true);
            }
        }
        if self.kernel_stp() {
            self.stp.hello_timer = Some(now + self.stp.hello_time);
        }
        self.config_bpdu_generation(now);
        for no in up {
            if self.port(*no).is_some() {
                self.stp_enable_port(now, *no);
            }
        }
        self.refresh_next();
    }

    /// `br_stp_disable_bridge`.
    pub fn stp_disable_bridge(&mut self, now: Instant) {
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            if self.sp(no).state != PortState::Disabled {
                self.stp_disable_port(now, no);
            }
        }
        self.set_topology_change(now, false);
        self.stp.topology_change_detected = false;
        self.stp.enabled = false;
        self.stp.hello_timer = None;
        self.stp.topology_change_timer = None;
        self.stp.tcn_timer = None;
        if self.user_stp() {
            self.rstp_stop(now);
        }
        self.refresh_next();
    }

    /// `br_stp_enable_port`; mstpd hears of it too.
    pub fn stp_enable_port(&mut self, now: Instant, no: PortNo) {
        self.init_port(no);
        self.port_state_selection(now);
        self.rstp_port_enable(now, no, true);
        self.refresh_next();
    }

    /// `br_stp_disable_port`: also flushes what the port learned.
    pub fn stp_disable_port(&mut self, now: Instant, no: PortNo) {
        let was_root = self.is_root_bridge();
        self.become_designated_port(no);
        self.set_port_state(no, PortState::Disabled);
        self.mc_disable_port(no);
        let p = &mut self.sp_mut(no).stp;
        p.topology_change_ack = false;
        p.config_pending = false;
        p.message_age_timer = None;
        p.forward_delay_timer = None;
        p.hold_timer = None;
        self.fdb.flush_port(no, true);
        self.configuration_update(now);
        self.port_state_selection(now);
        if self.is_root_bridge() && !was_root {
            self.become_root_bridge(now);
        }
        self.rstp_port_enable(now, no, false);
        self.refresh_next();
    }

    /// `br_stp_set_enabled`: 0 stops STP; anything else starts it, as user
    /// STP (2) when mstpd has the bridge (`mstpctl addbridge`), else the
    /// kernel's (1).
    pub fn set_stp_state(&mut self, now: Instant, val: u32) {
        let want = match val {
            0 => 0,
            _ if self.rstp.is_some() => 2,
            _ => 1,
        };
        let was = self.cfg.stp_state;
        if want == was {
            return;
        }
        if was == 2 {
            self.rstp_stop(now);
        }
        if was == 1 {
            // `br_stp_stop`: the kernel's timers stop.
            self.stp.hello_timer = None;
            self.stp.tcn_timer = None;
            self.stp.topology_change_timer = None;
            self.set_topology_change(now, false);
        }
        self.cfg.stp_state = want;
        match want {
            1 => {
                if self.stp.enabled {
                    self.stp.hello_timer = Some(now + self.stp.hello_time);
                }
                self.port_state_selection(now);
            }
            2 => {
                for no in self.port_nos().collect::<Vec<_>>() {
                    let p = &mut self.sp_mut(no).stp;
                    p.message_age_timer = None;
                    p.forward_delay_timer = None;
                    p.hold_timer = None;
                }
                self.rstp_start(now);
            }
            // Leaving user STP: "to start timers on any ports left in
            // blocking" (`br_stp_stop`).
            _ if was == 2 => self.port_state_selection(now),
            _ => {}
        }
        self.refresh_next();
    }

    /// `br_stp_change_bridge_id`.
    pub fn change_bridge_id(&mut self, now: Instant, mac: Mac) {
        let was_root = self.is_root_bridge();
        let old = self.stp.bridge_id.mac();
        self.stp.bridge_id = BridgeId::new(self.stp.bridge_id.priority(), mac);
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            let p = &mut self.sp_mut(no).stp;
            if p.designated_bridge.mac() == old {
                p.designated_bridge = BridgeId::new(p.designated_bridge.priority(), mac);
            }
            if p.designated_root.mac() == old {
                p.designated_root = BridgeId::new(p.designated_root.priority(), mac);
            }
        }
        if let Some(r) = self.rstp.as_mut() {
            r.mac = mac;
            r.identity_changed();
        }
        self.rstp_apply(now);
        self.configuration_update(now);
        self.port_state_selection(now);
        if self.is_root_bridge() && !was_root {
            self.become_root_bridge(now);
        }
        self.refresh_next();
    }

    /// `br_stp_set_bridge_priority`.
    pub fn set_bridge_priority(&mut self, now: Instant, prio: u16) {
        let was_root = self.is_root_bridge();
        let nos: Vec<PortNo> = self.port_nos().collect();
        for no in nos {
            if self.sp(no).state != PortState::Disabled && self.is_designated_port(no) {
                let p = &mut self.sp_mut(no).stp;
                p.designated_bridge = p.designated_bridge.with_priority(prio);
            }
        }
        self.stp.bridge_id = self.stp.bridge_id.with_priority(prio);
        self.cfg.priority = prio;
        self.configuration_update(now);
        self.port_state_selection(now);
        if self.is_root_bridge() && !was_root {
            self.become_root_bridge(now);
        }
        self.refresh_next();
    }

    /// `br_stp_set_port_priority`.
    pub fn set_port_priority(&mut self, now: Instant, no: PortNo, prio: u8) {
        let new_id = make_port_id(prio, no);
        if self.is_designated_port(no) {
            self.sp_mut(no).stp.designated_port = new_id;
        }
        let p = self.sp_mut(no);
        p.stp.port_id = new_id;
        p.priority = prio;
        let id = self.stp.bridge_id;
        let p = &self.sp(no).stp;
        if p.designated_bridge == id && p.port_id < p.designated_port {
            self.become_designated_port(no);
            self.port_state_selection(now);
        }
        self.refresh_next();
    }

    /// `br_stp_set_path_cost`.
    pub fn set_path_cost(&mut self, now: Instant, no: PortNo, cost: u32) {
        let p = self.sp_mut(no);
        p.cost = cost;
        p.stp.admin_cost = true;
        self.configuration_update(now);
        self.port_state_selection(now);
        self.refresh_next();
    }

    /// The bridge's own timers as the user set them (`br_set_*`): applied
    /// to the running values while this bridge is the root.
    pub fn set_timers(&mut self, max_age: Duration, hello: Duration, fd: Duration) {
        self.cfg.max_age = max_age;
        self.cfg.hello_time = hello;
        self.cfg.forward_delay = fd;
        if self.is_root_bridge() {
            self.stp.max_age = max_age;
            self.stp.hello_time = hello;
            self.stp.forward_delay = fd;
        }
    }
}
