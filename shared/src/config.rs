//! Configuration read once from the environment at init (template.yaml sets these variables).

use crate::error::{ChatError, Result};

mod events;
mod schedule;
mod tokens;
mod variables;
pub use events::EventsConfig;
pub use schedule::ScheduleConfig;
pub use tokens::TokenConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table holding everything durable (`CHAT_TABLE`).
    pub table: String,
    /// The access-token settings (`CHAT_JWT_*`, `CHAT_ACCESS_TOKEN_TTL_SECS`).
    pub tokens: TokenConfig,
    pub refresh_token_ttl_secs: i64,
    /// `https://{api}.execute-api.{region}.amazonaws.com/{stage}`; when unset, derived from the
    /// first WebSocket event's domainName and stage.
    pub management_endpoint: Option<String>,
    pub max_content_chars: usize,
    pub max_frame_bytes: usize,
    /// How long a `(sender, clientMsgId)` pair is remembered.
    pub idempotency_ttl_secs: i64,
    /// API Gateway closes a connection after 2 hours; no connection item outlives this.
    pub connection_ttl_secs: i64,
    /// API Gateway's idle timeout (`CHAT_CONNECTION_IDLE_SECS`, 600): a connection that sent no
    /// frame for this long has been closed, whether or not its `$disconnect` ran.
    pub connection_idle_secs: i64,
    /// A connection's last activity is written at most once per this many seconds
    /// (`CHAT_CONNECTION_REFRESH_SECS`, 300), not per frame (service/connections.rs).
    pub connection_refresh_secs: i64,

    // ---- rate limits, presence bounds (users branch). A limit of 0 turns that check off.
    /// WebSocket actions per user per window (`CHAT_WS_RATE_PER_MIN`, 120); `ping` is exempt.
    pub ws_rate_limit: u32,
    /// Length of that window (`CHAT_WS_RATE_WINDOW_SECS`, 60).
    pub ws_rate_window_secs: i64,
    /// Register and login attempts per source IP per window (`CHAT_AUTH_RATE_PER_IP_PER_MIN`, 60).
    pub auth_rate_per_ip: u32,
    /// Length of that window (`CHAT_AUTH_RATE_WINDOW_SECS`, 60).
    pub auth_rate_window_secs: i64,
    /// Login attempts per account per window (`CHAT_LOGIN_RATE_PER_ACCOUNT_PER_15MIN`, 10).
    pub login_rate_per_account: u32,
    /// Length of that window (`CHAT_LOGIN_RATE_WINDOW_SECS`, 900).
    pub login_rate_window_secs: i64,
    /// Presence and `/users/online` look at this many of a user's conversations at most
    /// (`CHAT_PRESENCE_MAX_CONVERSATIONS`, 100) ...
    pub presence_max_conversations: usize,
    /// ... skip group conversations and rooms with more members than this
    /// (`CHAT_PRESENCE_MAX_ROOM_MEMBERS`, 100) ...
    pub presence_max_room_members: usize,
    /// ... and tell at most this many distinct users (`CHAT_PRESENCE_MAX_CONTACTS`, 300).
    pub presence_max_contacts: usize,
    /// Scheduled and automated messages (`CHAT_SCHEDULE_*`, `CHAT_AUTO_*`, `CHAT_PLANNER_*`).
    pub scheduling: ScheduleConfig,
    /// Domain events and push notifications (`CHAT_EVENT_BUS`, `CHAT_*_PLATFORM_APPLICATION_ARN`).
    pub events: EventsConfig,

    // ---- attachments, calls, random matching (features branch)
    /// The attachments bucket (`CHAT_ATTACHMENTS_BUCKET`); unset: uploads are refused.
    pub attachments_bucket: Option<String>,
    /// How long an upload URL works (`CHAT_UPLOAD_URL_TTL_SECS`, 300).
    pub upload_url_ttl_secs: u64,
    /// How long a download URL works (`CHAT_DOWNLOAD_URL_TTL_SECS`, 3600).
    pub download_url_ttl_secs: u64,
    /// RTCIceServer objects for clients (`CHAT_ICE_SERVERS`, a JSON array; default `[]`).
    pub ice_servers: serde_json::Value,
    /// A waiting user leaves the pool after this long without matching (`CHAT_MATCH_WAIT_SECS`,
    /// 600: API Gateway's idle timeout, after which its connection is closed anyway).
    pub match_wait_secs: i64,
}

