//! Moving from LibreChat: `bouncer import-librechat` run as the real binary on users documents
//! made the way LibreChat and mongoexport make them (passwords hashed by bcryptjs, TOTP secrets
//! encrypted by LibreChat's v3 algorithm in Node, the documents written by pymongo's
//! bson.json_util in relaxed and canonical mode; `tests/peers/librechat_export/`), then the
//! imported people signing in; and `bouncer export` read back by the import.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use bouncer::accounts::ExternalRules;
use bouncer::clock::Clock;
use bouncer::sso::ExternalProfile;
use bouncer::store::users::Provider;
use bouncer::twofactor::cipher::SecretCipher;
use serde_json::Value;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::*;

/// The plain TOTP secret the fixture's 2FA user enrolled with (LibreChat stores it encrypted).
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";
/// The fixture's backup codes: the first unused, the second already used in LibreChat.
const BACKUP_UNUSED: &str = "a1b2c3d4";
const BACKUP_USED: &str = "e5f6a7b8";
const OPENID_ISSUER: &str = "https://idp.example.com";
const ADA: &str = "65a000000000000000000001";
const GWEN: &str = "65a000000000000000000003";
const OLGA: &str = "65a000000000000000000008";
/// Users the scenario file holds that import, and documents it holds that do not.
const GOOD: usize = 12;
const BAD: usize = 6;

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/librechat_export")
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// LibreChat's stored password and TOTP secret for [`PASSWORD`] and [`TOTP_SECRET`] under the
/// test `CREDS_KEY`, made by bcryptjs and node:crypto (`npm ci` the first time): the path of
/// the JSON file. `None` (a skip, a failure under CI) without Node.js.
fn librechat_secrets(test: &str) -> Option<&'static Path> {
    if !runs("node") || !runs("npm") {
        skip(test, "node and npm are not installed");
        return None;
    }
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    Some(FILE.get_or_init(|| {
        let dir = peer_dir();
        if !dir.join("node_modules/bcryptjs").is_dir() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm runs");
            assert!(
                status.success(),
                "npm ci in tests/peers/librechat_export failed"
            );
        }
        let out = Command::new("node")
            .arg(dir.join("librechat_secrets.mjs"))
            .args([PASSWORD, CREDS_KEY, TOTP_SECRET])
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secrets: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(secrets["password"].as_str().unwrap().starts_with("$2a$10$"));
        assert!(secrets["totpSecret"].as_str().unwrap().starts_with("v3:"));
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("librechat-secrets.json");
        std::fs::write(&path, &out.stdout).unwrap();
        path
    }))
}

/// A users file written by `make_users.py` (pymongo's json_util) into the app's folder.
fn make_users(test: &str, app: &TestApp, name: &str, args: &[&str]) -> Option<PathBuf> {
    let secrets = librechat_secrets(test)?;
    if !runs("python3") {
        skip(test, "python3 is not installed");
        return None;
    }
    let out = app.dir.path().join(name);
    let now_s = (app.clock.now_ms() / 1000).to_string();
    let now_ms = format!("{now_s}000");
    let status = Command::new(crate::mail_peers::python())
        .arg(peer_dir().join("make_users.py"))
        .arg("--secrets")
        .arg(secrets)
        .arg("--out")
        .arg(&out)
        .args(["--issuer", OPENID_ISSUER, "--now-ms", &now_ms])
        .args(args)
        .status()
        .expect("python runs");
    assert!(status.success(), "make_users.py failed");
    Some(out)
}

