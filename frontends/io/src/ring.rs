//! Receive buffers for one burst: fixed slots, allocated once.

use crate::vnet;
use patchbay_core::wire::{Offload, Tag};

pub const BURST: usize = patchbay_core::pipeline::BURST;

/// Room for a virtio-net header and a 64 KiB GSO frame with a tag.
pub const SLOT: usize = vnet::LEN + 65536 + 64;

#[derive(Debug)]
pub struct RxBufs {
    buf: Vec<u8>,
    lens: [usize; BURST],
    tags: [Option<Tag>; BURST],
    trunc: [bool; BURST],
    pub len: usize,
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
            len: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        BURST
    }

    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.buf[i * SLOT..(i + 1) * SLOT]
    }

    pub fn set(&mut self, i: usize, len: usize, tag: Option<Tag>, trunc: bool) {
        self.lens[i] = len;
        self.tags[i] = tag;
        self.trunc[i] = trunc;
    }

    /// Frame `i`: its bytes after the virtio-net header, the stripped tag,
    /// its offload metadata, and whether it was cut short. A read shorter
    /// than the header yields an empty frame (the core counts it as a runt).
    pub fn frame(&self, i: usize) -> (&[u8], Option<Tag>, Offload, bool) {
        let s = &self.buf[i * SLOT..i * SLOT + self.lens[i].min(SLOT)];
        if s.len() < vnet::LEN {
            return (&[], None, Offload::NONE, self.trunc[i]);
        }
        (
            &s[vnet::LEN..],
            self.tags[i],
            vnet::decode(&s[..vnet::LEN]),
            self.trunc[i],
        )
    }
}
