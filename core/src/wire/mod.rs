//! Frames on the wire: Ethernet, 802.1Q and 802.1ad tags, offload metadata.
//!
//! What may panic: nothing. [`Frame::parse`] checks lengths once and every
//! accessor after it works on what was checked. Headers are read with
//! etherparse; this module adds what etherparse does not model: a frame as a
//! pair of MACs, a small stack of tags that devices push and pop without
//! moving the payload, and the checksum/GSO metadata that rides along with it.

pub mod bpdu;
pub mod csum;
pub mod gro;
pub mod gso;
pub mod host;
pub mod igmp;
pub mod lacp;
mod mac;
pub mod mcast;
pub mod mld;
pub mod vxlan;

pub use mac::{Mac, ParseMacError};

use crate::counters::DropReason;
use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

/// Bytes of an Ethernet header without tags.
pub const ETH_HLEN: usize = 14;
/// Bytes of one VLAN tag.
pub const VLAN_HLEN: usize = 4;
/// Tags the frame view keeps apart from the payload (QinQ). Deeper tags stay
/// in the body, untouched.
pub const MAX_TAGS: usize = 2;

pub mod ethertype {
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const ARP: u16 = 0x0806;
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
}

/// The tag protocol of a VLAN device or of a VLAN-filtering bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VlanProtocol {
    #[default]
    Dot1Q,
    Dot1AD,
}

impl VlanProtocol {
    pub fn tpid(self) -> u16 {
        match self {
            VlanProtocol::Dot1Q => ethertype::VLAN,
            VlanProtocol::Dot1AD => ethertype::QINQ,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VlanProtocol::Dot1Q => "802.1Q",
            VlanProtocol::Dot1AD => "802.1ad",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "802.1q" => Some(VlanProtocol::Dot1Q),
            "802.1ad" => Some(VlanProtocol::Dot1AD),
            _ => None,
        }
    }
}

/// One VLAN tag: TPID and TCI (PCP 15–13, DEI 12, VID 11–0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tag {
    pub tpid: u16,
    pub tci: u16,
}

impl Tag {
    pub fn new(tpid: u16, vid: u16, pcp: u8) -> Self {
        Tag {
            tpid,
            tci: (u16::from(pcp & 7) << 13) | (vid & 0x0fff),
        }
    }
    pub fn vid(self) -> u16 {
        self.tci & 0x0fff
    }
    pub fn pcp(self) -> u8 {
        (self.tci >> 13) as u8
    }
}

/// Checksum and segmentation metadata (the fields of `virtio_net_hdr`).
///
/// `csum_start` and `hdr_len` are kept relative to the frame's *body* (the
/// EtherType after the tags), so pushing or popping a tag never invalidates
/// them; [`Frame::emit`] turns them back into offsets from the frame start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Offload {
    /// `VIRTIO_NET_HDR_F_*`: bit 0 = checksum needed, bit 1 = data valid.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`: 0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 0x80 ECN.
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl Offload {
    pub const NEEDS_CSUM: u8 = 1;
    pub const NONE: Offload = Offload {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    pub fn is_gso(&self) -> bool {
        self.gso_type & 0x7f != 0
    }

    /// Rebases offsets from the frame start to the body start.
    fn relative_to_body(mut self, body_off: usize) -> Option<Self> {
        let b = body_off as u16;
        if self.flags & Self::NEEDS_CSUM != 0 {
            self.csum_start = self.csum_start.checked_sub(b)?;
        }
        if self.is_gso() {
            self.hdr_len = self.hdr_len.saturating_sub(b);
        }
        Some(self)
    }

    fn relative_to_frame(mut self, body_off: usize) -> Self {
        let b = body_off as u16;
        if self.flags & Self::NEEDS_CSUM != 0 {
            self.csum_start += b;
        }
        if self.is_gso() {
            self.hdr_len += b;
        }
        self
    }
}

/// A frame in flight through the interface graph: MACs and tags held apart
/// from the body, which stays where the attachment received it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    macs: [u8; 12],
    tags: [Tag; MAX_TAGS],
    ntags: u8,
    body: &'a [u8],
    pub offload: Offload,
}

