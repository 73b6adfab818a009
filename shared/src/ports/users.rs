//! Users and their login claims: the unique username and email behind each account.

use async_trait::async_trait;

use crate::domain::User;
use crate::error::Result;

/// A user as stored: the public user plus the password hash, which never leaves the service.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Username,
    Email,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user and claims its username and email atomically.
    async fn create_user(&self, user: &User, password_hash: &str) -> Result<std::result::Result<(), Taken>>;
    /// The user id behind a lowercase username or email.
    async fn user_id_by_login(&self, login: &str) -> Result<Option<String>>;
    async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>>;
    async fn set_display_name(&self, user_id: &str, display_name: &str) -> Result<Option<User>>;
}
