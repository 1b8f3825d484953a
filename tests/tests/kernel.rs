//! The kernel backend (root; CI rules as in netns.rs): the same batch file
//! builds the kernel's devices over rtnetlink and patchbay's through the
//! daemon, and `-j link show` gives them the same shape; a kind this kernel
//! lacks fails before anything changes.

use patchbay_tests::lab;

const TOPO: &str = "\
link add br0 type bridge
link add v1 type veth peer name v1p
link add v2 type veth peer name v2p
link set v1 master br0
link set v2 master br0
link set v1 up
link set v1p up
link set v2 up
link set br0 up
";

fn run(ns: &str, bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(bin)
        .args(args)
        .output()
        .unwrap()
}

/// `patchbay --backend kernel ARGS` in `ns`, which must succeed; its output.
fn backend(ns: &str, bin: &std::path::Path, args: &[&str]) -> String {
    let mut v = vec!["--backend", "kernel"];
    v.extend_from_slice(args);
    let o = run(ns, bin, &v);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn shape(v: &serde_json::Value) -> Vec<String> {
    v.as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "link")
        .cloned()
        .collect()
}

#[test]
fn one_batch_two_backends_the_same_link_show_shape() {
    let Some(mut lab) = lab("kb") else { return };
    let (k, p) = (lab.netns("k").unwrap(), lab.netns("p").unwrap());
    let file = std::env::temp_dir().join(format!("pb-kernel-{}.pb", lab.tag));
    std::fs::write(&file, TOPO).unwrap();
    let f = file.to_str().unwrap();
    let o = run(&k, &lab.patchbay, &["--backend", "kernel", "-batch", f]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    lab.start_daemon_in(Some(&p), &[]).unwrap();
    lab.pb(&["-batch", f]).unwrap();
    let _ = std::fs::remove_file(&file);
    // Carrier and operstate settle (linkwatch) within a second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for dev in ["br0", "v1", "v2"] {
        let kj = run(
            &k,
            &lab.patchbay,
            &["--backend", "kernel", "-j", "link", "show", dev],
        );
        let kv: serde_json::Value = serde_json::from_slice(&kj.stdout).unwrap();
        let pv: serde_json::Value =
            serde_json::from_str(&lab.pb(&["-j", "link", "show", dev]).unwrap()).unwrap();
        let (kv, pv) = (&kv[0], &pv[0]);
        assert_eq!(shape(kv), shape(pv), "{dev}: kernel {kv} / patchbay {pv}");
        for key in ["ifname", "mtu", "master", "linkmode", "group", "link_type"] {
            assert_eq!(
                kv.get(key),
                pv.get(key),
                "{dev} {key}: kernel {kv} / patchbay {pv}"
            );
        }
        // And the kernel backend's answer is the kernel's own (ip -j).
        let ip = lab.exec_ok(&k, &["ip", "-j", "link", "show", dev]).unwrap();
        let iv: serde_json::Value = serde_json::from_str(&ip).unwrap();
        for key in ["ifindex", "ifname", "mtu", "master", "address", "flags"] {
            assert_eq!(
                kv.get(key),
                iv[0].get(key),
                "{dev} {key}: ours {kv} / ip {}",
                iv[0]
            );
        }
    }
    // -d: the bridge's and its ports' settings (info_data,
    // info_slave_data) read the same from patchbay's -d -j and the
    // kernel's ip -d -j, key for key, for every key patchbay prints that
    // ip prints too (the ids name each backend's own MACs; states and
    // timers move).
    for (dev, data) in [("br0", "info_data"), ("v1", "info_slave_data")] {
        let ip = lab
            .exec_ok(&k, &["ip", "-d", "-j", "link", "show", dev])
            .unwrap();
        let iv: serde_json::Value = serde_json::from_str(&ip).unwrap();
        let pv: serde_json::Value =
            serde_json::from_str(&lab.pb(&["-d", "-j", "link", "show", dev]).unwrap()).unwrap();
        let (iv, pv) = (&iv[0]["linkinfo"][data], &pv[0]["linkinfo"][data]);
        let mut shared = 0;
        for (key, v) in pv.as_object().unwrap_or_else(|| panic!("{dev}: {pv}")) {
            if ["bridge_id", "root_id", "state"].contains(&key.as_str())
                || key.ends_with("_timer")
                || iv.get(key).is_none()
            {
                continue;
            }
            assert_eq!(
                Some(v),
                iv.get(key),
                "{dev} {data} {key}: patchbay {pv} / ip {iv}"
            );
            shared += 1;
        }
        assert!(
            shared >= 10,
            "{dev}: only {shared} keys in common: {pv} / {iv}"
        );
        // The kernel backend's -d reads the kernel's own settings: every
        // key it prints that this iproute2 knows (6.1 predates
        // fdb_n_learned and fdb_max_learned) is ip's, value for value.
        let kj = run(
            &k,
            &lab.patchbay,
            &["--backend", "kernel", "-d", "-j", "link", "show", dev],
        );
        let kv: serde_json::Value = serde_json::from_slice(&kj.stdout).unwrap();
        let kv = &kv[0]["linkinfo"][data];
        let keys = kv.as_object().unwrap_or_else(|| panic!("{dev}: {kv}"));
        let mut matched = 0;
        for (key, v) in keys {
            // Timers move between the two dumps (the test of the whole
            // output masks them too).
            if key.ends_with("_timer") {
                assert!(
                    v.is_number() && iv.get(key).is_some_and(|x| x.is_number()),
                    "{key}"
                );
                continue;
            }
            assert_eq!(
                Some(v),
                iv.get(key),
                "{dev} {data} {key}: backend {kv} / ip {iv}"
            );
            matched += 1;
        }
        assert!(matched >= 14, "{dev}: {matched} keys: {kv}");
    }
    // The veth whose peer is down has no carrier on both backends.
    let kj = run(
        &k,
        &lab.patchbay,
        &["--backend", "kernel", "link", "show", "v2"],
    );
    assert!(String::from_utf8_lossy(&kj.stdout).contains("NO-CARRIER"));
    assert!(lab
        .pb(&["link", "show", "v2"])
        .unwrap()
        .contains("NO-CARRIER"));
}

