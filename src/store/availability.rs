//! Whether the database can be reached right now (a circuit breaker), so an outage costs each
//! request a fast 503 instead of the pool's full acquire wait.
//!
//! The verdict comes from a probe on a connection of its own, outside the pool: a pool that
//! is busy (every connection in use, callers queued) is healthy and must not be judged down,
//! while a server that refuses, resets or never answers is down whatever the pool's load.
//! While the verdict is "down", every statement fails at once without touching the pool, and
//! statements already waiting are released; the probe keeps trying and lifts the verdict by
//! itself when the database answers again.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection};
use tokio::sync::{watch, Notify};

/// How often the probe asks the database whether it answers.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
/// How long the probe waits for a connection or an answer before calling the database down.
/// Far above a healthy round trip, well under a health checker's patience.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The shared verdict. Owned by `Db`; its probe holds only a weak reference, so the probe ends
/// with the last `Db`.
#[derive(Debug)]
pub struct Availability {
    /// `true` while the database answers.
    up: watch::Sender<bool>,
    /// Asks the probe to look now instead of at its next tick.
    wake: Arc<Notify>,
    closed: AtomicBool,
}

impl Default for Availability {
    fn default() -> Self {
        Self {
            up: watch::Sender::new(true),
            wake: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
        }
    }
}

/// What a statement gets while the database is known to be down. An I/O error, so it maps to
/// `Error::Unavailable` (503) like any other connection failure.
pub fn unreachable() -> sqlx::Error {
    sqlx::Error::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "the database did not answer its last probe",
    ))
}

/// The failures that say something about the connection rather than the statement: they make
/// the probe look at once.
fn connection_level(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::WorkerCrashed
    )
}

impl Availability {
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Records the probe's verdict; logs only the changes.
    pub fn set(&self, up: bool, reason: Option<&dyn std::fmt::Display>) {
        if self.closed.load(Ordering::SeqCst) {
            // A probe that was under way when the pool closed.
            return;
        }
        let changed = self.up.send_if_modified(|state| {
            let changed = *state != up;
            *state = up;
            changed
        });
        match (changed, up) {
            (true, true) => tracing::info!("database reachable again"),
            (true, false) => tracing::warn!(
                reason = %reason.map(ToString::to_string).unwrap_or_default(),
                "database unreachable: requests that need it fail at once until it answers again"
            ),
            (false, _) => {}
        }
    }

    /// Runs one database operation under the verdict: refused at once while the database is
    /// down, released as soon as it is judged down while in flight, and a connection-level
    /// failure makes the probe look now.
    pub async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, sqlx::Error> {
        let mut verdict = self.up.subscribe();
        if !*verdict.borrow_and_update() {
            return Err(unreachable());
        }
        let went_down = async {
            if verdict.wait_for(|up| !*up).await.is_err() {
                // No verdict any more (cannot happen while `self` lives): wait for the work.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            result = work => {
                if let Err(e) = &result {
                    if connection_level(e) {
                        self.wake.notify_one();
                    }
                }
                result
            }
            () = went_down => Err(unreachable()),
        }
    }

    /// The pool is closing: nothing can be reached any more (said without an outage warning)
    /// and the probe stops.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.up.send_replace(false);
        self.wake.notify_one();
    }

    /// Starts the probe: every `PROBE_EVERY`, or at once when woken, it checks its own
    /// connection (opening a new one if it has none or it failed) within `PROBE_TIMEOUT` and
    /// records the verdict.
    pub fn spawn_probe(self: &Arc<Self>, options: AnyConnectOptions) {
        let options = options.disable_statement_logging();
        let verdict: Weak<Self> = Arc::downgrade(self);
        let wake = self.wake.clone();
        tokio::spawn(async move {
            let mut connection: Option<AnyConnection> = None;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(PROBE_EVERY) => {}
                    () = wake.notified() => {}
                }
                let Some(availability) = verdict.upgrade() else {
                    return;
                };
                if availability.closed.load(Ordering::SeqCst) {
                    return;
                }
                match tokio::time::timeout(PROBE_TIMEOUT, probe(&mut connection, &options)).await {
                    Ok(Ok(())) => availability.set(true, None),
                    Ok(Err(e)) => {
                        connection = None;
                        availability.set(false, Some(&e));
                    }
                    Err(_) => {
                        // Whatever the connection was doing is abandoned with it.
                        connection = None;
                        availability.set(false, Some(&"no answer within the probe timeout"));
                    }
                }
            }
        });
    }
}

