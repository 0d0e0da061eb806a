//! What the reverse proxy checks inside a chat message before it reaches the upstream: content
//! moderation through an OpenAI-compatible moderation API (LibreChat's `OPENAI_MODERATION`
//! variables), and the models each endpoint may name (LibreChat's `validateModel`).

use std::collections::HashMap;

use super::values::{variables, Accepted, Vars};
use super::{ConfigError, Secret};

variables! {
    OPENAI_MODERATION: "`false`", "Send each chat message's text to a moderation API first; flagged messages are refused.";
    OPENAI_MODERATION_API_KEY: "unset", "Bearer key of the moderation API (sent only when set).";
    OPENAI_MODERATION_REVERSE_PROXY: "`https://api.openai.com/v1/moderations`", "The full URL the moderation request is posted to.";
    OPENAI_MODERATION_FAIL: "`closed`", "A moderation API that fails or times out: `closed` refuses the message, `open` lets it through.";
    OPENAI_MODERATION_TIMEOUT: "`5000`", "Time the moderation API has to answer (ms).";
    MODERATION_VIOLATION_SCORE: "`1`", "Score of a flagged message (violation type `moderation`).";
    ALLOWED_MODELS: "unset (no check)", "Models each endpoint may name: `endpoint=model|model;...` (`v1`: the `/v1/*` routes, `*`: any other endpoint).";
    ALLOWED_MODELS_FROM_UPSTREAM: "`false`", "Add the upstream's `GET /v1/models` ids to the `v1` list, read at start and refreshed.";
    ALLOWED_MODELS_REFRESH: "`1000 * 60 * 5`", "How often the upstream's model list is read again (ms).";
    ILLEGAL_MODEL_REQ_SCORE: "`1`", "Score of a request naming a model outside its list (violation type `illegal_model_request`).";
    CHAT_BODY_MAX: "`52428800` (50 MiB)", "Largest chat message body read for these checks (bytes); larger: 413.";
}

/// LibreChat's default moderation endpoint.
pub const DEFAULT_MODERATION_URL: &str = "https://api.openai.com/v1/moderations";

/// LibreChat's `express.json({ limit: '50mb' })`.
pub const DEFAULT_CHAT_BODY_MAX: usize = 50 * 1024 * 1024;

/// The key of the `/v1/*` routes' list in `ALLOWED_MODELS`.
pub const V1_ENDPOINT: &str = "v1";
/// The key of the list for every endpoint not named.
pub const ANY_ENDPOINT: &str = "*";

/// What a failing moderation API means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Refused, as LibreChat does (`error in moderation check`).
    Closed,
    /// Let through unchecked (logged).
    Open,
}

/// The moderation API, when `OPENAI_MODERATION` is on.
#[derive(Debug, Clone)]
pub struct ModerationApi {
    pub url: url::Url,
    pub api_key: Option<Secret>,
    pub fail: FailMode,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone)]
pub struct ContentConfig {
    /// `OPENAI_MODERATION`: the moderation API, when on.
    pub moderation: Option<ModerationApi>,
    /// `MODERATION_VIOLATION_SCORE`.
    pub violation_score: i64,
    /// `ALLOWED_MODELS`: endpoint → the models it may name. Empty: no static list.
    pub allowed_models: HashMap<String, Vec<String>>,
    /// `ALLOWED_MODELS_FROM_UPSTREAM`.
    pub models_from_upstream: bool,
    pub models_refresh_ms: i64,
    /// `ILLEGAL_MODEL_REQ_SCORE`.
    pub illegal_model_score: i64,
    /// `CHAT_BODY_MAX`.
    pub body_max: usize,
}

impl ContentConfig {
    /// Whether the proxy reads chat message bodies at all.
    pub fn inspects_bodies(&self) -> bool {
        self.moderation.is_some() || self.checks_models()
    }

    /// Whether some endpoint's model is checked.
    pub fn checks_models(&self) -> bool {
        !self.allowed_models.is_empty() || self.models_from_upstream
    }

