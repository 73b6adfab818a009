//! Open WebSocket connections of users: what every push is addressed to.

use async_trait::async_trait;

use crate::error::Result;

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Records a connection alive until `expires_at` (epoch seconds; its last activity is now).
    async fn put_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()>;
    async fn delete_connection(&self, user_id: &str, connection_id: &str) -> Result<()>;
    /// Removes a connection that answered 410, unless it opened at or after `opened_before`
    /// (RFC 3339): a connection whose `$connect` has not returned yet answers 410 too. `false`
    /// when it was kept (or was already gone).
    async fn remove_gone_connection(&self, user_id: &str, connection_id: &str, opened_before: &str) -> Result<bool>;
    /// The connection was active now: it is alive until `expires_at`. `false` when no item exists
    /// (a `$disconnect` or the sweep removed it); nothing is then written.
    async fn touch_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<bool>;
    /// `(user id, connection id)` of connections past their expiry at `now` (epoch seconds), the
    /// longest expired first, at most `max` (and whether more remain).
    async fn expired_connections(&self, now: i64, max: usize) -> Result<(Vec<(String, String)>, bool)>;
    /// Removes a connection (item and connection-set entry) if it is still expired at `now`;
    /// `false` when it was refreshed or removed meanwhile.
    async fn remove_expired_connection(&self, user_id: &str, connection_id: &str, now: i64) -> Result<bool>;
    /// `(user id, connection id)` of the open connections of many users, from their connection
    /// sets (strongly consistent, 100 users per request). A set may still hold a connection that
    /// vanished without `$disconnect`; the push to it answers 410 and removes it.
    async fn connections_of_users(&self, user_ids: &[String]) -> Result<Vec<(String, String)>>;
}
