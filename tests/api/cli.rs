//! The user-management commands, run as the real binary against the test server's database
//! while the server runs.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::helpers::*;

fn cli(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bouncer"));
    cmd.current_dir(app.dir.path())
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        // The server's: the provider's signing key is encrypted with it.
        .env("CREDS_KEY", CREDS_KEY);
    cmd
}

/// Runs a command with `stdin` as its standard input (not a terminal).
fn run(mut cmd: Command, args: &[&str], stdin: &str) -> Output {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure: exit code 1 and exactly one line on stderr, containing `needle`.
fn assert_failed(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {} stderr: {}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn create(app: &TestApp, email: &str, extra: &[&str], password: &str) -> Output {
    let mut args = vec!["create-user", email, "Test User", ""];
    let username = email.split('@').next().unwrap().to_string();
    args[3] = &username;
    args.extend_from_slice(extra);
    args.push("--password-stdin");
    run(cli(app), &args, &format!("{password}\n"))
}

#[tokio::test]
async fn create_user_works_with_registration_closed_and_can_log_in() {
    let app = spawn_app_with(&[("ALLOW_REGISTRATION", "false")]).await;
    assert_eq!(
        app.register("Someone", "someone@example.com", PASSWORD)
            .await
            .status(),
        403
    );

    let first = create(&app, "ada@example.com", &[], PASSWORD);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("Created user ada@example.com"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&first).contains("role ADMIN"),
        "first user is ADMIN: {}",
        stdout(&first)
    );

    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    assert_eq!(
        login.json::<Value>().await.unwrap()["user"]["role"],
        "ADMIN"
    );

    let second = create(&app, "bob@example.com", &[], PASSWORD);
    assert!(stdout(&second).contains("role USER"), "{}", stdout(&second));
    let ops = create(&app, "ops@example.com", &["--role", "ADMIN"], PASSWORD);
    assert!(stdout(&ops).contains("role ADMIN"), "{}", stdout(&ops));

    let unverified = create(
        &app,
        "eve@example.com",
        &["--email-verified=false"],
        PASSWORD,
    );
    assert!(unverified.status.success(), "{}", stderr(&unverified));
    assert_eq!(app.login("eve@example.com", PASSWORD).await.status(), 422);
}

#[tokio::test]
async fn create_user_first_user_of_all_paths_is_admin() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("Api User", "api@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let cli_user = create(&app, "cli@example.com", &[], PASSWORD);
    assert!(
        stdout(&cli_user).contains("role USER"),
        "{}",
        stdout(&cli_user)
    );
}

/// An operator's first user, created with a role, is the first user ever: the next public
/// registration must not become ADMIN too (it did, since only role-less inserts took the claim).
#[tokio::test]
async fn a_first_user_created_with_a_role_leaves_no_admin_claim_to_the_public() {
    for role in ["ADMIN", "USER"] {
        let app = spawn_app().await;
        let ops = create(&app, "ops@example.com", &["--role", role], PASSWORD);
        assert!(ops.status.success(), "{}", stderr(&ops));
        let public = app.register("Eve", "eve@example.com", PASSWORD).await;
        assert_eq!(public.status(), 200);
        let login = app.login("eve@example.com", PASSWORD).await;
        assert_eq!(login.status(), 200);
        assert_eq!(
            login.json::<Value>().await.unwrap()["user"]["role"],
            "USER",
            "after a first user created as {role}"
        );
    }
}

#[tokio::test]
async fn create_user_refuses_duplicates_and_bad_values() {
    let yaml = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        yaml.path(),
        "registration:\n  allowedDomains: [example.com]\n",
    )
    .unwrap();
    let app = spawn_app().await;
    assert!(create(&app, "ada@example.com", &[], PASSWORD)
        .status
        .success());

    assert_failed(
        &create(&app, "ADA@example.com", &[], PASSWORD),
        "a user with email ada@example.com already exists",
    );
    let same_username = run(
        cli(&app),
        &[
            "create-user",
            "other@example.com",
            "Other Person",
            "ADA",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_failed(&same_username, "a user with username ADA already exists");
    assert_failed(
        &create(&app, "bob@example.com", &[], "short"),
        "password: String must contain at least 8 character(s)",
    );
    assert_failed(
        &create(&app, "not-an-email", &[], PASSWORD),
        "is not an email address",
    );
    assert_failed(
        &create(&app, "x@nope", &[], PASSWORD),
        "email: Invalid email",
    );
    let mut with_yaml = cli(&app);
    with_yaml.env("CONFIG_PATH", yaml.path());
    let outsider = run(
        with_yaml,
        &[
            "create-user",
            "m@evil.example",
            "Mallory",
            "mal",
            "--password-stdin",
        ],
        "long enough password\n",
    );
    assert_failed(&outsider, "allowedDomains");

    // Without a terminal, missing values are errors, not prompts.
    assert_failed(
        &run(cli(&app), &["create-user", "carol@example.com"], ""),
        "missing name",
    );
    assert_failed(
        &run(
            cli(&app),
            &["create-user", "carol@example.com", "Carol Person", "carol"],
            "",
        ),
        "missing password",
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", &[]).await,
        1,
        "no half-created users"
    );
}

#[tokio::test]
async fn create_user_generates_a_password_when_blank() {
    let app = spawn_app().await;
    let out = run(
        cli(&app),
        &["create-user", "ada@example.com", "Ada Lovelace", "ada", ""],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("Generated password (shown only now): "))
        .expect("generated password printed");
    assert!(password.len() >= 20, "{password}");
    assert_eq!(app.login("ada@example.com", password).await.status(), 200);
}

#[tokio::test]
async fn delete_user_ends_everything_that_lets_them_in() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;

    // Without a terminal and without --yes nothing happens.
    assert_failed(
        &run(cli(&app), &["delete-user", "ada@example.com"], ""),
        "--yes",
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 2);

    let out = run(cli(&app), &["delete-user", "ADA@example.com", "--yes"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Deleted user ada@example.com"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("1 session revoked"),
        "{}",
        stdout(&out)
    );

    // At once: no login, no refresh.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 404);
    let refresh = app.refresh_with_cookie(&s.refresh, "").await;
    // 302 to /login when the server no longer knows the user (LibreChat's answer), 401 while
    // its short-lived user cache still does: either way no new session.
    assert!(
        [302, 401].contains(&refresh.status().as_u16()),
        "{}",
        refresh.status()
    );
    assert!(set_cookie_line(refresh.headers(), "refreshToken").is_none());
    // The running server reads the revocation on its next sync (every second).
    app.ctx.sessions.sync_revocations().await.unwrap();
    assert_eq!(app.get_user(&s.token).await.status(), 401);
    // Nobody else is touched.
    assert_eq!(app.get_user(&bob.token).await.status(), 200);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &[&s.user_id]
        )
        .await,
        0
    );

    assert_failed(
        &run(cli(&app), &["delete-user", "ada@example.com", "--yes"], ""),
        "no user with email ada@example.com",
    );
}

