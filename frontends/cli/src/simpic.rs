//! `patchbay sim FILE --svg FILE` and `--html FILE`: a run's timeline as a
//! picture. One lane per port or device over virtual time, coloured by
//! its state (STP states, RSTP roles, links, bond and team members, the root, the
//! active member); the scheduled events as dashed lines; the assertions as
//! marks at their time, green when they passed and red when not; frames
//! per protocol per wire as rate strips. With more lanes than fit, lanes
//! of one kind are drawn as one strip of how many were in each state.
//!
//! Everything comes from the report, which comes from the seed and the
//! virtual clock: the same seed gives the same picture, byte for byte.

use crate::report::esc;
use patchbay_sim::report::{Change, Report};
use patchbay_sim::time;
use std::collections::BTreeMap;
use std::fmt::Write;

const LEFT: f64 = 230.0;
const PLOT: f64 = 900.0;
const LANE_H: f64 = 16.0;
/// Beyond this many lanes, lanes are drawn by kind as counts per state.
const MAX_LANES: usize = 80;
/// Wires drawn one strip each (the busiest); the rest are summed.
const MAX_WIRES: usize = 12;
/// Columns of the aggregated strips and the rate strips.
const COLUMNS: u64 = 300;

/// A state's colour: the well-known ones fixed, any other from a palette
/// by its place among the run's states (so it is the same every run).
fn colour(state: &str, others: &[String]) -> &'static str {
    match state {
        "forwarding" | "up" | "enabled" | "collecting and distributing" | "is the root" => {
            "#2a9d3a"
        }
        "learning" | "going-back" => "#e9c46a",
        "listening" | "going-down" => "#f4a261",
        "blocking" | "discarding" => "#d1495b",
        "disabled" | "down" | "not distributing" | "none" => "#9a9a9a",
        // RSTP roles.
        "root" => "#3d7dca",
        "designated" => "#1b998b",
        "alternate" => "#b56576",
        "backup" => "#8a5cc2",
        "root port" => "#4f6d7a",
        "other" => "#bdbdbd",
        s => {
            const P: [&str; 8] = [
                "#3d7dca", "#8a5cc2", "#1b998b", "#c0702a", "#5c946e", "#b56576", "#4f6d7a",
                "#a07c3b",
            ];
            let i = others.iter().position(|o| o == s).unwrap_or(0);
            P[i % P.len()]
        }
    }
}

/// What kind of lane it is, by its name's shape (for aggregation).
fn lane_kind(lane: &str) -> &'static str {
    if lane.starts_with("link ") {
        "links"
    } else if lane.starts_with("wire ") {
        "wires"
    } else if lane.ends_with(" role") {
        "port roles"
    } else if lane.ends_with(" root") {
        "roots"
    } else if lane.ends_with(" link") {
        "member links"
    } else if lane.ends_with(" tx") {
        "members carrying traffic"
    } else if lane.ends_with(" active") {
        "active members"
    } else {
        "bridge ports"
    }
}

struct Lanes<'a> {
    /// Lane names in order of first appearance, and each lane's changes.
    order: Vec<&'a str>,
    changes: BTreeMap<&'a str, Vec<&'a Change>>,
    /// Every state, sorted (the palette's order).
    states: Vec<String>,
}

fn lanes(r: &Report) -> Lanes<'_> {
    let mut order = Vec::new();
    let mut changes: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in &r.changes {
        let v = changes.entry(c.lane.as_str()).or_default();
        if v.is_empty() {
            order.push(c.lane.as_str());
        }
        v.push(c);
    }
    let mut states: Vec<String> = r.changes.iter().map(|c| c.state.clone()).collect();
    states.sort();
    states.dedup();
    Lanes {
        order,
        changes,
        states,
    }
}

