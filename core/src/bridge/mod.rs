//! The Linux bridge (`net/bridge/`): learning, flooding, link-local rules,
//! port flags and VLAN filtering. BEHAVIOUR.md §1.
//!
//! The bridge decides; the [`crate::graph`] moves frames. [`Bridge::input`]
//! is `br_handle_frame` + `br_handle_frame_finish` for a frame a port
//! received, [`Bridge::xmit`] is `br_dev_xmit` for a frame the bridge device
//! itself sends. Both fill a list of [`Egress`] ports and say whether the
//! bridge device (the host) gets a copy.

pub mod mcast;
pub mod rstp;
pub mod stp;
pub mod vlan;

use crate::counters::DropReason;
use crate::fdb::{Fdb, Learned, PortNo};
use crate::graph::IfId;
use crate::time::Instant;
use crate::wire::bpdu::{BridgeId, STP_GROUP};
use crate::wire::{Frame, Mac, Tag, VlanProtocol};
pub use rstp::{Rstp, RstpPort};
use std::time::Duration;
pub use stp::{StpBridge, StpPort};
pub use vlan::VlanSet;

/// The kernel's port limit (`BR_MAX_PORTS`).
pub const MAX_PORTS: usize = 1024;

/// Bits of `group_fwd_mask` that cannot be set: STP, PAUSE, LACP.
pub const GROUP_FWD_RESTRICTED: u16 = 0x0007;
/// What an 802.1ad bridge must forward (`BR_GROUPFWD_8021AD`).
pub const GROUP_FWD_8021AD: u16 = 0xb801;

/// 802.1D port states, numbered as `bridge link set ... state N` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    Disabled = 0,
    Listening = 1,
    Learning = 2,
    Forwarding = 3,
    Blocking = 4,
}

impl PortState {
    pub fn from_number(n: u8) -> Option<Self> {
        Some(match n {
            0 => PortState::Disabled,
            1 => PortState::Listening,
            2 => PortState::Learning,
            3 => PortState::Forwarding,
            4 => PortState::Blocking,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            PortState::Disabled => "disabled",
            PortState::Listening => "listening",
            PortState::Learning => "learning",
            PortState::Forwarding => "forwarding",
            PortState::Blocking => "blocking",
        }
    }
}

/// Per-port flags (`bridge link set`), kernel defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortFlags {
    pub learning: bool,
    pub flood: bool,
    pub mcast_flood: bool,
    pub bcast_flood: bool,
    pub hairpin: bool,
    pub isolated: bool,
}

impl Default for PortFlags {
    fn default() -> Self {
        PortFlags {
            learning: true,
            flood: true,
            mcast_flood: true,
            bcast_flood: true,
            hairpin: false,
            isolated: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Port {
    pub ifid: IfId,
    pub port_no: PortNo,
    pub flags: PortFlags,
    pub state: PortState,
    pub priority: u8,
    pub cost: u32,
    pub group_fwd_mask: u16,
    pub vlans: VlanSet,
    /// BPDU guard: a BPDU received here disables the port.
    pub guard: bool,
    /// Root guard: the port may not become the root port.
    pub root_block: bool,
    /// The port device's speed (Mbit/s, 0 unknown) and duplex: mstpd's
    /// auto path cost and auto point-to-point.
    pub speed_mbps: u32,
    pub full_duplex: bool,
    pub stp: StpPort,
    /// Multicast snooping: router state, fast leave, own queries.
    pub mc: mcast::PortMcast,
}

/// Bridge options with the kernel's defaults (BEHAVIOUR.md §1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    pub ageing_time: Duration,
    pub vlan_filtering: bool,
    pub vlan_protocol: VlanProtocol,
    pub default_pvid: u16,
    pub group_fwd_mask: u16,
    pub fdb_max_learned: u32,
    pub stp_state: u32,
    pub priority: u16,
    pub forward_delay: Duration,
    pub hello_time: Duration,
    pub max_age: Duration,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            ageing_time: Duration::from_secs(300),
            vlan_filtering: false,
            vlan_protocol: VlanProtocol::Dot1Q,
            default_pvid: 1,
            group_fwd_mask: 0,
            fdb_max_learned: 0,
            stp_state: 0,
            priority: 0x8000,
            forward_delay: Duration::from_secs(15),
            hello_time: Duration::from_secs(2),
            max_age: Duration::from_secs(20),
        }
    }
}