#[test]
fn a_bond_on_this_kernel_fails_cleanly_and_leaves_nothing() {
    let Some(mut lab) = lab("kn") else { return };
    let k = lab.netns("k").unwrap();
    let probe = std::process::Command::new("ip")
        .args([
            "netns", "exec", &k, "ip", "link", "add", "b", "type", "bond",
        ])
        .output()
        .unwrap();
    if probe.status.success() {
        // A kernel with bonding: nothing to show here.
        patchbay_tests::skipped(
            "this kernel has a bonding driver: the missing-driver path cannot be exercised",
        );
        return;
    }
    let file = std::env::temp_dir().join(format!("pb-kernel-bond-{}.pb", lab.tag));
    std::fs::write(
        &file,
        "link add x1 type bridge\nlink add bond0 type bond mode active-backup\nlink set x1 up\n",
    )
    .unwrap();
    let before = lab.exec_ok(&k, &["ip", "-o", "link", "show"]).unwrap();
    let o = run(
        &k,
        &lab.patchbay,
        &["--backend", "kernel", "-batch", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&file);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("no bonding driver") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(err.contains(":2"), "names the line: {err}");
    let after = lab.exec_ok(&k, &["ip", "-o", "link", "show"]).unwrap();
    assert_eq!(before, after, "the bridge on line 1 was not made");
    // One command alike.
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "link",
            "add",
            "bond1",
            "type",
            "bond",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no bonding driver"));
    // The same command without --backend kernel builds patchbay's bond.
    lab.start_daemon_in(Some(&k), &[]).unwrap();
    lab.pb(&["link", "add", "bond1", "type", "bond"]).unwrap();
}

#[test]
fn the_kernels_monitor_prints_as_patchbays_does() {
    let Some(mut lab) = lab("km") else { return };
    let k = lab.netns("k").unwrap();
    let mut mon = lab
        .spawn(
            &k,
            &[
                lab.patchbay.to_str().unwrap(),
                "--backend",
                "kernel",
                "monitor",
            ],
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    for c in [
        "link add name mbr0 type bridge",
        "link add mv1 type veth peer name mv1p",
        "link set mv1 master mbr0",
        "link del mbr0",
    ] {
        let mut a = vec!["-n", k.as_str()];
        a.extend(c.split(' '));
        lab.ip(&a).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    mon.terminate();
    let out = mon.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(": mbr0: <"), "{text}");
    assert!(
        text.contains("mv1@mv1p") || text.contains(": mv1: <"),
        "{text}"
    );
    assert!(text.contains("master mbr0"), "{text}");
    assert!(text.contains("Deleted "), "{text}");
}

#[test]
fn bridge_fdb_and_vlan_through_the_kernel_backend_read_as_bridge_reads_them() {
    let Some(mut lab) = lab("kf") else { return };
    let k = lab.netns("k").unwrap();
    let file = std::env::temp_dir().join(format!("pb-kernel-fdb-{}.pb", lab.tag));
    std::fs::write(
        &file,
        "link add br0 type bridge\n\
         link add v1 type veth peer name v1p\n\
         link set v1 master br0\n\
         bridge fdb add 02:00:00:00:00:09 dev v1 master static\n\
         link add vx0 type vxlan id 100 local 198.18.0.1 dstport 4789\n\
         bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.2\n\
         bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.3\n",
    )
    .unwrap();
    let o = run(
        &k,
        &lab.patchbay,
        &["--backend", "kernel", "-batch", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&file);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for dev in ["v1", "vx0"] {
        let ours = run(
            &k,
            &lab.patchbay,
            &[
                "--backend",
                "kernel",
                "-j",
                "bridge",
                "fdb",
                "show",
                "dev",
                dev,
            ],
        );
        let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
        let theirs = lab
            .exec_ok(&k, &["bridge", "-j", "fdb", "show", "dev", dev])
            .unwrap();
        let theirs: serde_json::Value = serde_json::from_str(&theirs).unwrap();
        // Each entry bridge(8) prints, we print with the same mac, dst,
        // master and state.
        for t in theirs.as_array().unwrap() {
            let found = ours.as_array().unwrap().iter().any(|o| {
                ["mac", "dst", "master", "state"]
                    .iter()
                    .all(|k| o.get(*k) == t.get(*k))
            });
            assert!(found, "{dev}: {t} not in {ours}");
        }
    }
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "bridge",
            "fdb",
            "del",
            "02:00:00:00:00:09",
            "dev",
            "v1",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = lab
        .exec_ok(&k, &["bridge", "fdb", "show", "dev", "v1"])
        .unwrap();
    assert!(!t.contains("02:00:00:00:00:09"), "{t}");
    // VLANs: what the kernel can do, detected, not assumed.
    let native = lab
        .exec(&k, &["bridge", "vlan", "add", "dev", "v1", "vid", "10"])
        .unwrap();
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "bridge",
            "vlan",
            "add",
            "dev",
            "v1",
            "vid",
            "20",
            "pvid",
            "untagged",
        ],
    );
    if native.status.success() {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v = run(
            &k,
            &lab.patchbay,
            &["--backend", "kernel", "bridge", "vlan", "show", "dev", "v1"],
        );
        let t = String::from_utf8_lossy(&v.stdout);
        assert!(
            t.contains("20 PVID Egress Untagged") && t.contains(" 10"),
            "{t}"
        );
    } else {
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains("EOPNOTSUPP"), "{e}");
    }
}

