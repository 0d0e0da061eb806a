//! The audit log: who did what to which account, when, from where. Use cases record events
//! with `Audit::record`, which never waits: events go to a bounded queue and a writer task
//! stores them in batches, off the request path. `Audit::shutdown` drains the queue.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::store::Db;

/// How many events may wait for the writer; past that, events are dropped (and counted)
/// rather than letting memory grow while the database is away.
const QUEUE_MAX: usize = 65_536;
/// How long a clean shutdown waits for queued events to be stored.
pub const DRAIN_BOUND: Duration = Duration::from_secs(10);
/// The most events one write stores.
const BATCH_MAX: usize = 512;

/// What happened. The names are the log's `kind` column and the API's filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    SignInSucceeded,
    SignInFailed,
    Registered,
    EmailVerified,
    PasswordResetRequested,
    PasswordResetDone,
    PasswordChanged,
    TwoFactorEnabled,
    TwoFactorDisabled,
    TwoFactorReset,
    BackupCodeUsed,
    SessionRevoked,
    SessionsRevoked,
    Banned,
    Unbanned,
    UserCreated,
    UserDeleted,
    RoleChanged,
    UserDisabled,
    UserEnabled,
    ApiKeyCreated,
    ApiKeyRevoked,
    PasskeyRegistered,
    PasskeyRemoved,
}

impl Kind {
    pub const ALL: [Kind; 24] = [
        Kind::SignInSucceeded,
        Kind::SignInFailed,
        Kind::Registered,
        Kind::EmailVerified,
        Kind::PasswordResetRequested,
        Kind::PasswordResetDone,
        Kind::PasswordChanged,
        Kind::TwoFactorEnabled,
        Kind::TwoFactorDisabled,
        Kind::TwoFactorReset,
        Kind::BackupCodeUsed,
        Kind::SessionRevoked,
        Kind::SessionsRevoked,
        Kind::Banned,
        Kind::Unbanned,
        Kind::UserCreated,
        Kind::UserDeleted,
        Kind::RoleChanged,
        Kind::UserDisabled,
        Kind::UserEnabled,
        Kind::ApiKeyCreated,
        Kind::ApiKeyRevoked,
        Kind::PasskeyRegistered,
        Kind::PasskeyRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignInSucceeded => "sign_in.succeeded",
            Kind::SignInFailed => "sign_in.failed",
            Kind::Registered => "registered",
            Kind::EmailVerified => "email.verified",
            Kind::PasswordResetRequested => "password_reset.requested",
            Kind::PasswordResetDone => "password_reset.done",
            Kind::PasswordChanged => "password.changed",
            Kind::TwoFactorEnabled => "two_factor.enabled",
            Kind::TwoFactorDisabled => "two_factor.disabled",
            Kind::TwoFactorReset => "two_factor.reset",
            Kind::BackupCodeUsed => "two_factor.backup_code_used",
            Kind::SessionRevoked => "session.revoked",
            Kind::SessionsRevoked => "sessions.revoked",
            Kind::Banned => "ban.created",
            Kind::Unbanned => "ban.lifted",
            Kind::UserCreated => "user.created",
            Kind::UserDeleted => "user.deleted",
            Kind::RoleChanged => "user.role_changed",
            Kind::UserDisabled => "user.disabled",
            Kind::UserEnabled => "user.enabled",
            Kind::ApiKeyCreated => "api_key.created",
            Kind::ApiKeyRevoked => "api_key.revoked",
            Kind::PasskeyRegistered => "passkey.registered",
            Kind::PasskeyRemoved => "passkey.removed",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One event, built by the use case that saw it happen.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    /// Whom the event is about.
    pub user_id: Option<String>,
    /// Who acted, when not the user themselves (an admin; `None` for Bouncer itself).
    pub actor_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// Facts of the event (the provider, the reason class, the ban's duration...): never a
    /// password, a token or a code.
    pub detail: Map<String, Value>,
}

impl Event {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            user_id: None,
            actor_id: None,
            ip: None,
            user_agent: None,
            detail: Map::new(),
        }
    }

    pub fn user(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    pub fn actor(mut self, id: impl Into<String>) -> Self {
        self.actor_id = Some(id.into());
        self
    }

    /// The client's IP and user agent.
    pub fn client(mut self, client: &crate::usecases::Client) -> Self {
        self.ip = Some(client.ip);
        self.user_agent = client.user_agent.clone();
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_string(), value.into());
        self
    }
}

