//! VXLAN in the core: encapsulation (a frame the host sends on a VTEP with
//! a static FDB entry becomes a datagram) and decapsulation (a datagram from
//! the underlay becomes a frame for the host), bursts of 32 64-byte inner
//! frames over 4096 flows, one core. Throughput is inner frames per second.
//!
//! cargo bench -p patchbay-benches --bench vxlan

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Role};
use patchbay_core::pipeline::{Outputs, BURST};
use patchbay_core::wire::{build_frame, ethertype, vxlan, Mac, Offload};
use patchbay_core::{AttachId, Graph, Instant};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

fn setup() -> (Graph, patchbay_core::IfId, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut g = Graph::new();
    let run = |g: &mut Graph, l: &str| {
        let c = cmd::parse(&cmd::split_line(l).unwrap()).unwrap();
        cmd::apply(g, Instant::ZERO, &c, Opts::default()).unwrap();
    };
    run(
        &mut g,
        "link add vx0 type vxlan id 100 local 198.18.20.1 dstport 4789",
    );
    run(
        &mut g,
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.20.2",
    );
    let vx = g.by_name("vx0").unwrap();
    g.attach(
        vx,
        Attachment {
            id: AttachId(1),
            role: Role::Host,
        },
    );
    run(&mut g, "link set vx0 up");
    let me = g.iface(vx).mac;
    // Inner frames: the host to 4096 peers (encap); 4096 peers to the host
    // behind the far VTEP, as datagrams (decap).
    let mut tx = Vec::new();
    let mut rx = Vec::new();
    for i in 0..4096u32 {
        let peer = Mac::local(0x100_0000 + u64::from(i));
        let mut ip = vec![0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 30, 1];
        ip.extend_from_slice(&(0xc612_1e00u32 | (i & 0xff)).to_be_bytes());
        ip.extend_from_slice(&(1024 + i as u16).to_be_bytes());
        ip.extend_from_slice(&[0x13, 0x88, 0, 26, 0, 0]);
        ip.resize(46, 0);
        tx.push(build_frame(peer, me, &[], ethertype::IPV4, &ip));
        let inner = build_frame(me, peer, &[], ethertype::IPV4, &ip);
        let mut d = vxlan::header(100).to_vec();
        d.extend_from_slice(&inner);
        rx.push(d);
    }
    (g, vx, tx, rx)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("vxlan_64B");
    group.throughput(Throughput::Elements(BURST as u64));
    let (mut g, vx, tx, rx) = setup();
    let mut out = Outputs::new();
    let mut i = 0usize;
    group.bench_function("encap", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                g.receive(
                    Instant::ZERO,
                    AttachId(1),
                    &tx[i & 4095],
                    None,
                    Offload::NONE,
                    &mut out,
                );
                i = i.wrapping_add(1);
            }
            let n = out.datagrams.len();
            assert_eq!(n, BURST);
            out.flush(|_, _| {});
            black_box(n)
        })
    });
    let src = IpAddr::V4(Ipv4Addr::new(198, 18, 20, 2));
    group.bench_function("decap", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                g.receive_underlay(Instant::ZERO, vx, src, &rx[i & 4095], &mut out);
                i = i.wrapping_add(1);
            }
            let n = out.batch(AttachId(1)).map_or(0, |b| b.len());
            assert_eq!(n, BURST);
            out.flush(|_, _| {});
            black_box(n)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
