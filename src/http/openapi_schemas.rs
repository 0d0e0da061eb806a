//! The shapes of the bodies the handlers build with `serde_json::json!`, for the OpenAPI
//! document only (`openapi.rs`): nothing constructs these types. Each names the handler or the
//! error of `error_response.rs` whose body it describes, so a change to one is a change here.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

// --- Errors (`error_response.rs`, the LibreChat spec's shapes) ---

/// Most refusals: `{"message": ...}` (spec: "Common error shapes"). Other fields may follow
/// (the ban, 2FA and concurrency shapes below are messages too).
#[derive(ToSchema)]
pub struct Message {
    pub message: String,
}

/// `checkBan`'s answer (403): the spec's message, and until when (ms since the epoch and in
/// words); `Retry-After` in seconds.
#[derive(ToSchema)]
#[schema(as = Ban)]
pub struct BanBody {
    /// "Your account has been temporarily banned due to violations of our service."
    pub message: String,
    /// `ban`
    pub r#type: String,
    #[schema(rename = "expiresAt")]
    pub expires_at: i64,
    pub until: String,
}

/// 403 to a user who must enrol in 2FA first (`REQUIRE_2FA`).
#[derive(ToSchema)]
pub struct TwoFactorSetupRequired {
    pub message: String,
    #[schema(rename = "twoFASetupRequired")]
    pub two_fa_setup_required: bool,
}

/// 400 of a password reset for an email outside the allowed domains.
#[derive(ToSchema)]
pub struct ResetDomainRefused {
    /// `auth_failed`
    pub code: String,
    pub message: String,
}

/// 429 of the concurrent-request limiter.
#[derive(ToSchema)]
pub struct ConcurrentLimit {
    /// `concurrent`
    pub r#type: String,
    pub limit: i64,
    #[schema(rename = "pendingRequests")]
    pub pending_requests: i64,
    pub score: i64,
    pub message: String,
}

/// RFC 6749 §5.2, the OpenID provider's errors (and a provider-disabled 404).
#[derive(ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: Option<String>,
}

// --- Sessions and the user ---

/// The user object of LibreChat (`accounts::PublicUser`).
#[derive(ToSchema)]
#[schema(as = User)]
pub struct PublicUser {
    #[schema(rename = "_id")]
    pub mongo_id: String,
    pub id: String,
    pub name: String,
    pub username: String,
    pub email: String,
    #[schema(rename = "emailVerified")]
    pub email_verified: bool,
    pub avatar: Option<String>,
    pub provider: String,
    pub role: String,
    pub plugins: Vec<Value>,
    #[schema(rename = "twoFactorEnabled")]
    pub two_factor_enabled: bool,
    #[schema(rename = "termsAccepted")]
    pub terms_accepted: bool,
    #[schema(rename = "createdAt")]
    pub created_at: String,
    #[schema(rename = "updatedAt")]
    pub updated_at: String,
}

/// A login, refresh or 2FA step that signed in (`auth::session_response`).
#[derive(ToSchema)]
pub struct Session {
    /// The access token (a JWT).
    pub token: String,
    pub user: PublicUser,
    /// Present (true) while the user must still enrol in 2FA.
    #[schema(rename = "twoFASetupRequired")]
    pub two_fa_setup_required: Option<bool>,
}

/// A login whose user has 2FA: the code goes to `/api/auth/2fa/verify-temp`.
#[derive(ToSchema)]
pub struct TwoFactorPending {
    #[schema(rename = "twoFAPending")]
    pub two_fa_pending: bool,
    #[schema(rename = "tempToken")]
    pub temp_token: String,
}

/// `auth::login`'s 200: a session, or the second factor's turn.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    SignedIn(Box<Session>),
    SecondFactor(TwoFactorPending),
}

/// `auth::logout`'s 200.
#[derive(ToSchema)]
pub struct LoggedOut {
    pub message: String,
    /// The identity provider's end-session URL (`OPENID_USE_END_SESSION_ENDPOINT`).
    pub redirect: Option<String>,
}

/// `auth::register`'s body (LibreChat's `registerSchema`; the rules answer 404 on a violation).
#[derive(ToSchema)]
pub struct RegisterRequest {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub confirm_password: Option<String>,
    pub username: Option<String>,
    /// An invitation (`bouncer invite-user`).
    pub token: Option<String>,
}

// --- 2FA ---

#[derive(ToSchema)]
pub struct TwoFactorEnrolment {
    #[schema(rename = "otpauthUrl")]
    pub otpauth_url: String,
    #[schema(rename = "backupCodes")]
    pub backup_codes: Vec<String>,
}

