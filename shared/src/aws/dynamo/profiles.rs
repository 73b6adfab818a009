//! `ProfileDirectory`: public profiles for search and display (docs/data-model.md, patterns
//! 31, 34 and 37). Profiles carry `gsi1pk = UNAME#{first char}`, `gsi1sk = lowercase username`, so a
//! username prefix is one gsi1 Query with `begins_with`. No Scan; never an email.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::DynamoStore;
use super::common::{Item, conditional, from_item, s, sdk_error};
use crate::aws::keys;
use crate::domain::User;
use crate::error::Result;
use crate::ports::ProfileDirectory;

/// The public fields of a profile: never email or password hash.
const PUBLIC_PROJECTION: &str = "#id, #username, #displayName, #createdAt, #lastSeen";

fn public_names() -> HashMap<String, String> {
    ["id", "username", "displayName", "createdAt", "lastSeen"]
        .into_iter()
        .map(|a| (format!("#{a}"), a.to_string()))
        .collect()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicUserItem {
    id: String,
    username: String,
    display_name: String,
    created_at: String,
    last_seen: Option<String>,
}

fn public_user(item: Item) -> Result<User> {
    let u: PublicUserItem = from_item(item)?;
    Ok(User {
        id: u.id,
        username: u.username,
        email: None,
        display_name: u.display_name,
        created_at: u.created_at,
        last_seen: u.last_seen,
        online: false,
    })
}

#[async_trait]
impl ProfileDirectory for DynamoStore {
    async fn search_users(&self, prefix: &str, after: Option<(&str, &str)>, limit: usize) -> Result<(Vec<User>, bool)> {
        let partition = keys::username_index(prefix);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :q)")
            .expression_attribute_values(":p", s(&partition))
            .expression_attribute_values(":q", s(prefix))
            .projection_expression(PUBLIC_PROJECTION)
            .set_expression_attribute_names(Some(public_names()))
            // One more than asked, to learn whether another page follows.
            .limit((limit + 1) as i32);
        if let Some((name, id)) = after {
            query = query.set_exclusive_start_key(Some(HashMap::from([
                (keys::GSI1PK.to_string(), s(&partition)),
                (keys::GSI1SK.to_string(), s(name)),
                (keys::PK.to_string(), s(keys::user(id))),
                (keys::SK.to_string(), s(keys::PROFILE)),
            ])));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let mut users = out.items.unwrap_or_default().into_iter().map(public_user).collect::<Result<Vec<_>>>()?;
        let more = users.len() > limit;
        users.truncate(limit);
        Ok((users, more))
    }

    async fn public_users(&self, user_ids: &[String]) -> Result<Vec<User>> {
        let wanted: Vec<(String, String)> = user_ids
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|id| (keys::user(id), keys::PROFILE.to_string()))
            .collect();
        let items = self.batch_get(wanted, false, Some((PUBLIC_PROJECTION, public_names()))).await?;
        items.into_iter().map(public_user).collect()
    }

    async fn touch_last_seen(&self, user_id: &str, at: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::PROFILE))
            .update_expression("SET lastSeen = :at")
            // RFC 3339 UTC with milliseconds sorts as text: never move lastSeen back.
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(lastSeen) OR lastSeen < :at)")
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::None)
            .send()
            .await;
        // A failed condition: no such profile, or it was seen later already.
        conditional(result)?;
        Ok(())
    }
}
