//! What a bond or team learns of the host stack above it (the addresses it
//! sends from, its IGMP reports), and the announcer that sends them after a
//! failover: gratuitous ARP and unsolicited neighbour advertisements
//! (`NETDEV_NOTIFY_PEERS`, the bond's `num_grat_arp`, teamd's
//! `notify_peers`), IGMP reports again (`NETDEV_RESEND_IGMP`, the bond's
//! `resend_igmp`, teamd's `mcast_rejoin`). One for bonding and team.

use crate::time::Instant;
use crate::wire::host::{gratuitous_arp, is_igmp, unsolicited_na};
use crate::wire::{ethertype, Frame, Mac};
use std::time::Duration;

/// Addresses and reports seen in frames the host sent from `mac`.
#[derive(Clone, Debug, Default)]
pub struct HostAddrs {
    /// IPv4 addresses the host used (ARP senders): what a gratuitous ARP
    /// announces.
    pub addrs: Vec<[u8; 4]>,
    /// IPv6 addresses the host sent from: what an unsolicited neighbour
    /// advertisement announces.
    pub addrs6: Vec<[u8; 16]>,
    /// The host's last IGMP membership reports (whole frames), one per
    /// group.
    pub igmp_reports: Vec<Vec<u8>>,
}

impl HostAddrs {
    /// Remembers what a frame the host sends says about it.
    pub fn learn(&mut self, mac: Mac, frame: &Frame<'_>) {
        if frame.src() != mac {
            return;
        }
        if is_igmp(frame) {
            let b = frame.body();
            let ihl = usize::from(b[2] & 0x0f) * 4;
            // v1/v2 reports (0x12, 0x16) and v3 reports (0x22).
            if b.get(2 + ihl)
                .is_some_and(|t| matches!(t, 0x12 | 0x16 | 0x22))
            {
                let f = frame.to_vec();
                let group = b.get(2 + 16..2 + 20).map(<[u8]>::to_vec);
                // One report kept per destination group address.
                self.igmp_reports
                    .retain(|r| r.get(30..34).map(<[u8]>::to_vec) != group);
                if self.igmp_reports.len() < 32 {
                    self.igmp_reports.push(f);
                }
            }
            return;
        }
        if frame.ethertype() == ethertype::IPV6 {
            // The host's IPv6 addresses: the sources of what it sends.
            let b = frame.body();
            if b.len() >= 2 + 40 {
                let src: [u8; 16] = b[2 + 8..2 + 24].try_into().expect("16 bytes");
                if src != [0; 16] && !self.addrs6.contains(&src) && self.addrs6.len() < 16 {
                    self.addrs6.push(src);
                }
            }
            return;
        }
        if frame.ethertype() != ethertype::ARP {
            return;
        }
        let b = frame.body();
        if b.len() < 2 + 28 {
            return;
        }
        let spa: [u8; 4] = b[2 + 14..2 + 18].try_into().expect("4 bytes");
        if spa != [0; 4] && !self.addrs.contains(&spa) && self.addrs.len() < 16 {
            self.addrs.push(spa);
        }
    }

    /// One gratuitous ARP per IPv4 address and one unsolicited neighbour
    /// advertisement per IPv6 address, from `mac`.
    pub fn announcements(&self, mac: Mac) -> Vec<Vec<u8>> {
        let garps = self.addrs.iter().map(|a| gratuitous_arp(mac, *a));
        let nas = self.addrs6.iter().map(|a| unsolicited_na(mac, *a));
        garps.chain(nas).collect()
    }
}

/// Rounds of one kind of announcement still to send, and when the next is
/// due where they are timed (teamd's `interval`, the bond's 200 ms between
/// IGMP rounds); the bond's peer notifications are instead taken one per
/// MII monitor run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rounds {
    left: u32,
    next: Option<Instant>,
}

impl Rounds {
    /// `count` rounds, the first due at `now`.
    pub fn start(&mut self, now: Instant, count: u32) {
        self.left = count;
        self.next = (count > 0).then_some(now);
    }

    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Takes one round if any is left (untimed use).
    pub fn take(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        if self.left == 0 {
            self.next = None;
        }
        true
    }

    /// Takes the round due by `now`, if one is; the next is due `every`
    /// after it.
    pub fn take_due(&mut self, now: Instant, every: Duration) -> bool {
        match self.next {
            Some(t) if t <= now && self.left > 0 => {
                self.left -= 1;
                self.next = (self.left > 0).then(|| t + every);
                true
            }
            _ => false,
        }
    }
}

/// The host's addresses and reports and the rounds of announcements a
/// failover starts; the aggregate says when and out of which member.
#[derive(Clone, Debug, Default)]
pub struct Announcer {
    pub host: HostAddrs,
    /// Gratuitous ARPs and unsolicited NAs.
    pub notify: Rounds,
    /// The host's IGMP reports again.
    pub rejoin: Rounds,
    /// Announcement frames sent so far.
    pub sent: u64,
}

impl Announcer {
    /// One round of peer notification from `mac`: a gratuitous ARP per
    /// IPv4 address and an unsolicited NA per IPv6 address the host used.
    pub fn notify_frames(&mut self, mac: Mac) -> Vec<Vec<u8>> {
        let f = self.host.announcements(mac);
        self.sent += f.len() as u64;
        f
    }

    /// One round of rejoin: the host's IGMP reports as it sent them.
    pub fn rejoin_frames(&self) -> Vec<Vec<u8>> {
        self.host.igmp_reports.clone()
    }

    /// Starts `count` rounds of rejoin, the first due at `now`, if the
    /// host has reported any group (else there is nothing to replay).
    pub fn start_rejoin(&mut self, now: Instant, count: u32) {
        if !self.host.igmp_reports.is_empty() {
            self.rejoin.start(now, count);
        }
    }
}
