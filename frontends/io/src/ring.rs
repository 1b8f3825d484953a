//! Where received frames land: burst buffers for run-to-completion, and the
//! shared slot pool and per-port rings of the pipeline layout.
//!
//! Run to completion ([`RxBufs`]): one thread reads a burst into 32 fixed
//! slots, runs it through the graph and sends, so the slots are free again
//! before the next read.
//!
//! Pipeline ([`Pool`], [`PortRing`]): the receive thread takes free slot
//! indices from the pool's free queue, reads into those slots, and pushes a
//! [`RxDesc`] per frame onto the port's ring; the forwarding worker pops the
//! descriptors, reads the slots, and pushes the indices back on the free
//! queue. Both queues are crossbeam `ArrayQueue`s: lock-free, bounded, and a
//! successful `push` happens-before the `pop` that returns the element
//! (release/acquire), which is what hands a slot's bytes from one thread to
//! the other. A slot index is owned by exactly one side at a time: the free
//! queue, the receive thread between `pop` and `push`, a port ring, or the
//! worker between `pop` and returning it.

use crate::vnet;
use crossbeam_queue::ArrayQueue;
use patchbay_core::wire::{Offload, Tag};
use patchbay_core::AttachId;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};

pub const BURST: usize = patchbay_core::pipeline::BURST;

/// Room for a virtio-net header and a 64 KiB GSO frame with a tag.
pub const SLOT: usize = vnet::LEN + 65536 + 64;

/// Receive slots a burst reads into.
pub trait Slots {
    /// How many slots are available for this burst (at most [`BURST`]).
    fn capacity(&self) -> usize;
    fn slot_mut(&mut self, i: usize) -> &mut [u8];
    /// Records what slot `i` received.
    fn set(&mut self, i: usize, len: usize, tag: Option<Tag>, trunc: bool);
}

/// Splits what a slot holds into the frame after the virtio-net header, the
/// stripped tag and the offload metadata. A read shorter than the header
/// yields an empty frame (the core counts it as a runt).
pub fn split(slot: &[u8], len: usize) -> (&[u8], Offload) {
    let s = &slot[..len.min(slot.len())];
    if s.len() < vnet::LEN {
        return (&[], Offload::NONE);
    }
    (&s[vnet::LEN..], vnet::decode(&s[..vnet::LEN]))
}

/// One burst's buffers, owned by one thread.
#[derive(Debug)]
pub struct RxBufs {
    buf: Vec<u8>,
    lens: [usize; BURST],
    tags: [Option<Tag>; BURST],
    trunc: [bool; BURST],
}

impl Default for RxBufs {
    fn default() -> Self {
        Self::new()
    }
}

impl RxBufs {
    pub fn new() -> Self {
        RxBufs {
            buf: vec![0; SLOT * BURST],
            lens: [0; BURST],
            tags: [None; BURST],
            trunc: [false; BURST],
        }
    }

    /// Frame `i`: bytes, stripped tag, offload metadata, and whether it was
    /// cut short.
    pub fn frame(&self, i: usize) -> (&[u8], Option<Tag>, Offload, bool) {
        let (f, o) = split(&self.buf[i * SLOT..(i + 1) * SLOT], self.lens[i]);
        (f, self.tags[i], o, self.trunc[i])
    }
}

impl Slots for RxBufs {
    fn capacity(&self) -> usize {
        BURST
    }
    fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.buf[i * SLOT..(i + 1) * SLOT]
    }
    fn set(&mut self, i: usize, len: usize, tag: Option<Tag>, trunc: bool) {
        self.lens[i] = len;
        self.tags[i] = tag;
        self.trunc[i] = trunc;
    }
}

/// A received frame in the pipeline layout: which slot holds it.
#[derive(Clone, Copy, Debug)]
pub struct RxDesc {
    pub slot: u32,
    pub len: u32,
    pub tag: Option<Tag>,
    pub trunc: bool,
}

/// Slots shared by the receive thread and the worker.
pub struct Pool {
    slots: Box<[UnsafeCell<[u8; SLOT]>]>,
    pub free: ArrayQueue<u32>,
}

// SAFETY: a slot is only touched by the one thread that owns its index (see
// the module comment); ownership moves through the lock-free queues, whose
// push/pop pairs order the accesses.
unsafe impl Sync for Pool {}
// SAFETY: as above; the pool holds plain bytes.
unsafe impl Send for Pool {}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("slots", &self.slots.len())
            .field("free", &self.free.len())
            .finish()
    }
}

impl Pool {
    pub fn new(n: usize) -> Pool {
        let slots: Vec<UnsafeCell<[u8; SLOT]>> =
            (0..n).map(|_| UnsafeCell::new([0; SLOT])).collect();
        let free = ArrayQueue::new(n);
        for i in 0..n {
            free.push(i as u32).expect("queue sized for every slot");
        }
        Pool {
            slots: slots.into_boxed_slice(),
            free,
        }
    }

