//! The models a chat message may name (`ALLOWED_MODELS`, LibreChat's `validateModel`): a list
//! per LibreChat `endpoint`, and for the OpenAI routes (`/v1/*`) a list that may be read from the
//! upstream's `GET /v1/models` (`ALLOWED_MODELS_FROM_UPSTREAM`) at start and refreshed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::http::uri::PathAndQuery;
use axum::http::{header, Method, Request, Uri};
use serde_json::{Map, Value};

use crate::config::content_moderation::{ContentConfig, ANY_ENDPOINT, V1_ENDPOINT};
use crate::config::gateway::Upstream;
use crate::upstream_client::UpstreamClient;

/// LibreChat's `MAX_MODEL_STRING_LENGTH`.
const MAX_MODEL_LENGTH: usize = 256;
/// The upstream's model list may be at most this large.
const MAX_MODELS_BODY: usize = 4 * 1024 * 1024;
/// How long the upstream has to answer `GET /v1/models`.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a model is refused, with LibreChat's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRefusal {
    /// `Model not provided`: no `model` string.
    NotProvided,
    /// `Invalid model identifier`: empty, too long, or outside `[a-zA-Z0-9][a-zA-Z0-9_.:/@+-]*`.
    Invalid,
    /// `Illegal model request`: not in the endpoint's list (scored).
    Illegal,
    /// `Models not loaded`: the list is the upstream's and it has not been read yet.
    NotLoaded,
}

impl ModelRefusal {
    pub fn message(self) -> &'static str {
        match self {
            Self::NotProvided => "Model not provided",
            Self::Invalid => "Invalid model identifier",
            Self::Illegal => "Illegal model request",
            Self::NotLoaded => "Models not loaded",
        }
    }
}

/// LibreChat's `MODEL_PATTERN`, exactly, and on the string as sent: a model with spaces
/// around it is invalid here (LibreChat trims it first), so the name checked is the name the
/// upstream gets.
fn valid_model(model: &str) -> bool {
    let mut bytes = model.bytes();
    !model.is_empty()
        && model.len() <= MAX_MODEL_LENGTH
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.:/@+-".contains(&b))
}

pub struct AllowedModels {
    lists: HashMap<String, Vec<String>>,
    from_upstream: bool,
    /// The upstream's ids, once read.
    upstream: RwLock<Option<Arc<Vec<String>>>>,
}

impl AllowedModels {
    pub fn new(config: &ContentConfig) -> Self {
        Self {
            lists: config.allowed_models.clone(),
            from_upstream: config.models_from_upstream,
            upstream: RwLock::new(None),
        }
    }

    /// Checks the `model` of a body. `v1_route`: the body goes to a `/v1/*` route (the `v1`
    /// list); otherwise its `endpoint` field names the list (`*` for any endpoint without one).
    /// A body whose list is not configured is not checked.
    pub fn check(&self, v1_route: bool, body: &Map<String, Value>) -> Result<(), ModelRefusal> {
        let key = if v1_route {
            V1_ENDPOINT
        } else {
            body.get("endpoint").and_then(Value::as_str).unwrap_or("")
        };
        let uses_upstream = v1_route && self.from_upstream;
        let listed = self.lists.get(key).or_else(|| {
            (!uses_upstream)
                .then(|| self.lists.get(ANY_ENDPOINT))
                .flatten()
        });
        if listed.is_none() && !uses_upstream {
            return Ok(());
        }
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.as_str(),
            _ => return Err(ModelRefusal::NotProvided),
        };
        if !valid_model(model) {
            return Err(ModelRefusal::Invalid);
        }
        if listed.is_some_and(|l| l.iter().any(|m| m == model)) {
            return Ok(());
        }
        if uses_upstream {
            match self.upstream.read().expect("model list lock").as_ref() {
                Some(ids) if ids.iter().any(|m| m == model) => return Ok(()),
                None if listed.is_none() => return Err(ModelRefusal::NotLoaded),
                _ => {}
            }
        }
        Err(ModelRefusal::Illegal)
    }

    /// Replaces the upstream's list.
    pub fn set_upstream(&self, ids: Vec<String>) {
        *self.upstream.write().expect("model list lock") = Some(Arc::new(ids));
    }

    pub fn reads_upstream(&self) -> bool {
        self.from_upstream
    }
}

/// Reads the upstream's `GET /v1/models` (`{"data":[{"id":...}]}`), without credentials.
pub async fn fetch_upstream(
    client: &UpstreamClient,
    upstream: &Upstream,
) -> anyhow::Result<Vec<String>> {
    let path = format!("{}/v1/models", upstream.base_path);
    let uri = Uri::builder()
        .scheme(upstream.scheme.clone())
        .authority(upstream.authority.clone())
        .path_and_query(PathAndQuery::try_from(path)?)
        .build()?;
    let request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())?;
    let response = tokio::time::timeout(LIST_TIMEOUT, client.request(request))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {} s", LIST_TIMEOUT.as_secs()))??;
    let status = response.status();
    if !status.is_success() {
        anyhow::bail!("the upstream answered {status}");
    }
    let body = tokio::time::timeout(
        LIST_TIMEOUT,
        axum::body::to_bytes(Body::new(response.into_body()), MAX_MODELS_BODY),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "the list did not arrive within {} s",
            LIST_TIMEOUT.as_secs()
        )
    })??;
    let list: Value = serde_json::from_slice(&body)?;
    let ids: Vec<String> = list
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow::anyhow!("no `data` array in the answer"))?
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    Ok(ids)
}

