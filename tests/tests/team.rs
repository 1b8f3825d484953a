//! Teams in network namespaces (root; CI-only rules as in netns.rs). The
//! team device is exposed as a TAP of its own name, moved into the host's
//! namespace; its ports are veth ends patchbay attaches with AF_PACKET.

use patchbay_lab::Lab;
use patchbay_tests::{lab, require, tcp_transfer_paced, tx_counters, veth_pair};
use std::time::{Duration, Instant};

fn item(lab: &Lab, team: &str, path: &str) -> String {
    lab.pb(&["teamctl", team, "state", "item", "get", path])
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn an_activebackup_team_with_arp_ping_keeps_tcp_alive_through_a_port_failure() {
    let Some(mut lab) = lab("tm") else { return };
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    let (m1, n1, m2, n2) = (
        lab.name("m1"),
        lab.name("n1"),
        lab.name("m2"),
        lab.name("n2"),
    );
    veth_pair(&mut lab, &m1, &n1);
    veth_pair(&mut lab, &m2, &n2);
    let hp = lab.veth_host("h", &h2, "198.18.9.2/24").unwrap();
    lab.start_daemon().unwrap();
    let (team, br) = (lab.name("team"), lab.name("br"));
    // teamd's activebackup_arp_ping_1 example, on our addresses.
    let config = format!(
        r#"{{"device": "{team}", "runner": {{"name": "activebackup"}},
            "link_watch": {{"name": "arp_ping", "interval": 100, "missed_max": 3,
                "source_host": "198.18.9.1", "target_host": "198.18.9.2"}},
            "ports": {{"{m1}": {{"prio": 100}}, "{m2}": {{"prio": -10}}}}}}"#
    );
    lab.pb(&["link", "add", &team, "type", "team", "config", &config])
        .unwrap();
    lab.pb(&["teamctl", &team, "port", "add", &m1]).unwrap();
    lab.pb(&["teamctl", &team, "port", "add", &m2]).unwrap();
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    for p in [&n1, &n2, &hp] {
        lab.pb(&["link", "set", p, "master", &br]).unwrap();
    }
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    lab.pb(&["link", "set", &team, "up"]).unwrap();
    lab.ip(&["link", "set", &team, "netns", &h1]).unwrap();
    lab.host_addr(&h1, &team, "198.18.9.1/24").unwrap();
    // The watcher brings the ports up once h2 answers.
    let t0 = Instant::now();
    while item(&lab, &team, "runner.active_port") != m1 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{}",
            lab.pb(&["teamctl", &team, "state"]).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.exec_ok(
        &h1,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.9.2"],
    )
    .unwrap();
    let before = (tx_counters(&lab, &m1), tx_counters(&lab, &m2));

    // 6 MiB in 64 KiB pieces, 25 ms apart; m1's switch port stops
    // forwarding (carrier stays up on both ends: only the ARP watcher can
    // tell) and comes back a second later.
    let t = tcp_transfer_paced(
        &h1,
        &h2,
        "198.18.9.2",
        6 << 20,
        64 << 10,
        Duration::from_millis(25),
    );
    std::thread::sleep(Duration::from_millis(500));
    let cut = Instant::now();
    lab.pb(&["bridge", "link", "set", "dev", &n1, "state", "0"])
        .unwrap();
    while item(&lab, &team, "runner.active_port") != m2 {
        assert!(
            cut.elapsed() < Duration::from_secs(3),
            "no failover: {}",
            lab.pb(&["teamctl", &team, "state"]).unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let failover = cut.elapsed();
    let view = lab.pb(&["teamctl", &team, "state", "view"]).unwrap();
    assert!(view.contains(&format!("active port: {m2}")), "{view}");
    assert_eq!(
        item(&lab, &team, &format!("ports.{m1}.link_watches.up")),
        "false",
        "{view}"
    );
    assert_eq!(
        item(&lab, &team, &format!("ports.{m1}.link.up")),
        "true",
        "the carrier stayed up"
    );
    std::thread::sleep(Duration::from_millis(1000));
    lab.pb(&["bridge", "link", "set", "dev", &n1, "state", "3"])
        .unwrap();
    // m1 hears h2 again; m2 has the lower prio and m1 is not sticky: m1 is
    // active once more.
    let back = Instant::now();
    while item(&lab, &team, "runner.active_port") != m1 {
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "{}",
            lab.pb(&["teamctl", &team, "state"]).unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let back = back.elapsed();
    t.finish();
    let after = (tx_counters(&lab, &m1), tx_counters(&lab, &m2));
    let (d1, d2) = (after.0 .1 - before.0 .1, after.1 .1 - before.1 .1);
    assert!(
        d1 >= 256 << 10 && d2 >= 256 << 10,
        "tx bytes: m1 {d1}, m2 {d2}"
    );
    eprintln!(
        "team activebackup arp_ping failover (real time, interval 100, missed_max 3): {:.0} ms; m1 active again {:.0} ms after its port forwards; tx {m1} {d1} bytes, {m2} {d2} bytes",
        failover.as_secs_f64() * 1e3,
        back.as_secs_f64() * 1e3
    );
}

/// teamdctl from libteam-utils, run in the namespace the team's TAP is in
/// (it looks the device up there); its output, or its error text.
fn teamdctl(lab: &Lab, ns: &str, team: &str, args: &[&str]) -> Result<String, String> {
    let mut a = vec!["teamdctl", team];
    a.extend_from_slice(args);
    let o = lab.exec(ns, &a).unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// The real teamdctl drives a patchbay team over teamd's UNIX socket
/// (`/var/run/teamd/TEAM.sock`): every verb, teamd's errors for bad
/// requests, ports it adds carry traffic, and the active port it sets is
/// the one frames leave by. The same state as `patchbay teamctl` prints.
#[test]
fn the_real_teamdctl_drives_a_team_over_teamds_socket() {
    if !require(&["teamdctl"], "libteam-utils") {
        return;
    }
    let Some(mut lab) = lab("td") else { return };
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    let (m1, n1, m2, n2) = (
        lab.name("m1"),
        lab.name("n1"),
        lab.name("m2"),
        lab.name("n2"),
    );
    veth_pair(&mut lab, &m1, &n1);
    veth_pair(&mut lab, &m2, &n2);
    let hp = lab.veth_host("h", &h2, "198.18.11.2/24").unwrap();
    lab.start_daemon().unwrap();
    let (team, br) = (lab.name("team"), lab.name("br"));
    lab.pb(&[
        "link",
        "add",
        &team,
        "type",
        "team",
        "config",
        r#"{"runner": {"name": "activebackup"}, "link_watch": {"name": "ethtool"}}"#,
    ])
    .unwrap();
    let sock = std::path::PathBuf::from(format!("/var/run/teamd/{team}.sock"));
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let md = std::fs::metadata(&sock).expect("the team's teamd socket");
        assert!(md.file_type().is_socket());
        assert_eq!(md.permissions().mode() & 0o777, 0o600, "root only");
    }
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    for p in [&n1, &n2, &hp] {
        lab.pb(&["link", "set", p, "master", &br]).unwrap();
    }
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    lab.pb(&["link", "set", &team, "up"]).unwrap();
    lab.ip(&["link", "set", &team, "netns", &h1]).unwrap();
    lab.host_addr(&h1, &team, "198.18.11.1/24").unwrap();
    let td = |args: &[&str]| teamdctl(&lab, &h1, &team, args);

    // Ports added by teamdctl carry traffic.
    td(&["port", "add", &m1]).unwrap();
    td(&["port", "add", &m2]).unwrap();
    td(&["port", "present", &m1]).unwrap();
    let t0 = Instant::now();
    while item(&lab, &team, "runner.active_port").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "no active port");
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.exec_ok(
        &h1,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.11.2"],
    )
    .unwrap();
    // teamdctl's state view, from the state document patchbay serves.
    let view = td(&["state"]).unwrap();
    assert!(view.contains("runner: activebackup"), "{view}");
    assert!(
        view.contains(&format!("  {m1}\n")) && view.contains(&format!("  {m2}\n")),
        "{view}"
    );
    let dump: serde_json::Value = serde_json::from_str(&td(&["state", "dump"]).unwrap()).unwrap();
    assert!(
        dump["ports"][&m1].is_object() && dump["ports"][&m2].is_object(),
        "{dump}"
    );
    let cfg: serde_json::Value = serde_json::from_str(&td(&["config", "dump"]).unwrap()).unwrap();
    assert_eq!(cfg["device"], team.as_str(), "{cfg}");
    assert_eq!(cfg["runner"]["name"], "activebackup", "{cfg}");
    let actual: serde_json::Value =
        serde_json::from_str(&td(&["config", "dump", "actual"]).unwrap()).unwrap();
    assert!(actual["ports"][&m1].is_object(), "{actual}");

    // The active port set by teamdctl is the one frames leave by.
    let active = td(&["state", "item", "get", "runner.active_port"]).unwrap();
    let other = if active.trim() == m1 { &m2 } else { &m1 };
    td(&["state", "item", "set", "runner.active_port", other]).unwrap();
    assert_eq!(
        td(&["state", "item", "get", "runner.active_port"])
            .unwrap()
            .trim(),
        other.as_str()
    );
    assert_eq!(item(&lab, &team, "runner.active_port"), other.as_str());
    let before = tx_counters(&lab, other);
    lab.exec_ok(
        &h1,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.11.2"],
    )
    .unwrap();
    let after = tx_counters(&lab, other);
    assert!(
        after.0 >= before.0 + 3,
        "{other} sent {:?} -> {:?}",
        before,
        after
    );

    // Port configuration, both ways.
    td(&["port", "config", "update", &m1, r#"{"prio": 10}"#]).unwrap();
    let pc: serde_json::Value =
        serde_json::from_str(&td(&["port", "config", "dump", &m1]).unwrap()).unwrap();
    assert_eq!(pc["prio"], 10, "{pc}");

    // Bad requests get teamd's errors; the team goes on.
    for (args, code) in [
        (vec!["port", "add", "nosuchdev0"], "NoSuchDev"),
        (
            vec!["port", "config", "update", m1.as_str(), "{bad"],
            "ConfigUpdateFail",
        ),
        (
            vec!["state", "item", "get", "no.such.path"],
            "PathDoesNotExist",
        ),
        (
            vec!["state", "item", "set", "setup.runner_name", "lacp"],
            "OpNotSupp",
        ),
        (
            vec!["state", "item", "set", "no.such.path", "1"],
            "PathDoesNotExist",
        ),
    ] {
        let e = td(&args).expect_err("refused");
        assert!(e.contains(&format!("\"{code}\"")), "{args:?}: {e}");
    }
    td(&["port", "remove", &m2]).unwrap();
    assert!(td(&["port", "present", &m2]).is_err());
    lab.exec_ok(
        &h1,
        &["ping", "-c", "2", "-i", "0.2", "-W", "2", "198.18.11.2"],
    )
    .unwrap();

    // The socket goes with the team.
    lab.pb(&["link", "del", &team]).unwrap();
    assert!(!sock.exists(), "{} left behind", sock.display());
}
