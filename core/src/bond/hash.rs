//! The transmit hash (`xmit_hash_policy`), as the kernel's
//! `__bond_xmit_hash` computes it (`drivers/net/bonding/bond_main.c`).
//! BEHAVIOUR.md §2.3. The member is `usable[hash % count]`.
//!
//! Byte order follows the kernel on a little-endian machine: addresses and
//! the L4 port word are read as they lie in memory (`memcpy` into a u32).

use crate::wire::{ethertype, Frame};

/// `xmit_hash_policy`, numbered as the kernel numbers them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashPolicy {
    #[default]
    Layer2 = 0,
    Layer34 = 1,
    Layer23 = 2,
    Encap23 = 3,
    Encap34 = 4,
    VlanSrcMac = 5,
}

impl HashPolicy {
    pub fn name(self) -> &'static str {
        match self {
            HashPolicy::Layer2 => "layer2",
            HashPolicy::Layer34 => "layer3+4",
            HashPolicy::Layer23 => "layer2+3",
            HashPolicy::Encap23 => "encap2+3",
            HashPolicy::Encap34 => "encap3+4",
            HashPolicy::VlanSrcMac => "vlan+srcmac",
        }
    }
    pub fn parse(s: &str) -> Option<HashPolicy> {
        Some(match s {
            "layer2" | "0" => HashPolicy::Layer2,
            "layer3+4" | "1" => HashPolicy::Layer34,
            "layer2+3" | "2" => HashPolicy::Layer23,
            "encap2+3" | "3" => HashPolicy::Encap23,
            "encap3+4" | "4" => HashPolicy::Encap34,
            "vlan+srcmac" | "5" => HashPolicy::VlanSrcMac,
            _ => return None,
        })
    }
}

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;
const IPPROTO_DCCP: u8 = 33;
const IPPROTO_UDPLITE: u8 = 136;

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

/// What `bond_flow_dissect` finds: the two address words, the port word
/// and the ICMP (type, code, id) word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Flow {
    src: u32,
    dst: u32,
    ports: u32,
    icmp: u32,
    icmp_id: u16,
}

/// `ipv6_addr_hash`: the four words xor'ed.
fn v6_words(a: &[u8]) -> u32 {
    le32(&a[0..]) ^ le32(&a[4..]) ^ le32(&a[8..]) ^ le32(&a[12..])
}

/// `bond_flow_ip` from `l3` (the network header): the addresses, and the
/// protocol and the L4 offset when the policy looks at layer 4.
fn flow_ip(l3: &[u8], proto: u16, l34: bool, f: &mut Flow) -> Option<(Option<u8>, usize)> {
    match proto {
        ethertype::IPV4 => {
            if l3.len() < 20 {
                return None;
            }
            let ihl = usize::from(l3[0] & 0x0f) * 4;
            if ihl < 20 {
                return None;
            }
            f.src = le32(&l3[12..]);
            f.dst = le32(&l3[16..]);
            let frag = u16::from_be_bytes([l3[6], l3[7]]) & 0x3fff != 0;
            let p = (l34 && !frag).then_some(l3[9]);
            Some((p, ihl))
        }
        ethertype::IPV6 => {
            if l3.len() < 40 {
                return None;
            }
            f.src = v6_words(&l3[8..24]);
            f.dst = v6_words(&l3[24..40]);
            Some((l34.then_some(l3[6]), 40))
        }
        _ => None,
    }
}

fn has_ports(p: u8) -> bool {
    matches!(
        p,
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP | IPPROTO_DCCP | IPPROTO_UDPLITE
    )
}

