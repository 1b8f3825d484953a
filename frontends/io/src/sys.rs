//! Interface ioctls on kernel netdevs, by name: index, address, MTU, flags.

use patchbay_core::wire::Mac;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The kernel's index for `name`, if such a netdev exists in this namespace.
pub fn ifindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

pub(crate) fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

/// A socket for interface ioctls. A netdev's name is looked up in the
/// namespace the socket was made in, so one made in another namespace
/// (see [`crate::netns`]) reaches the TAPs moved there without entering it.
#[derive(Debug)]
pub struct Ifctl(OwnedFd);

impl Ifctl {
    /// One in this thread's network namespace.
    pub fn here() -> io::Result<Ifctl> {
        // SAFETY: plain socket(2) call; the fd is owned immediately.
        let fd =
            cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(Ifctl(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ioctl(&self, name: &str, req: libc::c_ulong, r: &mut libc::ifreq) -> io::Result<()> {
        // SAFETY: `r` is a valid ifreq for the whole call; these requests
        // read or write only the ifreq, except SIOCETHTOOL, which also
        // writes the buffer `ifru_data` points to (`link_speed` keeps it
        // alive across the call).
        cvt(unsafe { libc::ioctl(self.0.as_raw_fd(), req as _, r as *mut libc::ifreq) })
            .map(drop)
            .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))
    }

    pub fn mac(&self, name: &str) -> io::Result<Mac> {
        let mut r = ifreq(name)?;
        self.ioctl(name, libc::SIOCGIFHWADDR, &mut r)?;
        // SAFETY: SIOCGIFHWADDR filled the ifru_hwaddr member of the union.
        let sa = unsafe { r.ifr_ifru.ifru_hwaddr };
        let mut m = [0u8; 6];
        for (d, s) in m.iter_mut().zip(sa.sa_data.iter()) {
            *d = *s as u8;
        }
        Ok(Mac(m))
    }

    pub fn set_mac(&self, name: &str, mac: Mac) -> io::Result<()> {
        let mut r = ifreq(name)?;
        // SAFETY: we write the hwaddr member that SIOCSIFHWADDR reads.
        unsafe {
            r.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
            for (d, s) in r.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac.0) {
                *d = s as libc::c_char;
            }
        }
        self.ioctl(name, libc::SIOCSIFHWADDR, &mut r)
    }

    pub fn mtu(&self, name: &str) -> io::Result<u32> {
        let mut r = ifreq(name)?;
        self.ioctl(name, libc::SIOCGIFMTU, &mut r)?;
        // SAFETY: SIOCGIFMTU filled the ifru_mtu member.
        Ok(unsafe { r.ifr_ifru.ifru_mtu } as u32)
    }

    pub fn set_mtu(&self, name: &str, mtu: u32) -> io::Result<()> {
        let mut r = ifreq(name)?;
        r.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        self.ioctl(name, libc::SIOCSIFMTU, &mut r)
    }

    fn raw_flags(&self, name: &str) -> io::Result<libc::c_short> {
        let mut r = ifreq(name)?;
        self.ioctl(name, libc::SIOCGIFFLAGS, &mut r)?;
        // SAFETY: SIOCGIFFLAGS filled the ifru_flags member.
        Ok(unsafe { r.ifr_ifru.ifru_flags })
    }

    fn set_raw_flags(&self, name: &str, f: libc::c_short) -> io::Result<()> {
        let mut r = ifreq(name)?;
        r.ifr_ifru.ifru_flags = f;
        self.ioctl(name, libc::SIOCSIFFLAGS, &mut r)
    }

    /// (IFF_UP, IFF_RUNNING = carrier).
    pub fn flags(&self, name: &str) -> io::Result<(bool, bool)> {
        let f = i32::from(self.raw_flags(name)?);
        Ok((f & libc::IFF_UP != 0, f & libc::IFF_RUNNING != 0))
    }

    pub fn set_up(&self, name: &str, up: bool) -> io::Result<()> {
        let f = self.raw_flags(name)?;
        let bit = libc::IFF_UP as libc::c_short;
        self.set_raw_flags(name, if up { f | bit } else { f & !bit })
    }

    /// Sets IFF_NOARP (a dummy's TAP: the kernel's dummy device does not ARP).
    pub fn set_noarp(&self, name: &str) -> io::Result<()> {
        let f = self.raw_flags(name)?;
        self.set_raw_flags(name, f | libc::IFF_NOARP as libc::c_short)
    }

    /// SIOCSIFNAME: the kernel renames only a device that is down.
    pub fn rename(&self, name: &str, new: &str) -> io::Result<()> {
        let mut r = ifreq(name)?;
        let n = ifreq(new)?;
        r.ifr_ifru.ifru_newname = n.ifr_name;
        self.ioctl(name, libc::SIOCSIFNAME, &mut r)
    }
}

fn ioctl(name: &str, req: libc::c_ulong, r: &mut libc::ifreq) -> io::Result<()> {
    Ifctl::here()?.ioctl(name, req, r)
}

pub fn mac(name: &str) -> io::Result<Mac> {
    Ifctl::here()?.mac(name)
}

pub fn set_mac(name: &str, mac: Mac) -> io::Result<()> {
    Ifctl::here()?.set_mac(name, mac)
}

pub fn mtu(name: &str) -> io::Result<u32> {
    Ifctl::here()?.mtu(name)
}

/// The kernel's `struct ethtool_cmd` (ETHTOOL_GSET), which every driver
/// with link settings still answers.
#[repr(C)]
#[derive(Default)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

const ETHTOOL_GSET: u32 = 0x0000_0001;

