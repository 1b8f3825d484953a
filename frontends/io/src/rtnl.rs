//! What patchbay's control plane does, as the rtnetlink messages the kernel
//! would send for it (RTM_NEWLINK, RTM_DELLINK, RTM_NEWNEIGH, RTM_DELNEIGH,
//! RTM_GETNEIGH for VXLAN misses, and RTM_NEWMDB/RTM_DELMDB, which [`mdb`]
//! builds by hand): built with netlink-packet-route from the graph's
//! [`Event`]s, carried on an nlmon device (`LINKTYPE_NETLINK`
//! captures that tshark decodes) and printed by `patchbay monitor` the way
//! `ip monitor` and `bridge monitor` print them ([`describe`]).

use netlink_packet_core::{
    DefaultNla, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLA_F_NESTED,
};
use netlink_packet_route::link::{
    InfoKind, LinkAttribute, LinkFlags, LinkHeader, LinkInfo, LinkLayerType, LinkMessage, State,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourCacheInfo, NeighbourFlags, NeighbourHeader,
    NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::RouteType;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use patchbay_core::graph::{Event, Graph, IfId, Kind};
use patchbay_core::wire::Mac;

pub mod mdb;

/// `ARPHRD_NETLINK`: an nlmon device's link type.
pub const ARPHRD_NETLINK: u16 = 824;
/// `PACKET_KERNEL`: a message the kernel sent.
pub const PACKET_KERNEL: u16 = 7;
/// `NETLINK_ROUTE`.
pub const NETLINK_ROUTE: u16 = 0;

/// The 16-byte cooked header a `LINKTYPE_NETLINK` record starts with
/// (BEHAVIOUR.md §7): packet type, ARPHRD_NETLINK, address length and
/// address (unused), the netlink family.
pub fn cooked_header(family: u16) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..2].copy_from_slice(&PACKET_KERNEL.to_be_bytes());
    h[2..4].copy_from_slice(&ARPHRD_NETLINK.to_be_bytes());
    h[14..].copy_from_slice(&family.to_be_bytes());
    h
}

/// A notification: sequence number and port id 0, no flags, as the
/// kernel's `rtnl_notify` sends them.
fn serialize(m: RouteNetlinkMessage) -> Vec<u8> {
    let hdr = NetlinkHeader::default();
    let mut msg = NetlinkMessage::new(hdr, NetlinkPayload::from(m));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

fn info_kind(k: &Kind) -> Option<InfoKind> {
    Some(match k {
        Kind::Bridge(_) => InfoKind::Bridge,
        Kind::Bond(_) => InfoKind::Bond,
        Kind::Team(_) => InfoKind::Other("team".into()),
        Kind::Vxlan(_) => InfoKind::Vxlan,
        Kind::Vlan(_) => InfoKind::Vlan,
        Kind::Macvlan(m) if m.tap => InfoKind::MacVtap,
        Kind::Macvlan(_) => InfoKind::MacVlan,
        Kind::Ipvlan(v) if v.tap => InfoKind::IpVtap,
        Kind::Ipvlan(_) => InfoKind::IpVlan,
        Kind::Veth { .. } => InfoKind::Veth,
        Kind::Dummy => InfoKind::Dummy,
        Kind::Nlmon => InfoKind::Nlmon,
        Kind::Tap => InfoKind::Tun,
        Kind::Netdevsim => InfoKind::Other("netdevsim".into()),
        Kind::External => return None,
    })
}

/// RTM_NEWLINK for `id` as `rtnl_fill_ifinfo` fills it (the attributes
/// `ip monitor` shows, in the kernel's order); `change` is `ifi_change`:
/// all ones when the device is new or gone, else 0.
fn link_message(g: &Graph, id: IfId, change: u32) -> LinkMessage {
    let master = g.iface(id).master.and_then(|m| g.get(m)).map(|m| m.ifindex);
    link_message_as(g, id, change, master)
}

/// [`link_message`] with the master given (a leaving port's, which the
/// graph no longer holds).
fn link_message_as(g: &Graph, id: IfId, change: u32, master: Option<u32>) -> LinkMessage {
    let f = g.iface(id);
    let oper = g.oper_up(id);
    let nlmon = matches!(f.kind, Kind::Nlmon);
    let mut m = link_header(g, id, AddressFamily::Unspec, change);
    m.attributes.push(LinkAttribute::IfName(f.name.clone()));
    m.attributes.push(LinkAttribute::OperState(if oper {
        State::Up
    } else {
        State::Down
    }));
    m.attributes.push(LinkAttribute::Mtu(f.mtu));
    m.attributes.push(LinkAttribute::Group(0));
    if let Some(ms) = master {
        m.attributes.push(LinkAttribute::Controller(ms));
    }
    if !nlmon {
        m.attributes.push(LinkAttribute::Address(f.mac.0.to_vec()));
        m.attributes.push(LinkAttribute::Broadcast(vec![0xff; 6]));
    }
    if let Some(k) = info_kind(&f.kind) {
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(k)]));
    }
    // IFLA_QDISC, where the kernel puts it (after IFLA_LINKINFO): `noop`
    // until the device is first up, then `noqueue` (every device patchbay
    // emulates is queue-less, as veth and bridge are).
    let qdisc = if f.admin_up || f.been_up {
        "noqueue"
    } else {
        "noop"
    };
    m.attributes.push(LinkAttribute::Qdisc(qdisc.into()));
    m
}

