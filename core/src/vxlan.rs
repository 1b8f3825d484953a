//! The VXLAN device (`drivers/net/vxlan/vxlan_core.c`, BEHAVIOUR.md §5):
//! configuration with the kernel's defaults, the VXLAN FDB (remotes per
//! MAC, the all-zeros default entry and head-end replication, learning from
//! the outer source with migration, ageing on receive, `maxaddress`), and
//! the transmit and receive decisions. Sans-IO: [`Vxlan::xmit`] says where
//! copies of a frame go ([`Encap`]: remote, port, VNI, source port, TTL,
//! TOS, DF); the front end sends them (a UDP socket in the daemon), and
//! hands what arrives on the underlay to [`Vxlan::rx`]. With `proxy`, ARP
//! and neighbour solicitations are answered from the device's neighbour
//! table ([`Vxlan::reduce`], the kernel's `arp_reduce`/`neigh_reduce`) and
//! never cross the tunnel; `l2miss`/`l3miss` report what no entry covered
//! ([`Miss`]).

use core::net::IpAddr;
use std::time::Duration;

use hashbrown::HashMap;

use crate::counters::DropReason;
use crate::time::Instant;
use crate::wire::vxlan::{src_port, LINUX_PORT, OVERHEAD_V4, OVERHEAD_V6};
use crate::wire::{ethertype, Frame, Mac};

/// The FDB sweep interval (`FDB_AGE_INTERVAL`).
pub const AGE_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ttl {
    /// The route's hop limit for unicast (64 here), 1 for a multicast remote.
    #[default]
    Auto,
    Inherit,
    Value(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tos {
    Value(u8),
    Inherit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Df {
    #[default]
    Unset,
    Set,
    Inherit,
}

/// `ip link add ... type vxlan` options, with the kernel's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanConfig {
    pub vni: u32,
    pub local: Option<IpAddr>,
    /// A unicast `remote` or a multicast `group`.
    pub remote: Option<IpAddr>,
    /// The lower device (`dev`).
    pub dev: Option<String>,
    pub dstport: u16,
    /// `srcport MIN MAX` (0, 0: the local port range).
    pub srcport: (u16, u16),
    pub ttl: Ttl,
    pub tos: Tos,
    pub df: Df,
    pub learning: bool,
    /// Seconds.
    pub ageing: u32,
    /// 0: no limit.
    pub maxaddress: u32,
    pub proxy: bool,
    pub l2miss: bool,
    pub l3miss: bool,
    pub udpcsum: bool,
}

impl Default for VxlanConfig {
    fn default() -> Self {
        VxlanConfig {
            vni: 0,
            local: None,
            remote: None,
            dev: None,
            dstport: LINUX_PORT,
            srcport: (0, 0),
            ttl: Ttl::Auto,
            tos: Tos::Value(0),
            df: Df::Unset,
            learning: true,
            ageing: 300,
            maxaddress: 0,
            proxy: false,
            l2miss: false,
            l3miss: false,
            udpcsum: true,
        }
    }
}

/// One destination of an FDB entry (`struct vxlan_rdst`); unset fields
/// take the device's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remote {
    pub ip: IpAddr,
    pub port: Option<u16>,
    pub vni: Option<u32>,
}

/// `NUD_PERMANENT`, `NUD_NOARP` (static), `NUD_REACHABLE` (dynamic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Permanent,
    Static,
    Dynamic,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Permanent => "permanent",
            State::Static => "static",
            State::Dynamic => "",
        }
    }
    /// Learning may not move it (`NUD_NOARP` or `NUD_PERMANENT`).
    fn fixed(self) -> bool {
        self != State::Dynamic
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    pub remotes: Vec<Remote>,
    pub state: State,
    pub updated: Instant,
    pub used: Instant,
    pub learned: bool,
}

/// One copy to send: the outer destination and header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encap {
    pub dst: IpAddr,
    pub port: u16,
    pub vni: u32,
    pub src_port: u16,
    pub ttl: u8,
    pub tos: u8,
    pub df: bool,
}

/// Why an FDB command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FdbError {
    #[error("the entry exists (use 'bridge fdb replace' or 'append')")]
    Exists,
    #[error("append works only for the all-zeros MAC and multicast MACs")]
    AppendUnicast,
    #[error("no such entry")]
    NotFound,
    #[error("the device's FDB is full (maxaddress {0})")]
    Full(u32),
}

