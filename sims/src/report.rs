//! What a run produced: the timeline, traffic results, per-wire counts and
//! assertion results, as text or JSON. Everything in it comes from the
//! virtual clock and the seed, so two runs with one seed are identical.

use crate::time;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Entry {
    /// Virtual nanoseconds.
    pub t: u64,
    pub text: String,
}

/// A lane of the timeline's picture changing state: a bridge port's STP
/// state (`BR PORT`), a link's carrier (`link DEV`), a wire (`wire W`), a
/// bridge's root (`BR root`), a bond or team member's link (`BOND PORT
/// link`) and whether it carries traffic (`BOND PORT tx`), the active
/// member (`BOND active`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    pub t: u64,
    pub lane: String,
    pub state: String,
}

/// Frames one wire carried of one protocol, per [`Report::traffic_bucket`]
/// of virtual time: (bucket number, frames), the empty ones left out.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct WireTraffic {
    pub wire: String,
    pub protocol: String,
    pub counts: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Assertion {
    pub line: usize,
    pub t: u64,
    pub text: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FlowReport {
    pub from: String,
    pub to: String,
    pub sent: u64,
    pub delivered: u64,
    pub duplicates: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PingReport {
    pub from: String,
    pub to: String,
    pub sent: u64,
    pub replies: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct WireReport {
    pub name: String,
    pub a: String,
    pub b: String,
    pub up: bool,
    /// Frames sent a→b and b→a.
    pub frames: [u64; 2],
    pub lost: [u64; 2],
    pub protocols: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    pub seed: u64,
    pub virtual_time: u64,
    pub events: u64,
    pub timeline: Vec<Entry>,
    /// The timeline's state changes by lane, and its scheduled events
    /// (`at` commands, wires set or taken down): what the picture draws.
    pub changes: Vec<Change>,
    pub marks: Vec<Entry>,
    /// Nanoseconds per bucket of `traffic`.
    pub traffic_bucket: u64,
    #[serde(skip)]
    pub traffic: Vec<WireTraffic>,
    pub flows: Vec<FlowReport>,
    pub pings: Vec<PingReport>,
    pub wires: Vec<WireReport>,
    pub assertions: Vec<Assertion>,
}

impl WireReport {
    /// The frames of each protocol, `stp 12` joined by `sep`.
    pub fn protocol_list(&self, sep: &str) -> String {
        let v: Vec<String> = self
            .protocols
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        v.join(sep)
    }
}

impl Report {
    pub fn passed(&self) -> bool {
        self.assertions.iter().all(|a| a.ok)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes") + "\n"
    }

    /// The text report; at most `max_timeline` timeline lines (the JSON has
    /// them all).
    pub fn to_text(&self, max_timeline: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "seed {}", self.seed);
        let _ = writeln!(s, "\ntimeline:");
        for e in self.timeline.iter().take(max_timeline) {
            let _ = writeln!(s, "  {:>14}  {}", time::fmt(e.t), e.text);
        }
        if self.timeline.len() > max_timeline {
            let _ = writeln!(
                s,
                "  ... {} more (-j for all)",
                self.timeline.len() - max_timeline
            );
        }
        let _ = writeln!(
            s,
            "\nsummary: {} virtual, {} events",
            time::fmt(self.virtual_time),
            self.events
        );
        for f in &self.flows {
            let _ = writeln!(
                s,
                "  traffic {} -> {}: sent {}, delivered {}, lost {}, duplicates {}",
                f.from,
                f.to,
                f.sent,
                f.delivered,
                f.sent - f.delivered,
                f.duplicates
            );
        }
        for p in &self.pings {
            let _ = writeln!(
                s,
                "  ping {} -> {}: {} sent, {} replies",
                p.from, p.to, p.sent, p.replies
            );
        }
        let busy: Vec<&WireReport> = self
            .wires
            .iter()
            .filter(|w| w.frames != [0, 0] || !w.up)
            .collect();
        let shown = 20;
        for w in busy.iter().take(shown) {
            let _ = writeln!(
                s,
                "  wire {}{}: {} -> {} {}, {} -> {} {}, lost {} [{}]",
                w.name,
                if w.up { "" } else { " (down)" },
                w.a,
                w.b,
                w.frames[0],
                w.b,
                w.a,
                w.frames[1],
                w.lost[0] + w.lost[1],
                w.protocol_list(", ")
            );
        }
        if busy.len() > shown {
            let _ = writeln!(s, "  ... {} more wires carried frames", busy.len() - shown);
        }
        if !self.assertions.is_empty() {
            let _ = writeln!(s, "\nassertions:");
            for a in &self.assertions {
                let _ = writeln!(
                    s,
                    "  {} line {} at {}: {} ({})",
                    if a.ok { "ok  " } else { "FAIL" },
                    a.line,
                    time::fmt(a.t),
                    a.text,
                    a.detail
                );
            }
        }
        let failed = self.assertions.iter().filter(|a| !a.ok).count();
        let _ = writeln!(
            s,
            "\n{}: {} passed, {} failed",
            if failed == 0 { "PASS" } else { "FAIL" },
            self.assertions.len() - failed,
            failed
        );
        s
    }
}
