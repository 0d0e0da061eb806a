//! Delivery: SMTP through lettre, or Mailgun's HTTP API through reqwest. Both give up after
//! `SEND_TIMEOUT`.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::mail::{Encryption, MailTransport, MailgunSettings, SmtpSettings};
use crate::config::Secret;

/// No mail server may hold a request, a background task or a command longer than this.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A message ready to send: both parts rendered.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to_name: String,
    pub to_address: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Mailgun {
        client: reqwest::Client,
        /// `{MAILGUN_HOST}/v3/{MAILGUN_DOMAIN}/messages`
        url: String,
        api_key: Secret,
    },
}

impl Transport {
    pub fn new(settings: &MailTransport) -> anyhow::Result<Self> {
        match settings {
            MailTransport::Smtp(s) => smtp(s).map(Transport::Smtp),
            MailTransport::Mailgun(m) => mailgun(m),
        }
    }

    pub async fn deliver(&self, from: &Mailbox, message: &Outgoing) -> anyhow::Result<()> {
        let sending = async {
            match self {
                Transport::Smtp(smtp) => {
                    let email = build_message(from, message)?;
                    smtp.send(email).await.context("SMTP delivery failed")?;
                    Ok(())
                }
                Transport::Mailgun {
                    client,
                    url,
                    api_key,
                } => send_mailgun(client, url, api_key, from, message).await,
            }
        };
        tokio::time::timeout(SEND_TIMEOUT, sending)
            .await
            .map_err(|_| anyhow::anyhow!("mail server did not answer within {SEND_TIMEOUT:?}"))?
    }
}

fn smtp(s: &SmtpSettings) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let server_name = s.tls_hostname.clone().unwrap_or_else(|| s.host.clone());
    let tls = || -> anyhow::Result<TlsParameters> {
        TlsParameters::builder(server_name.clone())
            .dangerous_accept_invalid_certs(s.allow_self_signed)
            .dangerous_accept_invalid_hostnames(s.allow_self_signed)
            .build_rustls()
            .context("building the TLS settings of the SMTP connection")
    };
    let mode = match s.encryption {
        Encryption::Tls => Tls::Wrapper(tls()?),
        Encryption::StartTls => Tls::Required(tls()?),
        Encryption::Opportunistic => Tls::Opportunistic(tls()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        .port(s.port)
        .tls(mode)
        .timeout(Some(SEND_TIMEOUT));
    if let Some((user, password)) = &s.credentials {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

fn mailgun(m: &MailgunSettings) -> anyhow::Result<Transport> {
    let client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .build()
        .context("building the Mailgun HTTP client")?;
    Ok(Transport::Mailgun {
        client,
        url: format!("{}/v3/{}/messages", m.host, m.domain),
        api_key: m.api_key.clone(),
    })
}

fn recipient(message: &Outgoing) -> anyhow::Result<Mailbox> {
    let address = message
        .to_address
        .parse()
        .with_context(|| format!("recipient {:?} is not an address", message.to_address))?;
    let name = Some(message.to_name.clone()).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, address))
}

fn build_message(from: &Mailbox, message: &Outgoing) -> anyhow::Result<Message> {
    Message::builder()
        .from(from.clone())
        .to(recipient(message)?)
        .subject(message.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(message.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(message.html.clone()),
                ),
        )
        .context("composing the message")
}

async fn send_mailgun(
    client: &reqwest::Client,
    url: &str,
    api_key: &Secret,
    from: &Mailbox,
    message: &Outgoing,
) -> anyhow::Result<()> {
    let to = recipient(message)?.to_string();
    let from = from.to_string();
    let form = [
        ("from", from.as_str()),
        ("to", to.as_str()),
        ("subject", message.subject.as_str()),
        ("text", message.text.as_str()),
        ("html", message.html.as_str()),
        // Click tracking would rewrite the token links through Mailgun's servers.
        ("o:tracking-clicks", "no"),
    ];
    let response = client
        .post(url)
        .basic_auth("api", Some(api_key.expose()))
        .form(&form)
        .send()
        .await
        .context("Mailgun request failed")?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        anyhow::bail!("Mailgun answered {status}: {body}");
    }
    Ok(())
}