#[tokio::test]
async fn the_server_picks_up_revocations_by_itself() {
    let app = spawn_app().await;
    bouncer::spawn_maintenance(app.ctx.clone());
    let s = app.signed_in_user("ada@example.com").await;
    let out = run(cli(&app), &["delete-user", "ada@example.com", "--yes"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    // Eventually refused without any help from the test; the poll only bounds the wait.
    let refused = poll_for(300, std::time::Duration::from_millis(100), || async {
        (app.get_user(&s.token).await.status() == 401).then_some(())
    })
    .await
    .is_some();
    assert!(
        refused,
        "the access token of a deleted user must be refused"
    );
}

#[tokio::test]
async fn reset_password_revokes_sessions_and_the_new_password_works() {
    let app = spawn_app().await;
    let s = app.signed_in_user("ada@example.com").await;

    let weak = run(
        cli(&app),
        &["reset-password", "ada@example.com", "--password-stdin"],
        "short\n",
    );
    assert_failed(&weak, "at least 8");
    assert_eq!(
        app.refresh_with_cookie(&s.refresh, "").await.status(),
        200,
        "a refused password changes nothing"
    );
    let s = app.signed_in_user_again("ada@example.com").await;

    let out = run(
        cli(&app),
        &["reset-password", "ada@example.com", "--password-stdin"],
        "a brand new passphrase\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Password reset for ada@example.com; 2 sessions revoked"),
        "{}",
        stdout(&out)
    );

    assert_eq!(app.refresh_with_cookie(&s.refresh, "").await.status(), 401);
    app.ctx.sessions.sync_revocations().await.unwrap();
    assert_eq!(app.get_user(&s.token).await.status(), 401);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 404);
    assert_eq!(
        app.login("ada@example.com", "a brand new passphrase")
            .await
            .status(),
        200
    );

    assert_failed(
        &run(
            cli(&app),
            &["reset-password", "nobody@example.com", "--password-stdin"],
            "a brand new passphrase\n",
        ),
        "no user with email nobody@example.com",
    );
    assert_failed(
        &run(cli(&app), &["reset-password", "ada@example.com"], ""),
        "--password-stdin",
    );
}

