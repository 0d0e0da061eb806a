//! LibreChat's limiters of its costly routes besides chat messages (its
//! `api/server/middleware/limiters/`): speech, uploads, conversation import and fork, tool calls
//! and prompt usage, with LibreChat's variable names, defaults and scores. The gateway counts
//! them; the route lists (Bouncer's `*_ROUTES`) default to LibreChat v0.8.8's routes and can be
//! changed for other backends.

use super::gateway::{routes, Routes};
use super::moderation::{limiter, limits, score, LimiterSettings};
use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    TTS_IP_MAX: "`100`", "Text-to-speech requests per IP per window.";
    TTS_IP_WINDOW: "`1`", "Text-to-speech per-IP window (minutes).";
    TTS_USER_MAX: "`50`", "Text-to-speech requests per user per window.";
    TTS_USER_WINDOW: "`1`", "Text-to-speech per-user window (minutes).";
    TTS_VIOLATION_SCORE: "`1`", "Score of one text-to-speech limiter violation.";
    TTS_ROUTES: "`/api/files/speech/tts*`", "Paths of the text-to-speech limiter (every method).";
    STT_IP_MAX: "`100`", "Speech-to-text requests per IP per window.";
    STT_IP_WINDOW: "`1`", "Speech-to-text per-IP window (minutes).";
    STT_USER_MAX: "`50`", "Speech-to-text requests per user per window.";
    STT_USER_WINDOW: "`1`", "Speech-to-text per-user window (minutes).";
    STT_VIOLATION_SCORE: "`1`", "Score of one speech-to-text limiter violation.";
    STT_ROUTES: "`/api/files/speech/stt*`", "Paths of the speech-to-text limiter (every method).";
    FILE_USAGE_USER_MAX: "`120`", "File-usage touches (`POST /api/files/usage`) per user per window.";
    FILE_USAGE_USER_WINDOW: "`15`", "File-usage window (minutes).";
    FILE_USAGE_ROUTES: "`/api/files/usage`", "`POST` paths of the file-usage limiter.";
    FILE_UPLOAD_IP_MAX: "`100`", "File uploads per IP per window.";
    FILE_UPLOAD_IP_WINDOW: "`15`", "File-upload per-IP window (minutes).";
    FILE_UPLOAD_USER_MAX: "`50`", "File uploads per user per window.";
    FILE_UPLOAD_USER_WINDOW: "`15`", "File-upload per-user window (minutes).";
    FILE_UPLOAD_VIOLATION_SCORE: "`1`", "Score of one file-upload (or file-usage) limiter violation.";
    FILE_UPLOAD_ROUTES: "LibreChat's upload routes", "`POST` paths of the file-upload limiter.";
    IMPORT_IP_MAX: "`100`", "Conversation imports per IP per window.";
    IMPORT_IP_WINDOW: "`15`", "Conversation-import per-IP window (minutes).";
    IMPORT_USER_MAX: "`50`", "Conversation imports per user per window.";
    IMPORT_USER_WINDOW: "`15`", "Conversation-import per-user window (minutes).";
    IMPORT_VIOLATION_SCORE: "`1`", "Score of one conversation-import limiter violation.";
    IMPORT_ROUTES: "`/api/convos/import`", "`POST` paths of the conversation-import limiter.";
    FORK_IP_MAX: "`30`", "Conversation forks and duplicates per IP per window.";
    FORK_IP_WINDOW: "`1`", "Fork per-IP window (minutes).";
    FORK_USER_MAX: "`7`", "Conversation forks and duplicates per user per window.";
    FORK_USER_WINDOW: "`1`", "Fork per-user window (minutes).";
    FORK_VIOLATION_SCORE: "`1`", "Score of one fork limiter violation.";
    FORK_ROUTES: "LibreChat's fork routes", "`POST` paths of the fork limiter.";
    TOOL_CALL_VIOLATION_SCORE: "`1`", "Score of one tool-call limiter violation (one call per user per second).";
    TOOL_CALL_ROUTES: "`/api/agents/tools/*/call`", "`POST` paths of the tool-call limiter.";
    PROMPT_USAGE_ROUTES: "`/api/prompts/groups/*/use`", "`POST` paths of the prompt-usage limiter (30 per user per minute, no score).";
}

/// LibreChat v0.8.8's upload routes: every `POST` under `/api/files` (speech and usage have
/// limiters of their own, checked first) and the skills' uploads.
pub const DEFAULT_FILE_UPLOAD_ROUTES: &str =
    "/api/files,/api/files/*,/api/skills/import,/api/skills/*/files";
