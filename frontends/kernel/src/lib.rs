//! The kernel backend: patchbay's command language applied to the Linux
//! kernel over rtnetlink (netlink-packet-route messages on a netlink-sys
//! socket), in the current network namespace, so that the same topology
//! file builds the kernel's devices or patchbay's.
//!
//! A command is checked before anything changes: a device kind this kernel
//! lacks is found by trying it in a throwaway network namespace
//! ([`Kernel::supports`]), never assumed, and a batch is checked whole
//! ([`Kernel::check`]) before its first line runs.

use std::collections::HashMap;
use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE,
    NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::link::{
    AfSpecBridge, BridgeFlag, BridgePortState, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridgePort,
    InfoPortData, InfoPortKind, LinkExtentMask,
};
use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode};
use netlink_packet_route::link::{
    BondMode, BridgeStpState, InfoBond, InfoBridge, InfoData, InfoIpVlan, InfoKind, InfoMacVlan,
    InfoMacVtap, InfoVeth, InfoVlan, InfoVxlan, IpVlanMode, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage, MacVlanFlags, MacVlanMacAddressMode, MacVlanMode, State, VlanProtocol, VxlanDf,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use patchbay_core::cmd::show::{Detail, FdbRow, LinkDetails, LinkRow, PortVlans};
use patchbay_core::cmd::{self, Command, LinkKind, Opts};
use patchbay_io::rtnl::flag_names;
use serde_json::{json, Map, Value};

/// An rtnetlink connection to the kernel of the current namespace.
#[derive(Debug)]
pub struct Kernel {
    sock: Socket,
    seq: u32,
    /// Kinds already probed: true when the kernel has the driver.
    probed: HashMap<&'static str, bool>,
}

/// The driver (and module) behind a kind, as the kernel names it.
pub fn driver(kind: &str) -> &'static str {
    match kind {
        "bridge" => "bridge",
        "bond" => "bonding",
        "team" => "team",
        "vlan" => "8021q",
        "vxlan" => "vxlan",
        "macvlan" => "macvlan",
        "macvtap" => "macvtap",
        "ipvlan" => "ipvlan",
        "ipvtap" => "ipvtap",
        "veth" => "veth",
        "dummy" => "dummy",
        "nlmon" => "nlmon",
        "netdevsim" => "netdevsim",
        _ => "unknown",
    }
}

fn kind_name(k: &LinkKind) -> &'static str {
    match k {
        LinkKind::Bridge(_) => "bridge",
        LinkKind::Bond(_) => "bond",
        LinkKind::Team(_) => "team",
        LinkKind::Vxlan(..) => "vxlan",
        LinkKind::Vlan { .. } => "vlan",
        LinkKind::Macvlan(m) if m.tap => "macvtap",
        LinkKind::Macvlan(_) => "macvlan",
        LinkKind::Ipvlan(v) if v.tap => "ipvtap",
        LinkKind::Ipvlan(_) => "ipvlan",
        LinkKind::Veth { .. } => "veth",
        LinkKind::Dummy => "dummy",
        LinkKind::Nlmon => "nlmon",
        LinkKind::Netdevsim(_) => "netdevsim",
    }
}

fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => {
            "this kernel does not support it (EOPNOTSUPP: a driver or an option it was built without, such as vlan_filtering without CONFIG_BRIDGE_VLAN_FILTERING)".into()
        }
        Some(libc::EEXIST) => "a device of that name exists (EEXIST)".into(),
        Some(libc::ENODEV) => "no such device (ENODEV)".into(),
        Some(libc::EBUSY) => "the device is busy (EBUSY)".into(),
        Some(libc::EINVAL) => "the kernel refused the arguments (EINVAL)".into(),
        Some(libc::EPERM) => "not permitted (EPERM; run as root)".into(),
        _ => e.to_string(),
    }
}

/// A request the kernel refused: its errno, and the reason it gave
/// (NLMSGERR_ATTR_MSG) when it gave one.
#[derive(Debug)]
struct NlError {
    error: io::Error,
    msg: Option<String>,
}

impl NlError {
    /// `REASON (ERRNO)`, or the errno's words alone.
    fn text(&self) -> String {
        let name = match self.error.raw_os_error() {
            Some(libc::EINVAL) => "EINVAL",
            Some(libc::EEXIST) => "EEXIST",
            Some(libc::ENOENT) => "ENOENT",
            Some(libc::EBUSY) => "EBUSY",
            Some(libc::ENOSPC) => "ENOSPC",
            Some(libc::E2BIG) => "E2BIG",
            Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
            _ => "",
        };
        match &self.msg {
            Some(m) if !name.is_empty() => format!("{m} ({name})"),
            Some(m) => format!("{m} ({})", errno_text(&self.error)),
            None => errno_text(&self.error),
        }
    }
}

