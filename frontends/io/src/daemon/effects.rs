//! A command's way through the daemon: parsed, checked on the host side
//! ([`Daemon::check_host`]: namespaces, kernel names, the TAPs that must
//! move) and in the core, applied to the graph, and then its
//! [`cmd::Effect`]s carried out on the host (TAPs made, moved, set up or
//! down, MTUs and addresses pushed to the netdevs). A command refused at
//! either check changes nothing.

use super::*;
use patchbay_core::wire::Mac;

impl Daemon {
    /// Parses and carries out one command. On error nothing is changed,
    /// in the graph or on the host. What the host did to the exposed TAPs
    /// is taken in first, and the TAPs follow the command's changes.
    pub fn execute(&mut self, words: &[String], opts: Opts) -> Result<String, String> {
        if self.drain_monitors() {
            self.sync_links();
        }
        self.sync_taps();
        let r = self.apply(words, opts);
        self.sync_taps();
        self.sync_teamd();
        r
    }

    /// [`Daemon::execute`] without the TAPs' sync (which runs the host's
    /// changes through here).
    pub(super) fn apply(&mut self, words: &[String], opts: Opts) -> Result<String, String> {
        let c = cmd::parse(words).map_err(|e| e.to_string())?;
        self.fold_ring_drops();
        let now = self.now();
        self.check_host(&c)?;
        match &c {
            Command::TuntapAdd { name } => return self.tuntap_add(name).map(|_| String::new()),
            Command::TuntapDel { name } => return self.tuntap_del(name).map(|_| String::new()),
            Command::Save => return Ok(cmd::save::save(&self.graph, &|id| self.netns_of(id))),
            // Answered a chunk a turn by the control socket (`control.rs`).
            Command::FdbShow { dev, br } => {
                let d = cmd::FdbDump::new(&self.graph, dev.as_deref(), br.as_deref(), opts)
                    .map_err(|e| e.to_string())?;
                self.dump = Some(d);
                return Ok(String::new());
            }
            _ => {}
        }
        // Kernel netdevs the command names as ports or lowers join the
        // graph first; they leave again if the command is refused.
        let mut attached = Vec::new();
        // A port (made a member with `master`) gives its frames to its
        // master alone, as in the kernel, so AF_XDP may take them all. A
        // lower of a macvlan, ipvlan or VLAN keeps a stack of its own that
        // must still see what no upper takes: AF_PACKET, which leaves the
        // kernel its copy.
        let port = matches!(&c, Command::LinkSet(s) if matches!(s.master, Some(Some(_))));
        for name in c.lowers() {
            match self.ensure_attached(name, port) {
                Ok(Some(id)) => attached.push(id),
                Ok(None) => {}
                Err(e) => {
                    self.release_unused(&attached);
                    return Err(e);
                }
            }
        }
        let out = match cmd::apply(&mut self.graph, now, &c, opts) {
            Ok(o) => o,
            Err(e) => {
                self.release_unused(&attached);
                return Err(e.to_string());
            }
        };
        self.warning = out.warning;
        self.carry_out(out.effects)?;
        // What the command did, announced while the netdevs it let go are
        // still in the graph to be named.
        self.drain_events();
        let all: Vec<IfId> = self
            .graph
            .iter()
            .filter(|(_, f)| matches!(f.kind, Kind::External))
            .map(|(id, _)| id)
            .collect();
        self.release_unused(&all);
        Ok(out.text)
    }

