//! `MatchStore` and `CallStore`: the pool of waiting users (`MATCHPOOL` / `USER#{id}`, one
//! partition: a pool is small and short-lived) and the answer claims of calls
//! (`CALL#{caller}#{callee}#{callId}` / `ANSWER`, with a TTL). Pairing is one transaction that
//! deletes both entries, each on the condition that it is still there.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Select, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{Transaction, conditional, n, now_epoch, s, sdk_error, to_item};
use crate::aws::keys;
use crate::domain::matching::Waiting;
use crate::error::{ChatError, Result};
use crate::ports::{CallStore, MatchStore, Pairing};

/// Retries of a pairing that met another transaction on the same entries.
const CONFLICT_RETRIES: u64 = 3;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PoolItem {
    pk: String,
    sk: String,
    user_id: String,
    connection_id: String,
    expires_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AnswerItem {
    pk: String,
    sk: String,
    connection_id: String,
    expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
enum PairItem {
    Me,
    Partner,
}

impl DynamoStore {
    fn pool_delete(&self, user_id: &str, now: i64) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::MATCH_POOL))
            .key(keys::SK, s(keys::user(user_id)))
            .condition_expression("attribute_exists(pk) AND expiresAt > :now")
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(ChatError::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl MatchStore for DynamoStore {
    async fn join_pool(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()> {
        let item = PoolItem {
            pk: keys::MATCH_POOL.into(),
            sk: keys::user(user_id),
            user_id: user_id.into(),
            connection_id: connection_id.into(),
            expires_at,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn leave_pool(&self, user_id: &str, connection_id: Option<&str>) -> Result<bool> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::MATCH_POOL))
            .key(keys::SK, s(keys::user(user_id)));
        request = match connection_id {
            Some(connection) => {
                request.condition_expression("connectionId = :c").expression_attribute_values(":c", s(connection))
            }
            None => request.condition_expression("attribute_exists(pk)"),
        };
        Ok(conditional(request.send().await)?.applied().is_some())
    }

    async fn waiting(&self, limit: usize) -> Result<Vec<Waiting>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("expiresAt > :now")
                .expression_attribute_values(":pk", s(keys::MATCH_POOL))
                .expression_attribute_values(":now", n(now_epoch()))
                .consistent_read(true)
                .limit(limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in page.items.unwrap_or_default() {
                let entry: PoolItem = super::common::from_item(item)?;
                out.push(Waiting { user_id: entry.user_id, connection_id: entry.connection_id });
            }
            match page.last_evaluated_key {
                Some(key) if out.len() < limit && !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn pair(&self, me: &Waiting, partner: &Waiting) -> Result<Pairing> {
        let now = now_epoch();
        let tx = Transaction::new()
            .with(PairItem::Me, self.pool_delete(&me.user_id, now)?)
            .with(PairItem::Partner, self.pool_delete(&partner.user_id, now)?);
        match self.transact_retrying_conflicts(&tx, CONFLICT_RETRIES).await? {
            Ok(()) => Ok(Pairing::Paired),
            Err(failed) if failed.contains(&PairItem::Me) => Ok(Pairing::TakenMe),
            Err(failed) if failed.contains(&PairItem::Partner) => Ok(Pairing::TakenPartner),
            Err(failed) => Err(ChatError::internal(format!("pairing cancelled: {failed:?}"))),
        }
    }

    async fn count_waiting(&self) -> Result<u64> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("expiresAt > :now")
                .expression_attribute_values(":pk", s(keys::MATCH_POOL))
                .expression_attribute_values(":now", n(now_epoch()))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            count += page.count.max(0) as u64;
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(count)
    }
}

#[async_trait]
impl CallStore for DynamoStore {
    async fn claim_answer(
        &self,
        caller: &str,
        callee: &str,
        call_id: &str,
        connection_id: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let item = AnswerItem {
            pk: keys::call(caller, callee, call_id),
            sk: keys::CALL_ANSWER.into(),
            connection_id: connection_id.into(),
            expires_at,
        };
        // The same device answering twice (a resend) keeps its claim.
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk) OR expiresAt <= :now OR connectionId = :c")
            .expression_attribute_values(":now", n(now_epoch()))
            .expression_attribute_values(":c", s(connection_id));
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
