//! `StatsCounters`: the figures of `/stats` without a Scan (docs/data-model.md, patterns 39–43).
//! Connection items carry `gsi1pk = CONNS#{shard}`, `gsi1sk = {expiresAt}#{user}#{conn}`, so the
//! open connections are a few index Queries that skip expired ones by key; users and messages
//! are counters (`ADD`), messages sharded per hour.
//!
//! Messages are counted in memory and added to the hour's shard in batches: one `ADD n :k` per
//! [`FLUSH_AT`] messages or per [`FLUSH_SECS`] seconds of an instance, whichever comes first, so
//! a message costs ≈ 1/100 WRU at load instead of 1. The shard item then takes at most one write
//! per instance every few seconds: the ceiling is DynamoDB's 1,000 writes/s per item × 4 shards ×
//! up to 100 messages per write, far above anything else in the table. What an instance has not
//! yet written is added to its own `/stats` answers (locally, one process: exact); an instance
//! that is shut down loses up to `FLUSH_AT - 1` counts (under-counting, never over-counting).

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::DynamoStore;
use super::common::{n, number_attr, s, sdk_error, string_attr};
use crate::aws::keys;
use crate::error::{ChatError, Result};
use crate::ports::{ConnectionStats, StatsCounters};

/// A batch of this many counted messages is written at once.
const FLUSH_AT: u64 = 100;
/// A batch older than this is written with the next message.
const FLUSH_SECS: u64 = 10;

/// Messages counted by this instance and not yet written: `(table, hour)` → (count, expiry, first count).
type PendingCounts = HashMap<(String, String), (u64, i64, Instant)>;
static PENDING: LazyLock<Mutex<PendingCounts>> = LazyLock::new(Default::default);

/// Counts one message; returns the batches due to be written: this hour's when it is full or
/// old, and those of earlier hours whenever one is written (they get no more messages).
fn count_pending(table: &str, hour: &str, expires_at: i64, now: Instant) -> Vec<(String, u64, i64)> {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let entry = pending.entry((table.to_string(), hour.to_string())).or_insert((0, expires_at, now));
    entry.0 += 1;
    entry.1 = entry.1.max(expires_at);
    if entry.0 < FLUSH_AT && now.duration_since(entry.2) < Duration::from_secs(FLUSH_SECS) {
        return Vec::new();
    }
    let due: Vec<(String, String)> = pending.keys().filter(|(t, _)| t == table).cloned().collect();
    let mut batches: Vec<(String, u64, i64)> =
        due.into_iter().filter_map(|key| pending.remove(&key).map(|(count, exp, _)| (key.1, count, exp))).collect();
    batches.sort();
    batches
}

/// Puts back a batch that could not be written.
fn restore_pending(table: &str, hour: &str, count: u64, expires_at: i64) {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let entry = pending.entry((table.to_string(), hour.to_string())).or_insert((0, expires_at, Instant::now()));
    entry.0 += count;
}

/// What this instance counted and has not written, in `hours`.
fn pending_in(table: &str, hours: &[String]) -> u64 {
    let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    hours.iter().filter_map(|h| pending.get(&(table.to_string(), h.clone()))).map(|(n, _, _)| n).sum()
}

impl DynamoStore {
    async fn add_one(&self, pk: String, expires_at: Option<i64>) -> Result<()> {
        self.add(pk, 1, expires_at).await
    }

    async fn add(&self, pk: String, count: u64, expires_at: Option<i64>) -> Result<()> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::COUNT))
            .expression_attribute_values(":one", n(count as i64));
        update = match expires_at {
            Some(at) => {
                update.update_expression("ADD n :one SET expiresAt = :exp").expression_attribute_values(":exp", n(at))
            }
            None => update.update_expression("ADD n :one"),
        };
        update.send().await.map_err(sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl StatsCounters for DynamoStore {
    async fn count_user(&self) -> Result<()> {
        self.add_one(keys::USERS_COUNTER.to_string(), None).await
    }

    async fn count_message(&self, hour: &str, spread: &str, expires_at: i64) -> Result<()> {
        let shard = keys::message_counter_shard(spread);
        let batches = count_pending(&self.table, hour, expires_at, Instant::now());
        let writes = batches.iter().map(|(hour, count, expires_at)| async move {
            let written = self.add(keys::messages_counter(hour, shard), *count, Some(*expires_at)).await;
            if written.is_err() {
                restore_pending(&self.table, hour, *count, *expires_at);
            }
            written
        });
        futures::future::join_all(writes).await.into_iter().collect()
    }

    async fn users_count(&self) -> Result<u64> {
        Ok(self.get(keys::USERS_COUNTER.to_string(), keys::COUNT).await?.map(|i| number_attr(&i, "n")).unwrap_or(0))
    }

    async fn connection_stats(&self, now: i64) -> Result<ConnectionStats> {
        let shard_reads = (0..keys::CONNECTION_SHARDS).map(|shard| async move {
            let mut sort_keys = Vec::new();
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                // Sort keys start with the zero-padded expiry: "> now" skips expired connections.
                .key_condition_expression("gsi1pk = :p AND gsi1sk > :now")
                .expression_attribute_values(":p", s(keys::connection_index(shard)))
                .expression_attribute_values(":now", s(format!("{now:012}#~")))
                .projection_expression("gsi1sk")
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                    if let Some(sk) = string_attr(&item, keys::GSI1SK) {
                        sort_keys.push(sk);
                    }
                }
            }
            Ok::<_, ChatError>(sort_keys)
        });
        let mut stats = ConnectionStats::default();
        let mut users = HashSet::new();
        for shard in futures::future::join_all(shard_reads).await {
            for sk in shard? {
                stats.connections += 1;
                if let Some(user) = sk.split('#').nth(1) {
                    users.insert(user.to_string());
                }
            }
        }
        stats.online_users = users.len() as u64;
        Ok(stats)
    }

    async fn messages_in_hours(&self, hours: &[String]) -> Result<u64> {
        let wanted: Vec<(String, String)> = hours
            .iter()
            .flat_map(|hour| {
                (0..keys::MESSAGE_COUNTER_SHARDS)
                    .map(move |shard| (keys::messages_counter(hour, shard), keys::COUNT.into()))
            })
            .collect();
        let names = HashMap::from([("#n".to_string(), "n".to_string())]);
        let items = self.batch_get(wanted, false, Some(("#n", names))).await?;
        Ok(items.iter().map(|i| number_attr(i, "n")).sum::<u64>() + pending_in(&self.table, hours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_written_in_batches() {
        let start = Instant::now();
        let table = "t-batches";
        for _ in 0..FLUSH_AT - 1 {
            assert_eq!(count_pending(table, "2026120217", 10, start), []);
        }
        assert_eq!(pending_in(table, &["2026120217".into()]), FLUSH_AT - 1);
        assert_eq!(count_pending(table, "2026120217", 10, start), [("2026120217".into(), FLUSH_AT, 10)]);
        assert_eq!(pending_in(table, &["2026120217".into()]), 0);
        // An old batch goes with the next message, and an earlier hour's rest with it.
        assert_eq!(count_pending(table, "2026120217", 10, start), []);
        assert_eq!(count_pending(table, "2026120218", 20, start), []);
        let later = start + Duration::from_secs(FLUSH_SECS);
        assert_eq!(
            count_pending(table, "2026120218", 20, later),
            [("2026120217".into(), 1, 10), ("2026120218".into(), 2, 20)]
        );
    }
}
