//! The Internet checksum (RFC 1071), and completing a checksum a sender
//! left partial.
//!
//! A host whose netdev offloads checksums (veth does by default) sends TCP
//! and UDP with `CHECKSUM_PARTIAL`: the checksum field holds only the sum of
//! the pseudo-header, and the metadata (`csum_start`, `csum_offset`) says
//! who must finish it. Attachments that carry that metadata (TAP and
//! AF_PACKET with a virtio-net header) pass it on; an AF_XDP socket carries
//! none, so a frame read from one is handed to [`complete_partial`], which
//! recognises a partial checksum and finishes it as `skb_checksum_help`
//! would.

use super::{ethertype, ETH_HLEN, VLAN_HLEN};

/// A running ones'-complement sum.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum(u64);

impl Sum {
    /// Adds `b` as big-endian 16-bit words (an odd last byte is padded
    /// with zero). Sums of even-length pieces may be chained.
    pub fn add(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_be_bytes(c.try_into().expect("8 bytes"));
            // Four 16-bit words at once: the halves are added separately so
            // no carry is lost.
            self.0 += (w >> 32) + (w & 0xffff_ffff);
        }
        let mut rest = chunks.remainder().chunks(2);
        for c in &mut rest {
            self.0 += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    }

    pub fn add_u16(&mut self, v: u16) {
        self.0 += u64::from(v);
    }

    /// The sum folded to 16 bits, not complemented.
    pub fn folded(self) -> u16 {
        let mut s = self.0;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum to write: the folded sum, complemented.
    pub fn checksum(self) -> u16 {
        !self.folded()
    }
}

/// The TCP pseudo-header of an IPv4 (`ip` from its header's start) or
/// IPv6 packet, for a transport segment of `l4_len` bytes.
pub fn tcp_pseudo(v6: bool, ip: &[u8], l4_len: usize) -> Sum {
    let mut s = Sum::default();
    if v6 {
        s.add(&ip[8..40]);
        s.add(&(l4_len as u32).to_be_bytes());
        s.add(&[0, 0, 0, 6]);
    } else {
        s.add(&ip[12..20]);
        s.add(&[0, 6]);
        s.add(&(l4_len as u16).to_be_bytes());
    }
    s
}

/// The checksum of `pieces` summed in order.
pub fn checksum(pieces: &[&[u8]]) -> u16 {
    let mut s = Sum::default();
    for p in pieces {
        s.add(p);
    }
    s.checksum()
}

/// Where a frame's TCP or UDP checksum lives.
struct L4 {
    /// Offset of the transport header.
    start: usize,
    /// Offset of the checksum field within it.
    field: usize,
    /// Where the segment ends (the IP header's length; Ethernet padding
    /// is not part of it).
    end: usize,
    /// The pseudo-header's sum.
    pseudo: Sum,
    udp: bool,
}

/// Finds the transport header of an untagged or tagged IPv4/IPv6 frame
/// carrying TCP or UDP directly (no IPv6 extension headers, no fragments).
fn locate(f: &[u8]) -> Option<L4> {
    let mut off = ETH_HLEN - 2;
    let mut et = u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]);
    while et == ethertype::VLAN || et == ethertype::QINQ {
        off += VLAN_HLEN;
        et = u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]);
    }
    let ip = f.get(off + 2..)?;
    let mut pseudo = Sum::default();
    let (proto, hlen, l4_len) = match et {
        ethertype::IPV4 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x3fff;
            if ip[0] >> 4 != 4 || ihl < 20 || frag != 0 || total < ihl || total > ip.len() {
                return None;
            }
            pseudo.add(ip.get(12..20)?);
            (ip[9], ihl, total - ihl)
        }
        ethertype::IPV6 => {
            let plen = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            if ip.first()? >> 4 != 6 || 40 + plen > ip.len() {
                return None;
            }
            pseudo.add(ip.get(8..40)?);
            (ip[6], 40, plen)
        }
        _ => return None,
    };
    let (field, udp) = match proto {
        6 if l4_len >= 20 => (16, false),
        17 if l4_len >= 8 => (6, true),
        _ => return None,
    };
    pseudo.add_u16(u16::from(proto));
    pseudo.add_u16(u16::try_from(l4_len).ok()?);
    let start = off + 2 + hlen;
    f.get(start..start + l4_len)?;
    Some(L4 {
        start,
        end: start + l4_len,
        field,
        pseudo,
        udp,
    })
}

