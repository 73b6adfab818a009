//! `RefreshTokenStore`: a family item (`RTF#{family}` / `FAMILY`) per login and one item per
//! token hash in the same partition; rotation marks the old token used, extends the family and
//! stores the new token in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::DynamoStore;
use super::common::{FailedConditions, Item, Transaction, conditional, n, now_epoch, s};
use crate::aws::keys;
use crate::error::{ChatError, Result};
use crate::ports::{RefreshTokenRecord, RefreshTokenStore, Rotation};

/// The items of a new family.
#[derive(Debug, Clone, PartialEq)]
enum NewFamily {
    Family,
    FirstToken,
}

/// The items of a rotation.
#[derive(Debug, Clone, PartialEq)]
enum Rotate {
    /// The presented token: unused and unexpired.
    OldToken,
    /// The family: open (not revoked) and unexpired.
    Family,
    NewToken,
}

/// Why a rotation was refused; reuse is named first, as it revokes the family.
fn refused_rotation(failed: &FailedConditions<Rotate>) -> Result<Rotation> {
    if failed.contains(&Rotate::OldToken) {
        Ok(Rotation::AlreadyUsed)
    } else if failed.contains(&Rotate::Family) {
        Ok(Rotation::FamilyClosed)
    } else {
        Err(ChatError::internal(format!("refresh rotation cancelled: {failed:?}")))
    }
}

fn token_item(family_pk: &str, token_hash: &str, user_id: &str, expires_at: i64) -> Item {
    HashMap::from([
        (keys::PK.into(), s(family_pk)),
        (keys::SK.into(), s(keys::refresh_token(token_hash))),
        ("userId".into(), s(user_id)),
        (keys::EXPIRES_AT.into(), n(expires_at)),
    ])
}

#[async_trait]
impl RefreshTokenStore for DynamoStore {
    async fn create_refresh_family(
        &self,
        family_id: &str,
        user_id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        let family_pk = keys::refresh_family(family_id);
        let family: Item = HashMap::from([
            (keys::PK.into(), s(&family_pk)),
            (keys::SK.into(), s(keys::FAMILY)),
            ("userId".into(), s(user_id)),
            (keys::EXPIRES_AT.into(), n(expires_at)),
        ]);
        let token = token_item(&family_pk, token_hash, user_id, expires_at);
        let tx = Transaction::new()
            .with(NewFamily::Family, self.put(family, "attribute_not_exists(pk)")?)
            .with(NewFamily::FirstToken, self.put(token, "attribute_not_exists(pk)")?);
        // Family ids are fresh random ids: any cancellation is a fault.
        self.transact(&tx)
            .await?
            .map_err(|failed| ChatError::internal(format!("refresh family creation cancelled: {failed:?}")))
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
        let new_token = token_item(&family_pk, new_hash, user_id, expires_at);
        let tx = Transaction::new()
            .with(Rotate::OldToken, TransactWriteItem::builder().update(mark_used).build())
            .with(Rotate::Family, TransactWriteItem::builder().update(extend_family).build())
            .with(Rotate::NewToken, self.put(new_token, "attribute_not_exists(pk)")?);
        match self.transact(&tx).await? {
            Ok(()) => Ok(Rotation::Rotated),
            Err(failed) => refused_rotation(&failed),
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
        // A failed condition: the family is gone already, nothing to revoke.
        conditional(result)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::dynamo::common::tests::reasons;

    fn decode(failed: &[bool]) -> Result<Rotation> {
        let roles = [Rotate::OldToken, Rotate::Family, Rotate::NewToken];
        refused_rotation(&FailedConditions::from_reasons(&roles, &reasons(failed)))
    }

    #[test]
    fn a_refused_rotation_says_reuse_before_a_closed_family() {
        assert_eq!(decode(&[true, false, false]).unwrap(), Rotation::AlreadyUsed);
        assert_eq!(decode(&[false, true, false]).unwrap(), Rotation::FamilyClosed);
        assert_eq!(decode(&[true, true, false]).unwrap(), Rotation::AlreadyUsed);
        assert!(decode(&[false, false, true]).is_err());
        assert!(decode(&[false, false, false]).is_err());
    }
}
