//! The receive thread of the pipeline layout: it polls the attachments,
//! reads bursts into pool slots and hands them to the worker on per-port
//! rings (see `ring.rs` for who owns a slot when).

use crate::attach::Port;
use crate::ring::{Pool, PoolBurst, PortRing, BURST};
use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Poll, Token, Waker};
use patchbay_core::AttachId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// Token base of attachments in the receive thread's poll.
pub const ATTACH_BASE: usize = 1 << 24;
/// Token base of an attachment's second descriptor (an AF_XDP port's
/// AF_PACKET socket), so it is read only when it has something.
pub const SIDE_BASE: usize = 1 << 23;
/// Bursts one attachment may take before others get a turn.
pub const BURSTS_PER_TURN: usize = 8;

/// Messages from the worker.
#[derive(Debug)]
pub enum RxCtl {
    Add(Arc<PortRing>, Arc<Port>),
    /// Stop reading the attachment; answered on the ack channel.
    Remove(AttachId),
}

/// What the receive thread shares with the worker.
#[derive(Debug)]
pub struct Shared {
    pub pool: Pool,
    /// Set by the worker before it blocks; the receive thread wakes it only
    /// then, so a busy worker costs no wake-up system call.
    pub sleeping: AtomicBool,
    pub stop: AtomicBool,
    /// `--poll`: never sleep, and read every AF_XDP ring each turn.
    pub busy_poll: AtomicBool,
    pub waker: Arc<Waker>,
}

pub fn run(mut poll: Poll, shared: Arc<Shared>, ctl: Receiver<RxCtl>, acks: Sender<AttachId>) {
    let mut ports: Vec<Option<(Arc<PortRing>, Arc<Port>)>> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(256);
    while !shared.stop.load(Ordering::Relaxed) {
        let busy_poll = shared.busy_poll.load(Ordering::Relaxed);
        if busy_poll {
            for (a, p) in ports.iter().enumerate() {
                if p.as_ref()
                    .is_some_and(|(_, port)| matches!(**port, Port::Xdp(_)))
                    && !pending.contains(&a)
                {
                    pending.push(a);
                }
            }
        }
        let timeout = if busy_poll || !pending.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_millis(100)
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                warn!("receive thread poll: {e}");
            }
            continue;
        }
        while let Ok(m) = ctl.try_recv() {
            match m {
                RxCtl::Add(ring, port) => {
                    let a = ring.attach.0 as usize;
                    if a >= ports.len() {
                        ports.resize_with(a + 1, || None);
                    }
                    ports[a] = Some((ring, port));
                    pending.push(a);
                }
                RxCtl::Remove(a) => {
                    if let Some(p) = ports.get_mut(a.0 as usize) {
                        *p = None;
                    }
                    pending.retain(|x| *x != a.0 as usize);
                    let _ = acks.send(a);
                    let _ = shared.waker.wake();
                }
            }
        }
        for ev in events.iter() {
            let Token(t) = ev.token();
            let a = if t >= ATTACH_BASE {
                t - ATTACH_BASE
            } else {
                let a = t - SIDE_BASE;
                if let Some(Some((_, port))) = ports.get(a) {
                    port.side_ready();
                }
                a
            };
            if !pending.contains(&a) {
                pending.push(a);
            }
        }
        let mut progress = false;
        let mut i = 0;
        while i < pending.len() {
            let a = pending[i];
            let Some(Some((ring, port))) = ports.get(a) else {
                pending.swap_remove(i);
                continue;
            };
            let (drained, got) = service(&shared, ring, port);
            progress |= got > 0;
            if drained {
                pending.swap_remove(i);
            } else {
                i += 1;
            }
        }
        if !pending.is_empty() && !progress && !busy_poll {
            // Rings full or pool empty: the worker is behind. Let it run
            // rather than spin on a shared core; the sockets hold the frames.
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Reads bursts from one attachment onto its ring. Returns whether the
/// attachment is drained and how many frames were read.
fn service(shared: &Shared, ring: &PortRing, port: &Port) -> (bool, usize) {
    let mut total = 0;
    for _ in 0..BURSTS_PER_TURN {
        if ring.ring.len() + BURST > PortRing::DEPTH {
            return (false, total);
        }
        let mut b = PoolBurst::take(&shared.pool);
        if b.n == 0 {
            return (false, total);
        }
        let cap = b.n;
        let n = match port.recv_burst(&mut b) {
            Ok(n) => n,
            Err(e) => {
                if e.raw_os_error() == Some(libc::ENETDOWN) {
                    // The port's netdev is down: expected, and it
                    // reads again when it comes back.
                    tracing::debug!("receive: {e}");
                } else {
                    warn!("receive failed: {e}");
                }
                b.give_back(0);
                return (true, total);
            }
        };
        b.give_back(n);
        for d in &b.descs[..n] {
            if ring.ring.push(*d).is_err() {
                let _ = shared.pool.free.push(d.slot);
                ring.full.fetch_add(1, Ordering::Relaxed);
            }
        }
        total += n;
        if n > 0 && shared.sleeping.swap(false, Ordering::SeqCst) {
            let _ = shared.waker.wake();
        }
        if n < cap {
            return (true, total);
        }
    }
    (false, total)
}
