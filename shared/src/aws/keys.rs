//! The single table's key layout (docs/data-model.md lists every access pattern).
//!
//! | item                | pk                       | sk               | gsi1pk / gsi1sk        |
//! |---------------------|--------------------------|------------------|------------------------|
//! | user profile        | `USER#{id}`              | `PROFILE`        |                        |
//! | username claim      | `USERNAME#{lower}`       | `UNIQUE`         |                        |
//! | email claim         | `EMAIL#{lower}`          | `UNIQUE`         |                        |
//! | connection          | `USER#{id}`              | `CONN#{connId}`  |                        |
//! | refresh family      | `RTF#{familyId}`         | `FAMILY`         |                        |
//! | refresh token       | `RTF#{familyId}`         | `RT#{sha256}`    |                        |
//! | conversation        | `CONV#{id}`              | `META`           |                        |
//! | member              | `CONV#{id}`              | `MEMBER#{user}`  | `USER#{user}` / `CONV#{id}` |
//! | message             | `CONV#{id}`              | `MSG#{ulid}`     |                        |
//! | idempotency record  | `IDEM#{sender}#{client}` | `IDEM`           |                        |

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The TTL attribute (epoch seconds). DynamoDB deletes lazily, so reads check it too.
pub const EXPIRES_AT: &str = "expiresAt";

pub const PROFILE: &str = "PROFILE";
pub const UNIQUE: &str = "UNIQUE";
pub const FAMILY: &str = "FAMILY";
pub const META: &str = "META";
pub const IDEM: &str = "IDEM";
pub const CONN_PREFIX: &str = "CONN#";
/// The user's set of open connection ids (`USER#{id}` / `CONNSET`): fan-out reads 100 users
/// per BatchGetItem instead of one Query per user. ("CONNSET" never begins with "CONN#".)
pub const CONNECTION_SET: &str = "CONNSET";
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const MSG_PREFIX: &str = "MSG#";
pub const CONV_PREFIX: &str = "CONV#";
/// The sparse index over membership items (`gsi1pk = USER#{id}`, `gsi1sk = CONV#{id}`).
pub const GSI1: &str = "gsi1";
/// Sorts right after every `MSG#…` key ('$' follows '#').
pub const MSG_END: &str = "MSG$";

pub fn user(id: &str) -> String {
    format!("USER#{id}")
}
pub fn username(lower: &str) -> String {
    format!("USERNAME#{lower}")
}
pub fn email(lower: &str) -> String {
    format!("EMAIL#{lower}")
}
pub fn connection(id: &str) -> String {
    format!("{CONN_PREFIX}{id}")
}
pub fn refresh_family(id: &str) -> String {
    format!("RTF#{id}")
}
pub fn refresh_token(hash: &str) -> String {
    format!("RT#{hash}")
}
pub fn conversation(id: &str) -> String {
    format!("CONV#{id}")
}
pub fn member(user_id: &str) -> String {
    format!("{MEMBER_PREFIX}{user_id}")
}
pub fn message(id: &str) -> String {
    format!("{MSG_PREFIX}{id}")
}
pub fn idempotency(sender: &str, client_msg_id: &str) -> String {
    format!("IDEM#{sender}#{client_msg_id}")
}

// ---------------------------------------------------------------- users, presence, limits, stats
//
// | item                    | pk                                 | sk        | gsi1pk / gsi1sk                       |
// |-------------------------|------------------------------------|-----------|---------------------------------------|
// | user profile (search)   | `USER#{id}`                        | `PROFILE` | `UNAME#{first char}` / `{lower name}` |
// | connection (stats)      | `USER#{id}`                        | `CONN#…`  | `CONNS#{shard}` / `{expiresAt}#{user}#{conn}` |
// | rate-limit window       | `RATE#{scope}#{key}`               | `W#{start}` |                                     |
// | users counter           | `STATS#USERS`                      | `COUNT`   |                                       |
// | messages per hour       | `STATS#MSGS#{yyyymmddhh}#{shard}`  | `COUNT`   |                                       |

/// The gsi1 attributes. Membership items use `USER#…` there; these prefixes never collide with it.
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const COUNT: &str = "COUNT";
/// Connection items are spread over this many gsi1 partitions (`CONNS#0`…), so connects and
/// disconnects never make one hot index partition.
pub const CONNECTION_SHARDS: u32 = 4;
/// Message counters per hour are spread over this many items; 24 hours × 4 = 96 keys, one BatchGetItem.
pub const MESSAGE_COUNTER_SHARDS: u32 = 4;