/// LibreChat v0.8.8's fork routes: a conversation's fork and duplicate, and a shared link's fork.
pub const DEFAULT_FORK_ROUTES: &str = "/api/convos/fork,/api/convos/duplicate,/api/share/*/fork";

/// Which limiter a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Tts,
    Stt,
    FileUsage,
    FileUpload,
    Import,
    Fork,
    ToolCall,
    PromptUsage,
}

/// One route limiter: its routes, its windows per IP and per user (either may be absent, as
/// in LibreChat), and the score of a violation.
#[derive(Debug, Clone)]
pub struct RouteLimit {
    pub kind: RouteKind,
    /// Compared with the lower-cased path, as Express routes.
    pub routes: Routes,
    /// Whether every method counts (LibreChat mounts its speech limiters with `router.use`),
    /// or `POST` only.
    pub every_method: bool,
    pub ip: Option<LimiterSettings>,
    pub user: Option<LimiterSettings>,
    pub score: i64,
}

/// The route limiters, in the order a request is matched against them: the first whose routes
/// hold the path counts it (so speech and usage are not uploads).
pub fn from_vars(vars: Vars) -> Result<Vec<RouteLimit>, ConfigError> {
    let list = |var, default: &str| routes(var, &vars.get(var).unwrap_or(default).to_lowercase());
    let upload_score = score(vars, &FILE_UPLOAD_VIOLATION_SCORE, 1)?;
    Ok(vec![
        RouteLimit {
            kind: RouteKind::Tts,
            routes: list(&TTS_ROUTES, "/api/files/speech/tts*")?,
            every_method: true,
            ip: Some(limiter(vars, &TTS_IP_MAX, &TTS_IP_WINDOW, &limits(100, 1))?),
            user: Some(limiter(
                vars,
                &TTS_USER_MAX,
                &TTS_USER_WINDOW,
                &limits(50, 1),
            )?),
            score: score(vars, &TTS_VIOLATION_SCORE, 1)?,
        },
        RouteLimit {
            kind: RouteKind::Stt,
            routes: list(&STT_ROUTES, "/api/files/speech/stt*")?,
            every_method: true,
            ip: Some(limiter(vars, &STT_IP_MAX, &STT_IP_WINDOW, &limits(100, 1))?),
            user: Some(limiter(
                vars,
                &STT_USER_MAX,
                &STT_USER_WINDOW,
                &limits(50, 1),
            )?),
            score: score(vars, &STT_VIOLATION_SCORE, 1)?,
        },
        RouteLimit {
            kind: RouteKind::FileUsage,
            routes: list(&FILE_USAGE_ROUTES, "/api/files/usage")?,
            every_method: false,
            ip: None,
            user: Some(limiter(
                vars,
                &FILE_USAGE_USER_MAX,
                &FILE_USAGE_USER_WINDOW,
                &limits(120, 15),
            )?),
            score: upload_score,
        },
        RouteLimit {
            kind: RouteKind::FileUpload,
            routes: list(&FILE_UPLOAD_ROUTES, DEFAULT_FILE_UPLOAD_ROUTES)?,
            every_method: false,
            ip: Some(limiter(
                vars,
                &FILE_UPLOAD_IP_MAX,
                &FILE_UPLOAD_IP_WINDOW,
                &limits(100, 15),
            )?),
            user: Some(limiter(
                vars,
                &FILE_UPLOAD_USER_MAX,
                &FILE_UPLOAD_USER_WINDOW,
                &limits(50, 15),
            )?),
            score: upload_score,
        },
        RouteLimit {
            kind: RouteKind::Import,
            routes: list(&IMPORT_ROUTES, "/api/convos/import")?,
            every_method: false,
            ip: Some(limiter(
                vars,
                &IMPORT_IP_MAX,
                &IMPORT_IP_WINDOW,
                &limits(100, 15),
            )?),
            user: Some(limiter(
                vars,
                &IMPORT_USER_MAX,
                &IMPORT_USER_WINDOW,
                &limits(50, 15),
            )?),
            score: score(vars, &IMPORT_VIOLATION_SCORE, 1)?,
        },
        RouteLimit {
            kind: RouteKind::Fork,
            routes: list(&FORK_ROUTES, DEFAULT_FORK_ROUTES)?,
            every_method: false,
            ip: Some(limiter(
                vars,
                &FORK_IP_MAX,
                &FORK_IP_WINDOW,
                &limits(30, 1),
            )?),
            user: Some(limiter(
                vars,
                &FORK_USER_MAX,
                &FORK_USER_WINDOW,
                &limits(7, 1),
            )?),
            score: score(vars, &FORK_VIOLATION_SCORE, 1)?,
        },
        RouteLimit {
            kind: RouteKind::ToolCall,
            routes: list(&TOOL_CALL_ROUTES, "/api/agents/tools/*/call")?,
            every_method: false,
            ip: None,
            user: Some(LimiterSettings::per_ms(1, 1000)),
            score: score(vars, &TOOL_CALL_VIOLATION_SCORE, 1)?,
        },
        RouteLimit {
            kind: RouteKind::PromptUsage,
            routes: list(&PROMPT_USAGE_ROUTES, "/api/prompts/groups/*/use")?,
            every_method: false,
            ip: None,
            user: Some(limits(30, 1)),
            // LibreChat's prompt-usage limiter answers 429 and records nothing.
            score: 0,
        },
    ])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn first(limits: &[RouteLimit], method_is_post: bool, path: &str) -> Option<RouteKind> {
        limits
            .iter()
            .find(|l| (method_is_post || l.every_method) && l.routes.matches(path))
            .map(|l| l.kind)
    }

    #[test]
    fn librechats_routes_find_their_limiter_and_speech_is_not_an_upload() {
        let l = from_vars(Vars::new(&HashMap::new())).unwrap();
        for (path, kind) in [
            ("/api/files/speech/tts", RouteKind::Tts),
            ("/api/files/speech/tts/manual", RouteKind::Tts),
            ("/api/files/speech/stt", RouteKind::Stt),
            ("/api/files/usage", RouteKind::FileUsage),
            ("/api/files/usage/", RouteKind::FileUsage),
            ("/api/files", RouteKind::FileUpload),
            ("/api/files/images", RouteKind::FileUpload),
            ("/api/files/images/agents/a1/avatar", RouteKind::FileUpload),
            ("/api/skills/import", RouteKind::FileUpload),
            ("/api/skills/s1/files", RouteKind::FileUpload),
            ("/api/convos/import", RouteKind::Import),
            ("/api/convos/fork", RouteKind::Fork),
            ("/api/convos/duplicate", RouteKind::Fork),
            ("/api/share/abc/fork", RouteKind::Fork),
            ("/api/agents/tools/web_search/call", RouteKind::ToolCall),
            ("/api/prompts/groups/g1/use", RouteKind::PromptUsage),
        ] {
            assert_eq!(first(&l, true, path), Some(kind), "{path}");
        }
        for path in [
            "/api/convos",
            "/api/filesx",
            "/api/share/abc",
            "/api/skills",
        ] {
            assert_eq!(first(&l, true, path), None, "{path}");
        }
        // Speech counts every method (LibreChat's `router.use`); the others POST only.
        assert_eq!(
            first(&l, false, "/api/files/speech/tts/voices"),
            Some(RouteKind::Tts)
        );
        assert_eq!(first(&l, false, "/api/files/images"), None);
        let tool = l.iter().find(|l| l.kind == RouteKind::ToolCall).unwrap();
        assert_eq!(tool.user.as_ref().unwrap().window_ms(), 1000);
        let fork = l.iter().find(|l| l.kind == RouteKind::Fork).unwrap();
        assert_eq!(fork.ip, Some(limits(30, 1)));
        assert_eq!(fork.user, Some(limits(7, 1)));
    }

    #[test]
    fn settings_and_route_lists_can_be_changed() {
        let vars = HashMap::from([
            ("FORK_USER_MAX".to_string(), "2".to_string()),
            ("FORK_VIOLATION_SCORE".to_string(), "5".to_string()),
            ("TTS_ROUTES".to_string(), "/v1/audio/speech".to_string()),
        ]);
        let l = from_vars(Vars::new(&vars)).unwrap();
        let fork = l.iter().find(|l| l.kind == RouteKind::Fork).unwrap();
        assert_eq!((fork.user.as_ref().unwrap().max, fork.score), (2, 5));
        assert_eq!(first(&l, true, "/v1/audio/speech"), Some(RouteKind::Tts));
        assert_eq!(
            first(&l, true, "/api/files/speech/tts"),
            Some(RouteKind::FileUpload)
        );
        for (var, value) in [("IMPORT_IP_MAX", "0"), ("FORK_ROUTES", "fork")] {
            let vars = HashMap::from([(var.to_string(), value.to_string())]);
            let err = from_vars(Vars::new(&vars)).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }
}
