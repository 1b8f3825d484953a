//! AF_XDP attachments: an XDP program on the netdev redirects its frames to
//! an AF_XDP socket, whose rings patchbay reads and writes without a system
//! call per burst on the receive side.
//!
//! One port is one socket bound to the netdev's queue 0 in copy mode
//! (`XDP_COPY`), with its own UMEM of [`CHUNK`]-byte chunks: half of them
//! lent to the kernel on the fill ring for received frames, half used for
//! transmission. The program is a handful of instructions assembled here
//! and loaded with `bpf(2)`, so the build needs no C or LLVM toolchain; it
//! is attached with a BPF link, so it goes away with the daemon, however
//! the daemon ends.
//!
//! AF_XDP carries no offload metadata, so a port keeps an AF_PACKET socket
//! (with its virtio-net header) beside the AF_XDP one, and the two share
//! the work by what each can carry faithfully:
//!
//! - Received frames longer than a chunk holds (TSO/GSO super-frames from a
//!   host with the default offloads, jumbo frames) are passed by the
//!   program to the stack, where the AF_PACKET socket reads them with
//!   their GSO metadata.
//! - A received frame whose TCP/UDP checksum the sender left partial is
//!   completed ([`csum::complete_partial`]), as the kernel would before
//!   handing it to a socket without offloads.
//! - Frames to send that carry offload metadata or exceed a chunk go out on
//!   the AF_PACKET socket; the rest through the TX ring. Order is kept:
//!   each run is flushed before the next begins.
//!
//! What generic XDP cannot see: a VLAN tag the sending host left in the
//! skb's metadata (`tx-vlan-offload` on its netdev, as a kernel VLAN
//! device on a veth does) never reaches the program or the socket, so such
//! a frame arrives untagged. ARCHITECTURE.md names this; ports where it
//! matters are forced to AF_PACKET (`patchbay daemon --attach af_packet`).

use crate::attach::Sent;
use crate::packet::PacketSocket;
use crate::ring::Slots;
use crate::sys::cvt;
use crate::vnet;
use patchbay_core::counters::DropReason;
use patchbay_core::pipeline::{TxBatch, TxDesc};
use patchbay_core::wire::{csum, Offload};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

const AF_XDP: libc::c_int = 44;
/// Bytes of one UMEM chunk.
pub const CHUNK: u32 = 2048;
/// The kernel reserves this much in front of a received frame
/// (`XDP_PACKET_HEADROOM`).
const HEADROOM: u32 = 256;
/// The longest frame the program redirects to the socket: a full 1500-byte
/// MTU with its Ethernet header and one tag. Anything longer from a host is
/// a GSO super-frame (or oversize), and only the AF_PACKET socket sees its
/// GSO metadata; a GSO skb no longer than this is a valid frame as it is.
pub const MAX_FRAME: u32 = 1500 + 14 + 4;
const _: () = assert!(MAX_FRAME <= CHUNK - HEADROOM);
/// Chunks (and ring entries) for receiving, and as many for sending.
const RING: u32 = 1024;

/// How the XDP program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Generic (skb) XDP: works on every netdev.
    Generic,
    /// The driver's own XDP hook.
    Native,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Generic => "generic",
            Mode::Native => "native",
        }
    }
}

// ---- bpf(2) -------------------------------------------------------------

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_PASS: i32 = 2;
const BPF_FUNC_REDIRECT_MAP: i32 = 51;

/// `union bpf_attr`, as bytes: each command reads its own fields at fixed
/// offsets; what a command does not use stays zero.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<RawFd> {
    // SAFETY: `attr` is a live, zero-padded bpf_attr of the size given;
    // pointers written into it point at buffers the caller keeps alive
    // for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            size_of::<Attr>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as RawFd)
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// One BPF instruction (`struct bpf_insn`).
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0x0f);
    b[2..4].copy_from_slice(&off.to_ne_bytes());
    b[4..8].copy_from_slice(&imm.to_ne_bytes());
    b
}