/// If the TCP or UDP checksum of `frame` is partial (it holds the
/// pseudo-header's sum and does not verify), completes it and returns true.
/// A full checksum, right or wrong, is left as it is: a frame corrupted on
/// the way must still fail at its receiver.
pub fn complete_partial(frame: &mut [u8]) -> bool {
    let Some(l4) = locate(frame) else {
        return false;
    };
    let at = l4.start + l4.field;
    let field = u16::from_be_bytes([frame[at], frame[at + 1]]);
    // Cheap test first: a partial checksum equals the pseudo-header's sum.
    if field != l4.pseudo.folded() || (l4.udp && field == 0) {
        return false;
    }
    let end = l4.end;
    let mut s = l4.pseudo;
    s.add(&frame[l4.start..end]);
    if s.folded() == 0xffff {
        // It verifies as it stands: a full checksum that happens to equal
        // the pseudo-header's sum.
        return false;
    }
    frame[at..at + 2].fill(0);
    let mut s = l4.pseudo;
    s.add(&frame[l4.start..end]);
    let mut c = s.checksum();
    if l4.udp && c == 0 {
        // UDP sends a computed zero as all ones (RFC 768).
        c = 0xffff;
    }
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// Whether the TCP or UDP checksum of `frame` verifies (`None`: not a
/// TCP or UDP frame [`complete_partial`] would look at, or UDP without a
/// checksum).
pub fn verifies(frame: &[u8]) -> Option<bool> {
    let l4 = locate(frame)?;
    let at = l4.start + l4.field;
    if l4.udp && frame[at..at + 2] == [0, 0] {
        return None;
    }
    let mut s = l4.pseudo;
    s.add(&frame[l4.start..l4.end]);
    Some(s.folded() == 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Mac, Tag};

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let udp_len = 8 + payload.len();
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        ip.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        let c = checksum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&[0x30, 0x39, 0x13, 0x89]);
        ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(payload);
        build_frame(Mac::BROADCAST, Mac([2, 0, 0, 0, 0, 1]), &[], 0x0800, &ip)
    }

    fn ipv6_tcp(tags: &[Tag], payload: &[u8]) -> Vec<u8> {
        let tcp_len = 20 + payload.len();
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        ip.extend_from_slice(&[6, 64]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut tcp = vec![0u8; 20];
        tcp[12] = 5 << 4;
        tcp[13] = 0x18;
        ip.extend_from_slice(&tcp);
        ip.extend_from_slice(payload);
        build_frame(Mac::BROADCAST, Mac([2, 0, 0, 0, 0, 1]), tags, 0x86dd, &ip)
    }

    /// What a sender with checksum offload puts in the field.
    fn make_partial(f: &mut [u8]) -> usize {
        let l4 = locate(f).expect("tcp or udp");
        let at = l4.start + l4.field;
        f[at..at + 2].copy_from_slice(&l4.pseudo.folded().to_be_bytes());
        at
    }

    fn make_full(f: &mut [u8]) {
        let at = make_partial(f);
        f[at..at + 2].fill(0);
        let l4 = locate(f).expect("tcp or udp");
        let mut s = l4.pseudo;
        s.add(&f[l4.start..l4.end]);
        f[at..at + 2].copy_from_slice(&s.checksum().to_be_bytes());
        assert_eq!(verifies(f), Some(true));
    }

    #[test]
    fn a_partial_udp_checksum_is_completed() {
        let mut f = ipv4_udp(b"hello, patchbay!!");
        make_partial(&mut f);
        assert_eq!(verifies(&f), Some(false));
        assert!(complete_partial(&mut f));
        assert_eq!(verifies(&f), Some(true));
        // Cross-check with etherparse's own computation.
        let p = etherparse::SlicedPacket::from_ethernet(&f).expect("parses");
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
            panic!("ipv4")
        };
        let Some(etherparse::TransportSlice::Udp(u)) = p.transport else {
            panic!("udp")
        };
        let want = u
            .to_header()
            .calc_checksum_ipv4(&ip.header().to_header(), u.payload())
            .expect("computes");
        assert_eq!(u.checksum(), want);
    }

    #[test]
    fn a_partial_tcp_checksum_behind_two_tags_is_completed() {
        let tags = [
            Tag {
                tpid: 0x88a8,
                tci: 100,
            },
            Tag {
                tpid: 0x8100,
                tci: 7,
            },
        ];
        let mut f = ipv6_tcp(&tags, &[0xab; 1001]);
        make_partial(&mut f);
        assert!(complete_partial(&mut f));
        assert_eq!(verifies(&f), Some(true));
    }

    #[test]
    fn full_checksums_right_or_wrong_are_left_alone() {
        let mut f = ipv4_udp(b"complete");
        make_full(&mut f);
        let good = f.clone();
        assert!(!complete_partial(&mut f));
        assert_eq!(f, good);
        // Corrupt the payload: the frame must still fail at its receiver.
        let n = f.len();
        f[n - 1] ^= 0x40;
        let bad = f.clone();
        assert!(!complete_partial(&mut f));
        assert_eq!(f, bad);
        assert_eq!(verifies(&f), Some(false));
    }

    #[test]
    fn ethernet_padding_is_not_summed_and_odd_frames_are_ignored() {
        let mut f = ipv4_udp(b"x");
        make_partial(&mut f);
        f.extend_from_slice(&[0xee; 17]);
        assert!(complete_partial(&mut f));
        assert_eq!(verifies(&f), Some(true));
        // ARP, truncated and fragmented IPv4 are not touched.
        let mut arp = build_frame(
            Mac::BROADCAST,
            Mac([2, 0, 0, 0, 0, 1]),
            &[],
            0x0806,
            &[0; 28],
        );
        assert!(!complete_partial(&mut arp));
        let mut short = ipv4_udp(b"truncated");
        short.truncate(30);
        assert!(!complete_partial(&mut short));
        let mut frag = ipv4_udp(b"fragment");
        make_partial(&mut frag);
        frag[ETH_HLEN + 6] = 0x20; // more fragments
        assert!(!complete_partial(&mut frag));
    }

    #[test]
    fn the_wide_sum_matches_the_word_by_word_sum() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1499).collect();
        for len in [0, 1, 2, 7, 8, 9, 63, 64, 1499] {
            let mut wide = Sum::default();
            wide.add(&data[..len]);
            let mut narrow: u32 = 0;
            for c in data[..len].chunks(2) {
                narrow += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while narrow >> 16 != 0 {
                narrow = (narrow & 0xffff) + (narrow >> 16);
            }
            assert_eq!(wide.folded(), narrow as u16, "len {len}");
        }
    }
}
