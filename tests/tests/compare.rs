//! `patchbay compare` end to end (root; iperf3; CI rules as in netns.rs):
//! the shipped topologies through the kernel and patchbay, shortened
//! (`--traffic quick`); the table has every row, with numbers for both
//! backends, and the behaviour (FDB, spanning-tree port states) is compared.

use patchbay_tests::{lab, require};
use std::process::Command;

fn compare(topo: &str, extra: &[&str]) -> Option<serde_json::Value> {
    if !require(&["iperf3"], "iperf3") {
        return None;
    }
    // A lab only for its checks (root, ip); compare makes its own.
    lab("cq")?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../benches/topologies")
        .join(topo);
    let o = Command::new(patchbay_tests::patchbay_bin())
        .args(["-j", "compare"])
        .arg(&path)
        .args(["--traffic", "quick"])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("compare: round 1/1: kernel"),
        "progress on the console: {err}"
    );
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn two_hosts_on_a_bridge_every_row_for_both_backends() {
    let svg = std::env::temp_dir().join(format!("pb-compare-{}.svg", std::process::id()));
    let Some(j) = compare("two-hosts.pb", &["--svg", svg.to_str().unwrap()]) else {
        return;
    };
    for row in [
        "offered",
        "rate",
        "tcp",
        "rtt_median",
        "rtt_p99",
        "cpu_ns",
        "rounds",
    ] {
        for b in ["kernel", "patchbay", "ratio"] {
            let v = j["rows"][row][b].as_f64();
            assert!(v.is_some_and(|x| x > 0.0), "{row} {b}: {j}");
        }
    }
    // The kernel has no switch process; patchbay's daemon has.
    assert!(
        j["rows"]["switch_cpu_ns"]["patchbay"]
            .as_f64()
            .is_some_and(|x| x > 0.0),
        "{j}"
    );
    assert_eq!(j["errors"]["kernel"], serde_json::Value::Null, "{j}");
    assert_eq!(j["behaviour"]["differences"], serde_json::json!([]), "{j}");
    assert_eq!(
        j["behaviour"]["kernel"]["fdb"].as_array().unwrap().len(),
        2,
        "{j}"
    );
    let s = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_file(&svg);
    assert!(s.starts_with("<svg") && s.contains("rtt_median"), "{s}");
}

#[test]
fn spanning_tree_decides_the_same_on_both_backends() {
    let Some(j) = compare("stp-loop.pb", &["--no-ovs"]) else {
        return;
    };
    let k = &j["behaviour"]["kernel"]["port_states"];
    assert_eq!(k.as_array().unwrap().len(), 6, "{j}");
    assert!(
        k.as_array().unwrap().iter().any(|s| s == "l2p blocking"),
        "{j}"
    );
    assert_eq!(j["behaviour"]["differences"], serde_json::json!([]), "{j}");
}
