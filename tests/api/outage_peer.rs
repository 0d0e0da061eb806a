//! A TCP forwarder in front of a real server (PostgreSQL, Redis) that plays its outages:
//! refusing connections as a stopped server does, or hanging as a frozen one does (connections
//! accepted by the kernel, nothing ever answered).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Forwarding,
    /// Nothing listens on the port: connects are refused.
    Refusing,
    /// Connections are accepted and held; open ones stop moving bytes.
    Hanging,
}

pub struct OutagePeer {
    pub port: u16,
    target: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Connections held open right now (forwarding or hanging).
    live: watch::Sender<usize>,
    acceptor: Option<JoinHandle<()>>,
}

impl OutagePeer {
    pub async fn in_front_of(target: SocketAddr) -> Self {
        let listener = listen(0);
        let port = listener.local_addr().unwrap().port();
        let mut peer = Self {
            port,
            target,
            mode: watch::Sender::new(Mode::Forwarding),
            live: watch::Sender::new(0),
            acceptor: None,
        };
        peer.acceptor = Some(peer.accept_on(listener));
        peer
    }

    /// The address of a server named by a URL (`postgres://...`, `redis://...`).
    pub fn target_of(url: &url::Url, default_port: u16) -> SocketAddr {
        let host = match url.host_str() {
            Some("localhost") | None => "127.0.0.1",
            Some(host) => host,
        };
        format!("{host}:{}", url.port().unwrap_or(default_port))
            .parse()
            .unwrap()
    }

    /// Closes every connection and stops listening, so connects are refused; returns once
    /// both are done, so the next request meets the outage whichever connection it takes.
    pub async fn refuse(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
            let _ = acceptor.await;
        }
        self.mode.send_replace(Mode::Refusing);
        let mut live = self.live.subscribe();
        live.wait_for(|n| *n == 0).await.unwrap();
    }

    /// Freezes every open connection and accepts new ones without ever answering.
    pub fn hang(&self) {
        self.mode.send_replace(Mode::Hanging);
    }

    /// Forwards again. What hung is closed first, as a restarted server would have done.
    pub fn restore(&mut self) {
        self.mode.send_replace(Mode::Forwarding);
        if self.acceptor.is_none() {
            self.acceptor = Some(self.accept_on(listen(self.port)));
        }
    }

    fn accept_on(&self, listener: TcpListener) -> JoinHandle<()> {
        let (target, mode, live) = (self.target, self.mode.clone(), self.live.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                live.send_modify(|n| *n += 1);
                let (mode, live) = (mode.clone(), live.clone());
                tokio::spawn(async move {
                    serve(inbound, target, mode.subscribe()).await;
                    live.send_modify(|n| *n -= 1);
                });
            }
        })
    }
}

/// Forwards one connection until the mode changes; while hanging, holds it silently until
/// the next change.
async fn serve(mut inbound: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let at_start = *mode.borrow_and_update();
    if at_start == Mode::Forwarding {
        let Ok(mut outbound) = TcpStream::connect(target).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
            _ = mode.changed() => {}
        }
        if *mode.borrow_and_update() == Mode::Hanging {
            let _ = mode.changed().await;
        }
        return;
    }
    if at_start == Mode::Hanging {
        let _ = mode.changed().await;
    }
}

/// A listener on 127.0.0.1 (`0`: any free port), re-bindable at once after a refusal.
fn listen(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .unwrap();
    socket.listen(1024).unwrap()
}
