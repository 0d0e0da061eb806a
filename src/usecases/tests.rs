//! The rules of the use cases, tested without HTTP: a real SQLite database in a temporary
//! folder (the availability probe opens its own connections, so an in-memory database would
//! not be shared), the manual clock, no mail transport, memory moderation state.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use totp_rs::{Algorithm, Secret, TOTP};

use super::*;
use crate::accounts::validation::RegistrationInput;
use crate::accounts::Email;
use crate::app::AppContext;
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::error::Error;
use crate::moderation::Subject;
use crate::request_target;
use crate::store::email_tokens::Purpose;
use crate::store::users::Role;
use crate::twofactor::Code;

const PASSWORD: &str = "correct horse battery";

struct World {
    ctx: Arc<AppContext>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn world(overrides: &[(&str, &str)]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = [
        (
            "JWT_SECRET",
            "unit-access-secret-0123456789abcdef0123456789",
        ),
        (
            "JWT_REFRESH_SECRET",
            "unit-refresh-secret-0123456789abcdef012345678",
        ),
        (
            "CREDS_KEY",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
        ("ALLOW_REGISTRATION", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert(
        "DATABASE_URL".into(),
        format!("sqlite://{}/bouncer.db", dir.path().display()),
    );
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_vars(&vars).expect("valid configuration");
    let clock = Arc::new(ManualClock::starting_now());
    let ctx = AppContext::build(config, clock.clone()).await.unwrap();
    World {
        ctx,
        clock,
        _dir: dir,
    }
}

fn ip(text: &str) -> Client {
    Client::at(text.parse::<IpAddr>().unwrap())
}

fn input(email: &str) -> RegistrationInput {
    RegistrationInput {
        name: Some("Ada Lovelace".into()),
        username: Some(email.split('@').next().unwrap().into()),
        email: Some(email.into()),
        password: Some(PASSWORD.into()),
        confirm_password: Some(PASSWORD.into()),
    }
}

impl World {
    /// Registers (verified at once: no mail transport) and returns the user's id.
    async fn user(&self, email: &str) -> String {
        registration::register(&self.ctx, ip("192.0.2.1"), &input(email), None)
            .await
            .unwrap();
        self.ctx
            .accounts
            .find_by_email(&Email::normalized(email))
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn sign_in(&self, email: &str, password: &str, from: Client) -> Result<SignIn, Error> {
        sign_in::sign_in(&self.ctx, from, Some(email), Some(password)).await
    }

    async fn signed_in(&self, email: &str) -> SignedIn {
        match self.sign_in(email, PASSWORD, ip("192.0.2.1")).await {
            Ok(SignIn::SignedIn(s)) => s,
            _ => panic!("expected a session"),
        }
    }

    fn totp_now(&self, secret: &str) -> String {
        let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
        TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
            .generate((self.clock.now_ms() / 1000) as u64)
    }

    /// Enrols and confirms 2FA; returns the secret and the backup codes.
    async fn with_two_factor(&self, user_id: &str) -> (String, Vec<String>) {
        let enrolment = second_factor::enrol(&self.ctx, ip("192.0.2.1"), user_id, None)
            .await
            .unwrap();
        let secret = url::Url::parse(&enrolment.otpauth_url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "secret")
            .unwrap()
            .1
            .into_owned();
        let code = self.totp_now(&secret);
        second_factor::confirm(&self.ctx, ip("192.0.2.1"), user_id, Some(&code))
            .await
            .unwrap();
        // The confirmed code is used up: the next one is a step later.
        self.clock.advance_ms(30_000);
        (secret, enrolment.backup_codes)
    }
}

use sign_in::SignIn;

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_fail_alike() {
    let w = world(&[]).await;
    w.user("ada@example.com").await;
    let wrong = w.sign_in("ada@example.com", "not the password", ip("192.0.2.9"));
    let unknown = w.sign_in("nobody@example.com", PASSWORD, ip("192.0.2.9"));
    assert!(matches!(wrong.await, Err(Error::InvalidCredentials)));
    assert!(matches!(unknown.await, Err(Error::InvalidCredentials)));
}

#[tokio::test]
async fn a_banned_client_sees_the_ban_before_the_limiter_and_the_switch() {
    let w = world(&[("LOGIN_MAX", "1"), ("ALLOW_EMAIL_LOGIN", "false")]).await;
    w.user("ada@example.com").await;
    let from = ip("198.51.100.7");
    // The limiter comes before the switch: the first attempt reaches the switch...
    let first = w.sign_in("ada@example.com", PASSWORD, from.clone()).await;
    assert!(matches!(first, Err(Error::EmailLoginDisabled)));
    // ...the second is over the limit.
    let second = w.sign_in("ada@example.com", PASSWORD, from.clone()).await;
    assert!(matches!(second, Err(Error::RateLimited(_))));
    // A ban comes before both.
    w.ctx
        .moderation
        .ban(Subject::Ip(from.ip), "test", 0, 60_000)
        .await
        .unwrap();
    let banned = w.sign_in("ada@example.com", PASSWORD, from).await;
    assert!(matches!(banned, Err(Error::Banned { .. })));
}

#[tokio::test]
async fn a_banned_user_is_refused_from_any_ip_and_loses_every_session() {
    let w = world(&[]).await;
    let id = w.user("ada@example.com").await;
    let session = w.signed_in("ada@example.com").await;
    let token = session.issued.access_token.clone();
    assert!(w.ctx.sessions.authenticate(Some(&token)).is_ok());
    let subject = Subject::User {
        id: &id,
        ip: "192.0.2.1".parse().unwrap(),
    };
    w.ctx
        .moderation
        .ban(subject, "test", 0, 60_000)
        .await
        .unwrap();
    assert!(w.ctx.sessions.authenticate(Some(&token)).is_err());
    let elsewhere = w
        .sign_in("ada@example.com", PASSWORD, ip("203.0.113.50"))
        .await;
    assert!(matches!(elsewhere, Err(Error::Banned { .. })));
}

#[tokio::test]
async fn closed_registration_opens_for_an_invited_email_only() {
    let w = world(&[("ALLOW_REGISTRATION", "false")]).await;
    let ada = input("ada@example.com");
    let closed = registration::register(&w.ctx, ip("192.0.2.1"), &ada, None).await;
    assert!(matches!(closed, Err(Error::RegistrationDisabled)));
    let invitation = match operator::invite(&w.ctx, "grace@example.com").await.unwrap() {
        notices::Invitation::Link(link) => link,
        notices::Invitation::Sent => panic!("no mail transport: a link is expected"),
    };
    let token = url::Url::parse(&invitation)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let other = registration::register(&w.ctx, ip("192.0.2.1"), &ada, Some(&token)).await;
    assert!(matches!(other, Err(Error::InvalidInvite)));
    registration::register(
        &w.ctx,
        ip("192.0.2.1"),
        &input("grace@example.com"),
        Some(&token),
    )
    .await
    .unwrap();
    assert!(w
        .ctx
        .accounts
        .find_by_email(&Email::normalized("grace@example.com"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_password_reset_ends_every_session_inside_the_service() {
    let w = world(&[("ALLOW_PASSWORD_RESET", "true")]).await;
    w.user("ada@example.com").await;
    let session = w.signed_in("ada@example.com").await;
    let user = w
        .ctx
        .accounts
        .find_by_email(&Email::normalized("ada@example.com"))
        .await
        .unwrap()
        .unwrap();
    let token = w
        .ctx
        .accounts
        .issue_email_token(Purpose::PasswordReset, &user)
        .await
        .unwrap();
    let form = password_reset::NewPassword {
        user_id: Some(&user.id),
        token: Some(&token),
        password: Some("another long passphrase"),
        confirm_password: Some("another long passphrase"),
    };
    password_reset::reset_password(&w.ctx, ip("192.0.2.1"), form)
        .await
        .unwrap();
    let old = &session.issued.access_token;
    assert!(
        w.ctx.sessions.authenticate(Some(old)).is_err(),
        "the caller did not have to revoke anything"
    );
    assert!(matches!(
        w.sign_in("ada@example.com", PASSWORD, ip("192.0.2.1"))
            .await,
        Err(Error::InvalidCredentials)
    ));
}

#[tokio::test]
async fn password_reset_is_off_by_switch_after_the_limiter() {
    let w = world(&[("ALLOW_PASSWORD_RESET", "false")]).await;
    let asked =
        password_reset::request_reset(&w.ctx, ip("192.0.2.1"), Some("ada@example.com")).await;
    assert!(matches!(asked, Err(Error::PasswordResetDisabled)));
}

#[tokio::test]
async fn two_factor_sign_in_needs_the_code_and_guessing_is_limited() {
    let w = world(&[("TWO_FACTOR_TEMP_MAX", "5")]).await;
    let id = w.user("ada@example.com").await;
    let (secret, backup) = w.with_two_factor(&id).await;
    // The service refreshed its own cache: the next sign-in already asks for the code.
    let temp = match w
        .sign_in("ada@example.com", PASSWORD, ip("192.0.2.1"))
        .await
    {
        Ok(SignIn::SecondFactorRequired { temp_token }) => temp_token,
        _ => panic!("the second factor is required once 2FA is confirmed"),
    };
    let wrong = sign_in::complete_second_factor(
        &w.ctx,
        ip("192.0.2.1"),
        Some(&temp),
        Some(Code::Totp("000000")),
    )
    .await;
    assert!(matches!(wrong, Err(Error::Unauthorized(_))));
    let code = w.totp_now(&secret);
    let signed_in = sign_in::complete_second_factor(
        &w.ctx,
        ip("192.0.2.1"),
        Some(&temp),
        Some(Code::Totp(&code)),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.user.id, id);
    // A used code does not work twice (replay guard).
    let replayed = sign_in::complete_second_factor(
        &w.ctx,
        ip("192.0.2.1"),
        Some(&temp),
        Some(Code::Totp(&code)),
    )
    .await;
    assert!(replayed.is_err());
    // Guessing codes runs into the per-account window, from any route that checks codes.
    let mut limited = false;
    for _ in 0..50 {
        let guess = second_factor::check_code(
            &w.ctx,
            ip("203.0.113.9"),
            &id,
            Some(Code::Backup("nope-nope")),
        )
        .await;
        if matches!(guess, Err(Error::RateLimited(_))) {
            limited = true;
            break;
        }
    }
    assert!(limited, "code guesses are limited per account");
    assert!(!backup.is_empty());
}

#[tokio::test]
async fn deleting_an_account_follows_the_switch_and_ends_the_sessions() {
    let w = world(&[("ALLOW_ACCOUNT_DELETION", "false")]).await;
    // The first user is the ADMIN, who may always delete their account.
    let admin = w.user("admin@example.com").await;
    let user = w.user("ada@example.com").await;
    let refused = account::delete_account(&w.ctx, ip("192.0.2.1"), &user, None).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))));
    let session = w.signed_in("admin@example.com").await;
    account::delete_account(&w.ctx, ip("192.0.2.1"), &admin, None)
        .await
        .unwrap();
    assert!(w
        .ctx
        .sessions
        .authenticate(Some(&session.issued.access_token))
        .is_err());
    assert!(matches!(
        account::current_user(&w.ctx, &admin).await,
        Err(Error::Unauthorized(_))
    ));
}

#[tokio::test]
async fn the_operator_runs_the_registration_rules_and_keeps_usernames_unique() {
    let w = world(&[("ALLOW_REGISTRATION", "false")]).await;
    let new = |email: &str, username: &str| operator::NewUser {
        email: email.into(),
        name: "Ada Lovelace".into(),
        username: username.into(),
        password: PASSWORD.into(),
        email_verified: true,
        role: None,
    };
    let created = operator::create_user(&w.ctx, new("ada@example.com", "ada"))
        .await
        .unwrap();
    assert_eq!(
        created.user.role,
        Role::Admin,
        "the first user is the admin"
    );
    assert!(created.verification_mail.is_none());
    let same_name = operator::create_user(&w.ctx, new("bob@example.com", "ADA")).await;
    assert!(matches!(same_name, Err(Error::AlreadyExists(m)) if m.contains("username")));
    let same_email = operator::create_user(&w.ctx, new("ADA@example.com", "ada2")).await;
    assert!(matches!(same_email, Err(Error::AlreadyExists(m)) if m.contains("email")));
    // The API's email rule, not a check for '@'.
    let invalid = operator::create_user(&w.ctx, new("x@nope", "x")).await;
    assert!(matches!(invalid, Err(Error::Validation(m)) if m.contains("email")));
}

#[tokio::test]
async fn the_gateway_admits_public_paths_tokens_and_refuses_non_browsers() {
    let w = world(&[
        ("UPSTREAM_URL", "http://127.0.0.1:9"),
        ("PUBLIC_PATHS", "/assets/*"),
    ])
    .await;
    w.user("ada@example.com").await;
    let token = w.signed_in("ada@example.com").await.issued.access_token;
    let at = |path: &str| request_target::parse(path).unwrap();
    let request = |target, is_post, bearer, user_agent| chat_access::ChatRequest {
        client: ip("192.0.2.1"),
        is_post,
        target,
        bearer,
        browser_session: None,
        user_agent,
        hold_slot: false,
        host: chat_access::Host::AnyHost,
    };
    let assets = at("/assets/app.js");
    let public = chat_access::admit(&w.ctx, &request(&assets, false, None, None)).await;
    assert!(public.unwrap().claims.is_none());
    let convos = at("/api/convos");
    let anonymous = chat_access::admit(&w.ctx, &request(&convos, false, None, None)).await;
    assert!(matches!(anonymous, Err(Error::Unauthorized(_))));
    let with_token = chat_access::admit(&w.ctx, &request(&convos, false, Some(&token), None)).await;
    assert!(with_token.unwrap().claims.is_some());
    let chat = at("/api/agents/chat/openAI");
    let script = chat_access::admit(
        &w.ctx,
        &request(&chat, true, Some(&token), Some("curl/8.0")),
    )
    .await;
    assert!(matches!(script, Err(Error::NonBrowser)));
}

#[tokio::test]
async fn access_rules_name_the_roles_that_pass_per_host_and_path() {
    let w = world(&[
        ("PUBLIC_PATHS", "/assets/*"),
        (
            "ACCESS_RULES",
            "wiki.example.com/admin*=ADMIN; wiki.example.com=ADMIN|USER; */ops*=ADMIN",
        ),
    ])
    .await;
    w.user("root@example.com").await; // the first user is ADMIN
    w.user("ada@example.com").await;
    let admin = w.signed_in("root@example.com").await.issued.access_token;
    let user = w.signed_in("ada@example.com").await.issued.access_token;
    let decide = |path: &'static str, host: chat_access::Host<'static>, token: String| {
        let ctx = w.ctx.clone();
        async move {
            let target = request_target::parse(path).unwrap();
            let request = chat_access::ChatRequest {
                client: ip("192.0.2.1"),
                is_post: false,
                target: &target,
                bearer: Some(&token),
                browser_session: None,
                user_agent: None,
                hold_slot: false,
                host,
            };
            chat_access::admit(&ctx, &request).await.map(|_| ())
        }
    };
    let wiki = chat_access::Host::Named("wiki.example.com");
    let chat = chat_access::Host::Named("chat.example.com");
    assert!(decide("/admin/users", wiki, admin.clone()).await.is_ok());
    let refused = decide("/Admin/users", wiki, user.clone()).await;
    assert!(
        matches!(refused, Err(Error::Forbidden(_))),
        "case does not slip past"
    );
    assert!(decide("/page", wiki, user.clone()).await.is_ok());
    assert!(
        decide("/page", chat, user.clone()).await.is_ok(),
        "unmatched"
    );
    assert!(matches!(
        decide("/ops/x", chat, user.clone()).await,
        Err(Error::Forbidden(_))
    ));
    // The proxy compares no host: the first rule with a matching path decides.
    assert!(matches!(
        decide("/admin", chat_access::Host::AnyHost, user.clone()).await,
        Err(Error::Forbidden(_))
    ));
    // Forward-auth that cannot name the host is refused rather than guessed.
    assert!(matches!(
        decide("/page", chat_access::Host::Unknown, admin.clone()).await,
        Err(Error::BadRequest(_))
    ));
    // Public paths need no login, so no rule either.
    let target = request_target::parse("/assets/a.js").unwrap();
    let public = chat_access::ChatRequest {
        client: ip("192.0.2.1"),
        is_post: false,
        target: &target,
        bearer: None,
        browser_session: None,
        user_agent: None,
        hold_slot: false,
        host: chat_access::Host::Unknown,
    };
    assert!(chat_access::admit(&w.ctx, &public).await.is_ok());
}

#[tokio::test]
async fn refresh_from_a_banned_ip_is_refused_and_the_session_stays() {
    let w = world(&[]).await;
    w.user("ada@example.com").await;
    let first = w.signed_in("ada@example.com").await;
    let token = first.issued.refresh_token.clone().unwrap();
    let banned = ip("203.0.113.9");
    w.ctx
        .moderation
        .ban(Subject::Ip(banned.ip), "logins", 20, 60_000)
        .await
        .unwrap();
    let refused = sign_in::refresh(&w.ctx, banned.ip, &token, false).await;
    assert!(matches!(refused, Err(Error::Banned { .. })));
    // Nothing was rotated: the same token renews from an address that is not banned.
    let renewed = sign_in::refresh(&w.ctx, ip("10.0.0.1").ip, &token, false).await;
    assert!(renewed.is_ok());
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_the_session() {
    let w = world(&[]).await;
    w.user("ada@example.com").await;
    let first = w.signed_in("ada@example.com").await;
    let old = first.issued.refresh_token.clone().unwrap();
    let renewed = sign_in::refresh(&w.ctx, ip("10.0.0.1").ip, &old, false)
        .await
        .unwrap();
    let new = renewed.issued.refresh_token.clone().unwrap();
    assert_ne!(new, old, "every refresh rotates the token");
    // Past the grace window for tabs refreshing together, the old token is theft.
    w.clock.advance_ms(60_000);
    let replayed = sign_in::refresh(&w.ctx, ip("10.0.0.1").ip, &old, false).await;
    assert!(matches!(
        replayed,
        Err(Error::SessionNotFound { retry: false })
    ));
    let after = sign_in::refresh(&w.ctx, ip("10.0.0.1").ip, &new, false).await;
    assert!(
        matches!(after, Err(Error::SessionNotFound { .. })),
        "the whole session was revoked"
    );
    assert!(w
        .ctx
        .sessions
        .authenticate(Some(&renewed.issued.access_token))
        .is_err());
}

#[tokio::test]
async fn failed_logins_ban_the_ip_never_the_account() {
    let w = world(&[
        ("LOGIN_MAX", "1"),
        ("LOGIN_VIOLATION_SCORE", "1"),
        ("BAN_VIOLATIONS", "true"),
        ("BAN_INTERVAL", "2"),
    ])
    .await;
    w.user("ada@example.com").await;
    let attacker = ip("203.0.113.66");
    let mut last = None;
    for _ in 0..4 {
        last = Some(
            w.sign_in("ada@example.com", "guess", attacker.clone())
                .await,
        );
    }
    assert!(
        matches!(last, Some(Err(Error::Banned { .. }))),
        "the attacker's IP is banned"
    );
    // The victim signs in from elsewhere as ever.
    assert!(matches!(
        w.sign_in("ada@example.com", PASSWORD, ip("192.0.2.77"))
            .await,
        Ok(SignIn::SignedIn(_))
    ));
}

fn browser(text: &str) -> Client {
    Client::browser(
        text.parse::<IpAddr>().unwrap(),
        Some("Mozilla/5.0 Firefox/140.0"),
    )
}

#[tokio::test]
async fn a_revoked_browser_session_stays_refused_for_the_sessions_whole_life() {
    let w = world(&[]).await;
    w.user("ada@example.com").await;
    let Ok(SignIn::SignedIn(s)) = w
        .sign_in("ada@example.com", PASSWORD, browser("192.0.2.9"))
        .await
    else {
        panic!("expected a session");
    };
    let cookie = s.issued.browser_token.clone().expect("a browser cookie");
    assert!(
        s.issued.refresh_token.is_none(),
        "no LibreChat refresh cookie"
    );
    let client = browser("192.0.2.9");
    let read =
        |c: &str| access::authenticate_browser(&w.ctx, &client, Some(c), access::Access::Full);
    assert_eq!(read(&cookie).unwrap().email, "ada@example.com");
    // The cookie is no access token, and no access token is a cookie.
    assert!(w.ctx.sessions.authenticate(Some(&cookie)).is_err());
    assert!(read(&s.issued.access_token).is_err());
    // Listed with its device; ended by its owner only.
    let listed = account::sessions(&w.ctx, &s.user.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, "browser");
    assert_eq!(listed[0].ip.as_deref(), Some("192.0.2.9"));
    assert!(listed[0].user_agent.as_deref().unwrap().contains("Firefox"));
    let other = w.user("eve@example.com").await;
    let sid = listed[0].id.clone();
    assert!(account::revoke_session(&w.ctx, &other, &sid).await.is_err());
    assert!(read(&cookie).is_ok(), "another user cannot end it");
    account::revoke_session(&w.ctx, &s.user.id, &sid)
        .await
        .unwrap();
    assert!(read(&cookie).is_err());
    // Long after an access token would have expired (15 minutes), still refused: the cookie
    // itself is valid for the session's 7 days.
    w.clock.advance_ms(24 * 60 * 60 * 1000);
    w.ctx.sessions.purge_expired().await.unwrap();
    assert!(matches!(read(&cookie), Err(Error::Unauthorized(m)) if m == "Session revoked"));
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
    let w = world(&[]).await;
    let id = w.user("ada@example.com").await;
    let api = w.signed_in("ada@example.com").await;
    let client = browser("192.0.2.9");
    let wrong = account::change_password(
        &w.ctx,
        client.clone(),
        &id,
        Some("not my password"),
        Some("a brand new password"),
        Some("a brand new password"),
    )
    .await;
    assert!(matches!(wrong, Err(Error::InvalidCredentials)));
    let differ = account::change_password(
        &w.ctx,
        client.clone(),
        &id,
        Some(PASSWORD),
        Some("a brand new password"),
        Some("another new password"),
    )
    .await;
    assert!(matches!(differ, Err(Error::Validation(m)) if m.starts_with("confirm_password")));
    assert!(w
        .ctx
        .sessions
        .authenticate(Some(&api.issued.access_token))
        .is_ok());
    let changed = account::change_password(
        &w.ctx,
        client.clone(),
        &id,
        Some(PASSWORD),
        Some("a brand new password"),
        Some("a brand new password"),
    )
    .await
    .unwrap();
    assert!(w
        .ctx
        .sessions
        .authenticate(Some(&api.issued.access_token))
        .is_err());
    let cookie = changed.issued.browser_token.unwrap();
    assert!(
        access::authenticate_browser(&w.ctx, &client, Some(&cookie), access::Access::Full).is_ok()
    );
    assert!(w
        .sign_in("ada@example.com", PASSWORD, ip("192.0.2.1"))
        .await
        .is_err());
    assert!(w
        .sign_in("ada@example.com", "a brand new password", ip("192.0.2.1"))
        .await
        .is_ok());
}
