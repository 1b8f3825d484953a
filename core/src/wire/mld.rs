//! MLD messages as the bridge's multicast snooping reads them
//! (`ipv6_mc_check_mld` in `net/ipv6/mcast_snoop.c` and the report and
//! query handlers of `br_multicast.c`): v1 and v2 queries, v1 reports and
//! dones, v2 reports with their address records and source lists.
//!
//! The checks are the kernel's, in its order:
//! - the IPv6 header: version 6, a payload that fits ([`MldError::BadIpHeader`]);
//! - MLD rides behind a Hop-by-Hop header (the Router Alert): a packet
//!   whose first header is anything else is not MLD (`Ok(None)`, the
//!   kernel's `-ENOMSG`); extension headers that run past the packet are
//!   an error; a packet that ends in anything but ICMPv6 is not MLD;
//! - at least 8 bytes of ICMPv6 and a valid checksum (pseudo-header
//!   included); fewer than the 24 bytes of an MLD message, or an ICMPv6
//!   type that is not MLD: not MLD (`-ENODATA`; the bridge treats the
//!   frame as data);
//! - a query comes from a link-local address, is 24 bytes (v1) or at
//!   least 28 (v2), and a general query goes to ff02::1;
//! - a v2 report's records are read one by one ([`Records`]), their
//!   auxiliary data not skipped, as the kernel does.

use super::csum::Sum;
use super::mcast;

pub const QUERY: u8 = 130;
pub const V1_REPORT: u8 = 131;
pub const DONE: u8 = 132;
pub const V2_REPORT: u8 = 143;
/// ff02::1, where a general query goes.
pub const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Why a frame that claims to be MLD is refused (the kernel's `-EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MldError {
    BadIpHeader,
    /// An extension header runs past the packet.
    BadExtensionHeader,
    /// Fewer than the 8 bytes of an ICMPv6 header.
    Truncated,
    BadChecksum,
    /// A query from an address that is not link-local (fe80::/10).
    QueryNotLinkLocal,
    /// A query of 25 to 27 bytes: neither v1 (24) nor v2 (28 or more).
    BadQueryLength,
    /// A general query (address ::) not sent to ff02::1.
    GeneralQueryNotToAllNodes,
    /// A source list (or a v2 report's records) runs past the message.
    SourcesOverrun,
}

impl MldError {
    pub fn name(self) -> &'static str {
        match self {
            MldError::BadIpHeader => "bad IPv6 header",
            MldError::BadExtensionHeader => "bad extension header",
            MldError::Truncated => "truncated",
            MldError::BadChecksum => "bad checksum",
            MldError::QueryNotLinkLocal => "query not from a link-local address",
            MldError::BadQueryLength => "bad query length",
            MldError::GeneralQueryNotToAllNodes => "general query not to ff02::1",
            MldError::SourcesOverrun => "source list overruns the message",
        }
    }
}

impl std::fmt::Display for MldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A list of addresses in the frame.
pub type Addrs<'a> = mcast::Addrs<'a, 16>;
/// One report record.
pub type Record<'a> = mcast::Record<'a, 16>;
/// A report's records ([`mcast::Records`]).
pub type Records<'a> = mcast::Records<'a, 16>;

impl From<mcast::Overrun> for MldError {
    fn from(_: mcast::Overrun) -> Self {
        MldError::SourcesOverrun
    }
}

/// What an MLD message says.
#[derive(Clone, Debug)]
pub enum Message<'a> {
    Query {
        /// 1 or 2.
        version: u8,
        /// :: for a general query.
        group: [u8; 16],
        /// Maximum response delay in milliseconds (v2: decoded).
        max_resp: u32,
        /// v2: suppress router-side processing, robustness, query
        /// interval (seconds, decoded), sources.
        suppress: bool,
        qrv: u8,
        qqi: u32,
        sources: Addrs<'a>,
    },
    Report {
        group: [u8; 16],
    },
    Done {
        group: [u8; 16],
    },
    V2Report {
        records: Records<'a>,
    },
}

/// An MLD packet: its IPv6 addresses and message.
#[derive(Clone, Debug)]
pub struct Packet<'a> {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub msg: Message<'a>,
}

