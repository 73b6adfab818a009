//! Call signaling (WebRTC offer/answer/ICE/end relayed between two users): the rules on a signal.

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

pub const CALL_ID_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Offer,
    Answer,
    Ice,
    End,
}

/// Why a call ended, in an `end` the server sends itself.
pub const ANSWERED_ELSEWHERE: &str = "answered_elsewhere";

/// Call ids are chosen by the caller: bounded and printable.
pub fn validate_call_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > CALL_ID_MAX || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ChatError::invalid(format!("callId must be 1-{CALL_ID_MAX} printable ASCII characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids() {
        assert!(validate_call_id("call-1a2b").is_ok());
        assert!(validate_call_id("").is_err());
        assert!(validate_call_id("a b").is_err());
        assert!(validate_call_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn signals_are_lowercase_on_the_wire() {
        assert_eq!(serde_json::to_string(&Signal::Ice).unwrap(), "\"ice\"");
        assert!(serde_json::from_str::<Signal>("\"hangup\"").is_err());
    }
}