/// Link speed in Mbit/s (0 = unknown) and full duplex, as `ethtool` shows
/// them: what mstpd reads for auto path cost and point-to-point. A device
/// without link settings reports unknown speed and full duplex.
pub fn link_speed(name: &str) -> (u32, bool) {
    let mut cmd = EthtoolCmd {
        cmd: ETHTOOL_GSET,
        ..EthtoolCmd::default()
    };
    let Ok(mut r) = ifreq(name) else {
        return (0, true);
    };
    r.ifr_ifru.ifru_data = (&mut cmd as *mut EthtoolCmd).cast();
    if ioctl(name, libc::SIOCETHTOOL, &mut r).is_err() {
        return (0, true);
    }
    let speed = (u32::from(cmd.speed_hi) << 16) | u32::from(cmd.speed);
    let speed = if speed == u32::MAX { 0 } else { speed };
    // DUPLEX_HALF 0, DUPLEX_FULL 1, DUPLEX_UNKNOWN 0xff.
    (speed, cmd.duplex != 0)
}

/// A non-blocking rtnetlink socket subscribed to link changes
/// (RTMGRP_LINK): readable whenever a netdev goes up or down or changes
/// carrier in this namespace, so port state follows at once, as mstpd and
/// the kernel bridge see it.
pub fn link_monitor() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    })?;
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = libc::RTMGRP_LINK as u32;
    // SAFETY: `sa` is a valid sockaddr_nl of the size given.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// Reads and discards what the link monitor has queued; returns whether
/// there was anything.
pub fn drain_monitor(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; 8192];
    let mut any = false;
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            // EAGAIN (drained) or ENOBUFS (overrun: re-read everything
            // anyway, which the caller does).
            return any
                || n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS);
        }
        any = true;
    }
}

/// (IFF_UP, IFF_RUNNING = carrier).
pub fn flags(name: &str) -> io::Result<(bool, bool)> {
    Ifctl::here()?.flags(name)
}

pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    Ifctl::here()?.set_mtu(name, mtu)
}

pub fn set_up(name: &str, up: bool) -> io::Result<()> {
    Ifctl::here()?.set_up(name, up)
}

pub(crate) fn set_nonblocking(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let fl = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) }).map(drop)
}

/// Moves netdev `name` into the network namespace `ns` (a name under
/// /run/netns, as `ip netns add` makes), as `ip link set NAME netns NS`
/// does: one RTM_NEWLINK with IFLA_NET_NS_FD, acknowledged.
pub fn move_to_netns(name: &str, ns: &str) -> io::Result<()> {
    let index = ifindex(name).ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("no netdev named {name}"))
    })?;
    let nsfile = std::fs::File::open(format!("/run/netns/{ns}")).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("network namespace {ns}: {e} (create it with 'ip netns add {ns}')"),
        )
    })?;
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    })?;
    // SAFETY: fd is new and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // nlmsghdr (16) + ifinfomsg (16) + rtattr IFLA_NET_NS_FD (4 + 4).
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(&40u32.to_ne_bytes());
    m.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    m.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid
    m.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]); // family, pad, type
    m.extend_from_slice(&(index as i32).to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // change
    m.extend_from_slice(&8u16.to_ne_bytes());
    m.extend_from_slice(&libc::IFLA_NET_NS_FD.to_ne_bytes());
    m.extend_from_slice(&(nsfile.as_raw_fd() as u32).to_ne_bytes());
    // SAFETY: `m` is a live buffer of the length given.
    cvt(unsafe { libc::send(sock.as_raw_fd(), m.as_ptr().cast(), m.len(), 0) as i32 })?;
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is writable for its length.
    let n =
        cvt(unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) as i32 })?;
    // NLMSG_ERROR carries the errno (0: acknowledged) after the header.
    if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == libc::NLMSG_ERROR as u16 {
        let e = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if e != 0 {
            return Err(io::Error::from_raw_os_error(-e));
        }
        return Ok(());
    }
    Err(io::Error::other("no acknowledgement from rtnetlink"))
}

/// Sets IFF_NOARP on a netdev (a dummy's TAP).
pub fn set_noarp(name: &str) -> io::Result<()> {
    Ifctl::here()?.set_noarp(name)
}

/// Sends an IP packet (its header included) on raw socket `fd` to `dst`:
/// the kernel routes it from there.
pub fn send_ip(fd: i32, pkt: &[u8], dst: std::net::IpAddr) -> io::Result<()> {
    let r = match dst {
        std::net::IpAddr::V4(a) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: pkt and sa are live for the call and sized as given.
            unsafe {
                libc::sendto(
                    fd,
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    0,
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        std::net::IpAddr::V6(a) => {
            // SAFETY: an all-zero sockaddr_in6 is valid; fields set below.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr = libc::in6_addr {
                s6_addr: a.octets(),
            };
            // SAFETY: pkt and sa are live for the call and sized as given.
            unsafe {
                libc::sendto(
                    fd,
                    pkt.as_ptr().cast(),
                    pkt.len(),
                    0,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a thread that has entered network namespace `ns` (a name
/// under /run/netns; network namespaces are per thread, so the caller's
/// stays as it was).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<Result<T, String>> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        enter(&file).map_err(|e| format!("setns {path}: {e}"))?;
        Ok(f())
    })
}

/// Moves this thread into the network namespace `file` refers to.
pub fn enter(file: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: setns on a namespace descriptor the caller holds open; it
    // changes only this thread's network namespace.
    cvt(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}

/// 64 random bits from the kernel (getrandom), never 0.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most the buffer's length into it.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    let v = if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        // No entropy call: the time and the pid still tell instances apart.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ (u64::from(std::process::id()) << 32)
    };
    v.max(1)
}
