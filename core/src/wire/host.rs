//! The host frames several devices build or read: ARP requests and
//! replies, neighbour solicitations and advertisements (with their ICMPv6
//! checksum), and the tests that pick out NAs and IGMP. The bond's and the
//! team's link monitors and announcements, the VXLAN proxy's replies and
//! the simulator's hosts all use these.

use crate::wire::{build_frame, ethertype, Frame, Mac, Tag};

/// ARP operation: request.
pub const ARP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const ARP_REPLY: u16 = 2;

/// An Ethernet/IPv4 ARP packet in a frame from `src` to `dst`: operation
/// `op`, sender `src`/`sip`, target `tha`/`tip` (`arp_create`).
pub fn arp(
    op: u16,
    src: Mac,
    dst: Mac,
    sip: [u8; 4],
    tha: Mac,
    tip: [u8; 4],
    tags: &[Tag],
) -> Vec<u8> {
    let mut arp = Vec::with_capacity(28);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    arp.extend_from_slice(&op.to_be_bytes());
    arp.extend_from_slice(&src.0);
    arp.extend_from_slice(&sip);
    arp.extend_from_slice(&tha.0);
    arp.extend_from_slice(&tip);
    build_frame(dst, src, tags, ethertype::ARP, &arp)
}

/// A gratuitous ARP for `ip` from `mac` (`NETDEV_NOTIFY_PEERS`: a
/// broadcast request for its own address).
pub fn gratuitous_arp(mac: Mac, ip: [u8; 4]) -> Vec<u8> {
    arp(ARP_REQUEST, mac, Mac::BROADCAST, ip, Mac::ZERO, ip, &[])
}

/// A broadcast ARP request for `tip` from `sip` (the probe of bonding's ARP
/// monitor and of teamd's arp_ping).
pub fn arp_request(mac: Mac, sip: [u8; 4], tip: [u8; 4], tags: &[Tag]) -> Vec<u8> {
    arp(ARP_REQUEST, mac, Mac::BROADCAST, sip, Mac::ZERO, tip, tags)
}

/// The ICMPv6 checksum over the pseudo-header.
fn icmp6_checksum(src: &[u8; 16], dst: &[u8; 16], icmp: &[u8]) -> u16 {
    let len = (icmp.len() as u32).to_be_bytes();
    super::csum::checksum(&[src, dst, &len, &[0, 0, 0, 58], icmp])
}

fn icmp6_frame(dst_mac: Mac, mac: Mac, src: [u8; 16], dst: [u8; 16], mut icmp: Vec<u8>) -> Vec<u8> {
    let c = icmp6_checksum(&src, &dst, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    ip.extend_from_slice(&[58, 255]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(&icmp);
    build_frame(dst_mac, mac, &[], ethertype::IPV6, &ip)
}

/// A neighbour advertisement for `target` (ours, from `target`) with its
/// target link-layer address option: override set, solicited when it
/// answers a solicitation.
pub fn neighbour_advertisement(
    mac: Mac,
    target: [u8; 16],
    dst_mac: Mac,
    dst: [u8; 16],
    solicited: bool,
) -> Vec<u8> {
    let flags = if solicited { 0x60 } else { 0x20 };
    let mut icmp = vec![136, 0, 0, 0, flags, 0, 0, 0];
    icmp.extend_from_slice(&target);
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&mac.0);
    icmp6_frame(dst_mac, mac, target, dst, icmp)
}

/// An unsolicited neighbour advertisement for `target` to all nodes
/// (override set), as `ndisc_send_unsol_na`.
pub fn unsolicited_na(mac: Mac, target: [u8; 16]) -> Vec<u8> {
    let all_nodes: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    neighbour_advertisement(mac, target, Mac([0x33, 0x33, 0, 0, 0, 1]), all_nodes, false)
}

/// The link-local address a port with `mac` has (EUI-64).
pub fn link_local(mac: Mac) -> [u8; 16] {
    let m = mac.0;
    [
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 2,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ]
}

/// A neighbour solicitation for `target` from `src` to its solicited-node
/// group (teamd's nsna_ping, the bond's `ns_ip6_target`), with the source
/// link-layer address option unless `src` is the unspecified address
/// (RFC 4861 7.2.2; `ndisc_ns_create`).
pub fn neighbour_solicitation(mac: Mac, src: [u8; 16], target: [u8; 16]) -> Vec<u8> {
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&target);
    if src != [0; 16] {
        icmp.extend_from_slice(&[1, 1]);
        icmp.extend_from_slice(&mac.0);
    }
    let mut dst = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    dst[13..].copy_from_slice(&target[13..]);
    let dmac = Mac([0x33, 0x33, 0xff, target[13], target[14], target[15]]);
    icmp6_frame(dmac, mac, src, dst, icmp)
}

/// A neighbour advertisement's target, if the frame is one.
pub fn na_target(frame: &Frame<'_>) -> Option<[u8; 16]> {
    let b = frame.body();
    if frame.ethertype() != ethertype::IPV6 || b.len() < 2 + 40 + 24 {
        return None;
    }
    let ip = &b[2..];
    (ip[6] == 58 && ip[40] == 136).then(|| ip[48..64].try_into().expect("16 bytes"))
}

pub fn is_igmp(frame: &Frame<'_>) -> bool {
    let b = frame.body();
    frame.ethertype() == ethertype::IPV4 && b.len() >= 2 + 20 && b[2 + 9] == 2
}
