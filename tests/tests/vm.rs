//! README's VM quick start, done (root; QEMU, a Debian kernel and a static
//! busybox; CI rules as in netns.rs): a QEMU guest whose own TAP is a port
//! of a patchbay bridge reaches a host on the same bridge. The guest is
//! the machine's kernel with an initramfs made here (busybox, the
//! virtio-net modules, an init that pings and powers off), booted with
//! `-accel tcg`.

use patchbay_tests::{lab, pb_json, require};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const GUEST_MAC: &str = "52:54:00:90:00:02";

/// The newest kernel in /boot whose modules are installed.
fn kernel() -> Option<(PathBuf, PathBuf)> {
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir("/boot")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let ver = name.strip_prefix("vmlinuz-")?;
            let modules = PathBuf::from("/lib/modules").join(ver);
            modules
                .join("modules.dep")
                .exists()
                .then(|| (e.path(), modules))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Whether an ELF file asks for a dynamic loader (PT_INTERP).
fn is_dynamic(elf: &[u8]) -> bool {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, n) = (u16_at(0x36), u16_at(0x38));
    (0..n).any(|i| {
        let o = phoff + i * size;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}

/// The modules virtio-net needs, in load order (dependencies first), from
/// modules.dep.
fn virtio_modules(dir: &Path) -> Vec<PathBuf> {
    let dep = std::fs::read_to_string(dir.join("modules.dep")).unwrap();
    let deps = |m: &str| -> Vec<String> {
        let line = dep
            .lines()
            .find(|l| l.split(':').next().is_some_and(|p| p.ends_with(m)))
            .unwrap_or_else(|| panic!("{m} is not in {}", dir.display()));
        let (me, rest) = line.split_once(':').unwrap();
        let mut v: Vec<String> = rest.split_whitespace().rev().map(String::from).collect();
        v.push(me.to_string());
        v
    };
    let mut order: Vec<String> = Vec::new();
    for m in ["/virtio_pci.ko", "/virtio_net.ko"] {
        for d in deps(m) {
            if !order.contains(&d) {
                order.push(d);
            }
        }
    }
    order.into_iter().map(|p| dir.join(p)).collect()
}

/// An initramfs (cpio "newc", uncompressed): `files` are (path, mode,
/// contents); a device node for /dev/console is added.
fn cpio(files: &[(String, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut entry = |name: &str, mode: u32, rdev: (u32, u32), data: &[u8], ino: u32| {
        let h = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0, 0, 1, 0, data.len(), 0, 0, rdev.0, rdev.1, name.len() + 1, 0
        );
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    let mut ino = 1;
    for d in ["bin", "dev", "proc", "sys", "lib", "lib/modules"] {
        entry(d, 0o040755, (0, 0), &[], ino);
        ino += 1;
    }
    entry("dev/console", 0o020600, (5, 1), &[], ino);
    for (name, mode, data) in files {
        ino += 1;
        entry(name, *mode, (0, 0), data, ino);
    }
    entry("TRAILER!!!", 0, (0, 0), &[], 0);
    out
}

#[test]
fn a_qemu_guest_on_a_patchbay_bridge_reaches_a_host() {
    if !require(&["qemu-system-x86_64"], "qemu-system-x86")
        || !require(&["busybox"], "busybox-static")
    {
        return;
    }
    let Some((vmlinuz, modules)) = kernel() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true and no kernel with modules in /boot: .ci/test installs linux-image-amd64"
            );
        }
        patchbay_tests::skipped("no kernel in /boot (apt-get install linux-image-amd64)");
        return;
    };
    let busybox = std::fs::read(patchbay_lab::which("busybox").unwrap()).unwrap();
    if is_dynamic(&busybox) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and busybox is not static: .ci/test installs busybox-static");
        }
        patchbay_tests::skipped("busybox is not the static one (apt-get install busybox-static)");
        return;
    }
    let Some(mut lab) = lab("vm") else { return };
    let (sw, h) = (lab.netns("sw").unwrap(), lab.netns("h").unwrap());
    lab.ip(&[
        "link", "add", "hp", "netns", &sw, "type", "veth", "peer", "name", "eth0", "netns", &h,
    ])
    .unwrap();
    lab.host_addr(&h, "eth0", "198.18.90.1/24").unwrap();
    lab.ip(&["-n", &sw, "link", "set", "hp", "up"]).unwrap();

    // The guest: busybox, the modules, an init that waits for eth0 and
    // pings the host until it answers (the port may not be there yet).
    let mut files = vec![("bin/busybox".to_string(), 0o100755, busybox)];
    let mut loads = String::new();
    for m in virtio_modules(&modules) {
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".ko"), "{name}: a compressed module");
        loads += &format!("insmod /lib/modules/{name} || echo \"insmod {name} failed\"\n");
        files.push((
            format!("lib/modules/{name}"),
            0o100644,
            std::fs::read(&m).unwrap(),
        ));
    }
    let init = format!(
        "#!/bin/busybox sh\n/bin/busybox --install -s /bin\nmount -t proc proc /proc\nmount -t sysfs sys /sys\n{loads}\
         for i in $(seq 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.2; done\n\
         ip link set eth0 up\nip addr add 198.18.90.2/24 dev eth0\n\
         ok=0\nfor i in $(seq 30); do if ping -c 1 -W 1 198.18.90.1; then ok=1; break; fi; done\n\
         if [ $ok = 1 ]; then echo GUEST-PING-OK; else echo GUEST-PING-FAIL; fi\nsleep 2\npoweroff -f\n"
    );
    files.push(("init".to_string(), 0o100755, init.into_bytes()));
    let dir = std::env::temp_dir().join(format!("pb-vm-{}", lab.tag));
    std::fs::create_dir_all(&dir).unwrap();
    let (initrd, console) = (dir.join("initrd.cpio"), dir.join("console.log"));
    std::fs::write(&initrd, cpio(&files)).unwrap();

    lab.start_daemon_in(Some(&sw), &[]).unwrap();
    let tap = lab.name("vm1");
    let mut qemu = lab
        .spawn(
            &sw,
            &[
                "qemu-system-x86_64",
                "-accel",
                "tcg",
                "-m",
                "256",
                "-display",
                "none",
                "-monitor",
                "none",
                "-no-reboot",
                "-serial",
                &format!("file:{}", console.display()),
                "-kernel",
                vmlinuz.to_str().unwrap(),
                "-initrd",
                initrd.to_str().unwrap(),
                "-append",
                "console=ttyS0 quiet panic=-1",
                "-netdev",
                &format!("tap,id=n0,ifname={tap},script=no,downscript=no"),
                "-device",
                &format!("virtio-net-pci,netdev=n0,mac={GUEST_MAC}"),
            ],
        )
        .unwrap();
    // README's steps: QEMU's TAP up and a port of the bridge.
    let t0 = Instant::now();
    while lab.ip(&["-n", &sw, "link", "show", &tap]).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "QEMU made no TAP {tap}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    lab.ip(&["-n", &sw, "link", "set", &tap, "up"]).unwrap();
    for c in [
        "link add br0 type bridge",
        "link set hp master br0",
        &format!("link set {tap} master br0"),
        "link set br0 up",
    ] {
        lab.pb(&c.split_whitespace().collect::<Vec<_>>()).unwrap();
    }
    // The bridge learns the guest's address on QEMU's TAP while it runs.
    let mut learned = false;
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = qemu.try_wait().unwrap() {
            break s;
        }
        if !learned {
            let fdb = pb_json(&lab, &["bridge", "fdb", "show", "br", "br0"]);
            learned = fdb
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["mac"] == GUEST_MAC && e["ifname"] == tap.as_str());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "the guest did not finish: {}",
            std::fs::read_to_string(&console).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&console).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "qemu: {status}: {log}");
    assert!(log.contains("GUEST-PING-OK"), "{log}");
    assert!(learned, "br0 never learned {GUEST_MAC} on {tap}");
}
