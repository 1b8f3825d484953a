//! `patchbay`: the daemon, the iproute2-style client, and the demo.
//!
//! Global options follow iproute2 (`-j`, `-d`, `-s`, `-batch FILE`); the
//! words after them are sent to the daemon, which parses and carries them
//! out (one parser for the daemon, batch files and the simulator).

mod client;
mod compare;
mod demo;
mod kernel;
mod report;
mod sim;
mod simpic;

use patchbay_io::rtnl::Style;
use std::path::PathBuf;
use std::process::ExitCode;

/// The daemon's thread layout unless `--layout` or `PATCHBAY_LAYOUT` says
/// otherwise; chosen by the comparison harness (ARCHITECTURE.md, Threads).
const DEFAULT_LAYOUT: &str = "run-to-completion";

const USAGE: &str = "\
usage: patchbay [OPTIONS] OBJECT COMMAND...
       patchbay help [OBJECT]        (or OBJECT help, as ip has it)
       patchbay daemon [--socket PATH] [--layout run-to-completion|pipeline]
                       [--workers N] [--attach auto|af_packet|af_xdp] [--poll] [--no-dbus]
                       [--config FILE]
       patchbay demo
       patchbay capture DEV -w FILE.pcap [-c COUNT]
       patchbay monitor [all|link|neigh]      as ip monitor prints
       patchbay bridge monitor [all|link|fdb] as bridge monitor prints
       patchbay save [FILE]          the running topology as a batch file
                                     (for -batch FILE or daemon --config FILE)
       patchbay compare TOPOLOGY [--traffic quick|standard] [--rounds N] [-j] [--svg FILE] [--html FILE] [--no-ovs]
       patchbay sim FILE [--seed N] [--pcap DIR] [--svg FILE] [--html FILE] [-j]
       patchbay [-j] -batch FILE

objects (as in ip(8) and bridge(8), with patchbay in place of ip):
  link add|del|set|show      type bridge | bond | team | vlan | vxlan |
                             macvlan | macvtap | ipvlan | ipvtap | veth |
                             dummy | nlmon | netdevsim
                             ('patchbay help link': every type's options)
  tuntap add|del NAME mode tap
  neigh add|del|replace|show|flush   a VXLAN device's neighbours
  bridge fdb|link|vlan ...    ('patchbay help bridge': port options)
  bond show [BOND]           /proc/net/bonding content, -j for JSON
  teamctl TEAM VERB ...      teamdctl's verbs: state [dump|view], config dump
                             [noports|actual], port add|remove|present DEV,
                             port config update|dump DEV, state item get|set
  mstpctl VERB ...           mstpd's verbs for RSTP (addbridge, showbridge,
                             showport[detail], set*, settreeprio, ...)
  stats [DEV]                per-port counters and drop reasons

