//! Push notifications: per-member settings (`PATCH /conversations/{id}/me`), who a message may
//! notify, and the mobile push service (SNS platform endpoints).

use async_trait::async_trait;

use crate::domain::{Member, Message};
use crate::error::Result;

/// A member as the push function sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub user_id: String,
    pub muted: bool,
}

#[async_trait]
pub trait NotificationSettings: Send + Sync {
    /// Sets `muted` on the member item of `user_id`; `None` when it is not a member.
    async fn set_muted(&self, conversation_id: &str, user_id: &str, muted: bool) -> Result<Option<Member>>;
    /// A page of the conversation's members (at most `limit`) after `cursor`, and the next cursor.
    async fn recipients(
        &self,
        conversation_id: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Recipient>, Option<String>)>;
}

/// What SNS answered to a publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    Sent,
    /// The endpoint is disabled (the platform reported the token invalid or expired).
    Disabled,
}

#[async_trait]
pub trait PushNotifier: Send + Sync {
    /// The platform endpoint of `token` in `application` (SNS returns the same one for the same
    /// token, so this is safe to repeat).
    async fn create_endpoint(&self, application: &str, token: &str) -> Result<String>;
    /// Re-enables `endpoint` with `token` (after the app re-registered the token with us).
    async fn enable_endpoint(&self, endpoint: &str, token: &str) -> Result<()>;
    /// Publishes the platform payloads (SNS `MessageStructure: json`).
    async fn publish(&self, endpoint: &str, message: &str) -> Result<Published>;
}

/// Where a push too big for one invocation goes on: the members after `cursor` are notified by a
/// later invocation of the push function (an event on the bus, so EventBridge's retry policy and
/// dead-letter queue cover it as they cover the first one).
#[async_trait]
pub trait PushHandOff: Send + Sync {
    async fn hand_off(&self, message: &Message, cursor: &str) -> Result<()>;
}
