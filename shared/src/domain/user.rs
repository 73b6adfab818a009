//! Users and the rules on their names, emails and passwords (docs/protocol.md, REST).

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

/// The public view of a user; the password hash never leaves the store adapter's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub id: String,
    /// Unique case-insensitively; returned as registered.
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// Only in the caller's own user (`/me`, register, login); never in another user's public view.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: String,
    /// Registration time. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub created_at: String,
    /// When the user was last connected (absent if never). RFC 3339, UTC, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub last_seen: Option<String>,
    /// Has at least one open WebSocket connection.
    pub online: bool,
}

impl User {
    /// What other users may see: no email.
    pub fn public(mut self) -> Self {
        self.email = None;
        self
    }
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
/// argon2 hashes whatever it is given; bound the work an attacker can ask for.
pub const PASSWORD_MAX: usize = 256;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const EMAIL_MAX: usize = 254;

pub fn validate_username(username: &str) -> Result<()> {
    let len = username.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(ChatError::invalid(format!("username must be {USERNAME_MIN}-{USERNAME_MAX} characters")));
    }
    if !username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(ChatError::invalid("username may contain only letters, digits, '_', '.' and '-'"));
    }
    Ok(())
}

/// A deliberately loose check: one '@', something on both sides, a dot in the domain, no spaces.
/// The only real proof of an address is a mail that arrives.
pub fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= EMAIL_MAX
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok { Ok(()) } else { Err(ChatError::invalid("email is not a valid address")) }
}

pub fn validate_password(password: &str) -> Result<()> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(ChatError::invalid(format!("password must be at least {PASSWORD_MIN} characters")));
    }
    if len > PASSWORD_MAX {
        return Err(ChatError::invalid(format!("password must be at most {PASSWORD_MAX} characters")));
    }
    Ok(())
}

pub fn validate_display_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ChatError::invalid("displayName must not be empty"));
    }
    if trimmed.chars().count() > DISPLAY_NAME_MAX {
        return Err(ChatError::invalid(format!("displayName must be at most {DISPLAY_NAME_MAX} characters")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ChatError::invalid("displayName must not contain control characters"));
    }
    Ok(trimmed.to_string())
}

/// Usernames and emails are unique case-insensitively: the key is the lowercase form.
pub fn normalize(login: &str) -> String {
    login.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("ab").is_err());
        assert!(validate_username("abc").is_ok());
        assert!(validate_username(&"a".repeat(32)).is_ok());
        assert!(validate_username(&"a".repeat(33)).is_err());
        assert!(validate_username("a.b-c_d9").is_ok());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("émile").is_err());
        assert!(validate_username("a@b").is_err());
    }

    #[test]
    fn emails() {
        assert!(validate_email("a@b.co").is_ok());
        assert!(validate_email("a@b").is_err());
        assert!(validate_email("@b.co").is_err());
        assert!(validate_email("a@@b.co").is_err());
        assert!(validate_email("a b@c.de").is_err());
        assert!(validate_email("a@.co").is_err());
    }

    #[test]
    fn passwords_and_names() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"x".repeat(257)).is_err());
        assert_eq!(validate_display_name("  Ann  ").unwrap(), "Ann");
        assert!(validate_display_name("   ").is_err());
        assert!(validate_display_name("a\u{0}b").is_err());
        assert_eq!(normalize(" Ann@X.io "), "ann@x.io");
    }
}
