//! Delivery: SMTP through lettre, or Mailgun's HTTP API through reqwest. Both give up after
//! `SEND_TIMEOUT`.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::Address;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::accounts::names::single_line;
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
    mailbox(&message.to_name, &message.to_address)
        .with_context(|| format!("recipient {:?} is not an address", message.to_address))
}

/// A mailbox lettre can write as a header. lettre panics (in `Mailbox`'s `to_string`, called
/// when a `To` or `From` header is set) on a display name with a line break, and a stored name
/// may hold one (an imported row): the name is put on one line, and dropped if lettre still
/// cannot write it, so that a name never costs the message. A bad address is an error.
pub fn mailbox(name: &str, address: &str) -> anyhow::Result<Mailbox> {
    let address: Address = address.parse()?;
    let name = single_line(name);
    if name.is_empty() {
        return Ok(Mailbox::new(None, address));
    }
    let named = Mailbox::new(Some(name), address.clone());
    Ok(if header_text(&named).is_ok() {
        named
    } else {
        Mailbox::new(None, address)
    })
}

/// The mailbox as a header writes it, or the error lettre's `to_string` would panic on.
pub fn header_text(mailbox: &Mailbox) -> Result<String, std::fmt::Error> {
    use std::fmt::Write;
    let mut text = String::new();
    write!(text, "{mailbox}")?;
    Ok(text)
}

pub fn build_message(from: &Mailbox, message: &Outgoing) -> anyhow::Result<Message> {
    Message::builder()
        .from(from.clone())
        .to(recipient(message)?)
        // A line break in APP_TITLE would be encoded, not obeyed; a subject is one line anyway.
        .subject(single_line(&message.subject))
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
    let to = header_text(&recipient(message)?)
        .map_err(|_| anyhow::anyhow!("the recipient cannot be written as a header"))?;
    let from = header_text(from)
        .map_err(|_| anyhow::anyhow!("EMAIL_FROM cannot be written as a header"))?;
    let subject = single_line(&message.subject);
    let form = [
        ("from", from.as_str()),
        ("to", to.as_str()),
        ("subject", subject.as_str()),
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

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE_NAMES: &[&str] = &[
        "Eve\r\nBcc: x@evil.example",
        "Eve\nBcc: x@evil.example",
        "Eve\rBcc: x@evil.example",
        "\r\n",
        "Eve\0\u{7f}\u{85}\u{2028}\u{2029}\t",
        "\"Eve\" <x@evil.example>, y@evil.example",
        "Ève\r\n=?utf-8?b?QmNjOiB4QGV2aWwuZXhhbXBsZQ==?=",
        "\\\\\"\r\n\\",
    ];

    fn outgoing(name: &str, subject: &str) -> Outgoing {
        Outgoing {
            to_name: name.into(),
            to_address: "eve@example.com".into(),
            subject: subject.into(),
            html: "<p>Hi Eve</p>".into(),
            text: "Hi Eve".into(),
        }
    }

    fn from(name: &str) -> Mailbox {
        mailbox(name, "noreply@bouncer.test").unwrap()
    }

    /// The message's header lines (up to the blank line), unfolded.
    fn headers(message: &Message) -> Vec<String> {
        let raw = String::from_utf8(message.formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        let mut lines: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            match lines.last_mut() {
                Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
                _ => lines.push(line.to_string()),
            }
        }
        lines
    }

    fn only_known_headers(message: &Message) {
        for line in headers(message) {
            let name = line.split(':').next().unwrap();
            assert!(
                [
                    "From",
                    "To",
                    "Subject",
                    "Date",
                    "MIME-Version",
                    "Content-Type"
                ]
                .contains(&name),
                "unexpected header line {line:?}"
            );
        }
    }

    #[test]
    fn hostile_display_names_build_a_message_without_extra_headers() {
        for name in HOSTILE_NAMES {
            let message = build_message(&from(name), &outgoing(name, "Verify your email"))
                .unwrap_or_else(|e| panic!("{name:?}: {e:#}"));
            only_known_headers(&message);
            let envelope = message.envelope();
            assert_eq!(
                envelope
                    .to()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                ["eve@example.com"],
                "{name:?}"
            );
        }
    }

    #[test]
    fn a_name_keeps_its_text_on_one_line() {
        let message = build_message(
            &from("Bouncer"),
            &outgoing("Eve\r\nBcc: x@evil.example", "Verify your email"),
        )
        .unwrap();
        let to = headers(&message)
            .into_iter()
            .find(|l| l.starts_with("To:"))
            .unwrap();
        // lettre writes the name as an encoded word: one token, whatever it holds.
        assert!(
            to.starts_with("To: =?utf-8?") && to.ends_with("?= <eve@example.com>"),
            "{to}"
        );
        assert_eq!(
            mailbox("Eve\r\nBcc: x@evil.example", "eve@example.com")
                .unwrap()
                .name
                .as_deref(),
            Some("Eve Bcc: x@evil.example")
        );
        assert_eq!(
            mailbox("\r\n\t", "eve@example.com").unwrap().name,
            None,
            "nothing left of the name: none"
        );
    }

    #[test]
    fn hostile_subjects_stay_one_header() {
        for title in HOSTILE_NAMES {
            let subject = format!("Invite to join {title}!");
            let message = build_message(&from(title), &outgoing("Eve", &subject))
                .unwrap_or_else(|e| panic!("{title:?}: {e:#}"));
            only_known_headers(&message);
        }
    }

    #[test]
    fn hostile_addresses_are_errors() {
        for address in [
            "eve@example.com\r\nBcc: x@evil.example",
            "eve@example.com>\r\n",
            "",
            "not an address",
            "eve@exa\0mple.com",
        ] {
            let mut message = outgoing("Eve", "Verify your email");
            message.to_address = address.into();
            assert!(
                build_message(&from("Bouncer"), &message).is_err(),
                "{address:?}"
            );
        }
    }
}
