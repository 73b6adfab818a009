//! The DynamoDB store: one table, keys from `keys.rs`, conditional transactions for uniqueness,
//! idempotency and membership.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, Select,
    TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use super::keys;
use crate::domain::{Conversation, ConversationKind, Member, MemberRole, Membership, Message, MessageKind, User};
use crate::error::{ChatError, Result};
use crate::ports::{
    AddMember, AddRule, ChangedMessage, CreateConversation, CreateDirect, HistoryPage, MessageChange, Pointer,
    PointerMove, RefreshTokenRecord, RemoveMember, Rotation, Store, StoredMessage, Taken, UserRecord,
};

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(ChatError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

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
}

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

/// An UpdateItem whose failed condition means "nothing to do" (the item is gone, or already
/// newer): `None` then; any other error is an internal one.
pub(super) fn unless_condition_failed<T>(
    result: std::result::Result<T, SdkError<UpdateItemError, HttpResponse>>,
) -> Result<Option<T>> {
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(None),
        Err(e) => Err(sdk_error(e)),
    }
}

/// The item as it stood when an UpdateItem's condition failed (asked for with
/// `ReturnValuesOnConditionCheckFailure::AllOld`; `None`: there was no item). Any other error is
/// an internal one.
fn item_of_failed_condition(e: SdkError<UpdateItemError, HttpResponse>) -> Result<Option<Item>> {
    match e.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(c)) => Ok(c.item.clone().filter(|i| !i.is_empty())),
        _ => Err(sdk_error(e)),
    }
}

