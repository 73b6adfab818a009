//! The one push path. Use cases return the events they cause as [`Pushes`] (`#[must_use]`);
//! the edges hand them to [`deliver`], which sends them over the Management API, removes the
//! connections that answer 410 and announces offline the users those leave without a connection.
//!
//! Pushes leave in waves: every push of a wave is answered, and its gone connections handled,
//! before the next wave starts. Only `send` has two: the sender's `message.sent`, then the members'
//! `message.new` (in a big room the fan-out takes longer than the store, and the sender should not
//! wait for it: docs/architecture.md, "Fan-out in big rooms").

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;

use crate::App;
use crate::domain::time;
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::PushOutcome;
use crate::protocol::ws::ServerEvent;
use crate::service::presence::{self, Announcement};

/// API Gateway's limit on one message to a client; a bigger `PostToConnection` answers 413.
pub const MAX_EVENT_BYTES: usize = 128 * 1024;

/// Tries of a push that fails in a retryable way (throttled, 5xx, timeout), and the pause
/// before each retry (doubling, with jitter). A push that still fails is logged with its
/// reason and counted in `Delivery::failed`; the message itself is stored, so `sync` recovers it.
const PUSH_TRIES: u32 = 4;
const FIRST_RETRY_MS: u64 = 50;

/// Bounds in-flight Management API calls per invocation (API Gateway has account-level limits too).
const MAX_CONCURRENT_PUSHES: usize = 64;

/// One frame for one connection.
#[derive(Debug, Clone)]
struct Push {
    user_id: String,
    connection_id: String,
    payload: Arc<str>,
    /// A `presence` event: a 410 on it removes the connection but announces nothing, so a
    /// presence round never starts another (bounded work per event).
    presence: bool,
}

/// The pushes a use case asks for, in waves. Nothing is sent until [`deliver`].
#[must_use = "pushes are sent only by `push::deliver`"]
#[derive(Debug, Default)]
pub struct Pushes {
    /// Never holds an empty wave.
    waves: Vec<Vec<Push>>,
}

impl Pushes {
    pub fn none() -> Self {
        Pushes::default()
    }

    fn wave(pushes: Vec<Push>) -> Self {
        Pushes { waves: if pushes.is_empty() { Vec::new() } else { vec![pushes] } }
    }

    /// `event` to one known connection (the answer to a request).
    pub fn to_connection(user_id: &str, connection_id: &str, event: &ServerEvent) -> Self {
        let payload = event.to_json().into();
        Pushes::wave(vec![Push {
            user_id: user_id.to_string(),
            connection_id: connection_id.to_string(),
            payload,
            presence: false,
        }])
    }

    /// `event` to every `(user id, connection id)` of `targets` but `skip` (the connection that
    /// asked, which gets its own answer).
    pub fn to_connections(targets: Vec<(String, String)>, event: &ServerEvent, skip: Option<&str>) -> Self {
        let payload: Arc<str> = event.to_json().into();
        Pushes::wave(
            targets
                .into_iter()
                .filter(|(_, connection_id)| Some(connection_id.as_str()) != skip)
                .map(|(user_id, connection_id)| Push {
                    user_id,
                    connection_id,
                    payload: payload.clone(),
                    presence: false,
                })
                .collect(),
        )
    }

    /// `event` to every open connection of `users`: one BatchGetItem of connection sets per 100
    /// users, all at once (a 1,000-member room is 10 requests in one wave).
    pub async fn to_users(app: &App, users: &[String], event: &ServerEvent) -> Result<Self> {
        Ok(Pushes::to_connections(app.store.connections_of_users(users).await?, event, None))
    }

    /// Presence announcements (from `service::presence`), in one wave.
    pub fn presence(announcements: impl IntoIterator<Item = Announcement>) -> Self {
        let mut pushes = Vec::new();
        for Announcement { payload, targets } in announcements {
            let payload: Arc<str> = payload.into();
            pushes.extend(targets.into_iter().map(|(user_id, connection_id)| Push {
                user_id,
                connection_id,
                payload: payload.clone(),
                presence: true,
            }));
        }
        Pushes::wave(pushes)
    }

    /// `self` and `other` together: wave by wave, the pushes of both leave at once.
    pub fn and(mut self, other: Pushes) -> Self {
        let mut other = other.waves.into_iter();
        for (mine, theirs) in self.waves.iter_mut().zip(other.by_ref()) {
            mine.extend(theirs);
        }
        self.waves.extend(other);
        self
    }

    /// `next` only once every push of `self` was answered.
    pub fn then(mut self, next: Pushes) -> Self {
        self.waves.extend(next.waves);
        self
    }