/// Username search partition: the first character of the lowercase username.
pub fn username_index(lower: &str) -> String {
    let first: String = lower.chars().take(1).collect();
    format!("UNAME#{first}")
}
/// The gsi1 shard of a connection: a stable spread of its id over `CONNECTION_SHARDS`.
pub fn connection_shard(connection_id: &str) -> u32 {
    spread(connection_id, CONNECTION_SHARDS)
}
/// The counter shard of a message: a stable spread of its id over `MESSAGE_COUNTER_SHARDS`.
pub fn message_counter_shard(message_id: &str) -> u32 {
    spread(message_id, MESSAGE_COUNTER_SHARDS)
}
/// FNV-1a: stable across builds (the std hasher is not), good enough to spread ids.
fn spread(key: &str, buckets: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % buckets.max(1)
}
pub fn connection_index(shard: u32) -> String {
    format!("CONNS#{shard}")
}
/// Sorts by expiry first, so `gsi1sk > "{now}"` skips connections past their TTL.
pub fn connection_index_sort(expires_at: i64, user_id: &str, connection_id: &str) -> String {
    format!("{expires_at:012}#{user_id}#{connection_id}")
}
pub fn rate_limit(scope: &str, key: &str) -> String {
    format!("RATE#{scope}#{key}")
}
pub fn rate_window(start: i64) -> String {
    format!("W#{start}")
}
pub const USERS_COUNTER: &str = "STATS#USERS";
pub fn messages_counter(hour: &str, shard: u32) -> String {
    format!("STATS#MSGS#{hour}#{shard}")
}

// Scheduled and automated messages (docs/data-model.md, "Scheduled messages"):
//
// | item                 | pk              | sk             | duePk / dueSk (index `due`)            |
// |----------------------|-----------------|----------------|----------------------------------------|
// | scheduled message    | `USER#{sender}` | `SCHED#{id}`   | `DUE#{shard}` / `{dueAt}#{id}` until it is queued |
// | automated message    | `USER#{sender}` | `AUTO#{id}`    | same                                   |
// | planner claim        | `USER#{user}`   | `PLAN#{day}`   |                                        |
// | activity (seen on)   | `ACTIVE#{day}`  | `USER#{user}`  |                                        |

/// The sparse GSI of messages waiting to be queued, and its key attributes.
pub const DUE_INDEX: &str = "due";
pub const DUE_PK: &str = "duePk";
pub const DUE_SK: &str = "dueSk";
/// The due index is spread over this many partitions (each takes 1,000 writes/s); the dispatcher
/// queries them all. Changing it strands entries in shards no longer queried: only ever add.
pub const DUE_SHARDS: u32 = 4;
pub const SCHED_PREFIX: &str = "SCHED#";
/// Sorts right after every `SCHED#…` key.
pub const SCHED_END: &str = "SCHED$";
pub const AUTO_PREFIX: &str = "AUTO#";

pub fn scheduled(id: &str) -> String {
    format!("{SCHED_PREFIX}{id}")
}
pub fn auto_scheduled(id: &str) -> String {
    format!("{AUTO_PREFIX}{id}")
}
pub fn plan(day: &str) -> String {
    format!("PLAN#{day}")
}
pub fn active(day: &str) -> String {
    format!("ACTIVE#{day}")
}
pub fn due_shard(shard: u32) -> String {
    format!("DUE#{shard}")
}
/// The shard of a ULID: its last character is random.
pub fn due_shard_of(id: &str) -> u32 {
    id.bytes().last().map(u32::from).unwrap_or(0) % DUE_SHARDS
}
/// `{RFC 3339 ms}#{id}`: fixed-width times, so key order is time order.
pub fn due_key(at: &str, id: &str) -> String {
    format!("{at}#{id}")
}

// Devices and push endpoints (docs/data-model.md, "Devices"):
//
// | item   | pk          | sk                  |
// |--------|-------------|---------------------|
// | device | `USER#{id}` | `DEVICE#{deviceId}` |

pub const DEVICE_PREFIX: &str = "DEVICE#";

pub fn device(device_id: &str) -> String {
    format!("{DEVICE_PREFIX}{device_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(spread("abc", 4), spread("abc", 4));
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let shard = connection_shard(&format!("conn-{i}="));
            assert!(shard < CONNECTION_SHARDS);
            seen.insert(shard);
        }
        assert_eq!(seen.len(), CONNECTION_SHARDS as usize, "every shard is used");
    }

    #[test]
    fn connection_sort_keys_order_by_expiry() {
        let now = 1_700_000_000;
        let expired_key = connection_index_sort(now, "U", "c");
        let live_key = connection_index_sort(now + 1, "U", "c");
        let bound = format!("{now:012}#~");
        assert!(expired_key < bound && live_key > bound);
    }
}