/// Reads the upstream's list once (at start), then again every `every`, for as long as the
/// app lives. A failed read keeps the list in force and is logged.
pub async fn keep_upstream_list<T: Send + Sync + 'static>(
    app: &Arc<T>,
    get: fn(&T) -> (&AllowedModels, &UpstreamClient, Option<&Upstream>),
    every: Duration,
) {
    async fn refresh<T>(
        app: &T,
        get: fn(&T) -> (&AllowedModels, &UpstreamClient, Option<&Upstream>),
    ) {
        let (models, client, upstream) = get(app);
        let Some(upstream) = upstream else {
            return;
        };
        match fetch_upstream(client, upstream).await {
            Ok(ids) => {
                tracing::debug!(models = ids.len(), "read the upstream's model list");
                models.set_upstream(ids);
            }
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                upstream = %upstream.url,
                "could not read the upstream's GET /v1/models (ALLOWED_MODELS_FROM_UPSTREAM); the list in force stays"
            ),
        }
    }
    refresh(app.as_ref(), get).await;
    let weak: Weak<T> = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(app) = weak.upgrade() else {
                return;
            };
            refresh(app.as_ref(), get).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn models(lists: &[(&str, &[&str])], from_upstream: bool) -> AllowedModels {
        AllowedModels {
            lists: lists
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|m| m.to_string()).collect()))
                .collect(),
            from_upstream,
            upstream: RwLock::new(None),
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn each_endpoint_has_its_list_and_others_pass() {
        let m = models(&[("openAI", &["gpt-4o"])], false);
        let check = |v: Value| m.check(false, &body(v));
        assert_eq!(
            check(json!({ "endpoint": "openAI", "model": "gpt-4o" })),
            Ok(())
        );
        assert_eq!(
            check(json!({ "endpoint": "openAI", "model": "gpt-5" })),
            Err(ModelRefusal::Illegal)
        );
        assert_eq!(
            check(json!({ "endpoint": "openAI" })),
            Err(ModelRefusal::NotProvided)
        );
        assert_eq!(
            check(json!({ "endpoint": "openAI", "model": 4 })),
            Err(ModelRefusal::NotProvided)
        );
        assert_eq!(
            check(json!({ "endpoint": "openAI", "model": " gpt-4o" })),
            Err(ModelRefusal::Invalid)
        );
        assert_eq!(
            check(json!({ "endpoint": "openAI", "model": "a".repeat(257) })),
            Err(ModelRefusal::Invalid)
        );
        assert_eq!(
            check(json!({ "endpoint": "anthropic", "model": "x" })),
            Ok(())
        );
        assert_eq!(m.check(true, &body(json!({ "model": "any" }))), Ok(()));

        let any = models(&[("*", &["m"])], false);
        assert_eq!(
            any.check(false, &body(json!({ "endpoint": "x", "model": "n" }))),
            Err(ModelRefusal::Illegal)
        );
        assert_eq!(any.check(true, &body(json!({ "model": "m" }))), Ok(()));
    }

    #[test]
    fn the_upstream_list_serves_the_v1_routes_once_read() {
        let m = models(&[("v1", &["local"])], true);
        let check = |model: &str| m.check(true, &body(json!({ "model": model })));
        assert_eq!(check("local"), Ok(()));
        assert_eq!(check("remote"), Err(ModelRefusal::Illegal));
        m.set_upstream(vec!["remote".into()]);
        assert_eq!(check("remote"), Ok(()));

        let only_upstream = models(&[], true);
        assert_eq!(
            only_upstream.check(true, &body(json!({ "model": "x" }))),
            Err(ModelRefusal::NotLoaded)
        );
        only_upstream.set_upstream(vec!["x".into()]);
        assert_eq!(
            only_upstream.check(true, &body(json!({ "model": "x" }))),
            Ok(())
        );
        assert_eq!(
            only_upstream.check(true, &body(json!({ "model": "y" }))),
            Err(ModelRefusal::Illegal)
        );
    }

    #[test]
    fn model_names_follow_librechats_pattern() {
        for ok in ["gpt-4o", "anthropic/claude-3.5@latest", "a:b+c_d"] {
            assert!(valid_model(ok), "{ok}");
        }
        for bad in ["", "-x", "a b", "a\n", "é"] {
            assert!(!valid_model(bad), "{bad}");
        }
    }
}