#[derive(ToSchema)]
pub struct BackupCodes {
    #[schema(rename = "backupCodes")]
    pub backup_codes: Vec<String>,
    /// The stored form of each code (LibreChat's `backupCodes` of the user document).
    #[schema(rename = "backupCodesHash")]
    pub backup_codes_hash: Vec<Value>,
}

/// `{}`: the 2FA step succeeded.
#[derive(ToSchema)]
pub struct Empty {}

// --- /api/user ---

#[derive(ToSchema)]
pub struct Terms {
    #[schema(rename = "termsAccepted")]
    pub terms_accepted: bool,
    #[schema(rename = "termsAcceptedAt")]
    pub terms_accepted_at: Option<String>,
}

#[derive(ToSchema)]
pub struct TermsAccepted {
    pub message: String,
    #[schema(rename = "termsAcceptedAt")]
    pub terms_accepted_at: String,
}

#[derive(ToSchema)]
pub struct EmailVerified {
    pub message: String,
    /// `success`
    pub status: String,
}

// --- Health ---

#[derive(ToSchema)]
pub struct Health {
    /// `ok`, `degraded` or `unavailable`.
    pub status: String,
    /// `up` or `down`.
    pub database: String,
    /// With Redis configured: `up` or `down`.
    pub redis: Option<String>,
    #[schema(rename = "moderationStateErrors")]
    pub moderation_state_errors: Option<i64>,
}

#[derive(ToSchema)]
pub struct Live {
    pub status: String,
}

#[derive(ToSchema)]
pub struct Ready {
    /// `ready` or `not ready`.
    pub status: String,
    pub database: String,
    pub migrations: String,
    pub redis: Option<String>,
}

/// `GET /api/config` (spec §2.4): the anonymous fields always, the signed-in ones with a
/// valid token. The fields listed are always there; the optional ones follow the settings.
#[derive(ToSchema)]
pub struct StartupConfig {
    #[schema(rename = "appTitle")]
    pub app_title: String,
    #[schema(rename = "serverDomain")]
    pub server_domain: String,
    #[schema(rename = "emailLoginEnabled")]
    pub email_login_enabled: bool,
    #[schema(rename = "registrationEnabled")]
    pub registration_enabled: bool,
    #[schema(rename = "socialLoginEnabled")]
    pub social_login_enabled: bool,
    #[schema(rename = "passwordResetEnabled")]
    pub password_reset_enabled: bool,
    #[schema(rename = "openidLoginEnabled")]
    pub openid_login_enabled: bool,
    #[schema(rename = "samlLoginEnabled")]
    pub saml_login_enabled: bool,
    pub ldap: Value,
}

// --- The OpenID provider ---

/// `/oidc/token`'s 200 (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

/// `/oidc/introspect`'s 200 (RFC 7662 §2.2): `active`, and the token's claims when active.
#[derive(ToSchema)]
pub struct Introspection {
    pub active: bool,
}

/// `/oidc/userinfo`'s 200: `sub` and the claims of the granted scopes.
#[derive(ToSchema)]
pub struct UserInfo {
    pub sub: String,
}

/// The discovery document (OpenID Connect Discovery §3).
#[derive(ToSchema)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(ToSchema)]
pub struct Jwks {
    pub keys: Vec<Value>,
}

