//! The exposed TAP is the device. A device patchbay exposes (bridge, VLAN,
//! bond, team, macvlan, ipvlan, veth, dummy, VXLAN) is a TAP of its name
//! to the host, and the host changes it with `ip`: admin state, MTU,
//! address, name, and the namespace it is in. Whenever the TAP's
//! namespace reports a link change (and once a second besides), each
//! exposed TAP is read where it is now and compared three ways, per
//! property, with the emulated device and with what the daemon last saw:
//!
//! - TAP = device: nothing to do;
//! - TAP ≠ what was seen (and ≠ device): the host changed it. The change
//!   runs as `link set DEV ...` through the same checks as a command, so
//!   `patchbay monitor` shows it; one the device cannot take is set back
//!   on the TAP, with a warning saying why;
//! - TAP = what was seen ≠ device: patchbay changed the device (a command,
//!   a bond taking its member's address); the TAP follows.
//!
//! A TAP moved with `ip link set NAME netns NS` is found where it went
//! (TUNGETDEVNETNS), and the daemon starts listening there; moving it
//! brings it down, as moving any kernel device does, so the emulated
//! device goes down too until the host sets it up in its new namespace.

use super::*;
use crate::netns::{self, Netns};
use patchbay_core::wire::Mac;

/// What the host sees of an exposed TAP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TapState {
    pub name: String,
    pub up: bool,
    pub mtu: u32,
    pub mac: Mac,
}

impl Daemon {
    pub(super) fn ns(&self, i: usize) -> Option<&Netns> {
        self.nss.get(i).and_then(Option::as_ref)
    }

    /// Brings every exposed TAP and its device into agreement, then lets
    /// go of namespaces no TAP is in any more.
    pub(super) fn sync_taps(&mut self) {
        let exposed: Vec<usize> = (0..self.atts.len())
            .filter(|&a| {
                self.atts[a].as_ref().is_some_and(|att| {
                    matches!(*att.port, Port::Tap(_))
                        && self
                            .graph
                            .get(att.ifid)
                            .and_then(|f| f.attach)
                            .is_some_and(|x| x.role == Role::Host)
                })
            })
            .collect();
        for a in exposed {
            self.sync_tap(a);
        }
        self.release_namespaces();
    }

