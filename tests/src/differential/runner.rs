//! Runs scripted steps against one server over raw connections and records every frame
//! the server sends, normalised (see the module docs of [`super`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::{
    ConnectResponse, ErrorCode, EventType, MultiResult, OpCode, ReplyFrame, Request, Response,
    Stat, records::Acl,
};

use crate::raw::RawClient;

/// Session timeout every connection asks for: the largest ZooKeeper grants with tickTime
/// 2000 (20 × tickTime), so no session expires while a scenario runs.
pub const SESSION_TIMEOUT_MS: i32 = 40_000;
/// How long to wait for one reply (or one watch event) before recording a time-out.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the server to close a connection it is expected to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One step of a transcript: who acted, what was sent, and every normalised frame the step
/// produced (the actor's reply and the events any connection received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub index: usize,
    pub actor: String,
    pub action: String,
    pub lines: Vec<String>,
}

pub type Transcript = Vec<StepRecord>;

/// What a step observed before normalisation.
enum Seen {
    Frame(ReplyFrame),
    Connected(ConnectResponse),
    Closed(bool),
    Error(String),
    Note(String),
}

struct Conn {
    client: RawClient,
}

/// Executes steps against one server; [`Runner::finish`] returns the transcript.
pub struct Runner {
    addr: SocketAddr,
    /// Index = session number − 1; `None` once the connection is gone.
    conns: Vec<Option<Conn>>,
    creds: Vec<(i64, Bytes)>,
    /// The highest zxid each session has seen in a reply (kept across reconnects).
    seen_zxid: Vec<i64>,
    /// What each session had seen when its connection was last replaced: a client's
    /// setWatches after a reconnect sends this, not what the new connection saw since.
    resume_zxid: Vec<i64>,
    numbers: HashMap<i64, usize>,
    zxid_names: BTreeMap<i64, String>,
    base: Option<i64>,
    last_zxid: i64,
    /// The server's last zxid when the step being recorded started.
    step_start_zxid: Option<i64>,
    steps: Vec<StepRecord>,
    /// Set FERROKEEPER_DIFF_TRACE=1 to print each step as it runs.
    trace: Option<String>,
}

impl Runner {
    /// `name` labels the trace output (e.g. "zookeeper").
    pub fn new(addr: SocketAddr, name: &str) -> Runner {
        Runner {
            addr,
            conns: Vec::new(),
            creds: Vec::new(),
            seen_zxid: Vec::new(),
            resume_zxid: Vec::new(),
            numbers: HashMap::new(),
            zxid_names: BTreeMap::new(),
            base: None,
            last_zxid: 0,
            step_start_zxid: None,
            steps: Vec::new(),
            trace: std::env::var_os("FERROKEEPER_DIFF_TRACE").map(|_| name.to_owned()),
        }
    }

    pub fn finish(self) -> Transcript {
        self.steps
    }

    fn conn(&mut self, s: usize) -> Option<&mut Conn> {
        self.conns.get_mut(s - 1).and_then(Option::as_mut)
    }

    /// Opens a new session; returns its number (1, 2, ...).
    pub fn connect(&mut self) -> usize {
        let s = self.conns.len() + 1;
        self.seen_zxid.push(0);
        self.resume_zxid.push(0);
        let mut seen = Vec::new();
        match RawClient::connect(self.addr, SESSION_TIMEOUT_MS, None) {
            Ok((mut client, response)) => {
                let _ = client.stream().set_read_timeout(Some(READ_TIMEOUT));
                self.numbers.insert(response.session_id, s);
                self.creds
                    .push((response.session_id, response.passwd.clone()));
                self.conns.push(Some(Conn { client }));
                seen.push((s, Seen::Connected(response)));
            }
            Err(e) => {
                self.creds.push((0, Bytes::new()));
                self.conns.push(None);
                seen.push((s, Seen::Error(format!("connect: {e}"))));
            }
        }
        self.finish_step(s, "connect (new session)".to_owned(), seen);
        s
    }

