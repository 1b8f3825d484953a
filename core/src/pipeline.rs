//! Batched forwarding: the shapes that carry a burst in and out of the core.
//!
//! An attachment hands the graph up to [`BURST`] frames at a time
//! ([`crate::Graph::receive`] per frame); every frame the graph sends is
//! copied once, with its tags, into the [`TxBatch`] of the attachment it
//! leaves by. The front end flushes the batches after the burst with batched
//! system calls and clears them. Buffers keep their capacity from burst to
//! burst, so steady-state forwarding allocates nothing.

use crate::counters::DropReason;
use crate::graph::{AttachId, IfId};
use crate::wire::{Frame, Offload};

/// Frames per receive burst (the OVS and VPP batch size).
pub const BURST: usize = 32;

/// Frames one attachment may have queued before a flush; more are dropped
/// as [`DropReason::TxFull`]. Large enough for a burst flooded to itself
/// several times over.
pub const TX_BATCH_FRAMES: usize = 8 * BURST;

/// VXLAN datagrams one burst may queue. A segmentation-offload frame of
/// 64 KiB becomes up to some 120 datagrams (more, times the remotes, when
/// flooded), so the front end sends them once [`Outputs::datagrams_due`]
/// says so, between the frames of a burst, and this bound is only reached
/// by a single frame flooded very wide.
pub const DATAGRAM_BATCH: usize = 32 * BURST;

/// One frame in a transmit batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxDesc {
    pub off: u32,
    pub len: u32,
    pub offload: Offload,
}

const _: () = assert!(
    std::mem::size_of::<TxDesc>() <= 24,
    "keep per-frame metadata small"
);

/// The frames queued for one attachment.
#[derive(Debug, Default)]
pub struct TxBatch {
    pub buf: Vec<u8>,
    pub frames: Vec<TxDesc>,
}

impl TxBatch {
    pub fn push(&mut self, frame: &Frame<'_>) -> bool {
        if self.frames.len() >= TX_BATCH_FRAMES {
            return false;
        }
        let off = self.buf.len();
        let offload = frame.emit(&mut self.buf);
        self.frames.push(TxDesc {
            off: off as u32,
            len: (self.buf.len() - off) as u32,
            offload,
        });
        true
    }

    pub fn frame(&self, d: &TxDesc) -> &[u8] {
        &self.buf[d.off as usize..(d.off + d.len) as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Offload)> {
        self.frames.iter().map(|d| (self.frame(d), d.offload))
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.frames.clear();
    }
}

/// Which way a captured frame went, seen from the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Rx,
    Tx,
}

/// A frame copied for `patchbay capture`.
#[derive(Clone, Copy, Debug)]
pub struct CaptureRec {
    pub ifid: IfId,
    pub dir: Direction,
    pub off: u32,
    pub len: u32,
}

/// One packet for a VXLAN device's underlay: the UDP payload (VXLAN header
/// and inner frame, `off..off + len` in [`Outputs::dgram_buf`]) and where
/// and how the front end sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub dev: IfId,
    pub encap: crate::vxlan::Encap,
    pub off: u32,
    pub len: u32,
}

/// Everything one burst produced: per-attachment transmit batches, VXLAN
/// datagrams and captured copies.
#[derive(Debug, Default)]
pub struct Outputs {
    batches: Vec<TxBatch>,
    dirty: Vec<AttachId>,
    pub capture_buf: Vec<u8>,
    pub captures: Vec<CaptureRec>,
    pub dgram_buf: Vec<u8>,
    pub datagrams: Vec<Datagram>,
    /// IP packets to be routed in the namespace of device `.0`'s netdev
    /// (ipvlan l3): offsets into `routed_buf`.
    pub routed_buf: Vec<u8>,
    pub routed: Vec<(IfId, u32, u32)>,
    /// Frames, datagrams and packets queued so far, ever (how the graph
    /// tells that a frame it received went somewhere: [`crate::counters::Fates`]).
    pub sent: u64,
}