    /// Which namespace attachment `a`'s TAP is in now (following moves
    /// made by the host); starts listening there if it is new.
    pub(super) fn locate(&mut self, a: usize) -> Option<usize> {
        let att = self.atts.get(a)?.as_ref()?;
        let Port::Tap(tap) = &*att.port else {
            return Some(att.ns);
        };
        let file = tap.netns().ok()?;
        let key = netns::key_of(&file).ok()?;
        let i = match self
            .nss
            .iter()
            .position(|n| n.as_ref().is_some_and(|n| n.key == key))
        {
            Some(i) => i,
            None => {
                let n = match Netns::of(file) {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(dev = %att.netdev, "cannot follow the TAP into its namespace: {e}");
                        return None;
                    }
                };
                if let Some(m) = &n.mon {
                    if let Err(e) = self.poll.registry().register(
                        &mut mio::unix::SourceFd(&m.as_raw_fd()),
                        LINKMON,
                        Interest::READABLE,
                    ) {
                        warn!("cannot listen for link changes in {}: {e}", n.label());
                    }
                }
                match self.nss.iter().position(Option::is_none) {
                    Some(i) => {
                        self.nss[i] = Some(n);
                        i
                    }
                    None => {
                        self.nss.push(Some(n));
                        self.nss.len() - 1
                    }
                }
            }
        };
        let att = self.atts[a].as_mut()?;
        if att.ns != i {
            att.ns = i;
            let label = self.nss[i].as_ref().map(Netns::label).unwrap_or_default();
            info!(dev = %att.netdev, "the TAP is in {label} now");
        }
        Some(i)
    }

    /// One exposed TAP: the host's changes into the device, patchbay's
    /// out to the TAP.
    fn sync_tap(&mut self, a: usize) {
        let Some(ns) = self.locate(a) else { return };
        let Some(tap) = self.read_tap(a, ns) else {
            return;
        };
        let att = self.atts[a].as_ref().expect("live attachment");
        let id = att.ifid;
        let dev = self.device_state(id);
        // First sight of a TAP the daemon just made: the host has done
        // nothing to it yet, so every difference is the device's to push
        // (an MTU given at `link add`, a VLAN's lower's MTU).
        let seen = att.seen.clone().unwrap_or_else(|| tap.clone());
        // The host's changes, in the order `ip` would need them: down
        // before a rename, up last.
        let mut changes: Vec<Vec<String>> = Vec::new();
        let host_up = tap.up != dev.up && tap.up != seen.up;
        if host_up && !tap.up {
            changes.push(vec!["down".into()]);
        }
        if tap.name != dev.name && tap.name != seen.name {
            changes.push(vec!["name".into(), tap.name.clone()]);
        }
        if tap.mac != dev.mac && tap.mac != seen.mac {
            changes.push(vec!["address".into(), tap.mac.to_string()]);
        }
        if tap.mtu != dev.mtu && tap.mtu != seen.mtu {
            changes.push(vec!["mtu".into(), tap.mtu.to_string()]);
        }
        if host_up && tap.up {
            changes.push(vec!["up".into()]);
        }
        let place = self.ns(ns).map(Netns::label).unwrap_or_default();
        for c in changes {
            let name = self.graph.iface(id).name.clone();
            let mut words: Vec<String> = vec!["link".into(), "set".into(), name.clone()];
            words.extend(c.iter().cloned());
            match self.apply(&words, Opts::default()) {
                Ok(_) => info!(dev = %name, "the host set its TAP in {place}: {}", c.join(" ")),
                Err(e) => warn!(
                    dev = %name,
                    "the host's 'ip link set {} {}' in {place} is refused ({e}); the TAP is set back",
                    tap.name,
                    c.join(" ")
                ),
            }
        }
        // What the device is now, refused changes set back and
        // patchbay's own carried out.
        let want = self.device_state(id);
        let ctl = &self.ns(ns).expect("located").ctl;
        let mut name = tap.name.clone();
        let log =
            |what: &str, e: io::Error| warn!(dev = %want.name, "cannot set the TAP's {what}: {e}");
        if tap.up && !want.up {
            ctl.set_up(&name, false).unwrap_or_else(|e| log("state", e));
        }
        if name != want.name {
            match ctl.rename(&name, &want.name) {
                Ok(()) => name = want.name.clone(),
                Err(e) => log("name", e),
            }
        }
        if tap.mac != want.mac {
            ctl.set_mac(&name, want.mac)
                .unwrap_or_else(|e| log("address", e));
        }
        if tap.mtu != want.mtu {
            ctl.set_mtu(&name, want.mtu)
                .unwrap_or_else(|e| log("MTU", e));
        }
        if !tap.up && want.up {
            ctl.set_up(&name, true).unwrap_or_else(|e| log("state", e));
        }
        let now = self.read_tap(a, ns);
        let att = self.atts[a].as_mut().expect("live attachment");
        att.netdev = name;
        att.seen = now;
    }

    fn device_state(&self, id: IfId) -> TapState {
        let f = self.graph.iface(id);
        TapState {
            name: f.name.clone(),
            up: f.admin_up,
            mtu: f.mtu,
            mac: f.mac,
        }
    }

    fn read_tap(&self, a: usize, ns: usize) -> Option<TapState> {
        let att = self.atts.get(a)?.as_ref()?;
        let Port::Tap(tap) = &*att.port else {
            return None;
        };
        let ctl = &self.ns(ns)?.ctl;
        let name = tap.ifname().ok()?;
        Some(TapState {
            up: ctl.flags(&name).ok()?.0,
            mtu: ctl.mtu(&name).ok()?,
            mac: ctl.mac(&name).ok()?,
            name,
        })
    }

    /// Stops listening in namespaces no netdev of ours is in; the daemon's
    /// own stays.
    fn release_namespaces(&mut self) {
        for i in 1..self.nss.len() {
            if self.nss[i].is_none() || self.atts.iter().flatten().any(|a| a.ns == i) {
                continue;
            }
            if let Some(n) = self.nss[i].take() {
                if let Some(m) = &n.mon {
                    let _ = self
                        .poll
                        .registry()
                        .deregister(&mut mio::unix::SourceFd(&m.as_raw_fd()));
                }
                debug!("released {}", n.label());
            }
        }
    }
}
