//! teamd's two other control doors, beside its UNIX socket (`teamd.rs`):
//! the D-Bus service `org.libteam.teamd.TEAM` on the system bus
//! (`teamd_dbus.c`; `teamdctl -D TEAM ...`) and a ZeroMQ REP endpoint
//! for a team given `zmq ADDRESS` (`teamd -Z ADDRESS`, `teamd_zmq.c`;
//! `teamdctl -Z ADDRESS TEAM ...`).
//!
//! Both libraries (zbus, zeromq) are asynchronous, so they run on one
//! thread of their own, `patchbay-teamd`, under a current-thread tokio
//! runtime; the frame path never sees them. A method call becomes a
//! [`Call`] sent to the daemon's loop (woken through its waker), which
//! runs it as `patchbay teamctl` does ([`Daemon::teamd_call`]: one
//! implementation behind all four front doors) and answers on the call's
//! oneshot channel. The daemon tells the thread which teams to serve after
//! every command ([`Bus::serve`]) and waits for the outcome, so a
//! ZeroMQ endpoint that cannot be bound is the command's warning.
//!
//! One D-Bus connection owns every team's name; a call is routed by the
//! name it was sent to. With no system bus, D-Bus is off (logged once)
//! and the teams work as before; it is tried again when a team is added.

use super::{info, warn, Arc};
use patchbay_core::cmd::team::{self as teamcmd, TeamdError};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use zbus::message::Header;

/// teamd's D-Bus names (`teamd_dbus_common.h`).
const SERVICE: &str = "org.libteam.teamd";
const PATH: &str = "/org/libteam/teamd";

/// How long the daemon waits for the thread to take a new set of teams.
const SERVE_WAIT: Duration = Duration::from_secs(5);

/// A team as its control doors see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Served {
    pub team: String,
    pub zmq: Option<String>,
}

/// What the thread made of a set of teams.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Teams whose D-Bus name patchbay owns.
    pub dbus: Vec<String>,
    /// What could not be served, in words for the command's warning.
    pub warnings: Vec<String>,
}

/// A teamd method called over D-Bus or ZeroMQ, for the daemon's loop.
#[derive(Debug)]
pub(super) struct Call {
    pub team: String,
    pub method: String,
    pub args: Vec<String>,
    /// `None`: a method teamd does not have.
    pub reply: oneshot::Sender<Option<Result<String, TeamdError>>>,
}

#[derive(Debug)]
enum ToBus {
    Serve(Vec<Served>, crossbeam_channel::Sender<Outcome>),
    Stop,
}

/// The daemon's end of the thread.
#[derive(Debug)]
pub(super) struct Bus {
    tx: mpsc::UnboundedSender<ToBus>,
    pub calls: crossbeam_channel::Receiver<Call>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The set last served.
    pub served: Vec<Served>,
}