#[test]
fn bridge_and_port_options_reach_the_kernel_as_ip_sets_them() {
    let Some(mut lab) = lab("ko") else { return };
    let k = lab.netns("k").unwrap();
    let file = std::env::temp_dir().join(format!("pb-kernel-opts-{}.pb", lab.tag));
    std::fs::write(
        &file,
        "link add br0 type bridge\n\
         link add v1 type veth peer name v1p\n\
         link set v1 master br0\n\
         link set br0 type bridge stp_state 1 priority 4096 forward_delay 400 hello_time 100 max_age 1000 ageing_time 6000\n\
         link set v1 type bridge_slave cost 7 priority 16 learning off\n\
         bridge link set dev v1 hairpin on isolated on\n",
    )
    .unwrap();
    let o = run(
        &k,
        &lab.patchbay,
        &["--backend", "kernel", "-batch", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&file);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let br: serde_json::Value = serde_json::from_str(
        &lab.exec_ok(&k, &["ip", "-d", "-j", "link", "show", "br0"])
            .unwrap(),
    )
    .unwrap();
    let d = &br[0]["linkinfo"]["info_data"];
    assert_eq!(d["stp_state"], 1, "{d}");
    assert_eq!(d["priority"], 4096, "{d}");
    assert_eq!(d["forward_delay"], 400, "{d}");
    assert_eq!(d["hello_time"], 100, "{d}");
    assert_eq!(d["max_age"], 1000, "{d}");
    assert_eq!(d["ageing_time"], 6000, "{d}");
    let p: serde_json::Value = serde_json::from_str(
        &lab.exec_ok(&k, &["ip", "-d", "-j", "link", "show", "v1"])
            .unwrap(),
    )
    .unwrap();
    let s = &p[0]["linkinfo"]["info_slave_data"];
    assert_eq!(s["cost"], 7, "{s}");
    assert_eq!(s["priority"], 16, "{s}");
    assert_eq!(s["learning"], false, "{s}");
    assert_eq!(s["hairpin"], true, "{s}");
    assert_eq!(s["isolated"], true, "{s}");
}

#[test]
fn vxlan_options_reach_the_kernel_and_unknown_bond_options_are_refused() {
    let Some(mut lab) = lab("kv") else { return };
    let k = lab.netns("k").unwrap();
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "link",
            "add",
            "vx1",
            "type",
            "vxlan",
            "id",
            "42",
            "dstport",
            "4789",
            "ttl",
            "10",
            "tos",
            "inherit",
            "df",
            "set",
            "srcport",
            "40000",
            "50000",
            "maxaddress",
            "5",
            "proxy",
            "l2miss",
            "nolearning",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(
        &lab.exec_ok(&k, &["ip", "-d", "-j", "link", "show", "vx1"])
            .unwrap(),
    )
    .unwrap();
    let d = &v[0]["linkinfo"]["info_data"];
    assert_eq!(d["id"], 42, "{d}");
    assert_eq!(d["port"], 4789, "{d}");
    assert_eq!(d["ttl"], 10, "{d}");
    // 1 = inherit: iproute2 prints it so in text, as 0x1 in JSON.
    assert_eq!(d["tos"], "0x1", "{d}");
    let t = lab
        .exec_ok(&k, &["ip", "-d", "link", "show", "vx1"])
        .unwrap();
    assert!(t.contains("tos inherit"), "{t}");
    assert_eq!(d["df"], "set", "{d}");
    assert_eq!(d["port_range"]["low"], 40000, "{d}");
    assert_eq!(d["port_range"]["high"], 50000, "{d}");
    assert_eq!(d["limit"], 5, "{d}");
    assert_eq!(d["proxy"], true, "{d}");
    assert_eq!(d["l2miss"], true, "{d}");
    assert_eq!(d["learning"], false, "{d}");
    // A bond option the backend does not carry is refused, never dropped
    // (checked before the missing driver, or instead of it).
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "link",
            "add",
            "b9",
            "type",
            "bond",
            "mode",
            "802.3ad",
            "lacp_rate",
            "fast",
        ],
    );
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no bonding driver") || e.contains("other options are patchbay's only"),
        "{e}"
    );
}

