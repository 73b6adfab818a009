//! Open WebSocket connections of users: what every push is addressed to.

use async_trait::async_trait;

use crate::error::Result;

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn put_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()>;
    async fn delete_connection(&self, user_id: &str, connection_id: &str) -> Result<()>;
    /// `(user id, connection id)` of the open connections of many users, from their connection
    /// sets (strongly consistent, 100 users per request). A set may still hold a connection that
    /// vanished without `$disconnect`; the push to it answers 410 and removes it.
    async fn connections_of_users(&self, user_ids: &[String]) -> Result<Vec<(String, String)>>;
}
