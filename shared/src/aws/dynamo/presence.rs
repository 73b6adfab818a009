//! `PresenceDirectory`: what presence reads (docs/data-model.md, patterns 32, 33, 35 and 36). A user's
//! connections are its `CONN#` items; its conversations come from the membership items on gsi1
//! (`gsi1pk = USER#id`), their members from a bounded range read of the conversation partition.

use async_trait::async_trait;

use super::DynamoStore;
use super::common::{Item, expired, now_epoch, s, sdk_error, string_attr};
use crate::aws::keys;
use crate::error::Result;
use crate::ports::{ConnectionInfo, PresenceDirectory};

impl DynamoStore {
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
impl PresenceDirectory for DynamoStore {
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
}
