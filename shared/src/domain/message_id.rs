//! Which id a sent message gets, and so how many writes its send costs (docs/data-model.md,
//! "One write per message").
//!
//! A `clientMsgId` that is a ULID minted from the sender's clock in the last
//! [`DERIVED_MAX_AGE_MS`] names the message's id: its time part is the ULID's, its random part
//! a hash of `(sender, conversation, clientMsgId)`. Every resend computes the same id, so one
//! conditional PutItem stores the message and dedupes it (1 WRU). Any other `clientMsgId` (or
//! a ULID minted too long ago, e.g. a message that waited in an offline outbox) gets a fresh
//! server id and an idempotency claim item (2 WRU), as before.
//!
//! Why the window is short: the id is also the sync cursor. A derived id is up to
//! [`DERIVED_MAX_AGE_MS`] older than the moment its message is stored, so it can land behind a
//! cursor handed out in between; `sync` reads that far back for such late messages (they carry
//! `landedAt`; service/sync.rs). A ULID from the future would put a cursor ahead of messages not
//! yet sent, so one ahead of the server's clock by up to [`AHEAD_WAIT_MAX_MS`] is waited for and
//! one further ahead is refused (before anything is written).
//!
//! Why a resend of an old ULID may be told to come back: a derived attempt may still be writing
//! (its put is issued at most [`DERIVED_MAX_AGE_MS`] after the ULID's time and gives up after
//! [`DERIVED_PUT_TIMEOUT_MS`]). A claimed send looks for it at the derived id; it does so only
//! once no such write can still arrive ([`SETTLED_AFTER_MS`] after the ULID's time; before,
//! the send answers `rate_limited` with `retryAfter`), so the two paths never store one message
//! twice.

use sha2::{Digest, Sha256};

use crate::error::{ChatError, Result};

/// How old (by the server's clock) a ULID `clientMsgId` may be for its message to take the id
/// derived from it. Generous for a clock a little slow and a busy table (DynamoDB answers in
/// milliseconds; a local emulator under load can take seconds), small for the sync overlap.
pub const DERIVED_MAX_AGE_MS: u64 = 5_000;
/// How long the message put of a derived id may take before the send gives up (the client
/// resends; its resend is then a claimed one).
pub const DERIVED_PUT_TIMEOUT_MS: u64 = 5_000;
/// From this age of a ULID on, no derived write of it can still arrive: the latest derived put
/// is issued at [`DERIVED_MAX_AGE_MS`] and abandoned [`DERIVED_PUT_TIMEOUT_MS`] later; the rest
/// is a margin for a request already on the wire and for clock differences between instances.
pub const SETTLED_AFTER_MS: u64 = DERIVED_MAX_AGE_MS + DERIVED_PUT_TIMEOUT_MS + 500;
/// A ULID ahead of the server's clock by at most this much is waited for (a clock a little fast).
pub const AHEAD_WAIT_MAX_MS: u64 = 1_000;
/// How far before a cursor `sync` looks for messages that landed after it.
pub const LATE_LANDING_MS: u64 = DERIVED_MAX_AGE_MS + 1_000;

/// How a send with a given `clientMsgId` stores its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPlan {
    /// One conditional put at `id` (derived from the clientMsgId), after waiting `wait_ms` (a
    /// ULID slightly ahead of the server's clock). `deadline_ms`: the put must leave by then.
    Derived { id: String, wait_ms: u64, deadline_ms: u64 },
    /// A claim item and a fresh id. `earlier`: the id a derived attempt of this clientMsgId
    /// may have stored the message under (read before a new message is made). `wait_ms` > 0:
    /// such an attempt may still be writing, so not yet (the send is refused, to come back then).
    Claimed { earlier: Option<String>, wait_ms: u64 },
}

