//! Plain types and rules, no I/O.

pub mod conversation;
pub mod message;
pub mod schedule;
pub mod time;
pub mod user;

pub use conversation::{Conversation, ConversationKind, Member, MemberRole, Membership};
pub use message::{Message, MessageKind};
pub use user::User;

/// A new ULID: sortable by time, 26 URL-safe characters.
pub fn new_id() -> String {
    ulid::Ulid::generate().to_string()
}
