//! `bouncer disable-user`, `enable-user` and `sessions`: the admin use cases from the command
//! line, against the same database as a running server.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::*;

fn cli(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bouncer"));
    cmd.current_dir(app.dir.path())
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        .env("CREDS_KEY", CREDS_KEY);
    cmd
}

fn run(app: &TestApp, args: &[&str]) -> Output {
    let mut child = cli(app)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"").unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {} stderr: {}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

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
}

/// What the running server learns on its periodic sync (not running in the tests).
async fn sync(app: &TestApp) {
    app.ctx.accounts.sync_disabled().await.unwrap();
    app.ctx.sessions.sync_revocations().await.unwrap();
}

#[tokio::test]
async fn disable_user_refuses_sign_in_until_enable_user() {
    let app = spawn_app().await;
    let _root = app.signed_in_user("root@example.com").await;
    let ada = app.signed_in_user("ada@example.com").await;

    let out = assert_ok(&run(&app, &["disable-user", "ADA@example.com"]));
    assert!(out.contains("Disabled user ada@example.com"), "{out}");
    sync(&app).await;
    let (status, message) = status_and_message(app.get_user(&ada.token).await).await;
    assert_eq!(
        (status, message.as_str()),
        (403, "Your account has been disabled.")
    );
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 403);
    let out = assert_ok(&run(&app, &["disable-user", "ada@example.com"]));
    assert!(out.contains("already disabled"), "{out}");

    let out = assert_ok(&run(&app, &["enable-user", "ada@example.com"]));
    assert!(out.contains("Enabled user ada@example.com"), "{out}");
    sync(&app).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);

    assert_failed(
        &run(&app, &["disable-user", "nobody@example.com"]),
        "no user with email",
    );
    let recorded = eventually(|| async {
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'user.disabled' AND user_id = $1 \
               AND actor_id IS NULL AND detail LIKE '%cli%'",
            &[&ada.user_id],
        )
        .await
            == 1
    })
    .await;
    assert!(recorded, "recorded as done through the command line");
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_disabled() {
    let app = spawn_app().await;
    let root = app.signed_in_user("root@example.com").await;
    assert_failed(&run(&app, &["disable-user", "root@example.com"]), "ADMIN");
    sync(&app).await;
    assert_eq!(app.get_user(&root.token).await.status(), 200);
}

#[tokio::test]
async fn sessions_lists_and_revokes_one_or_all() {
    let app = spawn_app().await;
    let first = app.signed_in_user("ada@example.com").await;
    let second = app.signed_in_user_again("ada@example.com").await;
    let out = assert_ok(&run(&app, &["sessions", "ada@example.com"]));
    let sid = jwt_payload(&first.token)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let other = jwt_payload(&second.token)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(out.contains(&sid) && out.contains(&other), "{out}");
    assert!(out.contains("127.0.0.1"), "{out}");

    assert_ok(&run(
        &app,
        &["sessions", "ada@example.com", "--revoke", &sid],
    ));
    sync(&app).await;
    assert_eq!(app.get_user(&first.token).await.status(), 401);
    assert_eq!(app.get_user(&second.token).await.status(), 200);
    assert_failed(
        &run(&app, &["sessions", "ada@example.com", "--revoke", &sid]),
        "no live session",
    );

    let out = assert_ok(&run(&app, &["sessions", "ada@example.com", "--all"]));
    assert!(
        out.contains("Revoked 1 session of ada@example.com"),
        "{out}"
    );
    sync(&app).await;
    assert_eq!(app.get_user(&second.token).await.status(), 401);
    let out = assert_ok(&run(&app, &["sessions", "ada@example.com"]));
    assert!(out.contains("no live session"), "{out}");
    assert_failed(
        &run(&app, &["sessions", "nobody@example.com"]),
        "no user with email",
    );
}
