//! The access-token settings: all a function that only checks tokens reads (the `$connect`
//! authorizer builds its `TokenService` from these alone, without the rest of [`Config`]).
//!
//! [`Config`]: super::Config

use crate::auth::tokens::MIN_SECRET_BYTES;
use crate::error::{ChatError, Result};

#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// HS256 secret for access tokens (`CHAT_JWT_SECRET`, at least 32 bytes).
    pub jwt_secret: String,
    /// SSM parameter (SecureString) with the JWT keys, one `kid=secret` a line, the signing key
    /// first (`CHAT_JWT_KEYS_PARAMETER`); when set, `jwt_secret` is not used.
    pub jwt_keys_parameter: Option<String>,
    /// `CHAT_JWT_ISSUER` (`chat-backend`).
    pub jwt_issuer: String,
    /// `CHAT_ACCESS_TOKEN_TTL_SECS` (900).
    pub access_token_ttl_secs: i64,
}

impl TokenConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        // The keys come from SSM when a parameter is named (template.yaml, on the functions that
        // issue or check tokens); CHAT_JWT_SECRET is the local fallback; with neither, this
        // function has no keys and refuses every token (docs/protocol.md, "Signing keys").
        let jwt_keys_parameter = lookup("CHAT_JWT_KEYS_PARAMETER").filter(|v| !v.is_empty());
        let jwt_secret = lookup("CHAT_JWT_SECRET").unwrap_or_default();
        if jwt_keys_parameter.is_none() && !jwt_secret.is_empty() && jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(ChatError::invalid("CHAT_JWT_SECRET must be at least 32 bytes"));
        }
        let access_token_ttl_secs = match lookup("CHAT_ACCESS_TOKEN_TTL_SECS").filter(|v| !v.is_empty()) {
            Some(v) => v.parse().map_err(|_| {
                ChatError::invalid(format!("CHAT_ACCESS_TOKEN_TTL_SECS must be a whole number, got {v:?}"))
            })?,
            None => 900,
        };
        Ok(Self {
            jwt_secret,
            jwt_keys_parameter,
            jwt_issuer: lookup("CHAT_JWT_ISSUER").filter(|v| !v.is_empty()).unwrap_or_else(|| "chat-backend".into()),
            access_token_ttl_secs,
        })
    }

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<TokenConfig> {
        TokenConfig::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        let c = config(&[]).unwrap();
        assert_eq!((c.jwt_issuer.as_str(), c.access_token_ttl_secs), ("chat-backend", 900));
        assert!(c.jwt_secret.is_empty() && c.jwt_keys_parameter.is_none());
        let c = config(&[
            ("CHAT_JWT_ISSUER", "me"),
            ("CHAT_ACCESS_TOKEN_TTL_SECS", "60"),
            ("CHAT_JWT_KEYS_PARAMETER", "/k"),
        ])
        .unwrap();
        assert_eq!((c.jwt_issuer.as_str(), c.access_token_ttl_secs), ("me", 60));
        assert_eq!(c.jwt_keys_parameter.as_deref(), Some("/k"));
    }

    #[test]
    fn a_short_secret_is_refused_unless_a_parameter_is_named() {
        assert!(config(&[("CHAT_JWT_SECRET", "short")]).is_err());
        assert!(config(&[("CHAT_JWT_SECRET", "short"), ("CHAT_JWT_KEYS_PARAMETER", "/k")]).is_ok());
        assert!(config(&[("CHAT_ACCESS_TOKEN_TTL_SECS", "soon")]).is_err());
    }
}
