//! macvlan and ipvlan in the core: a lower (a simulated port) with two
//! bridge-mode macvlans, or two l2 ipvlans; bursts of 32 64-byte frames
//! from the wire to the first device (rx: the demultiplexing by MAC or by
//! IP address) and from it to the wire (tx), one core. Throughput is
//! frames per second.
//!
//! cargo bench -p patchbay-benches --bench macvlan

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Role};
use patchbay_core::pipeline::{Outputs, BURST};
use patchbay_core::wire::{build_frame, ethertype, Mac, Offload};
use patchbay_core::{AttachId, Graph, Instant};
use std::hint::black_box;
use std::time::Duration;

/// A graph with `eth0` (attachment 1, its wire) and `a`, `b` of `kind`
/// on it (attachments 2 and 3, their hosts); frames to and from `a`.
fn setup(kind: &str) -> (Graph, Vec<u8>, Vec<u8>) {
    let mut g = Graph::new();
    let run = |g: &mut Graph, l: &str| {
        let c = cmd::parse(&cmd::split_line(l).unwrap()).unwrap();
        cmd::apply(g, Instant::ZERO, &c, Opts::default()).unwrap();
    };
    run(&mut g, "link add eth0 type netdevsim");
    run(&mut g, &format!("link add link eth0 name a type {kind}"));
    run(&mut g, &format!("link add link eth0 name b type {kind}"));
    for (n, (dev, role)) in [("eth0", Role::Wire), ("a", Role::Host), ("b", Role::Host)]
        .into_iter()
        .enumerate()
    {
        let id = g.by_name(dev).unwrap();
        g.attach(
            id,
            Attachment {
                id: AttachId(n as u32 + 1),
                role,
            },
        );
        run(&mut g, &format!("link set {dev} up"));
    }
    let a = g.iface(g.by_name("a").unwrap()).mac;
    let outside = Mac::local(0x77_0001);
    // UDP from 198.18.90.1 (outside) to 198.18.90.10 (a), and back.
    let ip = |src: [u8; 4], dst: [u8; 4]| {
        let mut p = vec![0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&[0x13, 0x88, 0x13, 0x88, 0, 26, 0, 0]);
        p.resize(46, 0);
        p
    };
    let (o, me) = ([198, 18, 90, 1], [198, 18, 90, 10]);
    let rx = build_frame(a, outside, &[], ethertype::IPV4, &ip(o, me));
    let tx = build_frame(outside, a, &[], ethertype::IPV4, &ip(me, o));
    // An ipvlan learns its address from what it sends.
    let mut out = Outputs::new();
    g.receive(
        Instant::ZERO,
        AttachId(2),
        &tx,
        None,
        Offload::NONE,
        &mut out,
    );
    (g, rx, tx)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lower_64B");
    group.throughput(Throughput::Elements(BURST as u64));
    for kind in ["macvlan mode bridge", "ipvlan mode l2"] {
        let name = kind.split_whitespace().next().unwrap();
        let (mut g, rx, tx) = setup(kind);
        let mut out = Outputs::new();
        for (dir, from, frame, to) in [("rx", 1, &rx, 2), ("tx", 2, &tx, 1)] {
            group.bench_function(format!("{name}_{dir}"), |b| {
                b.iter(|| {
                    for _ in 0..BURST {
                        g.receive(
                            Instant::ZERO,
                            AttachId(from),
                            frame,
                            None,
                            Offload::NONE,
                            &mut out,
                        );
                    }
                    let n = out.batch(AttachId(to)).map_or(0, |b| b.len());
                    assert_eq!(n, BURST, "{name} {dir}");
                    out.flush(|_, _| {});
                    black_box(n)
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
