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

/// `patchbay save FILE` writes what rebuilds the running topology: after
/// `kill -9`, a daemon started with `--config FILE` shows the same devices
/// with the same addresses, options, ports, VLANs and entries, a device
/// moved to a namespace is there again, and forwarding resumes.
#[test]
fn a_saved_topology_comes_back_whole_after_kill_9() {
    if !require(&["ping"], "iputils-ping") {
        return;
    }
    let Some(mut lab) = lab("sv") else { return };
    let (a, b) = (lab.netns("a").unwrap(), lab.netns("b").unwrap());
    let pa = lab.veth_host("pa", &a, "198.18.97.1/24").unwrap();
    let pb = lab.veth_host("pb", &b, "198.18.97.2/24").unwrap();
    let [br, bond, s1, s2, vx, d0, v10] =
        ["br", "bo", "s1", "s2", "vx", "d0", "v10"].map(|n| lab.name(n));
    lab.start_daemon().unwrap();
    for l in [
        format!("link add {br} type bridge stp_state 0 vlan_filtering 1 ageing_time 6000"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("bridge vlan add dev {pa} vid 10-12"),
        format!("bridge link set dev {pb} cost 42 hairpin on"),
        format!("bridge fdb add 02:00:00:00:97:01 dev {pa} vlan 10 master static"),
        format!("link add {s1} type netdevsim"),
        format!("link add {s2} type netdevsim"),
        format!("link add {bond} type bond mode active-backup miimon 50 primary {s2}"),
        format!("link set {s1} master {bond}"),
        format!("link set {s2} master {bond}"),
        format!("link add {vx} type vxlan id 97 local 198.18.97.254 dstport 4789 nolearning"),
        format!("bridge fdb append 00:00:00:00:00:00 dev {vx} dst 198.18.97.253 self permanent"),
        format!("link add link {br} name {v10} type vlan id 10"),
        format!("link add {d0} netns {a} mtu 9000 type dummy"),
        format!("link set {br} up"),
        format!("link set {bond} up"),
    ] {
        let w: Vec<&str> = l.split(' ').collect();
        lab.pb(&w).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    assert!(ping(&lab, &a, "198.18.97.2"), "a -> b before saving");
    let shown = |lab: &patchbay_lab::Lab| {
        let mut s = String::new();
        for args in [
            &["-d", "link", "show"][..],
            &["bridge", "vlan", "show"],
            &["-d", "bridge", "link", "show"],
            &["bond", "show", &bond],
        ] {
            let mut v = pb_json(lab, args);
            fn strip(v: &mut serde_json::Value) {
                match v {
                    serde_json::Value::Object(m) => {
                        // Ifindexes and the TAPs' kernel state are the
                        // host's; counters and timers are the traffic's.
                        for k in [
                            "ifindex",
                            "link_index",
                            "stats64",
                            "operstate",
                            "flags",
                            "hello_timer",
                            "gc_timer",
                            "message_age_timer",
                            "forward_delay_timer",
                            "hold_timer",
                            "attach",
                            "fdb_n_learned",
                        ] {
                            m.remove(k);
                        }
                        m.values_mut().for_each(strip);
                    }
                    serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                    _ => {}
                }
            }
            strip(&mut v);
            // By name: a kernel netdev joins the graph (and takes its
            // ifindex) when it is first named, and the file names ports
            // after every device it makes.
            if let Some(a) = v.as_array_mut() {
                a.sort_by_key(|d| d["ifname"].as_str().unwrap_or("").to_string());
            }
            s += &format!("{args:?}\n{v:#}\n");
        }
        // The user's entries (learned ones come back with traffic).
        let fdb = pb_json(lab, &["bridge", "fdb", "show"]);
        let mut user: Vec<String> = fdb
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["state"] == "static" || e["mac"] == "00:00:00:00:00:00")
            .map(|e| e.to_string())
            .collect();
        user.sort();
        s + &user.join("\n")
    };
    let before = shown(&lab);
    assert!(
        before.contains("02:00:00:00:97:01") && before.contains("198.18.97.253"),
        "{before}"
    );
    let file = std::env::temp_dir().join(format!("pb-save-{}.pb", lab.tag));
    let o = std::process::Command::new(&lab.patchbay)
        .arg("--socket")
        .arg(&lab.socket)
        .arg("save")
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("link add name {d0} mtu 9000"))
            && text.contains(&format!("netns {a}")),
        "{text}"
    );

    let pid = lab.daemon_pid().unwrap();
    assert!(std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    lab.stop_daemon();
    assert!(
        !ping(&lab, &a, "198.18.97.2"),
        "forwarding without a daemon"
    );
    lab.start_daemon_with(&["--config", file.to_str().unwrap()])
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let after = shown(&lab);
    if after != before {
        let _ = std::fs::write(std::env::temp_dir().join("pb-save-before.txt"), &before);
        let _ = std::fs::write(std::env::temp_dir().join("pb-save-after.txt"), &after);
        let first = before
            .lines()
            .zip(after.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        let ctx = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(6))
                .take(10)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!("the restarted daemon differs at line {first}:\n--- before\n{}\n--- after\n{}\n--- file\n{text}", ctx(&before), ctx(&after));
    }
    // The dummy is back in its namespace.
    assert!(
        lab.exec(&a, &["ip", "link", "show", &d0])
            .is_ok_and(|o| o.status.success()),
        "{d0} is not in {a}"
    );
    assert!(ping(&lab, &a, "198.18.97.2"), "a -> b after the restart");
}
