//! `patchbay compare`'s report as pictures: `--svg FILE` (every metric as
//! its own small chart) and `--html FILE` (one self-contained page: the
//! environment, the same charts inline, the ratio table, the behaviour
//! differences and the command that reproduces it). Both are drawn from
//! the report's JSON alone (what `-j` prints), so a page can be redrawn
//! from a saved run.
//!
//! The rules, the same in both: each metric says its unit and whether
//! higher or lower is better; each backend's bar is its median with a
//! whisker from the lowest to the highest round; a value inside the noise
//! (negative, or smaller than the spread of its rounds) is written as
//! "noise", with its numbers, and gets no bar; a ratio to a noisy value is
//! noise too.

use serde_json::Value;
use std::fmt::Write;

/// Whether a metric is better higher, lower, or neither (a setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    Neither,
}

impl Better {
    pub fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "neither",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Better::Higher => "higher is better",
            Better::Lower => "lower is better",
            Better::Neither => "for reference",
        }
    }
}

/// One backend's readings of one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub noise: bool,
}

/// Whether a median is inside the noise of its rounds: below zero (a cost
/// with more subtracted than was there), or smaller than the spread
/// between its lowest and highest round.
pub fn is_noise(median: f64, rounds: &[f64]) -> bool {
    let (lo, hi) = min_max(rounds);
    median < 0.0 || (rounds.len() > 1 && median.abs() < hi - lo)
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        })
}

/// A metric's readings of column `col` from the report, if measured.
pub fn reading(j: &Value, key: &str, col: &str) -> Option<Reading> {
    let row = &j["rows"][key];
    let median = row[col].as_f64()?;
    let rounds: Vec<f64> = row["raw"][col]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let (mut min, mut max) = min_max(&rounds);
    if !min.is_finite() {
        (min, max) = (median, median);
    }
    Some(Reading {
        median,
        min,
        max,
        noise: row["noise"][col].as_bool().unwrap_or(false),
    })
}

/// A value with its unit, short: `727 k frames/s`, `8.12 µs`.
pub fn with_unit(x: f64, unit: &str) -> String {
    let n = if x.abs() >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x.abs() >= 1e4 {
        format!("{:.0} k", x / 1e3)
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    };
    if unit.is_empty() {
        n.trim_end().to_string()
    } else if n.ends_with(' ') {
        format!("{n}{unit}")
    } else {
        format!("{n} {unit}")
    }
}

