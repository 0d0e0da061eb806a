//! SAML 2.0 sign-in: a real identity provider (pysaml2's IdP, `tests/peers/saml/idp.py`) walked
//! as a browser walks it, and attacks on the callback with responses built here and signed by
//! Debian's `xmlsec1` (with the IdP's test key, or an attacker's): every check of the response
//! has a test that fails without it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::*;
use crate::log_capture::{capture, logged};

const SP_ENTITY_ID: &str = "bouncer-test-sp";
const IDP_ENTITY_ID: &str = "https://idp.test/metadata";
const SESSION_SECRET: &str = "saml-session-secret-0123456789abcdef0123";
const FLOW_COOKIE: &str = "bouncer_oauth_state";

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/saml")
}

fn idp_cert() -> String {
    peers().join("test-idp-cert.pem").display().to_string()
}

/// `xmlsec1`, or a skip (a failure under CI).
fn xmlsec1(test: &str) -> bool {
    let found = std::process::Command::new("xmlsec1")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip(test, "xmlsec1 is not installed (apt-get install xmlsec1)");
    }
    found
}

/// An app with SAML on, at its own origin (the callback URL is then known before it starts).
async fn saml_app(extra: &[(&str, &str)]) -> TestApp {
    let cert = idp_cert();
    let mut vars = vec![
        ("ALLOW_SOCIAL_LOGIN", "true"),
        ("SAML_ENTRY_POINT", "https://idp.test/sso"),
        ("SAML_ISSUER", SP_ENTITY_ID),
        ("SAML_CERT", cert.as_str()),
        ("SAML_SESSION_SECRET", SESSION_SECRET),
    ];
    vars.extend_from_slice(extra);
    spawn_app_at_own_origin(&vars).await
}

fn callback_url(app: &TestApp) -> String {
    app.ctx.config.saml.as_ref().unwrap().callback_url.clone()
}

/// A sign-in begun at `/oauth/saml`: the flow cookie, the AuthnRequest's ID and RelayState.
struct Flow {
    cookie: String,
    request_id: String,
    relay_state: String,
    authn_request: String,
    location: String,
}

async fn begin(app: &TestApp) -> Flow {
    let r = app.bare.get(app.url("/oauth/saml")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = location(&r);
    let cookie = cookie_value(r.headers(), FLOW_COOKIE).expect("flow cookie");
    let url = url::Url::parse(&location).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&query["SAMLRequest"])
        .unwrap();
    let mut authn_request = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut authn_request)
        .unwrap();
    let request_id = regex::Regex::new(r#"\bID="([^"]+)""#)
        .unwrap()
        .captures(&authn_request)
        .expect("the AuthnRequest has an ID")[1]
        .to_string();
    Flow {
        cookie,
        request_id,
        relay_state: query["RelayState"].clone(),
        authn_request,
        location,
    }
}

/// Posts a `SAMLResponse` (given as XML) to the callback, as the IdP's auto-submitting form does.
async fn post_response(app: &TestApp, flow: &Flow, xml: &str) -> reqwest::Response {
    post_encoded(
        app,
        flow,
        &base64::engine::general_purpose::STANDARD.encode(xml),
    )
    .await
}

