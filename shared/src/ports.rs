//! The traits the use cases need. The AWS adapters in `aws/` implement them; nothing here knows
//! about DynamoDB or API Gateway.

use async_trait::async_trait;

use crate::domain::{Conversation, Member, Message, User};
use crate::error::Result;

mod schedule;
pub use schedule::{Cancel, Claimed, DueEntry, Queue, QueueEntry, ScheduleStore};

/// A user as stored: the public user plus the password hash, which never leaves the service.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Username,
    Email,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub user_id: String,
    /// Set once the token has been exchanged; presenting it again is reuse.
    pub used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The token was exchanged concurrently or before: reuse.
    AlreadyUsed,
    /// The family was revoked (logout or earlier reuse) or has expired.
    FamilyClosed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateDirect {
    Created,
    AlreadyExists,
    OtherUserMissing,
}

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

#[async_trait]
pub trait Store: Send + Sync {
    /// Creates the user and claims its username and email atomically.
    async fn create_user(&self, user: &User, password_hash: &str) -> Result<std::result::Result<(), Taken>>;
    /// The user id behind a lowercase username or email.
    async fn user_id_by_login(&self, login: &str) -> Result<Option<String>>;
    async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>>;
    async fn set_display_name(&self, user_id: &str, display_name: &str) -> Result<Option<User>>;

    async fn create_refresh_family(
        &self,
        family_id: &str,
        user_id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<()>;
    async fn get_refresh_token(&self, family_id: &str, token_hash: &str) -> Result<Option<RefreshTokenRecord>>;
    /// Marks the old token used and stores the new one, only while the family is open.
    async fn rotate_refresh_token(
        &self,
        family_id: &str,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
        expires_at: i64,
    ) -> Result<Rotation>;
    async fn revoke_refresh_family(&self, family_id: &str) -> Result<()>;

    async fn put_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()>;
    async fn delete_connection(&self, user_id: &str, connection_id: &str) -> Result<()>;
    /// Open connections of a user (read strongly: a device that just connected must get pushes).
    async fn connections_of(&self, user_id: &str) -> Result<Vec<String>>;

    /// Creates the direct conversation with both members, if the other user exists.
    async fn create_direct_conversation(&self, conversation: &Conversation, members: [&str; 2])
    -> Result<CreateDirect>;
    /// The conversation with its members in one read.
    async fn get_conversation(&self, conversation_id: &str) -> Result<Option<(Conversation, Vec<Member>)>>;
    async fn is_member(&self, conversation_id: &str, user_id: &str) -> Result<bool>;

    /// Stores a message if the sender is a member, at most once per `(sender, clientMsgId)`.
    async fn put_message(&self, message: &Message, idempotency_expires_at: i64) -> Result<StoredMessage>;
    /// Up to `limit` messages and whether more exist beyond them.
    async fn list_messages(
        &self,
        conversation_id: &str,
        page: &HistoryPage,
        limit: usize,
    ) -> Result<(Vec<Message>, bool)>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Delivered,
    /// API Gateway answered 410: the connection is gone and its record should go too.
    Gone,
    Failed(String),
}

#[async_trait]
pub trait Pusher: Send + Sync {
    async fn push(&self, connection_id: &str, payload: &str) -> PushOutcome;

    /// Learns the API's endpoint from a WebSocket event when the config does not name one.
    fn bind_endpoint(&self, _domain_name: &str, _stage: &str) {}
}
