//! Plain types and rules, no I/O.

pub mod conversation;
pub mod device;
pub mod id;
pub mod message;
pub mod page;
pub mod schedule;
pub mod time;
pub mod user;

pub use conversation::{Conversation, ConversationKind, Member, MemberRole, Membership};
pub use id::new_id;
pub use message::{Message, MessageKind};
pub use user::User;
