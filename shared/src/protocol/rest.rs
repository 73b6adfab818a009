//! REST request and response bodies.

use serde::{Deserialize, Serialize};

use crate::domain::{Conversation, Message, User};
use crate::error::ErrorCode;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 256, format = Password, write_only)]
    pub password: String,
    /// Trimmed; defaults to the username.
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginBody {
    /// Username or email, any case.
    pub login: String,
    #[schema(format = Password, write_only)]
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshBody {
    /// Opaque refresh token.
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchMeBody {
    /// Trimmed; must not be blank or contain control characters.
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// JWT (HS256): sub = user id, exp, iat, iss, typ "access". Send as `Authorization: Bearer`, and as `?token=` on
    /// the WebSocket URL.
    pub access_token: String,
    /// Opaque; single use: every refresh rotates it, and reusing a rotated token revokes its whole family.
    pub refresh_token: String,
    /// Seconds until the access token expires (default 900).
    #[schema(minimum = 1)]
    pub expires_in: i64,
    /// The caller (register and login only; refresh leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub user: Option<User>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversationBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub member_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostMessageBody {
    /// Required unless attachmentId is given; not blank; at most 4,000 characters (else 413 payload_too_large).
    #[schema(nullable = false, min_length = 1, max_length = 4000)]
    pub content: Option<String>,
    /// From `POST /uploads`: sent once, by its uploader, once its bytes are in S3.
    #[schema(nullable = false)]
    pub attachment_id: Option<String>,
    /// Client-chosen idempotency key, printable: a repeat returns the first message with 200. A
    /// ULID minted from a correct clock (0-5 s old) names the message's id: one write instead of
    /// two; one over 1 s ahead of the server's clock is refused (docs/protocol.md, "clientMsgId").
    #[schema(min_length = 1, max_length = 64)]
    pub client_msg_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    /// Newest first (no cursor, or `before`); oldest first (`after`).
    pub messages: Vec<Message>,
    /// The last message id of this page when more exist (pass it as the same `before`/`after`), else null.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error, examples(
    json!({"error": {"code": "not_found", "message": "conversation not found"}}),
    json!({"error": {"code": "rate_limited", "message": "too many attempts", "retryAfter": 30}}),
))]
pub struct ErrorBody<'a> {
    #[schema(inline)]
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail<'a> {
    pub code: ErrorCode,
    /// Human-readable; names the offending field where there is one. Never contains internal details.
    pub message: &'a str,
    /// Seconds to wait before retrying (rate_limited only; also sent as the Retry-After header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberBody {
    /// Groups: the user to add (any member may add). Rooms: the caller itself; the body may be left out (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditMessageBody {
    #[schema(min_length = 1, max_length = 4000)]
    pub content: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadBody {
    /// Read up to and including this message; not from the future (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub message_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPage {
    /// Most recent activity first; each with lastMessage (if any) and unreadCount.
    pub conversations: Vec<Conversation>,
    #[schema(value_type = crate::openapi::Cursor)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnreadCount {
    pub conversation_id: String,
    #[schema(minimum = 1)]
    pub count: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnreadSummary {
    pub total: u32,
    /// Conversations with unread messages.
    #[schema(inline)]
    pub conversations: Vec<UnreadCount>,
}
