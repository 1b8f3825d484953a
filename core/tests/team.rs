//! The team device through the command surface: `link add type team`,
//! teamctl's verbs and their output, errors that change nothing.

use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::wire::Mac;
use patchbay_core::{AttachId, Graph, Instant};

struct Lab {
    g: Graph,
    now: Instant,
}

impl Lab {
    /// Ports p1..p3 with carrier, up.
    fn new() -> Lab {
        let mut lab = Lab {
            g: Graph::new(),
            now: Instant::ZERO,
        };
        for i in 1..=3u32 {
            let id = lab
                .g
                .add(
                    &format!("p{i}"),
                    Kind::Netdevsim,
                    Mac::local(0x2000 + u64::from(i)),
                    1500,
                )
                .unwrap();
            lab.g.attach(
                id,
                Attachment {
                    id: AttachId(i),
                    role: Role::Wire,
                },
            );
            lab.g.set_carrier(lab.now, id, true);
            lab.run(&format!("link set p{i} up"));
        }
        lab
    }

    fn try_run(&mut self, line: &str, opts: Opts) -> Result<String, String> {
        let words = cmd::split_line(line).unwrap();
        let c = cmd::parse(&words).map_err(|e| e.to_string())?;
        cmd::apply(&mut self.g, self.now, &c, opts)
            .map(|o| o.text)
            .map_err(|e| e.to_string())
    }

    fn run(&mut self, line: &str) -> String {
        self.try_run(line, Opts::default())
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn err(&mut self, line: &str) -> String {
        match self.try_run(line, Opts::default()) {
            Ok(out) => panic!("{line}: succeeded: {out}"),
            Err(e) => e,
        }
    }
}

const AB: &str = r#"link add t0 type team config '{"device": "t0", "runner": {"name": "activebackup"}, "ports": {"p1": {"prio": -10, "sticky": true}, "p2": {"prio": 100}}}'"#;

#[test]
fn teamctl_dumps_config_and_state_as_teamdctl() {
    let mut lab = Lab::new();
    lab.run(AB);
    lab.run("teamctl t0 port add p1");
    lab.run("teamctl t0 port add p2");
    lab.run("link set t0 up");
    // The config as given, keys sorted, four-space indent.
    let d = lab.run("teamctl t0 config dump");
    assert!(d.starts_with("{\n    \"device\": \"t0\",\n    \"ports\": {\n        \"p1\": {\n            \"prio\": -10,"), "{d}");
    assert!(!lab
        .run("teamctl t0 config dump noports")
        .contains("\"ports\""));
    // actual: teamd's defaults filled in.
    let a: serde_json::Value =
        serde_json::from_str(&lab.run("teamctl t0 config dump actual")).unwrap();
    assert_eq!(a["runner"]["hwaddr_policy"], "same_all");
    assert_eq!(a["link_watch"][0]["name"], "ethtool");
    assert_eq!(a["notify_peers"]["count"], 1);
    assert_eq!(a["ports"]["p2"]["prio"], 100);
    // p1 came up first and is sticky: it stays active although p2 has the
    // higher prio (teamd's ab_link_watch_handler).
    assert_eq!(
        lab.run("teamctl t0 state item get runner.active_port"),
        "p1\n"
    );
    assert_eq!(
        lab.run("teamctl t0 state item get ports.p1.link_watches.up"),
        "true\n"
    );
    let st: serde_json::Value = serde_json::from_str(&lab.run("teamctl t0 state dump")).unwrap();
    assert_eq!(st["setup"]["runner_name"], "activebackup");
    assert_eq!(
        st["ports"]["p1"]["link_watches"]["list"]["link_watch_0"]["name"],
        "ethtool"
    );
    assert_eq!(st["team_device"]["ifinfo"]["ifname"], "t0");
    let v = lab.run("teamctl t0 state");
    assert_eq!(
        v,
        "setup:\n  runner: activebackup\nports:\n  p1\n    link watches:\n      link summary: up\n      instance[link_watch_0]:\n        name: ethtool\n        link: up\n        down count: 0\n  p2\n    link watches:\n      link summary: up\n      instance[link_watch_0]:\n        name: ethtool\n        link: up\n        down count: 0\nrunner:\n  active port: p1\n"
    );
    // -j on the view: the state document.
    let j = lab
        .try_run(
            "teamctl t0 state view",
            Opts {
                json: true,
                ..Opts::default()
            },
        )
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&j).unwrap()["runner"]["active_port"],
        "p1"
    );
    assert!(lab
        .run("teamctl t0 port config dump p1")
        .contains("\"sticky\": true"));
    lab.run("teamctl t0 port present p1");
    assert!(lab
        .err("teamctl t0 port present p3")
        .contains("port \"p3\" is not in t0"));
}