/// The picture: the SVG element.
pub fn svg(r: &Report, title: &str) -> String {
    let end = r.virtual_time.max(1);
    let x = |t: u64| LEFT + PLOT * (t.min(end) as f64) / (end as f64);
    let l = lanes(r);
    let mut body = String::new();
    let mut y = 10.0;
    let _ = write!(
        body,
        r#"<text x="10" y="{}" font-size="15">{} — seed {}, {} virtual, {} events</text>"#,
        y + 14.0,
        esc(title),
        r.seed,
        time::fmt(r.virtual_time),
        r.events
    );
    y += 26.0;
    // The time axis: ten ticks.
    for i in 0..=10u64 {
        let t = end * i / 10;
        let _ = write!(
            body,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#ccc"/><text x="{0:.1}" y="{3}" text-anchor="middle" font-size="10">{4}</text>"##,
            x(t),
            y + 4.0,
            y + 10.0,
            y,
            esc(&time::fmt(t))
        );
    }
    y += 16.0;
    let top = y;

    // Lanes, or with too many, counts per state per kind.
    // The states the legend explains: every lane's, or the strips'.
    let mut legend: Vec<String> = l.states.clone();
    if l.order.len() <= MAX_LANES {
        for lane in &l.order {
            let ch = &l.changes[lane];
            let _ = write!(
                body,
                r#"<g class="lane" data-lane="{}"><text x="10" y="{}" font-size="11">{}</text>"#,
                esc(lane),
                y + 11.0,
                esc(lane)
            );
            for (i, c) in ch.iter().enumerate() {
                let until = ch.get(i + 1).map_or(end, |n| n.t);
                let (x0, x1) = (x(c.t), x(until));
                let w = (x1 - x0).max(0.5);
                let _ = write!(
                    body,
                    r#"<rect class="state" data-state="{s}" data-t="{t}" x="{x0:.2}" y="{}" width="{w:.2}" height="{}" fill="{}"><title>{} {s} at {}</title></rect>"#,
                    y + 1.0,
                    LANE_H - 3.0,
                    colour(&c.state, &l.states),
                    esc(lane),
                    time::fmt(c.t),
                    s = esc(&c.state),
                    t = c.t,
                );
                if w > 7.0 * c.state.len() as f64 {
                    let _ = write!(
                        body,
                        r##"<text x="{:.2}" y="{}" font-size="10" fill="#fff">{}</text>"##,
                        x0 + 3.0,
                        y + 10.5,
                        esc(&c.state)
                    );
                }
            }
            body.push_str("</g>");
            y += LANE_H;
        }
    } else {
        let mut kinds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for lane in &l.order {
            kinds.entry(lane_kind(lane)).or_default().push(lane);
        }
        let mut drawn = std::collections::BTreeSet::new();
        for (kind, lanes) in &kinds {
            y = aggregate(&mut body, &l, kind, lanes, end, y, &mut drawn);
        }
        legend = drawn.into_iter().collect();
    }
    let lanes_end = y;

    // Scheduled events: dashed lines through the lanes, numbered.
    for (i, m) in r.marks.iter().enumerate() {
        let _ = write!(
            body,
            r##"<g class="mark"><line x1="{0:.2}" y1="{1}" x2="{0:.2}" y2="{2}" stroke="#333" stroke-dasharray="4 3"/><text x="{3:.2}" y="{4}" font-size="10">E{5}</text><title>{6} {7}</title></g>"##,
            x(m.t),
            top,
            lanes_end,
            x(m.t) + 2.0,
            top + 9.0,
            i + 1,
            time::fmt(m.t),
            esc(&m.text)
        );
    }

    // Assertions on a row of their own.
    y += 6.0;
    let _ = write!(
        body,
        r#"<text x="10" y="{}" font-size="11">assertions</text>"#,
        y + 11.0
    );
    for a in &r.assertions {
        let _ = write!(
            body,
            r##"<circle class="assertion" data-ok="{}" data-t="{}" cx="{:.2}" cy="{}" r="5" fill="{}"><title>line {}: {} at {}: {}</title></circle>"##,
            a.ok,
            a.t,
            x(a.t),
            y + 7.0,
            if a.ok { "#2a9d3a" } else { "#d1495b" },
            a.line,
            esc(&a.text),
            time::fmt(a.t),
            if a.ok { "passed" } else { "FAILED" }
        );
    }
    y += LANE_H + 8.0;

    // Frames per protocol per wire.
    y = rates(&mut body, r, end, y);

    // Legends: states, events, failed assertions.
    y += 8.0;
    let mut lx = 10.0;
    for s in &legend {
        let w = 26.0 + 7.0 * s.len() as f64;
        if lx + w > LEFT + PLOT {
            lx = 10.0;
            y += 16.0;
        }
        let _ = write!(
            body,
            r#"<rect x="{lx}" y="{y}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            colour(s, &l.states),
            lx + 14.0,
            y + 9.0,
            esc(s)
        );
        lx += w;
    }
    y += 22.0;
    for (i, m) in r.marks.iter().enumerate() {
        let _ = write!(
            body,
            r#"<text x="10" y="{}" font-size="11">E{}  {}  {}</text>"#,
            y + 10.0,
            i + 1,
            time::fmt(m.t),
            esc(&m.text)
        );
        y += 14.0;
    }
    for a in r.assertions.iter().filter(|a| !a.ok) {
        let _ = write!(
            body,
            r##"<text x="10" y="{}" font-size="11" fill="#d1495b">FAILED line {} at {}: {}: {}</text>"##,
            y + 10.0,
            a.line,
            time::fmt(a.t),
            esc(&a.text),
            esc(&a.detail)
        );
        y += 14.0;
    }
    let (w, h) = (LEFT + PLOT + 60.0, y + 10.0);
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">{body}</svg>"#
    )
}

