//! An attachment's descriptor, whichever kind it is.

use crate::packet::PacketSocket;
use crate::ring::Slots;
use crate::tap::Tap;
use patchbay_core::counters::DropReason;
use patchbay_core::pipeline::TxBatch;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// What became of a batch: how many frames the kernel took, and each one
/// it did not, with why and its length.
#[derive(Debug, Default)]
pub struct Sent {
    pub taken: usize,
    pub lost: Vec<(DropReason, usize)>,
}

impl Sent {
    /// The frames of `batch` from `from` on are lost for `reason`.
    pub fn lose_rest(&mut self, batch: &TxBatch, from: usize, reason: DropReason) {
        for d in &batch.frames[from..] {
            self.lost.push((reason, batch.frame(d).len()));
        }
    }

    /// Why the kernel refused a frame with `e`. `None`: it will refuse the
    /// rest of the batch too for now (queue full, netdev down), which
    /// `rest` names.
    pub fn reason(e: &io::Error, rest: &mut DropReason) -> Option<DropReason> {
        match e.raw_os_error() {
            Some(libc::EMSGSIZE) => Some(DropReason::TxTooBig),
            Some(libc::EAGAIN | libc::ENOBUFS) => {
                *rest = DropReason::TxFull;
                None
            }
            Some(libc::ENETDOWN | libc::ENXIO | libc::EIO) => {
                *rest = DropReason::NoCarrier;
                None
            }
            _ => Some(DropReason::TxError),
        }
    }
}

#[derive(Debug)]
pub enum Port {
    Packet(PacketSocket),
    Tap(Tap),
}

impl Port {
    pub fn recv_burst(&self, rx: &mut impl Slots) -> io::Result<usize> {
        match self {
            Port::Packet(p) => p.recv_burst(rx),
            Port::Tap(t) => t.recv_burst(rx),
        }
    }

    /// Sends a batch; a frame the kernel refuses is skipped (the rest
    /// still go), and each lost frame is reported with its reason.
    pub fn send_batch(&self, batch: &TxBatch) -> Sent {
        let mut s = Sent::default();
        match self {
            Port::Packet(p) => p.send_batch(batch, &mut s),
            Port::Tap(t) => t.send_batch(batch, &mut s),
        }
        s
    }
}

impl AsRawFd for Port {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Port::Packet(p) => p.as_raw_fd(),
            Port::Tap(t) => t.as_raw_fd(),
        }
    }
}
