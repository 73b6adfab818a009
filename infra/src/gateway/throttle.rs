//! Stage throttling as API Gateway applies it: a token bucket per route (the route's own
//! `RouteSettings`, else the stage's `DefaultRouteSettings`) refilled at the rate limit up to the
//! burst limit; a request that finds it empty is answered 429 (a WebSocket message gets a
//! "Too Many Requests" message back) without invoking anything.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::time::Instant;

use crate::template::limits::{StageThrottles, Throttle};

pub(crate) struct TokenBucket {
    throttle: Throttle,
    /// Tokens left and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(throttle: Throttle) -> Self {
        Self { throttle, state: Mutex::new((throttle.burst, Instant::now())) }
    }

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    fn try_take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().expect("bucket lock");
        let now = now.max(state.1);
        let refill = now.duration_since(state.1).as_secs_f64() * self.throttle.rate;
        state.0 = (state.0 + refill).min(self.throttle.burst);
        state.1 = now;
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The buckets of a gateway: one per WebSocket route key, one for the HTTP API.
#[derive(Default)]
pub(crate) struct StageBuckets {
    websocket: BTreeMap<String, TokenBucket>,
    http: Option<TokenBucket>,
}

impl StageBuckets {
    pub fn new<'a>(throttles: &StageThrottles, route_keys: impl IntoIterator<Item = &'a String>) -> Self {
        let websocket = route_keys
            .into_iter()
            .filter_map(|key| {
                let throttle = throttles.websocket_routes.get(key).copied().or(throttles.websocket_default)?;
                Some((key.clone(), TokenBucket::new(throttle)))
            })
            .collect();
        Self { websocket, http: throttles.http_default.map(TokenBucket::new) }
    }

    /// False when the route's bucket is empty (a route without throttling always passes).
    pub fn allow_ws(&self, route_key: &str) -> bool {
        self.websocket.get(route_key).is_none_or(TokenBucket::try_take)
    }

    pub fn allow_http(&self) -> bool {
        self.http.as_ref().is_none_or(TokenBucket::try_take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let bucket = TokenBucket::new(Throttle { rate: 2.0, burst: 3.0 });
        let start = bucket.state.lock().unwrap().1;
        assert_eq!((0..5).filter(|_| bucket.try_take_at(start)).count(), 3);
        let half_a_second = start + std::time::Duration::from_millis(500);
        assert!(bucket.try_take_at(half_a_second));
        assert!(!bucket.try_take_at(half_a_second));
        let later = start + std::time::Duration::from_secs(10);
        assert_eq!((0..5).filter(|_| bucket.try_take_at(later)).count(), 3, "never more than the burst");
    }
}