#[test]
fn teamctl_changes_ports_and_state_items() {
    let mut lab = Lab::new();
    lab.run(AB);
    lab.run("teamctl t0 port add p1");
    lab.run("teamctl t0 port add p2");
    lab.run("link set t0 up");
    lab.run("teamctl t0 state item set runner.active_port p1");
    assert_eq!(
        lab.run("teamctl t0 state item get runner.active_port"),
        "p1\n"
    );
    // p1 is sticky: a link change elsewhere does not move it back.
    lab.g
        .set_carrier(lab.now, lab.g.by_name("p3").unwrap(), false);
    assert_eq!(
        lab.run("teamctl t0 state item get runner.active_port"),
        "p1\n"
    );
    // Not sticky any more, and a better prio: p2 takes over on the next
    // evaluation.
    lab.run(r#"teamctl t0 port config update p1 '{"prio": -10, "sticky": false}'"#);
    assert_eq!(
        lab.run("teamctl t0 state item get runner.active_port"),
        "p2\n"
    );
    lab.run("teamctl t0 state item set setup.debug_level 2");
    assert_eq!(
        lab.run("teamctl t0 state item get setup.debug_level"),
        "2\n"
    );
    assert!(lab
        .err("teamctl t0 state item set runner.foo 1")
        .contains("cannot be set"));
    assert!(lab
        .err("teamctl t0 state item set runner.active_port p3")
        .contains("not in t0"));
    assert!(lab
        .err(r#"teamctl t0 port config update p1 '{"prio": "x"}'"#)
        .contains("$.ports.p1.prio: expected an integer"));
    lab.run("teamctl t0 port remove p2");
    assert_eq!(
        lab.run("teamctl t0 state item get runner.active_port"),
        "p1\n"
    );
    assert!(lab.err("teamctl t0 port remove p2").contains("not in t0"));
    lab.run("teamctl t0 port add p3");
    assert!(lab.run("link show p3").contains("master t0"));
}

#[test]
fn bad_team_commands_change_nothing() {
    let mut lab = Lab::new();
    let e = lab.err(
        r#"link add t0 type team config '{"runner": {"name": "activebackup", "fast_rate": true}}'"#,
    );
    assert!(
        e.contains("$.runner.fast_rate: unknown key for the activebackup runner"),
        "{e}"
    );
    assert!(lab.g.by_name("t0").is_none());
    let e = lab.err(r#"link add t0 type team config '{"device": "team9"}'"#);
    assert!(e.contains("names device \"team9\""), "{e}");
    let e = lab.err("link add t0 type team config_file /etc/teamd/t0.conf");
    assert!(e.contains("read by the patchbay client"), "{e}");
    lab.run("link add t0 type team");
    assert_eq!(
        lab.run("teamctl t0 state item get setup.runner_name"),
        "roundrobin\n"
    );
    lab.run("link add br0 type bridge");
    assert!(lab
        .err("teamctl br0 state")
        .contains("\"br0\" is not a team device"));
    assert!(lab
        .err("teamctl t0 frobnicate")
        .contains("unknown command \"frobnicate\""));
    assert!(lab.err("teamctl t0 port add nosuch").contains("nosuch"));
    let j = lab
        .try_run(
            "link show t0",
            Opts {
                json: true,
                details: true,
                ..Opts::default()
            },
        )
        .unwrap();
    assert!(j.contains("\"info_kind\":\"team\""), "{j}");
}
