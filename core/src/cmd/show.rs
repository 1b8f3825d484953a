//! One model of what `link show` prints, filled by either backend and
//! printed by one renderer as iproute2 prints it: the text of `ip [-d]
//! link show` and the JSON of `ip -j [-d] link show`, key for key and in
//! its order (`print_linkinfo` in iproute2's `ipaddress.c`, each kind's
//! `print_opt`).
//!
//! `bridge fdb show` ([`FdbRow`]) and `bridge vlan show` ([`PortVlans`])
//! have their rows and renderers here too; `bridge link show`'s are
//! `cmd::PortRow` and `cmd::render_port_rows`.
//!
//! A detail is what one `print_*` call of iproute2 prints: a JSON member,
//! a text fragment, or both (iproute2's `PRINT_ANY`, `PRINT_JSON`,
//! `PRINT_FP`); the renderer lays them out.

use serde_json::{Map, Value};
use std::fmt::Write;

/// One thing `-d` prints: under `json` in JSON, as `text` (with its
/// trailing space, as iproute2 writes it) in text.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    pub json: Option<(String, Value)>,
    pub text: Option<String>,
}

impl Detail {
    /// Both forms (`PRINT_ANY`).
    pub fn any(key: &str, text: impl Into<String>, value: impl Into<Value>) -> Detail {
        Detail {
            json: Some((key.into(), value.into())),
            text: Some(text.into()),
        }
    }

    /// An unsigned number as `"{text} %u "` and JSON `key: n`.
    pub fn uint(key: &str, text: &str, v: u64) -> Detail {
        Detail::any(key, format!("{text} {v} "), v)
    }

    /// On/off: JSON a boolean, text `"{text} on|off "` (`print_on_off`).
    pub fn on_off(key: &str, text: &str, v: bool) -> Detail {
        Detail::any(key, format!("{text} {} ", if v { "on" } else { "off" }), v)
    }

    /// `%#llx` in text, the same string in JSON (`print_0xhex`).
    pub fn hex(key: &str, text: &str, v: u64) -> Detail {
        let s = super::c_hex(v);
        Detail::any(key, format!("{text} {s} "), s)
    }

    /// A bridge timer in centiseconds: text `"{key} %4i.%.2i "`, JSON the
    /// number with two decimals (`_bridge_print_timer`).
    pub fn timer(key: &str, centis: u64) -> Detail {
        let (s, c) = (centis / 100, centis % 100);
        let v: f64 = format!("{s}.{c:02}").parse().expect("a number");
        Detail::any(key, format!("{key} {s:4}.{c:02} "), v)
    }

    /// JSON only (`PRINT_JSON`).
    pub fn json(key: &str, value: impl Into<Value>) -> Detail {
        Detail {
            json: Some((key.into(), value.into())),
            text: None,
        }
    }

    /// Text only (`PRINT_FP`).
    pub fn text(text: impl Into<String>) -> Detail {
        Detail {
            json: None,
            text: Some(text.into()),
        }
    }

    /// The JSON key, if it has one.
    pub fn key(&self) -> Option<&str> {
        self.json.as_ref().map(|(k, _)| k.as_str())
    }
}

/// What `-d` adds to a link: the device's own numbers, its kind and
/// settings (`linkinfo`), the kind and settings it has as a port, and the
/// numbers iproute2 prints after them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkDetails {
    /// promiscuity, allmulti, min_mtu, max_mtu.
    pub head: Vec<Detail>,
    pub kind: Option<String>,
    pub data: Vec<Detail>,
    pub slave_kind: Option<String>,
    pub slave_data: Vec<Detail>,
    /// inet6_addr_gen_mode, num_tx_queues, ... gro_max_size.
    pub tail: Vec<Detail>,
}

impl LinkDetails {
    /// The head iproute2 prints for a device of this kernel: promiscuity,
    /// allmulti, the MTU range.
    pub fn head(promiscuity: u32, allmulti: u32, min_mtu: u32, max_mtu: u32) -> Vec<Detail> {
        vec![
            Detail::any(
                "promiscuity",
                format!(" promiscuity {promiscuity} "),
                promiscuity,
            ),
            Detail::any("allmulti", format!(" allmulti {allmulti} "), allmulti),
            Detail::uint("min_mtu", "minmtu", min_mtu.into()),
            Detail::uint("max_mtu", "maxmtu", max_mtu.into()),
        ]
    }

