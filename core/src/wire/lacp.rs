//! LACPDUs and marker PDUs (IEEE 802.1AX, slow protocols), laid out as the
//! kernel's `struct lacpdu` and `struct bond_marker`. BEHAVIOUR.md §2.4.
//!
//! Both are 110 bytes after the Ethernet header: destination
//! 01:80:C2:00:00:02, EtherType 0x8809, the sender's permanent MAC as
//! source; 124 bytes in all, so never padded.

use crate::wire::Mac;

/// The slow-protocols group address (`MULTICAST_LACPDU_ADDR`).
pub const LACP_GROUP: Mac = Mac([0x01, 0x80, 0xc2, 0x00, 0x00, 0x02]);
/// EtherType of the slow protocols (`PKT_TYPE_LACPDU`).
pub const ETHERTYPE_SLOW: u16 = 0x8809;
/// Length of a LACPDU or marker PDU after the Ethernet header.
pub const PDU_LEN: usize = 110;
pub const SUBTYPE_LACP: u8 = 0x01;
pub const SUBTYPE_MARKER: u8 = 0x02;
pub const MARKER_INFORMATION: u8 = 0x01;
pub const MARKER_RESPONSE: u8 = 0x02;

/// Port state bits (802.1AX 6.4.2.3; `LACP_STATE_*`).
pub mod state {
    pub const ACTIVITY: u8 = 0x01;
    pub const TIMEOUT: u8 = 0x02;
    pub const AGGREGATION: u8 = 0x04;
    pub const SYNCHRONIZATION: u8 = 0x08;
    pub const COLLECTING: u8 = 0x10;
    pub const DISTRIBUTING: u8 = 0x20;
    pub const DEFAULTED: u8 = 0x40;
    pub const EXPIRED: u8 = 0x80;
}

/// One side's information in a LACPDU (`struct port_params` as sent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortInfo {
    pub system_priority: u16,
    pub system: Mac,
    pub key: u16,
    pub port_priority: u16,
    pub port: u16,
    pub state: u8,
}

impl PortInfo {
    fn emit(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.system_priority.to_be_bytes());
        out[2..8].copy_from_slice(&self.system.0);
        out[8..10].copy_from_slice(&self.key.to_be_bytes());
        out[10..12].copy_from_slice(&self.port_priority.to_be_bytes());
        out[12..14].copy_from_slice(&self.port.to_be_bytes());
        out[14] = self.state;
    }

    fn parse(b: &[u8]) -> PortInfo {
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        PortInfo {
            system_priority: u16at(0),
            system: Mac(b[2..8].try_into().expect("6 bytes")),
            key: u16at(8),
            port_priority: u16at(10),
            port: u16at(12),
            state: b[14],
        }
    }
}

/// A LACPDU: actor and partner information; the collector's max delay is
/// always 0 from the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lacpdu {
    pub actor: PortInfo,
    pub partner: PortInfo,
    pub collector_max_delay: u16,
}

impl Lacpdu {
    /// The 110 bytes after the Ethernet header, as `ad_initialize_port`
    /// fills the template and `__update_lacpdu_from_port` the fields.
    pub fn emit(&self) -> [u8; PDU_LEN] {
        let mut b = [0u8; PDU_LEN];
        b[0] = SUBTYPE_LACP;
        b[1] = 0x01; // version
        b[2] = 0x01; // actor TLV
        b[3] = 0x14;
        self.actor.emit(&mut b[4..19]);
        b[22] = 0x02; // partner TLV
        b[23] = 0x14;
        self.partner.emit(&mut b[24..39]);
        b[42] = 0x03; // collector TLV
        b[43] = 0x10;
        b[44..46].copy_from_slice(&self.collector_max_delay.to_be_bytes());
        // 12 reserved, terminator TLV (0, 0), 50 reserved: zero.
        b
    }

