//! IGMP/MLD snooping on the bridge (BEHAVIOUR.md §1.6), on the virtual
//! clock with the kernel's timer values: joins, leaves, timeouts, the
//! querier and its election, router ports, and what forwarding does with
//! them. Reports and queries are built by `wire::igmp`/`wire::mld`, whose
//! own tests check them byte for byte against frames Linux sent.

mod common;
use common::*;

use patchbay_core::bridge::mcast::{MdbKey, Proto};
use patchbay_core::counters::DropReason;
use patchbay_core::wire::{build_frame, ethertype, igmp, mld, Mac};
use patchbay_core::Instant;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const G: [u8; 4] = [239, 1, 1, 1];
const G6: [u8; 16] = [0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn host_mac(port: u32) -> Mac {
    Mac::local(0x100 + u64::from(port))
}

fn host_ip(port: u32) -> [u8; 4] {
    [198, 18, 0, port as u8]
}

fn host_ip6(port: u32) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[15] = port as u8;
    a
}

fn v4_mac(g: [u8; 4]) -> Mac {
    Mac([0x01, 0x00, 0x5e, g[1] & 0x7f, g[2], g[3]])
}

fn v6_mac(g: [u8; 16]) -> Mac {
    Mac([0x33, 0x33, g[12], g[13], g[14], g[15]])
}

/// An IGMP message from the host behind `port`, to the IP destination's
/// MAC.
fn igmp_frame(port: u32, ip: Vec<u8>) -> Vec<u8> {
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    build_frame(v4_mac(dst), host_mac(port), &[], ethertype::IPV4, &ip)
}

fn mld_frame(port: u32, ip: Vec<u8>) -> Vec<u8> {
    let dst: [u8; 16] = ip[24..40].try_into().unwrap();
    build_frame(v6_mac(dst), host_mac(port), &[], ethertype::IPV6, &ip)
}

fn join(port: u32, g: [u8; 4]) -> Vec<u8> {
    igmp_frame(port, igmp::report(2, host_ip(port), g))
}

fn leave(port: u32, g: [u8; 4]) -> Vec<u8> {
    igmp_frame(port, igmp::leave(host_ip(port), g))
}

/// A UDP datagram from the host behind `port` to group `g`.
fn data(port: u32, g: [u8; 4]) -> Vec<u8> {
    let mut ip = vec![0u8; 28];
    ip[..20].copy_from_slice(&[
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 1, 17, 0, 0, 0, 0, 0, 0, g[0], g[1], g[2], g[3],
    ]);
    ip[12..16].copy_from_slice(&host_ip(port));
    let c = patchbay_core::wire::csum::checksum(&[&ip[..20]]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    build_frame(v4_mac(g), host_mac(port), &[], ethertype::IPV4, &ip)
}

fn data6(port: u32, g: [u8; 16]) -> Vec<u8> {
    let mut ip = vec![0u8; 48];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&8u16.to_be_bytes());
    ip[6] = 17;
    ip[7] = 1;
    ip[8..24].copy_from_slice(&host_ip6(port));
    ip[24..40].copy_from_slice(&g);
    build_frame(v6_mac(g), host_mac(port), &[], ethertype::IPV6, &ip)
}

fn general_query(port: u32, src: [u8; 4]) -> Vec<u8> {
    let _ = port;
    let ip = igmp::query(src, igmp::ALL_HOSTS, 2, [0; 4], 100, 0, false, &[]);
    build_frame(
        v4_mac(igmp::ALL_HOSTS),
        host_mac(port),
        &[],
        ethertype::IPV4,
        &ip,
    )
}

fn key(g: [u8; 4]) -> MdbKey {
    MdbKey::star_g(0, IpAddr::V4(Ipv4Addr::from(g)))
}

impl Lab {
    fn mdb(&self) -> String {
        let c = patchbay_core::cmd::parse(&["bridge".into(), "mdb".into(), "show".into()]).unwrap();
        patchbay_core::cmd::apply(
            &mut self.g.clone(),
            self.now,
            &c,
            patchbay_core::cmd::Opts {
                details: true,
                ..Default::default()
            },
        )
        .unwrap()
        .text
    }

