//! `MessageStore`: message items (`CONV#{id}` / `MSG#{ulid}`, so key order is time order) and
//! the idempotency claim (`IDEM#{sender}#{clientMsgId}`). A message whose id is derived from a
//! fresh ULID clientMsgId is one conditional put that dedupes by itself (domain/message_id.rs);
//! any other is two plain conditional writes one after the other instead of a transaction: a short message costs 1 + 1 WRU instead of 2 + 2 + 2
//! (transactional items count twice, and the membership check was one of them). The membership
//! is read instead (`audience.rs`), in the same wave as the claim.
//!
//! Why the claim first: the pair `(sender, clientMsgId)` must map to one message for ever (7
//! days), and a crash can come between any two writes. With the claim first, a crash leaves a
//! claim without a message; its resend finds the claim and stores the message under the claimed
//! id (the message item's `attribute_not_exists` makes concurrent resends store it once). With
//! the message first, a crash would leave a message that a resend duplicates.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, Select};
use aws_smithy_types::timeout::TimeoutConfig;
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{Conditional, Item, conditional, from_item, n, now_epoch, s, sdk_error, string_attr, to_item};
use crate::aws::keys;
use crate::domain::attachment::Attachment;
use crate::domain::message_id::{self, LATE_LANDING_MS};
use crate::domain::{Message, MessageKind};
use crate::error::{ChatError, Result};
use crate::ports::{Audience, ChangedMessage, Claim, HistoryPage, MessageChange, MessageStore, StoredMessage};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageItem {
    pk: String,
    sk: String,
    id: String,
    conversation_id: String,
    sender_id: String,
    kind: MessageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_msg_id: Option<String>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    edited_at: Option<String>,
    #[serde(default)]
    deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachment: Option<Box<Attachment>>,
    /// When the item was written (epoch ms, the writer's clock): `sync` finds by it the messages
    /// whose id is older than a cursor but that were stored after it (domain/message_id.rs).
    /// Absent on items written before it existed: they count as stored at their id's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    landed_at: Option<u64>,
}

impl MessageItem {
    fn from_message(m: &Message) -> Self {
        Self {
            pk: keys::conversation(&m.conversation_id),
            sk: keys::message(&m.id),
            id: m.id.clone(),
            conversation_id: m.conversation_id.clone(),
            sender_id: m.sender_id.clone(),
            kind: m.kind,
            content: m.content.clone(),
            client_msg_id: m.client_msg_id.clone(),
            created_at: m.created_at.clone(),
            edited_at: m.edited_at.clone(),
            deleted: m.deleted,
            attachment: m.attachment.as_ref().map(|a| Box::new(a.unsigned())),
            landed_at: None,
        }
    }

    /// Stored after `ms`, by its own clock (or, without `landedAt`, by its id's time).
    fn landed_after(&self, ms: u64) -> bool {
        let landed = self.landed_at.or_else(|| crate::domain::id::parse_ulid(&self.id).map(|u| u.timestamp_ms()));
        landed.is_some_and(|t| t > ms)
    }

    fn into_message(self) -> Message {
        Message {
            id: self.id,
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            kind: self.kind,
            content: self.content,
            client_msg_id: self.client_msg_id,
            created_at: self.created_at,
            edited_at: self.edited_at,
            deleted: self.deleted,
            status: None,
            attachment: self.attachment,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyItem {
    pk: String,
    sk: String,
    conversation_id: String,
    message_id: String,
    expires_at: i64,
}

/// The first key strictly after the message `id` (or the first message key without one).
fn key_after(id: Option<&str>) -> String {
    match id {
        // The key plus the lowest character.
        Some(id) => format!("{}\u{0}", keys::message(id)),
        None => keys::MSG_PREFIX.to_string(),
    }
}

impl DynamoStore {
    /// A Query of one conversation's items with sort keys in `[lo, hi]` (inclusive).
    fn message_range(&self, conversation_id: &str, lo: &str, hi: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(keys::conversation(conversation_id)))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
    }

    /// The newest message of a conversation (a tombstone too), eventually consistent: 0.5 RRU.
    pub(super) async fn newest_message(&self, conversation_id: &str) -> Result<Option<Message>> {
        let out = self
            .message_range(conversation_id, keys::MSG_PREFIX, keys::MSG_END)
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|i| from_item::<MessageItem>(i).map(MessageItem::into_message))
            .transpose()
    }
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn claim_client_msg_id(&self, message: &Message, expires_at: i64) -> Result<Claim> {
        let idem = IdempotencyItem {
            pk: keys::idempotency(&message.sender_id, message.client_msg_id.as_deref().unwrap_or_default()),
            sk: keys::IDEM.into(),
            conversation_id: message.conversation_id.clone(),
            message_id: message.id.clone(),
            expires_at,
        };
        // An expired record that TTL has not yet deleted may be overwritten.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&idem)?))
            .condition_expression("attribute_not_exists(pk) OR expiresAt <= :now")
            .expression_attribute_values(":now", n(now_epoch()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional(result)? {
            Conditional::Applied(_) => Ok(Claim::New),
            Conditional::Refused { current: Some(item) } => {
                let first: IdempotencyItem = from_item(item)?;
                Ok(Claim::Taken { conversation_id: first.conversation_id, message_id: first.message_id })
            }
            Conditional::Refused { current: None } => Err(ChatError::internal("claim refused without a record")),
        }
    }

    async fn release_client_msg_id(&self, sender_id: &str, client_msg_id: &str, message_id: &str) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::idempotency(sender_id, client_msg_id)))
            .key(keys::SK, s(keys::IDEM))
            // Only this send's own claim.
            .condition_expression("messageId = :id")
            .expression_attribute_values(":id", s(message_id))
            .send()
            .await;
        conditional(result)?;
        Ok(())
    }