/// The program, as libxdp's default one for AF_XDP but with a length test:
///
/// ```text
///     r2 = ctx->data; r3 = ctx->data_end
///     r4 = r2 + MAX_FRAME
///     if r3 > r4 goto pass           ; too long for a chunk: to the stack
///     r2 = ctx->rx_queue_index
///     return bpf_redirect_map(xskmap, r2, XDP_PASS)
/// pass:
///     return XDP_PASS
/// ```
fn program(map_fd: RawFd) -> Vec<[u8; 8]> {
    const LDXW: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
    const MOV64X: u8 = 0xbf;
    const MOV64K: u8 = 0xb7;
    const ADD64K: u8 = 0x07;
    const JGTX: u8 = 0x2d;
    const LDDW: u8 = 0x18;
    const CALL: u8 = 0x85;
    const EXIT: u8 = 0x95;
    const PSEUDO_MAP_FD: u8 = 1;
    vec![
        insn(LDXW, 2, 1, 0, 0),                     // r2 = data
        insn(LDXW, 3, 1, 4, 0),                     // r3 = data_end
        insn(MOV64X, 4, 2, 0, 0),                   // r4 = r2
        insn(ADD64K, 4, 0, 0, MAX_FRAME as i32),    // r4 += MAX_FRAME
        insn(JGTX, 3, 4, 6, 0),                     // if r3 > r4 goto pass
        insn(LDXW, 2, 1, 16, 0),                    // r2 = rx_queue_index
        insn(LDDW, 1, PSEUDO_MAP_FD, 0, map_fd),    // r1 = xskmap
        insn(0, 0, 0, 0, 0),                        //   (upper half)
        insn(MOV64K, 3, 0, 0, XDP_PASS),            // r3 = XDP_PASS
        insn(CALL, 0, 0, 0, BPF_FUNC_REDIRECT_MAP), // redirect or pass
        insn(EXIT, 0, 0, 0, 0),
        insn(MOV64K, 0, 0, 0, XDP_PASS), // pass:
        insn(EXIT, 0, 0, 0, 0),
    ]
}

/// The XSKMAP, the program and the link that holds it on the netdev.
#[derive(Debug)]
struct Program {
    link: OwnedFd,
    map: OwnedFd,
    _prog: OwnedFd,
    mode: Mode,
}

