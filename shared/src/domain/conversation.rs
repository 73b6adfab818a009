//! Conversations and membership.

use serde::{Deserialize, Serialize};

use crate::domain::id::{is_ulid, new_id};
use crate::error::{ChatError, Result};

/// direct: exactly two users, one per pair. group: private, members add members (up to 1,000). room: public, users
/// join themselves (up to 5,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ConversationType)]
pub enum ConversationKind {
    Direct,
    Group,
    Room,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Member,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The member (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub user_id: String,
    pub role: MemberRole,
    /// When the user became a member. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub joined_at: String,
    /// Delivered pointer: every message up to this id has reached one of the member's devices. Only moves forward.
    #[schema(required = true)]
    pub last_delivered_id: Option<String>,
    /// Read pointer: every message up to this id is read. Only moves forward; implies delivered.
    #[schema(required = true)]
    pub last_read_id: Option<String>,
    /// When the delivered pointer last moved. RFC 3339, UTC, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub last_delivered_at: Option<String>,
    /// When the read pointer last moved. RFC 3339, UTC, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Time)]
    pub last_read_at: Option<String>,
    /// Where this member cleared its history: it sees only messages after this id. Private to
    /// the member, so never serialised into other users' views.
    #[serde(skip)]
    #[schema(ignore)]
    pub cleared_before: Option<String>,
}

impl Member {
    /// The newest of the pointers that hide older messages from this member's unread count.
    pub fn unread_floor(&self) -> Option<&str> {
        [self.last_read_id.as_deref(), self.cleared_before.as_deref()].into_iter().flatten().max()
    }

    /// Where this member's history starts (exclusive), after a clear.
    pub fn history_floor(&self) -> Option<&str> {
        self.cleared_before.as_deref()
    }
}

/// A member's view of one of its conversations (the membership item, found through gsi1).
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub conversation_id: String,
    pub member: Member,
    /// The member's own push setting (never shown to other members).
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// `dm-{userId}-{userId}` (the two ids sorted) for direct conversations, `g-{ULID}` for groups, `r-{ULID}` for
    /// rooms.
    #[schema(max_length = 64, pattern = "^[A-Za-z0-9-]+$", examples("g-01JDQ7Z8X9K3M2N4P5Q6R7S8T9"))]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// Groups and rooms only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Creation time. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub created_at: String,
    /// The creator (a ULID).
    #[schema(value_type = crate::openapi::Ulid)]
    pub created_by: String,
    /// Members (direct, group and room); for rooms it grows by joins.
    pub member_count: u32,
    /// The newest message (absent in an empty conversation), as stored when it was sent, edited or deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_message: Option<crate::domain::message::Message>,
    /// createdAt of the newest message, else of the conversation: the list's sort key. RFC 3339, UTC, milliseconds.
    #[schema(value_type = crate::openapi::Time)]
    pub last_activity_at: String,
    /// Every member with its receipt pointers (`GET /conversations/{id}`, create, add member; not in the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub members: Option<Vec<Member>>,
    /// Messages from others after the caller's read pointer (`GET /conversations` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unread_count: Option<u32>,
    /// Whether the caller muted this conversation's push notifications (`GET /conversations` only;
    /// set by `PATCH /conversations/{id}/me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub muted: Option<bool>,
}

/// Largest group or room (API Gateway fan-out stays well within one invocation at this size).
pub const MAX_GROUP_MEMBERS: u32 = 1000;
pub const MAX_ROOM_MEMBERS: u32 = 5000;
/// Members named at creation: one transaction holds META + a put and a user check per member.
pub const MAX_INITIAL_MEMBERS: usize = 40;
pub const NAME_MAX: usize = 100;

const GROUP_PREFIX: &str = "g-";
const ROOM_PREFIX: &str = "r-";

/// A new group or room id. The kind is visible in the id, so a reader knows without a read
/// whether to load the member list (direct, group) or treat it as a public room.
pub fn new_conversation_id(kind: ConversationKind) -> String {
    let id = new_id();
    match kind {
        ConversationKind::Group => format!("{GROUP_PREFIX}{id}"),
        ConversationKind::Room => format!("{ROOM_PREFIX}{id}"),
        ConversationKind::Direct => unreachable!("direct ids are derived from their members"),
    }
}

/// The kind an id names, for ids this service made.
pub fn kind_of_id(id: &str) -> Option<ConversationKind> {
    if direct_members(id).is_some() {
        Some(ConversationKind::Direct)
    } else if id.starts_with(GROUP_PREFIX) {
        Some(ConversationKind::Group)
    } else if id.starts_with(ROOM_PREFIX) {
        Some(ConversationKind::Room)
    } else {
        None
    }
}

pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(ChatError::invalid(format!("name must be 1-{NAME_MAX} printable characters")));
    }
    Ok(name.to_string())
}