async fn post_encoded(app: &TestApp, flow: &Flow, saml_response: &str) -> reqwest::Response {
    let body = serde_urlencoded::to_string([
        ("SAMLResponse", saml_response),
        ("RelayState", flow.relay_state.as_str()),
    ])
    .unwrap();
    app.bare
        .post(app.url("/oauth/saml/callback"))
        .header("Cookie", format!("{FLOW_COOKIE}={}", flow.cookie))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The user the callback's refresh cookie signs in as; `None` when it failed (auth_failed).
async fn signed_in_as(app: &TestApp, r: reqwest::Response) -> Option<Value> {
    assert_eq!(r.status(), 302, "the callback redirects");
    let to = location(&r);
    let Some(refresh) = cookie_value(r.headers(), "refreshToken") else {
        assert!(
            to.ends_with("/login?redirect=false&error=auth_failed"),
            "a failure goes to auth_failed: {to}"
        );
        return None;
    };
    assert_eq!(
        to, app.ctx.config.client.domain_client,
        "as the other providers"
    );
    assert_eq!(
        cookie_value(r.headers(), "token_provider").as_deref(),
        Some("librechat")
    );
    let (status, body) = status_and_json(app.refresh_with_cookie(&refresh, "").await).await;
    assert_eq!(status, 200, "{body}");
    Some(body["user"].clone())
}

/// What the built response says; `Default` is a valid answer to `flow`.
#[derive(Clone)]
struct Claims {
    name_id: String,
    email: String,
    given_name: String,
    family_name: String,
    audience: String,
    recipient: String,
    destination: Option<String>,
    response_in_response_to: Option<String>,
    in_response_to: Option<String>,
    status: String,
    issued_ms: i64,
    not_before_ms: i64,
    not_on_or_after_ms: i64,
    assertion_id: String,
    response_id: String,
}

impl Claims {
    fn for_flow(app: &TestApp, flow: &Flow, email: &str) -> Self {
        let now = app.clock.now_ms();
        Self {
            name_id: email.into(),
            email: email.into(),
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            audience: SP_ENTITY_ID.into(),
            recipient: callback_url(app),
            destination: Some(callback_url(app)),
            response_in_response_to: Some(flow.request_id.clone()),
            in_response_to: Some(flow.request_id.clone()),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            issued_ms: now,
            not_before_ms: now - 5_000,
            not_on_or_after_ms: now + 300_000,
            assertion_id: format!("_a{}", bouncer::ids::random_hex(12)),
            response_id: format!("_r{}", bouncer::ids::random_hex(12)),
        }
    }
}

use bouncer::clock::Clock;

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// An XML-DSig template xmlsec1 fills in: RSA-SHA256 (or `method`), exclusive C14N, the
/// enveloped transform, and the signer's certificate in KeyInfo.
fn signature_template(reference_id: &str, method: &str, digest: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{reference_id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"##
    )
}

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

#[derive(Clone, Copy, PartialEq)]
enum Signed {
    Assertion,
    Response,
    /// The assertion, then the Response around it.
    Both,
    Nothing,
}

fn assertion_xml(c: &Claims, template: bool) -> String {
    let signature = if template {
        signature_template(&c.assertion_id, RSA_SHA256, SHA256)
    } else {
        String::new()
    };
    let in_response_to = c
        .in_response_to
        .as_ref()
        .map(|id| format!(r#" InResponseTo="{id}""#))
        .unwrap_or_default();
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{recipient}"{in_response_to}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{from}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="given_name"><saml:AttributeValue>{given}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="family_name"><saml:AttributeValue>{family}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
        id = c.assertion_id,
        issued = time(c.issued_ms),
        name_id = c.name_id,
        until = time(c.not_on_or_after_ms),
        from = time(c.not_before_ms),
        recipient = c.recipient,
        audience = c.audience,
        email = c.email,
        given = c.given_name,
        family = c.family_name,
    )
}

fn response_xml(c: &Claims, signed: Signed, assertion: &str) -> String {
    let signature = if matches!(signed, Signed::Response | Signed::Both) {
        signature_template(&c.response_id, RSA_SHA256, SHA256)
    } else {
        String::new()
    };
    let attr = |name: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!(r#" {name}="{v}""#))
            .unwrap_or_default()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issued}"{destination}{in_response_to}><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>{signature}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
        id = c.response_id,
        issued = time(c.issued_ms),
        destination = attr("Destination", &c.destination),
        in_response_to = attr("InResponseTo", &c.response_in_response_to),
        status = c.status,
    )
}

/// Signs the first signature template of `xml` with `xmlsec1` and the key pair `who`
/// (`idp` or `attacker`, under tests/peers/saml/).
fn sign(xml: &str, who: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.xml");
    let output = dir.path().join("out.xml");
    std::fs::write(&input, xml).unwrap();
    let keys = format!(
        "{},{}",
        peers().join(format!("test-{who}-key.pem")).display(),
        peers().join(format!("test-{who}-cert.pem")).display()
    );
    let out = std::process::Command::new("xmlsec1")
        .args(["--sign", "--privkey-pem", &keys])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ])
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("xmlsec1 runs");
    assert!(
        out.status.success(),
        "xmlsec1 --sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&output).unwrap()
}

