//! Configuration of scheduled and automated messages (template.yaml sets these variables on the
//! scheduler functions; the others get the defaults).

use crate::error::{ChatError, Result};

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// `CHAT_SCHEDULE_MIN_LEAD_SECS` (60): how far ahead `sendAt` must be. Tests lower it.
    pub min_lead_secs: i64,
    /// `CHAT_SCHEDULE_MAX_LEAD_SECS` (30 days).
    pub max_lead_secs: i64,
    /// `CHAT_SCHEDULE_QUEUE_URL`: the SQS queue the dispatcher fills (only it needs one).
    pub queue_url: Option<String>,
    /// `CHAT_SCHEDULE_LOOKAHEAD_SECS` (60, at most 900): the dispatcher also takes messages due
    /// within this many seconds and queues them with an SQS delay that ends at `sendAt`, so a
    /// once-a-minute dispatcher still sends on time. 0 queues only what is already due.
    pub lookahead_secs: i64,
    /// `CHAT_SCHEDULE_LEASE_SECS` (300): a message the dispatcher claimed but never confirmed as
    /// queued (it crashed between the claim and SQS) becomes due again this long after its time.
    pub lease_secs: i64,
    /// `CHAT_SCHEDULE_SENT_TTL_SECS` (30 days): sent and failed items are kept this long.
    pub sent_ttl_secs: i64,
    /// `CHAT_AUTO_MESSAGES`: the texts of automated messages, separated by `|` or newlines.
    pub auto_messages: Vec<String>,
    /// `CHAT_PLANNER_ENABLED` (true): the planner plans nothing when false.
    pub planner_enabled: bool,
    /// `CHAT_AUTO_WINDOW_SECS` (86400): automated messages go out at a random time within this
    /// many seconds of the planner's run. Tests shorten it.
    pub auto_window_secs: i64,
    /// `CHAT_ACTIVE_DAYS` (7): a user seen within this many UTC days is active.
    pub active_days: u32,
    /// `CHAT_TEST_FAIL_SCHEDULED` — TEST ONLY, unset in every deployment: the worker fails every
    /// record whose content contains this marker; `marker@N` fails only the first N receives.
    pub test_fail_marker: Option<String>,
}

pub const DEFAULT_AUTO_MESSAGES: &str = "Say hello! You two were paired today.|\
Hi! What are you working on this week?|\
Quick question of the day: coffee or tea?|\
Share something that made you smile today.";

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self::from_lookup(|_| None).expect("defaults are valid")
    }
}

impl ScheduleConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let number = |k: &str, default: i64| -> Result<i64> {
            match get(k) {
                Some(v) => {
                    v.trim().parse().map_err(|_| ChatError::invalid(format!("{k} must be a whole number, got {v:?}")))
                }
                None => Ok(default),
            }
        };
        let lookahead_secs = number("CHAT_SCHEDULE_LOOKAHEAD_SECS", 60)?;
        if !(0..=900).contains(&lookahead_secs) {
            return Err(ChatError::invalid("CHAT_SCHEDULE_LOOKAHEAD_SECS must be 0-900 (SQS's longest delay)"));
        }
        let planner_enabled = match get("CHAT_PLANNER_ENABLED").map(|v| v.trim().to_lowercase()) {
            None => true,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                return Err(ChatError::invalid(format!("CHAT_PLANNER_ENABLED must be true or false, got {v:?}")));
            }
        };
        let auto_messages = parse_texts(&get("CHAT_AUTO_MESSAGES").unwrap_or_else(|| DEFAULT_AUTO_MESSAGES.into()));
        Ok(Self {
            min_lead_secs: number("CHAT_SCHEDULE_MIN_LEAD_SECS", 60)?.max(0),
            max_lead_secs: number("CHAT_SCHEDULE_MAX_LEAD_SECS", 30 * 24 * 3600)?,
            queue_url: get("CHAT_SCHEDULE_QUEUE_URL"),
            lookahead_secs,
            lease_secs: number("CHAT_SCHEDULE_LEASE_SECS", 300)?.max(1),
            sent_ttl_secs: number("CHAT_SCHEDULE_SENT_TTL_SECS", 30 * 24 * 3600)?,
            auto_messages,
            planner_enabled,
            auto_window_secs: number("CHAT_AUTO_WINDOW_SECS", 24 * 3600)?.max(1),
            active_days: number("CHAT_ACTIVE_DAYS", 7)?.clamp(1, 31) as u32,
            test_fail_marker: get("CHAT_TEST_FAIL_SCHEDULED"),
        })
    }
}

/// `a|b` or one text per line; blanks dropped.
pub fn parse_texts(value: &str) -> Vec<String> {
    value.split(['|', '\n']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = ScheduleConfig::default();
        assert_eq!((d.min_lead_secs, d.lookahead_secs, d.active_days), (60, 60, 7));
        assert!(d.planner_enabled && d.auto_messages.len() == 4 && d.test_fail_marker.is_none());
        let c = ScheduleConfig::from_lookup(|k| match k {
            "CHAT_PLANNER_ENABLED" => Some("false".into()),
            "CHAT_AUTO_MESSAGES" => Some("one\ntwo| three |".into()),
            _ => None,
        })
        .unwrap();
        assert!(!c.planner_enabled);
        assert_eq!(c.auto_messages, vec!["one", "two", "three"]);
        assert!(ScheduleConfig::from_lookup(|k| (k == "CHAT_SCHEDULE_LOOKAHEAD_SECS").then(|| "901".into())).is_err());
    }
}