/// What a bridge did that the simulator's timeline shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdbEvent {
    Learned {
        mac: Mac,
        vid: u16,
        port: PortNo,
    },
    Moved {
        mac: Mac,
        vid: u16,
        from: PortNo,
        to: PortNo,
    },
    Expired {
        count: usize,
    },
    /// One entry aged out (recorded alongside `Expired`).
    Aged {
        mac: Mac,
        vid: u16,
        port: PortNo,
    },
    PortState {
        port: PortNo,
        state: PortState,
    },
    /// An RSTP port's role changed (mstpd's `Root`, `Designated`, ...).
    PortRole {
        port: PortNo,
        role: rstp::Role,
    },
    /// The root bridge or the root port changed (port 0: this is the root).
    Root {
        root: BridgeId,
        port: PortNo,
    },
    /// A topology change was detected.
    TopologyChange,
    /// The MDB changed (RTM_NEWMDB/RTM_DELMDB).
    Mdb(mcast::MdbNote),
    /// A port joined or left the multicast router lists.
    MdbRouter {
        port: PortNo,
        added: bool,
    },
}

/// A new port's priority (`BR_PORT_PRIORITY`... as `br_make_port` sets it).
pub const DEFAULT_PORT_PRIORITY: u8 = 32;

/// The kernel's default path cost for a port speed in Mbit/s (0 = unknown).
pub fn path_cost(speed_mbps: u32) -> u32 {
    match speed_mbps {
        0 => 100,
        s if s > 10_000 => 1,
        10_000.. => 2,
        5_000.. => 3,
        2_500.. => 4,
        1_000.. => 5,
        100.. => 19,
        _ => 100,
    }
}

/// One place a frame leaves the bridge: a port, and a tag to push on the way
/// out (VLAN filtering, a tagged member).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Egress {
    pub ifid: IfId,
    pub push: Option<Tag>,
}

/// Whether the bridge device gets a copy, and with which tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    No,
    Yes(Option<Tag>),
    /// The bridge itself took the frame (a BPDU for spanning tree).
    Consumed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Unicast,
    Multicast,
    Broadcast,
}

impl Class {
    fn of(dst: Mac) -> Class {
        if dst.is_broadcast() {
            Class::Broadcast
        } else if dst.is_multicast() {
            Class::Multicast
        } else {
            Class::Unicast
        }
    }
}

#[derive(Clone, Debug)]
pub struct Bridge {
    pub cfg: BridgeConfig,
    pub fdb: Fdb,
    pub stp: StpBridge,
    /// IGMP/MLD snooping and the MDB.
    pub mc: mcast::Mcast,
    /// mstpd, when it has taken the bridge (`mstpctl addbridge`).
    pub rstp: Option<Box<Rstp>>,
    /// mstpd's rapid ageing (the bridge-wide ageing_time it sets towards
    /// STP bridges).
    pub rapid_ageing: Option<Duration>,
    /// Indexed by port number; slot 0 is reserved.
    ports: Vec<Option<Port>>,
    /// The bridge device's own VLAN membership (`bridge vlan ... self`).
    pub self_vlans: VlanSet,
    /// Record [`FdbEvent`]s (the simulator's timeline); off in the daemon.
    pub record: bool,
    /// A port started or stopped forwarding since the graph last looked:
    /// the bridge's carrier may have changed (`br_port_state_selection`).
    pub carrier_check: bool,
    pub events: Vec<FdbEvent>,
    /// Ports that left since the events were last taken, so that what
    /// their leaving recorded can still name them.
    pub left: Vec<(PortNo, crate::graph::IfId)>,
    pub learned_new: u64,
    pub learned_roamed: u64,
    pub learn_full: u64,
    /// The user gave the bridge its address (`NET_ADDR_SET`): it does not
    /// follow its ports' ([`crate::graph::Graph::recalc_bridge_id`]).
    pub mac_set: bool,
}

