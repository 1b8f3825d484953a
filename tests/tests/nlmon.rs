//! nlmon and `patchbay monitor` (root; tshark; CI rules as in netns.rs): a
//! scripted session (a bridge created, a port added, a MAC learned, the
//! MAC aged out) captured on an nlmon device decodes in tshark as
//! rtnetlink with no errors, and `patchbay monitor` prints the same
//! changes as `ip monitor` would.

use patchbay_tests::{lab, require};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ipn(lab: &patchbay_lab::Lab, ns: &str, args: &[&str]) {
    let mut a = vec!["-n", ns];
    a.extend_from_slice(args);
    lab.ip(&a)
        .unwrap_or_else(|e| panic!("ip -n {ns} {args:?}: {e}"));
}

#[test]
fn an_nlmon_capture_of_a_bridge_session_decodes_as_rtnetlink() {
    if !require(&["tshark"], "tshark") {
        return;
    }
    let Some(mut lab) = lab("nl") else { return };
    let (m, h) = (lab.netns("m").unwrap(), lab.netns("h").unwrap());
    lab.ip(&[
        "link", "add", "p1", "netns", &m, "type", "veth", "peer", "name", "eth0", "netns", &h,
    ])
    .unwrap();
    ipn(&lab, &m, &["link", "set", "p1", "up"]);
    ipn(
        &lab,
        &h,
        &["link", "set", "eth0", "address", "02:00:00:00:77:01", "up"],
    );
    ipn(&lab, &h, &["addr", "add", "198.18.67.1/24", "dev", "eth0"]);
    lab.start_daemon_in(Some(&m), &[]).unwrap();
    lab.pb(&["link", "add", "nlmon0", "type", "nlmon"]).unwrap();
    lab.pb(&["link", "set", "nlmon0", "up"]).unwrap();
    let pcap = std::env::temp_dir().join(format!("pb-nlmon-{}.pcap", lab.tag));
    let sock = lab.socket.clone();
    let spawn = |args: &[&str]| {
        Command::new(&lab.patchbay)
            .arg("--socket")
            .arg(&sock)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map(patchbay_lab::Proc::new)
            .unwrap()
    };
    let mut cap = spawn(&["capture", "nlmon0", "-w", pcap.to_str().unwrap()]);
    let mut mon = spawn(&["monitor"]);
    std::thread::sleep(Duration::from_millis(500));
    // The session.
    for l in [
        "link add br0 type bridge ageing_time 200",
        "link set p1 master br0",
        "link set br0 up",
    ] {
        lab.pb(&l.split(' ').collect::<Vec<_>>()).unwrap();
    }
    // The host speaks (an ARP request): its MAC is learned on p1, and
    // ages out 2 s later.
    let _ = lab.exec(&h, &["ping", "-c", "1", "-W", "1", "198.18.67.2"]);
    std::thread::sleep(Duration::from_millis(4500));
    let fdb = lab.pb(&["bridge", "fdb", "show", "br", "br0"]).unwrap();
    assert!(!fdb.contains("02:00:00:00:77:01"), "aged out: {fdb}");
    // SIGTERM: the capture writes what it has and exits.
    cap.terminate();
    mon.terminate();
    let _ = cap.wait();
    let out = mon.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let tsh = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "netlink-route.nltype",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .unwrap();
    let verbose = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .arg("-V")
        .output()
        .unwrap();
    let file = std::fs::read(&pcap).unwrap();
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(
        u32::from_le_bytes(file[20..24].try_into().unwrap()),
        253,
        "LINKTYPE_NETLINK"
    );
    let fields = String::from_utf8_lossy(&tsh.stdout).into_owned();
    let v = String::from_utf8_lossy(&verbose.stdout).into_owned();
    assert!(!v.contains("Malformed"), "{v}");
    for l in fields.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        assert!(
            f.get(1).is_none_or(|s| s.is_empty()),
            "expert info: {fields}"
        );
    }
    // The session's messages, in order: the bridge, the port joining it,
    // the MAC learned, the MAC aged out.
    let types: Vec<&str> = fields
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    let pos = |t: &str| types.iter().position(|x| *x == t);
    let (new_link, new_neigh, del_neigh) = (pos("16"), pos("28"), pos("29"));
    assert!(
        new_link.is_some() && new_neigh.is_some() && del_neigh.is_some(),
        "{fields}\n{text}"
    );
    assert!(new_link < new_neigh && new_neigh < del_neigh, "{fields}");
    assert!(v.contains("Linux netlink") || v.contains("Netlink"), "{v}");
    assert!(v.contains("br0"), "{v}");
    // The monitor saw the same, in ip monitor's words.
    assert!(text.contains(": br0: <"), "{text}");
    assert!(
        text.contains("02:00:00:00:77:01 dev p1 master br0"),
        "{text}"
    );
    assert!(
        text.contains("Deleted 02:00:00:00:77:01 dev p1 master br0 stale"),
        "{text}"
    );
}