fn icmp_is_err(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

fn icmp6_is_err(t: u8) -> bool {
    t < 128
}

/// ICMP types whose header carries an identifier (`icmp_has_id`).
fn icmp_has_id(t: u8, v6: bool) -> bool {
    if v6 {
        matches!(t, 128 | 129)
    } else {
        matches!(t, 0 | 8 | 13 | 14)
    }
}

/// `bond_flow_dissect` for layer2+3 and layer3+4 (and, here, the encap
/// policies: see [`xmit_hash`]).
fn flow_dissect(l3: &[u8], proto: u16, l34: bool) -> Option<Flow> {
    let mut f = Flow::default();
    let (p, off) = flow_ip(l3, proto, l34, &mut f)?;
    let Some(p) = p else { return Some(f) };
    let l4 = l3.get(off..).unwrap_or(&[]);
    if p == IPPROTO_ICMP || p == IPPROTO_ICMPV6 {
        let v6 = p == IPPROTO_ICMPV6;
        if l4.len() >= 2 {
            let (t, c) = (l4[0], l4[1]);
            let id = if icmp_has_id(t, v6) && l4.len() >= 6 {
                [l4[4], l4[5]]
            } else {
                [0, 0]
            };
            f.icmp = u32::from_le_bytes([t, c, id[0], id[1]]);
            f.icmp_id = u16::from_le_bytes(id);
            let err = if v6 { icmp6_is_err(t) } else { icmp_is_err(t) };
            if !err {
                return Some(f);
            }
            // An ICMP error hashes with the header it quotes (8 bytes on).
            let inner = l4.get(8..).unwrap_or(&[]);
            let mut g = f;
            if flow_ip(inner, proto, l34, &mut g).is_some() {
                g.ports = 0;
                return Some(g);
            }
        }
        return Some(f);
    }
    if has_ports(p) && l4.len() >= 4 {
        f.ports = le32(l4);
    }
    Some(f)
}

/// `bond_ip_hash`.
fn ip_hash(mut h: u32, f: &Flow, policy: HashPolicy) -> u32 {
    h ^= f.dst ^ f.src;
    h ^= h >> 16;
    h ^= h >> 8;
    if matches!(policy, HashPolicy::Layer34 | HashPolicy::Encap34) {
        h >> 1
    } else {
        h
    }
}

/// `bond_eth_hash`: last bytes of the addresses and the EtherType.
fn eth_hash(frame: &Frame<'_>) -> u32 {
    u32::from(frame.dst().0[5]) ^ u32::from(frame.src().0[5]) ^ u32::from(frame.ethertype())
}

/// The frame's L3 header and protocol, below any tags the view holds (as
/// the kernel sees it with the tag in metadata). For the encap policies,
/// IPv4/IPv6 tunnelled in IP are looked through to the innermost header.
fn network<'a>(frame: &Frame<'a>, encap: bool) -> (u16, &'a [u8]) {
    let mut proto = frame.ethertype();
    let mut l3 = frame.body().get(2..).unwrap_or(&[]);
    if encap {
        loop {
            let (next, off) = match proto {
                ethertype::IPV4 if l3.len() >= 20 => (l3[9], usize::from(l3[0] & 0x0f) * 4),
                ethertype::IPV6 if l3.len() >= 40 => (l3[6], 40),
                _ => break,
            };
            proto = match next {
                IPPROTO_IPIP => ethertype::IPV4,
                IPPROTO_IPV6 => ethertype::IPV6,
                _ => break,
            };
            l3 = l3.get(off..).unwrap_or(&[]);
        }
    }
    (proto, l3)
}