impl Program {
    fn load(ifindex: u32, force: Option<Mode>) -> io::Result<Program> {
        let map = owned(bpf(
            BPF_MAP_CREATE,
            Attr::new()
                .u32(0, BPF_MAP_TYPE_XSKMAP)
                .u32(4, 4)
                .u32(8, 4)
                .u32(12, 64),
        )?);
        let insns = program(map.as_raw_fd());
        let license = c"Dual MIT/GPL";
        let mut log = vec![0u8; 16384];
        let load = |log: Option<&mut Vec<u8>>| {
            let mut a = Attr::new();
            a.u32(0, BPF_PROG_TYPE_XDP)
                .u32(4, insns.len() as u32)
                .u64(8, insns.as_ptr() as u64)
                .u64(16, license.as_ptr() as u64);
            if let Some(log) = log {
                a.u32(24, 1)
                    .u32(28, log.len() as u32)
                    .u64(32, log.as_mut_ptr() as u64);
            }
            a.0[48..56].copy_from_slice(b"patchbay");
            bpf(BPF_PROG_LOAD, &mut a)
        };
        // Without a log first (a long one may not fit); with one to say why.
        let prog = match load(None).or_else(|_| load(Some(&mut log))) {
            Ok(fd) => owned(fd),
            Err(e) => {
                let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                let msg = String::from_utf8_lossy(&log[..end]);
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "the kernel refused the XDP program: {e}; verifier: {}",
                        msg.trim()
                    ),
                ));
            }
        };
        // Generic unless told: native XDP on a veth turns off TSO on its
        // peer (a program without multi-buffer support cannot take a GSO
        // frame), which would cost the host's TCP far more than it saves.
        let modes = match force {
            Some(m) => vec![m],
            None => vec![Mode::Generic],
        };
        let mut last = None;
        for mode in modes {
            let flags = match mode {
                Mode::Generic => XDP_FLAGS_SKB_MODE,
                Mode::Native => XDP_FLAGS_DRV_MODE,
            };
            match bpf(
                BPF_LINK_CREATE,
                Attr::new()
                    .u32(0, prog.as_raw_fd() as u32)
                    .u32(4, ifindex)
                    .u32(8, BPF_XDP)
                    .u32(12, flags),
            ) {
                Ok(fd) => {
                    return Ok(Program {
                        link: owned(fd),
                        map,
                        _prog: prog,
                        mode,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        let e = last.expect("at least one mode was tried");
        Err(io::Error::new(
            e.kind(),
            format!("cannot attach the XDP program: {e}"),
        ))
    }

    fn set_socket(&self, queue: u32, fd: RawFd) -> io::Result<()> {
        let key = queue;
        let val = fd as u32;
        bpf(
            BPF_MAP_UPDATE_ELEM,
            Attr::new()
                .u32(0, self.map.as_raw_fd() as u32)
                .u64(8, &key as *const u32 as u64)
                .u64(16, &val as *const u32 as u64),
        )
        .map(drop)
    }

    /// Whether the link still holds the program on a netdev (someone may
    /// have detached it with `bpftool link detach`, or the netdev went).
    fn attached(&self) -> bool {
        // struct bpf_link_info: type, id, prog_id, then (8-aligned) the
        // union whose xdp member starts with the ifindex.
        let mut info = Attr::new();
        let r = bpf(
            BPF_OBJ_GET_INFO_BY_FD,
            Attr::new()
                .u32(0, self.link.as_raw_fd() as u32)
                .u32(4, 64)
                .u64(8, info.0.as_mut_ptr() as u64),
        );
        let ifindex = u32::from_ne_bytes(info.0[16..20].try_into().expect("4 bytes"));
        r.is_ok() && ifindex != 0
    }
}

// ---- rings ----------------------------------------------------------------

/// A shared mapping, unmapped on drop.
#[derive(Debug)]
struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory; who touches which part when is
// governed by the rings (see `Ring`) and the mutexes of `XskPort`.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    fn new(fd: RawFd, len: usize, off: u64) -> io::Result<Mmap> {
        let (flags, fd) = if fd < 0 {
            (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)
        } else {
            (libc::MAP_SHARED | libc::MAP_POPULATE, fd)
        };
        // SAFETY: a fresh mapping; the kernel checks fd and offset.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                off as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: p as *mut u8,
            len,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// One of the four single-producer single-consumer rings shared with the
/// kernel. patchbay produces on the fill and TX rings and consumes the RX
/// and completion rings; each ring is only touched under its side's mutex.
#[derive(Debug)]
struct Ring {
    map: Mmap,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    size: u32,
    /// Our copy of the index we advance.
    local: u32,
    /// The last value seen of the index the kernel advances.
    cached: u32,
}

impl Ring {
    fn open(fd: RawFd, off: &libc::xdp_ring_offset, entry: usize, pgoff: u64) -> io::Result<Ring> {
        let len = off.desc as usize + RING as usize * entry;
        let map = Mmap::new(fd, len, pgoff)?;
        Ok(Ring {
            map,
            producer: off.producer as usize,
            consumer: off.consumer as usize,
            flags: off.flags as usize,
            desc: off.desc as usize,
            size: RING,
            local: 0,
            cached: 0,
        })
    }

    fn index(&self, at: usize) -> &AtomicU32 {
        // SAFETY: `at` is one of the offsets the kernel gave for this
        // mapping, 4-aligned, and the u32 there lives as long as the map.
        unsafe { &*(self.map.ptr.add(at) as *const AtomicU32) }
    }

    /// Producer side: how many entries may be written now.
    fn free(&mut self) -> u32 {
        let cons = self.index(self.consumer).load(Ordering::Acquire);
        self.size - self.local.wrapping_sub(cons)
    }

    /// Consumer side: how many entries wait.
    fn ready(&mut self) -> u32 {
        self.cached = self.index(self.producer).load(Ordering::Acquire);
        self.cached.wrapping_sub(self.local)
    }

    /// Producer: publishes what was written up to `local`.
    fn submit(&self) {
        self.index(self.producer)
            .store(self.local, Ordering::Release);
    }

    /// Consumer: gives back what was read up to `local`.
    fn release(&self) {
        self.index(self.consumer)
            .store(self.local, Ordering::Release);
    }

    fn needs_wakeup(&self) -> bool {
        self.index(self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    fn slot(&self, i: u32, entry: usize) -> *mut u8 {
        let at = self.desc + (i & (self.size - 1)) as usize * entry;
        // SAFETY: `at` is within the mapping: desc + size * entry.
        unsafe { self.map.ptr.add(at) }
    }

    fn put_addr(&mut self, addr: u64) {
        // SAFETY: the slot is ours: `free` said so before the caller wrote.
        unsafe { (self.slot(self.local, 8) as *mut u64).write(addr) };
        self.local = self.local.wrapping_add(1);
    }

    fn get_addr(&mut self) -> u64 {
        // SAFETY: the kernel published the entry (`ready`).
        let a = unsafe { (self.slot(self.local, 8) as *const u64).read() };
        self.local = self.local.wrapping_add(1);
        a
    }

    fn put_desc(&mut self, d: libc::xdp_desc) {
        // SAFETY: as in `put_addr`.
        unsafe { (self.slot(self.local, 16) as *mut libc::xdp_desc).write(d) };
        self.local = self.local.wrapping_add(1);
    }

    fn get_desc(&mut self) -> libc::xdp_desc {
        // SAFETY: as in `get_addr`.
        let d = unsafe { (self.slot(self.local, 16) as *const libc::xdp_desc).read() };
        self.local = self.local.wrapping_add(1);
        d
    }
}

#[derive(Debug)]
struct RxSide {
    rx: Ring,
    fill: Ring,
}

#[derive(Debug)]
struct TxSide {
    tx: Ring,
    comp: Ring,
    /// Transmit chunks not in flight.
    free: Vec<u64>,
}

/// What the socket's own counters say (`XDP_STATISTICS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct XskStats {
    /// Frames dropped on the way to the socket (no room, too long).
    pub rx_dropped: u64,
    /// Received frames lost because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring had no chunk for a frame.
    pub fill_ring_empty: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
}

/// An AF_XDP port and the AF_PACKET socket beside it (see the module
/// comment). Field order is drop order: the program goes first, so frames
/// fall back to the stack before the socket closes.
#[derive(Debug)]
pub struct XskPort {
    prog: Program,
    rx: Mutex<RxSide>,
    tx: Mutex<TxSide>,
    fd: OwnedFd,
    umem: Mmap,
    pub packet: PacketSocket,
    /// The AF_PACKET socket may have frames: set when its descriptor
    /// polls readable, cleared when a read drains it. Saves a `recvmmsg`
    /// per burst while only the ring has traffic.
    pub packet_ready: AtomicBool,
    pub ifindex: u32,
}

fn sockopt<T>(fd: RawFd, opt: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            val as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Whether this kernel has AF_XDP sockets at all.
pub fn supported() -> Result<(), String> {
    // SAFETY: plain socket(2); closed right away.
    let fd = unsafe { libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(format!(
            "this kernel has no AF_XDP sockets ({e}; CONFIG_XDP_SOCKETS)"
        ));
    }
    drop(owned(fd));
    Ok(())
}

impl XskPort {
    /// Opens the AF_PACKET socket, the AF_XDP socket and its UMEM, and
    /// attaches the program. `mode` forces generic or native XDP.
    pub fn open(ifindex: u32, mode: Option<Mode>) -> io::Result<XskPort> {
        let packet = PacketSocket::open(ifindex)?;
        // SAFETY: plain socket(2); owned right away.
        let fd = owned(cvt(unsafe {
            libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0)
        })?);
        let raw = fd.as_raw_fd();
        let umem_len = (2 * RING * CHUNK) as usize;
        let umem = Mmap::new(-1, umem_len, 0)?;
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr as u64,
            len: umem_len as u64,
            chunk_size: CHUNK,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        sockopt(raw, libc::XDP_UMEM_REG, &reg)?;
        for opt in [
            libc::XDP_UMEM_FILL_RING,
            libc::XDP_UMEM_COMPLETION_RING,
            libc::XDP_RX_RING,
            libc::XDP_TX_RING,
        ] {
            sockopt(raw, opt, &RING)?;
        }
        // SAFETY: plain old data.
        let mut off: libc::xdp_mmap_offsets = unsafe { zeroed() };
        let mut len = size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: `off` is writable for `len` bytes.
        cvt(unsafe {
            libc::getsockopt(
                raw,
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                &mut off as *mut _ as *mut libc::c_void,
                &mut len,
            )
        })?;
        let mut rxs = RxSide {
            rx: Ring::open(raw, &off.rx, 16, libc::XDP_PGOFF_RX_RING as u64)?,
            fill: Ring::open(raw, &off.fr, 8, libc::XDP_UMEM_PGOFF_FILL_RING)?,
        };
        let txs = TxSide {
            tx: Ring::open(raw, &off.tx, 16, libc::XDP_PGOFF_TX_RING as u32 as u64)?,
            comp: Ring::open(raw, &off.cr, 8, libc::XDP_UMEM_PGOFF_COMPLETION_RING)?,
            free: (RING..2 * RING).map(|i| u64::from(i * CHUNK)).collect(),
        };
        for i in 0..RING {
            rxs.fill.put_addr(u64::from(i * CHUNK));
        }
        rxs.fill.submit();
        // SAFETY: plain old data.
        let mut sxdp: libc::sockaddr_xdp = unsafe { zeroed() };
        sxdp.sxdp_family = AF_XDP as u16;
        sxdp.sxdp_flags = libc::XDP_COPY | libc::XDP_USE_NEED_WAKEUP;
        sxdp.sxdp_ifindex = ifindex;
        sxdp.sxdp_queue_id = 0;
        // SAFETY: `sxdp` is a valid sockaddr_xdp of the length given.
        cvt(unsafe {
            libc::bind(
                raw,
                &sxdp as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_xdp>() as u32,
            )
        })?;
        let prog = Program::load(ifindex, mode)?;
        prog.set_socket(0, raw)?;
        crate::sys::set_nonblocking(raw)?;
        Ok(XskPort {
            prog,
            rx: Mutex::new(rxs),
            tx: Mutex::new(txs),
            fd,
            umem,
            packet,
            // Frames may wait already: edge-triggered polling would not say.
            packet_ready: AtomicBool::new(true),
            ifindex,
        })
    }

    pub fn mode(&self) -> Mode {
        self.prog.mode
    }

    /// Whether the program is still on the netdev. When it is not, every
    /// frame reaches the AF_PACKET socket and the port keeps working.
    pub fn attached(&self) -> bool {
        self.prog.attached()
    }

    pub fn stats(&self) -> XskStats {
        // SAFETY: plain old data.
        let mut s: libc::xdp_statistics = unsafe { zeroed() };
        let mut len = size_of::<libc::xdp_statistics>() as libc::socklen_t;
        // SAFETY: `s` is writable for `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                &mut s as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        if r < 0 {
            return XskStats::default();
        }
        XskStats {
            rx_dropped: s.rx_dropped,
            rx_ring_full: s.rx_ring_full,
            fill_ring_empty: s.rx_fill_ring_empty_descs,
            rx_invalid_descs: s.rx_invalid_descs,
            tx_invalid_descs: s.tx_invalid_descs,
        }
    }

    fn chunk(&self, addr: u64, len: usize) -> &[u8] {
        assert!(
            addr as usize + len <= self.umem.len,
            "descriptor outside the UMEM"
        );
        // SAFETY: within the UMEM (checked); the kernel handed this chunk
        // to us on the RX ring and does not touch it until it is back on
        // the fill ring.
        unsafe { std::slice::from_raw_parts(self.umem.ptr.add(addr as usize), len) }
    }

    /// Reads up to a burst: the RX ring first, then the AF_PACKET socket
    /// for what the program passed to the stack.
    pub fn recv_burst(&self, slots: &mut impl Slots) -> io::Result<usize> {
        let cap = slots.capacity();
        let mut n = 0;
        {
            let mut s = self.rx.lock().expect("rx side");
            let ready = (s.rx.ready() as usize).min(cap);
            for i in 0..ready {
                let d = s.rx.get_desc();
                let len = d.len as usize;
                let slot = slots.slot_mut(i);
                let ok = vnet::LEN + len <= slot.len();
                if ok {
                    slot[..vnet::LEN].fill(0);
                    slot[vnet::LEN..vnet::LEN + len].copy_from_slice(self.chunk(d.addr, len));
                    csum::complete_partial(&mut slot[vnet::LEN..vnet::LEN + len]);
                }
                slots.set(i, if ok { vnet::LEN + len } else { 0 }, None, !ok);
                s.fill.put_addr(d.addr & !u64::from(CHUNK - 1));
            }
            if ready > 0 {
                s.rx.release();
                s.fill.submit();
            }
            n += ready;
        }
        if n < cap && self.packet_ready.load(Ordering::Relaxed) {
            match self.packet.recv_burst(&mut Offset {
                inner: slots,
                at: n,
            }) {
                Ok(m) => {
                    if n + m < cap {
                        self.packet_ready.store(false, Ordering::Relaxed);
                    }
                    n += m;
                }
                // The ring's frames are read: they go on; the error
                // comes back with the next read.
                Err(e) if n > 0 => tracing::debug!("receive: {e}"),
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Sends a batch in order, each frame on the socket that carries it
    /// faithfully (see the module comment).
    pub fn send_batch(&self, batch: &TxBatch, out: &mut Sent) {
        let mut t = self.tx.lock().expect("tx side");
        let frames = &batch.frames;
        let mut i = 0;
        while i < frames.len() {
            let fits = |d: &TxDesc| d.offload == Offload::NONE && d.len <= CHUNK;
            let start = i;
            let xdp = fits(&frames[i]);
            while i < frames.len() && fits(&frames[i]) == xdp {
                i += 1;
            }
            if xdp {
                self.send_ring(&mut t, batch, &frames[start..i], out);
            } else {
                self.packet.send_frames(batch, &frames[start..i], out);
            }
        }
    }

    fn reclaim(t: &mut TxSide) {
        let n = t.comp.ready();
        for _ in 0..n {
            let a = t.comp.get_addr();
            t.free.push(a & !u64::from(CHUNK - 1));
        }
        if n > 0 {
            t.comp.release();
        }
    }

    fn send_ring(&self, t: &mut TxSide, batch: &TxBatch, frames: &[TxDesc], out: &mut Sent) {
        Self::reclaim(t);
        let mut queued = 0;
        for (k, d) in frames.iter().enumerate() {
            if t.free.is_empty() || t.tx.free() == 0 {
                // Let the kernel send what is queued, then look again.
                self.kick(t, &mut queued);
                Self::reclaim(t);
                if t.free.is_empty() || t.tx.free() == 0 {
                    for d in &frames[k..] {
                        out.lost.push((DropReason::TxFull, d.len as usize));
                    }
                    break;
                }
            }
            let addr = t.free.pop().expect("checked above");
            let f = batch.frame(d);
            // SAFETY: the chunk is in the UMEM's transmit half and was on
            // our free list: the kernel is not reading it.
            unsafe {
                std::ptr::copy_nonoverlapping(f.as_ptr(), self.umem.ptr.add(addr as usize), f.len())
            };
            t.tx.put_desc(libc::xdp_desc {
                addr,
                len: f.len() as u32,
                options: 0,
            });
            queued += 1;
        }
        self.kick(t, &mut queued);
    }

    /// Publishes the queued descriptors and asks the kernel to send them
    /// (in copy mode it sends 32 a call).
    fn kick(&self, t: &mut TxSide, queued: &mut usize) {
        if *queued == 0 {
            return;
        }
        t.tx.submit();
        let mut left = *queued;
        *queued = 0;
        if !t.tx.needs_wakeup() {
            return;
        }
        while left > 0 {
            // SAFETY: a zero-length sendto on our socket only kicks TX.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    std::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            };
            if r >= 0 {
                break;
            }
            match io::Error::last_os_error().raw_os_error() {
                // More than one call's worth queued: go on.
                Some(libc::EAGAIN) => left = left.saturating_sub(32),
                // The rest stays queued for the next kick.
                _ => break,
            }
        }
    }
}

impl AsRawFd for XskPort {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Slots from `at` on, for a second reader filling the rest of a burst.
struct Offset<'a, S: Slots> {
    inner: &'a mut S,
    at: usize,
}

impl<S: Slots> Slots for Offset<'_, S> {
    fn capacity(&self) -> usize {
        self.inner.capacity() - self.at
    }
    fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        self.inner.slot_mut(self.at + i)
    }
    fn set(&mut self, i: usize, len: usize, tag: Option<patchbay_core::wire::Tag>, trunc: bool) {
        self.inner.set(self.at + i, len, tag, trunc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_jumps_to_its_pass_branch() {
        let p = program(3);
        // The conditional jump at 4 lands on the instruction that loads
        // XDP_PASS into r0.
        let off = i16::from_ne_bytes([p[4][2], p[4][3]]);
        let target = 4 + 1 + off as usize;
        assert_eq!(p[target][0], 0xb7);
        assert_eq!(p[target][1] & 0x0f, 0, "r0");
        assert_eq!(
            i32::from_ne_bytes(p[target][4..8].try_into().unwrap()),
            XDP_PASS
        );
        assert_eq!(p.last().unwrap()[0], 0x95, "ends with exit");
    }
}