/// The response for `c`, signed where `signed` says by `who`.
fn signed_response(c: &Claims, signed: Signed, who: &str) -> String {
    match signed {
        Signed::Assertion => {
            let signed = sign(&assertion_xml(c, true), who);
            // xmlsec1 writes an XML declaration first; the element follows it.
            let assertion = &signed[signed.find("<saml:Assertion").unwrap()..];
            response_xml(c, Signed::Nothing, assertion.trim_end())
        }
        Signed::Response => sign(&response_xml(c, signed, &assertion_xml(c, false)), who),
        Signed::Both => {
            let signed = sign(&assertion_xml(c, true), who);
            let assertion = &signed[signed.find("<saml:Assertion").unwrap()..];
            // xmlsec1 signs the first template: the Response's, before the assertion.
            let response = response_xml(c, Signed::Both, assertion.trim_end());
            let both = sign(&response, who);
            assert_eq!(both.matches("<ds:SignatureValue>").count(), 2);
            both
        }
        Signed::Nothing => response_xml(c, signed, &assertion_xml(c, false)),
    }
}

#[tokio::test]
async fn saml_is_announced_and_serves_its_metadata() {
    let app = saml_app(&[
        ("SAML_BUTTON_LABEL", "Sign in with Corp"),
        ("SAML_IMAGE_URL", "https://corp.example.com/logo.svg"),
    ])
    .await;
    let config: Value = app
        .bare
        .get(app.url("/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["samlLoginEnabled"], true);
    assert_eq!(config["samlLabel"], "Sign in with Corp");
    assert_eq!(config["samlImageUrl"], "https://corp.example.com/logo.svg");

    let r = app
        .bare
        .get(app.url("/oauth/saml/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
    let metadata = r.text().await.unwrap();
    assert!(
        metadata.contains(&format!(r#"entityID="{SP_ENTITY_ID}""#)),
        "{metadata}"
    );
    assert!(
        metadata.contains(&format!(r#"Location="{}""#, callback_url(&app))),
        "{metadata}"
    );
    assert!(metadata.contains("HTTP-POST"), "{metadata}");

    let flow = begin(&app).await;
    assert!(flow
        .location
        .starts_with("https://idp.test/sso?SAMLRequest="));
    assert!(flow.authn_request.contains(&format!(
        r#"AssertionConsumerServiceURL="{}""#,
        callback_url(&app)
    )));
    assert!(flow.authn_request.contains(SP_ENTITY_ID));
    assert!(
        !flow.authn_request.contains("Signature"),
        "unsigned, as LibreChat's"
    );

    // The sign-in pages list the button, with the return address of the pages' flows.
    let page = app
        .bare
        .get(app.url("/ui/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"href="/oauth/saml?rd="#), "{page}");
    assert!(page.contains("Sign in with Corp"));

    // Unset: omitted, as LibreChat omits them; and off without ALLOW_SOCIAL_LOGIN.
    let plain = saml_app(&[]).await;
    let config = plain
        .bare
        .get(plain.url("/api/config"))
        .send()
        .await
        .unwrap();
    let config: Value = config.json().await.unwrap();
    assert_eq!(config["samlLoginEnabled"], true);
    assert!(config.get("samlLabel").is_none() && config.get("samlImageUrl").is_none());
    let off = saml_app(&[("ALLOW_SOCIAL_LOGIN", "false")]).await;
    let config: Value = off
        .bare
        .get(off.url("/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["samlLoginEnabled"], false);
    let r = off.bare.get(off.url("/oauth/saml")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_response_signed_with_the_idp_key_signs_in_and_creates_the_user() {
    if !xmlsec1("a_response_signed_with_the_idp_key_signs_in_and_creates_the_user") {
        return;
    }
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "Ada@Example.com");
    let r = post_response(
        &app,
        &flow,
        &signed_response(&claims, Signed::Assertion, "idp"),
    )
    .await;
    let user = signed_in_as(&app, r).await.expect("signed in");
    assert_eq!(user["provider"], "saml");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM user_identities WHERE provider = 'saml' AND subject = $1",
            &["Ada@Example.com"]
        )
        .await,
        1,
        "samlId is the NameID"
    );
}

#[tokio::test]
async fn a_response_signed_by_another_key_is_refused_even_with_its_certificate_inside() {
    if !xmlsec1("a_response_signed_by_another_key_is_refused") {
        return;
    }
    capture();
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "mallory@example.com");
    let forged = signed_response(&claims, Signed::Assertion, "attacker");
    assert!(
        forged.contains("<ds:X509Certificate>"),
        "the attacker's certificate is inside"
    );
    let r = post_response(&app, &flow, &forged).await;
    assert!(signed_in_as(&app, r).await.is_none());
    assert!(logged(&["saml", "no valid signature"]));
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
}

#[tokio::test]
async fn an_unsigned_response_is_refused() {
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "mallory@example.com");
    let r = post_response(
        &app,
        &flow,
        &signed_response(&claims, Signed::Nothing, "idp"),
    )
    .await;
    assert!(signed_in_as(&app, r).await.is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 0);
}

#[tokio::test]
async fn signature_wrapping_reads_only_the_signed_assertion() {
    if !xmlsec1("signature_wrapping_reads_only_the_signed_assertion") {
        return;
    }
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let genuine = Claims::for_flow(&app, &flow, "alice@example.com");
    let signed = signed_response(&genuine, Signed::Assertion, "idp");
    let start = signed.find("<saml:Assertion").unwrap();
    let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let signed_assertion = &signed[start..end];
    let mut evil = Claims::for_flow(&app, &flow, "admin@example.com");
    evil.given_name = "Evil".into();
    let evil_assertion = assertion_xml(&evil, false);

    // The injected assertion first, the signed one moved inside it: whatever is accepted
    // must be the signed one.
    let wrapped_inside = evil_assertion.replace(
        "</saml:Assertion>",
        &format!("{signed_assertion}</saml:Assertion>"),
    );
    let xml = response_xml(&genuine, Signed::Nothing, &wrapped_inside);
    let r = post_response(&app, &flow, &xml).await;
    if let Some(user) = signed_in_as(&app, r).await {
        assert_eq!(
            user["email"], "alice@example.com",
            "only the signed content is used"
        );
    }
    // The injected one beside the signed one.
    let flow = begin(&app).await;
    let genuine = Claims::for_flow(&app, &flow, "alice@example.com");
    let signed = signed_response(&genuine, Signed::Assertion, "idp");
    let evil = assertion_xml(&Claims::for_flow(&app, &flow, "admin@example.com"), false);
    let xml = signed.replace("<samlp:Status>", &format!("{evil}<samlp:Status>"));
    let r = post_response(&app, &flow, &xml).await;
    if let Some(user) = signed_in_as(&app, r).await {
        assert_eq!(
            user["email"], "alice@example.com",
            "only the signed content is used"
        );
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'admin@example.com'",
            &[]
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_comment_in_the_name_id_does_not_cut_it_short() {
    if !xmlsec1("a_comment_in_the_name_id_does_not_cut_it_short") {
        return;
    }
    let app = saml_app(&[]).await;
    // admin@x.com has an account of its own; the attacker owns admin@x.com.evil.com at the IdP.
    app.register("Admin", "admin@x.com", PASSWORD).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "admin@x.com.evil.com");
    let signed = signed_response(&claims, Signed::Assertion, "idp");
    // Comments are outside the canonical form: inserting one keeps the signature valid.
    let injected = signed.replace("admin@x.com.evil.com", "admin@x.com<!---->.evil.com");
    assert_ne!(injected, signed);
    let r = post_response(&app, &flow, &injected).await;
    // Refused (the reduction to the signed content does not match a split text), or read
    // whole: never the victim's address.
    if let Some(user) = signed_in_as(&app, r).await {
        assert_eq!(user["email"], "admin@x.com.evil.com");
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM user_identities WHERE subject = 'admin@x.com'",
            &[]
        )
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'admin@x.com'", &[])
            .await,
        0,
        "no session for the victim"
    );
}

#[tokio::test]
async fn an_assertion_is_used_once_across_instances() {
    if !xmlsec1("an_assertion_is_used_once_across_instances") {
        return;
    }
    capture();
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let xml = signed_response(&claims, Signed::Assertion, "idp");
    let r = post_response(&app, &flow, &xml).await;
    assert!(signed_in_as(&app, r).await.is_some());
    // The same post again, on a second instance over the same database.
    let second = bouncer::AppContext::build(app.ctx.config.clone(), app.clock.clone())
        .await
        .unwrap();
    let other = serve(second).await;
    let body = serde_urlencoded::to_string([
        (
            "SAMLResponse",
            base64::engine::general_purpose::STANDARD
                .encode(&xml)
                .as_str(),
        ),
        ("RelayState", flow.relay_state.as_str()),
    ])
    .unwrap();
    let r = app
        .bare
        .post(format!("{other}/oauth/saml/callback"))
        .header("Cookie", format!("{FLOW_COOKIE}={}", flow.cookie))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(
        cookie_value(r.headers(), "refreshToken").is_none(),
        "a replay"
    );
    assert!(location(&r).ends_with("error=auth_failed"));
    assert!(logged(&["saml", &claims.assertion_id, "already used"]));
    // Once expired, its row is purged by the next sign-in.
    app.clock.advance_ms(400_000);
    let flow = begin(&app).await;
    let fresh = Claims::for_flow(&app, &flow, "ada@example.com");
    let r = post_response(
        &app,
        &flow,
        &signed_response(&fresh, Signed::Assertion, "idp"),
    )
    .await;
    assert!(signed_in_as(&app, r).await.is_some());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM saml_assertions WHERE id = $1",
            &[&claims.assertion_id]
        )
        .await,
        0
    );
}

/// Posts `claims` signed by the IdP on the assertion; `true` when it signed in.
async fn accepted(app: &TestApp, flow: &Flow, claims: &Claims) -> bool {
    let r = post_response(
        app,
        flow,
        &signed_response(claims, Signed::Assertion, "idp"),
    )
    .await;
    signed_in_as(app, r).await.is_some()
}

#[tokio::test]
async fn audience_recipient_destination_and_request_must_be_this_sign_ins() {
    if !xmlsec1("audience_recipient_destination_and_request_must_be_this_sign_ins") {
        return;
    }
    capture();
    let app = saml_app(&[]).await;
    type Change = fn(&mut Claims);
    let cases: [(&str, Change); 6] = [
        ("Audience", |c| c.audience = "another-sp".into()),
        ("Recipient", |c| {
            c.recipient = "https://elsewhere.example.com/oauth/saml/callback".into()
        }),
        ("Destination", |c| {
            c.destination = Some("https://elsewhere.example.com/acs".into())
        }),
        ("InResponseTo", |c| {
            c.in_response_to = Some("_someone-elses-request".into())
        }),
        ("Response InResponseTo", |c| {
            c.response_in_response_to = Some("_someone-elses-request".into())
        }),
        ("unsolicited", |c| {
            c.in_response_to = None;
            c.response_in_response_to = None;
        }),
    ];
    for (what, change) in cases {
        let flow = begin(&app).await;
        let mut claims = Claims::for_flow(&app, &flow, "ada@example.com");
        change(&mut claims);
        assert!(
            !accepted(&app, &flow, &claims).await,
            "wrong {what} refused"
        );
    }
    assert!(logged(&["saml", "audience", "another-sp"]));
    assert!(logged(&["saml", "unsolicited"]));
    // And the unchanged response passes: the refusals were the changes'.
    let flow = begin(&app).await;
    assert!(
        accepted(
            &app,
            &flow,
            &Claims::for_flow(&app, &flow, "ada@example.com")
        )
        .await
    );
}

#[tokio::test]
async fn the_validity_window_is_read_on_the_injected_clock_with_a_minute_of_skew() {
    if !xmlsec1("the_validity_window_is_read_on_the_injected_clock") {
        return;
    }
    let app = saml_app(&[]).await;
    let now = app.clock.now_ms();
    type Window = (i64, i64, bool);
    // (NotBefore, NotOnOrAfter) relative to now, and whether it is accepted.
    let cases: [Window; 5] = [
        (-600_000, -61_000, false), // expired beyond the skew
        (-600_000, -30_000, true),  // expired within the skew
        (90_000, 600_000, false),   // not valid for another 90 s
        (30_000, 600_000, true),    // valid in 30 s: within the skew
        (-5_000, 300_000, true),
    ];
    for (from, until, ok) in cases {
        let flow = begin(&app).await;
        let mut claims = Claims::for_flow(&app, &flow, "ada@example.com");
        claims.not_before_ms = now + from;
        claims.not_on_or_after_ms = now + until;
        assert_eq!(accepted(&app, &flow, &claims).await, ok, "{from} {until}");
    }
    // The clock moved past a response's validity between the IdP and the callback.
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    app.clock.advance_ms(300_000 + 61_000);
    assert!(!accepted(&app, &flow, &claims).await);
}

#[tokio::test]
async fn a_failure_status_and_sha1_signatures_are_refused() {
    if !xmlsec1("a_failure_status_and_sha1_signatures_are_refused") {
        return;
    }
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let mut claims = Claims::for_flow(&app, &flow, "ada@example.com");
    claims.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into();
    assert!(!accepted(&app, &flow, &claims).await);

    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let template = assertion_xml(&claims, true)
        .replace(RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1")
        .replace(SHA256, "http://www.w3.org/2000/09/xmldsig#sha1");
    let assertion = sign(&template, "idp");
    let assertion = &assertion[assertion.find("<saml:Assertion").unwrap()..];
    let r = post_response(
        &app,
        &flow,
        &response_xml(&claims, Signed::Nothing, assertion),
    )
    .await;
    assert!(signed_in_as(&app, r).await.is_none());
}

#[tokio::test]
async fn which_element_must_be_signed_follows_saml_use_authn_response_signed() {
    if !xmlsec1("which_element_must_be_signed_follows_saml_use_authn_response_signed") {
        return;
    }
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let r = post_response(
        &app,
        &flow,
        &signed_response(&claims, Signed::Response, "idp"),
    )
    .await;
    assert!(
        signed_in_as(&app, r).await.is_none(),
        "by default the assertion must be signed"
    );
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let r = post_response(&app, &flow, &signed_response(&claims, Signed::Both, "idp")).await;
    assert!(signed_in_as(&app, r).await.is_some(), "both signed is fine");

    let app = saml_app(&[("SAML_USE_AUTHN_RESPONSE_SIGNED", "true")]).await;
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let r = post_response(
        &app,
        &flow,
        &signed_response(&claims, Signed::Assertion, "idp"),
    )
    .await;
    assert!(
        signed_in_as(&app, r).await.is_none(),
        "the Response must be"
    );
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let r = post_response(
        &app,
        &flow,
        &signed_response(&claims, Signed::Response, "idp"),
    )
    .await;
    assert!(signed_in_as(&app, r).await.is_some());
    let flow = begin(&app).await;
    let claims = Claims::for_flow(&app, &flow, "ada@example.com");
    let r = post_response(&app, &flow, &signed_response(&claims, Signed::Both, "idp")).await;
    assert!(signed_in_as(&app, r).await.is_some(), "both signed is fine");
}

#[tokio::test]
async fn bad_input_fails_cleanly() {
    let app = saml_app(&[]).await;
    let flow = begin(&app).await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for bad in [
        "%%% not base64 %%%".to_string(),
        b64("not xml at all"),
        b64("<samlp:Response"),
        b64(
            r#"<!DOCTYPE r [<!ENTITY a "aaaa">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&a;</samlp:Response>"#,
        ),
        b64("<Assertion/>"),
        base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, 0x00]),
        "A".repeat(300 * 1024),
        String::new(),
    ] {
        let r = post_encoded(&app, &flow, &bad).await;
        assert!(signed_in_as(&app, r).await.is_none());
    }
    // No flow cookie, or another RelayState: the flow's own failure.
    let r = app
        .bare
        .post(app.url("/oauth/saml/callback"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("SAMLResponse=PHg%2B&RelayState=x")
        .send()
        .await
        .unwrap();
    assert!(signed_in_as(&app, r).await.is_none());
    let r = app
        .bare
        .post(app.url("/oauth/saml/callback"))
        .header("Cookie", format!("{FLOW_COOKIE}={}", flow.cookie))
        .body("\u{0}\u{1}garbage=%%%")
        .send()
        .await
        .unwrap();
    assert!(signed_in_as(&app, r).await.is_none());
    // Over the body limit: 413 before anything is read.
    let r = post_encoded(&app, &flow, &"A".repeat(1024 * 1024 + 10)).await;
    assert_eq!(r.status(), 413);
}

/// The IdP of `tests/peers/saml/idp.py`, for one test.
struct IdpPeer {
    base: String,
    sso_url: String,
    _child: tokio::process::Child,
}

impl IdpPeer {
    async fn start() -> Self {
        let args = serde_json::json!({
            "key_file": peers().join("test-idp-key.pem"),
            "cert_file": peers().join("test-idp-cert.pem"),
            "xmlsec_binary": "/usr/bin/xmlsec1",
        });
        let mut child = tokio::process::Command::new(crate::mail_peers::python())
            .arg(peers().join("idp.py"))
            .arg(args.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python starts the SAML IdP");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SAML IdP reports its port")
            .unwrap()
            .expect("the SAML IdP printed its port");
        let info: Value = serde_json::from_str(&first).unwrap();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            base: format!("http://127.0.0.1:{}", info["port"]),
            sso_url: info["sso_url"].as_str().unwrap().to_string(),
            _child: child,
        }
    }
}

/// A browser's walk: Bouncer's redirect to the IdP, its login form, and the auto-submitting
/// form's fields posted back to Bouncer with the flow cookie.
async fn walk(app: &TestApp, idp: &IdpPeer, user: &str, password: &str) -> reqwest::Response {
    let flow = begin(app).await;
    assert!(flow.location.starts_with(&idp.sso_url));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(&flow.location).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("username".into(), user.into()));
    form.push(("password".into(), password.into()));
    let answer = browser
        .post(format!("{}/login", idp.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer = answer.text().await.unwrap();
    let action = regex::Regex::new(r#"<form action="([^"]+)""#)
        .unwrap()
        .captures(&answer)
        .expect("an auto-submitting form")[1]
        .to_string();
    assert_eq!(action, callback_url(app));
    let fields = hidden_fields(&answer);
    app.bare
        .post(action)
        .header("Cookie", format!("{FLOW_COOKIE}={}", flow.cookie))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

fn hidden_fields(page: &str) -> Vec<(String, String)> {
    regex::Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)""#)
        .unwrap()
        .captures_iter(page)
        .map(|c| (unescape(&c[1]), unescape(&c[2])))
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn sign_in_through_a_real_identity_provider() {
    if !xmlsec1("sign_in_through_a_real_identity_provider") {
        return;
    }
    let idp = IdpPeer::start().await;
    let app = saml_app(&[
        ("SAML_ENTRY_POINT", idp.sso_url.as_str()),
        ("SAML_GIVEN_NAME_CLAIM", "urn:oid:2.5.4.42"),
        ("SAML_FAMILY_NAME_CLAIM", "urn:oid:2.5.4.4"),
        ("SAML_USERNAME_CLAIM", "urn:oid:0.9.2342.19200300.100.1.1"),
        // pysaml2 sends `email` as PKCS #9's OID; Alice has none and falls back to `email`
        // (from `mail`), as LibreChat's claim lookup does.
        ("SAML_EMAIL_CLAIM", "urn:oid:1.2.840.113549.1.9.1.1"),
    ])
    .await;
    // The IdP's administrator loads Bouncer's metadata.
    let metadata = app
        .bare
        .get(app.url("/oauth/saml/metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = app
        .bare
        .post(format!("{}/register-sp", idp.base))
        .body(metadata)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Alice: email from `mail` by its OID, name from the configured claims.
    let r = walk(&app, &idp, "alice", "alice-password").await;
    let alice = signed_in_as(&app, r).await.expect("alice signed in");
    assert_eq!(alice["provider"], "saml");
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["name"], "Alice Liddell");
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["emailVerified"], true);
    // Bob: the configured email claim; no name claims, so name and username fall back to
    // the email.
    let r = walk(&app, &idp, "bob", "bob-password").await;
    let bob = signed_in_as(&app, r).await.expect("bob signed in");
    assert_eq!(bob["email"], "bob@example.com");
    assert_eq!(bob["name"], "bob@example.com");
    // Alice again: the same account, found by her samlId.
    let r = walk(&app, &idp, "alice", "alice-password").await;
    let again = signed_in_as(&app, r).await.expect("alice again");
    assert_eq!(again["id"], alice["id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM users", &[]).await, 2);
}
