//! Per-interface counters and the named reasons a frame is dropped.
//!
//! The data plane never returns an error: a frame that goes nowhere is one
//! increment of one of these reasons, so `patchbay stats` can say why.

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// Why a frame was dropped. The name is what `patchbay stats` prints.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason { $(#[doc = $doc] $variant,)* }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();
            pub fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }
        }
    };
}

drop_reasons! {
    Runt => "runt": "shorter than an Ethernet header (14 bytes)",
    TruncatedTag => "truncated_tag": "a VLAN TPID with no room for the tag after it",
    Oversize => "oversize": "longer than the interface MTU allows, and not a GSO frame",
    BadOffload => "bad_offload": "checksum/GSO metadata that points outside the frame",
    InvalidSrcMac => "invalid_src_mac": "source MAC is multicast or all zeros",
    AdminDown => "admin_down": "the interface is administratively down",
    NoCarrier => "no_carrier": "the port has no carrier (its wire or peer is down)",
    PortState => "port_state": "the bridge port is not learning or forwarding",
    Pause => "pause": "an 802.3x PAUSE frame (01:80:C2:00:00:01)",
    BadBpdu => "bad_bpdu": "a frame to the STP group address that is not a usable 802.1D BPDU",
    LinkLocal => "link_local": "a link-local frame (01:80:C2:00:00:0X) not in group_fwd_mask, and no host to take it",
    VlanIngress => "vlan_ingress": "VLAN filtering: the VID is not configured on the ingress port",
    NoPvid => "no_pvid": "VLAN filtering: an untagged frame on a port without a PVID",
    NoRoute => "no_egress": "the forwarding decision left no port to send to",
    Unclaimed => "unclaimed": "no upper device or host took the frame",
    LoopDepth => "stack_depth": "the interface stack is deeper than the core walks",
    RxRingFull => "rx_ring_full": "the ring to the forwarding worker was full (pipeline layout)",
    TxFull => "tx_full": "the transmit batch of the attachment, or the kernel's queue under it, was full",
    TxError => "tx_error": "the attachment refused the frame when it was sent",
    TxTooBig => "tx_too_big": "the netdev under the attachment refused the frame as too big for its MTU (EMSGSIZE)",
    NoSlave => "no_slave": "bond: no member can transmit (none, all down, or no active aggregator)",
    InactiveSlave => "inactive_slave": "bond: received on a backup or inactive member (kept for listeners on that member only)",
    GsoEncap => "gso_encap": "vxlan: a segmentation-offload frame patchbay cannot segment before encapsulating (UDP GSO, or headers it cannot read)",
    BadVxlan => "bad_vxlan": "vxlan: a datagram without the I flag, with reserved bits set, or shorter than the header",
    Injected => "injected": "netdevsim: dropped by the port's fault injection (drop P%)",
    IgmpBadIpHeader => "igmp_bad_ip_header": "multicast snooping: an IPv4 header that is short, not version 4, or whose lengths do not fit",
    IgmpBadIpChecksum => "igmp_bad_ip_checksum": "multicast snooping: an IPv4 header whose checksum does not verify",
    IgmpTruncated => "igmp_truncated": "multicast snooping: IGMP shorter than its 8-byte header",
    IgmpBadChecksum => "igmp_bad_checksum": "multicast snooping: an IGMP checksum that does not verify",
    IgmpBadQueryLength => "igmp_bad_query_length": "multicast snooping: an IGMP query of 9 to 11 bytes (neither v2 nor v3)",
    IgmpGeneralQueryNotToAllHosts => "igmp_general_query_not_to_all_hosts": "multicast snooping: a general IGMP query not sent to 224.0.0.1",
    IgmpSourcesOverrun => "igmp_sources_overrun": "multicast snooping: an IGMP source list or v3 record that runs past the message",
    MldBadIpHeader => "mld_bad_ip_header": "multicast snooping: an IPv6 header that is short, not version 6, or whose payload does not fit",
    MldBadExtensionHeader => "mld_bad_extension_header": "multicast snooping: an IPv6 extension header that runs past the packet",
    MldTruncated => "mld_truncated": "multicast snooping: ICMPv6 shorter than its 8-byte header",
    MldBadChecksum => "mld_bad_checksum": "multicast snooping: an ICMPv6 checksum that does not verify",
    MldQueryNotLinkLocal => "mld_query_not_link_local": "multicast snooping: an MLD query from an address that is not link-local",
    MldBadQueryLength => "mld_bad_query_length": "multicast snooping: an MLD query of 25 to 27 bytes (neither v1 nor v2)",
    MldGeneralQueryNotToAllNodes => "mld_general_query_not_to_all_nodes": "multicast snooping: a general MLD query not sent to ff02::1",
    MldSourcesOverrun => "mld_sources_overrun": "multicast snooping: an MLD source list or v2 record that runs past the message",
    MdbFull => "mdb_full": "multicast snooping: a join past mcast_hash_max; the bridge turned snooping off, as the kernel does",
}

/// Counters for one interface, in the kernel's sense of rx and tx: rx is what
/// the device received from below, tx what it sent down.
#[derive(Clone, Debug)]
pub struct Counters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drops: [u64; DropReason::COUNT],
    pub fates: Fates,
}

/// What became of the frames the daemon read from a device's attachment
/// (or its underlay): each ends in exactly one of these. `forwarded`: at
/// least one copy was queued to an attachment, an underlay or a route
/// (a copy the kernel then refuses is a `tx_*` drop of the egress
/// device as well); `delivered`: taken by the device's own stack or a
/// protocol (a BPDU, a LACPDU, a frame the kernel's stack behind an
/// external netdev has already, one held back by fault injection);
/// `dropped`: neither, and counted under a named reason somewhere on its
/// way. `unaccounted` is a frame that did none of these: a defect, which
/// the storm-and-soak test checks stays zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fates {
    pub read: u64,
    pub forwarded: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub unaccounted: u64,
}

impl Fates {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "read": self.read,
            "forwarded": self.forwarded,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "unaccounted": self.unaccounted,
        })
    }
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
            drops: [0; DropReason::COUNT],
            fates: Fates::default(),
        }
    }
}

impl Counters {
    #[inline]
    pub fn rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    #[inline]
    pub fn tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }

    /// A frame counted as sent that the kernel then refused: it is a drop
    /// for `reason` instead, so `tx_packets` counts what was taken.
    pub fn unsent(&mut self, reason: DropReason, len: usize) {
        self.tx_packets = self.tx_packets.saturating_sub(1);
        self.tx_bytes = self.tx_bytes.saturating_sub(len as u64);
        self.drops[reason as usize] += 1;
    }

    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let drops: serde_json::Map<String, serde_json::Value> = DropReason::ALL
            .iter()
            .filter(|r| self.dropped(**r) > 0)
            .map(|r| (r.name().to_string(), self.dropped(*r).into()))
            .collect();
        let mut v = serde_json::json!({
            "rx_packets": self.rx_packets,
            "rx_bytes": self.rx_bytes,
            "tx_packets": self.tx_packets,
            "tx_bytes": self.tx_bytes,
            "dropped": self.total_drops(),
            "drops": drops,
        });
        if self.fates.read > 0 {
            v["fates"] = self.fates.to_json();
        }
        v
    }
}
