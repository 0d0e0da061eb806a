//! Class: a database outage turns into hangs. With PostgreSQL refusing connections or
//! accepting them and never answering, `/healthz` must answer at once, requests that need the
//! database must fail fast with 503 until it is back, token-authenticated requests must keep
//! working from the last known user, recovery must need no restart, and nothing may answer
//! 500. The outage tests need PostgreSQL (`BOUNCER_TEST_POSTGRES_URL`) and say they were
//! skipped without it (an engine not selected: a skip even under `CI=true`); the cache test
//! runs on every engine.
//!
//! The time bounds below are hang guards (a 5-second wait per request cannot meet them), not
//! speed assertions.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::outage_peer::OutagePeer;

/// Longest a single answer may take while a dependency is down.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Longest the first request meeting a fresh outage may take (the probe needs up to about
/// 1.5 s to judge it; the pool alone would take its 5-second acquire wait).
const FIRST_FAILURE_WITHIN: Duration = Duration::from_secs(4);
/// Longest twenty requests needing the database may take together once it is known down.
const TWENTY_WITHIN: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
enum Fault {
    Refused,
    Hanging,
}

/// An app whose database (and Redis, when the test has one) sit behind outage peers.
struct BehindPeers {
    app: TestApp,
    database: OutagePeer,
    redis: Option<OutagePeer>,
    _postgres: TestPostgres,
}

impl BehindPeers {
    async fn start() -> Option<Self> {
        let Some((postgres, direct)) = TestPostgres::create().await else {
            // libtest names each test's thread after the test.
            let test = std::thread::current().name().map(str::to_string);
            skip_unselected(
                test.as_deref().unwrap_or("database outage test"),
                "BOUNCER_TEST_POSTGRES_URL",
            );
            return None;
        };
        let mut database_url = url::Url::parse(&direct).unwrap();
        let database = OutagePeer::in_front_of(OutagePeer::target_of(&database_url, 5432)).await;
        database_url.set_port(Some(database.port)).unwrap();
        let mut vars = vec![("DATABASE_URL".to_string(), database_url.to_string())];
        let mut redis = None;
        if let Ok(direct) = std::env::var("BOUNCER_TEST_REDIS_URL") {
            let mut redis_url = url::Url::parse(&direct).unwrap();
            let peer = OutagePeer::in_front_of(OutagePeer::target_of(&redis_url, 6379)).await;
            redis_url.set_port(Some(peer.port)).unwrap();
            vars.push(("REDIS_URI".into(), redis_url.to_string()));
            redis = Some(peer);
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (&**k, &**v)).collect();
        let app = spawn_app_with(&vars).await;
        Some(Self {
            app,
            database,
            redis,
            _postgres: postgres,
        })
    }

    async fn break_database(&mut self, fault: Fault) {
        match fault {
            Fault::Refused => self.database.refuse().await,
            Fault::Hanging => self.database.hang(),
        }
    }
}

/// Runs a request under a hang guard and checks it is no 500.
async fn answered<T, F>(what: &str, within: Duration, request: F) -> T
where
    F: std::future::Future<Output = T>,
{
    tokio::time::timeout(within, request)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within {within:?}"))
}

async fn health(app: &TestApp) -> (u16, Value) {
    answered("/healthz", ANSWER_WITHIN, app.health()).await
}

/// Asks `/healthz` (each answer under the hang guard) until `wanted` holds; its last body.
async fn health_until(app: &TestApp, wanted: impl Fn(u16, &Value) -> bool) -> Value {
    let last = RefCell::new(Value::Null);
    let awaited = eventually_some(|| async {
        let (status, body) = health(app).await;
        if wanted(status, &body) {
            return Some(body);
        }
        *last.borrow_mut() = body;
        None
    })
    .await;
    awaited.unwrap_or_else(|| {
        panic!(
            "/healthz never said what was awaited; last: {}",
            last.borrow()
        )
    })
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_ne!(status, 500, "no request may fail with 500");
    (status, response.json().await.unwrap_or(Value::Null))
}

fn unavailable() -> Value {
    json!({ "message": "Service unavailable" })
}

