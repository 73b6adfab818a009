//! Fixed-window rate limits as DynamoDB counters: one conditional `UpdateItem` per check, no read.
//!
//! Item `RATE#{scope}#{key}` / `W#{windowStart}` holds `n`, the hits counted in that window, and
//! `expiresAt` (the window's end plus a minute) for TTL. `ADD n :one` succeeds while
//! `n < limit`; the condition failing means the window is full, and nothing is counted.

use async_trait::async_trait;

use super::DynamoStore;
use super::common::{Conditional, conditional, n, s};
use crate::aws::keys;
use crate::error::Result;
use crate::ports::{RateDecision, RateLimiter};

/// The window holding `now`: its start, and the seconds until it ends (at least 1).
fn window(now: i64, window_secs: i64) -> (i64, u64) {
    let window_secs = window_secs.max(1);
    let start = now - now.rem_euclid(window_secs);
    (start, (start + window_secs - now).max(1) as u64)
}

#[async_trait]
impl RateLimiter for DynamoStore {
    async fn hit(&self, scope: &str, key: &str, limit: u32, window_secs: i64, now: i64) -> Result<RateDecision> {
        let (start, retry_after) = window(now, window_secs);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::rate_limit(scope, key)))
            .key(keys::SK, s(keys::rate_window(start)))
            .update_expression("ADD n :one SET expiresAt = :exp")
            .condition_expression("attribute_not_exists(n) OR n < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .expression_attribute_values(":exp", n(start + window_secs.max(1) + 60))
            .send()
            .await;
        Ok(match conditional(result)? {
            Conditional::Applied(_) => RateDecision::Allowed,
            Conditional::Refused { .. } => RateDecision::Limited { retry_after },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_is_positive() {
        assert_eq!(window(120, 60), (120, 60));
        assert_eq!(window(179, 60), (120, 1));
        assert_eq!(window(1000, 900), (900, 800));
        assert_eq!(window(5, 0), (5, 1));
    }
}
