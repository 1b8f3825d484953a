//! Transmit through a link aggregate: bursts of 32 64-byte IPv4 frames
//! that the host sends on a bond or a team with two member ports, over 4096
//! flows. Bond and team modes side by side in one run (the team's claim is
//! a lower transmit overhead than bonding; here both are one owner's code
//! with no lock, so the comparison is of the per-frame decisions).
//!
//! cargo bench -p patchbay-benches --bench lag

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::{Outputs, BURST};
use patchbay_core::wire::{build_frame, ethertype, Mac, Offload};
use patchbay_core::{AttachId, Graph, Instant};
use std::hint::black_box;
use std::time::Duration;

const HOST: AttachId = AttachId(10);

fn setup(add: &str) -> (Graph, Vec<Vec<u8>>, Instant) {
    let mut g = Graph::new();
    let run = |g: &mut Graph, l: &str| {
        let c = cmd::parse(&cmd::split_line(l).unwrap()).unwrap();
        cmd::apply(g, Instant::ZERO, &c, Opts::default()).unwrap();
    };
    run(&mut g, add);
    for i in 1..=2u32 {
        let id = g
            .add(&format!("p{i}"), Kind::Tap, Mac::local(u64::from(i)), 1500)
            .unwrap();
        g.attach(
            id,
            Attachment {
                id: AttachId(i),
                role: Role::Wire,
            },
        );
        g.set_carrier(Instant::ZERO, id, true);
        run(&mut g, &format!("link set p{i} up master a0"));
    }
    let a0 = g.by_name("a0").unwrap();
    g.attach(
        a0,
        Attachment {
            id: HOST,
            role: Role::Host,
        },
    );
    run(&mut g, "link set a0 up");
    // Let the monitors bring the members up.
    let mut out = Outputs::new();
    let now = Instant::from_nanos(2_000_000_000);
    g.handle_timeout(now, &mut out);
    out.flush(|_, _| {});
    let src = g.iface(a0).mac;
    let frames = (0..4096u32)
        .map(|i| {
            let mut ip = vec![0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1];
            ip.extend_from_slice(&(0xc612_0000u32 | (i & 0xffff)).to_be_bytes());
            ip.extend_from_slice(&(1024 + i as u16).to_be_bytes());
            ip.extend_from_slice(&[0x13, 0x88, 0, 26, 0, 0]);
            ip.resize(46, 0);
            build_frame(
                Mac::local(0x100_0000 + u64::from(i)),
                src,
                &[],
                ethertype::IPV4,
                &ip,
            )
        })
        .collect();
    (g, frames, now)
}

fn lag(c: &mut Criterion) {
    let mut group = c.benchmark_group("lag_xmit_64B");
    group.throughput(Throughput::Elements(BURST as u64));
    let cases = [
        (
            "bond",
            "active-backup",
            "link add a0 type bond mode active-backup miimon 100",
        ),
        (
            "team",
            "activebackup",
            r#"link add a0 type team config '{"runner": {"name": "activebackup"}}'"#,
        ),
        (
            "bond",
            "balance-rr",
            "link add a0 type bond mode balance-rr miimon 100",
        ),
        (
            "team",
            "roundrobin",
            r#"link add a0 type team config '{"runner": {"name": "roundrobin"}}'"#,
        ),
        (
            "bond",
            "balance-xor-l34",
            "link add a0 type bond mode balance-xor miimon 100 xmit_hash_policy layer3+4",
        ),
        (
            "team",
            "loadbalance-l34",
            r#"link add a0 type team config '{"runner": {"name": "loadbalance", "tx_hash": ["eth", "ipv4", "l4"]}}'"#,
        ),
    ];
    for (kind, mode, add) in cases {
        let (mut g, frames, now) = setup(add);
        let mut out = Outputs::new();
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new(kind, mode), &mode, |b, _| {
            b.iter(|| {
                for _ in 0..BURST {
                    let f = &frames[i & 4095];
                    i = i.wrapping_add(1);
                    g.receive(now, HOST, f, None, Offload::NONE, &mut out);
                }
                let mut n = 0;
                out.flush(|_, b| n += b.len());
                assert!(n > 0, "{kind} {mode}: nothing left the members");
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = lag
}
criterion_main!(benches);
