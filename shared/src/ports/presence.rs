//! What presence reads: a user's connections, and who shares a conversation with whom.

use async_trait::async_trait;

use crate::error::Result;

/// An open connection of a user and when it opened (RFC 3339 with milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub connection_id: String,
    pub connected_at: String,
}

#[async_trait]
pub trait PresenceDirectory: Send + Sync {
    /// Open connections of a user with their opening time, read strongly consistent.
    async fn connection_details(&self, user_id: &str) -> Result<Vec<ConnectionInfo>>;
    /// Whether the user has an open connection (eventually consistent: for display only).
    async fn is_online(&self, user_id: &str) -> Result<bool>;
    /// Ids of the conversations the user is a member of: at most `max`, and whether more exist.
    async fn conversations_of(&self, user_id: &str, max: usize) -> Result<(Vec<String>, bool)>;
    /// Member ids of a conversation, or `None` when it has more than `max` members.
    async fn member_ids(&self, conversation_id: &str, max: usize) -> Result<Option<Vec<String>>>;
}
