//! Writes the seed corpus: `cargo run -p patchbay-fuzz --example seeds`.
//! Each frame seed is a small program for [`patchbay_fuzz::frames`] (see
//! `patchbay_fuzz::op`) carrying the protocol frames the lab's devices
//! take (BPDUs, LACPDUs and markers, ARP, NS/NA, IGMP, VXLAN, tagged and
//! offloaded frames); each command seed is a few lines for
//! [`patchbay_fuzz::commands`].

use patchbay_core::wire::bpdu::{Bpdu, BridgeId, ConfigBpdu, RstBpdu, RstRole};
use patchbay_core::wire::host;
use patchbay_core::wire::lacp::{self, Lacpdu, Marker, PortInfo};
use patchbay_core::wire::{build_frame, Frame, Mac, Offload, Tag};
use patchbay_fuzz::{op, ATTACHED};
use std::time::Duration;

fn att(name: &str) -> u8 {
    ATTACHED
        .iter()
        .position(|(n, _)| *n == name)
        .expect("attached") as u8
}

#[derive(Default)]
struct Prog(Vec<u8>);

impl Prog {
    fn frame(mut self, on: &str, f: &[u8]) -> Self {
        self.0.extend([op::FRAME, att(on)]);
        self.0.extend((f.len() as u16).to_le_bytes());
        self.0.push(0);
        self.0.extend(f);
        self
    }
    fn frame_with(mut self, on: &str, tci: Option<u16>, vnet: Option<[u8; 10]>, f: &[u8]) -> Self {
        self.0.extend([op::FRAME, att(on)]);
        self.0.extend((f.len() as u16).to_le_bytes());
        self.0
            .push(u8::from(tci.is_some()) | (u8::from(vnet.is_some()) << 1));
        if let Some(t) = tci {
            self.0.extend(t.to_be_bytes());
        }
        if let Some(h) = vnet {
            self.0.extend(h);
        }
        self.0.extend(f);
        self
    }
    fn time(mut self, ticks: u8) -> Self {
        self.0.extend([op::TIME, ticks]);
        self
    }
    fn underlay(mut self, src: u8, p: &[u8]) -> Self {
        self.0.extend([op::UNDERLAY, src]);
        self.0.extend((p.len() as u16).to_le_bytes());
        self.0.extend(p);
        self
    }
    /// A UDP GRO read: datagrams `seg` bytes apart.
    fn underlay_run(mut self, src: u8, seg: u16, p: &[u8]) -> Self {
        self.0.extend([op::UNDERLAY, src | 0x80]);
        self.0.extend(seg.to_le_bytes());
        self.0.extend((p.len() as u16).to_le_bytes());
        self.0.extend(p);
        self
    }
    fn carrier(mut self, port: u8) -> Self {
        self.0.extend([op::CARRIER, port]);
        self
    }
    fn command(mut self, line: &str) -> Self {
        self.0.extend([op::COMMAND, line.len() as u8]);
        self.0.extend(line.as_bytes());
        self
    }
}

fn config_bpdu(prio: u16) -> ConfigBpdu {
    let root = BridgeId::new(prio, Mac::local(0x77));
    ConfigBpdu {
        topology_change: false,
        topology_change_ack: false,
        root,
        root_path_cost: 0,
        bridge_id: root,
        port_id: 0x8001,
        message_age: Duration::ZERO,
        max_age: Duration::from_secs(20),
        hello_time: Duration::from_secs(2),
        forward_delay: Duration::from_secs(15),
    }
}

fn lacpdu(partner_state: u8) -> Vec<u8> {
    let actor = PortInfo {
        system_priority: 0xffff,
        system: Mac::local(0x55),
        key: 9,
        port_priority: 0xff,
        port: 1,
        state: lacp::state::ACTIVITY | lacp::state::TIMEOUT | lacp::state::AGGREGATION | 0x38,
    };
    let pdu = Lacpdu {
        actor,
        partner: PortInfo {
            state: partner_state,
            ..actor
        },
        collector_max_delay: 0,
    };
    lacp::frame(Mac::local(0x55), &pdu.emit())
}

