//! Token decoding: no string the fuzzer makes passes for an access, refresh or 2FA temp token,
//! for the sign-in pages' single-sign-on cookie, or for an SSO flow-state cookie: not on its own, not glued to a genuine token, and not
//! spliced into one. (Only the genuine tokens themselves verify, which is checked once so the
//! property cannot hold vacuously.)
#![no_main]

use std::sync::OnceLock;

use bouncer::sessions::tokens::{
    AccessClaims, RefreshClaims, TokenKeys, TwoFactorTempClaims, BROWSER_TYP,
};
use bouncer::sso::state::{FlowState, FlowStateKeys};
use libfuzzer_sys::fuzz_target;

const NOW_MS: i64 = 1_700_000_000_000;
const EXP: i64 = 1_800_000_000;
const FLOW_STATE: &str = "state-1";

struct Fixture {
    keys: TokenKeys,
    flow_keys: FlowStateKeys,
    genuine: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = TokenKeys::new(&"a".repeat(64), &"b".repeat(64));
        let flow_keys = FlowStateKeys::new(&"a".repeat(64));
        let identity = AccessClaims {
            id: "u1".into(),
            username: "eve".into(),
            provider: "local".into(),
            email: "eve@example.com".into(),
            sid: "s1".into(),
            role: Some("USER".into()),
            scope: None,
            name: None,
            typ: None,
            iat: 0,
            exp: EXP,
        };
        let access = keys.sign_access(&identity).unwrap();
        let browser = keys
            .sign_browser(&AccessClaims {
                typ: Some(BROWSER_TYP.into()),
                ..identity
            })
            .unwrap();
        let refresh = keys
            .sign_refresh(&RefreshClaims {
                id: "u1".into(),
                session_id: "s1".into(),
                jti: "j1".into(),
                iat: 0,
                exp: EXP,
            })
            .unwrap();
        let temp = keys
            .sign_two_factor_temp(&TwoFactorTempClaims {
                user_id: "u1".into(),
                two_fa_pending: true,
                iat: 0,
                exp: EXP,
            })
            .unwrap();
        let flow = flow_keys
            .seal(&FlowState {
                provider: "openid".into(),
                state: FLOW_STATE.into(),
                nonce: Some("n1".into()),
                pkce_verifier: Some("v1".into()),
                exp: EXP,
                return_to: Some("https://chat.example.com/".into()),
            })
            .unwrap();
        assert!(keys.verify_access(&access, NOW_MS).is_ok());
        assert!(keys.verify_refresh(&refresh, NOW_MS).is_ok());
        assert!(keys.verify_two_factor_temp(&temp, NOW_MS).is_ok());
        assert!(keys.verify_browser(&browser, NOW_MS).is_ok());
        assert!(flow_keys
            .open(&flow, "openid", FLOW_STATE, NOW_MS)
            .is_some());
        Fixture {
            keys,
            flow_keys,
            genuine: vec![access, refresh, temp, browser, flow],
        }
    })
}

/// Which decoder, if any, takes `token`.
fn accepted_by(f: &Fixture, token: &str) -> Option<&'static str> {
    let k = &f.keys;
    [
        ("access", k.verify_access(token, NOW_MS).is_ok()),
        (
            "access (expiry ignored)",
            k.access_claims_ignoring_expiry(token).is_ok(),
        ),
        ("refresh", k.verify_refresh(token, NOW_MS).is_ok()),
        (
            "refresh (expiry ignored)",
            k.refresh_claims_ignoring_expiry(token).is_ok(),
        ),
        ("2FA temp", k.verify_two_factor_temp(token, NOW_MS).is_ok()),
        ("browser session", k.verify_browser(token, NOW_MS).is_ok()),
        (
            "browser session (expiry ignored)",
            k.browser_claims_ignoring_expiry(token).is_ok(),
        ),
        (
            "flow state",
            f.flow_keys
                .open(token, "openid", FLOW_STATE, NOW_MS)
                .is_some(),
        ),
    ]
    .into_iter()
    .find(|(_, ok)| *ok)
    .map(|(kind, _)| kind)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let input = String::from_utf8_lossy(data);
    let mut candidates = vec![input.to_string()];
    for token in &f.genuine {
        candidates.push(format!("{token}{input}"));
        candidates.push(format!("{input}{token}"));
        // The input written over the token from a position the input picks.
        let at = data.first().map_or(0, |&b| b as usize % token.len());
        let mut spliced: String = token.chars().take(at).collect();
        spliced.push_str(&input);
        spliced.extend(token.chars().skip(at + input.chars().count()));
        candidates.push(spliced);
    }
    for candidate in &candidates {
        if f.genuine.contains(candidate) {
            continue;
        }
        if let Some(kind) = accepted_by(f, candidate) {
            panic!("{candidate:?} verified as a {kind} token");
        }
    }
});
