//! Presence: `{type:"presence",userId,online,lastSeen}` to the users who share a conversation with
//! a user, when its FIRST connection opens and when its LAST one closes (or is found gone).
//!
//! **First and last are decided after the write, on a strongly consistent read** of the user's
//! connections (`USER#id`, `CONN#…`):
//! - `$connect` writes its connection, then reads them all; it announces `online` only if its own
//!   connection is the oldest present (by `connectedAt`, then id). Two devices connecting at the
//!   same moment both see each other (or the earlier one sees only itself): exactly one is the
//!   oldest, so at least one announces, and normally exactly one. A duplicate is possible only if
//!   the clocks of two Lambdas disagree by more than the gap between the two writes; a duplicate
//!   `online` is harmless, a missing one would not be.
//! - `$disconnect` deletes its connection, then reads: `offline` only if none remain. Of two
//!   devices closing together, the later read sees none, so at least one announces (two reads
//!   after both deletes announce twice: harmless).
//!
//! The alternative, a per-user connection counter (`ADD conns :1/-1`), is one write cheaper but
//! drifts for ever when a `$disconnect` is lost; the read uses the items that TTL also cleans up.
//! Events from different Lambdas may arrive out of order: `lastSeen` (set on connect and on
//! disconnect) orders them, so clients keep the event with the later `lastSeen`.
//!
//! **Bounded fan-out.** Contacts are found through at most `presence_max_conversations` of the
//! user's conversations (gsi1 `USER#id`); direct conversations name their members in the id, other
//! conversations are read (bounded) and skipped when they have more than
//! `presence_max_room_members` members; at most `presence_max_contacts` users are told. Presence
//! is never a broadcast to everyone. Failures are logged and never fail `$connect`/`$disconnect`.
//!
//! This module decides what to announce and to whom; it sends nothing. `$connect` and
//! `$disconnect` return its announcement as their pushes, and `service::push::deliver` asks it
//! about the users whose connections a push found gone.

use std::collections::BTreeSet;

use crate::App;
use crate::domain::conversation::direct_members;
use crate::domain::time;
use crate::error::Result;
use crate::ports::ConnectionInfo;
use crate::protocol::directory::PresenceEvent;

/// A presence event and the connections it goes to. `service::push` turns it into pushes whose
/// gone connections are removed without another presence round (bounded work per event).
#[derive(Debug, Clone)]
pub struct Announcement {
    /// The `presence` event, as JSON.
    pub payload: String,
    /// `(user id, connection id)` of every open connection of every contact.
    pub targets: Vec<(String, String)>,
}

/// Whether `connection_id` is the oldest of `connections` (by `connectedAt`, then id). A
/// connection missing from the list (the read raced its own delete) is never the oldest.
pub fn is_oldest(connections: &[ConnectionInfo], connection_id: &str) -> bool {
    connections
        .iter()
        .min_by(|a, b| (&a.connected_at, &a.connection_id).cmp(&(&b.connected_at, &b.connection_id)))
        .is_some_and(|oldest| oldest.connection_id == connection_id)
}

/// After `$connect` stored `connection_id`: sets `lastSeen`, and `online` is to be announced if
/// this is the user's first connection. Never fails.
pub async fn online(app: &App, user_id: &str, connection_id: &str) -> Option<Announcement> {
    let now = time::rfc3339(time::now());
    let (touched, connections) =
        tokio::join!(app.directory.touch_last_seen(user_id, &now), app.directory.connection_details(user_id));
    if let Err(e) = touched {
        tracing::warn!(user = %user_id, error = %e, "could not set lastSeen");
    }
    match connections {
        Ok(connections) if is_oldest(&connections, connection_id) => announcement(app, user_id, true, &now).await,
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(user = %user_id, error = %e, "presence: cannot read connections");
            None
        }
    }
}

/// After a connection of `user_id` was removed (`$disconnect`, or found gone on a push): sets
/// `lastSeen`, and `offline` is to be announced if no connection remains. Never fails.
pub async fn offline(app: &App, user_id: &str) -> Option<Announcement> {
    let now = time::rfc3339(time::now());
    let (touched, connections) =
        tokio::join!(app.directory.touch_last_seen(user_id, &now), app.directory.connection_details(user_id));
    if let Err(e) = touched {
        tracing::warn!(user = %user_id, error = %e, "could not set lastSeen");
    }
    match connections {
        Ok(connections) if connections.is_empty() => announcement(app, user_id, false, &now).await,
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(user = %user_id, error = %e, "presence: cannot read connections");
            None
        }
    }
}

/// The users who share a conversation with `user_id` (not `user_id` itself), within the bounds
/// of the config (see the module docs). Sorted, without duplicates.
pub async fn contacts(app: &App, user_id: &str) -> Result<Vec<String>> {
    let c = &app.config;
    let (conversations, more) = app.directory.conversations_of(user_id, c.presence_max_conversations).await?;
    if more {
        tracing::info!(user = %user_id, max = c.presence_max_conversations, "presence: conversations capped");
    }
    let mut users = BTreeSet::new();
    let mut others = Vec::new();
    for id in conversations {
        match direct_members(&id) {
            Some(pair) => users.extend(pair),
            None => others.push(id),
        }
    }
    let reads = others.iter().map(|id| app.directory.member_ids(id, c.presence_max_room_members));
    for (id, members) in others.iter().zip(futures::future::join_all(reads).await) {
        match members? {
            Some(members) => users.extend(members),
            None => tracing::debug!(conversation = %id, "presence: conversation too large, skipped"),
        }
    }
    users.remove(user_id);
    Ok(users.into_iter().take(c.presence_max_contacts).collect())
}

/// The presence event for every open connection of every contact (None when they cannot be read:
/// presence never fails the event it rides on).
async fn announcement(app: &App, user_id: &str, online: bool, last_seen: &str) -> Option<Announcement> {
    let contacts = match contacts(app, user_id).await {
        Ok(contacts) => contacts,
        Err(e) => {
            tracing::warn!(user = %user_id, error = %e, "presence: cannot list contacts");
            return None;
        }
    };
    match app.store.connections_of_users(&contacts).await {
        Ok(targets) => {
            Some(Announcement { payload: PresenceEvent::new(user_id, online, last_seen).to_json(), targets })
        }
        Err(e) => {
            tracing::warn!(user = %user_id, error = %e, "presence: cannot read the contacts' connections");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: &str, at: &str) -> ConnectionInfo {
        ConnectionInfo { connection_id: id.into(), connected_at: at.into() }
    }

    #[test]
    fn the_oldest_connection_announces() {
        let a = conn("a", "2026-01-01T00:00:00.001Z");
        let b = conn("b", "2026-01-01T00:00:00.002Z");
        assert!(is_oldest(std::slice::from_ref(&a), "a"));
        assert!(is_oldest(&[b.clone(), a.clone()], "a"));
        assert!(!is_oldest(&[a.clone(), b.clone()], "b"));
        // same millisecond: the smaller id wins, so exactly one of the two announces
        let c = conn("c", "2026-01-01T00:00:00.001Z");
        assert!(is_oldest(&[a.clone(), c.clone()], "a") ^ is_oldest(&[a.clone(), c.clone()], "c"));
        // a read that does not contain the connection itself never announces
        assert!(!is_oldest(&[b], "a"));
        assert!(!is_oldest(&[], "a"));
    }
}
