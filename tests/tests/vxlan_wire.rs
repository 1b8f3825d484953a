//! patchbay's VXLAN encapsulation as Wireshark reads it: frames built by
//! `patchbay_core::wire::vxlan` over IPv4 and IPv6, on the IANA port and
//! on Linux's 8472, decode in tshark as VXLAN with the right VNI, valid UDP
//! checksums and no malformed or warning expert info. Needs tshark (CI
//! installs it; elsewhere the test is skipped without it).

use patchbay_core::pcap;
use patchbay_core::wire::vxlan::{encapsulate, Outer, IANA_PORT, LINUX_PORT};
use patchbay_core::wire::{build_frame, Mac};
use patchbay_tests::require;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

#[test]
fn vxlan_frames_decode_in_tshark_with_their_vni() {
    if !require(&["tshark"], "tshark") {
        return;
    }
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&Mac::local(1).0);
    arp.extend_from_slice(&[198, 18, 0, 11, 0, 0, 0, 0, 0, 0, 198, 18, 0, 12]);
    let inner = build_frame(Mac::BROADCAST, Mac::local(1), &[], 0x0806, &arp);
    let v4 = Outer {
        src_mac: Mac::local(0xa),
        dst_mac: Mac::local(0xb),
        src: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
        src_port: 50000,
        dst_port: IANA_PORT,
        ttl: 64,
        tos: 0,
        df: false,
        udp_csum: true,
    };
    let v6 = Outer {
        src: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        dst: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
        ..v4
    };
    let frames = [
        encapsulate(&v4, 100, &inner),
        encapsulate(&v6, 0xab_cdef, &inner),
        encapsulate(
            &Outer {
                dst_port: LINUX_PORT,
                ..v4
            },
            7,
            &inner,
        ),
    ];
    let mut file = pcap::header(1).to_vec();
    for (i, f) in frames.iter().enumerate() {
        pcap::record(&mut file, i as u64 * 1000, f);
    }
    let path = std::env::temp_dir().join(format!("pb-vxlan-{}.pcap", std::process::id()));
    std::fs::write(&path, &file).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-o",
            "udp.check_checksum:TRUE",
            "-d",
            "udp.port==8472,vxlan",
            "-T",
            "fields",
            "-e",
            "vxlan.vni",
            "-e",
            "udp.checksum.status",
            "-e",
            "arp.dst.proto_ipv4",
            "-e",
            "_ws.expert.severity",
        ])
        .output()
        .unwrap();
    let verbose = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-o",
            "udp.check_checksum:TRUE",
            "-d",
            "udp.port==8472,vxlan",
            "-V",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (l, vni) in lines.iter().zip(["100", "11259375", "7"]) {
        // VNI, UDP checksum good (1), the inner ARP decoded, no expert info.
        assert_eq!(l[0], vni, "{text}");
        assert_eq!(l[1], "1", "UDP checksum status: {text}");
        assert_eq!(l[2], "198.18.0.12", "{text}");
        assert!(l.get(3).is_none_or(|s| s.is_empty()), "expert info: {text}");
    }
    let v = String::from_utf8_lossy(&verbose.stdout);
    assert!(v.contains("Virtual eXtensible Local Area Network"), "{v}");
    assert!(!v.contains("Malformed"), "{v}");
}