    async fn store_message(&self, message: &Message, put_by_ms: Option<u64>) -> Result<StoredMessage> {
        let now = now_ms();
        if put_by_ms.is_some_and(|by| now > by) {
            // A derived id too old to be stored now without landing far behind cursors: the
            // resend is a claimed one (domain/message_id.rs).
            return Err(ChatError::internal("the message could not be stored in time; resend it"));
        }
        let mut item = MessageItem::from_message(message);
        item.landed_at = Some(now);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let result = match put_by_ms {
            // Bounded, so that no derived write arrives after SETTLED_AFTER_MS.
            Some(_) => {
                let timeout = TimeoutConfig::builder()
                    .operation_timeout(Duration::from_millis(message_id::DERIVED_PUT_TIMEOUT_MS))
                    .build();
                request
                    .customize()
                    .config_override(aws_sdk_dynamodb::config::Builder::default().timeout_config(timeout))
                    .send()
                    .await
            }
            None => request.send().await,
        };
        match conditional(result)? {
            Conditional::Applied(_) => Ok(StoredMessage::Stored),
            Conditional::Refused { current: Some(item) } => {
                Ok(StoredMessage::Exists(from_item::<MessageItem>(item)?.into_message()))
            }
            Conditional::Refused { current: None } => Err(ChatError::internal("message write refused without an item")),
        }
    }

    async fn direct_audience(&self, conversation_id: &str, sender_id: &str, other_id: &str) -> Result<Audience> {
        self.read_direct_audience(conversation_id, sender_id, other_id).await
    }

    async fn group_audience(&self, conversation_id: &str, sender_id: &str) -> Result<Audience> {
        self.read_group_audience(conversation_id, sender_id).await
    }

    async fn connections_for_fan_out(&self, user_ids: &[String]) -> Result<Vec<(String, String)>> {
        self.read_connections_for_fan_out(user_ids).await
    }

    async fn get_message(&self, conversation_id: &str, message_id: &str) -> Result<Option<Message>> {
        let item = self.get(keys::conversation(conversation_id), &keys::message(message_id)).await?;
        item.map(|i| from_item::<MessageItem>(i).map(MessageItem::into_message)).transpose()
    }

