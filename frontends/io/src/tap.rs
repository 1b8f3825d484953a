//! TAP attachments that patchbay creates.
//!
//! The tun-tap crate (0.1) fixes the TUNSETIFF flags to IFF_TAP|IFF_NO_PI in
//! its C helper, and the kernel takes IFF_VNET_HDR and IFF_MULTI_QUEUE only
//! in that first TUNSETIFF (a second one on an attached descriptor is
//! refused), so patchbay issues TUNSETIFF itself.

use crate::attach::Sent;
use crate::ring::Slots;
use crate::sys::{cvt, ifreq, set_nonblocking};
use crate::vnet;
use patchbay_core::counters::DropReason;
use patchbay_core::pipeline::TxBatch;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    pub name: String,
}

impl Tap {
    /// Creates TAP `name` with a virtio-net header on every frame and the
    /// offloads a virtio-net device would announce, so the host may hand us
    /// TSO segments with partial checksums.
    pub fn create(name: &str) -> io::Result<Tap> {
        // SAFETY: open(2) with a constant NUL-terminated path.
        let raw =
            cvt(unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut r = ifreq(name)?;
        r.ifr_ifru.ifru_flags =
            (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes the ifreq we pass.
        cvt(unsafe { libc::ioctl(raw, libc::TUNSETIFF, &mut r as *mut libc::ifreq) })
            .map_err(|e| io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")))?;
        let sz: libc::c_int = vnet::LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads an int.
        cvt(unsafe { libc::ioctl(raw, libc::TUNSETVNETHDRSZ, &sz as *const libc::c_int) })?;
        let off = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
        // SAFETY: TUNSETOFFLOAD takes the flags by value.
        cvt(unsafe { libc::ioctl(raw, libc::TUNSETOFFLOAD, off as libc::c_ulong) })?;
        set_nonblocking(raw)?;
        Ok(Tap {
            fd,
            name: name.to_string(),
        })
    }

    /// TUNSETPERSIST: the TAP outlives its descriptor (`ip tuntap add`),
    /// or goes with it (`ip tuntap del`).
    pub fn set_persist(&self, on: bool) -> io::Result<()> {
        // SAFETY: TUNSETPERSIST takes an int by value.
        cvt(unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETPERSIST,
                libc::c_ulong::from(on),
            )
        })
        .map(drop)
    }

    /// TUNGETDEVNETNS: the network namespace the TAP's netdev is in now
    /// (wherever `ip link set ... netns` moved it), as a namespace file.
    pub fn netns(&self) -> io::Result<std::fs::File> {
        // SAFETY: TUNGETDEVNETNS takes no argument and returns a new
        // descriptor, which is owned at once.
        let fd = cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TUNGETDEVNETNS) })?;
        // SAFETY: a fresh descriptor nothing else owns.
        Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// TUNGETIFF: the netdev's name now (the host may have renamed it).
    pub fn ifname(&self) -> io::Result<String> {
        // SAFETY: an all-zero ifreq is valid; TUNGETIFF fills it.
        let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
        // SAFETY: TUNGETIFF writes the ifreq we pass.
        cvt(unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNGETIFF,
                &mut r as *mut libc::ifreq,
            )
        })?;
        let b: Vec<u8> = r
            .ifr_name
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    pub fn recv_burst(&self, rx: &mut impl Slots) -> io::Result<usize> {
        let mut n = 0;
        while n < rx.capacity() {
            let slot = rx.slot_mut(n);
            // SAFETY: reads into a live buffer of the given length.
            let r = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    slot.as_mut_ptr() as *mut libc::c_void,
                    slot.len(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted {
                    break;
                }
                if n == 0 {
                    return Err(e);
                }
                break;
            }
            rx.set(n, r as usize, None, false);
            n += 1;
        }
        Ok(n)
    }

    /// Writes a batch, a frame a `writev`; a frame the TAP refuses is
    /// skipped and counted, the rest still go.
    pub fn send_batch(&self, batch: &TxBatch, out: &mut Sent) {
        for (i, d) in batch.frames.iter().enumerate() {
            let h = vnet::encode(&d.offload);
            let f = batch.frame(d);
            let iov = [
                libc::iovec {
                    iov_base: h.as_ptr() as *mut _,
                    iov_len: h.len(),
                },
                libc::iovec {
                    iov_base: f.as_ptr() as *mut _,
                    iov_len: f.len(),
                },
            ];
            // SAFETY: both iovecs point at live buffers; writev only reads.
            let r = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if r < 0 {
                // A TAP whose netdev is down refuses writes (EIO): its far
                // end has no carrier.
                let e = io::Error::last_os_error();
                let mut rest = DropReason::TxError;
                match Sent::reason(&e, &mut rest) {
                    Some(why) => out.lost.push((why, f.len())),
                    None => return out.lose_rest(batch, &batch.frames[i..], rest),
                }
                continue;
            }
            out.taken += 1;
        }
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
