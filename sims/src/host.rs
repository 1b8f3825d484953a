//! Simulated hosts: one NIC, an IPv4 address, ARP, ICMP echo, an optional
//! IPv6 address that answers neighbour solicitations, and a counted
//! L2 traffic protocol. Sans-IO like the devices: `receive` takes a frame and
//! returns the frames to send and what happened.

use etherparse::{ArpOperation, Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use patchbay_core::wire::{build_frame, igmp, mld, Mac};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EtherType of generated traffic (IEEE local experimental).
pub const TRAFFIC_ETHERTYPE: u16 = 0x88b5;
const MAGIC: &[u8; 4] = b"PBSF";

#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub mac: Mac,
    pub ip: Option<Ipv4Addr>,
    /// Answers neighbour solicitations for it.
    pub ip6: Option<Ipv6Addr>,
    arp: BTreeMap<Ipv4Addr, Mac>,
    /// Echo requests waiting for ARP: (target, id, seq).
    pending: Vec<(Ipv4Addr, u16, u16)>,
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// The NIC's carrier (its wire is up).
    pub carrier: bool,
    /// Groups joined, each with the IGMP (1-3) or MLD (1-2) version the
    /// host speaks for it.
    pub groups: BTreeMap<IpAddr, u8>,
    /// Multicast UDP datagrams seen on the wire, per group, member or not
    /// (as a packet socket counts them).
    pub mc_rx: BTreeMap<IpAddr, u64>,
}

/// What a received frame meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    Nothing,
    EchoReply { id: u16, seq: u16 },
    Traffic { flow: u32, seq: u64 },
}

impl Host {
    pub fn new(name: &str, mac: Mac, ip: Option<Ipv4Addr>) -> Host {
        Host {
            name: name.into(),
            mac,
            ip,
            ip6: None,
            arp: BTreeMap::new(),
            pending: Vec::new(),
            rx_frames: 0,
            tx_frames: 0,
            carrier: true,
            groups: BTreeMap::new(),
            mc_rx: BTreeMap::new(),
        }
    }

    /// One frame of flow `flow`, sequence `seq`, `size` bytes on the wire
    /// counting the 4-byte FCS (so `64` is a 60-byte frame, as in "64-byte
    /// frames").
    pub fn traffic_frame(&self, dst: Mac, flow: u32, seq: u64, size: usize) -> Vec<u8> {
        let mut payload = Vec::with_capacity(size.max(64));
        payload.extend_from_slice(MAGIC);
        payload.extend_from_slice(&flow.to_be_bytes());
        payload.extend_from_slice(&seq.to_be_bytes());
        payload.resize(size.max(64) - 18, 0);
        build_frame(dst, self.mac, &[], TRAFFIC_ETHERTYPE, &payload)
    }

    /// Starts an echo request to `to`: the request itself when the address
    /// is resolved, else an ARP request (the echo goes when the reply comes).
    pub fn ping(&mut self, to: Ipv4Addr, id: u16, seq: u16) -> Vec<Vec<u8>> {
        let Some(me) = self.ip else { return vec![] };
        match self.arp.get(&to) {
            Some(mac) => vec![echo(self.mac, *mac, me, to, id, seq, true)],
            None => {
                let first = !self.pending.iter().any(|p| p.0 == to);
                self.pending.push((to, id, seq));
                if first {
                    vec![arp(
                        self.mac,
                        Mac::BROADCAST,
                        ArpOperation::REQUEST,
                        me,
                        Mac::ZERO,
                        to,
                    )]
                } else {
                    vec![]
                }
            }
        }
    }

