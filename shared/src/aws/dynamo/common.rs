//! What every part of the DynamoDB store shares: item conversion, expiry, error mapping, the
//! item builders of transactions, BatchGetItem with its retries, and the one way to learn that a
//! condition failed for each kind of write: `conditional` for a single-item write, `transact`
//! (items named by role, see `Transaction`) for a transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem,
};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use crate::aws::keys;
use crate::error::{ChatError, Result};

pub(super) type Item = HashMap<String, AttributeValue>;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;
/// Unprocessed keys are retried this many times (with a short back-off) before giving up.
const BATCH_RETRIES: usize = 5;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn sdk_error<E, R>(e: SdkError<E, R>) -> ChatError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    ChatError::internal(DisplayErrorContext(e))
}

/// DynamoDB deletes TTL-expired items lazily (days late at worst): an item past its expiry is absent.
pub(super) fn expired(item: &Item, now: i64) -> bool {
    match item.get(keys::EXPIRES_AT) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().map(|at| at <= now).unwrap_or(false),
        _ => false,
    }
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value).map_err(ChatError::internal)
}

pub(super) fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(ChatError::internal)
}

/// A string attribute, `None` when it is absent or of another type.
pub(super) fn string_attr(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

/// A counter attribute, 0 when it is absent.
pub(super) fn number_attr(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

impl DynamoStore {
    /// One item, read strongly consistent; an expired one is absent.
    pub(super) async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item.filter(|item| !expired(item, now_epoch())))
    }

    /// A transaction's Put of `item` under `condition`.
    pub(super) fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(ChatError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction's check that the item `(pk, sk)` exists.
    pub(super) fn exists_check(&self, pk: String, sk: &str) -> Result<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(ChatError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

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
}

// ---------------------------------------------------------------- single-item conditional writes

/// What a single-item write with a condition did.
pub(super) enum Conditional<T> {
    Applied(T),
    /// The condition failed and nothing was written. `current` is the item as it stood, when the
    /// request asked for it (`ReturnValuesOnConditionCheckFailure::AllOld`) and there was one.
    Refused {
        current: Option<Item>,
    },
}

impl<T> Conditional<T> {
    pub(super) fn applied(self) -> Option<T> {
        match self {
            Conditional::Applied(out) => Some(out),
            Conditional::Refused { .. } => None,
        }
    }
}

/// The errors of single-item writes that can say their condition failed.
pub(super) trait ConditionalWriteError: std::error::Error + Send + Sync + 'static {
    /// `Some(current item)` when the error is a failed condition, `None` for any other error.
    fn failed_condition(&self) -> Option<Option<Item>>;
}

macro_rules! conditional_write_error {
    ($($error:ty),*) => {$(
        impl ConditionalWriteError for $error {
            fn failed_condition(&self) -> Option<Option<Item>> {
                match self {
                    Self::ConditionalCheckFailedException(c) => Some(c.item.clone().filter(|i| !i.is_empty())),
                    _ => None,
                }
            }
        }
    )*};
}
conditional_write_error!(UpdateItemError, DeleteItemError, PutItemError);

/// Reads the result of a single-item write: a failed condition is `Refused`, any other error an
/// internal one.
pub(super) fn conditional<T, E: ConditionalWriteError>(
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
) -> Result<Conditional<T>> {
    match result {
        Ok(out) => Ok(Conditional::Applied(out)),
        Err(e) => match e.as_service_error().and_then(ConditionalWriteError::failed_condition) {
            Some(current) => Ok(Conditional::Refused { current }),
            None => Err(sdk_error(e)),
        },
    }
}

// ------------------------------------------------------------------------------- transactions

/// A TransactWriteItems whose items each carry a role (an enum per transaction), so that a
/// cancellation is read as "these roles failed their condition", never by position: reordering
/// or adding items cannot change which outcome a user sees.
pub(super) struct Transaction<R> {
    roles: Vec<R>,
    items: Vec<TransactWriteItem>,
}

impl<R: Clone> Transaction<R> {
    pub(super) fn new() -> Self {
        Self { roles: Vec::new(), items: Vec::new() }
    }

    pub(super) fn with(mut self, role: R, item: TransactWriteItem) -> Self {
        self.push(role, item);
        self
    }

    pub(super) fn push(&mut self, role: R, item: TransactWriteItem) {
        self.roles.push(role);
        self.items.push(item);
    }

    /// Each item with its role, in the order they are sent.
    #[cfg(test)]
    pub(super) fn items(&self) -> impl Iterator<Item = (&R, &TransactWriteItem)> {
        self.roles.iter().zip(&self.items)
    }
}

/// The roles of a cancelled transaction's items whose condition failed, in transaction order
/// (empty: cancelled for another reason, such as a conflict with another transaction).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FailedConditions<R>(Vec<R>);

impl<R: Clone + PartialEq> FailedConditions<R> {
    /// DynamoDB answers one reason per item, in the order the items were sent.
    pub(super) fn from_reasons(roles: &[R], reasons: &[CancellationReason]) -> Self {
        let failed = roles.iter().zip(reasons).filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"));
        Self(failed.map(|(role, _)| role.clone()).collect())
    }

    pub(super) fn contains(&self, role: &R) -> bool {
        self.0.contains(role)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &R> {
        self.0.iter()
    }
}

fn failed_conditions<R: Clone + PartialEq>(
    roles: &[R],
    e: SdkError<TransactWriteItemsError>,
) -> Result<FailedConditions<R>> {
    match e.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(tce) => {
            Ok(FailedConditions::from_reasons(roles, tce.cancellation_reasons()))
        }
        other => Err(ChatError::internal(DisplayErrorContext(other))),
    }
}

/// Cancelled only because another transaction touched the same items (no condition failed).
fn is_conflict(codes: &[Option<&str>]) -> bool {
    codes.contains(&Some("TransactionConflict")) && !codes.contains(&Some("ConditionalCheckFailed"))
}

fn is_transaction_conflict(e: &SdkError<TransactWriteItemsError>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(tce)) => {
            is_conflict(&tce.cancellation_reasons().iter().map(|r| r.code()).collect::<Vec<_>>())
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
        _ => false,
    }
}

