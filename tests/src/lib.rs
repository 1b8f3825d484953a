//! Helpers shared by the integration tests in `tests/`: where the patchbay
//! binary is, and a namespace lab that skips without root, except under
//! CI=true where it fails (CI must run these tests).

use patchbay_io::lab::{check_prerequisites, Lab};
use std::path::PathBuf;

/// The `patchbay` binary next to the test binary (`$PATCHBAY_BIN` overrides).
pub fn patchbay_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PATCHBAY_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("patchbay");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build --release --bins), or set PATCHBAY_BIN",
        bin.display()
    );
    bin
}

/// A lab, or `None` (test skipped) when this machine cannot run one.
pub fn lab(prefix: &str) -> Option<Lab> {
    if let Err(why) = check_prerequisites() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and this test cannot run: it {why}");
        }
        eprintln!("skipped: this test {why}");
        return None;
    }
    Some(Lab::new(prefix, &patchbay_bin()))
}

/// Parses JSON output, naming it when it is not JSON.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}