    /// Without the pushes to `connection_id` (which is about to get an answer of its own).
    pub fn without_connection(mut self, connection_id: &str) -> Self {
        for wave in &mut self.waves {
            wave.retain(|p| p.connection_id != connection_id);
        }
        self.waves.retain(|wave| !wave.is_empty());
        self
    }
}

/// What [`deliver`] did, presence follow-ups included.
#[must_use = "a delivery reports what did not arrive: log it or act on it"]
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: usize,
    /// Answered with another error (logged per push); the connection is kept.
    pub failed: usize,
    /// Over 128 KB: the connection got a `payload_too_large` error in its place.
    pub too_large: usize,
    /// Answered 410: the connection is gone and its record was removed.
    pub gone: usize,
    /// The users of the gone connections, sorted, each once.
    pub gone_users: Vec<String>,
}

impl Delivery {
    /// One line for what `what` pushed, at `info` when something did not arrive.
    pub fn log(&self, what: &str) {
        let Delivery { delivered, failed, too_large, gone, .. } = *self;
        if failed > 0 || gone > 0 || too_large > 0 {
            tracing::info!(what, delivered, failed, too_large, gone, gone_users = ?self.gone_users, "pushes not all delivered");
        } else if delivered > 0 {
            tracing::debug!(what, delivered, "pushes delivered");
        }
    }
}

/// Sends `pushes`, wave after wave, at most 64 at a time. A connection that answers 410 closed
/// without a `$disconnect` we saw: its record is removed and, once the wave is done, each of
/// its users left without a connection is announced offline (as after `$disconnect`), in a wave
/// of its own before the next one. This is the only place presence follows from a push.
pub async fn deliver(app: &App, pushes: Pushes) -> Delivery {
    let mut delivery = Delivery::default();
    let mut waves: VecDeque<Vec<Push>> = pushes.waves.into();
    while let Some(wave) = waves.pop_front() {
        let gone = send_wave(app, wave, &mut delivery).await;
        if gone.is_empty() {
            continue;
        }
        let removed = forget(app, &gone).await;
        let left: BTreeSet<&str> = removed.iter().filter(|p| !p.presence).map(|p| p.user_id.as_str()).collect();
        let announcements = futures::future::join_all(left.into_iter().map(|user| presence::offline(app, user))).await;
        let follow_up = Pushes::presence(announcements.into_iter().flatten());
        for wave in follow_up.waves.into_iter().rev() {
            waves.push_front(wave);
        }
        delivery.gone_users.extend(gone.into_iter().map(|p| p.user_id));
    }
    delivery.gone_users.sort();
    delivery.gone_users.dedup();
    delivery
}

/// Pushes one wave; returns the pushes whose connection is gone.
async fn send_wave(app: &App, wave: Vec<Push>, delivery: &mut Delivery) -> Vec<Push> {
    let outcomes: Vec<(Push, PushOutcome)> = futures::stream::iter(wave)
        .map(|push| async move {
            let outcome = if push.payload.len() > MAX_EVENT_BYTES {
                PushOutcome::TooLarge
            } else {
                push_with_retries(app, &push).await
            };
            let outcome = match outcome {
                PushOutcome::TooLarge => {
                    delivery_too_large(app, &push).await;
                    PushOutcome::TooLarge
                }
                other => other,
            };
            (push, outcome)
        })
        .buffer_unordered(MAX_CONCURRENT_PUSHES)
        .collect()
        .await;
    let mut gone = Vec::new();
    for (push, outcome) in outcomes {
        match outcome {
            PushOutcome::Delivered => delivery.delivered += 1,
            PushOutcome::Gone => {
                delivery.gone += 1;
                gone.push(push);
            }
            PushOutcome::TooLarge => delivery.too_large += 1,
            PushOutcome::Failed(reason) | PushOutcome::Retryable(reason) => {
                delivery.failed += 1;
                tracing::warn!(connection = %push.connection_id, %reason, "push failed");
            }
        }
    }
    gone
}

