//! Ports of scheduled and automated messages: where they are stored and the queue the dispatcher
//! fills. The DynamoDB store and the SQS adapter implement them (`aws/dynamo/schedule.rs`,
//! `aws/queue.rs`).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::schedule::ScheduledMessage;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    Cancelled,
    /// No such scheduled message of this user.
    NotFound,
    /// Already queued (or sent): too late to cancel.
    TooLate,
}

/// An entry of the due index: the message and the exact index key it was found under, which a
/// claim must still match (so two dispatchers never both claim it).
#[derive(Debug, Clone)]
pub struct DueEntry {
    pub message: ScheduledMessage,
    pub due_key: String,
}

/// A claim the dispatcher holds on a message between marking it queued and SQS accepting it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub message: ScheduledMessage,
    pub claim_id: String,
    /// The due key to restore if SQS refuses the message.
    pub previous_due_key: String,
}

#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Stores a user's scheduled message if the sender is a member of the conversation;
    /// `false` (nothing written) otherwise.
    async fn put_scheduled(&self, message: &ScheduledMessage) -> Result<bool>;
    /// The user's scheduled messages, newest first, strictly older than `before` (an id).
    async fn list_scheduled(
        &self,
        owner: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ScheduledMessage>, bool)>;
    /// Deletes the user's scheduled message while it is still `scheduled`.
    async fn cancel_scheduled(&self, owner: &str, id: &str) -> Result<Cancel>;

    /// The shards of the due index. The store spreads entries over them so that no index
    /// partition runs hot; a dispatcher drains each one on its own, concurrently.
    fn due_shards(&self) -> std::ops::Range<u32>;
    /// Entries of one shard of the due index with a due time up to `until`, oldest first.
    async fn due_scheduled(&self, shard: u32, until: DateTime<Utc>, limit: usize) -> Result<Vec<DueEntry>>;
    /// Marks the entry `queued` (conditional on its due key being unchanged) and parks it in the
    /// due index at `lease_until`, in case the claimer dies before SQS has it. `None`: lost the race.
    async fn claim_scheduled(
        &self,
        entry: &DueEntry,
        queued_at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>>;
    /// SQS has the message: take it out of the due index (no-op if the claim was superseded).
    async fn confirm_queued(&self, claim: &Claimed) -> Result<()>;
    /// SQS refused the message: back to `scheduled` under its previous due key.
    async fn release_claim(&self, claim: &Claimed) -> Result<()>;
    /// The worker sent it: `sent` with the message id, out of the due index, expiring later.
    async fn mark_sent(
        &self,
        message: &ScheduledMessage,
        message_id: &str,
        sent_at: &str,
        expires_at: i64,
    ) -> Result<()>;
    /// The worker met a permanent error: `failed`, out of the due index, expiring later.
    async fn mark_failed(&self, message: &ScheduledMessage, error: &str, expires_at: i64) -> Result<()>;

    /// Records that the user was seen on `day` (the activity index; idempotent).
    async fn mark_active(&self, user_id: &str, day: &str, expires_at: i64) -> Result<()>;
    /// Users seen on any of `days`.
    async fn active_users(&self, days: &[String]) -> Result<HashSet<String>>;
    /// Which of `users` already have an automated message planned for `day`.
    async fn planned_users(&self, day: &str, users: &[String]) -> Result<HashSet<String>>;
    /// Claims both users for `day` and stores the automated message, atomically; `false` if
    /// either user was already planned (a concurrent or repeated planner run).
    async fn plan_pair(
        &self,
        day: &str,
        pair: [&str; 2],
        message: &ScheduledMessage,
        claim_expires_at: i64,
    ) -> Result<bool>;
}

/// One message for the queue.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    /// Unique within the batch (the scheduled message id).
    pub id: String,
    pub body: String,
    /// Seconds the message stays invisible after it is sent (0 to 900).
    pub delay_secs: i32,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends up to 10 entries in one request; returns the ids of the entries it did NOT accept.
    async fn send_batch(&self, entries: &[QueueEntry]) -> Result<Vec<String>>;
}
