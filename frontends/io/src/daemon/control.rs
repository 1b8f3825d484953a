//! The control socket: clients send one JSON request per line
//! ([`crate::proto`]) and get one answer per line, in order; a capture or
//! monitor client then gets a pcap stream.
//!
//! Commands run on the forwarding thread, so a client is given a share of
//! it, not all of it: at most [`REQUESTS_PER_TURN`] requests a loop turn
//! (the rest wait for the next turn, after a burst of frames); while
//! [`MAX_UNSENT`] bytes of its answers are unread, nothing more of its
//! input is read (the socket's buffer then holds the client back); an
//! unfinished request line longer than [`MAX_PENDING`] is refused and the
//! client dropped. Input is consumed and output sent through offsets, so
//! a thousand pipelined requests cost a thousand times one. A `bridge fdb
//! show` is answered [`DUMP_CHUNK`] entries a turn, and only while less
//! than [`DUMP_AHEAD`] bytes of it are unread: a million entries hold up
//! forwarding for no longer than one chunk, and the daemon never holds
//! more of the answer than that.

use super::*;

/// The most a client may send without finishing its request line (a
/// teamd configuration is a few KiB; a `-batch` line is one command).
pub const MAX_PENDING: usize = 1 << 20;
/// Requests of one client answered in one turn of the event loop.
pub const REQUESTS_PER_TURN: usize = 64;
/// Answers a client has not read, past which its requests wait.
pub const MAX_UNSENT: usize = 4 << 20;
/// FDB entries a `bridge fdb show` answers in one turn.
pub const DUMP_CHUNK: usize = 1024;
/// Unread bytes of a dump past which its next chunk waits.
pub const DUMP_AHEAD: usize = 256 << 10;

