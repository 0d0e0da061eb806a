//! LDAP sign-in against a real slapd (`ldap_peer.rs`): LibreChat's variables and attribute
//! rules, and what Bouncer does better: escaped filters, no empty binds, verified TLS, a 503
//! when the directory is down, and the moderation system and 2FA as for local users.

use bouncer::clock::Clock;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ldap_peer::{Slapd, ALICE, BOB, CAROL, PEOPLE};

/// A directory, or `None` (and a skip line) where slapd is not installed.
fn directory(test: &str) -> Option<Slapd> {
    if !crate::ldap_peer::available() {
        skip(test, "slapd is not installed (apt-get install slapd)");
        return None;
    }
    Some(Slapd::start())
}

/// An app signing in against `url` with the service account and the test CA, plus `extra`.
async fn app(slapd: &Slapd, url: &str, extra: &[(&str, &str)]) -> TestApp {
    let vars = slapd.vars(url);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    spawn_app_with(&all).await
}

async fn login(app: &TestApp, login: &str, password: &str) -> (u16, Value) {
    status_and_json(app.login(login, password).await).await
}

#[tokio::test]
async fn directory_users_sign_in_are_created_then_follow_the_directory() {
    let Some(slapd) = directory("directory_users_sign_in_are_created_then_follow_the_directory")
    else {
        return;
    };
    let app = app(&slapd, &slapd.ldaps_url, &[("ALLOW_REGISTRATION", "true")]).await;

    let (_, config) =
        status_and_json(app.bare.get(app.url("/api/config")).send().await.unwrap()).await;
    assert_eq!(config["ldap"], json!({ "enabled": true }));
    assert_eq!(
        config["registrationEnabled"],
        json!(false),
        "LDAP closes registration"
    );

    let response = app.login(ALICE.0, ALICE.1).await;
    assert!(set_cookie_line(response.headers(), "refreshToken").is_some());
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    let user = &body["user"];
    assert_eq!(user["provider"], "ldap");
    assert_eq!(user["email"], ALICE.0);
    assert_eq!(user["name"], "Alice Liddell");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(
        user["role"], "ADMIN",
        "the first user ever is ADMIN, as in LibreChat"
    );
    let token = body["token"].as_str().unwrap().to_string();
    let (status, me) = status_and_json(app.get_user(&token).await).await;
    assert_eq!((status, me["provider"].clone()), (200, json!("ldap")));

    // The directory's administrator renames her: the next sign-in brings the new name.
    slapd
        .replace(
            &format!("uid=alice,{PEOPLE}"),
            "cn",
            "Alice Pleasance Liddell",
        )
        .await;
    let (status, body) = login(&app, ALICE.0, ALICE.1).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["name"], "Alice Pleasance Liddell");
    assert_eq!(body["user"]["id"], user["id"], "the same account");
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);

    // Registration is closed with LDAP on, even though ALLOW_REGISTRATION=true.
    let (status, _) = status_and_json(app.register("Eve", "eve@example.org", PASSWORD).await).await;
    assert_eq!(status, 403);

    // The directory gives her an address another account holds: refused, nothing overwritten.
    bouncer::usecases::operator::create_user(
        &app.ctx,
        bouncer::usecases::operator::NewUser {
            email: "taken@example.org".into(),
            name: "Someone Else".into(),
            username: "someone".into(),
            password: PASSWORD.into(),
            email_verified: true,
            role: None,
        },
    )
    .await
    .unwrap();
    slapd
        .replace(&format!("uid=alice,{PEOPLE}"), "mail", "taken@example.org")
        .await;
    let (status, body) = login(&app, "taken@example.org", ALICE.1).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("auth_failed")),
        "{body}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = $1", &[ALICE.0])
            .await,
        1,
        "her account keeps its address"
    );
}

