//! Every kind of control frame patchbay puts on a wire, as Wireshark reads
//! it (root, tshark; CI rules as in netns.rs). One daemon, in namespace `u`,
//! runs at once: an STP bridge under a kernel root (config BPDUs, and a TCN
//! when a port starts forwarding), an RSTP bridge (RST BPDUs), an 802.3ad
//! bond and an lacp team (LACPDUs; the bond answers a Marker PDU, the team
//! does not), an active-backup bond with ARP and NS monitoring (probes), a
//! team with arp_ping and nsna_ping watchers (probes), an active-backup bond
//! whose host (namespace `h`, behind the bond's TAP) has IPv4, IPv6 and a
//! multicast group, failed over (gratuitous ARP, unsolicited NA, the IGMP
//! report again, and the host's MLD reports it carries), and a VTEP (VXLAN
//! datagrams on the underlay). tshark captures what leaves each port and
//! the underlay; the test fails on any kind missing and on any expert
//! warning or error.
//!
//! IGMP and MLD *queries* are not here: patchbay's bridge has no querier
//! yet (issue 21, multicast snooping).

use patchbay_core::wire::lacp::{self, Marker};
use patchbay_core::wire::Mac;
use patchbay_lab::{raw_send, Lab};
use patchbay_tests::{lab, require};
use std::process::Command;
use std::time::Duration;

fn ipn(lab: &Lab, ns: &str, args: &[&str]) {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a)
        .unwrap_or_else(|e| panic!("ip -n {ns} {args:?}: {e}"));
}

fn pb(lab: &Lab, args: &[&str]) {
    lab.pb(args)
        .unwrap_or_else(|e| panic!("patchbay {args:?}: {e}"));
}

/// Removes a file when the test ends, passed or failed.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The tshark expert severities (epan/proto.h: PI_WARN, PI_ERROR).
const PI_WARN: u64 = 0x0060_0000;

