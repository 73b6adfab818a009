//! `ScheduleStore` on the single table: scheduled and automated messages, the sparse `due` index
//! the dispatcher reads, the planner's per-day claims and the per-day activity index.
//! Keys in `keys.rs`; every access pattern and its cost in docs/data-model.md.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{
    Conditional, FailedConditions, Item, Transaction, conditional, expired, from_item, n, now_epoch, s, sdk_error,
    to_item,
};
use crate::aws::keys;
use crate::domain::schedule::{ScheduleStatus, ScheduledMessage};
use crate::domain::time;
use crate::error::{ChatError, Result};
use crate::ports::{Cancel, Claimed, DueEntry, ScheduleStore};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduledItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    message: ScheduledMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

/// Where a scheduled message lives: in its sender's partition, `SCHED#` for the ones users
/// schedule (listed, cancellable), `AUTO#` for the planner's (neither).
fn item_key(m: &ScheduledMessage) -> (String, String) {
    let sk = if m.is_auto() { keys::auto_scheduled(&m.id) } else { keys::scheduled(&m.id) };
    (keys::user(&m.sender_id), sk)
}

fn new_item(m: &ScheduledMessage) -> ScheduledItem {
    let (pk, sk) = item_key(m);
    ScheduledItem {
        pk,
        sk,
        message: m.clone(),
        due_pk: Some(keys::due_shard(keys::due_shard_of(&m.id))),
        due_sk: Some(keys::due_key(&m.send_at, &m.id)),
        claim_id: None,
        expires_at: None,
    }
}

/// The items of a user's scheduled message.
#[derive(Debug, Clone, PartialEq)]
enum NewScheduled {
    SenderIsMember,
    Scheduled,
}

/// The items of a planned pair.
#[derive(Debug, Clone, PartialEq)]
enum PlannedPair {
    /// A user's claim on the day (one per user of the pair).
    Claim,
    Automated,
}

/// `false` when a user of the pair was already planned (the planner moves on).
fn pair_refused(failed: &FailedConditions<PlannedPair>) -> Result<bool> {
    if failed.contains(&PlannedPair::Claim) {
        Ok(false)
    } else {
        Err(ChatError::internal(format!("planner transaction cancelled: {failed:?}")))
    }
}

impl DynamoStore {
    fn update(
        &self,
        m: &ScheduledMessage,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let (pk, sk) = item_key(m);
        self.client.update_item().table_name(&self.table).key(keys::PK, s(pk)).key(keys::SK, s(sk))
    }
}

#[async_trait]
impl ScheduleStore for DynamoStore {
    async fn put_scheduled(&self, message: &ScheduledMessage) -> Result<bool> {
        let is_member =
            self.exists_check(keys::conversation(&message.conversation_id), &keys::member(&message.sender_id))?;
        let tx = Transaction::new()
            .with(NewScheduled::SenderIsMember, is_member)
            .with(NewScheduled::Scheduled, self.put(to_item(&new_item(message))?, "attribute_not_exists(pk)")?);
        match self.transact(&tx).await? {
            Ok(()) => Ok(true),
            Err(failed) if failed.contains(&NewScheduled::SenderIsMember) => Ok(false),
            Err(failed) => Err(ChatError::internal(format!("scheduled message write cancelled: {failed:?}"))),
        }
    }

    async fn list_scheduled(
        &self,
        owner: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ScheduledMessage>, bool)> {
        // BETWEEN is inclusive: one extra for the cursor item itself, one to learn if more follow.
        let hi = before.map(keys::scheduled).unwrap_or_else(|| keys::SCHED_END.to_string());
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(keys::user(owner)))
            .expression_attribute_values(":lo", s(keys::SCHED_PREFIX))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit((limit + 2) as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        let now = now_epoch();
        let mut messages = Vec::with_capacity(limit + 1);
        for item in out.items.unwrap_or_default() {
            if expired(&item, now) {
                continue;
            }
            let m = from_item::<ScheduledItem>(item)?.message;
            if Some(m.id.as_str()) != before {
                messages.push(m);
            }
        }
        let more = messages.len() > limit;
        messages.truncate(limit);
        Ok((messages, more))
    }