#[test]
fn macvlan_options_and_macaddr_reach_the_kernel_as_ip_sets_them() {
    // The same steps on two source-mode macvlans of one lower: m1 by the
    // real ip, m2 by the kernel backend; after each, `ip -d -j` shows the
    // two the same (mode, flags, bcqueuelen, the source list).
    let Some(mut lab) = lab("km") else { return };
    let k = lab.netns("k").unwrap();
    lab.exec_ok(
        &k,
        &[
            "ip", "link", "add", "low", "type", "veth", "peer", "name", "lowp",
        ],
    )
    .unwrap();
    let info = |dev: &str| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(
            &lab.exec_ok(&k, &["ip", "-d", "-j", "link", "show", dev])
                .unwrap(),
        )
        .unwrap();
        v[0]["linkinfo"].clone()
    };
    let add = "type macvlan mode source nodst bcqueuelen 2000";
    let steps = [
        "macaddr add 02:00:00:00:5a:01",
        "macaddr add 02:00:00:00:5a:02",
        "macaddr del 02:00:00:00:5a:01",
        "macaddr set 02:00:00:00:5a:03 02:00:00:00:5a:04 02:00:00:00:5a:05",
        "macaddr flush",
    ];
    let ip = |args: &str| {
        let mut v = vec!["ip"];
        v.extend(args.split_whitespace());
        lab.exec_ok(&k, &v).unwrap();
    };
    let pb = |args: &str| {
        backend(
            &k,
            &lab.patchbay,
            &args.split_whitespace().collect::<Vec<_>>(),
        );
    };
    ip(&format!("link add m1 link low {add}"));
    pb(&format!("link add m2 link low {add}"));
    let first = info("m2");
    assert_eq!(first["info_kind"], "macvlan", "{first}");
    assert_eq!(first["info_data"]["mode"], "source", "{first}");
    assert_eq!(first["info_data"]["bcqueuelen"], 2000, "{first}");
    assert_eq!(info("m1"), first);
    for step in steps {
        ip(&format!("link set m1 type macvlan {step}"));
        pb(&format!("link set m2 type macvlan {step}"));
        let (a, b) = (info("m1"), info("m2"));
        assert_eq!(a, b, "after {step}");
        if step.contains("set 02") {
            assert_eq!(b["info_data"]["macaddr_count"], 3, "{b}");
        }
    }
    // A macvtap takes the same attributes under its own kind.
    ip("link add t1 link low type macvtap mode source");
    pb("link add t2 link low type macvtap mode source");
    ip("link set t1 type macvtap macaddr add 02:00:00:00:5a:07");
    pb("link set t2 type macvtap macaddr add 02:00:00:00:5a:07");
    let (a, b) = (info("t1"), info("t2"));
    assert_eq!(b["info_kind"], "macvtap", "{b}");
    assert_eq!(b["info_data"]["macaddr_count"], 1, "{b}");
    assert_eq!(a, b);
    // macaddr on anything else names what it is.
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "link",
            "set",
            "low",
            "type",
            "macvlan",
            "macaddr",
            "flush",
        ],
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("low is veth"), "{e}");
}

