//! The control protocol between `patchbay` clients and the daemon: one JSON
//! object per line on a Unix socket, one answer per request (a long one
//! in several lines, each but the last marked `more`). A capture
//! request is answered with one line and then a pcap byte stream.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Request {
    /// The command words, as after `patchbay` (`["link", "show"]`).
    #[serde(default)]
    pub words: Vec<String>,
    #[serde(default)]
    pub json: bool,
    #[serde(default)]
    pub details: bool,
    #[serde(default)]
    pub stats: bool,
    /// Stream a pcap of this interface instead of running a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
    /// Stream the control plane's rtnetlink messages (`patchbay monitor`)
    /// as a LINKTYPE_NETLINK pcap instead of running a command.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub monitor: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default)]
    pub out: String,
    #[serde(default)]
    pub error: String,
    /// What iproute2 would print on stderr for a command that succeeded.
    #[serde(default)]
    pub warning: String,
    /// More of this answer follows, in further lines (a long `bridge fdb
    /// show` comes in chunks): the answer is their `out`s in order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

/// Where the control socket is: `--socket`, else `$PATCHBAY_SOCKET`, else
/// `/run/patchbay/patchbay.sock`.
pub fn socket_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("PATCHBAY_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/run/patchbay/patchbay.sock"))
}