    /// Reconnects session `s` on a new TCP connection (id + password), replacing its
    /// connection. The server must answer with the same session.
    pub fn reconnect(&mut self, s: usize) {
        self.note_seen();
        self.resume_zxid[s - 1] = self.seen_zxid[s - 1];
        let creds = self.creds[s - 1].clone();
        let mut seen = Vec::new();
        match RawClient::connect(self.addr, SESSION_TIMEOUT_MS, Some(creds)) {
            Ok((mut client, response)) => {
                let _ = client.stream().set_read_timeout(Some(READ_TIMEOUT));
                let expired = response.timeout <= 0;
                seen.push((s, Seen::Connected(response)));
                if expired {
                    seen.push((s, Seen::Closed(client.closed_by_server(CLOSE_TIMEOUT))));
                    self.conns[s - 1] = None;
                } else {
                    self.conns[s - 1] = Some(Conn { client });
                }
            }
            Err(e) => {
                self.conns[s - 1] = None;
                seen.push((s, Seen::Error(format!("connect: {e}"))));
            }
        }
        self.finish_step(
            s,
            "reconnect (same session id and password)".to_owned(),
            seen,
        );
    }

    /// Tries to resume session `s` with a wrong password: the server must refuse.
    /// The session's own connection (if any) is not touched.
    pub fn reconnect_bad_password(&mut self, s: usize) {
        let (id, passwd) = self.creds[s - 1].clone();
        let mut wrong = passwd.to_vec();
        if wrong.is_empty() {
            wrong.push(0);
        }
        wrong[0] ^= 0xff;
        let mut seen = Vec::new();
        match RawClient::connect(
            self.addr,
            SESSION_TIMEOUT_MS,
            Some((id, Bytes::from(wrong))),
        ) {
            Ok((mut client, response)) => {
                seen.push((s, Seen::Connected(response)));
                seen.push((s, Seen::Closed(client.closed_by_server(CLOSE_TIMEOUT))));
            }
            Err(e) => seen.push((s, Seen::Error(format!("connect: {e}")))),
        }
        self.finish_step(
            s,
            "reconnect with a wrong password (new TCP connection)".to_owned(),
            seen,
        );
    }

    /// Drops session `s`'s TCP connection without closing the session.
    pub fn disconnect(&mut self, s: usize) {
        self.note_seen();
        if let Some(conn) = self.conns[s - 1].take() {
            conn.client.disconnect();
        }
        self.finish_step(s, "drop the TCP connection".to_owned(), Vec::new());
    }

    /// Sends `request` on session `s` and records everything up to its reply.
    pub fn op(&mut self, s: usize, request: Request) {
        let action = describe(&request);
        let seen = self.exchange(s, request);
        self.finish_step(s, action, seen);
    }

    /// Like [`Runner::op`], then records whether the server closes the connection
    /// (closeSession, a failed auth, an unknown opcode); the connection is dropped either way.
    pub fn op_then_closed(&mut self, s: usize, request: Request) {
        let action = format!("{} (then: closed by server?)", describe(&request));
        let mut seen = self.exchange(s, request);
        if let Some(conn) = self.conns[s - 1].take() {
            let mut client = conn.client;
            seen.push((s, Seen::Closed(client.closed_by_server(CLOSE_TIMEOUT))));
        }
        self.finish_step(s, action, seen);
    }

    /// Sends a hand-made request frame (`xid`, `opcode` number, raw body) on session `s`,
    /// reads one frame and records whether the server then closes the connection.
    pub fn raw_then_closed(&mut self, s: usize, xid: i32, opcode: i32, body: &[u8]) {
        let action =
            format!("raw frame xid={xid} type={opcode} body={body:02x?} (then: closed by server?)");
        let mut seen = Vec::new();
        if let Some(conn) = self.conns[s - 1].take() {
            let mut client = conn.client;
            let mut payload = Vec::new();
            payload.extend_from_slice(
                &i32::try_from(8 + body.len())
                    .unwrap_or(i32::MAX)
                    .to_be_bytes(),
            );
            payload.extend_from_slice(&xid.to_be_bytes());
            payload.extend_from_slice(&opcode.to_be_bytes());
            payload.extend_from_slice(body);
            match client.stream().write_all(&payload) {
                Ok(()) => {
                    let as_op = OpCode::from_code(opcode).unwrap_or(OpCode::Delete);
                    match client.read_frame(as_op) {
                        Ok(frame) => seen.push((s, Seen::Frame(frame))),
                        Err(e) => seen.push((s, Seen::Error(read_error(&e)))),
                    }
                    seen.push((s, Seen::Closed(client.closed_by_server(CLOSE_TIMEOUT))));
                }
                Err(e) => seen.push((s, Seen::Error(format!("send: {e}")))),
            }
        } else {
            seen.push((s, Seen::Note("no connection".to_owned())));
        }
        self.finish_step(s, action, seen);
    }

