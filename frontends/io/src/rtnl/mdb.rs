//! RTM_NEWMDB, RTM_DELMDB and RTM_GETMDB: the bridge's multicast database
//! as rtnetlink carries it (`br_mdb.c`, `linux/if_bridge.h`).
//! netlink-packet-route has no MDB messages, so they are built and read
//! here by hand: a `br_port_msg` (family AF_BRIDGE, the bridge's ifindex),
//! then MDBA_MDB with one MDBA_MDB_ENTRY per group, each holding
//! MDBA_MDB_ENTRY_INFO (a `br_mdb_entry` and its attributes), or
//! MDBA_ROUTER with the router ports.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use patchbay_core::bridge::mcast::FilterMode;
use patchbay_core::cmd::mdb::MdbRow;

pub const RTM_NEWMDB: u16 = 84;
pub const RTM_DELMDB: u16 = 85;
pub const RTM_GETMDB: u16 = 86;
/// `RTNLGRP_MDB`: the multicast group the notifications go to.
pub const RTNLGRP_MDB: u32 = 26;

const AF_BRIDGE: u8 = 7;
const NLA_F_NESTED: u16 = 0x8000;
const MDBA_MDB: u16 = 1;
const MDBA_ROUTER: u16 = 2;
const MDBA_MDB_ENTRY: u16 = 1;
const MDBA_MDB_ENTRY_INFO: u16 = 1;
const MDBA_MDB_EATTR_TIMER: u16 = 1;
const MDBA_MDB_EATTR_SRC_LIST: u16 = 2;
const MDBA_MDB_EATTR_GROUP_MODE: u16 = 3;
const MDBA_MDB_EATTR_SOURCE: u16 = 4;
const MDBA_MDB_EATTR_RTPROT: u16 = 5;
const MDBA_MDB_SRCLIST_ENTRY: u16 = 1;
const MDBA_MDB_SRCATTR_ADDRESS: u16 = 1;
const MDBA_MDB_SRCATTR_TIMER: u16 = 2;
const MDBA_ROUTER_PORT: u16 = 1;
const MDBA_ROUTER_PATTR_TIMER: u16 = 1;
const MDBA_ROUTER_PATTR_TYPE: u16 = 2;
const MDBA_ROUTER_PATTR_VID: u16 = 5;
const MDBA_SET_ENTRY: u16 = 1;
const MDBA_SET_ENTRY_ATTRS: u16 = 2;
const MDBE_ATTR_SOURCE: u16 = 1;
/// `sizeof(struct br_mdb_entry)`: ifindex, state, flags, vid, the address
/// union (16 bytes) and its protocol, padded to 28.
const ENTRY_LEN: usize = 28;
const MCAST_EXCLUDE: u8 = 0;
const MCAST_INCLUDE: u8 = 1;

/// One `br_mdb_entry` with its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The port's ifindex (the bridge's for its host).
    pub ifindex: u32,
    pub permanent: bool,
    /// `MDB_FLAGS_*`.
    pub flags: u8,
    pub vid: u16,
    pub group: IpAddr,
    pub src: Option<IpAddr>,
    /// Centiseconds.
    pub timer: Option<u32>,
    pub proto: Option<u8>,
    pub mode: Option<FilterMode>,
    /// Sources with their timers (centiseconds).
    pub sources: Vec<(IpAddr, u32)>,
}

/// A router port of MDBA_ROUTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Router {
    pub ifindex: u32,
    /// Centiseconds.
    pub timer: Option<u32>,
    /// `mcast_router` of the port.
    pub kind: Option<u8>,
    pub vid: u16,
}

/// An MDB message read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub ty: u16,
    /// The bridge's ifindex.
    pub bridge: u32,
    pub entries: Vec<Entry>,
    pub routers: Vec<Router>,
}