fn bouncer(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bouncer"));
    cmd.current_dir(app.dir.path())
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        // LibreChat's: its TOTP secrets are encrypted with it.
        .env("CREDS_KEY", CREDS_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(app: &TestApp, args: &[&str]) -> Output {
    bouncer(app).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn import(app: &TestApp, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["import-librechat", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(app, &args);
    assert!(
        out.status.success(),
        "stdout: {} stderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn summary(imported: usize, updated: usize, skipped: usize, rejected: usize) -> String {
    format!("Imported {imported}, updated {updated}, skipped {skipped}, rejected {rejected}")
}

/// The code an authenticator shows for `secret` at the app's time.
fn code_at(secret: &str, app: &TestApp) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes)
        .generate((app.clock.now_ms() / 1000) as u64)
}

async fn temp_token(app: &TestApp, email: &str) -> String {
    let (status, body) = status_and_json(app.login(email, PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["twoFAPending"], true, "{body}");
    body["tempToken"].as_str().unwrap().to_string()
}

async fn text(app: &TestApp, sql: &str, param: &str) -> Option<String> {
    let db = app.db().await;
    sqlx::query_as::<_, (Option<String>,)>(sql)
        .bind(param)
        .fetch_optional(&db)
        .await
        .unwrap()
        .and_then(|(v,)| v)
}

async fn number(app: &TestApp, sql: &str, param: &str) -> Option<i64> {
    let db = app.db().await;
    sqlx::query_as::<_, (Option<i64>,)>(sql)
        .bind(param)
        .fetch_optional(&db)
        .await
        .unwrap()
        .and_then(|(v,)| v)
}

/// What every import of the scenario file must have done, whatever its Extended JSON mode.
async fn assert_scenario_imported(app: &TestApp, out: &Output, array: bool) {
    let (out_text, err) = (stdout(out), stderr(out));
    assert!(out_text.contains(&summary(GOOD, 0, 0, BAD)), "{out_text}");
    assert!(
        out_text.contains(&format!("({} documents", GOOD + BAD)),
        "{out_text}"
    );
    let rejected: Vec<&str> = err.lines().filter(|l| l.contains(": rejected: ")).collect();
    assert_eq!(rejected.len(), BAD, "{err}");
    for reason in [
        &format!("_id {ADA} already appeared on line")[..],
        "email ada@example.com already appeared on line",
        "email is missing",
        "the google account google-sub-1001 already appeared on line",
        "password is not a bcrypt",
        if array {
            "not a JSON object"
        } else {
            "not valid JSON"
        },
    ] {
        assert!(
            rejected.iter().any(|l| l.contains(reason)),
            "{reason:?} not in {err}"
        );
    }
    if !array {
        assert!(
            err.contains(&format!(
                "line 13: rejected: _id {ADA} already appeared on line 1"
            )),
            "{err}"
        );
        assert!(err.contains("line 14: rejected: not valid JSON"), "{err}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        GOOD as i64
    );
    // No half user of a rejected document.
    for email in ["ada2@example.com", "gwen2@example.com", "plain@example.com"] {
        assert_eq!(
            app.count("SELECT COUNT(*) FROM users WHERE email = $1", &[email])
                .await,
            0,
            "{email}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM user_identities", &[]).await,
        8,
        "one identity per provider id"
    );
    for (provider, issuer, subject, user) in [
        ("google", "", "google-sub-1001", GWEN),
        ("github", "", "424242", "65a000000000000000000004"),
        ("discord", "", "808080808080", "65a000000000000000000005"),
        ("facebook", "", "fb-5150", "65a000000000000000000006"),
        (
            "apple",
            "",
            "000123.abcdef.0456",
            "65a000000000000000000007",
        ),
        ("openid", OPENID_ISSUER, "oidc-sub-7", OLGA),
        ("ldap", "", "lin", "65a000000000000000000009"),
        ("saml", "", "saml-name-id-9", "65a00000000000000000000a"),
    ] {
        let db = app.db().await;
        let owner: Option<(String,)> = sqlx::query_as(
            "SELECT user_id FROM user_identities WHERE provider = $1 AND issuer = $2 AND subject = $3",
        )
        .bind(provider)
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&db)
        .await
        .unwrap();
        assert_eq!(owner.map(|(u,)| u).as_deref(), Some(user), "{provider}");
    }
    assert_eq!(
        text(app, "SELECT provider FROM users WHERE id = $1", GWEN)
            .await
            .as_deref(),
        Some("google")
    );
    assert_eq!(
        text(
            app,
            "SELECT role FROM users WHERE email = $1",
            "mod@example.com"
        )
        .await
        .as_deref(),
        Some("MODERATOR")
    );
    // 2024-01-02T03:04:05.678Z, kept.
    assert_eq!(
        number(app, "SELECT created_at FROM users WHERE id = $1", ADA).await,
        Some(1_704_164_645_678)
    );
    let week = 7 * 86_400 * 1000;
    assert_eq!(
        number(
            app,
            "SELECT expires_at FROM users WHERE email = $1",
            "uma@example.com"
        )
        .await,
        Some(app.clock.now_ms() / 1000 * 1000 + week)
    );
    assert!(
        text(
            app,
            "SELECT totp_secret FROM users WHERE email = $1",
            "tess@example.com"
        )
        .await
        .unwrap()
        .starts_with("gcm:"),
        "stored in Bouncer's authenticated format"
    );
}

#[tokio::test]
async fn librechat_users_sign_in_with_their_password_2fa_and_backup_codes() {
    let test = "librechat_users_sign_in_with_their_password_2fa_and_backup_codes";
    let app = spawn_app().await;
    let Some(file) = make_users(test, &app, "users.json", &["--mode", "relaxed"]) else {
        return;
    };
    let out = import(&app, &file, &[]);
    assert_scenario_imported(&app, &out, false).await;

    // The bcryptjs hash signs in, as the same account, and is upgraded to argon2id.
    let (status, body) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], ADA);
    assert_eq!(body["user"]["role"], "ADMIN");
    assert_eq!(body["user"]["avatar"], "https://images.example.com/ada.png");
    assert!(
        text(&app, "SELECT password_hash FROM users WHERE id = $1", ADA)
            .await
            .unwrap()
            .starts_with("$argon2id$")
    );
    let (status, _) = status_and_json(app.login("ada@example.com", "wrong password!").await).await;
    assert_eq!(status, 404, "a wrong password is refused as ever");

    // The v3-encrypted TOTP secret passes 2FA.
    let temp = temp_token(&app, "tess@example.com").await;
    let (status, body) = app.verify_temp(&temp, &code_at(TOTP_SECRET, &app)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "tess@example.com");
    // An unused backup code works once; the one used in LibreChat does not.
    let temp = temp_token(&app, "tess@example.com").await;
    let (status, body) = app.verify_temp_backup(&temp, BACKUP_UNUSED).await;
    assert_eq!(status, 200, "{body}");
    let temp = temp_token(&app, "tess@example.com").await;
    assert_eq!(app.verify_temp_backup(&temp, BACKUP_UNUSED).await.0, 401);
    assert_eq!(app.verify_temp_backup(&temp, BACKUP_USED).await.0, 401);

    // Users exist: a new registration is not the first user ever.
    assert_eq!(
        app.register("Newcomer", "new@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        text(
            &app,
            "SELECT role FROM users WHERE email = $1",
            "new@example.com"
        )
        .await
        .as_deref(),
        Some("USER")
    );

    // The unverified account is deleted when its expiresAt has passed.
    app.clock.advance_ms(7 * 86_400 * 1000 + 1000);
    app.ctx.accounts.purge_expired().await.unwrap();
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'uma@example.com'",
            &[]
        )
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE id = $1", &[ADA])
            .await,
        1
    );
}

