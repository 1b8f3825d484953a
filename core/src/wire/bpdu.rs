//! Spanning-tree BPDUs (802.1D config and TCN), as the kernel builds and
//! parses them (`br_stp_bpdu.c`). BEHAVIOUR.md §1.7.
//!
//! On the wire: an 802.3 frame to 01:80:C2:00:00:00 whose length field
//! counts LLC + BPDU, LLC 42-42-03, then the BPDU. Times travel in 1/256 s;
//! the kernel converts from jiffies by truncation and back by rounding up,
//! and so do we (with HZ = 1000), so our BPDUs are bit-identical to its.

use crate::wire::{Frame, Mac};
use std::fmt;
use std::time::Duration;

/// The bridge group address (`group_address` default).
pub const STP_GROUP: Mac = Mac([0x01, 0x80, 0xc2, 0x00, 0x00, 0x00]);
const LLC: [u8; 3] = [0x42, 0x42, 0x03];
pub const TYPE_CONFIG: u8 = 0x00;
pub const TYPE_TCN: u8 = 0x80;
pub const TYPE_RST: u8 = 0x02;
/// Config BPDU length (after LLC).
pub const CONFIG_LEN: usize = 35;
pub const TCN_LEN: usize = 4;
/// RST BPDU length (config + version 1 length).
pub const RST_LEN: usize = 36;

mod field {
    pub const FLAGS: usize = 4;
    pub const ROOT: std::ops::Range<usize> = 5..13;
    pub const COST: std::ops::Range<usize> = 13..17;
    pub const BRIDGE: std::ops::Range<usize> = 17..25;
    pub const PORT: std::ops::Range<usize> = 25..27;
    pub const MESSAGE_AGE: usize = 27;
    pub const MAX_AGE: usize = 29;
    pub const HELLO: usize = 31;
    pub const FORWARD_DELAY: usize = 33;
}

/// Priority (2 bytes) and MAC: compared as bytes, like the kernel's memcmp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BridgeId(pub [u8; 8]);

impl BridgeId {
    pub fn new(priority: u16, mac: Mac) -> BridgeId {
        let p = priority.to_be_bytes();
        let m = mac.0;
        BridgeId([p[0], p[1], m[0], m[1], m[2], m[3], m[4], m[5]])
    }
    pub fn priority(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }
    pub fn mac(&self) -> Mac {
        Mac(self.0[2..].try_into().expect("6 bytes"))
    }
    pub fn with_priority(self, priority: u16) -> BridgeId {
        BridgeId::new(priority, self.mac())
    }

    /// As iproute2 prints it (`br_dump_bridge_id`: `ether_ntoa_r`, so no
    /// leading zeros in the octets): `8000.2:0:0:0:0:a`.
    pub fn iproute2(&self) -> String {
        let m = self.mac().0;
        format!(
            "{:02x}{:02x}.{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
            self.0[0], self.0[1], m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }

    /// Parses either form.
    pub fn parse(s: &str) -> Option<BridgeId> {
        let (prio, mac) = s.split_once('.')?;
        let prio = u16::from_str_radix(prio, 16).ok()?;
        Some(BridgeId::new(prio, mac.parse().ok()?))
    }
}

/// iproute2's form: `8000.aa:bb:cc:dd:ee:ff`.
impl fmt::Display for BridgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}{:02x}.{}", self.0[0], self.0[1], self.mac())
    }
}

/// A config BPDU, times as durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigBpdu {
    pub topology_change: bool,
    pub topology_change_ack: bool,
    pub root: BridgeId,
    pub root_path_cost: u32,
    pub bridge_id: BridgeId,
    pub port_id: u16,
    pub message_age: Duration,
    pub max_age: Duration,
    pub hello_time: Duration,
    pub forward_delay: Duration,
}

/// Port role as an RST BPDU carries it (flags bits 2–3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RstRole {
    /// 0: master (MSTP) or unknown.
    Unknown,
    AlternateOrBackup,
    Root,
    Designated,
}

/// An RST BPDU (802.1D-2004 §9.3.3): the config fields plus the RSTP
/// flags. `config.topology_change_ack` is the TC-ack bit (bit 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstBpdu {
    pub config: ConfigBpdu,
    pub proposal: bool,
    pub role: RstRole,
    pub learning: bool,
    pub forwarding: bool,
    pub agreement: bool,
    /// 2 (RSTP) or 3 (MSTP; only the CIST part is read).
    pub version: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bpdu {
    Config(ConfigBpdu),
    Tcn,
    Rst(RstBpdu),
}

/// Why a received BPDU was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BpduError {
    /// Not 802.3 + LLC 42-42-03.
    NotStp,
    Truncated,
    /// Protocol id or version not 0 (the kernel ignores RST/MST BPDUs).
    Version(u8),
    UnknownType(u8),
}

/// `br_set_ticks`: jiffies (HZ 1000 = ms, truncated) to 1/256 s, truncated.
pub fn to_ticks(d: Duration) -> u16 {
    let ms = d.as_millis() as u64;
    ((ms * 256) / 1000).min(u64::from(u16::MAX)) as u16
}

