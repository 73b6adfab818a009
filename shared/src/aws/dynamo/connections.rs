//! `ConnectionStore`: one item per open connection (`USER#{id}` / `CONN#{connId}`, with TTL and
//! the sharded `/stats` index keys) plus the user's connection set (`USER#{id}` / `CONNSET`),
//! which is what fan-out reads: 100 users per BatchGetItem instead of one Query per user.
//!
//! `expiresAt` is when the connection stops counting as alive: its last recorded activity plus
//! API Gateway's idle timeout and the refresh interval (service/connections.rs). It leads the
//! index sort key, so `/stats` skips the dead by key and the sweep finds them by key.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::common::{n, s, sdk_error, string_attr};
use crate::aws::keys;
use crate::error::Result;
use crate::ports::ConnectionStore;

impl DynamoStore {
    /// `ADD` or `DELETE` one connection id in the user's connection set (a string set; DynamoDB
    /// drops the attribute when its last element goes).
    async fn update_connection_set(&self, user_id: &str, connection_id: &str, op: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::CONNECTION_SET))
            .update_expression(format!("{op} connectionIds :c"))
            .expression_attribute_values(":c", AttributeValue::Ss(vec![connection_id.to_string()]))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Deletes a connection record if `condition` (on `:v`) holds, then takes it out of the
    /// connection set; `false` when the condition failed and nothing changed.
    async fn remove_connection_if(
        &self,
        user_id: &str,
        connection_id: &str,
        condition: &str,
        value: AttributeValue,
    ) -> Result<bool> {
        let removed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::connection(connection_id)))
            .condition_expression(condition)
            .expression_attribute_values(":v", value)
            .send()
            .await;
        match removed {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                return Ok(false);
            }
            Err(e) => return Err(sdk_error(e)),
        }
        self.update_connection_set(user_id, connection_id, "DELETE").await?;
        Ok(true)
    }

    /// The connection sets of up to 100 users, read strongly consistent (a device that connected
    /// a moment ago gets the next message).
    async fn batch_get_connection_sets(&self, user_ids: &[String]) -> Result<Vec<(String, String)>> {
        let keys = user_ids.iter().map(|u| (keys::user(u), keys::CONNECTION_SET.to_string())).collect();
        let mut out = Vec::new();
        for item in self.batch_get(keys, true, Some(("pk, connectionIds", HashMap::new()))).await? {
            let Some(AttributeValue::S(pk)) = item.get(keys::PK) else { continue };
            let Some(user_id) = pk.strip_prefix("USER#") else { continue };
            if let Some(AttributeValue::Ss(ids)) = item.get("connectionIds") {
                out.extend(ids.iter().map(|c| (user_id.to_string(), c.clone())));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn put_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()> {
        let item = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(keys::user(user_id)))
            .item(keys::SK, s(keys::connection(connection_id)))
            .item("connectionId", s(connection_id))
            .item("connectedAt", s(crate::domain::time::rfc3339(chrono::Utc::now())))
            .item("lastActiveAt", s(crate::domain::time::rfc3339(chrono::Utc::now())))
            .item(keys::EXPIRES_AT, n(expires_at))
            // Sharded, sparse connection index for /stats (see stats.rs).
            .item(keys::GSI1PK, s(keys::connection_index(keys::connection_shard(connection_id))))
            .item(keys::GSI1SK, s(keys::connection_index_sort(expires_at, user_id, connection_id)))
            .send();
        // The user's connection set: what fan-out reads, 100 users per request.
        let set = self.update_connection_set(user_id, connection_id, "ADD");
        let (item, set) = tokio::join!(item, set);
        item.map_err(sdk_error)?;
        set
    }

    async fn delete_connection(&self, user_id: &str, connection_id: &str) -> Result<()> {
        let item = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::connection(connection_id)))
            .send();
        let set = self.update_connection_set(user_id, connection_id, "DELETE");
        let (item, set) = tokio::join!(item, set);
        item.map_err(sdk_error)?;
        set
    }

    async fn remove_gone_connection(&self, user_id: &str, connection_id: &str, opened_before: &str) -> Result<bool> {
        // RFC 3339 in one format (UTC, milliseconds) sorts as time.
        self.remove_connection_if(user_id, connection_id, "connectedAt < :v", s(opened_before)).await
    }

    async fn touch_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<bool> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::connection(connection_id)))
            // Never re-creates an item that `$disconnect` or the sweep removed.
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET expiresAt = :e, lastActiveAt = :t, gsi1sk = :sk")
            .expression_attribute_values(":e", n(expires_at))
            .expression_attribute_values(":t", s(crate::domain::time::rfc3339(chrono::Utc::now())))
            .expression_attribute_values(":sk", s(keys::connection_index_sort(expires_at, user_id, connection_id)))
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn expired_connections(&self, now: i64, max: usize) -> Result<(Vec<(String, String)>, bool)> {
        let per_shard = max.div_ceil(keys::CONNECTION_SHARDS as usize).max(1);
        let shard_reads = (0..keys::CONNECTION_SHARDS).map(|shard| async move {
            let mut found = Vec::new();
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                // Sort keys start with the zero-padded expiry: "<= now" is exactly the expired.
                .key_condition_expression("gsi1pk = :p AND gsi1sk <= :now")
                .expression_attribute_values(":p", s(keys::connection_index(shard)))
                .expression_attribute_values(":now", s(format!("{now:012}#~")))
                .projection_expression("gsi1sk")
                .limit((per_shard + 1).min(1000) as i32)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                    let sk = string_attr(&item, keys::GSI1SK).unwrap_or_default();
                    let mut parts = sk.splitn(3, '#').skip(1);
                    if let (Some(user), Some(connection)) = (parts.next(), parts.next()) {
                        found.push((user.to_string(), connection.to_string()));
                    }
                }
                if found.len() > per_shard {
                    break;
                }
            }
            Ok::<_, crate::error::ChatError>(found)
        });
        let (mut out, mut more) = (Vec::new(), false);
        for shard in futures::future::join_all(shard_reads).await {
            let mut shard = shard?;
            more |= shard.len() > per_shard;
            shard.truncate(per_shard);
            out.extend(shard);
        }
        Ok((out, more))
    }

    async fn remove_expired_connection(&self, user_id: &str, connection_id: &str, now: i64) -> Result<bool> {
        // A frame that refreshed it since the sweep's read keeps it.
        self.remove_connection_if(user_id, connection_id, "expiresAt <= :v", n(now)).await
    }

    async fn connections_of_users(&self, user_ids: &[String]) -> Result<Vec<(String, String)>> {
        let batches = user_ids.chunks(100).map(|chunk| self.batch_get_connection_sets(chunk));
        let mut out = Vec::new();
        for batch in futures::future::join_all(batches).await {
            out.extend(batch?);
        }
        Ok(out)
    }
}
