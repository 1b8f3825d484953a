//! Commands apply whole or not at all, in the graph and on the host, and a
//! removed device's id never names another (root, network namespaces).

use patchbay_lab::Lab;
use patchbay_tests::pb_json;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

/// The MTU patchbay shows for `dev`, and the kernel's for its netdev.
fn mtus(lab: &Lab, dev: &str) -> (u64, u64) {
    let ours = pb_json(lab, &["link", "show", dev])[0]["mtu"]
        .as_u64()
        .unwrap();
    let kernel: Value =
        serde_json::from_str(&lab.ip(&["-j", "link", "show", dev]).unwrap()).unwrap();
    (ours, kernel[0]["mtu"].as_u64().unwrap())
}

#[test]
fn a_refused_command_changes_nothing_in_patchbay_or_the_kernel() {
    let Some(mut lab) = patchbay_tests::lab("ra") else {
        return;
    };
    let a = lab.netns("a").unwrap();
    let p1 = lab.veth_host("p1", &a, "198.18.5.1/24").unwrap();
    lab.start_daemon().unwrap();
    let (br, t1, nosuch) = (lab.name("br"), lab.name("t1"), lab.name("nosuch"));
    for c in [
        format!("tuntap add {t1} mode tap"),
        format!("link add {br} type bridge stp_state 1"),
        format!("link set {p1} master {br}"),
        format!("link set {t1} master {br}"),
    ] {
        lab.pb(&c.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    assert_eq!(mtus(&lab, &p1), (1500, 1500));
    assert_eq!(mtus(&lab, &t1), (1500, 1500));

    // The namespace is missing: refused before the MTU is touched.
    let e = lab
        .pb(&["link", "set", &p1, "mtu", "9000", "netns", &nosuch])
        .unwrap_err();
    assert!(e.contains(&nosuch) && e.contains("ip netns add"), "{e}");
    assert_eq!(mtus(&lab, &p1), (1500, 1500), "a failed command changed p1");
    let e = lab
        .pb(&["link", "set", &t1, "mtu", "1400", "netns", &nosuch])
        .unwrap_err();
    assert!(e.contains(&nosuch), "{e}");
    assert_eq!(mtus(&lab, &t1), (1500, 1500), "a failed command changed t1");

    // In the core: `state` is refused (EBUSY, the kernel's STP owns the
    // states) and the cost and flags given with it are not applied.
    let before = pb_json(&lab, &["-d", "link", "show", &p1]);
    let e = lab
        .pb(&[
            "link",
            "set",
            &p1,
            "type",
            "bridge_slave",
            "cost",
            "7",
            "learning",
            "off",
            "state",
            "3",
        ])
        .unwrap_err();
    assert!(e.contains("EBUSY"), "{e}");
    assert_eq!(pb_json(&lab, &["-d", "link", "show", &p1]), before);

    // The same settings without the refused part reach both sides.
    lab.pb(&["link", "set", &p1, "mtu", "9000"]).unwrap();
    assert_eq!(mtus(&lab, &p1), (9000, 9000));
    lab.pb(&["link", "set", &t1, "mtu", "1400"]).unwrap();
    assert_eq!(mtus(&lab, &t1), (1400, 1400));
    let ns = lab.netns("b").unwrap();
    lab.pb(&["link", "set", &t1, "netns", &ns]).unwrap();
    let moved = lab
        .exec_ok(&ns, &["ip", "-j", "link", "show", &t1])
        .unwrap();
    assert!(moved.contains("\"mtu\":1400"), "{moved}");
}

/// A capture client holds a device; the device is removed and another
/// takes its place. The client must not be fed the new device's frames.
#[test]
fn a_capture_of_a_removed_device_never_sees_the_next_one() {
    let Some(mut lab) = patchbay_tests::lab("rc") else {
        return;
    };
    lab.start_daemon().unwrap();
    let (m0, m1, br) = (lab.name("m0"), lab.name("m1"), lab.name("br"));
    lab.pb(&["link", "add", &m0, "type", "nlmon"]).unwrap();
    lab.pb(&["link", "set", &m0, "up"]).unwrap();
    // A capture client on m0, speaking the control protocol directly.
    let mut s = std::os::unix::net::UnixStream::connect(&lab.socket).unwrap();
    let req = serde_json::json!({"words": [], "capture": m0});
    s.write_all(format!("{req}\n").as_bytes()).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":true"), "{line}");
    let mut header = [0u8; 24];
    r.read_exact(&mut header).unwrap();

    lab.pb(&["link", "del", &m0]).unwrap();
    lab.pb(&["link", "add", &m1, "type", "nlmon"]).unwrap();
    lab.pb(&["link", "set", &m1, "up"]).unwrap();
    // m1 now carries messages: a bridge made and removed.
    lab.pb(&["link", "add", &br, "type", "bridge"]).unwrap();
    lab.pb(&["link", "del", &br]).unwrap();

    // The old client's stream ended with its device, as tcpdump's does
    // when its interface disappears, and it got none of m1's messages.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let r = r.read_to_end(&mut rest);
    assert!(
        r.is_ok(),
        "the capture of the removed {m0} did not end: {r:?}"
    );
    assert!(
        rest.is_empty(),
        "the capture of the removed {m0} got {} bytes of {m1}'s stream",
        rest.len()
    );
}

