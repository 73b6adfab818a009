//! Public profiles: username search, batch reads, and `lastSeen`. Never with emails.

use async_trait::async_trait;

use crate::domain::User;
use crate::error::Result;

#[async_trait]
pub trait ProfileDirectory: Send + Sync {
    /// Users whose lowercase username starts with `prefix` (lowercase, non-empty), in username
    /// order, strictly after `after` (`(lowercase username, user id)` of the previous page's last
    /// user); at most `limit` of them, and whether more follow. Never with emails.
    async fn search_users(&self, prefix: &str, after: Option<(&str, &str)>, limit: usize) -> Result<(Vec<User>, bool)>;
    /// Public profiles (no email, `online` false) of these users; unknown ids are left out.
    async fn public_users(&self, user_ids: &[String]) -> Result<Vec<User>>;
    /// Sets `lastSeen` on an existing profile, never moving it back.
    async fn touch_last_seen(&self, user_id: &str, at: &str) -> Result<()>;
}
