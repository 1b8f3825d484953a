//! 802.1Q / 802.1ad VLAN devices (`net/8021q/`). BEHAVIOUR.md §4.
//!
//! A VLAN device sits on a lower interface. Received frames whose outer tag
//! matches (protocol, VID) are handed to it with the tag removed
//! (`reorder_hdr` on, the default); frames it sends get the tag pushed and go
//! down to the lower device. A VLAN on a VLAN is QinQ.

use crate::wire::{Tag, VlanProtocol};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanDev {
    pub id: u16,
    pub protocol: VlanProtocol,
}

impl VlanDev {
    /// The tag this device pushes on transmit (egress-qos-map empty: PCP 0).
    pub fn tag(&self) -> Tag {
        Tag::new(self.protocol.tpid(), self.id, 0)
    }

    /// Whether a received outer tag belongs to this device.
    pub fn matches(&self, tag: Tag) -> bool {
        tag.tpid == self.protocol.tpid() && tag.vid() == self.id
    }
}
