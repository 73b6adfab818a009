//! Access tokens: HS256 JWTs with `sub`, `exp`, `iat`, `iss` and `typ:"access"`.
//!
//! Refused besides a bad signature, issuer or type: an expired token, one not yet valid (`nbf`
//! in the future, when present) and one issued in the future (`iat` past now + leeway): a
//! token minted ahead of time, with a stolen key or a skewed clock, must not wait to be used.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::config::TokenConfig;
use crate::error::{ChatError, ErrorCode, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub typ: String,
    /// Not before (seconds); our tokens do not set it, others' are held to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

pub const ACCESS_TYPE: &str = "access";
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 5;

/// The keys of a rotation (docs/protocol.md, "Signing keys and their rotation"): the first
/// signs, every one verifies. Each has an id that tokens carry in their header as `kid`.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, String)>,
}

/// The kid of the single key given by `CHAT_JWT_SECRET` (local development and tests).
pub const LOCAL_KID: &str = "local";
pub const MIN_SECRET_BYTES: usize = 32;

impl KeyRing {
    /// One key (the local fallback).
    pub fn single(secret: &str) -> Self {
        Self { keys: vec![(LOCAL_KID.to_string(), secret.to_string())] }
    }

    /// The parameter's text: one `kid=secret` per line, the signing key first; blank lines and
    /// `#` comments are skipped. Each secret is at least 32 bytes; kids are unique.
    pub fn parse(text: &str) -> Result<Self> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let Some((kid, secret)) = line.split_once('=') else {
                return Err(ChatError::invalid("each JWT key line is `kid=secret`"));
            };
            let (kid, secret) = (kid.trim(), secret.trim());
            let kid_ok = !kid.is_empty()
                && kid.len() <= 64
                && kid.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !kid_ok {
                return Err(ChatError::invalid("a JWT key id is 1-64 of [A-Za-z0-9._-]"));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(ChatError::invalid(format!("JWT key {kid:?} is shorter than {MIN_SECRET_BYTES} bytes")));
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(ChatError::invalid(format!("JWT key id {kid:?} appears twice")));
            }
            keys.push((kid.to_string(), secret.to_string()));
        }
        if keys.is_empty() {
            return Err(ChatError::invalid("the JWT keys parameter holds no key"));
        }
        Ok(Self { keys })
    }

    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// Issues and verifies access tokens; keys are derived once at init.
#[derive(Clone)]
pub struct TokenService {
    signing_kid: String,
    /// `None`: a function without keys (it neither issues nor checks tokens).
    encoding: Option<EncodingKey>,
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
    issuer: String,
    ttl_secs: i64,
}

impl TokenService {
    /// The service `config` gives before any SSM keys are read: `CHAT_JWT_SECRET` as the one key,
    /// or no key at all (replaced by [`with_keys`](Self::with_keys) once a named parameter is read).
    pub fn from_config(config: &TokenConfig) -> Self {
        let (issuer, ttl) = (&config.jwt_issuer, config.access_token_ttl_secs);
        if config.jwt_secret.is_empty() {
            Self::without_keys(issuer, ttl)
        } else {
            Self::new(&config.jwt_secret, issuer, ttl)
        }
    }

    pub fn new(secret: &str, issuer: &str, ttl_secs: i64) -> Self {
        Self::with_keys(&KeyRing::single(secret), issuer, ttl_secs)
    }

    /// A function given no keys: every token is refused and issuing is an internal error.
    pub fn without_keys(issuer: &str, ttl_secs: i64) -> Self {
        Self::with_keys(&KeyRing { keys: Vec::new() }, issuer, ttl_secs)
    }

