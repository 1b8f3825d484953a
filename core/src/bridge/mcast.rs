//! IGMP and MLD snooping: the kernel's `br_multicast.c` with the multicast
//! halves of `br_input.c` and `br_forward.c`. BEHAVIOUR.md §1.6.
//!
//! The bridge reads every IGMP and MLD message its ports (and its own
//! device) send through it, keeps a multicast database (MDB) of which ports
//! have members of which group, learns where the multicast routers are
//! (ports that queries, PIM hellos or router advertisements came from), and
//! can be the querier itself. Multicast data to a group it knows, or to a
//! group it does not know when a querier exists, goes only to member and
//! router ports; otherwise it floods as before.
//!
//! What is the kernel's here, named by its functions:
//! - receive: `br_multicast_ipv4_rcv`/`_ipv6_rcv`: a malformed message is
//!   dropped under its name (`igmp_*`/`mld_*`); v1/v2 reports and MLDv1
//!   reports add a port group with the membership timer; v3/MLDv2 reports
//!   with the bridge at IGMPv2/MLDv1 (the default) count as v2 joins, and
//!   an INCLUDE or TO_INCLUDE record with no source as a leave; data that is
//!   not link-local goes to routers only (`mrouters_only`).
//! - leave: `br_multicast_leave_group`: fast leave deletes at once; with no
//!   other querier, the port group's timer drops to last_member_count ×
//!   last_member_interval, and as querier the bridge sends a group-specific
//!   query out the port.
//! - queries: `br_ip4_multicast_query`: a general query elects the querier
//!   (lowest address; 0.0.0.0 always loses to a real one), starts the
//!   other-querier timer and marks the port a router; a group-specific query
//!   lowers the group's timers to its max response × last_member_count.
//! - the own querier (`mcast_querier 1`): startup queries every
//!   startup_query_interval, then every query_interval, on every port and
//!   to the bridge's own host; silent while another querier is heard.
//! - forwarding: `br_handle_frame_finish`/`br_dev_xmit` pick the MDB entry
//!   (or routers only), but only when a querier exists (`br_multicast_querier_exists`:
//!   our own or another, past the delay after it appeared); then
//!   `br_multicast_flood` sends to member and router ports, ignoring
//!   `mcast_flood`.
//!
//! Where patchbay differs (ARCHITECTURE.md lists it):
//! - the bridge device's addresses are not known to the core: IPv4 queries
//!   go from 0.0.0.0 (the kernel's choice without `mcast_query_use_ifaddr`,
//!   or with it and no address), IPv6 queries from the EUI-64 link-local of
//!   the bridge's MAC (the kernel's default address once the bridge is up).
//! - per-VLAN contexts (`mcast_vlan_snooping`), EHT and
//!   `mcast_stats_enabled` are not emulated yet; the commands say so.
//!
//! Changes of the MDB and of the router ports are announced as the kernel's
//! `br_mdb_notify` and `br_rtr_notify` announce them ([`MdbNote`],
//! `FdbEvent::MdbRouter`), for `patchbay monitor` and nlmon.

use super::{Bridge, Egress, FdbEvent, PortState};
use crate::counters::DropReason;
use crate::fdb::PortNo;
use crate::time::Instant;
use crate::wire::mcast as mcast_wire;
use crate::wire::{igmp, mld, Frame, Mac};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use hashbrown::HashMap;
use std::time::Duration;

/// `mcast_router` values (`MDB_RTR_TYPE_*`).
pub const ROUTER_DISABLED: u8 = 0;
pub const ROUTER_TEMP_QUERY: u8 = 1;
pub const ROUTER_PERM: u8 = 2;
pub const ROUTER_TEMP: u8 = 3;

/// The bridge's multicast options with the kernel's defaults
/// (`br_multicast_ctx_init`, `br_multicast_init`; HZ 250 makes the startup
/// query interval 31.248 s, as `ip -d link show` prints it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McastConfig {
    pub snooping: bool,
    pub vlan_snooping: bool,
    pub router: u8,
    pub query_use_ifaddr: bool,
    pub querier: bool,
    pub hash_elasticity: u32,
    pub hash_max: u32,
    pub last_member_count: u32,
    pub startup_query_count: u32,
    pub last_member_interval: Duration,
    pub membership_interval: Duration,
    pub querier_interval: Duration,
    pub query_interval: Duration,
    pub query_response_interval: Duration,
    pub startup_query_interval: Duration,
    pub stats_enabled: bool,
    pub igmp_version: u8,
    pub mld_version: u8,
}

impl Default for McastConfig {
    fn default() -> Self {
        McastConfig {
            snooping: true,
            vlan_snooping: false,
            router: ROUTER_TEMP_QUERY,
            query_use_ifaddr: false,
            querier: false,
            hash_elasticity: 16,
            hash_max: 4096,
            last_member_count: 2,
            startup_query_count: 2,
            last_member_interval: Duration::from_secs(1),
            membership_interval: Duration::from_secs(260),
            querier_interval: Duration::from_secs(255),
            query_interval: Duration::from_secs(125),
            query_response_interval: Duration::from_secs(10),
            startup_query_interval: Duration::from_millis(31_248),
            stats_enabled: false,
            igmp_version: 2,
            mld_version: 1,
        }
    }
}

/// The smallest query and startup query interval the kernel keeps
/// (`BR_MULTICAST_QUERY_INTVL_MIN`): a smaller one is raised to it.
pub const QUERY_INTERVAL_MIN: Duration = Duration::from_secs(1);

/// IGMP (IPv4) or MLD (IPv6): each has its own querier and router ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    V4 = 0,
    V6 = 1,
}

impl Proto {
    pub fn of(a: IpAddr) -> Proto {
        match a {
            IpAddr::V4(_) => Proto::V4,
            IpAddr::V6(_) => Proto::V6,
        }
    }
    const BOTH: [Proto; 2] = [Proto::V4, Proto::V6];
}

/// An MDB key: a group in a VLAN (VID 0 without VLAN filtering), and for
/// an (S,G) entry its source (IGMPv3/MLDv2 source tracking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MdbKey {
    pub vid: u16,
    pub group: IpAddr,
    pub src: Option<IpAddr>,
}

impl MdbKey {
    pub fn star_g(vid: u16, group: IpAddr) -> MdbKey {
        MdbKey {
            vid,
            group,
            src: None,
        }
    }
}

/// The most sources a port group tracks (`PG_SRC_ENT_LIMIT`).
pub const SRC_LIMIT: usize = 32;

/// A source of a port group (`net_bridge_group_src`): forwarded while its
/// timer runs, blocked (EXCLUDE mode's excluded set) without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSrc {
    pub addr: IpAddr,
    pub timer: Option<Instant>,
    /// Group-and-source-specific queries still to send for it.
    pub rexmit_left: u32,
    /// Marks while a record is applied (`BR_SGRP_F_SEND`/`_DELETE`).
    send: bool,
    delete: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterMode {
    Include,
    Exclude,
}

impl FilterMode {
    pub fn name(self) -> &'static str {
        match self {
            FilterMode::Include => "include",
            FilterMode::Exclude => "exclude",
        }
    }
}

/// Who made a port group: snooping (`proto kernel`) or `bridge mdb add`
/// (`proto static`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Kernel,
    Static,
}

/// One port's membership of a group (`net_bridge_port_group`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortGroup {
    pub port: PortNo,
    pub permanent: bool,
    pub origin: Origin,
    pub filter_mode: FilterMode,
    /// When the membership ends, if nothing refreshes it.
    pub timer: Option<Instant>,
    /// Deleted by fast leave (`MDB_PG_FLAGS_FAST_LEAVE`, `bridge -d mdb`).
    pub fast_leave: bool,
    /// A *,G entry's sources (IGMPv3/MLDv2).
    pub srcs: Vec<GroupSrc>,
    /// An (S,G) port group of an excluded source (`MDB_PG_FLAGS_BLOCKED`).
    pub blocked: bool,
    /// An (S,G) port group that stands for a *,G EXCLUDE port
    /// (`MDB_PG_FLAGS_STAR_EXCL`).
    pub star_excl: bool,
    /// Retransmission of group(-and-source)-specific queries.
    pub rexmit: Option<Instant>,
    pub grp_rexmit_left: u32,
}

impl PortGroup {
    fn new(port: PortNo, origin: Origin, filter_mode: FilterMode) -> PortGroup {
        PortGroup {
            port,
            permanent: false,
            origin,
            filter_mode,
            timer: None,
            fast_leave: false,
            srcs: Vec::new(),
            blocked: false,
            star_excl: false,
            rexmit: None,
            grp_rexmit_left: 0,
        }
    }
}

/// A group's entry: its member ports and whether the bridge's own host is
/// a member (`host_joined`, shown as port = the bridge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdbEntry {
    pub host_joined: bool,
    /// The host membership's timer.
    pub timer: Option<Instant>,
    /// In port-number order.
    pub ports: Vec<PortGroup>,
    /// Creation order: `bridge mdb show` lists the newest first.
    pub seq: u64,
}

/// An own-query timer (`bridge_mcast_own_query`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnQuery {
    pub timer: Option<Instant>,
    pub startup_sent: u32,
}

