//! Messages of a conversation: stored once per `(sender, clientMsgId)`, paged, edited, counted.

use async_trait::async_trait;

use crate::domain::Message;
use crate::error::Result;

/// What claiming a `(sender, clientMsgId)` pair found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The pair is now this message's.
    New,
    /// The pair was claimed before (and has not expired) by this message.
    Taken { conversation_id: String, message_id: String },
}

/// What storing a message item did.
// One per send, moved once: boxing the message would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum StoredMessage {
    Stored,
    /// An item with the message's id exists already: it, as stored.
    Exists(Message),
}

/// Who a message goes to, read before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// The sender is a member (no: the conversation does not exist for it, or is unknown).
    pub sender_is_member: bool,
    /// Every member's user id.
    pub members: Vec<String>,
    /// `(user id, connection id)` of every open connection of every member, when read already.
    pub connections: Option<Vec<(String, String)>>,
}

/// Which page of a conversation's history to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryPage {
    /// Newest first, strictly older than the id when given.
    Before(Option<String>),
    /// Oldest first, strictly newer than the id.
    After(String),
    /// As `After`, and also the messages up to `LATE_LANDING_MS` older than the id that were
    /// stored after its time (a derived id lands up to that much behind; domain/message_id.rs):
    /// `sync`'s lower bound, where a client may not have seen them. They come first.
    AfterOrLate(String),
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
    /// Claims the message's `(sender, clientMsgId)` pair for it, until `expires_at`: the write that
    /// makes a send idempotent. Made before the message item, so a crash between the two leaves
    /// a claim whose resend stores the message under the claimed id.
    async fn claim_client_msg_id(&self, message: &Message, expires_at: i64) -> Result<Claim>;
    /// Gives up a claim of `message_id` that stored nothing (its sender was not a member).
    async fn release_client_msg_id(&self, sender_id: &str, client_msg_id: &str, message_id: &str) -> Result<()>;
    /// Stores the message item once per id. `put_by_ms` (an id derived from the clientMsgId):
    /// the put is refused (`internal`, nothing written) if it cannot leave by then, and
    /// abandoned after `DERIVED_PUT_TIMEOUT_MS` (domain/message_id.rs).
    async fn store_message(&self, message: &Message, put_by_ms: Option<u64>) -> Result<StoredMessage>;
    /// A direct conversation's audience in one wave: the sender's member item (eventually
    /// consistent: a direct membership never ends, so a yes is final; a no is read again
    /// consistently), the sender's connections (eventually consistent: its other devices) and the
    /// other member's (strongly consistent: a device that just connected gets the message).
    async fn direct_audience(&self, conversation_id: &str, sender_id: &str, other_id: &str) -> Result<Audience>;
    /// A group's or room's audience without connections: the sender's member item (strongly
    /// consistent: a removal takes effect at once) and the member ids (eventually consistent).
    async fn group_audience(&self, conversation_id: &str, sender_id: &str) -> Result<Audience>;
    /// The open connections of many users, eventually consistent (the fan-out of groups and rooms:
    /// a device that connected within the replication lag, typically well under a second, misses
    /// the push and has the message from the `sync` it runs after connecting).
    async fn connections_for_fan_out(&self, user_ids: &[String]) -> Result<Vec<(String, String)>>;
    /// One message, strongly consistent.
    async fn get_message(&self, conversation_id: &str, message_id: &str) -> Result<Option<Message>>;
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