#[test]
fn bridge_link_show_through_the_kernel_backend_reads_as_bridge_reads_it() {
    let Some(mut lab) = lab("kl") else { return };
    let k = lab.netns("k").unwrap();
    for l in [
        "ip link add br0 type bridge",
        "ip link add v1 type veth peer name v1p",
        "ip link add v2 type veth peer name v2p",
        "ip link set v1 master br0",
        "ip link set v2 master br0",
        "ip link set v1 up",
        "ip link set v1p up",
        "ip link set br0 up",
        "bridge link set dev v2 hairpin on learning off cost 7",
    ] {
        lab.exec_ok(&k, &l.split_whitespace().collect::<Vec<_>>())
            .unwrap();
    }
    let pb = |args: &[&str]| backend(&k, &lab.patchbay, args);
    // Let v1's port leave "disabled" on both readings alike.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let theirs: serde_json::Value =
        serde_json::from_str(&lab.exec_ok(&k, &["bridge", "-j", "link", "show"]).unwrap()).unwrap();
    let ours: serde_json::Value =
        serde_json::from_str(&pb(&["-j", "bridge", "link", "show"])).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours.as_array().unwrap().len(), 2, "{ours}");
    // The text too, line by line (iproute2 ends its lines with a space).
    let t = lab.exec_ok(&k, &["bridge", "link", "show"]).unwrap();
    let t: Vec<&str> = t.lines().map(str::trim_end).collect();
    let o = pb(&["bridge", "link", "show"]);
    assert_eq!(o.lines().collect::<Vec<_>>(), t);
    assert!(t.iter().any(|l| l.contains(": v1@v1p: <")), "{t:?}");
    // -d: every flag patchbay prints, as bridge -d prints it.
    let theirs: serde_json::Value = serde_json::from_str(
        &lab.exec_ok(&k, &["bridge", "-d", "-j", "link", "show", "dev", "v2"])
            .unwrap(),
    )
    .unwrap();
    let ours: serde_json::Value =
        serde_json::from_str(&pb(&["-d", "-j", "bridge", "link", "show", "dev", "v2"])).unwrap();
    let o = ours[0].as_object().unwrap();
    assert!(o.len() >= 14, "{ours}");
    for (key, v) in o {
        assert_eq!(&theirs[0][key], v, "{key}: {theirs} vs {ours}");
    }
    assert_eq!(ours[0]["hairpin"], true);
    assert_eq!(ours[0]["learning"], false);
    assert_eq!(ours[0]["cost"], 7);
}

#[test]
fn link_show_s_gives_the_kernels_counters_as_ip_does() {
    let Some(mut lab) = lab("ks") else { return };
    let k = lab.netns("k").unwrap();
    let p = lab.netns("p").unwrap();
    lab.exec_ok(
        &k,
        &[
            "ip", "link", "add", "v1", "type", "veth", "peer", "name", "v1p", "netns", &p,
        ],
    )
    .unwrap();
    lab.host_addr(&k, "v1", "198.18.72.1/24").unwrap();
    lab.host_addr(&p, "v1p", "198.18.72.2/24").unwrap();
    lab.exec_ok(
        &k,
        &["ping", "-c", "3", "-i", "0.05", "-s", "1400", "198.18.72.2"],
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let pb = |args: &[&str]| backend(&k, &lab.patchbay, args);
    let theirs: serde_json::Value = serde_json::from_str(
        &lab.exec_ok(&k, &["ip", "-s", "-j", "link", "show", "v1"])
            .unwrap(),
    )
    .unwrap();
    let ours: serde_json::Value =
        serde_json::from_str(&pb(&["-s", "-j", "link", "show", "v1"])).unwrap();
    assert_eq!(ours[0]["stats64"], theirs[0]["stats64"]);
    assert!(
        ours[0]["stats64"]["tx"]["packets"].as_u64().unwrap() >= 3,
        "{ours}"
    );
    // The text's counter lines, byte for byte.
    let t = lab
        .exec_ok(&k, &["ip", "-s", "link", "show", "v1"])
        .unwrap();
    let o = pb(&["-s", "link", "show", "v1"]);
    let tail = |s: &str| s.lines().skip(2).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(tail(&o), tail(&t), "ours:\n{o}\ntheirs:\n{t}");
    assert_eq!(tail(&o).len(), 4, "{o}");
}

/// Timer values move between two dumps: masked, in text and JSON alike.
fn mask_timers_text(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i].to_string());
        if words[i].ends_with("_timer") {
            // "%4i.%.2i": padding spaces, then the number.
            i += 1;
            while words.get(i) == Some(&"") {
                i += 1;
            }
            out.push("T".into());
        }
        i += 1;
    }
    out.join(" ")
}