    async fn cancel_scheduled(&self, owner: &str, id: &str) -> Result<Cancel> {
        let (pk, sk) = (keys::user(owner), keys::scheduled(id));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(&pk))
            .key(keys::SK, s(&sk))
            .condition_expression("#status = :scheduled")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":scheduled", s(ScheduleStatus::Scheduled.as_str()))
            .send()
            .await;
        match conditional(result)? {
            Conditional::Applied(_) => Ok(Cancel::Cancelled),
            // Rare path: tell "never existed" from "already queued" with one read.
            Conditional::Refused { .. } => {
                Ok(if self.get(pk, &sk).await?.is_some() { Cancel::TooLate } else { Cancel::NotFound })
            }
        }
    }

    fn due_shards(&self) -> std::ops::Range<u32> {
        0..keys::DUE_SHARDS
    }

    async fn due_scheduled(&self, shard: u32, until: DateTime<Utc>, limit: usize) -> Result<Vec<DueEntry>> {
        // '~' sorts after every ULID character, so every entry of the last millisecond is in.
        let hi = keys::due_key(&time::rfc3339(until), "~");
        let out = self
            .client
            .query()
            .index_name(keys::DUE_INDEX)
            .table_name(&self.table)
            .key_condition_expression("#dpk = :shard AND #dsk <= :hi")
            .expression_attribute_names("#dpk", keys::DUE_PK)
            .expression_attribute_names("#dsk", keys::DUE_SK)
            .expression_attribute_values(":shard", s(keys::due_shard(shard)))
            .expression_attribute_values(":hi", s(hi))
            .limit(limit as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut entries = Vec::new();
        for item in out.items.unwrap_or_default() {
            let item: ScheduledItem = from_item(item)?;
            if let Some(due_key) = item.due_sk {
                entries.push(DueEntry { message: item.message, due_key });
            }
        }
        Ok(entries)
    }

    async fn claim_scheduled(
        &self,
        entry: &DueEntry,
        queued_at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>> {
        let claim_id = crate::domain::new_id();
        let queued_at = time::rfc3339(queued_at);
        let lease_key = keys::due_key(&time::rfc3339(lease_until), &entry.message.id);
        let request = self
            .update(&entry.message)
            .update_expression("SET #status = :queued, queuedAt = :at, claimId = :claim, #dsk = :lease")
            .condition_expression("#dsk = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#dsk", keys::DUE_SK)
            .expression_attribute_values(":queued", s(ScheduleStatus::Queued.as_str()))
            .expression_attribute_values(":at", s(&queued_at))
            .expression_attribute_values(":claim", s(&claim_id))
            .expression_attribute_values(":lease", s(lease_key))
            .expression_attribute_values(":seen", s(&entry.due_key));
        if conditional(request.send().await)?.applied().is_none() {
            return Ok(None);
        }
        let mut message = entry.message.clone();
        message.status = ScheduleStatus::Queued;
        message.queued_at = Some(queued_at);
        // A lease that ran out is reclaimed; SQS refusing it again puts it back at its own time.
        let previous_due_key = keys::due_key(&message.send_at, &message.id);
        Ok(Some(Claimed { message, claim_id, previous_due_key }))
    }

    async fn confirm_queued(&self, claim: &Claimed) -> Result<()> {
        let request = self
            .update(&claim.message)
            .update_expression("REMOVE #dpk, #dsk")
            .condition_expression("claimId = :claim AND #status = :queued")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#dpk", keys::DUE_PK)
            .expression_attribute_names("#dsk", keys::DUE_SK)
            .expression_attribute_values(":claim", s(&claim.claim_id))
            .expression_attribute_values(":queued", s(ScheduleStatus::Queued.as_str()));
        // A failed condition: the worker already marked it sent, or another claim took over.
        conditional(request.send().await).map(|_| ())
    }

    async fn release_claim(&self, claim: &Claimed) -> Result<()> {
        let request = self
            .update(&claim.message)
            .update_expression("SET #status = :scheduled, #dsk = :due REMOVE queuedAt, claimId")
            .condition_expression("claimId = :claim AND #status = :queued")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#dsk", keys::DUE_SK)
            .expression_attribute_values(":scheduled", s(ScheduleStatus::Scheduled.as_str()))
            .expression_attribute_values(":due", s(&claim.previous_due_key))
            .expression_attribute_values(":claim", s(&claim.claim_id))
            .expression_attribute_values(":queued", s(ScheduleStatus::Queued.as_str()));
        conditional(request.send().await).map(|_| ())
    }

    async fn mark_sent(
        &self,
        message: &ScheduledMessage,
        message_id: &str,
        sent_at: &str,
        expires_at: i64,
    ) -> Result<()> {
        let request = self
            .update(message)
            .update_expression(
                "SET #status = :sent, sentAt = if_not_exists(sentAt, :at), messageId = :mid, expiresAt = :exp \
                 REMOVE #dpk, #dsk, claimId",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#dpk", keys::DUE_PK)
            .expression_attribute_names("#dsk", keys::DUE_SK)
            .expression_attribute_values(":sent", s(ScheduleStatus::Sent.as_str()))
            .expression_attribute_values(":at", s(sent_at))
            .expression_attribute_values(":mid", s(message_id))
            .expression_attribute_values(":exp", n(expires_at));
        conditional(request.send().await).map(|_| ())
    }

    async fn mark_failed(&self, message: &ScheduledMessage, error: &str, expires_at: i64) -> Result<()> {
        let request = self
            .update(message)
            .update_expression("SET #status = :failed, #error = :error, expiresAt = :exp REMOVE #dpk, #dsk, claimId")
            .condition_expression("attribute_exists(pk) AND #status <> :sent")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_names("#dpk", keys::DUE_PK)
            .expression_attribute_names("#dsk", keys::DUE_SK)
            .expression_attribute_values(":failed", s(ScheduleStatus::Failed.as_str()))
            .expression_attribute_values(":sent", s(ScheduleStatus::Sent.as_str()))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":exp", n(expires_at));
        conditional(request.send().await).map(|_| ())
    }

    async fn mark_active(&self, user_id: &str, day: &str, expires_at: i64) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(keys::active(day)))
            .item(keys::SK, s(keys::user(user_id)))
            .item("userId", s(user_id))
            .item(keys::EXPIRES_AT, n(expires_at))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn active_users(&self, days: &[String]) -> Result<HashSet<String>> {
        let now = now_epoch();
        let reads = days.iter().map(|day| async move {
            let mut users = Vec::new();
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::active(day)))
                .projection_expression("userId, expiresAt")
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                    if !expired(&item, now)
                        && let Some(AttributeValue::S(id)) = item.get("userId")
                    {
                        users.push(id.clone());
                    }
                }
            }
            Ok::<_, ChatError>(users)
        });
        let mut all = HashSet::new();
        for users in futures::future::join_all(reads).await {
            all.extend(users?);
        }
        Ok(all)
    }

    async fn planned_users(&self, day: &str, users: &[String]) -> Result<HashSet<String>> {
        let now = now_epoch();
        let mut planned = HashSet::new();
        let keys = users.iter().map(|u| (keys::user(u), keys::plan(day))).collect();
        for item in self.batch_get(keys, true, Some(("userId, expiresAt", HashMap::new()))).await? {
            if !expired(&item, now)
                && let Some(AttributeValue::S(id)) = item.get("userId")
            {
                planned.insert(id.clone());
            }
        }
        Ok(planned)
    }

    async fn plan_pair(
        &self,
        day: &str,
        pair: [&str; 2],
        message: &ScheduledMessage,
        claim_expires_at: i64,
    ) -> Result<bool> {
        let claim = |user: &str| -> Item {
            HashMap::from([
                (keys::PK.into(), s(keys::user(user))),
                (keys::SK.into(), s(keys::plan(day))),
                ("userId".into(), s(user)),
                ("scheduledId".into(), s(&message.id)),
                (keys::EXPIRES_AT.into(), n(claim_expires_at)),
            ])
        };
        // A claim past its expiry (TTL not yet run) is free again.
        let free = "attribute_not_exists(pk) OR expiresAt <= :now";
        let put_claim = |user: &str| -> Result<TransactWriteItem> {
            let put = aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim(user)))
                .condition_expression(free)
                .expression_attribute_values(":now", n(now_epoch()))
                .build()
                .map_err(ChatError::internal)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let tx = Transaction::new()
            .with(PlannedPair::Claim, put_claim(pair[0])?)
            .with(PlannedPair::Claim, put_claim(pair[1])?)
            .with(PlannedPair::Automated, self.put(to_item(&new_item(message))?, "attribute_not_exists(pk)")?);
        match self.transact(&tx).await? {
            Ok(()) => Ok(true),
            Err(failed) => pair_refused(&failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::common::tests::reasons;

    #[test]
    fn a_pair_is_skipped_when_either_user_was_planned() {
        let roles = [PlannedPair::Claim, PlannedPair::Claim, PlannedPair::Automated];
        let decode = |failed: &[bool]| pair_refused(&FailedConditions::from_reasons(&roles, &reasons(failed)));
        assert!(!decode(&[true, false, false]).unwrap());
        assert!(!decode(&[false, true, false]).unwrap());
        assert!(decode(&[false, false, true]).is_err(), "an id collision is a fault");
    }
}
