//! End-to-end tests in network namespaces (root). Each test builds its own
//! lab (namespaces, veths, a daemon) and removes it when it ends, also when
//! it fails. Without root they are skipped, except under CI=true, where
//! they fail: CI must run them.

use patchbay_core::wire::{build_frame, ethertype, Mac, Tag};
use patchbay_lab::{raw_capture, raw_send, Lab};
use patchbay_tests::{pb_json as pbj, tcp_transfer};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a scenario once per daemon thread layout and per attachment of
/// the veth ports (AF_XDP, forced so a fallback cannot hide; AF_PACKET):
/// each is a test of its own.
macro_rules! every_layout {
    ($body:ident: $rtc:ident, $rtc_packet:ident, $pipe:ident, $pipe_packet:ident) => {
        #[test]
        fn $rtc() {
            $body(Mode::new("run-to-completion", "af_xdp"));
        }
        #[test]
        fn $rtc_packet() {
            $body(Mode::new("run-to-completion", "af_packet"));
        }
        #[test]
        fn $pipe() {
            $body(Mode::new("pipeline", "af_xdp"));
        }
        #[test]
        fn $pipe_packet() {
            $body(Mode::new("pipeline", "af_packet"));
        }
    };
}

/// A daemon's thread layout and how it attaches kernel netdevs.
#[derive(Clone, Copy, Debug)]
struct Mode {
    layout: &'static str,
    attach: &'static str,
}

impl Mode {
    fn new(layout: &'static str, attach: &'static str) -> Mode {
        Mode { layout, attach }
    }
}

fn lab(prefix: &str, m: Mode) -> Option<Lab> {
    let mut lab = patchbay_tests::lab(prefix)?;
    lab.daemon_args = ["--layout", m.layout, "--attach", m.attach]
        .map(String::from)
        .to_vec();
    Some(lab)
}

/// The port is attached as the mode says (`-d link show` names it).
fn assert_attached(lab: &Lab, dev: &str, m: Mode) {
    let v = pbj(lab, &["-d", "link", "show", dev]);
    let via = v[0]["attach"].as_str().unwrap_or("");
    assert!(
        via.split_whitespace().next() == Some(m.attach),
        "{dev} attached as \"{via}\", not {}: {v}",
        m.attach
    );
}

fn ping(lab: &Lab, ns: &str, to: &str) -> bool {
    lab.exec(ns, &["ping", "-c", "2", "-i", "0.2", "-W", "2", to])
        .is_ok_and(|o| o.status.success())
}

fn mac_of(lab: &Lab, ns: &str, dev: &str) -> String {
    lab.mac(ns, dev).unwrap()
}

