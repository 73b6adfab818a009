//! Reads the table's stream records (the Lambda event of a DynamoDB event-source mapping) as
//! domain events: which item changed (by its key, `aws/keys.rs`), and how. Only this file knows
//! which item and which change each domain event of the contract comes from:
//!
//! | change                               | event                  |
//! |--------------------------------------|------------------------|
//! | INSERT `USER#` / `PROFILE`           | `user.registered`      |
//! | INSERT `CONV#` / `META`              | `conversation.created` |
//! | INSERT `CONV#` / `MSG#`              | `message.created`      |
//! | MODIFY `MSG#`, `deleted` became true | `message.deleted`      |
//! | MODIFY `MSG#`, `editedAt` changed    | `message.updated`      |
//! | INSERT / REMOVE `CONV#` / `MEMBER#`  | `member.joined` / `member.left` |
//! | MODIFY `MEMBER#`, `lastReadId` moved | `receipt.read`         |
//!
//! Everything else (delivered pointers, mute, META's last message) is no event.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
use serde_json::Value;

use super::common::{Item, from_item, string_attr};
use super::members::MemberItem;
use crate::aws::keys;
use crate::domain::event::{DomainEvent, Envelope, MemberChange, ReadReceipt};
use crate::domain::{Conversation, ConversationKind, Message, User};
use crate::error::{ChatError, Result};

/// One record of the stream event, as Lambda delivers it.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventName")]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamChange {
    #[serde(default)]
    pub keys: HashMap<String, Value>,
    #[serde(default)]
    pub new_image: Option<HashMap<String, Value>>,
    #[serde(default)]
    pub old_image: Option<HashMap<String, Value>>,
    pub sequence_number: String,
}

/// DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, ...) as the SDK's attribute value.
fn attribute(v: &Value) -> Result<AttributeValue> {
    let bad = || ChatError::internal(format!("not a DynamoDB JSON value: {v}"));
    let (kind, inner) = v.as_object().and_then(|o| o.iter().next()).ok_or_else(bad)?;
    let strings = |x: &Value| -> Result<Vec<String>> {
        x.as_array().ok_or_else(bad)?.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(bad)).collect()
    };
    let blob = |x: &Value| -> Result<Blob> {
        use base64::Engine;
        let text = x.as_str().ok_or_else(bad)?;
        Ok(Blob::new(base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| bad())?))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str().ok_or_else(bad)?.to_string()),
        "N" => AttributeValue::N(inner.as_str().ok_or_else(bad)?.to_string()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(bad)?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "B" => AttributeValue::B(blob(inner)?),
        "BS" => AttributeValue::Bs(inner.as_array().ok_or_else(bad)?.iter().map(blob).collect::<Result<_>>()?),
        "L" => AttributeValue::L(inner.as_array().ok_or_else(bad)?.iter().map(attribute).collect::<Result<_>>()?),
        "M" => AttributeValue::M(image(inner.as_object().ok_or_else(bad)?.iter())?),
        _ => return Err(bad()),
    })
}

fn image<'a>(fields: impl Iterator<Item = (&'a String, &'a Value)>) -> Result<Item> {
    fields.map(|(k, v)| Ok((k.clone(), attribute(v)?))).collect()
}

/// The public user of a profile item: never the email or the password hash.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileImage {
    id: String,
    username: String,
    display_name: String,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaImage {
    id: String,
    kind: ConversationKind,
    #[serde(default)]
    name: Option<String>,
    created_at: String,
    created_by: String,
    #[serde(default)]
    member_count: u32,
}

