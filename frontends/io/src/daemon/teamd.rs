//! teamd's control socket for every team (`teamd_usock.c`), so the real
//! `teamdctl TEAM ...` drives a patchbay team as it drives teamd: a
//! SOCK_SEQPACKET socket at `/var/run/teamd/TEAM.sock` (mode 0600, as
//! root-only as teamd's), made when the team is and removed when it goes.
//! Each message is one request (`REQUEST`, the method, its escaped
//! arguments) and gets one reply; the method runs as `patchbay teamctl
//! TEAM ...` does, through [`Daemon::execute`] (one implementation behind
//! every front door: `cmd::team::teamd_method` names the verb,
//! `cmd::team::teamd_error` teamd's error). As teamd, a message that is
//! not a request or names no method gets no reply (the daemon logs it).

use super::teamd_bus;
use super::*;
use patchbay_core::cmd::team::{self, TeamctlCmd, TeamdError};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Tokens of the teams' listening sockets; their connections follow at
/// [`CONN_BASE`].
pub(super) const TEAMD_BASE: usize = 1 << 22;
const CONN_BASE: usize = TEAMD_BASE + (1 << 20);
/// teamd's `TEAMD_RUN_DIR`.
pub const RUN_DIR: &str = "/var/run/teamd";
/// The largest request read (a team's configuration is a few KiB).
const MAX_MSG: usize = 1 << 20;

/// A team's listening socket.
pub(super) struct Listener {
    team: String,
    path: PathBuf,
    fd: OwnedFd,
}

/// A teamdctl connection.
pub(super) struct Conn {
    team: String,
    fd: OwnedFd,
}

fn seqpacket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); owned right away.
    let fd = sys::cvt(unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; all zeroes is valid.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_os_str().as_bytes();
    if b.len() >= a.sun_path.len() {
        return Err(io::Error::other(format!(
            "{}: path too long",
            path.display()
        )));
    }
    for (d, s) in a.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
    Ok((a, len as libc::socklen_t))
}

/// Whether a live server (a teamd, another daemon) answers at `path`.
fn in_use(path: &Path) -> bool {
    let (Ok(fd), Ok((a, len))) = (seqpacket(), sockaddr(path)) else {
        return false;
    };
    // SAFETY: connect(2) with a valid address of `len` bytes. Non-blocking:
    // a listener's backlog answers at once.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &a as *const libc::sockaddr_un as *const libc::sockaddr,
            len,
        )
    };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

fn listen(path: &Path) -> io::Result<OwnedFd> {
    let fd = seqpacket()?;
    let (a, len) = sockaddr(path)?;
    // SAFETY: bind(2) with a valid address of `len` bytes.
    sys::cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &a as *const libc::sockaddr_un as *const libc::sockaddr,
            len,
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: listen(2) on our socket.
    sys::cvt(unsafe { libc::listen(fd.as_raw_fd(), 10) })?;
    Ok(fd)
}

/// One message from `fd`, read whole (`SIOCINQ` gives a SEQPACKET
/// socket's next message length, as teamd reads it): `Ok(None)` when none
/// is waiting, `Ok(Some(empty))` when the peer closed.
fn recv(fd: RawFd) -> io::Result<Option<Vec<u8>>> {
    let mut len: libc::c_int = 0;
    // SAFETY: FIONREAD (SIOCINQ) into a live int.
    sys::cvt(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut len) })?;
    let mut buf = vec![0u8; (len.max(1) as usize).min(MAX_MSG)];
    // SAFETY: recv(2) into a live buffer of its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n >= 0 {
        buf.truncate(n as usize);
        return Ok(Some(buf));
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(e)
    }
}

