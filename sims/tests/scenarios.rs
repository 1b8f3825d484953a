//! The shipped scenarios, run as tests: each must pass its own `expect`
//! lines, and a run must be a pure function of its seed.

use std::path::PathBuf;

fn scenario(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn passes(name: &str) -> patchbay_sim::Report {
    let (r, _) =
        patchbay_sim::run(&scenario(name), None, false).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(!r.assertions.is_empty(), "{name} checks nothing");
    assert!(r.passed(), "{name} failed:\n{}", r.to_text(200));
    r
}

#[test]
fn flooding_learning_and_ageing_across_a_line() {
    let r = passes("line-learning.pb");
    assert!(r
        .timeline
        .iter()
        .any(|e| e.text == "s2: 1 fdb entries aged out" && e.t > 300_000_000_000));
}

#[test]
fn vlans_stay_apart_across_a_trunk() {
    passes("vlan-trunk.pb");
}

#[test]
fn a_link_going_down_disables_flushes_and_recovers() {
    let r = passes("link-down.pb");
    assert!(r
        .timeline
        .iter()
        .any(|e| e.t == 5_000_000_000 && e.text == "s2: port s2p1 disabled"));
}

#[test]
fn lossy_random_topology() {
    passes("lossy-random.pb");
}

#[test]
fn a_failing_expectation_fails_the_run() {
    let text = scenario("line-learning.pb")
        .replace("expect replies h1 h2 == 3", "expect replies h1 h2 == 4");
    let (r, _) = patchbay_sim::run(&text, None, false).unwrap();
    assert!(!r.passed());
    let failed: Vec<_> = r.assertions.iter().filter(|a| !a.ok).collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].detail.contains("3 replies to 3 requests"),
        "{}",
        failed[0].detail
    );
}

#[test]
fn errors_name_the_line() {
    let e = patchbay_sim::run(
        "link add s1 type bridge\nwire s1p1 s2p1 loss 120%\n",
        None,
        false,
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.msg.contains("loss"), "{e}");
    let e = patchbay_sim::run("run soon\n", None, false).unwrap_err();
    assert!(e.to_string().starts_with("line 1: run DURATION"), "{e}");
}

/// A scenario is read whole before it runs: a bad `at` line far down fails
/// at once, with its line number, before a second of it is simulated.
#[test]
fn a_bad_scheduled_line_fails_at_load_with_its_line_number() {
    // Run as it was before, line 4 would have failed an hour into the
    // run, as a failed check in the report, not as an error of the load.
    let text = "link add s1 type bridge\nlink set s1 up\nrun 3600s\nat 3700s link set s1 mtu lots\nrun 200s\n";
    let e = patchbay_sim::run(text, None, false).unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.msg.contains("mtu"), "{e}");
    for (bad, line, what) in [
        (
            "run 1s\nat 500ms link set s1 up\n",
            2,
            "before the current time",
        ),
        ("at soon link set s1 up\n", 1, "TIME like"),
        ("at 1s\n", 1, "no command"),
        ("at 1s run 5s\n", 1, "cannot be scheduled"),
        ("link add s1 type bridge\nlink sett s1 up\n", 2, "sett"),
        (
            "host h1\nat 2s bridge fdb add nonsense\n",
            2,
            "bridge fdb add",
        ),
    ] {
        let e = patchbay_sim::run(bad, None, false).unwrap_err();
        assert_eq!((e.line, e.msg.contains(what)), (line, true), "{bad:?}: {e}");
    }
}

#[test]
fn one_seed_one_outcome_byte_for_byte() {
    let text = scenario("lossy-random.pb");
    let (a, sa) = patchbay_sim::run(&text, Some(42), true).unwrap();
    let (b, sb) = patchbay_sim::run(&text, Some(42), true).unwrap();
    assert_eq!(a.to_json(), b.to_json(), "reports differ for one seed");
    assert_eq!(sa.pcaps(), sb.pcaps(), "pcaps differ for one seed");
    assert!(sa.pcaps().iter().all(|(_, p)| p.len() >= 24));
    // Another seed draws other losses and jitter.
    let (c, sc) = patchbay_sim::run(&text, Some(43), true).unwrap();
    assert_ne!(
        a.to_json(),
        c.to_json(),
        "seeds 42 and 43 gave identical runs"
    );
    assert_ne!(sa.pcaps(), sc.pcaps());
    assert_eq!(a.seed, 42);
}

#[test]
fn pcaps_have_virtual_timestamps() {
    let (_, sim) = patchbay_sim::run(&scenario("line-learning.pb"), None, true).unwrap();
    let pcaps = sim.pcaps();
    let (_, p) = pcaps
        .iter()
        .find(|(n, _)| n == "s1p2-s2p1")
        .expect("a pcap per wire");
    assert_eq!(&p[..4], &0xa1b2_3c4du32.to_le_bytes());
    // First record: the ARP request that left s1p2 within the first ms.
    let sec = u32::from_le_bytes(p[24..28].try_into().unwrap());
    let nsec = u32::from_le_bytes(p[28..32].try_into().unwrap());
    assert_eq!(sec, 0);
    assert!(nsec < 10_000_000, "{nsec}");
    assert_eq!(
        &p[24 + 16 + 12..24 + 16 + 14],
        &[0x08, 0x06],
        "an ARP frame"
    );
}

