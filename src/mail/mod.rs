//! Outgoing mail: what Bouncer sends (verification, password reset, invitation), rendered from
//! templates and delivered over SMTP or Mailgun. Requests never wait for a mail server: their
//! messages go out in the background, so neither a slow server nor the existence of an
//! account shows in the answer's timing.

mod templates;
mod transport;

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use futures_util::FutureExt;
use lettre::message::Mailbox;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::{MailOutcome, Metrics};
pub use templates::Templates;
use transport::Transport;
pub use transport::{Outgoing, SEND_TIMEOUT};

/// At most this many messages are handed to the mail server at once.
const MAX_CONCURRENT_SENDS: usize = 8;
/// Background messages beyond this many waiting are dropped (and logged): a flood of requests
/// must not grow memory without bound while the mail server is slow.
const MAX_QUEUED: usize = 1_000;

/// Whose pages a mailed link opens: LibreChat's web client (`DOMAIN_CLIENT`'s `/verify`,
/// `/reset-password`) or Bouncer's own sign-in pages (`DOMAIN_SERVER` + `PAGES_PREFIX`), as the
/// request that caused the mail came from one or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Client,
    Pages,
}

/// A message Bouncer sends, with what its template needs.
pub enum Notice<'a> {
    VerifyEmail {
        name: &'a str,
        email: &'a str,
        token: &'a str,
        links: Links,
    },
    ResetRequest {
        name: &'a str,
        email: &'a str,
        user_id: &'a str,
        token: &'a str,
        links: Links,
    },
    ResetDone {
        name: &'a str,
        email: &'a str,
    },
    Invite {
        email: &'a str,
        token: &'a str,
    },
}

pub struct Mailer {
    transport: Option<Transport>,
    templates: Templates,
    from: Mailbox,
    app_title: String,
    domain_client: String,
    /// `DOMAIN_SERVER` + `PAGES_PREFIX`: where the sign-in pages live.
    pages_base: String,
    token_expiry_minutes: i64,
    clock: Arc<dyn Clock>,
    sending: Semaphore,
    queued: Arc<Queued>,
    /// Messages queued, dropped, sent and failed are counted here.
    metrics: Metrics,
}

#[derive(Default)]
struct Queued {
    count: AtomicUsize,
    drained: Notify,
}

/// One place in the queue of background messages, given back when dropped: when the task
/// ends, fails, panics or is dropped unrun by a runtime shutting down.
struct QueuePlace(Arc<Queued>);

impl QueuePlace {
    /// A place, unless `MAX_QUEUED` are taken.
    fn take(queued: &Arc<Queued>) -> Option<Self> {
        if queued.count.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            queued.count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(queued.clone()))
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// What a panic said, when it said it with text (`panic!` and `expect` do).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

impl Mailer {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let mail = &config.mail;
        let transport = mail.transport.as_ref().map(Transport::new).transpose()?;
        let from = if mail.from_address.is_empty() {
            // Never used: nothing is sent without a transport.
            Mailbox::new(None, "noreply@localhost".parse()?)
        } else {
            // EMAIL_FROM_NAME (or APP_TITLE) with a line break would make every send panic.
            transport::mailbox(&mail.from_name, &mail.from_address).context("EMAIL_FROM")?
        };
        Ok(Self {
            transport,
            templates: Templates::load(mail.templates_dir.as_deref())?,
            from,
            app_title: config.client.app_title.clone(),
            domain_client: config.client.domain_client.clone(),
            pages_base: format!("{}{}", config.client.domain_server, config.pages.prefix),
            token_expiry_minutes: (mail.token_expiry_ms / 60_000).max(1),
            clock,
            sending: Semaphore::new(MAX_CONCURRENT_SENDS),
            queued: Arc::default(),
            metrics: Metrics::disabled(),
        })
    }

    /// Counts messages queued, dropped, sent and failed in `metrics`.
    pub fn observed_by(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    pub fn verify_link(&self, email: &str, token: &str, links: Links) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("email", email)
            .finish();
        match links {
            Links::Client => format!("{}/verify?{query}", self.domain_client),
            Links::Pages => format!("{}/verify?{query}", self.pages_base),
        }
    }

    pub fn reset_link(&self, user_id: &str, token: &str, links: Links) -> String {
        match links {
            Links::Client => format!(
                "{}/reset-password?token={token}&userId={user_id}",
                self.domain_client
            ),
            Links::Pages => format!("{}/reset?token={token}&userId={user_id}", self.pages_base),
        }
    }

    pub fn invite_link(&self, token: &str) -> String {
        format!("{}/register?token={token}", self.domain_client)
    }

