//! The traits the use cases need. The AWS adapters in `aws/` implement them; nothing here knows
//! about DynamoDB or API Gateway.

use async_trait::async_trait;

use crate::domain::{Conversation, Member, MemberRole, Membership, Message, User};
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

#[derive(Debug, Clone, PartialEq)]
pub enum CreateConversation {
    Created,
    /// One of the named members does not exist (its id).
    UserMissing(String),
}

/// Who asks to add a member, and what must hold for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddRule {
    /// Group: the caller must be a member; the new member must exist.
    ByMember { caller: String },
    /// Room: a user joins itself; the conversation must be a room.
    JoinRoom,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AddMember {
    Added(Member),
    AlreadyMember,
    /// The caller is not a member (group), or it is not a room (join): the caller learns nothing.
    NotAllowed,
    UserMissing,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RemoveMember {
    Removed,
    NotMember,
    /// Removing someone else needs the owner role.
    NotOwner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    Delivered,
    Read,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PointerMove {
    /// Moved forward from `previous`.
    Moved {
        previous: Option<String>,
    },
    /// Already at or past the id: pointers never move back.
    NotForward {
        current: Option<String>,
    },
    NotMember,
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
    /// `(user id, connection id)` of the open connections of many users, from their connection
    /// sets (strongly consistent, 100 users per request). A set may still hold a connection that
    /// vanished without `$disconnect`; the push to it answers 410 and removes it.
    async fn connections_of_users(&self, user_ids: &[String]) -> Result<Vec<(String, String)>>;

    /// Creates the direct conversation with both members, if the other user exists.
    async fn create_direct_conversation(&self, conversation: &Conversation, members: [&str; 2])
    -> Result<CreateDirect>;
    /// The conversation with its members in one read.
    async fn get_conversation(&self, conversation_id: &str) -> Result<Option<(Conversation, Vec<Member>)>>;
    async fn is_member(&self, conversation_id: &str, user_id: &str) -> Result<bool>;

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

    /// Creates a group or room with its members (the first is the owner), if they all exist.
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[(String, MemberRole)],
    ) -> Result<CreateConversation>;
    /// The conversation item alone (no members).
    async fn get_conversation_meta(&self, conversation_id: &str) -> Result<Option<Conversation>>;
    /// Many conversation items at once (BatchGetItem); missing ones are left out.
    async fn get_conversation_metas(&self, conversation_ids: &[String]) -> Result<Vec<Conversation>>;
    async fn get_member(&self, conversation_id: &str, user_id: &str) -> Result<Option<Member>>;
    /// Every conversation the user is a member of, with its own pointers (gsi1).
    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>>;
    async fn add_member(
        &self,
        conversation_id: &str,
        user_id: &str,
        rule: &AddRule,
        max_members: u32,
    ) -> Result<AddMember>;
    /// Removes `user_id`; `by_owner` is the caller when it removes someone else.
    async fn remove_member(&self, conversation_id: &str, user_id: &str, by_owner: Option<&str>)
    -> Result<RemoveMember>;
    /// Records `message` as the conversation's newest, unless a newer one is already there.
    async fn set_last_message(&self, message: &Message) -> Result<()>;
    async fn get_message(&self, conversation_id: &str, message_id: &str) -> Result<Option<Message>>;
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
    /// Moves a member's pointer forward to `message_id` (never back).
    async fn move_pointer(
        &self,
        conversation_id: &str,
        user_id: &str,
        pointer: Pointer,
        message_id: &str,
        at: &str,
    ) -> Result<PointerMove>;
    /// Distinct senders of the messages in `(after, up_to]`, reading at most `limit` messages.
    async fn senders_between(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        up_to: &str,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Hides every message up to `before_id` from this member's history and unread count.
    async fn clear_history(&self, conversation_id: &str, user_id: &str, before_id: &str) -> Result<bool>;
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

// ---------------------------------------------------------------- users, presence, stats, limits

/// An open connection of a user and when it opened (RFC 3339 with milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub connection_id: String,
    pub connected_at: String,
}

/// Open connections and distinct users behind them, from the connection index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub connections: u64,
    pub online_users: u64,
}

/// Reads and counters for user search, presence and `/stats`. Nothing here needs a Scan.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Users whose lowercase username starts with `prefix` (lowercase, non-empty), in username
    /// order, strictly after `after` (`(lowercase username, user id)` of the previous page's last
    /// user); at most `limit` of them, and whether more follow. Never with emails.
    async fn search_users(&self, prefix: &str, after: Option<(&str, &str)>, limit: usize) -> Result<(Vec<User>, bool)>;
    /// Public profiles (no email, `online` false) of these users; unknown ids are left out.
    async fn public_users(&self, user_ids: &[String]) -> Result<Vec<User>>;
    /// Open connections of a user with their opening time, read strongly consistent.
    async fn connection_details(&self, user_id: &str) -> Result<Vec<ConnectionInfo>>;
    /// Whether the user has an open connection (eventually consistent: for display only).
    async fn is_online(&self, user_id: &str) -> Result<bool>;
    /// Sets `lastSeen` on an existing profile, never moving it back.
    async fn touch_last_seen(&self, user_id: &str, at: &str) -> Result<()>;
    /// Ids of the conversations the user is a member of: at most `max`, and whether more exist.
    async fn conversations_of(&self, user_id: &str, max: usize) -> Result<(Vec<String>, bool)>;
    /// Member ids of a conversation, or `None` when it has more than `max` members.
    async fn member_ids(&self, conversation_id: &str, max: usize) -> Result<Option<Vec<String>>>;

    /// One more registered user.
    async fn count_user(&self) -> Result<()>;
    /// One more stored message in `hour` (`yyyymmddhh`, UTC); `spread` (the message id) picks the shard.
    async fn count_message(&self, hour: &str, spread: &str, expires_at: i64) -> Result<()>;
    async fn users_count(&self) -> Result<u64>;
    /// Connections not past their expiry at `now` (epoch seconds), and distinct users behind them.
    async fn connection_stats(&self, now: i64) -> Result<ConnectionStats>;
    /// Messages counted in these hours (`yyyymmddhh`), every shard summed.
    async fn messages_in_hours(&self, hours: &[String]) -> Result<u64>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit; the window ends in `retry_after` seconds (at least 1).
    Limited {
        retry_after: u64,
    },
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one hit for `key` in `scope` in the fixed window of `window_secs` that holds `now`
    /// (epoch seconds): allowed while fewer than `limit` hits were counted. One write, no read;
    /// a refused hit is not counted.
    async fn hit(&self, scope: &str, key: &str, limit: u32, window_secs: i64, now: i64) -> Result<RateDecision>;
}
