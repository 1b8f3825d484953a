//! Software segmentation of TCP segmentation-offload frames (`skb_gso_segment`
//! for TCPv4 and TCPv6): what a NIC would do, for the places where no NIC
//! will (a frame about to be encapsulated in VXLAN). Each segment carries
//! at most `gso_size` bytes of payload, with the IP length, IPv4 id and
//! checksum, TCP sequence number, flags (FIN and PSH on the last segment
//! only, CWR on the first only) and a full TCP checksum.

use super::csum::{checksum, tcp_pseudo};
use super::{build_frame, ethertype, Frame};

/// Why a GSO frame cannot be segmented here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GsoError {
    #[error("not TCP segmentation offload (UDP or unknown GSO type)")]
    Unsupported,
    #[error("headers truncated or inconsistent")]
    Malformed,
}

/// The frames `frame` stands for, whole and checksummed.
pub fn segment(frame: &Frame<'_>) -> Result<Vec<Vec<u8>>, GsoError> {
    let o = frame.offload;
    let v6 = match o.gso_type & 0x7f {
        1 => false,
        4 => true,
        _ => return Err(GsoError::Unsupported),
    };
    let mss = usize::from(o.gso_size);
    let b = frame.body();
    let ip = b.get(2..).ok_or(GsoError::Malformed)?;
    let et = frame.ethertype();
    let ihl = match (v6, et) {
        (false, ethertype::IPV4) => usize::from(ip.first().ok_or(GsoError::Malformed)? & 0x0f) * 4,
        (true, ethertype::IPV6) if ip.get(6) == Some(&6) => 40,
        _ => return Err(GsoError::Malformed),
    };
    let tcp = ip.get(ihl..).ok_or(GsoError::Malformed)?;
    let thl = usize::from(tcp.get(12).ok_or(GsoError::Malformed)? >> 4) * 4;
    if mss == 0 || thl < 20 || tcp.len() < thl {
        return Err(GsoError::Malformed);
    }
    let payload = &tcp[thl..];
    let seq0 = u32::from_be_bytes(tcp[4..8].try_into().expect("4 bytes"));
    let n = payload.len().div_ceil(mss).max(1);
    let mut out = Vec::with_capacity(n);
    for (i, chunk) in payload.chunks(mss.max(1)).enumerate() {
        let last = i + 1 == n;
        let mut h = Vec::with_capacity(ihl + thl + chunk.len());
        h.extend_from_slice(&ip[..ihl]);
        h.extend_from_slice(&tcp[..thl]);
        h.extend_from_slice(chunk);
        let len = (ihl + thl + chunk.len()) as u16;
        if v6 {
            h[4..6].copy_from_slice(&((thl + chunk.len()) as u16).to_be_bytes());
        } else {
            h[2..4].copy_from_slice(&len.to_be_bytes());
            let id = u16::from_be_bytes([ip[4], ip[5]]).wrapping_add(i as u16);
            h[4..6].copy_from_slice(&id.to_be_bytes());
            h[10..12].copy_from_slice(&[0, 0]);
            let c = checksum(&[&h[..ihl]]);
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let t = ihl;
        let seq = seq0.wrapping_add((i * mss) as u32);
        h[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = h[t + 13];
        if !last {
            flags &= !(0x01 | 0x08); // FIN, PSH
        }
        if i > 0 {
            flags &= !0x80; // CWR
        }
        h[t + 13] = flags;
        h[t + 16..t + 18].copy_from_slice(&[0, 0]);
        let mut s = tcp_pseudo(v6, &h, thl + chunk.len());
        s.add(&h[t..]);
        h[t + 16..t + 18].copy_from_slice(&s.checksum().to_be_bytes());
        out.push(build_frame(frame.dst(), frame.src(), frame.tags(), et, &h));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Mac, Offload};
    use etherparse::{SlicedPacket, TransportSlice};

    #[test]
    fn a_tso_frame_becomes_checksummed_mss_sized_segments() {
        // 3000 bytes of payload, mss 1400: 1400 + 1400 + 200.
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let b = etherparse::PacketBuilder::ethernet2(Mac::local(1).0, Mac::local(2).0)
            .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .tcp(40000, 5001, 1000, 64240)
            .psh()
            .ack(7);
        let mut f = Vec::new();
        b.write(&mut f, &payload).unwrap();
        let off = Offload {
            flags: Offload::NEEDS_CSUM,
            gso_type: 1,
            hdr_len: 54,
            gso_size: 1400,
            csum_start: 34,
            csum_offset: 16,
        };
        let frame = Frame::parse(&f, None, off).unwrap();
        let segs = segment(&frame).unwrap();
        assert_eq!(segs.len(), 3);
        let mut got = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let p = SlicedPacket::from_ethernet(s).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
                panic!("IPv4")
            };
            let Some(TransportSlice::Tcp(t)) = &p.transport else {
                panic!("TCP")
            };
            let iph = ip.header().to_header();
            assert_eq!(iph.header_checksum, iph.calc_header_checksum());
            assert_eq!(t.sequence_number(), 1000 + 1400 * i as u32);
            assert_eq!(t.psh(), i == 2, "PSH on the last segment only");
            let th = t.to_header();
            assert_eq!(
                th.calc_checksum_ipv4(&iph, t.payload()).unwrap(),
                th.checksum
            );
            got.extend_from_slice(t.payload());
        }
        assert_eq!(got, payload);
        // UDP GSO is not segmented here.
        let udp = Frame::parse(&f, None, Offload { gso_type: 3, ..off }).unwrap();
        assert_eq!(segment(&udp), Err(GsoError::Unsupported));
    }
}
