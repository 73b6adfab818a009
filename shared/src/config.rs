//! Configuration read once from the environment at init (template.yaml sets these variables).

use crate::error::{ChatError, Result};

mod schedule;
pub use schedule::ScheduleConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table holding everything durable (`CHAT_TABLE`).
    pub table: String,
    /// HS256 secret for access tokens (`CHAT_JWT_SECRET`, at least 32 bytes).
    pub jwt_secret: String,
    pub jwt_issuer: String,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// `https://{api}.execute-api.{region}.amazonaws.com/{stage}`; when unset, derived from the
    /// first WebSocket event's domainName and stage.
    pub management_endpoint: Option<String>,
    pub max_content_chars: usize,
    pub max_frame_bytes: usize,
    /// How long a `(sender, clientMsgId)` pair is remembered.
    pub idempotency_ttl_secs: i64,
    /// API Gateway closes a connection after 2 hours; the connection item lives a little longer.
    pub connection_ttl_secs: i64,
    /// Scheduled and automated messages (`CHAT_SCHEDULE_*`, `CHAT_AUTO_*`, `CHAT_PLANNER_*`).
    pub scheduling: ScheduleConfig,
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
        let jwt_secret = required("CHAT_JWT_SECRET")?;
        if jwt_secret.len() < 32 {
            return Err(ChatError::invalid("CHAT_JWT_SECRET must be at least 32 bytes"));
        }
        Ok(Self {
            table: required("CHAT_TABLE")?,
            jwt_secret,
            jwt_issuer: lookup("CHAT_JWT_ISSUER").filter(|v| !v.is_empty()).unwrap_or_else(|| "chat-backend".into()),
            access_token_ttl_secs: number("CHAT_ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_token_ttl_secs: number("CHAT_REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            management_endpoint: lookup("CHAT_MANAGEMENT_ENDPOINT").filter(|v| !v.is_empty()),
            max_content_chars: number("CHAT_MAX_CONTENT_CHARS", Self::DEFAULT_MAX_CONTENT_CHARS as i64)? as usize,
            max_frame_bytes: number("CHAT_MAX_FRAME_BYTES", Self::DEFAULT_MAX_FRAME_BYTES as i64)? as usize,
            idempotency_ttl_secs: number("CHAT_IDEMPOTENCY_TTL_SECS", 7 * 24 * 3600)?,
            connection_ttl_secs: number("CHAT_CONNECTION_TTL_SECS", 2 * 3600 + 600)?,
            scheduling: ScheduleConfig::from_lookup(&lookup)?,
        })
    }
}
