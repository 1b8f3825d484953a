//! The simulator's scaling figure: a ring of 1,000 bridges (one wire down,
//! as spanning tree would leave it), pings and two 50 frame/s flows across
//! it, 60 virtual seconds. Target: under 10 s of wall time.
//!
//! A second figure runs spanning tree at scale: a random mesh of 1,000
//! bridges converging under 802.1D (`scenarios/stp-mesh-1000.pb`).
//!
//! cargo bench -p patchbay-sim --bench ring

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn ring(c: &mut Criterion) {
    let text = include_str!("../scenarios/ring-1000.pb");
    let mut g = c.benchmark_group("sim");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("ring_1000_bridges_60s_virtual", |b| {
        b.iter(|| {
            let (r, _) = patchbay_sim::run(text, None, false).expect("scenario runs");
            assert!(r.passed());
            r.events
        })
    });
    // With spanning tree: a random mesh of 1,000 bridges running 802.1D,
    // 183 virtual seconds (convergence, stability, broadcasts).
    let mesh = include_str!("../scenarios/stp-mesh-1000.pb");
    g.bench_function("stp_mesh_1000_bridges_183s_virtual", |b| {
        b.iter(|| {
            let (r, _) = patchbay_sim::run(mesh, None, false).expect("scenario runs");
            assert!(r.passed());
            r.events
        })
    });
    g.finish();
}

criterion_group!(benches, ring);
criterion_main!(benches);
