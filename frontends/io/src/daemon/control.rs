//! The control socket: clients send one JSON request per line
//! ([`crate::proto`]) and get one answer per line; a capture or monitor
//! client then gets a pcap stream. A client's unanswered input is bounded
//! ([`MAX_PENDING`]); past it the client is told so and dropped.

use super::*;

/// The most a client may send without finishing its request line (a
/// teamd configuration is a few KiB; a `-batch` line is one command).
pub const MAX_PENDING: usize = 1 << 20;

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
                        capture: None,
                        monitor: false,
                        closing: false,
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
        let mut closed = false;
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
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        c.inbuf.extend_from_slice(&buf[..n]);
                        // Bounded: a client cannot make the daemon hold
                        // more than this of a request it never finishes.
                        let tail = c
                            .inbuf
                            .iter()
                            .rposition(|b| *b == b'\n')
                            .map_or(0, |p| p + 1);
                        if c.inbuf.len() - tail > MAX_PENDING {
                            overlong = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
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
        loop {
            let c = self.clients[i].as_mut().expect("live client");
            let Some(nl) = c.inbuf.iter().position(|b| *b == b'\n') else {
                break;
            };
            let line: Vec<u8> = c.inbuf.drain(..=nl).collect();
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
            let mut buf = std::mem::take(&mut c.outbuf);
            c.outbuf = s;
            if let Some(h) = header {
                c.outbuf.extend_from_slice(&h);
            }
            c.outbuf.append(&mut buf);
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
        if closed
            || self.clients[i]
                .as_ref()
                .is_some_and(|c| c.closing && c.outbuf.is_empty())
        {
            self.drop_client(i);
        }
    }

    pub(super) fn client_write(&mut self, i: usize) {
        let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        while !c.outbuf.is_empty() {
            match c.stream.write(&c.outbuf) {
                Ok(0) => break,
                Ok(n) => {
                    c.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.outbuf.clear();
                    c.closing = true;
                    break;
                }
            }
        }
    }

    pub(super) fn drop_client(&mut self, i: usize) {
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
            Ok(out) => Response {
                ok: true,
                out,
                warning: std::mem::take(&mut self.warning),
                ..Default::default()
            },
            Err(e) => Response {
                ok: false,
                error: e,
                ..Default::default()
            },
        }
    }
}
