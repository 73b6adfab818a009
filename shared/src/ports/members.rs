//! Members of conversations: who belongs, with which role, and where their history starts.

use async_trait::async_trait;

use crate::domain::{Member, Membership};
use crate::error::Result;

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

#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn is_member(&self, conversation_id: &str, user_id: &str) -> Result<bool>;
    async fn get_member(&self, conversation_id: &str, user_id: &str) -> Result<Option<Member>>;
    /// The ids of every conversation the user is a member of (gsi1, keys only).
    async fn membership_ids(&self, user_id: &str) -> Result<Vec<String>>;
    /// The user's member items (with its pointers) in these conversations, eventually consistent.
    async fn memberships_in(&self, user_id: &str, conversation_ids: &[String]) -> Result<Vec<Membership>>;
    /// Every conversation the user is a member of, with its own pointers: the two above, one
    /// after the other.
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
    /// Hides every message up to `before_id` from this member's history and unread count.
    async fn clear_history(&self, conversation_id: &str, user_id: &str, before_id: &str) -> Result<bool>;
}
