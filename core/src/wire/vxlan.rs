//! VXLAN (RFC 7348, BEHAVIOUR.md §5): the 8-byte header, the UDP source
//! port the kernel picks (`udp_flow_src_port`), and whole outer frames
//! (Ethernet, IPv4 or IPv6, UDP) built with etherparse for the simulator and
//! the tests. The daemon's underlay is a UDP socket, so there the kernel
//! builds the outer IP and UDP headers and patchbay hands it the VXLAN
//! header and the inner frame as two pieces (no copy of the inner frame).

use etherparse::{IpNumber, Ipv4Header, Ipv6Header, UdpHeader};

use super::Mac;

/// The IANA port.
pub const IANA_PORT: u16 = 4789;
/// The Linux default (`udp_port` module parameter), kept for early users.
pub const LINUX_PORT: u16 = 8472;
/// Outer Ethernet + IPv4 + UDP + VXLAN.
pub const OVERHEAD_V4: u32 = 14 + 20 + 8 + 8;
/// Outer Ethernet + IPv6 + UDP + VXLAN.
pub const OVERHEAD_V6: u32 = 14 + 40 + 8 + 8;
/// The I flag: the VNI is valid.
const FLAG_I: u8 = 0x08;

/// Why a received VXLAN header is refused (`vxlan_rcv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VxlanError {
    #[error("shorter than the 8-byte VXLAN header")]
    Short,
    #[error("the I flag is not set")]
    NoVni,
    #[error("reserved bits are set")]
    Reserved,
}

/// The header: flags (I), 24 reserved bits, the VNI, 8 reserved bits.
pub fn header(vni: u32) -> [u8; 8] {
    let v = (vni & 0x00ff_ffff).to_be_bytes();
    [FLAG_I, 0, 0, 0, v[1], v[2], v[3], 0]
}

/// A received UDP payload: the VNI and the inner frame. The I flag must be
/// set and every reserved bit clear (no GBP or GPE extensions).
pub fn parse(udp_payload: &[u8]) -> Result<(u32, &[u8]), VxlanError> {
    let h = udp_payload.get(..8).ok_or(VxlanError::Short)?;
    if h[0] & FLAG_I == 0 {
        return Err(VxlanError::NoVni);
    }
    if h[0] != FLAG_I || h[1..4] != [0, 0, 0] || h[7] != 0 {
        return Err(VxlanError::Reserved);
    }
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    Ok((vni, &udp_payload[8..]))
}

/// `udp_flow_src_port`: the flow hash spread over [min, max) (max
/// exclusive). With no range configured (`min >= max`), the local port
/// range 32768–60999, as `inet_get_local_port_range` then `max++`.
pub fn src_port(hash: u32, min: u16, max: u16) -> u16 {
    let (min, max) = if min >= max {
        (32768u32, 61000u32)
    } else {
        (u32::from(min), u32::from(max))
    };
    let h = hash ^ (hash << 16);
    ((u64::from(h) * u64::from(max - min)) >> 32) as u16 + min as u16
}

/// The outer addresses and header fields of one encapsulated frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub src: core::net::IpAddr,
    pub dst: core::net::IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub ttl: u8,
    pub tos: u8,
    pub df: bool,
    /// IPv4: compute the UDP checksum (`udpcsum`, on by default); IPv6
    /// always has one here (`udp6zerocsumtx` off).
    pub udp_csum: bool,
}

/// A whole outer frame around `inner` (tests and the simulator).
pub fn encapsulate(o: &Outer, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(8 + inner.len());
    payload.extend_from_slice(&header(vni));
    payload.extend_from_slice(inner);
    let mut out = Vec::with_capacity(14 + 40 + 8 + payload.len());
    encapsulate_into(o, &payload, &mut out);
    out
}