fn link_header(g: &Graph, id: IfId, family: AddressFamily, change: u32) -> LinkMessage {
    let f = g.iface(id);
    let mut flags = LinkFlags::Broadcast | LinkFlags::Multicast;
    if f.admin_up {
        flags |= LinkFlags::Up;
    }
    if g.oper_up(id) {
        flags |= LinkFlags::Running | LinkFlags::LowerUp;
    }
    // IFF_MASTER is the bond's alone (a bridge or a team shows no MASTER).
    if matches!(f.kind, Kind::Bond(_)) {
        flags |= LinkFlags::Controller;
    }
    let mut m = LinkMessage::default();
    m.header = LinkHeader::default();
    m.header.interface_family = family;
    m.header.index = f.ifindex;
    m.header.link_layer_type = if matches!(f.kind, Kind::Nlmon) {
        LinkLayerType::Netlink
    } else {
        LinkLayerType::Ether
    };
    m.header.flags = flags;
    m.header.change_mask = LinkFlags::from_bits_retain(change);
    m
}

/// A bridge port's AF_BRIDGE RTM_NEWLINK or RTM_DELLINK as `br_fill_ifinfo`
/// fills it: name, master, MTU, operstate, address, and (for NEWLINK) the
/// port's state, priority and cost in a nested IFLA_PROTINFO.
/// `ifi_change` is 0. (The kernel adds IFLA_LINK for a veth, its peer's
/// index, which patchbay does not know for a netdev it attaches.)
fn bridge_port_message(
    g: &Graph,
    port: IfId,
    master: u32,
    protinfo: Option<(u8, u16, u32)>,
) -> LinkMessage {
    let f = g.iface(port);
    let mut m = link_header(g, port, AddressFamily::Bridge, 0);
    m.attributes.push(LinkAttribute::IfName(f.name.clone()));
    m.attributes.push(LinkAttribute::Controller(master));
    m.attributes.push(LinkAttribute::Mtu(f.mtu));
    m.attributes
        .push(LinkAttribute::OperState(if g.oper_up(port) {
            State::Up
        } else {
            State::Down
        }));
    m.attributes.push(LinkAttribute::Address(f.mac.0.to_vec()));
    if let Some((state, priority, cost)) = protinfo {
        let mut v = Vec::new();
        for (t, val) in [
            (1u16, vec![state]),
            (2, priority.to_ne_bytes().to_vec()),
            (3, cost.to_ne_bytes().to_vec()),
        ] {
            let len = 4 + val.len();
            v.extend_from_slice(&(len as u16).to_ne_bytes());
            v.extend_from_slice(&t.to_ne_bytes());
            v.extend_from_slice(&val);
            v.resize(v.len().next_multiple_of(4), 0);
        }
        m.attributes
            .push(LinkAttribute::ProtoInfoUnknown(DefaultNla::new(
                12 | NLA_F_NESTED,
                v,
            )));
    }
    m
}

