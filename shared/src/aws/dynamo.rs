//! The DynamoDB store: one table, keys from `keys.rs`, conditional transactions for uniqueness,
//! idempotency and membership.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::keys;
use crate::domain::{Conversation, ConversationKind, Member, MemberRole, Message, MessageKind, User};
use crate::error::{ChatError, Result};
use crate::ports::{CreateDirect, HistoryPage, RefreshTokenRecord, Rotation, Store, StoredMessage, Taken, UserRecord};

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
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

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>> {
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

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sdk_error<E, R>(e: SdkError<E, R>) -> ChatError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    ChatError::internal(DisplayErrorContext(e))
}

/// DynamoDB deletes TTL-expired items lazily (days late at worst): an item past its expiry is absent.
fn expired(item: &Item, now: i64) -> bool {
    match item.get(keys::EXPIRES_AT) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().map(|at| at <= now).unwrap_or(false),
        _ => false,
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value).map_err(ChatError::internal)
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(ChatError::internal)
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
        match result {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Some(from_item::<UserItem>(item)?.into_user())),
                None => Ok(None),
            },
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(sdk_error(e)),
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
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn put_connection(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(keys::PK, s(keys::user(user_id)))
            .item(keys::SK, s(keys::connection(connection_id)))
            .item("connectionId", s(connection_id))
            .item("connectedAt", s(crate::domain::time::rfc3339(chrono::Utc::now())))
            .item(keys::EXPIRES_AT, n(expires_at))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn delete_connection(&self, user_id: &str, connection_id: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::connection(connection_id)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
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
        let pk = keys::conversation(&conversation.id);
        let meta = ConversationItem {
            pk: pk.clone(),
            sk: keys::META.into(),
            id: conversation.id.clone(),
            kind: conversation.kind,
            name: conversation.name.clone(),
            created_at: conversation.created_at.clone(),
            created_by: conversation.created_by.clone(),
        };
        let member = |user_id: &str| MemberItem {
            pk: pk.clone(),
            sk: keys::member(user_id),
            gsi1pk: keys::user(user_id),
            gsi1sk: pk.clone(),
            user_id: user_id.into(),
            role: MemberRole::Member,
            joined_at: conversation.created_at.clone(),
            last_delivered_id: None,
            last_read_id: None,
        };
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
                        let m: MemberItem = from_item(item)?;
                        members.push(Member {
                            user_id: m.user_id,
                            role: m.role,
                            joined_at: m.joined_at,
                            last_delivered_id: m.last_delivered_id,
                            last_read_id: m.last_read_id,
                        });
                    }
                }
            }
        }
        Ok(meta.map(|c| {
            let conversation = Conversation {
                id: c.id,
                kind: c.kind,
                name: c.name,
                created_at: c.created_at,
                created_by: c.created_by,
                members: None,
            };
            (conversation, members)
        }))
    }

    async fn is_member(&self, conversation_id: &str, user_id: &str) -> Result<bool> {
        Ok(self.get(keys::conversation(conversation_id), &keys::member(user_id)).await?.is_some())
    }

    async fn put_message(&self, message: &Message, idempotency_expires_at: i64) -> Result<StoredMessage> {
        let client_msg_id = message.client_msg_id.as_deref().unwrap_or_default();
        let idem_pk = keys::idempotency(&message.sender_id, client_msg_id);
        let is_member = ConditionCheck::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(&message.conversation_id)))
            .key(keys::SK, s(keys::member(&message.sender_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(ChatError::internal)?;
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
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(is_member).build())
            .transact_items(self.put(to_item(&MessageItem::from_message(message))?, "attribute_not_exists(pk)")?)
            .transact_items(TransactWriteItem::builder().put(idem_put).build())
            .send()
            .await;
        let failed = match result {
            Ok(_) => return Ok(StoredMessage::Stored),
            Err(e) => failed_conditions(e)?,
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
        limit: usize,
    ) -> Result<(Vec<Message>, bool)> {
        // BETWEEN is inclusive: read one extra for the cursor item itself and one to learn
        // whether more follow.
        let (lo, hi, forward, cursor) = match page {
            HistoryPage::Before(None) => (keys::MSG_PREFIX.to_string(), keys::MSG_END.to_string(), false, None),
            HistoryPage::Before(Some(id)) => (keys::MSG_PREFIX.to_string(), keys::message(id), false, Some(id)),
            HistoryPage::After(id) => (keys::message(id), keys::MSG_END.to_string(), true, Some(id)),
        };
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
            if Some(&m.id) != cursor {
                messages.push(m);
            }
        }
        let more = messages.len() > limit;
        messages.truncate(limit);
        Ok((messages, more))
    }
}

// The scheduled-messages half of the store (`ScheduleStore`), in its own file.
mod schedule;
