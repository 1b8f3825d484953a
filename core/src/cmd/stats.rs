//! `patchbay stats [DEV]`: per-interface counters and drop reasons.

use super::{lookup, to_json, CmdError, Opts};
use crate::counters::DropReason;
use crate::graph::{Graph, IfId};
use serde_json::{json, Value};
use std::fmt::Write;

pub(super) fn show(g: &Graph, dev: Option<&str>, opts: Opts) -> Result<String, CmdError> {
    let ids: Vec<IfId> = match dev {
        Some(d) => vec![lookup(g, "stats", d)?],
        None => g.iter().map(|(id, _)| id).collect(),
    };
    if opts.json {
        let v: Vec<Value> = ids
            .iter()
            .map(|id| {
                let f = g.iface(*id);
                let mut m = json!({"ifname": f.name, "stats": f.counters.to_json()});
                if !f.via.is_empty() {
                    m["attach"] = f.via.as_str().into();
                }
                if let Some(b) = f.bridge() {
                    m["fdb"] = json!({
                        "entries": b.fdb.len(),
                        "learned": b.fdb.learned_count(),
                        "learned_new": b.learned_new,
                        "roamed": b.learned_roamed,
                        "limit_hits": b.learn_full,
                    });
                }
                if let crate::graph::Kind::Ipvlan(v) = &f.kind {
                    m["ipvlan"] = json!({"addresses": v.addrs.iter().map(|x| x.to_string()).collect::<Vec<_>>()});
                }
                if let crate::graph::Kind::Vxlan(v) = &f.kind {
                    m["vxlan"] = json!({
                        "fdb_entries": v.fdb.len(),
                        "learned": v.learned,
                        "aged": v.aged,
                        "neighbours": v.neigh.len(),
                        "proxy_replies": v.proxied,
                    });
                }
                m
            })
            .collect();
        return Ok(to_json(Value::Array(v)));
    }
    let mut s = String::new();
    for id in ids {
        let f = g.iface(id);
        let c = &f.counters;
        let _ = writeln!(
            s,
            "{}: rx {} packets {} bytes  tx {} packets {} bytes  dropped {}",
            f.name,
            c.rx_packets,
            c.rx_bytes,
            c.tx_packets,
            c.tx_bytes,
            c.total_drops()
        );
        let drops: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| c.dropped(**r) > 0)
            .map(|r| format!("{} {}", r.name(), c.dropped(*r)))
            .collect();
        if !drops.is_empty() {
            let _ = writeln!(s, "    drops: {}", drops.join(", "));
        }
        if !f.via.is_empty() {
            let _ = writeln!(s, "    attach: {}", f.via);
        }
        let t = &c.fates;
        if t.read > 0 {
            let _ = writeln!(
                s,
                "    read {}: forwarded {}, delivered {}, dropped {}{}",
                t.read,
                t.forwarded,
                t.delivered,
                t.dropped,
                if t.unaccounted > 0 {
                    format!(
                        ", unaccounted {} (a defect: please report it)",
                        t.unaccounted
                    )
                } else {
                    String::new()
                }
            );
        }
        if let Some(b) = f.bridge() {
            let _ = writeln!(
                s,
                "    fdb: {} entries, {} learned (new {}, roamed {}, limit hits {})",
                b.fdb.len(),
                b.fdb.learned_count(),
                b.learned_new,
                b.learned_roamed,
                b.learn_full
            );
        }
        if let crate::graph::Kind::Ipvlan(v) = &f.kind {
            let a: Vec<String> = v.addrs.iter().map(|x| x.to_string()).collect();
            let _ = writeln!(s, "    ipvlan: addresses {}", a.join(" "));
        }
        if let crate::graph::Kind::Vxlan(v) = &f.kind {
            let _ = writeln!(
                s,
                "    vxlan: fdb {} entries, {} learned, {} aged; {} neighbours, {} proxy replies",
                v.fdb.len(),
                v.learned,
                v.aged,
                v.neigh.len(),
                v.proxied
            );
        }
    }
    Ok(s)
}