/// The AF_BRIDGE RTM_NEWLINK of `port` while it is a port.
fn port_message(g: &Graph, port: IfId) -> Option<LinkMessage> {
    let f = g.iface(port);
    let br = f.master?;
    let p = g.iface(br).bridge()?.port(f.port_no)?;
    Some(bridge_port_message(
        g,
        port,
        g.iface(br).ifindex,
        Some((p.state as u8, u16::from(p.priority), p.cost)),
    ))
}

fn fdb_message(
    bridge_ifindex: u32,
    port_ifindex: u32,
    mac: Mac,
    vid: u16,
    state: NeighbourState,
) -> NeighbourMessage {
    // `fdb_fill_info`: address, master, extended flags, cache info, VLAN.
    let mut m = NeighbourMessage::default();
    m.header = NeighbourHeader {
        family: AddressFamily::Bridge,
        ifindex: port_ifindex,
        state,
        flags: NeighbourFlags::empty(),
        kind: RouteType::Unspec,
    };
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
    m.attributes
        .push(NeighbourAttribute::Controller(bridge_ifindex));
    m.attributes
        .push(NeighbourAttribute::Other(DefaultNla::new(15, vec![0; 4])));
    if let Ok(ci) = NeighbourCacheInfo::parse(&[0; 16]) {
        m.attributes.push(NeighbourAttribute::CacheInfo(ci));
    }
    if vid != 0 {
        m.attributes.push(NeighbourAttribute::Vlan(vid));
    }
    m
}

