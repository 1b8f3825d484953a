//! Spanning-tree interop in network namespaces against a peer nobody here
//! wrote: two kernel bridges with stp_state 1 and a patchbay bridge in a
//! triangle of veth links. Root and CI-only rules as in netns.rs.

use patchbay_core::wire::bpdu::BridgeId;
use patchbay_lab::Lab;
use patchbay_tests::{json, lab};
use serde_json::Value;
use std::time::{Duration, Instant};

/// `[{"ifname": .., "state": ..}, ...]` as (name, state) pairs.
fn port_states(ports: &Value) -> Vec<(String, String)> {
    ports
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["ifname"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What one bridge says: its root, and its ports' states.
#[derive(Debug)]
struct View {
    root: BridgeId,
    states: Vec<(String, String)>,
}

fn kernel_view(lab: &Lab, ns: &str, br: &str) -> View {
    // sysfs, not netlink: iproute2 6.1 prints the bridge id as
    // designated_root. `ip netns exec` mounts the namespace's /sys.
    let raw = lab
        .exec_ok(ns, &["cat", &format!("/sys/class/net/{br}/bridge/root_id")])
        .unwrap();
    let (prio, mac) = raw.trim().split_once('.').unwrap();
    let mac: Vec<String> = (0..6).map(|i| mac[2 * i..2 * i + 2].to_string()).collect();
    let root = BridgeId::parse(&format!("{prio}.{}", mac.join(":"))).unwrap();
    let out = std::process::Command::new("bridge")
        .args(["-n", ns, "-j", "link", "show"])
        .output()
        .unwrap();
    let ports = json(&String::from_utf8_lossy(&out.stdout));
    let states = port_states(&ports);
    View { root, states }
}

fn patchbay_view(lab: &Lab, br: &str) -> View {
    let l = json(&lab.pb(&["-j", "-d", "link", "show", br]).unwrap());
    let root = BridgeId::parse(l[0]["linkinfo"]["info_data"]["root_id"].as_str().unwrap()).unwrap();
    let ports = json(&lab.pb(&["-j", "bridge", "link", "show"]).unwrap());
    let states = port_states(&ports);
    View { root, states }
}

/// Waits until all three bridges name the same root and the port states
/// are settled (forwarding or blocking only) with `blocked` ports blocking.
fn wait_converged(
    lab: &Lab,
    kernels: &[(&str, &str)],
    pb: &str,
    blocked: usize,
    limit: Duration,
) -> (Duration, Vec<View>) {
    let t0 = Instant::now();
    loop {
        let mut views: Vec<View> = kernels
            .iter()
            .map(|(ns, br)| kernel_view(lab, ns, br))
            .collect();
        views.push(patchbay_view(lab, pb));
        let same_root = views.iter().all(|v| v.root == views[0].root);
        let states: Vec<&String> = views
            .iter()
            .flat_map(|v| v.states.iter().map(|s| &s.1))
            .collect();
        // Ports on a cut link are disabled; every other port must have settled.
        let settled = states
            .iter()
            .all(|s| *s == "forwarding" || *s == "blocking" || *s == "disabled");
        let nblocked = states.iter().filter(|s| **s == "blocking").count();
        if same_root && settled && nblocked == blocked {
            return (t0.elapsed(), views);
        }
        assert!(
            t0.elapsed() < limit,
            "no convergence within {limit:?}: {views:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn kernel_bridges_and_patchbay_agree_on_one_tree_and_reconverge() {
    let Some(mut lab) = lab("st") else { return };
    let (ka, kb) = (lab.netns("ka").unwrap(), lab.netns("kb").unwrap());
    for ns in [&ka, &kb] {
        lab.ip(&[
            "-n",
            ns,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "1",
        ])
        .unwrap();
    }
    // ka <-> kb
    lab.ip(&[
        "link", "add", "x", "netns", &ka, "type", "veth", "peer", "name", "x", "netns", &kb,
    ])
    .unwrap();
    // ka <-> patchbay, kb <-> patchbay
    let pa = lab.name("pa");
    let pbp = lab.name("pb");
    lab.ip(&[
        "link", "add", &pa, "type", "veth", "peer", "name", "p", "netns", &ka,
    ])
    .unwrap();
    lab.track_link(&pa);
    lab.ip(&[
        "link", "add", &pbp, "type", "veth", "peer", "name", "p", "netns", &kb,
    ])
    .unwrap();
    lab.track_link(&pbp);
    for ns in [&ka, &kb] {
        for dev in ["x", "p"] {
            lab.ip(&["-n", ns, "link", "set", dev, "master", "br0"])
                .unwrap();
            lab.ip(&["-n", ns, "link", "set", dev, "up"]).unwrap();
        }
        lab.ip(&["-n", ns, "link", "set", "br0", "up"]).unwrap();
    }
    for p in [&pa, &pbp] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{p}/disable_ipv6"), "1");
        lab.ip(&["link", "set", p, "up"]).unwrap();
    }
    // tshark listens on a port's netdev: frames an AF_XDP port sends
    // and receives bypass the kernel's packet taps (ARCHITECTURE.md,
    // AF_XDP ports), so this port is attached with AF_PACKET.
    lab.daemon_args = vec!["--attach".into(), "af_packet".into()];
    lab.start_daemon().unwrap();
    let br = lab.name("br");
    // patchbay's bridge has the lowest priority: it must become the root.
    lab.pb(&[
        "link",
        "add",
        &br,
        "type",
        "bridge",
        "stp_state",
        "1",
        "priority",
        "4096",
    ])
    .unwrap();
    lab.pb(&["link", "set", &pa, "master", &br]).unwrap();
    lab.pb(&["link", "set", &pbp, "master", &br]).unwrap();
    // Capture what patchbay sends on one port, for tshark.
    let cap = std::env::temp_dir().join(format!("{}-bpdu.pcap", lab.tag));
    let tshark = std::process::Command::new("tshark")
        .args([
            "-i",
            &pa,
            "-a",
            "duration:8",
            "-f",
            "ether dst 01:80:c2:00:00:00",
            "-w",
        ])
        .arg(&cap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(patchbay_lab::Proc::new);
    let t0 = Instant::now();
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    let kernels = [(ka.as_str(), "br0"), (kb.as_str(), "br0")];
    let (took, views) = wait_converged(&lab, &kernels, &br, 1, Duration::from_secs(90));
    let pbid = BridgeId::parse(
        json(&lab.pb(&["-j", "-d", "link", "show", &br]).unwrap())[0]["linkinfo"]["info_data"]
            ["bridge_id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        views[0].root, pbid,
        "the kernel bridges did not elect patchbay's bridge (priority 4096) as root: {views:#?}"
    );
    eprintln!(
        "converged in {:.1} s (real time): {views:?}",
        took.as_secs_f64()
    );
    // The root's ports all forward; the blocked port is on the kernel-kernel link.
    assert!(
        views[2].states.iter().all(|s| s.1 == "forwarding"),
        "{views:#?}"
    );
    let blocked: Vec<&(String, String)> = views[..2]
        .iter()
        .flat_map(|v| v.states.iter())
        .filter(|s| s.1 == "blocking")
        .collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        blocked[0].0, "x",
        "the blocked port should be on the ka-kb link"
    );

    // patchbay's BPDUs decode in tshark as 802.1D config BPDUs, without
    // malformed-packet or warning expert info.
    if let Ok(mut t) = tshark {
        let _ = t.wait();
        let pbmac = std::fs::read_to_string(format!("/sys/class/net/{pa}/address"))
            .unwrap()
            .trim()
            .to_string();
        let out = std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&cap)
            .args(["-Y", &format!("eth.src == {pbmac}"), "-V"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let _ = std::fs::remove_file(&cap);
        assert!(
            text.contains("Spanning Tree Protocol"),
            "no BPDU from patchbay captured:\n{text}"
        );
        assert!(text.contains("BPDU Type: Configuration (0x00)"), "{text}");
        assert!(text.contains("Root Bridge Priority: 4096"), "{text}");
        assert!(
            !text.contains("Malformed") && !text.contains("[Expert Info (Warning"),
            "tshark complains:\n{text}"
        );
    } else {
        panic!("tshark is needed for this test (apt-get install tshark)");
    }

    // Cut the ka-kb link: no loop is left, so nothing blocks and the tree
    // is the two links through patchbay.
    let t1 = Instant::now();
    lab.ip(&["-n", &ka, "link", "set", "x", "down"]).unwrap();
    let (took2, views) = wait_converged(
        &lab,
        &[(ka.as_str(), "br0"), (kb.as_str(), "br0")],
        &br,
        0,
        Duration::from_secs(90),
    );
    eprintln!(
        "reconverged in {:.1} s after the cut: {views:?}",
        took2.as_secs_f64()
    );
    // Cut a patchbay link instead: the blocked link must come back.
    lab.ip(&["-n", &ka, "link", "set", "x", "up"]).unwrap();
    let (_, _) = wait_converged(
        &lab,
        &[(ka.as_str(), "br0"), (kb.as_str(), "br0")],
        &br,
        1,
        Duration::from_secs(90),
    );
    let t2 = Instant::now();
    lab.ip(&["link", "set", &pa, "down"]).unwrap();
    let (took3, views) = wait_converged(
        &lab,
        &[(ka.as_str(), "br0"), (kb.as_str(), "br0")],
        &br,
        0,
        Duration::from_secs(120),
    );
    assert!(views.iter().all(|v| v.root == pbid), "{views:#?}");
    eprintln!(
        "timings (real): initial {:.1} s, after the ka-kb cut {:.1} s, after the patchbay-ka cut {:.1} s (total {:.1} s, {:.1} s)",
        took.as_secs_f64(),
        took2.as_secs_f64(),
        took3.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        t1.elapsed().as_secs_f64().max(t2.elapsed().as_secs_f64())
    );
}
