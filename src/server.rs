//! Accepting and serving HTTP/1.1 connections, with the limits that keep one client from
//! exhausting the process: a deadline for each request head, an idle keep-alive timeout, and a
//! cap on connections served at once. Also the per-connection rule that a response sent before
//! its request body was read to the end closes the connection, so the rest of that body can
//! never be read as the next request.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::server::{ServerConfig, MAX_CONNECTIONS_LIMIT};

/// Descriptors kept for everything that is not a client connection: the database pool is added
/// to this; the rest covers Redis, mail, identity providers, log and database files.
const DESCRIPTOR_RESERVE: u64 = 128;

/// After a failed `accept` that is not about one connection (out of descriptors, most likely),
/// wait this long before the next, instead of spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// What `serve` needs to know about connections, resolved from `ServerConfig`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    /// At shutdown, requests in flight finish within this; then their connections close.
    pub shutdown_timeout: Duration,
}

impl ConnectionLimits {
    /// The configured limits; an unset `MAX_CONNECTIONS` is derived from the descriptor limit.
    /// `pool` is the database pool size; with a gateway, each client connection may hold one
    /// towards the upstream too.
    pub fn resolve(config: &ServerConfig, pool: u32, gateway: bool) -> Self {
        let descriptors = descriptor_limit();
        let max_connections = match config.max_connections {
            Some(set) => {
                if set as u64 >= descriptors {
                    tracing::warn!(
                        max_connections = set,
                        open_file_limit = descriptors,
                        "MAX_CONNECTIONS is not below the open-file limit: connections past it \
                         fail to be accepted instead of waiting their turn"
                    );
                }
                set
            }
            None => derived_max_connections(descriptors, u64::from(pool), gateway),
        };
        Self {
            header_read_timeout: ms(config.header_read_timeout_ms),
            keep_alive_timeout: ms(config.keep_alive_timeout_ms),
            max_connections,
            shutdown_timeout: ms(config.shutdown_timeout_ms),
        }
    }
}

fn ms(value: i64) -> Duration {
    Duration::from_millis(u64::try_from(value).unwrap_or(1))
}

/// The soft limit of open descriptors, or a conservative guess where it cannot be read.
fn descriptor_limit() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        return soft;
    }
    1024
}

fn derived_max_connections(descriptors: u64, pool: u64, gateway: bool) -> usize {
    let available = descriptors.saturating_sub(DESCRIPTOR_RESERVE + pool);
    let per_client = if gateway { 2 } else { 1 };
    let derived = (available / per_client).clamp(16, MAX_CONNECTIONS_LIMIT as u64);
    usize::try_from(derived).unwrap_or(MAX_CONNECTIONS_LIMIT)
}

/// Raises the soft limit of open descriptors to the hard limit (a process may, without
/// privileges), so the default `MAX_CONNECTIONS` is not held to a distribution's 1,024, and
/// logs both numbers. Called once at start by `bouncer serve`.
pub fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        match getrlimit(Resource::RLIMIT_NOFILE) {
            Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            {
                Ok(()) => tracing::info!(from = soft, to = hard, "raised the open-file limit"),
                Err(e) => {
                    tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit")
                }
            },
            Ok((soft, _)) => tracing::info!(limit = soft, "open-file limit"),
            Err(e) => tracing::warn!(error = %e, "cannot read the open-file limit"),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets the
/// requests in flight finish, closes idle connections, and returns once every connection is
/// closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
        keep_alive_timeout_ms = limits.keep_alive_timeout.as_millis() as u64,
        "connection limits"
    );
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    // `stop` tells connections to finish; `open` is held by each one, so its sender learns
    // when the last has closed.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        // At the cap, new connections wait in the kernel's accept backlog rather than being
        // accepted and closed: a health check gets its turn as soon as a slot frees (a half-sent
        // head frees one within HEADER_READ_TIMEOUT) instead of a refusal, and no descriptor is
        // spent on connections that could not be served.
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        // Answers go out as soon as they are written, not held back for more bytes (Nagle).
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            builder: builder.clone(),
            keep_alive_timeout: limits.keep_alive_timeout,
            stop: stop_rx.clone(),
            _open: open_rx.clone(),
            _slot: slot,
        };
        tokio::spawn(connection.serve(stream, peer));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    // A chat stream can run for minutes: past the grace period its connection is closed
    // (dropped with the runtime) so that a stop always ends, and says so.
    if tokio::time::timeout(limits.shutdown_timeout, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = open_tx.receiver_count(),
            shutdown_timeout_ms = limits.shutdown_timeout.as_millis() as u64,
            "requests still in flight at the end of SHUTDOWN_TIMEOUT: their connections are closed"
        );
    }
    Ok(())
}

/// Errors of `accept` that concern only the connection being accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection and what it holds until it closes.
struct Connection {
    router: Router,
    builder: Arc<http1::Builder>,
    keep_alive_timeout: Duration,
    stop: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream, peer: SocketAddr) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(ObservedStream {
            inner: stream,
            activity: activity.clone(),
        });
        let service = ConnectionService {
            router: self.router.clone(),
            peer,
            activity: activity.clone(),
        };
        let conn = self
            .builder
            .serve_connection(io, hyper::service::service_fn(move |req| service.call(req)));
        tokio::pin!(conn);
        let mut closing = false;
        // The idle deadline is checked when it may have passed, not at every request: a busy
        // connection costs one look per KEEP_ALIVE_TIMEOUT.
        let mut check_at = activity.started + self.keep_alive_timeout;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stop.wait_for(|stop| *stop), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = tokio::time::sleep_until(check_at), if !closing => {
                    let now = Instant::now();
                    match activity.idle_since() {
                        Some(since) if since + self.keep_alive_timeout > now => {
                            check_at = since + self.keep_alive_timeout;
                        }
                        // A client that has begun its next request is not idle: the head
                        // deadline is its limit now.
                        Some(_) if !activity.received.load(Ordering::Acquire) => {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        _ => check_at = now + self.keep_alive_timeout,
                    }
                }
            }
        }
    }
}