/// Neighbour states (`NUD_*`), as `ip neigh` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nud {
    Permanent,
    Noarp,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
    Incomplete,
    None,
}

impl Nud {
    pub const ALL: [Nud; 9] = [
        Nud::Permanent,
        Nud::Noarp,
        Nud::Reachable,
        Nud::Stale,
        Nud::Delay,
        Nud::Probe,
        Nud::Failed,
        Nud::Incomplete,
        Nud::None,
    ];

    /// As `ip neigh show` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Nud::Permanent => "PERMANENT",
            Nud::Noarp => "NOARP",
            Nud::Reachable => "REACHABLE",
            Nud::Stale => "STALE",
            Nud::Delay => "DELAY",
            Nud::Probe => "PROBE",
            Nud::Failed => "FAILED",
            Nud::Incomplete => "INCOMPLETE",
            Nud::None => "NONE",
        }
    }

    /// `nud STATE` as `ip neigh add` takes it.
    pub fn parse(s: &str) -> Option<Nud> {
        Nud::ALL
            .into_iter()
            .find(|n| n.name().eq_ignore_ascii_case(s))
    }

    /// `NUD_CONNECTED`: the proxy answers only from these.
    pub fn connected(self) -> bool {
        matches!(self, Nud::Permanent | Nud::Noarp | Nud::Reachable)
    }
}

/// A neighbour entry of the device (`ip neigh add IP lladdr MAC dev vx0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub mac: Mac,
    pub nud: Nud,
    pub router: bool,
}

/// What no entry covered, reported when `l2miss`/`l3miss` is on (the
/// kernel sends `RTM_GETNEIGH` so that a control plane can fill it in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// A unicast destination MAC with no FDB entry and no default entry.
    L2(Mac),
    /// An ARP or neighbour-solicitation target with no neighbour entry
    /// (with `proxy`).
    L3(IpAddr),
}

/// What the proxy made of a frame the device was given to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reduced {
    /// Not ARP or a neighbour solicitation: sent as usual.
    Pass,
    /// Taken and not sent (no entry, not a request, a local neighbour).
    Consumed,
    /// Taken, and this reply is received by the device.
    Reply(Vec<u8>),
    /// Taken; no entry for the target, and `l3miss` is on.
    Miss(IpAddr),
}

#[derive(Clone, Debug)]
pub struct Vxlan {
    pub cfg: VxlanConfig,
    pub mac: Mac,
    pub fdb: HashMap<Mac, FdbEntry>,
    /// The neighbour table the proxy answers from.
    pub neigh: HashMap<IpAddr, Neighbour>,
    /// Replies the proxy made.
    pub proxied: u64,
    /// The lower device's MTU (1500 without one).
    pub mtu: u32,
    next_sweep: Option<Instant>,
    pub learned: u64,
    pub aged: u64,
}

