//! The interface graph: devices with `master` and `link` relations, and the
//! walk a frame takes through them (BEHAVIOUR.md §1.3–1.4, §4).
//!
//! Up (`rx`): a device that receives a frame first offers a tagged frame to
//! its VLAN uppers (the kernel's `vlan_do_receive` runs before the
//! `rx_handler`), then to its master (a bridge), and otherwise passes it to
//! its own host side. Down (`tx`): a VLAN device pushes its tag and sends on
//! its lower device, a bridge decides ports, and a device with a wire
//! attachment queues the frame on it.
//!
//! Frames enter and leave only at attachments. A *wire* attachment is the
//! far side of a port (an AF_PACKET socket on a veth, a TAP's file
//! descriptor, a simulated wire): reading it is the device's rx, writing it
//! the device's tx. A *host* attachment is the stack side of an emulated
//! device exposed as a TAP (a bridge's own port, a VLAN device): reading it
//! is the device's tx, writing it delivers to the host.

use crate::bond::{Bond, LagEvent, Link, NewSlave, Rx};
use crate::bridge::{path_cost, Bridge, Egress, FdbEvent, Host, PortState};
use crate::counters::{Counters, DropReason};
use crate::lag::Lag;
use crate::pipeline::{Direction, Outputs};
use crate::team::Team;
use crate::time::Instant;
use crate::vlan::VlanDev;
use crate::wire::bpdu::BridgeId;
use crate::wire::{Frame, Mac, Offload, Tag, ETH_HLEN, VLAN_HLEN};
use hashbrown::HashMap;
use smallvec::SmallVec;
use std::collections::VecDeque;

/// An interface in the graph: a slot (the low 20 bits) and the slot's
/// generation (the high 12). A removed interface's slot is given to a new
/// one under the next generation, and a slot whose generations are used
/// up is never given again, so an id is never reused: one held past its
/// interface's removal (a capture, an event) names nothing rather than a
/// newcomer. 32 bits, as before generations, keep the frame path's lists
/// of ids small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfId(pub u32);

/// Slots an id can name (2^20), and generations a slot has (2^12).
const SLOT_BITS: u32 = 20;
const MAX_SLOTS: usize = 1 << SLOT_BITS;
const GENERATIONS: u32 = 1 << (32 - SLOT_BITS);

impl IfId {
    fn new(slot: usize, generation: u32) -> IfId {
        IfId((generation << SLOT_BITS) | slot as u32)
    }

    fn slot(self) -> usize {
        (self.0 & (MAX_SLOTS as u32 - 1)) as usize
    }

    fn generation(self) -> u32 {
        self.0 >> SLOT_BITS
    }
}

/// The interfaces a frame goes to next (macvlan and ipvlan siblings): on
/// the stack up to eight, so that the per-frame path does not allocate.
pub type Targets = smallvec::SmallVec<[IfId; 8]>;

/// An attachment: a file descriptor of the daemon or a wire end of the
/// simulator. Numbered by the front end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachId(pub u32);

/// What the graph did that a timeline shows ([`Graph::poll_event`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    FdbLearned {
        bridge: IfId,
        mac: Mac,
        vid: u16,
        port: IfId,
    },
    FdbMoved {
        bridge: IfId,
        mac: Mac,
        vid: u16,
        from: Option<IfId>,
        to: IfId,
    },
    FdbExpired {
        bridge: IfId,
        count: usize,
    },
    /// One learned entry aged out.
    FdbAged {
        bridge: IfId,
        mac: Mac,
        vid: u16,
        port: IfId,
    },
    /// An entry added or removed other than by learning or ageing: by a
    /// command, a port joining or leaving, an address changing
    /// ([`crate::fdb::FdbNote`]).
    FdbEntry {
        bridge: IfId,
        /// The bridge's ifindex (it may be gone when the event is read).
        bridge_ifindex: u32,
        mac: Mac,
        vid: u16,
        /// The port, or the bridge for its own entries.
        port: IfId,
        nud: u16,
        added: bool,
    },
    /// The MDB changed: a port group (or, `port` the bridge, the bridge's
    /// host membership) added, changed or deleted (RTM_NEWMDB/RTM_DELMDB).
    Mdb {
        bridge: IfId,
        bridge_ifindex: u32,
        port: IfId,
        note: crate::bridge::mcast::MdbNote,
    },
    /// A port joined or left the bridge's multicast router ports.
    MdbRouter {
        bridge: IfId,
        bridge_ifindex: u32,
        port: IfId,
        added: bool,
    },
    /// A device became a bridge's port (RTM_NEWLINK, then the port's
    /// AF_BRIDGE RTM_NEWLINK).
    PortJoined {
        bridge: IfId,
        port: IfId,
    },
    /// A device stopped being a bridge's port: the port's AF_BRIDGE
    /// RTM_DELLINK, then an RTM_NEWLINK without a master.
    PortLeft {
        bridge_ifindex: u32,
        port: IfId,
        /// Its port priority and path cost, for the last AF_BRIDGE
        /// RTM_NEWLINK (state disabled) the kernel sends first.
        priority: u8,
        cost: u32,
    },
    /// A device was created (`link add`, `tuntap add`, an attached netdev).
    LinkAdded {
        dev: IfId,
    },
    /// A device was removed; what a message about it needs.
    LinkRemoved {
        ifindex: u32,
        name: [u8; 16],
        kind: Option<&'static str>,
        mtu: u32,
        mac: Mac,
    },
    PortState {
        bridge: IfId,
        port: IfId,
        state: PortState,
    },
    /// An RSTP port's role changed.
    PortRole {
        bridge: IfId,
        port: IfId,
        role: crate::bridge::rstp::Role,
    },
    Link {
        dev: IfId,
        up: bool,
    },
    /// Spanning tree: the root or the root port changed (`None`: this
    /// bridge is the root).
    Root {
        bridge: IfId,
        root: BridgeId,
        port: Option<IfId>,
    },
    TopologyChange {
        bridge: IfId,
    },
    /// A bond member's MII state changed.
    BondLink {
        bond: IfId,
        slave: IfId,
        link: Link,
    },
    /// The bond's current active slave changed.
    BondActive {
        bond: IfId,
        slave: Option<IfId>,
    },
    /// An 802.3ad member started or stopped collecting and distributing.
    BondDistributing {
        bond: IfId,
        slave: IfId,
        on: bool,
    },
    /// A VXLAN device with `l2miss`/`l3miss` found no entry (the kernel's
    /// `RTM_GETNEIGH` notification, `ip monitor`'s "miss").
    VxlanMiss {
        dev: IfId,
        miss: crate::vxlan::Miss,
    },
}

/// How deep the walk goes before it assumes a loop.
pub const MAX_DEPTH: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The far end of a port: rx comes from it, tx goes to it.
    Wire,
    /// The host side of an emulated device: tx comes from it, local
    /// delivery goes to it.
    Host,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachId,
    pub role: Role,
}

#[derive(Clone, Debug)]
pub enum Kind {
    /// A kernel netdev that patchbay uses as a port or lower (AF_PACKET).
    External,
    /// A TAP that patchbay created (`tuntap add`).
    Tap,
    /// A simulated port (netdevsim-style): a wire of the simulator, with
    /// carrier, speed and duplex.
    Netdevsim,
    Bridge(Box<Bridge>),
    Bond(Box<Bond>),
    Team(Box<Team>),
    Vxlan(Box<crate::vxlan::Vxlan>),
    Vlan(VlanDev),
    /// A macvlan (or macvtap) on its lower (`Iface::link`).
    Macvlan(Box<crate::macvlan::Macvlan>),
    /// An ipvlan (or ipvtap) slave on its master (`Iface::link`).
    Ipvlan(Box<crate::ipvlan::Ipvlan>),
    /// One end of a userspace veth pair (`None` while the peer is gone).
    Veth {
        peer: Option<IfId>,
    },
    /// Counts and discards what it is given.
    Dummy,
    /// A netlink monitor: while up, the control plane's rtnetlink
    /// messages are "sent" on it (`rtnl`).
    Nlmon,
}

