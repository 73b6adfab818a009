//! Per-member notification settings (`PATCH /conversations/{id}/me`).

use async_trait::async_trait;

use crate::domain::Member;
use crate::error::Result;

#[async_trait]
pub trait NotificationSettings: Send + Sync {
    /// Sets `muted` on the member item of `user_id`; `None` when it is not a member.
    async fn set_muted(&self, conversation_id: &str, user_id: &str, muted: bool) -> Result<Option<Member>>;
}