    pub fn with_keys(ring: &KeyRing, issuer: &str, ttl_secs: i64) -> Self {
        // Only HS256 is accepted: `alg:none` or any other algorithm fails before the signature check.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let (signing_kid, encoding) = match ring.keys.first() {
            Some((kid, secret)) => (kid.clone(), Some(EncodingKey::from_secret(secret.as_bytes()))),
            None => (String::new(), None),
        };
        Self {
            signing_kid,
            encoding,
            decoding: ring
                .keys
                .iter()
                .map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret.as_bytes())))
                .collect(),
            validation,
            issuer: issuer.to_string(),
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, user_id: &str, now_epoch: i64) -> Result<String> {
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iat: now_epoch,
            exp: now_epoch + self.ttl_secs,
            iss: self.issuer.clone(),
            typ: ACCESS_TYPE.to_string(),
            nbf: None,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        let key = self.encoding.as_ref().ok_or_else(|| {
            ChatError::internal(
                "this function has no JWT keys: set CHAT_JWT_KEYS_PARAMETER (or CHAT_JWT_SECRET locally)",
            )
        })?;
        encode(&header, &claims, key).map_err(ChatError::internal)
    }

    /// The user id of a valid access token. Expired, forged, wrongly typed or malformed tokens all
    /// get the same answer, so a probe learns nothing about which check failed.
    pub fn verify(&self, token: &str) -> Result<String> {
        let invalid = || ChatError::new(ErrorCode::Unauthorized, "missing, invalid or expired access token");
        if token.is_empty() || token.len() > 4096 {
            return Err(invalid());
        }
        // The key the header names; a token without `kid` (issued before kids) is checked
        // against the signing key.
        let kid = jsonwebtoken::decode_header(token).map_err(|_| invalid())?.kid;
        let key = match kid.as_deref() {
            Some(kid) => self.decoding.iter().find(|(k, _)| k == kid).map(|(_, key)| key),
            None => self.decoding.first().map(|(_, key)| key),
        }
        .ok_or_else(invalid)?;
        let data = decode::<AccessClaims>(token, key, &self.validation).map_err(|_| invalid())?;
        let issued_in_future = data.claims.iat > chrono::Utc::now().timestamp() + LEEWAY_SECS as i64;
        if data.claims.typ != ACCESS_TYPE || data.claims.sub.is_empty() || issued_in_future {
            return Err(invalid());
        }
        Ok(data.claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn round_trip() {
        let svc = TokenService::new(SECRET, "chat", 900);
        let token = svc.issue("user-1", now()).unwrap();
        assert_eq!(svc.verify(&token).unwrap(), "user-1");
    }

    #[test]
    fn refuses_expired_forged_other_issuer_and_other_type() {
        let svc = TokenService::new(SECRET, "chat", 900);
        assert!(svc.verify(&svc.issue("u", now() - 2000).unwrap()).is_err(), "expired");
        let other = TokenService::new("another-secret-another-secret-xx", "chat", 900);
        assert!(svc.verify(&other.issue("u", now()).unwrap()).is_err(), "forged");
        let other_iss = TokenService::new(SECRET, "elsewhere", 900);
        assert!(svc.verify(&other_iss.issue("u", now()).unwrap()).is_err(), "issuer");
        let refresh = AccessClaims {
            sub: "u".into(),
            iat: now(),
            exp: now() + 60,
            iss: "chat".into(),
            typ: "refresh".into(),
            nbf: None,
        };
        let t = encode(&Header::new(Algorithm::HS256), &refresh, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
        assert!(svc.verify(&t).is_err(), "refresh type");
    }

    fn signed(claims: &AccessClaims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    }

    #[test]
    fn refuses_not_yet_valid_and_issued_in_the_future() {
        let svc = TokenService::new(SECRET, "chat", 900);
        let base = AccessClaims {
            sub: "u".into(),
            iat: now(),
            exp: now() + 600,
            iss: "chat".into(),
            typ: "access".into(),
            nbf: None,
        };
        assert!(svc.verify(&signed(&base)).is_ok());
        assert!(svc.verify(&signed(&AccessClaims { nbf: Some(now() - 10), ..base.clone() })).is_ok(), "past nbf");
        assert!(svc.verify(&signed(&AccessClaims { nbf: Some(now() + 300), ..base.clone() })).is_err(), "nbf");
        let future = AccessClaims { iat: now() + 86_400, exp: now() + 90_000, ..base };
        assert!(svc.verify(&signed(&future)).is_err(), "far-future iat");
    }

    #[test]
    fn a_rotation_verifies_both_keys_and_signs_with_the_first() {
        let old = KeyRing::parse(&format!("k1={SECRET}")).unwrap();
        let both = KeyRing::parse(&format!("# rotating\nk2={}\n\nk1={SECRET}\n", "n".repeat(40))).unwrap();
        assert_eq!(both.kids(), vec!["k2", "k1"]);
        let (before, during) =
            (TokenService::with_keys(&old, "chat", 900), TokenService::with_keys(&both, "chat", 900));
        let old_token = before.issue("u", now()).unwrap();
        assert_eq!(during.verify(&old_token).unwrap(), "u", "tokens of the old key still work");
        let new_token = during.issue("u", now()).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().kid.as_deref(), Some("k2"));
        assert!(before.verify(&new_token).is_err(), "an instance without k2 refuses its tokens");
        let after = TokenService::with_keys(&KeyRing::parse(&format!("k2={}", "n".repeat(40))).unwrap(), "chat", 900);
        assert!(after.verify(&old_token).is_err(), "a removed key verifies nothing");
        for bad in ["", "k1", "k1=short", &format!("k1={SECRET}\nk1={SECRET}"), &format!("k 1={SECRET}")] {
            assert!(KeyRing::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn without_keys_nothing_is_issued_or_accepted() {
        let none = TokenService::without_keys("chat", 900);
        assert!(none.issue("u", now()).is_err());
        let token = TokenService::new(SECRET, "chat", 900).issue("u", now()).unwrap();
        assert!(none.verify(&token).is_err());
    }

    #[test]
    fn refuses_alg_none() {
        let svc = TokenService::new(SECRET, "chat", 900);
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"u","exp":{},"iat":{},"iss":"chat","typ":"access"}}"#,
            now() + 60,
            now()
        ));
        assert!(svc.verify(&format!("{header}.{claims}.")).is_err());
    }
}