/// Text for XML and HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The report's metrics: key, label, unit, direction (from its
/// `metrics`).
fn metrics(j: &Value) -> Vec<(String, String, String, Better)> {
    j["metrics"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|m| {
                    let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
                    let better = match m["better"].as_str() {
                        Some("higher") => Better::Higher,
                        Some("lower") => Better::Lower,
                        _ => Better::Neither,
                    };
                    (s("key"), s("label"), s("unit"), better)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The report's columns: key and name, the kernel first.
fn columns(j: &Value) -> Vec<(String, String)> {
    j["columns"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|c| {
                    (
                        c["key"].as_str().unwrap_or("").to_string(),
                        c["name"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const COLOURS: [&str; 6] = [
    "#777777", "#1f7a4d", "#2f6fbf", "#8a5cc2", "#c0702a", "#b8404a",
];
const WIDTH: f64 = 860.0;
const ROW_H: f64 = 20.0;
const NAME_W: f64 = 170.0;
const BAR_W: f64 = 330.0;

/// The chart of one metric, `y` from the top of its picture: its height
/// and the SVG elements.
fn chart(j: &Value, m: &(String, String, String, Better), y: f64) -> (f64, String) {
    let (key, label, unit, better) = m;
    let cols = columns(j);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<g class="metric" data-metric="{}"><text x="10" y="{}" font-weight="bold">{} ({}) — {}</text>"#,
        esc(key),
        y + 14.0,
        esc(label),
        esc(if unit.is_empty() { "count" } else { unit }),
        better.words()
    );
    let readings: Vec<Option<Reading>> = cols.iter().map(|(c, _)| reading(j, key, c)).collect();
    let top = readings
        .iter()
        .flatten()
        .filter(|r| !r.noise)
        .map(|r| r.max.max(r.median))
        .fold(0.0f64, f64::max);
    let scale = if top > 0.0 { BAR_W / top } else { 0.0 };
    for (i, ((c, name), r)) in cols.iter().zip(&readings).enumerate() {
        let yy = y + 22.0 + i as f64 * ROW_H;
        let colour = COLOURS[i % COLOURS.len()];
        let x0 = 10.0 + NAME_W;
        let _ = write!(s, r#"<text x="10" y="{}">{}</text>"#, yy + 13.0, esc(name));
        match r {
            None => {
                let _ = write!(
                    s,
                    r##"<text x="{x0}" y="{}" fill="#666" font-style="italic">not measured</text>"##,
                    yy + 13.0
                );
            }
            Some(r) if r.noise => {
                let _ = write!(
                    s,
                    r##"<text class="noise" data-col="{}" x="{x0}" y="{}" fill="#666" font-style="italic">noise: median {}, rounds {} to {} (no bar)</text>"##,
                    esc(c),
                    yy + 13.0,
                    esc(&with_unit(r.median, unit)),
                    esc(&with_unit(r.min, unit)),
                    esc(&with_unit(r.max, unit)),
                );
            }
            Some(r) => {
                let w = (r.median * scale).max(0.0);
                let (a, b) = (x0 + r.min.max(0.0) * scale, x0 + r.max * scale);
                let mid = yy + 8.0;
                let _ = write!(
                    s,
                    r#"<rect class="bar" data-col="{}" x="{x0}" y="{}" width="{w:.1}" height="14" fill="{colour}"/>"#,
                    esc(c),
                    yy + 1.0
                );
                if b > a {
                    let _ = write!(
                        s,
                        r##"<path d="M{a:.1} {mid} H{b:.1} M{a:.1} {} V{} M{b:.1} {} V{}" stroke="#222" stroke-width="1.2" fill="none"/>"##,
                        mid - 4.0,
                        mid + 4.0,
                        mid - 4.0,
                        mid + 4.0
                    );
                }
                let spread = if r.max > r.min {
                    format!(
                        " (rounds {} to {})",
                        with_unit(r.min, ""),
                        with_unit(r.max, "")
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    s,
                    r#"<text class="value" data-col="{}" x="{}" y="{}">{}{}</text>"#,
                    esc(c),
                    x0 + BAR_W + 8.0,
                    yy + 13.0,
                    esc(&with_unit(r.median, unit)),
                    esc(&spread)
                );
            }
        }
    }
    s.push_str("</g>");
    (30.0 + cols.len() as f64 * ROW_H, s)
}

/// Every metric's chart, stacked, as one SVG element.
fn charts(j: &Value, standalone: bool) -> String {
    let mut body = String::new();
    let mut y = 0.0;
    if standalone {
        let _ = write!(
            body,
            r#"<text x="10" y="18" font-size="15">patchbay compare: {} — medians of {} round(s), bars with the lowest to highest round</text>"#,
            esc(j["topology"].as_str().unwrap_or("")),
            j["rounds"].as_u64().unwrap_or(0)
        );
        y = 30.0;
    }
    for m in metrics(j) {
        let (h, s) = chart(j, &m, y);
        body.push_str(&s);
        y += h + 12.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" viewBox="0 0 {WIDTH} {y}" font-family="sans-serif" font-size="12">{body}</svg>"#
    )
}

/// `--svg FILE`.
pub fn svg(j: &Value) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&charts(j, true));
    s.push('\n');
    s
}

/// A ratio cell: column / kernel, or noise when either side is.
fn ratio_cell(j: &Value, key: &str, col: &str) -> String {
    let (Some(k), Some(c)) = (reading(j, key, "kernel"), reading(j, key, col)) else {
        return "—".into();
    };
    if k.noise || c.noise {
        return "noise".into();
    }
    if k.median == 0.0 {
        return "—".into();
    }
    format!("{:.2}×", c.median / k.median)
}

/// `--html FILE`: the page.
pub fn html(j: &Value) -> String {
    let topo = j["topology"].as_str().unwrap_or("");
    let cols = columns(j);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>patchbay compare: {t}</title>
<style>
body {{ font-family: sans-serif; max-width: 62em; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.noise {{ color: #666; font-style: italic; }}
pre {{ background: #f4f4f4; padding: 0.6em; overflow-x: auto; }}
</style></head>
<body>
<h1>patchbay compare: {t}</h1>
<p>Every backend ran the same traffic in the same run, one after another: medians of {r} round(s) of {secs} s each. Bars are medians, whiskers the lowest and highest round. A value inside the noise (negative, or smaller than the spread of its rounds) is written as noise and has no bar.</p>
"#,
        t = esc(topo),
        r = j["rounds"].as_u64().unwrap_or(0),
        secs = j["seconds"].as_f64().unwrap_or(0.0),
    );
    s.push_str("<h2>Environment</h2>\n<table>\n");
    if let Some(env) = j["environment"].as_object() {
        for (k, v) in env {
            let v = match v {
                Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
        }
    }
    let backends: Vec<&str> = cols.iter().map(|(_, n)| n.as_str()).collect();
    let _ = writeln!(
        s,
        "<tr><th>backends</th><td>{}</td></tr>\n</table>",
        esc(&backends.join(", "))
    );
    s.push_str("<h2>Metrics</h2>\n<figure>");
    s.push_str(&charts(j, false));
    s.push_str("</figure>\n<h2>Ratios to the kernel</h2>\n<table>\n<tr><th>metric</th><th>unit</th><th>better</th>");
    for (_, name) in &cols {
        let _ = write!(s, "<th>{}</th>", esc(name));
    }
    for (_, name) in cols.iter().skip(1) {
        let _ = write!(s, "<th>{} / kernel</th>", esc(name));
    }
    s.push_str("</tr>\n");
    for (key, label, unit, better) in metrics(j) {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(&label),
            esc(&unit),
            better.name()
        );
        for (c, _) in &cols {
            match reading(j, &key, c) {
                None => s.push_str("<td class=\"num\">—</td>"),
                Some(r) if r.noise => {
                    let _ = write!(
                        s,
                        "<td class=\"noise\">noise ({})</td>",
                        esc(&with_unit(r.median, &unit))
                    );
                }
                Some(r) => {
                    let _ = write!(
                        s,
                        "<td class=\"num\">{}</td>",
                        esc(&with_unit(r.median, &unit))
                    );
                }
            }
        }
        for (c, _) in cols.iter().skip(1) {
            let cell = ratio_cell(j, &key, c);
            let class = if cell == "noise" { "noise" } else { "num" };
            let _ = write!(s, "<td class=\"{class}\">{}</td>", esc(&cell));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n<h2>Behaviour</h2>\n<ul>\n");
    for (c, name) in cols.iter().skip(1) {
        let dkey = if c == "patchbay" {
            "differences".to_string()
        } else {
            format!("differences_{c}")
        };
        let diffs: Vec<&str> = j["behaviour"][&dkey]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if diffs.is_empty() {
            let _ = writeln!(
                s,
                "<li>{}: the same FDB, port states and roles as the kernel</li>",
                esc(name)
            );
        } else {
            let _ = writeln!(s, "<li>{}: differs from the kernel<ul>", esc(name));
            for d in diffs {
                let _ = writeln!(s, "<li>{}</li>", esc(d));
            }
            s.push_str("</ul></li>\n");
        }
    }
    s.push_str("</ul>\n");
    let errors: Vec<(String, String)> = cols
        .iter()
        .filter_map(|(c, n)| Some((n.clone(), j["errors"][c].as_str()?.to_string())))
        .collect();
    if !errors.is_empty() {
        s.push_str("<h2>Not measured</h2>\n<ul>\n");
        for (n, e) in errors {
            let _ = writeln!(s, "<li>{}: {}</li>", esc(&n), esc(&e));
        }
        s.push_str("</ul>\n");
    }
    let _ = write!(
        s,
        "<h2>Reproduce</h2>\n<pre>{}</pre>\n<p>Every round's values are in <code>-j</code>'s output (<code>rows.KEY.raw</code>).</p>\n</body></html>\n",
        esc(j["command"].as_str().unwrap_or(""))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A report as compare writes it: two backends, three rounds, a switch
    /// cost the kernel's readings put below zero.
    fn report() -> Value {
        json!({
            "topology": "two-hosts.pb",
            "seconds": 1.0,
            "rounds": 3,
            "command": "patchbay compare two-hosts.pb --rounds 3 --html r.html",
            "environment": {"kernel": "6.18.0", "cpu": "Example CPU <2 GHz>", "cores": 2},
            "metrics": [
                {"key": "rate", "label": "64-byte frames/s delivered", "unit": "frames/s", "better": "higher"},
                {"key": "rtt_median", "label": "round trip median", "unit": "µs", "better": "lower"},
                {"key": "own_cpu_ns", "label": "switch CPU per frame at 100k/s", "unit": "ns/frame", "better": "lower"},
            ],
            "columns": [{"key": "kernel", "name": "kernel"}, {"key": "patchbay", "name": "patchbay af_xdp"}],
            "rows": {
                "rate": {"kernel": 727000.0, "patchbay": 461000.0, "ratio": 0.634,
                    "raw": {"kernel": [720000.0, 727000.0, 731000.0], "patchbay": [455000.0, 461000.0, 470000.0]}},
                "rtt_median": {"kernel": 8.0, "patchbay": 28.0, "ratio": 3.5,
                    "raw": {"kernel": [7.5, 8.0, 9.0], "patchbay": [27.0, 28.0, 30.0]}},
                "own_cpu_ns": {"kernel": -209.0, "patchbay": 950.0, "ratio": -4.55,
                    "raw": {"kernel": [-300.0, -209.0, 150.0], "patchbay": [900.0, 950.0, 990.0]},
                    "noise": {"kernel": true, "patchbay": false}},
            },
            "behaviour": {"differences": ["fdb: the kernel has \"x\", patchbay does not"]},
            "errors": {"kernel": null, "patchbay": null},
        })
    }

    /// Every text node of a parsed document, a line each.
    fn texts(doc: &roxmltree::Document) -> String {
        doc.descendants()
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn noise_is_negative_or_within_the_spread() {
        assert!(is_noise(-1.0, &[-1.0]));
        assert!(is_noise(100.0, &[10.0, 100.0, 300.0]));
        assert!(!is_noise(100.0, &[90.0, 100.0, 120.0]));
        assert!(!is_noise(5.0, &[5.0]));
    }

    #[test]
    fn values_carry_their_units() {
        assert_eq!(with_unit(727_000.0, "frames/s"), "727 k frames/s");
        assert_eq!(with_unit(1_254_000.0, "frames/s"), "1.25 M frames/s");
        assert_eq!(with_unit(8.0, "µs"), "8.00 µs");
        assert_eq!(with_unit(-209.0, "ns/frame"), "-209 ns/frame");
    }

    /// The SVG parses; every metric has its unit and direction, every
    /// backend its value; the noisy reading is written, not drawn.
    #[test]
    fn the_svg_is_well_formed_and_draws_no_bar_for_noise() {
        let s = svg(&report());
        let doc = roxmltree::Document::parse(&s).expect("well-formed SVG");
        let text = texts(&doc);
        for want in [
            "64-byte frames/s delivered (frames/s) — higher is better",
            "round trip median (µs) — lower is better",
            "727 k frames/s",
            "461 k frames/s",
            "8.00 µs",
            "28.00 µs",
            "950 ns/frame",
            "noise: median -209 ns/frame",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        let bar = |metric: &str, col: &str| {
            doc.descendants().any(|n| {
                n.attribute("class") == Some("bar")
                    && n.attribute("data-col") == Some(col)
                    && n.ancestors()
                        .any(|a| a.attribute("data-metric") == Some(metric))
            })
        };
        assert!(bar("rate", "kernel") && bar("rate", "patchbay"));
        assert!(bar("own_cpu_ns", "patchbay"));
        assert!(!bar("own_cpu_ns", "kernel"), "a bar drawn for noise");
    }

    /// The page parses, is self-contained, and has the environment, every
    /// metric with its unit and every backend's value, ratios (noise where
    /// either side is), the differences and the command.
    #[test]
    fn the_html_page_is_self_contained_and_complete() {
        let h = html(&report());
        let doc = roxmltree::Document::parse_with_options(
            &h,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .expect("well-formed page");
        for attr in ["src", "href"] {
            assert!(
                !doc.descendants().any(|n| n.attribute(attr).is_some()),
                "the page fetches something ({attr})"
            );
        }
        let text = texts(&doc);
        for want in [
            "6.18.0",
            "Example CPU <2 GHz>",
            "patchbay af_xdp",
            "frames/s",
            "ns/frame",
            "727 k frames/s",
            "461 k frames/s",
            "0.63×",
            "3.50×",
            "noise (-209 ns/frame)",
            "fdb: the kernel has \"x\", patchbay does not",
            "patchbay compare two-hosts.pb --rounds 3 --html r.html",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        // The own-CPU ratio: noise, not -4.55.
        let row = doc
            .descendants()
            .find(|n| {
                n.has_tag_name("tr")
                    && n.children()
                        .any(|c| c.text() == Some("switch CPU per frame at 100k/s"))
            })
            .expect("the own-CPU row");
        let cells: Vec<&str> = row.children().filter_map(|c| c.text()).collect();
        assert_eq!(cells.last(), Some(&"noise"), "{cells:?}");
    }
}
