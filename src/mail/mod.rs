//! Outgoing mail: what Bouncer sends (verification, password reset, invitation), rendered from
//! templates and delivered over SMTP or Mailgun. Requests never wait for a mail server: their
//! messages go out in the background, so neither a slow server nor the existence of an
//! account shows in the answer's timing.

pub mod flows;
mod templates;
mod transport;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use lettre::message::Mailbox;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::config::Config;
pub use templates::Templates;
use transport::Transport;
pub use transport::{Outgoing, SEND_TIMEOUT};

/// At most this many messages are handed to the mail server at once.
const MAX_CONCURRENT_SENDS: usize = 8;
/// Background messages beyond this many waiting are dropped (and logged): a flood of requests
/// must not grow memory without bound while the mail server is slow.
const MAX_QUEUED: usize = 1_000;

/// A message Bouncer sends, with what its template needs.
pub enum Notice<'a> {
    VerifyEmail {
        name: &'a str,
        email: &'a str,
        token: &'a str,
    },
    ResetRequest {
        name: &'a str,
        email: &'a str,
        user_id: &'a str,
        token: &'a str,
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
    token_expiry_minutes: i64,
    clock: Arc<dyn Clock>,
    sending: Semaphore,
    queued: Arc<Queued>,
}

#[derive(Default)]
struct Queued {
    count: AtomicUsize,
    drained: Notify,
}

impl Mailer {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let mail = &config.mail;
        let transport = mail.transport.as_ref().map(Transport::new).transpose()?;
        let from = if mail.from_address.is_empty() {
            // Never used: nothing is sent without a transport.
            Mailbox::new(None, "noreply@localhost".parse()?)
        } else {
            Mailbox::new(
                Some(mail.from_name.clone()),
                mail.from_address.parse().context("EMAIL_FROM")?,
            )
        };
        Ok(Self {
            transport,
            templates: Templates::load(mail.templates_dir.as_deref())?,
            from,
            app_title: config.app_title.clone(),
            domain_client: config.domain_client.clone(),
            token_expiry_minutes: (mail.token_expiry_ms / 60_000).max(1),
            clock,
            sending: Semaphore::new(MAX_CONCURRENT_SENDS),
            queued: Arc::default(),
        })
    }

    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    pub fn verify_link(&self, email: &str, token: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("email", email)
            .finish();
        format!("{}/verify?{query}", self.domain_client)
    }

    pub fn reset_link(&self, user_id: &str, token: &str) -> String {
        format!(
            "{}/reset-password?token={token}&userId={user_id}",
            self.domain_client
        )
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
            Notice::VerifyEmail { name, email, token } => {
                let link = self.verify_link(email, token);
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
            } => {
                let link = self.reset_link(user_id, token);
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
        let _slot = tokio::time::timeout(SEND_TIMEOUT, self.sending.acquire())
            .await
            .map_err(|_| anyhow::anyhow!("too many messages waiting for the mail server"))?
            .context("mailer closed")?;
        transport.deliver(&self.from, &message).await
    }

    /// Runs `task` (which issues a token and sends a message) after the caller has answered.
    /// Tracked, so a test or a shutdown can wait for it (`idle`).
    pub fn background(
        &self,
        what: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let queued = self.queued.clone();
        if queued.count.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            queued.count.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(what, "mail queue full: message dropped");
            return;
        }
        tokio::spawn(async move {
            if let Err(e) = task.await {
                tracing::warn!(what, error = %format!("{e:#}"), "sending mail failed");
            }
            if queued.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                queued.drained.notify_waiters();
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
