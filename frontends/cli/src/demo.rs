//! `patchbay demo`: a small lab in network namespaces, end to end.
//!
//! Three hosts on one userspace bridge with VLAN filtering: `a` on a veth
//! (AF_PACKET port) and `c` on a TAP that patchbay made and moved into c's
//! namespace share VLAN 10; `b`, on another veth, is in VLAN 20. Pings
//! a→c cross the bridge between a veth and a TAP; pings a→b are blocked by
//! the VLANs. Then the FDB and the counters, and everything is removed.
//!
//! It needs nothing but the kernel, iproute2 and patchbay: the pings are
//! patchbay's own (the simulator's host, ARP and ICMP echo, on a packet
//! socket in the sender's namespace); the far host's kernel answers them.

use patchbay_core::wire::Mac;
use patchbay_lab::{check_prerequisites, raw_capture, raw_send, Lab};
use patchbay_sim::host::{Heard, Host};
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

/// The names the demo gives what it makes, when they are free.
const NAMES: &[&str] = &[
    "host-a", "host-b", "host-c", "veth-a", "veth-b", "tap-c", "br0",
];

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
    let mut lab = Lab::plain(&exe, NAMES).unwrap_or_else(|| {
        println!(
            "(some of the names {} are taken on this machine: using unique ones)",
            NAMES.join(", ")
        );
        Lab::new("pbd", &exe)
    });
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

/// Pings `to` from `dev` in `ns` (address `me`) with patchbay's own host:
/// an ARP request, then echo requests, up to three rounds of 400 ms.
/// Whether a reply came.
fn ping(lab: &Lab, ns: &str, dev: &str, me: Ipv4Addr, to: Ipv4Addr) -> Result<bool, String> {
    let mac: Mac = lab
        .mac(ns, dev)?
        .parse()
        .map_err(|e| format!("the address of {dev} in {ns}: {e}"))?;
    let mut host = Host::new("demo", mac, Some(me));
    let mut out = Vec::new();
    for seq in 1..=3u16 {
        out.extend(host.ping(to, 0x7062, seq));
        let cap = raw_capture(ns, dev, Duration::from_millis(400))?;
        raw_send(ns, dev, std::mem::take(&mut out))?;
        let heard = cap
            .join()
            .map_err(|_| "the capture thread panicked".to_string())??;
        for f in heard {
            let (reply, h) = host.receive(&f);
            if matches!(h, Heard::EchoReply { .. }) {
                return Ok(true);
            }
            // An ARP reply releases the waiting echo request.
            out.extend(reply);
        }
    }
    Ok(false)
}

fn demo(lab: &mut Lab) -> Result<(), String> {
    step("three namespaces, two on veth pairs, one on a TAP");
    let (a, b, c) = (
        lab.netns("host-a")?,
        lab.netns("host-b")?,
        lab.netns("host-c")?,
    );
    let pa = lab.veth_host("veth-a", &a, "198.18.10.1/24")?;
    let pb = lab.veth_host("veth-b", &b, "198.18.10.2/24")?;
    lab.start_daemon()?;
    let br = lab.name("br0");
    let tc = lab.name("tap-c");
    let cmds = [
        format!("tuntap add {tc} mode tap"),
        format!("link add {br} type bridge vlan_filtering 1"),
        format!("link set {pa} master {br}"),
        format!("link set {pb} master {br}"),
        format!("link set {tc} master {br}"),
        format!("bridge vlan add dev {pa} vid 10 pvid untagged"),
        format!("bridge vlan add dev {tc} vid 10 pvid untagged"),
        format!("bridge vlan add dev {pb} vid 20 pvid untagged"),
    ];
    for cmd in &cmds {
        show(&format!("patchbay {cmd}"));
        let words: Vec<&str> = cmd.split_whitespace().collect();
        lab.pb(&words)?;
    }
    // The TAP's netdev goes to host c, as a VM's would, and comes up there
    // before the bridge does: a TAP that is down refuses what is sent to it
    // (counted as no_carrier).
    show(&format!("ip link set {tc} netns {c}; ip -n {c} addr add 198.18.10.3/24 dev {tc}; ip -n {c} link set {tc} up"));
    lab.ip(&["link", "set", &tc, "netns", &c])?;
    lab.host_addr(&c, &tc, "198.18.10.3/24")?;
    show(&format!("patchbay link set {br} up"));
    lab.pb(&["link", "set", &br, "up"])?;
    println!("(host a 198.18.10.1 on {pa}, vlan 10; host c 198.18.10.3 on TAP {tc}, vlan 10; host b 198.18.10.2 on {pb}, vlan 20)");

    step("pings (patchbay's own ARP and ICMP echo from host a; the far kernel answers)");
    let me = Ipv4Addr::new(198, 18, 10, 1);
    let ac = ping(lab, &a, "eth0", me, Ipv4Addr::new(198, 18, 10, 3))?;
    println!(
        "a -> c (same VLAN, veth to TAP): {}",
        if ac { "replies" } else { "NO REPLY" }
    );
    let ab = ping(lab, &a, "eth0", me, Ipv4Addr::new(198, 18, 10, 2))?;
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
    println!("\nAll as expected: a and c (VLAN 10) reach each other across the veth and the TAP; b (VLAN 20) is kept apart.");
    Ok(())
}