/// The messages the kernel would send for `e` (none for what it does not
/// notify, such as a new root bridge).
pub fn encode(g: &Graph, e: &Event) -> Vec<Vec<u8>> {
    let live = |id: IfId| g.get(id).is_some();
    let m = match *e {
        Event::LinkAdded { dev } if live(dev) => {
            RouteNetlinkMessage::NewLink(link_message(g, dev, u32::MAX))
        }
        Event::Link { dev, .. } | Event::BondLink { slave: dev, .. } if live(dev) => {
            RouteNetlinkMessage::NewLink(link_message(g, dev, 0))
        }
        Event::PortJoined { port, .. } if live(port) => {
            let mut out = vec![serialize(RouteNetlinkMessage::NewLink(link_message(
                g, port, 0,
            )))];
            if let Some(p) = port_message(g, port) {
                out.push(serialize(RouteNetlinkMessage::NewLink(p)));
            }
            return out;
        }
        Event::PortLeft {
            bridge_ifindex,
            port,
            priority,
            cost,
        } if live(port) => {
            // `br_del_if`: the port disabled, deleted, and the device
            // without its master.
            let last = bridge_port_message(
                g,
                port,
                bridge_ifindex,
                Some((0, u16::from(priority), cost)),
            );
            let gone = bridge_port_message(g, port, bridge_ifindex, None);
            // First the promiscuity dropped (`dev_set_promiscuity`), while
            // the device still has its master: ifi_change IFF_PROMISC.
            let promisc = link_message_as(g, port, 0x100, Some(bridge_ifindex));
            return vec![
                serialize(RouteNetlinkMessage::NewLink(promisc)),
                serialize(RouteNetlinkMessage::NewLink(last)),
                serialize(RouteNetlinkMessage::DelLink(gone)),
                serialize(RouteNetlinkMessage::NewLink(link_message(g, port, 0))),
            ];
        }
        Event::FdbEntry {
            bridge,
            bridge_ifindex,
            mac,
            vid,
            port,
            nud,
            added,
        } => {
            // The bridge's own entries name the bridge, gone or not.
            let port_ifindex = if port == bridge {
                bridge_ifindex
            } else {
                g.get(port).map_or(0, |f| f.ifindex)
            };
            let m = fdb_message(
                bridge_ifindex,
                port_ifindex,
                mac,
                vid,
                NeighbourState::from(nud),
            );
            if added {
                RouteNetlinkMessage::NewNeighbour(m)
            } else {
                RouteNetlinkMessage::DelNeighbour(m)
            }
        }
        Event::LinkRemoved {
            ifindex,
            name,
            kind,
            mtu,
            mac,
        } => {
            // The device as it was when it went: down, its qdisc released.
            let mut m = LinkMessage::default();
            m.header.index = ifindex;
            m.header.flags = LinkFlags::Broadcast | LinkFlags::Multicast;
            m.header.change_mask = LinkFlags::from_bits_retain(u32::MAX);
            m.header.link_layer_type = LinkLayerType::Ether;
            let n = name.iter().position(|b| *b == 0).unwrap_or(name.len());
            m.attributes.push(LinkAttribute::IfName(
                String::from_utf8_lossy(&name[..n]).into_owned(),
            ));
            m.attributes.push(LinkAttribute::OperState(State::Down));
            m.attributes.push(LinkAttribute::Mtu(mtu));
            m.attributes.push(LinkAttribute::Group(0));
            m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
            m.attributes.push(LinkAttribute::Broadcast(vec![0xff; 6]));
            if let Some(k) = kind {
                m.attributes
                    .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                        InfoKind::Other(k.into()),
                    )]));
            }
            m.attributes.push(LinkAttribute::Qdisc("noop".into()));
            RouteNetlinkMessage::DelLink(m)
        }
        Event::PortState { port, .. } if live(port) => match port_message(g, port) {
            Some(m) => RouteNetlinkMessage::NewLink(m),
            // It left: `PortLeft` said so.
            None => return Vec::new(),
        },
        Event::FdbLearned {
            bridge,
            mac,
            vid,
            port,
        }
        | Event::FdbMoved {
            bridge,
            mac,
            vid,
            to: port,
            ..
        } => RouteNetlinkMessage::NewNeighbour(fdb_message(
            g.get(bridge).map_or(0, |f| f.ifindex),
            g.get(port).map_or(0, |f| f.ifindex),
            mac,
            vid,
            NeighbourState::Reachable,
        )),
        Event::FdbAged {
            bridge,
            mac,
            vid,
            port,
        } => RouteNetlinkMessage::DelNeighbour(fdb_message(
            g.get(bridge).map_or(0, |f| f.ifindex),
            g.get(port).map_or(0, |f| f.ifindex),
            mac,
            vid,
            NeighbourState::Stale,
        )),
        Event::Mdb {
            bridge,
            bridge_ifindex,
            port,
            note,
        } => {
            let port_ifindex = if port == bridge {
                bridge_ifindex
            } else {
                g.get(port).map_or(0, |f| f.ifindex)
            };
            return vec![mdb::notify(
                if note.added {
                    mdb::RTM_NEWMDB
                } else {
                    mdb::RTM_DELMDB
                },
                bridge_ifindex,
                &mdb_entry(g, bridge, port_ifindex, &note),
            )];
        }
        Event::MdbRouter {
            bridge_ifindex,
            port,
            added,
            ..
        } => {
            return vec![mdb::notify_router(
                if added {
                    mdb::RTM_NEWMDB
                } else {
                    mdb::RTM_DELMDB
                },
                bridge_ifindex,
                g.get(port).map_or(0, |f| f.ifindex),
                0,
            )];
        }
        Event::VxlanMiss { dev, miss } => {
            let ifindex = g.get(dev).map_or(0, |f| f.ifindex);
            let mut m = NeighbourMessage::default();
            match miss {
                patchbay_core::vxlan::Miss::L2(mac) => {
                    m.header.family = AddressFamily::Bridge;
                    m.attributes
                        .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
                }
                patchbay_core::vxlan::Miss::L3(ip) => {
                    m.header.family = if ip.is_ipv4() {
                        AddressFamily::Inet
                    } else {
                        AddressFamily::Inet6
                    };
                    m.attributes.push(NeighbourAttribute::Destination(match ip {
                        core::net::IpAddr::V4(a) => NeighbourAddress::Inet(a),
                        core::net::IpAddr::V6(a) => NeighbourAddress::Inet6(a),
                    }));
                }
            }
            m.header.ifindex = ifindex;
            m.header.state = NeighbourState::None;
            RouteNetlinkMessage::GetNeighbour(m)
        }
        _ => return Vec::new(),
    };
    vec![serialize(m)]
}