    /// A LACPDU as the kernel takes it: subtype 1 and 110 bytes; the other
    /// header fields are not checked (`bond_3ad_rx_indication`).
    pub fn parse(b: &[u8]) -> Option<Lacpdu> {
        if b.len() < PDU_LEN || b[0] != SUBTYPE_LACP {
            return None;
        }
        Some(Lacpdu {
            actor: PortInfo::parse(&b[4..19]),
            partner: PortInfo::parse(&b[24..39]),
            collector_max_delay: u16::from_be_bytes([b[44], b[45]]),
        })
    }
}

/// A marker PDU (`struct bond_marker`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marker {
    /// [`MARKER_INFORMATION`] or [`MARKER_RESPONSE`].
    pub tlv_type: u8,
    pub requester_port: u16,
    pub requester_system: Mac,
    pub requester_transaction_id: u32,
}

impl Marker {
    pub fn emit(&self) -> [u8; PDU_LEN] {
        let mut b = [0u8; PDU_LEN];
        b[0] = SUBTYPE_MARKER;
        b[1] = 0x01;
        b[2] = self.tlv_type;
        // Marker TLV length: 16 (type, length, port, system, transaction,
        // pad), as `struct bond_marker` has it.
        b[3] = 0x10;
        b[4..6].copy_from_slice(&self.requester_port.to_be_bytes());
        b[6..12].copy_from_slice(&self.requester_system.0);
        b[12..16].copy_from_slice(&self.requester_transaction_id.to_be_bytes());
        b
    }

    pub fn parse(b: &[u8]) -> Option<Marker> {
        if b.len() < PDU_LEN || b[0] != SUBTYPE_MARKER {
            return None;
        }
        Some(Marker {
            tlv_type: b[2],
            requester_port: u16::from_be_bytes([b[4], b[5]]),
            requester_system: Mac(b[6..12].try_into().expect("6 bytes")),
            requester_transaction_id: u32::from_be_bytes(b[12..16].try_into().expect("4")),
        })
    }
}

/// A whole slow-protocols frame: header and 110-byte PDU.
pub fn frame(src: Mac, pdu: &[u8; PDU_LEN]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + PDU_LEN);
    f.extend_from_slice(&LACP_GROUP.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ETHERTYPE_SLOW.to_be_bytes());
    f.extend_from_slice(pdu);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lacpdu_layout_is_the_kernels() {
        let p = Lacpdu {
            actor: PortInfo {
                system_priority: 0xffff,
                system: Mac([2, 0, 0, 0, 0, 1]),
                key: 0x0009,
                port_priority: 0x00ff,
                port: 1,
                state: state::ACTIVITY | state::AGGREGATION,
            },
            partner: PortInfo {
                system_priority: 0xffff,
                system: Mac::ZERO,
                key: 1,
                port_priority: 0xff,
                port: 1,
                state: 0,
            },
            collector_max_delay: 0,
        };
        let b = p.emit();
        assert_eq!(&b[..4], &[1, 1, 1, 0x14]);
        assert_eq!(
            &b[4..19],
            &[0xff, 0xff, 2, 0, 0, 0, 0, 1, 0, 9, 0, 0xff, 0, 1, 0x05]
        );
        assert_eq!(&b[19..22], &[0, 0, 0], "reserved");
        assert_eq!(&b[22..24], &[2, 0x14]);
        assert_eq!(&b[42..44], &[3, 0x10]);
        assert_eq!(&b[58..60], &[0, 0], "terminator");
        assert!(b[46..].iter().all(|x| *x == 0));
        assert_eq!(Lacpdu::parse(&b), Some(p));
        assert_eq!(Lacpdu::parse(&b[..109]), None);
        let m = Marker {
            tlv_type: MARKER_INFORMATION,
            requester_port: 3,
            requester_system: Mac([2, 0, 0, 0, 0, 9]),
            requester_transaction_id: 0xdead_beef,
        };
        let mb = m.emit();
        // TLV length 16 (`struct bond_marker`); 0x16 was a bug (issue 24).
        assert_eq!(&mb[..4], &[2, 1, 1, 0x10]);
        assert_eq!(Marker::parse(&mb), Some(m));
        let f = frame(Mac([2, 0, 0, 0, 0, 1]), &b);
        assert_eq!(f.len(), 124);
        assert_eq!(&f[12..14], &[0x88, 0x09]);
    }
}
