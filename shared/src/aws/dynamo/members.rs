//! `MemberStore` and `ReceiptStore`: the member items (`CONV#{id}` / `MEMBER#{user}`, on gsi1 as
//! `USER#{user}` / `CONV#{id}`), which also hold the member's pointers: delivered, read, and
//! where its cleared history ends. Joining and leaving move the count on META in the same
//! transaction, so the member bound holds under concurrency.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{
    Conditional, FailedConditions, Item, Transaction, conditional, from_item, n, s, sdk_error, string_attr, to_item,
};
use crate::aws::keys;
use crate::domain::{ConversationKind, Member, MemberRole, Membership};
use crate::error::{ChatError, Result};
use crate::ports::{
    AddMember, AddRule, ConversationStore, MemberStore, Pointer, PointerMove, ReceiptStore, RemoveMember,
};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MemberItem {
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
    /// `PATCH /conversations/{id}/me`: private to this member (the list shows it to the caller only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    muted: bool,
}

impl MemberItem {
    pub(super) fn new(conversation_id: &str, user_id: &str, role: MemberRole, joined_at: &str) -> Self {
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
            muted: false,
        }
    }

    /// A read message is delivered too: `read` writes only the read pointer (one write per
    /// receipt), so the delivered pointer is the later of the two.
    pub(super) fn into_member(self) -> Member {
        let read_is_later = self.last_read_id > self.last_delivered_id;
        let (last_delivered_id, last_delivered_at) = if read_is_later {
            (self.last_read_id.clone(), self.last_read_at.clone().or(self.last_delivered_at))
        } else {
            (self.last_delivered_id, self.last_delivered_at)
        };
        Member {
            user_id: self.user_id,
            role: self.role,
            joined_at: self.joined_at,
            last_delivered_id,
            last_read_id: self.last_read_id,
            last_delivered_at,
            last_read_at: self.last_read_at,
            cleared_before: self.cleared_before,
        }
    }
}

/// The items of an add.
#[derive(Debug, Clone, PartialEq)]
enum Join {
    NewMember,
    /// META: exists, of the right kind for the rule, and below the member bound.
    MemberCount,
    UserExists,
    /// Only for `AddRule::ByMember`.
    CallerIsMember,
}

/// What the failed conditions of an add tell.
#[derive(Debug, PartialEq)]
enum JoinRefused {
    Answer(AddMember),
    /// META refused: missing, wrong kind, or full, which only a read of it tells apart.
    ByConversation,
}

/// The caller's own standing first: a non-member learns nothing else.
fn refused_join(failed: &FailedConditions<Join>) -> Result<JoinRefused> {
    if failed.contains(&Join::CallerIsMember) {
        Ok(JoinRefused::Answer(AddMember::NotAllowed))
    } else if failed.contains(&Join::NewMember) {
        Ok(JoinRefused::Answer(AddMember::AlreadyMember))
    } else if failed.contains(&Join::MemberCount) {
        Ok(JoinRefused::ByConversation)
    } else if failed.contains(&Join::UserExists) {
        Ok(JoinRefused::Answer(AddMember::UserMissing))
    } else {
        Err(ChatError::internal(format!("add member cancelled: {failed:?}")))
    }
}

/// The items of a removal.
#[derive(Debug, Clone, PartialEq)]
enum Leave {
    Member,
    MemberCount,
    /// Only when an owner removes someone else.
    CallerIsOwner,
}

fn refused_leave(failed: &FailedConditions<Leave>) -> Result<RemoveMember> {
    if failed.contains(&Leave::CallerIsOwner) {
        Ok(RemoveMember::NotOwner)
    } else if failed.contains(&Leave::Member) {
        Ok(RemoveMember::NotMember)
    } else {
        Err(ChatError::internal(format!("remove member cancelled: {failed:?}")))
    }
}

#[async_trait]
impl MemberStore for DynamoStore {
    async fn is_member(&self, conversation_id: &str, user_id: &str) -> Result<bool> {
        Ok(self.get(keys::conversation(conversation_id), &keys::member(user_id)).await?.is_some())
    }

    async fn get_member(&self, conversation_id: &str, user_id: &str) -> Result<Option<Member>> {
        match self.get(keys::conversation(conversation_id), &keys::member(user_id)).await? {
            Some(item) => Ok(Some(from_item::<MemberItem>(item)?.into_member())),
            None => Ok(None),
        }
    }

