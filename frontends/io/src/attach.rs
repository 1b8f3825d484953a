//! An attachment's descriptor, whichever kind it is.

use crate::packet::PacketSocket;
use crate::ring::Slots;
use crate::tap::Tap;
use patchbay_core::pipeline::TxBatch;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

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

    pub fn send_batch(&self, batch: &TxBatch) -> io::Result<usize> {
        match self {
            Port::Packet(p) => p.send_batch(batch),
            Port::Tap(t) => t.send_batch(batch),
        }
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