    /// A frame from the wire.
    pub fn receive(&mut self, frame: &[u8]) -> (Vec<Vec<u8>>, Heard) {
        if frame.len() < 14 {
            return (vec![], Heard::Nothing);
        }
        let dst = Mac(frame[..6].try_into().expect("6 bytes"));
        if dst != self.mac && !dst.is_multicast() {
            return (vec![], Heard::Nothing); // the NIC's address filter
        }
        self.rx_frames += 1;
        if frame[12..14] == TRAFFIC_ETHERTYPE.to_be_bytes() {
            let p = &frame[14..];
            if p.len() >= 16 && &p[..4] == MAGIC {
                let flow = u32::from_be_bytes(p[4..8].try_into().expect("4"));
                let seq = u64::from_be_bytes(p[8..16].try_into().expect("8"));
                return (vec![], Heard::Traffic { flow, seq });
            }
            return (vec![], Heard::Nothing);
        }
        if let Some(out) = self.multicast(frame) {
            return (out, Heard::Nothing);
        }
        if frame[12..14] == [0x86, 0xdd] {
            return (self.neighbour(frame).into_iter().collect(), Heard::Nothing);
        }
        let Ok(pkt) = SlicedPacket::from_ethernet(frame) else {
            return (vec![], Heard::Nothing);
        };
        let Some(me) = self.ip else {
            return (vec![], Heard::Nothing);
        };
        match &pkt.net {
            Some(NetSlice::Arp(a)) => {
                let Ok(a) = a.to_packet().try_eth_ipv4() else {
                    return (vec![], Heard::Nothing);
                };
                let sender = Ipv4Addr::from(a.sender_ipv4);
                let smac = Mac(a.sender_mac);
                if Ipv4Addr::from(a.target_ipv4) != me {
                    return (vec![], Heard::Nothing);
                }
                self.arp.insert(sender, smac);
                let mut out = vec![];
                if a.operation == ArpOperation::REQUEST {
                    out.push(arp(self.mac, smac, ArpOperation::REPLY, me, smac, sender));
                }
                // Echo requests that waited for this address go now.
                let (go, keep): (Vec<_>, Vec<_>) =
                    self.pending.drain(..).partition(|p| p.0 == sender);
                self.pending = keep;
                for (to, id, seq) in go {
                    out.push(echo(self.mac, smac, me, to, id, seq, true));
                }
                (out, Heard::Nothing)
            }
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                if h.destination_addr() != me {
                    return (vec![], Heard::Nothing);
                }
                let Some(TransportSlice::Icmpv4(icmp)) = &pkt.transport else {
                    return (vec![], Heard::Nothing);
                };
                let src_mac = Mac(frame[6..12].try_into().expect("6 bytes"));
                // As a kernel does: the reply goes to the neighbour entry of
                // the source address (learned by ARP), not to whatever MAC
                // the request came from (they differ behind balance-tlb).
                let reply_mac = self.arp.get(&h.source_addr()).copied().unwrap_or(src_mac);
                match icmp.icmp_type() {
                    Icmpv4Type::EchoRequest(e) => (
                        vec![echo(
                            self.mac,
                            reply_mac,
                            me,
                            h.source_addr(),
                            e.id,
                            e.seq,
                            false,
                        )],
                        Heard::Nothing,
                    ),
                    Icmpv4Type::EchoReply(e) => (
                        vec![],
                        Heard::EchoReply {
                            id: e.id,
                            seq: e.seq,
                        },
                    ),
                    _ => (vec![], Heard::Nothing),
                }
            }
            _ => (vec![], Heard::Nothing),
        }
    }
}

impl Host {
    /// A neighbour solicitation for our IPv6 address: the solicited
    /// advertisement (router no, solicited, override), to its sender; to
    /// all nodes, not solicited, when the sender had no address yet (RFC
    /// 4861 7.2.4).
    fn neighbour(&self, frame: &[u8]) -> Option<Vec<u8>> {
        let me = self.ip6?.octets();
        let ip = frame.get(14..)?;
        if ip.len() < 40 + 24 || ip[6] != 58 || ip[40] != 135 || ip[48..64] != me {
            return None;
        }
        let src: [u8; 16] = ip[8..24].try_into().ok()?;
        if src == [0; 16] {
            return Some(patchbay_core::wire::host::unsolicited_na(self.mac, me));
        }
        let dst = Mac(frame[6..12].try_into().ok()?);
        Some(patchbay_core::wire::host::neighbour_advertisement(
            self.mac, me, dst, src, true,
        ))
    }
}

