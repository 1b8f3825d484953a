//! An attachment's descriptor, whichever kind it is.

use crate::packet::PacketSocket;
use crate::ring::Slots;
use crate::tap::Tap;
use crate::xsk::XskPort;
use patchbay_core::counters::DropReason;
use patchbay_core::pipeline::{TxBatch, TxDesc};
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
    /// The frames `rest` of `batch` are lost for `reason`.
    pub fn lose_rest(&mut self, batch: &TxBatch, rest: &[TxDesc], reason: DropReason) {
        for d in rest {
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
    Xdp(Box<XskPort>),
}

impl Port {
    pub fn recv_burst(&self, rx: &mut impl Slots) -> io::Result<usize> {
        match self {
            Port::Packet(p) => p.recv_burst(rx),
            Port::Tap(t) => t.recv_burst(rx),
            Port::Xdp(x) => x.recv_burst(rx),
        }
    }

    /// Sends a batch; a frame the kernel refuses is skipped (the rest
    /// still go), and each lost frame is reported with its reason.
    pub fn send_batch(&self, batch: &TxBatch) -> Sent {
        let mut s = Sent::default();
        match self {
            Port::Packet(p) => p.send_batch(batch, &mut s),
            Port::Tap(t) => t.send_batch(batch, &mut s),
            Port::Xdp(x) => x.send_batch(batch, &mut s),
        }
        s
    }
}

impl Port {
    /// The descriptors to poll: an AF_XDP port has two (its AF_PACKET
    /// socket reads what the XDP program passes to the stack).
    pub fn fds(&self) -> Vec<RawFd> {
        match self {
            Port::Packet(p) => vec![p.as_raw_fd()],
            Port::Tap(t) => vec![t.as_raw_fd()],
            Port::Xdp(x) => vec![x.as_raw_fd(), x.packet.as_raw_fd()],
        }
    }

    /// Its second descriptor became readable.
    pub fn side_ready(&self) {
        if let Port::Xdp(x) = self {
            x.packet_ready
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// What the attachment is, as `-d link show` and `stats` name it.
    pub fn kind(&self) -> String {
        match self {
            Port::Packet(_) => "af_packet".into(),
            Port::Tap(_) => "tap".into(),
            Port::Xdp(x) if x.attached() => format!("af_xdp {} copy", x.mode().name()),
            Port::Xdp(_) => "af_packet (its XDP program was detached)".into(),
        }
    }
}

/// How the daemon attaches the kernel netdevs it is given as ports and
/// lowers (`patchbay daemon --attach`, or `PATCHBAY_ATTACH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// AF_XDP where the kernel allows it, AF_PACKET where it does not.
    #[default]
    Auto,
    /// AF_PACKET only.
    Packet,
    /// AF_XDP only (a netdev where it fails is refused), in the mode given
    /// or generic.
    Xdp(Option<crate::xsk::Mode>),
}

impl Policy {
    pub const CHOICES: &'static str = "auto, af_packet, af_xdp, af_xdp-generic or af_xdp-native";

    pub fn parse(s: &str) -> Option<Policy> {
        use crate::xsk::Mode;
        Some(match s {
            "auto" => Policy::Auto,
            "af_packet" | "packet" => Policy::Packet,
            "af_xdp" | "xdp" => Policy::Xdp(None),
            "af_xdp-generic" | "xdpgeneric" => Policy::Xdp(Some(Mode::Generic)),
            "af_xdp-native" | "xdpdrv" => Policy::Xdp(Some(Mode::Native)),
            _ => return None,
        })
    }

    /// Opens the attachment for netdev `name` (index `ifindex`) as the
    /// policy says. A fallback is logged once, in one line that says why.
    pub fn open(self, name: &str, ifindex: u32) -> Result<Port, String> {
        let packet = || {
            PacketSocket::open(ifindex)
                .map(Port::Packet)
                .map_err(|e| format!("cannot open a packet socket on \"{name}\": {e}"))
        };
        match self {
            Policy::Packet => packet(),
            Policy::Xdp(mode) => crate::xsk::XskPort::open(ifindex, mode)
                .map(|x| Port::Xdp(Box::new(x)))
                .map_err(|e| format!("cannot attach \"{name}\" with AF_XDP: {e} (start the daemon with --attach auto or af_packet)")),
            Policy::Auto => match crate::xsk::XskPort::open(ifindex, None) {
                Ok(x) => Ok(Port::Xdp(Box::new(x))),
                Err(e) => {
                    static ONCE: std::sync::Once = std::sync::Once::new();
                    ONCE.call_once(|| {
                        tracing::warn!("AF_XDP unavailable on \"{name}\" ({e}): using AF_PACKET for it and the ports after it that fail the same way");
                    });
                    tracing::debug!(dev = name, "AF_XDP: {e}");
                    packet()
                }
            },
        }
    }
}
