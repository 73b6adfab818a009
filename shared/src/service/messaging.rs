//! Conversations and messages: create a direct conversation, send, read history.

use std::sync::Arc;

use crate::App;
use crate::domain::conversation::{direct_conversation_id, direct_members, validate_conversation_id};
use crate::domain::message::{validate_client_msg_id, validate_content, validate_message_id};
use crate::domain::{Conversation, ConversationKind, Message, MessageKind, new_id, time};
use crate::error::{ChatError, Result};
use crate::ports::{CreateDirect, HistoryPage, StoredMessage};
use crate::protocol::rest::MessagePage;
use crate::protocol::ws::ServerEvent;
use crate::service::delivery::Push;

pub const HISTORY_DEFAULT_LIMIT: usize = 50;
pub const HISTORY_MAX_LIMIT: usize = 100;

/// A message to send, over WebSocket (`origin_connection` set) or REST.
#[derive(Debug, Clone, Default)]
pub struct SendInput {
    pub sender_id: String,
    pub conversation_id: Option<String>,
    pub to: Option<String>,
    pub content: Option<String>,
    pub attachment_id: Option<String>,
    pub client_msg_id: String,
    /// `text` when `None`; the scheduler sends `auto` messages.
    pub kind: Option<MessageKind>,
    pub request_id: Option<String>,
    /// The sender's connection that sent the frame: it gets `message.sent` instead of `message.new`.
    pub origin_connection: Option<String>,
}

#[derive(Debug)]
pub struct SendOutcome {
    pub message: Message,
    /// The `(sender, clientMsgId)` pair was seen before; `message` is the first one.
    pub duplicate: bool,
    pub pushes: Vec<Push>,
}

fn valid_user_id(id: &str) -> bool {
    id.len() == 26 && id.parse::<ulid::Ulid>().is_ok()
}

/// Creates the direct conversation between the caller and `other`, or finds it.
/// Returns the conversation with its members and whether it was created now.
pub async fn open_direct(app: &App, caller: &str, other: &str) -> Result<(Conversation, bool)> {
    if !valid_user_id(other) {
        return Err(ChatError::not_found("user"));
    }
    if other == caller {
        return Err(ChatError::invalid("a direct conversation needs another user"));
    }
    let id = direct_conversation_id(caller, other);
    let created = create_direct(app, &id, caller, other).await?;
    let conversation = get_conversation(app, caller, &id).await?;
    Ok((conversation, created))
}

async fn create_direct(app: &App, id: &str, caller: &str, other: &str) -> Result<bool> {
    let conversation = Conversation {
        id: id.to_string(),
        kind: ConversationKind::Direct,
        name: None,
        created_at: time::rfc3339(time::now()),
        created_by: caller.to_string(),
        members: None,
    };
    match app.store.create_direct_conversation(&conversation, [caller, other]).await? {
        CreateDirect::Created => Ok(true),
        CreateDirect::AlreadyExists => Ok(false),
        CreateDirect::OtherUserMissing => Err(ChatError::not_found("user")),
    }
}

/// The conversation with its members, for a member; `not_found` for anyone else, so
/// existence never leaks.
pub async fn get_conversation(app: &App, caller: &str, id: &str) -> Result<Conversation> {
    validate_conversation_id(id)?;
    let Some((mut conversation, members)) = app.store.get_conversation(id).await? else {
        return Err(ChatError::not_found("conversation"));
    };
    if !members.iter().any(|m| m.user_id == caller) {
        return Err(ChatError::not_found("conversation"));
    }
    conversation.members = Some(members);
    Ok(conversation)
}

