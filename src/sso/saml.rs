//! SAML 2.0 sign-in as LibreChat's passport-saml strategy does it: an unsigned AuthnRequest over
//! the HTTP-Redirect binding, the Response over the HTTP-POST binding, the user mapped from the
//! assertion's NameID and attributes.
//!
//! XML signatures are checked by xmlsec (through samael), with the configured certificates
//! only, and every later step reads the document xmlsec reduced to what was signed: an unsigned
//! element beside or around the signed one (signature wrapping) is gone before anything is
//! read, and a comment slipped into a signed text (which the signature does not cover) makes
//! the reduction fail, or is read through by the parser, never cutting the text short. What follows the signature is Bouncer's, on the injected clock: the status, the
//! audience, the recipient and destination, the request the response answers (no unsolicited
//! responses), the validity window with `CLOCK_SKEW_MS` of tolerance, and one use per
//! assertion across every instance (`store::saml_assertions`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use quick_xml::events::Event;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use samael::metadata::{EntityDescriptor, IndexedEndpoint, SpSsoDescriptor, HTTP_POST_BINDING};
use samael::schema::{Assertion, AuthnRequest, Issuer, NameIdPolicy, Response};
use samael::traits::ToXml;

use super::state::{FlowState, LIFETIME_SECS};
use super::{ExternalProfile, SsoFailure, Started};
use crate::clock::Clock;
use crate::config::saml::SamlConfig;
use crate::store::users::Provider;
use crate::store::Db;

/// Clock difference tolerated on every time in an assertion.
pub const CLOCK_SKEW_MS: i64 = 60_000;
/// The longest `SAMLResponse` read (base64 text); real ones are a few kilobytes.
pub const MAX_RESPONSE_CHARS: usize = 256 * 1024;

/// What the requests ask for, as passport-saml does by default: IdPs set up for LibreChat
/// release an email-address NameID.
const NAME_ID_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const MAIL_OID: &str = "urn:oid:0.9.2342.19200300.100.1.3";

/// SHA-2 signatures only: SHA-1 ones are refused.
const ALLOWED_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

pub struct SamlProvider {
    checks: SamlChecks,
    clock: Arc<dyn Clock>,
    db: Db,
}

/// A response that passed every check: who it names, and until when its assertion must be
/// remembered as used.
#[derive(Debug)]
pub struct Verified {
    pub assertion_id: String,
    pub remember_until_ms: i64,
    pub profile: ExternalProfile,
}

fn refused(why: impl Into<String>) -> SsoFailure {
    SsoFailure::InvalidSamlResponse(why.into())
}

impl SamlProvider {
    pub fn new(config: SamlConfig, clock: Arc<dyn Clock>, db: Db) -> Self {
        Self {
            checks: SamlChecks::new(config),
            clock,
            db,
        }
    }

    pub fn config(&self) -> &SamlConfig {
        &self.checks.config
    }

    /// The AuthnRequest, unsigned over the HTTP-Redirect binding; its ID is kept in the flow
    /// state (`nonce`) for the response to answer, and `RelayState` is the flow's `state`.
    pub fn begin(&self) -> Result<Started, SsoFailure> {
        let config = self.config();
        let now_ms = self.clock.now_ms();
        let id = format!("_{}", crate::ids::random_hex(20));
        let state = crate::ids::random_hex(16);
        let request = AuthnRequest {
            id: id.clone(),
            version: "2.0".into(),
            issue_instant: instant(now_ms),
            destination: Some(config.entry_point.clone()),
            issuer: Some(Issuer {
                value: Some(config.issuer.clone()),
                ..Issuer::default()
            }),
            name_id_policy: Some(NameIdPolicy {
                allow_create: Some(true),
                format: Some(NAME_ID_FORMAT.into()),
                ..NameIdPolicy::default()
            }),
            protocol_binding: Some(HTTP_POST_BINDING.into()),
            assertion_consumer_service_url: Some(config.callback_url.clone()),
            ..AuthnRequest::default()
        };
        let url = request
            .redirect(&state)
            .map_err(|e| SsoFailure::ProviderUnavailable(format!("AuthnRequest: {e}")))?
            .ok_or_else(|| SsoFailure::ProviderUnavailable("no SAML_ENTRY_POINT".into()))?;
        Ok(Started {
            authorization_url: url.to_string(),
            flow: FlowState {
                provider: Provider::Saml.as_str().to_string(),
                state,
                nonce: Some(id),
                pkce_verifier: None,
                exp: now_ms.div_euclid(1000) + LIFETIME_SECS,
                return_to: None,
            },
        })
    }

