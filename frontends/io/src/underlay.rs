//! The VXLAN underlay in the daemon's network namespace: a UDP socket per
//! destination port receives, IPv4 and IPv6 alike (dual-stack; the kernel
//! demultiplexes by port, patchbay by VNI), and raw sockets send what the
//! core encapsulated, with the outer IP and UDP headers built by the core's
//! etherparse code (`wire::vxlan::encapsulate`) so each flow keeps its own
//! source port, TTL, TOS and DF; the kernel routes it.
//!
//! In bulk: the receiving socket takes UDP GRO (`UDP_GRO`), so a run of a
//! flow's datagrams (a TSO packet another patchbay sent with UDP GSO, or
//! the kernel coalesced) comes up in one read and is split here; a run of
//! a flow's equal-sized datagrams (a TSO packet the core segmented) goes
//! out in one `sendmsg` with `UDP_SEGMENT` through a UDP socket bound to
//! the flow's source port (a bounded pool of them, `GSO_SOCKETS`), so each
//! flow keeps its port and the kernel segments, or carries the run whole
//! across a veth. That path needs the kernel's UDP checksum (GSO refuses
//! a socket without it): the outer checksum is filled there even with
//! `udpcsum` off.

use patchbay_core::vxlan::{Encap, VxlanConfig};
use patchbay_core::wire::vxlan::{encapsulate_into, Outer};
use patchbay_core::wire::Mac;
use patchbay_core::IfId;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `UDP_SEGMENT` and `UDP_GRO` (linux/udp.h; not in libc's glibc set).
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;
/// The most sending sockets kept, one per (local address, source port):
/// past it the pool starts again.
pub const GSO_SOCKETS: usize = 256;
/// The most datagrams one `UDP_SEGMENT` send carries (the kernel's
/// `UDP_MAX_SEGMENTS` is 128), and the most bytes.
pub const GSO_MAX_SEGS: usize = 64;
pub const GSO_MAX_BYTES: usize = 65_000;

/// A socket bound to one flow's source port, with the outer TTL, TOS and
/// DF it was last set to.
#[derive(Debug)]
struct GsoSock {
    fd: OwnedFd,
    ttl: u8,
    tos: u8,
    df: Option<bool>,
}

#[derive(Debug)]
pub struct Underlay {
    pub port: u16,
    pub udp: mio::net::UdpSocket,
    raw: OwnedFd,
    /// The IPv6 sending socket (`IPV6_HDRINCL`), opened on first use.
    raw6: Option<OwnedFd>,
    /// The outer packet being sent (reused; no allocation per datagram).
    buf: Vec<u8>,
    /// VXLAN devices on this port.
    pub devs: Vec<IfId>,
    /// UDP GSO sockets by (local address, source port); `None` where the
    /// port could not be bound (that flow goes out the raw socket).
    gso: HashMap<(Ipv4Addr, u16), Option<GsoSock>>,
}

fn ip_mreqn(group: Ipv4Addr, ifindex: u32) -> libc::ip_mreqn {
    libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(group.octets()),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as i32,
    }
}