impl Bus {
    /// Starts the thread; `dbus` false keeps it off the system bus.
    pub fn start(waker: Arc<mio::Waker>, dbus: bool) -> std::io::Result<Bus> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (call_tx, calls) = crossbeam_channel::unbounded();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("patchbay-teamd".into())
            .spawn(move || {
                rt.block_on(
                    Doors {
                        calls: Caller { tx: call_tx, waker },
                        dbus_wanted: dbus,
                        dbus: None,
                        dbus_off_said: false,
                        names: Vec::new(),
                        zmq: HashMap::new(),
                    }
                    .run(rx),
                )
            })?;
        Ok(Bus {
            tx,
            calls,
            thread: Some(thread),
            served: Vec::new(),
        })
    }

    /// Serves `teams` (and no other), waiting for the outcome.
    pub fn serve(&mut self, teams: Vec<Served>) -> Outcome {
        let (ack, done) = crossbeam_channel::bounded(1);
        self.served = teams.clone();
        if self.tx.send(ToBus::Serve(teams, ack)).is_err() {
            return Outcome {
                warnings: vec!["teamd's D-Bus and ZeroMQ thread has stopped".into()],
                ..Outcome::default()
            };
        }
        done.recv_timeout(SERVE_WAIT).unwrap_or_else(|_| Outcome {
            warnings: vec!["teamd's D-Bus and ZeroMQ doors did not answer in 5 s".into()],
            ..Outcome::default()
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.tx.send(ToBus::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends calls to the daemon's loop and waits for their answers.
#[derive(Clone, Debug)]
struct Caller {
    tx: crossbeam_channel::Sender<Call>,
    waker: Arc<mio::Waker>,
}

impl Caller {
    async fn call(
        &self,
        team: &str,
        method: &str,
        args: Vec<String>,
    ) -> Option<Result<String, TeamdError>> {
        let (reply, answer) = oneshot::channel();
        let call = Call {
            team: team.to_string(),
            method: method.to_string(),
            args,
            reply,
        };
        if self.tx.send(call).is_err() || self.waker.wake().is_err() {
            return Some(Err(STOPPED));
        }
        answer.await.unwrap_or(Some(Err(STOPPED)))
    }
}

/// The answer when the daemon is going away.
const STOPPED: TeamdError = TeamdError {
    code: "NoSuchDev",
    message: "No such device.",
};

/// The thread's state.
struct Doors {
    calls: Caller,
    dbus_wanted: bool,
    dbus: Option<zbus::Connection>,
    dbus_off_said: bool,
    /// Teams whose D-Bus name is owned.
    names: Vec<String>,
    /// Each team's ZeroMQ endpoint.
    zmq: HashMap<String, Zmq>,
}

/// A ZeroMQ endpoint and the task serving it.
struct Zmq {
    addr: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Doors {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<ToBus>) {
        while let Some(m) = rx.recv().await {
            match m {
                ToBus::Serve(teams, ack) => {
                    let out = self.serve(&teams).await;
                    let _ = ack.send(out);
                }
                ToBus::Stop => break,
            }
        }
        // Closing the connection gives back every name.
        for (_, z) in self.zmq.drain() {
            let _ = z.stop.send(());
            let _ = z.task.await;
        }
        if let Some(c) = self.dbus.take() {
            let _ = c.close().await;
        }
    }

    async fn serve(&mut self, teams: &[Served]) -> Outcome {
        let mut out = Outcome::default();
        self.serve_zmq(teams, &mut out).await;
        if self.dbus_wanted {
            self.serve_dbus(teams, &mut out).await;
        }
        out
    }

    async fn serve_zmq(&mut self, teams: &[Served], out: &mut Outcome) {
        let keep = |team: &str, addr: &str| {
            teams
                .iter()
                .any(|t| t.team == team && t.zmq.as_deref() == Some(addr))
        };
        // Closed before anything is bound, so an endpoint moves from a team
        // that went to a new one.
        let gone: Vec<String> = self
            .zmq
            .iter()
            .filter(|(team, z)| !keep(team, &z.addr))
            .map(|(team, _)| team.clone())
            .collect();
        for team in gone {
            if let Some(z) = self.zmq.remove(&team) {
                let _ = z.stop.send(());
                let _ = z.task.await;
            }
        }
        for t in teams {
            let Some(addr) = &t.zmq else { continue };
            if self.zmq.contains_key(&t.team) {
                continue;
            }
            match zmq_open(addr).await {
                Ok(sock) => {
                    let (stop, stopped) = oneshot::channel();
                    let caller = self.calls.clone();
                    let task = tokio::spawn(zmq_serve(sock, t.team.clone(), caller, stopped));
                    info!(team = t.team, addr, "teamd ZeroMQ endpoint");
                    let addr = addr.clone();
                    self.zmq.insert(t.team.clone(), Zmq { addr, stop, task });
                }
                Err(e) => {
                    warn!(team = t.team, addr, "ZeroMQ endpoint not served: {e}");
                    out.warnings
                        .push(format!("team {}: zmq {addr}: {e}", t.team));
                }
            }
        }
    }

    async fn serve_dbus(&mut self, teams: &[Served], out: &mut Outcome) {
        let gone: Vec<String> = self
            .names
            .iter()
            .filter(|n| !teams.iter().any(|t| &t.team == *n))
            .cloned()
            .collect();
        if let Some(c) = &self.dbus {
            for n in &gone {
                let _ = c.release_name(format!("{SERVICE}.{n}")).await;
            }
        }
        self.names.retain(|n| !gone.contains(n));
        let new: Vec<&Served> = teams
            .iter()
            .filter(|t| !self.names.contains(&t.team))
            .collect();
        if new.is_empty() {
            out.dbus = self.names.clone();
            return;
        }
        if self.dbus.is_none() {
            match self.dbus_connect().await {
                Ok(c) => {
                    info!("D-Bus: teams are served on the system bus as {SERVICE}.TEAM");
                    self.dbus = Some(c);
                    self.dbus_off_said = false;
                }
                Err(e) => {
                    if !self.dbus_off_said {
                        info!(
                            "D-Bus is off: no system bus ({e}); teamdctl reaches teams over their UNIX sockets"
                        );
                        self.dbus_off_said = true;
                    }
                    return;
                }
            }
        }
        let Some(c) = &self.dbus else { return };
        for t in new {
            let name = format!("{SERVICE}.{}", t.team);
            let flags = zbus::fdo::RequestNameFlags::DoNotQueue.into();
            match c.request_name_with_flags(name.as_str(), flags).await {
                Ok(zbus::fdo::RequestNameReply::PrimaryOwner)
                | Ok(zbus::fdo::RequestNameReply::AlreadyOwner) => {
                    self.names.push(t.team.clone());
                }
                Ok(_) => {
                    warn!(
                        team = t.team,
                        "D-Bus name {name} belongs to another program (a teamd?)"
                    );
                    out.warnings.push(format!(
                        "team {}: D-Bus name {name} belongs to another program",
                        t.team
                    ));
                }
                Err(e) => {
                    warn!(team = t.team, "D-Bus name {name} not taken: {e}");
                    out.warnings
                        .push(format!("team {}: D-Bus name {name}: {e}", t.team));
                }
            }
        }
        out.dbus = self.names.clone();
    }

    async fn dbus_connect(&self) -> zbus::Result<zbus::Connection> {
        let service = Service {
            calls: self.calls.clone(),
        };
        let build = zbus::connection::Builder::system()?
            .serve_at(PATH, service)?
            .build();
        match tokio::time::timeout(Duration::from_secs(2), build).await {
            Ok(r) => r,
            Err(_) => Err(zbus::Error::Failure(
                "the system bus did not answer in 2 s".into(),
            )),
        }
    }
}

/// teamd's object: its interface at `/org/libteam/teamd`, for every team
/// whose name this connection owns.
struct Service {
    calls: Caller,
}

impl Service {
    /// The team a call was sent to, by the name it was sent to.
    fn team(h: &Header<'_>) -> Result<String, DbusError> {
        h.destination()
            .and_then(|d| d.as_str().strip_prefix(SERVICE)?.strip_prefix('.'))
            .map(str::to_string)
            .ok_or(DbusError(TeamdError {
                code: "InvalidArgs",
                message: "Call a team by its name, org.libteam.teamd.TEAM.",
            }))
    }

    async fn call(&self, h: &Header<'_>, method: &str, args: &[&str]) -> Result<String, DbusError> {
        let team = Self::team(h)?;
        let args = args.iter().map(|a| a.to_string()).collect();
        match self.calls.call(&team, method, args).await {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => Err(DbusError(e)),
            // Every method of the interface is one teamd has.
            None => Err(DbusError(teamcmd::UNKNOWN_METHOD)),
        }
    }
}

#[zbus::interface(name = "org.libteam.teamd")]
impl Service {
    async fn port_config_update(
        &self,
        #[zbus(header)] h: Header<'_>,
        port_devname: &str,
        port_config: &str,
    ) -> Result<(), DbusError> {
        self.call(&h, "PortConfigUpdate", &[port_devname, port_config])
            .await
            .map(drop)
    }

    async fn port_config_dump(
        &self,
        #[zbus(header)] h: Header<'_>,
        port_devname: &str,
    ) -> Result<String, DbusError> {
        self.call(&h, "PortConfigDump", &[port_devname]).await
    }

    async fn port_add(
        &self,
        #[zbus(header)] h: Header<'_>,
        port_devname: &str,
    ) -> Result<(), DbusError> {
        self.call(&h, "PortAdd", &[port_devname]).await.map(drop)
    }

    async fn port_remove(
        &self,
        #[zbus(header)] h: Header<'_>,
        port_devname: &str,
    ) -> Result<(), DbusError> {
        self.call(&h, "PortRemove", &[port_devname]).await.map(drop)
    }

    async fn config_dump(&self, #[zbus(header)] h: Header<'_>) -> Result<String, DbusError> {
        self.call(&h, "ConfigDump", &[]).await
    }

    async fn config_dump_actual(&self, #[zbus(header)] h: Header<'_>) -> Result<String, DbusError> {
        self.call(&h, "ConfigDumpActual", &[]).await
    }

    async fn state_dump(&self, #[zbus(header)] h: Header<'_>) -> Result<String, DbusError> {
        self.call(&h, "StateDump", &[]).await
    }

    async fn state_item_value_get(
        &self,
        #[zbus(header)] h: Header<'_>,
        state_item_path: &str,
    ) -> Result<String, DbusError> {
        self.call(&h, "StateItemValueGet", &[state_item_path]).await
    }

    async fn state_item_value_set(
        &self,
        #[zbus(header)] h: Header<'_>,
        state_item_path: &str,
        value: &str,
    ) -> Result<(), DbusError> {
        self.call(&h, "StateItemValueSet", &[state_item_path, value])
            .await
            .map(drop)
    }
}

/// teamd's D-Bus error: named `org.libteam.teamd` and the code, with no
/// dot between (`dbus_op_reply_err`: `TEAMD_DBUS_IFACE "%s"`), the
/// message as its one string.
#[derive(Debug)]
struct DbusError(TeamdError);

impl DbusError {
    fn full_name(&self) -> String {
        format!("{SERVICE}{}", self.0.code)
    }
}

impl zbus::DBusError for DbusError {
    fn create_reply(&self, h: &Header<'_>) -> zbus::Result<zbus::message::Message> {
        zbus::message::Message::error(h, self.full_name())?.build(&(self.0.message,))
    }

    fn name(&self) -> zbus::names::ErrorName<'_> {
        zbus::names::ErrorName::try_from(self.full_name())
            .expect("org.libteam.teamd and a code is an error name")
    }

    fn description(&self) -> Option<&str> {
        Some(self.0.message)
    }
}

async fn zmq_open(addr: &str) -> Result<zeromq::RepSocket, zeromq::ZmqError> {
    use zeromq::Socket;
    let mut s = zeromq::RepSocket::new();
    s.bind(addr).await?;
    Ok(s)
}

/// Answers `team`'s ZeroMQ requests until told to stop. Unlike teamd,
/// which leaves a request that is not one or names no method unanswered
/// (and its REP socket then refuses every later request), each gets an
/// error reply.
async fn zmq_serve(
    mut sock: zeromq::RepSocket,
    team: String,
    calls: Caller,
    mut stop: oneshot::Receiver<()>,
) {
    use zeromq::{Socket, SocketRecv, SocketSend};
    loop {
        let msg = tokio::select! {
            m = sock.recv() => m,
            _ = &mut stop => break,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                warn!(team, "ZeroMQ endpoint: {e}; closed");
                break;
            }
        };
        let body: Vec<u8> = msg.iter().flat_map(|f| f.iter().copied()).collect();
        let text = String::from_utf8_lossy(&body);
        let reply = match teamcmd::zmq_request(&text) {
            None => Err(teamcmd::NOT_A_REQUEST),
            Some((method, args)) => calls
                .call(&team, &method, args)
                .await
                .unwrap_or(Err(teamcmd::UNKNOWN_METHOD)),
        };
        let reply = teamcmd::usock_reply(reply.as_deref().map_err(|e| *e));
        if let Err(e) = sock.send(zeromq::ZmqMessage::from(reply)).await {
            warn!(team, "ZeroMQ reply not sent: {e}");
        }
    }
    let _ = sock.close().await;
}
