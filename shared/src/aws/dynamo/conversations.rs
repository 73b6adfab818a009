//! `ConversationStore`: the conversation item (`CONV#{id}` / `META`, with the member count and
//! the last-message snapshot) created together with its member items in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{FailedConditions, Transaction, from_item, s, sdk_error, to_item};
use super::members::MemberItem;
use crate::aws::keys;
use crate::domain::{Conversation, ConversationKind, Member, MemberRole, Message};
use crate::error::{ChatError, Result};
use crate::ports::{ConversationStore, CreateConversation, CreateDirect};

/// Newest-message queries of a list in flight at once.
const NEWEST_IN_FLIGHT: usize = 64;

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
            muted: None,
        }
    }
}

/// The items of a new conversation.
#[derive(Debug, Clone, PartialEq)]
enum NewConversation {
    /// The conversation item; for a direct one its id is the pair's, so it fails when it exists.
    Meta,
    Member,
    /// The profile of a member other than the creator (its id).
    UserExists(String),
}

fn refused_direct(failed: &FailedConditions<NewConversation>) -> Result<CreateDirect> {
    if failed.contains(&NewConversation::Meta) {
        Ok(CreateDirect::AlreadyExists)
    } else if failed.iter().any(|role| matches!(role, NewConversation::UserExists(_))) {
        Ok(CreateDirect::OtherUserMissing)
    } else {
        Err(ChatError::internal(format!("conversation creation cancelled: {failed:?}")))
    }
}

/// The first member (in the order given) whose profile is missing.
fn refused_group(failed: &FailedConditions<NewConversation>) -> Result<CreateConversation> {
    match failed.iter().find_map(|role| match role {
        NewConversation::UserExists(id) => Some(id.clone()),
        _ => None,
    }) {
        Some(id) => Ok(CreateConversation::UserMissing(id)),
        None => Err(ChatError::internal(format!("conversation creation cancelled: {failed:?}"))),
    }
}

impl DynamoStore {
    /// The new conversation item, every member's item, and a check of each member other than
    /// the creator.
    fn new_conversation<'a>(
        &self,
        conversation: &Conversation,
        members: impl IntoIterator<Item = (&'a str, MemberRole)>,
    ) -> Result<Transaction<NewConversation>> {
        let not_exists = "attribute_not_exists(pk)";
        let mut tx = Transaction::new()
            .with(NewConversation::Meta, self.put(to_item(&ConversationItem::new(conversation))?, not_exists)?);
        for (user_id, role) in members {
            let member = MemberItem::new(&conversation.id, user_id, role, &conversation.created_at);
            tx.push(NewConversation::Member, self.put(to_item(&member)?, not_exists)?);
            if user_id != conversation.created_by {
                let check = self.exists_check(keys::user(user_id), keys::PROFILE)?;
                tx.push(NewConversation::UserExists(user_id.to_string()), check);
            }
        }
        Ok(tx)
    }

    async fn batch_get_metas(&self, ids: &[String]) -> Result<Vec<Conversation>> {
        let keys = ids.iter().map(|id| (keys::conversation(id), keys::META.to_string())).collect();
        let items = self.batch_get(keys, false, None).await?;
        items.into_iter().map(|item| Ok(from_item::<ConversationItem>(item)?.into_conversation())).collect()
    }
}

