//! `AttachmentStore`: one item per upload (`ATT#{id}` / `ATTACHMENT`), pending (with a TTL) until
//! a message claims it with one conditional update.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{Conditional, conditional, from_item, n, now_epoch, s, sdk_error, to_item};
use crate::aws::keys;
use crate::domain::attachment::AttachmentKind;
use crate::error::{ChatError, Result};
use crate::ports::{AttachmentClaim, AttachmentRecord, AttachmentState, AttachmentStore, ClaimRequest};

const PENDING: &str = "pending";
const ATTACHED: &str = "attached";
const DELETED: &str = "deleted";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentItem {
    pk: String,
    sk: String,
    id: String,
    owner_id: String,
    kind: AttachmentKind,
    file_name: String,
    content_type: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration_sec: Option<f64>,
    created_at: String,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_msg_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    /// Only while pending: an upload never sent lapses (the bucket's lifecycle rule deletes its object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl AttachmentItem {
    fn into_record(self) -> AttachmentRecord {
        let state = match self.state.as_str() {
            ATTACHED => AttachmentState::Attached,
            DELETED => AttachmentState::Deleted,
            _ => AttachmentState::Pending,
        };
        AttachmentRecord {
            id: self.id,
            owner_id: self.owner_id,
            kind: self.kind,
            file_name: self.file_name,
            content_type: self.content_type,
            size: self.size,
            duration_sec: self.duration_sec,
            created_at: self.created_at,
            state,
            conversation_id: self.conversation_id,
            client_msg_id: self.client_msg_id,
            message_id: self.message_id,
        }
    }
}

/// Why a claim was refused, from the item as it was (`None`: no item).
fn refused_claim(current: Option<AttachmentRecord>, claim: &ClaimRequest<'_>) -> AttachmentClaim {
    match current {
        None => AttachmentClaim::Missing,
        Some(r) if r.owner_id != claim.sender_id => AttachmentClaim::Missing,
        Some(r) if r.state != AttachmentState::Pending => AttachmentClaim::Used(r),
        Some(r) if r.size != claim.actual_size => AttachmentClaim::SizeMismatch { declared: r.size },
        // Pending, owned, the right size: it expired.
        Some(_) => AttachmentClaim::Missing,
    }
}

#[async_trait]
impl AttachmentStore for DynamoStore {
    async fn put_attachment(&self, r: &AttachmentRecord, expires_at: i64) -> Result<()> {
        let item = AttachmentItem {
            pk: keys::attachment(&r.id),
            sk: keys::ATTACHMENT.into(),
            id: r.id.clone(),
            owner_id: r.owner_id.clone(),
            kind: r.kind,
            file_name: r.file_name.clone(),
            content_type: r.content_type.clone(),
            size: r.size,
            duration_sec: r.duration_sec,
            created_at: r.created_at.clone(),
            state: PENDING.into(),
            conversation_id: None,
            client_msg_id: None,
            message_id: None,
            expires_at: Some(expires_at),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_attachment(&self, id: &str) -> Result<Option<AttachmentRecord>> {
        let item = self.get(keys::attachment(id), keys::ATTACHMENT).await?;
        item.map(|i| from_item::<AttachmentItem>(i).map(AttachmentItem::into_record)).transpose()
    }

    async fn claim_attachment(&self, claim: &ClaimRequest<'_>) -> Result<AttachmentClaim> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::attachment(claim.attachment_id)))
            .key(keys::SK, s(keys::ATTACHMENT))
            .update_expression(
                "SET #state = :attached, conversationId = :c, clientMsgId = :cm, messageId = :m REMOVE expiresAt",
            )
            .condition_expression(
                "attribute_exists(pk) AND ownerId = :me AND #state = :pending AND #size = :size AND expiresAt > :now",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#size", "size")
            .expression_attribute_values(":attached", s(ATTACHED))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":c", s(claim.conversation_id))
            .expression_attribute_values(":cm", s(claim.client_msg_id))
            .expression_attribute_values(":m", s(claim.message_id))
            .expression_attribute_values(":me", s(claim.sender_id))
            .expression_attribute_values(":size", n(claim.actual_size as i64))
            .expression_attribute_values(":now", n(now_epoch()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match conditional(request.send().await)? {
            Conditional::Applied(out) => match out.attributes {
                Some(item) => Ok(AttachmentClaim::Claimed(from_item::<AttachmentItem>(item)?.into_record())),
                None => Err(ChatError::internal("claim returned no item")),
            },
            Conditional::Refused { current } => {
                let current =
                    current.map(|i| from_item::<AttachmentItem>(i).map(AttachmentItem::into_record)).transpose()?;
                Ok(refused_claim(current, claim))
            }
        }
    }

    async fn forget_attachment(&self, id: &str, conversation_id: &str, message_id: &str) -> Result<()> {
        let record = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::attachment(id)))
            .key(keys::SK, s(keys::ATTACHMENT))
            .update_expression("SET #state = :deleted")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":deleted", s(DELETED))
            .send();
        let message = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(conversation_id)))
            .key(keys::SK, s(keys::message(message_id)))
            .update_expression("REMOVE #attachment")
            .expression_attribute_names("#attachment", "attachment")
            .condition_expression("attribute_exists(pk)")
            .send();
        let (record, message) = tokio::join!(record, message);
        record.map_err(sdk_error)?;
        conditional(message)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(owner: &str, state: AttachmentState, size: u64) -> AttachmentRecord {
        AttachmentRecord {
            id: "A".into(),
            owner_id: owner.into(),
            kind: AttachmentKind::File,
            file_name: "f".into(),
            content_type: "text/plain".into(),
            size,
            duration_sec: None,
            created_at: String::new(),
            state,
            conversation_id: None,
            client_msg_id: None,
            message_id: None,
        }
    }

    #[test]
    fn refusals_say_why_without_leaking_others_uploads() {
        let claim = ClaimRequest {
            attachment_id: "A",
            sender_id: "me",
            actual_size: 5,
            conversation_id: "c",
            client_msg_id: "x",
            message_id: "m",
        };
        assert_eq!(refused_claim(None, &claim), AttachmentClaim::Missing);
        assert_eq!(refused_claim(Some(record("other", AttachmentState::Pending, 5)), &claim), AttachmentClaim::Missing);
        assert_eq!(
            refused_claim(Some(record("other", AttachmentState::Attached, 5)), &claim),
            AttachmentClaim::Missing
        );
        assert!(matches!(
            refused_claim(Some(record("me", AttachmentState::Attached, 5)), &claim),
            AttachmentClaim::Used(_)
        ));
        assert_eq!(
            refused_claim(Some(record("me", AttachmentState::Pending, 9)), &claim),
            AttachmentClaim::SizeMismatch { declared: 9 }
        );
        assert_eq!(refused_claim(Some(record("me", AttachmentState::Pending, 5)), &claim), AttachmentClaim::Missing);
    }
}