/// The NLMSGERR_ATTR_MSG of an NLMSG_ERROR with NLM_F_ACK_TLVS: after the
/// errno and the request's header (all of the request without
/// NLM_F_CAPPED).
fn extack_message(m: &[u8]) -> Option<String> {
    let flags = u16::from_ne_bytes([m[6], m[7]]);
    if flags & 0x200 == 0 || m.len() < 36 {
        return None;
    }
    let echoed = if flags & 0x100 != 0 {
        16
    } else {
        u32::from_ne_bytes(m[20..24].try_into().ok()?) as usize
    };
    let mut i = (20 + echoed).next_multiple_of(4);
    while i + 4 <= m.len() {
        let l = usize::from(u16::from_ne_bytes([m[i], m[i + 1]]));
        let t = u16::from_ne_bytes([m[i + 2], m[i + 3]]);
        if l < 4 || i + l > m.len() {
            return None;
        }
        if t == 1 {
            let v = &m[i + 4..i + l];
            let v = v.split(|b| *b == 0).next().unwrap_or(v);
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        i += l.next_multiple_of(4);
    }
    None
}

impl Kernel {
    pub fn open() -> io::Result<Kernel> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // The kernel's reasons with its errors (`bridge mdb` gives most of
        // its answers so), without the request echoed back.
        sock.set_ext_ack(true)?;
        sock.set_cap_ack(true)?;
        Ok(Kernel {
            sock,
            seq: 0,
            probed: HashMap::new(),
        })
    }

    /// Sends one request and reads the answer: the messages of a dump, or
    /// the acknowledgement (its errno as an error).
    fn request(
        &mut self,
        m: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | flags;
        let mut msg = NetlinkMessage::new(hdr, NetlinkPayload::from(m));
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.request_raw(buf)
            .map_err(|e| e.error)?
            .iter()
            .map(|b| {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(b)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                match m.payload {
                    NetlinkPayload::InnerMessage(i) => Ok(i),
                    _ => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "an answer that is not a message",
                    )),
                }
            })
            .collect()
    }

    /// Sends a request (its sequence number set here) as bytes and reads
    /// the answer: each message of a dump as bytes, or the acknowledgement;
    /// an error comes with the kernel's extended-ack message, if any.
    fn request_raw(&mut self, mut buf: Vec<u8>) -> Result<Vec<Vec<u8>>, NlError> {
        self.seq += 1;
        buf[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        let flags = u16::from_ne_bytes([buf[6], buf[7]]);
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let plain = |error: io::Error| NlError { error, msg: None };
        self.sock.send(&buf, 0).map_err(plain)?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full().map_err(plain)?;
            let mut off = 0;
            while off + 16 <= data.len() {
                let m = &data[off..];
                let len = u32::from_ne_bytes(m[..4].try_into().expect("4")) as usize;
                if len < 16 || len > m.len() {
                    break;
                }
                let m = &m[..len];
                off += (len + 3) & !3;
                match u16::from_ne_bytes([m[4], m[5]]) {
                    // NLMSG_DONE
                    3 => return Ok(out),
                    // NLMSG_ERROR: 0 acknowledges.
                    2 if len >= 20 => {
                        let code = i32::from_ne_bytes(m[16..20].try_into().expect("4"));
                        if code == 0 {
                            return Ok(out);
                        }
                        return Err(NlError {
                            error: io::Error::from_raw_os_error(-code),
                            msg: extack_message(m),
                        });
                    }
                    // NLMSG_NOOP, NLMSG_OVERRUN
                    1 | 4 => {}
                    _ => {
                        out.push(m.to_vec());
                        if !dump {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> io::Result<Vec<LinkMessage>> {
        let r = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(r.into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .collect())
    }

    pub fn index(&mut self, name: &str) -> io::Result<Option<u32>> {
        Ok(self
            .links()?
            .into_iter()
            .find(|l| name_of(l) == Some(name))
            .map(|l| l.header.index))
    }

    fn need_index(&mut self, cmd: &str, name: &str) -> Result<u32, String> {
        self.index(name)
            .map_err(|e| format!("{cmd}: {e}"))?
            .ok_or_else(|| format!("{cmd}: no device named \"{name}\" in this namespace"))
    }

    /// Whether this kernel has the driver for `kind`: tried once, in a
    /// network namespace of a thread of its own that nothing else sees.
    pub fn supports(&mut self, kind: &'static str) -> Result<bool, String> {
        if let Some(b) = self.probed.get(kind) {
            return Ok(*b);
        }
        let r = std::thread::spawn(move || -> Result<bool, String> {
            // SAFETY: unshare(2) affects only this thread's namespaces.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(format!(
                    "cannot make a namespace to try the {kind} driver in: {}",
                    io::Error::last_os_error()
                ));
            }
            let mut k = Kernel::open().map_err(|e| e.to_string())?;
            let lower = matches!(kind, "vlan" | "macvlan" | "macvtap" | "ipvlan" | "ipvtap");
            let mut words: Vec<String> = Vec::new();
            if lower {
                k.apply_words(&[
                    "link", "add", "pblower", "type", "veth", "peer", "name", "pblower1",
                ])
                .map_err(|e| format!("cannot try the {kind} driver without veth: {e}"))?;
                words.extend(["link", "add", "link", "pblower"].map(String::from));
            } else {
                words.extend(["link", "add"].map(String::from));
            }
            words.extend(["name", "pbprobe", "type", kind].map(String::from));
            match kind {
                "vlan" => words.extend(["id", "2"].map(String::from)),
                "vxlan" => words.extend(["id", "1", "dstport", "4789"].map(String::from)),
                "veth" => words.extend(["peer", "name", "pbprobe1"].map(String::from)),
                _ => {}
            }
            let w: Vec<&str> = words.iter().map(String::as_str).collect();
            match k.add_link_words(&w) {
                Ok(()) => Ok(true),
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(false),
                Err(e) => Err(format!("trying the {kind} driver: {}", errno_text(&e))),
            }
        })
        .join()
        .map_err(|_| "the probe thread panicked".to_string())??;
        self.probed.insert(kind, r);
        Ok(r)
    }

    fn add_link_words(&mut self, w: &[&str]) -> io::Result<()> {
        let words: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        let c = cmd::parse(&words).map_err(|e| io::Error::other(e.to_string()))?;
        let Command::LinkAdd(a) = c else {
            return Err(io::Error::other("not link add"));
        };
        let m = self.link_add_message(&a).map_err(io::Error::other)?;
        self.request(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }

    fn apply_words(&mut self, w: &[&str]) -> Result<String, String> {
        let words: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        let c = cmd::parse(&words).map_err(|e| e.to_string())?;
        self.apply(&c, Opts::default())
    }

    /// Checks commands before any runs: every kind they add is one this
    /// kernel has, and every command is one the kernel backend carries.
    pub fn check(&mut self, cmds: &[Command]) -> Result<(), String> {
        for c in cmds {
            match c {
                Command::LinkAdd(a) => {
                    let kind = kind_name(&a.kind);
                    if kind == "netdevsim" {
                        return Err(format!("link add {} type netdevsim: the kernel makes netdevsim ports through /sys/bus/netdevsim/new_device, not ip link (and this kernel has no netdevsim driver); nothing was changed", a.name));
                    }
                    if !self.supports(kind)? {
                        let d = driver(kind);
                        return Err(format!(
                            "link add {} type {kind}: this kernel has no {d} driver (built without it, and modules cannot be loaded here: modprobe {d} where they can); nothing was changed. patchbay's own {kind} needs no driver: run the command without --backend kernel",
                            a.name
                        ));
                    }
                }
                Command::LinkDel { .. }
                | Command::LinkSet(_)
                | Command::LinkShow { .. }
                | Command::TuntapAdd { .. }
                | Command::TuntapDel { .. }
                | Command::FdbAdd(_)
                | Command::FdbDel { .. }
                | Command::FdbShow { .. }
                | Command::VlanAdd(_)
                | Command::VlanDel(_)
                | Command::VlanShow { .. }
                | Command::BridgeLinkSet { .. }
                | Command::BridgeLinkShow { .. }
                | Command::MdbAdd(_)
                | Command::MdbDel(_)
                | Command::MdbShow { .. } => {}
                other => {
                    return Err(format!(
                    "the kernel backend does not carry this command yet ({}); nothing was changed",
                    command_name(other)
                ))
                }
            }
        }
        Ok(())
    }

    /// The RTM_NEWLINK that `ip link add` would send.
    fn link_add_message(&mut self, a: &cmd::LinkAdd) -> Result<LinkMessage, String> {
        let c = format!("link add {}", a.name);
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(a.name.clone()));
        if let Some(mtu) = a.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = a.address {
            m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
        }
        if let Some(l) = &a.link {
            let i = self.need_index(&c, l)?;
            m.attributes.push(LinkAttribute::Link(i));
        }
        let (kind, data) = match &a.kind {
            LinkKind::Bridge(o) => {
                let d = bridge_data(o);
                (
                    InfoKind::Bridge,
                    (!d.is_empty()).then_some(InfoData::Bridge(d)),
                )
            }
            LinkKind::Bond(o) => {
                let mode = o.mode.map(|m| match m as u8 {
                    0 => BondMode::BalanceRr,
                    1 => BondMode::ActiveBackup,
                    2 => BondMode::BalanceXor,
                    3 => BondMode::Broadcast,
                    4 => BondMode::Ieee8023Ad,
                    5 => BondMode::BalanceTlb,
                    _ => BondMode::BalanceAlb,
                });
                let mut d = Vec::new();
                if let Some(m) = mode {
                    d.push(InfoBond::Mode(m));
                }
                if let Some(v) = o.miimon {
                    d.push(InfoBond::MiiMon(v));
                }
                if let Some(v) = o.updelay {
                    d.push(InfoBond::UpDelay(v));
                }
                if let Some(v) = o.downdelay {
                    d.push(InfoBond::DownDelay(v));
                }
                // Nothing given is dropped without a word.
                let carried = cmd::bond::BondOpts {
                    mode: o.mode,
                    miimon: o.miimon,
                    updelay: o.updelay,
                    downdelay: o.downdelay,
                    ..Default::default()
                };
                if *o != carried {
                    return Err(format!("{c}: the kernel backend passes a bond's mode, miimon, updelay and downdelay; its other options are patchbay's only for now (nothing was changed)"));
                }
                (InfoKind::Bond, (!d.is_empty()).then_some(InfoData::Bond(d)))
            }
            LinkKind::Team(_) => (InfoKind::Other("team".into()), None),
            LinkKind::Vlan { id, protocol } => (
                InfoKind::Vlan,
                Some(InfoData::Vlan(vec![
                    InfoVlan::Id(*id),
                    InfoVlan::Protocol(match protocol {
                        patchbay_core::wire::VlanProtocol::Dot1Q => VlanProtocol::Ieee8021Q,
                        patchbay_core::wire::VlanProtocol::Dot1AD => VlanProtocol::Ieee8021Ad,
                    }),
                ])),
            ),
            LinkKind::Vxlan(v, _) => {
                let mut d = vec![InfoVxlan::Id(v.vni), InfoVxlan::Port(v.dstport)];
                // IFLA_VXLAN_GROUP carries `remote` and `group` alike; the
                // kernel tells them apart by the address.
                match v.remote {
                    Some(core::net::IpAddr::V4(a)) => d.push(InfoVxlan::Group(a)),
                    Some(core::net::IpAddr::V6(a)) => d.push(InfoVxlan::Group6(a)),
                    None => {}
                }
                match v.local {
                    Some(core::net::IpAddr::V4(a)) => d.push(InfoVxlan::Local(a)),
                    Some(core::net::IpAddr::V6(a)) => d.push(InfoVxlan::Local6(a)),
                    None => {}
                }
                if let Some(dev) = &v.dev {
                    let i = self.need_index(&c, dev)?;
                    d.push(InfoVxlan::Link(i));
                }
                d.push(InfoVxlan::Learning(v.learning));
                match v.ttl {
                    patchbay_core::vxlan::Ttl::Auto => {}
                    patchbay_core::vxlan::Ttl::Inherit => d.push(InfoVxlan::TtlInheritFlag),
                    patchbay_core::vxlan::Ttl::Value(t) => d.push(InfoVxlan::Ttl(t)),
                }
                match v.tos {
                    patchbay_core::vxlan::Tos::Value(t) => d.push(InfoVxlan::Tos(t)),
                    // `tos inherit` is 1 on the wire.
                    patchbay_core::vxlan::Tos::Inherit => d.push(InfoVxlan::Tos(1)),
                }
                d.push(InfoVxlan::Df(match v.df {
                    patchbay_core::vxlan::Df::Unset => VxlanDf::Unset,
                    patchbay_core::vxlan::Df::Set => VxlanDf::Set,
                    patchbay_core::vxlan::Df::Inherit => VxlanDf::Inherit,
                }));
                if v.srcport != (0, 0) {
                    d.push(InfoVxlan::PortRange(v.srcport));
                }
                if v.maxaddress > 0 {
                    d.push(InfoVxlan::Limit(v.maxaddress));
                }
                d.push(InfoVxlan::Proxy(v.proxy));
                d.push(InfoVxlan::L2Miss(v.l2miss));
                d.push(InfoVxlan::L3Miss(v.l3miss));
                d.push(InfoVxlan::UDPCsum(v.udpcsum));
                d.push(InfoVxlan::Ageing(v.ageing));
                (InfoKind::Vxlan, Some(InfoData::Vxlan(d)))
            }
            LinkKind::Macvlan(mv) => {
                let mode = match mv.mode {
                    patchbay_core::macvlan::Mode::Private => MacVlanMode::Private,
                    patchbay_core::macvlan::Mode::Vepa => MacVlanMode::Vepa,
                    patchbay_core::macvlan::Mode::Bridge => MacVlanMode::Bridge,
                    patchbay_core::macvlan::Mode::Passthru => MacVlanMode::Passthrough,
                    patchbay_core::macvlan::Mode::Source => MacVlanMode::Source,
                };
                let mut d = vec![InfoMacVlan::Mode(mode)];
                let mut flags = MacVlanFlags::empty();
                flags.set(MacVlanFlags::NoPromisc, mv.nopromisc);
                flags.set(MacVlanFlags::NoDst, mv.nodst);
                if !flags.is_empty() {
                    d.push(InfoMacVlan::Flags(flags));
                }
                d.push(InfoMacVlan::BcQueueLen(mv.bcqueuelen));
                if !mv.sources.is_empty() {
                    d.extend(macaddr_data(&patchbay_core::macvlan::MacaddrOp::Set(
                        mv.sources.clone(),
                    )));
                }
                macvlan_info(mv.tap, d)
            }
            LinkKind::Ipvlan(v) => {
                let mode = match v.mode {
                    patchbay_core::ipvlan::Mode::L2 => IpVlanMode::L2,
                    patchbay_core::ipvlan::Mode::L3 => IpVlanMode::L3,
                    patchbay_core::ipvlan::Mode::L3s => IpVlanMode::L3S,
                };
                let k = if v.tap {
                    InfoKind::IpVtap
                } else {
                    InfoKind::IpVlan
                };
                (k, Some(InfoData::IpVlan(vec![InfoIpVlan::Mode(mode)])))
            }
            LinkKind::Veth {
                peer, peer_address, ..
            } => {
                let mut p = LinkMessage::default();
                if let Some(n) = peer {
                    p.attributes.push(LinkAttribute::IfName(n.clone()));
                }
                if let Some(mac) = peer_address {
                    p.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
                }
                (InfoKind::Veth, Some(InfoData::Veth(InfoVeth::Peer(p))))
            }
            LinkKind::Dummy => (InfoKind::Dummy, None),
            LinkKind::Nlmon => (InfoKind::Nlmon, None),
            LinkKind::Netdevsim(_) => {
                return Err(format!("{c}: netdevsim ports are not made with ip link"))
            }
        };
        let mut li = vec![LinkInfo::Kind(kind)];
        if let Some(d) = data {
            li.push(LinkInfo::Data(d));
        }
        m.attributes.push(LinkAttribute::LinkInfo(li));
        Ok(m)
    }

    /// Carries out one command on the kernel.
    pub fn apply(&mut self, c: &Command, opts: Opts) -> Result<String, String> {
        self.check(std::slice::from_ref(c))?;
        match c {
            Command::LinkAdd(a) => {
                let m = self.link_add_message(a)?;
                self.request(
                    RouteNetlinkMessage::NewLink(m),
                    NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                )
                .map_err(|e| format!("link add {}: {}", a.name, errno_text(&e)))?;
                if a.up {
                    self.set_flags(&a.name, true)?;
                }
                Ok(String::new())
            }
            Command::LinkDel { name } => {
                let i = self.need_index("link del", name)?;
                let mut m = LinkMessage::default();
                m.header.index = i;
                self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK)
                    .map_err(|e| format!("link del {name}: {}", errno_text(&e)))?;
                Ok(String::new())
            }
            Command::LinkSet(s) => {
                let cmdname = format!("link set {}", s.name);
                if s.bond.is_some() || s.netdevsim.is_some() {
                    return Err(format!("{cmdname}: the kernel backend sets up/down, master, mtu, address, name, netns, macvlan's macaddr and the bridge and bridge_slave options; bond and netdevsim options are patchbay's only for now"));
                }
                let i = self.need_index(&cmdname, &s.name)?;
                let mut m = LinkMessage::default();
                m.header.index = i;
                match &s.master {
                    Some(Some(ms)) => {
                        let mi = self.need_index(&cmdname, ms)?;
                        m.attributes.push(LinkAttribute::Controller(mi));
                    }
                    Some(None) => m.attributes.push(LinkAttribute::Controller(0)),
                    None => {}
                }
                if let Some(mtu) = s.mtu {
                    m.attributes.push(LinkAttribute::Mtu(mtu));
                }
                if let Some(mac) = s.address {
                    m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
                }
                if let Some(n) = &s.rename {
                    m.attributes.push(LinkAttribute::IfName(n.clone()));
                }
                if let Some(up) = s.up {
                    m.header.change_mask = LinkFlags::Up;
                    m.header.flags = if up {
                        LinkFlags::Up
                    } else {
                        LinkFlags::empty()
                    };
                }
                // `type bridge ...` and `type bridge_slave ...`: the
                // changelink the kernel runs for RTM_NEWLINK on a device.
                let mut li = Vec::new();
                if let Some(o) = &s.bridge {
                    li.push(LinkInfo::Kind(InfoKind::Bridge));
                    li.push(LinkInfo::Data(InfoData::Bridge(bridge_data(o))));
                }
                if let Some(op) = &s.macaddr {
                    let tap = match self.kind_of(&s.name).as_deref() {
                        Some("macvlan") => false,
                        Some("macvtap") => true,
                        k => {
                            return Err(format!(
                            "{cmdname}: macaddr applies to macvlan and macvtap devices; {} is {}",
                            s.name,
                            k.unwrap_or("not a device this kernel reports a kind for")
                        ))
                        }
                    };
                    let (kind, data) = macvlan_info(tap, macaddr_data(op));
                    li.push(LinkInfo::Kind(kind));
                    li.extend(data.map(LinkInfo::Data));
                }
                if let Some(p) = &s.port {
                    li.push(LinkInfo::PortKind(InfoPortKind::Bridge));
                    li.push(LinkInfo::PortData(InfoPortData::BridgePort(port_data(p))));
                }
                let nsfile = match &s.netns {
                    Some(ns) => Some(
                        std::fs::File::open(format!("/run/netns/{ns}"))
                            .map_err(|e| format!("{cmdname}: network namespace {ns}: {e}"))?,
                    ),
                    None => None,
                };
                if let Some(f) = &nsfile {
                    use std::os::fd::AsRawFd;
                    m.attributes.push(LinkAttribute::NetNsFd(f.as_raw_fd()));
                }
                if !li.is_empty() {
                    m.attributes.push(LinkAttribute::LinkInfo(li));
                    return self
                        .request(RouteNetlinkMessage::NewLink(m), NLM_F_ACK)
                        .map(|_| String::new())
                        .map_err(|e| format!("{cmdname}: {}", errno_text(&e)));
                }
                self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK)
                    .map_err(|e| format!("{cmdname}: {}", errno_text(&e)))?;
                Ok(String::new())
            }
            Command::LinkShow { dev, master, kind } => {
                self.show(dev.as_deref(), master.as_deref(), kind.as_deref(), opts)
            }
            Command::BridgeLinkSet { dev, port } => {
                let c = format!("bridge link set dev {dev}");
                let i = self.need_index(&c, dev)?;
                let mut m = LinkMessage::default();
                m.header.index = i;
                m.attributes.push(LinkAttribute::LinkInfo(vec![
                    LinkInfo::PortKind(InfoPortKind::Bridge),
                    LinkInfo::PortData(InfoPortData::BridgePort(port_data(port))),
                ]));
                self.request(RouteNetlinkMessage::NewLink(m), NLM_F_ACK)
                    .map(|_| String::new())
                    .map_err(|e| format!("{c}: {}", errno_text(&e)))
            }
            Command::BridgeLinkShow { dev } => self.bridge_link_show(dev.as_deref(), opts),
            Command::FdbAdd(f) => self.fdb_change(f).map(|_| String::new()),
            Command::FdbDel {
                mac,
                dev,
                vlan,
                dst,
            } => self.fdb_del(*mac, dev, *vlan, *dst).map(|_| String::new()),
            Command::FdbShow { dev, br } => self.fdb_show(dev.as_deref(), br.as_deref(), opts),
            Command::VlanAdd(v) => self.vlan_change(v, true).map(|_| String::new()),
            Command::VlanDel(v) => self.vlan_change(v, false).map(|_| String::new()),
            Command::VlanShow { dev } => self.vlan_show(dev.as_deref(), opts),
            Command::TuntapAdd { name } => tuntap(name, true).map(|_| String::new()),
            Command::TuntapDel { name } => tuntap(name, false).map(|_| String::new()),
            Command::MdbAdd(c) => self.mdb_change(c, true).map(|_| String::new()),
            Command::MdbDel(c) => self.mdb_change(c, false).map(|_| String::new()),
            Command::MdbShow { dev } => self.mdb_show(dev.as_deref(), opts),
            other => Err(format!(
                "the kernel backend does not carry {} yet",
                command_name(other)
            )),
        }
    }

    /// `bridge mdb add|replace|del` (RTM_NEWMDB, RTM_DELMDB with
    /// MDBA_SET_ENTRY, as bridge(8) sends them); the kernel's reason when
    /// it refuses.
    fn mdb_change(&mut self, c: &cmd::mdb::MdbChange, add: bool) -> Result<(), String> {
        use patchbay_io::rtnl::mdb;
        let verb = match (add, c.replace) {
            (false, _) => "del",
            (true, true) => "replace",
            (true, false) => "add",
        };
        let what = format!(
            "bridge mdb {verb} dev {} port {} grp {}",
            c.dev, c.port, c.grp
        );
        let br = self.need_index(&what, &c.dev)?;
        let port = self.need_index(&what, &c.port)?;
        let (ty, flags) = if add {
            let how = if c.replace { NLM_F_REPLACE } else { NLM_F_EXCL };
            (mdb::RTM_NEWMDB, NLM_F_CREATE | how)
        } else {
            (mdb::RTM_DELMDB, 0)
        };
        let req = mdb::request(
            ty,
            NLM_F_REQUEST | NLM_F_ACK | flags,
            0,
            br,
            port,
            c.permanent,
            c.vid.unwrap_or(0),
            c.grp,
            c.src,
        );
        self.request_raw(req)
            .map(drop)
            .map_err(|e| format!("{what}: {}", e.text()))
    }

    /// `bridge mdb show [dev BRIDGE]` from an RTM_GETMDB dump, printed as
    /// patchbay's (and bridge(8)) print it.
    fn mdb_show(&mut self, dev: Option<&str>, opts: Opts) -> Result<String, String> {
        use patchbay_core::cmd::mdb::{render_show, MdbShow, RouterRow};
        use patchbay_io::rtnl::mdb;
        let what = "bridge mdb show";
        let only = dev.map(|d| self.need_index(what, d)).transpose()?;
        let names = self
            .names()
            .map_err(|e| format!("{what}: {}", errno_text(&e)))?;
        let name = |i: u32| names.get(&i).cloned().unwrap_or_else(|| format!("if{i}"));
        let msgs = self
            .request_raw(mdb::dump_request(NLM_F_REQUEST | NLM_F_DUMP, 0))
            .map_err(|e| format!("{what}: {}", e.text()))?;
        let mut bridges: Vec<MdbShow> = Vec::new();
        for m in msgs.iter().filter_map(|m| mdb::parse(m)) {
            if only.is_some_and(|o| o != m.bridge) {
                continue;
            }
            let dev = name(m.bridge);
            // A large MDB comes in several messages: one bridge each.
            if bridges.last().is_none_or(|b| b.dev != dev) {
                bridges.push(MdbShow {
                    dev,
                    rows: Vec::new(),
                    routers: Vec::new(),
                });
            }
            let b = bridges.last_mut().expect("pushed");
            b.rows
                .extend(m.entries.iter().map(|e| e.row(m.bridge, &name)));
            b.routers.extend(m.routers.iter().map(|r| RouterRow {
                port: name(r.ifindex),
                timer_cs: u64::from(r.timer.unwrap_or(0)),
                kind: r.kind.unwrap_or(1),
            }));
        }
        Ok(render_show(&bridges, opts))
    }

    /// A device's kind as the kernel reports it (`vxlan`, `bridge`, ...).
    fn kind_of(&mut self, name: &str) -> Option<String> {
        self.links()
            .ok()?
            .iter()
            .find(|l| name_of(l) == Some(name))
            .and_then(info_kind)
    }

    /// The ndmsg of an FDB entry on `dev`: the bridge's FDB (NTF_MASTER)
    /// for a bridge port or bridge, the device's own (NTF_SELF) for vxlan,
    /// as patchbay's `bridge fdb` reads the same words.
    fn fdb_message(
        &mut self,
        cmd: &str,
        mac: patchbay_core::wire::Mac,
        dev: &str,
        vlan: Option<u16>,
        dst: Option<core::net::IpAddr>,
    ) -> Result<NeighbourMessage, String> {
        let i = self.need_index(cmd, dev)?;
        let vx = self.kind_of(dev).as_deref() == Some("vxlan");
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = i;
        m.header.flags = if vx {
            NeighbourFlags::Own
        } else {
            NeighbourFlags::Controller
        };
        m.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
        if let Some(v) = vlan {
            m.attributes.push(NeighbourAttribute::Vlan(v));
        }
        if let Some(d) = dst {
            m.attributes.push(NeighbourAttribute::Destination(match d {
                core::net::IpAddr::V4(a) => NeighbourAddress::Inet(a),
                core::net::IpAddr::V6(a) => NeighbourAddress::Inet6(a),
            }));
        }
        Ok(m)
    }

    fn fdb_change(&mut self, f: &cmd::FdbAdd) -> Result<(), String> {
        let c = format!("bridge fdb add {} dev {}", f.mac, f.dev);
        let mut m = self.fdb_message(&c, f.mac, &f.dev, f.vlan, f.dst)?;
        m.header.state = if f.dynamic {
            NeighbourState::Reachable
        } else if f.flags.is_static {
            NeighbourState::Noarp
        } else {
            NeighbourState::Permanent
        };
        if f.flags.sticky {
            m.header.flags |= NeighbourFlags::from_bits_retain(1 << 6);
        }
        if f.flags.extern_learn {
            m.header.flags |= NeighbourFlags::from_bits_retain(1 << 4);
        }
        if let Some(p) = f.dst_port {
            m.attributes.push(NeighbourAttribute::Port(p));
        }
        if let Some(v) = f.dst_vni {
            m.attributes.push(NeighbourAttribute::Vni(v));
        }
        let how = if f.replace {
            NLM_F_REPLACE
        } else if f.append {
            NLM_F_APPEND
        } else {
            NLM_F_EXCL
        };
        self.request(
            RouteNetlinkMessage::NewNeighbour(m),
            NLM_F_CREATE | how | NLM_F_ACK,
        )
        .map(drop)
        .map_err(|e| format!("{c}: {}", errno_text(&e)))
    }

    fn fdb_del(
        &mut self,
        mac: patchbay_core::wire::Mac,
        dev: &str,
        vlan: Option<u16>,
        dst: Option<core::net::IpAddr>,
    ) -> Result<(), String> {
        let c = format!("bridge fdb del {mac} dev {dev}");
        let m = self.fdb_message(&c, mac, dev, vlan, dst)?;
        self.request(RouteNetlinkMessage::DelNeighbour(m), NLM_F_ACK)
            .map(drop)
            .map_err(|e| format!("{c}: {}", errno_text(&e)))
    }

    /// `bridge fdb show [dev DEV] [br BR]`, as `bridge` prints it.
    fn fdb_show(
        &mut self,
        dev: Option<&str>,
        br: Option<&str>,
        opts: Opts,
    ) -> Result<String, String> {
        let names = self.names().map_err(|e| format!("bridge fdb show: {e}"))?;
        let mut q = NeighbourMessage::default();
        q.header.family = AddressFamily::Bridge;
        let r = self
            .request(RouteNetlinkMessage::GetNeighbour(q), NLM_F_DUMP)
            .map_err(|e| format!("bridge fdb show: {e}"))?;
        let mut rows = Vec::new();
        for m in r {
            let RouteNetlinkMessage::NewNeighbour(n) = m else {
                continue;
            };
            let ifname = names.get(&n.header.ifindex).cloned().unwrap_or_default();
            let mut r = FdbRow::default();
            for a in &n.attributes {
                match a {
                    NeighbourAttribute::LinkLayerAddress(v) => r.mac = mac_text(v),
                    NeighbourAttribute::Vlan(v) => r.vlan = Some(*v),
                    NeighbourAttribute::Port(p) => r.port = Some(*p),
                    NeighbourAttribute::Vni(v) => r.vni = Some(*v),
                    NeighbourAttribute::Controller(i) => r.master = names.get(i).cloned(),
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                        r.dst = Some(a.to_string())
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                        r.dst = Some(a.to_string())
                    }
                    // AF_BRIDGE entries carry NDA_DST as raw bytes.
                    NeighbourAttribute::Destination(NeighbourAddress::Other(v)) => {
                        r.dst = match v.len() {
                            4 => Some(
                                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&v[..]).expect("4"))
                                    .to_string(),
                            ),
                            16 => Some(
                                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&v[..]).expect("16"))
                                    .to_string(),
                            ),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
            if dev.is_some_and(|d| d != ifname)
                || br.is_some_and(|b| r.master.as_deref() != Some(b) && ifname != b)
            {
                continue;
            }
            // With `dev X` iproute2 leaves the device out.
            if dev.is_none() {
                r.ifname = Some(ifname);
            }
            // `fdb_print_flags`' order.
            for (f, name) in [
                (NeighbourFlags::Own, "self"),
                (NeighbourFlags::Router, "router"),
                (NeighbourFlags::ExtLearned, "extern_learn"),
                (NeighbourFlags::Offloaded, "offload"),
                (NeighbourFlags::Sticky, "sticky"),
            ] {
                if n.header.flags.contains(f) {
                    r.flags.push(name);
                }
            }
            r.state = match n.header.state {
                NeighbourState::Permanent => Some("permanent".into()),
                NeighbourState::Noarp => Some("static".into()),
                NeighbourState::Stale => Some("stale".into()),
                _ => None,
            };
            rows.push(r);
        }
        Ok(cmd::show::render_fdb(&rows, opts.json))
    }

    /// `bridge vlan add|del dev DEV vid V[-W] [pvid] [untagged] [self]`:
    /// RTM_SETLINK / RTM_DELLINK with IFLA_AF_SPEC, as `bridge` sends.
    fn vlan_change(&mut self, v: &cmd::VlanCmd, add: bool) -> Result<(), String> {
        let c = format!(
            "bridge vlan {} dev {}",
            if add { "add" } else { "del" },
            v.dev
        );
        let i = self.need_index(&c, &v.dev)?;
        let mut spec = Vec::new();
        if v.self_ {
            spec.push(AfSpecBridge::Flags(BridgeFlag::LowerDev));
        }
        let mut flags = BridgeVlanInfoFlags::empty();
        if v.pvid {
            flags |= BridgeVlanInfoFlags::Pvid;
        }
        if v.untagged {
            flags |= BridgeVlanInfoFlags::Untagged;
        }
        for vid in v.vids.0..=v.vids.1 {
            spec.push(AfSpecBridge::VlanInfo(BridgeVlanInfo { flags, vid }));
        }
        let mut m = LinkMessage::default();
        m.header.interface_family = AddressFamily::Bridge;
        m.header.index = i;
        m.attributes.push(LinkAttribute::AfSpecBridge(spec));
        let req = if add {
            RouteNetlinkMessage::SetLink(m)
        } else {
            RouteNetlinkMessage::DelLink(m)
        };
        self.request(req, NLM_F_ACK)
            .map(drop)
            .map_err(|e| format!("{c}: {}", errno_text(&e)))
    }

    /// `bridge vlan show [dev DEV]`.
    fn vlan_show(&mut self, dev: Option<&str>, opts: Opts) -> Result<String, String> {
        let mut q = LinkMessage::default();
        q.header.interface_family = AddressFamily::Bridge;
        q.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
        let r = self
            .request(RouteNetlinkMessage::GetLink(q), NLM_F_DUMP)
            .map_err(|e| format!("bridge vlan show: {e}"))?;
        let mut rows = Vec::new();
        for m in r {
            let RouteNetlinkMessage::NewLink(l) = m else {
                continue;
            };
            let name = name_of(&l).unwrap_or("").to_string();
            if dev.is_some_and(|d| d != name) {
                continue;
            }
            let mut vlans = Vec::new();
            for a in &l.attributes {
                let LinkAttribute::AfSpecBridge(spec) = a else {
                    continue;
                };
                for x in spec {
                    let AfSpecBridge::VlanInfo(vi) = x else {
                        continue;
                    };
                    vlans.push((
                        vi.vid,
                        vi.flags.contains(BridgeVlanInfoFlags::Pvid),
                        vi.flags.contains(BridgeVlanInfoFlags::Untagged),
                    ));
                }
            }
            if !vlans.is_empty() {
                rows.push(PortVlans {
                    ifname: name,
                    vlans,
                });
            }
        }
        Ok(cmd::show::render_vlans(&rows, opts.json))
    }

    fn set_flags(&mut self, name: &str, up: bool) -> Result<(), String> {
        let i = self.need_index("link set", name)?;
        let mut m = LinkMessage::default();
        m.header.index = i;
        m.header.change_mask = LinkFlags::Up;
        m.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK)
            .map(drop)
            .map_err(|e| format!("link set {name}: {}", errno_text(&e)))
    }

    /// `link show` as iproute2 prints the kernel's links: the same JSON
    /// shape as patchbay's `-j link show`.
    /// Every link, with the names and up flags by index that printing
    /// them needs; `dev`, when given, must be one of them.
    fn dump(&mut self, cmd: &str, dev: Option<&str>) -> Result<Dump, String> {
        let links = self.links().map_err(|e| format!("{cmd}: {e}"))?;
        let names: HashMap<u32, String> = links
            .iter()
            .filter_map(|l| Some((l.header.index, name_of(l)?.to_string())))
            .collect();
        if let Some(d) = dev {
            if !names.values().any(|n| n == d) {
                return Err(format!(
                    "{cmd}: no device named \"{d}\" (see 'patchbay --backend kernel link show')"
                ));
            }
        }
        let up = links
            .iter()
            .map(|l| (l.header.index, l.header.flags.contains(LinkFlags::Up)))
            .collect();
        Ok(Dump { links, names, up })
    }

    /// `bridge link show [dev DEV]`: the kernel's bridge ports (their
    /// IFLA_INFO_SLAVE_DATA), printed by the renderer patchbay's own
    /// bridges use.
    fn bridge_link_show(&mut self, dev: Option<&str>, opts: Opts) -> Result<String, String> {
        let Dump { links, names, up } = self.dump("bridge link show", dev)?;
        let mut rows = Vec::new();
        for l in &links {
            let port = l.attributes.iter().find_map(|a| match a {
                LinkAttribute::LinkInfo(li) => li.iter().find_map(|i| match i {
                    LinkInfo::PortData(InfoPortData::BridgePort(v)) => Some(v),
                    _ => None,
                }),
                _ => None,
            });
            let Some(port) = port else { continue };
            let link = link_row(l, &names, &up, Opts::default());
            let mut r = cmd::PortRow {
                ifindex: l.header.index,
                ifname: link.ifname,
                link: link.link,
                flags: link.flags,
                mtu: link.mtu,
                master: link.master.unwrap_or_default(),
                ..Default::default()
            };
            if dev.is_some_and(|d| r.ifname != d) {
                continue;
            }
            // The same reading as `-d` (bridge_port_json), one mapping.
            let pj = bridge_port_json(port);
            let flag = |k: &str| pj[k].as_bool().unwrap_or(false);
            r.state = pj["state"].as_str().unwrap_or("unknown").into();
            r.priority = pj["priority"].as_u64().unwrap_or(0) as u32;
            r.cost = pj["cost"].as_u64().unwrap_or(0) as u32;
            (r.hairpin, r.learning, r.flood) = (flag("hairpin"), flag("learning"), flag("flood"));
            (r.mcast_flood, r.bcast_flood, r.isolated) =
                (flag("mcast_flood"), flag("bcast_flood"), flag("isolated"));
            rows.push(r);
        }
        Ok(cmd::render_port_rows(&rows, opts))
    }

    fn show(
        &mut self,
        dev: Option<&str>,
        master: Option<&str>,
        kind: Option<&str>,
        opts: Opts,
    ) -> Result<String, String> {
        let Dump { links, names, up } = self.dump("link show", dev)?;
        let mut rows = Vec::new();
        for l in &links {
            let r = link_row(l, &names, &up, opts);
            if dev.is_some_and(|d| r.ifname != d) {
                continue;
            }
            if master.is_some_and(|m| r.master.as_deref() != Some(m)) {
                continue;
            }
            if kind.is_some_and(|k| info_kind(l).as_deref() != Some(k)) {
                continue;
            }
            rows.push(r);
        }
        Ok(cmd::show::render_links(&rows, opts.json))
    }
}

