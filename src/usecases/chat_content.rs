//! What the reverse proxy checks inside an admitted chat message before it goes upstream, in
//! this order: the body is a JSON object, its model is one its endpoint may name
//! (`ALLOWED_MODELS`, cheap, in memory), then its texts pass the moderation API
//! (`OPENAI_MODERATION`). Each refusal is scored against the user (or the IP on a public
//! path) and can ban, as every violation can.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::app::AppContext;
use crate::config::content_moderation::FailMode;
use crate::error::{Error, Result};
use crate::moderation::content::{moderated_texts, Denial, DenialReason};
use crate::moderation::models::ModelRefusal;
use crate::moderation::Subject;

/// LibreChat's violation types.
pub const MODERATION_VIOLATION: &str = "moderation";
pub const ILLEGAL_MODEL_VIOLATION: &str = "illegal_model_request";

/// A chat message as far as these checks read it.
pub struct ChatMessage<'a> {
    pub ip: IpAddr,
    /// The admitted user; `None` on a public path.
    pub user_id: Option<&'a str>,
    /// The lower-cased path: `/v1/*` bodies are checked against the `v1` model list.
    pub route: &'a str,
    /// The whole body, as it will be forwarded.
    pub body: &'a [u8],
}

/// Whether the proxy must read this request's body for `inspect`: a `POST` to a message route
/// while content moderation or the model list is on; then the lower-cased route (Express
/// routes without regard to case, as `chat_access` compares). Otherwise the body streams
/// untouched, and this costs two comparisons.
pub fn reads_body(ctx: &AppContext, is_post: bool, path: &str) -> Option<String> {
    if !(is_post && ctx.config.content.inspects_bodies()) {
        return None;
    }
    let route = path.to_ascii_lowercase();
    crate::config::gateway::any_matches(&ctx.config.gateway.message_routes, &route).then_some(route)
}

/// `Ok` lets the message go upstream as it is.
pub async fn inspect(ctx: &AppContext, message: &ChatMessage<'_>) -> Result<()> {
    let body = parse(message.body)?;
    let subject = match message.user_id {
        Some(id) => Subject::User { id, ip: message.ip },
        None => Subject::Ip(message.ip),
    };
    if ctx.config.content.checks_models() && !stops_a_generation(message.route) {
        let v1 = message.route.starts_with("/v1/");
        if let Err(refusal) = ctx.allowed_models.check(v1, &body) {
            if refusal == ModelRefusal::Illegal {
                ctx.moderation
                    .violation(
                        subject,
                        ILLEGAL_MODEL_VIOLATION,
                        ctx.config.content.illegal_model_score,
                    )
                    .await?;
            }
            return Err(Error::ModelRefused(refusal));
        }
    }
    let Some(moderator) = &ctx.content_moderator else {
        return Ok(());
    };
    let inputs = moderated_texts(&body);
    // Nothing typed (a tool approval, an empty body): nothing to ask, as LibreChat.
    if inputs.is_empty() {
        return Ok(());
    }
    match moderator.flagged(&inputs).await {
        Ok(false) => Ok(()),
        Ok(true) => {
            ctx.moderation
                .violation(
                    subject,
                    MODERATION_VIOLATION,
                    ctx.config.content.violation_score,
                )
                .await?;
            Err(Error::ContentRefused(Box::new(Denial::new(
                DenialReason::Flagged,
                &body,
            ))))
        }
        Err(e) => match moderator.fail_mode() {
            FailMode::Open => {
                tracing::warn!(error = %e, "content moderation failed; the message goes on unchecked (OPENAI_MODERATION_FAIL=open)");
                Ok(())
            }
            FailMode::Closed => {
                tracing::warn!(error = %e, "content moderation failed; the message is refused (OPENAI_MODERATION_FAIL=closed)");
                Err(Error::ContentRefused(Box::new(Denial::new(
                    DenialReason::CheckFailed,
                    &body,
                ))))
            }
        },
    }
}

/// LibreChat's abort and steer-cancel routes (under the default `/api/agents/chat*`) stop a
/// generation and name no model: the model list does not apply to them (there is no text to
/// moderate either).
fn stops_a_generation(route: &str) -> bool {
    route.ends_with("/abort") || route.ends_with("/cancel")
}

/// The body as a JSON object. Anything else is refused while these checks are on: passing it
/// unchecked would let a client skip them with a body the upstream still reads (a wrong
/// `Content-Type`, a compressed body). So is an object with a key twice: parsers differ on
/// which one counts, and the one checked must be the one the upstream reads.
fn parse(body: &[u8]) -> Result<Map<String, Value>> {
    let refused = |why: &str| {
        Error::BadRequest(format!(
            "A chat message must be a JSON object{why} while content moderation or ALLOWED_MODELS is on"
        ))
    };
    if serde_json::from_slice::<Unique>(body).is_err() {
        return Err(refused(" without repeated keys"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(refused("")),
    }
}

/// Any JSON value whose objects name each key once (it deserializes only then).
struct Unique;

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value without repeated keys")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Unique, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("repeated key"));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_objects_naming_each_key_once() {
        assert!(parse(br#"{"text":"a","messages":[{"role":"user","content":"b"}]}"#).is_ok());
        for bad in [
            &br#"{"model":"gpt-4o","model":"gpt-5"}"#[..],
            br#"{"messages":[{"content":"a","content":"b"}]}"#,
            br#"["a"]"#,
            b"text=a",
            br#"{"text":"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(stops_a_generation("/api/agents/chat/abort"));
        assert!(!stops_a_generation("/api/agents/chat/openai"));
    }
}
