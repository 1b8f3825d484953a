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
/// (it looks the device up there), with teamdctl's options first (`-D`);
/// its output, or its error text.
fn teamdctl(
    lab: &Lab,
    ns: &str,
    env: &[&str],
    team: &str,
    args: &[&str],
) -> Result<String, String> {
    let mut a = vec!["env"];
    a.extend_from_slice(env);
    a.push("teamdctl");
    a.push(team);
    a.extend_from_slice(args);
    let o = lab.exec(ns, &a).unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// An activebackup team with no ports yet, its TAP in namespace `h1` at
/// 198.18.NET.1; veths m1 and m2 to become its ports, whose peers are on a
/// bridge with a host at 198.18.NET.2. `opts` go after `type team`.
struct TeamLab {
    lab: Lab,
    h1: String,
    team: String,
    m1: String,
    m2: String,
    peer: String,
}

fn team_behind_a_bridge(mut lab: Lab, net: u8, opts: &[&str]) -> TeamLab {
    let (h1, h2) = (lab.netns("h1").unwrap(), lab.netns("h2").unwrap());
    let (m1, n1, m2, n2) = (
        lab.name("m1"),
        lab.name("n1"),
        lab.name("m2"),
        lab.name("n2"),
    );
    veth_pair(&mut lab, &m1, &n1);
    veth_pair(&mut lab, &m2, &n2);
    let hp = lab
        .veth_host("h", &h2, &format!("198.18.{net}.2/24"))
        .unwrap();
    lab.start_daemon().unwrap();
    let (team, br) = (lab.name("team"), lab.name("br"));
    let mut add = vec!["link", "add", &team, "type", "team"];
    add.extend_from_slice(opts);
    add.extend([
        "config",
        r#"{"runner": {"name": "activebackup"}, "link_watch": {"name": "ethtool"}}"#,
    ]);
    lab.pb(&add).unwrap();
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    for p in [&n1, &n2, &hp] {
        lab.pb(&["link", "set", p, "master", &br]).unwrap();
    }
    lab.pb(&["link", "set", &br, "up"]).unwrap();
    lab.pb(&["link", "set", &team, "up"]).unwrap();
    lab.ip(&["link", "set", &team, "netns", &h1]).unwrap();
    lab.host_addr(&h1, &team, &format!("198.18.{net}.1/24"))
        .unwrap();
    TeamLab {
        lab,
        h1,
        team,
        m1,
        m2,
        peer: format!("198.18.{net}.2"),
    }
}

impl TeamLab {
    fn ping(&self, n: u32) {
        let n = n.to_string();
        self.lab
            .exec_ok(
                &self.h1,
                &["ping", "-c", &n, "-i", "0.2", "-W", "2", &self.peer],
            )
            .unwrap();
    }

    fn wait_active(&self) {
        let t0 = Instant::now();
        while item(&self.lab, &self.team, "runner.active_port").is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(5), "no active port");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Moves the active port with `set`, checks patchbay agrees and that
    /// frames leave by the new one.
    fn move_active(&self, set: impl Fn(&str)) {
        let active = item(&self.lab, &self.team, "runner.active_port");
        let other = if active == self.m1 {
            &self.m2
        } else {
            &self.m1
        };
        set(other);
        assert_eq!(item(&self.lab, &self.team, "runner.active_port"), *other);
        let before = tx_counters(&self.lab, other);
        self.ping(3);
        let after = tx_counters(&self.lab, other);
        assert!(
            after.0 >= before.0 + 3,
            "{other} sent {before:?} -> {after:?}"
        );
    }

    /// Every teamdctl verb through `td` (teamdctl with its options), with
    /// teamd's error codes for bad requests: what the UNIX socket and
    /// D-Bus must both serve.
    fn every_verb(&self, td: &dyn Fn(&[&str]) -> Result<String, String>) {
        let (lab, team, m1, m2) = (&self.lab, &self.team, &self.m1, &self.m2);
        // Ports added by teamdctl carry traffic.
        td(&["port", "add", m1]).unwrap();
        td(&["port", "add", m2]).unwrap();
        td(&["port", "present", m1]).unwrap();
        self.wait_active();
        self.ping(3);
        // teamdctl's state view, from the state document patchbay serves.
        let view = td(&["state"]).unwrap();
        assert!(view.contains("runner: activebackup"), "{view}");
        assert!(
            view.contains(&format!("  {m1}\n")) && view.contains(&format!("  {m2}\n")),
            "{view}"
        );
        let dump: serde_json::Value =
            serde_json::from_str(&td(&["state", "dump"]).unwrap()).unwrap();
        assert!(
            dump["ports"][m1].is_object() && dump["ports"][m2].is_object(),
            "{dump}"
        );
        // One implementation behind every door: the configuration as
        // patchbay teamctl prints it.
        let cfg = td(&["config", "dump"]).unwrap();
        assert_eq!(cfg, lab.pb(&["teamctl", team, "config", "dump"]).unwrap());
        let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(cfg["device"], team.as_str(), "{cfg}");
        assert_eq!(cfg["runner"]["name"], "activebackup", "{cfg}");
        let actual: serde_json::Value =
            serde_json::from_str(&td(&["config", "dump", "actual"]).unwrap()).unwrap();
        assert!(actual["ports"][m1].is_object(), "{actual}");

        // The active port set by teamdctl is the one frames leave by.
        self.move_active(|p| {
            td(&["state", "item", "set", "runner.active_port", p]).unwrap();
            assert_eq!(
                td(&["state", "item", "get", "runner.active_port"])
                    .unwrap()
                    .trim(),
                p
            );
        });

        // Port configuration, both ways.
        td(&["port", "config", "update", m1, r#"{"prio": 10}"#]).unwrap();
        let pc: serde_json::Value =
            serde_json::from_str(&td(&["port", "config", "dump", m1]).unwrap()).unwrap();
        assert_eq!(pc["prio"], 10, "{pc}");

        // Bad requests get teamd's errors; nothing changes.
        let state = lab
            .pb(&["teamctl", team, "config", "dump", "actual"])
            .unwrap();
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
            // "NoSuchDev" over the socket, "org.libteam.teamdNoSuchDev"
            // over D-Bus.
            assert!(e.contains(&format!("{code}\"")), "{args:?}: {e}");
        }
        assert_eq!(
            lab.pb(&["teamctl", team, "config", "dump", "actual"])
                .unwrap(),
            state
        );
        td(&["port", "remove", m2]).unwrap();
        assert!(td(&["port", "present", m2]).is_err());
        self.ping(2);
    }
}

/// The real teamdctl drives a patchbay team over teamd's UNIX socket
/// (`/var/run/teamd/TEAM.sock`): every verb, teamd's errors for bad
/// requests, ports it adds carry traffic, and the active port it sets is
/// the one frames leave by. The same state as `patchbay teamctl` prints.
/// The daemon finds no system bus: D-Bus is off and nothing else changes.
#[test]
fn the_real_teamdctl_drives_a_team_over_teamds_socket() {
    if !require(&["teamdctl"], "libteam-utils") {
        return;
    }
    let Some(mut lab) = lab("td") else { return };
    lab.daemon_env.push((
        "DBUS_SYSTEM_BUS_ADDRESS".into(),
        format!("unix:path=/tmp/patchbay-{}-no-bus", lab.tag),
    ));
    let t = team_behind_a_bridge(lab, 11, &[]);
    let sock = std::path::PathBuf::from(format!("/var/run/teamd/{}.sock", t.team));
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let md = std::fs::metadata(&sock).expect("the team's teamd socket");
        assert!(md.file_type().is_socket());
        assert_eq!(md.permissions().mode() & 0o777, 0o600, "root only");
    }
    t.every_verb(&|args| teamdctl(&t.lab, &t.h1, &[], &t.team, args));
    assert_eq!(item(&t.lab, &t.team, "setup.dbus_enabled"), "false");

    // The socket goes with the team.
    t.lab.pb(&["link", "del", &t.team]).unwrap();
    assert!(!sock.exists(), "{} left behind", sock.display());
}

/// A private system bus (`dbus-daemon --system`'s kind, on a socket of its
/// own), stopped and removed when dropped.
struct PrivateBus {
    _proc: patchbay_lab::Proc,
    dir: std::path::PathBuf,
    address: String,
}

impl PrivateBus {
    fn start(tag: &str) -> PrivateBus {
        let dir = std::env::temp_dir().join(format!("patchbay-{tag}-dbus"));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("system_bus_socket");
        // teamd's policy (libteam's teamd.conf) and what a bus needs.
        let conf = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <deny own_prefix="org.libteam.teamd"/>
  </policy>
  <policy user="root">
    <allow own_prefix="org.libteam.teamd"/>
    <allow send_interface="org.libteam.teamd"/>
  </policy>
</busconfig>
"#,
            sock.display()
        );
        let conf_file = dir.join("system.conf");
        std::fs::write(&conf_file, conf).unwrap();
        let child = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf_file.display()))
            .args(["--nofork", "--nopidfile"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let bus = PrivateBus {
            _proc: patchbay_lab::Proc::new(child),
            address: format!("unix:path={}", sock.display()),
            dir,
        };
        let t0 = Instant::now();
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "no bus at {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        bus
    }

    fn env(&self) -> String {
        format!("DBUS_SYSTEM_BUS_ADDRESS={}", self.address)
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The real `teamdctl -D` drives a patchbay team through teamd's D-Bus
/// service, `org.libteam.teamd.TEAM` on a private system bus: every verb,
/// teamd's error names, an unknown method refused by the bus's rules, and
/// a deleted team's name gone from the bus.
#[test]
fn the_real_teamdctl_drives_a_team_over_d_bus() {
    if !require(
        &["teamdctl", "dbus-daemon", "dbus-send"],
        "libteam-utils dbus-daemon dbus-bin",
    ) {
        return;
    }
    let Some(mut lab) = lab("tb") else { return };
    let bus = PrivateBus::start(&lab.tag);
    lab.daemon_env
        .push(("DBUS_SYSTEM_BUS_ADDRESS".into(), bus.address.clone()));
    let t = team_behind_a_bridge(lab, 13, &[]);
    let env = bus.env();
    let dest = format!("--dest=org.libteam.teamd.{}", t.team);
    // Owned as soon as the team exists.
    assert_eq!(item(&t.lab, &t.team, "setup.dbus_enabled"), "true");
    let send = |args: &[&str]| {
        let mut a = vec![
            "dbus-send",
            "--system",
            "--print-reply",
            &dest,
            "/org/libteam/teamd",
        ];
        a.extend_from_slice(args);
        let o = std::process::Command::new("env")
            .arg(&env)
            .args(&a)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    // teamd's interface, as its introspection data has it.
    let (ok, intro) = send(&["org.freedesktop.DBus.Introspectable.Introspect"]);
    assert!(ok, "{intro}");
    for m in [
        "PortConfigUpdate",
        "PortConfigDump",
        "PortAdd",
        "PortRemove",
        "ConfigDump",
        "ConfigDumpActual",
        "StateDump",
        "StateItemValueGet",
        "StateItemValueSet",
    ] {
        assert!(
            intro.contains(&format!("<method name=\"{m}\">")),
            "{m}: {intro}"
        );
    }
    assert!(
        intro.contains(r#"<interface name="org.libteam.teamd">"#),
        "{intro}"
    );

    t.every_verb(&|args| {
        let mut a = vec!["-D"];
        a.extend_from_slice(args);
        teamdctl(&t.lab, &t.h1, &[&env], &t.team, &a)
    });

    // A method teamd does not have: the bus's error, nothing changes.
    let before = t
        .lab
        .pb(&["teamctl", &t.team, "config", "dump", "actual"])
        .unwrap();
    let (ok, e) = send(&["org.libteam.teamd.NoSuchMethod"]);
    assert!(
        !ok && e.contains("org.freedesktop.DBus.Error.UnknownMethod"),
        "{e}"
    );
    // Missing arguments: zbus refuses the call by its signature before
    // it reaches the team (teamd says InvalidArgs; ARCHITECTURE, Deviations).
    let (ok, e) = send(&["org.libteam.teamd.PortAdd"]);
    assert!(!ok && e.contains("Signature mismatch"), "no argument: {e}");
    assert_eq!(
        t.lab
            .pb(&["teamctl", &t.team, "config", "dump", "actual"])
            .unwrap(),
        before
    );

    // A deleted team's name leaves the bus, as when teamd exits.
    t.lab.pb(&["link", "del", &t.team]).unwrap();
    let (ok, e) = send(&["org.libteam.teamd.ConfigDump"]);
    assert!(!ok && e.contains("ServiceUnknown"), "{e}");
    drop(t);
    drop(bus);
}

/// The ZeroMQ request socket of libzmq (python3-zmq, as libteamdctl's
/// ZeroMQ client uses it: one REQ socket, a 5 s receive timeout), sending
/// `msg` to `addr`: the reply, or why there is none.
fn zmq_request(ns: &str, addr: &str, msg: &str) -> Result<String, String> {
    const CLIENT: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.setsockopt(zmq.RCVTIMEO, 5000)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
s.send(sys.stdin.buffer.read())
try:
    sys.stdout.buffer.write(s.recv())
except zmq.Again:
    sys.exit("no reply in 5 s")
"#;
    use std::io::Write;
    let mut c = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-c", CLIENT, addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(msg.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// teamd's ZeroMQ door (`teamd -Z ADDRESS`, here the team option `zmq
/// ADDRESS`) driven by libzmq's REQ socket with the messages libteamdctl
/// sends (Debian's teamdctl is built without ZeroMQ: "ZeroMQ support is
/// not compiled-in"): ports it adds carry traffic, the active port it sets
/// carries the frames, the same documents as patchbay teamctl, teamd's
/// errors; the endpoint goes with the team.
#[test]
fn teamds_zeromq_requests_drive_a_team() {
    let zmq_ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import zmq"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !zmq_ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and python3-zmq is missing: .ci/run installs python3-zmq");
        }
        patchbay_tests::skipped(
            "libzmq's Python binding is not installed (apt-get install python3-zmq)",
        );
        return;
    }
    let Some(mut lab) = lab("tz") else { return };
    lab.daemon_env.push((
        "DBUS_SYSTEM_BUS_ADDRESS".into(),
        format!("unix:path=/tmp/patchbay-{}-no-bus", lab.tag),
    ));
    let path = std::env::temp_dir().join(format!("patchbay-{}.zmq", lab.tag));
    let addr = format!("ipc://{}", path.display());
    let t = team_behind_a_bridge(lab, 15, &["zmq", &addr]);
    let call = |method: &str, args: &[&str]| -> Result<String, String> {
        let mut msg = format!("REQUEST\n{method}\n");
        for a in args {
            msg.push_str(a);
            msg.push('\n');
        }
        let reply = zmq_request(&t.h1, &addr, &msg)?;
        if let Some(ok) = reply.strip_prefix("REPLY_SUCCESS\n") {
            Ok(ok.to_string())
        } else {
            Err(reply)
        }
    };
    assert_eq!(
        call("StateItemValueGet", &["setup.zmq_enabled"]).unwrap(),
        "true"
    );
    // No system bus: D-Bus is off, and the team serves everything else.
    assert_eq!(item(&t.lab, &t.team, "setup.dbus_enabled"), "false");

    call("PortAdd", &[&t.m1]).unwrap();
    call("PortAdd", &[&t.m2]).unwrap();
    t.wait_active();
    t.ping(3);
    let state: serde_json::Value = serde_json::from_str(&call("StateDump", &[]).unwrap()).unwrap();
    assert!(
        state["ports"][&t.m1].is_object() && state["ports"][&t.m2].is_object(),
        "{state}"
    );
    assert_eq!(
        call("ConfigDump", &[]).unwrap(),
        t.lab.pb(&["teamctl", &t.team, "config", "dump"]).unwrap()
    );
    assert_eq!(
        call("ConfigDumpActual", &[]).unwrap(),
        t.lab
            .pb(&["teamctl", &t.team, "config", "dump", "actual"])
            .unwrap()
    );
    t.move_active(|p| {
        call("StateItemValueSet", &["runner.active_port", p]).unwrap();
    });
    call("PortConfigUpdate", &[&t.m1, r#"{"prio": 10}"#]).unwrap();
    let pc: serde_json::Value =
        serde_json::from_str(&call("PortConfigDump", &[&t.m1]).unwrap()).unwrap();
    assert_eq!(pc["prio"], 10, "{pc}");

    // Bad requests: teamd's errors, and for what teamd leaves unanswered
    // (which would stall its REP socket), an error too; nothing changes.
    let before = t
        .lab
        .pb(&["teamctl", &t.team, "config", "dump", "actual"])
        .unwrap();
    for (method, args, reply) in [
        (
            "PortAdd",
            vec!["nosuchdev0"],
            "REPLY_ERROR\nNoSuchDev\nNo such device.\n",
        ),
        (
            "PortConfigUpdate",
            vec![t.m1.as_str(), "{bad"],
            "REPLY_ERROR\nConfigUpdateFail\nFailed to update config.\n",
        ),
        (
            "StateItemValueSet",
            vec!["runner.active_port"],
            "REPLY_ERROR\nInvalidArgs\nDid not receive correct message arguments.\n",
        ),
        (
            "NoSuchMethod",
            vec![],
            "REPLY_ERROR\nUnknownMethod\nUnknown method.\n",
        ),
    ] {
        assert_eq!(call(method, &args).unwrap_err(), reply, "{method}");
    }
    assert_eq!(
        zmq_request(&t.h1, &addr, "not a request").unwrap(),
        "REPLY_ERROR\nUnsupportedMessage\nUnsupported message type.\n"
    );
    assert_eq!(
        t.lab
            .pb(&["teamctl", &t.team, "config", "dump", "actual"])
            .unwrap(),
        before
    );
    call("PortRemove", &[&t.m2]).unwrap();
    t.ping(2);

    // A deleted team's endpoint is gone: no reply, as from a teamd that
    // exited.
    t.lab.pb(&["link", "del", &t.team]).unwrap();
    assert!(!path.exists(), "{} left behind", path.display());
    let e = call("StateDump", &[]).unwrap_err();
    assert!(e.contains("no reply"), "{e}");
}