    /// The tail after linkinfo: address generation mode, queues, and the
    /// GSO/TSO/GRO limits.
    pub fn tail(
        addrgenmode: Option<&str>,
        queues: (u32, u32),
        gso: (u32, u32),
        tso: (u32, u32),
        gro: u32,
    ) -> Vec<Detail> {
        let mut v = Vec::new();
        if let Some(m) = addrgenmode {
            v.push(Detail::any(
                "inet6_addr_gen_mode",
                format!("addrgenmode {m} "),
                m,
            ));
        }
        v.extend([
            Detail::uint("num_tx_queues", "numtxqueues", queues.0.into()),
            Detail::uint("num_rx_queues", "numrxqueues", queues.1.into()),
            Detail::uint("gso_max_size", "gso_max_size", gso.0.into()),
            Detail::uint("gso_max_segs", "gso_max_segs", gso.1.into()),
            Detail::uint("tso_max_size", "tso_max_size", tso.0.into()),
            Detail::uint("tso_max_segs", "tso_max_segs", tso.1.into()),
            Detail::uint("gro_max_size", "gro_max_size", gro.into()),
        ]);
        v
    }
}

/// One link as `ip link show` prints it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkRow {
    pub ifindex: u32,
    /// After the `@`: a veth's peer, a lower device.
    pub link: Option<String>,
    pub ifname: String,
    pub flags: Vec<String>,
    pub mtu: u32,
    pub qdisc: String,
    pub master: Option<String>,
    pub operstate: String,
    pub txqlen: Option<u32>,
    pub link_type: String,
    pub address: String,
    pub broadcast: String,
    pub details: Option<LinkDetails>,
    /// `-s`: the JSON `stats64` object and the text lines.
    pub stats: Option<(Value, String)>,
}

fn object(d: &[Detail]) -> Value {
    let mut m = Map::new();
    for x in d {
        if let Some((k, v)) = &x.json {
            m.insert(k.clone(), v.clone());
        }
    }
    Value::Object(m)
}

fn text(d: &[Detail]) -> String {
    d.iter().filter_map(|x| x.text.as_deref()).collect()
}

impl LinkRow {
    /// The JSON object `ip -j [-d] link show` prints for it.
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ifindex".into(), self.ifindex.into());
        if let Some(l) = &self.link {
            m.insert("link".into(), l.clone().into());
        }
        m.insert("ifname".into(), self.ifname.clone().into());
        m.insert("flags".into(), self.flags.clone().into());
        m.insert("mtu".into(), self.mtu.into());
        m.insert("qdisc".into(), self.qdisc.clone().into());
        if let Some(ms) = &self.master {
            m.insert("master".into(), ms.clone().into());
        }
        m.insert("operstate".into(), self.operstate.clone().into());
        m.insert("linkmode".into(), "DEFAULT".into());
        m.insert("group".into(), "default".into());
        if let Some(q) = self.txqlen {
            m.insert("txqlen".into(), q.into());
        }
        m.insert("link_type".into(), self.link_type.clone().into());
        m.insert("address".into(), self.address.clone().into());
        m.insert("broadcast".into(), self.broadcast.clone().into());
        if let Some(d) = &self.details {
            for x in &d.head {
                if let Some((k, v)) = &x.json {
                    m.insert(k.clone(), v.clone());
                }
            }
            if d.kind.is_some() || d.slave_kind.is_some() {
                let mut li = Map::new();
                if let Some(k) = &d.kind {
                    li.insert("info_kind".into(), k.clone().into());
                    if !d.data.is_empty() {
                        li.insert("info_data".into(), object(&d.data));
                    }
                }
                if let Some(k) = &d.slave_kind {
                    li.insert("info_slave_kind".into(), k.clone().into());
                    li.insert("info_slave_data".into(), object(&d.slave_data));
                }
                m.insert("linkinfo".into(), Value::Object(li));
            }
            for x in &d.tail {
                if let Some((k, v)) = &x.json {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some((s, _)) = &self.stats {
            m.insert("stats64".into(), s.clone());
        }
        Value::Object(m)
    }

    /// The lines `ip [-d] [-s] link show` prints for it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let name = match &self.link {
            Some(l) => format!("{}@{l}", self.ifname),
            None => self.ifname.clone(),
        };
        let _ = write!(
            s,
            "{}: {name}: <{}> mtu {} qdisc {}",
            self.ifindex,
            self.flags.join(","),
            self.mtu,
            self.qdisc
        );
        if let Some(m) = &self.master {
            let _ = write!(s, " master {m}");
        }
        let _ = write!(s, " state {} mode DEFAULT group default", self.operstate);
        if let Some(q) = self.txqlen {
            let _ = write!(s, " qlen {q}");
        }
        let _ = write!(
            s,
            "\n    link/{} {} brd {}",
            self.link_type, self.address, self.broadcast
        );
        if let Some(d) = &self.details {
            s.push_str(&text(&d.head));
            if let Some(k) = &d.kind {
                let _ = write!(s, "\n    {k} {}", text(&d.data));
            }
            if let Some(k) = &d.slave_kind {
                let _ = write!(s, "\n    {k}_slave {}", text(&d.slave_data));
            }
            s.push_str(&text(&d.tail));
        }
        s.push('\n');
        if let Some((_, t)) = &self.stats {
            s.push_str(t);
        }
        s
    }
}

