//! The VXLAN device through the command surface: `link add type vxlan` with
//! iproute2's words and the kernel's defaults, `-d link show`, and the
//! VXLAN FDB through `bridge fdb`.

use patchbay_core::cmd::{self, Opts};
use patchbay_core::graph::{Attachment, Kind, Role};
use patchbay_core::pipeline::Outputs;
use patchbay_core::wire::{build_frame, Mac, Offload};
use patchbay_core::{AttachId, Graph, Instant};

fn run(g: &mut Graph, line: &str, opts: Opts) -> Result<cmd::Output, String> {
    let words = cmd::split_line(line).unwrap();
    let c = cmd::parse(&words).map_err(|e| e.to_string())?;
    cmd::apply(g, Instant::ZERO, &c, opts).map_err(|e| e.to_string())
}

fn ok(g: &mut Graph, line: &str) -> String {
    run(g, line, Opts::default())
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .text
}

#[test]
fn link_add_takes_iproute2s_words_and_the_kernels_defaults() {
    let mut g = Graph::new();
    let o = run(
        &mut g,
        "link add vx0 type vxlan id 100 remote 198.18.0.2 local 198.18.0.1",
        Opts::default(),
    )
    .unwrap();
    assert!(
        o.warning
            .starts_with("vxlan: destination port not specified"),
        "{o:?}"
    );
    let j = run(
        &mut g,
        "link show vx0",
        Opts {
            json: true,
            details: true,
            ..Opts::default()
        },
    )
    .unwrap()
    .text;
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let info = &v[0]["linkinfo"]["info_data"];
    assert_eq!(v[0]["linkinfo"]["info_kind"], "vxlan");
    assert_eq!(info["id"], 100);
    assert_eq!(info["remote"], "198.18.0.2");
    assert_eq!(info["port"], 8472);
    assert_eq!(info["ageing"], 300);
    assert_eq!(info["learning"], true);
    assert_eq!(v[0]["mtu"], 1500, "no lower device: 1500");
    let o = run(&mut g, "link add vx1 type vxlan id 7 group 239.1.1.1 dev p1 dstport 4789 srcport 49152 65535 ttl 8 nolearning ageing 60 maxaddress 10", Opts::default()).unwrap();
    assert!(o.warning.is_empty());
    let t = run(
        &mut g,
        "link show vx1",
        Opts {
            details: true,
            ..Opts::default()
        },
    )
    .unwrap()
    .text;
    assert!(t.contains("vxlan id 7 group 239.1.1.1 dev p1 srcport 49152 65535 dstport 4789 nolearning ttl 8 ageing 60 maxaddress 10 udpcsum"), "{t}");
    assert!(t.contains("mtu 1450"), "lower 1500 less 50: {t}");
    // Errors name what was wrong and change nothing.
    for (line, want) in [
        (
            "link add vx2 type vxlan remote 198.18.0.2",
            "a VXLAN id is required",
        ),
        (
            "link add vx2 type vxlan id 16777216",
            "VNI from 0 to 16777215",
        ),
        (
            "link add vx2 type vxlan id 1 group 198.18.0.2 dev p1",
            "a multicast address",
        ),
        (
            "link add vx2 type vxlan id 1 remote 239.1.1.1",
            "a unicast address",
        ),
        (
            "link add vx2 type vxlan id 1 group 239.1.1.1",
            "needs a lower device",
        ),
        ("link add vx2 type vxlan id 1 gbp", "not supported"),
    ] {
        let e = run(&mut g, line, Opts::default()).unwrap_err();
        assert!(e.contains(want), "{line}: {e}");
        assert!(g.by_name("vx2").is_none());
    }
}