/// IGMP and MLD as a Linux host speaks them: reports when it joins,
/// answers to queries (at once: the simulator's hosts do not wait a random
/// part of the response time), leaves.
impl Host {
    fn v4(&self) -> [u8; 4] {
        self.ip.map_or([0; 4], |a| a.octets())
    }

    fn ll(&self) -> [u8; 16] {
        patchbay_core::wire::host::link_local(self.mac)
    }

    fn igmp(&self, ip: Vec<u8>) -> Vec<u8> {
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        let mac = Mac([0x01, 0x00, 0x5e, dst[1] & 0x7f, dst[2], dst[3]]);
        build_frame(mac, self.mac, &[], 0x0800, &ip)
    }

    fn mld(&self, ip: Vec<u8>) -> Vec<u8> {
        let d = &ip[24..40];
        let mac = Mac([0x33, 0x33, d[12], d[13], d[14], d[15]]);
        build_frame(mac, self.mac, &[], 0x86dd, &ip)
    }

    /// The report that says the host is in `g` (a v3/MLDv2 report's
    /// record kind: 2 MODE_IS_EXCLUDE, 4 CHANGE_TO_EXCLUDE).
    fn report(&self, g: IpAddr, version: u8, kind: u8) -> Vec<u8> {
        match g {
            IpAddr::V4(a) => {
                let a = a.octets();
                self.igmp(match version {
                    3 => igmp::report_v3(self.v4(), &[(kind, a, &[])]),
                    v => igmp::report(v, self.v4(), a),
                })
            }
            IpAddr::V6(a) => {
                let a = a.octets();
                self.mld(match version {
                    2 => mld::report_v2(self.ll(), &[(kind, a, &[])]),
                    _ => mld::report(self.ll(), a),
                })
            }
        }
    }

    /// Joins `g`: the unsolicited report.
    pub fn join(&mut self, g: IpAddr, version: u8) -> Vec<Vec<u8>> {
        self.groups.insert(g, version);
        vec![self.report(g, version, 4)]
    }

    /// Leaves `g`: a v2 leave or MLDv1 done, or a TO_INCLUDE {} report
    /// (nothing from an IGMPv1 host).
    pub fn leave(&mut self, g: IpAddr) -> Vec<Vec<u8>> {
        let Some(version) = self.groups.remove(&g) else {
            return vec![];
        };
        let f = match (g, version) {
            (IpAddr::V4(_), 1) => return vec![],
            (IpAddr::V4(a), 2) => self.igmp(igmp::leave(self.v4(), a.octets())),
            (IpAddr::V6(a), 1) => self.mld(mld::done(self.ll(), a.octets())),
            _ => self.report(g, version, 3),
        };
        vec![f]
    }

