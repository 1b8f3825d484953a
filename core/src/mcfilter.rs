//! The multicast filter of a device patchbay exposes as a TAP (macvlan,
//! ipvlan): broadcast, the groups every host is in, and the groups its host
//! joined, learned from the IGMP and MLD reports it sends. The kernel reads
//! the device's own multicast list; patchbay's device is a TAP whose list it
//! cannot see, but every join that matters on the wire is reported.

use crate::wire::Mac;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McFilter {
    pub groups: Vec<Mac>,
}

/// Groups every device is in without reporting them: IPv4 all-hosts
/// (224.0.0.1) and IPv6 all-nodes (ff02::1).
pub const ALWAYS: [Mac; 2] = [Mac([0x01, 0, 0x5e, 0, 0, 1]), Mac([0x33, 0x33, 0, 0, 0, 1])];

fn ipv4_group(g: &[u8]) -> Mac {
    Mac([0x01, 0, 0x5e, g[1] & 0x7f, g[2], g[3]])
}

fn ipv6_group(g: &[u8]) -> Mac {
    Mac([0x33, 0x33, g[12], g[13], g[14], g[15]])
}

impl McFilter {
    /// Broadcast, 224.0.0.1 and ff02::1, and the groups joined.
    pub fn accepts(&self, dst: Mac) -> bool {
        dst == Mac::BROADCAST || ALWAYS.contains(&dst) || self.groups.contains(&dst)
    }

    fn join(&mut self, g: Mac, on: bool) {
        if on {
            if !self.groups.contains(&g) && self.groups.len() < 256 {
                self.groups.push(g);
            }
        } else {
            self.groups.retain(|x| *x != g);
        }
    }

    /// Learns the groups from a frame the device's host sends (`body`
    /// from the ethertype on): IGMPv1/v2/v3 reports and leaves, MLDv1/v2
    /// reports and dones.
    pub fn snoop(&mut self, ethertype: u16, body: &[u8]) {
        let ip = body.get(2..).unwrap_or(&[]);
        match ethertype {
            crate::wire::ethertype::IPV4 if ip.len() >= 20 && ip[9] == 2 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let Some(m) = ip.get(ihl..) else { return };
                match m.first() {
                    Some(0x12 | 0x16) if m.len() >= 8 => self.join(ipv4_group(&m[4..8]), true),
                    Some(0x17) if m.len() >= 8 => self.join(ipv4_group(&m[4..8]), false),
                    Some(0x22) if m.len() >= 8 => {
                        let n = usize::from(u16::from_be_bytes([m[6], m[7]]));
                        let mut r = &m[8..];
                        for _ in 0..n {
                            if r.len() < 8 {
                                break;
                            }
                            let (typ, aux, nsrc) = (
                                r[0],
                                usize::from(r[1]),
                                usize::from(u16::from_be_bytes([r[2], r[3]])),
                            );
                            // INCLUDE with no sources is a leave.
                            let on = !(matches!(typ, 1 | 3) && nsrc == 0);
                            self.join(ipv4_group(&r[4..8]), on);
                            r = r.get(8 + 4 * nsrc + 4 * aux..).unwrap_or(&[]);
                        }
                    }
                    _ => {}
                }
            }
            crate::wire::ethertype::IPV6 if ip.len() >= 48 => {
                // MLD rides behind a hop-by-hop header (router alert).
                let (mut next, mut off) = (ip[6], 40);
                if next == 0 {
                    next = ip[40];
                    off += (usize::from(ip[41]) + 1) * 8;
                }
                let Some(m) = ip.get(off..).filter(|_| next == 58) else {
                    return;
                };
                match m.first() {
                    Some(131) if m.len() >= 24 => self.join(ipv6_group(&m[8..24]), true),
                    Some(132) if m.len() >= 24 => self.join(ipv6_group(&m[8..24]), false),
                    Some(143) if m.len() >= 8 => {
                        let n = usize::from(u16::from_be_bytes([m[6], m[7]]));
                        let mut r = &m[8..];
                        for _ in 0..n {
                            if r.len() < 20 {
                                break;
                            }
                            let (typ, aux, nsrc) = (
                                r[0],
                                usize::from(r[1]),
                                usize::from(u16::from_be_bytes([r[2], r[3]])),
                            );
                            let on = !(matches!(typ, 1 | 3) && nsrc == 0);
                            self.join(ipv6_group(&r[4..20]), on);
                            r = r.get(20 + 16 * nsrc + 4 * aux..).unwrap_or(&[]);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}