/// A link dump and what printing it needs.
struct Dump {
    links: Vec<LinkMessage>,
    names: HashMap<u32, String>,
    up: HashMap<u32, bool>,
}

/// `macaddr add|del|set|flush`'s attributes (IFLA_MACVLAN_MACADDR_MODE and
/// the address, or the whole list in IFLA_MACVLAN_MACADDR_DATA for set).
fn macaddr_data(op: &patchbay_core::macvlan::MacaddrOp) -> Vec<InfoMacVlan> {
    use patchbay_core::macvlan::MacaddrOp;
    match op {
        MacaddrOp::Add(m) => vec![
            InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Add),
            InfoMacVlan::MacAddr(m.0),
        ],
        MacaddrOp::Del(m) => vec![
            InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Del),
            InfoMacVlan::MacAddr(m.0),
        ],
        MacaddrOp::Set(v) => vec![
            InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Set),
            InfoMacVlan::MacAddrData(v.iter().map(|m| InfoMacVlan::MacAddr(m.0)).collect()),
        ],
        MacaddrOp::Flush => vec![InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Flush)],
    }
}

/// IFLA_INFO_KIND and IFLA_INFO_DATA for a macvlan, or a macvtap (the same
/// attributes under the other kind).
fn macvlan_info(tap: bool, d: Vec<InfoMacVlan>) -> (InfoKind, Option<InfoData>) {
    if !tap {
        return (InfoKind::MacVlan, Some(InfoData::MacVlan(d)));
    }
    fn vtap(a: InfoMacVlan) -> InfoMacVtap {
        match a {
            InfoMacVlan::Mode(m) => InfoMacVtap::Mode(m),
            InfoMacVlan::Flags(f) => InfoMacVtap::Flags(f),
            InfoMacVlan::MacAddrMode(m) => InfoMacVtap::MacAddrMode(m),
            InfoMacVlan::MacAddr(m) => InfoMacVtap::MacAddr(m),
            InfoMacVlan::MacAddrData(v) => {
                InfoMacVtap::MacAddrData(v.into_iter().map(vtap).collect())
            }
            InfoMacVlan::BcQueueLen(n) => InfoMacVtap::BcQueueLen(n),
            other => unreachable!("macvlan_info is given only what this file makes: {other:?}"),
        }
    }
    (
        InfoKind::MacVtap,
        Some(InfoData::MacVtap(d.into_iter().map(vtap).collect())),
    )
}