/// A form body of the provider's endpoints (RFC 6749 §3.2): the client's credentials may also
/// come as HTTP Basic.
#[derive(ToSchema)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The body of a revocation (RFC 7009) or introspection (RFC 7662).
#[derive(ToSchema)]
pub struct TokenHintForm {
    pub token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A userinfo request may carry its token in the body (RFC 6750 §2.2).
#[derive(ToSchema)]
pub struct UserInfoForm {
    pub access_token: Option<String>,
}

/// SAML's HTTP-POST binding.
#[derive(ToSchema)]
pub struct SamlPost {
    #[schema(rename = "SAMLResponse")]
    pub saml_response: Option<String>,
    #[schema(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// Apple's form-posted callback.
#[derive(ToSchema)]
pub struct CallbackForm {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub user: Option<String>,
}

// --- The admin API ---

/// A user as the admin API lists it (`usecases::admin_users::UserSummary`); times in ms.
#[derive(ToSchema)]
pub struct AdminUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub username: String,
    pub provider: String,
    pub role: String,
    #[schema(rename = "emailVerified")]
    pub email_verified: bool,
    #[schema(rename = "twoFactorEnabled")]
    pub two_factor_enabled: bool,
    #[schema(rename = "createdAt")]
    pub created_at: i64,
    #[schema(rename = "updatedAt")]
    pub updated_at: i64,
    #[schema(rename = "disabledAt")]
    pub disabled_at: Option<i64>,
    #[schema(rename = "bannedUntil")]
    pub banned_until: Option<i64>,
}

#[derive(ToSchema)]
pub struct UserPage {
    pub users: Vec<AdminUser>,
    pub next: Option<String>,
}

#[derive(ToSchema)]
pub struct OneUser {
    pub user: AdminUser,
}

#[derive(ToSchema)]
pub struct UserDetail {
    pub user: AdminUser,
    pub sessions: Vec<SessionSummary>,
    pub identities: Vec<Value>,
    pub bans: Vec<BanEntry>,
}

/// A created user (201) and whether the verification mail went.
#[derive(ToSchema)]
pub struct UserCreated {
    pub user: AdminUser,
    /// `sent`, `failed`, or null when none was due.
    #[schema(rename = "verificationMail")]
    pub verification_mail: Option<String>,
}

/// An invited user (202, `REQUIRE_INVITE`): the mail was sent, or the link to hand over.
#[derive(ToSchema)]
pub struct UserInvited {
    pub invited: bool,
    #[schema(rename = "inviteMail")]
    pub invite_mail: Option<String>,
    #[schema(rename = "inviteLink")]
    pub invite_link: Option<String>,
}

#[derive(ToSchema)]
pub struct NewUserRequest {
    pub email: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `ADMIN` or `USER`.
    pub role: Option<String>,
    #[schema(rename = "emailVerified")]
    pub email_verified: Option<bool>,
}

#[derive(ToSchema)]
pub struct RoleRequest {
    /// `ADMIN` or `USER`.
    pub role: Option<String>,
}

#[derive(ToSchema)]
pub struct SessionsRevoked {
    pub message: Option<String>,
    #[schema(rename = "sessionsRevoked")]
    pub sessions_revoked: i64,
}

#[derive(ToSchema)]
pub struct SessionSummary {
    pub id: String,
    pub kind: String,
    #[schema(rename = "clientId")]
    pub client_id: Option<String>,
    #[schema(rename = "userAgent")]
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    #[schema(rename = "createdAt")]
    pub created_at: i64,
    #[schema(rename = "lastUsedAt")]
    pub last_used_at: Option<i64>,
    #[schema(rename = "expiresAt")]
    pub expires_at: i64,
}

#[derive(ToSchema)]
pub struct Sessions {
    pub sessions: Vec<SessionSummary>,
}

/// A ban in force (`usecases::admin_bans::BanEntry`); times in ms.
#[derive(ToSchema)]
pub struct BanEntry {
    /// `user` or `ip`.
    pub kind: String,
    pub subject: String,
    pub email: Option<String>,
    #[schema(rename = "violationType")]
    pub violation_type: String,
    pub reason: Option<String>,
    #[schema(rename = "createdBy")]
    pub created_by: Option<String>,
    #[schema(rename = "createdAt")]
    pub created_at: i64,
    #[schema(rename = "expiresAt")]
    pub expires_at: i64,
}

#[derive(ToSchema)]
pub struct Bans {
    pub bans: Vec<BanEntry>,
}

#[derive(ToSchema)]
pub struct BanCreated {
    pub ban: BanEntry,
}

#[derive(ToSchema)]
pub struct BanLifted {
    pub lifted: bool,
}

/// `{ "user": id | email }` or `{ "ip": address | network }`; a ban also takes `duration`
/// (milliseconds, or a text like `"2h"`) and `reason`.
#[derive(ToSchema)]
pub struct BanRequest {
    pub user: Option<String>,
    pub ip: Option<String>,
    #[schema(value_type = Option<Value>)]
    pub duration: Option<Value>,
    pub reason: Option<String>,
}

/// The admin's page of audit events (newest first) and the next page's cursor.
#[derive(ToSchema)]
pub struct AuditPage {
    pub events: Vec<Value>,
    pub next: Option<String>,
}

/// An API key as listed (never its secret nor its digest); times in ISO 8601.
#[derive(ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    #[schema(rename = "createdAt")]
    pub created_at: String,
    #[schema(rename = "expiresAt")]
    pub expires_at: Option<String>,
    #[schema(rename = "lastUsedAt")]
    pub last_used_at: Option<String>,
    #[schema(rename = "revokedAt")]
    pub revoked_at: Option<String>,
    /// In the admin's listings: the owner.
    #[schema(rename = "userId")]
    pub user_id: Option<String>,
    pub email: Option<String>,
    /// In the creation's answer only: the secret, shown once.
    pub key: Option<String>,
}

#[derive(ToSchema)]
pub struct ApiKeys {
    pub keys: Vec<ApiKey>,
}

#[derive(ToSchema)]
pub struct ApiKeyRequest {
    pub name: Option<String>,
    pub expires_in_days: Option<i64>,
    pub scopes: Option<Vec<String>>,
}
