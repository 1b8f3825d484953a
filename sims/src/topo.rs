//! Topology generators. `topology ring 1000 hosts 4` expands into the same
//! lines a person would write (`link add`, `wire`, `link set ... master`,
//! `host`), so a generated topology is an ordinary scenario.
//!
//! Names: bridges `{prefix}{i}` (prefix `s`), their ports `{prefix}{i}p{k}`,
//! hosts `h{j}`. Random choices use the scenario's seed.

use crate::rng::Rng;

struct Builder {
    prefix: String,
    lines: Vec<String>,
    ports: Vec<u32>,
    wire_opts: String,
    hosts: usize,
}

impl Builder {
    fn bridge(&mut self, i: usize, opts: &str, mstp: bool) {
        self.lines
            .push(format!("link add {}{i} type bridge{opts}", self.prefix));
        if mstp {
            self.lines
                .push(format!("mstpctl addbridge {}{i}", self.prefix));
        }
        self.lines.push(format!("link set {}{i} up", self.prefix));
    }

    fn port(&mut self, i: usize) -> String {
        self.ports[i] += 1;
        format!("{}{i}p{}", self.prefix, self.ports[i])
    }

    fn link(&mut self, a: usize, b: usize) {
        let (pa, pb) = (self.port(a), self.port(b));
        self.lines.push(format!("wire {pa} {pb}{}", self.wire_opts));
        self.lines
            .push(format!("link set {pa} master {}{a}", self.prefix));
        self.lines
            .push(format!("link set {pb} master {}{b}", self.prefix));
    }

    fn host(&mut self, on: usize) {
        self.hosts += 1;
        let h = format!("h{}", self.hosts);
        let p = self.port(on);
        self.lines.push(format!("host {h}"));
        self.lines.push(format!("wire {h} {p}{}", self.wire_opts));
        self.lines
            .push(format!("link set {p} master {}{on}", self.prefix));
    }
}