    fn br(&self) -> &patchbay_core::bridge::Bridge {
        self.g.iface(self.id("br0")).bridge().unwrap()
    }

    /// The ports of a group's entry.
    fn members(&self, g: [u8; 4]) -> Vec<u16> {
        self.br()
            .mc
            .mdb
            .get(&key(g))
            .map(|e| e.ports.iter().map(|p| p.port).collect())
            .unwrap_or_default()
    }
}

/// What an IGMP frame that left says: (port, IGMP type, group, code).
fn igmp_sent(frames: &[(u32, Vec<u8>)]) -> Vec<(u32, u8, [u8; 4], u8)> {
    frames
        .iter()
        .filter(|(_, f)| f[12..14] == [0x08, 0x00] && f[14 + 9] == 2)
        .map(|(p, f)| {
            let m = &f[14 + 24..];
            (*p, m[0], [m[4], m[5], m[6], m[7]], m[1])
        })
        .collect()
}

/// A bridge with `mcast_querier 1` whose start-up delay (one query
/// response interval, 10 s) has passed, with its first queries taken.
fn querier_lab(n: u32) -> Lab {
    let mut lab = Lab::new(n, "mcast_querier 1");
    lab.tick(at(0));
    lab.tick(at(10_001));
    lab
}

#[test]
fn the_kernels_defaults_are_shown_in_iproute2s_order() {
    let mut lab = Lab::new(1, "");
    let d = lab.details("link show br0");
    // `ip -d link show` of a new bridge on Linux 6.18 (iproute2 6.1).
    let kernel = "group_address 01:80:c2:00:00:00 mcast_snooping 1 no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16 mcast_hash_max 4096 mcast_last_member_count 2 mcast_startup_query_count 2 mcast_last_member_interval 100 mcast_membership_interval 26000 mcast_querier_interval 25500 mcast_query_interval 12500 mcast_query_response_interval 1000 mcast_startup_query_interval 3124 mcast_stats_enabled 0 mcast_igmp_version 2 mcast_mld_version 1 ";
    assert!(d.contains(kernel), "{d}");
    let p = lab.details("link show p1");
    assert!(
        p.contains("root_block off fastleave off learning on"),
        "{p}"
    );
    assert!(
        p.contains("config_pending 0 mcast_router 1 mcast_fast_leave off mcast_flood on"),
        "{p}"
    );
    // Options take the kernel's ranges; an interval under 1 s is raised.
    lab.run("link set br0 type bridge mcast_query_interval 50 mcast_last_member_count 3");
    let d = lab.details("link show br0");
    assert!(d.contains("mcast_last_member_count 3 "), "{d}");
    assert!(d.contains("mcast_query_interval 100 "), "{d}");
    for (bad, says) in [
        ("mcast_igmp_version 4", "2 or 3"),
        ("mcast_router 3", "3 is for ports"),
        ("mcast_vlan_snooping 1", "vlan filtering disabled"),
        ("mcast_stats_enabled 1", "not emulated yet"),
    ] {
        let e = lab
            .try_run(&format!("link set br0 type bridge {bad}"))
            .unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn the_querier_sends_startup_queries_then_every_query_interval() {
    let mut lab = Lab::new(2, "mcast_querier 1");
    // Each port, each protocol: at 0, after startup_query_interval
    // (31.248 s), then every query_interval (125 s).
    let mut when = Vec::new();
    for t in [0, 31_248, 156_248, 281_248] {
        let sent = lab.tick(at(t));
        let q = igmp_sent(&sent);
        assert_eq!(
            q,
            vec![(1, igmp::QUERY, [0; 4], 100), (2, igmp::QUERY, [0; 4], 100)],
            "at {t} ms"
        );
        let mld = sent
            .iter()
            .filter(|(_, f)| f[12..14] == [0x86, 0xdd])
            .count();
        assert_eq!(mld, 2, "an MLD query per port at {t} ms");
        when.push(t);
        assert_eq!(lab.g.poll_timeout().map(|t| t.as_nanos() > 0), Some(true));
    }
    // Nothing in between.
    assert!(lab.tick(at(281_249)).is_empty());
    // The MLD query comes from the bridge's EUI-64 link-local address,
    // with the kernel's Router Alert and max response of 10 000 ms.
    let sent = lab.tick(at(406_248));
    let (_, f) = sent
        .iter()
        .find(|(_, f)| f[12..14] == [0x86, 0xdd])
        .unwrap();
    let p = mld::parse(&f[14..]).unwrap().unwrap();
    assert_eq!(&p.src[..2], &[0xfe, 0x80]);
    assert!(matches!(
        p.msg,
        mld::Message::Query {
            version: 1,
            max_resp: 10_000,
            ..
        }
    ));
}

#[test]
fn snooping_acts_once_a_querier_exists_and_floods_before() {
    let mut lab = Lab::new(4, "mcast_querier 1");
    lab.tick(at(0));
    lab.now = at(1_000);
    // p1 joins: its report goes to routers only, and there are none; but
    // within the start-up delay it floods like everything else.
    assert_eq!(lab.ports_reached(1, &join(1, G)), vec![2, 3, 4]);
    assert_eq!(lab.members(G), vec![1]);
    // Within the delay (10 s), group data floods.
    assert_eq!(lab.ports_reached(3, &data(3, G)), vec![1, 2, 4]);
    lab.tick(at(10_001));
    assert_eq!(lab.ports_reached(3, &data(3, G)), vec![1]);
    // An unknown group: routers only (none).
    assert!(lab.ports_reached(3, &data(3, [239, 9, 9, 9])).is_empty());
    // A second report is again for routers only.
    assert!(lab.ports_reached(2, &join(2, G)).is_empty());
    assert_eq!(lab.members(G), vec![1, 2]);
    assert_eq!(lab.ports_reached(3, &data(3, G)), vec![1, 2]);
    // The sender's own port is never sent back to.
    assert_eq!(lab.ports_reached(1, &data(1, G)), vec![2]);
    // Link-local groups (224.0.0.0/24) are never snooped: always flooded.
    let mdns = [224, 0, 0, 251];
    lab.send(2, &join(2, mdns));
    assert!(lab.members(mdns).is_empty());
    assert_eq!(lab.ports_reached(3, &data(3, mdns)), vec![1, 2, 4]);
}

#[test]
fn without_a_querier_the_bridge_floods_but_still_learns() {
    let mut lab = Lab::new(3, "");
    lab.tick(at(0));
    lab.send(1, &join(1, G));
    assert_eq!(lab.members(G), vec![1]);
    assert_eq!(lab.ports_reached(3, &data(3, G)), vec![1, 2]);
    let mdb = lab.mdb();
    assert_eq!(mdb, "dev br0 port p1 grp 239.1.1.1 temp proto kernel\n");
    // mcast_snooping 0: reports are not read at all.
    lab.run("link set br0 type bridge mcast_snooping 0");
    lab.send(2, &join(2, [239, 2, 2, 2]));
    assert!(lab.members([239, 2, 2, 2]).is_empty());
}

#[test]
fn a_membership_ends_after_the_membership_interval() {
    let mut lab = querier_lab(3);
    lab.now = at(20_000);
    lab.send(1, &join(1, G));
    // Refreshed at 100 s: it lasts until 360 s.
    lab.now = at(100_000);
    lab.send(1, &join(1, G));
    lab.tick(at(359_999));
    assert_eq!(lab.members(G), vec![1]);
    lab.tick(at(360_000));
    assert!(lab.members(G).is_empty());
    assert!(lab.br().mc.mdb.is_empty());
    assert!(lab.ports_reached(3, &data(3, G)).is_empty());
}

#[test]
fn a_leave_is_answered_with_group_queries_and_ends_after_last_member_time() {
    let mut lab = querier_lab(3);
    lab.now = at(20_000);
    lab.send(1, &join(1, G));
    lab.send(2, &join(2, G));
    lab.now = at(30_000);
    // The leave floods (it is IGMP, not a report) and the querier asks p1
    // for other members of G: dst 224.0.0.1, group G, code 10 (1 s).
    let out = lab.send(1, &leave(1, G));
    let q = igmp_sent(&out);
    assert!(q.contains(&(1, igmp::QUERY, G, 10)), "{q:?}");
    assert!(q.contains(&(2, igmp::LEAVE, G, 0)), "{q:?}");
    // last_member_count × last_member_interval = 2 s later p1 is gone,
    // p2 (which did not leave) stays.
    lab.tick(at(31_999));
    assert_eq!(lab.members(G), vec![1, 2]);
    let later = lab.tick(at(32_000));
    assert_eq!(lab.members(G), vec![2]);
    // The leave also moved p1's general query to that moment.
    assert!(igmp_sent(&later).contains(&(1, igmp::QUERY, [0; 4], 100)));
    // A report inside the window keeps the member.
    lab.now = at(40_000);
    lab.send(2, &leave(2, G));
    lab.now = at(41_000);
    lab.send(2, &join(2, G));
    lab.tick(at(43_000));
    assert_eq!(lab.members(G), vec![2]);
}

#[test]
fn fast_leave_deletes_at_once() {
    let mut lab = querier_lab(3);
    lab.run("bridge link set dev p1 fastleave on");
    assert!(lab.details("link show p1").contains("fastleave on"));
    lab.now = at(20_000);
    lab.send(1, &join(1, G));
    let out = lab.send(1, &leave(1, G));
    assert!(lab.members(G).is_empty());
    // No group-specific query: nothing to ask.
    assert!(!igmp_sent(&out).iter().any(|q| q.1 == igmp::QUERY));
}

/// What the bridge announces (RTM_NEWMDB/RTM_DELMDB, `br_mdb_notify` and
/// `br_rtr_notify`): a new member before its timer starts, a fast leave
/// with its flag, a member that timed out, and a router port that came
/// and went; a refreshing report announces nothing.
#[test]
fn mdb_changes_and_router_ports_are_announced_as_the_kernel_does() {
    use patchbay_core::bridge::mcast::MDB_FLAGS_FAST_LEAVE;
    use patchbay_core::graph::Event;
    let mut lab = querier_lab(3);
    lab.g.record_events(true);
    lab.run("bridge link set dev p1 fastleave on");
    lab.now = at(20_000);
    lab.send(1, &join(1, G));
    lab.send(1, &join(1, G));
    lab.send(2, &join(2, G));
    lab.send(1, &leave(1, G));
    lab.send(3, &general_query(3, [198, 18, 0, 9]));
    // The router port times out at 255 s, p2's membership at 260 s.
    lab.tick(at(20_000 + 255_000));
    lab.tick(at(20_000 + 260_000));
    let mut seen = Vec::new();
    while let Some(e) = lab.g.poll_event() {
        match e {
            Event::Mdb { port, note, .. } => seen.push(format!(
                "{} {} {} flags {} timer {}",
                if note.added { "new" } else { "del" },
                lab.g.iface(port).name,
                note.key.group,
                note.flags,
                note.timer_cs
            )),
            Event::MdbRouter { port, added, .. } => seen.push(format!(
                "router {} {}",
                if added { "new" } else { "del" },
                lab.g.iface(port).name
            )),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            "new p1 239.1.1.1 flags 0 timer 0".to_string(),
            "new p2 239.1.1.1 flags 0 timer 0".into(),
            format!("del p1 239.1.1.1 flags {MDB_FLAGS_FAST_LEAVE} timer 26000"),
            "router new p3".into(),
            "router del p3".into(),
            "del p2 239.1.1.1 flags 0 timer 0".into(),
        ]
    );
}

#[test]
fn another_querier_is_elected_by_lowest_address_and_marks_a_router_port() {
    let mut lab = querier_lab(4);
    lab.now = at(20_000);
    lab.send(1, &join(1, G));
    // Our own querier speaks from 0.0.0.0: any real one wins.
    lab.send(4, &general_query(4, [198, 18, 0, 9]));
    let q = lab.br().mc.q[Proto::V4 as usize];
    assert_eq!(q.addr, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 9)));
    assert_eq!(q.port, Some(4));
    assert_eq!(q.other_timer, Some(at(20_000 + 255_000)));
    // A lower address takes over; a higher one is ignored.
    lab.send(3, &general_query(3, [198, 18, 0, 5]));
    lab.send(2, &general_query(2, [198, 18, 0, 20]));
    // Snooping waits out the new querier's response time (10 s).
    lab.tick(at(30_001));
    let q = lab.br().mc.q[Proto::V4 as usize];
    assert_eq!(
        (q.addr, q.port),
        (IpAddr::V4(Ipv4Addr::new(198, 18, 0, 5)), Some(3))
    );
    // Ports 3 and 4 sent queries: both are routers (the ignored query
    // made no router); group data goes to members and routers.
    assert_eq!(lab.ports_reached(2, &data(2, G)), vec![1, 3, 4]);
    assert_eq!(lab.ports_reached(2, &data(2, [239, 9, 9, 9])), vec![3, 4]);
    assert!(
        lab.mdb().contains("router ports on br0: p3 p4 \n"),
        "{}",
        lab.mdb()
    );
    // Reports now go to the routers.
    assert_eq!(lab.ports_reached(1, &join(1, G)), vec![3, 4]);
    // While the other querier is heard, ours is quiet.
    let sent = lab.tick(at(200_000));
    assert!(
        !igmp_sent(&sent).iter().any(|q| q.1 == igmp::QUERY),
        "{sent:?}"
    );
    // Router ports time out after querier_interval (255 s) without queries.
    lab.tick(at(20_000 + 255_000));
    assert_eq!(
        lab.ports_reached(2, &data(2, [239, 9, 9, 9])),
        Vec::<u32>::new()
    );
}

