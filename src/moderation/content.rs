//! Content moderation of chat messages (`OPENAI_MODERATION`): which texts of a message body are
//! sent, the client of the OpenAI-compatible moderation API, and what a refusal carries.
//!
//! The texts are those LibreChat's `moderateText` sends (the typed `text`, else `answer`; the
//! `answers` of an ask-user resume and their serialized orderings; the quotes and the text
//! merged with them; the texts of `decisions[]`), and, for OpenAI-style bodies, every text the
//! client wrote: each message of `messages` whatever its role (an API client writes the whole
//! conversation, so a role filter would be a bypass), string contents and `text` parts; the
//! `prompt` of `/v1/completions`; the `input` and `instructions` of `/v1/responses`. Every body
//! is read for all of them, whatever its route. Neither the texts nor the API key are logged.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::content_moderation::ModerationApi;

/// LibreChat's caps on quoted excerpts (`QUOTE_MAX_LENGTH`, `QUOTE_MAX_COUNT`).
const QUOTE_MAX_LENGTH: usize = 1500;
const QUOTE_MAX_COUNT: usize = 10;
/// LibreChat serializes every ordering of at most this many ask-user answers.
const MAX_ASK_QUESTIONS: usize = 4;

/// The texts of a chat message body that go to the moderation API, in LibreChat's order.
pub fn moderated_texts(body: &Map<String, Value>) -> Vec<String> {
    let mut inputs = Vec::new();
    librechat_texts(body, &mut inputs);
    openai_texts(body, &mut inputs);
    inputs
}

fn push(inputs: &mut Vec<String>, text: &str) {
    if !text.is_empty() {
        inputs.push(text.to_string());
    }
}

fn librechat_texts(body: &Map<String, Value>, inputs: &mut Vec<String>) {
    let safe_text = match (body.get("text"), body.get("answer")) {
        (Some(Value::String(t)), _) => t.as_str(),
        (_, Some(Value::String(a))) => a.as_str(),
        _ => "",
    };
    push(inputs, safe_text);
    if let Some(Value::Object(answers)) = body.get("answers") {
        for answer in answers.values() {
            if let Value::String(a) = answer {
                push(inputs, a);
            }
        }
        inputs.extend(answer_variants(answers));
    }
    if let Some(quotes) = referenced_quotes(body.get("quotes")) {
        inputs.extend(quotes.iter().cloned());
        inputs.push(merge_quoted_text(safe_text, &quotes));
    }
    if let Some(Value::Array(decisions)) = body.get("decisions") {
        for decision in decisions {
            let Value::Object(d) = decision else {
                continue;
            };
            for field in ["responseText", "reason"] {
                if let Some(Value::String(t)) = d.get(field) {
                    push(inputs, t);
                }
            }
            match d.get("editedArguments") {
                None | Some(Value::Null) => {}
                Some(edited) => push(inputs, &edited.to_string()),
            }
        }
    }
}

/// LibreChat's `getReferencedQuotes`: trimmed non-empty strings, each capped, at most ten.
fn referenced_quotes(raw: Option<&Value>) -> Option<Vec<String>> {
    let Some(Value::Array(items)) = raw else {
        return None;
    };
    let quotes: Vec<String> = items
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(QUOTE_MAX_LENGTH).collect())
        .take(QUOTE_MAX_COUNT)
        .collect();
    (!quotes.is_empty()).then_some(quotes)
}

