//! Scheduled and automated messages (docs/architecture.md, "Scheduled and automated messages"):
//! schedule, list and cancel (REST); the dispatcher that moves due messages to SQS; the worker that
//! sends them exactly as `send` does; the daily planner of automated messages; and the activity
//! index the planner reads.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;

use crate::App;
use crate::domain::conversation::{direct_conversation_id, validate_conversation_id};
use crate::domain::id::is_ulid;
use crate::domain::message::validate_content;
use crate::domain::page::PageLimit;
use crate::domain::schedule::{self, ScheduleStatus, ScheduledMessage, day_of, last_days, parse_time};
use crate::domain::{MessageKind, new_id, time};
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::{Cancel, Claimed, DueEntry, QueueEntry, ScheduleStore};
use crate::protocol::scheduled::{DispatchReport, PlanReport, ScheduleBody, ScheduledPage};
use crate::service::messaging::{self, SendInput};

pub const LIST_LIMIT: PageLimit = PageLimit::new(50, 100);
/// Due entries read per index query.
const DUE_PAGE: usize = 100;
/// SendMessageBatch takes 10 entries.
const SQS_BATCH: usize = 10;
/// Concurrent conditional writes (claims, confirmations, planned pairs) per invocation.
const CONCURRENCY: usize = 16;
/// A dispatcher run stops taking new pages after this long; the next run (a minute later) goes on.
const DISPATCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(40);

fn store(app: &App) -> Result<&dyn ScheduleStore> {
    app.schedules.as_deref().ok_or_else(|| ChatError::internal("this App has no schedule store"))
}

// ------------------------------------------------------------------------------------------ REST

/// `POST /scheduled-messages`: a message the caller sends later, to a conversation it is in.
/// One request: a transaction that checks membership and stores the item with its due-index key.
pub async fn schedule(app: &App, caller: &str, body: ScheduleBody) -> Result<ScheduledMessage> {
    let cfg = &app.config.scheduling;
    validate_conversation_id(&body.conversation_id)?;
    validate_content(&body.content, app.config.max_content_chars)?;
    let now = time::now();
    let send_at = parse_time(&body.send_at)?;
    schedule::validate_send_at(
        send_at,
        now,
        Duration::seconds(cfg.min_lead_secs),
        Duration::seconds(cfg.max_lead_secs),
    )?;
    let message = ScheduledMessage {
        id: new_id(),
        conversation_id: body.conversation_id,
        sender_id: caller.to_string(),
        recipient_id: None,
        kind: MessageKind::Text,
        content: body.content,
        send_at: time::rfc3339(send_at),
        status: ScheduleStatus::Scheduled,
        created_at: time::rfc3339(now),
        queued_at: None,
        sent_at: None,
        message_id: None,
        error: None,
    };
    if !store(app)?.put_scheduled(&message).await? {
        return Err(ChatError::not_found("conversation"));
    }
    Ok(message)
}

/// `GET /scheduled-messages`: the caller's own, newest first, with their status.
pub async fn list(app: &App, caller: &str, limit: Option<usize>, cursor: Option<&str>) -> Result<ScheduledPage> {
    let limit = LIST_LIMIT.check(limit)?;
    if let Some(cursor) = cursor
        && !is_ulid(cursor)
    {
        return Err(ChatError::invalid("cursor is not a scheduled message id"));
    }
    let (scheduled_messages, more) = store(app)?.list_scheduled(caller, cursor, limit).await?;
    let next_cursor = if more { scheduled_messages.last().map(|m| m.id.clone()) } else { None };
    Ok(ScheduledPage { scheduled_messages, next_cursor })
}