fn send(fd: RawFd, msg: &[u8]) -> io::Result<()> {
    // SAFETY: send(2) of a live buffer; no SIGPIPE.
    let n = unsafe {
        libc::send(
            fd,
            msg.as_ptr().cast(),
            msg.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    sys::cvt(n as libc::c_int).map(|_| ())
}

impl Daemon {
    /// A socket for each team that has none; none for a team that went.
    pub(super) fn sync_teamd(&mut self) {
        let teams: Vec<String> = self
            .graph
            .iter()
            .filter(|(_, f)| matches!(f.kind, Kind::Team(_)))
            .map(|(_, f)| f.name.clone())
            .collect();
        for i in 0..self.teamd.len() {
            if self.teamd[i]
                .as_ref()
                .is_some_and(|l| !teams.contains(&l.team))
            {
                self.close_teamd(i);
            }
        }
        for t in teams {
            if !self.teamd.iter().flatten().any(|l| l.team == t) {
                self.open_teamd(&t);
            }
        }
        self.sync_bus();
    }

    fn open_teamd(&mut self, team: &str) {
        let dir = Path::new(RUN_DIR);
        let path = dir.join(format!("{team}.sock"));
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn!(
                team,
                "teamdctl cannot reach this team: {}: {e}",
                dir.display()
            );
            return;
        }
        if path.exists() {
            if in_use(&path) {
                warn!(
                    team,
                    "teamdctl cannot reach this team: {} belongs to a running teamd or another patchbay daemon",
                    path.display()
                );
                return;
            }
            let _ = std::fs::remove_file(&path);
        }
        let fd = match listen(&path) {
            Ok(fd) => fd,
            Err(e) => {
                warn!(
                    team,
                    "teamdctl cannot reach this team: {}: {e}",
                    path.display()
                );
                return;
            }
        };
        let i = self
            .teamd
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.teamd.push(None);
                self.teamd.len() - 1
            });
        if let Err(e) = self.poll.registry().register(
            &mut mio::unix::SourceFd(&fd.as_raw_fd()),
            Token(TEAMD_BASE + i),
            Interest::READABLE,
        ) {
            warn!(team, "cannot watch {}: {e}", path.display());
            let _ = std::fs::remove_file(&path);
            return;
        }
        debug!(team, path = %path.display(), "teamd control socket");
        self.teamd[i] = Some(Listener {
            team: team.to_string(),
            path,
            fd,
        });
    }

    /// Closes team socket `i`, its connections, and removes its file.
    pub(super) fn close_teamd(&mut self, i: usize) {
        let Some(l) = self.teamd.get_mut(i).and_then(Option::take) else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut mio::unix::SourceFd(&l.fd.as_raw_fd()));
        let _ = std::fs::remove_file(&l.path);
        for j in 0..self.teamd_conns.len() {
            if self.teamd_conns[j]
                .as_ref()
                .is_some_and(|c| c.team == l.team)
            {
                self.close_teamd_conn(j);
            }
        }
    }

    fn close_teamd_conn(&mut self, j: usize) {
        if let Some(c) = self.teamd_conns.get_mut(j).and_then(Option::take) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut mio::unix::SourceFd(&c.fd.as_raw_fd()));
        }
    }

    /// An event on token `TEAMD_BASE + t`.
    pub(super) fn teamd_event(&mut self, t: usize) {
        if t + TEAMD_BASE >= CONN_BASE {
            self.teamd_conn_event(t + TEAMD_BASE - CONN_BASE);
        } else {
            self.teamd_accept(t);
        }
    }

    fn teamd_accept(&mut self, i: usize) {
        loop {
            let Some(l) = self.teamd.get(i).and_then(Option::as_ref) else {
                return;
            };
            // SAFETY: accept4(2) on our listening socket, no address wanted.
            let fd = unsafe {
                libc::accept4(
                    l.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                return;
            }
            // SAFETY: a new descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let team = l.team.clone();
            let j = self
                .teamd_conns
                .iter()
                .position(Option::is_none)
                .unwrap_or_else(|| {
                    self.teamd_conns.push(None);
                    self.teamd_conns.len() - 1
                });
            if self
                .poll
                .registry()
                .register(
                    &mut mio::unix::SourceFd(&fd.as_raw_fd()),
                    Token(CONN_BASE + j),
                    Interest::READABLE,
                )
                .is_ok()
            {
                self.teamd_conns[j] = Some(Conn { team, fd });
            }
        }
    }

    fn teamd_conn_event(&mut self, j: usize) {
        loop {
            let Some(c) = self.teamd_conns.get(j).and_then(Option::as_ref) else {
                return;
            };
            let (fd, team) = (c.fd.as_raw_fd(), c.team.clone());
            match recv(fd) {
                Ok(None) => return,
                Ok(Some(m)) if !m.is_empty() => {
                    let msg = String::from_utf8_lossy(&m).into_owned();
                    if let Some(reply) = self.teamd_answer(&team, &msg) {
                        if let Err(e) = send(fd, reply.as_bytes()) {
                            debug!(team, "teamd reply not sent: {e}");
                            self.close_teamd_conn(j);
                            return;
                        }
                    }
                }
                // The peer closed, or the socket failed.
                _ => {
                    self.close_teamd_conn(j);
                    return;
                }
            }
        }
    }

    /// The reply to one request on `team`'s socket, or none (as teamd).
    fn teamd_answer(&mut self, team: &str, msg: &str) -> Option<String> {
        let Some((method, args)) = team::usock_request(msg) else {
            warn!(
                team,
                "teamd socket: a message that is not a request: ignored, as teamd ignores it"
            );
            return None;
        };
        let Some(r) = self.teamd_call(team, &method, &args) else {
            warn!(
                team,
                method, "teamd socket: no such method: ignored, as teamd ignores it"
            );
            return None;
        };
        Some(team::usock_reply(r.as_deref().map_err(|e| *e)))
    }

    /// teamd's method `method` on `team` (`teamd_ctl.c`), run as
    /// `patchbay teamctl TEAM ...` runs it: its answer or teamd's error,
    /// or `None` for a method teamd does not have. Every control door
    /// (the socket, D-Bus, ZeroMQ) comes here.
    pub(super) fn teamd_call(
        &mut self,
        team: &str,
        method: &str,
        args: &[String],
    ) -> Option<Result<String, TeamdError>> {
        let c = match team::teamd_method(method, args)? {
            Err(e) => return Some(Err(e)),
            Ok(c) => c,
        };
        let mut words = vec!["teamctl".to_string(), team.to_string()];
        words.extend(team::teamctl_words(&c));
        Some(match self.execute(&words, Opts::default()) {
            // A value alone, as teamd answers it (teamctl adds a newline).
            Ok(out) if matches!(c, TeamctlCmd::ItemGet(_)) => {
                Ok(out.trim_end_matches('\n').to_string())
            }
            Ok(out) => Ok(out),
            Err(e) => {
                debug!(team, method, "teamd method failed: {e}");
                Err(team::teamd_error(&self.graph, team, &c, &e))
            }
        })
    }

    /// Runs the calls the D-Bus and ZeroMQ doors passed in.
    pub(super) fn serve_bus_calls(&mut self) {
        let calls: Vec<teamd_bus::Call> = match &self.bus {
            Some(b) => b.calls.try_iter().collect(),
            None => return,
        };
        for c in calls {
            let r = self.teamd_call(&c.team, &c.method, &c.args);
            let _ = c.reply.send(r);
        }
    }

    /// Tells the D-Bus and ZeroMQ doors which teams there are, starting
    /// their thread with the first team that needs it; the teams whose
    /// D-Bus name is owned say so in their state.
    fn sync_bus(&mut self) {
        let teams: Vec<teamd_bus::Served> = self
            .graph
            .iter()
            .filter_map(|(_, f)| match &f.kind {
                Kind::Team(t) => Some(teamd_bus::Served {
                    team: f.name.clone(),
                    zmq: t.cfg.zmq.clone(),
                }),
                _ => None,
            })
            .collect();
        let served = self.bus.as_ref().map_or(&[][..], |b| &b.served[..]);
        if teams == served {
            return;
        }
        if self.bus.is_none() {
            if !self.dbus && teams.iter().all(|t| t.zmq.is_none()) {
                return;
            }
            match teamd_bus::Bus::start(self.waker.clone(), self.dbus) {
                Ok(b) => self.bus = Some(b),
                Err(e) => {
                    warn!("teamd's D-Bus and ZeroMQ doors not started: {e}");
                    return;
                }
            }
        }
        let Some(bus) = &mut self.bus else { return };
        let out = bus.serve(teams);
        for w in out.warnings {
            if !self.warning.is_empty() {
                self.warning.push('\n');
            }
            self.warning.push_str(&w);
        }
        let ids: Vec<IfId> = self.graph.iter().map(|(id, _)| id).collect();
        for id in ids {
            let name = self.graph.iface(id).name.clone();
            if let Some(t) = self.graph.iface_mut(id).team_mut() {
                t.dbus = out.dbus.contains(&name);
            }
        }
    }
}
