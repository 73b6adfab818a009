//! Messages of a conversation: stored once per `(sender, clientMsgId)`, paged, edited, counted.

use async_trait::async_trait;

use crate::domain::Message;
use crate::error::Result;

// One per send, moved once: boxing the duplicate would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum StoredMessage {
    Stored,
    /// The `(sender, clientMsgId)` pair was seen before: the first message.
    Duplicate(Message),
    /// The sender is not a member (or the conversation does not exist): nothing was written.
    NotMember,
}

/// Which page of a conversation's history to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryPage {
    /// Newest first, strictly older than the id when given.
    Before(Option<String>),
    /// Oldest first, strictly newer than the id.
    After(String),
}

/// How to change a stored message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageChange {
    Edit { content: String, edited_at: String },
    Delete { deleted_at: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangedMessage {
    Changed(Message),
    NotFound,
    NotSender,
    /// Edits of a deleted message are refused (deleting again is a no-op success).
    Deleted(Message),
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a message if the sender is a member, at most once per `(sender, clientMsgId)`.
    async fn put_message(&self, message: &Message, idempotency_expires_at: i64) -> Result<StoredMessage>;
    /// Up to `limit` messages and whether more exist beyond them, never at or below `floor`
    /// (the caller's cleared-history point).
    async fn list_messages(
        &self,
        conversation_id: &str,
        page: &HistoryPage,
        floor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool)>;
    /// Edits or tombstones a message, only for its sender.
    async fn change_message(
        &self,
        conversation_id: &str,
        message_id: &str,
        sender_id: &str,
        change: &MessageChange,
    ) -> Result<ChangedMessage>;
    /// Messages from others after `floor` (deleted ones excluded), counted up to `cap`.
    async fn count_unread(&self, conversation_id: &str, user_id: &str, floor: Option<&str>, cap: u32) -> Result<u32>;
    /// Distinct senders of the messages in `(after, up_to]`, reading at most `limit` messages.
    async fn senders_between(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        up_to: &str,
        limit: usize,
    ) -> Result<Vec<String>>;
}