/// The `br_mdb_entry` of an MDB change; a port group still there brings
/// its sources (a deleted one has none: the kernel drops them first).
fn mdb_entry(
    g: &Graph,
    bridge: IfId,
    port_ifindex: u32,
    note: &patchbay_core::bridge::mcast::MdbNote,
) -> mdb::Entry {
    use patchbay_core::bridge::mcast::Origin;
    use patchbay_core::cmd::mdb::{RTPROT_KERNEL, RTPROT_STATIC};
    let mut sources = Vec::new();
    if let (true, Some(no), Some(b)) = (
        note.added,
        note.port,
        g.get(bridge).and_then(|f| f.bridge()),
    ) {
        let now = b.mc.now();
        if let Some(pg) =
            b.mc.mdb
                .get(&note.key)
                .and_then(|e| e.ports.iter().find(|pg| pg.port == no))
        {
            sources = pg
                .srcs
                .iter()
                .map(|x| (x.addr, patchbay_core::bridge::mcast::timer_cs(now, x.timer)))
                .collect();
        }
    }
    mdb::Entry {
        ifindex: port_ifindex,
        permanent: note.permanent,
        flags: note.flags,
        vid: note.key.vid,
        group: note.key.group,
        src: note.key.src,
        timer: Some(note.timer_cs),
        proto: note.origin.map(|o| match o {
            Origin::Kernel => RTPROT_KERNEL,
            Origin::Static => RTPROT_STATIC,
        }),
        mode: note.mode,
        sources,
    }
}

/// Whose words a message is printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `ip monitor`: links as `ip link show`, neighbours (FDB entries
    /// too) as `ip neigh show`.
    Ip,
    /// `bridge monitor`: links as `bridge link show` (a port's STP state,
    /// priority and cost), FDB entries as `bridge fdb show`.
    Bridge,
}

/// What a link message says, as iproute2 reads it.
#[derive(Default)]
struct LinkView {
    name: String,
    mtu: Option<u32>,
    master: Option<u32>,
    oper: Option<State>,
    qdisc: Option<String>,
    group: Option<u32>,
    addr: Option<Mac>,
    brd: Option<Mac>,
    link: Option<u32>,
    netnsid: Option<i32>,
    /// IFLA_PROTINFO: port state, priority, cost.
    port: Option<(u8, Option<u16>, Option<u32>)>,
}

/// The IFLA_BRPORT_* values of a nested IFLA_PROTINFO payload.
fn protinfo(v: &[u8], port: &mut Option<(u8, Option<u16>, Option<u32>)>) {
    let mut i = 0;
    while i + 4 <= v.len() {
        let len = usize::from(u16::from_ne_bytes([v[i], v[i + 1]]));
        let t = u16::from_ne_bytes([v[i + 2], v[i + 3]]) & 0x3fff;
        let val = v.get(i + 4..i + len.max(4)).unwrap_or(&[]);
        let p = port.get_or_insert((0, None, None));
        match (t, val.len()) {
            (1, 1..) => p.0 = val[0],
            (2, 2..) => p.1 = Some(u16::from_ne_bytes([val[0], val[1]])),
            (3, 4..) => p.2 = Some(u32::from_ne_bytes([val[0], val[1], val[2], val[3]])),
            _ => {}
        }
        i += len.max(4).next_multiple_of(4);
    }
}

fn link_view(l: &LinkMessage) -> LinkView {
    use netlink_packet_core::{Emitable, Nla};
    let mut v = LinkView::default();
    let mac = |b: &[u8]| b.try_into().ok().map(Mac);
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => v.name = n.clone(),
            LinkAttribute::Mtu(x) => v.mtu = Some(*x),
            LinkAttribute::Controller(x) => v.master = Some(*x),
            LinkAttribute::OperState(x) => v.oper = Some(*x),
            LinkAttribute::Qdisc(x) => v.qdisc = Some(x.clone()),
            LinkAttribute::Group(x) => v.group = Some(*x),
            LinkAttribute::Address(b) => v.addr = mac(b),
            LinkAttribute::Broadcast(b) => v.brd = mac(b),
            LinkAttribute::Link(x) => v.link = Some(*x),
            LinkAttribute::LinkNetNsId(x) => v.netnsid = Some(*x),
            // Read back as a list of bridge attributes (AF_BRIDGE) or one
            // unknown attribute holding the nested list.
            LinkAttribute::ProtoInfoBridge(list) => {
                let mut buf = Vec::new();
                for n in list {
                    if let netlink_packet_route::link::LinkProtoInfoBridge::Other(n) = n {
                        let mut b = vec![0u8; n.buffer_len()];
                        n.emit(&mut b);
                        buf.extend_from_slice(&b);
                    }
                }
                protinfo(&buf, &mut v.port);
            }
            LinkAttribute::ProtoInfoUnknown(n) => {
                let mut b = vec![0u8; n.value_len()];
                n.emit_value(&mut b);
                protinfo(&b, &mut v.port);
            }
            _ => {}
        }
    }
    v
}