/// The health answer keeps its shape in every state: status, database, and with Redis its
/// state and the count of its errors.
fn assert_health_shape(body: &Value, redis: bool) {
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(|k| &**k).collect();
    let mut expected = vec!["database", "status"];
    if redis {
        expected.extend(["moderationStateErrors", "redis"]);
    }
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected, "{body}");
}

async fn health_stays_bounded(fault: Fault) {
    let Some(mut peers) = BehindPeers::start().await else {
        return;
    };
    let with_redis = peers.redis.is_some();
    let (status, body) = health(&peers.app).await;
    assert_eq!((status, &body["status"]), (200, &json!("ok")), "{body}");
    assert_health_shape(&body, with_redis);

    peers.break_database(fault).await;
    if let (Fault::Hanging, Some(redis)) = (fault, &peers.redis) {
        // Both dependencies frozen at once: the worst case for a health check.
        redis.hang();
    }
    let down = health_until(&peers.app, |status, body| {
        status == 503 && body["database"] == "down"
    })
    .await;
    assert_eq!(down["status"], "unavailable");
    assert_health_shape(&down, with_redis);
    if let (Fault::Hanging, true) = (fault, with_redis) {
        assert!(
            eventually(|| async { health(&peers.app).await.1["redis"] == "down" }).await,
            "a hanging Redis is reported down"
        );
    }

    peers.database.restore();
    if let Some(redis) = &mut peers.redis {
        redis.restore();
    }
    assert!(
        eventually(|| async {
            let (status, body) = health(&peers.app).await;
            status == 200 && body["status"] == "ok"
        })
        .await,
        "health is back by itself"
    );
}

/// Class: database outage turns into hangs. `/healthz` answers at once while PostgreSQL
/// refuses connections, says `down` with 503 in its usual shape, and `ok` again by itself.
#[tokio::test]
async fn health_answers_at_once_while_the_database_refuses_connections() {
    health_stays_bounded(Fault::Refused).await;
}

/// Class: database outage turns into hangs. `/healthz` answers at once while PostgreSQL (and
/// Redis, when the test has one) accept connections and never answer.
#[tokio::test]
async fn health_answers_at_once_while_the_database_hangs() {
    health_stays_bounded(Fault::Hanging).await;
}