    /// Renders a message without sending it.
    pub fn render(&self, notice: &Notice<'_>) -> anyhow::Result<Outgoing> {
        let year = time::OffsetDateTime::from_unix_timestamp(self.clock.now_ms() / 1000)
            .map(|t| t.year())
            .unwrap_or(1970);
        let app = self.app_title.as_str();
        let minutes = self.token_expiry_minutes;
        let (template, subject, to_name, to_address, values) = match notice {
            Notice::VerifyEmail {
                name,
                email,
                token,
                links,
            } => {
                let link = self.verify_link(email, token, *links);
                let values = json!({ "appName": app, "name": name, "verificationLink": link,
                                     "link": link, "year": year, "expiresInMinutes": minutes });
                (
                    "verifyEmail",
                    "Verify your email".to_string(),
                    *name,
                    *email,
                    values,
                )
            }
            Notice::ResetRequest {
                name,
                email,
                user_id,
                token,
                links,
            } => {
                let link = self.reset_link(user_id, token, *links);
                let values = json!({ "appName": app, "name": name, "link": link, "year": year,
                                     "expiresInMinutes": minutes });
                (
                    "requestPasswordReset",
                    "Password Reset Request".to_string(),
                    *name,
                    *email,
                    values,
                )
            }
            Notice::ResetDone { name, email } => {
                let values = json!({ "appName": app, "name": name, "year": year });
                (
                    "passwordReset",
                    "Password Reset Successfully".to_string(),
                    *name,
                    *email,
                    values,
                )
            }
            Notice::Invite { email, token } => {
                let link = self.invite_link(token);
                let values = json!({ "appName": app, "inviteLink": link, "link": link,
                                     "year": year });
                (
                    "inviteUser",
                    format!("Invite to join {app}!"),
                    "",
                    *email,
                    values,
                )
            }
        };
        let (html, text) = self.templates.render(template, &values)?;
        Ok(Outgoing {
            to_name: to_name.to_string(),
            to_address: to_address.to_string(),
            subject,
            html,
            text,
        })
    }

    /// Renders and sends a message, giving up after `SEND_TIMEOUT`.
    pub async fn send(&self, notice: Notice<'_>) -> anyhow::Result<()> {
        let Some(transport) = &self.transport else {
            anyhow::bail!("no mail transport is configured (set EMAIL_HOST or EMAIL_SERVICE, or MAILGUN_API_KEY and MAILGUN_DOMAIN, and EMAIL_FROM)");
        };
        let message = self.render(&notice)?;
        let delivered = async {
            let _slot = tokio::time::timeout(SEND_TIMEOUT, self.sending.acquire())
                .await
                .map_err(|_| anyhow::anyhow!("too many messages waiting for the mail server"))?
                .context("mailer closed")?;
            transport.deliver(&self.from, &message).await
        }
        .await;
        self.metrics.mail(match delivered {
            Ok(()) => MailOutcome::Sent,
            Err(_) => MailOutcome::Failed,
        });
        delivered
    }

