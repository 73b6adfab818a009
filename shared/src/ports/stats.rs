//! The counters behind `/stats`: users, messages per hour, open connections. No Scan.

use async_trait::async_trait;

use crate::error::Result;

/// Open connections and distinct users behind them, from the connection index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub connections: u64,
    pub online_users: u64,
}

#[async_trait]
pub trait StatsCounters: Send + Sync {
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
