//! A user's devices (`POST /me/devices`): where push notifications go, and what was last seen of
//! each (user agent, address, time). docs/protocol.md, "Devices".

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Web,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Chosen by the client, stable per installation: 1-64 of `[A-Za-z0-9._:-]`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._:-]{1,64}$")]
    pub device_id: String,
    pub platform: Platform,
    /// APNs device token (ios) or FCM registration token (android, web); absent: no push.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_length = 1, max_length = 4096)]
    pub push_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The User-Agent of the last registration or connection from this device.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub user_agent: Option<String>,
    /// The source address of the last registration or connection from this device.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_ip: Option<String>,
    /// Last registration, or last WebSocket connect with `?deviceId=`. RFC 3339, UTC, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub last_seen_at: Option<String>,
    /// First registration. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub created_at: String,
}

/// A user may register this many devices; each costs a push per message while offline.
pub const MAX_DEVICES: usize = 20;
pub const DEVICE_ID_MAX: usize = 64;
pub const PUSH_TOKEN_MAX: usize = 4096;
pub const DEVICE_NAME_MAX: usize = 100;
/// User agents and addresses come from headers: stored cut to this many characters.
pub const SEEN_FIELD_MAX: usize = 256;

pub fn validate_device_id(id: &str) -> Result<()> {
    let ok = (1..=DEVICE_ID_MAX).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok { Ok(()) } else { Err(ChatError::invalid("deviceId must be 1-64 of [A-Za-z0-9._:-]")) }
}

/// Push tokens are opaque to us, but printable ASCII without spaces (APNs hex, FCM base64url-ish).
pub fn validate_push_token(token: &str) -> Result<()> {
    let ok = (1..=PUSH_TOKEN_MAX).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(ChatError::invalid("pushToken must be 1-4096 printable characters without spaces")) }
}

pub fn validate_device_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    if (1..=DEVICE_NAME_MAX).contains(&len) && !name.trim().is_empty() && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ChatError::invalid("name must be 1-100 characters, not blank, without control characters"))
    }
}

/// A header value as stored: at most `SEEN_FIELD_MAX` characters, none of them control characters.
pub fn seen_field(value: &str) -> Option<String> {
    let cleaned: String = value.chars().filter(|c| !c.is_control()).take(SEEN_FIELD_MAX).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_tokens_and_names() {
        assert!(validate_device_id("iphone-15.A:1_b").is_ok());
        for bad in ["", "a b", "a/b", "USER#x", &"x".repeat(65)] {
            assert!(validate_device_id(bad).is_err(), "{bad}");
        }
        assert!(validate_push_token("abc123").is_ok());
        assert!(validate_push_token("a b").is_err());
        assert!(validate_push_token("").is_err());
        assert!(validate_device_name("My phone").is_ok());
        assert!(validate_device_name("  ").is_err());
        assert!(validate_device_name("a\nb").is_err());
        assert_eq!(seen_field("ua\u{0}x").as_deref(), Some("uax"));
        assert_eq!(seen_field(&"y".repeat(300)).map(|s| s.len()), Some(256));
    }
}
