//! The link-aggregation layer bond and team share: the [`Lag`] trait the
//! interface graph drives both through, the types they both speak
//! ([`NewSlave`], [`Link`], [`Rx`], [`LagEvent`]), and the announcer
//! ([`announce`]) that tells the network where the host's addresses and
//! groups are after a failover. LACP, which both run, is [`crate::lacp`];
//! the frames they build are in [`crate::wire::host`]. The graph moves
//! frames; the aggregate says which members a frame leaves by, what a
//! member's frame becomes, and what control frames it sends.

pub mod announce;

use crate::bond::Bond;
use crate::counters::DropReason;
use crate::graph::IfId;
use crate::team::Team;
use crate::time::Instant;
use crate::wire::{Frame, Mac};

/// A member's link as the aggregate's monitor sees it (`slave->link`;
/// a team's link watchers report up and down only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Link {
    Up,
    Fail,
    #[default]
    Down,
    Back,
}

impl Link {
    /// `bond_slave_link_status`.
    pub fn name(self) -> &'static str {
        match self {
            Link::Up => "up",
            Link::Fail => "going down",
            Link::Down => "down",
            Link::Back => "going back",
        }
    }
}

/// A device joining a bond or team, as the graph knows it.
#[derive(Clone, Copy, Debug)]
pub struct NewSlave<'a> {
    pub ifid: IfId,
    pub name: &'a str,
    pub perm_mac: Mac,
    /// Running with carrier.
    pub carrier: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// What a bond or team did, for the simulator's timeline and the events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LagEvent {
    SlaveLink { slave: IfId, link: Link },
    Distributing { slave: IfId, on: bool },
    Active { slave: Option<IfId> },
    Carrier { up: bool },
}

/// A frame a member received, as the bond or team takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rx {
    /// Up to the bond device.
    Pass,
    /// LACP took it.
    Consumed,
    /// Stays on the member (inactive slave; link-local frames pass there).
    Exact,
}