    /// # Safety
    /// The caller owns slot `i` (popped it from `free` or from a ring, and
    /// has not pushed it on since), so no other reference to it exists.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slot(&self, i: u32) -> &mut [u8] {
        // SAFETY: exclusive ownership of the index is the caller's promise.
        unsafe { &mut *self.slots[i as usize].get() }
    }
}

/// The ring that carries one port's received frames to the worker.
#[derive(Debug)]
pub struct PortRing {
    pub attach: AttachId,
    pub ring: ArrayQueue<RxDesc>,
    /// Frames dropped because the ring was full (the worker fell behind).
    pub full: AtomicU64,
}

impl PortRing {
    pub const DEPTH: usize = 4 * BURST;

    pub fn new(attach: AttachId) -> PortRing {
        PortRing {
            attach,
            ring: ArrayQueue::new(Self::DEPTH),
            full: AtomicU64::new(0),
        }
    }

    pub fn take_full(&self) -> u64 {
        self.full.swap(0, Ordering::Relaxed)
    }
}

/// A burst of slots taken from the pool.
#[derive(Debug)]
pub struct PoolBurst<'a> {
    pub pool: &'a Pool,
    pub idx: [u32; BURST],
    pub n: usize,
    pub descs: [RxDesc; BURST],
}

impl<'a> PoolBurst<'a> {
    /// Takes up to a burst of free slots.
    pub fn take(pool: &'a Pool) -> PoolBurst<'a> {
        let mut b = PoolBurst {
            pool,
            idx: [0; BURST],
            n: 0,
            descs: [RxDesc {
                slot: 0,
                len: 0,
                tag: None,
                trunc: false,
            }; BURST],
        };
        while b.n < BURST {
            match pool.free.pop() {
                Some(i) => {
                    b.idx[b.n] = i;
                    b.n += 1;
                }
                None => break,
            }
        }
        b
    }

    /// Returns slots `from..n` to the pool (they were not filled).
    pub fn give_back(&mut self, from: usize) {
        for i in from..self.n {
            let _ = self.pool.free.push(self.idx[i]);
        }
        self.n = from.min(self.n);
    }
}

impl Slots for PoolBurst<'_> {
    fn capacity(&self) -> usize {
        self.n
    }
    fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        // SAFETY: idx[i] was popped from the free queue by this burst and is
        // not yet pushed anywhere, so this thread owns it.
        unsafe { self.pool.slot(self.idx[i]) }
    }
    fn set(&mut self, i: usize, len: usize, tag: Option<Tag>, trunc: bool) {
        self.descs[i] = RxDesc {
            slot: self.idx[i],
            len: len as u32,
            tag,
            trunc,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A producer fills slots with a per-frame pattern and hands them over
    /// the ring; the consumer checks every byte and returns the slot. Runs
    /// the pool dry many times over, so a slot touched by both sides at once
    /// would show up as a corrupted pattern.
    #[test]
    fn slots_cross_threads_intact_and_all_come_back() {
        let pool = Arc::new(Pool::new(64));
        let ring = Arc::new(PortRing::new(AttachId(0)));
        const FRAMES: u32 = 200_000;
        let (p, r) = (pool.clone(), ring.clone());
        let producer = std::thread::spawn(move || {
            let mut seq = 0u32;
            while seq < FRAMES {
                let mut b = PoolBurst::take(&p);
                let cap = b.n.min((FRAMES - seq) as usize);
                for i in 0..cap {
                    let len = 64 + (seq as usize % 1400);
                    let s = b.slot_mut(i);
                    s[..4].copy_from_slice(&seq.to_le_bytes());
                    s[4..len].fill(seq as u8);
                    b.set(i, len, None, false);
                    seq += 1;
                }
                b.give_back(cap);
                for d in &b.descs[..cap] {
                    while r.ring.push(*d).is_err() {
                        std::thread::yield_now();
                    }
                }
            }
        });
        let mut next = 0u32;
        while next < FRAMES {
            let Some(d) = ring.ring.pop() else {
                std::thread::yield_now();
                continue;
            };
            // SAFETY: popped from the ring, so this thread owns the slot.
            let s = unsafe { pool.slot(d.slot) };
            let seq = u32::from_le_bytes(s[..4].try_into().unwrap());
            assert_eq!(seq, next, "frames stay in order");
            assert_eq!(d.len as usize, 64 + (seq as usize % 1400));
            assert!(
                s[4..d.len as usize].iter().all(|b| *b == seq as u8),
                "slot {} corrupted",
                d.slot
            );
            pool.free.push(d.slot).unwrap();
            next += 1;
        }
        producer.join().unwrap();
        assert_eq!(pool.free.len(), 64, "every slot returned");
    }
}