#[tokio::test]
async fn failures_look_alike_and_filters_are_escaped() {
    let Some(slapd) = directory("failures_look_alike_and_filters_are_escaped") else {
        return;
    };
    let app = app(&slapd, &slapd.ldaps_url, &[]).await;
    let wrong_password = login(&app, ALICE.0, "not-her-password").await;
    assert_eq!(wrong_password.0, 404, "{}", wrong_password.1);
    let unknown = login(&app, "nobody@example.org", ALICE.1).await;
    assert_eq!(
        unknown, wrong_password,
        "an unknown user and a wrong password answer alike"
    );
    // With the login pasted into the filter unescaped, `*` would find Alice (or the first of
    // several), and her password would sign in as her.
    for injection in ["*", "*)(uid=*", "alice@example.org)(|(mail=*", "*)(mail=*"] {
        assert_eq!(
            login(&app, injection, ALICE.1).await,
            wrong_password,
            "{injection}"
        );
    }
    // Two entries share this mail: an ambiguous filter signs in nobody.
    assert_eq!(
        login(&app, "twins@example.org", "twin-password").await,
        wrong_password
    );
    // An empty password never reaches a bind (an empty simple bind is an anonymous success).
    let (status, body) = login(&app, ALICE.0, "").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Missing credentials"))
    );
    let (status, _) = login(&app, "", ALICE.1).await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
    assert_eq!(login(&app, ALICE.0, ALICE.1).await.0, 200);
}