#[test]
fn the_vxlan_fdb_through_bridge_fdb_and_the_datagrams_it_gives() {
    let mut g = Graph::new();
    ok(
        &mut g,
        "link add vx0 type vxlan id 100 local 198.18.0.1 dstport 4789",
    );
    ok(
        &mut g,
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.2",
    );
    ok(
        &mut g,
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.3",
    );
    ok(
        &mut g,
        "bridge fdb add 02:00:00:00:00:09 dev vx0 dst 198.18.0.4 port 8472 vni 5 static",
    );
    let e = run(
        &mut g,
        "bridge fdb add 02:00:00:00:00:09 dev vx0 dst 198.18.0.5",
        Opts::default(),
    )
    .unwrap_err();
    assert!(e.contains("exists"), "{e}");
    let e = run(
        &mut g,
        "bridge fdb append 02:00:00:00:00:09 dev vx0 dst 198.18.0.5",
        Opts::default(),
    )
    .unwrap_err();
    assert!(e.contains("append works only"), "{e}");
    let s = ok(&mut g, "bridge fdb show dev vx0");
    assert_eq!(
        s,
        "00:00:00:00:00:00 dev vx0 dst 198.18.0.2 self permanent\n00:00:00:00:00:00 dev vx0 dst 198.18.0.3 self permanent\n02:00:00:00:00:09 dev vx0 dst 198.18.0.4 port 8472 vni 5 self static\n"
    );
    // The host sends through vx0: a broadcast becomes two datagrams (head-end
    // replication), a frame to the static entry one.
    let vx = g.by_name("vx0").unwrap();
    g.attach(
        vx,
        Attachment {
            id: AttachId(1),
            role: Role::Host,
        },
    );
    ok(&mut g, "link set vx0 up");
    let mut out = Outputs::new();
    let src = g.iface(vx).mac;
    let bcast = build_frame(Mac::BROADCAST, src, &[], 0x88b5, &[0; 46]);
    g.receive(
        Instant::ZERO,
        AttachId(1),
        &bcast,
        None,
        Offload::NONE,
        &mut out,
    );
    let dsts: Vec<String> = out
        .datagrams
        .iter()
        .map(|d| format!("{}:{}", d.encap.dst, d.encap.port))
        .collect();
    assert_eq!(dsts, vec!["198.18.0.2:4789", "198.18.0.3:4789"]);
    let d = out.datagrams[0];
    let payload = out.datagram(&d);
    assert_eq!(&payload[..8], &[0x08, 0, 0, 0, 0, 0, 100, 0]);
    assert_eq!(&payload[8..], &bcast[..]);
    out.flush(|_, _| {});
    let uni = build_frame(Mac([2, 0, 0, 0, 0, 9]), src, &[], 0x88b5, &[0; 46]);
    g.receive(
        Instant::ZERO,
        AttachId(1),
        &uni,
        None,
        Offload::NONE,
        &mut out,
    );
    assert_eq!(out.datagrams.len(), 1);
    assert_eq!(
        (out.datagrams[0].encap.port, out.datagrams[0].encap.vni),
        (8472, 5)
    );
    out.flush(|_, _| {});
    ok(
        &mut g,
        "bridge fdb del 00:00:00:00:00:00 dev vx0 dst 198.18.0.2",
    );
    ok(&mut g, "bridge fdb del 00:00:00:00:00:00 dev vx0");
    g.receive(
        Instant::ZERO,
        AttachId(1),
        &bcast,
        None,
        Offload::NONE,
        &mut out,
    );
    assert!(out.datagrams.is_empty(), "no default entry: dropped");
    assert_eq!(
        g.iface(vx).counters.drops[patchbay_core::counters::DropReason::NoRoute as usize],
        1
    );
    assert!(matches!(g.iface(vx).kind, Kind::Vxlan(_)));
}

/// The frames queued for the host side of `a`.
fn host_frames(out: &Outputs, a: AttachId) -> Vec<Vec<u8>> {
    out.batch(a)
        .map(|b| {
            b.frames
                .iter()
                .map(|d| b.buf[d.off as usize..(d.off + d.len) as usize].to_vec())
                .collect()
        })
        .unwrap_or_default()
}

fn arp_request(src: Mac, sip: [u8; 4], tip: [u8; 4], op: u8) -> Vec<u8> {
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, op];
    arp.extend_from_slice(&src.0);
    arp.extend_from_slice(&sip);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&tip);
    build_frame(Mac::BROADCAST, src, &[], 0x0806, &arp)
}

