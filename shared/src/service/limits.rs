//! Rate limits (docs/protocol.md, "Users, presence, limits and stats"): WebSocket actions per
//! user, auth attempts per source IP and per account. Fixed windows counted in DynamoDB
//! (`aws/dynamo/rate_limit.rs`): one conditional write per check, no read, so a check adds one
//! round trip and 1 WRU.
//!
//! A fixed window lets a client spend up to twice the limit around a window boundary; that is the
//! price of one write per check (a sliding window needs a read or several counters).

use crate::App;
use crate::domain::time;
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::RateDecision;

/// Actions that are never counted. `ping` is the keepalive: it touches no data, clients send it to
/// stay under API Gateway's 10-minute idle timeout, and a limited client must still be able to
/// keep and test its connection. Counting it would also double the cost of the cheapest action
/// (a write for a frame that needs none). Stage throttling still bounds ping floods.
pub const EXEMPT_ACTIONS: &[&str] = &["ping"];

/// The `rate_limited` error with its `retryAfter`.
pub fn limited(retry_after: u64, what: &str) -> ChatError {
    ChatError {
        code: ErrorCode::RateLimited,
        message: format!("too many {what}; retry in {retry_after} s"),
        retry_after: Some(retry_after),
    }
}

async fn check(app: &App, scope: &str, key: &str, limit: u32, window_secs: i64, what: &str) -> Result<()> {
    if limit == 0 {
        return Ok(());
    }
    match app.limiter.hit(scope, key, limit, window_secs, time::now().timestamp()).await? {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after } => {
            tracing::info!(scope, retry_after, "rate limited");
            Err(limited(retry_after, what))
        }
    }
}

/// A WebSocket action by `user_id`; call before the action does anything.
pub async fn ws_action(app: &App, user_id: &str, action: &str) -> Result<()> {
    if EXEMPT_ACTIONS.contains(&action) {
        return Ok(());
    }
    let c = &app.config;
    check(app, "ws", user_id, c.ws_rate_limit, c.ws_rate_window_secs, "actions").await
}

/// A register or login attempt from `source_ip` (none known: not limited by IP).
pub async fn auth_attempt(app: &App, source_ip: Option<&str>) -> Result<()> {
    let Some(ip) = source_ip.filter(|ip| !ip.is_empty()) else {
        return Ok(());
    };
    let c = &app.config;
    check(app, "ip", ip, c.auth_rate_per_ip, c.auth_rate_window_secs, "sign-in attempts").await
}

/// A login attempt with `login` (normalised): keyed by the login, not the account, so the
/// answer is the same whether an account exists or not (service/auth.rs).
pub async fn login_attempt(app: &App, login: &str) -> Result<()> {
    let c = &app.config;
    check(app, "login", login, c.login_rate_per_account, c.login_rate_window_secs, "login attempts").await
}