async fn requests_fail_fast(fault: Fault) {
    let Some(mut peers) = BehindPeers::start().await else {
        return;
    };
    let app = &peers.app;
    let bob = app.signed_in_user("bob@example.com").await;

    peers.break_database(fault).await;
    let app = &peers.app;
    let first = answered(
        "the first login of the outage",
        FIRST_FAILURE_WITHIN,
        app.login("bob@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status_and_body(first).await, (503, unavailable()));

    let twenty = async {
        let mut answers = Vec::new();
        for i in 0..20 {
            let response = match i % 3 {
                0 => app.login("bob@example.com", PASSWORD).await,
                // A write: no last known copy can stand in for it.
                1 => app
                    .bare
                    .post(app.url("/api/user/terms/accept"))
                    .bearer_auth(&bob.token)
                    .send()
                    .await
                    .unwrap(),
                _ => app.refresh_with_cookie(&bob.refresh, "").await,
            };
            answers.push(status_and_body(response).await);
        }
        answers
    };
    let answers = answered(
        "twenty requests needing the database",
        TWENTY_WITHIN,
        twenty,
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 503, "{body}");
    }
    // Text answers (refresh) have no JSON body; the JSON ones say exactly this.
    for (_, body) in answers.iter().filter(|(_, b)| !b.is_null()) {
        assert_eq!(body, &unavailable());
    }
    assert_eq!(
        app.get_user(&bob.token).await.status(),
        200,
        "the user read at sign-in stands in while the database is away"
    );

    peers.database.restore();
    let app = &peers.app;
    assert!(
        eventually(|| async {
            let response = answered(
                "a login",
                ANSWER_WITHIN,
                app.login("bob@example.com", PASSWORD),
            )
            .await;
            status_and_body(response).await.0 == 200
        })
        .await,
        "logins work again by themselves"
    );
    assert_eq!(status_and_body(app.get_user(&bob.token).await).await.0, 200);
}

/// Class: database outage turns into hangs. Once PostgreSQL is known to refuse connections,
/// logins, writes and refreshes all get 503 at once; they work again by
/// themselves when it is back.
#[tokio::test]
async fn requests_needing_the_database_fail_fast_while_it_refuses() {
    requests_fail_fast(Fault::Refused).await;
}

/// Class: database outage turns into hangs. The same while PostgreSQL hangs: no request waits
/// on a database that never answers.
#[tokio::test]
async fn requests_needing_the_database_fail_fast_while_it_hangs() {
    requests_fail_fast(Fault::Hanging).await;
}

async fn last_known_user_serves(fault: Fault) {
    let Some(mut peers) = BehindPeers::start().await else {
        return;
    };
    let app = &peers.app;
    let ada = app.signed_in_user("ada@example.com").await;
    assert_eq!(status_and_body(app.get_user(&ada.token).await).await.0, 200);
    // A change made elsewhere is read again once the cached copy is 30 s old (by the app's
    // clock): that read is the copy the outage will stand on.
    let db = app.db().await;
    sqlx::query("UPDATE users SET name = 'Ada Lovelace' WHERE id = $1")
        .bind(&ada.user_id)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    app.clock.advance_ms(31_000);
    let (status, body) = status_and_body(app.get_user(&ada.token).await).await;
    assert_eq!((status, &body["name"]), (200, &json!("Ada Lovelace")));

    peers.break_database(fault).await;
    let app = &peers.app;
    assert!(
        eventually(|| async { health(app).await.1["database"] == "down" }).await,
        "the outage is noticed"
    );
    // Ten minutes later (the access token lives fifteen), still the last known user.
    app.clock.advance_ms(10 * 60_000);
    let response = answered("GET /api/user", ANSWER_WITHIN, app.get_user(&ada.token)).await;
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], json!(ada.user_id));
    assert_eq!(body["name"], "Ada Lovelace");

    peers.database.restore();
    let app = &peers.app;
    assert!(
        eventually(|| async { health(app).await.0 == 200 }).await,
        "back by itself"
    );
    assert_eq!(status_and_body(app.get_user(&ada.token).await).await.0, 200);
}

/// Class: database outage turns into hangs. A signed-in user keeps working from the last
/// known copy while PostgreSQL refuses connections, ten minutes after it was last read.
#[tokio::test]
async fn the_last_known_user_is_served_while_the_database_refuses() {
    last_known_user_serves(Fault::Refused).await;
}

/// Class: database outage turns into hangs. The same while PostgreSQL hangs.
#[tokio::test]
async fn the_last_known_user_is_served_while_the_database_hangs() {
    last_known_user_serves(Fault::Hanging).await;
}

/// Class: database outage turns into hangs (its stand-in must not outlive the truth). With the
/// database up, a user's copy older than 30 s by the app's clock is read again: a change made
/// elsewhere shows, and a user deleted elsewhere is gone instead of coming back from the
/// copy kept for outages. Runs on every engine.
#[tokio::test]
async fn the_copy_kept_for_outages_never_stands_in_for_a_database_that_answers() {
    let app = spawn_app().await;
    let ada = app.signed_in_user("ada@example.com").await;
    assert_eq!(app.get_user(&ada.token).await.status(), 200);

    let db = app.db().await;
    sqlx::query("UPDATE users SET name = 'Ada Lovelace' WHERE id = $1")
        .bind(&ada.user_id)
        .execute(&db)
        .await
        .unwrap();
    app.clock.advance_ms(31_000);
    let body: Value = app.get_user(&ada.token).await.json().await.unwrap();
    assert_eq!(body["name"], "Ada Lovelace");

    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&ada.user_id)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    app.clock.advance_ms(31_000);
    assert_eq!(app.get_user(&ada.token).await.status(), 401);
    // And it stays gone.
    assert_eq!(app.get_user(&ada.token).await.status(), 401);
}