/// One push, tried again while it fails in a retryable way.
async fn push_with_retries(app: &App, push: &Push) -> PushOutcome {
    let mut pause = FIRST_RETRY_MS;
    let mut tries = 1;
    loop {
        let outcome = app.pusher.push(&push.connection_id, &push.payload).await;
        match outcome {
            PushOutcome::Retryable(ref reason) if tries < PUSH_TRIES => {
                tracing::info!(connection = %push.connection_id, tries, %reason, "push retried");
                let jitter = u64::from(ulid::Ulid::generate().random() as u8 % 32);
                tokio::time::sleep(std::time::Duration::from_millis(pause + jitter)).await;
                pause *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// The event meant for `push` is over API Gateway's limit: the connection gets a
/// `payload_too_large` error instead (echoing the request's `requestId`), never silence.
async fn delivery_too_large(app: &App, push: &Push) {
    let (kind, request_id) = event_kind_and_request(&push.payload);
    let err = ChatError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the {kind} event ({} bytes) is over API Gateway's {MAX_EVENT_BYTES} bytes; ask for a smaller page",
            push.payload.len()
        ),
    );
    tracing::warn!(connection = %push.connection_id, kind, bytes = push.payload.len(), "push too large");
    let error = ServerEvent::error(&err, request_id).to_json();
    if let PushOutcome::Failed(reason) | PushOutcome::Retryable(reason) =
        app.pusher.push(&push.connection_id, &error).await
    {
        tracing::warn!(connection = %push.connection_id, %reason, "could not report a push too large");
    }
}

/// The `type` and `requestId` of a serialised event.
fn event_kind_and_request(payload: &str) -> (String, Option<String>) {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        #[serde(rename = "type")]
        kind: Option<String>,
        request_id: Option<String>,
    }
    match serde_json::from_str::<Head>(payload) {
        Ok(head) => (head.kind.unwrap_or_else(|| "unknown".into()), head.request_id),
        Err(_) => ("unknown".into(), None),
    }
}

/// API Gateway's integration timeout bounds a `$connect`: a connection opened longer ago than
/// this has completed its handshake, so its 410 means it is gone.
const HANDSHAKE_SECS: i64 = 30;

/// Removes the records of gone connections, all at once; returns those removed. A 410 from a
/// connection that opened less than [`HANDSHAKE_SECS`] ago may only mean its `$connect` has not
/// returned yet (a contact's presence push, under many handshakes at once): its record stays, as
/// removing it would leave an open socket that no push reaches. If it is gone after all, a later
/// push or the sweep (service/connections.rs) removes it.
async fn forget<'a>(app: &App, gone: &'a [Push]) -> Vec<&'a Push> {
    let before = time::rfc3339(time::now() - chrono::Duration::seconds(HANDSHAKE_SECS));
    let removals = gone.iter().map(|p| app.store.remove_gone_connection(&p.user_id, &p.connection_id, &before));
    let mut removed = Vec::new();
    for (push, result) in gone.iter().zip(futures::future::join_all(removals).await) {
        match result {
            Ok(true) => {
                tracing::info!(connection = %push.connection_id, "removed gone connection");
                removed.push(push);
            }
            Ok(false) => {
                tracing::info!(connection = %push.connection_id, "410 from a connection still in its handshake (or removed): kept")
            }
            Err(e) => tracing::warn!(connection = %push.connection_id, error = %e, "could not remove gone connection"),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(ids: &[(&str, &str)]) -> Vec<(String, String)> {
        ids.iter().map(|(u, c)| (u.to_string(), c.to_string())).collect()
    }

    fn connections(pushes: &Pushes) -> Vec<Vec<&str>> {
        pushes.waves.iter().map(|w| w.iter().map(|p| p.connection_id.as_str()).collect()).collect()
    }

    #[test]
    fn waves_keep_their_order_and_never_hold_nothing() {
        let pong = ServerEvent::Pong { request_id: None };
        let reply = Pushes::to_connection("a", "c1", &pong);
        let fan_out = Pushes::to_connections(targets(&[("a", "c1"), ("a", "c2"), ("b", "c3")]), &pong, Some("c1"));
        let both = reply.then(Pushes::none()).then(fan_out);
        assert_eq!(connections(&both), vec![vec!["c1"], vec!["c2", "c3"]]);
        let merged = both.and(Pushes::to_connection("b", "c4", &pong));
        assert_eq!(connections(&merged), vec![vec!["c1", "c4"], vec!["c2", "c3"]]);
        let without = merged.without_connection("c1").without_connection("c4");
        assert_eq!(connections(&without), vec![vec!["c2", "c3"]]);
        assert!(Pushes::to_connections(Vec::new(), &pong, None).waves.is_empty());
        assert!(Pushes::presence(None).waves.is_empty());
    }

    #[test]
    fn the_kind_and_request_of_an_event_are_read_back() {
        let pong = ServerEvent::Pong { request_id: Some("r-1".into()) }.to_json();
        assert_eq!(event_kind_and_request(&pong), ("pong".into(), Some("r-1".into())));
        assert_eq!(event_kind_and_request("not json"), ("unknown".into(), None));
    }

    #[test]
    fn presence_pushes_are_marked() {
        let announcement = Announcement { payload: "{}".into(), targets: targets(&[("b", "c1"), ("c", "c2")]) };
        let pushes = Pushes::presence(Some(announcement));
        assert_eq!(connections(&pushes), vec![vec!["c1", "c2"]]);
        assert!(pushes.waves[0].iter().all(|p| p.presence));
        let pong = ServerEvent::Pong { request_id: None };
        assert!(!Pushes::to_connection("a", "c", &pong).waves[0][0].presence);
    }
}