#[tokio::test]
async fn usernames_active_directory_attributes_and_the_mail_fallback() {
    let Some(slapd) = directory("usernames_active_directory_attributes_and_the_mail_fallback")
    else {
        return;
    };
    let app = app(
        &slapd,
        &slapd.ldaps_url,
        &[
            ("LDAP_LOGIN_USES_USERNAME", "true"),
            (
                "LDAP_SEARCH_FILTER",
                "(|(uid={{username}})(sAMAccountName={{username}}))",
            ),
            ("LDAP_EMAIL", "userPrincipalName"),
            ("LDAP_FULL_NAME", "givenName,sn"),
        ],
    )
    .await;
    let (_, config) =
        status_and_json(app.bare.get(app.url("/api/config")).send().await.unwrap()).await;
    assert_eq!(config["ldap"], json!({ "enabled": true, "username": true }));

    let (status, body) = login(&app, BOB.0, BOB.1).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "bob@corp.example", "LDAP_EMAIL");
    assert_eq!(body["user"]["name"], "Bob Builder", "LDAP_FULL_NAME");
    assert_eq!(body["user"]["username"], "bob", "givenName, lower-cased");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM user_identities WHERE provider = 'ldap' AND subject = $1",
            &["bob"]
        )
        .await,
        1,
        "ldapId falls back to sAMAccountName"
    );

    // The sign-in page asks for a username, and its form signs in through the directory.
    let page = app.browser.get(app.url("/ui/login")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains(">Username</label>"), "{html}");
    assert!(html.contains(r#"name="email" type="text""#), "{html}");
    assert!(
        !html.contains("/forgot"),
        "no local password reset with the directory"
    );
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let signed_in = app
        .browser
        .post(app.url("/ui/login"))
        .form(&[
            ("csrf", csrf),
            ("email", BOB.0),
            ("password", BOB.1),
            ("rd", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert!(
        set_cookies(signed_in.headers())
            .iter()
            .any(|c| c.starts_with("bouncer_session=")),
        "{:?}",
        signed_in.headers()
    );

    // Carol has no mail and no userPrincipalName: LibreChat's stand-in address.
    let (status, body) = login(&app, CAROL.0, CAROL.1).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "carol@ldap.local");
    assert_eq!(body["user"]["role"], "USER", "only the first user is ADMIN");
}

#[tokio::test]
async fn tls_is_verified_with_the_given_ca_on_ldaps_and_starttls() {
    let Some(slapd) = directory("tls_is_verified_with_the_given_ca_on_ldaps_and_starttls") else {
        return;
    };
    let other_ca = slapd.other_ca_path.display().to_string();
    for (url, starttls) in [(&slapd.ldaps_url, "false"), (&slapd.ldap_url, "true")] {
        let good = app(&slapd, url, &[("LDAP_STARTTLS", starttls)]).await;
        assert_eq!(
            login(&good, ALICE.0, ALICE.1).await.0,
            200,
            "{url} {starttls}"
        );

        let wrong_ca = app(
            &slapd,
            url,
            &[
                ("LDAP_STARTTLS", starttls),
                ("LDAP_CA_CERT_PATH", &other_ca),
            ],
        )
        .await;
        let (status, body) = login(&wrong_ca, ALICE.0, ALICE.1).await;
        assert_eq!(
            status, 503,
            "a certificate of another CA is refused: {body}"
        );
        assert_eq!(wrong_ca.count("SELECT COUNT(*) FROM users", &[]).await, 0);

        let unchecked = app(
            &slapd,
            url,
            &[
                ("LDAP_STARTTLS", starttls),
                ("LDAP_CA_CERT_PATH", &other_ca),
                ("LDAP_TLS_REJECT_UNAUTHORIZED", "false"),
            ],
        )
        .await;
        assert_eq!(
            login(&unchecked, ALICE.0, ALICE.1).await.0,
            200,
            "only when told"
        );
    }
}

#[tokio::test]
async fn an_unreachable_or_refusing_directory_is_503_not_a_wrong_password() {
    let Some(mut slapd) =
        directory("an_unreachable_or_refusing_directory_is_503_not_a_wrong_password")
    else {
        return;
    };
    let wrong_service = app(
        &slapd,
        &slapd.ldaps_url,
        &[("LDAP_BIND_CREDENTIALS", "not-the-service-password")],
    )
    .await;
    assert_eq!(login(&wrong_service, ALICE.0, ALICE.1).await.0, 503);

    // Anonymous search (no service account) works where the directory allows it.
    let url = slapd.ldaps_url.clone();
    let ca = slapd.ca_path.display().to_string();
    let anonymous = spawn_app_with(&[
        ("LDAP_URL", &url),
        ("LDAP_USER_SEARCH_BASE", PEOPLE),
        ("LDAP_CA_CERT_PATH", &ca),
    ])
    .await;
    assert_eq!(login(&anonymous, ALICE.0, ALICE.1).await.0, 200);

    slapd.stop();
    let (status, body) = login(&anonymous, ALICE.0, ALICE.1).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["message"], "Service unavailable");
    let (status, _) = login(&anonymous, "nobody@example.org", "x").await;
    assert_eq!(status, 503, "the directory is down for everyone alike");
}

#[tokio::test]
async fn second_factor_bans_and_the_login_limiter_apply_to_directory_users() {
    let Some(slapd) =
        directory("second_factor_bans_and_the_login_limiter_apply_to_directory_users")
    else {
        return;
    };
    let app = app(&slapd, &slapd.ldaps_url, &[("LOGIN_MAX", "6")]).await;
    let (status, body) = login(&app, ALICE.0, ALICE.1).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();

    // 2FA enrolled: the password step now ends in the temp-token step.
    let (status, enabled) = app.enable_2fa(&token).await;
    assert_eq!(status, 200, "{enabled}");
    let otpauth = url::Url::parse(enabled["otpauthUrl"].as_str().unwrap()).unwrap();
    let secret = otpauth
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        app.confirm_2fa(&token, &totp_now(&app, &secret)).await.0,
        200
    );
    app.clock.advance_ms(30_000);
    let (status, pending) = login(&app, ALICE.0, ALICE.1).await;
    assert_eq!(status, 200);
    assert_eq!(pending["twoFAPending"], true, "{pending}");
    assert!(pending.get("token").is_none());
    let temp = pending["tempToken"].as_str().unwrap();
    let (status, done) = app.verify_temp(temp, &totp_now(&app, &secret)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["user"]["provider"], "ldap");

    // A ban of the user refuses the directory sign-in too.
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::User {
                id: &user_id,
                ip: "10.9.9.9".parse().unwrap(),
            },
            "test",
            99,
            60_000,
        )
        .await
        .unwrap();
    assert_eq!(login(&app, ALICE.0, ALICE.1).await.0, 403);

    // The login limiter counts directory logins as local ones: 6 in the window (three above,
    // the banned one included: an account's ban is checked after the IP's limiter), then 429.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(login(&app, CAROL.0, "wrong").await.0);
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
}

#[tokio::test]
async fn require_2fa_confines_directory_users_to_enrolment() {
    let Some(slapd) = directory("require_2fa_confines_directory_users_to_enrolment") else {
        return;
    };
    let app = app(&slapd, &slapd.ldaps_url, &[("REQUIRE_2FA", "true")]).await;
    let (status, body) = login(&app, ALICE.0, ALICE.1).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    let (status, refused) = status_and_json(app.get_user(token).await).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["twoFASetupRequired"], true);
}