/// An event as stored: the time is taken when it is recorded.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub at_ms: i64,
    pub event: Event,
}

/// What the writer is sent: an event, or a request to answer once everything queued before
/// it is stored.
enum Message {
    Event(Stamped),
    Flush(oneshot::Sender<()>),
}

pub struct Audit {
    queue: Mutex<Option<mpsc::Sender<Message>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
    dropped: Arc<AtomicU64>,
}

impl Audit {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        let writer = tokio::spawn(write_batches(db, rx));
        Self {
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            clock,
            dropped: Arc::default(),
        }
    }

    fn sender(&self) -> Option<mpsc::Sender<Message>> {
        self.queue.lock().ok().and_then(|q| q.clone())
    }

    /// Queues `event`; never waits. A full queue drops the event and counts it.
    pub fn record(&self, event: Event) {
        let stamped = Stamped {
            at_ms: self.clock.now_ms(),
            event,
        };
        let Some(queue) = self.sender() else {
            tracing::warn!(
                kind = stamped.event.kind.as_str(),
                "audit event after shutdown, not stored"
            );
            return;
        };
        if queue.try_send(Message::Event(stamped)).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "the audit queue is full; events are being dropped"
                );
            }
        }
    }

    /// Waits until every event recorded before the call is stored (or the writer is gone):
    /// for readers that must see what just happened, e.g. tests, without guessing a delay.
    pub async fn flush(&self) {
        let Some(queue) = self.sender() else {
            return;
        };
        let (done, stored) = oneshot::channel();
        if queue.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops taking events and waits (at most `bound`) until those queued are stored.
    pub async fn shutdown(&self, bound: Duration) {
        if let Ok(mut q) = self.queue.lock() {
            q.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            if tokio::time::timeout(bound, writer).await.is_err() {
                tracing::warn!("the audit log did not drain in time; queued events are lost");
            }
        }
    }
}

/// Takes what has queued (up to `BATCH_MAX`) and stores its events in one statement, then
/// answers the flushes among them. A failed write is retried with a growing pause (the
/// database briefly down, a failover) while the queue holds the rest; once shutdown has
/// closed the queue, a write that keeps failing is given up after `ATTEMPTS_AT_SHUTDOWN`.
async fn write_batches(db: Db, mut rx: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(BATCH_MAX);
    let mut batch = Vec::with_capacity(BATCH_MAX);
    let mut flushes = Vec::new();
    while rx.recv_many(&mut messages, BATCH_MAX).await > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Event(stamped) => batch.push(stamped),
                Message::Flush(done) => flushes.push(done),
            }
        }
        let mut attempts = 0;
        while let Err(e) = crate::store::audit::insert_batch(&db, &batch).await {
            attempts += 1;
            tracing::warn!(error = %e, events = batch.len(), attempts, "writing audit events failed");
            if attempts >= ATTEMPTS_AT_SHUTDOWN && rx.is_closed() {
                tracing::error!(events = batch.len(), "audit events lost at shutdown");
                break;
            }
            tokio::time::sleep(RETRY_PAUSE * attempts.min(10)).await;
        }
        batch.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// The pause before a failed write is tried again, times the attempts so far (at most 10).
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Failed writes of one batch after which a shutdown gives it up (within `DRAIN_BOUND`).
const ATTEMPTS_AT_SHUTDOWN: u32 = 5;
