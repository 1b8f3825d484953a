//! The loadbalance and lacp runners' transmit hash: what teamd's BPF
//! program (`teamd_bpf_chef.c`, built from `runner.tx_hash`) computes,
//! folded to a byte as the kernel's `lb_get_skb_hash`.
//!
//! The program XORs 32- and 16-bit loads of the fields the recipe names;
//! a load past the end of the frame aborts it with 0. A VLAN tag the frame
//! carries in metadata (as from a VLAN device on the team) is hashed whole
//! (`SKF_AD_VLAN_TAG`); a tag inline in the data by its VID. teamd's IPv6
//! L4 step loads both ports but keeps only the destination port (its second
//! load overwrites the first); so does this.

use crate::wire::{ethertype, Frame};

/// Which parts of a frame the recipe hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recipe {
    pub eth: bool,
    pub vlan: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub tcp: bool,
    pub udp: bool,
    pub sctp: bool,
}

impl Recipe {
    pub fn new(frags: &[&str]) -> Recipe {
        let mut r = Recipe::default();
        for f in frags {
            match *f {
                "eth" => r.eth = true,
                "vlan" => r.vlan = true,
                "ipv4" => r.ipv4 = true,
                "ipv6" => r.ipv6 = true,
                "ip" | "l3" => (r.ipv4, r.ipv6) = (true, true),
                "l4" => (r.tcp, r.udp, r.sctp) = (true, true, true),
                "tcp" => r.tcp = true,
                "udp" => r.udp = true,
                "sctp" => r.sctp = true,
                _ => {}
            }
        }
        r
    }
    fn l4(self) -> bool {
        self.tcp || self.udp || self.sctp
    }
    fn l3l4(self) -> bool {
        self.ipv4 || self.ipv6 || self.l4()
    }
    fn proto(self, p: u8) -> bool {
        (p == 6 && self.tcp) || (p == 17 && self.udp) || (p == 132 && self.sctp)
    }
}

/// The frame as the BPF program reads it: the addresses, inner tags after
/// the first inline, then the payload from its ethertype.
struct View<'a> {
    head: [u8; 12 + 16],
    head_len: usize,
    body: &'a [u8],
}

impl View<'_> {
    fn byte(&self, o: usize) -> Option<u32> {
        if o < self.head_len {
            Some(u32::from(self.head[o]))
        } else {
            self.body.get(o - self.head_len).map(|b| u32::from(*b))
        }
    }
    fn half(&self, o: usize) -> Option<u32> {
        if let Some(b) = o
            .checked_sub(self.head_len)
            .and_then(|i| self.body.get(i..i + 2))
        {
            return Some(u32::from(u16::from_be_bytes([b[0], b[1]])));
        }
        Some((self.byte(o)? << 8) | self.byte(o + 1)?)
    }
    fn word(&self, o: usize) -> Option<u32> {
        if let Some(b) = o
            .checked_sub(self.head_len)
            .and_then(|i| self.body.get(i..i + 4))
        {
            return Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        }
        if o + 4 <= self.head_len {
            let h = &self.head[o..o + 4];
            return Some(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        }
        Some((self.half(o)? << 16) | self.half(o + 2)?)
    }
}

fn run(v: &View<'_>, offloaded_tci: Option<u16>, r: Recipe) -> Option<u32> {
    let mut x = 0u32;
    if r.eth {
        x ^= v.word(2)? ^ v.half(0)? ^ v.word(8)? ^ v.half(6)?;
    }
    if !r.vlan && !r.l3l4() {
        return Some(x);
    }
    let et = v.half(12)?;
    // The VLAN branch shifts every offset by the inline tag.
    let (s, et) = if et == u32::from(ethertype::VLAN) {
        if r.vlan {
            x ^= v.half(14)? & 0x0fff;
        }
        if !r.l3l4() {
            return Some(x);
        }
        (4, v.half(16)?)
    } else {
        if r.vlan {
            if let Some(tci) = offloaded_tci {
                x ^= u32::from(tci);
            }
        }
        if !r.l3l4() {
            return Some(x);
        }
        (0, et)
    };
    if et == u32::from(ethertype::IPV4) {
        if r.ipv4 {
            x ^= v.word(26 + s)? ^ v.word(30 + s)?;
        }
        if !r.l4() || v.half(20 + s)? & 0x1fff != 0 {
            return Some(x);
        }
        let proto = v.byte(23 + s)? as u8;
        if r.proto(proto) {
            let ihl = (v.byte(14 + s)? as usize & 0x0f) * 4;
            x ^= v.half(ihl + 14 + s)? ^ v.half(ihl + 16 + s)?;
        }
        return Some(x);
    }
    if et == u32::from(ethertype::IPV6) {
        if r.ipv6 {
            for o in (22..54).step_by(4) {
                x ^= v.word(o + s)?;
            }
        }
        if r.l4() && r.proto(v.byte(20 + s)? as u8) {
            x ^= v.half(56 + s)?;
        }
    }
    Some(x)
}