impl Default for Bridge {
    fn default() -> Self {
        Self::new(BridgeConfig::default())
    }
}

impl Bridge {
    pub fn new(cfg: BridgeConfig) -> Self {
        Self::with_address(cfg, Mac::ZERO)
    }

    /// A bridge whose device has address `mac` (its bridge id's MAC).
    pub fn with_address(cfg: BridgeConfig, mac: Mac) -> Self {
        let mut fdb = Fdb::new();
        fdb.max_learned = cfg.fdb_max_learned;
        Bridge {
            stp: StpBridge::new(
                mac,
                cfg.priority,
                cfg.max_age,
                cfg.hello_time,
                cfg.forward_delay,
            ),
            rstp: None,
            mc: mcast::Mcast::default(),
            rapid_ageing: None,
            self_vlans: VlanSet::with_default(cfg.default_pvid),
            cfg,
            fdb,
            ports: vec![None],
            learned_new: 0,
            learned_roamed: 0,
            learn_full: 0,
            mac_set: false,
            record: false,
            carrier_check: false,
            events: Vec::new(),
            left: Vec::new(),
        }
    }

    /// The hold time of dynamic entries: forward_delay while a topology
    /// change is on, else ageing_time.
    /// Learns `src` on port `no` and says so: the counters `stats` shows,
    /// and an FDB event (RTM_NEWNEIGH) for a new or moved entry.
    fn learn(&mut self, now: Instant, src: Mac, vid: u16, no: PortNo) {
        let hold = self.hold_time();
        match self.fdb.learn(now, src, vid, no, hold) {
            Learned::New => {
                self.learned_new += 1;
                if self.record {
                    self.events.push(FdbEvent::Learned {
                        mac: src,
                        vid,
                        port: no,
                    });
                }
            }
            Learned::Roamed { from } => {
                self.learned_roamed += 1;
                if self.record {
                    self.events.push(FdbEvent::Moved {
                        mac: src,
                        vid,
                        from,
                        to: no,
                    });
                }
            }
            Learned::Full => self.learn_full += 1,
            Learned::Refreshed | Learned::Kept => {}
        }
    }

    /// `__br_handle_local_finish`: a link-local frame the bridge keeps
    /// (a BPDU, LLDP, LACP) teaches its source too, on a learning port in
    /// the learning or forwarding state, in the VLAN it is allowed in.
    fn learn_local(&mut self, now: Instant, no: PortNo, frame: &Frame<'_>) {
        let Some(port) = self.ports.get(usize::from(no)).and_then(Option::as_ref) else {
            return;
        };
        if !port.flags.learning
            || !matches!(port.state, PortState::Learning | PortState::Forwarding)
            || self.cfg.ageing_time.is_zero()
        {
            return;
        }
        let vid = if self.cfg.vlan_filtering {
            // (On a copy: the frame itself goes on to STP as it came.)
            match vlan_ingress(&port.vlans, self.cfg.vlan_protocol.tpid(), &mut { *frame }) {
                Ok(v) => v,
                Err(_) => return,
            }
        } else {
            0
        };
        self.learn(now, frame.src(), vid, no);
    }

    pub fn hold_time(&self) -> Duration {
        if self.stp.topology_change {
            self.stp.forward_delay
        } else if let Some(t) = self.rapid_ageing {
            t
        } else {
            self.cfg.ageing_time
        }
    }

    /// Adds a port on the lowest free number. Returns `None` when all 1023
    /// are taken.
    /// Whether [`Bridge::add_port`] would find a port number.
    pub fn has_free_port(&self) -> bool {
        self.ports.len() < MAX_PORTS || self.ports.iter().skip(1).any(Option::is_none)
    }