#[test]
fn proxy_answers_from_the_neighbour_table_and_misses_are_reported() {
    let mut g = Graph::new();
    g.record_events(true);
    ok(
        &mut g,
        "link add vx0 type vxlan id 100 local 198.18.0.1 remote 198.18.0.2 dstport 4789 proxy l2miss l3miss",
    );
    ok(
        &mut g,
        "neigh add 198.18.0.9 lladdr 02:00:00:00:00:09 dev vx0",
    );
    ok(&mut g, "neigh add fd00::9 lladdr 02:00:00:00:00:09 dev vx0");
    ok(
        &mut g,
        "neigh add 198.18.0.8 lladdr 02:00:00:00:00:08 dev vx0 nud stale",
    );
    assert_eq!(
        ok(&mut g, "neigh show dev vx0"),
        "198.18.0.8 dev vx0 lladdr 02:00:00:00:00:08 STALE\n198.18.0.9 dev vx0 lladdr 02:00:00:00:00:09 PERMANENT\nfd00::9 dev vx0 lladdr 02:00:00:00:00:09 PERMANENT\n"
    );
    let j: serde_json::Value = serde_json::from_str(
        &run(
            &mut g,
            "neigh show",
            Opts {
                json: true,
                ..Opts::default()
            },
        )
        .unwrap()
        .text,
    )
    .unwrap();
    assert_eq!(j[1]["dst"], "198.18.0.9");
    assert_eq!(j[1]["lladdr"], "02:00:00:00:00:09");
    assert_eq!(j[1]["state"][0], "PERMANENT");
    ok(&mut g, "link add br9 type bridge");
    for (line, want) in [
        (
            "neigh add 198.18.0.9 lladdr 02:00:00:00:00:07 dev vx0",
            "exists",
        ),
        ("neigh del 198.18.0.77 dev vx0", "no such entry"),
        (
            "neigh add 198.18.0.5 lladdr 02:00:00:00:00:05 dev br9",
            "br9 is not a vxlan device",
        ),
        ("neigh add 198.18.0.5 dev vx0", "lladdr MAC is needed"),
        (
            "neigh add 198.18.0.5 lladdr 02:00:00:00:00:05 dev vx0 nud fresh",
            "argument \"nud\" expects",
        ),
    ] {
        let e = run(&mut g, line, Opts::default()).unwrap_err();
        assert!(e.contains(want), "{line}: {e}");
    }

    let vx = g.by_name("vx0").unwrap();
    let host = AttachId(1);
    g.attach(
        vx,
        Attachment {
            id: host,
            role: Role::Host,
        },
    );
    ok(&mut g, "link set vx0 up");
    while g.poll_event().is_some() {}
    let hmac = Mac([2, 0, 0, 0, 0, 1]);
    let mut out = Outputs::new();
    let send = |g: &mut Graph, f: &[u8], out: &mut Outputs| {
        out.flush(|_, _| {});
        g.receive(Instant::ZERO, host, f, None, Offload::NONE, out);
    };
    // Known and connected: the reply comes back to the host, nothing
    // crosses the tunnel.
    send(
        &mut g,
        &arp_request(hmac, [198, 18, 0, 1], [198, 18, 0, 9], 1),
        &mut out,
    );
    assert!(out.datagrams.is_empty());
    let got = host_frames(&out, host);
    let mut want = build_frame(
        hmac,
        Mac([2, 0, 0, 0, 0, 9]),
        &[],
        0x0806,
        &[
            0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 9, 198, 18, 0, 9, 2, 0, 0, 0, 0, 1, 198, 18, 0,
            1,
        ],
    );
    want.truncate(42);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0][..42], &want[..]);
    let Kind::Vxlan(v) = &g.iface(vx).kind else {
        unreachable!()
    };
    assert_eq!(v.proxied, 1, "one reply made");
    // Stale, or an ARP reply: consumed, nothing sent anywhere.
    send(
        &mut g,
        &arp_request(hmac, [198, 18, 0, 1], [198, 18, 0, 8], 1),
        &mut out,
    );
    send(
        &mut g,
        &arp_request(hmac, [198, 18, 0, 1], [198, 18, 0, 9], 2),
        &mut out,
    );
    assert!(out.datagrams.is_empty() && host_frames(&out, host).is_empty());
    assert_eq!(g.poll_event(), None);
    // Unknown with l3miss: consumed and reported.
    send(
        &mut g,
        &arp_request(hmac, [198, 18, 0, 1], [198, 18, 0, 7], 1),
        &mut out,
    );
    assert!(out.datagrams.is_empty());
    assert_eq!(
        g.poll_event(),
        Some(patchbay_core::graph::Event::VxlanMiss {
            dev: vx,
            miss: patchbay_core::vxlan::Miss::L3("198.18.0.7".parse().unwrap()),
        })
    );
    // A neighbour solicitation for fd00::9: a solicited neighbour
    // advertisement to the source link-layer option's address.
    let ns = patchbay_core::wire::host::neighbour_solicitation(
        Mac([2, 0, 0, 0, 0, 0x11]),
        "fd00::1".parse::<core::net::Ipv6Addr>().unwrap().octets(),
        "fd00::9".parse::<core::net::Ipv6Addr>().unwrap().octets(),
    );
    send(&mut g, &ns, &mut out);
    assert!(out.datagrams.is_empty());
    let got = host_frames(&out, host);
    assert_eq!(got.len(), 1);
    let na = &got[0];
    assert_eq!(&na[..6], &[2, 0, 0, 0, 0, 0x11], "to the option's MAC");
    assert_eq!(&na[6..12], &[2, 0, 0, 0, 0, 9]);
    let ip = &na[14..];
    assert_eq!((ip[6], ip[7], ip[40], ip[44]), (58, 255, 136, 0x60));
    assert_eq!(
        &ip[8..24],
        &"fd00::9".parse::<core::net::Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(
        &ip[24..40],
        &"fd00::1".parse::<core::net::Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(
        &ip[64..72],
        &[2, 1, 2, 0, 0, 0, 0, 9],
        "target link-layer option"
    );
    // Anything else crosses as usual.
    let uni = build_frame(Mac([2, 0, 0, 0, 0, 0x33]), hmac, &[], 0x88b5, &[0; 46]);
    send(&mut g, &uni, &mut out);
    assert_eq!(out.datagrams.len(), 1);
    // Without the default entry a unicast with no entry is an l2miss; a
    // broadcast is not.
    ok(&mut g, "bridge fdb del 00:00:00:00:00:00 dev vx0");
    send(&mut g, &uni, &mut out);
    let bcast = build_frame(Mac::BROADCAST, hmac, &[], 0x88b5, &[0; 46]);
    send(&mut g, &bcast, &mut out);
    assert!(out.datagrams.is_empty());
    assert_eq!(
        g.poll_event(),
        Some(patchbay_core::graph::Event::VxlanMiss {
            dev: vx,
            miss: patchbay_core::vxlan::Miss::L2(Mac([2, 0, 0, 0, 0, 0x33])),
        })
    );
    assert_eq!(g.poll_event(), None);
    ok(&mut g, "neigh del 198.18.0.9 dev vx0");
    ok(&mut g, "neigh flush dev vx0");
    assert_eq!(
        ok(&mut g, "neigh show dev vx0"),
        "fd00::9 dev vx0 lladdr 02:00:00:00:00:09 PERMANENT\n",
        "flush keeps permanent entries, as ip neigh flush does"
    );
}

/// A run of datagrams from one UDP GRO read (`Graph::receive_underlay_run`):
/// one TCP flow's segments in order reach the host as one
/// segmentation-offload frame, as the kernel's GRO would hand them up; a
/// corrupt segment in the run is never merged, and its neighbours go on
/// one by one.
#[test]
fn a_run_of_tcp_segments_arrives_as_one_offload_frame() {
    let mut g = Graph::new();
    ok(
        &mut g,
        "link add vx0 type vxlan id 100 local 198.18.0.1 dstport 4789",
    );
    let vx = g.by_name("vx0").unwrap();
    g.attach(
        vx,
        Attachment {
            id: AttachId(1),
            role: Role::Host,
        },
    );
    ok(&mut g, "link set vx0 up");
    let dst = g.iface(vx).mac;
    let payload: Vec<u8> = (0..4000u32).map(|i| (i * 13) as u8).collect();
    let mut tso = Vec::new();
    etherparse::PacketBuilder::ethernet2(Mac::local(7).0, dst.0)
        .ipv4([198, 18, 9, 1], [198, 18, 9, 2], 64)
        .tcp(40000, 5001, 1000, 64240)
        .ack(7)
        .write(&mut tso, &payload)
        .unwrap();
    let off = Offload {
        flags: Offload::NEEDS_CSUM,
        gso_type: 1,
        hdr_len: 54,
        gso_size: 1400,
        csum_start: 34,
        csum_offset: 16,
    };
    let segs = patchbay_core::wire::gso::segment(
        &patchbay_core::wire::Frame::parse(&tso, None, off).unwrap(),
    )
    .unwrap();
    let dgrams: Vec<Vec<u8>> = segs
        .iter()
        .map(|s| {
            let mut d = vec![0x08, 0, 0, 0, 0, 0, 100, 0];
            d.extend_from_slice(s);
            d
        })
        .collect();
    let run: Vec<&[u8]> = dgrams.iter().map(Vec::as_slice).collect();
    let src = "198.18.0.2".parse().unwrap();
    let mut out = Outputs::new();
    g.receive_underlay_run(Instant::ZERO, vx, src, &run, &mut out);
    let b = out.batch(AttachId(1)).expect("the host got it");
    assert_eq!(b.frames.len(), 1, "one frame for three segments");
    let o = b.frames[0].offload;
    assert_eq!((o.gso_type, o.gso_size, o.csum_start), (1, 1400, 34));
    assert_eq!(b.frames[0].len as usize, 54 + 4000);
    out.flush(|_, _| {});
    // The middle segment corrupt: three frames, none merged.
    let mut bad = dgrams.clone();
    let l = bad[1].len();
    bad[1][l - 1] ^= 0xff;
    let run: Vec<&[u8]> = bad.iter().map(Vec::as_slice).collect();
    g.receive_underlay_run(Instant::ZERO, vx, src, &run, &mut out);
    let b = out.batch(AttachId(1)).expect("the host got them");
    assert_eq!(b.frames.len(), 3);
    assert!(b.frames.iter().all(|f| !f.offload.is_gso()));
}