fn jitter_ms() -> u64 {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    u64::from(byte[0] % 20)
}

/// What a transaction did: committed, or cancelled with these conditions failed.
pub(super) type Transacted<R> = std::result::Result<(), FailedConditions<R>>;

impl DynamoStore {
    /// Runs the transaction once; a cancellation comes back as the roles that failed, any other
    /// error is an internal one.
    pub(super) async fn transact<R: Clone + PartialEq>(&self, tx: &Transaction<R>) -> Result<Transacted<R>> {
        self.transact_retrying_conflicts(tx, 0).await
    }

    /// As `transact`, retrying up to `retries` times (after a short, jittered pause) when the
    /// transaction met another one in flight on the same items.
    pub(super) async fn transact_retrying_conflicts<R: Clone + PartialEq>(
        &self,
        tx: &Transaction<R>,
        retries: u64,
    ) -> Result<Transacted<R>> {
        let mut attempt = 0;
        loop {
            let request = self.client.transact_write_items().set_transact_items(Some(tx.items.clone()));
            match request.send().await {
                Ok(_) => return Ok(Ok(())),
                Err(e) if attempt < retries && is_transaction_conflict(&e) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt + jitter_ms())).await;
                }
                Err(e) => return failed_conditions(&tx.roles, e).map(Err),
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The cancellation reasons DynamoDB would give, one per item; `true` marks a failed condition.
    pub(in crate::aws::dynamo) fn reasons(failed: &[bool]) -> Vec<CancellationReason> {
        failed
            .iter()
            .map(|&f| CancellationReason::builder().code(if f { "ConditionalCheckFailed" } else { "None" }).build())
            .collect()
    }

    /// A store that is never sent anything: for tests of the requests it builds.
    pub(in crate::aws::dynamo) fn offline_store() -> DynamoStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), "table".into())
    }

    /// The `(pk, sk)` of a transaction item, whatever its kind.
    pub(in crate::aws::dynamo) fn key_of(item: &TransactWriteItem) -> (String, String) {
        let key = match (&item.put, &item.condition_check, &item.update, &item.delete) {
            (Some(put), ..) => &put.item,
            (_, Some(check), ..) => &check.key,
            (_, _, Some(update), _) => &update.key,
            (.., Some(delete)) => &delete.key,
            _ => panic!("an empty transaction item"),
        };
        let text = |name| string_attr(key, name).expect("a string key");
        (text(keys::PK), text(keys::SK))
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Role {
        Claim,
        Check(&'static str),
        Record,
    }

    #[test]
    fn failed_conditions_name_the_roles_at_the_failed_positions() {
        let roles = [Role::Claim, Role::Check("a"), Role::Record, Role::Check("b")];
        let failed = FailedConditions::from_reasons(&roles, &reasons(&[false, true, false, true]));
        assert_eq!(failed, FailedConditions(vec![Role::Check("a"), Role::Check("b")]));
        assert!(!failed.contains(&Role::Claim) && !failed.contains(&Role::Record));
        assert_eq!(failed.iter().collect::<Vec<_>>(), [&Role::Check("a"), &Role::Check("b")], "in item order");
    }

    #[test]
    fn only_a_failed_condition_counts() {
        let roles = [Role::Claim, Role::Record];
        let other = [
            CancellationReason::builder().code("TransactionConflict").build(),
            CancellationReason::builder().code("ValidationError").build(),
        ];
        assert_eq!(FailedConditions::from_reasons(&roles, &other), FailedConditions(vec![]));
        assert_eq!(FailedConditions::from_reasons(&roles, &[]), FailedConditions(vec![]), "no reasons: none failed");
    }

    #[test]
    fn a_conflict_is_retried_only_without_a_failed_condition() {
        assert!(is_conflict(&[None, Some("TransactionConflict")]));
        assert!(!is_conflict(&[Some("ConditionalCheckFailed"), Some("TransactionConflict")]));
        assert!(!is_conflict(&[Some("None"), Some("ConditionalCheckFailed")]));
    }
}
