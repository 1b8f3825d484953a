//! `patchbay sim FILE [--seed N] [--pcap DIR] [--svg FILE] [--html FILE]
//! [-j]`: runs a scenario in the simulator, prints the timeline and
//! summary (or the JSON report), writes one pcap per wire and the
//! timeline's picture (`simpic.rs`), and exits non-zero when an assertion
//! fails.

use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(args: &[String], json: bool) -> ExitCode {
    let (mut file, mut seed, mut pcap, mut json) = (None, None, None::<PathBuf>, json);
    let mut max_events = None;
    let (mut svg, mut html) = (None::<PathBuf>, None::<PathBuf>);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--seed" => {
                i += 1;
                match args.get(i).and_then(|s| s.parse().ok()) {
                    Some(s) => seed = Some(s),
                    None => {
                        eprintln!("patchbay sim: --seed needs a number");
                        return ExitCode::from(2);
                    }
                }
            }
            "--pcap" => {
                i += 1;
                match args.get(i) {
                    Some(d) => pcap = Some(PathBuf::from(d)),
                    None => {
                        eprintln!("patchbay sim: --pcap needs a directory");
                        return ExitCode::from(2);
                    }
                }
            }
            "--svg" | "--html" => {
                let which = args[i].clone();
                i += 1;
                let Some(f) = args.get(i) else {
                    eprintln!("patchbay sim: {which} needs a file name");
                    return ExitCode::from(2);
                };
                if which == "--svg" {
                    svg = Some(PathBuf::from(f));
                } else {
                    html = Some(PathBuf::from(f));
                }
            }
            "-j" | "--json" => json = true,
            "--max-events" => {
                i += 1;
                match args.get(i).and_then(|s| s.parse().ok()) {
                    Some(n) => max_events = Some(n),
                    None => {
                        eprintln!("patchbay sim: --max-events needs a number");
                        return ExitCode::from(2);
                    }
                }
            }
            f if file.is_none() => file = Some(f.to_string()),
            a => {
                eprintln!("patchbay sim: unknown argument \"{a}\" (expected FILE [--seed N] [--pcap DIR] [--svg FILE] [--html FILE] [--max-events N] [-j])");
                return ExitCode::from(2);
            }
        }
        i += 1;
    }
    let Some(file) = file else {
        eprintln!("patchbay sim: usage: patchbay sim FILE [--seed N] [--pcap DIR] [--svg FILE] [--html FILE] [-j]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("patchbay sim: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let t0 = std::time::Instant::now();
    // Progress on a terminal: virtual time and events, on one line.
    let progress: Option<patchbay_sim::Progress> =
        std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let start = std::time::Instant::now();
            Box::new(move |now: u64, events: u64| {
                eprint!(
                    "\r  {} virtual, {events} events, {:.1} s wall ",
                    patchbay_sim::time::fmt(now),
                    start.elapsed().as_secs_f64()
                );
            }) as patchbay_sim::Progress
        });
    let shown = progress.is_some();
    let result = patchbay_sim::run_with_progress(&text, seed, pcap.is_some(), max_events, progress);
    if shown {
        eprint!("\r\x1b[K");
    }
    let (report, sim) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("patchbay sim: {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let wall = t0.elapsed();
    if let Some(dir) = &pcap {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("patchbay sim: cannot create {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for (name, bytes) in sim.pcaps() {
            let path = dir.join(format!("{name}.pcap"));
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("patchbay sim: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let title = std::path::Path::new(&file)
        .file_name()
        .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
    for (path, text) in [
        (
            &svg,
            svg.as_ref()
                .map(|_| crate::simpic::svg_file(&report, &title)),
        ),
        (
            &html,
            html.as_ref().map(|_| crate::simpic::html(&report, &title)),
        ),
    ] {
        if let (Some(path), Some(text)) = (path, text) {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("patchbay sim: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            eprintln!(
                "patchbay sim: the timeline's picture written to {}",
                path.display()
            );
        }
    }
    if json {
        print!("{}", report.to_json());
    } else {
        print!("{}", report.to_text(500));
        if let Some(dir) = &pcap {
            println!("pcaps: {} files in {}", sim.pcaps().len(), dir.display());
        }
        eprintln!("({:.2} s wall time)", wall.as_secs_f64());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
