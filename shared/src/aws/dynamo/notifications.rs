//! `NotificationSettings`: `muted` lives on the member item (`CONV#{id}` / `MEMBER#{user}`), so
//! the push function learns it from the member Query it makes anyway, at no extra read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use super::common::{conditional, from_item, s};
use super::members::MemberItem;
use crate::aws::keys;
use crate::domain::Member;
use crate::error::Result;
use crate::ports::NotificationSettings;

#[async_trait]
impl NotificationSettings for DynamoStore {
    async fn set_muted(&self, conversation_id: &str, user_id: &str, muted: bool) -> Result<Option<Member>> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::conversation(conversation_id)))
            .key(keys::SK, s(keys::member(user_id)))
            .update_expression("SET muted = :muted")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":muted", AttributeValue::Bool(muted))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match conditional(request)?.applied() {
            Some(out) => Ok(Some(from_item::<MemberItem>(out.attributes.unwrap_or_default())?.into_member())),
            None => Ok(None),
        }
    }
}