/// iproute2's flag names, in its order (`print_link_flags`): for the
/// monitor here and for the kernel backend's `link show`.
pub fn flag_names(h: LinkFlags) -> Vec<&'static str> {
    let mut f: Vec<&str> = Vec::new();
    if h.contains(LinkFlags::Up) && !h.contains(LinkFlags::Running) {
        f.push("NO-CARRIER");
    }
    for (bit, name) in [
        (LinkFlags::Loopback, "LOOPBACK"),
        (LinkFlags::Broadcast, "BROADCAST"),
        (LinkFlags::Pointopoint, "POINTOPOINT"),
        (LinkFlags::Multicast, "MULTICAST"),
        (LinkFlags::Noarp, "NOARP"),
        (LinkFlags::Allmulti, "ALLMULTI"),
        (LinkFlags::Promisc, "PROMISC"),
        (LinkFlags::Controller, "MASTER"),
        (LinkFlags::Port, "SLAVE"),
        (LinkFlags::Up, "UP"),
        (LinkFlags::LowerUp, "LOWER_UP"),
        (LinkFlags::Dormant, "DORMANT"),
    ] {
        if h.contains(bit) {
            f.push(name);
        }
    }
    f
}

fn oper_name(s: State) -> &'static str {
    match s {
        State::NotPresent => "NOTPRESENT",
        State::Down => "DOWN",
        State::LowerLayerDown => "LOWERLAYERDOWN",
        State::Testing => "TESTING",
        State::Dormant => "DORMANT",
        State::Up => "UP",
        _ => "UNKNOWN",
    }
}

const BR_STATES: [&str; 5] = [
    "disabled",
    "listening",
    "learning",
    "forwarding",
    "blocking",
];

fn nud_name(s: NeighbourState) -> Option<&'static str> {
    Some(match s {
        NeighbourState::Incomplete => "INCOMPLETE",
        NeighbourState::Reachable => "REACHABLE",
        NeighbourState::Stale => "STALE",
        NeighbourState::Delay => "DELAY",
        NeighbourState::Probe => "PROBE",
        NeighbourState::Failed => "FAILED",
        NeighbourState::Noarp => "NOARP",
        NeighbourState::Permanent => "PERMANENT",
        _ => return None,
    })
}