/// `__bond_xmit_hash` for `frame` under `policy`.
pub fn xmit_hash(frame: &Frame<'_>, policy: HashPolicy) -> u32 {
    if policy == HashPolicy::VlanSrcMac {
        let s = frame.src().0;
        let vendor = u32::from(s[0]) << 16 | u32::from(s[1]) << 8 | u32::from(s[2]);
        let dev = u32::from(s[3]) << 16 | u32::from(s[4]) << 8 | u32::from(s[5]);
        let vlan = frame.outer_tag().map_or(0, |t| u32::from(t.tci));
        return vlan ^ vendor ^ dev;
    }
    if policy == HashPolicy::Layer2 {
        return eth_hash(frame);
    }
    let encap = matches!(policy, HashPolicy::Encap23 | HashPolicy::Encap34);
    let l34 = matches!(policy, HashPolicy::Layer34 | HashPolicy::Encap34);
    let (proto, l3) = network(frame, encap);
    let Some(f) = flow_dissect(l3, proto, l34) else {
        return eth_hash(frame);
    };
    let h = if matches!(policy, HashPolicy::Layer23 | HashPolicy::Encap23) {
        eth_hash(frame)
    } else if f.icmp_id != 0 {
        f.icmp
    } else {
        f.ports
    };
    ip_hash(h, &f, policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build_frame, Mac, Offload, Tag};

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(l4);
        ip
    }

    fn frame(dst_last: u8, src_last: u8, et: u16, payload: &[u8]) -> Vec<u8> {
        build_frame(
            Mac([0x02, 0, 0, 0, 0, dst_last]),
            Mac([0x02, 0, 0, 0, 0, src_last]),
            &[],
            et,
            payload,
        )
    }

    fn hash(bytes: &[u8], p: HashPolicy) -> u32 {
        xmit_hash(&Frame::parse(bytes, None, Offload::NONE).unwrap(), p)
    }

    // Hand-computed from the kernel's formulas, byte by byte:
    // eth = dst[5] ^ src[5] ^ ethertype.

    #[test]
    fn layer2_is_last_bytes_and_ethertype() {
        let f = frame(0x0b, 0x0a, 0x0800, &[0; 20]);
        // 0x0b ^ 0x0a ^ 0x0800 = 0x0801.
        assert_eq!(hash(&f, HashPolicy::Layer2), 0x0801);
        assert_eq!(hash(&f, HashPolicy::Layer2) % 2, 1);
        let arp = frame(0xff, 0x0a, 0x0806, &[0; 28]);
        assert_eq!(hash(&arp, HashPolicy::Layer2), 0xff ^ 0x0a ^ 0x0806);
    }

    #[test]
    fn layer23_folds_the_addresses_into_the_eth_hash() {
        // 198.18.0.1 -> 198.18.0.2, UDP.
        let ip = ipv4(
            17,
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            &[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0],
        );
        let f = frame(0x0b, 0x0a, 0x0800, &ip);
        // saddr as a little-endian word: 0x010012c6; daddr 0x020012c6.
        // h = 0x0801 ^ 0x020012c6 ^ 0x010012c6 = 0x03000801
        // h ^= h >> 16 -> 0x03000801 ^ 0x0300 = 0x03000b01
        // h ^= h >> 8  -> 0x03000b01 ^ 0x0003000b = 0x03030b0a
        assert_eq!(hash(&f, HashPolicy::Layer23), 0x0303_0b0a);
    }

    #[test]
    fn layer34_uses_the_port_word_and_drops_the_low_bit() {
        // Ports 12345 (0x3039) -> 53 (0x0035): the word in memory is
        // 30 39 00 35, read little-endian 0x35003930.
        let ip = ipv4(
            17,
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            &[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0],
        );
        let f = frame(0x0b, 0x0a, 0x0800, &ip);
        // h = 0x35003930 ^ 0x020012c6 ^ 0x010012c6 = 0x36003930
        // h ^= h >> 16 -> 0x36003930 ^ 0x3600 = 0x36000f30
        // h ^= h >> 8  -> 0x36000f30 ^ 0x0036000f = 0x36360f3f
        // h >>= 1      -> 0x1b1b079f
        assert_eq!(hash(&f, HashPolicy::Layer34), 0x1b1b_079f);
        // A fragment hashes without ports: h = 0x03000000, folded
        // 0x03000300, 0x03030303, >> 1 = 0x01818181.
        let mut frag = ip.clone();
        frag[6] = 0x20; // more fragments
        let f = frame(0x0b, 0x0a, 0x0800, &frag);
        assert_eq!(hash(&f, HashPolicy::Layer34), 0x0181_8181);
    }

    #[test]
    fn layer34_icmp_echo_uses_type_code_and_id() {
        // Echo request, id 0x1234, seq 1.
        let ip = ipv4(
            1,
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            &[8, 0, 0, 0, 0x12, 0x34, 0, 1],
        );
        let f = frame(0x0b, 0x0a, 0x0800, &ip);
        // icmp word in memory: 08 00 12 34 -> 0x34120008
        // h = 0x34120008 ^ 0x03000000 = 0x37120008
        // h ^= h >> 16 -> 0x37120008 ^ 0x3712 = 0x3712371a
        // h ^= h >> 8  -> 0x3712371a ^ 0x00371237 = 0x3725252d
        // h >>= 1      -> 0x1b929296
        assert_eq!(hash(&f, HashPolicy::Layer34), 0x1b92_9296);
    }

    #[test]
    fn non_ip_falls_back_to_layer2_and_vlan_srcmac_uses_the_tag() {
        let arp = frame(0xff, 0x0a, 0x0806, &[0; 28]);
        assert_eq!(hash(&arp, HashPolicy::Layer34), 0xff ^ 0x0a ^ 0x0806);
        let f = build_frame(
            Mac([0xff; 6]),
            Mac([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]),
            &[Tag::new(0x8100, 10, 0)],
            0x0800,
            &[0; 20],
        );
        // 10 ^ 0x001122 ^ 0x334455 = 0x33557d.
        assert_eq!(hash(&f, HashPolicy::VlanSrcMac), 0x0a ^ 0x001122 ^ 0x334455);
    }

    #[test]
    fn encap23_is_layer23_on_the_inner_header() {
        let inner = ipv4(
            17,
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            &[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0],
        );
        let outer = ipv4(4, [198, 19, 0, 1], [198, 19, 0, 2], &inner);
        let f = frame(0x0b, 0x0a, 0x0800, &outer);
        // The same words as the layer2+3 case: eth 0x0801, inner addresses.
        assert_eq!(hash(&f, HashPolicy::Encap23), 0x0303_0b0a);
    }

    #[test]
    fn ipv6_folds_each_address_to_one_word() {
        // fd00::1 -> fd00::2, UDP 12345 -> 53.
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        ip6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        ip6.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        let f = frame(0x0b, 0x0a, 0x86dd, &ip6);
        // ipv6_addr_hash: the four little-endian words xor'ed: src 0x010000fd,
        // dst 0x020000fd; ports 0x35003930.
        // h = 0x35003930 ^ 0x010000fd ^ 0x020000fd = 0x36003930, folded as
        // in the IPv4 case: 0x1b1b079f.
        assert_eq!(hash(&f, HashPolicy::Layer34), 0x1b1b_079f);
        // layer2+3: eth = 0x0b ^ 0x0a ^ 0x86dd = 0x86dc;
        // h = 0x86dc ^ 0x010000fd ^ 0x020000fd = 0x030086dc,
        // ^= h >> 16: 0x030085dc, ^= h >> 8: 0x03038559.
        assert_eq!(hash(&f, HashPolicy::Layer23), 0x0303_8559);
    }

    #[test]
    fn encap_looks_through_ip_in_ip() {
        let inner = ipv4(
            17,
            [198, 18, 0, 1],
            [198, 18, 0, 2],
            &[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0],
        );
        let outer = ipv4(4, [198, 19, 0, 1], [198, 19, 0, 2], &inner);
        let f = frame(0x0b, 0x0a, 0x0800, &outer);
        let plain = frame(0x0b, 0x0a, 0x0800, &inner);
        assert_eq!(
            hash(&f, HashPolicy::Encap34),
            hash(&plain, HashPolicy::Layer34)
        );
        assert_ne!(
            hash(&f, HashPolicy::Layer34),
            hash(&plain, HashPolicy::Layer34)
        );
    }
}
