//! The client side of the control socket.

use patchbay_io::pcap;
use patchbay_io::proto::{Request, Response};
use patchbay_io::rtnl::Style;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    pub json: bool,
    pub details: bool,
    pub stats: bool,
    pub pretty: bool,
}

pub struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    pub fn open(socket: &Path) -> Result<Conn, String> {
        let s = UnixStream::connect(socket).map_err(|e| {
            format!(
                "cannot reach the patchbay daemon at {} ({e}); start it with 'patchbay daemon' (as root), or point --socket / PATCHBAY_SOCKET at it",
                socket.display()
            )
        })?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Conn {
            reader: BufReader::new(s),
            writer,
        })
    }

    pub fn send(&mut self, req: &Request) -> Result<Response, String> {
        let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(|e| format!("daemon connection: {e}"))?;
        self.answer()
    }

    /// The next answer line.
    fn answer(&mut self) -> Result<Response, String> {
        let mut answer = String::new();
        self.reader
            .read_line(&mut answer)
            .map_err(|e| format!("daemon connection: {e}"))?;
        if answer.is_empty() {
            return Err("the daemon closed the connection".into());
        }
        serde_json::from_str(&answer).map_err(|e| format!("bad answer from the daemon: {e}"))
    }

    /// Runs one command; returns its output.
    pub fn run(&mut self, words: &[String], o: Opts) -> Result<String, String> {
        let mut all = String::new();
        self.run_each(words, o, &mut |s| all.push_str(s))?;
        Ok(pretty(all, o))
    }

    /// Runs one command, giving its output to `each` as it comes (a long
    /// answer comes in chunks; `-p` needs it whole and is not pretty here).
    pub fn run_each(
        &mut self,
        words: &[String],
        o: Opts,
        each: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        let mut r = self.send(&Request {
            words: read_config_files(words)?,
            json: o.json,
            details: o.details,
            stats: o.stats,
            capture: None,
            monitor: false,
        })?;
        if !r.ok {
            return Err(r.error);
        }
        if !r.warning.is_empty() {
            eprintln!("{}", r.warning);
        }
        loop {
            each(&r.out);
            if !r.more {
                return Ok(());
            }
            r = self.answer()?;
            if !r.ok {
                return Err(r.error);
            }
        }
    }
}

/// `link add NAME type team config_file F`: the client reads the file
/// (the daemon may run elsewhere, and the core reads no files) and sends
/// its JSON as `config`.
fn read_config_files(words: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(words.len());
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "config_file" {
            let Some(f) = it.next() else {
                return Err(
                    "config_file needs a file name (config_file /etc/teamd/team0.conf)".into(),
                );
            };
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read config_file {f}: {e}"))?;
            out.push("config".into());
            out.push(text);
        } else {
            out.push(w.clone());
        }
    }
    Ok(out)
}

fn pretty(out: String, o: Opts) -> String {
    if o.json && o.pretty {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
            return serde_json::to_string_pretty(&v).unwrap_or(out) + "\n";
        }
    }
    out
}

/// The command checked here first, so a typo is named (with the nearest
/// word patchbay knows) whether or not a daemon runs.
fn check_locally(words: &[String]) -> Result<(), String> {
    let w = read_config_files(words)?;
    patchbay_core::cmd::parse(&w)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub fn command(socket: &Path, words: &[String], o: Opts) -> ExitCode {
    if let Err(e) = check_locally(words) {
        eprintln!("Error: {e}");
        return ExitCode::from(1);
    }
    let mut conn = match Conn::open(socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    let r = if o.json && o.pretty {
        conn.run(words, o).map(|out| print!("{out}"))
    } else {
        // Printed as it comes: a million FDB entries need not fit here.
        let mut stdout = std::io::stdout().lock();
        conn.run_each(words, o, &mut |s| {
            let _ = stdout.write_all(s.as_bytes());
        })
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `save [FILE]`: the daemon's running topology as a batch file, written
/// to FILE (through a temporary file renamed over it, so a reader never
/// sees half of one) or printed.
pub fn save(socket: &Path, args: &[String]) -> ExitCode {
    let file = match args {
        [] => None,
        [f] => Some(f.as_str()),
        [_, extra, ..] => {
            eprintln!("Error: save: unexpected \"{extra}\" (patchbay save [FILE])");
            return ExitCode::from(2);
        }
    };
    let text =
        match Conn::open(socket).and_then(|mut c| c.run(&["save".to_string()], Opts::default())) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("Error: {e}");
                return ExitCode::from(2);
            }
        };
    let Some(file) = file.filter(|f| *f != "-") else {
        print!("{text}");
        return ExitCode::SUCCESS;
    };
    let tmp = format!("{file}.tmp");
    let r = std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, file));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("Error: save: writing {file}: {e}");
            ExitCode::from(1)
        }
    }
}