/// One message as iproute2 prints it in `style` (`ip monitor`, `bridge
/// monitor`), with its spacing; `name` maps an ifindex to a device name.
/// `None` for what that tool does not print or this cannot read.
pub fn describe(bytes: &[u8], name: &dyn Fn(u32) -> String, style: Style) -> Option<String> {
    if let Some(m) = mdb::parse(bytes) {
        // `ip monitor` has no MDB; `bridge monitor` prints it.
        return (style == Style::Bridge).then(|| mdb::describe(&m, name, false, false));
    }
    let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).ok()?;
    let NetlinkPayload::InnerMessage(m) = msg.payload else {
        return None;
    };
    let link = |l: &LinkMessage, deleted: bool| {
        let v = link_view(l);
        let mut s = String::new();
        if deleted {
            s.push_str("Deleted ");
        }
        s.push_str(&format!("{}: {}", l.header.index, v.name));
        match (v.link, v.netnsid) {
            (Some(0), _) => s.push_str("@NONE"),
            (Some(i), Some(_)) => s.push_str(&format!("@if{i}")),
            (Some(i), None) if i != l.header.index => s.push_str(&format!("@{}", name(i))),
            _ => {}
        }
        s.push_str(&format!(": <{}> ", flag_names(l.header.flags).join(",")));
        if let Some(m) = v.mtu {
            s.push_str(&format!("mtu {m} "));
        }
        if style == Style::Ip {
            if let Some(q) = &v.qdisc {
                s.push_str(&format!("qdisc {q} "));
            }
        }
        if let Some(m) = v.master {
            s.push_str(&format!("master {} ", name(m)));
        }
        match style {
            Style::Ip => {
                if let Some(o) = v.oper {
                    s.push_str(&format!("state {} ", oper_name(o)));
                }
                if let Some(g) = v.group {
                    if g == 0 {
                        s.push_str("group default ");
                    } else {
                        s.push_str(&format!("group {g} "));
                    }
                }
                if let Some(a) = v.addr {
                    s.push_str(&format!("\n    link/ether {a}"));
                    if let Some(b) = v.brd {
                        s.push_str(&format!(" brd {b}"));
                    }
                    if let Some(n) = v.netnsid {
                        s.push_str(&format!(" link-netnsid {n}"));
                    }
                }
            }
            Style::Bridge => {
                if let Some((st, prio, cost)) = v.port {
                    s.push_str(&format!(
                        "state {} ",
                        BR_STATES.get(usize::from(st)).unwrap_or(&"?")
                    ));
                    if let Some(p) = prio {
                        s.push_str(&format!("priority {p} "));
                    }
                    if let Some(c) = cost {
                        s.push_str(&format!("cost {c} "));
                    }
                }
            }
        }
        s
    };
    let neigh = |n: &NeighbourMessage, what: &str| {
        let (mut lladdr, mut dst, mut master, mut vlan) = (None, None, None, None);
        for a in &n.attributes {
            match a {
                NeighbourAttribute::LinkLayerAddress(v) if v.len() == 6 => {
                    lladdr = Some(Mac(v[..].try_into().expect("6")))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                    dst = Some(a.to_string())
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                    dst = Some(a.to_string())
                }
                NeighbourAttribute::Controller(v) => master = Some(*v),
                NeighbourAttribute::Vlan(v) => vlan = Some(*v),
                _ => {}
            }
        }
        let dev = name(n.header.ifindex);
        let bridge_fdb = n.header.family == AddressFamily::Bridge;
        let mut s = what.to_string();
        if style == Style::Bridge && bridge_fdb {
            // `bridge fdb`: MAC dev D [vlan V] master M [state].
            s.push_str(&format!("{} dev {dev} ", lladdr.unwrap_or(Mac::ZERO)));
            if let Some(v) = vlan {
                s.push_str(&format!("vlan {v} "));
            }
            if let Some(m) = master {
                s.push_str(&format!("master {} ", name(m)));
            }
            match n.header.state {
                NeighbourState::Permanent => s.push_str("permanent "),
                NeighbourState::Noarp => s.push_str("static "),
                NeighbourState::Stale => s.push_str("stale "),
                _ => {}
            }
            return s;
        }
        // `ip neigh`: [DST] dev D lladdr MAC STATE.
        if let Some(d) = dst {
            s.push_str(&format!("{d} "));
        }
        s.push_str(&format!("dev {dev} "));
        if let Some(m) = lladdr {
            s.push_str(&format!("lladdr {m} "));
        }
        if let Some(st) = nud_name(n.header.state) {
            s.push_str(&format!("{st} "));
        }
        s
    };
    let is_fdb = |n: &NeighbourMessage| n.header.family == AddressFamily::Bridge;
    Some(match (m, style) {
        (RouteNetlinkMessage::NewLink(l), _) => link(&l, false),
        (RouteNetlinkMessage::DelLink(l), _) => link(&l, true),
        (RouteNetlinkMessage::NewNeighbour(n), Style::Ip) => neigh(&n, ""),
        (RouteNetlinkMessage::DelNeighbour(n), Style::Ip) => neigh(&n, "Deleted "),
        (RouteNetlinkMessage::GetNeighbour(n), Style::Ip) => neigh(&n, "miss "),
        (RouteNetlinkMessage::NewNeighbour(n), Style::Bridge) if is_fdb(&n) => neigh(&n, ""),
        (RouteNetlinkMessage::DelNeighbour(n), Style::Bridge) if is_fdb(&n) => {
            neigh(&n, "Deleted ")
        }
        _ => return None,
    })
}

