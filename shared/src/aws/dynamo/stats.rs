//! `StatsCounters`: the figures of `/stats` without a Scan (docs/data-model.md, patterns 39–43).
//! Connection items carry `gsi1pk = CONNS#{shard}`, `gsi1sk = {expiresAt}#{user}#{conn}`, so the
//! open connections are a few index Queries that skip expired ones by key; users and messages
//! are counters (`ADD`), messages sharded per hour.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::DynamoStore;
use super::common::{n, number_attr, s, sdk_error, string_attr};
use crate::aws::keys;
use crate::error::{ChatError, Result};
use crate::ports::{ConnectionStats, StatsCounters};

impl DynamoStore {
    async fn add_one(&self, pk: String, expires_at: Option<i64>) -> Result<()> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(keys::COUNT))
            .expression_attribute_values(":one", n(1));
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
        self.add_one(keys::messages_counter(hour, keys::message_counter_shard(spread)), Some(expires_at)).await
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
        Ok(items.iter().map(|i| number_attr(i, "n")).sum())
    }
}
