//! IGMP messages as the bridge's multicast snooping reads them
//! (`ip_mc_check_igmp` and the report and query handlers of
//! `br_multicast.c`): queries of every version, v1/v2 reports and leaves,
//! v3 reports with their group records and source lists.
//!
//! The checks are the kernel's, in its order, and each failure has a name
//! (`ip_mc_check_igmp` returns `-EINVAL` for all of them; the bridge counts
//! them as `igmp_parse_errors` and drops the frame):
//! - the IPv4 header: version 4, a header length of at least 20 bytes that
//!   fits, a valid header checksum, a total length that fits;
//! - not IGMP, or an IGMP type snooping does not know: `Ok(None)` (the
//!   kernel's `-ENOMSG`; the frame is multicast data to the bridge);
//! - at least 8 bytes of IGMP, a valid IGMP checksum;
//! - a query is exactly 8 bytes (v1 when its code is 0, v2 otherwise) or at
//!   least 12 (v3), and a general query goes to 224.0.0.1;
//! - a v3 report's records are read one by one, as the kernel applies them:
//!   [`Records`] yields each record and then an error if the next one runs
//!   past the message. Like the kernel, a record's auxiliary data length is
//!   not skipped.
//!
//! Nothing allocates: every list is a view into the frame.

use super::{csum, mcast};

pub const QUERY: u8 = 0x11;
pub const V1_REPORT: u8 = 0x12;
pub const V2_REPORT: u8 = 0x16;
pub const LEAVE: u8 = 0x17;
pub const V3_REPORT: u8 = 0x22;
/// 224.0.0.1, where a general query goes.
pub const ALL_HOSTS: [u8; 4] = [224, 0, 0, 1];

/// Why a frame that claims to be IGMP is refused (each the kernel's
/// `-EINVAL`), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgmpError {
    /// The IPv4 header is short, not version 4, or its lengths do not fit.
    BadIpHeader,
    /// The IPv4 header checksum does not verify.
    BadIpChecksum,
    /// Fewer than the 8 bytes every IGMP message has.
    Truncated,
    /// The IGMP checksum does not verify.
    BadChecksum,
    /// A query of 9 to 11 bytes: neither v1/v2 (8) nor v3 (12 or more).
    BadQueryLength,
    /// A general query (group 0) not sent to 224.0.0.1.
    GeneralQueryNotToAllHosts,
    /// A source list (or a v3 report's records) runs past the message.
    SourcesOverrun,
}

impl IgmpError {
    pub fn name(self) -> &'static str {
        match self {
            IgmpError::BadIpHeader => "bad IPv4 header",
            IgmpError::BadIpChecksum => "bad IPv4 header checksum",
            IgmpError::Truncated => "truncated",
            IgmpError::BadChecksum => "bad checksum",
            IgmpError::BadQueryLength => "bad query length",
            IgmpError::GeneralQueryNotToAllHosts => "general query not to 224.0.0.1",
            IgmpError::SourcesOverrun => "source list overruns the message",
        }
    }
}

impl std::fmt::Display for IgmpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A list of addresses in the frame.
pub type Addrs<'a> = mcast::Addrs<'a, 4>;
/// One report record.
pub type Record<'a> = mcast::Record<'a, 4>;
/// A report's records ([`mcast::Records`]).
pub type Records<'a> = mcast::Records<'a, 4>;

impl From<mcast::Overrun> for IgmpError {
    fn from(_: mcast::Overrun) -> Self {
        IgmpError::SourcesOverrun
    }
}

/// What an IGMP message says.
#[derive(Clone, Debug)]
pub enum Message<'a> {
    Query {
        /// 1, 2 or 3.
        version: u8,
        /// 0.0.0.0 for a general query.
        group: [u8; 4],
        /// Max response time in tenths of a second (v3: the decoded code).
        max_resp: u32,
        /// v3: suppress router-side processing, robustness, query interval
        /// (seconds, decoded), sources.
        suppress: bool,
        qrv: u8,
        qqi: u32,
        sources: Addrs<'a>,
    },
    /// A v1 or v2 membership report.
    Report {
        version: u8,
        group: [u8; 4],
    },
    Leave {
        group: [u8; 4],
    },
    V3Report {
        records: Records<'a>,
    },
}

/// An IGMP packet: its IPv4 addresses and message.
#[derive(Clone, Debug)]
pub struct Packet<'a> {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub msg: Message<'a>,
}

/// RFC 3376 4.1.1/4.1.7: a code below 128 is the value; above, a
/// floating-point value with a 4-bit mantissa and a 3-bit exponent.
pub fn decode_code(code: u8) -> u32 {
    if code < 128 {
        u32::from(code)
    } else {
        let mant = u32::from(code & 0x0f);
        let exp = u32::from((code >> 4) & 0x07);
        (mant | 0x10) << (exp + 3)
    }
}

