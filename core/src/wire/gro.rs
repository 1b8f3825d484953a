//! Receive coalescing of TCP segments (`tcp_gro_receive`'s rules for
//! TCPv4 and TCPv6): a run of one flow's segments in order becomes one
//! segmentation-offload frame, the inverse of [`super::gso::segment`].
//! The VXLAN underlay hands a run of datagrams that arrived together (a
//! TSO packet segmented by the sender); one frame with an offload header
//! then crosses the bridge and leaves a port that takes it whole.
//!
//! A segment joins the run only when the kernel's GRO would merge it: the
//! same Ethernet header, addresses, ports, IPv4 TOS/TTL/DF (IPv6 traffic
//! class, flow label and hop limit), acknowledgement, window and TCP
//! options; its sequence number where the previous one ended; every
//! segment but the last of the first one's size; no SYN, RST or URG, CWR
//! only on the first, PSH or FIN only on the last; a valid IPv4 header
//! checksum and TCP checksum (a corrupt segment is never hidden inside a
//! frame whose checksum the receiver will not check).

use super::csum::{tcp_pseudo, Sum};
use super::{ethertype, Offload};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const URG: u8 = 0x20;
const CWR: u8 = 0x80;

/// One segment, read.
#[derive(Clone, Copy)]
struct Seg<'a> {
    frame: &'a [u8],
    /// IP header length (20 for IPv4 without options, 40 for IPv6).
    ihl: usize,
    /// TCP header length.
    thl: usize,
    v6: bool,
    seq: u32,
    flags: u8,
    payload: &'a [u8],
}

fn tcp_sum(v6: bool, ip: &[u8], l4: &[u8]) -> Sum {
    tcp_pseudo(v6, ip, l4.len())
}

/// Reads an untagged IPv4 (no options, not a fragment) or IPv6 (no
/// extension header) TCP segment with payload and valid checksums.
fn read(frame: &[u8]) -> Option<Seg<'_>> {
    let et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let ip = frame.get(14..)?;
    let (v6, ihl, ip_len) = match et {
        ethertype::IPV4 => {
            if ip.first()? != &0x45 || ip.get(9)? != &6 {
                return None;
            }
            // MF or a fragment offset: not for GRO.
            if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return None;
            }
            let mut s = Sum::default();
            s.add(&ip[..20]);
            if s.folded() != 0xffff {
                return None;
            }
            (false, 20, usize::from(u16::from_be_bytes([ip[2], ip[3]])))
        }
        ethertype::IPV6 => {
            if ip.len() < 40 || ip[0] >> 4 != 6 || ip[6] != 6 {
                return None;
            }
            (
                true,
                40,
                40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])),
            )
        }
        _ => return None,
    };
    let ip = ip.get(..ip_len)?;
    let tcp = ip.get(ihl..)?;
    let thl = usize::from(tcp.get(12)? >> 4) * 4;
    if thl < 20 || tcp.len() <= thl {
        return None;
    }
    let mut s = tcp_sum(v6, ip, tcp);
    s.add(tcp);
    if s.folded() != 0xffff {
        return None;
    }
    Some(Seg {
        frame: &frame[..14 + ip_len],
        ihl,
        thl,
        v6,
        seq: u32::from_be_bytes(tcp[4..8].try_into().ok()?),
        flags: tcp[13],
        payload: &tcp[thl..],
    })
}

/// Whether `b` may follow `a` in a run whose first segment is `f`.
fn follows(f: &Seg<'_>, a: &Seg<'_>, b: &Seg<'_>) -> bool {
    let (fi, bi) = (&f.frame[14..], &b.frame[14..]);
    let (ft, bt) = (&fi[f.ihl..], &bi[b.ihl..]);
    let same_ip = if f.v6 {
        b.v6 && fi[..4] == bi[..4] && fi[7..40] == bi[7..40]
    } else {
        !b.v6
            && fi[1] == bi[1]
            && fi[6] & 0x40 == bi[6] & 0x40
            && fi[8..10] == bi[8..10]
            && fi[12..20] == bi[12..20]
    };
    same_ip
        && f.frame[..14] == b.frame[..14]
        && f.thl == b.thl
        && ft[..4] == bt[..4]
        // Acknowledgement, data offset, window, and every option.
        && ft[8..12] == bt[8..12]
        && ft[12] == bt[12]
        && ft[14..16] == bt[14..16]
        && ft[20..f.thl] == bt[20..b.thl]
        && b.seq == a.seq.wrapping_add(a.payload.len() as u32)
        && b.flags & (SYN | RST | URG | CWR) == 0
        && a.flags & (PSH | FIN) == 0
        && (b.flags ^ f.flags) & !(PSH | FIN | CWR) == 0
        && a.payload.len() == f.payload.len()
        && b.payload.len() <= f.payload.len()
}

