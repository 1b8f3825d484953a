//! `patchbay --backend kernel ...`: the same commands, carried out by the
//! kernel over rtnetlink (`patchbay-kernel`), in the current namespace.

use crate::client::Opts;
use patchbay_core::cmd::{self, Command};
use patchbay_kernel::Kernel;
use std::process::ExitCode;

fn open() -> Result<Kernel, ExitCode> {
    Kernel::open().map_err(|e| {
        eprintln!("Error: cannot open rtnetlink: {e}");
        ExitCode::from(2)
    })
}

fn core_opts(o: Opts) -> cmd::Opts {
    cmd::Opts {
        json: o.json,
        details: o.details,
        stats: o.stats,
    }
}

/// One command line.
pub fn command(words: &[String], o: Opts) -> ExitCode {
    let c = match cmd::parse(words) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut k = match open() {
        Ok(k) => k,
        Err(x) => return x,
    };
    match k.apply(&c, core_opts(o)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// A batch: every line parsed and checked (kinds this kernel has, commands
/// the backend carries) before the first one runs.
pub fn batch(file: &str, o: Opts) -> ExitCode {
    let text = match crate::client::read_batch(file) {
        Ok(t) => t,
        Err(x) => return x,
    };
    let mut cmds: Vec<(usize, Command)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let words = match cmd::batch_words(line) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("Error: {e}\nCommand failed {file}:{}", n + 1);
                return ExitCode::from(1);
            }
        };
        if words.is_empty() {
            continue;
        }
        match cmd::parse(&words) {
            Ok(c) => cmds.push((n + 1, c)),
            Err(e) => {
                eprintln!(
                    "Error: {e}\nCommand failed {file}:{}; nothing was changed",
                    n + 1
                );
                return ExitCode::from(1);
            }
        }
    }
    let mut k = match open() {
        Ok(k) => k,
        Err(x) => return x,
    };
    for (n, c) in &cmds {
        if let Err(e) = k.check(std::slice::from_ref(c)) {
            eprintln!("Error: {e}\nCommand failed {file}:{n}");
            return ExitCode::from(1);
        }
    }
    for (n, c) in &cmds {
        match k.apply(c, core_opts(o)) {
            Ok(out) => print!("{out}"),
            Err(e) => {
                eprintln!("Error: {e}\nCommand failed {file}:{n}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// `patchbay --backend kernel monitor [all|link|neigh]` (and `bridge
/// monitor`): the kernel's own events, printed as `patchbay monitor`
/// prints patchbay's.
pub fn monitor(args: &[String], o: Opts, style: patchbay_io::rtnl::Style) -> ExitCode {
    let mut printer = match crate::client::MonitorPrinter::new(args, o, style) {
        Ok(p) => p,
        Err(x) => return x,
    };
    printer.names = match open().map(|mut k| k.names()) {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
        Err(x) => return x,
    };
    let mut m = match patchbay_kernel::Monitor::open() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("Error: cannot listen to rtnetlink: {e}");
            return ExitCode::from(2);
        }
    };
    loop {
        match m.recv() {
            Ok(msgs) => msgs.iter().for_each(|msg| printer.print(msg)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("Error: monitor: {e}");
                return ExitCode::from(1);
            }
        }
    }
}