/// A lane's state as its aggregated strip counts it: states that name a
/// port (a root port, an active member) count as one, so a thousand
/// bridges give "root port", not a strip per port.
fn state_class(state: &str) -> &str {
    if state.starts_with("root port ") {
        "root port"
    } else {
        state
    }
}

/// At most this many strips per kind; the rarer states are summed.
const MAX_STATES: usize = 8;

/// One strip per state of lanes of `kind`: how many were in it, per
/// column of time.
fn aggregate(
    body: &mut String,
    l: &Lanes<'_>,
    kind: &str,
    lanes: &[&str],
    end: u64,
    mut y: f64,
    drawn: &mut std::collections::BTreeSet<String>,
) -> f64 {
    let cols = COLUMNS.min(end.max(1));
    // counts[state][column]: lanes in that state at the column's end.
    let mut counts: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for lane in lanes {
        let ch = &l.changes[lane];
        let mut i = 0;
        for c in 0..cols {
            let t = end * (c + 1) / cols;
            while i + 1 < ch.len() && ch[i + 1].t <= t {
                i += 1;
            }
            if ch[i].t <= t {
                counts
                    .entry(state_class(&ch[i].state))
                    .or_insert_with(|| vec![0; cols as usize])[c as usize] += 1;
            }
        }
    }
    // Active members name their member: keep the most held states and
    // sum the others (deterministic: by size, then by name).
    if counts.len() > MAX_STATES {
        let mut by_size: Vec<(&str, u64)> = counts
            .iter()
            .map(|(s, v)| (*s, v.iter().map(|k| u64::from(*k)).sum()))
            .collect();
        by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut other = vec![0u32; cols as usize];
        for (s, _) in &by_size[MAX_STATES - 1..] {
            for (o, k) in other.iter_mut().zip(counts.remove(s).unwrap_or_default()) {
                *o += k;
            }
        }
        counts.insert("other", other);
    }
    let step = PLOT / cols as f64;
    // The kind's heading, then a strip per state scaled to its own peak
    // (the label gives the numbers), so a rare state's timing shows.
    let _ = write!(
        body,
        r#"<text class="kind" x="10" y="{}" font-size="11" font-weight="bold">{} {kind}</text>"#,
        y + 11.0,
        lanes.len(),
        kind = esc(kind)
    );
    y += LANE_H;
    for (state, v) in &counts {
        drawn.insert(state.to_string());
        let peak = v.iter().max().copied().unwrap_or(0).max(1);
        let _ = write!(
            body,
            r#"<g class="aggregate" data-kind="{}" data-state="{}"><text x="18" y="{}" font-size="11">{}: peak {}, end {}</text>"#,
            esc(kind),
            esc(state),
            y + 11.0,
            esc(state),
            peak,
            v.last().copied().unwrap_or(0)
        );
        // One bar per run of equal counts.
        let mut c = 0;
        while c < v.len() {
            let k = v[c];
            let mut e = c + 1;
            while e < v.len() && v[e] == k {
                e += 1;
            }
            if k > 0 {
                let h = (LANE_H - 3.0) * f64::from(k) / f64::from(peak);
                let _ = write!(
                    body,
                    r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{h:.2}" fill="{}"><title>{k} {}</title></rect>"#,
                    LEFT + step * c as f64,
                    y + LANE_H - 2.0 - h,
                    (step * (e - c) as f64).max(0.5),
                    colour(state, &l.states),
                    esc(state)
                );
            }
            c = e;
        }
        body.push_str("</g>");
        y += LANE_H;
    }
    y
}