impl<'a> Frame<'a> {
    /// Checks and splits a received frame. `stripped` is a tag that the
    /// kernel took off into metadata (PACKET_AUXDATA); it becomes the outer
    /// tag again. `offload` offsets are relative to `data` as received.
    pub fn parse(
        data: &'a [u8],
        stripped: Option<Tag>,
        offload: Offload,
    ) -> Result<Frame<'a>, DropReason> {
        let eth = Ethernet2HeaderSlice::from_slice(data).map_err(|_| DropReason::Runt)?;
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&eth.destination());
        macs[6..].copy_from_slice(&eth.source());
        let mut f = Frame {
            macs,
            tags: [Tag::default(); MAX_TAGS],
            ntags: 0,
            body: &[],
            offload: Offload::NONE,
        };
        if let Some(t) = stripped {
            f.tags[0] = t;
            f.ntags = 1;
        }
        let mut pos = 12;
        let mut ethertype = eth.ether_type().0;
        while (f.ntags as usize) < MAX_TAGS
            && (ethertype == ethertype::VLAN || ethertype == ethertype::QINQ)
        {
            let tag = SingleVlanHeaderSlice::from_slice(&data[pos + 2..])
                .map_err(|_| DropReason::TruncatedTag)?;
            f.tags[f.ntags as usize] = Tag {
                tpid: ethertype,
                tci: u16::from_be_bytes([data[pos + 2], data[pos + 3]]),
            };
            f.ntags += 1;
            ethertype = tag.ether_type().0;
            pos += VLAN_HLEN;
        }
        f.body = &data[pos..];
        f.offload = offload
            .relative_to_body(pos)
            .ok_or(DropReason::BadOffload)?;
        Ok(f)
    }

    pub fn dst(&self) -> Mac {
        Mac(self.macs[..6].try_into().expect("6 bytes"))
    }

    pub fn src(&self) -> Mac {
        Mac(self.macs[6..].try_into().expect("6 bytes"))
    }

    pub fn set_src(&mut self, mac: Mac) {
        self.macs[6..].copy_from_slice(&mac.0);
    }

    pub fn set_dst(&mut self, mac: Mac) {
        self.macs[..6].copy_from_slice(&mac.0);
    }

    /// The EtherType after the tags the view holds.
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.body[0], self.body[1]])
    }

    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    pub fn tags(&self) -> &[Tag] {
        &self.tags[..self.ntags as usize]
    }

    pub fn outer_tag(&self) -> Option<Tag> {
        (self.ntags > 0).then(|| self.tags[0])
    }

    pub fn pop_tag(&mut self) -> Option<Tag> {
        if self.ntags == 0 {
            return None;
        }
        let t = self.tags[0];
        self.tags.copy_within(1.., 0);
        self.ntags -= 1;
        Some(t)
    }

    /// Pushes an outer tag. With the view full, the innermost held tag is
    /// not representable, so the push is refused (the caller counts it).
    pub fn push_tag(&mut self, tag: Tag) -> bool {
        if self.ntags as usize == MAX_TAGS {
            return false;
        }
        self.tags.copy_within(..MAX_TAGS - 1, 1);
        self.tags[0] = tag;
        self.ntags += 1;
        true
    }

    /// Length on the wire.
    pub fn len(&self) -> usize {
        12 + VLAN_HLEN * self.ntags as usize + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Length of the headers in front of the body.
    pub fn header_len(&self) -> usize {
        12 + VLAN_HLEN * self.ntags as usize
    }

    /// Appends the frame to `out` and returns its offload metadata with
    /// offsets from the frame start.
    pub fn emit(&self, out: &mut Vec<u8>) -> Offload {
        out.extend_from_slice(&self.macs);
        for t in self.tags() {
            out.extend_from_slice(&t.tpid.to_be_bytes());
            out.extend_from_slice(&t.tci.to_be_bytes());
        }
        out.extend_from_slice(self.body);
        self.offload.relative_to_frame(self.header_len())
    }

    /// The frame as one contiguous buffer (tests and tools; allocates).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.emit(&mut v);
        v
    }
}

