//! `patchbay demo` on a machine without ping, tcpdump, tshark or iperf3:
//! they are hidden in a mount namespace (a failing stub bound over each),
//! and the demo must still pass, with no unexplained drops (root).

#[test]
fn the_demo_needs_nothing_but_the_kernel_iproute2_and_patchbay() {
    let Some(lab) = patchbay_tests::lab("dm") else {
        return;
    };
    let stub = std::env::temp_dir().join(format!("patchbay-stub-{}", lab.tag));
    std::fs::write(
        &stub,
        "#!/bin/sh\necho \"hidden by the test: $0\" >&2\nexit 127\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tools = "ping tcpdump tshark iperf3";
    let script = format!(
        "for t in {tools}; do p=$(command -v $t) && mount --bind {s} \"$p\"; done; \
         for t in {tools}; do if command -v $t >/dev/null && $t -V >/dev/null 2>&1; then echo \"$t still runs\"; exit 3; fi; done; \
         exec {bin} demo",
        s = stub.display(),
        bin = lab.patchbay.display()
    );
    let o = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&stub);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "the demo failed without the tools:\n{out}\n{err}"
    );
    assert!(
        out.contains("a -> c (same VLAN, veth to TAP): replies"),
        "{out}"
    );
    assert!(out.contains("blocked, as it should be"), "{out}");
    assert!(out.contains("All as expected"), "{out}");
    assert!(
        !out.contains("tx_error"),
        "an unexplained drop in the demo's counters:\n{out}"
    );
    assert!(
        out.contains("Everything the demo made is removed."),
        "{out}"
    );
}
