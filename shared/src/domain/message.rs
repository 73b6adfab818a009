//! Messages and the rules on what a client may send.

use serde::{Deserialize, Serialize};

use crate::domain::id::{is_ulid, parse_ulid};
use crate::error::{ChatError, ErrorCode, Result};

/// auto: sent by the daily planner on the user's behalf; system: written by the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    File,
    Voice,
    Auto,
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Message id; id order is history order (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub id: String,
    pub conversation_id: String,
    /// The sender (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub sender_id: String,
    pub kind: MessageKind,
    /// At most 4,000 characters (Unicode scalar values); null once deleted.
    #[schema(required = true, max_length = 4000)]
    pub content: Option<String>,
    /// The sender's idempotency key. A fresh ULID (0-5 s old) names the message's id, and the
    /// send is then one write (docs/protocol.md, "clientMsgId").
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    pub client_msg_id: Option<String>,
    /// The ULID's own timestamp, so it always agrees with id. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub created_at: String,
    /// Time of the last edit. RFC 3339, UTC, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub edited_at: Option<String>,
    /// true for a tombstone (content null).
    pub deleted: bool,
    /// As the sender sees it: delivered once every other member delivered it, read once every other member read it.
    /// Only on the sender's own messages, in direct and group conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::MessageStatus)]
    pub status: Option<String>,
    /// Files and voice notes (kind `file`/`voice`), with a download URL made for this reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub attachment: Option<Box<crate::domain::attachment::Attachment>>,
}

pub const CLIENT_MSG_ID_MAX: usize = 64;

/// Content must be non-blank and at most `max_chars` characters (Unicode scalar values).
pub fn validate_content(content: &str, max_chars: usize) -> Result<()> {
    if content.trim().is_empty() {
        return Err(ChatError::invalid("content must not be empty"));
    }
    let chars = content.chars().count();
    if chars > max_chars {
        return Err(ChatError::new(
            ErrorCode::PayloadTooLarge,
            format!("content is {chars} characters; the limit is {max_chars}"),
        ));
    }
    Ok(())
}

/// Client message ids key the idempotency record: bounded and printable.
pub fn validate_client_msg_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > CLIENT_MSG_ID_MAX || id.chars().any(|c| c.is_control()) {
        return Err(ChatError::invalid(format!("clientMsgId must be 1-{CLIENT_MSG_ID_MAX} printable characters")));
    }
    Ok(())
}

/// A pointer (read, delivered, sync) may name any time up to now: a client cannot mark messages
/// that do not exist yet as read by naming an id from the future.
pub fn validate_pointer_id(id: &str) -> Result<()> {
    let ulid = parse_ulid(id).ok_or_else(|| ChatError::invalid(format!("{id:?} is not a message id")))?;
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    if ulid.timestamp_ms() > now_ms + 5_000 {
        return Err(ChatError::invalid("messageId is in the future"));
    }
    Ok(())
}

/// Message ids arrive as paging cursors: only well-formed ULIDs reach a key condition.
pub fn validate_message_id(id: &str) -> Result<()> {
    if is_ulid(id) { Ok(()) } else { Err(ChatError::invalid(format!("{id:?} is not a message id"))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::id::new_id;

    #[test]
    fn content_limits_count_characters_not_bytes() {
        assert!(validate_content("hi", 4000).is_ok());
        assert!(validate_content("   ", 4000).is_err());
        assert!(validate_content(&"é".repeat(4000), 4000).is_ok());
        let err = validate_content(&"a".repeat(4001), 4000).unwrap_err();
        assert_eq!(err.code, ErrorCode::PayloadTooLarge);
    }

    #[test]
    fn client_msg_ids() {
        assert!(validate_client_msg_id("c-1").is_ok());
        assert!(validate_client_msg_id("").is_err());
        assert!(validate_client_msg_id(&"x".repeat(65)).is_err());
        assert!(validate_client_msg_id("a\nb").is_err());
    }

    #[test]
    fn message_ids() {
        assert!(validate_message_id(&new_id()).is_ok());
        assert!(validate_message_id("MSG#x").is_err());
    }
}