/// IFLA_INFO_DATA for a bridge's options (centiseconds, as the kernel's
/// clock_t).
fn bridge_data(o: &cmd::BridgeOpts) -> Vec<InfoBridge> {
    let mut d = Vec::new();
    if let Some(v) = o.stp_state {
        d.push(InfoBridge::StpState(match v {
            0 => BridgeStpState::Disabled,
            1 => BridgeStpState::KernelStp,
            _ => BridgeStpState::UserStp,
        }));
    }
    if let Some(v) = o.priority {
        d.push(InfoBridge::Priority(v));
    }
    for (v, f) in [
        (
            o.forward_delay,
            InfoBridge::ForwardDelay as fn(u32) -> InfoBridge,
        ),
        (o.hello_time, InfoBridge::HelloTime),
        (o.max_age, InfoBridge::MaxAge),
        (o.ageing_time, InfoBridge::AgeingTime),
    ] {
        if let Some(v) = v {
            d.push(f(v as u32));
        }
    }
    if let Some(v) = o.vlan_filtering {
        d.push(InfoBridge::VlanFiltering(v));
    }
    let m = &o.mcast;
    for (v, f) in [
        (
            m.snooping,
            InfoBridge::MulticastSnooping as fn(bool) -> InfoBridge,
        ),
        (m.query_use_ifaddr, InfoBridge::MulticastQueryUseIfaddr),
        (m.querier, InfoBridge::MulticastQuerier),
        (m.stats_enabled, InfoBridge::MulticastStatsEnabled),
    ] {
        if let Some(v) = v {
            d.push(f(v));
        }
    }
    if let Some(v) = m.router {
        d.push(InfoBridge::MulticastRouter(v.into()));
    }
    for (v, f) in [
        (
            m.hash_elasticity,
            InfoBridge::MulticastHashElasticity as fn(u32) -> InfoBridge,
        ),
        (m.hash_max, InfoBridge::MulticastHashMax),
        (m.last_member_count, InfoBridge::MulticastLastMemberCount),
        (
            m.startup_query_count,
            InfoBridge::MulticastStartupQueryCount,
        ),
    ] {
        if let Some(v) = v {
            d.push(f(v));
        }
    }
    for (v, f) in [
        (
            m.last_member_interval,
            InfoBridge::MulticastLastMemberInterval as fn(u64) -> InfoBridge,
        ),
        (
            m.membership_interval,
            InfoBridge::MulticastMembershipInterval,
        ),
        (m.querier_interval, InfoBridge::MulticastQuerierInterval),
        (m.query_interval, InfoBridge::MulticastQueryInterval),
        (
            m.query_response_interval,
            InfoBridge::MulticastQueryResponseInterval,
        ),
        (
            m.startup_query_interval,
            InfoBridge::MulticastStartupQueryInterval,
        ),
    ] {
        if let Some(v) = v {
            d.push(f(v));
        }
    }
    if let Some(v) = m.igmp_version {
        d.push(InfoBridge::MulticastIgmpVersion(v));
    }
    if let Some(v) = m.mld_version {
        d.push(InfoBridge::MulticastMldVersion(v));
    }
    d
}