#[tokio::test]
async fn list_users_as_table_and_json() {
    let app = spawn_app().await;
    create(&app, "ada@example.com", &[], PASSWORD);
    create(
        &app,
        "bob@example.com",
        &["--email-verified=false"],
        PASSWORD,
    );

    let json = run(cli(&app), &["list-users", "--json"], "");
    assert!(json.status.success());
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["total"], 2);
    let ada = &v["users"][0];
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["username"], "ada");
    assert_eq!(ada["role"], "ADMIN");
    assert_eq!(ada["provider"], "local");
    assert_eq!(ada["emailVerified"], true);
    assert_eq!(ada["id"].as_str().unwrap().len(), 24);
    assert!(ada["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["users"][1]["emailVerified"], false);

    let table = stdout(&run(cli(&app), &["list-users"], ""));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("VERIFIED"),
        "{table}"
    );
    assert!(
        lines[1].contains("ada@example.com") && lines[1].contains("ADMIN"),
        "{table}"
    );
    assert!(
        lines[2].contains("bob@example.com") && lines[2].contains(" no "),
        "{table}"
    );
    assert_eq!(lines.last().unwrap(), &"Total: 2 users");
}

#[tokio::test]
async fn configuration_and_database_failures_have_their_exit_codes() {
    let app = spawn_app().await;
    let mut bad_config = cli(&app);
    bad_config.env("SESSION_EXPIRY", "soon");
    let out = run(bad_config, &["list-users"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SESSION_EXPIRY"), "{}", stderr(&out));

    let blocker = app.dir.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let mut unreachable = cli(&app);
    unreachable.env(
        "DATABASE_URL",
        format!("sqlite://{}/bouncer.db", blocker.display()),
    );
    assert_failed(&run(unreachable, &["list-users"], ""), "database folder");

    let usage = run(cli(&app), &["create-user", "--role", "ROOT"], "");
    assert_eq!(
        usage.status.code(),
        Some(2),
        "usage errors are clap's exit code 2"
    );
}

#[test]
fn help_explains_each_command_with_an_example() {
    for command in [
        "create-user",
        "delete-user",
        "list-users",
        "reset-password",
        "ban-user",
        "unban",
        "list-bans",
        "serve",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_bouncer"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Usage: bouncer"), "{command}: {text}");
        if command != "serve" {
            assert!(
                text.contains(&format!("Examples:\n  bouncer {command}")),
                "{command}: {text}"
            );
        }
    }
}

mod interactive {
    use rexpect::session::spawn_command;

    use super::*;

