//! What the bridge tests share: a bridge br0 with TAP ports on a
//! hand-driven clock, and frames to send through it.
#![allow(dead_code)]

use patchbay_core::cmd::{self, Opts};
use patchbay_core::counters::DropReason;
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::wire::{build_frame, ethertype, Mac, Offload, Tag};
use patchbay_core::{AttachId, Graph, IfId, Instant};

pub struct Lab {
    pub g: Graph,
    pub out: Outputs,
    pub now: Instant,
}

pub fn secs(s: u64) -> Instant {
    Instant::from_nanos(s * 1_000_000_000)
}

impl Lab {
    /// A bridge br0 with `n` ports p1..pn, attachment i+1 on port i+1.
    pub fn new(n: u32, bridge_opts: &str) -> Lab {
        let mut lab = Lab {
            g: Graph::new(),
            out: Outputs::new(),
            now: Instant::ZERO,
        };
        lab.run(&format!("link add br0 type bridge {bridge_opts}"));
        lab.run("link set br0 up");
        for i in 1..=n {
            let id = lab
                .g
                .add(
                    &format!("p{i}"),
                    Kind::Tap,
                    Mac::local(0x1000 + u64::from(i)),
                    1500,
                )
                .unwrap();
            lab.g.attach(
                id,
                Attachment {
                    id: AttachId(i),
                    role: Role::Wire,
                },
            );
            lab.run(&format!("link set p{i} up master br0"));
        }
        lab
    }

    pub fn run(&mut self, line: &str) -> String {
        let words = cmd::split_line(line).unwrap();
        let c = cmd::parse(&words).unwrap_or_else(|e| panic!("{line}: {e}"));
        cmd::apply(&mut self.g, self.now, &c, Opts::default())
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .text
    }

    /// `-d` (and `-j` when `json`) output of `line`.
    pub fn details(&mut self, line: &str) -> String {
        let words = cmd::split_line(line).unwrap();
        let c = cmd::parse(&words).unwrap_or_else(|e| panic!("{line}: {e}"));
        let o = Opts {
            details: true,
            ..Opts::default()
        };
        cmd::apply(&mut self.g, self.now, &c, o)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .text
    }

    pub fn try_run(&mut self, line: &str) -> Result<String, String> {
        let words = cmd::split_line(line).unwrap();
        let c = cmd::parse(&words).map_err(|e| e.to_string())?;
        cmd::apply(
            &mut self.g,
            self.now,
            &c,
            Opts {
                json: true,
                ..Opts::default()
            },
        )
        .map(|o| o.text)
        .map_err(|e| e.to_string())
    }

    /// Sends `frame` in at attachment `port` and returns what left where.
    pub fn send(&mut self, port: u32, frame: &[u8]) -> Vec<(u32, Vec<u8>)> {
        self.g.receive(
            self.now,
            AttachId(port),
            frame,
            None,
            Offload::NONE,
            &mut self.out,
        );
        self.sent()
    }

    /// What left where since the last look, sorted.
    fn sent(&mut self) -> Vec<(u32, Vec<u8>)> {
        let mut got = Vec::new();
        self.out.flush(|a, b| {
            for (f, _) in b.iter() {
                got.push((a.0, f.to_vec()));
            }
        });
        got.sort();
        got
    }

    /// Moves the clock to `t`, runs the timers due and returns what left
    /// where.
    pub fn tick(&mut self, t: Instant) -> Vec<(u32, Vec<u8>)> {
        self.now = t;
        self.g.handle_timeout(t, &mut self.out);
        self.sent()
    }

    pub fn ports_reached(&mut self, port: u32, frame: &[u8]) -> Vec<u32> {
        self.send(port, frame).into_iter().map(|(p, _)| p).collect()
    }

    pub fn id(&self, name: &str) -> IfId {
        self.g.by_name(name).unwrap()
    }

    pub fn drops(&self, name: &str, r: DropReason) -> u64 {
        self.g.iface(self.id(name)).counters.dropped(r)
    }
}

pub fn mac(n: u64) -> Mac {
    Mac::local(n)
}

/// A valid IPv4 header (UDP, 198.18.0.1 to 198.18.0.2) and zeros: the
/// bridge's multicast snooping checks every IPv4 header it sees.
pub fn ipv4_body() -> Vec<u8> {
    let mut ip = vec![0u8; 46];
    ip[..20].copy_from_slice(&[
        0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
    ]);
    let c = patchbay_core::wire::csum::checksum(&[&ip[..20]]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip
}

pub fn eth(dst: Mac, src: Mac) -> Vec<u8> {
    build_frame(dst, src, &[], ethertype::IPV4, &ipv4_body())
}

pub fn tagged(dst: Mac, src: Mac, vid: u16) -> Vec<u8> {
    build_frame(
        dst,
        src,
        &[Tag::new(ethertype::VLAN, vid, 0)],
        ethertype::IPV4,
        &ipv4_body(),
    )
}