/// `-batch FILE`: every line is a command; stops at the first failure and
/// names the file and line, as `ip -batch` does.
/// A batch file's text (`-` = stdin).
pub fn read_batch(file: &str) -> Result<String, ExitCode> {
    if file == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("Error: reading stdin: {e}");
            return Err(ExitCode::from(2));
        }
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| {
            eprintln!("Error: cannot read batch file {file}: {e}");
            ExitCode::from(2)
        })
    }
}

pub fn batch(socket: &Path, file: &str, o: Opts) -> ExitCode {
    let text = match read_batch(file) {
        Ok(t) => t,
        Err(x) => return x,
    };
    let mut conn = match Conn::open(socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    for (n, line) in text.lines().enumerate() {
        let words = match patchbay_core::cmd::batch_words(line) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("Error: {e}\nCommand failed {file}:{}", n + 1);
                return ExitCode::from(1);
            }
        };
        if words.is_empty() {
            continue;
        }
        match conn.run(&words, o) {
            Ok(out) => print!("{out}"),
            Err(e) => {
                eprintln!("Error: {e}\nCommand failed {file}:{}", n + 1);
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// `patchbay capture DEV -w FILE [-c COUNT]`: records what DEV sends and
/// receives until COUNT frames or Ctrl-C.
pub fn capture(socket: &Path, args: &[String]) -> ExitCode {
    let (mut dev, mut file, mut count) = (None, None, None::<u64>);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-w" => {
                i += 1;
                file = args.get(i).cloned();
            }
            "-c" => {
                i += 1;
                count = args.get(i).and_then(|c| c.parse().ok());
                if count.is_none() {
                    eprintln!("Error: capture: -c expects a number of frames");
                    return ExitCode::from(2);
                }
            }
            "dev" | "-i" => {
                i += 1;
                dev = args.get(i).cloned();
            }
            d if dev.is_none() => dev = Some(d.to_string()),
            a => {
                eprintln!(
                    "Error: capture: unknown argument \"{a}\" (expected DEV -w FILE [-c COUNT])"
                );
                return ExitCode::from(2);
            }
        }
        i += 1;
    }
    let (Some(dev), Some(file)) = (dev, file) else {
        eprintln!("Error: capture: usage: patchbay capture DEV -w FILE.pcap [-c COUNT]");
        return ExitCode::from(2);
    };
    let mut conn = match Conn::open(socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    let r = conn.send(&Request {
        capture: Some(dev.clone()),
        ..Default::default()
    });
    match r {
        Ok(r) if r.ok => {}
        Ok(r) => {
            eprintln!("Error: {}", r.error);
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    }
    let mut out = match std::fs::File::create(&file) {
        Ok(f) => std::io::BufWriter::new(f),
        Err(e) => {
            eprintln!("Error: capture: cannot create {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let _ = conn
        .reader
        .get_ref()
        .set_read_timeout(Some(std::time::Duration::from_millis(200)));
    eprintln!(
        "capturing on {dev} into {file}{}",
        count
            .map(|c| format!(" ({c} frames)"))
            .unwrap_or_else(|| " (Ctrl-C to stop)".into())
    );
    let mut buf: Vec<u8> = Vec::new();
    let mut header_done = false;
    let mut frames = 0u64;
    let mut chunk = [0u8; 65536];
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|c| frames < c) {
        match conn.reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                eprintln!("Error: capture: {e}");
                break;
            }
        }
        if !header_done && buf.len() >= 24 {
            let _ = out.write_all(&buf[..24]);
            buf.drain(..24);
            header_done = true;
        }
        while header_done && count.is_none_or(|c| frames < c) {
            let Some(n) = pcap::next_record_len(&buf) else {
                break;
            };
            let _ = out.write_all(&buf[..n]);
            buf.drain(..n);
            frames += 1;
        }
    }
    if !header_done {
        let _ = out.write_all(&pcap::header(pcap::LINKTYPE_ETHERNET));
    }
    let _ = out.flush();
    eprintln!("{frames} frames written to {file}");
    ExitCode::SUCCESS
}

/// What both monitors (patchbay's and the kernel's) do with a message:
/// keep the names current, filter by object, print as `ip monitor` does.
pub struct MonitorPrinter {
    pub names: std::collections::HashMap<u32, String>,
    link: bool,
    neigh: bool,
    mdb: bool,
    opts: Opts,
    style: Style,
}

impl MonitorPrinter {
    /// `monitor [all|link|neigh]` (`ip monitor`'s words) or, with
    /// [`Style::Bridge`], `bridge monitor [all|link|fdb|mdb]`; `-d` and
    /// `-s` add to MDB entries what they add to `bridge mdb show`.
    pub fn new(args: &[String], opts: Opts, style: Style) -> Result<MonitorPrinter, ExitCode> {
        let (what, objects) = match style {
            Style::Ip => ("monitor", "all, link or neigh"),
            Style::Bridge => ("bridge monitor", "all, link, fdb or mdb"),
        };
        // As iproute2: naming objects shows those only.
        let (mut link, mut neigh, mut mdb) = (false, false, false);
        let mut any = false;
        for a in args {
            match (a.as_str(), style) {
                ("all", _) => (link, neigh, mdb) = (true, true, true),
                ("link", _) => link = true,
                ("neigh", Style::Ip) | ("fdb", Style::Bridge) => neigh = true,
                ("mdb", Style::Bridge) => mdb = true,
                (x, _) => {
                    eprintln!("Error: {what}: unknown object \"{x}\" (expected {objects})");
                    return Err(ExitCode::from(2));
                }
            }
            any = true;
        }
        if !any {
            (link, neigh, mdb) = (true, true, true);
        }
        Ok(MonitorPrinter {
            names: std::collections::HashMap::new(),
            link,
            neigh,
            mdb,
            opts,
            style,
        })
    }

    pub fn print(&mut self, msg: &[u8]) {
        if let Some((i, name)) = patchbay_io::rtnl::link_name(msg) {
            self.names.insert(i, name);
        }
        let Some((t, tname)) = patchbay_io::rtnl::message_type(msg) else {
            return;
        };
        let show = match t {
            16 | 17 => self.link,
            84..=86 => self.mdb,
            _ => self.neigh,
        };
        if !show {
            return;
        }
        let names = &self.names;
        let lookup = |i: u32| names.get(&i).cloned().unwrap_or_else(|| format!("if{i}"));
        let text = match patchbay_io::rtnl::mdb::parse(msg) {
            Some(m) if self.style == Style::Bridge => Some(patchbay_io::rtnl::mdb::describe(
                &m,
                &lookup,
                self.opts.details,
                self.opts.stats,
            )),
            _ => patchbay_io::rtnl::describe(msg, &lookup, self.style),
        };
        let Some(text) = text else {
            return;
        };
        let mut out = std::io::stdout().lock();
        let _ = if self.opts.json {
            writeln!(out, "{}", serde_json::json!({"type": tname, "text": text}))
        } else {
            writeln!(out, "{text}")
        };
        let _ = out.flush();
    }
}

/// `patchbay monitor [all|link|neigh]` and `patchbay bridge monitor
/// [all|link|fdb]`: the control plane's changes as they happen, printed as
/// `ip monitor` and `bridge monitor` print the kernel's (the daemon streams
/// them as rtnetlink messages, the same ones an nlmon device carries);
/// `-j` prints one JSON object per message.
pub fn monitor(socket: &Path, args: &[String], o: Opts, style: Style) -> ExitCode {
    let mut printer = match MonitorPrinter::new(args, o, style) {
        Ok(p) => p,
        Err(x) => return x,
    };
    match Conn::open(socket).and_then(|mut c| {
        c.run(
            &["link".into(), "show".into()],
            Opts {
                json: true,
                ..Opts::default()
            },
        )
    }) {
        Ok(j) => {
            if let Ok(serde_json::Value::Array(v)) = serde_json::from_str(&j) {
                for l in v {
                    if let (Some(i), Some(n)) = (l["ifindex"].as_u64(), l["ifname"].as_str()) {
                        printer.names.insert(i as u32, n.to_string());
                    }
                }
            }
        }
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    }
    let mut conn = match Conn::open(socket) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    match conn.send(&Request {
        monitor: true,
        ..Default::default()
    }) {
        Ok(r) if r.ok => {}
        Ok(r) => {
            eprintln!("Error: {}", r.error);
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut header_done = false;
    let mut chunk = [0u8; 65536];
    loop {
        match conn.reader.read(&mut chunk) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("Error: monitor: {e}");
                return ExitCode::from(1);
            }
        }
        if !header_done && buf.len() >= 24 {
            buf.drain(..24);
            header_done = true;
        }
        if !header_done {
            continue;
        }
        while let Some(n) = pcap::next_record_len(&buf) {
            // Record header (16), cooked header (16), the message.
            let msg = buf.get(32..n).unwrap_or(&[]).to_vec();
            buf.drain(..n);
            printer.print(&msg);
        }
    }
}
