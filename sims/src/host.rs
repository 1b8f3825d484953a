//! Simulated hosts: one NIC, an IPv4 address, ARP, ICMP echo, an optional
//! IPv6 address that answers neighbour solicitations, and a counted
//! L2 traffic protocol. Sans-IO like the devices: `receive` takes a frame and
//! returns the frames to send and what happened.

use etherparse::{ArpOperation, Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use patchbay_core::wire::{build_frame, Mac};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

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