#[test]
fn router_ports_by_hand() {
    let mut lab = querier_lab(3);
    lab.run("bridge link set dev p2 mcast_router 2");
    assert_eq!(lab.ports_reached(1, &data(1, [239, 9, 9, 9])), vec![2]);
    lab.run("bridge link set dev p3 mcast_router 0");
    lab.now = at(20_000);
    lab.send(3, &general_query(3, [198, 18, 0, 1]));
    // A querier newly heard pauses snooping for its response time (10 s),
    // as `br_multicast_update_query_timer` does; then p3 is no router.
    assert_eq!(lab.ports_reached(1, &data(1, [239, 9, 9, 9])), vec![2, 3]);
    lab.tick(at(30_001));
    assert_eq!(lab.ports_reached(1, &data(1, [239, 9, 9, 9])), vec![2]);
    assert!(lab.details("link show p2").contains("mcast_router 2 "));
    let e = lab
        .try_run("bridge link set dev p2 mcast_router 4")
        .unwrap_err();
    assert!(e.contains("0 (disabled)"), "{e}");
}

#[test]
fn mld_joins_and_dones_as_igmp() {
    let mut lab = querier_lab(3);
    lab.now = at(20_000);
    let g6 = IpAddr::V6(Ipv6Addr::from(G6));
    lab.send(1, &mld_frame(1, mld::report(host_ip6(1), G6)));
    let k = MdbKey::star_g(0, g6);
    assert_eq!(lab.br().mc.mdb[&k].ports[0].port, 1);
    assert_eq!(lab.ports_reached(3, &data6(3, G6)), vec![1]);
    // MLDv2 reports at the default MLDv1: TO_EXCLUDE {} joins,
    // TO_INCLUDE {} leaves.
    lab.send(
        2,
        &mld_frame(2, mld::report_v2(host_ip6(2), &[(4, G6, &[])])),
    );
    assert_eq!(lab.ports_reached(3, &data6(3, G6)), vec![1, 2]);
    lab.send(
        2,
        &mld_frame(2, mld::report_v2(host_ip6(2), &[(3, G6, &[])])),
    );
    lab.tick(at(22_000));
    assert_eq!(lab.ports_reached(3, &data6(3, G6)), vec![1]);
    lab.now = at(23_000);
    lab.send(1, &mld_frame(1, mld::done(host_ip6(1), G6)));
    lab.tick(at(25_000));
    assert!(!lab.br().mc.mdb.contains_key(&k));
    // ff02::1 is never snooped.
    let all = mld::ALL_NODES;
    lab.send(1, &mld_frame(1, mld::report(host_ip6(1), all)));
    assert!(lab.br().mc.mdb.is_empty());
}