/// The plan for `client_msg_id` sent by `sender_id` to `conversation_id` at `now_ms`.
pub fn plan(sender_id: &str, conversation_id: &str, client_msg_id: &str, now_ms: u64) -> Result<IdPlan> {
    let Some(minted) = client_ulid(client_msg_id) else {
        return Ok(IdPlan::Claimed { earlier: None, wait_ms: 0 });
    };
    let at = minted.timestamp_ms();
    let id = derived_id(sender_id, conversation_id, client_msg_id, at);
    if at > now_ms {
        let ahead = at - now_ms;
        if ahead > AHEAD_WAIT_MAX_MS {
            return Err(ChatError::invalid(format!(
                "clientMsgId is a ULID {ahead} ms ahead of the server's clock (at most {AHEAD_WAIT_MAX_MS} ms); \
                 mint it from a corrected clock or use another id"
            )));
        }
        return Ok(IdPlan::Derived { id, wait_ms: ahead, deadline_ms: at + DERIVED_MAX_AGE_MS });
    }
    let age = now_ms - at;
    if age <= DERIVED_MAX_AGE_MS {
        return Ok(IdPlan::Derived { id, wait_ms: 0, deadline_ms: at + DERIVED_MAX_AGE_MS });
    }
    Ok(IdPlan::Claimed { earlier: Some(id), wait_ms: SETTLED_AFTER_MS.saturating_sub(age) })
}

/// The clientMsgId as a ULID when it is exactly one in canonical (upper-case) form: only an id
/// a client minted as a ULID names a time, not any string that happens to parse as one.
fn client_ulid(client_msg_id: &str) -> Option<ulid::Ulid> {
    let u: ulid::Ulid = client_msg_id.parse().ok()?;
    (u.to_string() == client_msg_id).then_some(u)
}

/// The message id of a derived send: the clientMsgId's time, and 80 bits of
/// SHA-256(sender, conversation, clientMsgId), so no one else's clientMsgId (nor the same one
/// in another conversation) names it.
pub fn derived_id(sender_id: &str, conversation_id: &str, client_msg_id: &str, at_ms: u64) -> String {
    let mut hash = Sha256::new();
    for part in ["chat.message-id", sender_id, conversation_id, client_msg_id] {
        hash.update((part.len() as u32).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    ulid::Ulid::from_parts(at_ms, u128::from_be_bytes(random)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn ulid_at(ms: u64) -> String {
        ulid::Ulid::from_parts(ms, 12345).to_string()
    }

    #[test]
    fn a_fresh_ulid_names_the_message_id_and_every_resend_computes_it_again() {
        let cmid = ulid_at(NOW - 300);
        let IdPlan::Derived { id, wait_ms: 0, deadline_ms } = plan("u1", "c1", &cmid, NOW).unwrap() else {
            panic!("derived")
        };
        assert_eq!(deadline_ms, NOW - 300 + DERIVED_MAX_AGE_MS);
        assert_eq!(ulid::Ulid::from_string(&id).unwrap().timestamp_ms(), NOW - 300);
        assert_eq!(plan("u1", "c1", &cmid, NOW + 4_500).unwrap(), plan("u1", "c1", &cmid, NOW).unwrap());
        // Another sender or conversation: another id.
        assert_ne!(derived_id("u2", "c1", &cmid, NOW), derived_id("u1", "c1", &cmid, NOW));
        assert_ne!(derived_id("u1", "c2", &cmid, NOW), derived_id("u1", "c1", &cmid, NOW));
    }

    #[test]
    fn other_ids_and_old_ulids_are_claimed_and_old_ulids_wait_until_settled() {
        assert_eq!(plan("u", "c", "c-1", NOW).unwrap(), IdPlan::Claimed { earlier: None, wait_ms: 0 });
        // Lower case parses as a ULID but was not minted as one here.
        let lower = ulid_at(NOW).to_lowercase();
        assert_eq!(plan("u", "c", &lower, NOW).unwrap(), IdPlan::Claimed { earlier: None, wait_ms: 0 });
        let cmid = ulid_at(NOW - 6_000);
        let derived = derived_id("u", "c", &cmid, NOW - 6_000);
        assert_eq!(
            plan("u", "c", &cmid, NOW).unwrap(),
            IdPlan::Claimed { earlier: Some(derived.clone()), wait_ms: SETTLED_AFTER_MS - 6_000 }
        );
        assert_eq!(
            plan("u", "c", &cmid, NOW + 60_000).unwrap(),
            IdPlan::Claimed { earlier: Some(derived), wait_ms: 0 }
        );
    }

    #[test]
    fn a_ulid_ahead_of_the_clock_is_waited_for_or_refused() {
        let IdPlan::Derived { wait_ms, .. } = plan("u", "c", &ulid_at(NOW + 400), NOW).unwrap() else {
            panic!("derived")
        };
        assert_eq!(wait_ms, 400);
        let err = plan("u", "c", &ulid_at(NOW + 5_000), NOW).unwrap_err();
        assert!(err.message.contains("ahead"), "{}", err.message);
    }
}
