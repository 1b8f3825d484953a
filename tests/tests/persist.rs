//! `patchbay daemon --config FILE` (root; CI rules as in netns.rs): the
//! topology comes up with the daemon, and after `kill -9` a daemon started
//! the same way forwards again without a manual step.

use patchbay_tests::{lab, pb_json, require};

fn ping(lab: &patchbay_lab::Lab, ns: &str, to: &str) -> bool {
    lab.exec(ns, &["ping", "-c", "2", "-i", "0.2", "-W", "2", to])
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_configured_daemon_comes_back_after_kill_9() {
    if !require(&["ping"], "iputils-ping") {
        return;
    }
    let Some(mut lab) = lab("cf") else { return };
    let (a, b) = (lab.netns("a").unwrap(), lab.netns("b").unwrap());
    let pa = lab.veth_host("pa", &a, "198.18.96.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.96.2/24").unwrap();
    let br = lab.name("br");
    let file = std::env::temp_dir().join(format!("pb-config-{}.pb", lab.tag));
    std::fs::write(
        &file,
        format!(
            "# the lab's bridge\nlink add {br} type bridge stp_state 0\nlink set {pa} master {br}\nlink set {pb} master {br}\nlink set {br} up\n"
        ),
    )
    .unwrap();
    let conf = ["--config", file.to_str().unwrap()];
    lab.start_daemon_with(&conf).unwrap();
    assert!(
        ping(&lab, &a, "198.18.96.2"),
        "a -> b with the configured bridge"
    );
    let ports = |lab: &patchbay_lab::Lab| {
        pb_json(lab, &["link", "show", "master", &br])
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(ports(&lab), 2);

    // kill -9: the TAPs go with the process; the veths stay.
    let pid = lab.daemon_pid().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    lab.stop_daemon();
    assert!(
        !ping(&lab, &a, "198.18.96.2"),
        "forwarding without a daemon"
    );
    lab.start_daemon_with(&conf).unwrap();
    assert_eq!(ports(&lab), 2);
    assert!(ping(&lab, &a, "198.18.96.2"), "a -> b after the restart");
    lab.stop_daemon();

    // A bad line stops the start and names the line.
    std::fs::write(
        &file,
        format!("link add {br} type bridge\nlink set nosuchdev master {br}\n"),
    )
    .unwrap();
    let o = std::process::Command::new(&lab.patchbay)
        .args(["daemon", "--socket"])
        .arg(&lab.socket)
        .args(conf)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains(&format!("{}:2:", file.display())) && e.contains("nosuchdev"),
        "{e}"
    );
    assert!(!lab.socket.exists(), "the socket file stayed");
}

/// Two daemons (here one after the other) give a new `br0` different
/// addresses, as two kernels' random ones differ: bridges of two
/// instances on one segment or overlay do not clash, nor do their STP ids.
#[test]
fn each_daemon_gives_new_devices_addresses_of_its_own() {
    let Some(mut lab) = lab("ma") else { return };
    let br = lab.name("br");
    let mut macs = Vec::new();
    for _ in 0..2 {
        lab.start_daemon().unwrap();
        lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
        macs.push(pb_json(&lab, &["link", "show", &br])[0]["address"].clone());
        lab.stop_daemon();
    }
    assert_ne!(macs[0], macs[1], "the same address twice: {macs:?}");
}
