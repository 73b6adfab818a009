//! The pool of users waiting for a random match, and the claim of a call's answer.

use async_trait::async_trait;

use crate::domain::matching::Waiting;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    Paired,
    /// Someone else matched the caller first: it will be told by its partner's invocation.
    TakenMe,
    /// The partner left or was matched first: try another.
    TakenPartner,
}

#[async_trait]
pub trait MatchStore: Send + Sync {
    /// Enters (or refreshes) the user's pool entry, on `connection_id`, until `expires_at`.
    async fn join_pool(&self, user_id: &str, connection_id: &str, expires_at: i64) -> Result<()>;
    /// Leaves the pool; with `connection_id`, only if the entry is that connection's (a
    /// disconnect of another device leaves it). Whether an entry was removed.
    async fn leave_pool(&self, user_id: &str, connection_id: Option<&str>) -> Result<bool>;
    /// Everyone waiting (unexpired), read strongly consistent, up to `limit`.
    async fn waiting(&self, limit: usize) -> Result<Vec<Waiting>>;
    /// Removes both entries in one transaction, each only if still there: exactly one
    /// transaction can pair a given waiting user.
    async fn pair(&self, me: &Waiting, partner: &Waiting) -> Result<Pairing>;
    /// How many wait now.
    async fn count_waiting(&self) -> Result<u64>;
}

#[async_trait]
pub trait CallStore: Send + Sync {
    /// The first `answer` of a call claims it for the answering connection; later ones get `false`.
    async fn claim_answer(
        &self,
        caller: &str,
        callee: &str,
        call_id: &str,
        connection_id: &str,
        expires_at: i64,
    ) -> Result<bool>;
}