options:
  -j, -json        JSON output in iproute2's shape
  -d, -details     details (link options, port flags)
  -s, -stats       counters
  -b, -batch FILE  run the commands of FILE, one per line ('-' = stdin)
  --backend kernel apply the commands to the kernel over rtnetlink instead
                   (in the current network namespace; -batch checks the
                   whole file first; monitor prints the kernel's events)
  --socket PATH    the daemon's control socket
                   (default $PATCHBAY_SOCKET, else /run/patchbay/patchbay.sock)
";

/// `patchbay help [OBJECT]`, `patchbay OBJECT help`: the options come
/// from the parser itself (`patchbay_core::cmd::help`).
fn help(object: Option<&str>) -> ExitCode {
    use patchbay_core::cmd::help;
    match object {
        None => print!("{USAGE}"),
        Some("link" | "l") => print!("{}", help::link()),
        Some("bridge" | "fdb" | "vlan") => print!("{}", help::bridge()),
        Some(o) => {
            let lines: Vec<&str> = USAGE
                .lines()
                .filter(|l| l.trim_start().starts_with(o) || l.contains(&format!("patchbay {o}")))
                .collect();
            if lines.is_empty() {
                eprintln!("patchbay: no help on \"{o}\"; 'patchbay help' lists the objects");
                return ExitCode::from(2);
            }
            println!("{}", lines.join("\n"));
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = client::Opts::default();
    let mut socket: Option<PathBuf> = None;
    let mut batch: Option<String> = None;
    let mut backend_kernel = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-j" | "-json" | "--json" => opts.json = true,
            "-d" | "-details" | "--details" => opts.details = true,
            "-s" | "-stats" | "--stats" => opts.stats = true,
            "-p" | "-pretty" => opts.pretty = true,
            "-b" | "-batch" | "--batch" => {
                i += 1;
                let Some(f) = args.get(i) else {
                    eprintln!("patchbay: -batch needs a file name");
                    return ExitCode::from(2);
                };
                batch = Some(f.clone());
            }
            "--backend" => {
                i += 1;
                match args.get(i).map(String::as_str) {
                    Some("kernel") => backend_kernel = true,
                    Some("patchbay") => backend_kernel = false,
                    other => {
                        eprintln!("patchbay: --backend kernel|patchbay, not {other:?}");
                        return ExitCode::from(2);
                    }
                }
            }
            "--socket" => {
                i += 1;
                let Some(p) = args.get(i) else {
                    eprintln!("patchbay: --socket needs a path");
                    return ExitCode::from(2);
                };
                socket = Some(PathBuf::from(p));
            }
            "-h" | "-help" | "--help" | "help" => {
                return help(args.get(i + 1).map(String::as_str));
            }
            "-V" | "-Version" | "--version" => {
                println!("patchbay {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            _ => break,
        }
        i += 1;
    }
    let rest = &args[i..];
    if let [object, h] = rest {
        if h == "help" {
            return help(Some(object));
        }
    }
    let socket = patchbay_io::proto::socket_path(socket);
    if backend_kernel {
        if let Some(file) = batch {
            return kernel::batch(&file, opts);
        }
        return match rest.first().map(String::as_str) {
            None => {
                eprint!("{USAGE}");
                ExitCode::from(2)
            }
            Some("monitor") => kernel::monitor(&rest[1..], opts, Style::Ip),
            Some("bridge") if rest.get(1).map(String::as_str) == Some("monitor") => {
                kernel::monitor(&rest[2..], opts, Style::Bridge)
            }
            Some(_) => kernel::command(rest, opts),
        };
    }
    if let Some(file) = batch {
        return client::batch(&socket, &file, opts);
    }
    match rest.first().map(String::as_str) {
        None => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
        Some("daemon") => daemon(&rest[1..], socket),
        Some("demo") => demo::run(),
        Some("capture") => client::capture(&socket, &rest[1..]),
        Some("save") => client::save(&socket, &rest[1..]),
        Some("monitor") => client::monitor(&socket, &rest[1..], opts, Style::Ip),
        Some("bridge") if rest.get(1).map(String::as_str) == Some("monitor") => {
            client::monitor(&socket, &rest[2..], opts, Style::Bridge)
        }
        Some("compare") => compare::run(&rest[1..], opts),
        Some("sim") => sim::run(&rest[1..], opts.json),
        Some(_) => client::command(&socket, rest, opts),
    }
}

/// `daemon --config FILE`: the topology the daemon starts with, a batch
/// file as `-batch` reads it, applied before any client is served. A
/// failing line stops the start, naming the line (a service that comes up
/// half configured is worse than one that does not come up).
fn apply_config(d: &mut patchbay_io::daemon::Daemon, file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("--config {file}: {e}"))?;
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let words =
            patchbay_core::cmd::batch_words(line).map_err(|e| format!("{file}:{}: {e}", i + 1))?;
        if words.is_empty() {
            continue;
        }
        d.execute(&words, patchbay_core::cmd::Opts::default())
            .map_err(|e| format!("{file}:{}: {e} (the daemon did not start)", i + 1))?;
        n += 1;
    }
    tracing::info!(file, commands = n, "applied the configuration");
    Ok(())
}

fn daemon(args: &[String], mut socket: PathBuf) -> ExitCode {
    use patchbay_io::daemon::Layout;
    let mut layout_name =
        std::env::var("PATCHBAY_LAYOUT").unwrap_or_else(|_| DEFAULT_LAYOUT.into());
    let mut config: Option<String> = None;
    let mut attach_name = std::env::var("PATCHBAY_ATTACH").unwrap_or_else(|_| "auto".into());
    let mut busy_poll = std::env::var_os("PATCHBAY_POLL").is_some_and(|v| v == "1");
    let mut workers: Option<usize> = None;
    let mut dbus = true;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--config" => {
                i += 1;
                match args.get(i) {
                    Some(f) => config = Some(f.clone()),
                    None => {
                        eprintln!("patchbay daemon: --config needs a batch file (one command a line, as -batch takes)");
                        return ExitCode::from(2);
                    }
                }
            }
            "--socket" => {
                i += 1;
                match args.get(i) {
                    Some(p) => socket = PathBuf::from(p),
                    None => {
                        eprintln!("patchbay daemon: --socket needs a path");
                        return ExitCode::from(2);
                    }
                }
            }
            "--poll" => busy_poll = true,
            "--no-dbus" => dbus = false,
            "--workers" => {
                i += 1;
                match args
                    .get(i)
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (1..=64).contains(n))
                {
                    Some(n) => workers = Some(n),
                    None => {
                        eprintln!(
                            "patchbay daemon: --workers needs a number of receive threads, 1 to 64"
                        );
                        return ExitCode::from(2);
                    }
                }
            }
            "--attach" => {
                i += 1;
                match args.get(i) {
                    Some(a) => attach_name = a.clone(),
                    None => {
                        eprintln!(
                            "patchbay daemon: --attach needs one of {}",
                            patchbay_io::attach::Policy::CHOICES
                        );
                        return ExitCode::from(2);
                    }
                }
            }
            "--layout" => {
                i += 1;
                match args.get(i) {
                    Some(l) => layout_name = l.clone(),
                    None => {
                        eprintln!("patchbay daemon: --layout needs run-to-completion or pipeline");
                        return ExitCode::from(2);
                    }
                }
            }
            a => {
                eprintln!("patchbay daemon: unknown argument \"{a}\" (expected --socket PATH, --layout run-to-completion|pipeline, --attach auto|af_packet|af_xdp, --poll, --no-dbus, --workers N or --config FILE)");
                return ExitCode::from(2);
            }
        }
        i += 1;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PATCHBAY_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("patchbay daemon: needs root (CAP_NET_ADMIN and CAP_NET_RAW) to create TAPs and open packet sockets; run it with sudo");
        return ExitCode::from(1);
    }
    let Some(layout) = Layout::parse(&layout_name) else {
        eprintln!("patchbay daemon: layout \"{layout_name}\" is not run-to-completion or pipeline");
        return ExitCode::from(2);
    };
    let layout = match (layout, workers) {
        (Layout::Pipeline(_), Some(n)) => Layout::Pipeline(n),
        (Layout::RunToCompletion, Some(_)) => {
            eprintln!("patchbay daemon: --workers sets the receive threads of the pipeline layout; add --layout pipeline");
            return ExitCode::from(2);
        }
        (l, None) => l,
    };
    let Some(attach) = patchbay_io::attach::Policy::parse(&attach_name) else {
        eprintln!(
            "patchbay daemon: attachment \"{attach_name}\" is not one of {}",
            patchbay_io::attach::Policy::CHOICES
        );
        return ExitCode::from(2);
    };
    let mut d = match patchbay_io::daemon::Daemon::new(&socket, layout) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "patchbay daemon: cannot listen on {}: {e}",
                socket.display()
            );
            return ExitCode::from(1);
        }
    };
    d.set_attach(attach);
    d.set_busy_poll(busy_poll);
    d.set_dbus(dbus);
    if let Some(file) = &config {
        if let Err(e) = apply_config(&mut d, file) {
            eprintln!("patchbay daemon: {e}");
            drop(d);
            let _ = std::fs::remove_file(&socket);
            return ExitCode::from(1);
        }
    }
    match d.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patchbay daemon: {e}");
            ExitCode::from(1)
        }
    }
}