    async fn membership_ids(&self, user_id: &str) -> Result<Vec<String>> {
        // gsi1 projects no pointers (a receipt then writes no index entry): keys only here.
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :conv)")
            .expression_attribute_values(":pk", s(keys::user(user_id)))
            .expression_attribute_values(":conv", s(keys::CONV_PREFIX))
            .projection_expression("pk, sk")
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_error)?.items.unwrap_or_default() {
                let member_item = string_attr(&item, keys::SK).is_some_and(|sk| sk.starts_with(keys::MEMBER_PREFIX));
                if let Some(id) =
                    string_attr(&item, keys::PK).and_then(|pk| pk.strip_prefix(keys::CONV_PREFIX).map(str::to_string))
                    && member_item
                {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    async fn memberships_in(&self, user_id: &str, conversation_ids: &[String]) -> Result<Vec<Membership>> {
        let wanted = conversation_ids.iter().map(|c| (keys::conversation(c), keys::member(user_id))).collect();
        let mut out = Vec::with_capacity(conversation_ids.len());
        for item in self.batch_get(wanted, false, None).await? {
            let member: MemberItem = from_item(item)?;
            let Some(conversation_id) = member.pk.strip_prefix(keys::CONV_PREFIX).map(str::to_string) else {
                continue;
            };
            let muted = member.muted;
            out.push(Membership { conversation_id, member: member.into_member(), muted });
        }
        Ok(out)
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>> {
        let ids = self.membership_ids(user_id).await?;
        self.memberships_in(user_id, &ids).await
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
        let mut tx = Transaction::new()
            .with(Join::NewMember, self.put(to_item(&member)?, "attribute_not_exists(pk)")?)
            .with(Join::MemberCount, TransactWriteItem::builder().update(count).build())
            .with(Join::UserExists, self.exists_check(keys::user(user_id), keys::PROFILE)?);
        if let AddRule::ByMember { caller } = rule {
            tx.push(Join::CallerIsMember, self.exists_check(pk.clone(), &keys::member(caller))?);
        }
        let failed = match self.transact(&tx).await? {
            Ok(()) => return Ok(AddMember::Added(member.into_member())),
            Err(failed) => failed,
        };
        match refused_join(&failed)? {
            JoinRefused::Answer(answer) => Ok(answer),
            JoinRefused::ByConversation => Ok(match self.get_conversation_meta(conversation_id).await? {
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
            }),
        }
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
        let mut tx = Transaction::new()
            .with(Leave::Member, TransactWriteItem::builder().delete(delete).build())
            .with(Leave::MemberCount, TransactWriteItem::builder().update(count).build());
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
            tx.push(Leave::CallerIsOwner, TransactWriteItem::builder().condition_check(is_owner).build());
        }
        match self.transact(&tx).await? {
            Ok(()) => Ok(RemoveMember::Removed),
            Err(failed) => refused_leave(&failed),
        }
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
        Ok(match conditional(result)? {
            Conditional::Applied(_) => true,
            // A member whose clear point is already later: still a success.
            Conditional::Refused { current } => current.is_some(),
        })
    }
}

#[async_trait]
impl ReceiptStore for DynamoStore {
    async fn move_pointer(
        &self,
        conversation_id: &str,
        user_id: &str,
        pointer: Pointer,
        message_id: &str,
        at: &str,
    ) -> Result<PointerMove> {
        // One write per receipt: `read` moves only the read pointer, which also counts as the
        // delivered one (`MemberItem::into_member`); `delivered` moves only when it passes both.
        let (id_attr, at_attr, condition) = match pointer {
            Pointer::Delivered => (
                "lastDeliveredId",
                "lastDeliveredAt",
                "attribute_exists(pk) AND (attribute_not_exists(lastDeliveredId) OR lastDeliveredId < :id) \
                 AND (attribute_not_exists(lastReadId) OR lastReadId < :id)",
            ),
            Pointer::Read => (
                "lastReadId",
                "lastReadAt",
                "attribute_exists(pk) AND (attribute_not_exists(lastReadId) OR lastReadId < :id)",
            ),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(conversation_id)))
            .key(keys::SK, s(keys::member(user_id)))
            .update_expression(format!("SET {id_attr} = :id, {at_attr} = :at"))
            .condition_expression(condition)
            .expression_attribute_values(":id", s(message_id))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        // The pointer as the member item says it (delivered: the later of the two).
        let pointer_of = |item: &Item| match pointer {
            Pointer::Delivered => string_attr(item, "lastDeliveredId").max(string_attr(item, "lastReadId")),
            Pointer::Read => string_attr(item, "lastReadId"),
        };
        Ok(match conditional(result)? {
            Conditional::Applied(out) => PointerMove::Moved { previous: out.attributes.as_ref().and_then(pointer_of) },
            Conditional::Refused { current: Some(item) } => PointerMove::NotForward { current: pointer_of(&item) },
            Conditional::Refused { current: None } => PointerMove::NotMember,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::common::tests::reasons;

    fn join(failed: &[bool]) -> Result<JoinRefused> {
        let roles = [Join::NewMember, Join::MemberCount, Join::UserExists, Join::CallerIsMember];
        refused_join(&FailedConditions::from_reasons(&roles, &reasons(failed)))
    }

    #[test]
    fn an_add_tells_a_non_member_nothing_else() {
        assert_eq!(join(&[true, true, true, true]).unwrap(), JoinRefused::Answer(AddMember::NotAllowed));
        assert_eq!(join(&[true, true, false, false]).unwrap(), JoinRefused::Answer(AddMember::AlreadyMember));
        assert_eq!(join(&[false, true, true, false]).unwrap(), JoinRefused::ByConversation);
        assert_eq!(join(&[false, false, true, false]).unwrap(), JoinRefused::Answer(AddMember::UserMissing));
        assert!(join(&[false, false, false, false]).is_err());
        // A join of a room has no caller check: three items.
        let roles = [Join::NewMember, Join::MemberCount, Join::UserExists];
        let failed = FailedConditions::from_reasons(&roles, &reasons(&[false, false, true]));
        assert_eq!(refused_join(&failed).unwrap(), JoinRefused::Answer(AddMember::UserMissing));
    }

    #[test]
    fn a_removal_by_a_non_owner_is_refused_as_such() {
        let roles = [Leave::Member, Leave::MemberCount, Leave::CallerIsOwner];
        let leave = |failed: &[bool]| refused_leave(&FailedConditions::from_reasons(&roles, &reasons(failed)));
        assert_eq!(leave(&[true, false, true]).unwrap(), RemoveMember::NotOwner);
        assert_eq!(leave(&[true, false, false]).unwrap(), RemoveMember::NotMember);
        assert!(leave(&[false, true, false]).is_err());
    }
}