/// LibreChat's `mergeQuotedText`: the quotes as Markdown blockquotes, then the text.
fn merge_quoted_text(text: &str, quotes: &[String]) -> String {
    let block = quotes
        .iter()
        .map(|q| {
            q.split('\n')
                .map(|line| {
                    if line.is_empty() {
                        ">".to_string()
                    } else {
                        format!("> {line}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    if text.is_empty() {
        block
    } else {
        format!("{block}\n\n{text}")
    }
}

/// LibreChat's `serializeAskUserAnswerVariants`: `{"answers":{...}}` in every order of at most
/// four string answers, so content split across answers is seen as the model sees it.
fn answer_variants(answers: &Map<String, Value>) -> Vec<String> {
    let entries: Vec<(&String, &Value)> = answers.iter().collect();
    if entries.is_empty()
        || entries.len() > MAX_ASK_QUESTIONS
        || entries.iter().any(|(_, v)| !v.is_string())
    {
        return Vec::new();
    }
    let mut variants = Vec::new();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    permutations(&mut order, 0, &mut |order| {
        let fields: Vec<String> = order
            .iter()
            .map(|&i| {
                let (k, v) = entries[i];
                format!("{}:{}", Value::String(k.clone()), v)
            })
            .collect();
        variants.push(format!("{{\"answers\":{{{}}}}}", fields.join(",")));
    });
    variants
}

fn permutations(items: &mut [usize], k: usize, visit: &mut impl FnMut(&[usize])) {
    if k == items.len() {
        visit(items);
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permutations(items, k + 1, visit);
        items.swap(k, i);
    }
}

fn openai_texts(body: &Map<String, Value>, inputs: &mut Vec<String>) {
    if let Some(Value::Array(messages)) = body.get("messages") {
        for message in messages {
            if let Some(content) = message.get("content") {
                content_texts(content, inputs);
            }
        }
    }
    match body.get("prompt") {
        Some(Value::String(p)) => push(inputs, p),
        Some(Value::Array(prompts)) => {
            for p in prompts.iter().filter_map(Value::as_str) {
                push(inputs, p);
            }
        }
        _ => {}
    }
    if let Some(Value::String(i)) = body.get("instructions") {
        push(inputs, i);
    }
    match body.get("input") {
        Some(Value::String(i)) => push(inputs, i),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(i) => push(inputs, i),
                    Value::Object(o) => {
                        if let Some(content) = o.get("content") {
                            content_texts(content, inputs);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// A message's content: a string, or parts of which the text ones count (`text`, and the
/// Responses API's `input_text` / `output_text`).
fn content_texts(content: &Value, inputs: &mut Vec<String>) {
    match content {
        Value::String(c) => push(inputs, c),
        Value::Array(parts) => {
            for part in parts {
                let kind = part.get("type").and_then(Value::as_str);
                if matches!(kind, Some("text" | "input_text" | "output_text")) {
                    if let Some(Value::String(t)) = part.get("text") {
                        push(inputs, t);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Why a moderation check could not give a verdict (never holds the text or the key).
#[derive(Debug, thiserror::Error)]
pub enum CheckFailed {
    #[error("the moderation API did not answer within {0} ms")]
    TimedOut(u64),
    #[error("the moderation API could not be reached: {0}")]
    Unreachable(String),
    #[error("the moderation API answered {0}")]
    Status(u16),
    #[error("the moderation API's answer is not a moderation result")]
    Unreadable,
}

/// The client of the moderation API.
pub struct ContentModerator {
    http: reqwest::Client,
    api: ModerationApi,
}

#[derive(serde::Deserialize)]
struct ModerationResponse {
    results: Vec<ModerationResult>,
}

#[derive(serde::Deserialize)]
struct ModerationResult {
    flagged: bool,
}

impl ContentModerator {
    pub fn new(api: ModerationApi) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(api.timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self { http, api })
    }

    pub fn fail_mode(&self) -> crate::config::content_moderation::FailMode {
        self.api.fail
    }

    /// Whether any of `inputs` is flagged. One string is sent as a string, several as an
    /// array, as LibreChat does.
    pub async fn flagged(&self, inputs: &[String]) -> Result<bool, CheckFailed> {
        let input = match inputs {
            [one] => Value::String(one.clone()),
            many => Value::from(many.to_vec()),
        };
        let mut request = self
            .http
            .post(self.api.url.clone())
            .json(&serde_json::json!({ "input": input }));
        if let Some(key) = &self.api.api_key {
            request = request.bearer_auth(key.expose());
        }
        let timeout = Duration::from_millis(self.api.timeout_ms);
        let answer = async {
            let response = request.send().await.map_err(|e| self.failure(e))?;
            let status = response.status();
            if !status.is_success() {
                return Err(CheckFailed::Status(status.as_u16()));
            }
            let parsed: ModerationResponse = response.json().await.map_err(|e| self.failure(e))?;
            if parsed.results.is_empty() {
                return Err(CheckFailed::Unreadable);
            }
            Ok(parsed.results.iter().any(|r| r.flagged))
        };
        // The client's own timeout covers the whole exchange; this one makes sure of it.
        match tokio::time::timeout(timeout, answer).await {
            Ok(verdict) => verdict,
            Err(_) => Err(CheckFailed::TimedOut(self.api.timeout_ms)),
        }
    }

    fn failure(&self, e: reqwest::Error) -> CheckFailed {
        if e.is_timeout() {
            CheckFailed::TimedOut(self.api.timeout_ms)
        } else if e.is_decode() {
            CheckFailed::Unreadable
        } else {
            // Without the URL: an operator may have put a key in its query.
            CheckFailed::Unreachable(crate::sso::chain(&e.without_url()))
        }
    }
}

/// What a message refused by content moderation carries, to answer as LibreChat's
/// `denyRequest` does (the user's message echoed, then an error message).
#[derive(Debug, Clone)]
pub struct Denial {
    pub reason: DenialReason,
    pub message_id: Option<String>,
    pub conversation_id: Option<String>,
    pub parent_message_id: Option<Value>,
    /// The user's typed text, echoed back to the client (LibreChat does).
    pub text: Option<String>,
    /// LibreChat's `getResponseSender`, approximated: the body's label, else `AI`.
    pub sender: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    /// The moderation API flagged a text.
    Flagged,
    /// The moderation API failed and `OPENAI_MODERATION_FAIL=closed`.
    CheckFailed,
}

impl Denial {
    pub fn new(reason: DenialReason, body: &Map<String, Value>) -> Self {
        let string = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        Self {
            reason,
            message_id: string("messageId"),
            conversation_id: string("conversationId"),
            parent_message_id: body.get("parentMessageId").cloned(),
            text: string("text"),
            sender: string("modelLabel")
                .or_else(|| string("chatGptLabel"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "AI".into()),
        }
    }

    /// The text of LibreChat's error message: `{"type":"moderation"}` for a flagged message.
    pub fn error_text(&self) -> String {
        match self.reason {
            DenialReason::Flagged => r#"{"type":"moderation"}"#.into(),
            DenialReason::CheckFailed => "error in moderation check".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(body: Value) -> Vec<String> {
        moderated_texts(body.as_object().unwrap())
    }

    #[test]
    fn librechat_bodies_send_what_moderate_text_sends() {
        assert_eq!(texts(json!({ "text": "hello", "model": "m" })), ["hello"]);
        assert_eq!(texts(json!({ "answer": "yes" })), ["yes"]);
        assert!(texts(json!({ "text": "" })).is_empty());
        assert_eq!(
            texts(json!({ "text": "and you?", "quotes": ["  a\nb ", 3, ""] })),
            ["and you?", "a\nb", "> a\n> b\n\nand you?"]
        );
        let answers = texts(json!({ "answers": { "q1": "x", "q2": "y" } }));
        assert_eq!(
            answers,
            [
                "x",
                "y",
                r#"{"answers":{"q1":"x","q2":"y"}}"#,
                r#"{"answers":{"q2":"y","q1":"x"}}"#
            ]
        );
        let decisions = texts(json!({ "decisions": [
            { "responseText": "r", "reason": "why", "editedArguments": { "a": 1 } },
            { "editedArguments": null }, "junk"
        ] }));
        assert_eq!(decisions, ["r", "why", r#"{"a":1}"#]);
    }

    #[test]
    fn openai_bodies_send_every_text_the_client_wrote() {
        let body = json!({ "model": "gpt-4o", "messages": [
            { "role": "system", "content": "be nice" },
            { "role": "user", "content": [
                { "type": "text", "text": "look" },
                { "type": "image_url", "image_url": { "url": "data:..." } }
            ] },
            { "role": "assistant", "content": "sure" },
            { "role": "user", "content": null }
        ] });
        assert_eq!(texts(body), ["be nice", "look", "sure"]);
        assert_eq!(texts(json!({ "prompt": ["a", "b"] })), ["a", "b"]);
        let responses = json!({ "instructions": "sys", "input": [
            "plain",
            { "role": "user", "content": [{ "type": "input_text", "text": "hi" }] },
            { "role": "user", "content": "there" }
        ] });
        assert_eq!(texts(responses), ["sys", "plain", "hi", "there"]);
        assert_eq!(texts(json!({ "input": "one" })), ["one"]);
    }

    #[test]
    fn a_denial_names_the_message_as_deny_request_does() {
        let body = json!({ "text": "t", "messageId": "m1", "conversationId": "c1",
                           "parentMessageId": "00000000-0000-0000-0000-000000000000" });
        let d = Denial::new(DenialReason::Flagged, body.as_object().unwrap());
        assert_eq!(d.message_id.as_deref(), Some("m1"));
        assert_eq!(d.sender, "AI");
        assert_eq!(d.error_text(), r#"{"type":"moderation"}"#);
    }
}