    /// The host side of a command, checked before anything changes: the
    /// namespaces it names exist, the TAPs it moves can move, the names it
    /// takes are free in the kernel, what this layout cannot carry.
    pub(super) fn check_host(&self, c: &Command) -> Result<(), String> {
        let netns_exists = |cmd: &str, ns: &str| {
            if std::path::Path::new("/run/netns").join(ns).exists() {
                Ok(())
            } else {
                Err(format!("{cmd}: no network namespace \"{ns}\" (create it with 'ip netns add {ns}'); nothing was changed"))
            }
        };
        match c {
            Command::LinkAdd(a) => {
                let cmd = format!("link add {}", a.name);
                let exposed = !matches!(a.kind, cmd::LinkKind::Nlmon);
                if exposed && self.graph.by_name(&a.name).is_none() && sys::ifindex(&a.name).is_some() {
                    return Err(format!("{cmd}: a kernel device named \"{}\" already exists, and patchbay exposes its devices as TAPs of their own name", a.name));
                }
                if let cmd::LinkKind::Veth { peer: Some(p), peer_netns, .. } = &a.kind {
                    if self.graph.by_name(p).is_none() && sys::ifindex(p).is_some() {
                        return Err(format!("{cmd}: a kernel device named \"{p}\" (the peer) already exists"));
                    }
                    if let Some(ns) = peer_netns {
                        netns_exists(&cmd, ns)?;
                    }
                }
                if let Some(ns) = &a.netns {
                    if !exposed {
                        return Err(format!("{cmd}: an nlmon device has no TAP to move into {ns} (read it with 'patchbay capture {}'); nothing was changed", a.name));
                    }
                    netns_exists(&cmd, ns)?;
                }
                if let cmd::LinkKind::Vxlan(cfg, _) = &a.kind {
                    let cmd = format!("{cmd} type vxlan");
                    if self.pipe.is_some() {
                        return Err(format!("{cmd}: the pipeline layout has no VXLAN underlay yet; run the daemon with --layout run-to-completion"));
                    }
                    if cfg.remote.is_some_and(|a| a.is_ipv6()) && !cfg.local.is_some_and(|a| a.is_ipv6()) {
                        return Err(format!("{cmd}: an IPv6 remote needs an IPv6 local address (local ADDR)"));
                    }
                    if let (Some(d), Some(g)) = (&cfg.dev, cfg.remote) {
                        if g.is_multicast() && sys::ifindex(d).is_none() {
                            return Err(format!("{cmd}: no lower device \"{d}\" in the daemon's namespace"));
                        }
                    }
                    if !self.underlays.iter().any(|u| u.port == cfg.dstport)
                        && self.underlays.len() >= CLIENT_BASE - UNDERLAY_BASE
                    {
                        return Err(format!("{cmd}: patchbay listens on at most {} VXLAN ports", CLIENT_BASE - UNDERLAY_BASE));
                    }
                }
            }
            Command::LinkSet(s) => {
                if let (Some(ns), Some(id)) = (&s.netns, self.graph.by_name(&s.name)) {
                    let cmd = format!("link set {} netns {ns}", s.name);
                    netns_exists(&cmd, ns)?;
                    self.tap_of(id, &cmd)?;
                }
                if let (Some(new), Some(id)) = (&s.rename, self.graph.by_name(&s.name)) {
                    self.check_rename(id, new)?;
                }
            }
            Command::LinkDel { name } => match self.graph.by_name(name).map(|id| &self.graph.iface(id).kind) {
                Some(Kind::External) => return Err(format!(
                    "link del {name}: \"{name}\" is a kernel device that patchbay only uses; release it with 'patchbay link set {name} nomaster'"
                )),
                Some(Kind::Tap) => return Err(format!("link del {name}: \"{name}\" is a TAP; remove it with 'patchbay tuntap del {name} mode tap'")),
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }

    /// `link set NAME name NEW`: the netdev behind the device can take the
    /// name where it is.
    fn check_rename(&self, id: IfId, new: &str) -> Result<(), String> {
        let f = self.graph.iface(id);
        let cmd = format!("link set {} name {new}", f.name);
        let Some(att) = f
            .attach
            .and_then(|a| self.atts.get(a.id.0 as usize)?.as_ref())
        else {
            return Ok(());
        };
        let Port::Tap(tap) = &*att.port else {
            return Err(format!("{cmd}: \"{}\" is a kernel device that patchbay uses; rename it with 'ip link set {} name {new}'", f.name, f.name));
        };
        let Some(ns) = self.ns(att.ns) else {
            return Ok(());
        };
        if tap.ifname().is_ok_and(|n| n == new) {
            return Ok(());
        }
        if ns.ctl.flags(new).is_ok() {
            return Err(format!(
                "{cmd}: a kernel device named \"{new}\" already exists in {}",
                ns.label()
            ));
        }
        if ns.ctl.flags(&att.netdev).is_ok_and(|(up, _)| up) {
            return Err(format!("{cmd}: its TAP is up on the host side, and the kernel renames only a device that is down (EBUSY); run 'ip link set {} down' first", att.netdev));
        }
        Ok(())
    }

    /// Carries out what a command the graph took means on the host. A
    /// device whose TAP or underlay cannot be made is removed again (with
    /// the rest of what the command made), and the command fails; the
    /// other effects were checked by [`Daemon::check_host`] and only log
    /// what the kernel still refuses.
    pub(super) fn carry_out(&mut self, effects: Vec<cmd::Effect>) -> Result<(), String> {
        use cmd::Effect;
        let mut made = Vec::new();
        for e in effects {
            match e {
                Effect::Created(id) => {
                    made.push(id);
                    if let Err(e) = self.give_netdev(id) {
                        self.undo(&made);
                        return Err(e);
                    }
                }
                Effect::Removed(id, attach) => self.forget(id, attach),
                Effect::Admin(id, up) => self.netdev_set(id, Some(up), None, None),
                Effect::Mtu(id, mtu) => self.netdev_set(id, None, Some(mtu), None),
                Effect::Address(id, mac) => self.netdev_set(id, None, None, Some(mac)),
                Effect::Name(id, new) => self.rename_netdev(id, &new),
                Effect::Netns(id, ns) => {
                    if let Err(e) = self.move_tap(id, &ns) {
                        if made.contains(&id) {
                            self.undo(&made);
                            return Err(e);
                        }
                        warn!("{e}");
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes what a command made, last first (a veth's peer goes with
    /// its other end).
    fn undo(&mut self, made: &[IfId]) {
        for &id in made.iter().rev() {
            if self.graph.get(id).is_some() {
                self.remove_devices(id);
            }
        }
    }

    /// A new device's netdev: a TAP of its name that exposes it, for a
    /// netdevsim port the TAP at the far end of its wire, for a VXLAN
    /// device its underlay as well; an nlmon device has none.
    fn give_netdev(&mut self, id: IfId) -> Result<(), String> {
        let f = self.graph.iface(id);
        let name = f.name.clone();
        match &f.kind {
            // Not an Ethernet device: its traffic is read with `patchbay capture`.
            Kind::Nlmon => Ok(()),
            Kind::Netdevsim => {
                if sys::ifindex(&name).is_some() {
                    return Err(format!(
                        "link add {name}: a kernel device named \"{name}\" already exists"
                    ));
                }
                let tap = Tap::create(&name)
                    .map_err(|e| format!("link add {name}: cannot create its TAP: {e}"))?;
                self.add_attachment(id, Port::Tap(tap), &name, Role::Wire)
                    .map_err(|e| format!("link add {name}: {e}"))
            }
            Kind::Vxlan(v) => {
                let cfg = v.cfg.clone();
                self.vxlan_underlay(id, &cfg)?;
                self.expose(id)
            }
            _ => self.expose(id),
        }
    }

    /// The TAP that stands for device `id`, which `netns` can move: an
    /// exposed device's, a `tuntap add` TAP, a netdevsim port's; not one
    /// moved already.
    fn tap_of(&self, id: IfId, cmd: &str) -> Result<AttachId, String> {
        let f = self.graph.iface(id);
        let name = &f.name;
        let ours = matches!(f.kind, Kind::Netdevsim | Kind::Tap);
        let a = match f.attach {
            Some(a) if a.role == Role::Host || ours => a,
            _ => {
                return Err(format!(
                    "{cmd}: \"{name}\" is a kernel device patchbay uses, not one of its TAPs; move it with ip link set {name} netns NAME"
                ))
            }
        };
        let att = self.atts[a.id.0 as usize]
            .as_ref()
            .expect("live attachment");
        if let Some(ns) = self.ns(att.ns).filter(|n| !n.own) {
            let l = ns.label();
            return Err(match &ns.name {
                Some(n) => format!("{cmd}: its TAP is in {l} already; move it with 'ip -n {n} link set {} netns NAME'", att.netdev),
                None => format!("{cmd}: its TAP is in {l} already; move it from there with 'ip link set {} netns NAME'", att.netdev),
            });
        }
        Ok(a.id)
    }

    /// Makes sure a kernel netdev named `name` is in the graph with an
    /// attachment: as the daemon's policy says for a port, AF_PACKET for a
    /// lower. Returns the id if it was attached just now.
    pub(super) fn ensure_attached(
        &mut self,
        name: &str,
        port: bool,
    ) -> Result<Option<IfId>, String> {
        if self.graph.by_name(name).is_some() {
            return Ok(None);
        }
        let Some(ifindex) = sys::ifindex(name) else {
            return Err(format!("no device named \"{name}\": it is neither a patchbay device nor a kernel netdev in this namespace"));
        };
        let mac =
            sys::mac(name).map_err(|e| format!("cannot read the address of \"{name}\": {e}"))?;
        let mtu = sys::mtu(name).unwrap_or(1500);
        let (up, carrier) = sys::flags(name).unwrap_or((false, false));
        let policy = if port {
            self.attach
        } else {
            crate::attach::Policy::Packet
        };
        let port = policy.open(name, ifindex)?;
        let id = self
            .graph
            .add(name, Kind::External, mac, mtu)
            .map_err(|e| e.to_string())?;
        let (speed, duplex) = sys::link_speed(name);
        {
            let f = self.graph.iface_mut(id);
            f.admin_up = up;
            f.carrier = carrier;
            f.speed_mbps = speed;
            f.full_duplex = duplex;
        }
        let kind = port.kind();
        self.add_attachment(id, port, name, Role::Wire)
            .map_err(|e| e.to_string())?;
        info!(dev = name, ifindex, attach = %kind, "attached kernel netdev");
        Ok(Some(id))
    }

    /// Releases external devices that are no longer a port or a lower.
    pub(super) fn release_unused(&mut self, ids: &[IfId]) {
        for id in ids {
            let Some(f) = self.graph.get(*id) else {
                continue;
            };
            if matches!(f.kind, Kind::External)
                && f.master.is_none()
                && f.vlan_uppers.is_empty()
                && f.macvlans.is_empty()
                && f.ipvlans.is_empty()
            {
                info!(dev = %f.name, "released kernel netdev");
                self.remove_devices(*id);
            }
        }
    }

    /// A VXLAN device's underlay: the UDP socket of its destination port
    /// (shared by the devices on one port), joined to its group.
    fn vxlan_underlay(
        &mut self,
        id: IfId,
        cfg: &patchbay_core::vxlan::VxlanConfig,
    ) -> Result<(), String> {
        let cmd = format!("link add {} type vxlan", self.graph.iface(id).name);
        let lower = match (&cfg.dev, cfg.remote) {
            (Some(d), Some(g)) if g.is_multicast() => Some(sys::ifindex(d).ok_or_else(|| {
                format!("{cmd}: no lower device \"{d}\" in the daemon's namespace")
            })?),
            _ => None,
        };
        let i = match self.underlays.iter().position(|u| u.port == cfg.dstport) {
            Some(i) => i,
            None => {
                let mut u = crate::underlay::Underlay::open(cfg.dstport).map_err(|e| {
                    format!(
                        "{cmd}: cannot open the underlay on UDP port {}: {e}",
                        cfg.dstport
                    )
                })?;
                let i = self.underlays.len();
                self.poll
                    .registry()
                    .register(&mut u.udp, Token(UNDERLAY_BASE + i), Interest::READABLE)
                    .map_err(|e| format!("{cmd}: {e}"))?;
                self.underlays.push(u);
                i
            }
        };
        if let (Some(ix), Some(g)) = (lower, cfg.remote) {
            self.underlays[i]
                .join(g, ix)
                .map_err(|e| format!("{cmd}: cannot join {g}: {e}"))?;
        }
        self.underlays[i].devs.push(id);
        Ok(())
    }

    /// Removes a device and its uppers from the graph and closes their
    /// attachments (a TAP disappears with its descriptor).
    pub(super) fn remove_devices(&mut self, id: IfId) {
        for (id, f) in self.graph.remove(self.now(), id) {
            self.forget(id, f.attach.map(|a| a.id));
        }
    }

    /// What the daemon holds for a device that left the graph: its
    /// underlay membership, its attachment (a TAP goes with its
    /// descriptor), and its captures, whose streams end as tcpdump's does
    /// when its interface disappears.
    fn forget(&mut self, id: IfId, attach: Option<AttachId>) {
        for u in &mut self.underlays {
            u.devs.retain(|d| *d != id);
        }
        if let Some(a) = attach {
            self.close_attachment(a);
        }
        for i in 0..self.clients.len() {
            let Some(c) = self.clients[i].as_mut() else {
                continue;
            };
            if c.capture == Some(id) {
                c.capture = None;
                c.closing = true;
                if c.outbuf.is_empty() {
                    self.drop_client(i);
                }
            }
        }
    }

    pub(super) fn tuntap_add(&mut self, name: &str) -> Result<(), String> {
        let cmd = format!("tuntap add {name}");
        if self.graph.by_name(name).is_some() || sys::ifindex(name).is_some() {
            return Err(format!("{cmd}: a device named \"{name}\" already exists"));
        }
        let tap = Tap::create(name).map_err(|e| format!("{cmd}: {e}"))?;
        let mac = sys::mac(name).map_err(|e| format!("{cmd}: {e}"))?;
        let id = self
            .graph
            .add(name, Kind::Tap, mac, 1500)
            .map_err(|e| format!("{cmd}: {e}"))?;
        // The port side of a TAP is up while patchbay holds it; the netdev
        // facing the host has its own state, which the host sets.
        let (speed, duplex) = sys::link_speed(name);
        let f = self.graph.iface_mut(id);
        f.admin_up = true;
        // As the TAP reports itself to ethtool (10 Mbit/s, full duplex).
        f.speed_mbps = speed;
        f.full_duplex = duplex;
        self.add_attachment(id, Port::Tap(tap), name, Role::Wire)
            .map_err(|e| format!("{cmd}: {e}"))?;
        info!(dev = name, "created TAP");
        Ok(())
    }

    pub(super) fn tuntap_del(&mut self, name: &str) -> Result<(), String> {
        let cmd = format!("tuntap del {name}");
        let id = self
            .graph
            .by_name(name)
            .ok_or_else(|| format!("{cmd}: no TAP named \"{name}\" made by patchbay"))?;
        if !matches!(self.graph.iface(id).kind, Kind::Tap) {
            return Err(format!(
                "{cmd}: \"{name}\" is not a TAP (use 'patchbay link del {name}')"
            ));
        }
        self.remove_devices(id);
        Ok(())
    }

    /// Exposes a new emulated device as a TAP of the same name, so the host
    /// can address it (`ip addr add`, `ip link set ... netns`).
    pub(super) fn expose(&mut self, id: IfId) -> Result<(), String> {
        let (name, mac, up) = {
            let f = self.graph.iface(id);
            (f.name.clone(), f.mac, f.admin_up)
        };
        if sys::ifindex(&name).is_some() {
            return Err(format!("link add {name}: a kernel device named \"{name}\" already exists, and patchbay exposes its devices as TAPs of their own name"));
        }
        let tap = Tap::create(&name)
            .map_err(|e| format!("link add {name}: cannot create its TAP: {e}"))?;
        if let Err(e) = sys::set_mac(&name, mac) {
            warn!(dev = %name, "cannot set the TAP address: {e}");
        }
        let noarp = match &self.graph.iface(id).kind {
            Kind::Dummy => true,
            // l3 slaves do not ARP (`ipvlan_set_port_mode`).
            Kind::Ipvlan(v) => v.mode != patchbay_core::ipvlan::Mode::L2,
            _ => false,
        };
        if noarp {
            if let Err(e) = sys::set_noarp(&name) {
                warn!(dev = %name, "cannot set NOARP on the TAP: {e}");
            }
        }
        if up {
            let _ = sys::set_up(&name, true);
        }
        self.add_attachment(id, Port::Tap(tap), &name, Role::Host)
            .map_err(|e| format!("link add {name}: {e}"))
    }

    /// `netns NAME`: moves the TAP that stands for device `id` into a
    /// network namespace; patchbay keeps its descriptor, so the device works
    /// on, and later `link set` changes reach the TAP there.
    fn move_tap(&mut self, id: IfId, ns: &str) -> Result<(), String> {
        let name = self.graph.iface(id).name.clone();
        let cmd = format!("link set {name} netns {ns}");
        let a = self.tap_of(id, &cmd)?;
        let att = self.atts[a.0 as usize].as_ref().expect("live attachment");
        sys::move_to_netns(&att.netdev, ns).map_err(|e| format!("{cmd}: {e}"))?;
        self.locate(a.0 as usize);
        Ok(())
    }

    /// The named namespace a device's netdev was moved to, for `save`.
    fn netns_of(&self, id: IfId) -> Option<String> {
        let a = self.graph.get(id)?.attach?;
        let att = self.atts.get(a.id.0 as usize)?.as_ref()?;
        if att.ns == 0 {
            return None;
        }
        self.ns(att.ns)?.name.clone()
    }

    /// `name NEW`: a port's TAP (`tuntap add`, netdevsim) takes the name
    /// too (checked by [`Daemon::check_rename`]); an exposed device's TAP
    /// follows in `sync_taps`.
    fn rename_netdev(&mut self, id: IfId, new: &str) {
        let Some(a) = self
            .graph
            .get(id)
            .and_then(|f| f.attach)
            .filter(|a| a.role == Role::Wire)
        else {
            return;
        };
        let Some(att) = self.atts.get(a.id.0 as usize).and_then(Option::as_ref) else {
            return;
        };
        let Some(ns) = self.ns(att.ns) else { return };
        // The host may have renamed the TAP itself (`ip link set ... name`).
        let current = match &*att.port {
            Port::Tap(t) => t.ifname().unwrap_or_else(|_| att.netdev.clone()),
            _ => att.netdev.clone(),
        };
        let r = if current == new {
            Ok(())
        } else {
            ns.ctl.rename(&current, new)
        };
        match r {
            Ok(()) => {
                let att = self.atts[a.id.0 as usize].as_mut().expect("live");
                att.netdev = new.to_string();
            }
            Err(e) => warn!(dev = %att.netdev, "the kernel refused the new name {new}: {e}"),
        }
    }

    /// Carries a port's new admin state, MTU or address to the netdev
    /// behind it (the kernel device patchbay uses, a `tuntap add` or
    /// netdevsim TAP). A `tuntap add` TAP's port side stays up: the user's
    /// up/down is the netdev's, which faces the host. An exposed device's
    /// TAP is not done here: it follows its device in `sync_taps`
    /// (hostsync.rs), which runs after every command.
    fn netdev_set(&mut self, id: IfId, up: Option<bool>, mtu: Option<u32>, mac: Option<Mac>) {
        let Some(f) = self.graph.get(id) else { return };
        let Some(a) = f.attach.filter(|a| a.role == Role::Wire) else {
            return;
        };
        let Some(att) = self.atts.get(a.id.0 as usize).and_then(Option::as_ref) else {
            return;
        };
        let Some(ns) = self.ns(att.ns) else { return };
        let (ctl, netdev) = (&ns.ctl, att.netdev.as_str());
        // A port's TAP (`tuntap add`, netdevsim) is the far end, with an
        // address of its own.
        let mac = mac.filter(|_| matches!(f.kind, Kind::External));
        if let Some(up) = up {
            if let Err(e) = ctl.set_up(netdev, up) {
                debug!(dev = %netdev, "cannot change the netdev's state: {e}");
            }
        }
        if let Some(mtu) = mtu {
            if let Err(e) = ctl.set_mtu(netdev, mtu) {
                warn!(dev = %netdev, mtu, "the kernel refused the netdev's MTU: {e}");
            }
        }
        if let Some(mac) = mac {
            if let Err(e) = ctl.set_mac(netdev, mac) {
                warn!(dev = %netdev, "cannot set the netdev's address: {e}");
            }
        }
        if up.is_some() && matches!(f.kind, Kind::Tap) {
            self.graph.iface_mut(id).admin_up = true;
        }
    }
}