fn put_attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A nest whose contents `fill` writes.
fn nest(out: &mut Vec<u8>, ty: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    fill(out);
    let len = (out.len() - at) as u16;
    out[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    out[at + 2..at + 4].copy_from_slice(&ty.to_ne_bytes());
}

fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A `br_mdb_entry`.
fn entry_struct(ifindex: u32, permanent: bool, flags: u8, vid: u16, group: IpAddr) -> [u8; 28] {
    let mut e = [0u8; ENTRY_LEN];
    e[..4].copy_from_slice(&ifindex.to_ne_bytes());
    e[4] = u8::from(permanent);
    e[5] = flags;
    e[6..8].copy_from_slice(&vid.to_ne_bytes());
    let a = ip_bytes(group);
    e[8..8 + a.len()].copy_from_slice(&a);
    let proto: u16 = if group.is_ipv4() { 0x0800 } else { 0x86dd };
    e[24..26].copy_from_slice(&proto.to_be_bytes());
    e
}

/// A message: the netlink header (`flags`, `seq`), the `br_port_msg` and
/// the attributes `fill` writes.
fn message(ty: u16, flags: u16, seq: u32, bridge: u32, fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m.extend_from_slice(&[AF_BRIDGE, 0, 0, 0]);
    m.extend_from_slice(&bridge.to_ne_bytes());
    fill(&mut m);
    let len = m.len() as u32;
    m[..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&ty.to_ne_bytes());
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m
}

/// The notification of one entry (`nlmsg_populate_mdb_fill`), attributes
/// in the kernel's order: the timer, the source of an (S,G) entry, and
/// for a port group its protocol, source list and filter mode.
pub fn notify(ty: u16, bridge: u32, e: &Entry) -> Vec<u8> {
    message(ty, 0, 0, bridge, |m| {
        nest(m, MDBA_MDB, |m| {
            nest(m, MDBA_MDB_ENTRY, |m| {
                nest(m, MDBA_MDB_ENTRY_INFO, |m| {
                    m.extend_from_slice(&entry_struct(
                        e.ifindex,
                        e.permanent,
                        e.flags,
                        e.vid,
                        e.group,
                    ));
                    put_attr(m, MDBA_MDB_EATTR_TIMER, &e.timer.unwrap_or(0).to_ne_bytes());
                    if let Some(s) = e.src {
                        put_attr(m, MDBA_MDB_EATTR_SOURCE, &ip_bytes(s));
                    }
                    if let Some(p) = e.proto {
                        put_attr(m, MDBA_MDB_EATTR_RTPROT, &[p]);
                        if let Some(mode) = e.mode {
                            if !e.sources.is_empty() {
                                nest(m, MDBA_MDB_EATTR_SRC_LIST | NLA_F_NESTED, |m| {
                                    for (a, t) in &e.sources {
                                        nest(m, MDBA_MDB_SRCLIST_ENTRY | NLA_F_NESTED, |m| {
                                            put_attr(m, MDBA_MDB_SRCATTR_ADDRESS, &ip_bytes(*a));
                                            put_attr(m, MDBA_MDB_SRCATTR_TIMER, &t.to_ne_bytes());
                                        });
                                    }
                                });
                            }
                            let v = match mode {
                                FilterMode::Include => MCAST_INCLUDE,
                                FilterMode::Exclude => MCAST_EXCLUDE,
                            };
                            put_attr(m, MDBA_MDB_EATTR_GROUP_MODE, &[v]);
                        }
                    }
                });
            });
        });
    })
}

/// The notification of a router port (`nlmsg_populate_rtr_fill`).
pub fn notify_router(ty: u16, bridge: u32, port: u32, vid: u16) -> Vec<u8> {
    message(ty, 0, 0, bridge, |m| {
        nest(m, MDBA_ROUTER, |m| {
            nest(m, MDBA_ROUTER_PORT, |m| {
                m.extend_from_slice(&port.to_ne_bytes());
                if vid != 0 {
                    put_attr(m, MDBA_ROUTER_PATTR_VID, &vid.to_ne_bytes());
                }
            });
        });
    })
}

/// `bridge mdb add|replace|del`'s request (`RTM_NEWMDB` with
/// `NLM_F_CREATE|NLM_F_EXCL` or `NLM_F_REPLACE`, or `RTM_DELMDB`):
/// MDBA_SET_ENTRY, and MDBA_SET_ENTRY_ATTRS with the source of an (S,G)
/// entry.
#[allow(clippy::too_many_arguments)]
pub fn request(
    ty: u16,
    flags: u16,
    seq: u32,
    bridge: u32,
    port: u32,
    permanent: bool,
    vid: u16,
    group: IpAddr,
    src: Option<IpAddr>,
) -> Vec<u8> {
    message(ty, flags, seq, bridge, |m| {
        put_attr(
            m,
            MDBA_SET_ENTRY,
            &entry_struct(port, permanent, 0, vid, group),
        );
        if let Some(s) = src {
            nest(m, MDBA_SET_ENTRY_ATTRS | NLA_F_NESTED, |m| {
                put_attr(m, MDBE_ATTR_SOURCE, &ip_bytes(s))
            });
        }
    })
}

/// A dump request of every bridge's MDB (`RTM_GETMDB`, `NLM_F_DUMP`).
pub fn dump_request(flags: u16, seq: u32) -> Vec<u8> {
    message(RTM_GETMDB, flags, seq, 0, |_| {})
}

/// The attributes of `b`: (type without flags, payload).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let payload = &b[4..len];
        b = &b[len.next_multiple_of(4).min(b.len())..];
        Some((ty, payload))
    })
}