    /// A UDP datagram to group `g`.
    pub fn mc_data(&self, g: IpAddr, seq: u64) -> Vec<u8> {
        let payload = seq.to_be_bytes();
        let b = match g {
            IpAddr::V4(a) => {
                let mac = Mac([
                    0x01,
                    0x00,
                    0x5e,
                    a.octets()[1] & 0x7f,
                    a.octets()[2],
                    a.octets()[3],
                ]);
                PacketBuilder::ethernet2(self.mac.0, mac.0).ipv4(self.v4(), a.octets(), 1)
            }
            IpAddr::V6(a) => {
                let o = a.octets();
                let mac = [0x33, 0x33, o[12], o[13], o[14], o[15]];
                PacketBuilder::ethernet2(self.mac.0, mac).ipv6(self.ll(), o, 1)
            }
        }
        .udp(5000, 5000);
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, &payload).expect("writing to a Vec");
        v
    }

    /// A multicast frame: counts group data, answers queries. `None` for
    /// anything else.
    fn multicast(&mut self, frame: &[u8]) -> Option<Vec<Vec<u8>>> {
        if frame[0] & 1 == 0 {
            return None;
        }
        let ip = frame.get(14..)?;
        match &frame[12..14] {
            [0x08, 0x00] => {
                if ip.len() >= 20 && ip[9] == 17 && ip[16] & 0xf0 == 0xe0 {
                    let g = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
                    *self.mc_rx.entry(g).or_default() += 1;
                    return Some(vec![]);
                }
                let p = igmp::parse(ip).ok()??;
                let igmp::Message::Query { group, .. } = p.msg else {
                    return Some(vec![]);
                };
                Some(self.answer(IpAddr::V4(Ipv4Addr::from(group)), group == [0; 4]))
            }
            [0x86, 0xdd] => {
                if ip.len() >= 40 && ip[6] == 17 && ip[24] == 0xff {
                    let d: [u8; 16] = ip[24..40].try_into().expect("16 bytes");
                    *self.mc_rx.entry(IpAddr::V6(Ipv6Addr::from(d))).or_default() += 1;
                    return Some(vec![]);
                }
                let p = mld::parse(ip).ok()??;
                let mld::Message::Query { group, .. } = p.msg else {
                    // NDP and the rest: the caller goes on.
                    return None;
                };
                Some(self.answer(IpAddr::V6(Ipv6Addr::from(group)), group == [0; 16]))
            }
            _ => None,
        }
    }

    /// Reports for a query: every group of its family (general), or the
    /// one it asks about.
    fn answer(&self, g: IpAddr, general: bool) -> Vec<Vec<u8>> {
        self.groups
            .iter()
            .filter(|(h, _)| {
                if general {
                    h.is_ipv4() == g.is_ipv4()
                } else {
                    **h == g
                }
            })
            .map(|(h, v)| self.report(*h, *v, 2))
            .collect()
    }
}

fn arp(src: Mac, dst: Mac, op: ArpOperation, sip: Ipv4Addr, tmac: Mac, tip: Ipv4Addr) -> Vec<u8> {
    let mut v =
        patchbay_core::wire::host::arp(op.0, src, dst, sip.octets(), tmac, tip.octets(), &[]);
    // Padded to the Ethernet minimum, as a NIC sends it.
    v.resize(60, 0);
    v
}

fn echo(
    src: Mac,
    dst: Mac,
    sip: Ipv4Addr,
    dip: Ipv4Addr,
    id: u16,
    seq: u16,
    request: bool,
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src.0, dst.0).ipv4(sip.octets(), dip.octets(), 64);
    let b = if request {
        b.icmpv4_echo_request(id, seq)
    } else {
        b.icmpv4_echo_reply(id, seq)
    };
    let payload = [0x5a; 56];
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, &payload).expect("writing to a Vec");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hosts_resolve_and_ping() {
        let mut a = Host::new("a", Mac::local(1), Some(Ipv4Addr::new(198, 18, 0, 1)));
        let mut b = Host::new("b", Mac::local(2), Some(Ipv4Addr::new(198, 18, 0, 2)));
        let out = a.ping(Ipv4Addr::new(198, 18, 0, 2), 7, 1);
        assert_eq!(out.len(), 1, "an ARP request first");
        let (replies, _) = b.receive(&out[0]);
        let (echo, _) = a.receive(&replies[0]);
        assert_eq!(echo.len(), 1, "the queued echo request goes");
        let (reply, _) = b.receive(&echo[0]);
        let (_, heard) = a.receive(&reply[0]);
        assert_eq!(heard, Heard::EchoReply { id: 7, seq: 1 });
        // Resolved now: the next ping goes straight out.
        assert_eq!(a.ping(Ipv4Addr::new(198, 18, 0, 2), 7, 2).len(), 1);
    }

    #[test]
    fn traffic_frames_carry_flow_and_sequence() {
        let a = Host::new("a", Mac::local(1), None);
        let mut b = Host::new("b", Mac::local(2), None);
        let f = a.traffic_frame(b.mac, 3, 99, 64);
        assert_eq!(f.len(), 60);
        assert_eq!(b.receive(&f).1, Heard::Traffic { flow: 3, seq: 99 });
        let other = a.traffic_frame(Mac::local(9), 3, 100, 64);
        assert_eq!(b.receive(&other).1, Heard::Nothing, "not for b's address");
    }
}
