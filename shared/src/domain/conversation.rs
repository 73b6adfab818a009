//! Conversations and membership.

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Group,
    Room,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Member,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: String,
    pub role: MemberRole,
    pub joined_at: String,
    pub last_delivered_id: Option<String>,
    pub last_read_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created_at: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
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
    let valid = |s: &str| s.len() == 26 && s.parse::<ulid::Ulid>().is_ok();
    (valid(a) && valid(b) && a < b).then(|| [a.to_string(), b.to_string()])
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
        let a = ulid::Ulid::generate().to_string();
        let b = ulid::Ulid::generate().to_string();
        let id = direct_conversation_id(&a, &b);
        assert_eq!(id, direct_conversation_id(&b, &a));
        let [lo, hi] = direct_members(&id).unwrap();
        assert!(lo < hi);
        assert!([&lo, &hi].contains(&&a) && [&lo, &hi].contains(&&b));
    }

    #[test]
    fn other_ids_are_not_direct() {
        assert!(direct_members(&ulid::Ulid::generate().to_string()).is_none());
        assert!(direct_members("dm-x-y").is_none());
        let a = ulid::Ulid::generate().to_string();
        // unsorted pairs are never produced, so they are not accepted either
        assert!(direct_members(&format!("dm-{a}-{a}")).is_none());
    }

    #[test]
    fn conversation_ids_are_bounded() {
        assert!(validate_conversation_id("01ARZ3NDEKTSV4RRFFQ69G5FAV").is_ok());
        assert!(validate_conversation_id("").is_err());
        assert!(validate_conversation_id("a#b").is_err());
        assert!(validate_conversation_id(&"a".repeat(65)).is_err());
    }
}