/// The message's type (`RTM_NEWLINK` = 16, ...) and its name.
pub fn message_type(bytes: &[u8]) -> Option<(u16, &'static str)> {
    let t = u16::from_ne_bytes(bytes.get(4..6)?.try_into().ok()?);
    Some((
        t,
        match t {
            16 => "RTM_NEWLINK",
            17 => "RTM_DELLINK",
            28 => "RTM_NEWNEIGH",
            29 => "RTM_DELNEIGH",
            30 => "RTM_GETNEIGH",
            mdb::RTM_NEWMDB => "RTM_NEWMDB",
            mdb::RTM_DELMDB => "RTM_DELMDB",
            mdb::RTM_GETMDB => "RTM_GETMDB",
            _ => "RTM_OTHER",
        },
    ))
}

/// A link message's (ifindex, name), to keep a monitor's names current.
pub fn link_name(bytes: &[u8]) -> Option<(u32, String)> {
    let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).ok()?;
    let (NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l))
    | NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l))) = msg.payload
    else {
        return None;
    };
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some((l.header.index, n.clone())),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::cmd;
    use patchbay_core::Instant;

    fn run(g: &mut Graph, line: &str) {
        let w = cmd::split_line(line).unwrap();
        let c = cmd::parse(&w).unwrap();
        cmd::apply(g, Instant::ZERO, &c, cmd::Opts::default()).unwrap();
    }

    #[test]
    fn events_become_the_kernels_messages_and_read_back() {
        let mut g = Graph::new();
        g.record_events(true);
        run(&mut g, "link add br0 type bridge");
        let mut msgs = Vec::new();
        while let Some(e) = g.poll_event() {
            msgs.extend(encode(&g, &e));
        }
        let names = |i: u32| {
            if i == 1 {
                "br0".to_string()
            } else {
                format!("if{i}")
            }
        };
        let text: Vec<String> = msgs
            .iter()
            .filter_map(|m| describe(m, &names, Style::Ip))
            .collect();
        assert_eq!(message_type(&msgs[0]), Some((16, "RTM_NEWLINK")));
        assert!(
            text[0].starts_with(
                "1: br0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \n    link/ether "
            ),
            "{text:?}"
        );
        assert!(text[0].ends_with(" brd ff:ff:ff:ff:ff:ff"), "{text:?}");
        assert_eq!(
            describe(&msgs[0], &names, Style::Bridge).unwrap(),
            "1: br0: <BROADCAST,MULTICAST> mtu 1500 "
        );
        assert_eq!(link_name(&msgs[0]), Some((1, "br0".into())));
        // An FDB entry as the bridge announces it, and its deletion.
        let br = g.by_name("br0").unwrap();
        let e = Event::FdbLearned {
            bridge: br,
            mac: Mac([2, 0, 0, 0, 0, 9]),
            vid: 10,
            port: br,
        };
        let m = encode(&g, &e);
        assert_eq!(message_type(&m[0]), Some((28, "RTM_NEWNEIGH")));
        assert_eq!(
            describe(&m[0], &names, Style::Bridge).unwrap(),
            "02:00:00:00:00:09 dev br0 vlan 10 master br0 "
        );
        assert_eq!(
            describe(&m[0], &names, Style::Ip).unwrap(),
            "dev br0 lladdr 02:00:00:00:00:09 REACHABLE "
        );
        let e = Event::FdbAged {
            bridge: br,
            mac: Mac([2, 0, 0, 0, 0, 9]),
            vid: 0,
            port: br,
        };
        let m = encode(&g, &e);
        assert_eq!(
            describe(&m[0], &names, Style::Bridge).unwrap(),
            "Deleted 02:00:00:00:00:09 dev br0 master br0 stale "
        );
        run(&mut g, "link del br0");
        let mut last = None;
        while let Some(e) = g.poll_event() {
            last = encode(&g, &e).pop().or(last);
        }
        assert!(describe(&last.unwrap(), &names, Style::Ip)
            .unwrap()
            .starts_with("Deleted 1: br0:"));
    }
}
