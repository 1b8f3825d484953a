//! patchbay-sim: a deterministic discrete-event simulator that drives the
//! same core devices as the daemon over virtual wires.
//!
//! A scenario is a file of topology lines (`link add`, `bridge ...`, as for
//! the daemon) plus simulator verbs: `host`, `wire`, `topology`, `at`,
//! `ping`, `traffic`, `run`, `expect` (see `sims/scenarios/` and the README).
//! The clock is virtual: it jumps to the next event (a frame arriving, a
//! scheduled command, a traffic tick) or to the graph's next timer
//! (`poll_timeout`), so 300 s of FDB ageing pass instantly. Every random
//! choice (wire jitter and loss, random topologies) comes from one seed, and
//! two runs with one seed produce identical reports and pcaps.

pub mod host;
pub mod report;
pub use patchbay_core::rng;
pub mod time;
pub mod topo;
pub mod world;

pub use report::Report;
pub use world::{Sim, SimError};

/// The seed a scenario asks for with a `seed N` line, if any.
pub fn scenario_seed(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("seed"))
            .then(|| w.next()?.parse().ok())
            .flatten()
    })
}

/// Runs a scenario: `seed` overrides the file's `seed` line (default 1).
pub fn run(text: &str, seed: Option<u64>, pcap: bool) -> Result<(Report, Sim), SimError> {
    run_with(text, seed, pcap, None)
}

/// [`run`] with a limit on processed events (default 20 million).
pub fn run_with(
    text: &str,
    seed: Option<u64>,
    pcap: bool,
    max_events: Option<u64>,
) -> Result<(Report, Sim), SimError> {
    run_with_progress(text, seed, pcap, max_events, None)
}

/// A progress hook: (virtual nanoseconds, events so far).
pub type Progress = Box<dyn FnMut(u64, u64)>;

/// [`run_with`], calling `progress` every 100,000 events.
pub fn run_with_progress(
    text: &str,
    seed: Option<u64>,
    pcap: bool,
    max_events: Option<u64>,
    progress: Option<Progress>,
) -> Result<(Report, Sim), SimError> {
    let seed = seed.or_else(|| scenario_seed(text)).unwrap_or(1);
    let mut sim = Sim::new(seed, pcap);
    if let Some(m) = max_events {
        sim.max_events = m;
    }
    if let Some(p) = progress {
        sim.on_progress(p);
    }
    sim.run_script(text)?;
    Ok((sim.report(), sim))
}
