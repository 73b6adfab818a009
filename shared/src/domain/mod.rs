//! Plain types and rules, no I/O.

pub mod attachment;
pub mod call;
pub mod conversation;
pub mod device;
pub mod event;
pub mod id;
pub mod matching;
pub mod message;
pub mod message_id;
pub mod page;
pub mod schedule;
pub mod time;
pub mod user;

pub use conversation::{Conversation, ConversationKind, Member, MemberRole, Membership};
pub use id::new_id;
pub use message::{Message, MessageKind};
pub use user::User;
