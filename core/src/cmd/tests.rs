use super::*;

fn words(l: &str) -> Vec<String> {
    split_line(l).unwrap()
}

fn parse_err(l: &str) -> String {
    parse(&words(l)).unwrap_err().to_string()
}

#[test]
fn split_line_handles_quotes_and_comments() {
    assert_eq!(
        words("link add br0 type bridge # a comment"),
        ["link", "add", "br0", "type", "bridge"]
    );
    assert_eq!(
        words(r#"link add team0 type team config '{"runner": {"name": "lacp"}}'"#)
            .last()
            .unwrap(),
        r#"{"runner": {"name": "lacp"}}"#
    );
    assert!(split_line("link 'add").is_err());
    assert!(words("   # only a comment").is_empty());
}

#[test]
fn batch_words_drop_a_leading_ip_or_patchbay_only() {
    let b = |l: &str| batch_words(l).unwrap();
    assert_eq!(b("ip link set eth0 up"), ["link", "set", "eth0", "up"]);
    assert_eq!(b("patchbay link show"), ["link", "show"]);
    assert_eq!(
        b("link add ip type dummy"),
        ["link", "add", "ip", "type", "dummy"]
    );
    assert!(b("# nothing").is_empty());
    assert!(batch_words("ip link 'add").is_err());
}

#[test]
fn guide_lines_parse() {
    for l in [
        "link add br0 type bridge",
        "link set eth0 master br0",
        "link add bond1 type bond miimon 100 mode active-backup",
        "link set eth0 master bond1",
        "link set eth1 master bond1",
        "bond show bond1",
        "link set tap1 master br0",
        "link add link eth0 name eth0.2 type vlan id 2",
        "link add link eth0 name eth0.3 type vlan id 3",
        "tuntap add tap1 mode tap",
        "tuntap del dev tap1 mode tap",
        "link add name br1 type bridge ageing_time 1000 vlan_filtering 1 group_fwd_mask 0x4000",
        "link set dev br0 type bridge vlan_filtering 1",
        "link set dev veth1 type bridge_slave learning off hairpin on",
        "bridge fdb add 00:17:42:8a:b4:05 dev veth1 master static vlan 10",
        "bridge fdb del 00:17:42:8a:b4:05 dev veth1 vlan 10",
        "bridge fdb show br br0",
        "bridge link set dev veth1 isolated on flood off",
        "bridge vlan add dev veth1 vid 10-20",
        "bridge vlan add dev br0 vid 10 pvid untagged self",
        "bridge vlan show",
        "link show",
        "stats br0",
    ] {
        parse(&words(l)).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
}

#[test]
fn errors_name_the_command_the_argument_and_why() {
    let e = parse_err("link add br0 type bridge ageing_time soon");
    assert!(e.starts_with("link add br0 type bridge:"), "{e}");
    assert!(
        e.contains("\"ageing_time\"") && e.contains("\"soon\""),
        "{e}"
    );
    let e = parse_err("link add link eth0 name eth0.5000 type vlan id 5000");
    assert!(e.contains("\"id\"") && e.contains("4094"), "{e}");
    let e = parse_err("link add eth0.2 type vlan id 2");
    assert!(e.contains("lower device"), "{e}");
    let e = parse_err("link add br0 type bridge stp_state 7");
    assert!(
        e.contains("\"stp_state\"") && e.contains("0 (off) or 1 (on)"),
        "{e}"
    );
    let e = parse_err("link add thisnameiswaytoolong type bridge");
    assert!(e.contains("not a valid interface name"), "{e}");
    let e = parse_err("bridge vlan add dev p1 vid 0");
    assert!(e.contains("\"vid\""), "{e}");
    let e = parse_err("bridge fdb add 01:00:5e:00:00:01 dev p1");
    assert!(e.contains("multicast"), "{e}");
    let e = parse_err("tuntap add tap0 mode tun");
    assert!(e.contains("mode tun"), "{e}");
    let e = parse_err("link add b0 type bond mode fastest");
    assert!(e.contains("\"mode\"") && e.contains("802.3ad"), "{e}");
    let e = parse_err("link add b0 type bond xmit_hash_policy layer5");
    assert!(e.contains("layer3+4"), "{e}");
    let e = parse_err("link add b0 type bond ad_user_port_key 2000");
    assert!(e.contains("0 to 1023"), "{e}");
    let e = parse_err("link set br0 frobnicate");
    assert!(e.contains("\"frobnicate\""), "{e}");
}

#[test]
fn a_failed_command_changes_nothing() {
    let mut g = Graph::new();
    let now = Instant::ZERO;
    let run =
        |g: &mut Graph, l: &str| parse(&words(l)).and_then(|c| apply(g, now, &c, Opts::default()));
    run(&mut g, "link add br0 type bridge").unwrap();
    run(&mut g, "link add br1 type bridge").unwrap();
    let before = run(&mut g, "link show").unwrap();
    // master is not a bridge: nothing else in the command takes effect.
    assert!(run(&mut g, "link set br0 up mtu 9000 master br1").is_err());
    assert!(run(&mut g, "link set br0 up master nosuch").is_err());
    assert_eq!(run(&mut g, "link show").unwrap(), before);
    assert!(run(&mut g, "link add br0 type bridge")
        .unwrap_err()
        .to_string()
        .contains("already exists"));
}

#[test]
fn json_link_show_has_iproute2_keys() {
    let mut g = Graph::new();
    let c = parse(&words("link add br0 type bridge vlan_filtering 1")).unwrap();
    apply(&mut g, Instant::ZERO, &c, Opts::default()).unwrap();
    let c = parse(&words("link show dev br0")).unwrap();
    let out = apply(
        &mut g,
        Instant::ZERO,
        &c,
        Opts {
            json: true,
            details: true,
            stats: false,
        },
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out.text).unwrap();
    let l = &v[0];
    assert_eq!(l["ifname"], "br0");
    assert_eq!(l["operstate"], "DOWN");
    assert_eq!(l["mtu"], 1500);
    assert_eq!(l["linkinfo"]["info_kind"], "bridge");
    assert_eq!(l["linkinfo"]["info_data"]["ageing_time"], 30000);
    assert_eq!(l["linkinfo"]["info_data"]["vlan_filtering"], 1);
    assert_eq!(l["linkinfo"]["info_data"]["forward_delay"], 1500);
}

#[test]
fn bond_options_follow_the_kernels_rules_and_show_as_iproute2() {
    use crate::graph::Kind;
    let mut g = Graph::new();
    let now = Instant::ZERO;
    let run = |g: &mut Graph, l: &str, json: bool| {
        parse(&words(l)).and_then(|c| {
            apply(
                g,
                now,
                &c,
                Opts {
                    json,
                    details: true,
                    stats: false,
                },
            )
        })
    };
    for n in ["e1", "e2"] {
        g.add(
            n,
            Kind::Tap,
            crate::wire::Mac::local(u64::from(n.as_bytes()[1])),
            1500,
        )
        .unwrap();
    }
    run(
        &mut g,
        "link add b0 type bond mode active-backup miimon 100 updelay 250",
        false,
    )
    .unwrap();
    run(&mut g, "link set e1 master b0", false).unwrap();
    // The kernel refuses to change the mode while there are members.
    let e = run(&mut g, "link set b0 type bond mode 802.3ad", false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("EBUSY"), "{e}");
    // The ARP monitor needs targets.
    let e = run(&mut g, "link set b0 type bond arp_interval 100", false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("arp_ip_target"), "{e}");
    let v: serde_json::Value =
        serde_json::from_str(&run(&mut g, "link show dev b0", true).unwrap().text).unwrap();
    let d = &v[0]["linkinfo"]["info_data"];
    assert_eq!(d["mode"], "active-backup");
    assert_eq!(d["miimon"], 100);
    // updelay is kept in whole MII intervals: 250 ms shows as 200.
    assert_eq!(d["updelay"], 200);
    assert_eq!(d["xmit_hash_policy"], "layer2");
    assert_eq!(d["arp_validate"], serde_json::Value::Null);
    let t = run(&mut g, "link show dev e1", false).unwrap().text;
    assert!(t.contains("bond_slave state BACKUP mii_status"), "{t}");
    let proc_text = run(&mut g, "bond show b0", false).unwrap().text;
    assert!(
        proc_text.contains("Bonding Mode: fault-tolerance (active-backup)"),
        "{proc_text}"
    );
    assert!(proc_text.contains("Up Delay (ms): 200"), "{proc_text}");
    assert!(proc_text.contains("\nSlave Interface: e1\n"), "{proc_text}");
    // IPv6 targets (`ns_ip6_target`) serve the same monitor; the kernel's
    // refusals of ::, loopback and multicast targets.
    for bad in ["::", "::1", "ff02::1", "fd00::1,nope"] {
        let e = run(
            &mut g,
            &format!("link set b0 type bond arp_interval 100 ns_ip6_target {bad}"),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ns_ip6_target"), "{bad}: {e}");
    }
    run(
        &mut g,
        "link set b0 type bond arp_interval 100 ns_ip6_target fd00::1,fe80::2",
        false,
    )
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&run(&mut g, "link show dev b0", true).unwrap().text).unwrap();
    let d = &v[0]["linkinfo"]["info_data"];
    assert_eq!(
        d["ns_ip6_target"],
        serde_json::json!(["fd00::1", "fe80::2"])
    );
    let t = run(&mut g, "link show dev b0", false).unwrap().text;
    assert!(t.contains(" ns_ip6_target fd00::1,fe80::2 "), "{t}");
    let proc_text = run(&mut g, "bond show b0", false).unwrap().text;
    assert!(
        proc_text.contains("NS IPv6 target/s (xx::xx form): fd00::1, fe80::2\n"),
        "{proc_text}"
    );
}

fn run(g: &mut Graph, l: &str) -> Result<Output, CmdError> {
    apply(
        g,
        Instant::ZERO,
        &parse(&words(l)).unwrap(),
        Opts::default(),
    )
}

fn shown(g: &mut Graph) -> String {
    let o = Opts {
        json: true,
        details: true,
        stats: false,
    };
    let mut s = String::new();
    for l in ["link show", "bridge link show", "bridge fdb show"] {
        s += &apply(g, Instant::ZERO, &parse(&words(l)).unwrap(), o)
            .unwrap()
            .text;
    }
    s
}

#[test]
fn a_removed_devices_id_never_names_the_next_one() {
    let mut g = Graph::new();
    run(&mut g, "link add m0 type nlmon").unwrap();
    let old = g.by_name("m0").unwrap();
    run(&mut g, "link del m0").unwrap();
    run(&mut g, "link add m1 type nlmon").unwrap();
    let new = g.by_name("m1").unwrap();
    assert_ne!(old, new, "the slot was reused under the same id");
    assert!(
        g.get(old).is_none(),
        "the stale id names {}",
        g.iface(new).name
    );
    assert_eq!(g.get(new).unwrap().name, "m1");
}

#[test]
fn link_set_is_checked_whole_before_anything_changes() {
    let mut g = Graph::new();
    for l in [
        "link add br0 type bridge stp_state 1",
        "link add b1 type bond mode active-backup",
        "link add d0 type dummy",
        "link add d1 type dummy",
        "link set d1 master br0",
    ] {
        run(&mut g, l).unwrap();
    }
    let before = shown(&mut g);
    // A port state is the kernel's STP's (EBUSY): neither the master,
    // the MTU nor the cost given with it may stick.
    for l in [
        "link set d0 master br0 mtu 9000 type bridge_slave cost 7 state 3",
        "link set d1 mtu 9000 up type bridge_slave cost 7 learning off state 3",
        "link set br0 mtu 9000 type bridge forward_delay 100",
        "link set d0 master b1 type bridge_slave cost 7",
    ] {
        let e = run(&mut g, l).unwrap_err();
        assert_eq!(
            shown(&mut g),
            before,
            "\"{l}\" failed ({e}) and changed the graph"
        );
    }
    // As do_setlink does, master first: the port options apply to the new port.
    run(&mut g, "link set d0 master br0 type bridge_slave cost 7").unwrap();
    let p = shown(&mut g);
    assert!(p.contains("\"cost\":7"), "{p}");
}

#[test]
fn link_commands_return_the_host_side_as_effects() {
    let mut g = Graph::new();
    let o = run(
        &mut g,
        "link add v1 netns n1 type veth peer name v2 netns n2",
    )
    .unwrap();
    let (v1, v2) = (g.by_name("v1").unwrap(), g.by_name("v2").unwrap());
    assert_eq!(
        o.effects,
        [
            Effect::Created(v1),
            Effect::Created(v2),
            Effect::Netns(v1, "n1".into()),
            Effect::Netns(v2, "n2".into()),
        ]
    );
    let o = run(&mut g, "link set v1 up mtu 1400 address 02:00:00:00:00:01").unwrap();
    assert_eq!(
        o.effects,
        [
            Effect::Admin(v1, true),
            Effect::Mtu(v1, 1400),
            Effect::Address(v1, "02:00:00:00:00:01".parse().unwrap()),
        ]
    );
    let o = run(&mut g, "link del v1").unwrap();
    assert_eq!(
        o.effects,
        [Effect::Removed(v2, None), Effect::Removed(v1, None)]
    );
    assert!(run(&mut g, "link set v1 up")
        .unwrap_err()
        .to_string()
        .contains("v1"));
}

#[test]
fn an_unknown_word_suggests_the_nearest_known_one() {
    assert!(
        parse_err("lnk show").contains("did you mean \"link\""),
        "{}",
        parse_err("lnk show")
    );
    let e = parse_err("link add br0 type bridge stp_stat 1");
    assert!(e.contains("did you mean \"stp_state\""), "{e}");
    let e = parse_err("link add br0 type brige");
    assert!(e.contains("\"bridge\""), "{e}");
    // Nothing near: no guess.
    assert!(!parse_err("frobnicate").contains("did you mean"));
}

#[test]
fn the_bridge_options_an_error_lists_are_the_parsers() {
    let list = super::link::BRIDGE_OPTS.split(": ").nth(1).unwrap();
    for w in list.split(", ") {
        let l = format!("link add b type bridge {w} 1");
        if let Err(e) = parse(&words(&l)) {
            assert!(!e.to_string().contains("unknown argument"), "{l}: {e}");
        }
    }
}

#[test]
fn ids_are_never_reused_even_past_a_slots_generations() {
    let mut g = Graph::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5000 {
        run(&mut g, "link add m0 type nlmon").unwrap();
        let id = g.by_name("m0").unwrap();
        assert!(seen.insert(id), "{id:?} given twice");
        run(&mut g, "link del m0").unwrap();
    }
}

#[test]
fn a_rename_needs_the_device_down_and_a_free_name() {
    let mut g = Graph::new();
    run(&mut g, "link add br0 type bridge").unwrap();
    run(&mut g, "link add d0 type dummy").unwrap();
    let id = g.by_name("br0").unwrap();
    run(&mut g, "link set br0 up").unwrap();
    let e = run(&mut g, "link set br0 name br1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("EBUSY"), "{e}");
    run(&mut g, "link set br0 down").unwrap();
    let e = run(&mut g, "link set br0 name d0").unwrap_err().to_string();
    assert!(e.contains("EEXIST"), "{e}");
    let e = parse(&words("link set br0 name a/b"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a valid interface name"), "{e}");
    // Nothing of a refused command was applied.
    assert!(!g.iface(id).admin_up);
    let out = run(&mut g, "link set br0 name br1 mtu 1400").unwrap();
    assert_eq!(g.by_name("br1"), Some(id));
    assert!(g.by_name("br0").is_none());
    assert_eq!(g.iface(id).mtu, 1400);
    assert!(
        out.effects.contains(&Effect::Name(id, "br1".into())),
        "{:?}",
        out.effects
    );
}

#[test]
fn a_vlan_takes_no_more_than_its_lowers_mtu() {
    let mut g = Graph::new();
    run(&mut g, "link add d0 type dummy").unwrap();
    run(&mut g, "link add link d0 name d0.10 type vlan id 10").unwrap();
    let e = run(&mut g, "link set d0.10 mtu 1501")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ERANGE"), "{e}");
    run(&mut g, "link set d0.10 mtu 1400").unwrap();
    assert_eq!(g.iface(g.by_name("d0.10").unwrap()).mtu, 1400);
}

/// What the kernel refuses, refused the same way, the graph untouched.
#[test]
fn the_kernels_refusals_table() {
    let mut g = Graph::new();
    for l in [
        "link add br0 type bridge",
        "link add d0 type dummy",
        "link add link br0 name br0.10 type vlan id 10",
        "link add bond0 type bond",
        "link add link bond0 name mv0 type macvlan mode bridge",
        "link add link br0 name mvb type macvlan mode bridge",
    ] {
        run(&mut g, l).unwrap();
    }
    let before = shown(&mut g);
    for (line, errno) in [
        // A VLAN or macvlan of br0 as a port of br0
        // (`__netdev_upper_dev_link`; the macvlan case and the addresses
        // below checked on Linux 6.18).
        ("link set br0.10 master br0", "EBUSY"),
        ("link set mvb master br0", "EBUSY"),
        // A macvlan of bond0 as a member of bond0.
        ("link set mv0 master bond0", "EBUSY"),
        // `eth_validate_addr`.
        ("link set d0 address ff:ff:ff:ff:ff:ff", "EADDRNOTAVAIL"),
        ("link set br0 address 00:00:00:00:00:00", "EADDRNOTAVAIL"),
        ("link set d0 address 01:00:5e:00:00:01", "EADDRNOTAVAIL"),
        (
            "link add d1 address 33:33:00:00:00:01 type dummy",
            "EADDRNOTAVAIL",
        ),
        (
            "link add v1 type veth peer name v2 address 01:80:c2:00:00:00",
            "EADDRNOTAVAIL",
        ),
        ("link set d0 name br0", "EEXIST"),
    ] {
        let e = match parse(&words(line)) {
            Ok(c) => apply(&mut g, Instant::ZERO, &c, Opts::default())
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(errno), "{line}: {e}");
        assert_eq!(shown(&mut g), before, "{line} changed something");
    }
    // Names as `dev_valid_name` checks them.
    for bad in [
        "a\0b",
        "a/b",
        "a:b",
        "a b",
        ".",
        "..",
        "sixteen-chars-xx",
        "",
    ] {
        let w = vec![
            "link".into(),
            "add".into(),
            bad.to_string(),
            "type".into(),
            "dummy".into(),
        ];
        let e = parse(&w).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("valid interface name") || e.contains("no device name"),
            "{bad:?}: {e}"
        );
    }
}

/// Every device kind, with options away from their defaults, port options,
/// VLANs, entries and mstpd's settings: what `save` must carry.
const EVERY_KIND: &[&str] = &[
    "link add gone type dummy",
    "link add br0 address 02:00:00:00:01:00 type bridge stp_state 1 priority 4096 forward_delay 400 hello_time 100 max_age 600 ageing_time 1000 group_fwd_mask 0x4000",
    "link add br1 type bridge vlan_filtering 1 vlan_default_pvid 5 vlan_protocol 802.1ad fdb_max_learned 100",
    "link add br2 type bridge mcast_querier 1 mcast_router 2 mcast_last_member_count 3 mcast_query_interval 5000 mcast_hash_max 1024",
    "link del gone",
    "link add bond0 type bond mode 802.3ad lacp_rate fast miimon 50 xmit_hash_policy layer3+4 ad_actor_sys_prio 100 ad_select count min_links 1",
    "link add bond1 address 02:00:00:00:02:01 type bond mode active-backup miimon 0 arp_interval 100 arp_ip_target 198.18.0.1,198.18.0.2 ns_ip6_target fd00::9 arp_validate all primary p6 num_grat_arp 3 fail_over_mac active",
    "link add team0 type team config '{\"runner\": {\"name\": \"lacp\", \"fast_rate\": true}, \"ports\": {\"p7\": {\"lacp_prio\": 10}}}'",
    "link add team1 type team config '{\"runner\": {\"name\": \"activebackup\"}, \"link_watch\": {\"name\": \"arp_ping\", \"interval\": 100, \"missed_max\": 2, \"source_host\": \"198.18.9.1\", \"target_host\": \"198.18.9.9\"}}'",
    "link add vx0 type vxlan id 100 local 198.18.0.1 dstport 4789 srcport 1000 2000 ttl 10 tos 10 df set proxy l2miss nolearning ageing 30 maxaddress 50 noudpcsum",
    "link add vx1 type vxlan id 200 remote 198.18.0.9 dstport 8472",
    "link add p1 type netdevsim speed 1000",
    "link add p2 type netdevsim speed 10000 duplex half",
    "link add p3 type netdevsim",
    "link add p4 type netdevsim",
    "link add p5 type netdevsim drop 1.5% corrupt 0.1% delay 5ms",
    "link add p6 type netdevsim carrier off",
    "link add p7 mtu 9000 type netdevsim",
    "link add p8 type netdevsim",
    "link add p9 type netdevsim",
    "link add p10 type netdevsim",
    "link add p11 type netdevsim",
    "link add link p9 name mv0 type macvlan mode source",
    "link set mv0 type macvlan macaddr set 02:00:00:00:0a:01 02:00:00:00:0a:02",
    "link add link p11 name mv1 mtu 1400 type macvtap mode passthru nopromisc",
    "link add link p10 name ipv0 type ipvlan mode l2 private",
    "link add link p10 name ipv1 type ipvtap mode l3s",
    "link add link p8 name p8.5 type vlan id 5",
    "link add link p8.5 name p8.5.7 type vlan id 7 protocol 802.1ad",
    "link add ve0 address 02:00:00:00:0b:00 type veth peer name ve1 address 02:00:00:00:0b:01",
    "link add d0 mtu 9000 type dummy",
    "link add mon0 type nlmon",
    "link set p1 master br0",
    "link set p2 master br0",
    "link set ve0 master br2",
    "link set p3 master br1",
    "link set p4 master br1",
    "link set p5 master bond0",
    "link set p6 master bond1",
    "link set p7 master team0",
    "link set vx0 master br2",
    "bridge link set dev p1 cost 7 priority 9 learning off hairpin on isolated on guard on",
    "bridge link set dev p2 flood off mcast_flood off bcast_flood off root_block on fastleave on mcast_router 0",
    "bridge vlan add dev p3 vid 10-20",
    "bridge vlan add dev p3 vid 30 pvid untagged",
    "bridge vlan del dev p4 vid 5",
    "bridge vlan add dev p4 vid 7 untagged",
    "bridge vlan add dev br1 vid 40 self",
    "bridge fdb add 02:00:00:00:0c:01 dev p1 master static",
    "bridge fdb add 02:00:00:00:0c:02 dev p3 vlan 10 master static sticky",
    "bridge fdb add 02:00:00:00:0c:03 dev br0 self permanent",
    "bridge fdb add 02:00:00:00:0d:01 dev vx0 dst 198.18.0.7 self permanent",
    "bridge fdb add 00:00:00:00:00:00 dev vx0 dst 198.18.0.11 self permanent",
    "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.8 port 4790 vni 300 self permanent",
    "bridge fdb append 00:00:00:00:00:00 dev vx1 dst 198.18.0.10 self permanent",
    "neigh add 198.18.5.5 lladdr 02:00:00:00:0e:01 dev vx0 nud permanent",
    "mstpctl addbridge br2",
    "mstpctl setmaxage br2 10",
    "mstpctl settreeprio br2 0 4",
    "mstpctl setportadminedge br2 ve0 yes",
    "mstpctl setportpathcost br2 vx0 2000",
    "mstpctl setportp2p br2 vx0 no",
    "link set br0 up",
    "link set p1 up",
    "link set p2 up",
    "link set bond0 up",
    "link set team0 up",
    "link set ve0 up",
    "link set mv0 up",
    "link set p8.5.7 up",
];

/// Everything `show` says of a graph, ifindexes left out (a deleted device
/// leaves a gap the rebuilt graph does not have).
fn everything_shown(g: &mut Graph) -> String {
    let o = Opts {
        json: true,
        details: true,
        stats: false,
    };
    let mut s = String::new();
    for l in [
        "link show",
        "bridge link show",
        "bridge vlan show",
        "bridge fdb show",
        "neigh show dev vx0",
        "teamctl team0 config dump",
        "teamctl team1 config dump",
        "bond show",
        "mstpctl showbridge br2",
        "mstpctl showportdetail br2",
    ] {
        let text = apply(g, Instant::ZERO, &parse(&words(l)).unwrap(), o)
            .unwrap_or_else(|e| panic!("{l}: {e}"))
            .text;
        let mut v: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => serde_json::Value::String(text),
        };
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.remove("ifindex");
                    m.values_mut().for_each(strip);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut v);
        s += &format!("== {l}\n{v:#}\n");
    }
    s
}

#[test]
fn save_rebuilds_every_device_kind() {
    let mut g = Graph::new();
    for l in EVERY_KIND {
        run(&mut g, l).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    let file = run(&mut g, "save").unwrap().text;
    let mut h = Graph::new();
    h.mac_seed = 99;
    for l in file.lines() {
        let w = batch_words(l).unwrap();
        if w.is_empty() {
            continue;
        }
        apply(
            &mut h,
            Instant::ZERO,
            &parse(&w).unwrap_or_else(|e| panic!("{l}: {e}")),
            Opts::default(),
        )
        .unwrap_or_else(|e| panic!("{l}: {e}\n{file}"));
    }
    let (a, b) = (everything_shown(&mut g), everything_shown(&mut h));
    if a != b {
        let _ = std::fs::write(std::env::temp_dir().join("save-a.txt"), &a);
        let _ = std::fs::write(std::env::temp_dir().join("save-b.txt"), &b);
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        let ctx = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(8))
                .take(12)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!("the rebuilt graph differs at line {first}:\n--- saved\n{}\n--- rebuilt\n{}\n--- file\n{file}", ctx(&a), ctx(&b));
    }
    // Saving the rebuilt graph gives the same file.
    assert_eq!(run(&mut h, "save").unwrap().text, file);
    // Something of each kind is in the file.
    for w in [
        "type bridge",
        "type bond",
        "type team",
        "type vxlan",
        "type vlan",
        "type macvlan",
        "type macvtap",
        "type ipvlan",
        "type ipvtap",
        "type veth",
        "type dummy",
        "type nlmon",
        "type netdevsim",
        "bridge vlan",
        "bridge fdb",
        "neigh add",
        "mstpctl",
        "macaddr set",
        " up",
    ] {
        assert!(file.contains(w), "{w} missing:\n{file}");
    }
}

/// `br_stp_recalculate_bridge_id`, as `ip` showed it on 6.18: a bridge
/// takes the smallest address of its ports as they join, change and
/// leave, and keeps one it was given.
#[test]
fn a_bridge_follows_its_smallest_port_address_unless_one_was_set() {
    let mut g = Graph::new();
    let mac = |g: &mut Graph, d: &str| {
        let out = apply(
            g,
            Instant::ZERO,
            &parse(&words(&format!("link show {d}"))).unwrap(),
            Opts {
                json: true,
                ..Opts::default()
            },
        )
        .unwrap()
        .text;
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["address"].as_str().unwrap().to_string()
    };
    for l in [
        "link add br0 type bridge stp_state 1",
        "link add va address 02:00:00:00:00:05 type netdevsim",
        "link add vc address 0a:00:00:00:00:01 type netdevsim",
    ] {
        run(&mut g, l).unwrap();
    }
    let random = mac(&mut g, "br0");
    run(&mut g, "link set vc master br0").unwrap();
    assert_eq!(
        mac(&mut g, "br0"),
        "0a:00:00:00:00:01",
        "the first port's, whatever the bridge had ({random})"
    );
    run(&mut g, "link set va master br0").unwrap();
    assert_eq!(mac(&mut g, "br0"), "02:00:00:00:00:05");
    // The spanning tree's bridge id follows.
    let stp = apply(
        &mut g,
        Instant::ZERO,
        &parse(&words("link show br0")).unwrap(),
        Opts {
            json: true,
            details: true,
            stats: false,
        },
    )
    .unwrap()
    .text;
    assert!(stp.contains("\"bridge_id\":\"8000.2:0:0:0:0:5\""), "{stp}");
    run(&mut g, "link set va address 02:00:00:00:00:01").unwrap();
    assert_eq!(
        mac(&mut g, "br0"),
        "02:00:00:00:00:01",
        "a port's new address"
    );
    run(&mut g, "link set va nomaster").unwrap();
    assert_eq!(mac(&mut g, "br0"), "0a:00:00:00:00:01", "the smallest left");
    // Deviation: the last port leaving keeps the address (the kernel's
    // becomes 00:00:00:00:00:00, which a TAP cannot take).
    run(&mut g, "link set vc nomaster").unwrap();
    assert_eq!(mac(&mut g, "br0"), "0a:00:00:00:00:01");
    // Given an address, the bridge keeps it.
    run(&mut g, "link set br0 address 02:00:00:00:00:aa").unwrap();
    run(&mut g, "link set va master br0").unwrap();
    assert_eq!(mac(&mut g, "br0"), "02:00:00:00:00:aa");
    run(&mut g, "link add br1 address 02:00:00:00:00:bb type bridge").unwrap();
    run(&mut g, "link set vc master br1").unwrap();
    assert_eq!(mac(&mut g, "br1"), "02:00:00:00:00:bb");
}

#[test]
fn an_fdb_dump_in_chunks_is_the_whole_answer_and_skips_what_went() {
    let mut g = Graph::new();
    for l in [
        "link add br0 type bridge vlan_filtering 1",
        "link add p1 type dummy",
        "link add p2 type dummy",
        "link set p1 master br0",
        "link set p2 master br0",
        "bridge vlan add dev p2 vid 10",
        "link add vx0 type vxlan id 7 dstport 4789 local 198.18.0.1",
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.2",
        "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.18.0.3",
        "bridge fdb add 02:00:00:00:00:09 dev vx0 dst 198.18.0.4",
    ] {
        run(&mut g, l).unwrap();
    }
    for i in 0..300u32 {
        let [_, a, b, c] = i.to_be_bytes();
        let (dev, vlan) = if i % 3 == 0 {
            ("p2", " vlan 10")
        } else {
            ("p1", "")
        };
        run(
            &mut g,
            &format!(
                "bridge fdb add 02:{a:02x}:{b:02x}:{c:02x}:00:01 dev {dev} master static{vlan}"
            ),
        )
        .unwrap();
    }
    let now = Instant::ZERO;
    for (json, stats) in [(false, false), (true, false), (true, true), (false, true)] {
        let opts = Opts {
            json,
            stats,
            details: false,
        };
        let whole = bridge::fdb_show(&g, now, None, None, opts).unwrap();
        assert!(whole.lines().count() > 1 || json, "{whole}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&whole).unwrap();
            // 300 static, the ports' and the bridge's own, and 3 remotes.
            assert!(v.as_array().unwrap().len() > 303, "{whole}");
        }
        for chunk in [1, 7, 1000] {
            let mut d = FdbDump::new(&g, None, None, opts).unwrap();
            let mut joined = String::new();
            let mut pieces = 0;
            while let Some(s) = d.next_chunk(&g, now, chunk) {
                joined.push_str(&s);
                pieces += 1;
            }
            assert_eq!(joined, whole, "chunks of {chunk}, json {json}");
            assert!(
                pieces > 1 || chunk == 1000,
                "chunks of {chunk}: {pieces} pieces"
            );
        }
    }
    // An entry that goes during the dump is left out; an empty dump is
    // still an answer.
    let opts = Opts {
        json: true,
        ..Opts::default()
    };
    let mut d = FdbDump::new(&g, Some("p2"), None, opts).unwrap();
    let first = d.next_chunk(&g, now, 1).unwrap();
    run(
        &mut g,
        "bridge fdb del 02:00:00:03:00:01 dev p2 master vlan 10",
    )
    .unwrap();
    let mut rest = String::new();
    while let Some(s) = d.next_chunk(&g, now, 5) {
        rest.push_str(&s);
    }
    let v: serde_json::Value = serde_json::from_str(&(first + &rest)).unwrap();
    let macs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["mac"].as_str().unwrap())
        .collect();
    assert!(macs.contains(&"02:00:00:06:00:01"), "{v}");
    assert!(!macs.contains(&"02:00:00:03:00:01"), "{v}");
    let mut d = FdbDump::new(&g, None, Some("br0"), opts).unwrap();
    assert!(d.remaining() > 300);
    run(&mut g, "link del br0").unwrap();
    let mut all = String::new();
    while let Some(s) = d.next_chunk(&g, now, 64) {
        all.push_str(&s);
    }
    assert_eq!(all, "[]\n");
}

/// teamd's socket messages and methods (`teamd_usock.c`, `teamd_ctl.c`).
#[test]
fn teamd_requests_read_and_replies_written_as_teamd_does() {
    use super::team::{teamd_method, usock_reply, usock_request, TeamctlCmd, TeamdError};
    // Arguments escaped as libteamdctl's __strencode writes them.
    let (m, a) = usock_request("REQUEST\nPortConfigUpdate\neth1\n{\"a\":\\n\"b\\\\c\"}\n").unwrap();
    assert_eq!(m, "PortConfigUpdate");
    assert_eq!(a, ["eth1", "{\"a\":\n\"b\\c\"}"]);
    assert_eq!(
        teamd_method(&m, &a),
        Some(Ok(TeamctlCmd::PortConfigUpdate(a[0].clone(), a[1].clone())))
    );
    // Not a request, a corrupt escape: ignored, as teamd ignores them.
    assert_eq!(usock_request("REPLY_SUCCESS\nx\n"), None);
    assert_eq!(usock_request("REQUEST\nPortAdd\nbad\\q\n"), None);
    // No such method: none (teamd answers nothing); too few arguments:
    // InvalidArgs.
    assert_eq!(teamd_method("NoSuchMethod", &[]), None);
    let invalid = teamd_method("StateItemValueSet", &["runner.active_port".into()]);
    assert_eq!(
        invalid.map(|r| r.map_err(|e| e.code)),
        Some(Err("InvalidArgs"))
    );
    assert_eq!(usock_reply(Ok("{}")), "REPLY_SUCCESS\n{}");
    assert_eq!(
        usock_reply(Err(TeamdError {
            code: "NoSuchDev",
            message: "No such device."
        })),
        "REPLY_ERROR\nNoSuchDev\nNo such device.\n"
    );
    // ZeroMQ's arguments are not escaped.
    assert_eq!(
        super::team::zmq_request("REQUEST\nStateItemValueGet\na\\b\n"),
        Some(("StateItemValueGet".into(), vec!["a\\b".into()]))
    );
}

/// teamd's `-Z ADDRESS` as the team option `zmq`: kept, saved, in the
/// state's setup; endpoints patchbay cannot bind refused by name.
#[test]
fn a_teams_zmq_endpoint_is_an_option() {
    let mut g = Graph::new();
    run(&mut g, "link add t0 type team zmq tcp://198.18.0.1:5555").unwrap();
    let saved = run(&mut g, "save").unwrap().text;
    assert!(
        saved.contains(" type team zmq tcp://198.18.0.1:5555\n"),
        "{saved}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&run(&mut g, "teamctl t0 state dump").unwrap().text).unwrap();
    assert_eq!(state["setup"]["zmq_enabled"], true);
    assert_eq!(state["setup"]["dbus_enabled"], false);
    for (bad, why) in [
        ("tcp://198.18.0.1", "no port"),
        ("tcp://team0:5555", "not an IP address"),
        ("tcp://198.18.0.1:0", "not a port"),
        (
            "pgm://198.18.0.1:5555",
            "an endpoint patchbay does not serve",
        ),
    ] {
        let e = parse(&words(&format!("link add t1 type team zmq {bad}"))).unwrap_err();
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    run(&mut g, "link add t2 type team").unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&run(&mut g, "teamctl t2 state dump").unwrap().text).unwrap();
    assert_eq!(state["setup"]["zmq_enabled"], false);
}
