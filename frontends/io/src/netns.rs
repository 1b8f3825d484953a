//! The network namespaces the daemon's TAPs live in. A TAP moved with
//! `ip link set NAME netns NS` (or `patchbay link set ... netns NS`) stays
//! the device it exposes; to read and set it there, and to hear of changes
//! made to it there, the daemon keeps in each such namespace an ioctl
//! socket and an rtnetlink link monitor (sockets keep the namespace they
//! were made in, so the event loop never has to enter one).

use crate::sys::{self, Ifctl};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug)]
pub struct Netns {
    /// The namespace file's (st_dev, st_ino): the same namespace however
    /// it was reached.
    pub key: (u64, u64),
    /// Its name under /run/netns (as `ip netns add` makes them); `None`
    /// for the daemon's own and for unnamed ones.
    pub name: Option<String>,
    pub own: bool,
    file: File,
    pub ctl: Ifctl,
    /// RTMGRP_LINK there; `None` if the kernel refused one (then the
    /// once-a-second poll notices changes).
    pub mon: Option<OwnedFd>,
}

impl Netns {
    /// The daemon's own namespace.
    pub fn own() -> io::Result<Netns> {
        let file = File::open("/proc/thread-self/ns/net")?;
        Ok(Netns {
            key: key_of(&file)?,
            name: None,
            own: true,
            file,
            ctl: Ifctl::here()?,
            mon: sys::link_monitor().ok(),
        })
    }

    /// The namespace `file` refers to: its sockets are made by a thread
    /// that enters it.
    pub fn of(file: File) -> io::Result<Netns> {
        let key = key_of(&file)?;
        let f = file.try_clone()?;
        let (ctl, mon) = std::thread::spawn(move || -> io::Result<(Ifctl, Option<OwnedFd>)> {
            sys::enter(&f)?;
            Ok((Ifctl::here()?, sys::link_monitor().ok()))
        })
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))??;
        Ok(Netns {
            key,
            name: name_of(key),
            own: false,
            file,
            ctl,
            mon,
        })
    }

    /// Runs `f` in this namespace (on a thread that enters it, unless it
    /// is the daemon's own).
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        if self.own {
            return Ok(f());
        }
        let file = self.file.try_clone().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            sys::enter(&file).map_err(|e| format!("setns: {e}"))?;
            Ok(f())
        })
        .join()
        .map_err(|_| "the namespace thread panicked".to_string())?
    }

    /// How messages name it.
    pub fn label(&self) -> String {
        match (&self.name, self.own) {
            (_, true) => "the daemon's namespace".into(),
            (Some(n), _) => format!("namespace {n}"),
            (None, _) => format!("an unnamed namespace (inode {})", self.key.1),
        }
    }
}

/// The (st_dev, st_ino) of a namespace file.
pub fn key_of(f: &impl AsRawFd) -> io::Result<(u64, u64)> {
    // SAFETY: an all-zero stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable and the descriptor is open.
    sys::cvt(unsafe { libc::fstat(f.as_raw_fd(), &mut st) })?;
    Ok((st.st_dev, st.st_ino))
}

/// The name under /run/netns of the namespace with `key`, if any.
fn name_of(key: (u64, u64)) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/run/netns")
        .ok()?
        .flatten()
        .find(|e| std::fs::metadata(e.path()).is_ok_and(|m| (m.dev(), m.ino()) == key))
        .and_then(|e| e.file_name().into_string().ok())
}