    fn exchange(&mut self, s: usize, request: Request) -> Vec<(usize, Seen)> {
        let mut seen = Vec::new();
        let Some(conn) = self.conn(s) else {
            seen.push((s, Seen::Note("no connection".to_owned())));
            return seen;
        };
        match conn.client.call(request) {
            Ok(frames) => seen.extend(frames.into_iter().map(|f| (s, Seen::Frame(f)))),
            Err(e) => {
                seen.push((s, Seen::Error(read_error(&e))));
                // The stream may be out of step: stop using it.
                self.conns[s - 1] = None;
            }
        }
        seen
    }

    /// Collects late events with a ping on every open connection, names the zxids the
    /// step consumed and stores the normalised record.
    fn finish_step(&mut self, actor: usize, action: String, mut seen: Vec<(usize, Seen)>) {
        let index = self.steps.len();
        let mut last = None::<i64>;
        self.note_seen();
        let mut consumed_known = true;
        for (i, slot) in self.conns.iter_mut().enumerate() {
            let Some(conn) = slot else { continue };
            match conn.client.call(Request::Ping) {
                Ok(mut frames) => {
                    if let Some(reply) = frames.pop() {
                        if reply.header.err != 0 {
                            seen.push((
                                i + 1,
                                Seen::Note(format!("ping err={}", reply.header.err)),
                            ));
                        }
                        last = Some(last.map_or(reply.header.zxid, |l| l.max(reply.header.zxid)));
                    }
                    seen.extend(frames.into_iter().map(|f| (i + 1, Seen::Frame(f))));
                }
                Err(e) => {
                    let item = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        // An observation, not a harness failure: the server closed it.
                        Seen::Note(
                            "connection closed by server (seen by the ping after the step)"
                                .to_owned(),
                        )
                    } else {
                        Seen::Error(format!("ping after step: {}", read_error(&e)))
                    };
                    seen.push((i + 1, item));
                    *slot = None;
                }
            }
        }
        self.note_seen();
        self.step_start_zxid = self.base.map(|_| self.last_zxid);
        let mut lines = Vec::new();
        match (last, self.base) {
            (None, _) => consumed_known = false,
            (Some(now), None) => {
                self.base = Some(now);
                self.zxid_names.insert(now, format!("#{index}"));
                self.last_zxid = now;
                lines.push("zxids: base (first observed zxid)".to_owned());
            }
            (Some(now), Some(_)) => {
                let n = now - self.last_zxid;
                if n < 0 {
                    lines.push(format!("zxids: went BACK by {}", -n));
                } else {
                    lines.push(format!("zxids consumed: {n}"));
                    for (k, z) in (self.last_zxid + 1..=now).take(64).enumerate() {
                        let name = if n == 1 {
                            format!("#{index}")
                        } else {
                            format!("#{index}.{k}")
                        };
                        self.zxid_names.insert(z, name);
                    }
                    self.last_zxid = now;
                }
            }
        }
        if !consumed_known {
            lines.push("zxids consumed: unknown (no open connection)".to_owned());
        }
        for (s, item) in &seen {
            lines.push(format!("[session#{s}] {}", self.format_seen(item)));
        }
        let record = StepRecord {
            index,
            actor: format!("session#{actor}"),
            action,
            lines,
        };
        if let Some(name) = &self.trace {
            let mut out = format!("[{name}] step {index} {} {}\n", record.actor, record.action);
            for line in &record.lines {
                let _ = writeln!(out, "    {line}");
            }
            eprint!("{out}");
        }
        self.steps.push(record);
    }

    fn note_seen(&mut self) {
        for (i, slot) in self.conns.iter().enumerate() {
            if let Some(conn) = slot {
                self.seen_zxid[i] = self.seen_zxid[i].max(conn.client.last_zxid);
            }
        }
    }

    /// Sends setWatches (101), or setWatches2 (105) when `persistent` is given as
    /// (persistent, persistent-recursive) paths, on session `s` with the highest zxid the
    /// session had seen before its last reconnect as relativeZxid (as a client does).
    pub fn set_watches(
        &mut self,
        s: usize,
        data: &[&str],
        exist: &[&str],
        child: &[&str],
        persistent: Option<(&[&str], &[&str])>,
    ) {
        let relative_zxid = self.resume_zxid[s - 1];
        let owned = |v: &[&str]| v.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        let (request, action) = match persistent {
            None => (
                Request::SetWatches(ferrokeeper_protocol::SetWatches {
                    relative_zxid,
                    data_watches: owned(data),
                    exist_watches: owned(exist),
                    child_watches: owned(child),
                }),
                format!(
                    "SetWatches {{ relativeZxid: {} (last seen by the session), data: {data:?}, exist: {exist:?}, child: {child:?} }}",
                    self.zx(relative_zxid)
                ),
            ),
            Some((persistent, recursive)) => (
                Request::SetWatches2(ferrokeeper_protocol::SetWatches2 {
                    relative_zxid,
                    data_watches: owned(data),
                    exist_watches: owned(exist),
                    child_watches: owned(child),
                    persistent_watches: owned(persistent),
                    persistent_recursive_watches: owned(recursive),
                }),
                format!(
                    "SetWatches2 {{ relativeZxid: {} (last seen by the session), data: {data:?}, exist: {exist:?}, child: {child:?}, persistent: {persistent:?}, recursive: {recursive:?} }}",
                    self.zx(relative_zxid)
                ),
            ),
        };
        let seen = self.exchange(s, request);
        self.finish_step(s, action, seen);
    }

    fn format_seen(&self, item: &Seen) -> String {
        match item {
            Seen::Frame(frame) => self.format_frame(frame),
            Seen::Connected(r) => format!(
                "connect reply: protocol={} timeout={} session={} passwd_len={} read_only={:?}",
                r.protocol_version,
                r.timeout,
                self.session(r.session_id),
                r.passwd.len(),
                r.read_only
            ),
            Seen::Closed(closed) => format!("closed by server: {closed}"),
            Seen::Error(e) => format!("ERROR {e}"),
            Seen::Note(n) => format!("note: {n}"),
        }
    }

    fn zx(&self, z: i64) -> String {
        if z == 0 || z == -1 {
            return z.to_string();
        }
        if let Some(name) = self.zxid_names.get(&z) {
            return name.clone();
        }
        match self.base {
            Some(base) if z < base => format!("pre-{}", base - z),
            Some(_) if z > self.last_zxid => format!("after+{}", z - self.last_zxid),
            _ => format!("raw:{z:#x}"),
        }
    }

    fn session(&self, id: i64) -> String {
        if id == 0 {
            return "0".to_owned();
        }
        match self.numbers.get(&id) {
            Some(n) => format!("session#{n}"),
            None => format!("unknown-session:{id:#x}"),
        }
    }

    fn time(t: i64) -> &'static str {
        if t == 0 { "0" } else { "T" }
    }

    fn stat(&self, s: &Stat) -> String {
        format!(
            "{{czxid={} mzxid={} ctime={} mtime={} version={} cversion={} aversion={} owner={} dataLength={} numChildren={} pzxid={}}}",
            self.zx(s.czxid),
            self.zx(s.mzxid),
            Self::time(s.ctime),
            Self::time(s.mtime),
            s.version,
            s.cversion,
            s.aversion,
            self.session(s.ephemeral_owner),
            s.data_length,
            s.num_children,
            self.zx(s.pzxid)
        )
    }

    fn format_frame(&self, frame: &ReplyFrame) -> String {
        let h = &frame.header;
        if let Response::Notification(event) = &frame.response {
            return format!(
                "event {} state={} path={:?} (xid={} zxid={} err={})",
                event_name(event.r#type),
                event.state,
                event.path,
                h.xid,
                self.zx(h.zxid),
                h.err
            );
        }
        // A reply that consumed no zxid carries the server's last zxid; naming it "last"
        // keeps one step's extra or missing zxid from showing in every later read.
        let zxid = if Some(h.zxid) == self.step_start_zxid && h.zxid != 0 {
            "last".to_owned()
        } else {
            self.zx(h.zxid)
        };
        format!(
            "reply xid={} zxid={} err={} {}",
            h.xid,
            zxid,
            err_name(h.err),
            self.response(&frame.response)
        )
    }

    fn response(&self, r: &Response) -> String {
        match r {
            Response::Empty => "(no body)".to_owned(),
            Response::Create(c) => format!("Create{{path={:?}}}", c.path),
            Response::Create2(c) => {
                format!("Create2{{path={:?} stat={}}}", c.path, self.stat(&c.stat))
            }
            Response::Stat(s) => format!("Stat{}", self.stat(s)),
            Response::GetData(d) => format!(
                "GetData{{data={} stat={}}}",
                data(&d.data),
                self.stat(&d.stat)
            ),
            Response::GetAcl(a) => {
                format!("GetAcl{{acl={} stat={}}}", acls(&a.acl), self.stat(&a.stat))
            }
            Response::GetChildren(c) => {
                format!("GetChildren{{children={:?} (sorted)}}", sorted(&c.children))
            }
            Response::GetChildren2(c) => format!(
                "GetChildren2{{children={:?} (sorted) stat={}}}",
                sorted(&c.children),
                self.stat(&c.stat)
            ),
            Response::Sync(s) => format!("Sync{{path={:?}}}", s.path),
            Response::Multi(m) => {
                let results: Vec<String> = m.results.iter().map(|r| self.multi_result(r)).collect();
                format!("Multi[{}]", results.join(", "))
            }
            Response::Sasl(s) => format!("Sasl{{token={:02x?}}}", s.token.as_deref()),
            Response::GetEphemerals(e) => {
                format!("GetEphemerals{{{:?}}} (sorted)", sorted(&e.ephemerals))
            }
            Response::GetAllChildrenNumber(n) => {
                format!("GetAllChildrenNumber{{{}}}", n.total_number)
            }
            Response::AddWatch(e) => format!("AddWatch{{err={}}}", e.err),
            Response::WhoAmI(w) => {
                // ZooKeeper keeps a connection's ids in a HashSet: the order is unspecified.
                let mut infos: Vec<String> = w
                    .client_info
                    .iter()
                    .map(|c| format!("{}:{}", c.auth_scheme, c.user))
                    .collect();
                infos.sort();
                format!("WhoAmI{infos:?} (sorted)")
            }
            Response::Notification(e) => format!("Notification{e:?}"),
        }
    }

    fn multi_result(&self, r: &MultiResult) -> String {
        match r {
            MultiResult::Create(c) => format!("Create{{path={:?}}}", c.path),
            MultiResult::Create2(c) => {
                format!("Create2{{path={:?} stat={}}}", c.path, self.stat(&c.stat))
            }
            MultiResult::Delete => "Delete".to_owned(),
            MultiResult::SetData(s) => format!("SetData{}", self.stat(&s.stat)),
            MultiResult::Check => "Check".to_owned(),
            MultiResult::GetData(d) => format!(
                "GetData{{data={} stat={}}}",
                data(&d.data),
                self.stat(&d.stat)
            ),
            MultiResult::GetChildren(c) => {
                format!("GetChildren{{children={:?} (sorted)}}", sorted(&c.children))
            }
            MultiResult::Error(e) => format!("Error({})", err_name(*e)),
        }
    }
}

fn read_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("no reply within {READ_TIMEOUT:?}")
        }
        std::io::ErrorKind::UnexpectedEof => "connection closed by server".to_owned(),
        _ => format!("{e}"),
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn data(d: &Option<Bytes>) -> String {
    match d {
        None => "null".to_owned(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("{s:?}"),
            Err(_) => format!("{:02x?}", &b[..]),
        },
    }
}

fn acls(list: &[Acl]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|a| format!("{}:{}:{}", a.perms, a.id.scheme, a.id.id))
        .collect();
    format!("{items:?}")
}

pub fn err_name(code: i32) -> String {
    match ErrorCode::from_code(code) {
        Some(c) if code != 0 => format!("{code}({c:?})"),
        _ => code.to_string(),
    }
}

fn event_name(code: i32) -> String {
    match EventType::from_code(code) {
        Some(t) => format!("{t:?}"),
        None => format!("type{code}"),
    }
}

/// A one-line description of a request for transcripts and reports.
pub fn describe(request: &Request) -> String {
    let text = format!("{request:?}");
    // Keep reports readable: long payloads are cut.
    if text.len() > 600 {
        let mut cut = 600;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &text[..cut])
    } else {
        text
    }
}