/// A transaction cancelled only because another one touched the same items (no condition failed).
fn is_transaction_conflict(e: &SdkError<TransactWriteItemsError>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(tce)) => {
            let codes: Vec<Option<&str>> = tce.cancellation_reasons().iter().map(|r| r.code()).collect();
            codes.contains(&Some("TransactionConflict")) && !codes.contains(&Some("ConditionalCheckFailed"))
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

/// Which items of a cancelled transaction failed their condition, by position.
fn failed_conditions(e: SdkError<TransactWriteItemsError>) -> Result<Vec<bool>> {
    match e.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(tce) => {
            Ok(tce.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect())
        }
        other => Err(ChatError::internal(DisplayErrorContext(other))),
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserItem {
    pk: String,
    sk: String,
    id: String,
    username: String,
    email: String,
    display_name: String,
    password_hash: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
    /// Username search key (users branch): `UNAME#{first char}` / lowercase username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

impl UserItem {
    fn into_user(self) -> User {
        User {
            id: self.id,
            username: self.username,
            email: Some(self.email),
            display_name: self.display_name,
            created_at: self.created_at,
            last_seen: self.last_seen,
            online: false,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClaimItem {
    pk: String,
    sk: String,
    user_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConversationItem {
    pk: String,
    sk: String,
    id: String,
    kind: ConversationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    created_at: String,
    created_by: String,
    #[serde(default)]
    member_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_activity_at: Option<String>,
}

impl ConversationItem {
    fn new(conversation: &Conversation) -> Self {
        Self {
            pk: keys::conversation(&conversation.id),
            sk: keys::META.into(),
            id: conversation.id.clone(),
            kind: conversation.kind,
            name: conversation.name.clone(),
            created_at: conversation.created_at.clone(),
            created_by: conversation.created_by.clone(),
            member_count: conversation.member_count,
            last_message_id: None,
            last_message: None,
            last_activity_at: Some(conversation.created_at.clone()),
        }
    }

    fn into_conversation(self) -> Conversation {
        Conversation {
            last_activity_at: self.last_activity_at.unwrap_or_else(|| self.created_at.clone()),
            id: self.id,
            kind: self.kind,
            name: self.name,
            created_at: self.created_at,
            created_by: self.created_by,
            member_count: self.member_count,
            last_message: self.last_message,
            members: None,
            unread_count: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    user_id: String,
    role: MemberRole,
    joined_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_delivered_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_read_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_delivered_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_read_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cleared_before: Option<String>,
}

impl MemberItem {
    fn new(conversation_id: &str, user_id: &str, role: MemberRole, joined_at: &str) -> Self {
        let pk = keys::conversation(conversation_id);
        Self {
            sk: keys::member(user_id),
            gsi1pk: keys::user(user_id),
            gsi1sk: pk.clone(),
            pk,
            user_id: user_id.into(),
            role,
            joined_at: joined_at.into(),
            last_delivered_id: None,
            last_read_id: None,
            last_delivered_at: None,
            last_read_at: None,
            cleared_before: None,
        }
    }

    fn into_member(self) -> Member {
        Member {
            user_id: self.user_id,
            role: self.role,
            joined_at: self.joined_at,
            last_delivered_id: self.last_delivered_id,
            last_read_id: self.last_read_id,
            last_delivered_at: self.last_delivered_at,
            last_read_at: self.last_read_at,
            cleared_before: self.cleared_before,
        }
    }
}

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
        }
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

#[async_trait]
impl Store for DynamoStore {
    async fn create_user(&self, user: &User, password_hash: &str) -> Result<std::result::Result<(), Taken>> {
        let email = user.email.clone().unwrap_or_default();
        let profile = UserItem {
            pk: keys::user(&user.id),
            sk: keys::PROFILE.into(),
            id: user.id.clone(),
            username: user.username.clone(),
            email: email.clone(),
            display_name: user.display_name.clone(),
            password_hash: password_hash.into(),
            created_at: user.created_at.clone(),
            last_seen: None,
            gsi1pk: Some(keys::username_index(&user.username.to_lowercase())),
            gsi1sk: Some(user.username.to_lowercase()),
        };
        let claim = |pk: String| ClaimItem { pk, sk: keys::UNIQUE.into(), user_id: user.id.clone() };
        let not_exists = "attribute_not_exists(pk)";
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put(to_item(&profile)?, not_exists)?)
            .transact_items(self.put(to_item(&claim(keys::username(&user.username.to_lowercase())))?, not_exists)?)
            .transact_items(self.put(to_item(&claim(keys::email(&email.to_lowercase())))?, not_exists)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                let failed = failed_conditions(e)?;
                if failed.get(1) == Some(&true) {
                    Ok(Err(Taken::Username))
                } else if failed.get(2) == Some(&true) {
                    Ok(Err(Taken::Email))
                } else {
                    Err(ChatError::internal("user registration cancelled without a failed condition"))
                }
            }
        }
    }

    async fn user_id_by_login(&self, login: &str) -> Result<Option<String>> {
        let pk = if login.contains('@') { keys::email(login) } else { keys::username(login) };
        match self.get(pk, keys::UNIQUE).await? {
            Some(item) => Ok(Some(from_item::<ClaimItem>(item)?.user_id)),
            None => Ok(None),
        }
    }

    async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>> {
        match self.get(keys::user(user_id), keys::PROFILE).await? {
            Some(item) => {
                let item: UserItem = from_item(item)?;
                let password_hash = item.password_hash.clone();
                Ok(Some(UserRecord { user: item.into_user(), password_hash }))
            }
            None => Ok(None),
        }
    }

    async fn set_display_name(&self, user_id: &str, display_name: &str) -> Result<Option<User>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::PROFILE))
            .update_expression("SET displayName = :name")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":name", s(display_name))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match unless_condition_failed(result)?.and_then(|out| out.attributes) {
            Some(item) => Ok(Some(from_item::<UserItem>(item)?.into_user())),
            None => Ok(None),
        }
    }

    async fn create_refresh_family(
        &self,
        family_id: &str,
        user_id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        let family: Item = HashMap::from([
            (keys::PK.into(), s(keys::refresh_family(family_id))),
            (keys::SK.into(), s(keys::FAMILY)),
            ("userId".into(), s(user_id)),
            (keys::EXPIRES_AT.into(), n(expires_at)),
        ]);
        let token: Item = HashMap::from([
            (keys::PK.into(), s(keys::refresh_family(family_id))),
            (keys::SK.into(), s(keys::refresh_token(token_hash))),
            ("userId".into(), s(user_id)),
            (keys::EXPIRES_AT.into(), n(expires_at)),
        ]);
        self.client
            .transact_write_items()
            .transact_items(self.put(family, "attribute_not_exists(pk)")?)
            .transact_items(self.put(token, "attribute_not_exists(pk)")?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_refresh_token(&self, family_id: &str, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        let Some(item) = self.get(keys::refresh_family(family_id), &keys::refresh_token(token_hash)).await? else {
            return Ok(None);
        };
        let user_id = match item.get("userId") {
            Some(AttributeValue::S(u)) => u.clone(),
            _ => return Err(ChatError::internal("refresh token item without userId")),
        };
        Ok(Some(RefreshTokenRecord { user_id, used: item.contains_key("usedAt") }))
    }

    async fn rotate_refresh_token(
        &self,
        family_id: &str,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
        expires_at: i64,
    ) -> Result<Rotation> {
        let now = now_epoch();
        let family_pk = keys::refresh_family(family_id);
        let mark_used = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&family_pk))
            .key(keys::SK, s(keys::refresh_token(old_hash)))
            .update_expression("SET usedAt = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(usedAt) AND expiresAt > :now")
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(ChatError::internal)?;
        // Sliding expiry: the family lives as long as its newest token.
        let extend_family = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&family_pk))
            .key(keys::SK, s(keys::FAMILY))
            .update_expression("SET expiresAt = :exp")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(revokedAt) AND expiresAt > :now")
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(ChatError::internal)?;
        let new_token: Item = HashMap::from([
            (keys::PK.into(), s(&family_pk)),
            (keys::SK.into(), s(keys::refresh_token(new_hash))),
            ("userId".into(), s(user_id)),
            (keys::EXPIRES_AT.into(), n(expires_at)),
        ]);
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(mark_used).build())
            .transact_items(TransactWriteItem::builder().update(extend_family).build())
            .transact_items(self.put(new_token, "attribute_not_exists(pk)")?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Rotation::Rotated),
            Err(e) => {
                let failed = failed_conditions(e)?;
                if failed.first() == Some(&true) {
                    Ok(Rotation::AlreadyUsed)
                } else if failed.get(1) == Some(&true) {
                    Ok(Rotation::FamilyClosed)
                } else {
                    Err(ChatError::internal("refresh rotation cancelled without a failed condition"))
                }
            }
        }
    }

    async fn revoke_refresh_family(&self, family_id: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::refresh_family(family_id)))
            .key(keys::SK, s(keys::FAMILY))
            .update_expression("SET revokedAt = if_not_exists(revokedAt, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now_epoch()))
            .send()
            .await;
        unless_condition_failed(result)?;
        Ok(())
    }

    async fn put_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()> {
        let item = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(keys::user(user_id)))
            .item(keys::SK, s(keys::connection(connection_id)))
            .item("connectionId", s(connection_id))
            .item("connectedAt", s(crate::domain::time::rfc3339(chrono::Utc::now())))
            .item(keys::EXPIRES_AT, n(expires_at))
            // Sharded, sparse connection index for /stats (users branch; see aws/directory.rs).
            .item(keys::GSI1PK, s(keys::connection_index(super::directory::connection_shard(connection_id))))
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

    async fn connections_of_users(&self, user_ids: &[String]) -> Result<Vec<(String, String)>> {
        let batches = user_ids.chunks(100).map(|chunk| self.batch_get_connection_sets(chunk));
        let mut out = Vec::new();
        for batch in futures::future::join_all(batches).await {
            out.extend(batch?);
        }
        Ok(out)
    }

    async fn connections_of(&self, user_id: &str) -> Result<Vec<String>> {
        let now = now_epoch();
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
            .expression_attribute_values(":pk", s(keys::user(user_id)))
            .expression_attribute_values(":conn", s(keys::CONN_PREFIX))
            .projection_expression("connectionId, expiresAt")
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error)?;
            for item in page.items.unwrap_or_default() {
                if expired(&item, now) {
                    continue;
                }
                if let Some(AttributeValue::S(id)) = item.get("connectionId") {
                    ids.push(id.clone());
                }
            }
        }
        Ok(ids)
    }

    async fn create_direct_conversation(
        &self,
        conversation: &Conversation,
        members: [&str; 2],
    ) -> Result<CreateDirect> {
        let meta = ConversationItem::new(conversation);
        let member =
            |user_id: &str| MemberItem::new(&conversation.id, user_id, MemberRole::Member, &conversation.created_at);
        let other = if members[0] == conversation.created_by { members[1] } else { members[0] };
        let other_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(other)))
            .key(keys::SK, s(keys::PROFILE))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(ChatError::internal)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put(to_item(&meta)?, "attribute_not_exists(pk)")?)
            .transact_items(self.put(to_item(&member(members[0]))?, "attribute_not_exists(pk)")?)
            .transact_items(self.put(to_item(&member(members[1]))?, "attribute_not_exists(pk)")?)
            .transact_items(TransactWriteItem::builder().condition_check(other_exists).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateDirect::Created),
            Err(e) => {
                let failed = failed_conditions(e)?;
                if failed.first() == Some(&true) {
                    Ok(CreateDirect::AlreadyExists)
                } else if failed.get(3) == Some(&true) {
                    Ok(CreateDirect::OtherUserMissing)
                } else {
                    Err(ChatError::internal("conversation creation cancelled without a failed condition"))
                }
            }
        }
    }

    async fn get_conversation(&self, conversation_id: &str) -> Result<Option<(Conversation, Vec<Member>)>> {
        // "MEMBER#…" < "META" in key order, so one range read returns the members and the meta item.
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(keys::conversation(conversation_id)))
            .expression_attribute_values(":lo", s(keys::MEMBER_PREFIX))
            .expression_attribute_values(":hi", s(keys::META))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut meta = None;
        let mut members = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                match item.get(keys::SK) {
                    Some(AttributeValue::S(sk)) if sk == keys::META => {
                        meta = Some(from_item::<ConversationItem>(item)?)
                    }
                    _ => {
                        members.push(from_item::<MemberItem>(item)?.into_member());
                    }
                }
            }
        }
        Ok(meta.map(|c| (c.into_conversation(), members)))
    }

    async fn is_member(&self, conversation_id: &str, user_id: &str) -> Result<bool> {
        Ok(self.get(keys::conversation(conversation_id), &keys::member(user_id)).await?.is_some())
    }

    async fn put_message(&self, message: &Message, idempotency_expires_at: i64) -> Result<StoredMessage> {
        let client_msg_id = message.client_msg_id.as_deref().unwrap_or_default();
        let idem_pk = keys::idempotency(&message.sender_id, client_msg_id);
        let is_member =
            self.exists_check(keys::conversation(&message.conversation_id), &keys::member(&message.sender_id))?;
        let idem = IdempotencyItem {
            pk: idem_pk.clone(),
            sk: keys::IDEM.into(),
            conversation_id: message.conversation_id.clone(),
            message_id: message.id.clone(),
            expires_at: idempotency_expires_at,
        };
        // An expired record that TTL has not yet deleted may be overwritten.
        let idem_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&idem)?))
            .condition_expression("attribute_not_exists(pk) OR expiresAt <= :now")
            .expression_attribute_values(":now", n(now_epoch()))
            .build()
            .map_err(ChatError::internal)?;
        let request = self
            .client
            .transact_write_items()
            .transact_items(is_member)
            .transact_items(self.put(to_item(&MessageItem::from_message(message))?, "attribute_not_exists(pk)")?)
            .transact_items(TransactWriteItem::builder().put(idem_put).build());
        // The sender's member item is also written by its receipts: a transaction that meets one
        // in flight is cancelled with TransactionConflict, which is worth a quick retry.
        let mut attempt = 0;
        let failed = loop {
            match request.clone().send().await {
                Ok(_) => return Ok(StoredMessage::Stored),
                Err(e) if attempt < 3 && is_transaction_conflict(&e) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt + jitter_ms())).await;
                }
                Err(e) => break failed_conditions(e)?,
            }
        };
        // Membership first: a non-member learns nothing, not even that the clientMsgId was used.
        if failed.first() == Some(&true) {
            return Ok(StoredMessage::NotMember);
        }
        if failed.get(2) != Some(&true) {
            return Err(ChatError::internal("message write cancelled without a failed condition"));
        }
        let Some(item) = self.get(idem_pk, keys::IDEM).await? else {
            // The record expired between the two calls: the caller may retry as new.
            return Err(ChatError::internal("idempotency record vanished; retry"));
        };
        let idem: IdempotencyItem = from_item(item)?;
        match self.get(keys::conversation(&idem.conversation_id), &keys::message(&idem.message_id)).await? {
            Some(item) => Ok(StoredMessage::Duplicate(from_item::<MessageItem>(item)?.into_message())),
            None => Err(ChatError::internal("idempotency record points at a missing message")),
        }
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
        let (lo, hi, forward, cursor) = match page {
            HistoryPage::Before(None) => (bottom, keys::MSG_END.to_string(), false, None),
            HistoryPage::Before(Some(id)) => (bottom, keys::message(id), false, Some(id.as_str())),
            HistoryPage::After(id) => {
                let lo = keys::message(id).max(bottom);
                (lo, keys::MSG_END.to_string(), true, Some(id.as_str()))
            }
        };
        if lo > hi {
            return Ok((Vec::new(), false));
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(keys::conversation(conversation_id)))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(forward)
            .limit((limit + 2) as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut messages = Vec::with_capacity(limit + 1);
        for item in out.items.unwrap_or_default() {
            let m = from_item::<MessageItem>(item)?.into_message();
            if Some(m.id.as_str()) != cursor && Some(m.id.as_str()) != floor {
                messages.push(m);
            }
        }
        let more = messages.len() > limit;
        messages.truncate(limit);
        Ok((messages, more))
    }

    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[(String, MemberRole)],
    ) -> Result<CreateConversation> {
        let not_exists = "attribute_not_exists(pk)";
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(self.put(to_item(&ConversationItem::new(conversation))?, not_exists)?);
        // Put every member, and check that each one other than the creator exists.
        let mut checked = Vec::new();
        for (user_id, role) in members {
            let member = MemberItem::new(&conversation.id, user_id, *role, &conversation.created_at);
            request = request.transact_items(self.put(to_item(&member)?, not_exists)?);
            if *user_id != conversation.created_by {
                request = request.transact_items(self.exists_check(keys::user(user_id), keys::PROFILE)?);
                checked.push(user_id.clone());
            }
        }
        match request.send().await {
            Ok(_) => Ok(CreateConversation::Created),
            Err(e) => {
                let failed = failed_conditions(e)?;
                // Layout: META, then per member its put and (for others) its check.
                let mut index = 1;
                for (user_id, _) in members {
                    index += 1;
                    if *user_id != conversation.created_by {
                        if failed.get(index) == Some(&true) {
                            return Ok(CreateConversation::UserMissing(user_id.clone()));
                        }
                        index += 1;
                    }
                }
                Err(ChatError::internal(format!("conversation creation cancelled: {failed:?}")))
            }
        }
    }

    async fn get_conversation_meta(&self, conversation_id: &str) -> Result<Option<Conversation>> {
        match self.get(keys::conversation(conversation_id), keys::META).await? {
            Some(item) => Ok(Some(from_item::<ConversationItem>(item)?.into_conversation())),
            None => Ok(None),
        }
    }

    async fn get_conversation_metas(&self, conversation_ids: &[String]) -> Result<Vec<Conversation>> {
        let batches = conversation_ids.chunks(100).map(|chunk| self.batch_get_metas(chunk));
        let mut out = Vec::with_capacity(conversation_ids.len());
        for batch in futures::future::join_all(batches).await {
            out.extend(batch?);
        }
        Ok(out)
    }

    async fn get_member(&self, conversation_id: &str, user_id: &str) -> Result<Option<Member>> {
        match self.get(keys::conversation(conversation_id), &keys::member(user_id)).await? {
            Some(item) => Ok(Some(from_item::<MemberItem>(item)?.into_member())),
            None => Ok(None),
        }
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :conv)")
            .expression_attribute_values(":pk", s(keys::user(user_id)))
            .expression_attribute_values(":conv", s(keys::CONV_PREFIX))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                let member: MemberItem = from_item(item)?;
                let Some(conversation_id) = member.pk.strip_prefix(keys::CONV_PREFIX).map(str::to_string) else {
                    continue;
                };
                out.push(Membership { conversation_id, member: member.into_member() });
            }
        }
        Ok(out)
    }

    async fn add_member(
        &self,
        conversation_id: &str,
        user_id: &str,
        rule: &AddRule,
        max_members: u32,
    ) -> Result<AddMember> {
        let pk = keys::conversation(conversation_id);
        let joined_at = crate::domain::time::rfc3339(chrono::Utc::now());
        let member = MemberItem::new(conversation_id, user_id, MemberRole::Member, &joined_at);
        // The count and its bound live on META; joining a room also proves it is a room.
        let (meta_condition, kind) = match rule {
            AddRule::ByMember { .. } => ("attribute_exists(pk) AND memberCount < :max AND #kind <> :room", "room"),
            AddRule::JoinRoom => ("attribute_exists(pk) AND memberCount < :max AND #kind = :room", "room"),
        };
        let count = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&pk))
            .key(keys::SK, s(keys::META))
            .update_expression("ADD memberCount :one")
            .condition_expression(meta_condition)
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_members as i64))
            .expression_attribute_values(":room", s(kind))
            .build()
            .map_err(ChatError::internal)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(self.put(to_item(&member)?, "attribute_not_exists(pk)")?)
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(self.exists_check(keys::user(user_id), keys::PROFILE)?);
        if let AddRule::ByMember { caller } = rule {
            request = request.transact_items(self.exists_check(pk.clone(), &keys::member(caller))?);
        }
        let failed = match request.send().await {
            Ok(_) => return Ok(AddMember::Added(member.into_member())),
            Err(e) => failed_conditions(e)?,
        };
        let failed_at = |i: usize| failed.get(i) == Some(&true);
        // The caller's own standing first: a non-member learns nothing else.
        if failed_at(3) {
            return Ok(AddMember::NotAllowed);
        }
        if failed_at(0) {
            return Ok(AddMember::AlreadyMember);
        }
        if failed_at(1) {
            // Missing, wrong kind, or full: tell them apart with one read.
            return Ok(match self.get_conversation_meta(conversation_id).await? {
                Some(c)
                    if c.member_count >= max_members
                        && matches!(
                            (rule, c.kind),
                            (AddRule::JoinRoom, ConversationKind::Room)
                                | (AddRule::ByMember { .. }, ConversationKind::Group)
                        ) =>
                {
                    AddMember::Full
                }
                _ => AddMember::NotAllowed,
            });
        }
        if failed_at(2) {
            return Ok(AddMember::UserMissing);
        }
        Err(ChatError::internal(format!("add member cancelled: {failed:?}")))
    }

    async fn remove_member(
        &self,
        conversation_id: &str,
        user_id: &str,
        by_owner: Option<&str>,
    ) -> Result<RemoveMember> {
        let pk = keys::conversation(conversation_id);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&pk))
            .key(keys::SK, s(keys::member(user_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(ChatError::internal)?;
        let count = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(&pk))
            .key(keys::SK, s(keys::META))
            .update_expression("ADD memberCount :minus")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":minus", n(-1))
            .build()
            .map_err(ChatError::internal)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(count).build());
        if let Some(owner) = by_owner {
            let is_owner = ConditionCheck::builder()
                .table_name(&self.table)
                .key(keys::PK, s(&pk))
                .key(keys::SK, s(keys::member(owner)))
                .condition_expression("attribute_exists(pk) AND #role = :owner")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":owner", s("owner"))
                .build()
                .map_err(ChatError::internal)?;
            request = request.transact_items(TransactWriteItem::builder().condition_check(is_owner).build());
        }
        match request.send().await {
            Ok(_) => Ok(RemoveMember::Removed),
            Err(e) => {
                let failed = failed_conditions(e)?;
                if failed.get(2) == Some(&true) {
                    Ok(RemoveMember::NotOwner)
                } else if failed.first() == Some(&true) {
                    Ok(RemoveMember::NotMember)
                } else {
                    Err(ChatError::internal(format!("remove member cancelled: {failed:?}")))
                }
            }
        }
    }

    async fn set_last_message(&self, message: &Message) -> Result<()> {
        let snapshot: AttributeValue = serde_dynamo::to_attribute_value(message).map_err(ChatError::internal)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(&message.conversation_id)))
            .key(keys::SK, s(keys::META))
            .update_expression("SET lastMessageId = :id, lastMessage = :m, lastActivityAt = :at")
            // Newer wins; an edit or delete of the newest message (same id) replaces its snapshot.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(lastMessageId) OR lastMessageId <= :id)",
            )
            .expression_attribute_values(":id", s(&message.id))
            .expression_attribute_values(":m", snapshot)
            .expression_attribute_values(":at", s(&message.created_at))
            .send()
            .await;
        unless_condition_failed(result)?;
        Ok(())
    }

    async fn get_message(&self, conversation_id: &str, message_id: &str) -> Result<Option<Message>> {
        match self.get(keys::conversation(conversation_id), &keys::message(message_id)).await? {
            Some(item) => Ok(Some(from_item::<MessageItem>(item)?.into_message())),
            None => Ok(None),
        }
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
        match request.send().await {
            Ok(out) => match out.attributes {
                Some(item) => Ok(ChangedMessage::Changed(from_item::<MessageItem>(item)?.into_message())),
                None => Err(ChatError::internal("update returned no item")),
            },
            Err(e) => {
                let old = item_of_failed_condition(e)?;
                match old.map(from_item::<MessageItem>).transpose()? {
                    None => Ok(ChangedMessage::NotFound),
                    Some(m) if m.sender_id != sender_id => Ok(ChangedMessage::NotSender),
                    Some(m) => Ok(ChangedMessage::Deleted(m.into_message())),
                }
            }
        }
    }

    async fn count_unread(&self, conversation_id: &str, user_id: &str, floor: Option<&str>, cap: u32) -> Result<u32> {
        // Keys after the floor (exclusive): start at the floor's key plus the lowest character.
        let lo = match floor {
            Some(id) => format!("{}\u{0}", keys::message(id)),
            None => keys::MSG_PREFIX.to_string(),
        };
        let mut count = 0u32;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .filter_expression("senderId <> :me AND #deleted <> :yes")
                .expression_attribute_names("#deleted", "deleted")
                .expression_attribute_values(":pk", s(keys::conversation(conversation_id)))
                .expression_attribute_values(":lo", s(&lo))
                .expression_attribute_values(":hi", s(keys::MSG_END))
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

    async fn move_pointer(
        &self,
        conversation_id: &str,
        user_id: &str,
        pointer: Pointer,
        message_id: &str,
        at: &str,
    ) -> Result<PointerMove> {
        let (id_attr, at_attr) = match pointer {
            Pointer::Delivered => ("lastDeliveredId", "lastDeliveredAt"),
            Pointer::Read => ("lastReadId", "lastReadAt"),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(conversation_id)))
            .key(keys::SK, s(keys::member(user_id)))
            .update_expression(format!("SET {id_attr} = :id, {at_attr} = :at"))
            .condition_expression(format!(
                "attribute_exists(pk) AND (attribute_not_exists({id_attr}) OR {id_attr} < :id)"
            ))
            .expression_attribute_values(":id", s(message_id))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::UpdatedOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let text = |item: &Item, k: &str| match item.get(k) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        match result {
            Ok(out) => Ok(PointerMove::Moved { previous: out.attributes.as_ref().and_then(|a| text(a, id_attr)) }),
            Err(e) => match item_of_failed_condition(e)? {
                Some(item) => Ok(PointerMove::NotForward { current: text(&item, id_attr) }),
                _ => Ok(PointerMove::NotMember),
            },
        }
    }

    async fn senders_between(
        &self,
        conversation_id: &str,
        after: Option<&str>,
        up_to: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let lo = match after {
            Some(id) => format!("{}\u{0}", keys::message(id)),
            None => keys::MSG_PREFIX.to_string(),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(keys::conversation(conversation_id)))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(keys::message(up_to)))
            .projection_expression("senderId")
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut senders: Vec<String> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("senderId") {
                Some(AttributeValue::S(v)) => Some(v.clone()),
                _ => None,
            })
            .collect();
        senders.sort();
        senders.dedup();
        Ok(senders)
    }

    async fn clear_history(&self, conversation_id: &str, user_id: &str, before_id: &str) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(conversation_id)))
            .key(keys::SK, s(keys::member(user_id)))
            .update_expression("SET clearedBefore = :id")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(clearedBefore) OR clearedBefore < :id)",
            )
            .expression_attribute_values(":id", s(before_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // A member whose clear point is already later: still a success.
            Err(e) => Ok(item_of_failed_condition(e)?.is_some()),
        }
    }
}

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

    fn exists_check(&self, pk: String, sk: &str) -> Result<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(ChatError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    async fn batch_get_metas(&self, ids: &[String]) -> Result<Vec<Conversation>> {
        let keys = ids.iter().map(|id| (keys::conversation(id), keys::META.to_string())).collect();
        let items = self.batch_get(keys, false, None).await?;
        items.into_iter().map(|item| Ok(from_item::<ConversationItem>(item)?.into_conversation())).collect()
    }
}

// The scheduled-messages half of the store (`ScheduleStore`), in its own file.
mod schedule;