#[tokio::test]
async fn accounts_of_other_providers_and_refused_domains_are_not_signed_in() {
    let Some(slapd) =
        directory("accounts_of_other_providers_and_refused_domains_are_not_signed_in")
    else {
        return;
    };
    let app = app(&slapd, &slapd.ldaps_url, &[]).await;
    // A local account with Alice's address exists: the directory must not take it over.
    bouncer::usecases::operator::create_user(
        &app.ctx,
        bouncer::usecases::operator::NewUser {
            email: ALICE.0.into(),
            name: "Local Alice".into(),
            username: "localalice".into(),
            password: PASSWORD.into(),
            email_verified: true,
            role: None,
        },
    )
    .await
    .unwrap();
    let (status, body) = login(&app, ALICE.0, ALICE.1).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("auth_failed")),
        "{body}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE provider = 'local'", &[])
            .await,
        1
    );
    // Nor does the local password work while the directory holds the passwords.
    assert_eq!(login(&app, ALICE.0, PASSWORD).await.0, 404);

    // allowedDomains of librechat.yaml applies to directory users.
    let yaml = app.dir.path().join("librechat.yaml");
    std::fs::write(
        &yaml,
        "registration:\n  allowedDomains:\n    - corp.example\n",
    )
    .unwrap();
    let yaml = yaml.display().to_string();
    let restricted = app_with_yaml(&slapd, &yaml).await;
    let (status, body) = login(&restricted, CAROL.0, CAROL.1).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Email domain not allowed"))
    );
    let (status, _) = status_and_json(restricted.login(BOB.0, BOB.1).await).await;
    assert_eq!(status, 404, "bob is found only by the AD filter");
}

async fn app_with_yaml(slapd: &Slapd, yaml: &str) -> TestApp {
    app(
        slapd,
        &slapd.ldaps_url,
        &[
            ("CONFIG_PATH", yaml),
            ("LDAP_SEARCH_FILTER", "(uid={{username}})"),
        ],
    )
    .await
}

/// The current TOTP code for a base32 secret, by the app's clock.
fn totp_now(app: &TestApp, secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes);
    totp.generate((app.clock.now_ms() / 1000) as u64)
}

/// A "directory" that accepts connections and never answers. Returns its URL and the most
/// connections it ever held open at once: at each accept it first drops the ones the client
/// has closed (their EOF is already in the kernel by then, since a client closes before it
/// connects again).
async fn stalled_directory() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    let most = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = most.clone();
    tokio::spawn(async move {
        let mut held: Vec<tokio::net::TcpStream> = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.retain(|s| {
                let mut sink = [0u8; 4096];
                loop {
                    match s.try_read(&mut sink) {
                        Ok(0) => return false,
                        Ok(_) => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                        Err(_) => return false,
                    }
                }
            });
            held.push(socket);
            seen.fetch_max(held.len(), Ordering::SeqCst);
        }
    });
    (url, most)
}

#[tokio::test]
async fn a_directory_that_stalls_answers_503_and_holds_no_more_connections_than_the_pool() {
    let (url, most_open) = stalled_directory().await;
    let app = spawn_app_with(&[
        ("LDAP_URL", &url),
        ("LDAP_USER_SEARCH_BASE", PEOPLE),
        ("LDAP_TIMEOUT", "300"),
        ("LDAP_POOL_SIZE", "2"),
    ])
    .await;
    let logins = (0..8).map(|i| {
        let app = &app;
        async move {
            login(app, &format!("user{i}@example.org"), "password")
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(logins).await;
    assert_eq!(
        statuses, [503; 8],
        "a stalled directory is unavailable, not a wrong password"
    );
    let most = most_open.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "logins waited for the pool's 2 connections instead of opening {most}"
    );
}

#[tokio::test]
async fn concurrent_first_sign_ins_of_one_person_all_succeed_with_one_account() {
    let Some(slapd) =
        directory("concurrent_first_sign_ins_of_one_person_all_succeed_with_one_account")
    else {
        return;
    };
    let app = app(&slapd, &slapd.ldaps_url, &[]).await;
    let logins = (0..6).map(|_| login(&app, ALICE.0, ALICE.1));
    let statuses: Vec<u16> = futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses, [200; 6],
        "the losers of the insert find the winner's account"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);
}