    /// The service provider's metadata for the identity provider's administrator: the entity
    /// ID, the assertion consumer service (HTTP-POST) and the NameID format asked for.
    pub fn metadata(&self) -> Result<String, SsoFailure> {
        let config = self.config();
        let descriptor = EntityDescriptor {
            entity_id: Some(config.issuer.clone()),
            sp_sso_descriptors: Some(vec![SpSsoDescriptor {
                protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
                authn_requests_signed: Some(false),
                want_assertions_signed: Some(!config.response_signed),
                name_id_formats: Some(vec![NAME_ID_FORMAT.into()]),
                assertion_consumer_services: vec![IndexedEndpoint {
                    binding: HTTP_POST_BINDING.into(),
                    location: config.callback_url.clone(),
                    response_location: None,
                    index: 0,
                    is_default: Some(true),
                }],
                ..SpSsoDescriptor::default()
            }]),
            ..EntityDescriptor::default()
        };
        descriptor
            .to_string()
            .map_err(|e| SsoFailure::ProviderUnavailable(format!("metadata: {e:?}")))
    }

    /// Checks the posted `SAMLResponse` against the flow it answers, spends its assertion, and
    /// returns the user it names.
    pub async fn finish(
        &self,
        saml_response: &str,
        flow: &FlowState,
    ) -> Result<ExternalProfile, SsoFailure> {
        let request_id = flow.nonce.clone().ok_or(SsoFailure::BadState)?;
        let xml = decode(saml_response)?;
        let now_ms = self.clock.now_ms();
        // xmlsec is synchronous and CPU-bound: off the async workers.
        let verified = {
            let this = self.checks.clone();
            tokio::task::spawn_blocking(move || this.verify(&xml, &request_id, now_ms))
                .await
                .map_err(|e| SsoFailure::Internal(crate::error::Error::Internal(e.into())))??
        };
        if !crate::store::saml_assertions::first_use(
            &self.db,
            &verified.assertion_id,
            verified.remember_until_ms,
            now_ms,
        )
        .await?
        {
            return Err(refused(format!(
                "assertion {} was already used (a replay)",
                verified.assertion_id
            )));
        }
        Ok(verified.profile)
    }
}

/// `SAMLResponse`: base64 (line breaks tolerated) of UTF-8 XML, within `MAX_RESPONSE_CHARS`.
pub fn decode(saml_response: &str) -> Result<String, SsoFailure> {
    if saml_response.len() > MAX_RESPONSE_CHARS {
        return Err(refused(format!(
            "SAMLResponse is {} characters, over {MAX_RESPONSE_CHARS}",
            saml_response.len()
        )));
    }
    let compact: String = saml_response.split_ascii_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| refused("SAMLResponse is not base64"))?;
    String::from_utf8(bytes).map_err(|_| refused("SAMLResponse is not UTF-8 text"))
}