#[test]
fn netdevsim_ports_speed_duplex_and_injected_faults() {
    let r = passes("faults.pb");
    let lost = r.flows[0].sent - r.flows[0].delivered;
    assert!(
        (1900..=2100).contains(&lost),
        "lost {lost} in a 2 s outage at 1000 frames/s"
    );
    assert!(r
        .timeline
        .iter()
        .any(|e| e.t == 2_000_000_000 && e.text == "wire h2-s1p2 set loss 100%"));
}

#[test]
fn stp_ring_elects_the_root_blocks_one_port_and_forwards_after_30s() {
    let r = passes("stp-ring.pb");
    // Listening at 0 s, learning at 15 s, forwarding at 30 s: 2 x forward_delay.
    let first_forwarding = r
        .timeline
        .iter()
        .find(|e| e.text.ends_with(" forwarding"))
        .map(|e| e.t);
    assert_eq!(first_forwarding, Some(30_000_000_000));
    assert!(r
        .timeline
        .iter()
        .any(|e| e.t == 0 && e.text.starts_with("s1: is the root (1000.")));
}

#[test]
fn stp_root_and_root_port_election() {
    passes("stp-election.pb");
}

#[test]
fn stp_root_failure_waits_for_max_age_then_elects_a_new_root() {
    let r = passes("stp-root-failure.pb");
    // The stale information expires max_age after the last BPDU (about 44 s).
    let t = r
        .timeline
        .iter()
        .find(|e| e.t > 45_000_000_000 && e.text.starts_with("s2: is the root"))
        .map(|e| e.t)
        .unwrap();
    assert!(
        (60_000_000_000..70_000_000_000).contains(&t),
        "new root at {t}"
    );
}

#[test]
fn stp_topology_change_ages_the_fdb_after_forward_delay() {
    passes("stp-topology-change.pb");
}

#[test]
fn stp_bpdu_guard_and_root_guard() {
    passes("stp-guards.pb");
}

#[test]
fn stp_a_mesh_of_1000_bridges_converges_to_one_tree() {
    let r = passes("stp-mesh-1000.pb");
    assert!(r.events < 1_000_000, "{} events", r.events);
}

#[test]
fn rstp_ring_converges_by_proposal_and_agreement_in_milliseconds() {
    let r = passes("rstp-ring.pb");
    // The last ring port to forward does so within 10 ms of the start
    // (1 ms per hop), against 30 s for 802.1D.
    let last = r
        .timeline
        .iter()
        .filter(|e| e.t < 1_000_000_000 && e.text.ends_with(" forwarding"))
        .map(|e| e.t)
        .max()
        .unwrap();
    assert!(last < 10_000_000, "last port forwarding at {last} ns");
    // The auto edge port opened when edgeDelayWhile (3 s) ran out.
    assert!(r
        .timeline
        .iter()
        .any(|e| e.t == 3_000_000_000 && e.text == "s4: port s4p3 forwarding"));
}

#[test]
fn rstp_falls_back_to_stp_next_to_an_stp_bridge() {
    passes("rstp-fallback.pb");
}

#[test]
fn rstp_guards_filter_and_restrictions() {
    passes("rstp-guards.pb");
}

#[test]
fn rstp_root_failure_ages_out_after_three_hellos() {
    let r = passes("rstp-root-failure.pb");
    let t = r
        .timeline
        .iter()
        .find(|e| e.t > 20_000_000_000 && e.text.starts_with("s2: is the root"))
        .map(|e| e.t)
        .unwrap();
    assert_eq!(t, 26_000_000_000, "new root at {t} ns");
}

#[test]
fn rstp_a_mesh_of_1000_bridges_converges_to_one_tree() {
    passes("rstp-mesh-1000.pb");
}

#[test]
fn rstp_ring_diameter_is_bounded_by_max_age() {
    passes("rstp-ring-diameter.pb");
}

#[test]
fn rstp_ring_of_1000_is_a_loop_free_forest() {
    passes("rstp-ring-1000.pb");
}

fn first_event(r: &patchbay_sim::Report, after_ns: u64, text: &str) -> u64 {
    r.timeline
        .iter()
        .find(|e| e.t >= after_ns && e.text == text)
        .map(|e| e.t)
        .unwrap_or_else(|| panic!("no \"{text}\" after {after_ns} ns"))
}

#[test]
fn bond_modes_distribute_as_the_kernel() {
    passes("bond-modes.pb");
}

