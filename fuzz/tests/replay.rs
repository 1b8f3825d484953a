//! Every input the fuzzers keep (the seed corpus and what they found,
//! `fuzz/corpus/` and `fuzz/regressions/`) replayed as an ordinary test,
//! so CI catches a regression without a nightly toolchain or libFuzzer.

use std::path::Path;

fn replay(dir: &str, f: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for sub in ["corpus", "regressions"] {
        let d = root.join(sub).join(dir);
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let r = std::panic::catch_unwind(|| f(&data));
            assert!(
                r.is_ok(),
                "{} failed (replay it with cargo fuzz run)",
                p.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn frame_corpus() {
    let n = replay("frame", patchbay_fuzz::frames);
    println!("replayed {n} frame inputs");
    assert!(n >= 10, "the frame seed corpus has only {n} inputs");
}

#[test]
fn command_corpus() {
    let n = replay("command", patchbay_fuzz::commands);
    println!("replayed {n} command inputs");
    assert!(n >= 10, "the command seed corpus has only {n} inputs");
}

#[test]
fn lab_has_every_device() {
    let g = patchbay_fuzz::lab();
    for (name, _) in patchbay_fuzz::ATTACHED {
        let f = g.iface(g.by_name(name).expect(name));
        assert!(f.admin_up, "{name} is not up");
    }
    let kinds: std::collections::BTreeSet<&str> =
        g.iter().filter_map(|(_, f)| f.kind.info_kind()).collect();
    for k in [
        "bridge",
        "bond",
        "team",
        "vxlan",
        "macvlan",
        "ipvlan",
        "vlan",
        "netdevsim",
    ] {
        assert!(kinds.contains(k), "no {k} in the lab: {kinds:?}");
    }
}