/// IFLA_INFO_SLAVE_DATA for a bridge port's options (`type bridge_slave`).
fn port_data(p: &cmd::PortChanges) -> Vec<InfoBridgePort> {
    let mut d = Vec::new();
    if let Some(v) = p.state {
        use patchbay_core::bridge::PortState;
        d.push(InfoBridgePort::State(match v {
            PortState::Disabled => BridgePortState::Disabled,
            PortState::Listening => BridgePortState::Listening,
            PortState::Learning => BridgePortState::Learning,
            PortState::Forwarding => BridgePortState::Forwarding,
            PortState::Blocking => BridgePortState::Blocking,
        }));
    }
    if let Some(v) = p.priority {
        d.push(InfoBridgePort::Priority(u16::from(v)));
    }
    if let Some(v) = p.cost {
        d.push(InfoBridgePort::Cost(v));
    }
    for (v, f) in [
        (
            p.hairpin,
            InfoBridgePort::HairpinMode as fn(bool) -> InfoBridgePort,
        ),
        (p.guard, InfoBridgePort::Guard),
        (p.root_block, InfoBridgePort::Protect),
        (p.learning, InfoBridgePort::Learning),
        (p.flood, InfoBridgePort::UnicastFlood),
        (p.mcast_flood, InfoBridgePort::MulticastFlood),
        (p.bcast_flood, InfoBridgePort::BroadcastFlood),
        (p.isolated, InfoBridgePort::Isolated),
        (p.fast_leave, InfoBridgePort::FastLeave),
    ] {
        if let Some(v) = v {
            d.push(f(v));
        }
    }
    if let Some(v) = p.group_fwd_mask {
        d.push(InfoBridgePort::GroupFwdMask(v));
    }
    if let Some(v) = p.mcast_router {
        d.push(InfoBridgePort::MulticastRouter(v.into()));
    }
    d
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::FdbAdd(_) | Command::FdbDel { .. } | Command::FdbShow { .. } => "bridge fdb",
        Command::VlanAdd(_) | Command::VlanDel(_) | Command::VlanShow { .. } => "bridge vlan",
        Command::BridgeLinkSet { .. } | Command::BridgeLinkShow { .. } => "bridge link",
        Command::Stats { .. } => "stats",
        Command::Mstpctl(..) => "mstpctl",
        Command::BondShow { .. } => "bond show",
        Command::Teamctl(..) => "teamctl",
        Command::Neigh(_) => "neigh",
        Command::Save => "save (it writes patchbay's own topology; the kernel's is ip's to show)",
        _ => "this command",
    }
}

