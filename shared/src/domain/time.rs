//! Timestamps: RFC 3339 UTC with milliseconds on the wire, epoch seconds for TTL attributes.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Now in epoch milliseconds (a ULID's time unit).
pub fn now_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The RFC 3339 time encoded in a ULID (millisecond precision), so `createdAt` and `id` agree.
pub fn rfc3339_of_ulid(id: ulid::Ulid) -> String {
    let ms = id.timestamp_ms() as i64;
    rfc3339(Utc.timestamp_millis_opt(ms).single().unwrap_or_else(Utc::now))
}