fn ip_of(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?))),
        _ => None,
    }
}

fn u32_of(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

fn entry_of(info: &[u8]) -> Option<Entry> {
    let s = info.get(..ENTRY_LEN)?;
    let proto = u16::from_be_bytes([s[24], s[25]]);
    let group = match proto {
        0x0800 => ip_of(&s[8..12])?,
        0x86dd => ip_of(&s[8..24])?,
        // Layer-2 entries: not emulated, not read.
        _ => return None,
    };
    let mut e = Entry {
        ifindex: u32_of(s)?,
        permanent: s[4] & 1 != 0,
        flags: s[5],
        vid: u16::from_ne_bytes([s[6], s[7]]),
        group,
        src: None,
        timer: None,
        proto: None,
        mode: None,
        sources: Vec::new(),
    };
    for (t, v) in attrs(&info[ENTRY_LEN..]) {
        match t {
            MDBA_MDB_EATTR_TIMER => e.timer = u32_of(v),
            MDBA_MDB_EATTR_SOURCE => e.src = ip_of(v),
            MDBA_MDB_EATTR_RTPROT => e.proto = v.first().copied(),
            MDBA_MDB_EATTR_GROUP_MODE => {
                e.mode = v.first().map(|m| match *m {
                    MCAST_EXCLUDE => FilterMode::Exclude,
                    _ => FilterMode::Include,
                })
            }
            MDBA_MDB_EATTR_SRC_LIST => {
                for (_, src) in attrs(v) {
                    let (mut a, mut tm) = (None, 0);
                    for (t, v) in attrs(src) {
                        match t {
                            MDBA_MDB_SRCATTR_ADDRESS => a = ip_of(v),
                            MDBA_MDB_SRCATTR_TIMER => tm = u32_of(v).unwrap_or(0),
                            _ => {}
                        }
                    }
                    if let Some(a) = a {
                        e.sources.push((a, tm));
                    }
                }
            }
            _ => {}
        }
    }
    Some(e)
}

/// Reads an RTM_NEWMDB, RTM_DELMDB or RTM_GETMDB message (`None` for any
/// other).
pub fn parse(m: &[u8]) -> Option<Message> {
    let len = (u32_of(m)? as usize).min(m.len());
    let ty = u16::from_ne_bytes(m.get(4..6)?.try_into().ok()?);
    if !(RTM_NEWMDB..=RTM_GETMDB).contains(&ty) || len < 24 {
        return None;
    }
    let mut out = Message {
        ty,
        bridge: u32_of(&m[20..24])?,
        entries: Vec::new(),
        routers: Vec::new(),
    };
    for (t, v) in attrs(&m[24..len]) {
        match t {
            MDBA_MDB => {
                for (_, entry) in attrs(v) {
                    for (t, info) in attrs(entry) {
                        if t == MDBA_MDB_ENTRY_INFO {
                            out.entries.extend(entry_of(info));
                        }
                    }
                }
            }
            MDBA_ROUTER => {
                for (_, p) in attrs(v) {
                    let Some(ifindex) = u32_of(p) else { continue };
                    let mut r = Router {
                        ifindex,
                        timer: None,
                        kind: None,
                        vid: 0,
                    };
                    for (t, v) in attrs(&p[4..]) {
                        match t {
                            MDBA_ROUTER_PATTR_TIMER => r.timer = u32_of(v),
                            MDBA_ROUTER_PATTR_TYPE => r.kind = v.first().copied(),
                            MDBA_ROUTER_PATTR_VID if v.len() >= 2 => {
                                r.vid = u16::from_ne_bytes([v[0], v[1]])
                            }
                            _ => {}
                        }
                    }
                    out.routers.push(r);
                }
            }
            _ => {}
        }
    }
    Some(out)
}

impl Entry {
    /// The entry as bridge(8) prints it; `name` maps an ifindex to a name.
    pub fn row(&self, bridge: u32, name: &dyn Fn(u32) -> String) -> MdbRow {
        MdbRow {
            dev_index: bridge,
            dev: name(bridge),
            port: name(self.ifindex),
            group: self.group,
            src: self.src,
            permanent: self.permanent,
            mode: self.mode,
            sources: self
                .sources
                .iter()
                .map(|(a, t)| (*a, u64::from(*t)))
                .collect(),
            proto: self.proto,
            flags: self.flags,
            vid: self.vid,
            timer_cs: u64::from(self.timer.unwrap_or(0)),
        }
    }
}

/// An MDB notification as `bridge monitor mdb` prints it (iproute2's
/// `print_mdb`): each entry as `bridge mdb show` prints it, a router port
/// as `router port dev PORT master BRIDGE`, deletions with `Deleted `.
pub fn describe(m: &Message, name: &dyn Fn(u32) -> String, details: bool, stats: bool) -> String {
    let del = if m.ty == RTM_DELMDB { "Deleted " } else { "" };
    let mut lines = Vec::new();
    for e in &m.entries {
        lines.push(format!(
            "{del}{}",
            e.row(m.bridge, name).render(details, stats).0
        ));
    }
    for r in &m.routers {
        lines.push(format!(
            "{del}router port dev {} master {}",
            name(r.ifindex),
            name(m.bridge)
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn entry(group: &str, permanent: bool, proto: u8, timer: u32) -> Entry {
        Entry {
            ifindex: 3,
            permanent,
            flags: 0,
            vid: 0,
            group: group.parse().unwrap(),
            src: None,
            timer: Some(timer),
            proto: Some(proto),
            mode: None,
            sources: Vec::new(),
        }
    }

    /// Byte for byte what this machine's kernel sent (captured on an
    /// RTNLGRP_MDB socket) for `bridge mdb add dev br0 port n1 grp
    /// 239.1.1.9 permanent`, a host's IGMPv2 join of 239.1.1.7, and the
    /// deletion of an MLD-learned solicited-node group (br0 ifindex 2, n1
    /// ifindex 3).
    #[test]
    fn notifications_are_the_kernels_bytes_and_read_back() {
        let names = |i: u32| match i {
            2 => "br0".to_string(),
            3 => "n1".to_string(),
            i => format!("if{i}"),
        };
        let added = entry("239.1.1.9", true, 4, 0);
        let m = notify(RTM_NEWMDB, 2, &added);
        assert_eq!(m, hex("5000000054000000000000000000000007000000020000003800010034000100300001000300000001000000ef0101090000000000000000000000000800000008000100000000000500050004000000"));
        let back = parse(&m).unwrap();
        assert_eq!((back.ty, back.bridge), (RTM_NEWMDB, 2));
        assert_eq!(back.entries, vec![added]);
        assert_eq!(
            describe(&back, &names, false, false),
            "dev br0 port n1 grp 239.1.1.9 permanent"
        );
        assert_eq!(
            describe(&back, &names, true, true),
            "dev br0 port n1 grp 239.1.1.9 permanent proto static     0.00"
        );
        let learned = entry("239.1.1.7", false, 2, 0);
        assert_eq!(notify(RTM_NEWMDB, 2, &learned), hex("5000000054000000000000000000000007000000020000003800010034000100300001000300000000000000ef0101070000000000000000000000000800000008000100000000000500050002000000"));
        let gone = entry("ff02::1:ffd1:42a2", false, 2, 0x643a);
        let m = notify(RTM_DELMDB, 2, &gone);
        assert_eq!(m, hex("5000000055000000000000000000000007000000020000003800010034000100300001000300000000000000ff0200000000000000000001ffd142a286dd0000080001003a6400000500050002000000"));
        assert_eq!(
            describe(&parse(&m).unwrap(), &names, false, false),
            "Deleted dev br0 port n1 grp ff02::1:ffd1:42a2 temp"
        );
        // A router port, and an IGMPv3 port group with its sources.
        let r = parse(&notify_router(RTM_DELMDB, 2, 3, 0)).unwrap();
        assert_eq!(r.routers[0].ifindex, 3);
        assert_eq!(
            describe(&r, &names, false, false),
            "Deleted router port dev n1 master br0"
        );
        let v3 = Entry {
            mode: Some(FilterMode::Exclude),
            sources: vec![("198.18.7.2".parse().unwrap(), 0)],
            flags: patchbay_core::bridge::mcast::MDB_FLAGS_FAST_LEAVE,
            vid: 10,
            ..entry("239.1.1.1", false, 2, 100)
        };
        let back = parse(&notify(RTM_NEWMDB, 2, &v3)).unwrap();
        assert_eq!(back.entries, vec![v3]);
        assert_eq!(
            describe(&back, &names, true, true),
            "dev br0 port n1 grp 239.1.1.1 temp filter_mode exclude source_list 198.18.7.2/0.00 proto kernel  fast_leave vid 10    1.00"
        );
        // Requests: a (S,G) add carries its source in MDBA_SET_ENTRY_ATTRS.
        let req = request(
            RTM_NEWMDB,
            0x601,
            7,
            2,
            3,
            true,
            0,
            "239.1.1.1".parse().unwrap(),
            Some("198.18.0.1".parse().unwrap()),
        );
        assert_eq!(
            u32::from_ne_bytes(req[..4].try_into().unwrap()) as usize,
            req.len()
        );
        assert_eq!(&req[req.len() - 12..], &hex("0c00028008000100c6120001"));
        assert!(parse(&dump_request(0x301, 1)).unwrap().entries.is_empty());
    }
}