/// `link show`'s output for these rows: a JSON array with `-j`, else the
/// text of each.
pub fn render_links(rows: &[LinkRow], json: bool) -> String {
    if json {
        let v: Vec<Value> = rows.iter().map(LinkRow::json).collect();
        return super::to_json(Value::Array(v));
    }
    rows.iter().map(LinkRow::text).collect()
}

/// One entry as `bridge fdb show` prints it, a bridge's or a VXLAN
/// device's, whichever backend holds it (iproute2's `print_fdb` order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdbRow {
    pub mac: String,
    /// Left out when the command named the device (`dev X`).
    pub ifname: Option<String>,
    pub dst: Option<String>,
    pub vlan: Option<u16>,
    pub port: Option<u16>,
    pub vni: Option<u32>,
    /// `-s`: seconds since last used and last updated.
    pub used: Option<(u64, u64)>,
    /// self, router, extern_learn, offload, sticky: in that order.
    pub flags: Vec<&'static str>,
    pub master: Option<String>,
    /// permanent, static, stale, or none (a learned entry).
    pub state: Option<String>,
}

impl FdbRow {
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("mac".into(), self.mac.clone().into());
        if let Some(i) = &self.ifname {
            m.insert("ifname".into(), i.clone().into());
        }
        if let Some(d) = &self.dst {
            m.insert("dst".into(), d.clone().into());
        }
        if let Some(v) = self.vlan {
            m.insert("vlan".into(), v.into());
        }
        if let Some(p) = self.port {
            m.insert("port".into(), p.into());
        }
        if let Some(n) = self.vni {
            m.insert("vni".into(), n.into());
        }
        if let Some((u, up)) = self.used {
            m.insert("used".into(), u.into());
            m.insert("updated".into(), up.into());
        }
        m.insert("flags".into(), self.flags.clone().into());
        if let Some(ms) = &self.master {
            m.insert("master".into(), ms.clone().into());
        }
        if let Some(st) = &self.state {
            m.insert("state".into(), st.clone().into());
        }
        Value::Object(m)
    }

    pub fn text(&self) -> String {
        let mut w = vec![self.mac.clone()];
        if let Some(i) = &self.ifname {
            w.push(format!("dev {i}"));
        }
        if let Some(d) = &self.dst {
            w.push(format!("dst {d}"));
        }
        if let Some(v) = self.vlan {
            w.push(format!("vlan {v}"));
        }
        if let Some(p) = self.port {
            w.push(format!("port {p}"));
        }
        if let Some(n) = self.vni {
            w.push(format!("vni {n}"));
        }
        if let Some((u, up)) = self.used {
            w.push(format!("used {u}/{up}"));
        }
        w.extend(self.flags.iter().map(|f| f.to_string()));
        if let Some(ms) = &self.master {
            w.push(format!("master {ms}"));
        }
        if let Some(st) = &self.state {
            w.push(st.clone());
        }
        w.join(" ") + "\n"
    }
}