fn instant(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn ms(t: &chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// The checks of a response, apart from the replay memory (a pure function of the document,
/// the configuration and the time: testable without a database).
#[derive(Clone)]
pub struct SamlChecks {
    pub config: SamlConfig,
    pub certificates: Vec<CertificateDer>,
}

impl SamlChecks {
    pub fn new(config: SamlConfig) -> Self {
        let certificates = config
            .certificates
            .iter()
            .cloned()
            .map(CertificateDer::from)
            .collect();
        Self {
            config,
            certificates,
        }
    }

    pub fn verify(&self, xml: &str, request_id: &str, now_ms: i64) -> Result<Verified, SsoFailure> {
        // SAML messages have no document type: refusing one up front keeps entity tricks out
        // of both parsers.
        if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
            return Err(refused("the response carries a DTD"));
        }
        // The unsigned envelope, for what an IdP that signs only the assertion leaves unsigned:
        // a failure status has no assertion to sign, and nothing else is taken from it.
        if root_name(xml).as_deref() != Some("Response") {
            return Err(refused("not a SAML Response"));
        }
        let envelope: Response = xml
            .parse()
            .map_err(|e| refused(format!("not a SAML Response: {e}")))?;
        check_status(&envelope)?;
        if envelope.encrypted_assertion.is_some() {
            return Err(refused(
                "the assertion is encrypted, which Bouncer does not support",
            ));
        }
        self.check_response_fields(&envelope, request_id, false)?;

        // Only what the configured certificates signed survives the reduction.
        let signed = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            &self.certificates,
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(ALLOWED_ALGORITHMS),
        )
        .map_err(|e| {
            refused(format!(
                "no valid signature by the SAML_CERT certificate with SHA-2 ({e})"
            ))
        })?;
        let assertion =
            match root_name(&signed).as_deref() {
                Some("Response") => {
                    let response: Response = signed
                        .parse()
                        .map_err(|e| refused(format!("the signed Response does not parse: {e}")))?;
                    check_status(&response)?;
                    self.check_response_fields(&response, request_id, true)?;
                    let assertion = response
                        .assertion
                        .ok_or_else(|| refused("the signed Response has no assertion"))?;
                    if !self.config.response_signed && !signs_itself(&assertion) {
                        return Err(refused(
                            "the assertion is not signed (only the Response is: set \
                         SAML_USE_AUTHN_RESPONSE_SIGNED=true to accept that)",
                        ));
                    }
                    assertion
                }
                Some("Assertion") if self.config.response_signed => return Err(refused(
                    "the Response is not signed, which SAML_USE_AUTHN_RESPONSE_SIGNED=true asks",
                )),
                Some("Assertion") => signed
                    .parse::<Assertion>()
                    .map_err(|e| refused(format!("the signed assertion does not parse: {e}")))?,
                _ => {
                    return Err(refused(
                        "the signed part is neither a Response nor an Assertion",
                    ))
                }
            };
        let remember_until_ms = self.check_assertion(&assertion, request_id, now_ms)?;
        Ok(Verified {
            assertion_id: assertion.id.clone(),
            remember_until_ms,
            profile: self.profile(&assertion)?,
        })
    }

    /// Destination and InResponseTo of a Response: required on a signed one, checked when
    /// present on the envelope.
    fn check_response_fields(
        &self,
        response: &Response,
        request_id: &str,
        signed: bool,
    ) -> Result<(), SsoFailure> {
        match response.destination.as_deref() {
            Some(d) if d != self.config.callback_url => {
                return Err(refused(format!(
                    "Destination {d:?} is not the callback URL {:?}",
                    self.config.callback_url
                )))
            }
            None if signed => return Err(refused("the signed Response has no Destination")),
            _ => {}
        }
        match response.in_response_to.as_deref() {
            Some(id) if id != request_id => Err(refused(format!(
                "the Response answers request {id:?}, not this sign-in's"
            ))),
            _ => Ok(()),
        }
    }

    /// Every rule on the assertion itself; returns when its validity ends (plus the skew),
    /// which is how long it must be remembered as used.
    fn check_assertion(
        &self,
        a: &Assertion,
        request_id: &str,
        now_ms: i64,
    ) -> Result<i64, SsoFailure> {
        if a.version != "2.0" {
            return Err(refused(format!("assertion version {:?}", a.version)));
        }
        if ms(&a.issue_instant) > now_ms + CLOCK_SKEW_MS {
            return Err(refused("the assertion is issued in the future"));
        }
        let conditions = a
            .conditions
            .as_ref()
            .ok_or_else(|| refused("the assertion has no Conditions"))?;
        if let Some(t) = &conditions.not_before {
            if ms(t) > now_ms + CLOCK_SKEW_MS {
                return Err(refused(format!("the assertion is not valid before {t}")));
            }
        }
        let conditions_until = match &conditions.not_on_or_after {
            Some(t) if ms(t) + CLOCK_SKEW_MS <= now_ms => {
                return Err(refused(format!("the assertion expired at {t}")))
            }
            Some(t) => ms(t),
            None => i64::MIN,
        };
        let restrictions = conditions.audience_restrictions.as_deref().unwrap_or(&[]);
        if restrictions.is_empty()
            || !restrictions
                .iter()
                .all(|r| r.audience.contains(&self.config.issuer))
        {
            let named: Vec<&String> = restrictions.iter().flat_map(|r| &r.audience).collect();
            return Err(refused(format!(
                "the assertion's Audience {named:?} is not SAML_ISSUER ({:?})",
                self.config.issuer
            )));
        }
        let subject = a
            .subject
            .as_ref()
            .ok_or_else(|| refused("the assertion has no Subject"))?;
        let mut why = "the assertion has no bearer SubjectConfirmation".to_string();
        let mut confirmed = None;
        for c in subject.subject_confirmations.iter().flatten() {
            if c.method.as_deref() != Some(BEARER) {
                continue;
            }
            let Some(data) = &c.subject_confirmation_data else {
                why = "the bearer confirmation has no SubjectConfirmationData".into();
                continue;
            };
            match &data.not_on_or_after {
                None => {
                    why = "the bearer confirmation has no NotOnOrAfter".into();
                    continue;
                }
                Some(t) if ms(t) + CLOCK_SKEW_MS <= now_ms => {
                    why = format!("the bearer confirmation expired at {t}");
                    continue;
                }
                Some(_) => {}
            }
            if data
                .not_before
                .as_ref()
                .is_some_and(|t| ms(t) > now_ms + CLOCK_SKEW_MS)
            {
                why = "the bearer confirmation is not valid yet".into();
                continue;
            }
            if data.recipient.as_deref() != Some(self.config.callback_url.as_str()) {
                why = format!(
                    "Recipient {:?} is not the callback URL {:?}",
                    data.recipient, self.config.callback_url
                );
                continue;
            }
            if data.in_response_to.as_deref() != Some(request_id) {
                why = match &data.in_response_to {
                    None => "unsolicited response (no InResponseTo): only sign-ins begun at \
                             /oauth/saml are accepted"
                        .into(),
                    Some(other) => {
                        format!("the assertion answers request {other:?}, not this sign-in's")
                    }
                };
                continue;
            }
            confirmed = data.not_on_or_after.as_ref().map(ms);
            break;
        }
        let confirmed_until = confirmed.ok_or_else(|| refused(why))?;
        Ok(conditions_until.max(confirmed_until) + CLOCK_SKEW_MS)
    }

    /// LibreChat's mapping of a SAML profile (passport-saml's: NameID as `nameID`, every
    /// attribute under its Name, `mail` from its OID, `email` from `mail`).
    fn profile(&self, a: &Assertion) -> Result<ExternalProfile, SsoFailure> {
        let name_id = a
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .map(|n| n.value.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refused("the assertion has no NameID"))?;
        let mut attrs: HashMap<String, Vec<String>> = HashMap::new();
        for statement in a.attribute_statements.iter().flatten() {
            for attribute in &statement.attributes {
                let Some(name) = &attribute.name else {
                    continue;
                };
                let values: Vec<String> = attribute
                    .values
                    .iter()
                    .filter_map(|v| v.value.clone())
                    .collect();
                attrs.entry(name.clone()).or_default().extend(values);
            }
        }
        attrs.insert("nameID".into(), vec![name_id.clone()]);
        if !attrs.contains_key("mail") {
            if let Some(v) = attrs.get(MAIL_OID).cloned() {
                attrs.insert("mail".into(), v);
            }
        }
        if !attrs.contains_key("email") {
            if let Some(v) = attrs.get("mail").cloned() {
                attrs.insert("email".into(), v);
            }
        }
        let c = &self.config;
        let claim = |configured: &Option<String>, default: &str| -> Option<Vec<String>> {
            configured
                .as_deref()
                .and_then(|k| attrs.get(k))
                .or_else(|| attrs.get(default))
                .map(|v| {
                    v.iter()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                })
                .filter(|v| !v.is_empty())
        };
        let first = |v: Option<Vec<String>>| v.and_then(|v| v.into_iter().next());
        let email = first(claim(&c.email_claim, "email"));
        let username_values = claim(&c.username_claim, "username");
        let given = first(claim(&c.given_name_claim, "given_name"));
        let family = first(claim(&c.family_name_claim, "family_name"));
        let name = match &c.name_claim {
            Some(key) => attrs.get(key).map(|v| v.join(" ")).unwrap_or_default(),
            None => match (&given, &family) {
                (Some(g), Some(f)) => format!("{g} {f}"),
                (Some(g), None) => g.clone(),
                (None, Some(f)) => f.clone(),
                (None, None) => first(username_values.clone())
                    .or_else(|| email.clone())
                    .unwrap_or_default(),
            },
        };
        // As convertToUsername: several values joined with underscores.
        let username = username_values
            .map(|v| v.join("_"))
            .or_else(|| given.clone())
            .or_else(|| email.clone())
            .unwrap_or_default();
        Ok(ExternalProfile {
            provider: Provider::Saml,
            issuer: String::new(),
            subject: name_id,
            email,
            // LibreChat's rule for SAML users; the IdP is the operator's own.
            email_verified: true,
            name,
            username,
            avatar: first(claim(&c.picture_claim, "picture")),
            admin: None,
        })
    }
}

