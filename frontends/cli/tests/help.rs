//! The client on its own (no daemon, no root): help that teaches, and
//! errors that say what to do.

use std::process::Command;

fn patchbay(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(args)
        .env("PATCHBAY_SOCKET", "/nonexistent/patchbay-test.sock")
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_link_and_link_help_list_every_types_options() {
    let (ok, a, _) = patchbay(&["help", "link"]);
    assert!(ok);
    let (ok, b, _) = patchbay(&["link", "help"]);
    assert!(ok);
    assert_eq!(a, b);
    for want in [
        "link add ... type vxlan:",
        "dstport <a UDP port>",
        "link set DEV type bridge_slave:",
    ] {
        assert!(a.contains(want), "{want}:\n{a}");
    }
    let (ok, top, _) = patchbay(&["--help"]);
    assert!(ok && top.contains("patchbay help link"), "{top}");
    let (ok, _, e) = patchbay(&["help", "nosuch"]);
    assert!(
        !ok && e.contains("'patchbay help' lists the objects"),
        "{e}"
    );
}

#[test]
fn without_a_daemon_the_client_says_how_to_start_one() {
    let (ok, _, e) = patchbay(&["link", "show"]);
    assert!(!ok);
    assert!(e.contains("start it with 'patchbay daemon'"), "{e}");
    // A misspelt word is caught before the daemon is needed.
    let (ok, _, e) = patchbay(&["link", "add", "br0", "type", "bridge", "ageing_tme", "300"]);
    assert!(!ok);
    assert!(e.contains("did you mean \"ageing_time\""), "{e}");
}