    pub fn add_port(&mut self, ifid: IfId) -> Option<PortNo> {
        let no = match self.ports.iter().skip(1).position(Option::is_none) {
            Some(i) => i + 1,
            None if self.ports.len() < MAX_PORTS => {
                self.ports.push(None);
                self.ports.len() - 1
            }
            None => return None,
        };
        // `new_nbp`: a new port starts disabled; the graph enables it
        // (`br_stp_enable_port`) when its device and the bridge are up.
        self.ports[no] = Some(Port {
            ifid,
            port_no: no as PortNo,
            flags: PortFlags::default(),
            state: PortState::Disabled,
            priority: DEFAULT_PORT_PRIORITY,
            cost: 100,
            group_fwd_mask: 0,
            vlans: VlanSet::with_default(self.cfg.default_pvid),
            guard: false,
            root_block: false,
            speed_mbps: 0,
            full_duplex: true,
            stp: StpPort {
                port_id: stp::make_port_id(32, no as PortNo),
                ..StpPort::default()
            },
            mc: mcast::PortMcast::default(),
        });
        if let Some(r) = self.rstp.as_mut() {
            r.add_port(no as PortNo);
        }
        Some(no as PortNo)
    }

    pub fn remove_port(&mut self, now: Instant, no: PortNo) -> Option<Port> {
        if self.port(no)?.state != PortState::Disabled {
            self.stp_disable_port(now, no);
        }
        let p = self.ports.get_mut(usize::from(no))?.take();
        if let (true, Some(p)) = (self.record, p.as_ref()) {
            self.left.push((no, p.ifid));
        }
        if let Some(r) = self.rstp.as_mut() {
            r.del_port(no);
        }
        self.rstp_apply(now);
        self.mc_del_port(no);
        self.fdb.keep_local_for_bridge(no, self.stp.bridge_id.mac());
        self.fdb.flush_port(no, false);
        p
    }

    pub fn port(&self, no: PortNo) -> Option<&Port> {
        self.ports.get(usize::from(no))?.as_ref()
    }

