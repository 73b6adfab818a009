//! Refresh-token families: one per login, rotated on every use, revoked on logout or reuse.

use async_trait::async_trait;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub user_id: String,
    /// Set once the token has been exchanged; presenting it again is reuse.
    pub used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The token was exchanged concurrently or before: reuse.
    AlreadyUsed,
    /// The family was revoked (logout or earlier reuse) or has expired.
    FamilyClosed,
}

#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    async fn create_refresh_family(
        &self,
        family_id: &str,
        user_id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<()>;
    async fn get_refresh_token(&self, family_id: &str, token_hash: &str) -> Result<Option<RefreshTokenRecord>>;
    /// Marks the old token used and stores the new one, only while the family is open.
    async fn rotate_refresh_token(
        &self,
        family_id: &str,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
        expires_at: i64,
    ) -> Result<Rotation>;
    async fn revoke_refresh_family(&self, family_id: &str) -> Result<()>;
}
