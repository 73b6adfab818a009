//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane, OWASP's minimum).
//!
//! One rule on both paths (docs/protocol.md, "Passwords"): a password is normalised to NFKC,
//! then its length is counted in Unicode scalar values (8 to 256). NFKC rather than NFC: the
//! same password typed on another keyboard or input method (full-width digits, ligatures, a
//! precomposed or a combining accent) must still log in; the few code points it folds together
//! cost far less entropy than a user locked out of their account.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{ChatError, Result};

use unicode_normalization::UnicodeNormalization;

/// The form a password is hashed and checked in.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Length in Unicode scalar values of an already normalised password.
pub fn length(normalized: &str) -> usize {
    normalized.chars().count()
}

pub fn hash(password: &str) -> Result<String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(ChatError::internal)
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real check, so a login for an unknown user is not faster than a
/// login with a wrong password (which would tell an attacker which usernames exist).
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password").unwrap_or_default());
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalisation_folds_what_keyboards_type_differently() {
        assert_eq!(super::normalize("e\u{301}"), super::normalize("\u{e9}"), "combining or precomposed");
        assert_eq!(super::normalize("\u{ff11}\u{ff12}"), "12", "full-width digits");
        let emoji = "\u{1f600}".repeat(100);
        assert_eq!(super::length(&super::normalize(&emoji)), 100);
        assert_eq!(emoji.len(), 400, "bytes are not the measure");
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("x", "not a hash"));
    }
}
