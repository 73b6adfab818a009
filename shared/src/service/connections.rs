//! The WebSocket connection lifecycle: authorize the handshake, record and forget connections,
//! and the presence that follows (docs/architecture.md, "Users, presence, limits and stats").
//!
//! **Alive means recently active.** API Gateway closes a connection that sent no frame for 10
//! minutes (`connection_idle_secs`) and calls `$disconnect`, but does not retry a `$disconnect`
//! that failed; a connection item left behind would show its user online for ever. So each
//! connection item carries `expiresAt` = its last recorded activity + the idle timeout + the
//! refresh interval (capped at `connection_ttl_secs` after it opened): every read (presence,
//! `/users`, `/stats`) treats an item past it as absent, DynamoDB's TTL deletes it eventually,
//! and the sweep ([`sweep`], every 2 minutes) removes it at once and announces `offline` as the
//! lost `$disconnect` would have.
//!
//! **Write cost.** The activity is written at most once per `connection_refresh_secs` (5 min) per
//! connection and instance, remembered in memory, not per frame: one refresh is an UpdateItem of
//! the item and of its gsi1 key (≈ 3 WRU), so per frame it would triple the cost of a `send` and
//! multiply that of a `typing` or `ping`; per 5 minutes it is ≈ 0.6 WRU per connection-minute
//! (≈ $0.4 per million connection-minutes, beside API Gateway's $0.25). Because the written time
//! lags the real one by at most the refresh interval, that interval is added to the idle timeout:
//! a connection is declared dead 10–15 minutes after its last frame, never before API Gateway
//! closed it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::App;
use crate::auth::TokenService;
use crate::config::Config;
use crate::domain::time;
use crate::error::Result;
use crate::protocol::directory::SweepReport;
use crate::service::push::Pushes;
use crate::service::{matching, presence, scheduling};

/// Expired connections one sweep run takes at most (the next run goes on).
const SWEEP_MAX: usize = 1000;
/// Removals and presence rounds in flight at once during a sweep.
const SWEEP_CONCURRENCY: usize = 16;
/// Connections whose refresh this instance remembers before it forgets the old ones.
const MEMO_MAX: usize = 10_000;

/// When this instance last wrote each connection's activity.
static REFRESHED: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);

/// Whether the activity of `connection_id` is due to be written now (and if so, remembers it).
fn due_for_refresh(connection_id: &str, every: Duration, now: Instant) -> bool {
    let mut memo = REFRESHED.lock().unwrap_or_else(|e| e.into_inner());
    if memo.get(connection_id).is_some_and(|at| now.duration_since(*at) < every) {
        return false;
    }
    remember(&mut memo, connection_id, every, now);
    true
}

/// Notes a write of the activity of `connection_id` at `now`; when full, entries older than
/// `every` (due anyway) go first.
fn remember(memo: &mut HashMap<String, Instant>, connection_id: &str, every: Duration, now: Instant) {
    if memo.len() >= MEMO_MAX {
        memo.retain(|_, at| now.duration_since(*at) < every);
    }
    memo.insert(connection_id.to_string(), now);
}

fn refresh_interval(config: &Config) -> Duration {
    Duration::from_secs(config.connection_refresh_secs.max(0) as u64)
}

/// A write that failed is tried again with the next frame.
fn forget_refresh(connection_id: &str) {
    REFRESHED.lock().unwrap_or_else(|e| e.into_inner()).remove(connection_id);
}

/// Until when a connection that opened at `connected_at` and was active at `now` (epoch
/// seconds) counts as alive.
pub fn live_until(config: &Config, connected_at: i64, now: i64) -> i64 {
    (now + config.connection_idle_secs + config.connection_refresh_secs).min(connected_at + config.connection_ttl_secs)
}

/// The user id behind the token of a handshake, or `unauthorized`. Only the token service: the
/// `$connect` authorizer builds nothing else (functions/authorizer/).
pub fn authorize(tokens: &TokenService, token: Option<&str>) -> Result<String> {
    tokens.verify(token.unwrap_or_default())
}

/// Records the connection; returns `online` to the user's contacts if it is the user's first.
pub async fn connect(app: &App, user_id: &str, connection_id: &str) -> Result<Pushes> {
    let now = time::now().timestamp();
    let expires_at = live_until(&app.config, now, now);
    // The activity index (planner) is written in the same wave.
    let (stored, ()) =
        tokio::join!(app.store.put_connection(user_id, connection_id, expires_at), scheduling::seen(app, user_id));
    stored?;
    // The connect is the first write of its activity.
    remember(
        &mut REFRESHED.lock().unwrap_or_else(|e| e.into_inner()),
        connection_id,
        refresh_interval(&app.config),
        Instant::now(),
    );
    Ok(Pushes::presence(presence::online(app, user_id, connection_id).await))
}

