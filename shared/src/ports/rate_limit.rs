//! Fixed-window rate limits.

use async_trait::async_trait;

use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit; the window ends in `retry_after` seconds (at least 1).
    Limited {
        retry_after: u64,
    },
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one hit for `key` in `scope` in the fixed window of `window_secs` that holds `now`
    /// (epoch seconds): allowed while fewer than `limit` hits were counted. One write, no read;
    /// a refused hit is not counted.
    async fn hit(&self, scope: &str, key: &str, limit: u32, window_secs: i64, now: i64) -> Result<RateDecision>;
}