/// The hash byte of a frame the team sends.
pub fn tx_hash(frame: &Frame<'_>, r: Recipe) -> u8 {
    let tags = frame.tags();
    let mut head = [0u8; 28];
    head[..6].copy_from_slice(&frame.dst().0);
    head[6..12].copy_from_slice(&frame.src().0);
    let mut n = 12;
    for t in tags.iter().skip(1).take(4) {
        head[n..n + 2].copy_from_slice(&t.tpid.to_be_bytes());
        head[n + 2..n + 4].copy_from_slice(&t.tci.to_be_bytes());
        n += 4;
    }
    let v = View {
        head,
        head_len: n,
        body: frame.body(),
    };
    let h = run(&v, tags.first().map(|t| t.tci), r).unwrap_or(0);
    let b = h.to_be_bytes();
    b[0] ^ b[1] ^ b[2] ^ b[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Mac, Offload, Tag};

    fn udp4(sport: u16, dport: u16) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&[0, 8, 0, 0]);
        ip
    }

    const A: Mac = Mac([0x02, 0, 0, 0, 0, 0x01]);
    const B: Mac = Mac([0x02, 0, 0, 0, 0, 0x02]);

    #[test]
    fn eth_hashes_both_addresses_folded_to_a_byte() {
        let f = build_frame(B, A, &[], ethertype::IPV4, &udp4(1000, 2000));
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        // Words: dst[2..6]=0x00000002, dst[0..2]=0x0200, src[2..6]=0x00000001,
        // src[0..2]=0x0200: XOR 0x00000003, folded 0x03.
        assert_eq!(tx_hash(&frame, Recipe::new(&["eth"])), 0x03);
        // ipv4 adds 198.18.0.1 ^ 198.18.0.2 = 0x00000003: 0.
        assert_eq!(tx_hash(&frame, Recipe::new(&["eth", "ipv4"])), 0x00);
        assert_eq!(tx_hash(&frame, Recipe::new(&["ipv4"])), 0x03);
        // l4: ports 1000 ^ 2000 = 0x03e8 ^ 0x07d0 = 0x0438: 0x04 ^ 0x38 = 0x3c.
        assert_eq!(tx_hash(&frame, Recipe::new(&["l4"])), 0x3c);
        assert_eq!(tx_hash(&frame, Recipe::new(&["tcp"])), 0x00, "not TCP");
        assert_eq!(tx_hash(&frame, Recipe::new(&["udp", "ipv4"])), 0x3c ^ 0x03);
    }

    #[test]
    fn an_offloaded_tag_is_hashed_whole_and_fragments_skip_ports() {
        let f = build_frame(
            B,
            A,
            &[Tag::new(ethertype::VLAN, 5, 3)],
            ethertype::IPV4,
            &udp4(1000, 2000),
        );
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        // TCI 0x6005: 0x60 ^ 0x05 = 0x65.
        assert_eq!(tx_hash(&frame, Recipe::new(&["vlan"])), 0x65);
        assert_eq!(tx_hash(&frame, Recipe::new(&["vlan", "l4"])), 0x65 ^ 0x3c);
        // A first fragment (offset 0, more fragments) has its ports
        // hashed; a later one (offset 8) not: teamd tests the offset bits.
        let mut ip = udp4(1000, 2000);
        ip[6] = 0x20;
        let f = build_frame(B, A, &[], ethertype::IPV4, &ip);
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(tx_hash(&frame, Recipe::new(&["l4"])), 0x3c);
        ip[7] = 1;
        let f = build_frame(B, A, &[], ethertype::IPV4, &ip);
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(tx_hash(&frame, Recipe::new(&["l4"])), 0);
    }

    #[test]
    fn ipv6_l4_keeps_only_the_destination_port_as_teamd() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        let mut src = [0u8; 16];
        src[0] = 0xfd;
        src[15] = 1;
        let mut dst = src;
        dst[15] = 2;
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&[0x12, 0x34, 0x00, 0x50, 0, 8, 0, 0]);
        let f = build_frame(B, A, &[], ethertype::IPV6, &ip);
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        // Addresses: only the last words differ, 1 ^ 2 = 3.
        assert_eq!(tx_hash(&frame, Recipe::new(&["ipv6"])), 0x03);
        // Destination port 80 only (0x50), not 0x1234.
        assert_eq!(tx_hash(&frame, Recipe::new(&["l4"])), 0x50);
        // A short frame aborts the program: 0.
        let f = build_frame(B, A, &[], ethertype::IPV6, &ip[..30]);
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(tx_hash(&frame, Recipe::new(&["ipv6"])), 0);
    }
}
