//! The contract's domain events (docs/events.md): what changed, as the public objects of the REST
//! API. Each comes from one change of the table's stream, and carries that change's id as
//! `detail.eventId`, so a consumer can drop redeliveries.

use serde::Serialize;
use serde_json::Value;

use crate::domain::{Conversation, Member, Message, User};

pub const SOURCE: &str = "chat";

#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    MessageCreated(Message),
    MessageUpdated(Message),
    MessageDeleted(Message),
    MemberJoined(MemberChange),
    MemberLeft(MemberChange),
    ConversationCreated(Conversation),
    /// The public user (no email).
    UserRegistered(User),
    ReceiptRead(ReadReceipt),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberChange {
    pub conversation_id: String,
    #[serde(flatten)]
    pub member: Member,
}

/// As the WebSocket `receipt` event: `status` is always `read`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub conversation_id: String,
    pub user_id: String,
    pub message_id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A domain event with the id of the change it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub event_id: String,
    pub event: DomainEvent,
}

impl DomainEvent {
    /// The EventBridge `detail-type`.
    pub fn detail_type(&self) -> &'static str {
        match self {
            DomainEvent::MessageCreated(_) => "message.created",
            DomainEvent::MessageUpdated(_) => "message.updated",
            DomainEvent::MessageDeleted(_) => "message.deleted",
            DomainEvent::MemberJoined(_) => "member.joined",
            DomainEvent::MemberLeft(_) => "member.left",
            DomainEvent::ConversationCreated(_) => "conversation.created",
            DomainEvent::UserRegistered(_) => "user.registered",
            DomainEvent::ReceiptRead(_) => "receipt.read",
        }
    }
}

impl Envelope {
    /// The EventBridge `detail`: the public object with `eventId` beside its own fields.
    pub fn detail(&self) -> Value {
        let object = match &self.event {
            DomainEvent::MessageCreated(m) | DomainEvent::MessageUpdated(m) | DomainEvent::MessageDeleted(m) => {
                serde_json::to_value(m)
            }
            DomainEvent::MemberJoined(m) | DomainEvent::MemberLeft(m) => serde_json::to_value(m),
            DomainEvent::ConversationCreated(c) => serde_json::to_value(c),
            DomainEvent::UserRegistered(u) => serde_json::to_value(u.clone().public()),
            DomainEvent::ReceiptRead(r) => serde_json::to_value(r),
        };
        let mut detail = match object {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        detail.insert("eventId".into(), Value::String(self.event_id.clone()));
        Value::Object(detail)
    }
}