/// One round trip on the probe's connection, opening it first if needed.
async fn probe(
    connection: &mut Option<AnyConnection>,
    options: &AnyConnectOptions,
) -> Result<(), sqlx::Error> {
    if let Some(open) = connection.as_mut() {
        if open.ping().await.is_ok() {
            return Ok(());
        }
        // One connection that died alone (closed by the server, a proxy or an operator) is
        // no outage: a new one decides.
        *connection = None;
    }
    connection.insert(options.connect().await?).ping().await
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    /// How long a test waits for the probe's verdict before failing (a hang guard).
    const VERDICT_WITHIN: Duration = Duration::from_secs(10);

    async fn verdict_becomes(availability: &Availability, up: bool) {
        let mut verdict = availability.up.subscribe();
        tokio::time::timeout(VERDICT_WITHIN, verdict.wait_for(|v| *v == up))
            .await
            .expect("the probe gives its verdict")
            .unwrap();
    }

    fn is_unreachable(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Io(io) if io.kind() == io::ErrorKind::NotConnected)
    }

    #[tokio::test]
    async fn while_down_work_is_refused_without_being_started() {
        let availability = Availability::default();
        availability.set(false, None);
        let started = AtomicBool::new(false);
        let result = availability
            .bounded(async {
                started.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(is_unreachable(&result.unwrap_err()));
        assert!(!started.load(Ordering::SeqCst), "the pool was not touched");
    }

    #[tokio::test]
    async fn work_in_flight_is_released_when_the_database_is_judged_down() {
        let availability = Arc::new(Availability::default());
        let waiting = {
            let availability = availability.clone();
            tokio::spawn(async move {
                availability
                    .bounded(std::future::pending::<Result<(), sqlx::Error>>())
                    .await
            })
        };
        tokio::task::yield_now().await;
        availability.set(false, None);
        let result = tokio::time::timeout(VERDICT_WITHIN, waiting)
            .await
            .expect("released")
            .unwrap();
        assert!(is_unreachable(&result.unwrap_err()));
    }

    #[tokio::test]
    async fn work_passes_through_while_up() {
        let availability = Availability::default();
        assert_eq!(availability.bounded(async { Ok(7) }).await.unwrap(), 7);
        let failed = availability
            .bounded(async { Err::<(), _>(sqlx::Error::RowNotFound) })
            .await;
        assert!(matches!(failed, Err(sqlx::Error::RowNotFound)));
        assert!(
            availability.is_up(),
            "a statement's own failure is no outage"
        );
    }

    /// The probe on a real SQLite database: down while the file cannot be opened, up by itself
    /// once it can.
    #[tokio::test]
    async fn the_probe_judges_and_recovers_by_itself() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("probe.db");
        // `mode=rw`: opening fails while the file does not exist.
        let options =
            AnyConnectOptions::from_str(&format!("sqlite://{}?mode=rw", file.display())).unwrap();
        let availability = Arc::new(Availability::default());
        availability.spawn_probe(options);

        verdict_becomes(&availability, false).await;
        assert!(is_unreachable(
            &availability.bounded(async { Ok(()) }).await.unwrap_err()
        ));

        std::fs::write(&file, b"").unwrap();
        verdict_becomes(&availability, true).await;
        assert!(availability.bounded(async { Ok(()) }).await.is_ok());
    }

    #[tokio::test]
    async fn a_connection_failure_wakes_the_probe() {
        let availability = Availability::default();
        let _ = availability
            .bounded(async { Err::<(), _>(sqlx::Error::PoolTimedOut) })
            .await;
        // The permit is stored: the probe's next wait returns at once.
        tokio::time::timeout(VERDICT_WITHIN, availability.wake.notified())
            .await
            .expect("the probe was woken");
    }
}
