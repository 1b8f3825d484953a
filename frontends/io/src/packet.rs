//! AF_PACKET attachments: a raw packet socket bound to an existing netdev.
//!
//! Promiscuous, with PACKET_AUXDATA so a VLAN tag the kernel stripped into
//! metadata comes back, PACKET_VNET_HDR for checksum/GSO metadata, and
//! PACKET_IGNORE_OUTGOING so frames the host itself sends on the netdev (and
//! our own transmissions) are not read back. Bursts move with one
//! `recvmmsg` and one `sendmmsg`.

use crate::attach::Sent;
use crate::ring::Slots;
use crate::sys::{cvt, set_nonblocking};
use crate::vnet;
use patchbay_core::counters::DropReason;
use patchbay_core::pipeline::{TxBatch, TxDesc};
use patchbay_core::wire::Tag;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    pub ifindex: u32,
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, opt: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the size we pass.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            val as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

const CMSG_SPACE: usize = 64;

impl PacketSocket {
    pub fn open(ifindex: u32) -> io::Result<Self> {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the descriptor is owned right away.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: libc::c_int = 1;
        // Options that shape what bind() starts delivering come first.
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &one)?;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, &one)?;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one)?;
        let buf: libc::c_int = 4 << 20;
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &buf);
        let _ = setsockopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &buf);
        // SAFETY: sockaddr_ll is plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the length given.
        cvt(unsafe {
            libc::bind(
                raw,
                &sll as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as u32,
            )
        })?;
        // SAFETY: packet_mreq is plain old data.
        let mut mr: libc::packet_mreq = unsafe { zeroed() };
        mr.mr_ifindex = ifindex as i32;
        mr.mr_type = libc::PACKET_MR_PROMISC as u16;
        setsockopt(raw, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr)?;
        set_nonblocking(raw)?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// Reads up to a burst. Returns how many frames `rx` now holds.
    pub fn recv_burst(&self, rx: &mut impl Slots) -> io::Result<usize> {
        let n = rx.capacity();
        let mut cmsg = [[0u64; CMSG_SPACE / 8]; crate::ring::BURST];
        // SAFETY: iovec/mmsghdr are plain old data; zero is valid.
        let mut iov: [libc::iovec; crate::ring::BURST] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; crate::ring::BURST] = unsafe { zeroed() };
        for i in 0..n {
            let slot = rx.slot_mut(i);
            iov[i].iov_base = slot.as_mut_ptr() as *mut libc::c_void;
            iov[i].iov_len = slot.len();
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = cmsg[i].as_mut_ptr() as *mut libc::c_void;
            msgs[i].msg_hdr.msg_controllen = CMSG_SPACE;
        }
        // SAFETY: every mmsghdr points at an iovec over a live slot of `rx`
        // and at a live control buffer, all of which outlive the call.
        let got = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        let got = got as usize;
        for (i, m) in msgs.iter().enumerate().take(got) {
            let tag = aux_tag(&m.msg_hdr);
            let len = m.msg_len as usize;
            let trunc = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            rx.set(i, len, tag, trunc);
        }
        Ok(got)
    }

    /// Sends a batch with `sendmmsg`, 64 frames a call. A frame the
    /// kernel refuses ends a call early; it is skipped and counted, and
    /// the call resumes after it.
    pub fn send_batch(&self, batch: &TxBatch, out: &mut Sent) {
        self.send_frames(batch, &batch.frames, out)
    }

    /// Sends `frames`, some of `batch`'s, as [`Self::send_batch`] does.
    pub fn send_frames(&self, batch: &TxBatch, frames: &[TxDesc], out: &mut Sent) {
        let mut next = 0;
        while next < frames.len() {
            let chunk = &frames[next..frames.len().min(next + 64)];
            let mut hdrs = [[0u8; vnet::LEN]; 64];
            // SAFETY: plain old data.
            let mut iov: [[libc::iovec; 2]; 64] = unsafe { zeroed() };
            // SAFETY: plain old data.
            let mut msgs: [libc::mmsghdr; 64] = unsafe { zeroed() };
            for (i, d) in chunk.iter().enumerate() {
                hdrs[i] = vnet::encode(&d.offload);
                let f = batch.frame(d);
                iov[i][0] = libc::iovec {
                    iov_base: hdrs[i].as_mut_ptr() as *mut _,
                    iov_len: vnet::LEN,
                };
                iov[i][1] = libc::iovec {
                    iov_base: f.as_ptr() as *mut _,
                    iov_len: f.len(),
                };
                msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
                msgs[i].msg_hdr.msg_iovlen = 2;
            }
            // SAFETY: the iovecs point into `hdrs` and `batch`, which outlive
            // the call; the kernel only reads them.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    chunk.len() as u32,
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                // The first frame of the call was refused.
                let e = io::Error::last_os_error();
                let mut rest = DropReason::TxError;
                match Sent::reason(&e, &mut rest) {
                    Some(why) => {
                        out.lost.push((why, batch.frame(&frames[next]).len()));
                        next += 1;
                    }
                    None => return out.lose_rest(batch, &frames[next..], rest),
                }
                continue;
            }
            out.taken += r as usize;
            next += r as usize;
        }
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The VLAN tag from PACKET_AUXDATA, if the kernel stripped one.
fn aux_tag(h: &libc::msghdr) -> Option<Tag> {
    // SAFETY: `h` came back from recvmmsg with msg_control pointing at our
    // buffer and msg_controllen set by the kernel; CMSG_* walk within it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                let aux =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::tpacket_auxdata);
                if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                    let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                        aux.tp_vlan_tpid
                    } else {
                        patchbay_core::wire::ethertype::VLAN
                    };
                    return Some(Tag {
                        tpid,
                        tci: aux.tp_vlan_tci,
                    });
                }
                return None;
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
        None
    }
}