impl Daemon {
    pub(super) fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let i = self
                        .clients
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or_else(|| {
                            self.clients.push(None);
                            self.clients.len() - 1
                        });
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        Token(CLIENT_BASE + i),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        warn!("cannot register client: {e}");
                        continue;
                    }
                    self.clients[i] = Some(Client {
                        stream,
                        inbuf: Vec::new(),
                        outbuf: Vec::new(),
                        outpos: 0,
                        eof: false,
                        capture: None,
                        monitor: false,
                        closing: false,
                        dump: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    warn!("accept: {e}");
                    break;
                }
            }
        }
    }

    pub(super) fn client_event(&mut self, i: usize) {
        let mut overlong = false;
        if let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) {
            if c.closing {
                // Told what was wrong; only its answer is still going out.
                self.client_write(i);
                if self.clients[i]
                    .as_ref()
                    .is_some_and(|c| c.outbuf.is_empty())
                {
                    self.drop_client(i);
                }
                return;
            }
            let mut buf = [0u8; 16384];
            // Enough buffered already: the rest stays in the socket until
            // this client's requests are answered.
            // Where the unfinished request starts (after the last newline).
            let mut tail = c
                .inbuf
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            while !c.eof && c.inbuf.len() <= MAX_PENDING {
                match c.stream.read(&mut buf) {
                    // The client has said all it will; its requests are
                    // still answered.
                    Ok(0) => c.eof = true,
                    Ok(n) => {
                        let start = c.inbuf.len();
                        c.inbuf.extend_from_slice(&buf[..n]);
                        if let Some(p) = buf[..n].iter().rposition(|b| *b == b'\n') {
                            tail = start + p + 1;
                        }
                        // Bounded: a client cannot make the daemon hold
                        // more than this of a request it never finishes.
                        if c.inbuf.len() - tail > MAX_PENDING {
                            overlong = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => c.eof = true,
                }
            }
        } else {
            return;
        }
        if overlong {
            // The unfinished request goes; the whole lines before it are
            // still answered, then the client is told and dropped.
            let c = self.clients[i].as_mut().expect("live client");
            let tail = c
                .inbuf
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            c.inbuf.truncate(tail);
        }
        let mut at = 0;
        let mut served = 0;
        let now = self.now();
        loop {
            let c = self.clients[i].as_mut().expect("live client");
            if let Some(d) = c.dump.as_mut() {
                // One chunk a turn, and only once the last ones were read;
                // the requests after it wait for the whole answer.
                if served > 0 || c.outbuf.len() - c.outpos > DUMP_AHEAD {
                    break;
                }
                served = REQUESTS_PER_TURN;
                let out = d
                    .next_chunk(&self.graph, now, DUMP_CHUNK)
                    .unwrap_or_default();
                let more = d.remaining() > 0;
                if !more {
                    c.dump = None;
                }
                let reply = Response {
                    ok: true,
                    out,
                    more,
                    ..Default::default()
                };
                let mut s = serde_json::to_vec(&reply).expect("json");
                s.push(b'\n');
                c.outbuf.extend_from_slice(&s);
                continue;
            }
            // (An overlong client's whole lines are all answered now: it
            // is dropped after them.)
            if (served >= REQUESTS_PER_TURN && !overlong) || c.outbuf.len() - c.outpos > MAX_UNSENT
            {
                break;
            }
            let Some(nl) = c.inbuf[at..].iter().position(|b| *b == b'\n') else {
                break;
            };
            let line = c.inbuf[at..at + nl + 1].to_vec();
            at += nl + 1;
            served += 1;
            let reply = match serde_json::from_slice::<Request>(&line) {
                Ok(req) => self.handle_request(i, req),
                Err(e) => Response {
                    ok: false,
                    error: format!("bad request: {e}"),
                    ..Default::default()
                },
            };
            let c = self.clients[i].as_mut().expect("live client");
            let mut s = serde_json::to_vec(&reply).expect("json");
            s.push(b'\n');
            // A capture's pcap header must follow its answer line.
            let nlmon = c
                .capture
                .is_some_and(|id| matches!(self.graph.get(id).map(|f| &f.kind), Some(Kind::Nlmon)));
            let header = if (c.capture.is_some() || c.monitor) && reply.ok {
                Some(pcap::header(if nlmon || c.monitor {
                    pcap::LINKTYPE_NETLINK
                } else {
                    pcap::LINKTYPE_ETHERNET
                }))
            } else {
                None
            };
            c.outbuf.extend_from_slice(&s);
            if let Some(h) = header {
                c.outbuf.extend_from_slice(&h);
            }
        }
        if let Some(c) = self.clients[i].as_mut() {
            let capped = c.inbuf.len() > MAX_PENDING;
            c.inbuf.drain(..at);
            // Whole requests still waiting, or input left unread: this
            // client is served again next turn, unless its unread answers
            // hold it back (then its socket turning writable brings it).
            let more = c.inbuf.contains(&b'\n') || capped || c.dump.is_some();
            let held = c.outbuf.len() - c.outpos
                > if c.dump.is_some() {
                    DUMP_AHEAD
                } else {
                    MAX_UNSENT
                };
            if more && !held && !self.busy.contains(&i) {
                self.busy.push(i);
            }
        }
        if overlong {
            let c = self.clients[i].as_mut().expect("live client");
            let reply = Response {
                ok: false,
                error: format!(
                    "request too long: more than {MAX_PENDING} bytes without a newline; nothing of it was applied (one JSON request per line)"
                ),
                ..Default::default()
            };
            let mut s = serde_json::to_vec(&reply).expect("json");
            s.push(b'\n');
            c.outbuf.extend_from_slice(&s);
            c.closing = true;
            warn!("a client sent more than {MAX_PENDING} bytes without a newline; dropped");
        }
        self.client_write(i);
        // Done with: told what was wrong, or finished sending and every
        // request answered.
        if self.clients[i].as_ref().is_some_and(|c| {
            c.outbuf.is_empty()
                && (c.closing || (c.eof && !c.inbuf.contains(&b'\n') && c.dump.is_none()))
        }) {
            self.drop_client(i);
        }
    }

    pub(super) fn client_write(&mut self, i: usize) {
        let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        while c.outpos < c.outbuf.len() {
            match c.stream.write(&c.outbuf[c.outpos..]) {
                Ok(0) => break,
                Ok(n) => c.outpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.outbuf.clear();
                    c.outpos = 0;
                    c.closing = true;
                    break;
                }
            }
        }
        // What was sent goes: all of it, or the front once it is large
        // (so each byte is moved at most once more).
        if c.outpos == c.outbuf.len() {
            c.outbuf.clear();
            c.outpos = 0;
        } else if c.outpos > (1 << 20) {
            c.outbuf.drain(..c.outpos);
            c.outpos = 0;
        }
    }

    /// Clients with requests left over from an earlier turn.
    pub(super) fn serve_busy(&mut self) {
        for i in std::mem::take(&mut self.busy) {
            if self.clients.get(i).is_some_and(Option::is_some) {
                self.client_event(i);
            }
        }
    }

    pub(super) fn drop_client(&mut self, i: usize) {
        self.busy.retain(|b| *b != i);
        if let Some(mut c) = self.clients[i].take() {
            let _ = self.poll.registry().deregister(&mut c.stream);
            if let Some(id) = c.capture {
                let still = self.clients.iter().flatten().any(|o| o.capture == Some(id));
                if let Some(f) = self.graph.get_mut(id) {
                    f.capture = still;
                }
            }
        }
    }

    pub(super) fn handle_request(&mut self, client: usize, req: Request) -> Response {
        if req.monitor {
            self.clients[client].as_mut().expect("client").monitor = true;
            return Response {
                ok: true,
                ..Default::default()
            };
        }
        if let Some(dev) = req.capture {
            return match self.graph.by_name(&dev) {
                Some(id) => {
                    self.graph.iface_mut(id).capture = true;
                    self.clients[client].as_mut().expect("client").capture = Some(id);
                    Response {
                        ok: true,
                        ..Default::default()
                    }
                }
                None => Response {
                    ok: false,
                    error: format!("capture: no device named \"{dev}\" (see 'patchbay link show')"),
                    ..Default::default()
                },
            };
        }
        let opts = Opts {
            json: req.json,
            details: req.details,
            stats: req.stats,
        };
        match self.execute(&req.words, opts) {
            Ok(out) => {
                // A dump's answer follows in chunks (`client_event`).
                let dump = self.dump.take();
                let more = dump.is_some();
                self.clients[client].as_mut().expect("client").dump = dump;
                Response {
                    ok: true,
                    out,
                    more,
                    warning: std::mem::take(&mut self.warning),
                    ..Default::default()
                }
            }
            Err(e) => Response {
                ok: false,
                error: e,
                ..Default::default()
            },
        }
    }
}
