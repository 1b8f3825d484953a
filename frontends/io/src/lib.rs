//! patchbay-io: where frames meet the kernel.
//!
//! Attachments ([`tap::Tap`], [`packet::PacketSocket`]) move bursts of
//! frames with their virtio-net metadata; the [`daemon::Daemon`] owns them
//! in one mio event loop, runs each burst through the sans-IO core, and
//! serves the control socket ([`proto`]). All unsafe code of patchbay lives
//! in this crate, each block with a `SAFETY:` comment.

pub mod attach;
pub mod daemon;
pub mod netns;
pub mod packet;
pub use patchbay_core::pcap;
pub mod proto;
pub mod ring;
pub mod route;
pub mod rtnl;
pub mod rxthread;
pub mod sys;
pub mod tap;
pub mod underlay;
pub mod vnet;
pub mod xsk;
