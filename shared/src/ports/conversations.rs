//! Conversations: created with their members in one write, read alone or with their members.

use async_trait::async_trait;

use crate::domain::{Conversation, Member, MemberRole};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub enum CreateDirect {
    Created,
    AlreadyExists,
    OtherUserMissing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateConversation {
    Created,
    /// One of the named members does not exist (its id).
    UserMissing(String),
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates the direct conversation with both members, if the other user exists.
    async fn create_direct_conversation(&self, conversation: &Conversation, members: [&str; 2])
    -> Result<CreateDirect>;
    /// Creates a group or room with its members (the first is the owner), if they all exist.
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[(String, MemberRole)],
    ) -> Result<CreateConversation>;
    /// The conversation with its members in one read.
    async fn get_conversation(&self, conversation_id: &str) -> Result<Option<(Conversation, Vec<Member>)>>;
    /// The conversation item alone (no members).
    async fn get_conversation_meta(&self, conversation_id: &str) -> Result<Option<Conversation>>;
    /// Many conversation items at once (BatchGetItem), each with its newest message (and the
    /// activity time that gives); missing ones are left out.
    async fn get_conversation_metas(&self, conversation_ids: &[String]) -> Result<Vec<Conversation>>;
}