impl Kind {
    /// `info_kind` as iproute2 prints it.
    pub fn info_kind(&self) -> Option<&'static str> {
        match self {
            Kind::External => None,
            Kind::Tap => Some("tun"),
            Kind::Netdevsim => Some("netdevsim"),
            Kind::Bridge(_) => Some("bridge"),
            Kind::Bond(_) => Some("bond"),
            Kind::Team(_) => Some("team"),
            Kind::Vxlan(_) => Some("vxlan"),
            Kind::Vlan(_) => Some("vlan"),
            Kind::Macvlan(m) if m.tap => Some("macvtap"),
            Kind::Macvlan(_) => Some("macvlan"),
            Kind::Ipvlan(v) if v.tap => Some("ipvtap"),
            Kind::Ipvlan(_) => Some("ipvlan"),
            Kind::Veth { .. } => Some("veth"),
            Kind::Dummy => Some("dummy"),
            Kind::Nlmon => Some("nlmon"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Iface {
    /// Its own id, generation included: what a stale id is told apart by.
    id: IfId,
    pub name: String,
    pub ifindex: u32,
    pub kind: Kind,
    pub master: Option<IfId>,
    /// The bridge port number while `master` is a bridge.
    pub port_no: u16,
    /// The lower device (VLAN).
    pub link: Option<IfId>,
    /// VLAN devices on top: (TPID, VID, device).
    pub vlan_uppers: Vec<(u16, u16, IfId)>,
    /// Macvlans on top (the kernel's `macvlan_port`), in creation order.
    pub macvlans: Vec<IfId>,
    /// Ipvlan slaves on top (the kernel's `ipvl_port`).
    pub ipvlans: Vec<IfId>,
    /// netdevsim: fault injection (drop, corrupt, delay).
    pub faults: Option<Box<crate::netdevsim::Faults>>,
    pub admin_up: bool,
    /// Has been up once: the kernel's device has its qdisc from then on
    /// (`noqueue` rather than `noop` in `ip link show`).
    pub been_up: bool,
    /// Carrier of the attachment (wire devices); reported by the front end.
    pub carrier: bool,
    pub mtu: u32,
    pub mac: Mac,
    pub attach: Option<Attachment>,
    /// How the daemon moves its frames ("af_xdp generic copy", "af_packet",
    /// "tap"), as `-d link show` and `stats` name it; empty in the
    /// simulator.
    pub via: String,
    pub counters: Counters,
    pub capture: bool,
    /// Link speed in Mbit/s (0 = unknown) and duplex, as ethtool reports
    /// them; bridges derive path costs from the speed.
    pub speed_mbps: u32,
    pub full_duplex: bool,
    /// Operational state as last announced ([`Graph::link_changed`]).
    oper: bool,
}

impl Iface {
    pub fn bridge(&self) -> Option<&Bridge> {
        match &self.kind {
            Kind::Bridge(b) => Some(b),
            _ => None,
        }
    }
    pub fn bridge_mut(&mut self) -> Option<&mut Bridge> {
        match &mut self.kind {
            Kind::Bridge(b) => Some(b),
            _ => None,
        }
    }
    pub fn bond(&self) -> Option<&Bond> {
        match &self.kind {
            Kind::Bond(b) => Some(b),
            _ => None,
        }
    }
    pub fn bond_mut(&mut self) -> Option<&mut Bond> {
        match &mut self.kind {
            Kind::Bond(b) => Some(b),
            _ => None,
        }
    }
    pub fn team(&self) -> Option<&Team> {
        match &self.kind {
            Kind::Team(t) => Some(t),
            _ => None,
        }
    }
    pub fn team_mut(&mut self) -> Option<&mut Team> {
        match &mut self.kind {
            Kind::Team(t) => Some(t),
            _ => None,
        }
    }
    /// A bond or a team.
    pub fn lag(&self) -> Option<&dyn Lag> {
        match &self.kind {
            Kind::Bond(b) => Some(&**b),
            Kind::Team(t) => Some(&**t),
            _ => None,
        }
    }
    pub fn lag_mut(&mut self) -> Option<&mut dyn Lag> {
        match &mut self.kind {
            Kind::Bond(b) => Some(&mut **b),
            Kind::Team(t) => Some(&mut **t),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("a device named \"{0}\" already exists")]
    Exists(String),
    #[error("no device named \"{0}\" (see 'patchbay link show')")]
    NoDevice(String),
    #[error("\"{0}\" is not a bridge")]
    NotABridge(String),
    #[error("\"{dev}\" is already enslaved to \"{master}\" (run 'patchbay link set {dev} nomaster' first)")]
    Busy { dev: String, master: String },
    #[error("a bridge cannot be a port of a bridge (\"{0}\"): the kernel refuses it with ELOOP")]
    Loop(String),
    #[error("\"{0}\" would be enslaved below itself (a bond or team holds it, directly or through others)")]
    Nest(String),
    #[error("bridge \"{0}\" has 1023 ports already")]
    TooManyPorts(String),
    #[error("\"{lower}\" already has a {proto} VLAN device with id {id} (\"{other}\")")]
    VlanExists {
        lower: String,
        proto: &'static str,
        id: u16,
        other: String,
    },
    #[error("\"{dev}\" is stacked on \"{master}\" (a VLAN, macvlan or ipvlan of it, or above one): enslaving it there would loop (EBUSY)")]
    Stacked { dev: String, master: String },
    #[error("\"{0}\" is not enslaved")]
    NotEnslaved(String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    ifaces: Vec<Option<Iface>>,
    /// Each slot's generation ([`IfId`]), bumped when its interface goes.
    generations: Vec<u32>,
    names: HashMap<String, IfId>,
    by_attach: Vec<Option<IfId>>,
    next_ifindex: u32,
    scratch: Vec<Vec<Egress>>,
    events: Option<VecDeque<Event>>,
    macs_changed: bool,
    /// Members a bond frame leaves by (reused, no allocation per frame).
    bond_scratch: (Vec<u16>, Vec<IfId>),
    /// Copies a VXLAN frame becomes (reused).
    vxlan_scratch: Vec<crate::vxlan::Encap>,
    /// No timer is due before this (a lower bound: an earlier hint only
    /// costs a `handle_timeout` that finds nothing due).
    timer_hint: Option<Instant>,
    /// Mixed into the addresses of new devices given none
    /// (`cmd::link::default_mac`): 0 (the simulator, the tests) keeps
    /// them a function of the name; the daemon sets a random one, so two
    /// instances' `br0`s differ, as the kernel's random addresses do.
    pub mac_seed: u64,
    /// Drops counted, ever, and frames taken by a device's own stack or a
    /// protocol: with [`Outputs::sent`], how [`Graph::receive`] tells a
    /// frame's [`crate::counters::Fates`].
    drops_seen: u64,
    taken: u64,
}

/// A drop: one more of `reason` on the device whose counters these are,
/// and noted for the fate of the frame being received.
macro_rules! dropped {
    ($self:ident, $counters:expr, $reason:expr) => {{
        $counters.drop($reason);
        $self.drops_seen += 1;
    }};
}

impl Graph {
    /// The id of the interface in slot `i` now.
    fn id_at(&self, i: usize) -> IfId {
        IfId::new(i, self.generations[i])
    }

    pub fn new() -> Self {
        Graph {
            next_ifindex: 1,
            scratch: (0..=MAX_DEPTH).map(|_| Vec::with_capacity(64)).collect(),
            ..Default::default()
        }
    }

    pub fn add(
        &mut self,
        name: &str,
        mut kind: Kind,
        mac: Mac,
        mtu: u32,
    ) -> Result<IfId, GraphError> {
        if self.names.contains_key(name) {
            return Err(GraphError::Exists(name.into()));
        }
        if let Kind::Bridge(b) = &mut kind {
            b.record = self.events.is_some();
            b.fdb.record = b.record;
            // Its own entries, made with it, are announced with it.
            b.fdb.note_all();
        }
        let record = self.events.is_some();
        if let Kind::Bond(b) = &mut kind {
            b.record = record;
        }
        if let Kind::Team(t) = &mut kind {
            t.record = record;
        }
        // A free slot with a generation left, else a new slot.
        let free = (0..self.ifaces.len())
            .find(|&i| self.ifaces[i].is_none() && self.generations[i] < GENERATIONS);
        let slot = match free {
            Some(i) => i,
            None if self.ifaces.len() < MAX_SLOTS => {
                self.ifaces.push(None);
                self.generations.push(0);
                self.ifaces.len() - 1
            }
            None => {
                return Err(GraphError::Invalid(format!(
                    "{MAX_SLOTS} interfaces made and removed or present: no interface id is left"
                )))
            }
        };
        let id = self.id_at(slot);
        let iface = Iface {
            id,
            name: name.into(),
            ifindex: self.next_ifindex,
            kind,
            master: None,
            port_no: 0,
            link: None,
            vlan_uppers: Vec::new(),
            macvlans: Vec::new(),
            ipvlans: Vec::new(),
            faults: None,
            admin_up: false,
            been_up: false,
            carrier: true,
            mtu,
            mac,
            attach: None,
            via: String::new(),
            counters: Counters::default(),
            capture: false,
            speed_mbps: 0,
            full_duplex: true,
            oper: false,
        };
        self.next_ifindex += 1;
        self.ifaces[slot] = Some(iface);
        self.names.insert(name.into(), id);
        // A kernel netdev patchbay attaches was announced by the kernel
        // when it was made.
        if !matches!(self.iface(id).kind, Kind::External) {
            self.log_event(Event::LinkAdded { dev: id });
        }
        Ok(id)
    }

    /// Adds a VLAN device on `lower`.
    pub fn add_vlan(&mut self, name: &str, lower: IfId, vlan: VlanDev) -> Result<IfId, GraphError> {
        let l = self.iface(lower);
        if let Some(&(_, _, other)) = l
            .vlan_uppers
            .iter()
            .find(|(tpid, vid, _)| *tpid == vlan.protocol.tpid() && *vid == vlan.id)
        {
            return Err(GraphError::VlanExists {
                lower: l.name.clone(),
                proto: vlan.protocol.name(),
                id: vlan.id,
                other: self.iface(other).name.clone(),
            });
        }
        let (mac, mtu) = (l.mac, l.mtu);
        let id = self.add(name, Kind::Vlan(vlan), mac, mtu)?;
        self.iface_mut(id).link = Some(lower);
        self.iface_mut(lower)
            .vlan_uppers
            .push((vlan.protocol.tpid(), vlan.id, id));
        Ok(id)
    }

    /// Adds a macvlan on `lower` (on a macvlan's lower when `lower` is one,
    /// as the kernel does), with the kernel's rules: one passthru per
    /// lower and nothing beside it, addresses unique on the lower.
    pub fn add_macvlan(
        &mut self,
        name: &str,
        lower: IfId,
        m: crate::macvlan::Macvlan,
        mac: Mac,
        mtu: Option<u32>,
    ) -> Result<IfId, GraphError> {
        use crate::macvlan::Mode;
        let lower = match (&self.iface(lower).kind, self.iface(lower).link) {
            (Kind::Macvlan(_), Some(l)) => l,
            _ => lower,
        };
        let l = self.iface(lower);
        if !l.ipvlans.is_empty() {
            return Err(GraphError::Invalid(format!(
                "{} has ipvlan slaves: macvlan and ipvlan cannot share a lower device (EBUSY)",
                l.name
            )));
        }
        let sibs: Vec<&Iface> = l.macvlans.iter().map(|s| self.iface(*s)).collect();
        let passthru = |f: &&Iface| matches!(&f.kind, Kind::Macvlan(o) if o.mode == Mode::Passthru);
        if m.mode == Mode::Passthru && !sibs.is_empty() || sibs.iter().any(passthru) {
            return Err(GraphError::Invalid(format!(
                "{} already has {}: a passthru macvlan must be the only macvlan on its lower device",
                l.name,
                if sibs.iter().any(passthru) { "a passthru macvlan" } else { "macvlans" }
            )));
        }
        // passthru takes the lower's address (`eth_hw_addr_inherit`).
        let mac = if m.mode == Mode::Passthru { l.mac } else { mac };
        if m.mode != Mode::Passthru && (mac == l.mac || sibs.iter().any(|f| f.mac == mac)) {
            return Err(GraphError::Invalid(format!(
                "address {mac} is in use on {} (each macvlan needs its own)",
                l.name
            )));
        }
        let lmtu = l.mtu;
        let mtu = mtu.unwrap_or(lmtu);
        if mtu > lmtu {
            return Err(GraphError::Invalid(format!(
                "mtu {mtu} is more than the lower device's ({lmtu})"
            )));
        }
        let id = self.add(name, Kind::Macvlan(Box::new(m)), mac, mtu)?;
        self.iface_mut(id).link = Some(lower);
        self.iface_mut(lower).macvlans.push(id);
        Ok(id)
    }

    /// Adds an ipvlan slave on `master` with the master's address; its
    /// mode and flag become every slave's (one mode per master).
    pub fn add_ipvlan(
        &mut self,
        name: &str,
        master: IfId,
        v: crate::ipvlan::Ipvlan,
        mtu: Option<u32>,
    ) -> Result<IfId, GraphError> {
        let l = self.iface(master);
        if !l.macvlans.is_empty() {
            return Err(GraphError::Invalid(format!(
                "{} has macvlans: macvlan and ipvlan cannot share a lower device (EBUSY)",
                l.name
            )));
        }
        if matches!(l.kind, Kind::Ipvlan(_)) {
            return Err(GraphError::Invalid(format!(
                "{} is an ipvlan: an ipvlan cannot be the master of another (EINVAL)",
                l.name
            )));
        }
        let (mac, lmtu) = (l.mac, l.mtu);
        let mtu = mtu.unwrap_or(lmtu);
        if mtu > lmtu {
            return Err(GraphError::Invalid(format!(
                "mtu {mtu} is more than the master's ({lmtu})"
            )));
        }
        let (mode, flag) = (v.mode, v.flag);
        let id = self.add(name, Kind::Ipvlan(Box::new(v)), mac, mtu)?;
        self.iface_mut(id).link = Some(master);
        self.iface_mut(master).ipvlans.push(id);
        for s in self.iface(master).ipvlans.clone() {
            if let Kind::Ipvlan(o) = &mut self.iface_mut(s).kind {
                (o.mode, o.flag) = (mode, flag);
            }
        }
        Ok(id)
    }

    /// Adds a veth pair.
    pub fn add_veth(
        &mut self,
        a: &str,
        b: &str,
        macs: (Mac, Mac),
        mtu: u32,
    ) -> Result<(IfId, IfId), GraphError> {
        if a == b || self.names.contains_key(b) {
            return Err(GraphError::Exists(b.into()));
        }
        let x = self.add(a, Kind::Veth { peer: None }, macs.0, mtu)?;
        let y = self.add(b, Kind::Veth { peer: Some(x) }, macs.1, mtu)?;
        self.iface_mut(x).kind = Kind::Veth { peer: Some(y) };
        // As the kernel's veth reports itself to ethtool (and so to a
        // bridge's path cost: 2): 10 Gbit/s, full duplex.
        for id in [x, y] {
            let f = self.iface_mut(id);
            f.speed_mbps = 10_000;
            f.full_duplex = true;
        }
        Ok((x, y))
    }

    /// Removes a device and everything stacked on it (the kernel unregisters
    /// VLAN uppers with their lower). Returns the removed devices with their
    /// attachments, uppers first.
    pub fn remove(&mut self, now: Instant, id: IfId) -> Vec<(IfId, Iface)> {
        let mut gone = Vec::new();
        self.remove_rec(now, id, &mut gone);
        gone
    }

    fn remove_rec(&mut self, now: Instant, id: IfId, gone: &mut Vec<(IfId, Iface)>) {
        let f = self.iface(id);
        let mut uppers: Vec<IfId> = f.vlan_uppers.iter().map(|u| u.2).collect();
        uppers.extend(&f.macvlans);
        uppers.extend(&f.ipvlans);
        // A veth goes with its peer.
        if let Kind::Veth { peer: Some(p) } = f.kind {
            if let Kind::Veth { peer } = &mut self.iface_mut(p).kind {
                *peer = None;
            }
            uppers.push(p);
        }
        for u in uppers {
            if self.get(u).is_some() {
                self.remove_rec(now, u, gone);
            }
        }
        if self.iface(id).master.is_some() {
            let _ = self.release(now, id);
        }
        let mut ports: Vec<IfId> = self
            .iface(id)
            .bridge()
            .map(|b| b.ports().map(|p| p.ifid).collect())
            .unwrap_or_default();
        if let Some(b) = self.iface(id).lag() {
            ports.extend(b.members());
        }
        for p in ports {
            let _ = self.release(now, p);
        }
        // A bridge's own entries go with it (`br_dev_delete`), announced
        // while it can still be named.
        if let Some(b) = self.iface_mut(id).bridge_mut() {
            b.fdb.remove_own_local();
            self.collect(id);
        }
        if let Some(lower) = self.iface(id).link {
            if let Some(l) = self.get_mut(lower) {
                l.vlan_uppers.retain(|u| u.2 != id);
                l.macvlans.retain(|u| *u != id);
                l.ipvlans.retain(|u| *u != id);
            }
        }
        let iface = self.ifaces[id.slot()].take().expect("live interface");
        // GENERATIONS marks a slot used up: it is never given again.
        self.generations[id.slot()] = id.generation() + 1;
        self.names.remove(&iface.name);
        let mut name = [0u8; 16];
        let n = iface.name.len().min(15);
        name[..n].copy_from_slice(&iface.name.as_bytes()[..n]);
        // A kernel netdev patchbay stops using is not gone.
        if !matches!(iface.kind, Kind::External) {
            self.log_event(Event::LinkRemoved {
                ifindex: iface.ifindex,
                name,
                kind: iface.kind.info_kind(),
                mtu: iface.mtu,
                mac: iface.mac,
            });
        }
        if let Some(a) = iface.attach {
            self.by_attach[a.id.0 as usize] = None;
        }
        gone.push((id, iface));
    }

    /// Whether `dev` can be enslaved to `master` (a bridge, bond or team):
    /// every reason [`Graph::enslave`] refuses, found without changing
    /// anything.
    pub fn check_enslave(&self, dev: IfId, master: IfId) -> Result<(), GraphError> {
        let d = self.iface(dev);
        let m = self.iface(master);
        if m.lag().is_some() {
            // Aggregates stack (a team of bonds, a bond of teams), but not
            // into themselves.
            let mut up = Some(master);
            while let Some(u) = up {
                if u == dev {
                    return Err(GraphError::Nest(d.name.clone()));
                }
                up = self.iface(u).master;
            }
        }
        if matches!(d.kind, Kind::Bridge(_)) {
            return Err(GraphError::Loop(d.name.clone()));
        }
        // `__netdev_upper_dev_link`: dev may not be above master already.
        if self.is_above(dev, master) {
            return Err(GraphError::Stacked {
                dev: d.name.clone(),
                master: m.name.clone(),
            });
        }
        match d.master {
            Some(cur) if cur == master => return Ok(()),
            Some(cur) => {
                return Err(GraphError::Busy {
                    dev: d.name.clone(),
                    master: self.iface(cur).name.clone(),
                })
            }
            None => {}
        }
        if m.lag().is_some() {
            return Ok(());
        }
        let b = m
            .bridge()
            .ok_or_else(|| GraphError::NotABridge(m.name.clone()))?;
        if !b.has_free_port() {
            return Err(GraphError::TooManyPorts(m.name.clone()));
        }
        Ok(())
    }

    /// Whether `dev` sits above `base`: `base`'s master, a VLAN, macvlan
    /// or ipvlan on it, or anything above those.
    pub fn is_above(&self, dev: IfId, base: IfId) -> bool {
        let mut todo = vec![base];
        let mut seen = Vec::new();
        while let Some(u) = todo.pop() {
            if seen.contains(&u) {
                continue;
            }
            seen.push(u);
            let f = self.iface(u);
            let uppers = f
                .master
                .into_iter()
                .chain(f.vlan_uppers.iter().map(|v| v.2))
                .chain(f.macvlans.iter().copied())
                .chain(f.ipvlans.iter().copied());
            for up in uppers {
                if up == dev {
                    return true;
                }
                todo.push(up);
            }
        }
        false
    }

    /// `ip link set DEV master BR`.
    pub fn enslave(&mut self, now: Instant, dev: IfId, br: IfId) -> Result<u16, GraphError> {
        self.check_enslave(dev, br)?;
        if self.iface(br).lag().is_some() {
            return self.bond_enslave(now, dev, br);
        }
        let d = self.iface(dev);
        if d.master == Some(br) {
            return Ok(d.port_no);
        }
        let local = self.port_local_mac(dev);
        let bname = self.iface(br).name.clone();
        let b = self
            .iface_mut(br)
            .bridge_mut()
            .ok_or(GraphError::NotABridge(bname.clone()))?;
        let no = b.add_port(dev).ok_or(GraphError::TooManyPorts(bname))?;
        if let Some(mac) = local {
            b.add_local_addr(now, mac, Some(no));
        }
        let d = self.iface_mut(dev);
        d.master = Some(br);
        d.port_no = no;
        let (speed, duplex, up) = (d.speed_mbps, d.full_duplex, self.oper_up(dev));
        let b = self.iface_mut(br).bridge_mut().expect("checked");
        let p = b.port_mut(no).expect("just added");
        p.cost = path_cost(speed);
        p.speed_mbps = speed;
        p.full_duplex = duplex;
        if up && b.stp.enabled {
            b.stp_enable_port(now, no);
        }
        self.iface_mut(dev).oper = up;
        self.log_event(Event::PortJoined {
            bridge: br,
            port: dev,
        });
        self.recalc_bridge_id(now, br);
        self.collect(br);
        self.note_bridge_timer(br);
        self.link_changed(now, br);
        Ok(no)
    }

    /// Changes a device's MAC and the local FDB entries that follow it; a
    /// bridge port's change moves its bridge's address too
    /// ([`Graph::recalc_bridge_id`]).
    pub fn set_mac(&mut self, now: Instant, id: IfId, mac: Mac) {
        let has_local = self.port_local_mac(id).is_some();
        let f = self.iface_mut(id);
        let old = std::mem::replace(&mut f.mac, mac);
        let (master, port_no) = (f.master, f.port_no);
        if old != mac {
            self.note_link(id);
        }
        let f = self.iface_mut(id);
        if let Some(b) = f.bridge_mut() {
            b.fdb.remove_local(old, None);
            b.add_local_addr(now, mac, None);
            b.change_bridge_id(now, mac);
        }
        if let Some(br) = master.filter(|_| has_local) {
            if let Some(b) = self.iface_mut(br).bridge_mut() {
                b.fdb.remove_local(old, Some(port_no));
                b.add_local_addr(now, mac, Some(port_no));
            }
        }
        if let Some(br) = master.filter(|_| old != mac) {
            self.recalc_bridge_id(now, br);
        }
        // VLAN devices that still share the old address follow the lower.
        let ups: Vec<IfId> = self.iface(id).vlan_uppers.iter().map(|u| u.2).collect();
        for u in ups {
            if self.iface(u).mac == old {
                self.set_mac(now, u, mac);
            }
        }
    }

    /// `br_stp_recalculate_bridge_id`: a bridge whose address was not set
    /// by the user takes the smallest address of its ports, whenever a
    /// port joins, leaves or changes its own (checked with ip on 6.18);
    /// TAP ports do not count.
    /// Deviation: when the last port leaves, the kernel's bridge takes
    /// 00:00:00:00:00:00; patchbay's keeps its address, which its TAP could
    /// not take.
    pub fn recalc_bridge_id(&mut self, now: Instant, br: IfId) {
        let Some(b) = self.iface(br).bridge() else {
            return;
        };
        if b.mac_set {
            return;
        }
        // A TAP port's address is the host's behind it (see
        // `port_local_mac`): the bridge must not take it as its own.
        let Some(mac) = b.ports().filter_map(|p| self.port_local_mac(p.ifid)).min() else {
            return;
        };
        if mac != self.iface(br).mac {
            self.set_mac(now, br, mac);
        }
    }

    /// The address a port contributes as a local FDB entry. A TAP's netdev
    /// is the far end of the port (the host or VM behind it sends from that
    /// address), so unlike a kernel port it contributes none.
    pub fn port_local_mac(&self, dev: IfId) -> Option<Mac> {
        let d = self.iface(dev);
        (!matches!(d.kind, Kind::Tap)).then_some(d.mac)
    }

    /// `ip link set DEV nomaster`.
    pub fn release(&mut self, now: Instant, dev: IfId) -> Result<(), GraphError> {
        let d = self.iface(dev);
        let br = d
            .master
            .ok_or_else(|| GraphError::NotEnslaved(d.name.clone()))?;
        let no = d.port_no;
        if let Some(b) = self.iface_mut(br).bridge_mut() {
            if let Some(p) = b.remove_port(now, no) {
                let bridge_ifindex = self.iface(br).ifindex;
                self.log_event(Event::PortLeft {
                    bridge_ifindex,
                    port: dev,
                    priority: p.priority,
                    cost: p.cost,
                });
            }
        }
        if let Some(b) = self.iface_mut(br).lag_mut() {
            b.remove_member(now, no);
            self.collect_bond(br);
            self.note_bond_timer(br);
        }
        self.collect(br);
        self.note_bridge_timer(br);
        let d = self.iface_mut(dev);
        d.master = None;
        d.port_no = 0;
        self.recalc_bridge_id(now, br);
        self.link_changed(now, br);
        Ok(())
    }

    /// Binds an attachment to a device.
    pub fn attach(&mut self, id: IfId, attach: Attachment) {
        let i = attach.id.0 as usize;
        if i >= self.by_attach.len() {
            self.by_attach.resize(i + 1, None);
        }
        if let Some(old) = self.iface(id).attach {
            self.by_attach[old.id.0 as usize] = None;
        }
        self.by_attach[i] = Some(id);
        self.iface_mut(id).attach = Some(attach);
    }

    pub fn detach(&mut self, id: IfId) -> Option<Attachment> {
        let a = self.iface_mut(id).attach.take()?;
        self.by_attach[a.id.0 as usize] = None;
        Some(a)
    }

    pub fn by_name(&self, name: &str) -> Option<IfId> {
        self.names.get(name).copied()
    }

    pub fn by_attach(&self, a: AttachId) -> Option<IfId> {
        self.by_attach.get(a.0 as usize).copied().flatten()
    }

    pub fn get(&self, id: IfId) -> Option<&Iface> {
        self.ifaces.get(id.slot())?.as_ref().filter(|f| f.id == id)
    }

    pub fn get_mut(&mut self, id: IfId) -> Option<&mut Iface> {
        self.ifaces
            .get_mut(id.slot())?
            .as_mut()
            .filter(|f| f.id == id)
    }

    /// The interface behind an id the caller got from this graph.
    pub fn iface(&self, id: IfId) -> &Iface {
        self.get(id).expect("IfId of a live interface")
    }

    pub fn iface_mut(&mut self, id: IfId) -> &mut Iface {
        self.get_mut(id).expect("IfId of a live interface")
    }

    /// Interfaces in ifindex order.
    pub fn iter(&self) -> impl Iterator<Item = (IfId, &Iface)> {
        let mut v: Vec<(IfId, &Iface)> = self
            .ifaces
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.as_ref().map(|f| (self.id_at(i), f)))
            .collect();
        v.sort_by_key(|(_, f)| f.ifindex);
        v.into_iter()
    }

    /// Operational state: admin up, carrier, and a lower that is up; a
    /// bridge also needs a forwarding port (BEHAVIOUR.md §1.1).
    pub fn oper_up(&self, id: IfId) -> bool {
        let f = self.iface(id);
        if !f.admin_up {
            return false;
        }
        match &f.kind {
            Kind::External | Kind::Tap | Kind::Netdevsim => f.carrier,
            Kind::Vlan(_) | Kind::Macvlan(_) | Kind::Ipvlan(_) => {
                f.link.is_some_and(|l| self.oper_up(l))
            }
            // Carrier only while both ends are up.
            Kind::Veth { peer } => peer.is_some_and(|p| self.iface(p).admin_up),
            Kind::Dummy | Kind::Nlmon => true,
            Kind::Bridge(b) => b
                .ports()
                .any(|p| p.state == crate::bridge::PortState::Forwarding && self.oper_up(p.ifid)),
            Kind::Bond(b) => b.carrier,
            Kind::Team(t) => t.carrier,
            // `vxlan_open` turns the carrier on.
            Kind::Vxlan(_) => true,
        }
    }

    /// When [`Graph::handle_timeout`] next needs to run. O(1).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_hint
    }

    /// Recomputes the timer hint exactly (after commands that change timers).
    pub fn refresh_timers(&mut self) {
        self.timer_hint = self
            .ifaces
            .iter()
            .flatten()
            .filter_map(|f| match &f.kind {
                Kind::Bridge(b) => b.poll_timeout(),
                Kind::Bond(b) => b.poll_timeout(),
                Kind::Team(t) => t.poll_timeout(),
                Kind::Vxlan(v) => v.poll_timeout(),
                _ => f.faults.as_ref().and_then(|x| x.poll_timeout()),
            })
            .min();
    }

    fn note_timer(&mut self, t: Option<Instant>) {
        if let Some(t) = t {
            self.timer_hint = Some(self.timer_hint.map_or(t, |h| h.min(t)));
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        if self.timer_hint.is_none_or(|t| t > now) {
            return;
        }
        for i in 0..self.ifaces.len() {
            let id = self.id_at(i);
            if let Some(b) = self.ifaces[i].as_mut().and_then(Iface::lag_mut) {
                if b.poll_timeout().is_some_and(|t| t <= now) {
                    b.handle_timeout(now);
                    self.sync_bond_mac(id);
                    self.send_bond_tx(now, id, out);
                    self.collect_bond(id);
                    self.link_changed(now, id);
                }
                continue;
            }
            if let Some(Kind::Vxlan(v)) = self.ifaces[i].as_mut().map(|f| &mut f.kind) {
                v.handle_timeout(now);
                continue;
            }
            // Frames a netdevsim port held back, now due.
            while let Some(h) = self.ifaces[i]
                .as_mut()
                .and_then(|f| f.faults.as_mut())
                .and_then(|f| f.release(now))
            {
                if let Ok(fr) = Frame::parse(&h.data, None, h.offload) {
                    self.cross(now, id, h.dir, fr, out);
                }
            }
            let Some(b) = self.ifaces[i].as_mut().and_then(Iface::bridge_mut) else {
                continue;
            };
            if b.poll_timeout().is_some_and(|t| t <= now) {
                b.handle_timeout(now);
                self.collect(id);
                self.send_bpdus(now, id, out);
                self.bridge_carrier(now, id);
            }
        }
        self.refresh_timers();
    }

    /// Starts or stops recording [`Event`]s.
    pub fn record_events(&mut self, on: bool) {
        self.events = on.then(VecDeque::new);
        for f in self.ifaces.iter_mut().flatten() {
            if let Some(b) = f.bridge_mut() {
                b.record = on;
                b.events.clear();
                b.left.clear();
                b.fdb.record = on;
                b.fdb.notes.clear();
            }
            if let Some(b) = f.lag_mut() {
                b.set_record(on);
            }
        }
    }

    /// The next recorded event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.as_mut()?.pop_front()
    }

    fn log_event(&mut self, e: Event) {
        if let Some(log) = self.events.as_mut() {
            log.push_back(e);
        }
    }

    /// Moves every bridge's pending events into the log (after commands).
    pub fn collect_all(&mut self) {
        if self.events.is_none() {
            return;
        }
        for i in 0..self.ifaces.len() {
            if self.ifaces[i]
                .as_ref()
                .and_then(Iface::bridge)
                .is_some_and(|b| !b.events.is_empty() || !b.fdb.notes.is_empty())
            {
                self.collect(self.id_at(i));
            }
            self.collect_bond(self.id_at(i));
        }
    }

    /// Moves a bridge's own events into the graph's log, with ids.
    fn collect(&mut self, br: IfId) {
        let Some(log) = self.events.as_mut() else {
            return;
        };
        let bridge_ifindex = self.ifaces[br.slot()].as_ref().map_or(0, |f| f.ifindex);
        let Some(b) = self.ifaces[br.slot()].as_mut().and_then(Iface::bridge_mut) else {
            return;
        };
        if b.events.is_empty() && b.fdb.notes.is_empty() {
            return;
        }
        // A port that left is still named by what its leaving recorded.
        let left = std::mem::take(&mut b.left);
        let ifid = |b: &Bridge, no: u16| {
            b.port(no)
                .map(|p| p.ifid)
                .or_else(|| left.iter().find(|l| l.0 == no).map(|l| l.1))
        };
        for n in std::mem::take(&mut b.fdb.notes) {
            let port = match n.port {
                Some(no) => match ifid(b, no) {
                    Some(p) => p,
                    None => continue,
                },
                None => br,
            };
            log.push_back(Event::FdbEntry {
                bridge: br,
                bridge_ifindex,
                mac: n.mac,
                vid: n.vid,
                port,
                nud: n.nud,
                added: n.added,
            });
        }
        for e in b.events.drain(..).collect::<Vec<_>>() {
            let ev = match e {
                FdbEvent::Learned { mac, vid, port } => match ifid(b, port) {
                    Some(port) => Event::FdbLearned {
                        bridge: br,
                        mac,
                        vid,
                        port,
                    },
                    None => continue,
                },
                FdbEvent::Moved { mac, vid, from, to } => match ifid(b, to) {
                    Some(to) => Event::FdbMoved {
                        bridge: br,
                        mac,
                        vid,
                        from: ifid(b, from),
                        to,
                    },
                    None => continue,
                },
                FdbEvent::Expired { count } => Event::FdbExpired { bridge: br, count },
                FdbEvent::Aged { mac, vid, port } => match ifid(b, port) {
                    Some(p) => Event::FdbAged {
                        bridge: br,
                        mac,
                        vid,
                        port: p,
                    },
                    None => continue,
                },
                FdbEvent::PortState { port, state } => match ifid(b, port) {
                    Some(port) => Event::PortState {
                        bridge: br,
                        port,
                        state,
                    },
                    None => continue,
                },
                FdbEvent::PortRole { port, role } => match ifid(b, port) {
                    Some(port) => Event::PortRole {
                        bridge: br,
                        port,
                        role,
                    },
                    None => continue,
                },
                FdbEvent::Mdb(note) => match note.port {
                    None => Event::Mdb {
                        bridge: br,
                        bridge_ifindex,
                        port: br,
                        note,
                    },
                    Some(no) => match ifid(b, no) {
                        Some(port) => Event::Mdb {
                            bridge: br,
                            bridge_ifindex,
                            port,
                            note,
                        },
                        None => continue,
                    },
                },
                FdbEvent::MdbRouter { port, added } => match ifid(b, port) {
                    Some(port) => Event::MdbRouter {
                        bridge: br,
                        bridge_ifindex,
                        port,
                        added,
                    },
                    None => continue,
                },
                FdbEvent::Root { root, port } => Event::Root {
                    bridge: br,
                    root,
                    port: ifid(b, port),
                },
                FdbEvent::TopologyChange => Event::TopologyChange { bridge: br },
            };
            log.push_back(ev);
        }
    }

    /// `ip link set DEV up|down`.
    pub fn set_admin(&mut self, now: Instant, id: IfId, up: bool) {
        let f = self.iface_mut(id);
        f.admin_up = up;
        f.been_up |= up;
        self.link_changed(now, id);
    }

    /// `ip link set DEV name NEW`: the device keeps its index and state.
    pub fn rename(&mut self, id: IfId, new: &str) -> Result<(), GraphError> {
        match self.names.get(new) {
            Some(&other) if other == id => return Ok(()),
            Some(_) => return Err(GraphError::Exists(new.to_string())),
            None => {}
        }
        let old = std::mem::replace(&mut self.iface_mut(id).name, new.to_string());
        self.names.remove(&old);
        self.names.insert(new.to_string(), id);
        self.note_link(id);
        Ok(())
    }

    /// A device's MTU, address or name changed: an RTM_NEWLINK, as the
    /// kernel sends on NETDEV_CHANGEMTU, NETDEV_CHANGEADDR and
    /// NETDEV_CHANGENAME.
    pub fn note_link(&mut self, id: IfId) {
        let up = self.iface(id).oper;
        self.log_event(Event::Link { dev: id, up });
    }

    /// The carrier of a wire device came or went.
    pub fn set_carrier(&mut self, now: Instant, id: IfId, up: bool) {
        self.iface_mut(id).carrier = up;
        self.link_changed(now, id);
    }

    /// A device's state changed. A bridge that comes up enables its spanning
    /// tree and its ports (`br_stp_enable_bridge`), one that goes down
    /// disables them. A port whose device goes down is disabled and flushed
    /// (`br_port_carrier_check` → `br_stp_disable_port`); one that comes
    /// back is enabled again. Devices stacked on it follow.
    pub fn link_changed(&mut self, now: Instant, id: IfId) {
        // The bridge device's own admin state drives its spanning tree.
        let admin = self.iface(id).admin_up;
        // A bond's own admin state starts and stops its monitors.
        if let Some(b) = self.iface_mut(id).lag_mut() {
            if b.is_up() != admin {
                b.set_up(now, admin);
                self.collect_bond(id);
                self.note_bond_timer(id);
            }
        }
        if let Some(enabled) = self.iface(id).bridge().map(|b| b.stp.enabled) {
            if admin != enabled {
                let ports: Vec<(u16, IfId)> = self
                    .iface(id)
                    .bridge()
                    .map(|b| b.ports().map(|p| (p.port_no, p.ifid)).collect())
                    .unwrap_or_default();
                let up_ports: Vec<u16> = ports
                    .into_iter()
                    .filter(|(_, ifid)| self.oper_up(*ifid))
                    .map(|(no, _)| no)
                    .collect();
                let b = self.iface_mut(id).bridge_mut().expect("a bridge");
                if admin {
                    b.stp_enable_bridge(now, &up_ports);
                    b.mc_open(now);
                } else {
                    b.stp_disable_bridge(now);
                    b.mc_stop();
                }
                self.collect(id);
                self.note_bridge_timer(id);
            }
        }
        let up = self.oper_up(id);
        let f = self.iface_mut(id);
        if f.oper == up {
            return;
        }
        f.oper = up;
        let master = f.master;
        if let Some(log) = self.events.as_mut() {
            log.push_back(Event::Link { dev: id, up });
        }
        if let Some(br) = master {
            let no = self.iface(id).port_no;
            let (speed, duplex) = (self.iface(id).speed_mbps, self.iface(id).full_duplex);
            if let Some(b) = self.iface_mut(br).lag_mut() {
                b.member_dev(now, no, up, speed, duplex);
                self.collect_bond(br);
                self.note_bond_timer(br);
            }
            if let Some(b) = self.iface_mut(br).bridge_mut() {
                let state = b.port(no).map(|p| p.state);
                if up && b.stp.enabled && state == Some(PortState::Disabled) {
                    b.stp_enable_port(now, no);
                } else if !up && state.is_some_and(|s| s != PortState::Disabled) {
                    b.stp_disable_port(now, no);
                }
            }
            self.collect(br);
            self.note_bridge_timer(br);
            self.link_changed(now, br);
        }
        let ups: Vec<IfId> = self.iface(id).vlan_uppers.iter().map(|u| u.2).collect();
        for u in ups {
            self.link_changed(now, u);
        }
    }

    /// A port that began forwarding turns the bridge's carrier on, the
    /// last one that stopped turns it off (`br_port_state_selection`):
    /// looked at only when a port crossed that line.
    fn bridge_carrier(&mut self, now: Instant, br: IfId) {
        let changed = self
            .iface_mut(br)
            .bridge_mut()
            .is_some_and(|b| std::mem::take(&mut b.carrier_check));
        if changed {
            self.link_changed(now, br);
        }
    }

    /// After a command changed a bond or team: events, timers, carrier.
    pub fn after_lag_change(&mut self, now: Instant, id: IfId) {
        self.sync_bond_mac(id);
        self.collect_bond(id);
        self.note_bond_timer(id);
        self.link_changed(now, id);
    }

    fn note_bond_timer(&mut self, id: IfId) {
        let t = self
            .get(id)
            .and_then(Iface::lag)
            .and_then(|b| b.poll_timeout());
        self.note_timer(t);
    }

    /// A bond's address can change (its first member's, or the active
    /// member's with `fail_over_mac active`) and its speed (the sum of its
    /// members'): the device follows.
    fn sync_bond_mac(&mut self, id: IfId) {
        let Some(f) = self.ifaces[id.slot()].as_mut() else {
            return;
        };
        let Some((m, (speed, duplex))) = f.lag().map(|b| (b.mac(), b.speed())) else {
            return;
        };
        f.speed_mbps = speed;
        f.full_duplex = duplex;
        if f.mac != m {
            f.mac = m;
            self.macs_changed = true;
        }
    }

    /// Some device's address changed since the last call (a front end
    /// that exposes devices updates its TAPs).
    pub fn take_macs_changed(&mut self) -> bool {
        std::mem::take(&mut self.macs_changed)
    }

    /// Moves a bond's events into the log.
    fn collect_bond(&mut self, id: IfId) {
        let Some(b) = self.ifaces[id.slot()].as_mut().and_then(Iface::lag_mut) else {
            return;
        };
        let evs = b.take_events();
        if evs.is_empty() {
            return;
        }
        let Some(log) = self.events.as_mut() else {
            return;
        };
        for e in evs {
            log.push_back(match e {
                LagEvent::SlaveLink { slave, link } => Event::BondLink {
                    bond: id,
                    slave,
                    link,
                },
                LagEvent::Active { slave } => Event::BondActive { bond: id, slave },
                LagEvent::Distributing { slave, on } => Event::BondDistributing {
                    bond: id,
                    slave,
                    on,
                },
                LagEvent::Carrier { .. } => continue,
            });
        }
    }

    /// `bond_enslave`.
    fn bond_enslave(&mut self, now: Instant, dev: IfId, bond: IfId) -> Result<u16, GraphError> {
        let d = self.iface(dev);
        if d.master == Some(bond) {
            return Ok(d.port_no);
        }
        let up = self.oper_up(dev);
        let d = self.iface(dev);
        let new = NewSlave {
            ifid: dev,
            name: &d.name.clone(),
            perm_mac: d.mac,
            carrier: up,
            speed_mbps: d.speed_mbps,
            full_duplex: d.full_duplex,
        };
        let bif = self.iface_mut(bond);
        let b = bif.lag_mut().expect("checked");
        let no = b.add_member(now, new);
        self.sync_bond_mac(bond);
        let d = self.iface_mut(dev);
        d.master = Some(bond);
        d.port_no = no;
        d.oper = up;
        self.collect_bond(bond);
        self.note_bond_timer(bond);
        self.link_changed(now, bond);
        Ok(no)
    }

    /// A frame a bond member received (`bond_handle_frame`).
    #[allow(clippy::too_many_arguments)]
    fn bond_input(
        &mut self,
        now: Instant,
        bond: IfId,
        slave: IfId,
        no: u16,
        mut frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        let Some(b) = self.iface_mut(bond).lag_mut() else {
            return;
        };
        let r = b.rx(now, no, &mut frame);
        match r {
            Rx::Consumed => {
                self.taken += 1;
                self.sync_bond_mac(bond);
                self.send_bond_tx(now, bond, out);
                self.collect_bond(bond);
                self.link_changed(now, bond);
                self.note_bond_timer(bond);
            }
            Rx::Exact => {
                // Only listeners on the member itself get it (a kernel
                // netdev's own stack has it already); the bond does not,
                // and says so, whatever the member is.
                dropped!(
                    self,
                    self.iface_mut(slave).counters,
                    DropReason::InactiveSlave
                );
            }
            Rx::Pass => self.rx(now, bond, frame, out, depth + 1),
        }
    }

    /// `bond_start_xmit`.
    fn bond_xmit(
        &mut self,
        now: Instant,
        bond: IfId,
        mut frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        let (mut ids, mut ifids) = std::mem::take(&mut self.bond_scratch);
        ids.clear();
        ifids.clear();
        let bif = self.iface_mut(bond);
        let b: &mut dyn Lag = match &mut bif.kind {
            Kind::Bond(b) => &mut **b,
            Kind::Team(t) => &mut **t,
            _ => unreachable!("a bond or team"),
        };
        match b.xmit(now, &mut frame, &mut ids) {
            Err(r) => dropped!(self, bif.counters, r),
            Ok(()) => {
                ifids.extend(ids.iter().filter_map(|id| b.member(*id)));
                for ifid in &ifids {
                    self.tx(now, *ifid, frame, out, depth + 1);
                }
            }
        }
        self.bond_scratch = (ids, ifids);
    }

    /// Sends what a bond queued (LACPDUs, marker responses, gratuitous
    /// ARPs) on its members.
    fn send_bond_tx(&mut self, now: Instant, bond: IfId, out: &mut Outputs) {
        let Some(b) = self.iface_mut(bond).lag_mut() else {
            return;
        };
        let tx = b.take_tx();
        for (id, bytes) in &tx {
            let Some(ifid) = self.iface(bond).lag().and_then(|b| b.member(*id)) else {
                continue;
            };
            if let Ok(f) = Frame::parse(bytes, None, Offload::NONE) {
                self.tx(now, ifid, f, out, 1);
            }
        }
    }

    fn note_bridge_timer(&mut self, br: IfId) {
        let t = self
            .get(br)
            .and_then(Iface::bridge)
            .and_then(Bridge::poll_timeout);
        self.note_timer(t);
    }

    /// Sends the IGMP/MLD queries a bridge's querier queued: out a port
    /// as they are (`br_dev_queue_push_xmit`), or up to the bridge's own
    /// host (`netif_rx`).
    fn send_queries(&mut self, now: Instant, br: IfId, out: &mut Outputs) {
        let Some(b) = self.iface_mut(br).bridge_mut() else {
            return;
        };
        if b.mc.tx.is_empty() {
            return;
        }
        let tx = std::mem::take(&mut b.mc.tx);
        for (no, bytes) in &tx {
            let Ok(f) = Frame::parse(bytes, None, Offload::NONE) else {
                continue;
            };
            match no {
                Some(no) => {
                    let ifid = self
                        .iface(br)
                        .bridge()
                        .and_then(|b| b.port(*no))
                        .map(|p| p.ifid);
                    if let Some(ifid) = ifid {
                        self.tx(now, ifid, f, out, 1);
                    }
                }
                None => self.bridge_local_in(now, br, f, None, out, 1),
            }
        }
    }

    /// Puts the BPDUs a bridge queued on its ports, each from its port's
    /// address, and its multicast queries.
    fn send_bpdus(&mut self, now: Instant, br: IfId, out: &mut Outputs) {
        self.send_queries(now, br, out);
        let Some(b) = self.iface_mut(br).bridge_mut() else {
            return;
        };
        if b.stp.tx.is_empty() {
            return;
        }
        let tx = std::mem::take(&mut b.stp.tx);
        for (no, bpdu) in &tx {
            let Some(ifid) = self
                .iface(br)
                .bridge()
                .and_then(|b| b.port(*no))
                .map(|p| p.ifid)
            else {
                continue;
            };
            let bytes = bpdu.frame(self.iface(ifid).mac);
            if let Ok(f) = Frame::parse(&bytes, None, Offload::NONE) {
                self.tx(now, ifid, f, out, 1);
            }
        }
    }

    /// Entry point of the data path: one frame read from attachment `attach`.
    /// `stripped` is a VLAN tag that the kernel removed into metadata. The
    /// frame's fate is counted on the device ([`crate::counters::Fates`]).
    pub fn receive(
        &mut self,
        now: Instant,
        attach: AttachId,
        data: &[u8],
        stripped: Option<Tag>,
        offload: Offload,
        out: &mut Outputs,
    ) {
        let Some(id) = self.by_attach(attach) else {
            return;
        };
        let before = self.fate_mark(out);
        self.receive_on(now, id, data, stripped, offload, out);
        self.fate(id, before, out);
    }

    /// A frame the daemon read from `attach` and refused before the graph
    /// saw it (cut short by its buffer, or no room in a ring).
    pub fn refused_read(&mut self, attach: AttachId, reason: DropReason, n: u64) {
        if let Some(id) = self.by_attach(attach) {
            let c = &mut self.iface_mut(id).counters;
            c.drops[reason as usize] += n;
            c.fates.read += n;
            c.fates.dropped += n;
        }
    }

    fn fate_mark(&self, out: &Outputs) -> (u64, u64, u64) {
        (out.sent, self.taken, self.drops_seen)
    }

    /// Counts what became of the frame received on `id` since `before`.
    fn fate(&mut self, id: IfId, before: (u64, u64, u64), out: &Outputs) {
        let (sent, taken, drops) = (out.sent, self.taken, self.drops_seen);
        let Some(f) = self.get_mut(id) else { return };
        let t = &mut f.counters.fates;
        t.read += 1;
        if sent > before.0 {
            t.forwarded += 1;
        } else if taken > before.1 {
            t.delivered += 1;
        } else if drops > before.2 {
            t.dropped += 1;
        } else {
            t.unaccounted += 1;
        }
    }

    fn receive_on(
        &mut self,
        now: Instant,
        id: IfId,
        data: &[u8],
        stripped: Option<Tag>,
        offload: Offload,
        out: &mut Outputs,
    ) {
        let iface = self.iface_mut(id);
        let frame = match Frame::parse(data, stripped, offload) {
            Ok(f) => f,
            Err(r) => return dropped!(self, iface.counters, r),
        };
        let role = iface.attach.map(|a| a.role);
        if role == Some(Role::Host) {
            return self.tx(now, id, frame, out, 0);
        }
        let max = iface.mtu as usize + ETH_HLEN + VLAN_HLEN * frame.tags().len();
        if !frame.offload.is_gso() && frame.len() > max {
            return dropped!(self, iface.counters, DropReason::Oversize);
        }
        if iface.faults.as_ref().is_some_and(|f| f.active()) {
            return self.faulty(now, id, crate::netdevsim::Dir::Rx, frame, out);
        }
        self.rx(now, id, frame, out, 0);
    }

    /// A frame crossing a netdevsim port with fault injection on: dropped,
    /// corrupted, held back, or passed, by the port's dice.
    fn faulty(
        &mut self,
        now: Instant,
        id: IfId,
        dir: crate::netdevsim::Dir,
        frame: Frame<'_>,
        out: &mut Outputs,
    ) {
        use crate::netdevsim::Verdict;
        let iface = self.iface_mut(id);
        let f = iface.faults.as_mut().expect("checked");
        match f.decide(frame.len()) {
            Verdict::Pass => self.cross(now, id, dir, frame, out),
            Verdict::Drop => dropped!(self, iface.counters, DropReason::Injected),
            Verdict::Corrupt(at) => {
                let mut buf = Vec::with_capacity(frame.len());
                let o = frame.emit(&mut buf);
                if let Some(b) = buf.get_mut(at) {
                    *b ^= 0xff;
                }
                match Frame::parse(&buf, None, o) {
                    Ok(c) => self.cross(now, id, dir, c, out),
                    Err(r) => dropped!(self, self.iface_mut(id).counters, r),
                }
            }
            Verdict::Delay => {
                let mut buf = Vec::with_capacity(frame.len());
                let o = frame.emit(&mut buf);
                f.hold(now, dir, buf, o);
                let t = f.poll_timeout();
                self.taken += 1;
                self.note_timer(t);
            }
        }
    }

    /// The rest of a port crossing: up the graph (rx) or onto the wire (tx).
    fn cross(
        &mut self,
        now: Instant,
        id: IfId,
        dir: crate::netdevsim::Dir,
        frame: Frame<'_>,
        out: &mut Outputs,
    ) {
        match dir {
            crate::netdevsim::Dir::Rx => self.rx(now, id, frame, out, 0),
            crate::netdevsim::Dir::Tx => {
                let iface = self.iface_mut(id);
                if let Some(a) = iface.attach.filter(|a| a.role == Role::Wire) {
                    if let Err(r) = out.push(a.id, &frame) {
                        dropped!(self, iface.counters, r);
                    }
                }
            }
        }
    }

    /// A UDP datagram the underlay of VXLAN device `id` received from
    /// `src` (`vxlan_rcv`): the header checked, the inner source learned,
    /// the inner frame received by the device.
    pub fn receive_underlay(
        &mut self,
        now: Instant,
        id: IfId,
        src: core::net::IpAddr,
        payload: &[u8],
        out: &mut Outputs,
    ) {
        let Some(f) = self.get(id) else { return };
        if !matches!(f.kind, Kind::Vxlan(_)) {
            return;
        }
        let before = self.fate_mark(out);
        self.underlay_in(now, id, src, payload, out);
        self.fate(id, before, out);
    }

    /// A run of datagrams that arrived together on the underlay for VXLAN
    /// device `id` (one UDP GRO read): where their inner frames are one
    /// TCP flow's segments in order, they go on as one segmentation-offload
    /// frame (`wire::gro::coalesce`, as the kernel's GRO would merge them),
    /// the rest one by one as [`Graph::receive_underlay`] takes them.
    pub fn receive_underlay_run(
        &mut self,
        now: Instant,
        id: IfId,
        src: core::net::IpAddr,
        run: &[&[u8]],
        out: &mut Outputs,
    ) {
        let Some(f) = self.get(id) else { return };
        if !matches!(f.kind, Kind::Vxlan(_)) {
            return;
        }
        let before = self.fate_mark(out);
        // Each datagram's VNI and inner frame, read once (`None`: not
        // VXLAN; `underlay_in` counts it).
        let mut vnis: SmallVec<[Option<u32>; 64]> = SmallVec::with_capacity(run.len());
        let mut inner: SmallVec<[&[u8]; 64]> = SmallVec::with_capacity(run.len());
        for d in run {
            let p = crate::wire::vxlan::parse(d).ok();
            vnis.push(p.map(|(v, _)| v));
            inner.push(p.map_or(&[][..], |(_, f)| f));
        }
        let mut i = 0;
        while i < run.len() {
            // The stretch of one VNI from i on.
            let mut end = i;
            while end < run.len() && vnis[end].is_some() && vnis[end] == vnis[i] {
                end += 1;
            }
            match (vnis[i], crate::wire::gro::coalesce(&inner[i..end])) {
                (Some(vni), Some((merged, off, n))) => {
                    match Frame::parse(&merged, None, off) {
                        Ok(frame) => self.underlay_frame(now, id, src, vni, frame, out),
                        Err(r) => dropped!(self, self.iface_mut(id).counters, r),
                    }
                    i += n;
                }
                _ => {
                    self.underlay_in(now, id, src, run[i], out);
                    i += 1;
                }
            }
        }
        self.fate(id, before, out);
    }

    fn underlay_in(
        &mut self,
        now: Instant,
        id: IfId,
        src: core::net::IpAddr,
        payload: &[u8],
        out: &mut Outputs,
    ) {
        let iface = self.iface_mut(id);
        let Ok((vni, inner)) = crate::wire::vxlan::parse(payload) else {
            return dropped!(self, iface.counters, DropReason::BadVxlan);
        };
        let frame = match Frame::parse(inner, None, Offload::NONE) {
            Ok(f) => f,
            Err(r) => return dropped!(self, iface.counters, r),
        };
        self.underlay_frame(now, id, src, vni, frame, out);
    }

    /// A decapsulated frame into VXLAN device `id` (`vxlan_rcv`).
    fn underlay_frame(
        &mut self,
        now: Instant,
        id: IfId,
        src: core::net::IpAddr,
        vni: u32,
        frame: Frame<'_>,
        out: &mut Outputs,
    ) {
        let iface = self.iface_mut(id);
        let Kind::Vxlan(v) = &mut iface.kind else {
            unreachable!("checked")
        };
        if let Err(r) = v.rx(now, src, vni, &frame) {
            return dropped!(self, iface.counters, r);
        }
        let t = v.poll_timeout();
        self.note_timer(t);
        self.rx(now, id, frame, out, 0);
    }

    /// `vxlan_xmit`: the copies go to the underlay as datagrams; a TCP
    /// segmentation-offload frame is segmented first (no NIC will).
    fn vxlan_xmit(
        &mut self,
        now: Instant,
        id: IfId,
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        if frame.offload.is_gso() {
            match crate::wire::gso::segment(&frame) {
                Ok(segs) => {
                    for s in &segs {
                        if let Ok(f) = Frame::parse(s, None, Offload::NONE) {
                            self.vxlan_xmit_one(now, id, f, out, depth);
                        }
                    }
                }
                Err(_) => dropped!(self, self.iface_mut(id).counters, DropReason::GsoEncap),
            }
            return;
        }
        self.vxlan_xmit_one(now, id, frame, out, depth);
    }

    fn vxlan_xmit_one(
        &mut self,
        now: Instant,
        id: IfId,
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        let Kind::Vxlan(v) = &mut self.iface_mut(id).kind else {
            unreachable!("a VXLAN device")
        };
        match v.reduce(&frame) {
            crate::vxlan::Reduced::Pass => {}
            // Answered, or not and said so (`vxlan_ip_miss`): the kernel
            // consumes the request either way.
            crate::vxlan::Reduced::Consumed => {
                self.taken += 1;
                return;
            }
            crate::vxlan::Reduced::Miss(ip) => {
                self.taken += 1;
                return self.log_event(Event::VxlanMiss {
                    dev: id,
                    miss: crate::vxlan::Miss::L3(ip),
                });
            }
            crate::vxlan::Reduced::Reply(r) => {
                // `netif_rx`: the device receives the answer.
                if let Ok(f) = Frame::parse(&r, None, Offload::NONE) {
                    self.rx(now, id, f, out, depth + 1);
                }
                return;
            }
        }
        let mut encaps = std::mem::take(&mut self.vxlan_scratch);
        encaps.clear();
        let iface = self.iface_mut(id);
        let Kind::Vxlan(v) = &mut iface.kind else {
            unreachable!("a VXLAN device")
        };
        match v.xmit(now, &frame, &mut encaps) {
            Err(r) => {
                let miss = v.l2_miss(&frame);
                dropped!(self, iface.counters, r);
                if let Some(miss) = miss {
                    self.log_event(Event::VxlanMiss { dev: id, miss });
                }
            }
            Ok(()) => {
                let mut refused = 0;
                for e in &encaps {
                    let hdr = crate::wire::vxlan::header(e.vni);
                    if let Err(r) = out.push_datagram(id, *e, hdr, &frame) {
                        iface.counters.drop(r);
                        refused += 1;
                    }
                }
                self.drops_seen += refused;
            }
        }
        self.vxlan_scratch = encaps;
    }

    fn upper_for(&self, id: IfId, frame: &Frame<'_>) -> Option<IfId> {
        let tag = frame.outer_tag()?;
        self.iface(id)
            .vlan_uppers
            .iter()
            .find(|(tpid, vid, _)| *tpid == tag.tpid && *vid == tag.vid())
            .map(|u| u.2)
    }

    /// What every device does with a frame going through it either way:
    /// refuse it past the depth limit or while down, else count it and copy
    /// it for a capture. False when the frame stops here.
    fn pass(
        &mut self,
        id: IfId,
        dir: Direction,
        frame: &Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) -> bool {
        let iface = self.iface_mut(id);
        if depth >= MAX_DEPTH {
            dropped!(self, iface.counters, DropReason::LoopDepth);
            return false;
        }
        if !iface.admin_up {
            dropped!(self, iface.counters, DropReason::AdminDown);
            return false;
        }
        match dir {
            Direction::Rx => iface.counters.rx(frame.len()),
            Direction::Tx => iface.counters.tx(frame.len()),
        }
        if iface.capture {
            out.capture(id, dir, frame);
        }
        true
    }

    /// A device received `frame` from below.
    fn rx(
        &mut self,
        now: Instant,
        id: IfId,
        mut frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        if !self.pass(id, Direction::Rx, &frame, out, depth) {
            return;
        }
        if let Some(up) = self.upper_for(id, &frame) {
            frame.pop_tag();
            return self.rx(now, up, frame, out, depth + 1);
        }
        if !self.iface(id).macvlans.is_empty() && !self.macvlan_rx(now, id, frame, out, depth) {
            return;
        }
        if !self.iface(id).ipvlans.is_empty() && !self.ipvlan_rx(now, id, frame, out, depth) {
            return;
        }
        let iface = self.iface(id);
        if let Some(br) = iface.master {
            let no = iface.port_no;
            if self.iface(br).lag().is_some() {
                return self.bond_input(now, br, id, no, frame, out, depth);
            }
            return self.bridge_input(now, br, id, no, frame, out, depth);
        }
        self.deliver_host(id, frame, out);
    }

    /// The device's own stack takes `frame`: its host attachment, or the
    /// kernel itself for an external device (which has the frame already).
    fn deliver_host(&mut self, id: IfId, frame: Frame<'_>, out: &mut Outputs) {
        let iface = self.iface_mut(id);
        match (iface.attach, &iface.kind) {
            (Some(a), _) if a.role == Role::Host => {
                if let Err(r) = out.push(a.id, &frame) {
                    dropped!(self, iface.counters, r);
                }
            }
            // The kernel's own stack has the frame already.
            (_, Kind::External) => self.taken += 1,
            _ => dropped!(self, iface.counters, DropReason::Unclaimed),
        }
    }

    /// A device sends `frame` down.
    fn tx(
        &mut self,
        now: Instant,
        id: IfId,
        mut frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        if !self.pass(id, Direction::Tx, &frame, out, depth) {
            return;
        }
        let iface = self.iface_mut(id);
        match &iface.kind {
            Kind::External | Kind::Tap | Kind::Netdevsim => match iface.attach {
                Some(_) if !iface.carrier => dropped!(self, iface.counters, DropReason::NoCarrier),
                Some(a)
                    if a.role == Role::Wire
                        && iface.faults.as_ref().is_some_and(|f| f.active()) =>
                {
                    self.faulty(now, id, crate::netdevsim::Dir::Tx, frame, out)
                }
                Some(a) if a.role == Role::Wire => {
                    if let Err(r) = out.push(a.id, &frame) {
                        dropped!(self, iface.counters, r);
                    }
                }
                _ => dropped!(self, iface.counters, DropReason::Unclaimed),
            },
            Kind::Vlan(v) => {
                let (tag, lower) = (v.tag(), iface.link.expect("a VLAN device has a lower"));
                if !frame.push_tag(tag) {
                    return dropped!(self, iface.counters, DropReason::LoopDepth);
                }
                self.tx(now, lower, frame, out, depth + 1);
            }
            Kind::Bridge(_) => self.bridge_xmit(now, id, frame, out, depth),
            Kind::Bond(_) | Kind::Team(_) => self.bond_xmit(now, id, frame, out, depth),
            Kind::Vxlan(_) => self.vxlan_xmit(now, id, frame, out, depth),
            Kind::Macvlan(_) => self.macvlan_xmit(now, id, frame, out, depth),
            Kind::Ipvlan(_) => self.ipvlan_xmit(now, id, frame, out, depth),
            Kind::Veth { peer } => {
                let Some(p) = *peer else {
                    return dropped!(self, iface.counters, DropReason::NoCarrier);
                };
                let pf = self.iface(p);
                if !pf.admin_up {
                    return dropped!(self, self.iface_mut(id).counters, DropReason::NoCarrier);
                }
                // `is_skb_forwardable`: the peer's MTU, its header, a tag.
                if frame.len() > pf.mtu as usize + 14 + 4 && !frame.offload.is_gso() {
                    return dropped!(self, self.iface_mut(id).counters, DropReason::Oversize);
                }
                self.rx(now, p, frame, out, depth + 1);
            }
            // Counted by `pass`, then gone (`dummy_xmit`, `nlmon_xmit`).
            Kind::Dummy | Kind::Nlmon => {}
        }
    }

    fn ipvlan_slaves(&self, master: IfId) -> SmallVec<[crate::ipvlan::Slave<'_>; 8]> {
        self.iface(master)
            .ipvlans
            .iter()
            .filter_map(|s| {
                let f = self.iface(*s);
                match &f.kind {
                    Kind::Ipvlan(v) => Some(crate::ipvlan::Slave {
                        id: *s,
                        up: f.admin_up,
                        dev: v,
                    }),
                    _ => None,
                }
            })
            .collect()
    }

    /// `ipvlan_handle_frame` on `master`; true when the master keeps it.
    fn ipvlan_rx(
        &mut self,
        now: Instant,
        master: IfId,
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) -> bool {
        let mut to = Targets::new();
        let pass = {
            let slaves = self.ipvlan_slaves(master);
            crate::ipvlan::rx_plan(&slaves, self.iface(master).mac, &frame, &mut to)
        };
        for t in to {
            self.rx(now, t, frame, out, depth + 1);
        }
        pass
    }

    /// `ipvlan_queue_xmit`.
    fn ipvlan_xmit(
        &mut self,
        now: Instant,
        id: IfId,
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        let master = self.iface(id).link.expect("an ipvlan has its master");
        let (learned, plan) = {
            let slaves = self.ipvlan_slaves(master);
            (
                crate::ipvlan::learn(&slaves, id, &frame),
                crate::ipvlan::tx_plan(&slaves, id, &frame),
            )
        };
        if let Kind::Ipvlan(v) = &mut self.iface_mut(id).kind {
            if let Some(a) = learned {
                v.addrs.push(a);
            }
            if frame.dst().is_multicast() {
                v.mc.snoop(frame.ethertype(), frame.body());
            }
        }
        for t in &plan.local {
            self.rx(now, *t, frame, out, depth + 1);
        }
        if plan.master_stack {
            self.deliver_host(master, frame, out);
        }
        if plan.wire {
            self.tx(now, master, frame, out, depth + 1);
        }
        if plan.route {
            if frame.offload.is_gso() {
                match crate::wire::gso::segment(&frame) {
                    Ok(segs) => {
                        for s in &segs {
                            if let Ok(f) = Frame::parse(s, None, Offload::NONE) {
                                if let Err(r) = out.push_routed(master, &f) {
                                    dropped!(self, self.iface_mut(id).counters, r);
                                }
                            }
                        }
                    }
                    Err(_) => dropped!(self, self.iface_mut(id).counters, DropReason::GsoEncap),
                }
            } else if let Err(r) = out.push_routed(master, &frame) {
                dropped!(self, self.iface_mut(id).counters, r);
            }
        }
        if plan == crate::ipvlan::TxPlan::default() {
            dropped!(self, self.iface_mut(id).counters, DropReason::NoRoute);
        }
    }

    /// The macvlans of `lower` as the handler sees them.
    fn macvlan_siblings(&self, lower: IfId) -> SmallVec<[crate::macvlan::Sibling<'_>; 8]> {
        self.iface(lower)
            .macvlans
            .iter()
            .filter_map(|s| {
                let f = self.iface(*s);
                match &f.kind {
                    Kind::Macvlan(m) => Some(crate::macvlan::Sibling {
                        id: *s,
                        mac: f.mac,
                        up: f.admin_up,
                        dev: m,
                    }),
                    _ => None,
                }
            })
            .collect()
    }

    /// `macvlan_handle_frame` on `lower`: copies to the macvlans the mode
    /// rules name; true when the lower keeps the frame as well.
    fn macvlan_rx(
        &mut self,
        now: Instant,
        lower: IfId,
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) -> bool {
        let mut to = Targets::new();
        let pass = {
            let sibs = self.macvlan_siblings(lower);
            crate::macvlan::rx_plan(&sibs, frame.dst(), frame.src(), &mut to)
        };
        if to.is_empty() && !pass {
            // A down macvlan's frame (the kernel frees it).
            dropped!(self, self.iface_mut(lower).counters, DropReason::AdminDown);
        }
        for t in to {
            self.rx(now, t, frame, out, depth + 1);
        }
        pass
    }

    /// `macvlan_queue_xmit`.
    fn macvlan_xmit(
        &mut self,
        now: Instant,
        id: IfId,
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        if frame.dst().is_multicast() {
            // Reports are multicast: learn the groups the host joins.
            if let Kind::Macvlan(m) = &mut self.iface_mut(id).kind {
                m.mc.snoop(frame.ethertype(), frame.body());
            }
        }
        let f = self.iface(id);
        let (Kind::Macvlan(m), Some(lower)) = (&f.kind, f.link) else {
            unreachable!("a macvlan has its lower")
        };
        let plan = {
            let sibs = self.macvlan_siblings(lower);
            crate::macvlan::tx_plan(&sibs, id, m.mode, frame.dst())
        };
        for t in plan.local {
            self.rx(now, t, frame, out, depth + 1);
        }
        if plan.via_lower {
            self.rx(now, lower, frame, out, depth + 1);
        }
        if plan.wire {
            self.tx(now, lower, frame, out, depth + 1);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn bridge_input(
        &mut self,
        now: Instant,
        br: IfId,
        port: IfId,
        no: u16,
        mut frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        let mut egress = std::mem::take(&mut self.scratch[depth]);
        egress.clear();
        let bif = self.iface_mut(br);
        let res = if bif.admin_up {
            let b = bif.bridge_mut().expect("master is a bridge");
            let r = b.input(now, no, &mut frame, &mut egress);
            let t = b.poll_timeout();
            self.note_timer(t);
            r
        } else {
            Err(DropReason::PortState)
        };
        match res {
            Err(r) => dropped!(self, self.iface_mut(port).counters, r),
            Ok(host) => {
                if egress.is_empty() && host == Host::No {
                    dropped!(self, self.iface_mut(port).counters, DropReason::NoRoute);
                }
                if host == Host::Consumed {
                    self.taken += 1;
                    self.send_bpdus(now, br, out);
                    self.bridge_carrier(now, br);
                }
                self.send_egress(now, &egress, frame, out, depth);
                if let Host::Yes(tag) = host {
                    self.bridge_local_in(now, br, frame, tag, out, depth);
                }
            }
        }
        self.scratch[depth] = egress;
        self.send_queries(now, br, out);
        if self.events.is_some() {
            self.collect(br);
        }
    }

    fn bridge_xmit(
        &mut self,
        now: Instant,
        br: IfId,
        mut frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        let mut egress = std::mem::take(&mut self.scratch[depth]);
        egress.clear();
        let bif = self.iface_mut(br);
        let res = bif
            .bridge_mut()
            .expect("a bridge")
            .xmit(now, &mut frame, &mut egress);
        match res {
            Err(r) => dropped!(self, bif.counters, r),
            Ok(()) => {
                if egress.is_empty() {
                    dropped!(self, bif.counters, DropReason::NoRoute);
                }
                self.send_egress(now, &egress, frame, out, depth);
            }
        }
        self.scratch[depth] = egress;
        // A report or leave from the host may have armed timers or queued a
        // query.
        let t = self.iface(br).bridge().and_then(Bridge::poll_timeout);
        self.note_timer(t);
        self.send_queries(now, br, out);
    }

    fn send_egress(
        &mut self,
        now: Instant,
        egress: &[Egress],
        frame: Frame<'_>,
        out: &mut Outputs,
        depth: usize,
    ) {
        for e in egress {
            let mut f = frame;
            if let Some(t) = e.push {
                if !f.push_tag(t) {
                    dropped!(self, self.iface_mut(e.ifid).counters, DropReason::LoopDepth);
                    continue;
                }
            }
            self.tx(now, e.ifid, f, out, depth + 1);
        }
    }

    /// `br_pass_frame_up`: the bridge device receives the frame.
    fn bridge_local_in(
        &mut self,
        now: Instant,
        br: IfId,
        mut frame: Frame<'_>,
        tag: Option<Tag>,
        out: &mut Outputs,
        depth: usize,
    ) {
        if let Some(t) = tag {
            if !frame.push_tag(t) {
                return dropped!(self, self.iface_mut(br).counters, DropReason::LoopDepth);
            }
        }
        let bif = self.iface_mut(br);
        bif.counters.rx(frame.len());
        if bif.capture {
            out.capture(br, Direction::Rx, &frame);
        }
        if let Some(up) = self.upper_for(br, &frame) {
            frame.pop_tag();
            // The bridge device is the VLAN device's lower: a normal rx.
            return self.rx(now, up, frame, out, depth + 1);
        }
        self.deliver_host(br, frame, out);
    }
}
