//! The DynamoDB side of user search, presence and `/stats` (docs/data-model.md, patterns 19–30).
//!
//! - Username search: profiles carry `gsi1pk = UNAME#{first char}`, `gsi1sk = lowercase username`;
//!   a prefix is one gsi1 Query with `begins_with`. No Scan.
//! - Presence: a user's conversations come from the membership items on gsi1 (`gsi1pk = USER#id`),
//!   their members from a bounded range read of the conversation partition.
//! - Stats: connection items carry `gsi1pk = CONNS#{shard}`, `gsi1sk = {expiresAt}#{user}#{conn}`,
//!   so the open connections are a few index Queries that skip expired ones by key; users and
//!   messages are counters (`ADD`), messages sharded per hour.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};

use super::dynamo::{DynamoStore, expired, from_item, n, now_epoch, s, sdk_error};
use super::keys;
use crate::domain::User;
use crate::error::{ChatError, Result};
use crate::ports::{ConnectionInfo, ConnectionStats, Directory};

type Item = HashMap<String, AttributeValue>;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;
/// Unprocessed keys are retried this many times (with a short back-off) before giving up.
const BATCH_RETRIES: usize = 5;

/// The gsi1 shard of a connection: a stable spread of its id over `CONNECTION_SHARDS`.
pub(crate) fn connection_shard(connection_id: &str) -> u32 {
    spread(connection_id, keys::CONNECTION_SHARDS)
}

/// FNV-1a: stable across builds (the std hasher is not), good enough to spread ids.
fn spread(key: &str, buckets: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % buckets.max(1)
}

/// The public fields of a profile: never email or password hash.
const PUBLIC_PROJECTION: &str = "#id, #username, #displayName, #createdAt, #lastSeen";