    /// Runs `task` (which issues a token and sends a message) after the caller has answered.
    /// Tracked, so a test or a shutdown can wait for it (`idle`). The task's place in the queue
    /// is given back however it ends, a panic included: a panicking message must not take a
    /// place for good, or enough of them would stop all mail.
    pub fn background(
        &self,
        what: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let Some(place) = QueuePlace::take(&self.queued) else {
            self.metrics.mail(MailOutcome::Dropped);
            tracing::warn!(what, "mail queue full: message dropped");
            return;
        };
        self.metrics.mail(MailOutcome::Queued);
        tokio::spawn(async move {
            let _place = place;
            // The task is only run, never looked at again after a panic: unwind-safe enough.
            match AssertUnwindSafe(task).catch_unwind().await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(what, error = %format!("{e:#}"), "sending mail failed")
                }
                Err(panic) => {
                    tracing::error!(
                        what,
                        // Debug: a line break in the message stays on the log's line.
                        panic = ?panic_message(&*panic),
                        "sending mail panicked"
                    )
                }
            }
        });
    }

    /// Waits until no background message is waiting or being sent.
    pub async fn idle(&self) {
        loop {
            let drained = self.queued.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.queued.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            drained.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn mailer(extra: &[(&str, &str)]) -> Mailer {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("JWT_SECRET".into(), "s".repeat(64)),
            ("JWT_REFRESH_SECRET".into(), "r".repeat(64)),
            ("CREDS_KEY".into(), "c".repeat(64)),
            ("CONFIG_PATH".into(), "".into()),
        ]);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_vars(&vars).unwrap();
        Mailer::new(&config, Arc::new(ManualClock::new(0))).unwrap()
    }

    /// A hang guard, not a timing assertion.
    async fn idle_soon(mailer: &Mailer) {
        tokio::time::timeout(Duration::from_secs(10), mailer.idle())
            .await
            .expect("the mailer goes idle");
    }

    #[tokio::test]
    async fn panicking_tasks_give_their_queue_place_back() {
        let mailer = mailer(&[]);
        for _ in 0..MAX_QUEUED + 10 {
            mailer.background("test", async { panic!("a task that panics") });
            idle_soon(&mailer).await;
        }
        assert_eq!(mailer.queued.count.load(Ordering::SeqCst), 0);
        let (sent, ran) = tokio::sync::oneshot::channel();
        mailer.background("test", async move {
            let _ = sent.send(());
            Ok(())
        });
        tokio::time::timeout(Duration::from_secs(10), ran)
            .await
            .expect("a later task still runs")
            .unwrap();
        idle_soon(&mailer).await;
    }

    /// What the tests' log subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The log of the whole unit-test process. Global, not `set_default`: tracing caches
    /// whether a call site is wanted, and a test running at the same time on another thread
    /// without the scoped subscriber could leave it cached as unwanted.
    fn captured_log() -> &'static Captured {
        static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
        LOG.get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other unit test installs a global subscriber");
            captured
        })
    }

    #[tokio::test]
    async fn a_panic_is_logged_once_as_an_error() {
        let captured = captured_log();
        // A name of its own, to find this test's lines among the other tests'.
        const WHAT: &str = "panic-logging-test email";
        let mailer = mailer(&[]);
        mailer.background(WHAT, async { panic!("a task that panics\nFAKE log line") });
        idle_soon(&mailer).await;
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(WHAT) || l.contains("FAKE"))
            .collect();
        assert_eq!(lines.len(), 1, "{log}");
        assert!(lines[0].contains("ERROR"), "{log}");
        assert!(lines[0].contains("sending mail panicked"), "{log}");
        assert!(
            lines[0].contains(r#"panic="a task that panics\nFAKE log line""#),
            "{log}"
        );
    }

    #[tokio::test]
    async fn a_panic_among_waiting_tasks_still_lets_idle_return() {
        let mailer = mailer(&[]);
        let (release, released) = tokio::sync::watch::channel(false);
        for i in 0..20 {
            let mut released = released.clone();
            mailer.background("test", async move {
                let _ = released.wait_for(|r| *r).await;
                if i % 2 == 0 {
                    panic!("task {i} panics");
                }
                anyhow::bail!("task {i} fails")
            });
        }
        assert_eq!(mailer.queued.count.load(Ordering::SeqCst), 20);
        release.send(true).unwrap();
        idle_soon(&mailer).await;
        assert_eq!(mailer.queued.count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_queue_refuses_past_its_limit_and_frees_on_drop() {
        let queued = Arc::<Queued>::default();
        let places: Vec<_> = (0..MAX_QUEUED)
            .map(|_| QueuePlace::take(&queued).expect("a place"))
            .collect();
        assert!(QueuePlace::take(&queued).is_none(), "full");
        drop(places);
        assert_eq!(queued.count.load(Ordering::SeqCst), 0);
        assert!(QueuePlace::take(&queued).is_some());
    }

    #[test]
    fn panic_messages_are_read_from_str_and_string_payloads() {
        let text: Box<dyn Any + Send> = Box::new("static text");
        let owned: Box<dyn Any + Send> = Box::new(String::from("formatted text"));
        let other: Box<dyn Any + Send> = Box::new(42_u8);
        assert_eq!(panic_message(&*text), "static text");
        assert_eq!(panic_message(&*owned), "formatted text");
        assert_eq!(panic_message(&*other), "(no message)");
    }

    const HOSTILE: &str = "Eve\r\nBcc: x@evil.example";

    // In a runtime: lettre's connection pool panics when dropped outside one.
    #[tokio::test]
    async fn a_hostile_from_name_or_app_title_does_not_stop_the_start() {
        for vars in [
            [("EMAIL_FROM_NAME", HOSTILE), ("APP_TITLE", "Chat")],
            [("EMAIL_FROM_NAME", ""), ("APP_TITLE", HOSTILE)],
        ] {
            let mut all = vec![
                ("EMAIL_HOST", "127.0.0.1"),
                ("EMAIL_PORT", "9"),
                ("EMAIL_FROM", "noreply@bouncer.test"),
            ];
            all.extend_from_slice(&vars);
            let mailer = mailer(&all);
            assert!(mailer.configured());
            let from = transport::header_text(&mailer.from).unwrap();
            assert!(!from.contains(['\r', '\n']), "{from:?}");
        }
    }

    #[tokio::test]
    async fn hostile_names_and_titles_render() {
        let mailer = mailer(&[("APP_TITLE", HOSTILE)]);
        let rendered = mailer
            .render(&Notice::ResetRequest {
                name: HOSTILE,
                email: "eve@example.com",
                user_id: "u1",
                token: "t",
                links: Links::Pages,
            })
            .unwrap();
        let invite = mailer
            .render(&Notice::Invite {
                email: "eve@example.com",
                token: "t",
            })
            .unwrap();
        for message in [rendered, invite] {
            let built = transport::build_message(&mailer.from, &message).unwrap();
            let raw = String::from_utf8(built.formatted()).unwrap();
            let head = raw.split("\r\n\r\n").next().unwrap();
            assert!(
                !head.split("\r\n").any(|line| line.starts_with("Bcc")),
                "{head}"
            );
            assert_eq!(
                built.envelope().to().len(),
                1,
                "one recipient: {:?}",
                built.envelope()
            );
        }
    }
}
