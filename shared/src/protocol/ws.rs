//! WebSocket frames from clients and events to them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Message;
use crate::error::{ChatError, ErrorCode, Result};

pub const REQUEST_ID_MAX: usize = 128;

/// A client frame after the checks every route shares: size, JSON, `action`, `requestId`.
#[derive(Debug, Clone)]
pub struct Frame {
    pub action: String,
    pub request_id: Option<String>,
    pub body: Value,
}

/// Parses a frame. On failure the error carries the `requestId` when it could be read, so the
/// client can match the answer to its request.
pub fn parse_frame(raw: &str, max_bytes: usize) -> std::result::Result<Frame, (ChatError, Option<String>)> {
    if raw.len() > max_bytes {
        let err = ChatError::new(
            ErrorCode::PayloadTooLarge,
            format!("frame is {} bytes; the limit is {max_bytes}", raw.len()),
        );
        return Err((err, None));
    }
    let body: Value =
        serde_json::from_str(raw).map_err(|e| (ChatError::invalid(format!("frame is not valid JSON: {e}")), None))?;
    let Value::Object(map) = &body else {
        return Err((ChatError::invalid("frame must be a JSON object"), None));
    };
    let request_id = match map.get("requestId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= REQUEST_ID_MAX => Some(s.clone()),
        Some(_) => {
            let err = ChatError::invalid(format!("requestId must be a string of at most {REQUEST_ID_MAX} bytes"));
            return Err((err, None));
        }
    };
    let action = match map.get("action") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err((ChatError::invalid("missing field `action`"), request_id)),
    };
    Ok(Frame { action, request_id, body })
}

impl Frame {
    /// The frame's fields as the action's typed request; serde's message names the bad field.
    pub fn fields<T: for<'de> Deserialize<'de>>(&self) -> Result<T> {
        T::deserialize(&self.body).map_err(|e| ChatError::invalid(format!("invalid `{}` frame: {e}", self.action)))
    }
}

/// `send`: to a conversation, or to a user (their direct conversation, created if needed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendFields {
    pub conversation_id: Option<String>,
    pub to: Option<String>,
    pub content: Option<String>,
    pub attachment_id: Option<String>,
    pub client_msg_id: String,
}

/// `delivered` and `read`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptFields {
    pub conversation_id: String,
    pub message_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypingState {
    Start,
    Stop,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingFields {
    pub conversation_id: String,
    pub state: TypingState,
}

/// `sync`: everything after `since` (or after the caller's delivered pointers), continuing
/// after `cursor` for the next page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncFields {
    pub since: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// `join` / `leave` (rooms).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipFields {
    pub conversation_id: String,
}

/// `call`: one WebRTC signal for `to` (docs/protocol.md, "Calls").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallFields {
    pub to: String,
    pub call_id: String,
    pub signal: crate::domain::call::Signal,
    /// The SDP or ICE candidate, relayed as it is (never stored).
    #[serde(default)]
    pub data: Value,
}

/// A pointer of one member, as `receipt` events and `sync` carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub conversation_id: String,
    pub user_id: String,
    pub message_id: String,
    /// `delivered` or `read`.
    pub status: &'static str,
    pub at: String,
}

/// Events the server pushes. `type` names the event on the wire.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    #[serde(rename = "message.sent", rename_all = "camelCase")]
    MessageSent {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        client_msg_id: String,
        message: Message,
    },
    #[serde(rename = "message.new")]
    MessageNew { message: Message },
    #[serde(rename = "message.updated")]
    MessageUpdated { message: Message },
    #[serde(rename = "message.deleted")]
    MessageDeleted { message: Message },
    #[serde(rename = "receipt", rename_all = "camelCase")]
    Receipt {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        #[serde(flatten)]
        receipt: Receipt,
    },
    #[serde(rename = "typing", rename_all = "camelCase")]
    Typing {
        conversation_id: String,
        user_id: String,
        state: TypingState,
        /// Seconds after which a `start` lapses unless renewed.
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_in: Option<u64>,
    },
    #[serde(rename = "sync", rename_all = "camelCase")]
    Sync {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        messages: Vec<Message>,
        receipts: Vec<Receipt>,
        has_more: bool,
        cursor: Option<String>,
    },
    #[serde(rename = "member.joined", rename_all = "camelCase")]
    MemberJoined {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        conversation_id: String,
        user_id: String,
        by: String,
    },
    #[serde(rename = "member.left", rename_all = "camelCase")]
    MemberLeft {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        conversation_id: String,
        user_id: String,
        by: String,
    },
    #[serde(rename = "call", rename_all = "camelCase")]
    Call {
        from: String,
        call_id: String,
        signal: crate::domain::call::Signal,
        data: Value,
        /// On an `end` the server sends itself: `answered_elsewhere`.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    },
    #[serde(rename = "match.waiting", rename_all = "camelCase")]
    MatchWaiting {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    #[serde(rename = "match.found", rename_all = "camelCase")]
    MatchFound { conversation_id: String, user: crate::domain::User },
    #[serde(rename = "pong", rename_all = "camelCase")]
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    #[serde(rename = "error", rename_all = "camelCase")]
    Error {
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
}

impl ServerEvent {
    pub fn error(err: &ChatError, request_id: Option<String>) -> Self {
        ServerEvent::Error { code: err.code, message: err.message.clone(), request_id, retry_after: err.retry_after }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server events always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_checked_in_order() {
        let (e, _) = parse_frame("x".repeat(40).as_str(), 32).unwrap_err();
        assert_eq!(e.code, ErrorCode::PayloadTooLarge);
        let (e, rid) = parse_frame("{nope", 1024).unwrap_err();
        assert_eq!((e.code, rid), (ErrorCode::InvalidInput, None));
        let (e, _) = parse_frame("[1]", 1024).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let (e, rid) = parse_frame(r#"{"requestId":"r1"}"#, 1024).unwrap_err();
        assert_eq!((e.code, rid.as_deref()), (ErrorCode::InvalidInput, Some("r1")));
        let f = parse_frame(r#"{"action":"ping","requestId":"r2"}"#, 1024).unwrap();
        assert_eq!((f.action.as_str(), f.request_id.as_deref()), ("ping", Some("r2")));
    }

    #[test]
    fn missing_fields_are_named() {
        let f = parse_frame(r#"{"action":"send","to":"x"}"#, 1024).unwrap();
        let err = f.fields::<SendFields>().unwrap_err();
        assert!(err.message.contains("clientMsgId"), "{}", err.message);
    }

    #[test]
    fn events_have_the_contract_shape() {
        let v: Value = serde_json::from_str(&ServerEvent::Pong { request_id: Some("r".into()) }.to_json()).unwrap();
        assert_eq!(v, serde_json::json!({"type":"pong","requestId":"r"}));
        let err = ChatError::invalid("bad");
        let v: Value = serde_json::from_str(&ServerEvent::error(&err, None).to_json()).unwrap();
        assert_eq!(v, serde_json::json!({"type":"error","code":"invalid_input","message":"bad"}));
    }
}