fn udp_ipv4(src: [u8; 4], dst: [u8; 4], dmac: Mac, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip.extend(src);
    ip.extend(dst);
    let total = (20 + 8 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend(40000u16.to_be_bytes());
    ip.extend(5001u16.to_be_bytes());
    ip.extend((8 + payload.len() as u16).to_be_bytes());
    ip.extend([0, 0]);
    ip.extend(payload);
    build_frame(dmac, Mac::local(0x10), &[], 0x0800, &ip)
}

fn igmp_report(group: [u8; 4]) -> Vec<u8> {
    let mut ip = vec![0x46, 0xc0, 0, 32, 0, 0, 0x40, 0, 1, 2, 0, 0, 198, 18, 0, 7];
    ip.extend(group);
    ip.extend([0x94, 0x04, 0, 0]); // router alert
    ip.extend([0x16, 0, 0, 0]);
    ip.extend(group);
    let m = Mac([0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]]);
    build_frame(m, Mac::local(0x11), &[], 0x0800, &ip)
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let peer = Mac::local(0x10);
    let arp = host::arp_request(peer, [198, 18, 0, 10], [198, 18, 0, 1], &[]);
    let ll = host::link_local(peer);
    let ns = host::neighbour_solicitation(
        peer,
        ll,
        [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
    );
    let rst = Bpdu::Rst(RstBpdu {
        config: config_bpdu(0x1000),
        proposal: true,
        role: RstRole::Designated,
        learning: false,
        forwarding: false,
        agreement: false,
        version: 2,
    });
    let marker = Marker {
        tlv_type: lacp::MARKER_INFORMATION,
        requester_port: 1,
        requester_system: Mac::local(0x55),
        requester_transaction_id: 42,
    };
    let udp = udp_ipv4(
        [198, 18, 0, 10],
        [198, 18, 0, 20],
        Mac::local(0x20),
        &[0x5a; 32],
    );
    let tagged = build_frame(
        Mac::BROADCAST,
        peer,
        &[Tag {
            tpid: 0x8100,
            tci: 10,
        }],
        0x0806,
        &arp[14..],
    );
    let qinq = build_frame(
        Mac::BROADCAST,
        peer,
        &[
            Tag {
                tpid: 0x8100,
                tci: 5,
            },
            Tag {
                tpid: 0x88a8,
                tci: 7,
            },
        ],
        0x0806,
        &arp[14..],
    );
    let mut vx = patchbay_core::wire::vxlan::header(100).to_vec();
    vx.extend(&arp);
    let mut vx_udp = patchbay_core::wire::vxlan::header(100).to_vec();
    vx_udp.extend(&udp);
    // A GSO TCP frame with a partial checksum, as a veth hands it over.
    let mut tcp = vec![
        0x45, 0, 0x0b, 0xb8, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 10, 198, 18, 0, 20,
    ];
    tcp.extend([
        0x9c, 0x40, 0x13, 0x89, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    tcp.extend(vec![0xab; 2960]);
    let gso = build_frame(Mac::local(0x20), peer, &[], 0x0800, &tcp);
    let mut vnet = [0u8; 10];
    vnet[0] = 1; // needs csum
    vnet[1] = 1; // TCPv4
    vnet[2..4].copy_from_slice(&54u16.to_le_bytes());
    vnet[4..6].copy_from_slice(&1448u16.to_le_bytes());
    vnet[6..8].copy_from_slice(&34u16.to_le_bytes());
    vnet[8..10].copy_from_slice(&16u16.to_le_bytes());

    // The same TCP frame segmented and encapsulated: a run of VXLAN
    // datagrams as one UDP GRO read hands them over.
    let off = Offload {
        flags: 1,
        gso_type: 1,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    let mut gro_run = Vec::new();
    for seg in patchbay_core::wire::gso::segment(&Frame::parse(&gso, None, off).expect("gso"))
        .expect("segments")
    {
        gro_run.extend(patchbay_core::wire::vxlan::header(100));
        gro_run.extend(seg);
    }
    let gro_seg = (8 + 14 + 20 + 20 + 1448) as u16;

    let frames: Vec<(&str, Prog)> = vec![
        (
            "stp-config",
            Prog::default()
                .frame("p1", &Bpdu::Config(config_bpdu(0x1000)).frame(peer))
                .time(40)
                .frame(
                    "p2",
                    &Bpdu::Config(config_bpdu(0x0)).frame(Mac::local(0x12)),
                )
                .time(200),
        ),
        (
            "stp-tcn",
            Prog::default()
                .time(60)
                .frame("p1", &Bpdu::Tcn.frame(peer))
                .time(60),
        ),
        (
            "rstp",
            Prog::default()
                .frame("p3", &rst.frame(peer))
                .time(20)
                .frame("p4", &rst.frame(Mac::local(0x13)))
                .time(100),
        ),
        (
            "lacp-bond",
            Prog::default()
                .frame("p5", &lacpdu(0x3d))
                .frame("p6", &lacpdu(0x3d))
                .time(20)
                .frame("p5", &lacpdu(0x3f))
                .time(60),
        ),
        (
            "lacp-team",
            Prog::default()
                .frame("p7", &lacpdu(0x3d))
                .frame("p8", &lacpdu(0x3f))
                .time(40),
        ),
        (
            "lacp-marker",
            Prog::default()
                .frame("p5", &lacp::frame(Mac::local(0x55), &marker.emit()))
                .frame("p7", &lacp::frame(Mac::local(0x55), &marker.emit())),
        ),
        (
            "arp-everywhere",
            [
                "p1", "p3", "p5", "p9", "p10", "p11", "br0", "bond0", "team1", "mv0", "ipv0",
                "ipv1",
            ]
            .iter()
            .fold(Prog::default(), |p, a| p.frame(a, &arp))
            .time(30),
        ),
        (
            "watchers",
            Prog::default()
                .time(10)
                .frame("p11", &arp)
                .frame("p12", &ns)
                .time(20)
                .carrier(10)
                .time(20)
                .carrier(10),
        ),
        (
            "vxlan-proxy",
            Prog::default()
                .frame("vx0", &arp)
                .frame("vx0", &ns)
                .frame("br0", &udp)
                .time(5),
        ),
        (
            "vxlan-underlay",
            Prog::default()
                .underlay(2, &vx)
                .underlay(3, &vx_udp)
                .underlay(2, &[8, 0, 0, 0])
                .time(255)
                .time(255),
        ),
        (
            "vxlan-gro",
            Prog::default()
                .underlay_run(2, gro_seg, &gro_run)
                .underlay_run(2, 7, &gro_run)
                .underlay_run(3, gro_seg - 1, &gro_run)
                .time(255),
        ),
        (
            "vlan-tags",
            Prog::default()
                .frame("p4", &tagged)
                .frame_with("p4", Some(20), None, &arp)
                .frame("p13", &qinq)
                .frame("p13.5.7", &udp),
        ),
        (
            "gso",
            Prog::default()
                .frame_with("p1", None, Some(vnet), &gso)
                .frame_with("mv0", None, Some(vnet), &gso)
                .frame_with("p4", Some(10), Some(vnet), &gso),
        ),
        (
            "igmp",
            Prog::default()
                .frame("mv0", &igmp_report([239, 1, 2, 3]))
                .frame("ipv0", &igmp_report([239, 1, 2, 3]))
                .frame("p9", &igmp_report([239, 1, 2, 3])),
        ),
        (
            "carrier",
            (0..13)
                .fold(Prog::default(), |p, i| p.carrier(i))
                .time(40)
                .frame("bond0", &udp)
                .frame("team0", &udp)
                .time(40),
        ),
        (
            "commands",
            Prog::default()
                .frame("p1", &udp)
                .command("link set p1 down")
                .frame("p1", &udp)
                .command("link set br0 type bridge stp_state 0")
                .time(20)
                .command("link del br0")
                .frame("p1", &udp),
        ),
        (
            "runt",
            Prog::default()
                .frame("p1", &[0xff; 13])
                .frame(
                    "p4",
                    &[
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x81, 0,
                    ],
                )
                .underlay(1, &[0; 3]),
        ),
    ];
    let commands: Vec<(&str, &str)> = vec![
        ("half-applied-state", "link set p13 master br0 type bridge_slave state 3\nlink set p9 master br0 type bridge_slave state 3\nlink set p2 type bridge_slave state 3\n"),
        ("half-applied-bond", "link set p9 master bond0\nlink set bond0 type bond mode active-backup\n"),
        ("mtu-netns", "link set p1 mtu 9000 netns nosuch\nlink set p1 mtu 70000\n"),
        ("bridge-opts", "link set br0 type bridge forward_delay 100\nlink set br0 type bridge priority 4096 hello_time 50 max_age 4000\nlink set br1 type bridge vlan_filtering 0\n"),
        ("fdb", "bridge fdb add 02:00:00:00:77:01 dev p1 master static\nbridge fdb del 02:00:00:00:77:01 dev p1 master\nbridge fdb add 02:00:00:00:77:02 dev vx0 dst 198.18.0.9 vni 7 port 4790\nbridge fdb replace 02:00:00:00:77:02 dev vx0 dst ::1\n"),
        ("vlan", "bridge vlan add dev p3 vid 100-200\nbridge vlan del dev p3 vid 150\nbridge vlan add dev p9 vid 10\nbridge vlan add dev br1 vid 5 pvid untagged self\n"),
        ("mstpctl", "mstpctl settreeprio br1 0 4\nmstpctl setportpathcost br1 p3 20000\nmstpctl setportadminedge br1 p4 yes\nmstpctl setforcevers br1 stp\nmstpctl delbridge br1\n"),
        ("teamctl", "teamctl team1 port add p13\nteamctl team1 state item set runner.active_port p12\nteamctl team1 port config update p11 '{\"prio\": 100}'\nteamctl team0 port remove p7\n"),
        ("link-add", "link add br0 type bridge\nlink add x0 link p9 type macvlan mode passthru\nlink add v1 type veth peer name v2\nlink set v1 master br0\nlink del v2\nlink add link nosuch name n.1 type vlan id 1\n"),
        ("nomaster", "link set p1 nomaster\nlink set bond0 nomaster\nlink set p5 nomaster\nlink set team0 nomaster\nlink del bond0\nlink del p10\n"),
        ("neigh", "neigh add 198.18.30.10 lladdr 02:00:00:00:00:10 dev vx0\nneigh del 198.18.30.9 dev vx0\nneigh flush dev vx0\nneigh add fd00::1 lladdr 02:00:00:00:00:11 dev vx0 nud reachable\n"),
        ("netdevsim", "link set p1 type netdevsim drop 50% corrupt 1% delay 3ms carrier off\nlink set p1 type netdevsim carrier on speed 100 duplex half\n"),
        ("addresses", "link set br0 address 02:00:00:00:99:01\nlink set mv0 address 02:00:00:00:99:02\nlink set team1 address 02:00:00:00:99:03\nlink set p13.5 address 02:00:00:00:99:04\n"),
    ];
    for sub in ["frame", "command"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    for (name, p) in frames {
        patchbay_fuzz::frames(&p.0);
        std::fs::write(dir.join("frame").join(name), &p.0).expect("write");
    }
    for (name, text) in commands {
        std::fs::write(dir.join("command").join(name), text).expect("write");
    }
    println!("seeds written to {}", dir.display());
}