/// Completes a partial checksum in `f` (an Ethernet frame as emitted; the
/// field holds the pseudo-header sum, as virtio-net hands it): no NIC
/// offload past a tunnel or a route.
fn complete_csum(f: &mut [u8], o: crate::wire::Offload) {
    if o.flags & crate::wire::Offload::NEEDS_CSUM == 0 {
        return;
    }
    let (cs, co) = (usize::from(o.csum_start), usize::from(o.csum_offset));
    if cs + co + 2 <= f.len() {
        let c = crate::wire::csum::checksum(&[&f[cs..]]);
        f[cs + co..cs + co + 2].copy_from_slice(&c.to_be_bytes());
    }
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `frame` on `attach`; false when its batch is full.
    #[inline]
    pub fn push(&mut self, attach: AttachId, frame: &Frame<'_>) -> Result<(), DropReason> {
        let i = attach.0 as usize;
        if i >= self.batches.len() {
            self.batches.resize_with(i + 1, TxBatch::default);
        }
        let b = &mut self.batches[i];
        if b.is_empty() {
            self.dirty.push(attach);
        }
        if b.push(frame) {
            self.sent += 1;
            Ok(())
        } else {
            Err(DropReason::TxFull)
        }
    }

    /// Queues a VXLAN datagram: `header`, then the frame (the one copy).
    pub fn push_datagram(
        &mut self,
        dev: IfId,
        encap: crate::vxlan::Encap,
        header: [u8; 8],
        frame: &Frame<'_>,
    ) -> Result<(), DropReason> {
        if self.datagrams.len() >= DATAGRAM_BATCH {
            return Err(DropReason::TxFull);
        }
        let off = self.dgram_buf.len();
        self.dgram_buf.extend_from_slice(&header);
        let start = self.dgram_buf.len();
        let o = frame.emit(&mut self.dgram_buf);
        complete_csum(&mut self.dgram_buf[start..], o);
        self.datagrams.push(Datagram {
            dev,
            encap,
            off: off as u32,
            len: (self.dgram_buf.len() - off) as u32,
        });
        self.sent += 1;
        Ok(())
    }

    /// Queues the IP packet in `frame` (its Ethernet header and tags
    /// left off, its checksum completed) to be routed out of `dev`.
    pub fn push_routed(&mut self, dev: IfId, frame: &Frame<'_>) -> Result<(), DropReason> {
        if self.routed.len() >= DATAGRAM_BATCH {
            return Err(DropReason::TxFull);
        }
        let start = self.routed_buf.len();
        let o = frame.emit(&mut self.routed_buf);
        complete_csum(&mut self.routed_buf[start..], o);
        // MACs and tags, then the ethertype.
        let hdr = frame.header_len() + 2;
        self.routed_buf.drain(start..start + hdr);
        self.routed
            .push((dev, start as u32, (self.routed_buf.len() - start) as u32));
        self.sent += 1;
        Ok(())
    }

    pub fn routed_packet(&self, r: &(IfId, u32, u32)) -> &[u8] {
        &self.routed_buf[r.1 as usize..(r.1 + r.2) as usize]
    }

    pub fn datagram(&self, d: &Datagram) -> &[u8] {
        &self.dgram_buf[d.off as usize..(d.off + d.len) as usize]
    }

    pub fn capture(&mut self, ifid: IfId, dir: Direction, frame: &Frame<'_>) {
        let off = self.capture_buf.len();
        frame.emit(&mut self.capture_buf);
        self.captures.push(CaptureRec {
            ifid,
            dir,
            off: off as u32,
            len: (self.capture_buf.len() - off) as u32,
        });
    }

    pub fn captured(&self) -> impl Iterator<Item = (CaptureRec, &[u8])> {
        self.captures.iter().map(|c| {
            (
                *c,
                &self.capture_buf[c.off as usize..(c.off + c.len) as usize],
            )
        })
    }

    /// Attachments with frames queued, in the order they first got one.
    pub fn dirty(&self) -> &[AttachId] {
        &self.dirty
    }

    pub fn batch(&self, attach: AttachId) -> Option<&TxBatch> {
        self.batches.get(attach.0 as usize)
    }

    /// Hands each non-empty batch to `f`, then empties everything.
    pub fn flush(&mut self, mut f: impl FnMut(AttachId, &TxBatch)) {
        for a in self.dirty.drain(..) {
            let b = &mut self.batches[a.0 as usize];
            f(a, b);
            b.clear();
        }
        self.capture_buf.clear();
        self.captures.clear();
        self.dgram_buf.clear();
        self.datagrams.clear();
        self.routed_buf.clear();
        self.routed.clear();
    }

    /// Enough VXLAN datagrams are queued that the front end should send
    /// them (and [`Outputs::clear_datagrams`]) before the next frame.
    pub fn datagrams_due(&self) -> bool {
        self.datagrams.len() >= TX_BATCH_FRAMES
    }

    pub fn clear_datagrams(&mut self) {
        self.dgram_buf.clear();
        self.datagrams.clear();
    }

    /// Total frames queued on all attachments.
    pub fn queued(&self) -> usize {
        self.dirty
            .iter()
            .map(|a| self.batches[a.0 as usize].len())
            .sum()
    }
}