/// The delivery status of `message_id` as its sender sees it: `read` once every other member's
/// read pointer covers it, `delivered` once every other member's delivered pointer does.
pub fn status_for(message_id: &str, sender: &str, members: &[Member]) -> &'static str {
    let others: Vec<&Member> = members.iter().filter(|m| m.user_id != sender).collect();
    let covers = |p: &Option<String>| p.as_deref().is_some_and(|p| p >= message_id);
    if !others.is_empty() && others.iter().all(|m| covers(&m.last_read_id)) {
        "read"
    } else if !others.is_empty() && others.iter().all(|m| covers(&m.last_delivered_id) || covers(&m.last_read_id)) {
        "delivered"
    } else {
        "sent"
    }
}

const DIRECT_PREFIX: &str = "dm-";

/// The id of the one direct conversation between two users. Deriving it from the (sorted) pair
/// makes "never duplicated" a property of the key, and lets `send` know both members without a read.
pub fn direct_conversation_id(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{DIRECT_PREFIX}{lo}-{hi}")
}

/// The two members encoded in a direct conversation id, or `None` for other ids.
/// User ids are ULIDs (26 chars of Crockford base32, no '-'), so the split is unambiguous.
pub fn direct_members(conversation_id: &str) -> Option<[String; 2]> {
    let rest = conversation_id.strip_prefix(DIRECT_PREFIX)?;
    let (a, b) = rest.split_once('-')?;
    (is_ulid(a) && is_ulid(b) && a < b).then(|| [a.to_string(), b.to_string()])
}

/// Conversation ids arrive from clients: bound them before they reach a key.
pub fn validate_conversation_id(id: &str) -> Result<()> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok { Ok(()) } else { Err(ChatError::not_found("conversation")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_ids_are_symmetric_and_parse_back() {
        let a = new_id();
        let b = new_id();
        let id = direct_conversation_id(&a, &b);
        assert_eq!(id, direct_conversation_id(&b, &a));
        let [lo, hi] = direct_members(&id).unwrap();
        assert!(lo < hi);
        assert!([&lo, &hi].contains(&&a) && [&lo, &hi].contains(&&b));
    }

    #[test]
    fn other_ids_are_not_direct() {
        assert!(direct_members(&new_id()).is_none());
        assert!(direct_members("dm-x-y").is_none());
        let a = new_id();
        // unsorted pairs are never produced, so they are not accepted either
        assert!(direct_members(&format!("dm-{a}-{a}")).is_none());
    }

    fn member(id: &str, delivered: Option<&str>, read: Option<&str>) -> Member {
        Member {
            user_id: id.into(),
            role: MemberRole::Member,
            joined_at: String::new(),
            last_delivered_id: delivered.map(Into::into),
            last_read_id: read.map(Into::into),
            last_delivered_at: None,
            last_read_at: None,
            cleared_before: None,
        }
    }

    #[test]
    fn status_needs_every_other_member() {
        let members = [member("a", None, None), member("b", Some("05"), Some("03")), member("c", Some("09"), None)];
        // a is the sender: b and c count
        assert_eq!(status_for("03", "a", &members), "delivered");
        assert_eq!(status_for("06", "a", &members), "sent");
        let members = [member("a", None, None), member("b", Some("05"), Some("05"))];
        assert_eq!(status_for("05", "a", &members), "read");
        assert_eq!(status_for("04", "a", &members), "read");
        assert_eq!(status_for("06", "a", &members), "sent");
        // alone in a conversation: nobody to deliver to
        assert_eq!(status_for("01", "a", &members[..1]), "sent");
    }

    #[test]
    fn ids_name_their_kind() {
        assert_eq!(kind_of_id(&new_conversation_id(ConversationKind::Group)), Some(ConversationKind::Group));
        assert_eq!(kind_of_id(&new_conversation_id(ConversationKind::Room)), Some(ConversationKind::Room));
        let a = new_id();
        let b = new_id();
        assert_eq!(kind_of_id(&direct_conversation_id(&a, &b)), Some(ConversationKind::Direct));
        assert_eq!(kind_of_id("x-1"), None);
        assert!(validate_conversation_id(&new_conversation_id(ConversationKind::Room)).is_ok());
    }

    #[test]
    fn floors_take_the_newest_pointer() {
        let mut m = member("a", None, Some("05"));
        assert_eq!(m.unread_floor(), Some("05"));
        m.cleared_before = Some("07".into());
        assert_eq!(m.unread_floor(), Some("07"));
        assert_eq!(m.history_floor(), Some("07"));
    }

    #[test]
    fn conversation_ids_are_bounded() {
        assert!(validate_conversation_id("01ARZ3NDEKTSV4RRFFQ69G5FAV").is_ok());
        assert!(validate_conversation_id("").is_err());
        assert!(validate_conversation_id("a#b").is_err());
        assert!(validate_conversation_id(&"a".repeat(65)).is_err());
    }
}
