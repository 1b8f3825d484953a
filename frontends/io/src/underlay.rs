//! The VXLAN underlay in the daemon's network namespace: a UDP socket per
//! destination port receives, IPv4 and IPv6 alike (dual-stack; the kernel
//! demultiplexes by port, patchbay by VNI), and raw sockets send what the
//! core encapsulated, with the outer IP and UDP headers built by the core's
//! etherparse code (`wire::vxlan::encapsulate`) so each flow keeps its own
//! source port, TTL, TOS and DF; the kernel routes it.

use patchbay_core::vxlan::{Encap, VxlanConfig};
use patchbay_core::wire::vxlan::{encapsulate_into, Outer};
use patchbay_core::wire::Mac;
use patchbay_core::IfId;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
        })
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