fn setsockopt<T>(fd: i32, level: i32, name: i32, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live T of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Underlay {
    /// Binds `0.0.0.0:port` and opens the raw sending socket.
    pub fn open(port: u16) -> io::Result<Underlay> {
        let std = UdpSocket::bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)))
            .or_else(|_| UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))))?;
        std.set_nonblocking(true)?;
        // A TSO burst from a host arrives as some 45 datagrams at once; the
        // default receive buffer (about 90 of them) overflows under TCP.
        let buf: libc::c_int = 4 << 20;
        let _ = setsockopt(
            std.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &buf,
        );
        // A run of a flow's datagrams in one read (split by `recv`).
        let on: libc::c_int = 1;
        let _ = setsockopt(std.as_raw_fd(), libc::SOL_UDP, UDP_GRO, &on);
        // SAFETY: plain socket(2); the fd is owned at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::IPPROTO_RAW,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new socket nobody else owns.
        let raw = unsafe { OwnedFd::from_raw_fd(fd) };
        let buf: libc::c_int = 4 << 20;
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &buf);
        Ok(Underlay {
            port,
            udp: mio::net::UdpSocket::from_std(std),
            raw,
            raw6: None,
            buf: Vec::with_capacity(2048),
            devs: Vec::new(),
            gso: HashMap::new(),
        })
    }

    /// Receives one datagram, or (UDP GRO) a run of a flow's datagrams
    /// coalesced: its length, the sender (IPv4 senders of a dual-stack
    /// socket as IPv4) and, for a run, the size of each datagram but the
    /// last.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr, Option<usize>)> {
        // SAFETY: all-zero bytes are valid values of these C structs.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut ctl = [0u64; 8];
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&ctl);
        // SAFETY: msg points at live buffers of the sizes it gives.
        let n = unsafe { libc::recvmsg(self.udp.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut seg = None;
        // SAFETY: the control buffer was filled by recvmsg; the CMSG
        // macros walk it within msg_controllen.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == UDP_GRO {
                    let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                    seg = usize::try_from(v).ok().filter(|v| *v > 0);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let from = match i32::from(addr.ss_family) {
            libc::AF_INET6 => {
                // SAFETY: the family says it is a sockaddr_in6.
                let a = unsafe {
                    &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4)
            }
            _ => {
                // SAFETY: the family says it is a sockaddr_in.
                let a = unsafe {
                    &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)))
            }
        };
        Ok((n as usize, from, seg))
    }

    /// The GSO socket of a flow's source port, opened and bound on first
    /// use; `None` where the port cannot be bound.
    fn gso_sock(&mut self, local: Ipv4Addr, port: u16) -> Option<&mut GsoSock> {
        if !self.gso.contains_key(&(local, port)) {
            if self.gso.len() >= GSO_SOCKETS {
                self.gso.clear();
            }
            let s = open_gso(local, port).ok();
            self.gso.insert((local, port), s);
        }
        self.gso.get_mut(&(local, port)).and_then(Option::as_mut)
    }

    /// Sends a run of a flow's datagrams (VXLAN header + inner frame each,
    /// all of the first one's size but the last) in one `UDP_SEGMENT`
    /// send, through the socket bound to its source port; `false` where
    /// this path does not apply (IPv6, multicast, a port not bound, a run
    /// the kernel refuses), for the caller to send them one by one.
    pub fn send_gso(&mut self, cfg: &VxlanConfig, e: &Encap, run: &[&[u8]]) -> bool {
        let IpAddr::V4(dst) = e.dst else { return false };
        if dst.is_multicast() || run.len() < 2 {
            return false;
        }
        let local = match cfg.local {
            Some(IpAddr::V4(a)) => a,
            None => Ipv4Addr::UNSPECIFIED,
            Some(IpAddr::V6(_)) => return false,
        };
        let Some(s) = self.gso_sock(local, e.src_port) else {
            return false;
        };
        let fd = s.fd.as_raw_fd();
        if e.ttl != 0 && s.ttl != e.ttl {
            let v = libc::c_int::from(e.ttl);
            if setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &v).is_ok() {
                s.ttl = e.ttl;
            }
        }
        if s.tos != e.tos {
            let v = libc::c_int::from(e.tos);
            if setsockopt(fd, libc::IPPROTO_IP, libc::IP_TOS, &v).is_ok() {
                s.tos = e.tos;
            }
        }
        if s.df != Some(e.df) {
            let v = if e.df {
                libc::IP_PMTUDISC_DO
            } else {
                libc::IP_PMTUDISC_DONT
            };
            if setsockopt(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, &v).is_ok() {
                s.df = Some(e.df);
            }
        }
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; GSO_MAX_SEGS];
        let run = &run[..run.len().min(GSO_MAX_SEGS)];
        for (v, p) in iov.iter_mut().zip(run) {
            v.iov_base = p.as_ptr() as *mut libc::c_void;
            v.iov_len = p.len();
        }
        let to = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: e.port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(dst.octets()),
            },
            sin_zero: [0; 8],
        };
        let mut ctl = [0u64; 4];
        // SAFETY: all-zero bytes are a valid msghdr.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&to as *const libc::sockaddr_in as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = run.len();
        msg.msg_control = ctl.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as usize;
        let seg = run[0].len() as u16;
        // SAFETY: the control buffer holds one cmsg of 2 bytes (checked
        // by CMSG_SPACE above against its 32 bytes); msg points at live
        // buffers (the iovecs borrow `run`) for the sendmsg.
        let n = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(2) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
            libc::sendmsg(fd, &msg, 0)
        };
        n >= 0
    }

    fn raw6(&mut self) -> io::Result<i32> {
        if self.raw6.is_none() {
            // SAFETY: plain socket(2); the fd is owned at once.
            let fd = unsafe {
                libc::socket(
                    libc::AF_INET6,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    libc::IPPROTO_RAW,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: fd is a new socket nobody else owns.
            let raw = unsafe { OwnedFd::from_raw_fd(fd) };
            let on: libc::c_int = 1;
            setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_HDRINCL, &on)?;
            self.raw6 = Some(raw);
        }
        Ok(self.raw6.as_ref().expect("opened").as_raw_fd())
    }

    /// `group ADDR dev IF`: join the group on the lower device, and send
    /// multicast out of it (IPv4 or IPv6).
    pub fn join(&mut self, group: IpAddr, ifindex: u32) -> io::Result<()> {
        let off: libc::c_int = 0;
        match group {
            IpAddr::V4(g) => {
                let m = ip_mreqn(g, ifindex);
                setsockopt(
                    self.udp.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_ADD_MEMBERSHIP,
                    &m,
                )?;
                setsockopt(
                    self.raw.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_MULTICAST_IF,
                    &m,
                )?;
                // Our own group traffic is not for us.
                setsockopt(
                    self.raw.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_MULTICAST_LOOP,
                    &off,
                )
            }
            IpAddr::V6(g) => {
                let m = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: g.octets(),
                    },
                    ipv6mr_interface: ifindex,
                };
                setsockopt(
                    self.udp.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_ADD_MEMBERSHIP,
                    &m,
                )?;
                let fd = self.raw6()?;
                let ix = ifindex as libc::c_int;
                setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &ix)?;
                setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &off)
            }
        }
    }

    /// Sends one encapsulated frame (`payload` = VXLAN header + inner).
    pub fn send(&mut self, cfg: &VxlanConfig, e: &Encap, payload: &[u8]) -> io::Result<()> {
        let dst = match e.dst {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => return self.send6(cfg, e, a, payload),
        };
        let src = match cfg.local {
            Some(IpAddr::V4(a)) => a,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let o = Outer {
            src_mac: Mac::ZERO,
            dst_mac: Mac::ZERO,
            src: IpAddr::V4(src),
            dst: e.dst,
            src_port: e.src_port,
            dst_port: e.port,
            ttl: e.ttl,
            tos: e.tos,
            df: e.df,
            // Without a local address the kernel fills in the source, so
            // the checksum cannot cover it: none (allowed over IPv4).
            udp_csum: cfg.udpcsum && !src.is_unspecified(),
        };
        encapsulate_into(&o, payload, &mut self.buf);
        crate::sys::send_ip(self.raw.as_raw_fd(), &self.buf[14..], IpAddr::V4(dst))
    }

    /// IPv6: the source must be given (`local`); the UDP checksum is
    /// always there.
    fn send6(
        &mut self,
        cfg: &VxlanConfig,
        e: &Encap,
        dst: std::net::Ipv6Addr,
        payload: &[u8],
    ) -> io::Result<()> {
        let Some(src @ IpAddr::V6(_)) = cfg.local else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv6 underlay needs a local IPv6 address",
            ));
        };
        let o = Outer {
            src_mac: Mac::ZERO,
            dst_mac: Mac::ZERO,
            src,
            dst: IpAddr::V6(dst),
            src_port: e.src_port,
            dst_port: e.port,
            ttl: e.ttl,
            tos: e.tos,
            df: true,
            udp_csum: true,
        };
        let fd = self.raw6()?;
        encapsulate_into(&o, payload, &mut self.buf);
        crate::sys::send_ip(fd, &self.buf[14..], IpAddr::V6(dst))
    }
}

/// A UDP socket bound to `local:port` for GSO sends: it receives nothing
/// (its receive side is shut).
fn open_gso(local: Ipv4Addr, port: u16) -> io::Result<GsoSock> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new socket nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let on: libc::c_int = 1;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, &on)?;
    let buf: libc::c_int = 4 << 20;
    let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &buf);
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(local.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sa is a live sockaddr_in of the size given.
    let r = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain shutdown(2) of our socket.
    unsafe { libc::shutdown(fd, libc::SHUT_RD) };
    Ok(GsoSock {
        fd: owned,
        ttl: 0,
        tos: 0,
        df: None,
    })
}