fn check_status(response: &Response) -> Result<(), SsoFailure> {
    match response
        .status
        .as_ref()
        .and_then(|s| s.status_code.value.as_deref())
    {
        Some(STATUS_SUCCESS) => Ok(()),
        Some(other) => Err(refused(format!("the identity provider answered {other}"))),
        None => Err(refused("the Response has no status")),
    }
}

/// The assertion carries a signature whose reference is the assertion itself (in the reduced
/// document every remaining signature is one xmlsec verified).
fn signs_itself(a: &Assertion) -> bool {
    let own = format!("#{}", a.id);
    a.signature.as_ref().is_some_and(|s| {
        s.signed_info
            .reference
            .iter()
            .any(|r| r.uri.as_deref() == Some(own.as_str()))
    })
}

/// The local name of the document's root element.
fn root_name(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> SamlConfig {
        let cert = include_str!("../../tests/peers/saml/test-idp-cert.pem");
        let mut vars: HashMap<String, String> = [
            ("SAML_ENTRY_POINT", "https://idp.example.com/sso"),
            ("SAML_ISSUER", "bouncer"),
            ("SAML_CERT", cert),
            ("SAML_SESSION_SECRET", "s".repeat(40).as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            vars.insert(k.to_string(), v.to_string());
        }
        let vars = crate::config::values::Vars::new(&vars);
        SamlConfig::from_vars(vars, true, "https://chat.example.com", false)
            .unwrap()
            .unwrap()
    }

    fn assertion(name_id: &str, attributes: &[(&str, &[&str])]) -> Assertion {
        let attributes: String = attributes
            .iter()
            .map(|(name, values)| {
                let values: String = values
                    .iter()
                    .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
                    .collect();
                format!(r#"<saml:Attribute Name="{name}">{values}</saml:Attribute>"#)
            })
            .collect();
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>{name_id}</saml:NameID></saml:Subject><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#
        )
        .parse()
        .unwrap()
    }

    fn profile(pairs: &[(&str, &str)], a: &Assertion) -> ExternalProfile {
        SamlChecks::new(config(pairs)).profile(a).unwrap()
    }

    #[test]
    fn attributes_map_as_librechat_maps_them() {
        // `mail` by its OID becomes `email`; given and family names make the name; the given
        // name is the username when there is none.
        let a = assertion(
            "id-1",
            &[
                (MAIL_OID, &["ann@example.com"]),
                ("given_name", &["Ann"]),
                ("family_name", &["Smith"]),
            ],
        );
        let p = profile(&[], &a);
        assert_eq!(p.subject, "id-1");
        assert_eq!(p.email.as_deref(), Some("ann@example.com"));
        assert_eq!((p.name.as_str(), p.username.as_str()), ("Ann Smith", "Ann"));
        assert!(p.email_verified);
        assert_eq!(p.provider, Provider::Saml);

        // A configured claim that is missing falls back to the default attribute; several
        // usernames are joined with underscores; the name falls back to the username.
        let a = assertion(
            "id-2",
            &[("email", &["b@example.com"]), ("username", &["b", "bee"])],
        );
        let p = profile(&[("SAML_EMAIL_CLAIM", "upn")], &a);
        assert_eq!(p.email.as_deref(), Some("b@example.com"));
        assert_eq!((p.name.as_str(), p.username.as_str()), ("b", "b_bee"));

        // SAML_NAME_CLAIM wins over the given and family names; the NameID is a claim too.
        let a = assertion(
            "c@example.com",
            &[("displayName", &["Cee"]), ("given_name", &["C"])],
        );
        let p = profile(
            &[
                ("SAML_NAME_CLAIM", "displayName"),
                ("SAML_EMAIL_CLAIM", "nameID"),
            ],
            &a,
        );
        assert_eq!(p.name, "Cee");
        assert_eq!(p.email.as_deref(), Some("c@example.com"));
        assert_eq!(p.username, "C");

        // No email at all: the sign-in fails later (MissingEmail), never here.
        assert_eq!(profile(&[], &assertion("x", &[])).email, None);
        let no_name_id: Assertion = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><saml:Subject/></saml:Assertion>"#
            .parse()
            .unwrap();
        assert!(SamlChecks::new(config(&[])).profile(&no_name_id).is_err());
    }

    /// What the comment-injection defence rests on beside xmlsec's reduction (which refuses a
    /// text split by a comment): samael's parser reads a text around a comment whole, as the
    /// signed canonical form has it.
    #[test]
    fn a_comment_does_not_cut_a_name_id_short() {
        let a: Assertion = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>admin@x.com<!---->.evil.com</saml:NameID></saml:Subject></saml:Assertion>"#
            .parse()
            .unwrap();
        assert_eq!(profile(&[], &a).subject, "admin@x.com.evil.com");
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let checks = SamlChecks::new(config(&[]));
        for xml in [
            "",
            "<",
            "<Response/>",
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>",
            "<?xml version=\"1.0\"?><!DOCTYPE x><x/>",
            "\u{0}\u{1}",
        ] {
            assert!(checks.verify(xml, "_req", 0).is_err(), "{xml:?}");
        }
        // Deep nesting inside and outside known elements: refused, with no stack overflow.
        let deep = |inner: &str| {
            format!(
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">{}{}{}</samlp:Response>"#,
                inner.repeat(40_000),
                "x",
                inner.replace('<', "</").repeat(40_000)
            )
        };
        for inner in ["<a>", "<samlp:Status>", "<saml:Assertion>"] {
            assert!(checks.verify(&deep(inner), "_req", 0).is_err());
        }
        for encoded in ["%%%", "////", "gA=="] {
            assert!(
                decode(encoded).is_err()
                    || decode(encoded).is_ok_and(|x| checks.verify(&x, "_r", 0).is_err())
            );
        }
    }
}