#[tokio::test]
async fn a_canonical_json_array_imports_the_same_users() {
    let test = "a_canonical_json_array_imports_the_same_users";
    let app = spawn_app().await;
    let Some(file) = make_users(
        test,
        &app,
        "users.json",
        &["--mode", "canonical", "--array"],
    ) else {
        return;
    };
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("$numberLong"));
    let out = import(&app, &file, &[]);
    assert_scenario_imported(&app, &out, true).await;
    let temp = temp_token(&app, "tess@example.com").await;
    let (status, body) = app.verify_temp(&temp, &code_at(TOTP_SECRET, &app)).await;
    assert_eq!(status, 200, "{body}");
}

/// A relaxed document of a new local user, hand-written.
fn document(id: &str, email: &str, extra: &str) -> String {
    format!(
        r#"{{"_id": {{"$oid": "{id}"}}, "email": "{email}", "name": "N", "username": "n", "emailVerified": true, "provider": "local", "role": "USER", "createdAt": {{"$date": "2024-02-02T00:00:00.000Z"}}{extra}}}"#
    )
}

#[tokio::test]
async fn importing_again_skips_or_updates_and_never_duplicates() {
    let test = "importing_again_skips_or_updates_and_never_duplicates";
    let app = spawn_app().await;
    let Some(file) = make_users(test, &app, "users.json", &["--mode", "relaxed"]) else {
        return;
    };

    let dry = import(&app, &file, &["--dry-run"]);
    assert!(
        stdout(&dry)
            .contains("Dry run, nothing written: would import 12, update 0, skip 0, reject 6"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);

    import(&app, &file, &[]);
    let again = import(&app, &file, &[]);
    assert!(
        stdout(&again).contains(&summary(0, 0, GOOD, BAD)),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        GOOD as i64
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM user_identities", &[]).await,
        8
    );

    // Changed in Bouncer, then --update puts the file's values back.
    let db = app.db().await;
    sqlx::query("UPDATE users SET name = 'Changed', role = 'USER' WHERE id = $1")
        .bind(ADA)
        .execute(&db)
        .await
        .unwrap();
    let updated = import(&app, &file, &["--update"]);
    assert!(
        stdout(&updated).contains(&summary(0, GOOD, 0, BAD)),
        "{}",
        stdout(&updated)
    );
    assert_eq!(
        text(&app, "SELECT name FROM users WHERE id = $1", ADA)
            .await
            .as_deref(),
        Some("Ada Lovelace")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        GOOD as i64
    );

    // Against the database: an email or a provider account of another user is refused before
    // the batch writes, and the rest of the batch lands whole.
    let more = app.dir.path().join("more.json");
    std::fs::write(
        &more,
        [
            document("65b000000000000000000001", "fresh@example.com", ""),
            document("65b000000000000000000002", "ADA@example.com", ""),
            document(
                "65b000000000000000000003",
                "twin@example.com",
                r#", "provider": "google", "googleId": "google-sub-1001""#,
            ),
            document(
                "65b000000000000000000004",
                "fresh2@example.com",
                r#", "githubId": "99""#,
            ),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = import(&app, &more, &[]);
    assert!(
        stdout(&out).contains(&summary(2, 0, 0, 2)),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "line 2: rejected: the email ada@example.com belongs to another user ({ADA})"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "line 3: rejected: the google account google-sub-1001 is bound to another user ({GWEN})"
        )),
        "{err}"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE id = $1",
            &["65b000000000000000000003"]
        )
        .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM user_identities WHERE provider = 'github' AND subject = '99' AND user_id = $1",
            &["65b000000000000000000004"]
        )
        .await,
        1
    );
}

