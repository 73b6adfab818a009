//! Fixed-window rate limits as DynamoDB counters, reserved in leases so that most checks write
//! nothing.
//!
//! Item `RATE#{scope}#{key}` / `W#{windowStart}` holds `n`, the hits *reserved* in that window by
//! every instance, and `expiresAt` (the window's end plus a minute) for TTL. An instance that has
//! no token left for a `(scope, key, window)` reserves a lease of up to [`lease_size`] tokens with
//! one conditional `ADD n :k` (condition `n <= limit - k`), keeps them in memory and spends them
//! without any AWS call. So the check stays correct across Lambda instances (the table never
//! reserves more than the limit, whichever instances ask) and costs one write per lease instead
//! of one per action. The price: tokens reserved by an instance that no longer serves the user
//! are lost for that window, so a user spread over several instances may be refused up to
//! `(lease − 1) × (instances − 1)` actions early; never late.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::DynamoStore;
use super::common::{Conditional, conditional, n, number_attr, s};
use crate::aws::keys;
use crate::error::Result;
use crate::ports::{RateDecision, RateLimiter};

/// At most this many tokens per lease: one write per 10 actions of a busy user.
const MAX_LEASE: u32 = 10;

/// `(table, scope, key, window start)`.
type Slot = (String, String, String, i64);

/// Tokens this instance holds, by slot.
static LEASES: LazyLock<Mutex<HashMap<Slot, u32>>> = LazyLock::new(Default::default);

/// The window holding `now`: its start, and the seconds until it ends (at least 1).
fn window(now: i64, window_secs: i64) -> (i64, u64) {
    let window_secs = window_secs.max(1);
    let start = now - now.rem_euclid(window_secs);
    (start, (start + window_secs - now).max(1) as u64)
}

/// A twelfth of the limit, 1 to [`MAX_LEASE`]: small limits stay exact per action, and one
/// instance never holds more than about 8 % of a window.
fn lease_size(limit: u32) -> u32 {
    (limit / 12).clamp(1, MAX_LEASE)
}

/// Takes a token this instance already holds.
fn spend(slot: &Slot) -> bool {
    let mut leases = LEASES.lock().unwrap_or_else(|e| e.into_inner());
    match leases.get_mut(slot) {
        Some(tokens) if *tokens > 0 => {
            *tokens -= 1;
            true
        }
        _ => false,
    }
}

/// Keeps `tokens` of a fresh lease; windows that ended are forgotten.
fn keep(slot: Slot, tokens: u32) {
    let mut leases = LEASES.lock().unwrap_or_else(|e| e.into_inner());
    let start = slot.3;
    leases.retain(|(_, _, _, s), _| *s >= start);
    *leases.entry(slot).or_default() += tokens;
}

impl DynamoStore {
    /// Reserves `k` tokens of the window; `Err(n)` with the count reserved so far when they do
    /// not fit.
    async fn reserve(
        &self,
        pk: &str,
        sk: &str,
        k: u32,
        limit: u32,
        expires_at: i64,
    ) -> Result<std::result::Result<(), u64>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("ADD n :k SET expiresAt = :exp")
            .condition_expression("attribute_not_exists(n) OR n <= :room")
            .expression_attribute_values(":k", n(i64::from(k)))
            .expression_attribute_values(":room", n(i64::from(limit) - i64::from(k)))
            .expression_attribute_values(":exp", n(expires_at))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(match conditional(result)? {
            Conditional::Applied(_) => Ok(()),
            Conditional::Refused { current } => Err(current.map(|item| number_attr(&item, "n")).unwrap_or(0)),
        })
    }
}

#[async_trait]
impl RateLimiter for DynamoStore {
    async fn hit(&self, scope: &str, key: &str, limit: u32, window_secs: i64, now: i64) -> Result<RateDecision> {
        let (start, retry_after) = window(now, window_secs);
        let slot = (self.table.clone(), scope.to_string(), key.to_string(), start);
        if spend(&slot) {
            return Ok(RateDecision::Allowed);
        }
        let (pk, sk) = (keys::rate_limit(scope, key), keys::rate_window(start));
        let expires_at = start + window_secs.max(1) + 60;
        let mut k = lease_size(limit).min(limit.max(1));
        // A lease that does not fit shrinks to what is left (other instances may take some of it
        // meanwhile: at most three tries).
        for _ in 0..3 {
            match self.reserve(&pk, &sk, k, limit, expires_at).await? {
                Ok(()) => {
                    keep(slot, k - 1);
                    return Ok(RateDecision::Allowed);
                }
                Err(reserved) => {
                    let left = u64::from(limit).saturating_sub(reserved);
                    if left == 0 {
                        break;
                    }
                    k = (left as u32).min(k).max(1);
                }
            }
        }
        Ok(RateDecision::Limited { retry_after })
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

    #[test]
    fn leases_are_small_for_small_limits() {
        assert_eq!(lease_size(3), 1);
        assert_eq!(lease_size(120), 10);
        assert_eq!(lease_size(60), 5);
        assert_eq!(lease_size(100_000), MAX_LEASE);
    }

    #[test]
    fn an_instance_spends_only_the_tokens_it_reserved() {
        let slot = ("t-spend".to_string(), "ws".to_string(), "u".to_string(), 60);
        assert!(!spend(&slot));
        keep(slot.clone(), 2);
        assert!(spend(&slot));
        assert!(spend(&slot));
        assert!(!spend(&slot));
        // A later window forgets the earlier one.
        keep(("t-spend".to_string(), "ws".to_string(), "u".to_string(), 120), 1);
        keep(slot.clone(), 0);
        assert!(!spend(&slot));
    }
}