/// RFC 3810 5.1.3: a maximum response code of 32768 or more is a
/// floating-point value (12-bit mantissa, 3-bit exponent).
pub fn decode_max_resp(code: u16) -> u32 {
    if code < 0x8000 {
        u32::from(code)
    } else {
        let mant = u32::from(code & 0x0fff);
        let exp = u32::from((code >> 12) & 0x07);
        (mant | 0x1000) << (exp + 3)
    }
}

/// Reads an IPv6 packet (from its header on) as MLD: `Ok(None)` when it
/// is not MLD.
pub fn parse(ip: &[u8]) -> Result<Option<Packet<'_>>, MldError> {
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return Err(MldError::BadIpHeader);
    }
    let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if payload == 0 || ip.len() < 40 + payload {
        return Err(MldError::BadIpHeader);
    }
    let ip = &ip[..40 + payload];
    // Hop-by-Hop first, as MLD is sent; then whatever follows it.
    if ip[6] != 0 {
        return Ok(None);
    }
    let (mut next, mut off) = (ip[6], 40);
    loop {
        match next {
            // Hop-by-Hop, Routing, Destination Options: (len + 1) × 8.
            0 | 43 | 60 => {
                let h = ip.get(off..off + 2).ok_or(MldError::BadExtensionHeader)?;
                next = h[0];
                off += (usize::from(h[1]) + 1) * 8;
            }
            // Fragment: 8 bytes.
            44 => {
                next = *ip.get(off).ok_or(MldError::BadExtensionHeader)?;
                off += 8;
            }
            // Authentication: (len + 2) × 4.
            51 => {
                let h = ip.get(off..off + 2).ok_or(MldError::BadExtensionHeader)?;
                next = h[0];
                off += (usize::from(h[1]) + 2) * 4;
            }
            // No Next Header: the kernel's ipv6_skip_exthdr fails.
            59 => return Err(MldError::BadExtensionHeader),
            _ => break,
        }
        if off > ip.len() {
            return Err(MldError::BadExtensionHeader);
        }
    }
    if next != 58 {
        return Ok(None);
    }
    let src: [u8; 16] = ip[8..24].try_into().expect("16 bytes");
    let dst: [u8; 16] = ip[24..40].try_into().expect("16 bytes");
    let m = &ip[off..];
    if m.len() < 8 {
        return Err(MldError::Truncated);
    }
    let mut sum = Sum::default();
    sum.add(&src);
    sum.add(&dst);
    sum.add(&(m.len() as u32).to_be_bytes());
    sum.add(&[0, 0, 0, 58]);
    sum.add(m);
    if sum.checksum() != 0 {
        return Err(MldError::BadChecksum);
    }
    if m.len() < 24 {
        return Ok(None);
    }
    let group: [u8; 16] = m[8..24].try_into().expect("16 bytes");
    let msg = match m[0] {
        V1_REPORT => Message::Report { group },
        DONE => Message::Done { group },
        V2_REPORT => Message::V2Report {
            records: Records {
                rest: &m[8..],
                left: u16::from_be_bytes([m[6], m[7]]),
            },
        },
        QUERY => {
            if !(src[0] == 0xfe && src[1] & 0xc0 == 0x80) {
                return Err(MldError::QueryNotLinkLocal);
            }
            let code = u16::from_be_bytes([m[4], m[5]]);
            let q = match m.len() {
                24 => Message::Query {
                    version: 1,
                    group,
                    max_resp: u32::from(code),
                    suppress: false,
                    qrv: 0,
                    qqi: 0,
                    sources: mcast::Addrs(&[]),
                },
                25..=27 => return Err(MldError::BadQueryLength),
                _ => {
                    let n = usize::from(u16::from_be_bytes([m[26], m[27]]));
                    let sources = m.get(28..28 + 16 * n).ok_or(MldError::SourcesOverrun)?;
                    Message::Query {
                        version: 2,
                        group,
                        max_resp: decode_max_resp(code),
                        suppress: m[24] & 0x08 != 0,
                        qrv: m[24] & 0x07,
                        qqi: super::igmp::decode_code(m[25]),
                        sources: mcast::Addrs(sources),
                    }
                }
            };
            if group == [0; 16] && dst != ALL_NODES {
                return Err(MldError::GeneralQueryNotToAllNodes);
            }
            q
        }
        _ => return Ok(None),
    };
    Ok(Some(Packet { src, dst, msg }))
}

