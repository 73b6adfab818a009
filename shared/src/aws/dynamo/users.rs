//! `UserStore`: the profile item and the two login claims (`USERNAME#…`, `EMAIL#…` / `UNIQUE`)
//! that make usernames and emails unique, written in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{FailedConditions, Transaction, conditional, from_item, s, to_item};
use crate::aws::keys;
use crate::domain::User;
use crate::error::{ChatError, Result};
use crate::ports::{Taken, UserRecord, UserStore};

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

/// The items of a registration.
#[derive(Debug, Clone, PartialEq)]
enum Registration {
    Profile,
    UsernameClaim,
    EmailClaim,
}

/// Which claim was taken; the username is named first when both are.
fn taken(failed: &FailedConditions<Registration>) -> Result<Taken> {
    if failed.contains(&Registration::UsernameClaim) {
        Ok(Taken::Username)
    } else if failed.contains(&Registration::EmailClaim) {
        Ok(Taken::Email)
    } else {
        Err(ChatError::internal(format!("user registration cancelled: {failed:?}")))
    }
}

#[async_trait]
impl UserStore for DynamoStore {
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
        let username = claim(keys::username(&user.username.to_lowercase()));
        let email = claim(keys::email(&email.to_lowercase()));
        let tx = Transaction::new()
            .with(Registration::Profile, self.put(to_item(&profile)?, not_exists)?)
            .with(Registration::UsernameClaim, self.put(to_item(&username)?, not_exists)?)
            .with(Registration::EmailClaim, self.put(to_item(&email)?, not_exists)?);
        match self.transact(&tx).await? {
            Ok(()) => Ok(Ok(())),
            Err(failed) => taken(&failed).map(Err),
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
        match conditional(result)?.applied().and_then(|out| out.attributes) {
            Some(item) => Ok(Some(from_item::<UserItem>(item)?.into_user())),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::common::tests::reasons;

    fn decode(failed: &[bool]) -> Result<Taken> {
        let roles = [Registration::Profile, Registration::UsernameClaim, Registration::EmailClaim];
        taken(&FailedConditions::from_reasons(&roles, &reasons(failed)))
    }

    #[test]
    fn a_taken_claim_names_what_is_taken() {
        assert_eq!(decode(&[false, true, false]).unwrap(), Taken::Username);
        assert_eq!(decode(&[false, false, true]).unwrap(), Taken::Email);
        assert_eq!(decode(&[false, true, true]).unwrap(), Taken::Username, "the username first");
        assert!(decode(&[true, false, false]).is_err(), "a profile id collision is not the user's fault");
        assert!(decode(&[false, false, false]).is_err());
    }
}