fn name_of(l: &LinkMessage) -> Option<&str> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn info_kind(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(v) => v.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

fn mac_text(v: &[u8]) -> String {
    v.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One link in iproute2's `-j link show` shape.
/// A link of the dump as the one model of `link show` holds it: what `ip
/// [-d] [-s] link show` prints of the same RTM_NEWLINK, attribute by
/// attribute, in iproute2's order (`print_linkinfo`).
fn link_row(
    l: &LinkMessage,
    names: &HashMap<u32, String>,
    up: &HashMap<u32, bool>,
    opts: Opts,
) -> LinkRow {
    let mut r = LinkRow {
        ifindex: l.header.index,
        qdisc: "noqueue".into(),
        operstate: "UNKNOWN".into(),
        ..Default::default()
    };
    let mut mdown = false;
    let num = |f: fn(&LinkAttribute) -> Option<u32>| l.attributes.iter().find_map(f);
    let promiscuity = num(|a| match a {
        LinkAttribute::Promiscuity(v) => Some(*v),
        _ => None,
    });
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => r.ifname = n.clone(),
            LinkAttribute::Mtu(v) => r.mtu = *v,
            LinkAttribute::Qdisc(q) => r.qdisc = q.clone(),
            LinkAttribute::Controller(i) => r.master = names.get(i).cloned(),
            LinkAttribute::Link(i) if *i != l.header.index => {
                r.link = Some(names.get(i).cloned().unwrap_or_else(|| format!("if{i}")));
                // iproute2's M-DOWN: the device it sits on (or its peer) is down.
                mdown = up.get(i) == Some(&false);
            }
            LinkAttribute::OperState(s) => {
                r.operstate = match s {
                    State::Up => "UP",
                    State::Down => "DOWN",
                    State::LowerLayerDown => "LOWERLAYERDOWN",
                    State::Dormant => "DORMANT",
                    _ => "UNKNOWN",
                }
                .into()
            }
            LinkAttribute::Address(v) => r.address = mac_text(v),
            LinkAttribute::Broadcast(v) => r.broadcast = mac_text(v),
            LinkAttribute::TxQueueLen(v) => r.txqlen = Some(*v),
            _ => {}
        }
    }
    r.flags = flag_names(l.header.flags)
        .into_iter()
        .map(str::to_string)
        .collect();
    if mdown {
        r.flags.push("M-DOWN".into());
    }
    r.link_type = match u16::from(l.header.link_layer_type) {
        1 => "ether",
        772 => "loopback",
        824 => "netlink",
        65534 => "none",
        _ => "ether",
    }
    .into();
    if opts.details {
        let mut d = LinkDetails::default();
        if let Some(p) = promiscuity {
            d.head
                .push(Detail::any("promiscuity", format!(" promiscuity {p} "), p));
        }
        if let Some(v) = num(|a| match a {
            LinkAttribute::AllMulticast(v) => Some(*v),
            _ => None,
        }) {
            d.head
                .push(Detail::any("allmulti", format!(" allmulti {v} "), v));
        }
        if let Some(v) = num(|a| match a {
            LinkAttribute::MinMtu(v) => Some(*v),
            _ => None,
        }) {
            d.head.push(Detail::uint("min_mtu", "minmtu", v.into()));
        }
        if let Some(v) = num(|a| match a {
            LinkAttribute::MaxMtu(v) => Some(*v),
            _ => None,
        }) {
            d.head.push(Detail::uint("max_mtu", "maxmtu", v.into()));
        }
        d.kind = info_kind(l);
        for a in &l.attributes {
            let LinkAttribute::LinkInfo(infos) = a else {
                continue;
            };
            for i in infos {
                match i {
                    LinkInfo::Data(InfoData::Bridge(x)) => d.data = bridge_details(x),
                    LinkInfo::Data(InfoData::Vxlan(x)) => d.data = vxlan_details(x, names),
                    LinkInfo::Data(InfoData::MacVlan(x)) => d.data = macvlan_details(x),
                    LinkInfo::PortKind(InfoPortKind::Bridge) => {
                        d.slave_kind = Some("bridge".into())
                    }
                    LinkInfo::PortData(InfoPortData::BridgePort(x)) => {
                        d.slave_kind = Some("bridge".into());
                        d.slave_data = bridge_port_details(x);
                    }
                    _ => {}
                }
            }
        }
        let gen_mode = l.attributes.iter().find_map(|a| match a {
            LinkAttribute::AfSpecUnspec(v) => v.iter().find_map(|s| match s {
                AfSpecUnspec::Inet6(i6) => i6.iter().find_map(|x| match x {
                    AfSpecInet6::AddrGenMode(m) => Some(match m {
                        In6AddrGenMode::Eui64 => "eui64".to_string(),
                        In6AddrGenMode::None => "none".to_string(),
                        In6AddrGenMode::StablePrivacy => "stable_secret".to_string(),
                        In6AddrGenMode::Random => "random".to_string(),
                        In6AddrGenMode::Other(o) => format!("{o:#04x}"),
                        _ => "unknown".to_string(),
                    }),
                    _ => None,
                }),
                _ => None,
            }),
            _ => None,
        });
        if let Some(m) = gen_mode {
            d.tail.push(Detail::any(
                "inet6_addr_gen_mode",
                format!("addrgenmode {m} "),
                m,
            ));
        }
        // `print_linkinfo`'s order, whatever the kernel's.
        for (key, text, f) in [
            (
                "num_tx_queues",
                "numtxqueues",
                (|a| match a {
                    LinkAttribute::NumTxQueues(v) => Some(*v),
                    _ => None,
                }) as fn(&LinkAttribute) -> Option<u32>,
            ),
            ("num_rx_queues", "numrxqueues", |a| match a {
                LinkAttribute::NumRxQueues(v) => Some(*v),
                _ => None,
            }),
            ("gso_max_size", "gso_max_size", |a| match a {
                LinkAttribute::GsoMaxSize(v) => Some(*v),
                _ => None,
            }),
            ("gso_max_segs", "gso_max_segs", |a| match a {
                LinkAttribute::GsoMaxSegs(v) => Some(*v),
                _ => None,
            }),
            ("tso_max_size", "tso_max_size", |a| match a {
                LinkAttribute::TsoMaxSize(v) => Some(*v),
                _ => None,
            }),
            ("tso_max_segs", "tso_max_segs", |a| match a {
                LinkAttribute::TsoMaxSegs(v) => Some(*v),
                _ => None,
            }),
            ("gro_max_size", "gro_max_size", |a| match a {
                LinkAttribute::GroMaxSize(v) => Some(*v),
                _ => None,
            }),
        ] {
            if let Some(v) = num(f) {
                d.tail.push(Detail::uint(key, text, v.into()));
            }
        }
        for a in &l.attributes {
            match a {
                LinkAttribute::ParentDevBusName(b) => d.tail.push(Detail::any(
                    "parentbus",
                    format!("parentbus {b} "),
                    b.clone(),
                )),
                LinkAttribute::ParentDevName(b) => d.tail.push(Detail::any(
                    "parentdev",
                    format!("parentdev {b} "),
                    b.clone(),
                )),
                _ => {}
            }
        }
        r.details = Some(d);
    }
    if opts.stats {
        if let Some(s) = stats64_of(l) {
            let j = json!({
                "rx": {"bytes": s.rx_bytes, "packets": s.rx_packets, "errors": s.rx_errors,
                       "dropped": s.rx_dropped, "over_errors": s.rx_over_errors,
                       "multicast": s.multicast},
                "tx": {"bytes": s.tx_bytes, "packets": s.tx_packets, "errors": s.tx_errors,
                       "dropped": s.tx_dropped, "carrier_errors": s.tx_carrier_errors,
                       "collisions": s.collisions},
            });
            r.stats = Some((j, stats_text(s)));
        }
    }
    r
}

/// A kernel bridge ID as iproute2 prints it (`8000.2:0:0:0:0:1`).
fn bridge_id_text(b: &netlink_packet_route::link::BridgeId) -> String {
    patchbay_core::wire::bpdu::BridgeId::new(b.priority, patchbay_core::wire::Mac(b.address))
        .iproute2()
}

/// Pushes what `pick` finds among `attrs`, in the caller's order.
fn each<A>(attrs: &[A], out: &mut Vec<Detail>, pick: impl Fn(&A) -> Option<Detail>) {
    out.extend(attrs.iter().filter_map(pick));
}