#[async_trait]
impl ConversationStore for DynamoStore {
    async fn create_direct_conversation(
        &self,
        conversation: &Conversation,
        members: [&str; 2],
    ) -> Result<CreateDirect> {
        let tx = self.new_conversation(conversation, members.map(|m| (m, MemberRole::Member)))?;
        match self.transact(&tx).await? {
            Ok(()) => Ok(CreateDirect::Created),
            Err(failed) => refused_direct(&failed),
        }
    }

    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[(String, MemberRole)],
    ) -> Result<CreateConversation> {
        let tx = self.new_conversation(conversation, members.iter().map(|(id, role)| (id.as_str(), *role)))?;
        match self.transact(&tx).await? {
            Ok(()) => Ok(CreateConversation::Created),
            Err(failed) => refused_group(&failed),
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

    async fn get_conversation_meta(&self, conversation_id: &str) -> Result<Option<Conversation>> {
        match self.get(keys::conversation(conversation_id), keys::META).await? {
            Some(item) => Ok(Some(from_item::<ConversationItem>(item)?.into_conversation())),
            None => Ok(None),
        }
    }

    async fn get_conversation_metas(&self, conversation_ids: &[String]) -> Result<Vec<Conversation>> {
        // The conversation items and each one's newest message, in one wave: a message writes
        // nothing on its conversation (docs/data-model.md, "Why the list reads the newest message").
        let batches = futures::future::join_all(conversation_ids.chunks(100).map(|chunk| self.batch_get_metas(chunk)));
        let queries: Vec<_> = conversation_ids.iter().map(|id| self.newest_message(id)).collect();
        let newest = futures::stream::iter(queries).buffered(NEWEST_IN_FLIGHT).collect::<Vec<_>>();
        let (batches, newest) = tokio::join!(batches, newest);
        let mut last: HashMap<String, Message> = HashMap::new();
        for message in newest {
            if let Some(m) = message? {
                last.insert(m.conversation_id.clone(), m);
            }
        }
        let mut out = Vec::with_capacity(conversation_ids.len());
        for batch in batches {
            for mut conversation in batch? {
                if let Some(m) = last.remove(&conversation.id) {
                    conversation.last_activity_at = conversation.last_activity_at.max(m.created_at.clone());
                    conversation.last_message = Some(m);
                }
                out.push(conversation);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::common::tests::{key_of, offline_store, reasons};
    use NewConversation::{Member, Meta, UserExists};

    /// A group by `a` with `b` and `c`: as `new_conversation` lays it out.
    fn group_roles() -> Vec<NewConversation> {
        vec![Meta, Member, Member, UserExists("b".into()), Member, UserExists("c".into())]
    }

    fn conversation(id: &str, created_by: &str) -> Conversation {
        Conversation {
            id: id.into(),
            kind: ConversationKind::Group,
            name: Some("g".into()),
            created_at: "2024-01-01T00:00:00.000Z".into(),
            created_by: created_by.into(),
            member_count: 3,
            last_message: None,
            last_activity_at: String::new(),
            members: None,
            unread_count: None,
            muted: None,
        }
    }

    #[test]
    fn each_item_of_a_new_conversation_is_what_its_role_says() {
        let store = offline_store();
        let members = [("a", MemberRole::Owner), ("b", MemberRole::Member), ("c", MemberRole::Member)];
        let tx = store.new_conversation(&conversation("C1", "a"), members).unwrap();
        let items: Vec<_> = tx.items().map(|(role, item)| (role.clone(), key_of(item))).collect();
        let key = |pk: &str, sk: &str| (pk.to_string(), sk.to_string());
        assert_eq!(
            items,
            [
                (Meta, key("CONV#C1", "META")),
                (Member, key("CONV#C1", "MEMBER#a")),
                (Member, key("CONV#C1", "MEMBER#b")),
                (UserExists("b".into()), key("USER#b", "PROFILE")),
                (Member, key("CONV#C1", "MEMBER#c")),
                (UserExists("c".into()), key("USER#c", "PROFILE")),
            ]
        );
        assert_eq!(group_roles(), items.into_iter().map(|(role, _)| role).collect::<Vec<_>>());
    }

    #[test]
    fn a_direct_conversation_that_exists_is_returned_before_a_missing_user() {
        let roles = [Meta, Member, Member, UserExists("b".into())];
        let decode = |failed: &[bool]| refused_direct(&FailedConditions::from_reasons(&roles, &reasons(failed)));
        assert_eq!(decode(&[true, false, false, false]).unwrap(), CreateDirect::AlreadyExists);
        assert_eq!(decode(&[false, false, false, true]).unwrap(), CreateDirect::OtherUserMissing);
        assert_eq!(decode(&[true, true, true, true]).unwrap(), CreateDirect::AlreadyExists);
        assert!(decode(&[false, true, false, false]).is_err());
    }

    #[test]
    fn a_group_names_its_first_missing_member() {
        let roles = group_roles();
        let decode = |failed: &[bool]| refused_group(&FailedConditions::from_reasons(&roles, &reasons(failed)));
        assert_eq!(
            decode(&[false, false, false, false, false, true]).unwrap(),
            CreateConversation::UserMissing("c".into())
        );
        assert_eq!(
            decode(&[false, false, false, true, false, true]).unwrap(),
            CreateConversation::UserMissing("b".into())
        );
        assert!(decode(&[true, false, false, false, false, false]).is_err(), "a group id collision is a fault");
    }
}
