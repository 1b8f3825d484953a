//! Routing in the daemon's namespace for ipvlan's l3 mode: the kernel's
//! `ipvlan_process_outbound` routes a slave's packet in its master's
//! namespace with the master as the output device. patchbay hands the IP
//! packet to a raw socket bound to the master (`SO_BINDTODEVICE`, header
//! included), so the kernel there routes it and resolves the next hop.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::sys::cvt;

#[derive(Debug, Default)]
pub struct Router {
    /// (master netdev, IPv6) → its raw socket.
    socks: HashMap<(String, bool), OwnedFd>,
}

fn raw_socket(dev: &str, v6: bool) -> io::Result<OwnedFd> {
    let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: plain socket(2); owned at once.
    let fd =
        cvt(unsafe { libc::socket(fam, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) })?;
    // SAFETY: fd is new and nothing else owns it.
    let s = unsafe { OwnedFd::from_raw_fd(fd) };
    if v6 {
        let on: libc::c_int = 1;
        // SAFETY: an int option of its size.
        cvt(unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_HDRINCL,
                (&on as *const libc::c_int).cast(),
                4,
            )
        })?;
    }
    // SAFETY: the name bytes are live for the call and their length given.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            dev.as_ptr().cast(),
            dev.len() as libc::socklen_t,
        )
    })?;
    Ok(s)
}

impl Router {
    /// Routes one IP packet out of `dev` (its destination from the header).
    pub fn send(&mut self, dev: &str, pkt: &[u8]) -> io::Result<()> {
        let v6 = match pkt.first().map(|b| b >> 4) {
            Some(4) if pkt.len() >= 20 => false,
            Some(6) if pkt.len() >= 40 => true,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not an IP packet",
                ))
            }
        };
        let key = (dev.to_string(), v6);
        if !self.socks.contains_key(&key) {
            let s = raw_socket(dev, v6)?;
            self.socks.insert(key.clone(), s);
        }
        let fd = self.socks[&key].as_raw_fd();
        let dst: IpAddr = if v6 {
            <[u8; 16]>::try_from(&pkt[24..40]).expect("16 bytes").into()
        } else {
            <[u8; 4]>::try_from(&pkt[16..20]).expect("4 bytes").into()
        };
        crate::sys::send_ip(fd, pkt, dst)
    }
}

/// The addresses configured on netdev `dev` in the current namespace.
pub fn addresses(dev: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut ifa: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills the pointer; freed below.
    if unsafe { libc::getifaddrs(&mut ifa) } != 0 {
        return out;
    }
    let mut p = ifa;
    while !p.is_null() {
        // SAFETY: p walks the list getifaddrs returned, not yet freed.
        let e = unsafe { &*p };
        p = e.ifa_next;
        if e.ifa_addr.is_null() || e.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(e.ifa_name) };
        if name.to_bytes() != dev.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr of the family it names.
        unsafe {
            match i32::from((*e.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sa = &*(e.ifa_addr as *const libc::sockaddr_in);
                    out.push(IpAddr::from(sa.sin_addr.s_addr.to_ne_bytes()));
                }
                libc::AF_INET6 => {
                    let sa = &*(e.ifa_addr as *const libc::sockaddr_in6);
                    out.push(IpAddr::from(sa.sin6_addr.s6_addr));
                }
                _ => {}
            }
        }
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(ifa) };
    out
}
