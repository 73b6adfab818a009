//! Wire types of scheduled messages: the REST bodies and what the scheduler functions answer.

use serde::{Deserialize, Serialize};

use crate::domain::schedule::ScheduledMessage;

/// `POST /scheduled-messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleBody {
    /// A conversation the caller is a member of.
    pub conversation_id: String,
    #[schema(min_length = 1, max_length = 4000)]
    pub content: String,
    /// RFC 3339; at least 1 minute and at most 30 days ahead.
    // The minimum lead is `CHAT_SCHEDULE_MIN_LEAD_SECS` (docs/protocol.md).
    #[schema(format = DateTime)]
    pub send_at: String,
}

/// `GET /scheduled-messages`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledPage {
    pub scheduled_messages: Vec<ScheduledMessage>,
    #[schema(value_type = crate::openapi::Cursor)]
    pub next_cursor: Option<String>,
}

/// What one dispatcher run did (its Lambda answer, and its log line).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchReport {
    /// Due entries read from the index.
    pub due: usize,
    /// Claimed and accepted by SQS.
    pub queued: usize,
    /// Claimed by a concurrent run first (or a stale index read).
    pub lost_races: usize,
    /// Refused by SQS and put back for the next run.
    pub released: usize,
}

/// What one planner run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    pub day: String,
    pub enabled: bool,
    pub active_users: usize,
    pub already_planned: usize,
    pub pairs_planned: usize,
    /// Pairs a concurrent run had claimed first.
    pub pairs_lost: usize,
    /// Users left without a partner (an odd count).
    pub unpaired: usize,
}
