//! Refresh tokens: `{familyId}.{secret}`. Only the SHA-256 of the whole token is stored; the family
//! id lets the store find the family to revoke when a rotated token is presented again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{ChatError, Result};

pub struct NewRefreshToken {
    pub token: String,
    pub hash: String,
}

pub fn new_family_id() -> String {
    ulid::Ulid::generate().to_string()
}

pub fn issue(family_id: &str) -> Result<NewRefreshToken> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(ChatError::internal)?;
    let token = format!("{family_id}.{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash(&token);
    Ok(NewRefreshToken { token, hash })
}

pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The family id of a well-formed token, `None` for anything else.
pub fn family_of(token: &str) -> Option<&str> {
    let (family, secret) = token.split_once('.')?;
    let well_formed = family.parse::<ulid::Ulid>().is_ok() && secret.len() == 43;
    well_formed.then_some(family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_family_and_hash_stably() {
        let family = new_family_id();
        let t = issue(&family).unwrap();
        assert_eq!(family_of(&t.token), Some(family.as_str()));
        assert_eq!(hash(&t.token), t.hash);
        assert_ne!(issue(&family).unwrap().token, t.token);
        assert_eq!(family_of("garbage"), None);
        assert_eq!(family_of(&format!("{family}.short")), None);
    }
}