/// `DELETE /scheduled-messages/{id}`: only while it is not yet queued (then `conflict`).
pub async fn cancel(app: &App, caller: &str, id: &str) -> Result<()> {
    if !is_ulid(id) {
        return Err(ChatError::not_found("scheduled message"));
    }
    match store(app)?.cancel_scheduled(caller, id).await? {
        Cancel::Cancelled => Ok(()),
        Cancel::NotFound => Err(ChatError::not_found("scheduled message")),
        Cancel::TooLate => Err(ChatError::conflict("the message is already queued for sending")),
    }
}

// ------------------------------------------------------------------------------------ dispatcher

/// Moves every message due by `now` (+ the look-ahead) from the due index to SQS.
///
/// Per message: a conditional claim (`scheduled` → `queued`, the due key moved to a lease), one
/// tenth of a SendMessageBatch, and a confirmation that takes it out of the index. Two runs at
/// once never both claim a message (the claim is conditional on the due key it was read under).
/// A run that dies between its claim and SQS leaves the lease in the index: the message is due
/// again when the lease runs out, and the worker's idempotency covers the case where SQS did get
/// it. A message SQS refuses goes straight back to `scheduled`.
pub async fn dispatch(app: &App, now: DateTime<Utc>) -> Result<DispatchReport> {
    let store = store(app)?;
    let queue = app.queue.as_deref().ok_or_else(|| ChatError::internal("CHAT_SCHEDULE_QUEUE_URL is not set"))?;
    let cfg = &app.config.scheduling;
    let until = now + Duration::seconds(cfg.lookahead_secs);
    let started = Instant::now();
    let shards = store.due_shards().map(|shard| async move {
        let mut report = DispatchReport::default();
        let mut send_error = None;
        loop {
            let due: Vec<DueEntry> = store.due_scheduled(shard, until, DUE_PAGE).await?;
            let read = due.len();
            report.due += read;
            let claims: Vec<Claimed> = futures::stream::iter(due)
                .map(|entry| async move {
                    let lease_until =
                        entry.message.send_at_time().unwrap_or(now).max(now) + Duration::seconds(cfg.lease_secs);
                    store.claim_scheduled(&entry, time::now(), lease_until).await
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            report.lost_races += read - claims.len();
            let claimed = claims.len();
            for chunk in claims.chunks(SQS_BATCH) {
                let sent_at = time::now();
                let entries: Vec<QueueEntry> = chunk
                    .iter()
                    .map(|c| QueueEntry {
                        id: c.message.id.clone(),
                        body: serde_json::to_string(&c.message).unwrap_or_default(),
                        delay_secs: delay_until(&c.message, sent_at),
                    })
                    .collect();
                let refused = match queue.send_batch(&entries).await {
                    Ok(refused) => refused,
                    Err(e) => {
                        send_error = Some(e);
                        entries.iter().map(|e| e.id.clone()).collect()
                    }
                };
                let settle =
                    chunk.iter().map(|claim| {
                        let refused = refused.contains(&claim.message.id);
                        async move {
                            if refused { store.release_claim(claim).await } else { store.confirm_queued(claim).await }
                        }
                    });
                for result in futures::future::join_all(settle).await {
                    result?;
                }
                report.released += refused.len();
                report.queued += chunk.len() - refused.len();
            }
            // Stop when the shard is drained, nothing could be claimed (stale index reads), SQS
            // failed (the next run retries) or the time budget is spent.
            if read < DUE_PAGE || claimed == 0 || send_error.is_some() || started.elapsed() > DISPATCH_BUDGET {
                break;
            }
        }
        Ok::<_, ChatError>((report, send_error))
    });
    let mut total = DispatchReport::default();
    let mut first_error = None;
    for result in futures::future::join_all(shards).await {
        let (report, send_error) = result?;
        total.due += report.due;
        total.queued += report.queued;
        total.lost_races += report.lost_races;
        total.released += report.released;
        first_error = first_error.or(send_error);
    }
    tracing::info!(
        due = total.due,
        queued = total.queued,
        lost_races = total.lost_races,
        released = total.released,
        "dispatched"
    );
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// The SQS delay that makes a message visible at its `sendAt` (0 when due already).
fn delay_until(message: &ScheduledMessage, now: DateTime<Utc>) -> i32 {
    match message.send_at_time() {
        Ok(at) if at > now => ((at - now).num_milliseconds() as f64 / 1000.0).ceil().min(900.0) as i32,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------- worker

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkOutcome {
    /// Stored and pushed; `duplicate` when an earlier delivery had stored it already.
    Sent { message_id: String, duplicate: bool },
    /// A permanent error (the sender left the conversation, say): marked `failed`, not retried.
    Failed(String),
}

/// Sends a queued message exactly as `send` would: stored once (its `clientMsgId` is
/// `sched-{id}`, so a redelivery finds the first message), pushed to every open connection of
/// every member, then marked `sent`. An `Err` is worth retrying (SQS redelivers it).
pub async fn send_scheduled(app: &App, message: &ScheduledMessage) -> Result<WorkOutcome> {
    let store = store(app)?;
    let cfg = &app.config.scheduling;
    let input = if message.is_auto() {
        // The pair's direct conversation, opened by the first message if it does not exist yet.
        SendInput { to: message.recipient_id.clone(), ..SendInput::default() }
    } else {
        SendInput { conversation_id: Some(message.conversation_id.clone()), ..SendInput::default() }
    };
    let input = SendInput {
        sender_id: message.sender_id.clone(),
        content: Some(message.content.clone()),
        client_msg_id: message.client_msg_id(),
        kind: Some(message.kind),
        origin_connection: None,
        ..input
    };
    let expires_at = time::now().timestamp() + cfg.sent_ttl_secs;
    // Exactly as `send`: stored, pushed, the message counted.
    match messaging::send_message(app, input).await {
        Ok((sent, pushes)) => {
            messaging::deliver_sent(app, &sent, pushes).await.log("scheduled message");
            let sent_at = sent.message.created_at.clone();
            store.mark_sent(message, &sent.message.id, &sent_at, expires_at).await?;
            Ok(WorkOutcome::Sent { message_id: sent.message.id, duplicate: sent.duplicate })
        }
        Err(e) if permanent(e.code) => {
            tracing::warn!(id = %message.id, error = %e, "scheduled message cannot be sent");
            store.mark_failed(message, &e.message, expires_at).await?;
            Ok(WorkOutcome::Failed(e.message))
        }
        Err(e) => Err(e),
    }
}

fn permanent(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::InvalidInput | ErrorCode::NotFound | ErrorCode::Forbidden | ErrorCode::PayloadTooLarge)
}

// --------------------------------------------------------------------------------------- planner

/// Plans the automated messages of `run_at`'s UTC day: pairs the users seen in the last
/// `active_days` days at random and gives each pair one `auto` message at a random time within
/// the window. Users already planned for the day are left out, so a second run plans nothing
/// twice (and a run cut short is completed by the next).
///
/// The message is sent as the first user of the shuffled pair: random, so neither side is
/// always the one who "speaks first", and `kind: auto` tells clients nobody typed it.
pub async fn plan(app: &App, run_at: DateTime<Utc>) -> Result<PlanReport> {
    let store = store(app)?;
    let cfg = &app.config.scheduling;
    let day = day_of(run_at);
    let mut report = PlanReport { day: day.clone(), enabled: cfg.planner_enabled, ..PlanReport::default() };
    if !cfg.planner_enabled {
        tracing::info!("planner disabled (CHAT_PLANNER_ENABLED=false)");
        return Ok(report);
    }
    if cfg.auto_messages.is_empty() {
        tracing::warn!("CHAT_AUTO_MESSAGES is empty: nothing to plan");
        return Ok(report);
    }
    let mut users: Vec<String> = store.active_users(&last_days(run_at, cfg.active_days)).await?.into_iter().collect();
    users.sort();
    report.active_users = users.len();
    let planned = store.planned_users(&day, &users).await?;
    users.retain(|u| !planned.contains(u));
    report.already_planned = report.active_users - users.len();
    shuffle(&mut users);
    report.unpaired = users.len() % 2;

    let now = time::now();
    let claim_expires_at = run_at.timestamp() + 2 * 24 * 3600;
    let window_ms = cfg.auto_window_secs * 1000;
    let day = &day;
    // Owned pairs: a stream over borrowed chunks would not be `Send` for every lifetime.
    let pairs: Vec<(String, String)> = users.chunks_exact(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    let results: Vec<Result<bool>> = futures::stream::iter(pairs)
        .map(|(sender, recipient)| async move {
            let (sender, recipient) = (&sender, &recipient);
            let content = cfg.auto_messages[random_below(cfg.auto_messages.len() as u64) as usize].clone();
            let send_at = now + Duration::milliseconds(random_below(window_ms as u64) as i64);
            let message = ScheduledMessage {
                id: new_id(),
                conversation_id: direct_conversation_id(sender, recipient),
                sender_id: sender.clone(),
                recipient_id: Some(recipient.clone()),
                kind: MessageKind::Auto,
                content,
                send_at: time::rfc3339(send_at),
                status: ScheduleStatus::Scheduled,
                created_at: time::rfc3339(now),
                queued_at: None,
                sent_at: None,
                message_id: None,
                error: None,
            };
            store.plan_pair(day, [sender, recipient], &message, claim_expires_at).await
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for result in results {
        if result? {
            report.pairs_planned += 1;
        } else {
            report.pairs_lost += 1;
        }
    }
    tracing::info!(?report, "planned automated messages");
    Ok(report)
}

/// Records that the user was seen today, for the planner's "active in the last 7 days".
/// Best effort: a failure is logged and never fails the login or connection it rides on.
pub async fn seen(app: &App, user_id: &str) {
    let Some(store) = app.schedules.as_deref() else { return };
    let now = time::now();
    let expires_at = now.timestamp() + (app.config.scheduling.active_days as i64 + 1) * 24 * 3600;
    if let Err(e) = store.mark_active(user_id, &day_of(now), expires_at).await {
        tracing::warn!(user = %user_id, error = %e, "could not record activity");
    }
}

/// A uniform random number below `n` (n > 0), from the OS.
fn random_below(n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    // Rejection sampling: no modulo bias.
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("OS randomness");
        let v = u64::from_le_bytes(bytes);
        if v < zone {
            return v % n;
        }
    }
}

/// Fisher–Yates.
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, random_below(i as u64 + 1) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_numbers_stay_in_range_and_shuffles_keep_items() {
        for n in [1u64, 2, 3, 7, 1000] {
            assert!((0..200).all(|_| random_below(n) < n));
        }
        let mut v: Vec<u32> = (0..50).collect();
        shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn delays_end_at_send_at() {
        let now = parse_time("2030-01-01T00:00:00Z").unwrap();
        let mut m = ScheduledMessage {
            id: new_id(),
            conversation_id: "c".into(),
            sender_id: "u".into(),
            recipient_id: None,
            kind: MessageKind::Text,
            content: "x".into(),
            send_at: "2030-01-01T00:00:12.300Z".into(),
            status: ScheduleStatus::Queued,
            created_at: "2029-01-01T00:00:00Z".into(),
            queued_at: None,
            sent_at: None,
            message_id: None,
            error: None,
        };
        assert_eq!(delay_until(&m, now), 13);
        m.send_at = "2029-12-31T23:00:00.000Z".into();
        assert_eq!(delay_until(&m, now), 0);
        m.send_at = "2030-01-02T00:00:00.000Z".into();
        assert_eq!(delay_until(&m, now), 900);
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        assert!(permanent(ErrorCode::NotFound));
        assert!(!permanent(ErrorCode::Internal));
        assert!(!permanent(ErrorCode::RateLimited));
    }
}