/// A client that never finishes its request line is answered, told what
/// was wrong and dropped once it passes the bound; the daemon serves on.
#[test]
fn an_endless_request_line_is_refused_and_the_daemon_serves_on() {
    let Some(mut lab) = patchbay_tests::lab("rl") else {
        return;
    };
    lab.start_daemon().unwrap();
    let s = std::os::unix::net::UnixStream::connect(&lab.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let first = serde_json::json!({"words": ["link", "show"]});
        w.write_all(format!("{first}\n").as_bytes()).unwrap();
        // 4 MiB with no newline; the daemon stops reading at its bound, so
        // this write may fail when it hangs up: that is the point.
        let junk = vec![b'x'; 64 << 10];
        for _ in 0..64 {
            if w.write_all(&junk).is_err() {
                break;
            }
        }
    });
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(
        line.contains("\"ok\":true"),
        "the whole line before is answered: {line}"
    );
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(
        line.contains("\"ok\":false") && line.contains("request too long"),
        "{line}"
    );
    let mut rest = Vec::new();
    let end = r.read_to_end(&mut rest);
    assert!(end.is_ok() || rest.is_empty(), "not hung up on: {end:?}");
    writer.join().unwrap();
    // Another client is served as before.
    lab.pb(&["link", "show"]).unwrap();
}

/// Pipelined requests are answered in order, every one of them, also when
/// the client closes its side right after writing; many of them do not
/// hold the daemon (it answers another client meanwhile).
#[test]
fn pipelined_requests_are_answered_in_order_and_all() {
    let Some(mut lab) = patchbay_tests::lab("pl") else {
        return;
    };
    lab.start_daemon().unwrap();
    let (d1, d2) = (lab.name("d1"), lab.name("d2"));
    lab.pb(&["link", "add", &d1, "type", "dummy"]).unwrap();
    lab.pb(&["link", "add", &d2, "type", "dummy"]).unwrap();
    let req =
        |dev: &str| serde_json::json!({"words": ["link", "show", dev], "json": true}).to_string();
    let n = 20_000;
    let mut all = String::new();
    for i in 0..n {
        let dev = match i % 3 {
            0 => d1.as_str(),
            1 => d2.as_str(),
            _ => "nosuch",
        };
        all += &req(dev);
        all.push('\n');
    }
    let mut s = std::os::unix::net::UnixStream::connect(&lab.socket).unwrap();
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            s.write_all(all.as_bytes()).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    // Another client is answered while the flood is being served.
    assert!(lab.pb(&["link", "show", &d1]).is_ok());
    let mut lines = BufReader::new(&mut s).lines();
    for i in 0..n {
        let l = lines
            .next()
            .unwrap_or_else(|| panic!("answer {i} of {n} never came"))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        match i % 3 {
            2 => assert_eq!(v["ok"], false, "answer {i}: {l}"),
            k => {
                let want = if k == 0 { &d1 } else { &d2 };
                assert!(
                    v["out"].as_str().unwrap().contains(want.as_str()),
                    "answer {i}: {l}"
                );
            }
        }
    }
    assert!(lines.next().is_none(), "more answers than requests");
    writer.join().unwrap();
}