#[test]
fn bond_active_backup_fails_over_within_miimon_plus_downdelay() {
    let r = passes("bond-active-backup.pb");
    // Cut at 5 s; miimon 100 + downdelay 200.
    let t = first_event(&r, 5_000_000_000, "ab1: active slave a2");
    assert!(t - 5_000_000_000 <= 300_000_000, "failover at {t} ns");
    // The primary's link came back at 10 s; updelay 300 (+ one MII tick).
    let t = first_event(&r, 10_000_000_000, "ab1: active slave a1");
    assert!(
        (10_300_000_000..=10_400_000_000).contains(&t),
        "back at {t} ns"
    );
}

#[test]
fn bond_lacp_aggregates_and_notices_silent_members() {
    let r = passes("bond-lacp.pb");
    let both = |b: &str, s1: &str, s2: &str| {
        let a = first_event(&r, 0, &format!("{b}: {s1} collecting and distributing"));
        let c = r
            .timeline
            .iter()
            .filter(|e| e.text == format!("{b}: {s2} collecting and distributing"))
            .map(|e| e.t)
            .max()
            .unwrap();
        a.max(c)
    };
    // Slow rate: both members of both bonds within 5 s.
    for (b, x, y) in [("p1", "pp1", "pp2"), ("p2", "pq1", "pq2")] {
        let t = both(b, x, y);
        assert!(t <= 5_000_000_000, "{b} at {t} ns");
    }
    // Silent from 10 s: fast rate notices within 3 s, slow within 90 s.
    let fast = first_event(&r, 10_000_000_000, "f1: fp2 not distributing") - 10_000_000_000;
    let slow = first_event(&r, 10_000_000_000, "p1: pp2 not distributing") - 10_000_000_000;
    assert!(fast <= 3_000_000_000, "fast: {fast} ns");
    assert!(slow <= 90_000_000_000, "slow: {slow} ns");
}

#[test]
fn bond_lacp_loopback_and_mismatched_keys() {
    passes("bond-lacp-corners.pb");
}

/// The uplink fails at 4 s with every carrier up; arp_interval 100,
/// arp_missed_max 2: the active member is declared down within
/// (missed_max + 1) intervals, and never before the cut.
fn fails_over_on_probes(file: &str) {
    let r = passes(file);
    let t = first_event(&r, 4_000_000_000, "ab: active slave a2");
    assert!(t - 4_000_000_000 <= 300_000_000, "failover at {t} ns");
    assert!(!r
        .timeline
        .iter()
        .any(|e| e.text.starts_with("ab: a1 link down") && e.t < 4_000_000_000));
}

#[test]
fn bond_arp_monitor_fails_over_when_the_target_stops_answering() {
    fails_over_on_probes("bond-arp-monitor.pb");
}

#[test]
fn bond_ns_monitor_fails_over_when_the_ipv6_target_stops_answering() {
    fails_over_on_probes("bond-ns-monitor.pb");
}

#[test]
fn bond_tlb_spreads_transmit_and_alb_spreads_receive() {
    passes("bond-tlb-alb.pb");
}

#[test]
fn team_activebackup_fails_over_on_arp_ping_while_carrier_stays_up() {
    let r = passes("team-activebackup.pb");
    // The uplink fails at 4 s; interval 100 ms, missed_max 3: the active
    // port is down after the fourth silent interval, a1 active one later.
    let down = first_event(&r, 4_000_000_000, "t0: a2 link down") - 4_000_000_000;
    let over = first_event(&r, 4_000_000_000, "t0: active port a1") - 4_000_000_000;
    assert!(down <= 500_000_000, "a2 down after {down} ns");
    assert!(over <= 700_000_000, "failover after {over} ns");
    assert!(!r
        .timeline
        .iter()
        .any(|e| e.text == "t0: a2 link down" && e.t < 4_000_000_000));
}

#[test]
fn team_runners_distribute_as_the_kernel_modes() {
    passes("team-runners.pb");
}

#[test]
fn team_lacp_agrees_with_a_bond_and_with_another_team() {
    let r = passes("team-lacp.pb");
    // Collecting and distributing on every port within 5 s, at the slow
    // rate too (the y pair).
    for e in [
        "x1: xp2 enabled",
        "x2: xq2 collecting and distributing",
        "y1: yp2 enabled",
        "y2: yq2 enabled",
    ] {
        let t = first_event(&r, 0, e);
        assert!(t <= 5_000_000_000, "{e} at {t} ns");
    }
}

#[test]
fn team_watchers_delay_policy_and_nsna() {
    let r = passes("team-watchers.pb");
    // delay_down 200 ms after the cut at 2 s; delay_up 500 ms after 4 s.
    assert_eq!(
        first_event(&r, 2_000_000_000, "e0: e1 link down"),
        2_200_000_000
    );
    assert_eq!(
        first_event(&r, 4_000_000_000, "e0: e1 link up"),
        4_500_000_000
    );
}

#[test]
fn a_team_stacks_on_a_bond() {
    passes("team-stacking.pb");
}

#[test]
fn three_vxlan_sites_form_one_segment_by_head_end_replication() {
    passes("vxlan-three-sites.pb");
}

#[test]
fn netdevsim_ports_drop_delay_and_lose_carrier_on_command() {
    passes("netdevsim-faults.pb");
}