/// The querier state of one protocol (`bridge_mcast_querier` with the
/// other-querier and own-query timers and the bridge's router timer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuerierState {
    /// The elected querier's address (the unspecified address: none heard,
    /// or ourselves without an address).
    pub addr: IpAddr,
    /// The port it was heard on; `None` for ourselves or none.
    pub port: Option<PortNo>,
    /// Another querier was heard (`other_query.timer`): runs out after
    /// querier_interval without its queries.
    pub other_timer: Option<Instant>,
    /// Snooping acts only after this (`other_query.delay_time`): the
    /// response time of the first query, so members can answer it.
    pub delay_until: Option<Instant>,
    /// The bridge's own query to its host.
    pub own: OwnQuery,
    /// The bridge's host is a router (queries it sent itself).
    pub router_timer: Option<Instant>,
}

impl QuerierState {
    fn new(p: Proto) -> Self {
        QuerierState {
            addr: unspecified(p),
            port: None,
            other_timer: None,
            delay_until: None,
            own: OwnQuery::default(),
            router_timer: None,
        }
    }
}

fn unspecified(p: Proto) -> IpAddr {
    match p {
        Proto::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Proto::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// `MDB_FLAGS_FAST_LEAVE`: a port group deleted by fast leave.
pub const MDB_FLAGS_FAST_LEAVE: u8 = 2;
/// `MDB_FLAGS_STAR_EXCL`: an (S,G) port group added by a *,G EXCLUDE port.
pub const MDB_FLAGS_STAR_EXCL: u8 = 4;
/// `MDB_FLAGS_BLOCKED`: an (S,G) port group of an excluded source.
pub const MDB_FLAGS_BLOCKED: u8 = 8;

/// A change of the MDB as the kernel announces it (`br_mdb_notify`,
/// RTM_NEWMDB/RTM_DELMDB): a port group added, changed or deleted, or the
/// bridge's host joining or leaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MdbNote {
    pub key: MdbKey,
    /// The port; `None` for the bridge's own host.
    pub port: Option<PortNo>,
    pub permanent: bool,
    /// `MDB_FLAGS_*`.
    pub flags: u8,
    /// Who made it (`MDBA_MDB_EATTR_RTPROT`); `None` for the host.
    pub origin: Option<Origin>,
    /// The timer's remaining time in centiseconds when it was announced
    /// (`br_timer_value`: 0 for a new learned group, whose timer starts
    /// after the announcement).
    pub timer_cs: u32,
    /// The filter mode, where the bridge tracks sources
    /// (`MDBA_MDB_EATTR_GROUP_MODE`).
    pub mode: Option<FilterMode>,
    pub added: bool,
}

impl PortGroup {
    /// Its `MDB_FLAGS_*`.
    pub fn flags(&self) -> u8 {
        let mut f = 0;
        if self.fast_leave {
            f |= MDB_FLAGS_FAST_LEAVE;
        }
        if self.star_excl {
            f |= MDB_FLAGS_STAR_EXCL;
        }
        if self.blocked {
            f |= MDB_FLAGS_BLOCKED;
        }
        f
    }
}

/// A port's multicast state (`net_bridge_mcast_port`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMcast {
    /// `mcast_router` 0-3.
    pub router: u8,
    /// `mcast_fast_leave` (`BR_MULTICAST_FAST_LEAVE`).
    pub fast_leave: bool,
    pub v: [PortProto; 2],
    /// Announced as a router port (`br_rtr_notify`): on either router
    /// list.
    pub announced_router: bool,
}

impl Default for PortMcast {
    fn default() -> Self {
        PortMcast {
            router: ROUTER_TEMP_QUERY,
            fast_leave: false,
            v: [PortProto::default(); 2],
            announced_router: false,
        }
    }
}

/// A port's state for one protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortProto {
    pub own: OwnQuery,
    /// On the router list (`ip4_rlist`/`ip6_rlist` hashed).
    pub is_router: bool,
    pub router_timer: Option<Instant>,
}

/// What the snooping made of one frame (`BR_INPUT_SKB_CB`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Snooped {
    /// IGMP or MLD: never looked up in the MDB.
    igmp: bool,
    /// Goes to router ports only (when a querier exists).
    mrouters_only: bool,
    /// The IP destination and source (nothing for other frames).
    dst: Option<IpAddr>,
    src: Option<IpAddr>,
}

/// The bridge's multicast snooping state.
#[derive(Clone, Debug)]
pub struct Mcast {
    pub cfg: McastConfig,
    pub mdb: HashMap<MdbKey, MdbEntry>,
    pub q: [QuerierState; 2],
    /// Queries to send: out a port, or (`None`) up to the bridge's host.
    pub tx: Vec<(Option<PortNo>, Vec<u8>)>,
    /// Snooping was turned off because the MDB reached `mcast_hash_max`.
    pub hash_max_reached: bool,
    seq: u64,
    /// No timer is due before this (a lower bound; recomputed when
    /// timers run).
    next: Option<Instant>,
    /// The time of the last input, for the timers announcements carry.
    now: Instant,
}

impl Default for Mcast {
    fn default() -> Self {
        Mcast {
            cfg: McastConfig::default(),
            mdb: HashMap::new(),
            q: [QuerierState::new(Proto::V4), QuerierState::new(Proto::V6)],
            tx: Vec::new(),
            hash_max_reached: false,
            seq: 0,
            next: None,
            now: Instant::ZERO,
        }
    }
}

impl Mcast {
    fn arm(&mut self, t: Instant) -> Option<Instant> {
        self.next = Some(self.next.map_or(t, |n| n.min(t)));
        Some(t)
    }

    /// `br_multicast_querier_exists`: our own querier, or another heard,
    /// and past the delay since it appeared.
    pub fn querier_exists(&self, p: Proto, now: Instant) -> bool {
        let q = &self.q[p as usize];
        q.delay_until.is_none_or(|d| now > d) && (self.cfg.querier || q.other_timer.is_some())
    }

    /// `br_multicast_is_router` for the bridge's own host.
    fn host_is_router(&self, p: Proto) -> bool {
        match self.cfg.router {
            ROUTER_PERM => true,
            ROUTER_TEMP_QUERY => self.q[p as usize].router_timer.is_some(),
            _ => false,
        }
    }

    /// last_member_count × last_member_interval (`br_multicast_lmqt`).
    fn lmqt(&self) -> Duration {
        self.cfg.last_member_interval * self.cfg.last_member_count
    }

    /// The time of the last input the snooping saw (what the timers of
    /// announcements are counted from).
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Entries in `bridge mdb show` order (newest first).
    pub fn entries(&self) -> Vec<(&MdbKey, &MdbEntry)> {
        let mut v: Vec<_> = self.mdb.iter().collect();
        v.sort_by_key(|(_, e)| std::cmp::Reverse(e.seq));
        v
    }
}

/// What is left of timer `t` at `now` in centiseconds, as the kernel's
/// `br_timer_value` reports it (0 for none or one that has run out).
pub fn timer_cs(now: Instant, t: Option<Instant>) -> u32 {
    t.map_or(0, |t| {
        u32::try_from(t.saturating_duration_since(now).as_millis() / 10).unwrap_or(u32::MAX)
    })
}

/// 224.0.0.0/24: never snooped, always flooded (`ipv4_is_local_multicast`).
fn v4_local(a: Ipv4Addr) -> bool {
    a.octets()[..3] == [224, 0, 0]
}

/// ff02::1 (`ipv6_addr_is_ll_all_nodes`).
fn v6_all_nodes(a: Ipv6Addr) -> bool {
    a.octets() == mld::ALL_NODES
}

/// Groups the kernel keeps out of the MDB.
pub fn unsnooped(group: IpAddr) -> bool {
    match group {
        IpAddr::V4(a) => v4_local(a),
        IpAddr::V6(a) => v6_all_nodes(a),
    }
}

