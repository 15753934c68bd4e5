//! The HEAD path's keep-alive connections, each driven by the HEAD that holds it.
//!
//! Through hyper-util's pooled client every HEAD crossed two tasks: the request went over
//! a channel to the task that owns the connection, and the answer came back over another;
//! a pool checkout, a connector cloned into a lazily built connect future and a boxed
//! future of 3 KB came with each request (profiled on the 1M-object bench: a sixth of the
//! scan's CPU, and one thread wake-up more per object). Here a HEAD takes an idle
//! connection of its endpoint (or opens one), writes its request and reads the answer in
//! its own task, woken by the socket, and hands the connection back. A connection is
//! used by one HEAD at a time, so there are never more than the HEADs in flight.
//!
//! A connection is only polled while a HEAD holds it, so one the server closed while idle
//! is found closed when next taken: [`Conns::send`] then tries once more on a new
//! connection, as hyper-util's pool retries a request it could not send.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::Attempt;
use crate::collect::errors::{CallFailure, describe};

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

/// How much a connection reads at a time. A HEAD's answer is headers only, well under
/// 1 KiB from S3, and hyper's default buffer of 8 KiB was allocated afresh for every
/// answer (the last answer's headers still borrow the old one when the next read is
/// armed): one 8 KiB malloc per object, too big for glibc's per-thread cache. Longer
/// answers are read in more than one go.
const READ_BUF: usize = 1024;

/// A connection idle longer than this is closed rather than reused: S3 closes idle
/// connections after about 20 s, and a request sent on one it closed costs a retry.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// One HTTP/1.1 connection and the state machine that reads and writes it.
struct Conn {
    sender: http1::SendRequest<Empty<Bytes>>,
    driver: http1::Connection<Io, Empty<Bytes>>,
    /// The driver has finished (the connection is closed): it is not polled again.
    closed: bool,
    /// Why it finished.
    why: String,
    idle_since: Instant,
}

impl Conn {
    /// Moves the connection on (writes what is queued, reads what arrived). `Err` once
    /// the driver has finished: the connection is closed (by the server, or by an error),
    /// and its sender is never told (hyper drops the sender's other end only with the
    /// driver), so waiting on the sender then would wait forever.
    fn drive(&mut self, cx: &mut Context<'_>) -> Result<(), String> {
        if !self.closed {
            match Pin::new(&mut self.driver).poll(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Ok(())) => self.why = "connection closed".to_string(),
                Poll::Ready(Err(e)) => self.why = describe(&e),
            }
            self.closed = true;
        }
        Err(self.why.clone())
    }

    /// Sends `request` and waits for its answer's head, driving the connection meanwhile.
    async fn round_trip(
        &mut self,
        request: http::Request<Empty<Bytes>>,
    ) -> Result<http::Response<Incoming>, String> {
        poll_fn(|cx| {
            let driven = self.drive(cx);
            match self.sender.poll_ready(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(describe(&e))),
                Poll::Pending => driven.map_or_else(|e| Poll::Ready(Err(e)), |()| Poll::Pending),
            }
        })
        .await?;
        let mut answer = std::pin::pin!(self.sender.send_request(request));
        poll_fn(|cx| {
            let driven = self.drive(cx);
            match answer.as_mut().poll(cx) {
                Poll::Ready(answered) => Poll::Ready(answered.map_err(|e| describe(&e))),
                Poll::Pending => driven.map_or_else(|e| Poll::Ready(Err(e)), |()| Poll::Pending),
            }
        })
        .await
    }
}

/// Idle connections per endpoint (`scheme://authority`), opened through one connector.
pub struct Conns {
    connector: HttpsConnector<HttpConnector>,
    idle: Mutex<Idle>,
    /// Idle connections kept in all: the scan's concurrency. With a host per bucket
    /// (virtual-hosted addressing), the buckets read before would otherwise each keep a
    /// pool's worth of sockets open.
    max_idle: usize,
}

#[derive(Default)]
struct Idle {
    /// Oldest first, per endpoint; an endpoint with none is removed. Boxed: a connection
    /// moves out to a HEAD and back for every request, and the HEAD's future holds it;
    /// boxed, a pointer moves and every HEAD task stays small.
    #[allow(clippy::vec_box)]
    by_origin: HashMap<String, Vec<Box<Conn>>>,
    total: usize,
}

impl Conns {
    pub fn new(connector: HttpsConnector<HttpConnector>, max_idle: usize) -> Self {
        Conns {
            connector,
            idle: Mutex::default(),
            max_idle: max_idle.max(1),
        }
    }

    /// Sends the request `build` makes to `origin`: on an idle connection if there is one,
    /// else on a new one. A request that fails on an idle connection (closed by the server
    /// while idle) is built and sent once more on a new connection. The connection goes
    /// back to the idle ones once the answer's head has arrived; a connection whose request
    /// failed or was dropped mid-way (a timeout) is closed.
    pub async fn send(
        &self,
        origin: &str,
        mut build: impl FnMut() -> Result<http::Request<Empty<Bytes>>, Attempt>,
    ) -> Result<http::Response<Incoming>, Attempt> {
        let mut idle = self.checkout(origin);
        loop {
            let reused = idle.is_some();
            let mut conn = match idle.take() {
                Some(conn) => conn,
                None => self.connect(origin).await.map_err(unreachable)?,
            };
            match conn.round_trip(build()?).await {
                Ok(response) => {
                    self.checkin(origin, conn);
                    return Ok(response);
                }
                Err(_) if reused => continue,
                Err(e) => return Err(unreachable(e)),
            }
        }
    }