#[test]
fn every_control_frame_patchbay_sends_decodes_in_tshark_without_warnings() {
    if !require(&["tshark"], "tshark") {
        return;
    }
    let Some(mut lab) = lab("ws") else { return };
    let (u, p, h) = (
        lab.netns("u").unwrap(),
        lab.netns("p").unwrap(),
        lab.netns("h").unwrap(),
    );
    // Every port: `NAME` in u (patchbay's) to `NAME` in p (its peer).
    let ports = [
        "st1", "st2", "rs1", "bl1", "tl1", "ap1", "tw1", "ba1", "ba2",
    ];
    for d in ports.iter().chain(["ul"].iter()) {
        ipn(
            &lab,
            &u,
            &[
                "link", "add", d, "type", "veth", "peer", "name", d, "netns", &p,
            ],
        );
        ipn(&lab, &u, &["link", "set", d, "up"]);
        ipn(&lab, &p, &["link", "set", d, "up"]);
    }
    // The underlay.
    ipn(&lab, &u, &["addr", "add", "198.18.42.1/24", "dev", "ul"]);
    ipn(&lab, &p, &["addr", "add", "198.18.42.2/24", "dev", "ul"]);
    // A kernel VTEP takes the datagrams (no port-unreachable errors back).
    ipn(
        &lab,
        &p,
        &[
            "link",
            "add",
            "vxp",
            "type",
            "vxlan",
            "id",
            "42",
            "local",
            "198.18.42.2",
            "dstport",
            "4789",
        ],
    );
    ipn(&lab, &p, &["link", "set", "vxp", "up"]);
    // The kernel's STP root, on st1's far end; st2's far end is no bridge,
    // so patchbay's st2 is designated (config BPDUs) and its move to
    // forwarding is a topology change (a TCN up the root port, st1).
    ipn(
        &lab,
        &p,
        &[
            "link",
            "add",
            "kr",
            "type",
            "bridge",
            "stp_state",
            "1",
            "priority",
            "0",
            "forward_delay",
            "200",
            "hello_time",
            "100",
        ],
    );
    ipn(&lab, &p, &["link", "set", "st1", "master", "kr"]);
    ipn(&lab, &p, &["link", "set", "kr", "up"]);

    // What patchbay's side of every port and of the underlay sends: what
    // the far ends in p receive. (Not with a direction filter: libpcap's
    // `inbound` and `outbound` here lose frames a burst of sends brings.)
    // p's own frames are told apart by their source addresses below.
    let cap = std::env::temp_dir().join(format!("{}-control.pcapng", lab.tag));
    let _gone = RemoveOnDrop(cap.clone());
    // Teams have teamd sockets in /var/run/teamd, shared by every
    // namespace: their names are the lab's own.
    let (tl, tw) = (lab.name("tl"), lab.name("tw"));
    let mut args = vec!["tshark", "-q"];
    for d in ports.iter().chain(["ul"].iter()) {
        args.extend(["-i", d]);
    }
    let capf = cap.to_str().unwrap().to_string();
    args.extend(["-w", &capf]);
    let mut tshark = lab.spawn(&p, &args).unwrap();
    // tshark needs a moment before it captures.
    std::thread::sleep(Duration::from_secs(3));

    // Attached with AF_PACKET: an AF_XDP port's frames bypass the packet
    // taps tshark reads (ARCHITECTURE.md, AF_XDP ports).
    lab.start_daemon_in(Some(&u), &["--attach", "af_packet"])
        .unwrap();
    // STP.
    // Its own forward delay as short as the root's: the first listening
    // period runs on the bridge's own value, as in the kernel, before the
    // root's BPDUs bring theirs.
    pb(
        &lab,
        &[
            "link",
            "add",
            "bst",
            "type",
            "bridge",
            "stp_state",
            "1",
            "forward_delay",
            "200",
            "hello_time",
            "100",
        ],
    );
    pb(&lab, &["link", "set", "st1", "master", "bst"]);
    pb(&lab, &["link", "set", "st2", "master", "bst"]);
    pb(&lab, &["link", "set", "bst", "up"]);
    // RSTP.
    pb(
        &lab,
        &["link", "add", "brs", "type", "bridge", "stp_state", "1"],
    );
    pb(&lab, &["mstpctl", "addbridge", "brs"]);
    pb(&lab, &["link", "set", "rs1", "master", "brs"]);
    pb(&lab, &["link", "set", "brs", "up"]);
    // LACP: a bond and a team.
    pb(
        &lab,
        &[
            "link",
            "add",
            "bl",
            "type",
            "bond",
            "mode",
            "802.3ad",
            "lacp_rate",
            "fast",
        ],
    );
    pb(&lab, &["link", "set", "bl1", "master", "bl"]);
    pb(&lab, &["link", "set", "bl", "up"]);
    pb(
        &lab,
        &[
            "link",
            "add",
            &tl,
            "type",
            "team",
            "config",
            r#"{"runner": {"name": "lacp", "active": true, "fast_rate": true}}"#,
        ],
    );
    pb(&lab, &["teamctl", &tl, "port", "add", "tl1"]);
    pb(&lab, &["link", "set", &tl, "up"]);
    // ARP and NS probes: a bond's monitor and a team's watchers.
    pb(
        &lab,
        &[
            "link",
            "add",
            "ap",
            "type",
            "bond",
            "mode",
            "active-backup",
            "arp_interval",
            "200",
            "arp_ip_target",
            "198.18.40.9",
            "ns_ip6_target",
            "fd00:40::9",
        ],
    );
    pb(&lab, &["link", "set", "ap1", "master", "ap"]);
    pb(&lab, &["link", "set", "ap", "up"]);
    pb(
        &lab,
        &[
            "link",
            "add",
            &tw,
            "type",
            "team",
            "config",
            r#"{"runner": {"name": "activebackup"}, "link_watch": [
                {"name": "arp_ping", "interval": 200, "missed_max": 50,
                 "source_host": "198.18.43.1", "target_host": "198.18.43.9"},
                {"name": "nsna_ping", "interval": 200, "missed_max": 50,
                 "target_host": "fd00:43::9"}]}"#,
        ],
    );
    pb(&lab, &["teamctl", &tw, "port", "add", "tw1"]);
    pb(&lab, &["link", "set", &tw, "up"]);
    // A failover with a host behind: ba's TAP is the host's interface.
    pb(
        &lab,
        &[
            "link",
            "add",
            "ba",
            "address",
            "02:00:00:00:41:01",
            "type",
            "bond",
            "mode",
            "active-backup",
            "miimon",
            "50",
            "num_grat_arp",
            "1",
            "num_unsol_na",
            "1",
            "resend_igmp",
            "1",
        ],
    );
    pb(&lab, &["link", "set", "ba1", "master", "ba"]);
    pb(&lab, &["link", "set", "ba2", "master", "ba"]);
    pb(&lab, &["link", "set", "ba", "up"]);
    ipn(&lab, &u, &["link", "set", "ba", "netns", &h]);
    lab.exec_ok(
        &h,
        &[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=0",
            "net.ipv6.conf.ba.disable_ipv6=0",
        ],
    )
    .unwrap();
    lab.host_addr(&h, "ba", "198.18.41.2/24").unwrap();
    ipn(
        &lab,
        &h,
        &["addr", "add", "fd00:41::2/64", "dev", "ba", "nodad"],
    );
    // VXLAN: the bridge's own TAP in u sends into the segment.
    pb(
        &lab,
        &[
            "link",
            "add",
            "vx",
            "type",
            "vxlan",
            "id",
            "42",
            "local",
            "198.18.42.1",
            "remote",
            "198.18.42.2",
            "dstport",
            "4789",
        ],
    );
    pb(&lab, &["link", "add", "bv", "type", "bridge"]);
    pb(&lab, &["link", "set", "vx", "master", "bv"]);
    pb(&lab, &["link", "set", "vx", "up"]);
    pb(&lab, &["link", "set", "bv", "up"]);
    ipn(&lab, &u, &["addr", "add", "198.18.44.1/24", "dev", "bv"]);

    // The host speaks: ARP, IPv6 (NS), and joins a group (an IGMP report).
    ipn(
        &lab,
        &h,
        &["addr", "add", "239.1.41.1/32", "dev", "ba", "autojoin"],
    );
    let _ = lab.exec(
        &h,
        &["ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.41.9"],
    );
    let _ = lab.exec(
        &h,
        &[
            "ping",
            "-6",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "fd00:41::9",
        ],
    );
    let _ = lab.exec(
        &u,
        &["ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.44.9"],
    );
    // A Marker Information PDU to the bond and to the team.
    let marker = lacp::frame(
        Mac::local(0x55),
        &Marker {
            tlv_type: lacp::MARKER_INFORMATION,
            requester_port: 1,
            requester_system: Mac::local(0x55),
            requester_transaction_id: 42,
        }
        .emit(),
    );
    for d in ["bl1", "tl1"] {
        assert_eq!(raw_send(&p, d, vec![marker.clone()]).unwrap(), [true]);
    }
    // Fail ba over: its active member loses carrier (its far end, being
    // captured, stays up).
    ipn(&lab, &u, &["link", "set", "ba1", "down"]);
    // Long enough for the STP bridge's second port to reach forwarding
    // (2 x the root's forward delay of 2 s) and send its TCN.
    std::thread::sleep(Duration::from_secs(7));
    tshark.terminate();
    let _ = tshark.wait();

    // The addresses p sends from.
    let theirs: Vec<String> =
        patchbay_tests::json(&lab.ip(&["-n", &p, "-j", "link", "show"]).unwrap())
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["address"].as_str().map(str::to_string))
            .collect();
    let fields = [
        "eth.src",
        "frame.interface_name",
        "stp.type",
        "slow.subtype",
        "marker.tlvType",
        "marker.tlvLen",
        "arp.opcode",
        "arp.isgratuitous",
        "arp.dst.proto_ipv4",
        "icmpv6.type",
        "icmpv6.nd.na.flag.s",
        "igmp.type",
        "vxlan.vni",
        "_ws.expert.severity",
        "_ws.expert.message",
        "frame.protocols",
    ];
    let mut a = vec!["-r", &capf, "-T", "fields", "-E", "separator=/t"];
    for f in &fields {
        a.extend(["-e", f]);
    }
    let out = Command::new("tshark").args(&a).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tshark -r: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<&str>>())
        .filter(|r| {
            !theirs
                .iter()
                .any(|m| r[0].split(',').next() == Some(m.as_str()))
        })
        .collect();
    let col = |r: &Vec<&str>, name: &str| -> String {
        let i = fields.iter().position(|f| *f == name).unwrap();
        r.get(i).copied().unwrap_or("").to_string()
    };
    let count = |pred: &dyn Fn(&Vec<&str>) -> bool| rows.iter().filter(|r| pred(r)).count();
    let on = |r: &Vec<&str>, d: &str| col(r, "frame.interface_name") == d;

    // No expert warning or error on any frame.
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| {
            col(r, "_ws.expert.severity")
                .split(',')
                .filter_map(|s| s.parse::<u64>().ok())
                .any(|s| s >= PI_WARN)
        })
        .map(|r| r.join(" | "))
        .collect();
    let kinds: Vec<(&str, usize)> = vec![
        (
            "config BPDU (st2)",
            count(&|r| on(r, "st2") && col(r, "stp.type") == "0x00"),
        ),
        (
            "TCN (st1)",
            count(&|r| on(r, "st1") && col(r, "stp.type") == "0x80"),
        ),
        (
            "RST BPDU (rs1)",
            count(&|r| on(r, "rs1") && col(r, "stp.type") == "0x02"),
        ),
        (
            "LACPDU (bond bl1)",
            count(&|r| on(r, "bl1") && col(r, "slow.subtype") == "0x01"),
        ),
        (
            "LACPDU (team tl1)",
            count(&|r| on(r, "tl1") && col(r, "slow.subtype") == "0x01"),
        ),
        (
            "marker response (bond bl1)",
            count(&|r| {
                on(r, "bl1")
                    && col(r, "marker.tlvType").starts_with("0x02,")
                    && col(r, "marker.tlvLen").starts_with("0x10,")
            }),
        ),
        (
            "ARP probe (bond ap1)",
            count(&|r| on(r, "ap1") && col(r, "arp.dst.proto_ipv4") == "198.18.40.9"),
        ),
        (
            "NS probe (bond ap1)",
            count(&|r| on(r, "ap1") && col(r, "icmpv6.type") == "135"),
        ),
        (
            "ARP probe (team tw1)",
            count(&|r| on(r, "tw1") && col(r, "arp.dst.proto_ipv4") == "198.18.43.9"),
        ),
        (
            "NS probe (team tw1)",
            count(&|r| on(r, "tw1") && col(r, "icmpv6.type") == "135"),
        ),
        (
            "gratuitous ARP (ba2)",
            count(&|r| on(r, "ba2") && col(r, "arp.isgratuitous") == "1"),
        ),
        (
            "unsolicited NA (ba2)",
            count(&|r| {
                on(r, "ba2")
                    && col(r, "icmpv6.type") == "136"
                    && col(r, "icmpv6.nd.na.flag.s") == "0"
            }),
        ),
        (
            "IGMP report again (ba2)",
            count(&|r| on(r, "ba2") && col(r, "igmp.type") == "0x22"),
        ),
        (
            "MLD report (ba1 or ba2)",
            count(&|r| {
                (on(r, "ba1") || on(r, "ba2"))
                    && matches!(col(r, "icmpv6.type").as_str(), "131" | "143")
            }),
        ),
        (
            "VXLAN (ul)",
            count(&|r| on(r, "ul") && col(r, "vxlan.vni") == "42"),
        ),
    ];
    // (The requests the test sent show on both, as type 0x01.)
    let team_markers = count(&|r| on(r, "tl1") && col(r, "marker.tlvType").starts_with("0x02,"));
    eprintln!("{} frames captured; by kind:", rows.len());
    for (k, n) in &kinds {
        eprintln!("  {k}: {n}");
    }
    let missing: Vec<&str> = kinds.iter().filter(|k| k.1 == 0).map(|k| k.0).collect();
    assert!(missing.is_empty(), "not captured: {missing:?}\n{}", text);
    assert_eq!(team_markers, 0, "the team answered a Marker PDU:\n{text}");
    assert!(
        bad.is_empty(),
        "tshark expert warnings or errors:\n{}",
        bad.join("\n")
    );
}