fn three_hosts_on_veth_and_tap_ping_and_tcp_learn_and_age(m: Mode) {
    let Some(mut lab) = lab("t1", m) else {
        return;
    };
    let (a, b, c) = (
        lab.netns("a").unwrap(),
        lab.netns("b").unwrap(),
        lab.netns("c").unwrap(),
    );
    let pa = lab.veth_host("pa", &a, "198.18.1.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.1.2/24").unwrap();
    lab.start_daemon().unwrap();
    let (br, tc) = (lab.name("br"), lab.name("tc"));
    for cmd in [
        format!("tuntap add {tc} mode tap"),
        format!("link add {br} type bridge"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {tc} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    lab.ip(&["link", "set", &tc, "netns", &c]).unwrap();
    lab.host_addr(&c, &tc, "198.18.1.3/24").unwrap();
    assert_attached(&lab, &pa, m);
    assert_attached(&lab, &pb, m);

    assert!(ping(&lab, &a, "198.18.1.2"), "a -> b (veth to veth)");
    assert!(ping(&lab, &a, "198.18.1.3"), "a -> c (veth to TAP)");
    assert!(ping(&lab, &b, "198.18.1.3"), "b -> c (veth to TAP)");

    // TCP with the veths' default offloads (TSO, checksum offload on).
    let offloads = lab
        .exec_ok(&a, &["ethtool", "-k", "eth0"])
        .unwrap_or_default();
    if !offloads.is_empty() {
        assert!(
            offloads.contains("tcp-segmentation-offload: on"),
            "{offloads}"
        );
    }
    tcp_transfer(&a, &b, "198.18.1.2", 16 << 20);
    tcp_transfer(&a, &c, "198.18.1.3", 16 << 20);
    tcp_transfer(&c, &b, "198.18.1.2", 16 << 20);

    // Each host's MAC is learned on its own port.
    let fdb = pbj(&lab, &["bridge", "fdb", "show", "br", &br]);
    let port_of = |mac: &str| {
        fdb.as_array()
            .unwrap()
            .iter()
            .find(|e| e["mac"] == mac && e.get("state").is_none())
            .map(|e| e["ifname"].as_str().unwrap().to_string())
    };
    assert_eq!(
        port_of(&mac_of(&lab, &a, "eth0")).as_deref(),
        Some(pa.as_str()),
        "{fdb}"
    );
    assert_eq!(
        port_of(&mac_of(&lab, &b, "eth0")).as_deref(),
        Some(pb.as_str()),
        "{fdb}"
    );
    assert_eq!(
        port_of(&mac_of(&lab, &c, &tc)).as_deref(),
        Some(tc.as_str()),
        "{fdb}"
    );

    // And ages out: ageing_time 1 s, no traffic.
    lab.pb(&["link", "set", &br, "type", "bridge", "ageing_time", "100"])
        .unwrap();
    let a_mac = mac_of(&lab, &a, "eth0");
    let t0 = Instant::now();
    loop {
        let fdb = pbj(&lab, &["bridge", "fdb", "show", "br", &br]);
        let learned = fdb
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("state").is_none())
            .count();
        if learned == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "entries did not age out: {fdb}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!lab
        .pb(&["bridge", "fdb", "show"])
        .unwrap()
        .contains(&format!("{a_mac} dev {pa} master")));

    // Stopping the daemon removes the TAPs it created.
    let st = lab.stop_daemon().expect("daemon was running");
    assert!(st.success(), "daemon exit status {st}");
    assert!(
        lab.ip(&["-n", &c, "link", "show", &tc]).is_err(),
        "TAP {tc} still exists after the daemon stopped"
    );
    assert!(
        lab.ip(&["link", "show", &br]).is_err(),
        "bridge TAP {br} still exists"
    );
}

fn vlans_isolate_access_ports_and_the_trunk_carries_both_tagged(m: Mode) {
    let Some(mut lab) = lab("t2", m) else {
        return;
    };
    let (a, b, t) = (
        lab.netns("a").unwrap(),
        lab.netns("b").unwrap(),
        lab.netns("t").unwrap(),
    );
    let pa = lab.veth_host("pa", &a, "198.18.2.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.2.2/24").unwrap();
    let pt = lab.veth_host("pt", &t, "198.18.2.9/24").unwrap();
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    for cmd in [
        format!("link add {br} type bridge vlan_filtering 1"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {pt} master {br}"),
        format!("bridge vlan add dev {pa} vid 10 pvid untagged"),
        format!("bridge vlan add dev {pb} vid 20 pvid untagged"),
        format!("bridge vlan del dev {pt} vid 1"),
        format!("bridge vlan add dev {pt} vid 10"),
        format!("bridge vlan add dev {pt} vid 20"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    assert_attached(&lab, &pt, m);
    let cap = raw_capture(&t, "eth0", Duration::from_secs(3)).unwrap();
    assert!(
        !ping(&lab, &a, "198.18.2.2"),
        "a (VLAN 10) reached b (VLAN 20)"
    );
    let _ = ping(&lab, &b, "198.18.2.1");
    let frames = cap.join().unwrap().unwrap();
    // The kernel's veth hands tagged frames to packet sockets with the tag
    // in metadata; ask tcpdump-free: look at what arrived, via the ARP
    // requests' sender addresses and the daemon's counters.
    let arp_from = |ip: [u8; 4]| {
        frames
            .iter()
            .any(|f| f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[28..32] == ip)
    };
    assert!(
        arp_from([198, 18, 2, 1]),
        "the trunk did not see a's ARP (VLAN 10)"
    );
    assert!(
        arp_from([198, 18, 2, 2]),
        "the trunk did not see b's ARP (VLAN 20)"
    );
    let stats = pbj(&lab, &["stats", &pt]);
    assert!(stats[0]["stats"]["tx_packets"].as_u64().unwrap() >= 2);
    // The tags themselves: capture on the trunk with tcpdump, which restores
    // tags from packet metadata.
    let Ok(mut dump) = lab.spawn(
        &t,
        &["tcpdump", "-i", "eth0", "-e", "-nn", "-l", "-c", "4", "arp"],
    ) else {
        panic!("tcpdump is needed for this test (apt-get install tcpdump)");
    };
    std::thread::sleep(Duration::from_millis(800));
    let _ = ping(&lab, &a, "198.18.2.77");
    let _ = ping(&lab, &b, "198.18.2.78");
    let t0 = Instant::now();
    while dump.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    dump.kill();
    let out = dump.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("vlan 10"),
        "no VLAN 10 tag on the trunk:\n{text}"
    );
    assert!(
        text.contains("vlan 20"),
        "no VLAN 20 tag on the trunk:\n{text}"
    );
    assert!(
        !text.contains("vlan 1,"),
        "VLAN 1 leaked to the trunk:\n{text}"
    );
}

fn link_local_frames_stay_and_a_flood_reaches_every_other_port_once(m: Mode) {
    let Some(mut lab) = lab("t3", m) else {
        return;
    };
    let ns: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| lab.netns(s).unwrap())
        .collect();
    let mut ports = vec![];
    for (i, n) in ns.iter().enumerate() {
        ports.push(
            lab.veth_host(&format!("p{i}"), n, &format!("198.18.3.{}/24", i + 1))
                .unwrap(),
        );
    }
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    for p in &ports {
        lab.pb(&["link", "set", p, "master", &br]).unwrap();
    }
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    assert_attached(&lab, &ports[0], m);
    let src = Mac::local(0xa11ce);
    let marker = *b"patchbay-flood-marker";
    let mut bcast_payload = marker.to_vec();
    bcast_payload.resize(46, 0);
    let lldp: Mac = "01:80:c2:00:00:0e".parse().unwrap();
    let unknown = Mac::local(0xdead);
    let frames = vec![
        build_frame(lldp, src, &[], 0x88cc, &[1; 46]),
        build_frame(Mac::BROADCAST, src, &[], 0x88b5, &bcast_payload),
        build_frame(unknown, src, &[], 0x88b5, &bcast_payload),
    ];
    let caps: Vec<_> = ns[1..]
        .iter()
        .map(|n| raw_capture(n, "eth0", Duration::from_secs(2)).unwrap())
        .collect();
    // patchbay's own capture on a port: the two frames the port sends.
    let pcap_file = std::env::temp_dir().join(format!("{}.pcap", lab.tag));
    let mut capture = patchbay_lab::Proc::new(
        std::process::Command::new(&lab.patchbay)
            .arg("--socket")
            .arg(&lab.socket)
            .args(["capture", &ports[1], "-w"])
            .arg(&pcap_file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let sent = raw_send(&ns[0], "eth0", frames).unwrap();
    assert!(
        sent.iter().all(|s| *s),
        "the kernel refused a test frame: {sent:?}"
    );
    for (i, cap) in caps.into_iter().enumerate() {
        let got = cap.join().unwrap().unwrap();
        let mine: Vec<&Vec<u8>> = got
            .iter()
            .filter(|f| f.len() >= 14 && f[6..12] == src.0)
            .collect();
        let lldp_seen = mine.iter().filter(|f| f[..6] == lldp.0).count();
        let bcast_seen = mine.iter().filter(|f| f[..6] == Mac::BROADCAST.0).count();
        let unknown_seen = mine.iter().filter(|f| f[..6] == unknown.0).count();
        assert_eq!(lldp_seen, 0, "host {} got the LLDP frame", i + 1);
        assert_eq!(
            bcast_seen,
            1,
            "host {} got the broadcast {bcast_seen} times",
            i + 1
        );
        assert_eq!(
            unknown_seen,
            1,
            "host {} got the unknown unicast {unknown_seen} times",
            i + 1
        );
    }
    // SIGTERM: the capture client flushes its file and exits.
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::process::Command::new("kill")
        .arg(capture.id().to_string())
        .status();
    let t0 = Instant::now();
    while capture.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    capture.kill();
    let _ = capture.wait();
    let pcap = std::fs::read(&pcap_file).unwrap_or_default();
    let _ = std::fs::remove_file(&pcap_file);
    assert!(pcap.len() > 24, "empty capture");
    assert_eq!(&pcap[..4], &0xa1b2_3c4du32.to_le_bytes(), "pcap magic (ns)");
    let (mut rest, mut records) = (&pcap[24..], vec![]);
    while let Some(n) = patchbay_io::pcap::next_record_len(rest) {
        records.push(rest[16..n].to_vec());
        rest = &rest[n..];
    }
    let ours = records
        .iter()
        .filter(|r| r[6..12] == src.0 && r.windows(marker.len()).any(|w| w == marker))
        .count();
    assert_eq!(
        ours,
        2,
        "the port sent the broadcast and the unknown unicast once each; {} records",
        records.len()
    );
}

fn a_burst_of_malformed_frames_is_counted_and_forwarding_goes_on(m: Mode) {
    let Some(mut lab) = lab("t4", m) else {
        return;
    };
    let (a, c) = (lab.netns("a").unwrap(), lab.netns("c").unwrap());
    let pa = lab.veth_host("pa", &a, "198.18.4.1/24").unwrap();
    lab.start_daemon().unwrap();
    let (br, tc) = (lab.name("br"), lab.name("tc"));
    for cmd in [
        format!("tuntap add {tc} mode tap"),
        format!("link add {br} type bridge vlan_filtering 1"),
        format!("link set {pa} master {br}"),
        format!("link set {tc} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    lab.ip(&["link", "set", &tc, "netns", &c]).unwrap();
    lab.host_addr(&c, &tc, "198.18.4.3/24").unwrap();
    // Host c may send frames larger than the port's MTU of 1500.
    lab.ip(&["-n", &c, "link", "set", &tc, "mtu", "9000"])
        .unwrap();
    let src = Mac::local(0xbad);
    let dst = Mac::local(0x1);
    let truncated_tag = build_frame(dst, src, &[], ethertype::VLAN, &[]);
    let truncated_qinq = build_frame(
        dst,
        src,
        &[Tag::new(ethertype::QINQ, 5, 0)],
        ethertype::VLAN,
        &[0x00],
    );
    let reserved_vid = build_frame(
        dst,
        src,
        &[Tag::new(ethertype::VLAN, 4095, 0)],
        ethertype::IPV4,
        &[0; 46],
    );
    let oversize = build_frame(dst, src, &[], ethertype::IPV4, &[0; 3000]);
    let mcast_src = build_frame(
        dst,
        "01:00:5e:00:00:09".parse().unwrap(),
        &[],
        ethertype::IPV4,
        &[0; 46],
    );
    let runt = vec![0x02u8; 10];
    let mut burst = vec![];
    for _ in 0..20 {
        burst.extend([
            truncated_tag.clone(),
            truncated_qinq.clone(),
            reserved_vid.clone(),
            oversize.clone(),
            mcast_src.clone(),
        ]);
    }
    burst.push(runt);
    let sent = raw_send(&c, &tc, burst).unwrap();
    let runt_sent = *sent.last().unwrap();
    assert!(
        sent[..100].iter().all(|s| *s),
        "the kernel refused a test frame"
    );
    std::thread::sleep(Duration::from_millis(300));
    let st = pbj(&lab, &["stats", &tc]);
    let drops = &st[0]["stats"]["drops"];
    assert_eq!(drops["truncated_tag"], 40, "{st}");
    assert_eq!(drops["vlan_ingress"], 20, "{st}");
    assert_eq!(drops["oversize"], 20, "{st}");
    assert_eq!(drops["invalid_src_mac"], 20, "{st}");
    if runt_sent {
        assert_eq!(drops["runt"], 1, "{st}");
    }
    assert!(
        ping(&lab, &a, "198.18.4.3"),
        "forwarding stopped after the malformed burst"
    );
    // The same burst from the veth host, through the port's attachment
    // (AF_XDP or AF_PACKET): all but the oversize frames, which its veth
    // refuses before they reach the port.
    assert_attached(&lab, &pa, m);
    let mut burst = vec![];
    for _ in 0..20 {
        burst.extend([
            truncated_tag.clone(),
            truncated_qinq.clone(),
            reserved_vid.clone(),
            mcast_src.clone(),
        ]);
    }
    let sent = raw_send(&a, "eth0", burst).unwrap();
    assert!(sent.iter().all(|s| *s), "the kernel refused a test frame");
    let t0 = Instant::now();
    let st = loop {
        let st = pbj(&lab, &["stats", &pa]);
        if st[0]["stats"]["drops"]["invalid_src_mac"] == 20 || t0.elapsed() > Duration::from_secs(3)
        {
            break st;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let drops = &st[0]["stats"]["drops"];
    // Generic XDP runs before the kernel's own VLAN untagging, so the
    // AF_XDP port sees the truncated tags and counts them; an AF_PACKET
    // socket never does (skb_vlan_untag drops them first).
    let truncated = if m.attach == "af_xdp" { 40 } else { 0 };
    assert_eq!(
        drops["truncated_tag"].as_u64().unwrap_or(0),
        truncated,
        "{st}"
    );
    assert_eq!(drops["vlan_ingress"], 20, "{st}");
    assert_eq!(drops["invalid_src_mac"], 20, "{st}");
    assert!(
        ping(&lab, &a, "198.18.4.3"),
        "forwarding stopped after the malformed burst on the veth port"
    );
}

fn a_bad_command_names_what_was_wrong_and_changes_nothing(m: Mode) {
    let Some(mut lab) = lab("t5", m) else {
        return;
    };
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    let before = lab.pb(&["-j", "-d", "link", "show"]).unwrap();
    let e = lab
        .pb(&["link", "set", &br, "type", "bridge", "ageing_time", "soon"])
        .unwrap_err();
    assert!(e.contains("ageing_time") && e.contains("soon"), "{e}");
    let e = lab
        .pb(&["link", "set", "nosuchdev0", "master", &br])
        .unwrap_err();
    assert!(e.contains("nosuchdev0"), "{e}");
    let e = lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap_err();
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(lab.pb(&["-j", "-d", "link", "show"]).unwrap(), before);
    // -batch stops at the failing line and names it.
    let f = std::env::temp_dir().join(format!("{}.pb", lab.tag));
    std::fs::write(
        &f,
        format!("link set {br} up\nlink set {br} frobnicate\nlink set {br} down\n"),
    )
    .unwrap();
    let e = lab.pb(&["-batch", f.to_str().unwrap()]).unwrap_err();
    let _ = std::fs::remove_file(&f);
    assert!(e.contains(":2"), "{e}");
    let v: Value = serde_json::from_str(&lab.pb(&["-j", "link", "show", &br]).unwrap()).unwrap();
    assert!(
        v[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "line 1 ran, line 3 did not"
    );
}

every_layout!(three_hosts_on_veth_and_tap_ping_and_tcp_learn_and_age: three_hosts_on_veth_and_tap_ping_and_tcp_learn_and_age_rtc, three_hosts_on_veth_and_tap_ping_and_tcp_learn_and_age_rtc_af_packet, three_hosts_on_veth_and_tap_ping_and_tcp_learn_and_age_pipeline, three_hosts_on_veth_and_tap_ping_and_tcp_learn_and_age_pipeline_af_packet);
every_layout!(vlans_isolate_access_ports_and_the_trunk_carries_both_tagged: vlans_isolate_access_ports_and_the_trunk_carries_both_tagged_rtc, vlans_isolate_access_ports_and_the_trunk_carries_both_tagged_rtc_af_packet, vlans_isolate_access_ports_and_the_trunk_carries_both_tagged_pipeline, vlans_isolate_access_ports_and_the_trunk_carries_both_tagged_pipeline_af_packet);
every_layout!(link_local_frames_stay_and_a_flood_reaches_every_other_port_once: link_local_frames_stay_and_a_flood_reaches_every_other_port_once_rtc, link_local_frames_stay_and_a_flood_reaches_every_other_port_once_rtc_af_packet, link_local_frames_stay_and_a_flood_reaches_every_other_port_once_pipeline, link_local_frames_stay_and_a_flood_reaches_every_other_port_once_pipeline_af_packet);
every_layout!(a_burst_of_malformed_frames_is_counted_and_forwarding_goes_on: a_burst_of_malformed_frames_is_counted_and_forwarding_goes_on_rtc, a_burst_of_malformed_frames_is_counted_and_forwarding_goes_on_rtc_af_packet, a_burst_of_malformed_frames_is_counted_and_forwarding_goes_on_pipeline, a_burst_of_malformed_frames_is_counted_and_forwarding_goes_on_pipeline_af_packet);
every_layout!(a_bad_command_names_what_was_wrong_and_changes_nothing: a_bad_command_names_what_was_wrong_and_changes_nothing_rtc, a_bad_command_names_what_was_wrong_and_changes_nothing_rtc_af_packet, a_bad_command_names_what_was_wrong_and_changes_nothing_pipeline, a_bad_command_names_what_was_wrong_and_changes_nothing_pipeline_af_packet);

/// One frame the kernel refuses (a 4,000-byte broadcast for a port whose
/// MTU is 1,500) costs that frame only: the small frames in the same
/// burst still go, the big ones are counted `tx_too_big`, and
/// `tx_packets` counts what the kernel took.
#[test]
fn a_refused_frame_costs_only_itself() {
    let Some(mut lab) = patchbay_tests::lab("rf") else {
        return;
    };
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    let p1 = lab.veth_host("p1", &h1, "198.18.95.1/24").unwrap();
    let p2 = lab.veth_host("p2", &h2, "198.18.95.2/24").unwrap();
    // The sender's side takes jumbo frames; p1 does not.
    lab.ip(&["link", "set", &p2, "mtu", "9000"]).unwrap();
    lab.ip(&["-n", &h2, "link", "set", "eth0", "mtu", "9000"])
        .unwrap();
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    for c in [
        format!("link add {br} type bridge"),
        format!("link set {p1} master {br}"),
        format!("link set {p2} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&c.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    let src: Mac = mac_of(&lab, &h2, "eth0").parse().unwrap();
    let small = build_frame(Mac::BROADCAST, src, &[], 0x88b5, &[7; 46]);
    let big = build_frame(Mac::BROADCAST, src, &[], 0x88b5, &[9; 4000]);
    // 30 rounds of one big frame and 30 small ones, back to back (one
    // burst of the daemon's), a few ms apart (no socket buffer overflows
    // on a loaded machine).
    let cap = raw_capture(&h1, "eth0", Duration::from_secs(3)).unwrap();
    for _ in 0..30 {
        let mut frames = vec![big.clone()];
        frames.extend(std::iter::repeat_n(small.clone(), 30));
        let took = raw_send(&h2, "eth0", frames).unwrap();
        assert!(
            took.iter().all(|t| *t),
            "the sender's kernel refused frames"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = cap.join().unwrap().unwrap();
    let smalls = got.iter().filter(|f| f.len() == small.len()).count();
    let s = pbj(&lab, &["stats", &p1]);
    let row = &s.as_array().unwrap()[0];
    assert_eq!(
        smalls,
        900,
        "small frames lost behind refused ones: {row} {}",
        pbj(&lab, &["stats", &p2])
    );
    assert_eq!(row["stats"]["drops"]["tx_too_big"], 30, "{row}");
    assert!(row["stats"]["drops"]["tx_error"].is_null(), "{row}");
    // The refused ones are not counted as sent (anything else p1 sent
    // meanwhile, such as nothing at all, stays below 30).
    let tx = row["stats"]["tx_packets"].as_u64().unwrap();
    assert!((900..930).contains(&tx), "tx_packets {tx}: {row}");
}

/// A host with the veths' default checksum offload sends UDP with a
/// partial checksum; AF_XDP carries no metadata to say so, so the port
/// completes it, and the frame reaches the other host with a checksum
/// that verifies (it would be dropped by the receiver's UDP otherwise).
#[test]
fn a_partial_checksum_arrives_complete_over_af_xdp() {
    let m = Mode::new("run-to-completion", "af_xdp");
    let Some(mut lab) = lab("xc", m) else {
        return;
    };
    let (a, b) = (lab.netns("a").unwrap(), lab.netns("b").unwrap());
    let pa = lab.veth_host("pa", &a, "198.18.6.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.6.2/24").unwrap();
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    for cmd in [
        format!("link add {br} type bridge"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    assert_attached(&lab, &pa, m);
    let offloads = lab
        .exec_ok(&a, &["ethtool", "-k", "eth0"])
        .unwrap_or_default();
    if !offloads.is_empty() {
        assert!(offloads.contains("tx-checksumming: on"), "{offloads}");
    }
    // ARP first, so the datagrams are not held for it.
    assert!(ping(&lab, &a, "198.18.6.2"));
    let cap = raw_capture(&b, "eth0", Duration::from_secs(2)).unwrap();
    patchbay_lab::in_netns(&a, || {
        let s = std::net::UdpSocket::bind("198.18.6.1:0").unwrap();
        for _ in 0..5 {
            s.send_to(b"patchbay-partial-checksum", "198.18.6.2:9")
                .unwrap();
        }
    })
    .join()
    .unwrap()
    .unwrap();
    let frames = cap.join().unwrap().unwrap();
    let udp: Vec<&Vec<u8>> = frames
        .iter()
        .filter(|f| f.windows(25).any(|w| w == b"patchbay-partial-checksum"))
        .collect();
    assert_eq!(udp.len(), 5, "{} frames captured", frames.len());
    for f in udp {
        assert_eq!(
            patchbay_core::wire::csum::verifies(f),
            Some(true),
            "checksum of {f:02x?}"
        );
    }
}

/// Faults on AF_XDP ports: a program detached from outside (`bpftool link
/// detach`), a netdev that disappears. The port whose program went keeps
/// forwarding over its AF_PACKET socket and says so; the rest of the
/// switch goes on.
#[test]
fn an_af_xdp_port_survives_its_program_detached_and_a_neighbour_gone() {
    if !patchbay_tests::require(&["bpftool"], "bpftool") {
        return;
    }
    let m = Mode::new("run-to-completion", "af_xdp");
    let Some(mut lab) = lab("xf", m) else {
        return;
    };
    let (a, b, c) = (
        lab.netns("a").unwrap(),
        lab.netns("b").unwrap(),
        lab.netns("c").unwrap(),
    );
    let pa = lab.veth_host("pa", &a, "198.18.7.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.7.2/24").unwrap();
    let pc = lab.veth_host("pc", &c, "198.18.7.3/24").unwrap();
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    for cmd in [
        format!("link add {br} type bridge"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {pc} master {br}"),
        format!("link set {br} up"),
    ] {
        lab.pb(&cmd.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    assert!(ping(&lab, &a, "198.18.7.2"));
    // Replacing it with ip is refused: the BPF link holds it.
    assert!(lab
        .ip(&["link", "set", "dev", &pa, "xdpgeneric", "off"])
        .is_err());
    // The program on pa, as ip names it, and the link that holds it.
    let shown: Value =
        serde_json::from_str(&lab.ip(&["-j", "-d", "link", "show", &pa]).unwrap()).unwrap();
    let prog = shown[0]["xdp"]["prog"]["id"].clone();
    assert!(prog.is_u64(), "no XDP program on {pa}: {shown}");
    let links: Value = serde_json::from_str(
        &String::from_utf8(
            Command::new("bpftool")
                .args(["-j", "link", "show"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap(),
    )
    .unwrap();
    let id = links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["type"] == "xdp" && l["prog_id"] == prog)
        .and_then(|l| l["id"].as_u64())
        .unwrap_or_else(|| panic!("no XDP link on {pa}: {links}"));
    let st = Command::new("bpftool")
        .args(["link", "detach", "id", &id.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // Noticed within the once-a-second check, and named.
    let t0 = Instant::now();
    loop {
        let v = pbj(&lab, &["-d", "link", "show", &pa]);
        let via = v[0]["attach"].as_str().unwrap_or("").to_string();
        if via.contains("detached") {
            assert!(via.starts_with("af_packet"), "{via}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "not noticed: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(ping(&lab, &a, "198.18.7.2"), "a's port stopped forwarding");
    tcp_transfer(&a, &b, "198.18.7.2", 4 << 20);
    // b's netdev disappears: a and c go on.
    lab.ip(&["link", "del", &pb]).unwrap();
    assert!(ping(&lab, &a, "198.18.7.3"), "a -> c after b's port went");
    assert!(ping(&lab, &c, "198.18.7.1"), "c -> a after b's port went");
}