    /// The most recently used idle connection to `origin` that has not idled too long.
    fn checkout(&self, origin: &str) -> Option<Box<Conn>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let Idle { by_origin, total } = &mut *idle;
        let conns = by_origin.get_mut(origin)?;
        let mut found = None;
        while let Some(conn) = conns.pop() {
            *total -= 1;
            if conn.idle_since.elapsed() < IDLE_TIMEOUT && !conn.closed {
                found = Some(conn);
                break;
            }
        }
        if conns.is_empty() {
            by_origin.remove(origin);
        }
        found
    }

    /// Keeps `conn` for the next request to `origin`. At the cap, the oldest idle
    /// connection of another endpoint makes room, or else `conn` is closed.
    fn checkin(&self, origin: &str, mut conn: Box<Conn>) {
        if conn.closed {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let Idle { by_origin, total } = &mut *idle;
        if *total >= self.max_idle {
            let Some(other) = by_origin.keys().find(|k| *k != origin).cloned() else {
                return;
            };
            let conns = by_origin.get_mut(&other).expect("found above");
            conns.remove(0);
            *total -= 1;
            if conns.is_empty() {
                by_origin.remove(&other);
            }
        }
        *total += 1;
        match by_origin.get_mut(origin) {
            Some(conns) => conns.push(conn),
            None => {
                by_origin.insert(origin.to_string(), vec![conn]);
            }
        }
    }

    /// Opens a connection to `origin` (TCP, then TLS for `https`).
    async fn connect(&self, origin: &str) -> Result<Box<Conn>, String> {
        let uri: http::Uri = origin
            .parse()
            .map_err(|e| format!("bad endpoint {origin}: {e}"))?;
        let mut connector = self.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| describe(e.as_ref()))?;
        let io = connector
            .call(uri)
            .await
            .map_err(|e| describe(e.as_ref()))?;
        let (sender, driver) = http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUF))
            .handshake(io)
            .await
            .map_err(|e| describe(&e))?;
        Ok(Box::new(Conn {
            sender,
            driver,
            closed: false,
            why: String::new(),
            idle_since: Instant::now(),
        }))
    }
}

fn unreachable(reason: String) -> Attempt {
    Attempt::Transient(CallFailure::Unreachable(reason))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server answering every request with an empty 200; `close_after_answer` closes
    /// each connection soon after it has answered. Counts connections accepted and closed by
    /// the client (EOF read).
    struct Server {
        origin: String,
        accepted: Arc<AtomicUsize>,
        closed_by_client: Arc<AtomicUsize>,
    }

    async fn server(close_after_answer: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed_by_client = Arc::new(AtomicUsize::new(0));
        let (a, c) = (accepted.clone(), closed_by_client.clone());
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let mut seen = Vec::new();
                    loop {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                c.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            socket.write_all(answer).await.unwrap();
                            if close_after_answer {
                                // Closed a moment later, as a server closes an idle
                                // connection: the client has kept it by then.
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Server {
            origin,
            accepted,
            closed_by_client,
        }
    }

    fn conns(max_idle: usize) -> Conns {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::collect::tls::rustls_config(None).unwrap())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Conns::new(connector, max_idle)
    }

    async fn head(conns: &Conns, server: &Server) -> u16 {
        let host = server.origin.trim_start_matches("http://").to_string();
        let response = conns
            .send(&server.origin, || {
                Ok(http::Request::head("/key")
                    .header(http::header::HOST, &host)
                    .body(Empty::new())
                    .unwrap())
            })
            .await;
        match response {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn a_connection_is_reused_for_the_next_request() {
        let server = server(false).await;
        let conns = conns(4);
        for _ in 0..3 {
            assert_eq!(head(&conns, &server).await, 200);
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    /// The server closed the idle connection: the request is sent again on a new one,
    /// not failed (hyper-util's pool did the same).
    #[tokio::test]
    async fn a_connection_closed_while_idle_is_replaced() {
        let server = server(true).await;
        let conns = conns(4);
        assert_eq!(head(&conns, &server).await, 200);
        settle().await;
        assert_eq!(head(&conns, &server).await, 200);
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    }

    /// With a host per bucket, idle connections are capped in all: the other endpoint's
    /// oldest is closed to keep this one.
    #[tokio::test]
    async fn idle_connections_are_capped_across_endpoints() {
        let (a, b) = (server(false).await, server(false).await);
        let conns = conns(1);
        assert_eq!(head(&conns, &a).await, 200);
        assert_eq!(head(&conns, &b).await, 200);
        settle().await;
        assert_eq!(a.closed_by_client.load(Ordering::SeqCst), 1);
        assert_eq!(b.closed_by_client.load(Ordering::SeqCst), 0);
        assert_eq!(head(&conns, &b).await, 200);
        assert_eq!(b.accepted.load(Ordering::SeqCst), 1);
    }
}