/// A relaxed date with whole seconds as pymongo writes it (`…:42Z`) and as Bouncer does
/// (`…:42.000Z`) alike; any other value as it is.
fn same_instant(v: &Value) -> Value {
    match v.get("$date").and_then(Value::as_str) {
        Some(s) => serde_json::json!({ "$date": s.replace(".000Z", "Z") }),
        None => v.clone(),
    }
}

/// An exported document with its TOTP secret decrypted (it is encrypted afresh each time).
fn comparable(line: &str) -> Value {
    let mut doc: Value = serde_json::from_str(line).unwrap();
    if let Some(secret) = doc.get("totpSecret").and_then(Value::as_str) {
        assert!(secret.starts_with("v3:"), "LibreChat's format: {secret}");
        let key: [u8; 32] = hex::decode(CREDS_KEY).unwrap().try_into().unwrap();
        let plain = SecretCipher::new(key).decrypt(secret).unwrap();
        doc["totpSecret"] = Value::String(plain);
    }
    doc
}

#[tokio::test]
async fn export_then_import_round_trips() {
    let test = "export_then_import_round_trips";
    let first = spawn_app().await;
    let Some(file) = make_users(test, &first, "users.json", &["--mode", "relaxed"]) else {
        return;
    };
    import(&first, &file, &[]);
    let exported = first.dir.path().join("export.json");
    let out = run(&first, &["export", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Exported 12 users"),
        "{}",
        stderr(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&exported).unwrap().permissions().mode() & 0o777,
        0o600,
        "the export holds password hashes"
    );
    let first_export = std::fs::read_to_string(&exported).unwrap();

    // What the export says of each user is what LibreChat's documents said.
    let originals: HashMap<String, Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .take(GOOD)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["_id"]["$oid"].as_str().unwrap().to_string(), v)
        })
        .collect();
    let docs: Vec<Value> = first_export.lines().map(comparable).collect();
    assert_eq!(docs.len(), GOOD);
    for doc in &docs {
        let original = &originals[doc["_id"]["$oid"].as_str().unwrap()];
        for field in [
            "email",
            "name",
            "username",
            "emailVerified",
            "password",
            "provider",
            "role",
            "twoFactorEnabled",
            "termsAccepted",
            "createdAt",
            "updatedAt",
            "googleId",
            "githubId",
            "discordId",
            "facebookId",
            "appleId",
            "openidId",
            "openidIssuer",
            "ldapId",
            "samlId",
            "expiresAt",
        ] {
            assert_eq!(
                doc.get(field).map(same_instant),
                original.get(field).map(same_instant),
                "{field} of {}",
                doc["email"]
            );
        }
    }
    let tess = docs
        .iter()
        .find(|d| d["email"] == "tess@example.com")
        .unwrap();
    assert_eq!(tess["totpSecret"], TOTP_SECRET);
    assert_eq!(tess["backupCodes"].as_array().unwrap().len(), 2);
    assert_eq!(tess["backupCodes"][1]["used"], true);

    // Into a fresh Bouncer, and out again: the same.
    let second = spawn_app().await;
    let out = import(&second, &exported, &[]);
    assert!(
        stdout(&out).contains(&summary(GOOD, 0, 0, 0)),
        "{}",
        stdout(&out)
    );
    let out = run(&second, &["export"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second_docs: Vec<Value> = stdout(&out).lines().map(comparable).collect();
    assert_eq!(second_docs, docs);
    // And the restored 2FA user signs in with the same secret.
    let temp = temp_token(&second, "tess@example.com").await;
    let (status, body) = second
        .verify_temp(&temp, &code_at(TOTP_SECRET, &second))
        .await;
    assert_eq!(status, 200, "{body}");
}

fn profile(provider: Provider, issuer: &str, subject: &str, email: &str) -> ExternalProfile {
    ExternalProfile {
        provider,
        issuer: issuer.into(),
        subject: subject.into(),
        email: Some(email.into()),
        email_verified: true,
        name: "Someone".into(),
        username: "someone".into(),
        avatar: None,
        admin: None,
    }
}

#[tokio::test]
async fn provider_sign_ins_land_on_the_imported_accounts() {
    let test = "provider_sign_ins_land_on_the_imported_accounts";
    let app = spawn_app().await;
    let Some(file) = make_users(test, &app, "users.json", &["--mode", "relaxed"]) else {
        return;
    };
    // Imported without an issuer for the openidId (as from a LibreChat older than
    // openidIssuer, with OPENID_ISSUER unset at import).
    let stripped: String = std::fs::read_to_string(&file)
        .unwrap()
        .replace(&format!(r#", "openidIssuer": "{OPENID_ISSUER}""#), "");
    assert!(!stripped.contains("openidIssuer"));
    std::fs::write(&file, stripped).unwrap();
    import(&app, &file, &[]);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM user_identities WHERE provider = 'openid' AND issuer = ''",
            &[]
        )
        .await,
        1
    );
    let rules = ExternalRules {
        may_register: true,
        allow_linking: false,
    };
    // The Google account, even under an email Google now says differently.
    let user = app
        .ctx
        .accounts
        .sign_in_external(
            &profile(
                Provider::from_name("google".into()),
                "",
                "google-sub-1001",
                "gwen.new@example.com",
            ),
            rules,
        )
        .await
        .unwrap();
    assert_eq!(user.id, GWEN);
    // The OpenID account: its first sign-in binds the issuer.
    let issuer = "https://idp.example.com/";
    let user = app
        .ctx
        .accounts
        .sign_in_external(
            &profile(
                Provider::OpenId,
                issuer,
                "oidc-sub-7",
                "olga.new@example.com",
            ),
            rules,
        )
        .await
        .unwrap();
    assert_eq!(user.id, OLGA);
    let db = app.db().await;
    let (bound,): (String,) = sqlx::query_as(
        "SELECT issuer FROM user_identities WHERE provider = 'openid' AND subject = 'oidc-sub-7'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(bound, issuer);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        GOOD as i64
    );
}

#[tokio::test]
async fn an_interrupted_import_leaves_whole_users_and_goes_on_when_run_again() {
    let test = "an_interrupted_import_leaves_whole_users_and_goes_on_when_run_again";
    const USERS: i64 = 20_000;
    const BATCH: i64 = 250;
    let app = spawn_app().await;
    let Some(file) = make_users(
        test,
        &app,
        "bulk.json",
        &["--mode", "relaxed", "--bulk", &USERS.to_string()],
    ) else {
        return;
    };
    let mut child = bouncer(&app)
        .args(["import-librechat", file.to_str().unwrap()])
        .args(["--batch-size", &BATCH.to_string()])
        .spawn()
        .unwrap();
    // Killed (SIGKILL) once it reports progress, in the middle of its batches.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let progressed = lines.any(|l| l.is_ok_and(|l| l.starts_with("progress:")));
    child.kill().unwrap();
    child.wait().unwrap();
    let written = app.count("SELECT COUNT(*) FROM users", &[]).await;
    eprintln!("killed with {written} of {USERS} users written (progress seen: {progressed})");
    if progressed && written < USERS {
        assert_eq!(written % BATCH, 0, "whole batches only: {written}");
    }
    // Every Google user has its identity: no half user.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE provider = 'google'", &[])
            .await,
        app.count("SELECT COUNT(*) FROM user_identities", &[]).await
    );
    let out = import(&app, &file, &[]);
    assert!(
        stdout(&out).contains(&summary((USERS - written) as usize, 0, written as usize, 0)),
        "{}",
        stdout(&out)
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, USERS);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM user_identities", &[]).await,
        USERS / 4
    );
}

