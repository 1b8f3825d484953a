//! The exposed TAP is the device (root; CI rules as in netns.rs): what
//! `ip` does to the TAP patchbay exposes for a device (admin state, MTU,
//! address, name; in whatever namespace the TAP was moved to) becomes the
//! device's state, through the same checks as `patchbay link set`; a
//! change the device cannot take is set back on the TAP.

use patchbay_lab::Lab;
use patchbay_tests::{lab, pb_json, require, veth_pair};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `patchbay -j link show DEV`'s one row.
fn row(lab: &Lab, dev: &str) -> Value {
    pb_json(lab, &["link", "show", dev])[0].clone()
}

fn is_up(r: &Value) -> bool {
    r["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "UP"))
}

/// Waits (up to 5 s) for `dev`'s row to satisfy `ok`; the last row.
fn until(lab: &Lab, dev: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let r = row(lab, dev);
        if ok(&r) {
            return r;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{dev}: {what} never showed in patchbay link show: {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ip [-n NS] -j link show DEV`'s one row.
fn kernel_row(lab: &Lab, ns: Option<&str>, dev: &str) -> Value {
    let mut args = vec![];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["-j", "link", "show", dev]);
    let out = lab.ip(&args).unwrap();
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

/// up, mtu, address and down with `ip` on the TAP of `dev` (in `ns`, or
/// the daemon's namespace), each seen by patchbay.
fn ip_drives(lab: &Lab, ns: Option<&str>, dev: &str, mac: &str) {
    let ip = |args: &[&str]| {
        let mut a = vec![];
        if let Some(ns) = ns {
            a.extend(["-n", ns]);
        }
        a.extend(["link", "set", dev]);
        a.extend_from_slice(args);
        lab.ip(&a).unwrap();
    };
    ip(&["up"]);
    until(lab, dev, "up", is_up);
    ip(&["mtu", "1400"]);
    until(lab, dev, "mtu 1400", |r| r["mtu"] == 1400);
    ip(&["address", mac]);
    until(lab, dev, "the new address", |r| r["address"] == mac);
    ip(&["down"]);
    let r = until(lab, dev, "down", |r| !is_up(r));
    // And the two agree on everything they were told.
    let k = kernel_row(lab, ns, dev);
    assert_eq!((&k["mtu"], &k["address"]), (&r["mtu"], &r["address"]));
}

#[test]
fn ip_on_the_exposed_tap_sets_a_bridge_a_vlan_and_a_bond() {
    let Some(mut lab) = lab("hs") else { return };
    let (low, peer) = (lab.name("low"), lab.name("lowp"));
    veth_pair(&mut lab, &low, &peer);
    lab.start_daemon().unwrap();
    let (br, vl, bond) = (lab.name("br"), lab.name("v10"), lab.name("bd"));
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    lab.pb(&[
        "link", "add", "link", &low, "name", &vl, "type", "vlan", "id", "10",
    ])
    .unwrap();
    lab.pb(&[
        "link",
        "add",
        &bond,
        "type",
        "bond",
        "mode",
        "active-backup",
    ])
    .unwrap();
    // patchbay monitor prints what the host's changes did.
    let mut mon = Command::new(&lab.patchbay)
        .arg("--socket")
        .arg(&lab.socket)
        .arg("monitor")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(patchbay_lab::Proc::new)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ip_drives(&lab, None, &br, "02:00:00:00:51:01");
    ip_drives(&lab, None, &vl, "02:00:00:00:51:02");
    // The bond's TAP moved into another namespace with ip, and driven there.
    let ns = lab.netns("n").unwrap();
    lab.ip(&["link", "set", &bond, "netns", &ns]).unwrap();
    ip_drives(&lab, Some(&ns), &bond, "02:00:00:00:51:03");
    std::thread::sleep(Duration::from_millis(300));
    mon.terminate();
    let out = mon.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(": {br}: <")) && text.contains("mtu 1400"),
        "{text}"
    );

    // A VLAN device takes no more than its lower's MTU (ERANGE): the TAP
    // is set back.
    lab.ip(&["link", "set", &vl, "mtu", "9000"]).unwrap();
    let t0 = Instant::now();
    while kernel_row(&lab, None, &vl)["mtu"] != 1400 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the refused MTU stayed on the TAP: {}",
            kernel_row(&lab, None, &vl)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(row(&lab, &vl)["mtu"], 1400);

    // patchbay's own changes reach the TAP.
    lab.pb(&["link", "set", &br, "up", "mtu", "1300"]).unwrap();
    let k = kernel_row(&lab, None, &br);
    assert_eq!(k["mtu"], 1300, "{k}");
    assert!(k["flags"].to_string().contains("\"UP\""), "{k}");

    // A rename with ip (the device down first, as the kernel needs) is
    // the device's new name; patchbay's rename renames the TAP.
    let (br2, br3) = (lab.name("brx"), lab.name("bry"));
    lab.ip(&["link", "set", &br, "down"]).unwrap();
    lab.ip(&["link", "set", &br, "name", &br2]).unwrap();
    let t0 = Instant::now();
    while lab.pb(&["link", "show", &br2]).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(5), "the rename not seen");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!is_up(&row(&lab, &br2)));
    let e = lab.pb(&["link", "set", &bond, "up"]).and_then(|_| {
        lab.pb(&["link", "set", &bond, "name", &br3])
            .map(|_| String::new())
    });
    assert!(
        e.is_err_and(|e| e.contains("EBUSY")),
        "renaming an up device"
    );
    lab.pb(&["link", "set", &br2, "name", &br3]).unwrap();
    assert_eq!(kernel_row(&lab, None, &br3)["ifname"], br3.as_str());
}

#[test]
fn a_macvlan_moved_with_ip_comes_up_with_ip_alone() {
    if !require(&["ping"], "iputils-ping") {
        return;
    }
    let Some(mut lab) = lab("hm") else { return };
    let (n1, n2) = (lab.netns("n1").unwrap(), lab.netns("n2").unwrap());
    let (low, peer) = (lab.name("low"), lab.name("lowp"));
    veth_pair(&mut lab, &low, &peer);
    lab.start_daemon().unwrap();
    let (m1, m2) = (lab.name("mv1"), lab.name("mv2"));
    for (m, ns, addr) in [(&m1, &n1, "198.18.52.1/24"), (&m2, &n2, "198.18.52.2/24")] {
        lab.pb(&[
            "link", "add", "link", &low, "name", m, "type", "macvlan", "mode", "bridge",
        ])
        .unwrap();
        // GUIDE.md's steps, with ip only from here on.
        lab.ip(&["link", "set", m, "netns", ns]).unwrap();
        lab.ip(&["-n", ns, "addr", "add", addr, "dev", m]).unwrap();
        lab.exec_ok(ns, &["ip", "link", "set", m, "up"]).unwrap();
    }
    until(&lab, &m1, "up", is_up);
    until(&lab, &m2, "up", is_up);
    let pong = lab
        .exec(
            &n1,
            &["ping", "-c", "2", "-i", "0.2", "-W", "2", "198.18.52.2"],
        )
        .unwrap();
    assert!(
        pong.status.success(),
        "siblings in two namespaces: {}",
        String::from_utf8_lossy(&pong.stdout)
    );
    // Down in its namespace is down in patchbay, and the MTU follows.
    lab.ip(&["-n", &n2, "link", "set", &m2, "down", "mtu", "1400"])
        .unwrap();
    let r = until(&lab, &m2, "down", |r| !is_up(r) && r["mtu"] == 1400);
    assert_eq!(r["mtu"], 1400);
    // Moved on (n2 to n1) with ip: still followed.
    lab.ip(&["-n", &n2, "link", "set", &m2, "netns", &n1])
        .unwrap();
    lab.ip(&["-n", &n1, "link", "set", &m2, "up"]).unwrap();
    until(&lab, &m2, "up after a second move", is_up);
    // patchbay's own change reaches the TAP where it is now.
    lab.pb(&["link", "set", &m2, "mtu", "1300"]).unwrap();
    assert_eq!(kernel_row(&lab, Some(&n1), &m2)["mtu"], 1300);
}

/// What a device is made with reaches its new TAP, and is not mistaken for
/// the host's doing: `link add ... mtu 9000` stays 9000 on both sides.
#[test]
fn a_new_devices_settings_reach_its_tap() {
    let Some(mut lab) = lab("hn") else { return };
    lab.start_daemon().unwrap();
    let d = lab.name("d");
    lab.pb(&["link", "add", &d, "mtu", "9000", "type", "dummy"])
        .unwrap();
    // Past a once-a-second look, and a command's.
    std::thread::sleep(Duration::from_millis(1200));
    lab.pb(&["link", "show"]).unwrap();
    assert_eq!(row(&lab, &d)["mtu"], 9000);
    assert_eq!(kernel_row(&lab, None, &d)["mtu"], 9000);
}