    #[tokio::test]
    async fn create_and_delete_at_a_terminal() {
        let app = spawn_app().await;
        let mut cmd = cli(&app);
        cmd.arg("create-user");
        let mut p = spawn_command(cmd, Some(20_000)).unwrap();
        p.exp_string("Email: ").unwrap();
        p.send_line("ada@example.com").unwrap();
        p.exp_string("Name [ada]: ").unwrap();
        p.send_line("Ada Lovelace").unwrap();
        p.exp_string("Username [ada]: ").unwrap();
        p.send_line("").unwrap();
        p.exp_string("Password (blank to generate one): ").unwrap();
        p.send_line("typed passphrase").unwrap();
        p.exp_string("Repeat the password: ").unwrap();
        p.send_line("typed passphrase").unwrap();
        p.exp_string("Created user ada@example.com").unwrap();
        p.exp_eof().unwrap();
        let login = app.login("ada@example.com", "typed passphrase").await;
        assert_eq!(login.status(), 200);
        assert_eq!(
            login.json::<Value>().await.unwrap()["user"]["username"],
            "ada"
        );

        // Mismatched passwords refuse.
        let mut cmd = cli(&app);
        cmd.args(["create-user", "bob@example.com", "Bob Builder", "bob"]);
        let mut p = spawn_command(cmd, Some(20_000)).unwrap();
        p.exp_string("Password (blank to generate one): ").unwrap();
        p.send_line("first passphrase").unwrap();
        p.exp_string("Repeat the password: ").unwrap();
        p.send_line("second passphrase").unwrap();
        p.exp_string("the passwords did not match").unwrap();
        p.exp_eof().unwrap();

        // Deleting asks, and "no" keeps the user.
        let mut cmd = cli(&app);
        cmd.args(["delete-user", "ada@example.com"]);
        let mut p = spawn_command(cmd, Some(20_000)).unwrap();
        p.exp_string("[y/N]").unwrap();
        p.send_line("n").unwrap();
        p.exp_string("not deleted").unwrap();
        p.exp_eof().unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);

