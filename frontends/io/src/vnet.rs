//! `struct virtio_net_hdr`: the checksum and segmentation metadata that
//! AF_PACKET (PACKET_VNET_HDR) and TAP (IFF_VNET_HDR) put in front of each
//! frame. Carrying it is what lets TCP with the default veth offloads (TSO,
//! checksum offload) cross patchbay: a 64 KiB segment and its partial
//! checksum go through as they are, and the kernel segments on the far side.

use patchbay_core::wire::Offload;

/// Length of the header (no `num_buffers`).
pub const LEN: usize = 10;

pub fn decode(b: &[u8]) -> Offload {
    let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    Offload {
        flags: b[0],
        gso_type: b[1],
        hdr_len: u(2),
        gso_size: u(4),
        csum_start: u(6),
        csum_offset: u(8),
    }
}

pub fn encode(o: &Offload) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0] = o.flags;
    b[1] = o.gso_type;
    b[2..4].copy_from_slice(&o.hdr_len.to_le_bytes());
    b[4..6].copy_from_slice(&o.gso_size.to_le_bytes());
    b[6..8].copy_from_slice(&o.csum_start.to_le_bytes());
    b[8..10].copy_from_slice(&o.csum_offset.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_little_endian() {
        let o = Offload {
            flags: 1,
            gso_type: 4,
            hdr_len: 86,
            gso_size: 1428,
            csum_start: 54,
            csum_offset: 16,
        };
        let b = encode(&o);
        assert_eq!(&b[..4], &[1, 4, 86, 0]);
        assert_eq!(decode(&b), o);
    }
}