/// What one connection is doing, shared by its service, its stream and its watcher.
struct Activity {
    started: Instant,
    /// A request is in flight: from its head until its response body is sent or dropped.
    busy: AtomicBool,
    /// When the connection last became idle, in microseconds after `started`.
    idle_since_micros: AtomicU64,
    /// Bytes arrived since the connection last became idle.
    received: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            busy: AtomicBool::new(false),
            idle_since_micros: AtomicU64::new(0),
            received: AtomicBool::new(false),
        }
    }

    fn idle_since(&self) -> Option<Instant> {
        if self.busy.load(Ordering::Acquire) {
            return None;
        }
        let micros = self.idle_since_micros.load(Ordering::Acquire);
        Some(self.started + Duration::from_micros(micros))
    }

    fn became_idle(&self) {
        let micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.idle_since_micros.store(micros, Ordering::Release);
        self.received.store(false, Ordering::Release);
        self.busy.store(false, Ordering::Release);
    }
}

/// Serves the requests of one connection through the router.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl ConnectionService {
    fn call(
        &self,
        request: Request<Incoming>,
    ) -> impl Future<Output = Result<Response<ResponseBody>, Infallible>> + Send + 'static {
        self.activity.busy.store(true, Ordering::Release);
        let in_flight = InFlight(self.activity.clone());
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let read_to_end = Arc::new(AtomicBool::new(body.is_end_stream()));
        let body = Body::new(RequestBody {
            inner: body,
            read_to_end: read_to_end.clone(),
        });
        let router = self.router.clone();
        async move {
            let response = router
                .oneshot(Request::from_parts(parts, body))
                .await
                .unwrap_or_else(|never| match never {});
            let (mut parts, body) = response.into_parts();
            if !read_to_end.load(Ordering::Acquire) {
                // What is left of the body is still on the wire; the connection must not read
                // it as a request.
                parts
                    .headers
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(Response::from_parts(
                parts,
                ResponseBody {
                    inner: body,
                    _in_flight: in_flight,
                },
            ))
        }
    }
}

/// Marks the connection idle again when dropped, i.e. when its response body has been sent or
/// abandoned.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.became_idle();
    }
}

/// A request body that records whether it was read to its end.
struct RequestBody {
    inner: Incoming,
    read_to_end: Arc<AtomicBool>,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            _ => false,
        };
        if ended {
            self.read_to_end.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in flight until it is sent or dropped (an SSE
/// stream stays in flight for as long as it runs, so no idle timeout cuts it).
struct ResponseBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The TCP stream, noting when bytes arrive so an idle connection that has begun its next
/// request is not closed under it.
struct ObservedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for ObservedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.received.store(true, Ordering::Release);
        }
        polled
    }
}

impl AsyncWrite for ObservedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Everything the server sends until it closes the connection (bounded against hangs).
    async fn until_closed(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
            .await
            .expect("closed within the guard")
            .unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn shutdown_finishes_requests_in_flight_and_closes_idle_connections() {
        let entered = Arc::new(tokio::sync::Notify::new());
        let release = Arc::new(Semaphore::new(0));
        let (e, r) = (entered.clone(), release.clone());
        let router = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
            .route(
                "/slow",
                get(move || async move {
                    e.notify_one();
                    r.acquire().await.unwrap().forget();
                    "done"
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Timeouts far away: whatever closes here is the shutdown.
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(600),
            keep_alive_timeout: Duration::from_secs(600),
            max_connections: 10,
            shutdown_timeout: Duration::from_secs(600),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));

        let mut idle = TcpStream::connect(address).await.unwrap();
        idle.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let me = idle.local_addr().unwrap().to_string();
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).ends_with(&me) {
            let mut buf = [0u8; 1024];
            let n = idle.read(&mut buf).await.unwrap();
            assert!(n > 0, "answered with the peer address");
            seen.extend_from_slice(&buf[..n]);
        }
        let mut busy = TcpStream::connect(address).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        entered.notified().await;

        stop.send(()).unwrap();
        assert_eq!(
            until_closed(&mut idle).await,
            "",
            "the idle connection is closed"
        );
        release.add_permits(1);
        let answer = until_closed(&mut busy).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve returns once every connection is closed")
            .unwrap()
            .unwrap();
    }

    #[test]
    fn the_derived_cap_leaves_descriptors_for_peers() {
        assert_eq!(derived_max_connections(1024, 10, false), 886);
        assert_eq!(derived_max_connections(1024, 10, true), 443);
        assert_eq!(derived_max_connections(524_288, 10, false), 524_150);
        // An unlimited descriptor count (RLIM_INFINITY) stays within what a semaphore holds.
        assert_eq!(derived_max_connections(u64::MAX, 10, false), 1_000_000);
        // A tiny limit still serves someone.
        assert_eq!(derived_max_connections(100, 10, false), 16);
    }
}