/// `br_get_ticks`: 1/256 s to jiffies, rounded up.
pub fn from_ticks(t: u16) -> Duration {
    Duration::from_millis((u64::from(t) * 1000).div_ceil(256))
}

impl Bpdu {
    /// Parses the bytes after LLC.
    pub fn parse(b: &[u8]) -> Result<Bpdu, BpduError> {
        if b.len() < TCN_LEN {
            return Err(BpduError::Truncated);
        }
        if b[0] != 0 || b[1] != 0 {
            return Err(BpduError::NotStp);
        }
        if b[3] == TYPE_RST {
            if b[2] < 2 {
                return Err(BpduError::Version(b[2]));
            }
            if b.len() < RST_LEN {
                return Err(BpduError::Truncated);
            }
            let config = Self::config_fields(b);
            let f = b[field::FLAGS];
            return Ok(Bpdu::Rst(RstBpdu {
                config,
                proposal: f & 0x02 != 0,
                role: match (f >> 2) & 3 {
                    0 => RstRole::Unknown,
                    1 => RstRole::AlternateOrBackup,
                    2 => RstRole::Root,
                    _ => RstRole::Designated,
                },
                learning: f & 0x10 != 0,
                forwarding: f & 0x20 != 0,
                agreement: f & 0x40 != 0,
                version: b[2],
            }));
        }
        if b[2] != 0 {
            // Config and TCN BPDUs of a later version: what kernel STP
            // refuses (`br_stp_rcv` checks the version byte).
            return Err(BpduError::Version(b[2]));
        }
        match b[3] {
            TYPE_TCN => Ok(Bpdu::Tcn),
            TYPE_CONFIG => {
                if b.len() < CONFIG_LEN {
                    return Err(BpduError::Truncated);
                }
                Ok(Bpdu::Config(Self::config_fields(b)))
            }
            t => Err(BpduError::UnknownType(t)),
        }
    }

    /// The fields config and RST BPDUs share (`b` is long enough).
    pub(crate) fn config_fields(b: &[u8]) -> ConfigBpdu {
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        ConfigBpdu {
            topology_change: b[field::FLAGS] & 0x01 != 0,
            topology_change_ack: b[field::FLAGS] & 0x80 != 0,
            root: BridgeId(b[field::ROOT].try_into().expect("8")),
            root_path_cost: u32::from_be_bytes(b[field::COST].try_into().expect("4")),
            bridge_id: BridgeId(b[field::BRIDGE].try_into().expect("8")),
            port_id: u16::from_be_bytes(b[field::PORT].try_into().expect("2")),
            message_age: from_ticks(u16at(field::MESSAGE_AGE)),
            max_age: from_ticks(u16at(field::MAX_AGE)),
            hello_time: from_ticks(u16at(field::HELLO)),
            forward_delay: from_ticks(u16at(field::FORWARD_DELAY)),
        }
    }

    /// The bytes after LLC.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let fields = |out: &mut Vec<u8>, c: &ConfigBpdu| {
            out.extend_from_slice(&c.root.0);
            out.extend_from_slice(&c.root_path_cost.to_be_bytes());
            out.extend_from_slice(&c.bridge_id.0);
            out.extend_from_slice(&c.port_id.to_be_bytes());
            for d in [c.message_age, c.max_age, c.hello_time, c.forward_delay] {
                out.extend_from_slice(&to_ticks(d).to_be_bytes());
            }
        };
        match self {
            Bpdu::Tcn => out.extend_from_slice(&[0, 0, 0, TYPE_TCN]),
            Bpdu::Rst(r) => {
                let c = &r.config;
                out.extend_from_slice(&[0, 0, r.version, TYPE_RST]);
                let role = match r.role {
                    RstRole::Unknown => 0,
                    RstRole::AlternateOrBackup => 1,
                    RstRole::Root => 2,
                    RstRole::Designated => 3,
                };
                out.push(
                    u8::from(c.topology_change)
                        | u8::from(r.proposal) << 1
                        | role << 2
                        | u8::from(r.learning) << 4
                        | u8::from(r.forwarding) << 5
                        | u8::from(r.agreement) << 6
                        | u8::from(c.topology_change_ack) << 7,
                );
                fields(out, c);
                out.push(0); // version 1 length
            }
            Bpdu::Config(c) => {
                out.extend_from_slice(&[0, 0, 0, TYPE_CONFIG]);
                out.push(
                    u8::from(c.topology_change) | if c.topology_change_ack { 0x80 } else { 0 },
                );
                fields(out, c);
            }
        }
    }

    /// The whole frame the kernel sends: 802.3 header, LLC, BPDU, no padding.
    pub fn frame(&self, src: Mac) -> Vec<u8> {
        let mut body = Vec::with_capacity(CONFIG_LEN);
        self.emit(&mut body);
        let mut f = Vec::with_capacity(17 + body.len());
        f.extend_from_slice(&STP_GROUP.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&((LLC.len() + body.len()) as u16).to_be_bytes());
        f.extend_from_slice(&LLC);
        f.extend_from_slice(&body);
        f
    }
}