/// An MLD message in an IPv6 packet as Linux sends one: hop limit 1 and a
/// Hop-by-Hop header with the Router Alert (MLD) and `pad` (a host's
/// `mld_newpack` pads with PadN, the bridge's querier with two Pad1).
/// `icmp` has a zero checksum, which is filled in.
fn packet(src: [u8; 16], dst: [u8; 16], icmp: &[u8], pad: [u8; 2]) -> Vec<u8> {
    let mut v = Vec::with_capacity(48 + icmp.len());
    v.extend_from_slice(&[0x60, 0, 0, 0]);
    v.extend_from_slice(&((8 + icmp.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&[58, 0, 5, 2, 0, 0, pad[0], pad[1]]);
    v.extend_from_slice(icmp);
    let mut sum = Sum::default();
    sum.add(&src);
    sum.add(&dst);
    sum.add(&(icmp.len() as u32).to_be_bytes());
    sum.add(&[0, 0, 0, 58]);
    sum.add(icmp);
    let c = sum.checksum();
    v[50..52].copy_from_slice(&c.to_be_bytes());
    v
}

/// A query as the bridge's querier builds one (`br_ip6_multicast_alloc_query`):
/// v1 is 24 bytes; v2 adds S, QRV 2, `qqic` and the sources. `mrc` is
/// milliseconds, written as is.
#[allow(clippy::too_many_arguments)]
pub fn query(
    src: [u8; 16],
    dst: [u8; 16],
    version: u8,
    group: [u8; 16],
    mrc: u16,
    qqic: u8,
    suppress: bool,
    sources: &[[u8; 16]],
) -> Vec<u8> {
    let mut m = vec![QUERY, 0, 0, 0];
    m.extend_from_slice(&mrc.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&group);
    if version == 2 {
        m.push(u8::from(suppress) << 3 | 2);
        m.push(qqic);
        mcast::write_sources(&mut m, sources, false);
    }
    packet(src, dst, &m, [0, 0])
}

/// PadN of no bytes, as a host pads its Router Alert.
const HOST_PAD: [u8; 2] = [1, 0];

fn v1(kind: u8, src: [u8; 16], dst: [u8; 16], group: [u8; 16]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&group);
    packet(src, dst, &m, HOST_PAD)
}

/// A v1 report, sent to the group.
pub fn report(src: [u8; 16], group: [u8; 16]) -> Vec<u8> {
    v1(V1_REPORT, src, group, group)
}

/// A v1 done, sent to ff02::2.
pub fn done(src: [u8; 16], group: [u8; 16]) -> Vec<u8> {
    let mut all_routers = ALL_NODES;
    all_routers[15] = 2;
    v1(DONE, src, all_routers, group)
}

/// A v2 report of `(kind, group, sources)` records, sent to ff02::16.
pub fn report_v2(src: [u8; 16], records: &[mcast::RecordSpec<'_, 16>]) -> Vec<u8> {
    let mut m = vec![V2_REPORT, 0, 0, 0, 0, 0];
    mcast::write_records(&mut m, records);
    let mut dst = ALL_NODES;
    dst[15] = 0x16;
    packet(src, dst, &m, HOST_PAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn addr(s: &str) -> [u8; 16] {
        s.parse::<core::net::Ipv6Addr>().unwrap().octets()
    }

    // Captured from Linux 6.18 (a socket in a netns joining ff0e::1234,
    // then with force_mld_version 1 joining and leaving ff0e::5678), from
    // the IPv6 header on; each behind a Hop-by-Hop header with the Router
    // Alert.
    const V2_TWO_RECORDS: &str = "6000 0000 0038 0001 fe80 0000 0000 0000 8481 a5ff fe9b 755c
        ff02 0000 0000 0000 0000 0000 0000 0016 3a00 0502 0000 0100 8f00 4740 0000 0002
        0400 0000 ff0e 0000 0000 0000 0000 0000 0000 1234 0400 0000 ff02 0000 0000 0000
        0000 0001 ff9b 755c";
    const V1_REPORT_HEX: &str = "6000 0000 0020 0001 fe80 0000 0000 0000 8481 a5ff fe9b 755c
        ff0e 0000 0000 0000 0000 0000 0000 5678 3a00 0502 0000 0100 8300 34a4 0000 0000
        ff0e 0000 0000 0000 0000 0000 0000 5678";
    const V1_DONE: &str = "6000 0000 0020 0001 fe80 0000 0000 0000 8481 a5ff fe9b 755c
        ff02 0000 0000 0000 0000 0000 0000 0002 3a00 0502 0000 0100 8400 8a26 0000 0000
        ff0e 0000 0000 0000 0000 0000 0000 5678";

    #[test]
    fn the_kernels_own_reports_read_as_it_sent_them() {
        let b = hex(V2_TWO_RECORDS);
        let p = parse(&b).unwrap().unwrap();
        assert_eq!(p.src, addr("fe80::8481:a5ff:fe9b:755c"));
        assert_eq!(p.dst, addr("ff02::16"));
        let Message::V2Report { records } = p.msg else {
            panic!("{:?}", p.msg)
        };
        let got: Vec<(u8, [u8; 16], usize)> = records
            .map(|r| r.map(|r| (r.kind, r.group, r.sources.len())).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                (4, addr("ff0e::1234"), 0),
                (4, addr("ff02::1:ff9b:755c"), 0)
            ]
        );
        let b = hex(V1_REPORT_HEX);
        assert!(matches!(
            parse(&b).unwrap().unwrap().msg,
            Message::Report { group } if group == addr("ff0e::5678")
        ));
        let b = hex(V1_DONE);
        assert!(matches!(
            parse(&b).unwrap().unwrap().msg,
            Message::Done { group } if group == addr("ff0e::5678")
        ));
    }

    /// An IPv6 packet with a Router Alert Hop-by-Hop header around an
    /// ICMPv6 message, its checksum filled in.
    fn packet(src: &str, dst: &str, icmp: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x60, 0, 0, 0, 0, 0, 0, 1];
        ip.extend_from_slice(&addr(src));
        ip.extend_from_slice(&addr(dst));
        ip.extend_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]);
        let mut m = icmp.to_vec();
        m[2] = 0;
        m[3] = 0;
        let mut s = Sum::default();
        s.add(&addr(src));
        s.add(&addr(dst));
        s.add(&(m.len() as u32).to_be_bytes());
        s.add(&[0, 0, 0, 58]);
        s.add(&m);
        let c = s.checksum();
        m[2..4].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&m);
        let payload = (ip.len() - 40) as u16;
        ip[4..6].copy_from_slice(&payload.to_be_bytes());
        ip
    }

    fn query(version_len: usize, code: u16, group: &str) -> Vec<u8> {
        let mut m = vec![QUERY, 0, 0, 0];
        m.extend_from_slice(&code.to_be_bytes());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&addr(group));
        if version_len > 24 {
            // S flag, QRV 2, QQIC 125, no sources.
            m.extend_from_slice(&[0x0a, 125, 0, 0]);
        }
        m.truncate(version_len);
        m
    }

    #[test]
    fn queries_of_each_version() {
        let v1 = packet("fe80::1", "ff02::1", &query(24, 10_000, "::"));
        match parse(&v1).unwrap().unwrap().msg {
            Message::Query {
                version, max_resp, ..
            } => assert_eq!((version, max_resp), (1, 10_000)),
            m => panic!("{m:?}"),
        }
        let v2 = packet("fe80::1", "ff0e::1234", &query(28, 0x8000, "ff0e::1234"));
        match parse(&v2).unwrap().unwrap().msg {
            Message::Query {
                version,
                max_resp,
                suppress,
                qrv,
                qqi,
                sources,
                ..
            } => assert_eq!(
                (version, max_resp, suppress, qrv, qqi, sources.len()),
                (2, 0x1000 << 3, true, 2, 125, 0)
            ),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn malformed_messages_are_named() {
        let good = hex(V2_TWO_RECORDS);
        let mut bad = good.clone();
        bad[48 + 9] ^= 1;
        assert_eq!(parse(&bad).unwrap_err(), MldError::BadChecksum);
        assert_eq!(parse(&good[..39]).unwrap_err(), MldError::BadIpHeader);
        assert_eq!(
            parse(&good[..good.len() - 1]).unwrap_err(),
            MldError::BadIpHeader
        );
        // A Hop-by-Hop header that claims more than there is.
        let mut ext = good.clone();
        ext[41] = 200;
        assert_eq!(parse(&ext).unwrap_err(), MldError::BadExtensionHeader);
        assert_eq!(
            parse(&packet("fe80::1", "ff02::16", &[V2_REPORT, 0, 0, 0])).unwrap_err(),
            MldError::Truncated
        );
        assert_eq!(
            parse(&packet("fd00::1", "ff02::1", &query(24, 0, "::"))).unwrap_err(),
            MldError::QueryNotLinkLocal
        );
        assert_eq!(
            parse(&packet("fe80::1", "ff02::1", &query(26, 0, "::"))).unwrap_err(),
            MldError::BadQueryLength
        );
        assert_eq!(
            parse(&packet("fe80::1", "ff02::5", &query(24, 0, "::"))).unwrap_err(),
            MldError::GeneralQueryNotToAllNodes
        );
        let mut q = query(28, 0, "ff0e::1");
        q[27] = 3;
        assert_eq!(
            parse(&packet("fe80::1", "ff0e::1", &q)).unwrap_err(),
            MldError::SourcesOverrun
        );
        // A record claiming 2 sources with none there: read, then the error.
        let mut r = vec![V2_REPORT, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 2];
        r.extend_from_slice(&addr("ff0e::1"));
        r.extend_from_slice(&[0; 8]);
        let b = packet("fe80::1", "ff02::16", &r);
        let Message::V2Report { mut records } = parse(&b).unwrap().unwrap().msg else {
            panic!()
        };
        assert_eq!(records.next(), Some(Err(mcast::Overrun)));
        assert_eq!(records.next(), None);
        // Not MLD: no Hop-by-Hop header; an ICMPv6 echo; a short message.
        let mut plain = good.clone();
        plain[6] = 58;
        assert!(parse(&plain).unwrap().is_none());
        let echo = packet("fe80::1", "ff02::1", &[128, 0, 0, 0, 0, 1, 0, 1]);
        assert!(parse(&echo).unwrap().is_none());
        let short = packet("fe80::1", "ff02::16", &[V1_REPORT, 0, 0, 0, 0, 0, 0, 0]);
        assert!(parse(&short).unwrap().is_none());
    }

    #[test]
    fn reports_are_built_as_the_kernel_sends_them() {
        let src: [u8; 16] = hex("fe80 0000 0000 0000 8481 a5ff fe9b 755c")
            .try_into()
            .unwrap();
        let g: [u8; 16] = hex("ff0e 0000 0000 0000 0000 0000 0000 5678")
            .try_into()
            .unwrap();
        assert_eq!(report(src, g), hex(V1_REPORT_HEX));
        assert_eq!(done(src, g), hex(V1_DONE));
        let g1: [u8; 16] = hex("ff0e 0000 0000 0000 0000 0000 0000 1234")
            .try_into()
            .unwrap();
        let g2: [u8; 16] = hex("ff02 0000 0000 0000 0000 0001 ff9b 755c")
            .try_into()
            .unwrap();
        assert_eq!(
            report_v2(src, &[(4, g1, &[]), (4, g2, &[])]),
            hex(V2_TWO_RECORDS)
        );
        // A v2 query with two sources reads back as built.
        let s1 = g1;
        let q = super::query(src, g, 2, g, 1000, 125, true, &[s1, s1]);
        let p = parse(&q).unwrap().unwrap();
        match p.msg {
            Message::Query {
                version,
                group,
                max_resp,
                suppress,
                qrv,
                qqi,
                sources,
            } => {
                assert_eq!(
                    (version, group, max_resp, suppress, qrv, qqi),
                    (2, g, 1000, true, 2, 125)
                );
                assert_eq!(sources.len(), 2);
            }
            m => panic!("{m:?}"),
        }
    }
}