#[tokio::test]
async fn unreadable_input_fails_and_strict_fails_on_any_rejection() {
    let app = spawn_app().await;
    let dir = app.dir.path();
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        path.to_str().unwrap().to_string()
    };
    let fails = |args: &[&str], needle: &str| {
        let out = run(&app, args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let last = stderr(&out)
            .trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .to_string();
        assert!(
            last.starts_with("bouncer: ") && last.contains(needle),
            "{}",
            stderr(&out)
        );
    };
    fails(
        &["import-librechat", &write("empty.json", "\n")],
        "holds no document",
    );
    fails(
        &["import-librechat", &write("garbage.json", "hello world\n")],
        "could be read as JSON",
    );
    fails(
        &["import-librechat", "/nonexistent/users.json"],
        "cannot read",
    );

    let mixed = write(
        "mixed.json",
        &format!(
            "{}\n{}\n",
            document("65c000000000000000000001", "good@example.com", ""),
            r#"{"_id": {"$oid": "65c000000000000000000002"}}"#
        ),
    );
    fails(
        &["import-librechat", &mixed, "--strict"],
        "1 document was rejected (--strict)",
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'good@example.com'",
            &[]
        )
        .await,
        1,
        "the others are imported all the same"
    );

    // From standard input, as a pipe from mongoexport.
    let mut child = bouncer(&app)
        .args(["import-librechat", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document("65c000000000000000000003", "piped@example.com", "").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&summary(1, 0, 0, 0)),
        "{}",
        stdout(&out)
    );
}