/// Builds an Ethernet frame (tests, the simulator and the demo use it).
pub fn build_frame(dst: Mac, src: Mac, tags: &[Tag], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    v.extend_from_slice(&dst.0);
    v.extend_from_slice(&src.0);
    for t in tags {
        v.extend_from_slice(&t.tpid.to_be_bytes());
        v.extend_from_slice(&t.tci.to_be_bytes());
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([2, 0, 0, 0, 0, 1]);
    const B: Mac = Mac([2, 0, 0, 0, 0, 2]);

    #[test]
    fn untagged_round_trips() {
        let raw = build_frame(B, A, &[], ethertype::IPV4, &[1, 2, 3, 4]);
        let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert_eq!(f.dst(), B);
        assert_eq!(f.src(), A);
        assert!(f.tags().is_empty());
        assert_eq!(f.ethertype(), ethertype::IPV4);
        assert_eq!(f.to_vec(), raw);
        assert_eq!(f.len(), raw.len());
    }

    #[test]
    fn qinq_tags_are_split_in_order() {
        let outer = Tag::new(ethertype::QINQ, 100, 3);
        let inner = Tag::new(ethertype::VLAN, 20, 0);
        let raw = build_frame(B, A, &[outer, inner], ethertype::ARP, &[9; 28]);
        let mut f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert_eq!(f.tags(), &[outer, inner]);
        assert_eq!(f.outer_tag().unwrap().vid(), 100);
        assert_eq!(f.outer_tag().unwrap().pcp(), 3);
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.to_vec(), raw);
        assert_eq!(f.pop_tag(), Some(outer));
        assert_eq!(
            f.to_vec(),
            build_frame(B, A, &[inner], ethertype::ARP, &[9; 28])
        );
    }

    #[test]
    fn a_third_tag_stays_in_the_body() {
        let t = |v| Tag::new(ethertype::VLAN, v, 0);
        let raw = build_frame(B, A, &[t(1), t(2), t(3)], ethertype::IPV4, &[0; 4]);
        let f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert_eq!(f.tags().len(), 2);
        assert_eq!(f.ethertype(), ethertype::VLAN);
        assert_eq!(f.to_vec(), raw);
    }

    #[test]
    fn stripped_tag_comes_back_outermost() {
        let raw = build_frame(B, A, &[], ethertype::IPV4, &[0; 46]);
        let tag = Tag::new(ethertype::VLAN, 7, 0);
        let f = Frame::parse(&raw, Some(tag), Offload::NONE).unwrap();
        assert_eq!(
            f.to_vec(),
            build_frame(B, A, &[tag], ethertype::IPV4, &[0; 46])
        );
    }

    #[test]
    fn push_tag_and_full_view() {
        let raw = build_frame(B, A, &[], ethertype::IPV4, &[0; 4]);
        let mut f = Frame::parse(&raw, None, Offload::NONE).unwrap();
        assert!(f.push_tag(Tag::new(ethertype::VLAN, 5, 0)));
        assert!(f.push_tag(Tag::new(ethertype::QINQ, 6, 0)));
        assert!(!f.push_tag(Tag::new(ethertype::QINQ, 7, 0)));
        assert_eq!(f.tags()[0].vid(), 6);
        assert_eq!(f.tags()[1].vid(), 5);
    }

    #[test]
    fn malformed_frames_are_named() {
        assert_eq!(
            Frame::parse(&[0; 13], None, Offload::NONE).unwrap_err(),
            DropReason::Runt
        );
        let mut raw = build_frame(B, A, &[], ethertype::VLAN, &[]);
        raw.push(0);
        assert_eq!(
            Frame::parse(&raw, None, Offload::NONE).unwrap_err(),
            DropReason::TruncatedTag
        );
        let raw = build_frame(B, A, &[], ethertype::IPV4, &[0; 40]);
        let bad = Offload {
            flags: Offload::NEEDS_CSUM,
            csum_start: 4,
            ..Offload::NONE
        };
        assert_eq!(
            Frame::parse(&raw, None, bad).unwrap_err(),
            DropReason::BadOffload
        );
    }

    #[test]
    fn offload_offsets_follow_tags() {
        let raw = build_frame(B, A, &[], ethertype::IPV4, &[0; 60]);
        let off = Offload {
            flags: Offload::NEEDS_CSUM,
            gso_type: 1,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut f = Frame::parse(&raw, None, off).unwrap();
        f.push_tag(Tag::new(ethertype::VLAN, 10, 0));
        let mut out = Vec::new();
        let o = f.emit(&mut out);
        assert_eq!(o.csum_start, 38);
        assert_eq!(o.hdr_len, 58);
        let g = Frame::parse(&out, None, o).unwrap();
        let mut back = g;
        back.pop_tag();
        assert_eq!(back.emit(&mut Vec::new()), off);
    }
}
