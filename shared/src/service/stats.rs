//! `GET /stats` and the counters behind it, without a Scan.
//!
//! - `users`: a counter, `ADD` once per registration (after the registration's transaction, so a
//!   crash between the two under-counts by one; never over-counts).
//! - `connections`, `onlineUsers`: read from the sharded, sparse connection index (gsi1
//!   `CONNS#0..3`), skipping connections past their TTL by key. Exact up to index replication lag
//!   (sub-second) and connections that vanished without `$disconnect` and were not yet found gone
//!   (at most their 2 h 10 min TTL). Costs ⌈index bytes / 4 KB⌉ × 0.5 RRU per call: O(connections).
//! - `messagesLast24h`: hourly counters, 4 shards each, added to in batches per instance
//!   (`aws/dynamo/stats.rs`); the sum of the current UTC hour and the 23 before it (so between 23
//!   and 24 hours of messages), plus what this instance has not written yet. Duplicates are not
//!   counted; an instance that stops under-counts by what it had not written (< 100). One
//!   BatchGetItem (96 keys).

use crate::App;
use crate::domain::time;
use crate::error::Result;
use crate::protocol::directory::Stats;

/// Hour buckets are kept two days (TTL), then DynamoDB deletes them.
const HOUR_BUCKET_TTL_SECS: i64 = 49 * 3600;

fn hour_key(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%d%H").to_string()
}

/// Counts a newly stored message (not a duplicate). Never fails the send: errors are logged.
pub async fn message_stored(app: &App, message_id: &str) {
    let now = time::now();
    let expires_at = now.timestamp() + HOUR_BUCKET_TTL_SECS;
    if let Err(e) = app.directory.count_message(&hour_key(now), message_id, expires_at).await {
        tracing::warn!(error = %e, "could not count a message for /stats");
    }
}

/// Counts a new user. Never fails the registration: errors are logged.
pub async fn user_registered(app: &App) {
    if let Err(e) = app.directory.count_user().await {
        tracing::warn!(error = %e, "could not count a user for /stats");
    }
}

pub async fn stats(app: &App) -> Result<Stats> {
    let now = time::now();
    let hours: Vec<String> = (0..24).map(|h| hour_key(now - chrono::Duration::hours(h))).collect();
    let (users, connections, messages) = tokio::join!(
        app.directory.users_count(),
        app.directory.connection_stats(now.timestamp()),
        app.directory.messages_in_hours(&hours)
    );
    let connections = connections?;
    Ok(Stats {
        users: users?,
        online_users: connections.online_users,
        connections: connections.connections,
        messages_last24h: messages?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hour_keys_sort_and_cover_a_day() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 0, 30, 0).unwrap();
        assert_eq!(hour_key(t), "2026030100");
        assert_eq!(hour_key(t - chrono::Duration::hours(1)), "2026022823");
    }
}