/// Coalesces the longest run at the start of `segs` (two or more
/// segments): the frame with the first segment's headers and every
/// payload, its IP length, IPv4 header checksum and TCP flags (PSH and FIN
/// of the last) set, the TCP checksum left partial (the pseudo-header sum,
/// `NEEDS_CSUM`), and how many segments it took. `None` when the first
/// two do not coalesce.
pub fn coalesce(segs: &[&[u8]]) -> Option<(Vec<u8>, Offload, usize)> {
    let first = read(segs.first()?)?;
    if first.flags & (SYN | RST | URG) != 0 || first.payload.is_empty() {
        return None;
    }
    let head = 14 + first.ihl + first.thl;
    let mut payloads: smallvec::SmallVec<[&[u8]; 64]> = smallvec::smallvec![first.payload];
    let mut total = first.payload.len();
    let mut last = first.flags;
    let mut prev = first;
    for s in &segs[1..] {
        let Some(b) = read(s) else { break };
        if !follows(&first, &prev, &b) || head + total + b.payload.len() > 65_535 {
            break;
        }
        total += b.payload.len();
        last = b.flags;
        payloads.push(b.payload);
        prev = b;
    }
    let n = payloads.len();
    if n < 2 {
        return None;
    }
    let mut f = Vec::with_capacity(head + total);
    f.extend_from_slice(&first.frame[..head]);
    for p in &payloads {
        f.extend_from_slice(p);
    }
    let l4_len = first.thl + total;
    let t = 14 + first.ihl;
    if first.v6 {
        f[18..20].copy_from_slice(&(l4_len as u16).to_be_bytes());
    } else {
        f[16..18].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let mut s = Sum::default();
        s.add(&f[14..34]);
        f[24..26].copy_from_slice(&s.checksum().to_be_bytes());
    }
    f[t + 13] = (first.flags & !(PSH | FIN)) | (last & (PSH | FIN));
    let pseudo = tcp_sum(first.v6, &f[14..t], &f[t..]).folded();
    f[t + 16..t + 18].copy_from_slice(&pseudo.to_be_bytes());
    let off = Offload {
        flags: Offload::NEEDS_CSUM,
        gso_type: if first.v6 { 4 } else { 1 },
        hdr_len: head as u16,
        gso_size: first.payload.len() as u16,
        csum_start: t as u16,
        csum_offset: 16,
    };
    Some((f, off, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{gso, Frame, Mac};

    fn tso(payload_len: usize, v6: bool) -> (Vec<u8>, Offload) {
        let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7) as u8).collect();
        let b = etherparse::PacketBuilder::ethernet2(Mac::local(1).0, Mac::local(2).0);
        let b = if v6 {
            b.ipv6([0xfd; 16], [0xfe; 16], 64)
        } else {
            b.ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        };
        let b = b.tcp(40000, 5001, 1000, 64240).psh().ack(7);
        let mut f = Vec::new();
        b.write(&mut f, &payload).unwrap();
        let ihl = if v6 { 40 } else { 20 };
        let off = Offload {
            flags: Offload::NEEDS_CSUM,
            gso_type: if v6 { 4 } else { 1 },
            hdr_len: (14 + ihl + 20) as u16,
            gso_size: 1400,
            csum_start: (14 + ihl) as u16,
            csum_offset: 16,
        };
        (f, off)
    }

    /// Segmenting a TSO frame and coalescing the segments gives it back:
    /// the same bytes once the checksum is completed, the same offload.
    #[test]
    fn coalescing_undoes_segmentation() {
        for v6 in [false, true] {
            let (f, off) = tso(4000, v6);
            let segs = gso::segment(&Frame::parse(&f, None, off).unwrap()).unwrap();
            let refs: Vec<&[u8]> = segs.iter().map(Vec::as_slice).collect();
            let (mut m, o, n) = coalesce(&refs).unwrap();
            assert_eq!(n, 3);
            assert_eq!(
                (o.gso_type, o.gso_size, o.csum_start, o.hdr_len),
                (off.gso_type, 1400, off.csum_start, off.hdr_len)
            );
            // Complete the partial checksum as a NIC would.
            let t = usize::from(o.csum_start);
            let mut s = Sum::default();
            s.add(&m[t..]);
            m[t + 16..t + 18].copy_from_slice(&s.checksum().to_be_bytes());
            let mut want = f.clone();
            if !v6 {
                // segment() numbered the IPv4 ids; the run keeps the first.
                assert_eq!(m[18..20], want[18..20]);
            }
            want[t + 16..t + 18].copy_from_slice(&m[t + 16..t + 18]);
            assert_eq!(m, want, "v6 {v6}");
            // And it segments again into the same frames.
            let again = gso::segment(&Frame::parse(&m, None, o).unwrap()).unwrap();
            assert_eq!(again, segs);
        }
    }

    /// What the kernel's GRO would not merge stays apart.
    #[test]
    fn a_gap_a_corrupt_segment_or_another_flow_ends_the_run() {
        let (f, off) = tso(5600, false);
        let segs = gso::segment(&Frame::parse(&f, None, off).unwrap()).unwrap();
        fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
            v.iter().map(Vec::as_slice).collect()
        }
        // A missing segment: the run is the two before the gap.
        let gap = vec![segs[0].clone(), segs[1].clone(), segs[3].clone()];
        assert_eq!(coalesce(&refs(&gap)).unwrap().2, 2);
        // A corrupt third segment (payload byte flipped).
        let mut bad = segs.clone();
        let l = bad[2].len();
        bad[2][l - 1] ^= 0xff;
        assert_eq!(coalesce(&refs(&bad)).unwrap().2, 2);
        // A corrupt first one: nothing.
        let mut bad = segs.clone();
        bad[0][60] ^= 1;
        assert!(coalesce(&refs(&bad)).is_none());
        // Another flow's segment second: nothing.
        let (g, goff) = tso(2800, true);
        let other = gso::segment(&Frame::parse(&g, None, goff).unwrap()).unwrap();
        let mixed = vec![segs[0].clone(), other[0].clone()];
        assert!(coalesce(&refs(&mixed)).is_none());
        // PSH on the first (segment() puts it on the last only): the run
        // ends with it.
        let mut psh = segs.clone();
        psh[0][14 + 20 + 13] |= PSH;
        let t = 14 + 20;
        psh[0][t + 16..t + 18].copy_from_slice(&[0, 0]);
        let ip = psh[0][14..t].to_vec();
        let mut s = tcp_sum(false, &ip, &psh[0][t..]);
        s.add(&psh[0][t..]);
        let c = s.checksum();
        psh[0][t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        assert!(coalesce(&refs(&psh)).is_none());
    }
}