/// A kernel bridge's IFLA_INFO_DATA as `bridge_print_opt` (iproute2 6.1)
/// prints it, in its order.
fn bridge_details(d: &[InfoBridge]) -> Vec<Detail> {
    use InfoBridge as B;
    let mut v = Vec::new();
    let u = |k: &str, x: u64| Detail::uint(k, k, x);
    each(d, &mut v, |a| match a {
        B::ForwardDelay(x) => Some(u("forward_delay", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::HelloTime(x) => Some(u("hello_time", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MaxAge(x) => Some(u("max_age", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::AgeingTime(x) => Some(u("ageing_time", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::StpState(x) => Some(u(
            "stp_state",
            match x {
                BridgeStpState::Disabled => 0,
                BridgeStpState::KernelStp => 1,
                BridgeStpState::UserStp => 2,
                _ => 3,
            },
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::Priority(x) => Some(u("priority", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::VlanFiltering(x) => Some(u("vlan_filtering", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::VlanProtocol(x) => {
            let p = match u16::from(*x) {
                0x88a8 => "802.1ad".to_string(),
                0x8100 => "802.1Q".to_string(),
                o => format!("{o:#06x}"),
            };
            Some(Detail::any(
                "vlan_protocol",
                format!("vlan_protocol {p} "),
                p,
            ))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::BridgeId(x) => {
            let t = bridge_id_text(x);
            Some(Detail::any("bridge_id", format!("bridge_id {t} "), t))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::RootId(x) => {
            let t = bridge_id_text(x);
            Some(Detail::any("root_id", format!("designated_root {t} "), t))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::RootPort(x) => Some(u("root_port", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::RootPathCost(x) => Some(u("root_path_cost", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::TopologyChange(x) => Some(u("topology_change", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::TopologyChangeDetected(x) => Some(u("topology_change_detected", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::HelloTimer(x) => Some(Detail::timer("hello_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::TcnTimer(x) => Some(Detail::timer("tcn_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::TopologyChangeTimer(x) => Some(Detail::timer("topology_change_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::GcTimer(x) => Some(Detail::timer("gc_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::VlanDefaultPvid(x) => Some(u("vlan_default_pvid", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::VlanStatsEnabled(x) => Some(u("vlan_stats_enabled", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::VlanStatsPerPort(x) => Some(u("vlan_stats_per_port", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::GroupFwdMask(x) => Some(Detail::hex("group_fwd_mask", "group_fwd_mask", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::GroupAddr(x) => {
            let t = mac_text(x);
            Some(Detail::any("group_addr", format!("group_address {t} "), t))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastSnooping(x) => Some(u("mcast_snooping", (*x).into())),
        _ => None,
    });
    for a in d {
        if let B::MultiBoolOpt(o) = a {
            use netlink_packet_route::link::BridgeBooleanOptionFlags as F;
            for (flag, k) in [
                (F::NoLinkLocalLearn, "no_linklocal_learn"),
                (F::VlanMulticastSnooping, "mcast_vlan_snooping"),
            ] {
                if o.mask.contains(flag) {
                    v.push(u(k, o.value.contains(flag).into()));
                }
            }
        }
    }
    each(d, &mut v, |a| match a {
        B::MulticastRouter(x) => Some(u("mcast_router", u8::from(*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastQueryUseIfaddr(x) => Some(u("mcast_query_use_ifaddr", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastQuerier(x) => Some(u("mcast_querier", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastHashElasticity(x) => Some(u("mcast_hash_elasticity", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastHashMax(x) => Some(u("mcast_hash_max", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastLastMemberCount(x) => Some(Detail::uint(
            "mcast_last_member_cnt",
            "mcast_last_member_count",
            (*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastStartupQueryCount(x) => Some(Detail::uint(
            "mcast_startup_query_cnt",
            "mcast_startup_query_count",
            (*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastLastMemberInterval(x) => Some(Detail::uint(
            "mcast_last_member_intvl",
            "mcast_last_member_interval",
            *x,
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastMembershipInterval(x) => Some(Detail::uint(
            "mcast_membership_intvl",
            "mcast_membership_interval",
            *x,
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastQuerierInterval(x) => Some(Detail::uint(
            "mcast_querier_intvl",
            "mcast_querier_interval",
            *x,
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastQueryInterval(x) => Some(Detail::uint(
            "mcast_query_intvl",
            "mcast_query_interval",
            *x,
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastQueryResponseInterval(x) => Some(Detail::uint(
            "mcast_query_response_intvl",
            "mcast_query_response_interval",
            *x,
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastStartupQueryInterval(x) => Some(Detail::uint(
            "mcast_startup_query_intvl",
            "mcast_startup_query_interval",
            *x,
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastStatsEnabled(x) => Some(u("mcast_stats_enabled", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastIgmpVersion(x) => Some(u("mcast_igmp_version", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::MulticastMldVersion(x) => Some(u("mcast_mld_version", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::NfCallIpTables(x) => Some(u("nf_call_iptables", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::NfCallIp6Tables(x) => Some(u("nf_call_ip6tables", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        B::NfCallArpTables(x) => Some(u("nf_call_arptables", (*x).into())),
        _ => None,
    });
    v
}

/// A kernel bridge port's IFLA_INFO_SLAVE_DATA as `bridge_slave_print_opt`
/// (iproute2 6.1) prints it, in its order.
fn bridge_port_details(d: &[InfoBridgePort]) -> Vec<Detail> {
    use InfoBridgePort as P;
    let mut v = Vec::new();
    each(d, &mut v, |a| match a {
        P::State(s) => {
            let n = match s {
                BridgePortState::Disabled => "disabled",
                BridgePortState::Listening => "listening",
                BridgePortState::Learning => "learning",
                BridgePortState::Forwarding => "forwarding",
                BridgePortState::Blocking => "blocking",
                _ => "unknown",
            };
            Some(Detail::any("state", format!("state {n} "), n))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Priority(x) => Some(Detail::uint("priority", "priority", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Cost(x) => Some(Detail::uint("cost", "cost", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::HairpinMode(x) => Some(Detail::on_off("hairpin", "hairpin", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Guard(x) => Some(Detail::on_off("guard", "guard", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Protect(x) => Some(Detail::on_off("root_block", "root_block", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::FastLeave(x) => Some(Detail::on_off("fastleave", "fastleave", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Learning(x) => Some(Detail::on_off("learning", "learning", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::UnicastFlood(x) => Some(Detail::on_off("flood", "flood", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::PortId(x) => Some(Detail::hex("id", "port_id", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::PortNumber(x) => Some(Detail::hex("no", "port_no", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::DesignatedPort(x) => Some(Detail::uint(
            "designated_port",
            "designated_port",
            (*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::DesignatedCost(x) => Some(Detail::uint(
            "designated_cost",
            "designated_cost",
            (*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::BridgeId(x) => {
            let t = bridge_id_text(x);
            Some(Detail::any(
                "bridge_id",
                format!("designated_bridge {t} "),
                t,
            ))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::RootId(x) => {
            let t = bridge_id_text(x);
            Some(Detail::any("root_id", format!("designated_root {t} "), t))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::HoldTimer(x) => Some(Detail::timer("hold_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::MessageAgeTimer(x) => Some(Detail::timer("message_age_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::ForwardDelayTimer(x) => Some(Detail::timer("forward_delay_timer", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::TopologyChangeAck(x) => Some(Detail::uint(
            "topology_change_ack",
            "topology_change_ack",
            (*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::ConfigPending(x) => Some(Detail::uint(
            "config_pending",
            "config_pending",
            (*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::ProxyARP(x) => Some(Detail::on_off("proxy_arp", "proxy_arp", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::ProxyARPWifi(x) => Some(Detail::on_off("proxy_arp_wifi", "proxy_arp_wifi", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::MulticastRouter(x) => Some(Detail::uint(
            "multicast_router",
            "mcast_router",
            u8::from(*x).into(),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::FastLeave(x) => Some(Detail::text(format!(
            "mcast_fast_leave {} ",
            if *x { "on" } else { "off" }
        ))),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::MulticastFlood(x) => Some(Detail::on_off("mcast_flood", "mcast_flood", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::BroadcastFlood(x) => Some(Detail::on_off("bcast_flood", "bcast_flood", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::MulticastToUnicast(x) => {
            Some(Detail::on_off("mcast_to_unicast", "mcast_to_unicast", *x))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::NeighSupress(x) => Some(Detail::on_off("neigh_suppress", "neigh_suppress", *x)),
        _ => None,
    });
    for a in d {
        if let P::GroupFwdMask(x) = a {
            v.push(Detail::hex("group_fwd_mask", "group_fwd_mask", (*x).into()));
            let t = format!("{x:#x}");
            v.push(Detail::any(
                "group_fwd_mask_str",
                format!("group_fwd_mask_str {t} "),
                t,
            ));
        }
    }
    each(d, &mut v, |a| match a {
        P::VlanTunnel(x) => Some(Detail::on_off("vlan_tunnel", "vlan_tunnel", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Isolated(x) => Some(Detail::on_off("isolated", "isolated", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        P::Locked(x) => Some(Detail::on_off("locked", "locked", *x)),
        _ => None,
    });
    v
}

/// A kernel bridge port's settings under `ip -d -j`'s keys.
fn bridge_port_json(d: &[InfoBridgePort]) -> Value {
    let mut m = Map::new();
    for x in bridge_port_details(d) {
        if let Some((k, v)) = x.json {
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

/// A VXLAN device's IFLA_INFO_DATA as `vxlan_print_opt` (iproute2 6.1)
/// prints it, in its order.
fn vxlan_details(d: &[InfoVxlan], names: &HashMap<u32, String>) -> Vec<Detail> {
    use InfoVxlan as X;
    let mut v = Vec::new();
    let on = |k: &str, t: &str| Detail::any(k, format!("{t} "), true);
    each(d, &mut v, |a| match a {
        X::CollectMetadata(true) => Some(on("external", "external")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Id(x) => Some(Detail::uint("id", "id", (*x).into())),
        _ => None,
    });
    let group = d
        .iter()
        .find_map(|a| match a {
            X::Group(g) => Some(core::net::IpAddr::V4(*g)),
            _ => None,
        })
        .or_else(|| {
            d.iter().find_map(|a| match a {
                X::Group6(g) => Some(core::net::IpAddr::V6(*g)),
                _ => None,
            })
        });
    if let Some(g) = group.filter(|g| !g.is_unspecified()) {
        let six = if g.is_ipv6() { "6" } else { "" };
        let (k, t) = if g.is_multicast() {
            ("group", "group")
        } else {
            ("remote", "remote")
        };
        v.push(Detail::any(
            &format!("{k}{six}"),
            format!("{t} {g} "),
            g.to_string(),
        ));
    }
    let local = d
        .iter()
        .find_map(|a| match a {
            X::Local(g) => Some(core::net::IpAddr::V4(*g)),
            _ => None,
        })
        .or_else(|| {
            d.iter().find_map(|a| match a {
                X::Local6(g) => Some(core::net::IpAddr::V6(*g)),
                _ => None,
            })
        });
    if let Some(l) = local.filter(|l| !l.is_unspecified()) {
        let k = if l.is_ipv6() { "local6" } else { "local" };
        v.push(Detail::any(k, format!("local {l} "), l.to_string()));
    }
    each(d, &mut v, |a| match a {
        X::Link(i) if *i != 0 => {
            let n = names.get(i).cloned().unwrap_or_else(|| format!("if{i}"));
            Some(Detail::any("link", format!("dev {n} "), n))
        }
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::PortRange((lo, hi)) => Some(Detail::any(
            "port_range",
            format!("srcport {lo} {hi} "),
            json!({"low": lo, "high": hi}),
        )),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Port(x) => Some(Detail::uint("port", "dstport", (*x).into())),
        _ => None,
    });
    for a in d {
        if let X::Learning(l) = a {
            v.push(Detail::json("learning", *l));
            if !l {
                v.push(Detail::text("nolearning "));
            }
        }
    }
    each(d, &mut v, |a| match a {
        X::Proxy(true) => Some(on("proxy", "proxy")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Rsc(true) => Some(on("rsc", "rsc")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::L2Miss(true) => Some(on("l2miss", "l2miss")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::L3Miss(true) => Some(on("l3miss", "l3miss")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Tos(1) => Some(Detail {
            json: Some(("tos".into(), "0x1".into())),
            text: Some("tos inherit ".into()),
        }),
        X::Tos(t) if *t != 0 => Some(Detail::hex("tos", "tos", (*t).into())),
        _ => None,
    });
    let inherit = d.iter().any(|a| matches!(a, X::TtlInherit(x) if *x != 0));
    if inherit {
        v.push(Detail::text("ttl inherit "));
    } else {
        each(d, &mut v, |a| match a {
            X::Ttl(0) => Some(Detail {
                json: Some(("ttl".into(), 0.into())),
                text: Some("ttl auto ".into()),
            }),
            X::Ttl(t) => Some(Detail::uint("ttl", "ttl", (*t).into())),
            _ => None,
        });
    }
    each(d, &mut v, |a| match a {
        X::Df(df) => match u8::from(*df) {
            0 => Some(Detail::json("df", "unset")),
            1 => Some(Detail::any("df", "df set ", "set")),
            2 => Some(Detail::any("df", "df inherit ", "inherit")),
            _ => None,
        },
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Label(l) if *l != 0 => Some(Detail::hex("label", "flowlabel", u32::from_be(*l).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Ageing(0) => Some(Detail::any("ageing", "ageing none ", 0)),
        X::Ageing(x) => Some(Detail::uint("ageing", "ageing", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Limit(x) if *x != 0 => Some(Detail::uint("limit", "maxaddr", (*x).into())),
        _ => None,
    });
    let csum = |k: &str, t: &str, on: bool| {
        Detail::any(k, format!("{}{t} ", if on { "" } else { "no" }), on)
    };
    each(d, &mut v, |a| match a {
        X::UDPCsum(x) => Some(csum("udp_csum", "udpcsum", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::UDPZeroCsumTX(x) => Some(csum("udp_zero_csum6_tx", "udp6zerocsumtx", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::UDPZeroCsumRX(x) => Some(csum("udp_zero_csum6_rx", "udp6zerocsumrx", *x)),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::RemCsumTX(true) => Some(on("remcsum_tx", "remcsumtx")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::RemCsumRX(true) => Some(on("remcsum_rx", "remcsumrx")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Gbp => Some(on("gbp", "gbp")),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        X::Gpe => Some(on("gpe", "gpe")),
        _ => None,
    });
    v
}

/// A macvlan's (or macvtap's) IFLA_INFO_DATA as `macvlan_print_opt`
/// (iproute2 6.1) prints it.
fn macvlan_details(d: &[InfoMacVlan]) -> Vec<Detail> {
    use InfoMacVlan as M;
    let mut v = Vec::new();
    let Some(mode) = d.iter().find_map(|a| match a {
        M::Mode(m) => Some(u32::from(*m)),
        _ => None,
    }) else {
        return v;
    };
    let name = match mode {
        1 => "private",
        2 => "vepa",
        4 => "bridge",
        8 => "passthru",
        16 => "source",
        _ => "unknown",
    };
    v.push(Detail::any("mode", format!("mode {name} "), name));
    let flags = d
        .iter()
        .find_map(|a| match a {
            M::Flags(f) => Some(f.bits()),
            _ => None,
        })
        .unwrap_or(0);
    if flags & 1 != 0 {
        v.push(Detail::any("nopromisc", "nopromisc ", true));
    }
    if flags & 2 != 0 {
        v.push(Detail::any("nodst", "nodst ", true));
    }
    each(d, &mut v, |a| match a {
        M::BcQueueLen(x) => Some(Detail::uint("bcqueuelen", "bcqueuelen", (*x).into())),
        _ => None,
    });
    each(d, &mut v, |a| match a {
        M::BcQueueLenUsed(x) => Some(Detail::uint(
            "usedbcqueuelen",
            "usedbcqueuelen",
            (*x).into(),
        )),
        _ => None,
    });
    if mode != 16 {
        return v;
    }
    let Some(count) = d.iter().find_map(|a| match a {
        M::MacAddrCount(c) => Some(*c),
        _ => None,
    }) else {
        return v;
    };
    v.push(Detail::any(
        "macaddr_count",
        format!("remotes ({count}) "),
        count,
    ));
    let addrs: Vec<String> = d
        .iter()
        .filter_map(|a| match a {
            M::MacAddrData(x) => Some(x),
            _ => None,
        })
        .flatten()
        .filter_map(|a| match a {
            M::MacAddr(m) => Some(mac_text(m)),
            _ => None,
        })
        .collect();
    if d.iter().any(|a| matches!(a, M::MacAddrData(_))) {
        v.push(Detail {
            json: Some(("macaddr_data".into(), json!(addrs))),
            text: Some(addrs.iter().map(|a| format!("{a} ")).collect()),
        });
    }
    v
}

/// `ip -s link show`'s counter lines: a header and the numbers for RX,
/// then TX (the text's "missed" is rx_missed_errors; JSON's over_errors is
/// rx_over_errors), each column as wide as the widest of its header and
/// numbers, shared by both lines, as iproute2 sizes them.
fn stats_text(s: &netlink_packet_route::link::Stats64) -> String {
    let rx = [
        s.rx_bytes,
        s.rx_packets,
        s.rx_errors,
        s.rx_dropped,
        s.rx_missed_errors,
        s.multicast,
    ];
    let tx = [
        s.tx_bytes,
        s.tx_packets,
        s.tx_errors,
        s.tx_dropped,
        s.tx_carrier_errors,
        s.collisions,
    ];
    let mut w = [10, 7, 6, 7, 7, 7];
    for (i, width) in w.iter_mut().enumerate() {
        *width = (*width)
            .max(rx[i].to_string().len())
            .max(tx[i].to_string().len());
    }
    let head = |dir: &str, names: [&str; 5]| {
        let mut s = format!("    {dir}: {:>1$}", "bytes", w[0] - 4);
        for (n, wi) in names.iter().zip(&w[1..]) {
            s += &format!(" {n:>wi$}");
        }
        s + "           \n"
    };
    let row = |v: [u64; 6]| {
        let mut s = format!("    {:>1$}", v[0], w[0]);
        for (x, wi) in v[1..].iter().zip(&w[1..]) {
            s += &format!(" {x:>wi$}");
        }
        s + " \n"
    };
    head("RX", ["packets", "errors", "dropped", "missed", "mcast"])
        + &row(rx)
        + &head("TX", ["packets", "errors", "dropped", "carrier", "collsns"])
        + &row(tx)
}

fn stats64_of(l: &LinkMessage) -> Option<&netlink_packet_route::link::Stats64> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Stats64(s) => Some(s),
        _ => None,
    })
}

/// `tuntap add|del NAME mode tap`: a persistent TAP (TUNSETPERSIST).
fn tuntap(name: &str, add: bool) -> Result<(), String> {
    let c = if add { "tuntap add" } else { "tuntap del" };
    let tap = patchbay_io::tap::Tap::create(name).map_err(|e| format!("{c} {name}: {e}"))?;
    tap.set_persist(add).map_err(|e| format!("{c} {name}: {e}"))
}

/// The kernel's own rtnetlink notifications (RTMGRP_LINK, RTMGRP_NEIGH,
/// RTMGRP_MDB): what `ip monitor link neigh` and `bridge monitor` read.
#[derive(Debug)]
pub struct Monitor {
    sock: Socket,
}

impl Monitor {
    pub fn open() -> io::Result<Monitor> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        let mdb = 1 << (patchbay_io::rtnl::mdb::RTNLGRP_MDB - 1);
        let groups = (libc::RTMGRP_LINK | libc::RTMGRP_NEIGH) as u32 | mdb;
        sock.bind(&SocketAddr::new(0, groups))?;
        Ok(Monitor { sock })
    }

    /// The next batch of messages, each as its bytes.
    pub fn recv(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let (data, _) = self.sock.recv_from_full()?;
        let mut out = Vec::new();
        let mut off = 0;
        while off + 16 <= data.len() {
            let len = u32::from_ne_bytes(data[off..off + 4].try_into().expect("4")) as usize;
            if len < 16 || off + len > data.len() {
                break;
            }
            out.push(data[off..off + len].to_vec());
            off += (len + 3) & !3;
        }
        Ok(out)
    }
}

impl Kernel {
    /// ifindex → name of every link now.
    pub fn names(&mut self) -> io::Result<HashMap<u32, String>> {
        Ok(self
            .links()?
            .iter()
            .filter_map(|l| Some((l.header.index, name_of(l)?.to_string())))
            .collect())
    }
}