/// The BPDU bytes of a received frame (after the 802.3 length and LLC).
pub fn payload<'a>(frame: &Frame<'a>) -> Result<&'a [u8], BpduError> {
    let b = frame.body();
    let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
    if len >= 0x600 || b.len() < 5 || b[2..5] != LLC {
        return Err(BpduError::NotStp);
    }
    let end = (2 + len).min(b.len());
    Ok(&b[5..end.max(5)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Offload;

    #[test]
    fn tick_conversions_round_like_the_kernel() {
        assert_eq!(to_ticks(Duration::from_secs(20)), 5120);
        assert_eq!(to_ticks(Duration::from_secs(2)), 512);
        assert_eq!(to_ticks(Duration::from_secs(15)), 3840);
        // MESSAGE_AGE_INCR: 4 jiffies = 1.024 ticks → 1.
        assert_eq!(to_ticks(Duration::from_millis(4)), 1);
        assert_eq!(from_ticks(1), Duration::from_millis(4));
        assert_eq!(from_ticks(5120), Duration::from_secs(20));
    }

    #[test]
    fn config_bpdu_bytes() {
        let mac: Mac = "02:00:00:00:00:01".parse().unwrap();
        let c = ConfigBpdu {
            topology_change: true,
            topology_change_ack: false,
            root: BridgeId::new(0x8000, mac),
            root_path_cost: 4,
            bridge_id: BridgeId::new(0x8000, mac),
            port_id: 0x8001,
            message_age: Duration::ZERO,
            max_age: Duration::from_secs(20),
            hello_time: Duration::from_secs(2),
            forward_delay: Duration::from_secs(15),
        };
        let f = Bpdu::Config(c).frame(mac);
        assert_eq!(
            f.len(),
            52,
            "14 + 3 LLC + 35, unpadded, as the kernel sends it"
        );
        assert_eq!(&f[12..14], &38u16.to_be_bytes());
        assert_eq!(&f[14..17], &LLC);
        assert_eq!(&f[17..22], &[0, 0, 0, 0, 0x01]);
        assert_eq!(&f[44..52], &[0, 0, 0x14, 0, 0x02, 0, 0x0f, 0]);
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(Bpdu::parse(payload(&frame).unwrap()), Ok(Bpdu::Config(c)));
        let tcn = Bpdu::Tcn.frame(mac);
        assert_eq!(tcn.len(), 21);
        let frame = Frame::parse(&tcn, None, Offload::NONE).unwrap();
        assert_eq!(Bpdu::parse(payload(&frame).unwrap()), Ok(Bpdu::Tcn));
    }

    #[test]
    fn rst_bpdu_round_trips_with_its_flags() {
        let mac: Mac = "02:00:00:00:00:07".parse().unwrap();
        let config = ConfigBpdu {
            topology_change: false,
            topology_change_ack: false,
            root: BridgeId::new(0x8000, mac),
            root_path_cost: 20000,
            bridge_id: BridgeId::new(0x8000, mac),
            port_id: 0x8002,
            message_age: Duration::from_secs(1),
            max_age: Duration::from_secs(20),
            hello_time: Duration::from_secs(2),
            forward_delay: Duration::from_secs(15),
        };
        let r = RstBpdu {
            config,
            proposal: true,
            role: RstRole::Designated,
            learning: true,
            forwarding: false,
            agreement: false,
            version: 2,
        };
        let f = Bpdu::Rst(r).frame(mac);
        assert_eq!(f.len(), 14 + 3 + RST_LEN);
        assert_eq!(
            &f[17..22],
            &[0, 0, 2, TYPE_RST, 0b0001_1110],
            "proposal, role designated, learning"
        );
        assert_eq!(f[f.len() - 1], 0, "version 1 length");
        let frame = Frame::parse(&f, None, Offload::NONE).unwrap();
        assert_eq!(Bpdu::parse(payload(&frame).unwrap()), Ok(Bpdu::Rst(r)));
    }

    #[test]
    fn later_versions_and_garbage_are_refused_as_kernel_stp_does() {
        let mut cfg = vec![0, 0, 2, TYPE_CONFIG];
        cfg.resize(36, 0);
        assert_eq!(Bpdu::parse(&cfg), Err(BpduError::Version(2)));
        let mut rst = vec![0, 0, 0, TYPE_RST];
        rst.resize(36, 0);
        assert_eq!(Bpdu::parse(&rst), Err(BpduError::Version(0)));
        assert_eq!(
            Bpdu::parse(&[0, 0, 0, TYPE_CONFIG, 0]),
            Err(BpduError::Truncated)
        );
        assert_eq!(
            Bpdu::parse(&[0, 0, 0, 0x55]),
            Err(BpduError::UnknownType(0x55))
        );
        let id = BridgeId::new(0x1000, "02:00:00:00:00:0a".parse().unwrap());
        assert_eq!(id.to_string(), "1000.02:00:00:00:00:0a");
        assert_eq!(id.iproute2(), "1000.2:0:0:0:0:a");
        assert_eq!(BridgeId::parse("1000.2:0:0:0:0:a"), Some(id));
        assert!(BridgeId::new(0x1000, Mac::local(9)) < BridgeId::new(0x8000, Mac::local(1)));
    }
}