/// Frames per protocol per wire: a strip per wire (the busiest
/// [`MAX_WIRES`], the rest as one), bars stacked by protocol, scaled to
/// the strip's busiest column.
fn rates(body: &mut String, r: &Report, end: u64, mut y: f64) -> f64 {
    if r.traffic.is_empty() || r.traffic_bucket == 0 {
        return y;
    }
    let buckets = end / r.traffic_bucket + 1;
    let per = buckets.div_ceil(COLUMNS).max(1);
    let cols = buckets.div_ceil(per) as usize;
    // wire → protocol → column counts.
    let mut wires: BTreeMap<&str, BTreeMap<&str, Vec<u64>>> = BTreeMap::new();
    let mut protocols: Vec<&str> = Vec::new();
    for t in &r.traffic {
        let v = wires
            .entry(t.wire.as_str())
            .or_default()
            .entry(t.protocol.as_str())
            .or_insert_with(|| vec![0; cols]);
        for (b, n) in &t.counts {
            v[((b / per) as usize).min(cols - 1)] += n;
        }
        protocols.push(t.protocol.as_str());
    }
    protocols.sort_unstable();
    protocols.dedup();
    let total = |m: &BTreeMap<&str, Vec<u64>>| m.values().flatten().sum::<u64>();
    let mut order: Vec<&str> = wires.keys().copied().collect();
    // Busiest first; by name among equals (deterministic).
    order.sort_by(|a, b| total(&wires[b]).cmp(&total(&wires[a])).then(a.cmp(b)));
    let mut strips: Vec<(String, BTreeMap<&str, Vec<u64>>)> = Vec::new();
    let mut rest: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (i, w) in order.iter().enumerate() {
        if i < MAX_WIRES {
            strips.push((format!("wire {w}"), wires[w].clone()));
        } else {
            for (p, v) in &wires[w] {
                let r = rest.entry(p).or_insert_with(|| vec![0; cols]);
                for (a, b) in r.iter_mut().zip(v) {
                    *a += b;
                }
            }
        }
    }
    if !rest.is_empty() {
        strips.push((format!("{} other wires", order.len() - MAX_WIRES), rest));
    }
    let pal = [
        "#3d7dca", "#d1495b", "#2a9d3a", "#e9c46a", "#8a5cc2", "#1b998b", "#c0702a", "#4f6d7a",
    ];
    let pcol = |p: &str| pal[protocols.iter().position(|q| *q == p).unwrap_or(0) % pal.len()];
    let secs = (per * r.traffic_bucket) as f64 / 1e9;
    let _ = write!(
        body,
        r#"<text x="10" y="{}" font-size="11" font-weight="bold">frames per protocol per wire (per {} s)</text>"#,
        y + 11.0,
        secs
    );
    y += LANE_H;
    let step = PLOT * (per * r.traffic_bucket) as f64 / end.max(1) as f64;
    for (name, m) in &strips {
        let peak = (0..cols)
            .map(|c| m.values().map(|v| v[c]).sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1);
        let _ = write!(
            body,
            r#"<g class="rate" data-wire="{}"><text x="10" y="{}" font-size="11">{} (peak {})</text>"#,
            esc(name),
            y + 11.0,
            esc(name),
            peak
        );
        for c in 0..cols {
            let mut base = y + LANE_H - 2.0;
            for (p, v) in m {
                if v[c] == 0 {
                    continue;
                }
                let h = (LANE_H - 3.0) * v[c] as f64 / peak as f64;
                base -= h;
                let _ = write!(
                    body,
                    r#"<rect x="{:.2}" y="{base:.2}" width="{:.2}" height="{h:.2}" fill="{}"><title>{} {}</title></rect>"#,
                    LEFT + step * c as f64,
                    step.clamp(0.5, PLOT),
                    pcol(p),
                    esc(p),
                    v[c]
                );
            }
        }
        body.push_str("</g>");
        y += LANE_H;
    }
    let mut lx = LEFT;
    for p in &protocols {
        let _ = write!(
            body,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            y + 2.0,
            pcol(p),
            lx + 14.0,
            y + 11.0,
            esc(p)
        );
        lx += 26.0 + 7.0 * p.len() as f64;
    }
    y + LANE_H
}