    async fn list_messages(
        &self,
        conversation_id: &str,
        page: &HistoryPage,
        floor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool)> {
        // BETWEEN is inclusive: read one extra for the cursor item itself and one to learn
        // whether more follow. The floor (a cleared history) is exclusive: its item is dropped too.
        let bottom = floor.map(keys::message).unwrap_or_else(|| keys::MSG_PREFIX.to_string());
        // AfterOrLate: read from LATE_LANDING_MS before the cursor; of what lies at or before
        // it, keep only what was stored after the cursor's time.
        let late_since = match page {
            HistoryPage::AfterOrLate(id) => crate::domain::id::parse_ulid(id).map(|u| u.timestamp_ms()),
            _ => None,
        };
        let (lo, hi, forward, cursor) = match page {
            HistoryPage::Before(None) => (bottom, keys::MSG_END.to_string(), false, None),
            HistoryPage::Before(Some(id)) => (bottom, keys::message(id), false, Some(id.as_str())),
            HistoryPage::After(id) | HistoryPage::AfterOrLate(id) => {
                let from = match late_since {
                    Some(ms) => {
                        keys::message(&ulid::Ulid::from_parts(ms.saturating_sub(LATE_LANDING_MS), 0).to_string())
                    }
                    None => keys::message(id),
                };
                (from.max(bottom), keys::MSG_END.to_string(), true, Some(id.as_str()))
            }
        };
        if lo > hi {
            return Ok((Vec::new(), false));
        }
        let cursor_key = cursor.map(keys::message);
        let mut messages = Vec::with_capacity(limit + 1);
        let mut start: Option<Item> = None;
        // One query, except when late-window items that are left out fill its Limit.
        loop {
            let out = self
                .message_range(conversation_id, &lo, &hi)
                .scan_index_forward(forward)
                .limit((limit + 2) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let item = from_item::<MessageItem>(item)?;
                let key = keys::message(&item.id);
                if Some(item.id.as_str()) == floor || Some(&key) == cursor_key.as_ref() {
                    continue;
                }
                let behind = forward && cursor_key.as_ref().is_some_and(|c| key < *c);
                if behind && !late_since.is_some_and(|ms| item.landed_after(ms)) {
                    continue;
                }
                messages.push(item.into_message());
            }
            match out.last_evaluated_key {
                Some(key) if late_since.is_some() && messages.len() <= limit && !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        let more = messages.len() > limit;
        messages.truncate(limit);
        Ok((messages, more))
    }

    async fn change_message(
        &self,
        conversation_id: &str,
        message_id: &str,
        sender_id: &str,
        change: &MessageChange,
    ) -> Result<ChangedMessage> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(conversation_id)))
            .key(keys::SK, s(keys::message(message_id)))
            .expression_attribute_values(":me", s(sender_id))
            .expression_attribute_names("#content", "content")
            .expression_attribute_names("#deleted", "deleted")
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match change {
            MessageChange::Edit { content, edited_at } => request
                .update_expression("SET #content = :c, editedAt = :at")
                .condition_expression("attribute_exists(pk) AND senderId = :me AND #deleted = :no")
                .expression_attribute_values(":c", s(content))
                .expression_attribute_values(":at", s(edited_at))
                .expression_attribute_values(":no", AttributeValue::Bool(false)),
            MessageChange::Delete { deleted_at } => request
                .update_expression("SET #deleted = :yes, deletedAt = if_not_exists(deletedAt, :at) REMOVE #content")
                .condition_expression("attribute_exists(pk) AND senderId = :me")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":at", s(deleted_at)),
        };
        match conditional(request.send().await)? {
            Conditional::Applied(out) => match out.attributes {
                Some(item) => Ok(ChangedMessage::Changed(from_item::<MessageItem>(item)?.into_message())),
                None => Err(ChatError::internal("update returned no item")),
            },
            Conditional::Refused { current } => match current.map(from_item::<MessageItem>).transpose()? {
                None => Ok(ChangedMessage::NotFound),
                Some(m) if m.sender_id != sender_id => Ok(ChangedMessage::NotSender),
                Some(m) => Ok(ChangedMessage::Deleted(m.into_message())),
            },
        }
    }

    async fn count_unread(&self, conversation_id: &str, user_id: &str, floor: Option<&str>, cap: u32) -> Result<u32> {
        let lo = key_after(floor);
        let mut count = 0u32;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .message_range(conversation_id, &lo, keys::MSG_END)
                .filter_expression("senderId <> :me AND #deleted <> :yes")
                .expression_attribute_names("#deleted", "deleted")
                .expression_attribute_values(":me", s(user_id))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .select(Select::Count)
                // Limit bounds the items read (and paid for) per page, before the filter.
                .limit(cap.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            count += out.count.max(0) as u32;
            match out.last_evaluated_key {
                Some(key) if count < cap && !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(count.min(cap))
    }

    async fn senders_between(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        up_to: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let out = self
            .message_range(conversation_id, &key_after(after), &keys::message(up_to))
            .projection_expression("senderId")
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut senders: Vec<String> =
            out.items.unwrap_or_default().iter().filter_map(|item| string_attr(item, "senderId")).collect();
        senders.sort();
        senders.dedup();
        Ok(senders)
    }
}

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn keys_after_a_message_skip_it() {
        assert!(key_after(Some("01B")) > keys::message("01B"));
        assert!(key_after(Some("01B")) < keys::message("01B0"));
        assert_eq!(key_after(None), keys::MSG_PREFIX);
    }
}
