//! The token service the authorizer checks tokens with: `CHAT_JWT_SECRET` locally, or the key
//! ring of the SecureString named by `CHAT_JWT_KEYS_PARAMETER`, read once at init as every other
//! function reads it (docs/protocol.md, "Signing keys and their rotation").
//!
//! At init rather than on the first event: the first event needs the keys anyway, so a lazy read
//! would only move the same round trip (billed either way) into the first handshake's invocation
//! and its timeout; at init it fails as an init error that Lambda retries with the next event, and
//! an environment that Lambda initialises ahead of demand has it done before any client waits.

use chat::auth::{KeyRing, TokenService};
use chat::config::TokenConfig;

use crate::ssm;

pub async fn token_service() -> Result<TokenService, String> {
    let config = TokenConfig::from_env().map_err(|e| e.message)?;
    let Some(name) = &config.jwt_keys_parameter else {
        return Ok(TokenService::from_config(&config));
    };
    let text = ssm::Ssm::from_env()?
        .get_secure_string(name)
        .await
        .map_err(|e| format!("cannot read the JWT keys parameter {name}: {e}"))?;
    let ring = KeyRing::parse(&text).map_err(|e| format!("the JWT keys parameter {name}: {}", e.message))?;
    tracing::info!(parameter = %name, kids = ?ring.kids(), "JWT keys loaded");
    Ok(TokenService::with_keys(&ring, &config.jwt_issuer, config.access_token_ttl_secs))
}
