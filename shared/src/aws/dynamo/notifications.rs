//! `NotificationSettings`: `muted` lives on the member item (`CONV#{id}` / `MEMBER#{user}`), so
//! the push function learns it from the member Query it makes anyway, at no extra read.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use super::common::{conditional, from_item, s, sdk_error, string_attr};
use super::members::MemberItem;
use crate::aws::keys;
use crate::domain::Member;
use crate::error::Result;
use crate::ports::{NotificationSettings, Recipient};

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

    async fn recipients(
        &self,
        conversation_id: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Recipient>, Option<String>)> {
        let pk = keys::conversation(conversation_id);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :member)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":member", s(keys::MEMBER_PREFIX))
            .projection_expression("sk, userId, muted")
            .limit(limit.clamp(1, 1000) as i32);
        if let Some(after) = cursor {
            query = query.exclusive_start_key(keys::PK, s(&pk)).exclusive_start_key(keys::SK, s(keys::member(&after)));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| string_attr(k, keys::SK))
            .and_then(|sk| sk.strip_prefix(keys::MEMBER_PREFIX).map(str::to_string));
        let recipients = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let user_id = string_attr(item, "userId")?;
                let muted = matches!(item.get("muted"), Some(AttributeValue::Bool(true)));
                Some(Recipient { user_id, muted })
            })
            .collect();
        Ok((recipients, next))
    }
}
