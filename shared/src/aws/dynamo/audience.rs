//! Who a message goes to, read in the same wave as its idempotency claim (docs/data-model.md,
//! patterns 11b, 14 and 36): the sender's member item, the member ids and the members'
//! connection sets (`USER#{id}` / `CONNSET`), each as consistent as it needs to be and no more.
//! An eventually consistent read costs half a strongly consistent one.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::common::{Item, s, sdk_error, string_attr};
use crate::aws::keys;
use crate::error::Result;
use crate::ports::Audience;

/// The connections in connection-set items.
fn connections_in(items: &[Item]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in items {
        let Some(user_id) = string_attr(item, keys::PK).and_then(|pk| pk.strip_prefix("USER#").map(str::to_string))
        else {
            continue;
        };
        if let Some(AttributeValue::Ss(ids)) = item.get("connectionIds") {
            out.extend(ids.iter().map(|c| (user_id.clone(), c.clone())));
        }
    }
    out
}

impl DynamoStore {
    pub(super) async fn read_direct_audience(
        &self,
        conversation_id: &str,
        sender_id: &str,
        other_id: &str,
    ) -> Result<Audience> {
        let conversation = keys::conversation(conversation_id);
        let sender_member = keys::member(sender_id);
        let eventual = self.batch_get(
            vec![
                (conversation.clone(), sender_member.clone()),
                (keys::user(sender_id), keys::CONNECTION_SET.to_string()),
            ],
            false,
            Some(("pk, sk, connectionIds", HashMap::new())),
        );
        let other = self.get(keys::user(other_id), keys::CONNECTION_SET);
        let (eventual, other) = tokio::join!(eventual, other);
        let mut items = eventual?;
        let mut sender_is_member = items.iter().any(|i| {
            string_attr(i, keys::PK).as_deref() == Some(&conversation)
                && string_attr(i, keys::SK).as_deref() == Some(&sender_member)
        });
        if !sender_is_member {
            // Maybe created a moment ago: ask again, consistently (rare: a first message).
            sender_is_member = self.get(conversation, &sender_member).await?.is_some();
        }
        items.extend(other?);
        Ok(Audience {
            sender_is_member,
            members: vec![sender_id.to_string(), other_id.to_string()],
            connections: Some(connections_in(&items)),
        })
    }

    pub(super) async fn read_group_audience(&self, conversation_id: &str, sender_id: &str) -> Result<Audience> {
        let pk = keys::conversation(conversation_id);
        let sender_member = keys::member(sender_id);
        let member = self.get(pk.clone(), &sender_member);
        let ids = async {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :m)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":m", s(keys::MEMBER_PREFIX))
                .projection_expression("userId")
                .into_paginator()
                .send();
            let mut ids = Vec::new();
            while let Some(page) = pages.next().await {
                ids.extend(
                    page.map_err(sdk_error)?.items.unwrap_or_default().iter().filter_map(|i| string_attr(i, "userId")),
                );
            }
            Ok::<_, crate::error::ChatError>(ids)
        };
        let (member, ids) = tokio::join!(member, ids);
        let sender_is_member = member?.is_some();
        Ok(Audience { sender_is_member, members: if sender_is_member { ids? } else { Vec::new() }, connections: None })
    }

    pub(super) async fn read_connections_for_fan_out(&self, user_ids: &[String]) -> Result<Vec<(String, String)>> {
        let batches = user_ids.chunks(100).map(|chunk| {
            let wanted = chunk.iter().map(|u| (keys::user(u), keys::CONNECTION_SET.to_string())).collect();
            self.batch_get(wanted, false, Some(("pk, connectionIds", HashMap::new())))
        });
        let mut out = Vec::new();
        for batch in futures::future::join_all(batches).await {
            out.extend(connections_in(&batch?));
        }
        Ok(out)
    }
}