/// Stores a message and returns the pushes: `message.sent` to the sending connection,
/// `message.new` to every other open connection of every member.
///
/// Critical path for a direct conversation: one round of concurrent calls (the conditional
/// transaction ‖ each member's connection query), since the id names both members.
pub async fn send_message(app: &App, input: SendInput) -> Result<SendOutcome> {
    validate_client_msg_id(&input.client_msg_id)?;
    if input.attachment_id.is_some() {
        return Err(ChatError::invalid("attachments are not supported by this deployment yet"));
    }
    let Some(content) = input.content.as_deref() else {
        return Err(ChatError::invalid("missing field `content`"));
    };
    validate_content(content, app.config.max_content_chars)?;
    let (conversation_id, recipient) = match (&input.conversation_id, &input.to) {
        (Some(_), Some(_)) => return Err(ChatError::invalid("give either `conversationId` or `to`, not both")),
        (None, None) => return Err(ChatError::invalid("missing field `conversationId` or `to`")),
        (Some(id), None) => {
            validate_conversation_id(id)?;
            (id.clone(), None)
        }
        (None, Some(to)) => {
            if !valid_user_id(to) {
                return Err(ChatError::not_found("user"));
            }
            if *to == input.sender_id {
                return Err(ChatError::invalid("`to` must be another user"));
            }
            (direct_conversation_id(&input.sender_id, to), Some(to.clone()))
        }
    };
    let direct = direct_members(&conversation_id);
    if direct.as_ref().is_some_and(|m| !m.contains(&input.sender_id)) {
        return Err(ChatError::not_found("conversation"));
    }

    let message = Message {
        id: new_id(),
        conversation_id: conversation_id.clone(),
        sender_id: input.sender_id.clone(),
        kind: input.kind.unwrap_or(MessageKind::Text),
        content: Some(content.to_string()),
        client_msg_id: Some(input.client_msg_id.clone()),
        created_at: String::new(),
        edited_at: None,
        deleted: false,
    };
    let message =
        Message { created_at: time::rfc3339_of_ulid(message.id.parse().map_err(ChatError::internal)?), ..message };
    let idempotency_expires_at = time::now().timestamp() + app.config.idempotency_ttl_secs;

    let (stored, targets) = tokio::join!(
        app.store.put_message(&message, idempotency_expires_at),
        connections_of_members(app, &conversation_id, direct)
    );
    let stored = match stored? {
        StoredMessage::NotMember if recipient.is_some() => {
            // First message to this user: open the direct conversation, then store once more.
            create_direct(app, &conversation_id, &input.sender_id, recipient.as_deref().unwrap_or_default()).await?;
            app.store.put_message(&message, idempotency_expires_at).await?
        }
        other => other,
    };
    let (message, duplicate) = match stored {
        StoredMessage::Stored => {
            crate::service::stats::message_stored(app, &message.id).await; // users branch: /stats counter
            (message, false)
        }
        StoredMessage::Duplicate(first) => (first, true),
        StoredMessage::NotMember => return Err(ChatError::not_found("conversation")),
    };
    let targets = targets?;

    let mut pushes = Vec::with_capacity(targets.len());
    if let Some(origin) = &input.origin_connection {
        let sent = ServerEvent::MessageSent {
            request_id: input.request_id.clone(),
            client_msg_id: input.client_msg_id.clone(),
            message: message.clone(),
        };
        pushes.push(Push {
            user_id: input.sender_id.clone(),
            connection_id: origin.clone(),
            payload: sent.to_json().into(),
        });
    }
    // A resend pushes `message.new` again (clients dedupe by id): the first attempt may have
    // stored the message and then died before its pushes. Never for a first message that lives
    // in another conversation (a clientMsgId reused elsewhere): its members may differ.
    if !duplicate || message.conversation_id == conversation_id {
        let new: Arc<str> = ServerEvent::MessageNew { message: message.clone() }.to_json().into();
        for (user_id, connection_id) in targets {
            if Some(&connection_id) != input.origin_connection.as_ref() {
                pushes.push(Push { user_id, connection_id, payload: new.clone() });
            }
        }
    }
    Ok(SendOutcome { message, duplicate, pushes })
}

/// `(user id, connection id)` of every open connection of every member.
async fn connections_of_members(
    app: &App,
    conversation_id: &str,
    direct: Option<[String; 2]>,
) -> Result<Vec<(String, String)>> {
    let members: Vec<String> = match direct {
        Some(pair) => pair.to_vec(),
        None => match app.store.get_conversation(conversation_id).await? {
            Some((_, members)) => members.into_iter().map(|m| m.user_id).collect(),
            None => Vec::new(),
        },
    };
    let lookups = members.iter().map(|user_id| app.store.connections_of(user_id));
    let mut targets = Vec::new();
    for (user_id, connections) in members.iter().zip(futures::future::join_all(lookups).await) {
        targets.extend(connections?.into_iter().map(|c| (user_id.clone(), c)));
    }
    Ok(targets)
}

/// History for a member: newest first (`before`, or no cursor) or oldest first (`after`).
pub async fn history(
    app: &App,
    caller: &str,
    conversation_id: &str,
    before: Option<&str>,
    after: Option<&str>,
    limit: Option<usize>,
) -> Result<MessagePage> {
    validate_conversation_id(conversation_id)?;
    let limit = limit.unwrap_or(HISTORY_DEFAULT_LIMIT);
    if !(1..=HISTORY_MAX_LIMIT).contains(&limit) {
        return Err(ChatError::invalid(format!("limit must be between 1 and {HISTORY_MAX_LIMIT}")));
    }
    let page = match (before, after) {
        (Some(_), Some(_)) => return Err(ChatError::invalid("give `before` or `after`, not both")),
        (Some(b), None) => {
            validate_message_id(b)?;
            HistoryPage::Before(Some(b.to_string()))
        }
        (None, Some(a)) => {
            validate_message_id(a)?;
            HistoryPage::After(a.to_string())
        }
        (None, None) => HistoryPage::Before(None),
    };
    // Membership and the page are read concurrently; a non-member sees nothing of the page.
    let (member, listed) = tokio::join!(
        app.store.is_member(conversation_id, caller),
        app.store.list_messages(conversation_id, &page, limit)
    );
    if !member? {
        return Err(ChatError::not_found("conversation"));
    }
    let (messages, more) = listed?;
    let next_cursor = if more { messages.last().map(|m| m.id.clone()) } else { None };
    Ok(MessagePage { messages, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_ulids() {
        assert!(valid_user_id(&new_id()));
        assert!(!valid_user_id("bob"));
        assert!(!valid_user_id("USER#01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    }
}