pub trait Lag {
    fn mac(&self) -> Mac;
    fn carrier(&self) -> bool;
    fn is_up(&self) -> bool;
    fn set_up(&mut self, now: Instant, up: bool);
    /// A device joins: its id within the aggregate.
    fn add_member(&mut self, now: Instant, new: NewSlave<'_>) -> u16;
    fn remove_member(&mut self, now: Instant, id: u16);
    fn member(&self, id: u16) -> Option<IfId>;
    fn members(&self) -> Vec<IfId>;
    /// A member's carrier, speed or duplex changed.
    fn member_dev(&mut self, now: Instant, id: u16, up: bool, speed_mbps: u32, full_duplex: bool);
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    /// The members a frame the aggregate device sends leaves by.
    fn xmit(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        out: &mut Vec<u16>,
    ) -> Result<(), DropReason>;
    /// What becomes of a frame member `id` received.
    fn rx(&mut self, now: Instant, id: u16, frame: &mut Frame<'_>) -> Rx;
    /// Control frames to send: (member id, frame).
    fn take_tx(&mut self) -> Vec<(u16, Vec<u8>)>;
    fn take_events(&mut self) -> Vec<LagEvent>;
    fn set_record(&mut self, on: bool);
    /// What ethtool reports for the device: the sum of the speeds of the
    /// members that carry traffic, full duplex if any is.
    fn speed(&self) -> (u32, bool);
}

impl Lag for Bond {
    fn mac(&self) -> Mac {
        self.mac
    }
    fn carrier(&self) -> bool {
        self.carrier
    }
    fn is_up(&self) -> bool {
        self.up
    }
    fn set_up(&mut self, now: Instant, up: bool) {
        Bond::set_up(self, now, up);
    }
    fn add_member(&mut self, now: Instant, new: NewSlave<'_>) -> u16 {
        self.add_slave(now, new)
    }
    fn remove_member(&mut self, now: Instant, id: u16) {
        self.remove_slave(now, id);
    }
    fn member(&self, id: u16) -> Option<IfId> {
        self.slave(id).map(|s| s.ifid)
    }
    fn members(&self) -> Vec<IfId> {
        self.slaves.iter().map(|s| s.ifid).collect()
    }
    fn member_dev(&mut self, _now: Instant, id: u16, up: bool, speed: u32, duplex: bool) {
        // The MII monitor sees it at its next tick.
        self.set_slave_dev(id, up, speed, duplex);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Bond::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Bond::handle_timeout(self, now);
    }
    fn xmit(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        out: &mut Vec<u16>,
    ) -> Result<(), DropReason> {
        Bond::xmit(self, now, frame, out)
    }
    fn rx(&mut self, now: Instant, id: u16, frame: &mut Frame<'_>) -> Rx {
        Bond::rx(self, now, id, frame)
    }
    fn take_tx(&mut self) -> Vec<(u16, Vec<u8>)> {
        std::mem::take(&mut self.tx)
    }
    fn take_events(&mut self) -> Vec<LagEvent> {
        std::mem::take(&mut self.events)
    }
    fn set_record(&mut self, on: bool) {
        self.record = on;
        self.events.clear();
    }
    /// `bond_ethtool_get_link_ksettings`: members that are up (in
    /// active-backup the active one).
    fn speed(&self) -> (u32, bool) {
        let ab = self.cfg.mode == crate::bond::Mode::ActiveBackup;
        self.slaves
            .iter()
            .filter(|s| s.dev_up && s.link == crate::bond::Link::Up)
            .filter(|s| !ab || Some(s.id) == self.curr_active)
            .fold((0, false), |(sp, d), s| {
                (sp + s.speed_mbps, d || s.full_duplex)
            })
    }
}

impl Lag for Team {
    fn mac(&self) -> Mac {
        self.mac
    }
    fn carrier(&self) -> bool {
        self.carrier
    }
    fn is_up(&self) -> bool {
        self.up
    }
    fn set_up(&mut self, now: Instant, up: bool) {
        Team::set_up(self, now, up);
    }
    fn add_member(&mut self, now: Instant, new: NewSlave<'_>) -> u16 {
        self.add_port(now, new)
    }
    fn remove_member(&mut self, now: Instant, id: u16) {
        self.remove_port(now, id);
    }
    fn member(&self, id: u16) -> Option<IfId> {
        self.port(id).map(|p| p.ifid)
    }
    fn members(&self) -> Vec<IfId> {
        self.ports.iter().map(|p| p.ifid).collect()
    }
    fn member_dev(&mut self, now: Instant, id: u16, up: bool, speed: u32, duplex: bool) {
        self.set_port_dev(now, id, up, speed, duplex);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Team::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Team::handle_timeout(self, now);
    }
    fn xmit(
        &mut self,
        now: Instant,
        frame: &mut Frame<'_>,
        out: &mut Vec<u16>,
    ) -> Result<(), DropReason> {
        Team::xmit(self, now, frame, out)
    }
    fn rx(&mut self, now: Instant, id: u16, frame: &mut Frame<'_>) -> Rx {
        Team::rx(self, now, id, frame)
    }
    fn take_tx(&mut self) -> Vec<(u16, Vec<u8>)> {
        std::mem::take(&mut self.tx)
    }
    fn take_events(&mut self) -> Vec<LagEvent> {
        std::mem::take(&mut self.events)
    }
    fn set_record(&mut self, on: bool) {
        self.record = on;
        self.events.clear();
    }
    /// `team_ethtool_get_link_ksettings`: the ports that can transmit.
    fn speed(&self) -> (u32, bool) {
        self.ports
            .iter()
            .filter(|p| p.enabled && p.link_up)
            .fold((0, false), |(sp, d), p| {
                (sp + p.speed_mbps, d || p.full_duplex)
            })
    }
}