fn ip_mc_mac(dst: IpAddr) -> Mac {
    match dst {
        IpAddr::V4(a) => {
            let o = a.octets();
            Mac([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
        }
    }
}

fn igmp_drop(e: igmp::IgmpError) -> DropReason {
    use igmp::IgmpError as E;
    match e {
        E::BadIpHeader => DropReason::IgmpBadIpHeader,
        E::BadIpChecksum => DropReason::IgmpBadIpChecksum,
        E::Truncated => DropReason::IgmpTruncated,
        E::BadChecksum => DropReason::IgmpBadChecksum,
        E::BadQueryLength => DropReason::IgmpBadQueryLength,
        E::GeneralQueryNotToAllHosts => DropReason::IgmpGeneralQueryNotToAllHosts,
        E::SourcesOverrun => DropReason::IgmpSourcesOverrun,
    }
}

fn mld_drop(e: mld::MldError) -> DropReason {
    use mld::MldError as E;
    match e {
        E::BadIpHeader => DropReason::MldBadIpHeader,
        E::BadExtensionHeader => DropReason::MldBadExtensionHeader,
        E::Truncated => DropReason::MldTruncated,
        E::BadChecksum => DropReason::MldBadChecksum,
        E::QueryNotLinkLocal => DropReason::MldQueryNotLinkLocal,
        E::BadQueryLength => DropReason::MldBadQueryLength,
        E::GeneralQueryNotToAllNodes => DropReason::MldGeneralQueryNotToAllNodes,
        E::SourcesOverrun => DropReason::MldSourcesOverrun,
    }
}

/// Why `bridge mdb add/del` refused (the kernel's extack messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdbError(pub String);

impl Bridge {
    fn mc_port_ok(&self, port: Option<PortNo>) -> bool {
        port.is_none_or(|no| {
            self.port(no)
                .is_some_and(|p| p.state != PortState::Disabled)
        })
    }

    /// `br_multicast_rcv`: reads an IGMP/MLD message, or classifies data.
    /// `port` is `None` for a frame the bridge device sends.
    pub(super) fn mc_rcv(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        frame: &Frame<'_>,
        vid: u16,
    ) -> Result<Snooped, DropReason> {
        if !self.mc.cfg.snooping || !frame.tags().is_empty() || frame.body().len() < 2 {
            return Ok(Snooped::default());
        }
        self.mc.now = now;
        let ip = &frame.body()[2..];
        match frame.ethertype() {
            0x0800 => self.mc_ipv4_rcv(now, port, ip, vid),
            0x86dd => self.mc_ipv6_rcv(now, port, ip, vid),
            _ => Ok(Snooped::default()),
        }
    }

    fn mc_ipv4_rcv(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        ip: &[u8],
        vid: u16,
    ) -> Result<Snooped, DropReason> {
        let pkt = igmp::parse(ip).map_err(igmp_drop)?;
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let mut s = Snooped {
            dst: Some(IpAddr::V4(dst)),
            src: Some(IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]))),
            ..Snooped::default()
        };
        let Some(pkt) = pkt else {
            // -ENOMSG: data, or an IGMP type snooping does not read.
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if !v4_local(dst) {
                s.mrouters_only = true;
            } else if dst == Ipv4Addr::new(224, 0, 0, 13) {
                // A PIMv2 hello marks its port a router (`br_multicast_pim`).
                if ip[9] == 103 && ip.get(ihl) == Some(&0x20) {
                    self.mc_mark_router(now, Proto::V4, port);
                }
            } else if dst == Ipv4Addr::new(224, 0, 0, 106)
                && ip[9] == 2
                && ip.get(ihl) == Some(&0x30)
            {
                // A multicast router advertisement (RFC 4286).
                self.mc_mark_router(now, Proto::V4, port);
            }
            return Ok(s);
        };
        s.igmp = true;
        let group = |g: [u8; 4]| MdbKey::star_g(vid, IpAddr::V4(Ipv4Addr::from(g)));
        match pkt.msg {
            igmp::Message::Report { group: g, .. } => {
                s.mrouters_only = true;
                self.mc_add_group(now, port, group(g), FilterMode::Exclude)?;
            }
            igmp::Message::V3Report { records } => {
                let ip = |a: [u8; 4]| IpAddr::V4(a.into());
                let bad = |e: mcast_wire::Overrun| igmp_drop(e.into());
                self.mc_records(now, port, vid, records, ip, bad)?;
            }
            igmp::Message::Leave { group: g } => self.mc_leave_group(now, port, group(g)),
            igmp::Message::Query {
                version,
                group: g,
                max_resp,
                suppress,
                sources,
                ..
            } => {
                // v1 (code 0): 10 s and a general query; v3: at least one
                // jiffy; a v3 query with sources is for source tracking.
                let (g, delay) = match version {
                    1 => ([0; 4], Duration::from_secs(10)),
                    2 => (g, Duration::from_millis(u64::from(max_resp) * 100)),
                    _ => {
                        if !sources.is_empty()
                            || (self.mc.cfg.igmp_version == 3 && g != [0; 4] && suppress)
                        {
                            return Ok(s);
                        }
                        let d = Duration::from_millis(u64::from(max_resp) * 100);
                        (g, d.max(Duration::from_millis(4)))
                    }
                };
                let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
                self.mc_query(
                    now,
                    port,
                    Proto::V4,
                    src,
                    (g != [0; 4]).then(|| group(g)),
                    delay,
                );
            }
        }
        Ok(s)
    }

    fn mc_ipv6_rcv(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        ip: &[u8],
        vid: u16,
    ) -> Result<Snooped, DropReason> {
        let pkt = mld::parse(ip).map_err(mld_drop)?;
        let dst: [u8; 16] = ip[24..40].try_into().expect("a checked IPv6 header");
        let dst = Ipv6Addr::from(dst);
        let src: [u8; 16] = ip[8..24].try_into().expect("a checked IPv6 header");
        let mut s = Snooped {
            dst: Some(IpAddr::V6(dst)),
            src: Some(IpAddr::V6(Ipv6Addr::from(src))),
            ..Snooped::default()
        };
        let Some(pkt) = pkt else {
            s.mrouters_only = !v6_all_nodes(dst);
            return Ok(s);
        };
        s.igmp = true;
        let group = |g: [u8; 16]| MdbKey::star_g(vid, IpAddr::V6(Ipv6Addr::from(g)));
        match pkt.msg {
            mld::Message::Report { group: g } => {
                s.mrouters_only = true;
                self.mc_add_group(now, port, group(g), FilterMode::Exclude)?;
            }
            mld::Message::V2Report { records } => {
                let ip = |a: [u8; 16]| IpAddr::V6(a.into());
                let bad = |e: mcast_wire::Overrun| mld_drop(e.into());
                self.mc_records(now, port, vid, records, ip, bad)?;
            }
            mld::Message::Done { group: g } => self.mc_leave_group(now, port, group(g)),
            mld::Message::Query {
                version,
                group: g,
                max_resp,
                suppress,
                sources,
                ..
            } => {
                let ms = Duration::from_millis(u64::from(max_resp));
                // v1: a zero delay means no group (and no general query);
                // v2: a query with sources is for source tracking.
                let g = match version {
                    1 => (!ms.is_zero()).then_some(g),
                    _ => sources.is_empty().then_some(g),
                };
                if version == 2
                    && self.mc.cfg.mld_version == 2
                    && g.is_some_and(|g| g != [0; 16])
                    && suppress
                {
                    return Ok(s);
                }
                let delay = if version == 1 {
                    ms
                } else {
                    ms.max(Duration::from_millis(4))
                };
                let src = IpAddr::V6(Ipv6Addr::from(pkt.src));
                match g {
                    Some(g) if g == [0; 16] => {
                        self.mc_query(now, port, Proto::V6, src, None, delay)
                    }
                    Some(g) => self.mc_query(now, port, Proto::V6, src, Some(group(g)), delay),
                    None => {}
                }
            }
        }
        Ok(s)
    }

    /// A v3 report's or MLDv2 report's records, one by one as the kernel
    /// applies them: a record that runs past the message drops the frame
    /// after the records before it took effect.
    fn mc_records<const A: usize>(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        vid: u16,
        records: mcast_wire::Records<'_, A>,
        ip: impl Fn([u8; A]) -> IpAddr,
        bad: impl Fn(mcast_wire::Overrun) -> DropReason,
    ) -> Result<(), DropReason> {
        for r in records {
            let r = r.map_err(&bad)?;
            let srcs: Vec<IpAddr> = r.sources.iter().map(&ip).collect();
            self.mc_record(now, port, MdbKey::star_g(vid, ip(r.group)), r.kind, &srcs)?;
        }
        Ok(())
    }

    /// Whether the bridge tracks sources for `p`: `mcast_igmp_version 3`
    /// or `mcast_mld_version 2` (`br_multicast_should_handle_mode`).
    pub fn mc_v3(&self, p: Proto) -> bool {
        match p {
            Proto::V4 => self.mc.cfg.igmp_version == 3,
            Proto::V6 => self.mc.cfg.mld_version == 2,
        }
    }

    /// One record of an IGMPv3 or MLDv2 report
    /// (`br_ip4_multicast_igmp3_report`, `br_ip6_multicast_mld2_report`):
    /// at v2/MLDv1 a whole-group join or (IS_IN/TO_IN of nothing) leave; at
    /// v3/MLDv2 RFC 3376's table for the port group's filter mode.
    fn mc_record(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        key: MdbKey,
        kind: u8,
        srcs: &[IpAddr],
    ) -> Result<(), DropReason> {
        if !(1..=6).contains(&kind) {
            return Ok(());
        }
        let v3 = self.mc_v3(Proto::of(key.group));
        if srcs.is_empty() && (kind == 1 || kind == 3) {
            if port.is_none() || !v3 {
                self.mc_leave_group(now, port, key);
                return Ok(());
            }
        } else {
            let mode = if v3 {
                FilterMode::Include
            } else {
                FilterMode::Exclude
            };
            self.mc_add_group(now, port, key, mode)?;
        }
        let Some(no) = port else { return Ok(()) };
        if !v3 || !self.mc_port_ok(port) || self.mc_pg(key, no).is_none_or(|g| g.permanent) {
            return Ok(());
        }
        let seen = |g: &PortGroup| {
            let mut a: Vec<IpAddr> = g.srcs.iter().map(|x| x.addr).collect();
            a.sort();
            (g.filter_mode, a)
        };
        let before = self.mc_pg(key, no).map(seen);
        match kind {
            1 | 5 => self.mc_isinc_allow(now, key, no, srcs),
            2 => self.mc_isexc(now, key, no, srcs),
            3 => self.mc_toin(now, key, no, srcs),
            4 => self.mc_toex(now, key, no, srcs),
            _ => self.mc_block(now, key, no, srcs),
        }
        // `if (changed) br_mdb_notify(...)`: a new mode or source set.
        if self.mc_pg(key, no).map(seen) != before {
            self.mc_note(key, port, true);
        }
        self.mc_rebuild_sg(key.vid, key.group);
        Ok(())
    }

    /// Announces (`br_mdb_notify`) the state of `key`'s port group on
    /// `port`, or with `None` the host's membership; nothing when the
    /// bridge records no events or there is no such member.
    fn mc_note(&mut self, key: MdbKey, port: Option<PortNo>, added: bool) {
        if !self.record {
            return;
        }
        let Some(e) = self.mc.mdb.get(&key) else {
            return;
        };
        let now = self.mc.now;
        let cs = |t: Option<Instant>| timer_cs(now, t);
        let note = match port {
            None => MdbNote {
                key,
                port,
                permanent: false,
                flags: 0,
                origin: None,
                timer_cs: cs(e.timer),
                mode: None,
                added,
            },
            Some(no) => {
                let Some(g) = e.ports.iter().find(|g| g.port == no) else {
                    return;
                };
                MdbNote {
                    key,
                    port,
                    permanent: g.permanent,
                    flags: g.flags(),
                    origin: Some(g.origin),
                    timer_cs: cs(g.timer),
                    mode: self.mc_v3(Proto::of(key.group)).then_some(g.filter_mode),
                    added,
                }
            }
        };
        self.events.push(FdbEvent::Mdb(note));
    }

    /// Announces a port that joined or left the router lists
    /// (`br_rtr_notify`: only on the change from neither list to one, and
    /// back).
    fn mc_note_router(&mut self, no: PortNo) {
        let record = self.record;
        let Some(p) = self.port_mut(no) else { return };
        let router = p.mc.v.iter().any(|v| v.is_router);
        if router == std::mem::replace(&mut p.mc.announced_router, router) {
            return;
        }
        if record {
            self.events.push(FdbEvent::MdbRouter {
                port: no,
                added: router,
            });
        }
    }

    fn mc_pg(&self, key: MdbKey, no: PortNo) -> Option<&PortGroup> {
        self.mc.mdb.get(&key)?.ports.iter().find(|g| g.port == no)
    }

    fn mc_pg_mut(&mut self, key: MdbKey, no: PortNo) -> Option<&mut PortGroup> {
        self.mc
            .mdb
            .get_mut(&key)?
            .ports
            .iter_mut()
            .find(|g| g.port == no)
    }

    /// The source's index, made if need be (`br_multicast_new_group_src`:
    /// at most 32, never the unspecified or a multicast address).
    fn mc_src(pg: &mut PortGroup, a: IpAddr, make: bool) -> (Option<usize>, bool) {
        if let Some(i) = pg.srcs.iter().position(|x| x.addr == a) {
            return (Some(i), false);
        }
        if !make || pg.srcs.len() >= SRC_LIMIT || a.is_unspecified() || a.is_multicast() {
            return (None, false);
        }
        pg.srcs.push(GroupSrc {
            addr: a,
            timer: None,
            rexmit_left: 0,
            send: false,
            delete: false,
        });
        (Some(pg.srcs.len() - 1), true)
    }

    /// INCLUDE (A) IS_IN/ALLOW (B) → INCLUDE (A+B), (B)=GMI; EXCLUDE (X,Y)
    /// ALLOW (A) → EXCLUDE (X+A, Y-A), (A)=GMI.
    fn mc_isinc_allow(&mut self, now: Instant, key: MdbKey, no: PortNo, srcs: &[IpAddr]) {
        let t = self.mc.arm(now + self.mc.cfg.membership_interval);
        let pg = self.mc_pg_mut(key, no).expect("checked");
        for a in srcs {
            if let (Some(i), _) = Self::mc_src(pg, *a, true) {
                pg.srcs[i].timer = t;
            }
        }
    }

    /// INCLUDE (A) IS_EX (B) → EXCLUDE (A*B, B-A), (B-A)=0, delete (A-B);
    /// EXCLUDE (X,Y) IS_EX (A) → EXCLUDE (A-Y, Y*A), (A-X-Y)=GMI, delete
    /// (X-A) and (Y-A); group timer GMI.
    fn mc_isexc(&mut self, now: Instant, key: MdbKey, no: PortNo, srcs: &[IpAddr]) {
        let gmi = self.mc.arm(now + self.mc.cfg.membership_interval);
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let incl = pg.filter_mode == FilterMode::Include;
        pg.srcs.iter_mut().for_each(|x| x.delete = true);
        for a in srcs {
            match Self::mc_src(pg, *a, true) {
                (Some(i), false) => pg.srcs[i].delete = false,
                (Some(i), true) if !incl => pg.srcs[i].timer = gmi,
                _ => {}
            }
        }
        pg.srcs.retain(|x| !x.delete);
        pg.filter_mode = FilterMode::Exclude;
        pg.timer = gmi;
    }

    /// INCLUDE (A) TO_IN (B) → INCLUDE (A+B), (B)=GMI, Q(G,A-B);
    /// EXCLUDE (X,Y) TO_IN (A) → EXCLUDE (X+A, Y-A), (A)=GMI, Q(G,X-A), Q(G).
    fn mc_toin(&mut self, now: Instant, key: MdbKey, no: PortNo, srcs: &[IpAddr]) {
        let gmi = self.mc.arm(now + self.mc.cfg.membership_interval);
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let incl = pg.filter_mode == FilterMode::Include;
        let mut to_send = pg.srcs.len();
        pg.srcs
            .iter_mut()
            .for_each(|x| x.send = incl || x.timer.is_some());
        for a in srcs {
            if let (Some(i), new) = Self::mc_src(pg, *a, true) {
                let x = &mut pg.srcs[i];
                if !new && (incl || x.timer.is_some()) {
                    x.send = false;
                    to_send -= 1;
                }
                x.timer = gmi;
            }
        }
        if to_send > 0 {
            self.mc_query_marked(now, key, no);
        }
        if !incl {
            self.mc_group_query(now, key, no);
        }
    }

    /// INCLUDE (A) TO_EX (B) → EXCLUDE (A*B, B-A), (B-A)=0, delete (A-B),
    /// Q(G,A*B); EXCLUDE (X,Y) TO_EX (A) → EXCLUDE (A-Y, Y*A),
    /// (A-X-Y)=group timer, delete (X-A) and (Y-A), Q(G,A-Y); group timer GMI.
    fn mc_toex(&mut self, now: Instant, key: MdbKey, no: PortNo, srcs: &[IpAddr]) {
        let gmi = self.mc.arm(now + self.mc.cfg.membership_interval);
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let incl = pg.filter_mode == FilterMode::Include;
        let group_timer = pg.timer;
        pg.srcs.iter_mut().for_each(|x| {
            x.send = false;
            x.delete = true;
        });
        let mut to_send = 0;
        for a in srcs {
            if let (Some(i), new) = Self::mc_src(pg, *a, true) {
                let x = &mut pg.srcs[i];
                x.delete = false;
                if incl {
                    if !new {
                        x.send = true;
                        to_send += 1;
                    }
                } else {
                    if new {
                        x.timer = group_timer;
                    }
                    if x.timer.is_some() {
                        x.send = true;
                        to_send += 1;
                    }
                }
            }
        }
        pg.srcs.retain(|x| !x.delete);
        pg.filter_mode = FilterMode::Exclude;
        pg.timer = gmi;
        if to_send > 0 {
            self.mc_query_marked(now, key, no);
        }
    }

    /// INCLUDE (A) BLOCK (B) → INCLUDE (A), Q(G,A*B); EXCLUDE (X,Y) BLOCK
    /// (A) → EXCLUDE (X+(A-Y), Y), (A-X-Y)=group timer, Q(G,A-Y). An
    /// INCLUDE group left with no source goes.
    fn mc_block(&mut self, now: Instant, key: MdbKey, no: PortNo, srcs: &[IpAddr]) {
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let incl = pg.filter_mode == FilterMode::Include;
        let group_timer = pg.timer;
        pg.srcs.iter_mut().for_each(|x| x.send = false);
        let mut to_send = 0;
        for a in srcs {
            if let (Some(i), new) = Self::mc_src(pg, *a, !incl) {
                let x = &mut pg.srcs[i];
                if new {
                    x.timer = group_timer;
                }
                if incl || x.timer.is_some() {
                    x.send = true;
                    to_send += 1;
                }
            }
        }
        if to_send > 0 {
            self.mc_query_marked(now, key, no);
        }
        let pg = self.mc_pg(key, no).expect("checked");
        if pg.filter_mode == FilterMode::Include && pg.srcs.is_empty() {
            self.mc_del_pg(key, no);
        }
    }

    /// Whether we query now: our querier is on and no other is heard.
    fn mc_we_query(&self, p: Proto) -> bool {
        self.mc.cfg.querier && self.mc.q[p as usize].other_timer.is_none()
    }

    /// `__grp_src_query_marked_and_rexmit`: the marked sources' timers
    /// drop to the last member time and, as querier, a group-and-source
    /// query asks for them (sources still past it with the S flag, the
    /// rest without), retransmitted every last_member_interval.
    fn mc_query_marked(&mut self, now: Instant, key: MdbKey, no: PortNo) {
        let p = Proto::of(key.group);
        let ask = self.mc_we_query(p);
        let lmqt = now + self.mc.lmqt();
        let lmc = self.mc.cfg.last_member_count;
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let mut lowered = false;
        for x in &mut pg.srcs {
            if std::mem::take(&mut x.send) && x.timer.is_some_and(|t| t > lmqt) {
                if ask {
                    x.rexmit_left = lmc;
                }
                x.timer = Some(lmqt);
                lowered = true;
            }
        }
        if lowered {
            self.mc.arm(lmqt);
        }
        if !ask {
            return;
        }
        self.mc_send_src_query(now, key, no, true);
        self.mc_send_src_query(now, key, no, false);
        let lmi = now + self.mc.cfg.last_member_interval;
        let pg = self.mc_pg_mut(key, no).expect("checked");
        if pg.rexmit.is_none_or(|t| t > lmi) {
            pg.rexmit = Some(lmi);
            self.mc.arm(lmi);
        }
    }

    /// A group-and-source query for the sources whose timers are past
    /// (`over`, sent with the S flag) or within the last member time, each
    /// counted off its retransmissions; nothing when none. Whether some
    /// source still has retransmissions left.
    fn mc_send_src_query(&mut self, now: Instant, key: MdbKey, no: PortNo, over: bool) -> bool {
        let lmqt = now + self.mc.lmqt();
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let mut list = Vec::new();
        let mut again = false;
        for x in &mut pg.srcs {
            if x.timer.is_some_and(|t| t > lmqt) == over && x.rexmit_left > 0 {
                list.push(x.addr);
                x.rexmit_left -= 1;
                again |= x.rexmit_left > 0;
            }
        }
        if !list.is_empty() {
            let p = Proto::of(key.group);
            self.mc_query_to(p, Some(no), Some(key.group), Some(key.group), &list, over);
        }
        again
    }

    /// `__grp_send_query_and_rexmit`: a group-specific query (as querier,
    /// last_member_count of them), and an EXCLUDE group's timer drops to
    /// the last member time.
    fn mc_group_query(&mut self, now: Instant, key: MdbKey, no: PortNo) {
        let p = Proto::of(key.group);
        let lmi = now + self.mc.cfg.last_member_interval;
        let lmqt = now + self.mc.lmqt();
        let lmc = self.mc.cfg.last_member_count;
        if self.mc_we_query(p) {
            self.mc_query_to(p, Some(no), Some(key.group), Some(key.group), &[], false);
            let pg = self.mc_pg_mut(key, no).expect("checked");
            pg.grp_rexmit_left = lmc.saturating_sub(1);
            if pg.rexmit.is_none_or(|t| t > lmi) {
                pg.rexmit = Some(lmi);
            }
            self.mc.arm(lmi);
        }
        let pg = self.mc_pg_mut(key, no).expect("checked");
        if pg.filter_mode == FilterMode::Exclude && pg.timer.is_none_or(|t| t > lmqt) {
            pg.timer = Some(lmqt);
            self.mc.arm(lmqt);
        }
    }

    /// `br_multicast_port_group_rexmit`: the retransmissions due.
    fn mc_rexmit(&mut self, now: Instant, key: MdbKey, no: PortNo) {
        let p = Proto::of(key.group);
        if !self.mc_we_query(p) {
            return;
        }
        let pg = self.mc_pg_mut(key, no).expect("checked");
        let grp = pg.grp_rexmit_left > 0;
        if grp {
            pg.grp_rexmit_left -= 1;
            self.mc_query_to(p, Some(no), Some(key.group), Some(key.group), &[], true);
        }
        let again = self.mc_send_src_query(now, key, no, false);
        let lmi = now + self.mc.cfg.last_member_interval;
        let pg = self.mc_pg_mut(key, no).expect("checked");
        if pg.grp_rexmit_left > 0 || again {
            pg.rexmit = Some(lmi);
            self.mc.arm(lmi);
        }
    }

    /// The (S,G) entries of a group, made to say what its *,G port groups
    /// say (`br_multicast_fwd_src_handle`, `br_multicast_star_g_handle_mode`,
    /// `br_multicast_sg_add_exclude_ports`/`_del_exclude_ports`): a port
    /// with source S has (S,G) on it, blocked when S is excluded; a port in
    /// EXCLUDE mode is on every (S,G) of the group it has no word on
    /// (added by *,G exclude). Entries added with `bridge mdb add` stay.
    fn mc_rebuild_sg(&mut self, vid: u16, group: IpAddr) {
        let star = MdbKey::star_g(vid, group);
        let mut want: std::collections::BTreeMap<(IpAddr, PortNo), (bool, bool)> =
            std::collections::BTreeMap::new();
        let mut host = false;
        if let Some(e) = self.mc.mdb.get(&star) {
            host = e.host_joined;
            for pg in &e.ports {
                for x in &pg.srcs {
                    want.insert((x.addr, pg.port), (x.timer.is_none(), false));
                }
            }
            let all: std::collections::BTreeSet<IpAddr> = want.keys().map(|k| k.0).collect();
            for pg in e
                .ports
                .iter()
                .filter(|g| g.filter_mode == FilterMode::Exclude)
            {
                for a in &all {
                    want.entry((*a, pg.port)).or_insert((false, true));
                }
            }
        }
        let existing: Vec<MdbKey> = self
            .mc
            .mdb
            .keys()
            .filter(|k| k.vid == vid && k.group == group && k.src.is_some())
            .copied()
            .collect();
        for k in existing {
            let src = k.src.expect("an (S,G) key");
            let stale: Vec<PortNo> = self.mc.mdb[&k]
                .ports
                .iter()
                .filter(|g| g.origin != Origin::Static && !want.contains_key(&(src, g.port)))
                .map(|g| g.port)
                .collect();
            for no in &stale {
                self.mc_note(k, Some(*no), false);
            }
            let e = self.mc.mdb.get_mut(&k).expect("listed");
            e.ports.retain(|g| !stale.contains(&g.port));
            if e.ports.is_empty() {
                self.mc.mdb.remove(&k);
            }
        }
        for ((src, no), (blocked, star_excl)) in want {
            let k = MdbKey {
                vid,
                group,
                src: Some(src),
            };
            let Ok(e) = self.mc_new_group(k) else { return };
            e.host_joined = host;
            let changed = match e.ports.binary_search_by_key(&no, |g| g.port) {
                Ok(i) => {
                    let g = &mut e.ports[i];
                    let was = (g.blocked, g.star_excl);
                    if g.origin == Origin::Kernel {
                        g.blocked = blocked;
                        g.star_excl = star_excl;
                    }
                    was != (g.blocked, g.star_excl)
                }
                Err(i) => {
                    e.ports.insert(
                        i,
                        PortGroup {
                            blocked,
                            star_excl,
                            ..PortGroup::new(no, Origin::Kernel, FilterMode::Include)
                        },
                    );
                    true
                }
            };
            if changed {
                self.mc_note(k, Some(no), true);
            }
        }
    }

    /// `__br_multicast_add_group` for a v2/MLDv1 join (`igmpv2_mldv1`).
    fn mc_add_group(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        key: MdbKey,
        mode: FilterMode,
    ) -> Result<(), DropReason> {
        if unsnooped(key.group) || !self.mc_port_ok(port) {
            return Ok(());
        }
        let gmi = self.mc.cfg.membership_interval;
        let t = self.mc.arm(now + gmi);
        let e = self.mc_new_group(key)?;
        // A new member is announced before its timer starts.
        let new = match port {
            None => !std::mem::replace(&mut e.host_joined, true),
            Some(no) => match e.ports.binary_search_by_key(&no, |g| g.port) {
                Ok(_) => false,
                Err(i) => {
                    e.ports.insert(i, PortGroup::new(no, Origin::Kernel, mode));
                    true
                }
            },
        };
        if new {
            self.mc_note(key, port, true);
        }
        let e = self.mc.mdb.get_mut(&key).expect("made");
        match port {
            None => e.timer = t,
            Some(no) => {
                if mode == FilterMode::Exclude {
                    if let Some(g) = e.ports.iter_mut().find(|g| g.port == no) {
                        g.timer = t;
                    }
                }
            }
        }
        Ok(())
    }

    /// `br_multicast_new_group`: the entry, made if need be; past
    /// `mcast_hash_max` snooping turns itself off (`-E2BIG`).
    fn mc_new_group(&mut self, key: MdbKey) -> Result<&mut MdbEntry, DropReason> {
        if !self.mc.mdb.contains_key(&key) {
            if self.mc.mdb.len() >= self.mc.cfg.hash_max as usize {
                self.mc.cfg.snooping = false;
                self.mc.hash_max_reached = true;
                return Err(DropReason::MdbFull);
            }
            self.mc.seq += 1;
            let seq = self.mc.seq;
            self.mc.mdb.insert(
                key,
                MdbEntry {
                    host_joined: false,
                    timer: None,
                    ports: Vec::new(),
                    seq,
                },
            );
        }
        Ok(self.mc.mdb.get_mut(&key).expect("just made"))
    }

    /// Deletes a port group; the entry goes with its last member.
    fn mc_del_pg(&mut self, key: MdbKey, no: PortNo) {
        if !self.mc.mdb.contains_key(&key) {
            return;
        }
        self.mc_note(key, Some(no), false);
        let e = self.mc.mdb.get_mut(&key).expect("checked");
        let had_srcs = e.ports.iter().any(|g| g.port == no && !g.srcs.is_empty());
        e.ports.retain(|g| g.port != no);
        if e.ports.is_empty() && !e.host_joined {
            self.mc.mdb.remove(&key);
        }
        // (S,G) entries exist only under source tracking: at v2 there is
        // nothing to rebuild (and no O(MDB) scan per deleted group).
        if key.src.is_none() && (had_srcs || self.mc_v3(Proto::of(key.group))) {
            self.mc_rebuild_sg(key.vid, key.group);
        }
    }

    /// `br_multicast_leave_group`.
    fn mc_leave_group(&mut self, now: Instant, port: Option<PortNo>, key: MdbKey) {
        if unsnooped(key.group) || !self.mc_port_ok(port) || !self.mc.mdb.contains_key(&key) {
            return;
        }
        let p = Proto::of(key.group);
        if let Some(no) = port {
            if self.port(no).is_some_and(|pt| pt.mc.fast_leave) {
                if let Some(g) = self.mc_pg_mut(key, no).filter(|g| !g.permanent) {
                    g.fast_leave = true;
                    self.mc_del_pg(key, no);
                }
                return;
            }
        }
        if self.mc.q[p as usize].other_timer.is_some() {
            return;
        }
        let time = now + self.mc.lmqt();
        if self.mc.cfg.querier {
            self.mc_send_query(p, port, Some(key.group));
            let t = self.mc.arm(time);
            match port {
                Some(no) => {
                    if let Some(pt) = self.port_mut(no) {
                        pt.mc.v[p as usize].own.timer = t;
                    }
                }
                None => self.mc.q[p as usize].own.timer = t,
            }
        }
        let t = self.mc.arm(time);
        let e = self.mc.mdb.get_mut(&key).expect("checked");
        match port {
            None => {
                if e.host_joined && e.timer.is_none_or(|x| x > time) {
                    e.timer = t;
                }
            }
            Some(no) => {
                if let Some(g) = e.ports.iter_mut().find(|g| g.port == no) {
                    if g.timer.is_none_or(|x| x > time) {
                        g.timer = t;
                    }
                }
            }
        }
    }

    /// `br_ip4_multicast_query`/`br_ip6_multicast_query` after the checks:
    /// a general query (`group` none) or a group-specific one.
    fn mc_query(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        p: Proto,
        src: IpAddr,
        group: Option<MdbKey>,
        delay: Duration,
    ) {
        if !self.mc_port_ok(port) {
            return;
        }
        let Some(key) = group else {
            // `br_multicast_query_received`.
            if !self.mc_select_querier(p, port, src) {
                return;
            }
            let q = &mut self.mc.q[p as usize];
            if q.other_timer.is_none() {
                q.delay_until = Some(now + delay);
            }
            let t = now + self.mc.cfg.querier_interval;
            self.mc.q[p as usize].other_timer = self.mc.arm(t);
            self.mc_mark_router(now, p, port);
            return;
        };
        let delay = delay * self.mc.cfg.last_member_count;
        let time = now + delay;
        let v2 = match p {
            Proto::V4 => self.mc.cfg.igmp_version == 2,
            Proto::V6 => self.mc.cfg.mld_version == 1,
        };
        let t = self.mc.arm(time);
        let Some(e) = self.mc.mdb.get_mut(&key) else {
            return;
        };
        if e.host_joined && e.timer.is_none_or(|x| x > time) {
            e.timer = t;
        }
        for g in &mut e.ports {
            let lower = match g.timer {
                Some(x) => x > time,
                None => v2 || g.filter_mode == FilterMode::Exclude,
            };
            if lower {
                g.timer = t;
            }
        }
    }

    /// `br_multicast_select_querier`: the lowest address wins; an address
    /// is also taken when neither we nor another are querying.
    fn mc_select_querier(&mut self, p: Proto, port: Option<PortNo>, src: IpAddr) -> bool {
        let q = &mut self.mc.q[p as usize];
        let wins = match (src, q.addr) {
            (IpAddr::V4(s), IpAddr::V4(cur)) => cur.is_unspecified() || s <= cur,
            (IpAddr::V6(s), IpAddr::V6(cur)) => s <= cur,
            _ => false,
        };
        if wins || (q.own.timer.is_none() && q.other_timer.is_none()) {
            q.addr = src;
            q.port = port;
            return true;
        }
        false
    }

    /// `br_multicast_mark_router`: a query, PIM hello or router
    /// advertisement came in on `port` (`None`: from the bridge's host).
    fn mc_mark_router(&mut self, now: Instant, p: Proto, port: Option<PortNo>) {
        if !self.mc_port_ok(port) {
            return;
        }
        let t = now + self.mc.cfg.querier_interval;
        match port {
            None => {
                if self.mc.cfg.router == ROUTER_TEMP_QUERY {
                    self.mc.q[p as usize].router_timer = self.mc.arm(t);
                }
            }
            Some(no) => {
                let Some(router) = self.port(no).map(|pt| pt.mc.router) else {
                    return;
                };
                if router == ROUTER_DISABLED || router == ROUTER_PERM {
                    return;
                }
                let t = self.mc.arm(t);
                let pp = &mut self.port_mut(no).expect("checked").mc.v[p as usize];
                pp.is_router = true;
                pp.router_timer = t;
                self.mc_note_router(no);
            }
        }
    }

    /// Builds a query (`br_multicast_alloc_query`) of the bridge's version:
    /// general (`group` none, response interval) or group-specific (last
    /// member interval), to all hosts/nodes, and queues it out `port` or
    /// up to the host.
    fn mc_send_query(&mut self, p: Proto, port: Option<PortNo>, group: Option<IpAddr>) {
        self.mc_query_to(p, port, None, group, &[], false);
    }

    /// A query to `dst` (all hosts/nodes when `None`), for `group` (general
    /// when `None`), with `sources` and the S flag: v3/MLDv2 at those
    /// versions.
    fn mc_query_to(
        &mut self,
        p: Proto,
        port: Option<PortNo>,
        dst: Option<IpAddr>,
        group: Option<IpAddr>,
        sources: &[IpAddr],
        sflag: bool,
    ) {
        let c = &self.mc.cfg;
        let interval = if group.is_some() {
            c.last_member_interval
        } else {
            c.query_response_interval
        };
        let qqic = c.query_interval.as_secs() as u8;
        let mac = self.stp.bridge_id.mac();
        let (dst, ip) = match p {
            Proto::V4 => {
                let g = match group {
                    Some(IpAddr::V4(g)) => g.octets(),
                    _ => [0; 4],
                };
                let srcs: Vec<[u8; 4]> = sources
                    .iter()
                    .filter_map(|s| match s {
                        IpAddr::V4(a) => Some(a.octets()),
                        IpAddr::V6(_) => None,
                    })
                    .collect();
                let d = match dst {
                    Some(IpAddr::V4(d)) => d.octets(),
                    _ => igmp::ALL_HOSTS,
                };
                let code = (interval.as_millis() / 100) as u8;
                let ip = igmp::query([0; 4], d, c.igmp_version, g, code, qqic, sflag, &srcs);
                (IpAddr::V4(Ipv4Addr::from(d)), ip)
            }
            Proto::V6 => {
                let g = match group {
                    Some(IpAddr::V6(g)) => g.octets(),
                    _ => [0; 16],
                };
                let srcs: Vec<[u8; 16]> = sources
                    .iter()
                    .filter_map(|s| match s {
                        IpAddr::V6(a) => Some(a.octets()),
                        IpAddr::V4(_) => None,
                    })
                    .collect();
                let d = match dst {
                    Some(IpAddr::V6(d)) => d.octets(),
                    _ => mld::ALL_NODES,
                };
                let mrc = interval.as_millis() as u16;
                let src = crate::wire::host::link_local(mac);
                let ip = mld::query(src, d, c.mld_version, g, mrc, qqic, sflag, &srcs);
                (IpAddr::V6(Ipv6Addr::from(d)), ip)
            }
        };
        let ethertype = match p {
            Proto::V4 => 0x0800,
            Proto::V6 => 0x86dd,
        };
        let frame = crate::wire::build_frame(ip_mc_mac(dst), mac, &[], ethertype, &ip);
        self.mc.tx.push((port, frame));
    }

    /// The address our own queries come from (`br_multicast_select_own_querier`).
    fn mc_own_addr(&self, p: Proto) -> IpAddr {
        match p {
            Proto::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Proto::V6 => IpAddr::V6(Ipv6Addr::from(crate::wire::host::link_local(
                self.stp.bridge_id.mac(),
            ))),
        }
    }

    /// `br_multicast_send_query` for a general query, and the next one's
    /// timer: startup_query_interval for the first startup_query_count,
    /// then query_interval.
    fn mc_general_query(&mut self, now: Instant, p: Proto, port: Option<PortNo>) {
        if !self.mc.cfg.snooping || !self.mc.cfg.querier || !self.mc_port_ok(port) {
            return;
        }
        if self.mc.q[p as usize].other_timer.is_some() {
            return;
        }
        if port.is_none() {
            let own = self.mc_own_addr(p);
            let q = &mut self.mc.q[p as usize];
            q.port = None;
            q.addr = own;
        }
        self.mc_send_query(p, port, None);
        let c = &self.mc.cfg;
        let (count, startup, every) = (
            c.startup_query_count,
            c.startup_query_interval,
            c.query_interval,
        );
        let own = match port {
            None => &mut self.mc.q[p as usize].own,
            Some(no) => &mut self.port_mut(no).expect("checked").mc.v[p as usize].own,
        };
        let t = now
            + if own.startup_sent < count {
                startup
            } else {
                every
            };
        own.timer = Some(t);
        self.mc.arm(t);
    }

    /// `br_multicast_enable`: the own query restarts now, from the first
    /// startup query. (Without `mcast_querier` the kernel's timer fires
    /// and does nothing; patchbay does not arm it.)
    fn mc_restart(&mut self, now: Instant, p: Proto, port: Option<PortNo>) {
        let t = if self.mc.cfg.querier {
            self.mc.arm(now)
        } else {
            None
        };
        let own = match port {
            None => &mut self.mc.q[p as usize].own,
            Some(no) => match self.port_mut(no) {
                Some(pt) => &mut pt.mc.v[p as usize].own,
                None => return,
            },
        };
        own.startup_sent = 0;
        own.timer = t;
    }

    /// `br_multicast_open`: the bridge came up (or snooping was turned on).
    pub fn mc_open(&mut self, now: Instant) {
        if !self.mc.cfg.snooping {
            return;
        }
        for p in Proto::BOTH {
            self.mc_restart(now, p, None);
        }
    }

    /// `br_multicast_stop`: the bridge went down.
    pub fn mc_stop(&mut self) {
        for q in &mut self.mc.q {
            q.router_timer = None;
            q.other_timer = None;
            q.own.timer = None;
        }
    }

    /// `br_multicast_enable_port`, from the port state selection for a port
    /// that is not disabled or blocking.
    pub(super) fn mc_enable_port(&mut self, now: Instant, no: PortNo) {
        if !self.mc.cfg.snooping {
            return;
        }
        for p in Proto::BOTH {
            self.mc_restart(now, p, Some(no));
        }
        if self.port(no).is_some_and(|pt| pt.mc.router == ROUTER_PERM) {
            for p in Proto::BOTH {
                self.port_mut(no).expect("checked").mc.v[p as usize].is_router = true;
            }
            self.mc_note_router(no);
        }
    }

    /// `br_multicast_disable_port`: its snooped groups go, it is no longer
    /// a router, its timers stop.
    pub(super) fn mc_disable_port(&mut self, no: PortNo) {
        let keys: Vec<MdbKey> = self
            .mc
            .mdb
            .iter()
            .filter(|(_, e)| e.ports.iter().any(|g| g.port == no && !g.permanent))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.mc_del_pg(k, no);
        }
        if let Some(pt) = self.port_mut(no) {
            for v in &mut pt.mc.v {
                v.is_router = false;
                v.router_timer = None;
                v.own.timer = None;
            }
        }
        self.mc_note_router(no);
    }

    /// A port left the bridge: every group it had goes, permanent ones too.
    pub(super) fn mc_del_port(&mut self, no: PortNo) {
        let keys: Vec<MdbKey> = self
            .mc
            .mdb
            .iter()
            .filter(|(_, e)| e.ports.iter().any(|g| g.port == no))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.mc_del_pg(k, no);
        }
        if let Some(pt) = self.port_mut(no) {
            for v in &mut pt.mc.v {
                v.is_router = false;
            }
        }
        self.mc_note_router(no);
    }

    pub(super) fn mc_poll_timeout(&self) -> Option<Instant> {
        self.mc.next
    }

    /// Runs every multicast timer due at `now` and finds the next.
    pub(super) fn mc_handle_timeout(&mut self, now: Instant) {
        if self.mc.next.is_none_or(|t| t > now) {
            return;
        }
        self.mc.next = None;
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        // Host memberships, port groups (`br_multicast_port_group_expired`:
        // INCLUDE mode, the sources without a timer gone, the group gone
        // with its last source), sources (`br_multicast_group_src_expired`:
        // gone in INCLUDE mode, blocked in EXCLUDE), retransmissions.
        self.mc.now = now;
        let mut dead = Vec::new();
        let mut host_left = Vec::new();
        let mut rexmits = Vec::new();
        let mut touched = std::collections::BTreeSet::new();
        let v3 = [self.mc_v3(Proto::V4), self.mc_v3(Proto::V6)];
        for (k, e) in self.mc.mdb.iter_mut() {
            let tracked = v3[Proto::of(k.group) as usize];
            if due(e.timer) {
                e.timer = None;
                if std::mem::take(&mut e.host_joined) {
                    host_left.push(*k);
                }
                if tracked {
                    touched.insert((k.vid, k.group));
                }
            }
            for g in &mut e.ports {
                let had_srcs = !g.srcs.is_empty();
                if due(g.rexmit) {
                    g.rexmit = None;
                    rexmits.push((*k, g.port));
                }
                let mut gone = false;
                let mut expired = false;
                for x in &mut g.srcs {
                    if due(x.timer) {
                        x.timer = None;
                        expired = true;
                    }
                }
                if expired && g.filter_mode == FilterMode::Include {
                    g.srcs.retain(|x| x.timer.is_some());
                    gone = g.srcs.is_empty();
                }
                if due(g.timer) {
                    g.timer = None;
                    if !g.permanent {
                        g.filter_mode = FilterMode::Include;
                        g.srcs.retain(|x| x.timer.is_some());
                        gone = g.srcs.is_empty();
                        expired = true;
                    }
                }
                if expired && (tracked || had_srcs) {
                    touched.insert((k.vid, k.group));
                }
                if gone {
                    dead.push((*k, g.port));
                }
            }
            if e.ports.is_empty() && !e.host_joined {
                dead.push((*k, 0));
            }
        }
        for k in host_left {
            self.mc_note(k, None, false);
        }
        for (k, no) in dead {
            self.mc_del_pg(k, no);
        }
        for (k, no) in rexmits {
            if self.mc_pg(k, no).is_some() {
                self.mc_rexmit(now, k, no);
            }
        }
        for (vid, g) in touched {
            self.mc_rebuild_sg(vid, g);
        }
        for p in Proto::BOTH {
            let i = p as usize;
            // The bridge's router timer, and the other querier's.
            if due(self.mc.q[i].router_timer) {
                self.mc.q[i].router_timer = None;
            }
            if due(self.mc.q[i].other_timer) {
                self.mc.q[i].other_timer = None;
                // `br_multicast_querier_expired`: start querying ourselves.
                if self.mc.cfg.snooping {
                    self.mc_restart(now, p, None);
                    let nos: Vec<PortNo> = self
                        .ports()
                        .filter(|pt| !matches!(pt.state, PortState::Disabled | PortState::Blocking))
                        .map(|pt| pt.port_no)
                        .collect();
                    for no in nos {
                        self.mc_restart(now, p, Some(no));
                    }
                }
            }
            if due(self.mc.q[i].own.timer) {
                self.mc.q[i].own.timer = None;
                let own = &mut self.mc.q[i].own;
                if own.startup_sent < self.mc.cfg.startup_query_count {
                    own.startup_sent += 1;
                }
                self.mc_general_query(now, p, None);
            }
        }
        // Ports: router timers and own queries.
        let startup_count = self.mc.cfg.startup_query_count;
        let nos: Vec<PortNo> = self.ports().map(|p| p.port_no).collect();
        for no in nos {
            for p in Proto::BOTH {
                let i = p as usize;
                let pt = self.port_mut(no).expect("live");
                let router = pt.mc.router;
                let v = &mut pt.mc.v[i];
                if due(v.router_timer) {
                    v.router_timer = None;
                    if router != ROUTER_DISABLED && router != ROUTER_PERM {
                        v.is_router = false;
                        if router == ROUTER_TEMP && !pt.mc.v.iter().any(|v| v.is_router) {
                            pt.mc.router = ROUTER_TEMP_QUERY;
                        }
                        self.mc_note_router(no);
                    }
                }
                let pt = self.port_mut(no).expect("live");
                let stopped = matches!(pt.state, PortState::Disabled | PortState::Blocking);
                let v = &mut pt.mc.v[i];
                if due(v.own.timer) {
                    v.own.timer = None;
                    if stopped {
                        continue;
                    }
                    if v.own.startup_sent < startup_count {
                        v.own.startup_sent += 1;
                    }
                    self.mc_general_query(now, p, Some(no));
                }
            }
        }
        self.mc_refresh_next();
    }

    fn mc_refresh_next(&mut self) {
        let mut n: Option<Instant> = None;
        let mut see = |t: Option<Instant>| {
            if let Some(t) = t {
                n = Some(n.map_or(t, |x| x.min(t)));
            }
        };
        for e in self.mc.mdb.values() {
            see(e.timer);
            for g in &e.ports {
                see(g.timer);
                see(g.rexmit);
                for x in &g.srcs {
                    see(x.timer);
                }
            }
        }
        for q in &self.mc.q {
            see(q.router_timer);
            see(q.other_timer);
            see(q.own.timer);
        }
        for p in self.ports.iter().flatten() {
            for v in &p.mc.v {
                see(v.router_timer);
                see(v.own.timer);
            }
        }
        self.mc.next = n;
    }

    /// The multicast half of the forwarding decision
    /// (`br_handle_frame_finish`, `br_dev_xmit`): `Some` when snooping
    /// decides, with whether the host gets a copy; `None` to flood.
    pub(super) fn mc_forward(
        &self,
        now: Instant,
        s: &Snooped,
        from: Option<(PortNo, bool)>,
        vid: u16,
        pcp: u8,
        egress: &mut Vec<Egress>,
    ) -> Option<bool> {
        if !self.mc.cfg.snooping {
            return None;
        }
        let dst = s.dst?;
        let p = Proto::of(dst);
        let v3 = self.mc_v3(p);
        // `br_mdb_get`: at IGMPv3/MLDv2 an (S,G) entry first.
        let sg = MdbKey {
            vid,
            group: dst,
            src: s.src,
        };
        let star = MdbKey::star_g(vid, dst);
        let (key, entry) = match (s.igmp, v3) {
            (true, _) => (star, None),
            (false, true) if self.mc.mdb.contains_key(&sg) => (sg, self.mc.mdb.get(&sg)),
            _ => (star, self.mc.mdb.get(&star)),
        };
        if !(entry.is_some() || s.mrouters_only) || !self.mc.querier_exists(p, now) {
            return None;
        }
        // `br_multicast_flood`: a *,G entry's INCLUDE ports (at v3) and
        // blocked port groups are skipped; routers always get it.
        let allow_include = !(v3 && key.src.is_none());
        for port in self.ports() {
            let router = port.mc.v[p as usize].is_router;
            let member = entry.is_some_and(|e| {
                e.ports.iter().any(|g| {
                    g.port == port.port_no
                        && !g.blocked
                        && (allow_include || g.filter_mode == FilterMode::Exclude)
                })
            });
            if (router || member) && self.should_deliver(port, from, vid) {
                egress.push(self.egress(port, vid, pcp));
            }
        }
        Some(entry.is_some_and(|e| e.host_joined) || self.mc.host_is_router(p))
    }

    /// `bridge mdb add dev BR port P grp G [permanent|temp] [vid V]`
    /// (`br_mdb_add`): `port` `None` is the bridge itself (host join).
    pub fn mdb_add(
        &mut self,
        now: Instant,
        port: Option<PortNo>,
        key: MdbKey,
        permanent: bool,
        replace: bool,
    ) -> Result<(), MdbError> {
        if !self.mc.cfg.snooping {
            return Err(MdbError("Bridge's multicast processing is disabled".into()));
        }
        if let Some(no) = port {
            if self.port(no).is_none_or(|p| p.state == PortState::Disabled) {
                return Err(MdbError("Port is in disabled state".into()));
            }
        }
        if unsnooped(key.group) {
            return Err(MdbError(
                "Group address is link-local or all-nodes and cannot be added".into(),
            ));
        }
        let gmi = self.mc.cfg.membership_interval;
        let timer = (!permanent).then(|| now + gmi);
        if let Some(t) = timer {
            self.mc.arm(t);
        }
        let e = self
            .mc_new_group(key)
            .map_err(|_| MdbError("MDB is full (mcast_hash_max reached)".into()))?;
        let Some(no) = port else {
            if e.host_joined && !replace {
                return Err(MdbError("Group is already joined by host".into()));
            }
            // `br_multicast_host_join`: a host entry is temporary.
            e.host_joined = true;
            e.timer = Some(now + gmi);
            self.mc.arm(now + gmi);
            self.mc.now = now;
            self.mc_note(key, None, true);
            return Ok(());
        };
        match e.ports.binary_search_by_key(&no, |g| g.port) {
            Ok(i) => {
                if !replace {
                    return Err(MdbError(
                        "bridge: (*, G) group is already joined by port".into(),
                    ));
                }
                let g = &mut e.ports[i];
                g.permanent = permanent;
                g.origin = Origin::Static;
                g.timer = timer;
            }
            Err(i) => e.ports.insert(
                i,
                PortGroup {
                    permanent,
                    timer,
                    ..PortGroup::new(no, Origin::Static, FilterMode::Exclude)
                },
            ),
        }
        self.mc.now = now;
        self.mc_note(key, port, true);
        Ok(())
    }

    /// `bridge mdb del` (`br_mdb_del`).
    pub fn mdb_del(&mut self, port: Option<PortNo>, key: MdbKey) -> Result<(), MdbError> {
        let Some(e) = self.mc.mdb.get_mut(&key) else {
            return Err(MdbError("Could not find MDB entry".into()));
        };
        match port {
            None => {
                if !e.host_joined {
                    return Err(MdbError("Could not find MDB entry".into()));
                }
                self.mc_note(key, None, false);
                let e = self.mc.mdb.get_mut(&key).expect("found");
                e.host_joined = false;
                e.timer = None;
                if e.ports.is_empty() {
                    self.mc.mdb.remove(&key);
                }
            }
            Some(no) => {
                if !e.ports.iter().any(|g| g.port == no) {
                    return Err(MdbError("Could not find MDB entry".into()));
                }
                self.mc_del_pg(key, no);
            }
        }
        Ok(())
    }

    /// `mcast_querier 0|1` (`br_multicast_set_querier`): turning it on
    /// waits one response interval before snooping acts, and starts
    /// querying at once.
    pub fn mc_set_querier(&mut self, now: Instant, on: bool, running: bool) {
        if self.mc.cfg.querier == on {
            return;
        }
        self.mc.cfg.querier = on;
        if !on {
            return;
        }
        let delay = self.mc.cfg.query_response_interval;
        for p in Proto::BOTH {
            let q = &mut self.mc.q[p as usize];
            if q.other_timer.is_none() {
                q.delay_until = Some(now + delay);
            }
            if running && self.mc.cfg.snooping {
                self.mc_restart(now, p, None);
                let nos: Vec<PortNo> = self
                    .ports()
                    .filter(|pt| !matches!(pt.state, PortState::Disabled | PortState::Blocking))
                    .map(|pt| pt.port_no)
                    .collect();
                for no in nos {
                    self.mc_restart(now, p, Some(no));
                }
            }
        }
    }

    /// `mcast_snooping 0|1` (`br_multicast_toggle`).
    pub fn mc_set_snooping(&mut self, now: Instant, on: bool, running: bool) {
        if self.mc.cfg.snooping == on {
            return;
        }
        self.mc.cfg.snooping = on;
        if on {
            self.mc.hash_max_reached = false;
        }
        if !on || !running {
            return;
        }
        self.mc_open(now);
        let nos: Vec<PortNo> = self
            .ports()
            .filter(|pt| pt.state != PortState::Disabled)
            .map(|pt| pt.port_no)
            .collect();
        for no in nos {
            self.mc_enable_port(now, no);
        }
    }

    /// `mcast_router` on the bridge (`br_multicast_set_router`).
    pub fn mc_set_router(&mut self, v: u8) -> Result<(), MdbError> {
        match v {
            ROUTER_DISABLED | ROUTER_PERM => {
                for q in &mut self.mc.q {
                    q.router_timer = None;
                }
            }
            ROUTER_TEMP_QUERY => {}
            _ => {
                return Err(MdbError(format!(
                    "mcast_router {v}: the bridge takes 0 (disabled), 1 (learn from queries) or 2 (always)"
                )))
            }
        }
        self.mc.cfg.router = v;
        Ok(())
    }

    /// `mcast_router` on a port (`br_multicast_set_port_router`).
    pub fn mc_set_port_router(&mut self, now: Instant, no: PortNo, v: u8) -> Result<(), MdbError> {
        if v > ROUTER_TEMP {
            return Err(MdbError(format!(
                "mcast_router {v}: a port takes 0 (disabled), 1 (learn from queries), 2 (always) or 3 (temporary)"
            )));
        }
        let qi = self.mc.cfg.querier_interval;
        let Some(pt) = self.port_mut(no) else {
            return Ok(());
        };
        if pt.mc.router == v {
            if v == ROUTER_TEMP {
                for x in &mut pt.mc.v {
                    x.router_timer = Some(now + qi);
                }
                self.mc.arm(now + qi);
            }
            return Ok(());
        }
        pt.mc.router = v;
        match v {
            ROUTER_DISABLED | ROUTER_TEMP_QUERY => {
                for x in &mut pt.mc.v {
                    x.is_router = false;
                    if v == ROUTER_DISABLED {
                        x.router_timer = None;
                    }
                }
            }
            ROUTER_PERM => {
                for x in &mut pt.mc.v {
                    x.router_timer = None;
                    x.is_router = true;
                }
            }
            _ => {
                for x in &mut pt.mc.v {
                    x.is_router = true;
                    x.router_timer = Some(now + qi);
                }
                self.mc.arm(now + qi);
            }
        }
        self.mc_note_router(no);
        Ok(())
    }
}