/// Reads an IPv4 packet (from its header on) as IGMP: `Ok(None)` when it
/// is not IGMP, or a type snooping does not know.
pub fn parse(ip: &[u8]) -> Result<Option<Packet<'_>>, IgmpError> {
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return Err(IgmpError::BadIpHeader);
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl {
        return Err(IgmpError::BadIpHeader);
    }
    if csum::checksum(&[&ip[..ihl]]) != 0 {
        return Err(IgmpError::BadIpChecksum);
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < ihl || total > ip.len() {
        return Err(IgmpError::BadIpHeader);
    }
    if ip[9] != 2 {
        return Ok(None);
    }
    let src: [u8; 4] = ip[12..16].try_into().expect("4 bytes");
    let dst: [u8; 4] = ip[16..20].try_into().expect("4 bytes");
    let m = &ip[ihl..total];
    if m.len() < 8 {
        return Err(IgmpError::Truncated);
    }
    if csum::checksum(&[m]) != 0 {
        return Err(IgmpError::BadChecksum);
    }
    let group: [u8; 4] = m[4..8].try_into().expect("4 bytes");
    let msg = match m[0] {
        V1_REPORT | V2_REPORT => Message::Report {
            version: if m[0] == V1_REPORT { 1 } else { 2 },
            group,
        },
        LEAVE => Message::Leave { group },
        V3_REPORT => Message::V3Report {
            records: Records {
                rest: &m[8..],
                left: u16::from_be_bytes([m[6], m[7]]),
            },
        },
        QUERY => {
            if group == [0; 4] && dst != ALL_HOSTS {
                return Err(IgmpError::GeneralQueryNotToAllHosts);
            }
            match m.len() {
                8 => Message::Query {
                    version: if m[1] == 0 { 1 } else { 2 },
                    group,
                    // A v1 query has no code: the kernel's 10 s.
                    max_resp: if m[1] == 0 { 100 } else { u32::from(m[1]) },
                    suppress: false,
                    qrv: 0,
                    qqi: 0,
                    sources: mcast::Addrs(&[]),
                },
                9..=11 => return Err(IgmpError::BadQueryLength),
                _ => {
                    let n = usize::from(u16::from_be_bytes([m[10], m[11]]));
                    if m.len() < 12 + 4 * n {
                        return Err(IgmpError::SourcesOverrun);
                    }
                    Message::Query {
                        version: 3,
                        group,
                        max_resp: decode_code(m[1]),
                        suppress: m[8] & 0x08 != 0,
                        qrv: m[8] & 0x07,
                        qqi: decode_code(m[9]),
                        sources: mcast::Addrs(&m[12..12 + 4 * n]),
                    }
                }
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Packet { src, dst, msg }))
}

/// An IGMP message in an IPv4 packet as Linux sends one: TOS 0xc0, id 0,
/// DF, TTL 1, the Router Alert option (IHL 6). `igmp` has a zero checksum,
/// which is filled in.
pub fn packet(src: [u8; 4], dst: [u8; 4], igmp: &[u8]) -> Vec<u8> {
    let total = 24 + igmp.len();
    let mut v = Vec::with_capacity(total);
    v.extend_from_slice(&[0x46, 0xc0]);
    v.extend_from_slice(&(total as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0x40, 0, 1, 2, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&[0x94, 4, 0, 0]);
    let c = csum::checksum(&[&v]);
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v.extend_from_slice(igmp);
    let c = csum::checksum(&[&v[24..]]);
    v[26..28].copy_from_slice(&c.to_be_bytes());
    v
}

/// A query as the bridge's querier builds one (`br_ip4_multicast_alloc_query`):
/// v2 is 8 bytes; v3 adds S, QRV 2, `qqic` and the sources.
#[allow(clippy::too_many_arguments)]
pub fn query(
    src: [u8; 4],
    dst: [u8; 4],
    version: u8,
    group: [u8; 4],
    code: u8,
    qqic: u8,
    suppress: bool,
    sources: &[[u8; 4]],
) -> Vec<u8> {
    let mut m = vec![QUERY, code, 0, 0];
    m.extend_from_slice(&group);
    if version == 3 {
        m.push(u8::from(suppress) << 3 | 2);
        m.push(qqic);
        mcast::write_sources(&mut m, sources, false);
    }
    packet(src, dst, &m)
}

/// A v1 or v2 membership report, sent to the group.
pub fn report(version: u8, src: [u8; 4], group: [u8; 4]) -> Vec<u8> {
    let kind = if version == 1 { V1_REPORT } else { V2_REPORT };
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&group);
    packet(src, group, &m)
}

/// A v2 leave, sent to 224.0.0.2.
pub fn leave(src: [u8; 4], group: [u8; 4]) -> Vec<u8> {
    let mut m = vec![LEAVE, 0, 0, 0];
    m.extend_from_slice(&group);
    packet(src, [224, 0, 0, 2], &m)
}

/// A v3 report of `(kind, group, sources)` records, sent to 224.0.0.22.
pub fn report_v3(src: [u8; 4], records: &[mcast::RecordSpec<'_, 4>]) -> Vec<u8> {
    let mut m = vec![V3_REPORT, 0, 0, 0, 0, 0];
    mcast::write_records(&mut m, records);
    packet(src, [224, 0, 0, 22], &m)
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

    // Captured from Linux 6.18 (a socket in a netns joining, adding a
    // source, leaving; then with force_igmp_version 2), from the IPv4
    // header on. All carry the Router Alert option (IHL 6).
    const V3_JOIN: &str = "46c0 0028 0000 4000 0102 34e6 c612 0901 e000 0016 9404 0000
        2200 e8f9 0000 0001 0400 0000 ef01 0203";
    const V3_ALLOW_AND_JOIN: &str = "46c0 0034 0000 4000 0102 34da c612 0901 e000 0016
        9404 0000 2200 1ccb 0000 0002 0500 0001 ef09 0909 c612 0907 0400 0000 ef01 0203";
    const V2_REPORT_HEX: &str = "46c0 0020 0000 4000 0102 20fa c612 0901 ef04 0506
        9404 0000 1600 f5f4 ef04 0506";
    const V2_LEAVE: &str = "46c0 0020 0000 4000 0102 3502 c612 0901 e000 0002 9404 0000
        1700 f4f4 ef04 0506";

    /// A record as (kind, group, sources).
    type Read = Result<(u8, [u8; 4], Vec<[u8; 4]>), IgmpError>;

    fn records(p: &Packet<'_>) -> Vec<Read> {
        match &p.msg {
            Message::V3Report { records } => records
                .clone()
                .map(|r| {
                    r.map(|r| (r.kind, r.group, r.sources.iter().collect()))
                        .map_err(IgmpError::from)
                })
                .collect(),
            m => panic!("not a v3 report: {m:?}"),
        }
    }

    #[test]
    fn the_kernels_own_reports_read_as_it_sent_them() {
        let b = hex(V3_JOIN);
        let p = parse(&b).unwrap().unwrap();
        assert_eq!((p.src, p.dst), ([198, 18, 9, 1], [224, 0, 0, 22]));
        // CHANGE_TO_EXCLUDE {}: a join for any source.
        assert_eq!(records(&p), [Ok((4, [239, 1, 2, 3], vec![]))]);
        let b = hex(V3_ALLOW_AND_JOIN);
        let p = parse(&b).unwrap().unwrap();
        assert_eq!(
            records(&p),
            [
                Ok((5, [239, 9, 9, 9], vec![[198, 18, 9, 7]])),
                Ok((4, [239, 1, 2, 3], vec![]))
            ]
        );
        let b = hex(V2_REPORT_HEX);
        assert!(matches!(
            parse(&b).unwrap().unwrap().msg,
            Message::Report {
                version: 2,
                group: [239, 4, 5, 6]
            }
        ));
        let b = hex(V2_LEAVE);
        let p = parse(&b).unwrap().unwrap();
        assert_eq!(p.dst, [224, 0, 0, 2]);
        assert!(matches!(
            p.msg,
            Message::Leave {
                group: [239, 4, 5, 6]
            }
        ));
    }

    /// An IPv4 packet around an IGMP message, checksums filled in.
    fn packet(dst: [u8; 4], igmp: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x45, 0xc0, 0, 0, 0, 0, 0x40, 0, 1, 2, 0, 0];
        ip.extend_from_slice(&[198, 18, 9, 1]);
        ip.extend_from_slice(&dst);
        let total = (20 + igmp.len()) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let c = csum::checksum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut m = igmp.to_vec();
        m[2] = 0;
        m[3] = 0;
        let c = csum::checksum(&[&m]);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&m);
        ip
    }

    #[test]
    fn queries_of_each_version() {
        let v1 = packet(ALL_HOSTS, &[QUERY, 0, 0, 0, 0, 0, 0, 0]);
        let v2 = packet([239, 1, 2, 3], &[QUERY, 10, 0, 0, 239, 1, 2, 3]);
        // v3 group-and-source query: code 0x8a ((16 + 10) << 3 = 208), S flag,
        // QRV 2, QQIC 125, one source.
        let v3 = packet(
            [239, 1, 2, 3],
            &[
                QUERY, 0x8a, 0, 0, 239, 1, 2, 3, 0x0a, 125, 0, 1, 198, 18, 0, 9,
            ],
        );
        let q = |b: &[u8]| match parse(b).unwrap().unwrap().msg {
            Message::Query {
                version,
                group,
                max_resp,
                suppress,
                qrv,
                qqi,
                sources,
            } => (
                version,
                group,
                max_resp,
                suppress,
                qrv,
                qqi,
                sources.iter().collect::<Vec<_>>(),
            ),
            m => panic!("{m:?}"),
        };
        assert_eq!(q(&v1), (1, [0; 4], 100, false, 0, 0, vec![]));
        assert_eq!(q(&v2), (2, [239, 1, 2, 3], 10, false, 0, 0, vec![]));
        assert_eq!(
            q(&v3),
            (3, [239, 1, 2, 3], 208, true, 2, 125, vec![[198, 18, 0, 9]])
        );
    }

    #[test]
    fn the_code_decodes_as_rfc_3376_says() {
        assert_eq!(decode_code(100), 100);
        assert_eq!(decode_code(127), 127);
        // 0x80: mantissa 0, exponent 0 → 16 << 3.
        assert_eq!(decode_code(0x80), 128);
        assert_eq!(decode_code(0xff), 31 << 10);
    }

    /// Every malformation has its name, and what is not IGMP is not an
    /// error.
    #[test]
    fn malformed_messages_are_named() {
        let good = hex(V3_ALLOW_AND_JOIN);
        let mut bad_ip = good.clone();
        bad_ip[8] ^= 1;
        assert_eq!(parse(&bad_ip).unwrap_err(), IgmpError::BadIpChecksum);
        assert_eq!(parse(&good[..19]).unwrap_err(), IgmpError::BadIpHeader);
        // Cut short: the total length no longer fits.
        assert_eq!(
            parse(&good[..good.len() - 1]).unwrap_err(),
            IgmpError::BadIpHeader
        );
        let mut bad_sum = good.clone();
        bad_sum[24 + 9] ^= 1;
        assert_eq!(parse(&bad_sum).unwrap_err(), IgmpError::BadChecksum);
        assert_eq!(
            parse(&packet([224, 0, 0, 22], &[V2_REPORT, 0, 0, 0])).unwrap_err(),
            IgmpError::Truncated
        );
        assert_eq!(
            parse(&packet(ALL_HOSTS, &[QUERY, 0, 0, 0, 0, 0, 0, 0, 0, 0])).unwrap_err(),
            IgmpError::BadQueryLength
        );
        assert_eq!(
            parse(&packet([224, 0, 0, 9], &[QUERY, 10, 0, 0, 0, 0, 0, 0])).unwrap_err(),
            IgmpError::GeneralQueryNotToAllHosts
        );
        assert_eq!(
            parse(&packet(
                ALL_HOSTS,
                &[QUERY, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 1, 2, 3, 4]
            ))
            .unwrap_err(),
            IgmpError::SourcesOverrun
        );
        // A v3 report whose second record claims 300 sources: the first
        // record is read, then the error, as the kernel applies them.
        let r = packet(
            [224, 0, 0, 22],
            &[
                V3_REPORT, 0, 0, 0, 0, 0, 0, 2, 4, 0, 0, 0, 239, 1, 2, 3, 1, 0, 1, 44, 239, 1, 2, 4,
            ],
        );
        let p = parse(&r).unwrap().unwrap();
        assert_eq!(
            records(&p),
            [
                Ok((4, [239, 1, 2, 3], vec![])),
                Err(IgmpError::SourcesOverrun)
            ]
        );
        // Not IGMP (UDP), and an IGMP type snooping ignores (DVMRP).
        let mut udp = packet([239, 1, 2, 3], &[0; 8]);
        udp[9] = 17;
        let c = {
            udp[10] = 0;
            udp[11] = 0;
            csum::checksum(&[&udp[..20]])
        };
        udp[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(parse(&udp).unwrap().is_none());
        assert!(parse(&packet([224, 0, 0, 4], &[0x13, 0, 0, 0, 0, 0, 0, 0]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn reports_are_built_as_the_kernel_sends_them() {
        let src = [198, 18, 9, 1];
        assert_eq!(report(2, src, [239, 4, 5, 6]), hex(V2_REPORT_HEX));
        assert_eq!(leave(src, [239, 4, 5, 6]), hex(V2_LEAVE));
        assert_eq!(report_v3(src, &[(4, [239, 1, 2, 3], &[])]), hex(V3_JOIN));
        assert_eq!(
            report_v3(
                src,
                &[
                    (5, [239, 9, 9, 9], &[[198, 18, 9, 7]]),
                    (4, [239, 1, 2, 3], &[])
                ]
            ),
            hex(V3_ALLOW_AND_JOIN)
        );
        let q = query([0; 4], ALL_HOSTS, 2, [0; 4], 100, 0, false, &[]);
        let p = parse(&q).unwrap().unwrap();
        assert!(
            matches!(
                p.msg,
                Message::Query {
                    version: 2,
                    max_resp: 100,
                    ..
                }
            ),
            "{p:?}"
        );
    }
}