pub fn expand(args: &[&str], rng: &mut Rng) -> Result<Vec<String>, String> {
    let usage = "topology line|ring|star|mesh|random|fat-tree N [prefix P] [hosts H] [delay D] [degree D] [vlan_filtering 0|1] [stp 0|1]";
    let kind = *args.first().ok_or(usage)?;
    let n: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{usage}: N must be a positive number"))?;
    let (mut prefix, mut hosts, mut delay, mut degree, mut filtering) =
        ("s".to_string(), 0usize, None, 3usize, None);
    let mut stp: Option<String> = None;
    let mut i = 2;
    while i < args.len() {
        let v = args
            .get(i + 1)
            .ok_or_else(|| format!("topology: \"{}\" needs a value", args[i]))?;
        match args[i] {
            "prefix" => prefix = v.to_string(),
            "hosts" => hosts = v.parse().map_err(|_| format!("topology: hosts \"{v}\""))?,
            "delay" => delay = Some(v.to_string()),
            "degree" => degree = v.parse().map_err(|_| format!("topology: degree \"{v}\""))?,
            "vlan_filtering" => filtering = Some(v.to_string()),
            "stp" => stp = Some(v.to_string()),
            k => return Err(format!("topology: unknown argument \"{k}\" ({usage})")),
        }
        i += 2;
    }
    let mut bridge_opts = filtering
        .map(|f| format!(" vlan_filtering {f}"))
        .unwrap_or_default();
    // `stp rstp`: STP on and the bridge given to mstpd, as the
    // bridge-stp helper does.
    let mstp = stp.as_deref() == Some("rstp");
    if let Some(s) = stp {
        let v = if mstp { "1" } else { s.as_str() };
        bridge_opts.push_str(&format!(" stp_state {v}"));
    }
    let count = match kind {
        "star" => n + 1,
        "fat-tree" => {
            if !n.is_multiple_of(2) || n < 2 {
                return Err(
                    "topology fat-tree K: K (ports per switch) must be even and at least 2".into(),
                );
            }
            5 * n * n / 4
        }
        _ => n,
    };
    let mut b = Builder {
        prefix,
        lines: vec![],
        ports: vec![0; count + 1],
        wire_opts: delay.map(|d| format!(" delay {d}")).unwrap_or_default(),
        hosts: 0,
    };
    let first = if kind == "star" { 0 } else { 1 };
    for i in first..first + count {
        b.bridge(i, &bridge_opts, mstp);
    }
    let mut edge_switches: Vec<usize> = (1..=n).collect();
    match kind {
        "line" | "ring" => {
            for i in 1..n {
                b.link(i, i + 1);
            }
            if kind == "ring" && n > 2 {
                b.link(n, 1);
            }
        }
        "star" => {
            for i in 1..=n {
                b.link(0, i);
            }
        }
        "mesh" => {
            for i in 1..=n {
                for j in i + 1..=n {
                    b.link(i, j);
                }
            }
        }
        "random" => {
            let mut edges = std::collections::BTreeSet::new();
            for i in 2..=n {
                let j = 1 + rng.below(i as u64 - 1) as usize;
                edges.insert((j, i));
            }
            let want = (n * degree / 2).max(n - 1).min(n * (n - 1) / 2);
            while edges.len() < want {
                let (x, y) = (
                    1 + rng.below(n as u64) as usize,
                    1 + rng.below(n as u64) as usize,
                );
                if x != y {
                    edges.insert((x.min(y), x.max(y)));
                }
            }
            for (x, y) in edges {
                b.link(x, y);
            }
        }
        "fat-tree" => {
            let k = n;
            let half = k / 2;
            let core = half * half;
            // core 1..=core; pod p: agg core+p*k+1..+half, edge after them.
            let agg = |p: usize, a: usize| core + p * k + 1 + a;
            let edge = |p: usize, e: usize| core + p * k + 1 + half + e;
            edge_switches.clear();
            for p in 0..k {
                for a in 0..half {
                    for e in 0..half {
                        b.link(agg(p, a), edge(p, e));
                    }
                    for c in 0..half {
                        b.link(agg(p, a), 1 + a * half + c);
                    }
                }
                edge_switches.extend((0..half).map(|e| edge(p, e)));
            }
        }
        _ => return Err(format!("topology: unknown kind \"{kind}\" ({usage})")),
    }
    // Spread hosts evenly over the edge switches, first to last.
    let m = edge_switches.len();
    for j in 0..hosts {
        let on = if hosts > 1 && hosts <= m {
            edge_switches[j * (m - 1) / (hosts - 1)]
        } else {
            edge_switches[j % m]
        };
        b.host(on);
    }
    Ok(b.lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(lines: &[String], prefix: &str) -> usize {
        lines.iter().filter(|l| l.starts_with(prefix)).count()
    }

    #[test]
    fn shapes_have_the_right_number_of_bridges_and_wires() {
        let mut r = Rng::new(1);
        let t = |args: &str, r: &mut Rng| expand(&args.split(' ').collect::<Vec<_>>(), r).unwrap();
        let l = t("ring 10", &mut r);
        assert_eq!((count(&l, "link add"), count(&l, "wire")), (10, 10));
        let l = t("line 10 hosts 2", &mut r);
        assert_eq!(
            (count(&l, "link add"), count(&l, "wire"), count(&l, "host")),
            (10, 11, 2)
        );
        let l = t("star 5", &mut r);
        assert_eq!((count(&l, "link add"), count(&l, "wire")), (6, 5));
        let l = t("mesh 5", &mut r);
        assert_eq!(count(&l, "wire"), 10);
        let l = t("fat-tree 4 hosts 8", &mut r);
        // k=4: 4 core, 8 agg, 8 edge; 16 agg-edge + 16 agg-core links, 8 hosts.
        assert_eq!((count(&l, "link add"), count(&l, "wire")), (20, 32 + 8));
        let a = t("random 20 degree 4", &mut Rng::new(5));
        let b = t("random 20 degree 4", &mut Rng::new(5));
        assert_eq!(a, b, "the same seed draws the same graph");
        assert_eq!(count(&a, "wire"), 40);
        assert!(expand(&["fat-tree", "3"], &mut r).is_err());
        assert!(expand(&["blob", "3"], &mut r).is_err());
    }
}