/// `udp_flow_src_port`'s fallback hash when a frame has no flow hash:
/// the two MACs and the protocol (a jhash in the kernel; FNV-1a here, as
/// the kernel's flow hash is keyed per boot and cannot be matched).
fn flow_hash(frame: &Frame<'_>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut mix = |bytes: &[u8]| {
        for x in bytes {
            h ^= u32::from(*x);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    let b = frame.body();
    if b.len() >= 2 + 20 && frame.ethertype() == ethertype::IPV4 {
        // Addresses and, unfragmented TCP/UDP, ports: one flow, one port.
        let ihl = usize::from(b[2] & 0x0f) * 4;
        mix(&b[2 + 12..2 + 20]);
        if matches!(b[2 + 9], 6 | 17) && u16::from_be_bytes([b[2 + 6], b[2 + 7]]) & 0x1fff == 0 {
            mix(b.get(2 + ihl..2 + ihl + 4).unwrap_or(&[]));
        }
    } else {
        mix(&frame.dst().0);
        mix(&frame.src().0);
        mix(&frame.ethertype().to_be_bytes());
    }
    h
}

impl Vxlan {
    /// A new device; `remote`/`group` become the all-zeros default entry.
    pub fn new(cfg: VxlanConfig, mac: Mac, lower_mtu: Option<u32>) -> Self {
        let mut fdb = HashMap::new();
        if let Some(ip) = cfg.remote {
            fdb.insert(
                Mac::ZERO,
                FdbEntry {
                    remotes: vec![Remote {
                        ip,
                        port: None,
                        vni: None,
                    }],
                    state: State::Permanent,
                    updated: Instant::ZERO,
                    used: Instant::ZERO,
                    learned: false,
                },
            );
        }
        let v6 = cfg.remote.or(cfg.local).is_some_and(|a| a.is_ipv6());
        let overhead = if v6 { OVERHEAD_V6 } else { OVERHEAD_V4 };
        // `vxlan_config_apply`: lower MTU − overhead, at least 68; 1500
        // without a lower device.
        let mtu = lower_mtu.map_or(1500, |m| m.saturating_sub(overhead).max(68));
        Vxlan {
            cfg,
            mac,
            fdb,
            neigh: HashMap::new(),
            proxied: 0,
            mtu,
            next_sweep: None,
            learned: 0,
            aged: 0,
        }
    }

    fn dynamic_count(&self) -> usize {
        self.fdb.values().filter(|e| e.learned).count()
    }

    /// `bridge fdb add|append|replace MAC dev vx dst IP [port] [vni]`.
    pub fn fdb_add(
        &mut self,
        now: Instant,
        mac: Mac,
        remote: Remote,
        state: State,
        how: FdbOp,
    ) -> Result<(), FdbError> {
        match (self.fdb.get_mut(&mac), how) {
            (Some(_), FdbOp::Add) => Err(FdbError::Exists),
            (Some(e), FdbOp::Append) => {
                if !(mac.is_zero() || mac.is_multicast()) {
                    return Err(FdbError::AppendUnicast);
                }
                if !e.remotes.contains(&remote) {
                    e.remotes.push(remote);
                }
                e.updated = now;
                Ok(())
            }
            (Some(e), FdbOp::Replace) => {
                e.remotes = vec![remote];
                e.state = state;
                e.learned = false;
                e.updated = now;
                Ok(())
            }
            (None, _) => {
                if self.cfg.maxaddress > 0 && self.fdb.len() as u32 >= self.cfg.maxaddress {
                    return Err(FdbError::Full(self.cfg.maxaddress));
                }
                if how == FdbOp::Append && !(mac.is_zero() || mac.is_multicast()) {
                    return Err(FdbError::AppendUnicast);
                }
                self.fdb.insert(
                    mac,
                    FdbEntry {
                        remotes: vec![remote],
                        state,
                        updated: now,
                        used: now,
                        learned: false,
                    },
                );
                Ok(())
            }
        }
    }

    /// `bridge fdb del MAC dev vx [dst IP]`: one remote, or the entry.
    pub fn fdb_del(&mut self, mac: Mac, dst: Option<IpAddr>) -> Result<(), FdbError> {
        let e = self.fdb.get_mut(&mac).ok_or(FdbError::NotFound)?;
        match dst {
            Some(ip) => {
                let n = e.remotes.len();
                e.remotes.retain(|r| r.ip != ip);
                if e.remotes.len() == n {
                    return Err(FdbError::NotFound);
                }
                if e.remotes.is_empty() {
                    self.fdb.remove(&mac);
                }
            }
            None => {
                self.fdb.remove(&mac);
            }
        }
        Ok(())
    }

    fn encap_for(&self, r: &Remote, frame: &Frame<'_>, hash: u32) -> Option<Encap> {
        if r.ip.is_unspecified() {
            return None;
        }
        let inner_ip = (frame.ethertype() == ethertype::IPV4)
            .then(|| frame.body())
            .filter(|b| b.len() >= 2 + 20);
        let ttl = match self.cfg.ttl {
            Ttl::Value(t) => t,
            Ttl::Inherit => inner_ip.map_or(64, |b| b[2 + 8]),
            Ttl::Auto if r.ip.is_multicast() => 1,
            Ttl::Auto => 64,
        };
        let tos = match self.cfg.tos {
            Tos::Value(t) => t,
            // `ip_tunnel_ecn_encap`: the inner DSCP, ECN encapsulated.
            Tos::Inherit => inner_ip.map_or(0, |b| b[2 + 1]),
        };
        let df = match self.cfg.df {
            Df::Set => true,
            Df::Unset => false,
            Df::Inherit => inner_ip.is_none_or(|b| b[2 + 6] & 0x40 != 0),
        };
        Some(Encap {
            dst: r.ip,
            port: r.port.unwrap_or(self.cfg.dstport),
            vni: r.vni.unwrap_or(self.cfg.vni),
            src_port: src_port(hash, self.cfg.srcport.0, self.cfg.srcport.1),
            ttl,
            tos,
            df,
        })
    }

    /// `vxlan_xmit`: the copies a frame the device sends becomes (none:
    /// dropped, with the reason).
    pub fn xmit(
        &mut self,
        now: Instant,
        frame: &Frame<'_>,
        out: &mut Vec<Encap>,
    ) -> Result<(), DropReason> {
        if frame.offload.is_gso() {
            return Err(DropReason::GsoEncap);
        }
        // The MTU counts the frame after its Ethernet header.
        if frame.len() as u32 > self.mtu + 14 + 4 * frame.tags().len() as u32 {
            return Err(DropReason::Oversize);
        }
        let hash = flow_hash(frame);
        let key = if self.fdb.contains_key(&frame.dst()) {
            frame.dst()
        } else {
            Mac::ZERO
        };
        let Some(e) = self.fdb.get_mut(&key) else {
            return Err(DropReason::NoRoute);
        };
        e.used = now;
        for r in &self.fdb[&key].remotes {
            out.extend(self.encap_for(r, frame, hash));
        }
        if out.is_empty() {
            return Err(DropReason::NoRoute);
        }
        Ok(())
    }

    /// `l2miss`: the unicast destination `xmit` found no entry for, not
    /// even the default (the kernel's `vxlan_fdb_miss`).
    pub fn l2_miss(&self, frame: &Frame<'_>) -> Option<Miss> {
        let d = frame.dst();
        (self.cfg.l2miss
            && !d.is_multicast()
            && !self.fdb.contains_key(&d)
            && !self.fdb.contains_key(&Mac::ZERO))
        .then_some(Miss::L2(d))
    }

    /// `proxy`: the kernel's `arp_reduce` for every ARP frame and
    /// `neigh_reduce` for neighbour solicitations; anything else passes.
    pub fn reduce(&mut self, frame: &Frame<'_>) -> Reduced {
        if !self.cfg.proxy {
            return Reduced::Pass;
        }
        let b = frame.body();
        match frame.ethertype() {
            ethertype::ARP => self.arp_reduce(frame.src(), b.get(2..).unwrap_or(&[])),
            ethertype::IPV6 => {
                let ip = b.get(2..).unwrap_or(&[]);
                // An ICMPv6 neighbour solicitation right after the header.
                if ip.len() >= 40 + 24 && ip[6] == 58 && ip[40] == 135 && ip[41] == 0 {
                    self.nd_reduce(frame.src(), ip)
                } else {
                    Reduced::Pass
                }
            }
            _ => Reduced::Pass,
        }
    }

    /// The entry the proxy may answer for `ip`, or why not.
    fn answer_for(&self, ip: IpAddr) -> Result<Neighbour, Reduced> {
        let Some(n) = self.neigh.get(&ip) else {
            return Err(if self.cfg.l3miss {
                Reduced::Miss(ip)
            } else {
                Reduced::Consumed
            });
        };
        if !n.nud.connected() {
            return Err(Reduced::Consumed);
        }
        // A neighbour behind a local entry (remote 0.0.0.0) is the
        // bridge's to answer.
        if self
            .fdb
            .get(&n.mac)
            .and_then(|f| f.remotes.first())
            .is_some_and(|r| r.ip.is_unspecified())
        {
            return Err(Reduced::Consumed);
        }
        Ok(*n)
    }

    fn arp_reduce(&mut self, _src: Mac, arp: &[u8]) -> Reduced {
        if arp.len() < 28 {
            return Reduced::Consumed;
        }
        let hrd = u16::from_be_bytes([arp[0], arp[1]]);
        if !matches!(hrd, 1 | 6)
            || u16::from_be_bytes([arp[2], arp[3]]) != ethertype::IPV4
            || u16::from_be_bytes([arp[6], arp[7]]) != 1
            || arp[4] != 6
            || arp[5] != 4
        {
            return Reduced::Consumed;
        }
        let sha = Mac(arp[8..14].try_into().expect("6 bytes"));
        let sip: [u8; 4] = arp[14..18].try_into().expect("4 bytes");
        let tip: [u8; 4] = arp[24..28].try_into().expect("4 bytes");
        let t = core::net::Ipv4Addr::from(tip);
        if t.is_loopback() || t.is_multicast() {
            return Reduced::Consumed;
        }
        let n = match self.answer_for(IpAddr::V4(t)) {
            Ok(n) => n,
            Err(r) => return r,
        };
        // `arp_create(ARPOP_REPLY, ..., sip, dev, tip, sha, n->ha, sha)`.
        self.proxied += 1;
        Reduced::Reply(crate::wire::host::arp(
            crate::wire::host::ARP_REPLY,
            n.mac,
            sha,
            tip,
            sha,
            sip,
            &[],
        ))
    }

    fn nd_reduce(&mut self, src: Mac, ip: &[u8]) -> Reduced {
        let saddr: [u8; 16] = ip[8..24].try_into().expect("16 bytes");
        let daddr = core::net::Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).expect("16"));
        let target: [u8; 16] = ip[48..64].try_into().expect("16 bytes");
        if daddr.is_loopback() || target[0] == 0xff {
            return Reduced::Consumed;
        }
        let n = match self.answer_for(IpAddr::V6(target.into())) {
            Ok(n) => n,
            Err(r) => return r,
        };
        // `vxlan_na_create`: to the solicitation's source link-layer
        // option, else its Ethernet source.
        let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let opts = ip.get(64..(40 + plen).min(ip.len())).unwrap_or(&[]);
        let mut dst = src;
        let mut i = 0;
        while i + 1 < opts.len() {
            let len = usize::from(opts[i + 1]) * 8;
            if len == 0 {
                return Reduced::Consumed;
            }
            if opts[i] == 1 && i + 8 <= opts.len() {
                dst = Mac(opts[i + 2..i + 8].try_into().expect("6 bytes"));
                break;
            }
            i += len;
        }
        self.proxied += 1;
        Reduced::Reply(crate::wire::host::neighbour_advertisement(
            n.mac, target, dst, saddr, true,
        ))
    }

    /// `vxlan_rcv` after the header: a frame from `src` (outer source IP)
    /// with `vni`. Learns the inner source (`vxlan_snoop`); `Err` drops it.
    pub fn rx(
        &mut self,
        now: Instant,
        src: IpAddr,
        vni: u32,
        inner: &Frame<'_>,
    ) -> Result<(), DropReason> {
        if vni != self.cfg.vni {
            return Err(DropReason::Unclaimed);
        }
        let smac = inner.src();
        if smac == self.mac {
            // Our own frame come back.
            return Err(DropReason::InvalidSrcMac);
        }
        if !self.cfg.learning || !smac.is_valid_source() {
            return Ok(());
        }
        if let Some(e) = self.fdb.get_mut(&smac) {
            e.updated = now;
            if e.remotes.first().map(|r| r.ip) == Some(src) {
                return Ok(());
            }
            if e.state.fixed() {
                // A static or permanent entry is not moved; the packet goes.
                return Err(DropReason::InvalidSrcMac);
            }
            // Migrated.
            e.remotes = vec![Remote {
                ip: src,
                port: None,
                vni: None,
            }];
            return Ok(());
        }
        if self.cfg.maxaddress > 0 && self.fdb.len() as u32 >= self.cfg.maxaddress {
            return Ok(());
        }
        self.fdb.insert(
            smac,
            FdbEntry {
                remotes: vec![Remote {
                    ip: src,
                    port: None,
                    vni: None,
                }],
                state: State::Dynamic,
                updated: now,
                used: now,
                learned: true,
            },
        );
        self.learned += 1;
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now + AGE_INTERVAL);
        }
        Ok(())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_sweep
    }

    /// `vxlan_cleanup`: every 10 s, dynamic entries not refreshed by a
    /// received frame within `ageing` seconds go.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.next_sweep.filter(|t| *t <= now) {
            let age = Duration::from_secs(u64::from(self.cfg.ageing));
            let before = self.fdb.len();
            self.fdb
                .retain(|_, e| e.state != State::Dynamic || e.updated + age > t);
            self.aged += (before - self.fdb.len()) as u64;
            self.next_sweep = (self.dynamic_count() > 0).then(|| t + AGE_INTERVAL);
        }
    }
}