    pub fn from_vars(vars: Vars, upstream_set: bool) -> Result<Self, ConfigError> {
        let moderation = if vars.flag(&OPENAI_MODERATION, false) {
            let raw = vars.text(&OPENAI_MODERATION_REVERSE_PROXY, DEFAULT_MODERATION_URL);
            let url = url::Url::parse(&raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        OPENAI_MODERATION_REVERSE_PROXY.name,
                        &raw,
                        "the full http(s) URL of a moderation API, e.g. https://api.openai.com/v1/moderations",
                    )
                })?;
            let fail = match vars.get(&OPENAI_MODERATION_FAIL) {
                None => FailMode::Closed,
                Some(v) if v.eq_ignore_ascii_case("closed") => FailMode::Closed,
                Some(v) if v.eq_ignore_ascii_case("open") => FailMode::Open,
                Some(v) => {
                    return Err(ConfigError::invalid(
                        OPENAI_MODERATION_FAIL.name,
                        v,
                        "`closed` (refuse the message) or `open` (let it through)",
                    ))
                }
            };
            Some(ModerationApi {
                url,
                api_key: vars
                    .get(&OPENAI_MODERATION_API_KEY)
                    .map(|k| Secret::new(k.to_string())),
                fail,
                timeout_ms: vars.number(&OPENAI_MODERATION_TIMEOUT, 5000, 1..=600_000)?,
            })
        } else {
            None
        };
        let allowed_models = match vars.get(&ALLOWED_MODELS) {
            Some(raw) => allowed_models(raw)?,
            None => HashMap::new(),
        };
        let models_from_upstream = vars.flag(&ALLOWED_MODELS_FROM_UPSTREAM, false);
        if models_from_upstream && !upstream_set {
            return Err(ConfigError::Other(
                "ALLOWED_MODELS_FROM_UPSTREAM=true needs UPSTREAM_URL: the list is read from the upstream's GET /v1/models".into(),
            ));
        }
        Ok(Self {
            moderation,
            violation_score: vars.number(&MODERATION_VIOLATION_SCORE, 1, 0..=1_000_000)?,
            allowed_models,
            models_from_upstream,
            models_refresh_ms: vars.expression(
                &ALLOWED_MODELS_REFRESH,
                1000 * 60 * 5,
                Accepted::from(1000..=1000 * 60 * 60 * 24),
            )?,
            illegal_model_score: vars.number(&ILLEGAL_MODEL_REQ_SCORE, 1, 0..=1_000_000)?,
            body_max: vars.number(
                &CHAT_BODY_MAX,
                DEFAULT_CHAT_BODY_MAX,
                1024..=1024 * 1024 * 1024,
            )?,
        })
    }
}

/// `ALLOWED_MODELS`: `endpoint=model|model`, separated by `;`.
fn allowed_models(raw: &str) -> Result<HashMap<String, Vec<String>>, ConfigError> {
    const EXPECTED: &str =
        "lists separated by ;, each endpoint=model|model (endpoint: LibreChat's \
                            `endpoint` body field, `v1` for the /v1/* routes, or * for any other; \
                            models: names without spaces, | or ;)";
    let invalid = |entry: &str| ConfigError::invalid(ALLOWED_MODELS.name, entry, EXPECTED);
    let mut lists: HashMap<String, Vec<String>> = HashMap::new();
    for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (endpoint, models) = entry.split_once('=').ok_or_else(|| invalid(entry))?;
        let endpoint = endpoint.trim();
        let models: Vec<String> = models
            .split('|')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        if endpoint.is_empty()
            || endpoint.contains(char::is_whitespace)
            || models.is_empty()
            || models.iter().any(|m| m.contains(char::is_whitespace))
            || lists.contains_key(endpoint)
        {
            return Err(invalid(entry));
        }
        lists.insert(endpoint.to_string(), models);
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ContentConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ContentConfig::from_vars(Vars::new(&map), true)
    }

    #[test]
    fn off_by_default_and_closed_when_on() {
        let c = config(&[]).unwrap();
        assert!(!c.inspects_bodies());
        assert_eq!(c.body_max, 50 * 1024 * 1024);
        let c = config(&[("OPENAI_MODERATION", "true")]).unwrap();
        let api = c.moderation.unwrap();
        assert_eq!(api.url.as_str(), DEFAULT_MODERATION_URL);
        assert_eq!(api.fail, FailMode::Closed);
        assert_eq!(api.timeout_ms, 5000);
        assert!(api.api_key.is_none());
        let c = config(&[
            ("OPENAI_MODERATION", "true"),
            ("OPENAI_MODERATION_FAIL", "Open"),
        ])
        .unwrap();
        assert_eq!(c.moderation.unwrap().fail, FailMode::Open);
        assert!(config(&[
            ("OPENAI_MODERATION", "true"),
            ("OPENAI_MODERATION_FAIL", "maybe")
        ])
        .is_err());
        assert!(config(&[
            ("OPENAI_MODERATION", "true"),
            ("OPENAI_MODERATION_REVERSE_PROXY", "not a url")
        ])
        .is_err());
    }

    #[test]
    fn allowed_models_are_lists_per_endpoint() {
        let c = config(&[(
            "ALLOWED_MODELS",
            "openAI=gpt-4o|gpt-4o-mini; anthropic = claude-3-5-sonnet ;v1=test",
        )])
        .unwrap();
        assert_eq!(c.allowed_models["openAI"], ["gpt-4o", "gpt-4o-mini"]);
        assert_eq!(c.allowed_models["anthropic"], ["claude-3-5-sonnet"]);
        assert_eq!(c.allowed_models["v1"], ["test"]);
        assert!(c.inspects_bodies());
        for bad in ["openAI", "=gpt-4o", "openAI=", "a=x;a=y", "a=x y"] {
            assert!(config(&[("ALLOWED_MODELS", bad)]).is_err(), "{bad}");
        }
    }
}