/// The domain event of one stream record, if it is one of the contract's.
pub fn domain_event(record: &StreamRecord) -> Result<Option<Envelope>> {
    let change = &record.dynamodb;
    let new = change.new_image.as_ref().map(|i| image(i.iter())).transpose()?;
    let old = change.old_image.as_ref().map(|i| image(i.iter())).transpose()?;
    let keys_of = image(change.keys.iter())?;
    let (Some(pk), Some(sk)) = (string_attr(&keys_of, keys::PK), string_attr(&keys_of, keys::SK)) else {
        return Ok(None);
    };
    let event = match (record.event_name.as_str(), pk.split_once('#').map(|p| p.0), sk.as_str()) {
        ("INSERT", Some("USER"), keys::PROFILE) => {
            let p: ProfileImage = from_item(new.ok_or_else(missing_image)?)?;
            Some(DomainEvent::UserRegistered(User {
                id: p.id,
                username: p.username,
                email: None,
                display_name: p.display_name,
                created_at: p.created_at.clone(),
                last_seen: None,
                online: false,
            }))
        }
        ("INSERT", Some("CONV"), keys::META) => {
            let m: MetaImage = from_item(new.ok_or_else(missing_image)?)?;
            Some(DomainEvent::ConversationCreated(Conversation {
                id: m.id,
                kind: m.kind,
                name: m.name,
                last_activity_at: m.created_at.clone(),
                created_at: m.created_at,
                created_by: m.created_by,
                member_count: m.member_count,
                last_message: None,
                members: None,
                unread_count: None,
                muted: None,
            }))
        }
        (name, Some("CONV"), sk) if sk.starts_with(keys::MSG_PREFIX) => message_event(name, old, new)?,
        (name, Some("CONV"), sk) if sk.starts_with(keys::MEMBER_PREFIX) => {
            let conversation_id = pk.strip_prefix(keys::CONV_PREFIX).unwrap_or_default().to_string();
            member_event(name, conversation_id, old, new)?
        }
        _ => None,
    };
    Ok(event.map(|event| Envelope { event_id: record.event_id.clone(), event }))
}

fn missing_image() -> ChatError {
    ChatError::internal("stream record without the image its change needs (StreamViewType NEW_AND_OLD_IMAGES)")
}

fn message_event(name: &str, old: Option<Item>, new: Option<Item>) -> Result<Option<DomainEvent>> {
    let decode = |item: Item| -> Result<Message> { from_item(item) };
    Ok(match name {
        "INSERT" => Some(DomainEvent::MessageCreated(decode(new.ok_or_else(missing_image)?)?)),
        "MODIFY" => {
            let (old, new) = (decode(old.ok_or_else(missing_image)?)?, decode(new.ok_or_else(missing_image)?)?);
            if new.deleted && !old.deleted {
                Some(DomainEvent::MessageDeleted(new))
            } else if !new.deleted && new.edited_at != old.edited_at {
                Some(DomainEvent::MessageUpdated(new))
            } else {
                None
            }
        }
        _ => None,
    })
}

fn member_event(
    name: &str,
    conversation_id: String,
    old: Option<Item>,
    new: Option<Item>,
) -> Result<Option<DomainEvent>> {
    let decode = |item: Item| -> Result<crate::domain::Member> { Ok(from_item::<MemberItem>(item)?.into_member()) };
    Ok(match name {
        "INSERT" => Some(DomainEvent::MemberJoined(MemberChange {
            conversation_id,
            member: decode(new.ok_or_else(missing_image)?)?,
        })),
        "REMOVE" => Some(DomainEvent::MemberLeft(MemberChange {
            conversation_id,
            member: decode(old.ok_or_else(missing_image)?)?,
        })),
        "MODIFY" => {
            let (old, new) = (decode(old.ok_or_else(missing_image)?)?, decode(new.ok_or_else(missing_image)?)?);
            match new.last_read_id {
                Some(read) if new.last_read_id != old.last_read_id => Some(DomainEvent::ReceiptRead(ReadReceipt {
                    conversation_id,
                    user_id: new.user_id,
                    message_id: read,
                    status: "read",
                    at: new.last_read_at,
                })),
                _ => None,
            }
        }
        _ => None,
    })
}