#[test]
fn igmpv3_reports_join_and_leave_whole_groups_at_version_2() {
    let mut lab = querier_lab(2);
    lab.now = at(20_000);
    let src = host_ip(1);
    lab.send(1, &igmp_frame(1, igmp::report_v3(src, &[(4, G, &[])])));
    assert_eq!(lab.members(G), vec![1]);
    // ALLOW with sources joins too (no source tracking at version 2).
    let g2 = [239, 2, 2, 2];
    lab.send(
        1,
        &igmp_frame(1, igmp::report_v3(src, &[(5, g2, &[[198, 18, 0, 7]])])),
    );
    assert_eq!(lab.members(g2), vec![1]);
    lab.send(1, &igmp_frame(1, igmp::report_v3(src, &[(3, G, &[])])));
    lab.tick(at(22_000));
    assert!(lab.members(G).is_empty());
}

#[test]
fn malformed_igmp_and_mld_are_dropped_by_name_and_change_nothing() {
    let mut lab = querier_lab(3);
    lab.now = at(20_000);
    let mut bad = join(1, G);
    bad[14 + 24 + 2] ^= 0xff; // the IGMP checksum
    assert!(lab.ports_reached(1, &bad).is_empty());
    assert_eq!(lab.drops("p1", DropReason::IgmpBadChecksum), 1);
    let mut short = join(1, G);
    short[14 + 3] = 24 + 4; // IPv4 total length: 4 bytes of IGMP
    let c = {
        short[14 + 10] = 0;
        short[14 + 11] = 0;
        patchbay_core::wire::csum::checksum(&[&short[14..14 + 24]])
    };
    short[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    assert!(lab.ports_reached(1, &short).is_empty());
    assert_eq!(lab.drops("p1", DropReason::IgmpTruncated), 1);
    // A v3 report whose record claims more sources than it has.
    let mut over = igmp::report_v3(host_ip(1), &[(4, G, &[])]);
    over[24 + 8 + 3] = 200;
    let n = over.len();
    over[26..28].copy_from_slice(&[0, 0]);
    let c = patchbay_core::wire::csum::checksum(&[&over[24..n]]);
    over[26..28].copy_from_slice(&c.to_be_bytes());
    assert!(lab.ports_reached(1, &igmp_frame(1, over)).is_empty());
    assert_eq!(lab.drops("p1", DropReason::IgmpSourcesOverrun), 1);
    let mut bad6 = mld_frame(1, mld::report(host_ip6(1), G6));
    let l = bad6.len();
    bad6[l - 1] ^= 1;
    assert!(lab.ports_reached(1, &bad6).is_empty());
    assert_eq!(lab.drops("p1", DropReason::MldBadChecksum), 1);
    assert!(lab.br().mc.mdb.is_empty(), "nothing was joined");
    // Good traffic is undisturbed.
    lab.send(1, &join(1, G));
    assert_eq!(lab.ports_reached(3, &data(3, G)), vec![1]);
    let stats = lab.run("stats dev p1");
    assert!(stats.contains("igmp_bad_checksum"), "{stats}");
}

#[test]
fn mcast_hash_max_turns_snooping_off_as_the_kernel_does() {
    let mut lab = Lab::new(2, "mcast_hash_max 2");
    lab.tick(at(0));
    lab.send(1, &join(1, [239, 0, 0, 1]));
    lab.send(1, &join(1, [239, 0, 0, 2]));
    assert!(lab.ports_reached(1, &join(1, [239, 0, 0, 3])).is_empty());
    assert_eq!(lab.drops("p1", DropReason::MdbFull), 1);
    assert!(lab.details("link show br0").contains("mcast_snooping 0 "));
    // Snooping off: everything floods.
    assert_eq!(lab.ports_reached(1, &join(1, [239, 0, 0, 3])), vec![2]);
}

#[test]
fn bridge_mdb_add_del_show() {
    let mut lab = querier_lab(2);
    lab.run("bridge mdb add dev br0 port p1 grp 239.9.9.9 permanent vid 5");
    lab.run("bridge mdb add dev br0 port p2 grp 239.9.9.9 permanent");
    lab.run("bridge mdb add dev br0 port br0 grp 239.9.9.8");
    let e = lab
        .try_run("bridge mdb add dev br0 port p1 grp 224.0.0.5")
        .unwrap_err();
    assert!(
        e.contains("IPv4 entry group address is local multicast"),
        "{e}"
    );
    let e = lab
        .try_run("bridge mdb add dev br0 port p2 grp 239.9.9.9 temp")
        .unwrap_err();
    assert!(e.contains("(*, G) group is already joined by port"), "{e}");
    let e = lab
        .try_run("bridge mdb del dev br0 port p1 grp 239.9.9.7")
        .unwrap_err();
    assert!(e.contains("EINVAL"), "{e}");
    assert_eq!(
        lab.mdb(),
        "dev br0 port br0 grp 239.9.9.8 temp\n\
         dev br0 port p2 grp 239.9.9.9 permanent proto static\n\
         dev br0 port p1 grp 239.9.9.9 permanent proto static  vid 5\n"
    );
    let j: serde_json::Value =
        serde_json::from_str(&lab.try_run("bridge mdb show").unwrap()).unwrap();
    let rows = j[0]["mdb"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["vid"], 5);
    assert_eq!(rows[2]["state"], "permanent");
    assert_eq!(rows[0]["port"], "br0");
    // `save` keeps the entries added by hand, as comments to run once
    // the ports forward (the bridge's host entry is not a port's).
    let saved = lab.run("save");
    assert!(
        saved.ends_with(
            "# MDB entries added by hand: run these once the ports forward\n\
             # bridge mdb add dev br0 port p1 grp 239.9.9.9 permanent vid 5\n\
             # bridge mdb add dev br0 port p2 grp 239.9.9.9 permanent\n"
        ),
        "{saved}"
    );
    // A permanent entry outlives every timer; a leave does not end it.
    lab.now = at(20_000);
    lab.send(2, &leave(2, [239, 9, 9, 9]));
    lab.tick(at(600_000));
    assert!(lab.mdb().contains("port p2 grp 239.9.9.9 permanent"));
    lab.run("bridge mdb del dev br0 port p2 grp 239.9.9.9");
    assert!(!lab.mdb().contains("port p2 grp 239.9.9.9"));
}

/// Data from source `src` (the host behind `port` sends as if from it).
fn data_from(port: u32, src: [u8; 4], g: [u8; 4]) -> Vec<u8> {
    let mut f = data(port, g);
    f[14 + 12..14 + 16].copy_from_slice(&src);
    f[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let c = patchbay_core::wire::csum::checksum(&[&f[14..14 + 20]]);
    f[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    f
}

fn v3(port: u32, kind: u8, g: [u8; 4], srcs: &[[u8; 4]]) -> Vec<u8> {
    igmp_frame(port, igmp::report_v3(host_ip(port), &[(kind, g, srcs)]))
}

const S1: [u8; 4] = [198, 18, 7, 1];
const S2: [u8; 4] = [198, 18, 7, 2];
const S3: [u8; 4] = [198, 18, 7, 3];

/// (port, source, blocked, added by *,G exclude) of a group's (S,G)
/// entries.
fn sg(lab: &Lab, g: [u8; 4]) -> Vec<(u16, [u8; 4], bool, bool)> {
    let mut v: Vec<_> = lab
        .br()
        .mc
        .mdb
        .iter()
        .filter(|(k, _)| k.group == IpAddr::V4(g.into()) && k.src.is_some())
        .flat_map(|(k, e)| {
            let IpAddr::V4(s) = k.src.unwrap() else {
                unreachable!()
            };
            e.ports
                .iter()
                .map(move |p| (p.port, s.octets(), p.blocked, p.star_excl))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn igmpv3_source_filtering_follows_rfc_3376s_tables() {
    let mut lab = Lab::new(4, "mcast_igmp_version 3");
    lab.run("link set br0 type bridge mcast_querier 1");
    lab.tick(at(0));
    lab.tick(at(10_001));
    lab.now = at(20_000);
    // p1: INCLUDE {S1} (ALLOW). Only S1's traffic reaches it.
    lab.send(1, &v3(1, 5, G, &[S1]));
    assert_eq!(sg(&lab, G), vec![(1, S1, false, false)]);
    assert_eq!(lab.ports_reached(4, &data_from(4, S1, G)), vec![1]);
    assert!(lab.ports_reached(4, &data_from(4, S2, G)).is_empty());
    // p2: EXCLUDE {S2} (TO_EX). It takes everything but S2, and stands on
    // S1's entry as a *,G exclude port.
    lab.send(2, &v3(2, 4, G, &[S2]));
    assert_eq!(
        sg(&lab, G),
        vec![
            (1, S1, false, false),
            (2, S1, false, true),
            (2, S2, true, false)
        ]
    );
    assert_eq!(lab.ports_reached(4, &data_from(4, S1, G)), vec![1, 2]);
    assert!(lab.ports_reached(4, &data_from(4, S2, G)).is_empty());
    assert_eq!(lab.ports_reached(4, &data_from(4, S3, G)), vec![2]);
    let d = lab.details("bridge mdb show");
    assert!(d.contains("port p2 grp 239.1.1.1 temp filter_mode exclude source_list 198.18.7.2/0.00 proto kernel"), "{d}");
    assert!(
        d.contains("port p2 grp 239.1.1.1 src 198.18.7.1 temp filter_mode include proto kernel  added_by_star_ex"),
        "{d}"
    );
    assert!(
        d.contains(
            "port p2 grp 239.1.1.1 src 198.18.7.2 temp filter_mode include proto kernel  blocked"
        ),
        "{d}"
    );
    // p1 BLOCKs S1: the querier asks p1 about S1 (a group-and-source
    // query to the group, v3), and S1 is gone from p1 after the last
    // member time (2 s), p1 with it; S1's entry goes too.
    let out = lab.send(1, &v3(1, 6, G, &[S1]));
    let q: Vec<_> = out
        .iter()
        .filter(|(p, f)| *p == 1 && f[14 + 24] == igmp::QUERY)
        .map(|(_, f)| igmp::parse(&f[14..]).unwrap().unwrap())
        .collect();
    assert_eq!(q.len(), 1, "{out:?}");
    assert_eq!(q[0].dst, G);
    match &q[0].msg {
        igmp::Message::Query {
            version,
            group,
            sources,
            ..
        } => {
            assert_eq!((*version, *group), (3, G));
            assert_eq!(sources.iter().collect::<Vec<_>>(), vec![S1]);
        }
        m => panic!("{m:?}"),
    }
    lab.tick(at(21_999));
    assert_eq!(lab.members(G), vec![1, 2]);
    // The retransmission (last_member_count 2: one more, 1 s later).
    lab.tick(at(22_000));
    assert_eq!(lab.members(G), vec![2]);
    assert_eq!(sg(&lab, G), vec![(2, S2, true, false)]);
    assert_eq!(lab.ports_reached(4, &data_from(4, S1, G)), vec![2]);
    // p2 leaves (TO_INCLUDE {}): a group-specific query, and after the
    // last member time the port group, its excluded source and S2's entry
    // are gone.
    lab.now = at(30_000);
    let out = lab.send(2, &v3(2, 3, G, &[]));
    assert!(
        out.iter()
            .any(|(p, f)| *p == 2 && f[14 + 24] == igmp::QUERY),
        "{out:?}"
    );
    lab.tick(at(32_000));
    assert!(lab.br().mc.mdb.is_empty(), "{:?}", lab.br().mc.mdb);
}