        let mut cmd = cli(&app);
        cmd.args(["delete-user", "ada@example.com"]);
        let mut p = spawn_command(cmd, Some(20_000)).unwrap();
        p.exp_string("[y/N]").unwrap();
        p.send_line("y").unwrap();
        p.exp_string("Deleted user ada@example.com").unwrap();
        p.exp_eof().unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
    }

    #[tokio::test]
    async fn reset_password_at_a_terminal() {
        let app = spawn_app().await;
        app.signed_in_user("ada@example.com").await;
        let mut cmd = cli(&app);
        cmd.args(["reset-password", "ada@example.com"]);
        let mut p = spawn_command(cmd, Some(20_000)).unwrap();
        p.exp_string("Password: ").unwrap();
        p.send_line("terminal passphrase").unwrap();
        p.exp_string("Repeat the password: ").unwrap();
        p.send_line("terminal passphrase").unwrap();
        p.exp_string("1 session revoked").unwrap();
        p.exp_eof().unwrap();
        assert_eq!(
            app.login("ada@example.com", "terminal passphrase")
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn ban_list_and_unban_commands_reach_the_running_server() {
    let app = spawn_app().await;
    let s = app.signed_in_user("spammer@example.com").await;
    app.signed_in_user("fine@example.com").await;

    let out = run(cli(&app), &["ban-user", "SPAMMER@example.com", "90m"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Banned user spammer@example.com"),
        "{}",
        stdout(&out)
    );

    // The sessions end at once; the ban reaches the server on its next sync (every second).
    assert_eq!(app.refresh_with_cookie(&s.refresh, "").await.status(), 401);
    app.ctx.sessions.sync_revocations().await.unwrap();
    app.ctx.moderation.sync_bans().await.unwrap();
    assert_eq!(app.get_user(&s.token).await.status(), 401);
    let refused = app.login("spammer@example.com", PASSWORD).await;
    assert_eq!(refused.status(), 403);

    let listed = run(cli(&app), &["list-bans", "--json"], "");
    let v: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["bans"][0]["kind"], "user");
    assert_eq!(v["bans"][0]["who"], "spammer@example.com");
    assert_eq!(v["bans"][0]["type"], "operator");
    let table = stdout(&run(cli(&app), &["list-bans"], ""));
    assert!(
        table.starts_with("KIND") && table.contains("spammer@example.com"),
        "{table}"
    );
    assert!(table.trim_end().ends_with("Total: 1 ban"), "{table}");

    let out = run(cli(&app), &["unban", "spammer@example.com"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    app.ctx.moderation.sync_bans().await.unwrap();
    assert_eq!(
        app.login("spammer@example.com", PASSWORD).await.status(),
        200
    );

    // IP bans are lifted by address.
    app.ctx
        .moderation
        .ban(
            bouncer::moderation::Subject::Ip("203.0.113.5".parse().unwrap()),
            "logins",
            20,
            60_000,
        )
        .await
        .unwrap();
    let ip_table = stdout(&run(cli(&app), &["list-bans"], ""));
    assert!(
        ip_table.contains("203.0.113.5") && ip_table.contains("logins"),
        "{ip_table}"
    );
    assert!(run(cli(&app), &["unban", "203.0.113.5"], "")
        .status
        .success());
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);

    assert_failed(
        &run(cli(&app), &["unban", "203.0.113.5"], ""),
        "203.0.113.5 is not banned",
    );
    assert_failed(
        &run(cli(&app), &["unban", "not-an-ip"], ""),
        "neither an email nor an IP address",
    );
    assert_failed(
        &run(cli(&app), &["ban-user", "nobody@example.com", "2h"], ""),
        "no user with email",
    );
    assert_failed(
        &run(cli(&app), &["ban-user", "fine@example.com", "2 hours"], ""),
        "is not a duration",
    );
}

#[tokio::test]
async fn deleting_a_user_removes_their_bans() {
    let app = spawn_app().await;
    app.signed_in_user("gone@example.com").await;
    assert!(run(cli(&app), &["ban-user", "gone@example.com", "1d"], "")
        .status
        .success());
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 1);
    assert!(
        run(cli(&app), &["delete-user", "gone@example.com", "--yes"], "")
            .status
            .success()
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM bans", &[]).await, 0);
}

#[tokio::test]
async fn invite_user_prints_the_link_without_mail_and_it_registers_once() {
    let app = spawn_app_with(&[("ALLOW_REGISTRATION", "false")]).await;
    let out = run(cli(&app), &["invite-user", "Grace@Example.com"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let link = printed
        .lines()
        .find(|l| l.starts_with("http://localhost:3080/register?token="))
        .unwrap_or_else(|| panic!("no link in {printed}"));
    let token = link.rsplit('=').next().unwrap();
    let body = serde_json::json!({
        "name": "Grace Hopper", "email": "grace@example.com", "password": PASSWORD,
        "confirm_password": PASSWORD, "token": token,
    });
    let register = || {
        app.bare
            .post(app.url("/api/auth/register"))
            .json(&body)
            .send()
    };
    assert_eq!(register().await.unwrap().status(), 200);
    assert_eq!(
        app.login("grace@example.com", PASSWORD).await.status(),
        200,
        "no mail: verified at once"
    );
    assert_eq!(
        register().await.unwrap().status(),
        400,
        "the invitation works once"
    );

    assert_failed(
        &run(cli(&app), &["invite-user", "grace@example.com"], ""),
        "already exists",
    );
    assert_failed(
        &run(cli(&app), &["invite-user", "not-an-email"], ""),
        "not an email address",
    );
}

#[tokio::test]
async fn create_user_unverified_with_mail_sends_the_verification_email() {
    let mut smtp = crate::mail_peers::SmtpPeer::start().await;
    let app = spawn_app_with(&[]).await;
    let mut cmd = cli(&app);
    cmd.envs(smtp.vars());
    let out = run(
        cmd,
        &[
            "create-user",
            "eve@example.com",
            "Eve Example",
            "eve",
            PASSWORD,
            "--email-verified=false",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Verification email sent to eve@example.com"),
        "{}",
        stdout(&out)
    );
    let message = smtp.next_message().await;
    assert_eq!(message["subject"], "Verify your email");
    assert_eq!(message["rcpt_tos"], serde_json::json!(["eve@example.com"]));
}

/// The secret a `client add` or `client update --rotate-secret` printed.
fn printed_secret(o: &Output) -> String {
    stdout(o)
        .lines()
        .find_map(|l| l.strip_prefix("Client secret: "))
        .expect("a secret is printed")
        .to_string()
}

#[tokio::test]
async fn clients_are_added_listed_updated_and_removed_by_command() {
    let app = spawn_app().await;
    let add = run(
        cli(&app),
        &[
            "client",
            "add",
            "librechat",
            "--name",
            "LibreChat",
            "--first-party",
            "--redirect-uri",
            "https://chat.example.com/oauth/openid/callback",
        ],
        "",
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let secret = printed_secret(&add);
    assert!(stdout(&add).contains("shown only now"));
    app.ctx.provider.clients.forget_cached();
    let client = app
        .ctx
        .provider
        .clients
        .get("librechat")
        .await
        .unwrap()
        .unwrap();
    assert!(client.first_party && !client.is_public());
    assert!(
        app.ctx
            .provider
            .clients
            .check_secret(&client, &secret)
            .await
    );
    assert!(
        !app.ctx
            .provider
            .clients
            .check_secret(&client, "guess")
            .await
    );

    let again = run(
        cli(&app),
        &[
            "client",
            "add",
            "librechat",
            "--redirect-uri",
            "https://x.example.com/cb",
        ],
        "",
    );
    assert_failed(&again, "exists already");
    let bad = run(
        cli(&app),
        &[
            "client",
            "add",
            "spa",
            "--public",
            "--redirect-uri",
            "https://spa.example.com/cb#x",
        ],
        "",
    );
    assert_failed(&bad, "fragment");
    let insecure = run(
        cli(&app),
        &[
            "client",
            "add",
            "spa",
            "--public",
            "--redirect-uri",
            "http://spa.example.com/cb",
        ],
        "",
    );
    assert!(insecure.status.success());
    assert!(
        stderr(&insecure).contains("plain http"),
        "{}",
        stderr(&insecure)
    );
    assert!(
        !stdout(&insecure).contains("Client secret"),
        "a public client has none"
    );

    let list = run(cli(&app), &["client", "list"], "");
    let listed = stdout(&list);
    assert!(
        listed.contains("librechat") && listed.contains("confidential"),
        "{listed}"
    );
    assert!(
        listed.contains("spa") && listed.contains("public"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "the secret is never listed");

    let rotated = run(
        cli(&app),
        &[
            "client",
            "update",
            "librechat",
            "--rotate-secret",
            "--add-redirect-uri",
            "https://chat2.example.com/cb",
        ],
        "",
    );
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let new_secret = printed_secret(&rotated);
    app.ctx.provider.clients.forget_cached();
    let client = app
        .ctx
        .provider
        .clients
        .get("librechat")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.redirect_uris.len(), 2);
    assert!(
        !app.ctx
            .provider
            .clients
            .check_secret(&client, &secret)
            .await
    );
    assert!(
        app.ctx
            .provider
            .clients
            .check_secret(&client, &new_secret)
            .await
    );

    assert_failed(
        &run(cli(&app), &["client", "remove", "librechat"], ""),
        "--yes",
    );
    let removed = run(cli(&app), &["client", "remove", "librechat", "--yes"], "");
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_failed(
        &run(cli(&app), &["client", "remove", "librechat", "--yes"], ""),
        "no client",
    );
}

#[tokio::test]
async fn rotate_signing_key_adds_a_key_each_time() {
    let app = spawn_app().await;
    let kid = |o: &Output| {
        stdout(o)
            .lines()
            .find_map(|l| l.strip_prefix("New signing key "))
            .and_then(|rest| rest.split(' ').next())
            .expect("a kid")
            .to_string()
    };
    let first = run(cli(&app), &["rotate-signing-key"], "");
    assert!(first.status.success(), "{}", stderr(&first));
    let second = run(cli(&app), &["rotate-signing-key"], "");
    assert_ne!(kid(&first), kid(&second));
    app.ctx.provider.keys.reload().await.unwrap();
    let jwks = app.ctx.provider.keys.jwks().to_string();
    assert!(jwks.contains(&kid(&second)), "the new key is published");
    assert!(jwks.contains(&kid(&first)), "and the one before it still");
}

#[tokio::test]
async fn the_commands_refuse_common_passwords_too() {
    let app = spawn_app().await;
    app.signed_in_user("ada@example.com").await;
    assert_failed(
        &run(
            cli(&app),
            &["reset-password", "ada@example.com", "--password-stdin"],
            "trustno1\n",
        ),
        "too common",
    );
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);
    assert_failed(
        &create(&app, "grace@example.com", &[], "grace@example.com"),
        "too common",
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 1);
    // The switch reaches the commands as it reaches the server.
    let mut off = cli(&app);
    off.env("PASSWORD_BLOCKLIST", "false");
    let out = run(
        off,
        &["reset-password", "ada@example.com", "--password-stdin"],
        "trustno1\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}