/// How `bridge fdb` changes an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdbOp {
    Add,
    Append,
    Replace,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Offload};
    use core::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, n))
    }

    fn secs(s: u64) -> Instant {
        Instant::from_nanos(s * 1_000_000_000)
    }

    fn dev(remote: Option<IpAddr>) -> Vxlan {
        let cfg = VxlanConfig {
            vni: 100,
            remote,
            ..VxlanConfig::default()
        };
        Vxlan::new(cfg, Mac::local(0xee), Some(1500))
    }

    fn xmit(v: &mut Vxlan, dst: Mac) -> Result<Vec<Encap>, DropReason> {
        let f = build_frame(dst, Mac::local(1), &[], 0x88b5, &[0; 46]);
        let fr = Frame::parse(&f, None, Offload::NONE).unwrap();
        let mut out = Vec::new();
        v.xmit(secs(0), &fr, &mut out).map(|()| out)
    }

    #[test]
    fn defaults_and_mtu_are_the_kernels() {
        let v = dev(Some(ip(2)));
        assert_eq!(v.cfg.dstport, 8472);
        assert_eq!(
            (v.cfg.ageing, v.cfg.maxaddress, v.cfg.learning),
            (300, 0, true)
        );
        assert_eq!(v.mtu, 1450);
        let v6 = Vxlan::new(
            VxlanConfig {
                remote: Some("fd00::2".parse().unwrap()),
                ..VxlanConfig::default()
            },
            Mac::local(1),
            Some(1500),
        );
        assert_eq!(v6.mtu, 1430);
        assert_eq!(
            Vxlan::new(VxlanConfig::default(), Mac::local(1), None).mtu,
            1500
        );
        assert_eq!(
            Vxlan::new(VxlanConfig::default(), Mac::local(1), Some(100)).mtu,
            68
        );
    }

    #[test]
    fn head_end_replication_and_unicast_entries() {
        let mut v = dev(Some(ip(2)));
        let r = |n| Remote {
            ip: ip(n),
            port: None,
            vni: None,
        };
        v.fdb_add(secs(0), Mac::ZERO, r(3), State::Permanent, FdbOp::Append)
            .unwrap();
        v.fdb_add(secs(0), Mac::ZERO, r(4), State::Permanent, FdbOp::Append)
            .unwrap();
        // Broadcast and unknown unicast: one copy per listed remote.
        let out = xmit(&mut v, Mac::BROADCAST).unwrap();
        let dsts: Vec<IpAddr> = out.iter().map(|e| e.dst).collect();
        assert_eq!(dsts, vec![ip(2), ip(3), ip(4)]);
        assert!(out
            .iter()
            .all(|e| e.port == 8472 && e.vni == 100 && e.ttl == 64));
        // A known MAC: its own remote, with its port and VNI.
        let m = Mac::local(9);
        v.fdb_add(
            secs(0),
            m,
            Remote {
                ip: ip(5),
                port: Some(4789),
                vni: Some(7),
            },
            State::Static,
            FdbOp::Add,
        )
        .unwrap();
        let out = xmit(&mut v, m).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].dst, out[0].port, out[0].vni), (ip(5), 4789, 7));
        assert_eq!(
            v.fdb_add(
                secs(0),
                m,
                Remote {
                    ip: ip(6),
                    port: None,
                    vni: None
                },
                State::Static,
                FdbOp::Add
            ),
            Err(FdbError::Exists)
        );
        assert_eq!(
            v.fdb_add(secs(0), m, r(6), State::Static, FdbOp::Append),
            Err(FdbError::AppendUnicast)
        );
        // Deleting a remote of the default entry, then the entry.
        v.fdb_del(Mac::ZERO, Some(ip(3))).unwrap();
        assert_eq!(xmit(&mut v, Mac::BROADCAST).unwrap().len(), 2);
        v.fdb_del(Mac::ZERO, None).unwrap();
        assert_eq!(xmit(&mut v, Mac::BROADCAST), Err(DropReason::NoRoute));
        // Source ports stay in the default range.
        assert!(out.iter().all(|e| (32768..61000).contains(&e.src_port)));
    }

    #[test]
    fn learning_migration_ageing_and_maxaddress() {
        let mut v = dev(Some(ip(2)));
        v.cfg.maxaddress = 3;
        let from = |v: &mut Vxlan, t: u64, src: Mac, outer: u8| {
            let f = build_frame(Mac::BROADCAST, src, &[], 0x88b5, &[0; 46]);
            let fr = Frame::parse(&f, None, Offload::NONE).unwrap();
            v.rx(secs(t), ip(outer), 100, &fr)
        };
        let (a, b, c) = (Mac::local(0xa), Mac::local(0xb), Mac::local(0xc));
        from(&mut v, 0, a, 7).unwrap();
        assert_eq!(v.fdb[&a].remotes[0].ip, ip(7));
        assert_eq!(xmit(&mut v, a).unwrap()[0].dst, ip(7));
        // Roaming to another VTEP moves a learned entry.
        from(&mut v, 1, a, 8).unwrap();
        assert_eq!(v.fdb[&a].remotes[0].ip, ip(8));
        // A static entry is not moved and the frame is dropped.
        v.fdb_add(
            secs(1),
            b,
            Remote {
                ip: ip(9),
                port: None,
                vni: None,
            },
            State::Static,
            FdbOp::Add,
        )
        .unwrap();
        assert_eq!(from(&mut v, 2, b, 8), Err(DropReason::InvalidSrcMac));
        assert_eq!(v.fdb[&b].remotes[0].ip, ip(9));
        // maxaddress 3 (default entry, a, b): c is not learned.
        from(&mut v, 2, c, 8).unwrap();
        assert!(!v.fdb.contains_key(&c));
        // Our own address back: dropped. Another VNI: not ours.
        assert_eq!(
            from(&mut v, 2, Mac::local(0xee), 8),
            Err(DropReason::InvalidSrcMac)
        );
        let f = build_frame(Mac::BROADCAST, c, &[], 0x88b5, &[0; 46]);
        let fr = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(v.rx(secs(2), ip(8), 101, &fr), Err(DropReason::Unclaimed));
        // Ageing on receive: a, last heard at 1 s, goes at the first sweep
        // after 301 s (sweeps every 10 s from 10 s): 310 s.
        v.handle_timeout(secs(300));
        assert!(v.fdb.contains_key(&a));
        v.handle_timeout(secs(310));
        assert!(!v.fdb.contains_key(&a));
        assert!(v.fdb.contains_key(&b) && v.fdb.contains_key(&Mac::ZERO));
        assert_eq!(v.poll_timeout(), None, "nothing left to age");
    }

    #[test]
    fn ttl_tos_df_and_oversize() {
        let mut v = dev(Some("239.1.1.1".parse().unwrap()));
        let out = xmit(&mut v, Mac::BROADCAST).unwrap();
        assert_eq!(out[0].ttl, 1, "multicast remote: TTL 1");
        v.cfg.ttl = Ttl::Inherit;
        v.cfg.tos = Tos::Inherit;
        v.cfg.df = Df::Inherit;
        let mut ipv4 = vec![
            0x45, 0xb8, 0, 28, 0, 0, 0x40, 0, 17, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        ipv4.extend_from_slice(&[0; 8]);
        let f = build_frame(Mac::local(2), Mac::local(1), &[], ethertype::IPV4, &ipv4);
        let fr = Frame::parse(&f, None, Offload::NONE).unwrap();
        let mut out = Vec::new();
        v.xmit(secs(0), &fr, &mut out).unwrap();
        assert_eq!((out[0].ttl, out[0].tos, out[0].df), (17, 0xb8, true));
        // 1450 bytes after the Ethernet header fit, 1451 do not.
        let ok = build_frame(Mac::local(2), Mac::local(1), &[], 0x88b5, &vec![0; 1450]);
        let big = build_frame(Mac::local(2), Mac::local(1), &[], 0x88b5, &vec![0; 1451]);
        let mut out = Vec::new();
        assert!(v
            .xmit(
                secs(0),
                &Frame::parse(&ok, None, Offload::NONE).unwrap(),
                &mut out
            )
            .is_ok());
        assert_eq!(
            v.xmit(
                secs(0),
                &Frame::parse(&big, None, Offload::NONE).unwrap(),
                &mut out
            ),
            Err(DropReason::Oversize)
        );
    }
}