/// The outer frame around a UDP `payload` (VXLAN header and inner frame),
/// written into `out` (cleared first; its capacity is reused).
pub fn encapsulate_into(o: &Outer, payload: &[u8], out: &mut Vec<u8>) {
    let udp_len = 8 + payload.len();
    out.clear();
    out.extend_from_slice(&o.dst_mac.0);
    out.extend_from_slice(&o.src_mac.0);
    let mut udp = UdpHeader {
        source_port: o.src_port,
        destination_port: o.dst_port,
        length: udp_len as u16,
        checksum: 0,
    };
    match (o.src, o.dst) {
        (core::net::IpAddr::V4(s), core::net::IpAddr::V4(d)) => {
            out.extend_from_slice(&0x0800u16.to_be_bytes());
            let mut ip =
                Ipv4Header::new(udp_len as u16, o.ttl, IpNumber::UDP, s.octets(), d.octets())
                    .expect("a VXLAN packet fits an IPv4 header");
            ip.dont_fragment = o.df;
            ip.dscp = etherparse::IpDscp::try_new(o.tos >> 2).expect("6 bits");
            ip.ecn = etherparse::IpEcn::try_new(o.tos & 3).expect("2 bits");
            ip.header_checksum = ip.calc_header_checksum();
            if o.udp_csum {
                udp.checksum = udp
                    .calc_checksum_ipv4(&ip, payload)
                    .expect("a VXLAN packet fits a UDP datagram");
            }
            ip.write(out).expect("writing to a Vec");
        }
        (core::net::IpAddr::V6(s), core::net::IpAddr::V6(d)) => {
            out.extend_from_slice(&0x86ddu16.to_be_bytes());
            let ip = Ipv6Header {
                traffic_class: o.tos,
                flow_label: Default::default(),
                payload_length: udp_len as u16,
                next_header: IpNumber::UDP,
                hop_limit: o.ttl,
                source: s.octets(),
                destination: d.octets(),
            };
            udp.checksum = udp
                .calc_checksum_ipv6(&ip, payload)
                .expect("a VXLAN packet fits a UDP datagram");
            ip.write(out).expect("writing to a Vec");
        }
        _ => panic!("outer source and destination of different IP versions"),
    }
    udp.write(out).expect("writing to a Vec");
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    #[test]
    fn header_round_trips_and_refuses_what_the_kernel_drops() {
        assert_eq!(header(100), [0x08, 0, 0, 0, 0, 0, 100, 0]);
        assert_eq!(header(0x12_3456), [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        let mut p = header(0xab_cdef).to_vec();
        p.extend_from_slice(b"inner");
        assert_eq!(parse(&p), Ok((0xab_cdef, &b"inner"[..])));
        assert_eq!(parse(&p[..7]), Err(VxlanError::Short));
        p[0] = 0;
        assert_eq!(parse(&p), Err(VxlanError::NoVni));
        p[0] = 0x08 | 0x80; // GBP's G bit: not enabled
        assert_eq!(parse(&p), Err(VxlanError::Reserved));
        p[0] = 0x08;
        p[7] = 1;
        assert_eq!(parse(&p), Err(VxlanError::Reserved));
    }

    #[test]
    fn source_port_is_the_kernels_formula() {
        // hash 0: h = 0, the low end of the range.
        assert_eq!(src_port(0, 0, 0), 32768);
        // hash 0xffff_ffff: h = 0xffff_ffff ^ 0xffff_0000 = 0x0000_ffff;
        // 0xffff × 28232 >> 32 = 0, so 32768.
        assert_eq!(src_port(0xffff_ffff, 0, 0), 32768);
        // hash 0x8000: h = 0x8000 ^ 0x8000_0000 = 0x8000_8000;
        // 0x8000_8000 × 28232 >> 32 = 14116 (+ 32768 = 46884).
        assert_eq!(src_port(0x8000, 0, 0), 46884);
        // A configured range: max exclusive, every port inside.
        for h in [1u32, 0x1234_5678, 0xdead_beef, 0xffff_0000] {
            let p = src_port(h, 1000, 2000);
            assert!((1000..2000).contains(&p), "{p}");
        }
    }

    #[test]
    fn encapsulation_builds_valid_outer_headers() {
        let inner = crate::wire::build_frame(Mac::BROADCAST, Mac::local(1), &[], 0x0806, &[0; 28]);
        let o = Outer {
            src_mac: Mac::local(0xa),
            dst_mac: Mac::local(0xb),
            src: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
            src_port: 50000,
            dst_port: IANA_PORT,
            ttl: 64,
            tos: 0,
            df: false,
            udp_csum: true,
        };
        let f = encapsulate(&o, 100, &inner);
        assert_eq!(f.len() as u32, OVERHEAD_V4 + inner.len() as u32);
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("IPv4")
        };
        assert_eq!(ip.header().ttl(), 64);
        let Some(TransportSlice::Udp(u)) = &p.transport else {
            panic!("UDP")
        };
        assert_eq!((u.source_port(), u.destination_port()), (50000, 4789));
        let (vni, got) = parse(u.payload()).unwrap();
        assert_eq!((vni, got), (100, &inner[..]));
        // The UDP checksum verifies (etherparse recomputes it).
        let ip_h = ip.header().to_header();
        let udp_h = u.to_header();
        assert_eq!(
            udp_h.calc_checksum_ipv4(&ip_h, u.payload()).unwrap(),
            udp_h.checksum
        );
        let o6 = Outer {
            src: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            dst: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
            ..o
        };
        let f = encapsulate(&o6, 100, &inner);
        assert_eq!(f.len() as u32, OVERHEAD_V6 + inner.len() as u32);
    }
}