fn public_names() -> HashMap<String, String> {
    ["id", "username", "displayName", "createdAt", "lastSeen"]
        .into_iter()
        .map(|a| (format!("#{a}"), a.to_string()))
        .collect()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicUserItem {
    id: String,
    username: String,
    display_name: String,
    created_at: String,
    last_seen: Option<String>,
}

fn public_user(item: Item) -> Result<User> {
    let u: PublicUserItem = from_item(item)?;
    Ok(User {
        id: u.id,
        username: u.username,
        email: None,
        display_name: u.display_name,
        created_at: u.created_at,
        last_seen: u.last_seen,
        online: false,
    })
}

fn string_attr(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn number_attr(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

impl DynamoStore {
    /// BatchGetItem over any number of `(pk, sk)` keys (100 per request, one after another),
    /// retrying unprocessed keys with backoff; missing items are left out.
    pub(super) async fn batch_get(
        &self,
        keys_list: Vec<(String, String)>,
        consistent: bool,
        projection: Option<(&str, HashMap<String, String>)>,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::with_capacity(keys_list.len());
        for chunk in keys_list.chunks(BATCH_GET_MAX) {
            let mut request = KeysAndAttributes::builder().consistent_read(consistent);
            for (pk, sk) in chunk {
                request = request.keys(HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))]));
            }
            if let Some((expression, names)) = &projection {
                request = request.projection_expression(*expression);
                if !names.is_empty() {
                    request = request.set_expression_attribute_names(Some(names.clone()));
                }
            }
            let mut pending = Some(request.build().map_err(ChatError::internal)?);
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let out =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_error)?;
                if let Some(mut responses) = out.responses {
                    items.extend(responses.remove(&self.table).unwrap_or_default());
                }
                pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > BATCH_RETRIES {
                        return Err(ChatError::internal("BatchGetItem left keys unprocessed after retries"));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
            }
        }
        Ok(items)
    }

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

    async fn connection_items(&self, user_id: &str, consistent: bool, projection: &str) -> Result<Vec<Item>> {
        let now = now_epoch();
        let mut items = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
            .expression_attribute_values(":pk", s(keys::user(user_id)))
            .expression_attribute_values(":conn", s(keys::CONN_PREFIX))
            .projection_expression(projection)
            .consistent_read(consistent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            items.extend(page.map_err(sdk_error)?.items.unwrap_or_default().into_iter().filter(|i| !expired(i, now)));
        }
        Ok(items)
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn search_users(&self, prefix: &str, after: Option<(&str, &str)>, limit: usize) -> Result<(Vec<User>, bool)> {
        let partition = keys::username_index(prefix);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :q)")
            .expression_attribute_values(":p", s(&partition))
            .expression_attribute_values(":q", s(prefix))
            .projection_expression(PUBLIC_PROJECTION)
            .set_expression_attribute_names(Some(public_names()))
            // One more than asked, to learn whether another page follows.
            .limit((limit + 1) as i32);
        if let Some((name, id)) = after {
            query = query.set_exclusive_start_key(Some(HashMap::from([
                (keys::GSI1PK.to_string(), s(&partition)),
                (keys::GSI1SK.to_string(), s(name)),
                (keys::PK.to_string(), s(keys::user(id))),
                (keys::SK.to_string(), s(keys::PROFILE)),
            ])));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let mut users = out.items.unwrap_or_default().into_iter().map(public_user).collect::<Result<Vec<_>>>()?;
        let more = users.len() > limit;
        users.truncate(limit);
        Ok((users, more))
    }

    async fn public_users(&self, user_ids: &[String]) -> Result<Vec<User>> {
        let wanted: Vec<(String, String)> = user_ids
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|id| (keys::user(id), keys::PROFILE.to_string()))
            .collect();
        let items = self.batch_get(wanted, false, Some((PUBLIC_PROJECTION, public_names()))).await?;
        items.into_iter().map(public_user).collect()
    }

    async fn connection_details(&self, user_id: &str) -> Result<Vec<ConnectionInfo>> {
        let items = self.connection_items(user_id, true, "connectionId, connectedAt, expiresAt").await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some(ConnectionInfo {
                    connection_id: string_attr(item, "connectionId")?,
                    connected_at: string_attr(item, "connectedAt").unwrap_or_default(),
                })
            })
            .collect())
    }

    async fn is_online(&self, user_id: &str) -> Result<bool> {
        Ok(!self.connection_items(user_id, false, "expiresAt").await?.is_empty())
    }

    async fn touch_last_seen(&self, user_id: &str, at: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::PROFILE))
            .update_expression("SET lastSeen = :at")
            // RFC 3339 UTC with milliseconds sorts as text: never move lastSeen back.
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(lastSeen) OR lastSeen < :at)")
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::None)
            .send()
            .await;
        super::dynamo::unless_condition_failed(result)?;
        Ok(())
    }

    async fn conversations_of(&self, user_id: &str, max: usize) -> Result<(Vec<String>, bool)> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :u")
            .expression_attribute_values(":u", s(keys::user(user_id)))
            .projection_expression("pk, sk")
            .limit((max + 1).min(1000) as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                // Only membership items: other items may share this index partition one day.
                let is_member = string_attr(&item, keys::SK).is_some_and(|sk| sk.starts_with(keys::MEMBER_PREFIX));
                if let (true, Some(pk)) = (is_member, string_attr(&item, keys::PK))
                    && let Some(id) = pk.strip_prefix("CONV#")
                {
                    ids.push(id.to_string());
                }
            }
            if ids.len() > max {
                break;
            }
        }
        let more = ids.len() > max;
        ids.truncate(max);
        Ok((ids, more))
    }

    async fn member_ids(&self, conversation_id: &str, max: usize) -> Result<Option<Vec<String>>> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :m)")
            .expression_attribute_values(":pk", s(keys::conversation(conversation_id)))
            .expression_attribute_values(":m", s(keys::MEMBER_PREFIX))
            .projection_expression("sk")
            .limit((max + 1).min(1000) as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                if let Some(id) =
                    string_attr(&item, keys::SK).and_then(|sk| sk.strip_prefix(keys::MEMBER_PREFIX).map(str::to_string))
                {
                    ids.push(id);
                }
            }
            if ids.len() > max {
                return Ok(None);
            }
        }
        Ok(Some(ids))
    }

    async fn count_user(&self) -> Result<()> {
        self.add_one(keys::USERS_COUNTER.to_string(), None).await
    }

    async fn count_message(&self, hour: &str, spread_key: &str, expires_at: i64) -> Result<()> {
        let shard = spread(spread_key, keys::MESSAGE_COUNTER_SHARDS);
        self.add_one(keys::messages_counter(hour, shard), Some(expires_at)).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(spread("abc", 4), spread("abc", 4));
        let mut seen = HashSet::new();
        for i in 0..200 {
            let shard = connection_shard(&format!("conn-{i}="));
            assert!(shard < keys::CONNECTION_SHARDS);
            seen.insert(shard);
        }
        assert_eq!(seen.len(), keys::CONNECTION_SHARDS as usize, "every shard is used");
    }

    #[test]
    fn connection_sort_keys_order_by_expiry() {
        let now = 1_700_000_000;
        let expired_key = keys::connection_index_sort(now, "U", "c");
        let live_key = keys::connection_index_sort(now + 1, "U", "c");
        let bound = format!("{now:012}#~");
        assert!(expired_key < bound && live_key > bound);
    }
}