impl Config {
    pub const DEFAULT_MAX_CONTENT_CHARS: usize = 4000;
    pub const DEFAULT_MAX_FRAME_BYTES: usize = 32 * 1024;

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the same variables through `lookup`, so tests and the local gateway can build a
    /// config without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let required =
            |k: &str| lookup(k).filter(|v| !v.is_empty()).ok_or_else(|| ChatError::invalid(format!("{k} is not set")));
        let number = |k: &str, default: i64| -> Result<i64> {
            match lookup(k) {
                Some(v) if !v.is_empty() => {
                    v.parse().map_err(|_| ChatError::invalid(format!("{k} must be a whole number, got {v:?}")))
                }
                _ => Ok(default),
            }
        };
        let count = |k: &str, default: i64| -> Result<i64> {
            let v = number(k, default)?;
            if (0..=i64::from(u32::MAX)).contains(&v) {
                Ok(v)
            } else {
                Err(ChatError::invalid(format!("{k} must be 0 or more")))
            }
        };
        let positive = |k: &str, default: i64| -> Result<i64> {
            let v = number(k, default)?;
            if v > 0 { Ok(v) } else { Err(ChatError::invalid(format!("{k} must be at least 1"))) }
        };
        Ok(Self {
            table: required("CHAT_TABLE")?,
            tokens: TokenConfig::from_lookup(&lookup)?,
            refresh_token_ttl_secs: number("CHAT_REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            management_endpoint: lookup("CHAT_MANAGEMENT_ENDPOINT").filter(|v| !v.is_empty()),
            max_content_chars: number("CHAT_MAX_CONTENT_CHARS", Self::DEFAULT_MAX_CONTENT_CHARS as i64)? as usize,
            max_frame_bytes: number("CHAT_MAX_FRAME_BYTES", Self::DEFAULT_MAX_FRAME_BYTES as i64)? as usize,
            idempotency_ttl_secs: number("CHAT_IDEMPOTENCY_TTL_SECS", 7 * 24 * 3600)?,
            connection_ttl_secs: number("CHAT_CONNECTION_TTL_SECS", 2 * 3600 + 600)?,
            connection_idle_secs: positive("CHAT_CONNECTION_IDLE_SECS", 600)?,
            connection_refresh_secs: positive("CHAT_CONNECTION_REFRESH_SECS", 300)?,
            ws_rate_limit: count("CHAT_WS_RATE_PER_MIN", 120)? as u32,
            ws_rate_window_secs: positive("CHAT_WS_RATE_WINDOW_SECS", 60)?,
            auth_rate_per_ip: count("CHAT_AUTH_RATE_PER_IP_PER_MIN", 60)? as u32,
            auth_rate_window_secs: positive("CHAT_AUTH_RATE_WINDOW_SECS", 60)?,
            login_rate_per_account: count("CHAT_LOGIN_RATE_PER_ACCOUNT_PER_15MIN", 10)? as u32,
            login_rate_window_secs: positive("CHAT_LOGIN_RATE_WINDOW_SECS", 900)?,
            presence_max_conversations: positive("CHAT_PRESENCE_MAX_CONVERSATIONS", 100)? as usize,
            presence_max_room_members: positive("CHAT_PRESENCE_MAX_ROOM_MEMBERS", 100)? as usize,
            presence_max_contacts: positive("CHAT_PRESENCE_MAX_CONTACTS", 300)? as usize,
            scheduling: ScheduleConfig::from_lookup(&lookup)?,
            events: EventsConfig::from_lookup(&lookup)?,
            attachments_bucket: lookup("CHAT_ATTACHMENTS_BUCKET").filter(|v| !v.is_empty()),
            upload_url_ttl_secs: positive("CHAT_UPLOAD_URL_TTL_SECS", 300)? as u64,
            download_url_ttl_secs: positive("CHAT_DOWNLOAD_URL_TTL_SECS", 3600)? as u64,
            ice_servers: ice_servers(lookup("CHAT_ICE_SERVERS"))?,
            match_wait_secs: positive("CHAT_MATCH_WAIT_SECS", 600)?,
        })
    }
}

/// `CHAT_ICE_SERVERS`: a JSON array of RTCIceServer objects, each with `urls`.
fn ice_servers(raw: Option<String>) -> Result<serde_json::Value> {
    let raw = raw.filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "[]".into());
    let value: serde_json::Value =
        serde_json::from_str(&raw).map_err(|e| ChatError::invalid(format!("CHAT_ICE_SERVERS is not JSON: {e}")))?;
    let valid = value.as_array().is_some_and(|servers| servers.iter().all(|s| s.get("urls").is_some()));
    if !valid {
        return Err(ChatError::invalid("CHAT_ICE_SERVERS must be a JSON array of objects with `urls`"));
    }
    Ok(value)
}
