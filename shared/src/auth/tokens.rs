//! Access tokens: HS256 JWTs with `sub`, `exp`, `iat`, `iss` and `typ:"access"`.
//!
//! Refused besides a bad signature, issuer or type: an expired token, one not yet valid (`nbf`
//! in the future, when present) and one issued in the future (`iat` past now + leeway): a
//! token minted ahead of time, with a stolen key or a skewed clock, must not wait to be used.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

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

/// Issues and verifies access tokens; keys are derived once at init.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl_secs: i64,
}

impl TokenService {
    pub fn new(secret: &str, issuer: &str, ttl_secs: i64) -> Self {
        // Only HS256 is accepted: `alg:none` or any other algorithm fails before the signature check.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
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
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ChatError::internal)
    }

    /// The user id of a valid access token. Expired, forged, wrongly typed or malformed tokens all
    /// get the same answer, so a probe learns nothing about which check failed.
    pub fn verify(&self, token: &str) -> Result<String> {
        let invalid = || ChatError::new(ErrorCode::Unauthorized, "missing, invalid or expired access token");
        if token.is_empty() || token.len() > 4096 {
            return Err(invalid());
        }
        let data = decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|_| invalid())?;
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
