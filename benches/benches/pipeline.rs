//! The core pipeline in memory: bursts of 32 64-byte frames through a
//! bridge whose FDB holds 1k or 1M entries, every destination a hit spread
//! over the whole table. Throughput is frames per second on one core.
//!
//! cargo bench -p patchbay-benches --bench pipeline

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::{Outputs, BURST};
use patchbay_core::wire::{build_frame, Mac, Offload};
use patchbay_core::{AttachId, Graph, Instant};
use std::hint::black_box;

fn setup(fdb_size: u64, filtering: bool) -> (Graph, Vec<Vec<u8>>) {
    let mut g = Graph::new();
    let run = |g: &mut Graph, l: &str| {
        let c = cmd::parse(&cmd::split_line(l).unwrap()).unwrap();
        cmd::apply(g, Instant::ZERO, &c, Opts::default()).unwrap();
    };
    run(
        &mut g,
        &format!(
            "link add br0 type bridge vlan_filtering {}",
            u8::from(filtering)
        ),
    );
    run(&mut g, "link set br0 up");
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
        run(&mut g, &format!("link set p{i} up master br0"));
    }
    // Learn fdb_size MACs behind p2.
    let mut out = Outputs::new();
    for m in 0..fdb_size {
        let f = build_frame(
            Mac::BROADCAST,
            Mac::local(0x100_0000 + m),
            &[],
            0x88b5,
            &[0; 46],
        );
        g.receive(
            Instant::ZERO,
            AttachId(2),
            &f,
            None,
            Offload::NONE,
            &mut out,
        );
        if out.queued() > 128 {
            out.flush(|_, _| {});
        }
    }
    out.flush(|_, _| {});
    // 4096 distinct 64-byte frames (60 + FCS) from p1 to known MACs, spread
    // over the table.
    let frames = (0..4096u64)
        .map(|i| {
            let dst = Mac::local(0x100_0000 + (i.wrapping_mul(2_654_435_761) % fdb_size));
            build_frame(dst, Mac::local(0x42), &[], 0x88b5, &[0; 46])
        })
        .collect();
    (g, frames)
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("bridge_forward_64B");
    group.throughput(Throughput::Elements(BURST as u64));
    for (size, filtering) in [(1_000u64, false), (1_000_000, false), (1_000, true)] {
        let (mut g, frames) = setup(size, filtering);
        let mut out = Outputs::new();
        let mut i = 0usize;
        let name = if filtering { "vlan_filtering" } else { "fdb" };
        group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
            b.iter(|| {
                for _ in 0..BURST {
                    let f = &frames[i & 4095];
                    i = i.wrapping_add(1);
                    g.receive(Instant::ZERO, AttachId(1), f, None, Offload::NONE, &mut out);
                }
                let mut n = 0;
                out.flush(|_, b| n += b.len());
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