/// `--svg FILE`.
pub fn svg_file(r: &Report, title: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
        svg(r, title)
    )
}

/// `--html FILE`: the picture, the assertions and the traffic summary on
/// one self-contained page.
pub fn html(r: &Report, title: &str) -> String {
    let mut s = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>patchbay sim: {t}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
.fail {{ color: #b00020; font-weight: bold; }}
</style></head>
<body>
<h1>patchbay sim: {t}</h1>
<p>Seed {seed}, {vt} of virtual time, {ev} events. Hover a state, a mark or an assertion for its time.</p>
<figure>{svg}</figure>
<h2>Assertions</h2>
<table><tr><th>line</th><th>time</th><th>check</th><th>result</th></tr>
"#,
        t = esc(title),
        seed = r.seed,
        vt = time::fmt(r.virtual_time),
        ev = r.events,
        svg = svg(r, title)
    );
    for a in &r.assertions {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
            a.line,
            time::fmt(a.t),
            esc(&a.text),
            if a.ok { "" } else { " class=\"fail\"" },
            if a.ok {
                "passed".to_string()
            } else {
                format!("FAILED: {}", esc(&a.detail))
            }
        );
    }
    s.push_str("</table>\n<h2>Wires</h2>\n<table><tr><th>wire</th><th>frames</th><th>lost</th><th>protocols</th></tr>\n");
    for w in r.wires.iter().filter(|w| w.frames != [0, 0]) {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&w.name),
            w.frames[0] + w.frames[1],
            w.lost[0] + w.lost[1],
            esc(&w.protocol_list(", "))
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Report {
        let path = format!("{}/../../sims/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        patchbay_sim::run(&text, None, false).unwrap().0
    }

    fn ring() -> Report {
        scenario("stp-ring.pb")
    }

    /// A lane's (state, time) changes, from the drawn SVG.
    fn lane_states<'a>(doc: &'a roxmltree::Document, lane: &str) -> Vec<(&'a str, u64)> {
        let node = doc
            .descendants()
            .find(|n| {
                n.attribute("class") == Some("lane") && n.attribute("data-lane") == Some(lane)
            })
            .unwrap_or_else(|| panic!("no lane {lane}"));
        node.descendants()
            .filter(|n| n.attribute("class") == Some("state"))
            .map(|n| {
                (
                    n.attribute("data-state").unwrap(),
                    n.attribute("data-t").unwrap().parse().unwrap(),
                )
            })
            .collect()
    }

    /// The state a lane is in at `t`.
    fn state_at<'a>(states: &[(&'a str, u64)], t: u64) -> Option<&'a str> {
        states.iter().rev().find(|s| s.1 <= t).map(|s| s.0)
    }

    /// The ring's picture parses, has a lane per bridge port with its
    /// listening → learning → forwarding changes at the asserted times
    /// (15 s and 30 s: the ports reach forwarding after 2 × forward_delay),
    /// every assertion marked passed, and rate strips for the BPDUs.
    #[test]
    fn the_stp_ring_is_drawn_lane_by_lane() {
        let r = ring();
        let s = svg_file(&r, "stp-ring.pb");
        let doc = roxmltree::Document::parse(&s).expect("well-formed SVG");
        for b in 1..=4 {
            for p in 1..=2 {
                let name = format!("s{b} s{b}p{p}");
                let states = lane_states(&doc, &name);
                let at = |s: &str| states.iter().find(|x| x.0 == s).map(|x| x.1);
                assert_eq!(at("listening"), Some(0), "{name}: {states:?}");
                // The blocked port never leaves blocking; the others learn
                // at 15 s and forward at 30 s.
                if at("learning").is_some() {
                    assert_eq!(at("learning"), Some(15_000_000_000), "{name}: {states:?}");
                    assert_eq!(at("forwarding"), Some(30_000_000_000), "{name}: {states:?}");
                }
            }
        }
        let marks: Vec<bool> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("assertion"))
            .map(|n| n.attribute("data-ok") == Some("true"))
            .collect();
        assert_eq!(marks.len(), r.assertions.len());
        assert!(marks.iter().all(|ok| *ok));
        assert!(doc
            .descendants()
            .any(|n| n.attribute("class") == Some("rate")));
        let text: String = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(text.contains("stp"), "no stp protocol in the legend");
    }

    /// RSTP's roles have a lane per port: in `rstp-ring.pb` s3p2 is the
    /// alternate at 1 s, takes over as root port when the root's link
    /// fails at 10 s (asserted at 11 s), and is the alternate again after
    /// the link comes back (asserted at 21 s); every port of the ring has
    /// its role lane, and the bridges' carriers come on.
    #[test]
    fn rstp_roles_are_drawn_lane_by_lane() {
        let r = scenario("rstp-ring.pb");
        assert!(r.assertions.iter().all(|a| a.ok));
        let s = svg_file(&r, "rstp-ring.pb");
        let doc = roxmltree::Document::parse(&s).expect("well-formed SVG");
        let sec = 1_000_000_000;
        let s3p2 = lane_states(&doc, "s3 s3p2 role");
        assert_eq!(state_at(&s3p2, sec), Some("alternate"), "{s3p2:?}");
        assert_eq!(state_at(&s3p2, 11 * sec), Some("root"), "{s3p2:?}");
        assert_eq!(state_at(&s3p2, 21 * sec), Some("alternate"), "{s3p2:?}");
        let s3p1 = lane_states(&doc, "s3 s3p1 role");
        assert_eq!(state_at(&s3p1, sec), Some("root"), "{s3p1:?}");
        assert_eq!(state_at(&s3p1, 11 * sec), Some("designated"), "{s3p1:?}");
        for b in 1..=4 {
            for p in 1..=2 {
                let lane = format!("s{b} s{b}p{p} role");
                assert!(!lane_states(&doc, &lane).is_empty(), "{lane}");
            }
            let link = lane_states(&doc, &format!("link s{b}"));
            assert_eq!(state_at(&link, sec), Some("up"), "s{b}: {link:?}");
        }
        let text: String = doc.descendants().filter_map(|n| n.text()).collect();
        for role in ["root", "designated", "alternate"] {
            assert!(text.contains(role), "no {role} in the legend");
        }
    }

    /// A real run of a thousand bridges (`rstp-ring-1000.pb`: a forest of
    /// trees, a root every ~2 × max_age bridges): drawn as counts per
    /// state, roots and root ports counted as classes rather than a strip
    /// per port, and small enough to open (well under a megabyte).
    #[test]
    fn a_thousand_bridges_are_drawn_as_counts() {
        let r = scenario("rstp-ring-1000.pb");
        assert!(r.assertions.iter().all(|a| a.ok));
        let s = svg(&r, "rstp-ring-1000.pb");
        assert!(s.len() < 1_000_000, "{} bytes", s.len());
        let doc = roxmltree::Document::parse(&s).unwrap();
        assert!(!doc
            .descendants()
            .any(|n| n.attribute("class") == Some("lane")));
        let strips: Vec<(&str, &str, String)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("aggregate"))
            .map(|n| {
                (
                    n.attribute("data-kind").unwrap(),
                    n.attribute("data-state").unwrap(),
                    n.descendants()
                        .find(|t| t.has_tag_name("text"))
                        .and_then(|t| t.text())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        let roots: Vec<&str> = strips
            .iter()
            .filter(|s| s.0 == "roots")
            .map(|s| s.1)
            .collect();
        assert_eq!(roots, ["is the root", "root port"], "{strips:?}");
        // Every bridge is a root or has a root port, at the end.
        let at_end = |kind: &str, state: &str| -> u32 {
            let t = &strips
                .iter()
                .find(|s| s.0 == kind && s.1 == state)
                .unwrap_or_else(|| panic!("no {kind} {state}: {strips:?}"))
                .2;
            t.rsplit(", end ")
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{t}"))
        };
        let trees = at_end("roots", "is the root");
        assert_eq!(trees + at_end("roots", "root port"), 1000);
        // Each bridge that is not a root has exactly one root port.
        assert_eq!(at_end("port roles", "root"), 1000 - trees);
        assert!((10..=40).contains(&trees), "{trees} trees");
        let kinds: std::collections::BTreeSet<&str> = strips.iter().map(|s| s.0).collect();
        assert!(
            kinds.contains("bridge ports") && kinds.contains("links"),
            "{kinds:?}"
        );
    }

    /// Same seed, same picture, byte for byte; the page parses.
    #[test]
    fn the_picture_is_the_same_for_the_same_seed() {
        let (a, b) = (ring(), ring());
        assert_eq!(svg_file(&a, "x"), svg_file(&b, "x"));
        assert_eq!(html(&a, "x"), html(&b, "x"));
        roxmltree::Document::parse_with_options(
            &html(&a, "x"),
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .expect("well-formed page");
    }

    /// A thousand ports: lanes become counts per state per kind.
    #[test]
    fn many_lanes_are_drawn_as_counts_per_state() {
        let mut r = ring();
        r.changes = (0..1000)
            .flat_map(|i| {
                let lane = format!("b{} p{i}", i / 10);
                [
                    Change {
                        t: 0,
                        lane: lane.clone(),
                        state: "listening".into(),
                    },
                    Change {
                        t: 30_000_000_000,
                        lane,
                        state: if i % 10 == 0 {
                            "blocking"
                        } else {
                            "forwarding"
                        }
                        .into(),
                    },
                ]
            })
            .collect();
        let s = svg(&r, "big");
        let doc = roxmltree::Document::parse(&s).unwrap();
        assert!(!doc
            .descendants()
            .any(|n| n.attribute("class") == Some("lane")));
        let strips: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("aggregate"))
            .filter_map(|n| n.attribute("data-state"))
            .collect();
        assert_eq!(strips, ["blocking", "forwarding", "listening"]);
        let text: String = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(text.contains("1000 bridge ports"), "{text}");
        assert!(text.contains("forwarding: peak 900, end 900"), "{text}");
    }
}