fn mask_timers_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("_timer") {
                    *x = serde_json::Value::Null;
                } else {
                    mask_timers_json(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(mask_timers_json),
        _ => {}
    }
}

/// `patchbay --backend kernel -d link show DEV` prints what `ip -d link
/// show DEV` prints, text and JSON, key for key and in iproute2's order,
/// for a bridge with STP, a bridge port, a veth, VXLAN devices and
/// macvlans; only timer values are masked.
#[test]
fn the_kernel_backends_details_are_iproute2s() {
    let Some(mut lab) = lab("kd") else { return };
    let ns = lab.netns("d").unwrap();
    for l in [
        "link add br0 type bridge stp_state 1 priority 4096",
        "link add v1 type veth peer name v2",
        "link set v1 master br0",
        "link set v1 up",
        "link set v2 up",
        "link set br0 up",
        "link add vx0 type vxlan id 100 local 198.18.0.1 dstport 4789",
        "link add vx1 type vxlan id 7 group 239.1.1.1 dev v2 dstport 4789 ttl 5 tos 0x10 nolearning l2miss proxy",
        "link add mv0 link v2 type macvlan mode bridge",
        "link add mv1 link v2 type macvlan mode source",
        "link set mv1 type macvlan macaddr add 02:00:00:00:00:01",
    ] {
        let w: Vec<&str> = l.split(' ').collect();
        lab.exec_ok(&ns, &[&["ip"][..], &w[..]].concat()).unwrap();
    }
    for dev in ["br0", "v1", "v2", "vx0", "vx1", "mv0", "mv1"] {
        let ip_text = lab
            .exec_ok(&ns, &["ip", "-d", "link", "show", dev])
            .unwrap();
        let ours = backend(&ns, &lab.patchbay, &["-d", "link", "show", dev]);
        assert_eq!(
            mask_timers_text(&ours),
            mask_timers_text(&ip_text),
            "{dev}: text"
        );
        let mut ip_json: serde_json::Value = serde_json::from_str(
            &lab.exec_ok(&ns, &["ip", "-d", "-j", "link", "show", dev])
                .unwrap(),
        )
        .unwrap();
        let mut our_json: serde_json::Value = serde_json::from_str(&backend(
            &ns,
            &lab.patchbay,
            &["-d", "-j", "link", "show", dev],
        ))
        .unwrap();
        mask_timers_json(&mut ip_json);
        mask_timers_json(&mut our_json);
        assert_eq!(our_json, ip_json, "{dev}: JSON");
        // Key order too (serde_json keeps it here: preserve_order).
        assert_eq!(
            serde_json::to_string(&our_json).unwrap(),
            serde_json::to_string(&ip_json).unwrap(),
            "{dev}: JSON key order"
        );
    }
    // A bridge's details really are there: not two empty outputs.
    let br = backend(&ns, &lab.patchbay, &["-d", "link", "show", "br0"]);
    assert!(
        br.contains("bridge forward_delay 1500") && br.contains("mcast_snooping 1"),
        "{br}"
    );
}

/// What ARCHITECTURE.md lists as not emulated: keys `ip -d` prints for a
/// kernel bridge, or for a port of one, that patchbay's do not.
const NOT_EMULATED: &[&str] = &[
    // The device: its IPv6 address generation, queues and offload limits.
    "inet6_addr_gen_mode",
    "num_tx_queues",
    "num_rx_queues",
    "gso_max_size",
    "gso_max_segs",
    "tso_max_size",
    "tso_max_segs",
    "gro_max_size",
    // The bridge: netfilter and VLAN statistics.
    "nf_call_iptables",
    "nf_call_ip6tables",
    "nf_call_arptables",
    "vlan_stats_enabled",
    "vlan_stats_per_port",
    // A port: proxy ARP, multicast to-unicast, neighbour suppression,
    // VLAN tunnels, locked ports.
    "proxy_arp",
    "proxy_arp_wifi",
    "mcast_to_unicast",
    "neigh_suppress",
    "vlan_tunnel",
    "locked",
];