/// Forgets the connection; returns `offline` to the user's contacts if it was the user's last.
pub async fn disconnect(app: &App, user_id: &str, connection_id: &str) -> Result<Pushes> {
    forget_refresh(connection_id);
    app.store.delete_connection(user_id, connection_id).await?;
    Ok(Pushes::presence(presence::offline(app, user_id).await))
}

/// A frame arrived on the connection (opened at `connected_at`, epoch seconds): keeps it alive,
/// writing at most once per refresh interval. A connection whose item is gone (the sweep took it
/// after a long silence, or a `$disconnect` raced this frame) is alive all the same, so it is
/// recorded again and, if it is the user's only one, announced `online`. Never fails.
pub async fn active(app: &App, user_id: &str, connection_id: &str, connected_at: Option<i64>) -> Pushes {
    if !due_for_refresh(connection_id, refresh_interval(&app.config), Instant::now()) {
        return Pushes::none();
    }
    let now = time::now().timestamp();
    let expires_at = live_until(&app.config, connected_at.unwrap_or(now), now);
    match app.store.touch_connection(user_id, connection_id, expires_at).await {
        Ok(true) => Pushes::none(),
        Ok(false) => {
            tracing::info!(user = %user_id, connection = %connection_id, "active connection had no record: recorded again");
            match app.store.put_connection(user_id, connection_id, expires_at).await {
                Ok(()) => Pushes::presence(presence::online(app, user_id, connection_id).await),
                Err(e) => {
                    forget_refresh(connection_id);
                    tracing::warn!(user = %user_id, error = %e, "could not record an active connection again");
                    Pushes::none()
                }
            }
        }
        Err(e) => {
            forget_refresh(connection_id);
            tracing::warn!(user = %user_id, error = %e, "could not refresh a connection's activity");
            Pushes::none()
        }
    }
}

/// The repair of lost `$disconnect`s: removes every connection past its expiry at `now` (epoch
/// seconds), leaves the match pool as `$disconnect` does, and returns `offline` for each user
/// left without a connection. Failed removals are counted and left for the next run.
pub async fn sweep(app: &App, now: i64) -> Result<(SweepReport, Pushes)> {
    let (expired, more) = app.store.expired_connections(now, SWEEP_MAX).await?;
    let report = SweepReport { expired: expired.len(), more, ..SweepReport::default() };
    // Owned items: futures that borrow from the stream's items are not `Send` for every lifetime.
    let removals = futures::stream::iter(expired)
        .map(|(user_id, connection_id)| async move {
            let removed = app.store.remove_expired_connection(&user_id, &connection_id, now).await;
            if let Ok(true) = removed {
                forget_refresh(&connection_id);
                matching::disconnected(app, &user_id, &connection_id).await;
            }
            (user_id, removed)
        })
        .buffer_unordered(SWEEP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut report = report;
    let mut users = BTreeSet::new();
    for (user_id, removed) in removals {
        match removed {
            Ok(true) => {
                report.removed += 1;
                users.insert(user_id);
            }
            Ok(false) => {}
            Err(e) => {
                report.failed += 1;
                tracing::warn!(user = %user_id, error = %e, "sweep: could not remove an expired connection");
            }
        }
    }
    // One presence round per user, after all of its expired connections went.
    let announcements: Vec<_> = futures::stream::iter(users)
        .map(|user_id| async move { presence::offline(app, &user_id).await })
        .buffer_unordered(SWEEP_CONCURRENCY)
        .filter_map(|a| async move { a })
        .collect()
        .await;
    report.offline = announcements.len();
    Ok((report, Pushes::presence(announcements)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_written_once_per_interval() {
        let start = Instant::now();
        let every = Duration::from_secs(300);
        assert!(due_for_refresh("c-memo", every, start));
        assert!(!due_for_refresh("c-memo", every, start + Duration::from_secs(299)));
        assert!(due_for_refresh("c-memo", every, start + every));
        forget_refresh("c-memo");
        assert!(due_for_refresh("c-memo", every, start + every), "a failed write is tried again");
    }

    #[test]
    fn alive_until_idle_plus_refresh_and_never_past_the_maximum() {
        let config = Config::from_lookup(|k| (k == "CHAT_TABLE").then(|| "t".to_string())).unwrap();
        assert_eq!(live_until(&config, 1000, 1000), 1000 + 600 + 300);
        assert_eq!(live_until(&config, 1000, 1000 + 7000), 1000 + 2 * 3600 + 600);
    }
}
