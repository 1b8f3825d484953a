//! `patchbay demo`: a small lab in network namespaces, end to end.
//!
//! Three hosts on one userspace bridge with VLAN filtering: `a` on a veth
//! (AF_PACKET port) and `c` on a TAP that patchbay made and moved into c's
//! namespace share VLAN 10; `b`, on another veth, is in VLAN 20. Pings
//! a→c cross the bridge between a veth and a TAP; pings a→b are blocked by
//! the VLANs. Then the FDB and the counters, and everything is removed.

use patchbay_lab::{check_prerequisites, Lab};
use std::process::ExitCode;

pub fn run() -> ExitCode {
    if let Err(why) = check_prerequisites() {
        eprintln!("patchbay demo {why}.");
        eprintln!(
            "It builds three network namespaces joined by a userspace bridge, then removes them."
        );
        return ExitCode::from(1);
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("patchbay demo: cannot find its own binary: {e}");
            return ExitCode::from(1);
        }
    };
    let mut lab = Lab::new("pbd", &exe);
    match demo(&mut lab) {
        Ok(()) => {
            drop(lab);
            println!("\nEverything the demo made is removed.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("patchbay demo failed: {e}");
            drop(lab);
            ExitCode::from(1)
        }
    }
}

fn step(s: &str) {
    println!("\n== {s}");
}

fn show(cmd: &str) {
    println!("$ {cmd}");
}

fn ping(lab: &Lab, ns: &str, to: &str) -> bool {
    lab.exec(ns, &["ping", "-c", "2", "-i", "0.2", "-W", "1", to])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn demo(lab: &mut Lab) -> Result<(), String> {
    step("three namespaces, two on veth pairs, one on a TAP");
    let (a, b, c) = (lab.netns("a")?, lab.netns("b")?, lab.netns("c")?);
    let pa = lab.veth_host("pa", &a, "198.18.10.1/24")?;
    let pb = lab.veth_host("pb", &b, "198.18.10.2/24")?;
    lab.start_daemon()?;
    let br = lab.name("br");
    let tc = lab.name("tc");
    let cmds = [
        format!("tuntap add {tc} mode tap"),
        format!("link add {br} type bridge vlan_filtering 1"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {tc} master {br}"),
        format!("bridge vlan add dev {pa} vid 10 pvid untagged"),
        format!("bridge vlan add dev {tc} vid 10 pvid untagged"),
        format!("bridge vlan add dev {pb} vid 20 pvid untagged"),
        format!("link set {br} up"),
    ];
    for cmd in &cmds {
        show(&format!("patchbay {cmd}"));
        let words: Vec<&str> = cmd.split_whitespace().collect();
        lab.pb(&words)?;
    }
    // The TAP's netdev goes to host c, as a VM's would.
    lab.ip(&["link", "set", &tc, "netns", &c])?;
    lab.host_addr(&c, &tc, "198.18.10.3/24")?;
    println!("(host a 198.18.10.1 on {pa}, vlan 10; host c 198.18.10.3 on TAP {tc}, vlan 10; host b 198.18.10.2 on {pb}, vlan 20)");

    step("pings");
    let ac = ping(lab, &a, "198.18.10.3");
    println!(
        "a -> c (same VLAN, veth to TAP): {}",
        if ac { "replies" } else { "NO REPLY" }
    );
    let ab = ping(lab, &a, "198.18.10.2");
    println!(
        "a -> b (VLAN 10 to VLAN 20):      {}",
        if ab {
            "REPLIES (wrong)"
        } else {
            "blocked, as it should be"
        }
    );

    step("the forwarding database");
    show(&format!("patchbay bridge fdb show br {br}"));
    print!("{}", lab.pb(&["bridge", "fdb", "show", "br", &br])?);
    step("VLANs");
    show("patchbay bridge vlan show");
    print!("{}", lab.pb(&["bridge", "vlan", "show"])?);
    step("counters and drop reasons");
    show("patchbay stats");
    print!("{}", lab.pb(&["stats"])?);
    if !ac || ab {
        return Err("the pings did not go as expected".into());
    }
    Ok(())
}