    pub fn port_mut(&mut self, no: PortNo) -> Option<&mut Port> {
        self.ports.get_mut(usize::from(no))?.as_mut()
    }

    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().flatten()
    }

    pub fn has_forwarding_port(&self) -> bool {
        self.ports().any(|p| p.state == PortState::Forwarding)
    }

    pub fn set_fdb_max_learned(&mut self, n: u32) {
        self.cfg.fdb_max_learned = n;
        self.fdb.max_learned = n;
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.fdb.poll_timeout(),
            self.stp_poll_timeout(),
            self.rstp_poll_timeout(),
            self.mc_poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) -> usize {
        self.stp_handle_timeout(now);
        self.rstp_handle_timeout(now);
        self.mc_handle_timeout(now);
        let hold = self.hold_time();
        if !self.record {
            return self.fdb.handle_timeout(now, hold);
        }
        let mut aged = Vec::new();
        let n = self.fdb.handle_timeout_into(now, hold, Some(&mut aged));
        for (mac, vid, port) in aged {
            if let Some(port) = port {
                self.events.push(FdbEvent::Aged { mac, vid, port });
            }
        }
        if n > 0 {
            self.events.push(FdbEvent::Expired { count: n });
        }
        n
    }

    /// Sets a port's state; returns whether it changed.
    pub fn set_port_state(&mut self, no: PortNo, state: PortState) -> bool {
        let Some(p) = self.port_mut(no) else {
            return false;
        };
        if p.state == state {
            return false;
        }
        let crossed = (p.state == PortState::Forwarding) != (state == PortState::Forwarding);
        p.state = state;
        self.carrier_check |= crossed;
        if self.record {
            self.events.push(FdbEvent::PortState { port: no, state });
        }
        true
    }

    /// A frame received on port `no` (`br_handle_frame`). `host_present`
    /// says whether anything can take a copy for the bridge device.
    pub fn input(
        &mut self,
        now: Instant,
        no: PortNo,
        frame: &mut Frame<'_>,
        egress: &mut Vec<Egress>,
    ) -> Result<Host, DropReason> {
        let Some(port) = self.ports.get(usize::from(no)).and_then(Option::as_ref) else {
            return Err(DropReason::PortState);
        };
        let src = frame.src();
        if !src.is_valid_source() {
            return Err(DropReason::InvalidSrcMac);
        }
        let dst = frame.dst();
        if let Some(group) = dst.link_local_group() {
            let required = match self.cfg.vlan_protocol {
                VlanProtocol::Dot1AD => GROUP_FWD_8021AD,
                VlanProtocol::Dot1Q => 0,
            };
            let mut mask = required | port.group_fwd_mask;
            match group {
                0 if self.cfg.stp_state == 0 || mask & 1 != 0 => {}
                0 => {
                    // STP on: `__br_handle_local_finish` learns the source,
                    // then the port's STP takes the BPDU (`br_stp_rcv`).
                    self.learn_local(now, no, frame);
                    if dst != STP_GROUP {
                        return Err(DropReason::LinkLocal);
                    }
                    if self.user_stp() {
                        self.rstp_receive(now, no, frame)?;
                    } else {
                        self.stp_receive(now, no, frame)?;
                    }
                    return Ok(Host::Consumed);
                }
                1 => return Err(DropReason::Pause),
                g => {
                    mask |= self.cfg.group_fwd_mask;
                    if mask & (1 << g) == 0 {
                        // Kept for the host: learned from first, as
                        // `__br_handle_local_finish` does.
                        self.learn_local(now, no, frame);
                        return Ok(Host::Yes(None));
                    }
                }
            }
        }
        match port.state {
            PortState::Forwarding | PortState::Learning => {}
            _ => return Err(DropReason::PortState),
        }
        let pcp = frame.outer_tag().map_or(0, Tag::pcp);
        let vid = if self.cfg.vlan_filtering {
            vlan_ingress(&port.vlans, self.cfg.vlan_protocol.tpid(), frame)?
        } else {
            0
        };
        let learning_state = port.state == PortState::Learning;
        let isolated = port.flags.isolated;
        if port.flags.learning && !self.cfg.ageing_time.is_zero() {
            self.learn(now, src, vid, no);
        }
        let class = Class::of(dst);
        let snooped = if class == Class::Multicast {
            self.mc_rcv(now, Some(no), frame, vid)?
        } else {
            mcast::Snooped::default()
        };
        if learning_state {
            return Err(DropReason::PortState);
        }
        if class == Class::Unicast {
            match self.fdb.lookup(dst, vid) {
                Some(e) if e.flags.local => return Ok(self.host_copy(vid, pcp)),
                Some(e) => {
                    let to = e.port.expect("non-local entries have a port");
                    if let Some(p) = self.port(to) {
                        if self.should_deliver(p, Some((no, isolated)), vid) {
                            egress.push(self.egress(p, vid, pcp));
                        }
                    }
                    return Ok(Host::No);
                }
                None => {}
            }
        }
        let from = Some((no, isolated));
        if class == Class::Multicast {
            if let Some(host) = self.mc_forward(now, &snooped, from, vid, pcp, egress) {
                return Ok(if host {
                    self.host_copy(vid, pcp)
                } else {
                    Host::No
                });
            }
        }
        self.flood(class, from, vid, pcp, false, egress);
        Ok(match class {
            Class::Unicast => Host::No,
            _ => self.host_copy(vid, pcp),
        })
    }

    /// A frame the bridge device sends (`br_dev_xmit`).
    pub fn xmit(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        egress: &mut Vec<Egress>,
    ) -> Result<(), DropReason> {
        let pcp = frame.outer_tag().map_or(0, Tag::pcp);
        let vid = if self.cfg.vlan_filtering {
            vlan_ingress(&self.self_vlans, self.cfg.vlan_protocol.tpid(), frame)?
        } else {
            0
        };
        let dst = frame.dst();
        let class = Class::of(dst);
        if class == Class::Unicast {
            if let Some(e) = self.fdb.lookup(dst, vid) {
                if let Some(p) = e.port.and_then(|to| self.port(to)) {
                    if !e.flags.local && self.should_deliver(p, None, vid) {
                        egress.push(self.egress(p, vid, pcp));
                    }
                }
                return Ok(());
            }
        }
        if class == Class::Multicast {
            let s = self.mc_rcv(now, None, frame, vid)?;
            if self.mc_forward(now, &s, None, vid, pcp, egress).is_some() {
                return Ok(());
            }
        }
        self.flood(class, None, vid, pcp, true, egress);
        Ok(())
    }

    fn host_copy(&self, vid: u16, pcp: u8) -> Host {
        if !self.cfg.vlan_filtering {
            return Host::Yes(None);
        }
        if !self.self_vlans.contains(vid) {
            return Host::No;
        }
        Host::Yes(self.tag_for(&self.self_vlans, vid, pcp))
    }

    fn tag_for(&self, set: &VlanSet, vid: u16, pcp: u8) -> Option<Tag> {
        (self.cfg.vlan_filtering && !set.is_untagged(vid))
            .then(|| Tag::new(self.cfg.vlan_protocol.tpid(), vid, pcp))
    }

    fn egress(&self, p: &Port, vid: u16, pcp: u8) -> Egress {
        Egress {
            ifid: p.ifid,
            push: self.tag_for(&p.vlans, vid, pcp),
        }
    }

    /// `should_deliver`: `from` is the ingress port and whether it is
    /// isolated, `None` for frames of the bridge device.
    #[inline]
    fn should_deliver(&self, p: &Port, from: Option<(PortNo, bool)>, vid: u16) -> bool {
        if let Some((no, isolated)) = from {
            if p.port_no == no && !p.flags.hairpin {
                return false;
            }
            if isolated && p.flags.isolated {
                return false;
            }
        }
        p.state == PortState::Forwarding && (!self.cfg.vlan_filtering || p.vlans.contains(vid))
    }

    fn flood(
        &self,
        class: Class,
        from: Option<(PortNo, bool)>,
        vid: u16,
        pcp: u8,
        local_orig: bool,
        egress: &mut Vec<Egress>,
    ) {
        for p in self.ports() {
            let allowed = match class {
                Class::Unicast => p.flags.flood,
                Class::Multicast => p.flags.mcast_flood || local_orig,
                Class::Broadcast => p.flags.bcast_flood || local_orig,
            };
            if allowed && self.should_deliver(p, from, vid) {
                egress.push(self.egress(p, vid, pcp));
            }
        }
    }

    /// Adds local FDB entries for `mac` on VID 0 and every VLAN of `set`.
    pub fn add_local_addr(&mut self, now: Instant, mac: Mac, port: Option<PortNo>) {
        self.fdb.add_local(now, mac, 0, port);
        let vids: Vec<u16> = match port {
            Some(no) => self
                .port(no)
                .map(|p| p.vlans.iter().collect())
                .unwrap_or_default(),
            None => self.self_vlans.iter().collect(),
        };
        for v in vids {
            self.fdb.add_local(now, mac, v, port);
        }
    }
}

/// `br_allowed_ingress`: yields the VID and pops a tag of the bridge's
/// protocol. A tag of another protocol stays in the frame (it is payload).
fn vlan_ingress(set: &VlanSet, tpid: u16, frame: &mut Frame<'_>) -> Result<u16, DropReason> {
    let vid = match frame.outer_tag() {
        Some(t) if t.tpid == tpid => {
            frame.pop_tag();
            if t.vid() == 0 {
                if set.pvid == 0 {
                    return Err(DropReason::NoPvid);
                }
                set.pvid
            } else {
                t.vid()
            }
        }
        _ => {
            if set.pvid == 0 {
                return Err(DropReason::NoPvid);
            }
            set.pvid
        }
    };
    if !set.contains(vid) {
        return Err(DropReason::VlanIngress);
    }
    Ok(vid)
}
