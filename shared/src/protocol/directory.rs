//! Wire types of user search, presence and `/stats` (docs/protocol.md, "Users, presence, limits and stats").

use serde::Serialize;

use crate::domain::User;

/// `GET /users?q=`: public users (never an email), in username order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    /// Public users (no email), in username order.
    pub users: Vec<User>,
    #[schema(value_type = crate::openapi::Cursor)]
    pub next_cursor: Option<String>,
}

/// `GET /users/online`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnlineUsers {
    /// Online users (public view) who share at least one conversation with the caller.
    pub users: Vec<User>,
}

/// `GET /stats`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub users: u64,
    pub online_users: u64,
    /// Open WebSocket connections.
    pub connections: u64,
    pub messages_last24h: u64,
}

/// What one run of the connection sweep did (its Lambda answer, and its log line).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Connections found past their expiry (silent past the idle timeout, `$disconnect` lost).
    pub expired: usize,
    /// Of those, removed now (the others were refreshed or removed meanwhile, or failed).
    pub removed: usize,
    /// Removals that failed; the next run tries them again.
    pub failed: usize,
    /// Users left with no connection: `offline` announced to their contacts.
    pub offline: usize,
    /// More expired connections than one run takes: the next run goes on.
    pub more: bool,
}

/// The `presence` event: `{type:"presence",userId,online,lastSeen}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub user_id: &'a str,
    pub online: bool,
    pub last_seen: &'a str,
}

impl<'a> PresenceEvent<'a> {
    pub fn new(user_id: &'a str, online: bool, last_seen: &'a str) -> Self {
        Self { kind: "presence", user_id, online, last_seen }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("presence events always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let v: serde_json::Value =
            serde_json::from_str(&PresenceEvent::new("u1", true, "2026-01-01T00:00:00.000Z").to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"presence","userId":"u1","online":true,"lastSeen":"2026-01-01T00:00:00.000Z"})
        );
        let stats = Stats { users: 1, online_users: 2, connections: 3, messages_last24h: 4 };
        assert_eq!(
            serde_json::to_value(stats).unwrap(),
            serde_json::json!({"users":1,"onlineUsers":2,"connections":3,"messagesLast24h":4})
        );
    }
}