/// Keys patchbay prints that this kernel's bridge leaves out: its own
/// `attach`, VLAN filtering's (the kernel has no
/// CONFIG_BRIDGE_VLAN_FILTERING here) and the learned-entry limit newer
/// iproute2 prints.
const BEYOND_THIS_KERNEL: &[&str] = &[
    // patchbay's own: how the daemon attaches the port's netdev (AF_XDP,
    // AF_PACKET, TAP); the kernel has no such key, and it comes last.
    "attach",
    "vlan_protocol",
    "vlan_default_pvid",
    "fdb_n_learned",
    "fdb_max_learned",
];

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The same `link add` line through both backends: patchbay's `-d link
/// show` has the kernel's keys in the kernel's order, top level, bridge
/// and port, but for what it lists as not emulated; and its text has the
/// same words in the same order.
#[test]
fn patchbays_details_have_the_kernels_keys_in_its_order() {
    let Some(mut lab) = lab("ko") else { return };
    let (k, p) = (lab.netns("k").unwrap(), lab.netns("p").unwrap());
    let lines = [
        "link add br0 type bridge stp_state 1 priority 4096",
        "link add v1 type veth peer name v1p",
        "link set v1 master br0",
    ];
    for l in lines {
        backend(&k, &lab.patchbay, &l.split(' ').collect::<Vec<_>>());
    }
    lab.start_daemon_in(Some(&p), &[]).unwrap();
    for l in lines {
        lab.pb(&l.split(' ').collect::<Vec<_>>()).unwrap();
    }
    for (dev, data) in [("br0", "info_data"), ("v1", "info_slave_data")] {
        let kv: serde_json::Value = serde_json::from_str(&backend(
            &k,
            &lab.patchbay,
            &["-d", "-j", "link", "show", dev],
        ))
        .unwrap();
        let pv: serde_json::Value =
            serde_json::from_str(&lab.pb(&["-d", "-j", "link", "show", dev]).unwrap()).unwrap();
        for (kk, pk) in [
            (keys(&kv[0]), keys(&pv[0])),
            (
                keys(&kv[0]["linkinfo"][data]),
                keys(&pv[0]["linkinfo"][data]),
            ),
        ] {
            let want: Vec<&String> = kk
                .iter()
                .filter(|k| !NOT_EMULATED.contains(&k.as_str()))
                .collect();
            let got: Vec<&String> = pk
                .iter()
                .filter(|k| !BEYOND_THIS_KERNEL.contains(&k.as_str()))
                .collect();
            assert_eq!(got, want, "{dev}: patchbay {pv} / kernel {kv}");
            assert!(want.len() >= 10, "{dev}: {kk:?}");
        }
        // The text: the same words before each value, in the same order.
        let words = |t: &str| -> Vec<String> {
            t.lines()
                .skip(2)
                .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        let kt = words(&backend(&k, &lab.patchbay, &["-d", "link", "show", dev]));
        let pt = words(&lab.pb(&["-d", "link", "show", dev]).unwrap());
        let known: std::collections::BTreeSet<&str> = [
            "bridge",
            "bridge_slave",
            "veth",
            "forward_delay",
            "hello_time",
            "max_age",
            "ageing_time",
            "stp_state",
            "priority",
            "vlan_filtering",
            "bridge_id",
            "designated_root",
            "root_port",
            "root_path_cost",
            "topology_change",
            "topology_change_detected",
            "hello_timer",
            "tcn_timer",
            "topology_change_timer",
            "gc_timer",
            "group_fwd_mask",
            "group_address",
            "mcast_snooping",
            "no_linklocal_learn",
            "mcast_vlan_snooping",
            "mcast_router",
            "mcast_query_use_ifaddr",
            "mcast_querier",
            "mcast_hash_elasticity",
            "mcast_hash_max",
            "mcast_last_member_count",
            "mcast_startup_query_count",
            "mcast_last_member_interval",
            "mcast_membership_interval",
            "mcast_querier_interval",
            "mcast_query_interval",
            "mcast_query_response_interval",
            "mcast_startup_query_interval",
            "mcast_stats_enabled",
            "mcast_igmp_version",
            "mcast_mld_version",
            "fastleave",
            "mcast_fast_leave",
            "state",
            "cost",
            "hairpin",
            "guard",
            "root_block",
            "learning",
            "flood",
            "port_id",
            "port_no",
            "designated_port",
            "designated_cost",
            "designated_bridge",
            "hold_timer",
            "message_age_timer",
            "forward_delay_timer",
            "topology_change_ack",
            "config_pending",
            "mcast_flood",
            "bcast_flood",
            "group_fwd_mask_str",
            "isolated",
        ]
        .into();
        let pick = |w: &[String]| -> Vec<String> {
            w.iter()
                .filter(|x| known.contains(x.as_str()))
                .cloned()
                .collect()
        };
        assert_eq!(pick(&pt), pick(&kt), "{dev}: text");
    }
}

/// `bridge mdb add|del|show` through the kernel backend: the entries it
/// adds are the ones bridge(8) lists, `show` prints what bridge(8) prints
/// (`-j`, and `-d` text), the kernel's reason comes with a refusal, and
/// `patchbay --backend kernel bridge monitor mdb` prints the kernel's
/// announcements as `bridge monitor mdb` does.
#[test]
fn bridge_mdb_through_the_kernel_backend_reads_as_bridge_reads_it() {
    if !patchbay_tests::require(&["bridge", "stdbuf"], "iproute2 coreutils") {
        return;
    }
    let Some(mut lab) = lab("kd") else { return };
    let k = lab.netns("k").unwrap();
    for c in [
        "link add br0 type bridge mcast_querier 1",
        "link add n1 type veth peer name n2",
        "link set n1 master br0",
        "link set n2 up",
        "link set n1 up",
        "link set br0 up",
    ] {
        backend(&k, &lab.patchbay, &c.split(' ').collect::<Vec<_>>());
    }
    let mon = |argv: &[&str]| lab.spawn(&k, argv).unwrap();
    let pbin = lab.patchbay.to_str().unwrap().to_string();
    let mons = [
        mon(&["stdbuf", "-oL", "bridge", "monitor", "mdb"]),
        mon(&[&pbin, "--backend", "kernel", "bridge", "monitor", "mdb"]),
    ];
    std::thread::sleep(std::time::Duration::from_millis(300));
    for c in [
        "bridge mdb add dev br0 port n1 grp 239.1.1.9 permanent",
        "bridge mdb add dev br0 port n1 grp 239.1.1.10",
        "bridge mdb add dev br0 port n1 grp 239.1.1.11 src 198.18.0.1 permanent",
        "bridge mdb add dev br0 port n1 grp ff0e::9 permanent",
    ] {
        backend(&k, &lab.patchbay, &c.split(' ').collect::<Vec<_>>());
    }
    let theirs = |args: &[&str]| {
        let mut a = vec!["-n", k.as_str()];
        a.extend_from_slice(args);
        let o = std::process::Command::new("bridge")
            .args(&a)
            .output()
            .unwrap();
        assert!(o.status.success(), "bridge {a:?}: {o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let listed = theirs(&["mdb", "show"]);
    for g in [
        "239.1.1.9 permanent",
        "239.1.1.10 temp",
        "ff0e::9 permanent",
    ] {
        assert!(listed.contains(&format!("port n1 grp {g}")), "{listed}");
    }
    assert!(
        listed.contains("grp 239.1.1.11 src 198.18.0.1 permanent"),
        "{listed}"
    );
    // The same JSON, and the same -d text (the bridge's own entries'
    // timers run on, so -s is left out).
    let ours = backend(&k, &lab.patchbay, &["-j", "bridge", "mdb", "show"]);
    let a: serde_json::Value = serde_json::from_str(&ours).unwrap();
    let b: serde_json::Value = serde_json::from_str(&theirs(&["-j", "mdb", "show"])).unwrap();
    assert_eq!(a, b, "patchbay's -j bridge mdb show, then bridge(8)'s");
    let trim = |s: String| {
        s.lines()
            .map(|l| l.trim_end().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        trim(backend(&k, &lab.patchbay, &["-d", "bridge", "mdb", "show"])),
        trim(theirs(&["-d", "mdb", "show"]))
    );
    // A second add of the same entry: the kernel's own reason.
    let o = run(
        &k,
        &lab.patchbay,
        &[
            "--backend",
            "kernel",
            "bridge",
            "mdb",
            "add",
            "dev",
            "br0",
            "port",
            "n1",
            "grp",
            "239.1.1.9",
            "permanent",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("already joined") && err.contains("(EEXIST)"),
        "{err}"
    );
    backend(
        &k,
        &lab.patchbay,
        &[
            "bridge",
            "mdb",
            "del",
            "dev",
            "br0",
            "port",
            "n1",
            "grp",
            "239.1.1.9",
        ],
    );
    assert!(!theirs(&["mdb", "show"]).contains("239.1.1.9 "));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let [k_mon, p_mon] = mons.map(|mut m| {
        m.terminate();
        let s = String::from_utf8(m.wait_with_output().unwrap().stdout).unwrap();
        // The kernel's own solicited-node and ff02::6a joins may come
        // while the monitors start: the commands' entries are compared.
        s.lines()
            .filter(|l| !l.contains("grp ff02::"))
            .map(|l| l.trim_end().to_string())
            .collect::<Vec<_>>()
    });
    assert!(
        k_mon.contains(&"Deleted dev br0 port n1 grp 239.1.1.9 permanent".to_string()),
        "{k_mon:?}"
    );
    assert_eq!(
        p_mon, k_mon,
        "patchbay's bridge monitor mdb, then bridge(8)'s"
    );
}
