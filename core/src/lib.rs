//! patchbay-core: the Linux virtual network devices, reimplemented without I/O.
//!
//! This crate holds every forwarding and protocol decision patchbay makes and
//! nothing else: no sockets, threads, clocks or unsafe code. Time comes in as
//! an argument ([`time::Instant`]), frames come in as byte slices and leave as
//! entries in per-attachment transmit batches ([`pipeline::TxBatch`]), and
//! every state machine says when it next needs to run (`poll_timeout`). The
//! daemon (`patchbay-io`), the simulator and the unit tests all drive this
//! same code.
//!
//! Map: [`wire`] parses and emits frames, [`graph`] holds the interfaces and
//! walks frames up and down them the way the kernel's rx handlers do,
//! [`bridge`] and [`vlan`] are the devices, [`fdb`] the bridge's forwarding
//! database, [`pipeline`] the batched entry point, [`counters`] the per
//! interface counters and named drop reasons, and [`cmd`] the iproute2
//! command language that builds and inspects a topology.
#![forbid(unsafe_code)]

pub mod bond;
pub mod bridge;
pub mod cmd;
pub mod counters;
pub mod fdb;
pub mod graph;
pub mod ipvlan;
pub mod lacp;
pub mod lag;
pub mod macvlan;
pub mod mcfilter;
pub mod netdevsim;
pub mod pcap;
pub mod pipeline;
pub mod rng;
pub mod team;
pub mod time;
pub mod vlan;
pub mod vxlan;
pub mod wire;

pub use graph::{AttachId, Graph, IfId, Targets};
pub use time::Instant;
