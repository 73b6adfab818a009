//! Scheduled and automated messages (docs/architecture.md, "Scheduled and automated messages"):
//! the item, its life cycle and the rules on when a message may be scheduled.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::message::MessageKind;
use crate::error::{ChatError, Result};

/// `scheduled` → `queued` (the dispatcher moved it to SQS) → `sent` (the worker stored and pushed
/// it). `failed`: the worker met an error that retrying cannot fix (the sender left the
/// conversation, say); nothing was sent. A cancelled message is deleted, not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(description = "scheduled: waiting (cancellable); queued: handed to the queue at its time (no longer \
    cancellable); sent: stored and pushed; failed: could not be sent (e.g. the sender left the conversation).")]
pub enum ScheduleStatus {
    Scheduled,
    Queued,
    Sent,
    Failed,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Scheduled => "scheduled",
            ScheduleStatus::Queued => "queued",
            ScheduleStatus::Sent => "sent",
            ScheduleStatus::Failed => "failed",
        }
    }
}

/// A message to send later: what a user scheduled (`kind: text`) or what the planner planned for
/// a pair of users (`kind: auto`). The same JSON is the body of the SQS message the worker gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledMessage {
    /// A ULID; the sent message's `clientMsgId` is `sched-{id}`, which makes sending idempotent.
    pub id: String,
    pub conversation_id: String,
    /// The caller (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub sender_id: String,
    /// Automated messages: the paired user (a ULID). The message goes to their direct
    /// conversation, which sending opens if needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Ulid)]
    pub recipient_id: Option<String>,
    #[schema(value_type = crate::openapi::ScheduledKind, inline)]
    pub kind: MessageKind,
    #[schema(max_length = 4000)]
    pub content: String,
    /// When it is due; sent within a minute after. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub send_at: String,
    pub status: ScheduleStatus,
    /// When it was scheduled. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub created_at: String,
    /// When the dispatcher queued it. RFC 3339, UTC, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub queued_at: Option<String>,
    /// When it was sent. RFC 3339, UTC, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub sent_at: Option<String>,
    /// The message it became, once sent (a ULID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Ulid)]
    pub message_id: Option<String>,
    /// Why it failed (status failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

impl ScheduledMessage {
    /// The `clientMsgId` of the message it becomes: a redelivered SQS message finds the first one.
    pub fn client_msg_id(&self) -> String {
        format!("sched-{}", self.id)
    }

    pub fn is_auto(&self) -> bool {
        self.kind == MessageKind::Auto
    }

    pub fn send_at_time(&self) -> Result<DateTime<Utc>> {
        parse_time(&self.send_at)
    }
}

pub fn parse_time(value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ChatError::invalid(format!("{value:?} is not an RFC 3339 time (e.g. 2030-01-31T18:00:00Z)")))
}

/// `sendAt` must lie between `min_lead` and `max_lead` from `now`.
pub fn validate_send_at(
    send_at: DateTime<Utc>,
    now: DateTime<Utc>,
    min_lead: Duration,
    max_lead: Duration,
) -> Result<()> {
    if send_at < now + min_lead {
        return Err(ChatError::invalid(format!("sendAt must be at least {} seconds ahead", min_lead.num_seconds())));
    }
    if send_at > now + max_lead {
        return Err(ChatError::invalid(format!("sendAt must be at most {} days ahead", max_lead.num_days())));
    }
    Ok(())
}

/// The UTC calendar day of `t` (`yyyy-mm-dd`): the unit of the activity index and of planning.
pub fn day_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The `days` UTC days ending with `t`'s, newest first.
pub fn last_days(t: DateTime<Utc>, days: u32) -> Vec<String> {
    (0..days as i64).map(|back| day_of(t - Duration::days(back))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn send_at_window() {
        let now = at("2030-01-01T00:00:00Z");
        let (min, max) = (Duration::seconds(60), Duration::days(30));
        assert!(validate_send_at(at("2030-01-01T00:00:59Z"), now, min, max).is_err());
        assert!(validate_send_at(at("2030-01-01T00:01:00Z"), now, min, max).is_ok());
        assert!(validate_send_at(at("2030-01-31T00:00:00Z"), now, min, max).is_ok());
        assert!(validate_send_at(at("2030-01-31T00:00:01Z"), now, min, max).is_err());
        assert!(parse_time("tomorrow").is_err());
        assert_eq!(at("2030-01-01T01:00:00+01:00"), now);
    }

    #[test]
    fn days() {
        assert_eq!(last_days(at("2030-03-01T23:59:00Z"), 3), vec!["2030-03-01", "2030-02-28", "2030-02-27"]);
    }

    #[test]
    fn json_shape() {
        let m = ScheduledMessage {
            id: "01J0000000000000000000000A".into(),
            conversation_id: "c".into(),
            sender_id: "u".into(),
            recipient_id: None,
            kind: MessageKind::Text,
            content: "hi".into(),
            send_at: "2030-01-01T00:00:00.000Z".into(),
            status: ScheduleStatus::Scheduled,
            created_at: "2029-12-31T00:00:00.000Z".into(),
            queued_at: None,
            sent_at: None,
            message_id: None,
            error: None,
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["status"], "scheduled");
        assert_eq!(v["sendAt"], "2030-01-01T00:00:00.000Z");
        assert!(v.get("recipientId").is_none() && v.get("sentAt").is_none());
        assert_eq!(m.client_msg_id(), "sched-01J0000000000000000000000A");
    }
}