/// `bridge fdb show`'s output for these entries.
pub fn render_fdb(rows: &[FdbRow], json: bool) -> String {
    if json {
        return super::to_json(Value::Array(rows.iter().map(FdbRow::json).collect()));
    }
    rows.iter().map(FdbRow::text).collect()
}

/// A device's VLANs as `bridge vlan show` prints them: (vid, PVID,
/// egress untagged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortVlans {
    pub ifname: String,
    pub vlans: Vec<(u16, bool, bool)>,
}

/// `bridge vlan show`'s output for these devices.
pub fn render_vlans(rows: &[PortVlans], json: bool) -> String {
    let flags = |pvid: bool, untagged: bool| {
        let mut f = vec![];
        if pvid {
            f.push("PVID");
        }
        if untagged {
            f.push("Egress Untagged");
        }
        f
    };
    if json {
        let v: Vec<Value> = rows
            .iter()
            .map(|r| {
                let vl: Vec<Value> = r
                    .vlans
                    .iter()
                    .map(|(v, p, u)| {
                        let mut m = Map::new();
                        m.insert("vlan".into(), (*v).into());
                        let f = flags(*p, *u);
                        if !f.is_empty() {
                            m.insert("flags".into(), f.into());
                        }
                        Value::Object(m)
                    })
                    .collect();
                let mut m = Map::new();
                m.insert("ifname".into(), r.ifname.clone().into());
                m.insert("vlans".into(), vl.into());
                Value::Object(m)
            })
            .collect();
        return super::to_json(Value::Array(v));
    }
    let mut s = String::from("port              vlan-id  \n");
    for r in rows {
        for (i, (v, p, u)) in r.vlans.iter().enumerate() {
            let first = if i == 0 { r.ifname.as_str() } else { "" };
            let _ = writeln!(s, "{first:<17} {v} {}", flags(*p, *u).join(" "));
        }
        if r.vlans.is_empty() {
            let _ = writeln!(s, "{:<17} None", r.ifname);
        }
    }
    s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_row_prints_as_iproute2() {
        let row = LinkRow {
            ifindex: 2,
            ifname: "br0".into(),
            flags: vec!["BROADCAST".into(), "MULTICAST".into()],
            mtu: 1500,
            qdisc: "noop".into(),
            operstate: "DOWN".into(),
            txqlen: Some(1000),
            link_type: "ether".into(),
            address: "62:0b:de:01:6f:63".into(),
            broadcast: "ff:ff:ff:ff:ff:ff".into(),
            details: Some(LinkDetails {
                head: LinkDetails::head(0, 0, 68, 65535),
                kind: Some("bridge".into()),
                data: vec![
                    Detail::uint("forward_delay", "forward_delay", 1500),
                    Detail::timer("hello_timer", 12),
                    Detail::hex("group_fwd_mask", "group_fwd_mask", 0),
                ],
                tail: LinkDetails::tail(
                    Some("eui64"),
                    (1, 1),
                    (65536, 65535),
                    (524280, 65535),
                    65536,
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            row.text(),
            "2: br0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n    link/ether 62:0b:de:01:6f:63 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \n    bridge forward_delay 1500 hello_timer    0.12 group_fwd_mask 0 addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536 \n"
        );
        let j = row.json();
        let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        assert_eq!(
            keys[12..16],
            ["promiscuity", "allmulti", "min_mtu", "max_mtu"]
        );
        assert_eq!(j["linkinfo"]["info_data"]["hello_timer"], 0.12);
        assert_eq!(j["linkinfo"]["info_data"]["group_fwd_mask"], "0");
    }
}
