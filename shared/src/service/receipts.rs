//! Delivered and read pointers: one write per receipt (not per message), forward only, and
//! `receipt` events to the senders of the messages a receipt newly covers.

use crate::App;
use crate::domain::conversation::{direct_members, validate_conversation_id};
use crate::domain::message::validate_pointer_id;
use crate::domain::time;
use crate::error::{ChatError, Result};
use crate::ports::{Pointer, PointerMove};
use crate::protocol::ws::{Receipt, ServerEvent};
use crate::service::push::Pushes;

/// Messages scanned to find the senders a receipt concerns (a receipt covering more tells the
/// senders of the newest ones; older senders see the pointer on their next read or sync).
const SENDER_SCAN_LIMIT: usize = 500;

pub struct ReceiptInput<'a> {
    pub caller: &'a str,
    pub conversation_id: &'a str,
    pub message_id: &'a str,
    pub pointer: Pointer,
    /// The connection that asked (it gets the answer with `request_id`), if any.
    pub origin: Option<&'a str>,
    pub request_id: Option<String>,
}

/// Moves the pointer (a read is a delivery too: one write moves both) and returns the pushes: `receipt`
/// to the senders of newly covered messages, to the caller's other devices for `read`, and to
/// the asking connection (with its pointer as it now stands, moved or not).
/// Whether `message_id` is a message of `conversation_id`: the one message right after its
/// predecessor id (one Query of one item).
async fn message_in(app: &App, conversation_id: &str, message_id: &str) -> Result<bool> {
    let Some(before) = crate::domain::id::parse_ulid(message_id).and_then(|u| u.0.checked_sub(1)) else {
        return Ok(false);
    };
    let page = crate::ports::HistoryPage::After(ulid::Ulid(before).to_string());
    let (messages, _) = app.store.list_messages(conversation_id, &page, None, 1).await?;
    Ok(messages.first().is_some_and(|m| m.id == message_id))
}

pub async fn mark(app: &App, input: ReceiptInput<'_>) -> Result<Pushes> {
    validate_conversation_id(input.conversation_id)?;
    validate_pointer_id(input.message_id)?;
    let at = time::rfc3339(time::now());
    let (id, caller) = (input.conversation_id, input.caller);
    // One write: a read pointer counts as the delivered one too (the store reads the delivered
    // pointer as the later of the two), so `read` moves both at once, only forward.
    let move_pointers = app.store.move_pointer(id, caller, input.pointer, input.message_id, &at);
    // A direct conversation names its two members: their connections are read in the same wave
    // (and used only if the pointer moved and the caller is a member).
    let direct = direct_members(id);
    let prefetch = async {
        match &direct {
            Some(pair) => Some(app.store.connections_of_users(pair).await),
            None => None,
        }
    };
    // A pointer names a message of this conversation: checked (with the connections' prefetch)
    // before any pointer moves, so an id of another conversation or of no message moves nothing.
    let (exists, prefetched) = tokio::join!(message_in(app, id, input.message_id), prefetch);
    if !exists? {
        return Err(ChatError::not_found("message"));
    }
    let moved = move_pointers.await;
    let moved = moved?;
    let status = match input.pointer {
        Pointer::Delivered => "delivered",
        Pointer::Read => "read",
    };
    let (previous, current) = match moved {
        PointerMove::NotMember => return Err(ChatError::not_found("conversation")),
        PointerMove::Moved { previous } => (Some(previous), input.message_id.to_string()),
        PointerMove::NotForward { current } => (None, current.unwrap_or_else(|| input.message_id.to_string())),
    };
    let receipt = Receipt {
        conversation_id: id.to_string(),
        user_id: caller.to_string(),
        message_id: current.clone(),
        status,
        at: at.clone(),
    };
    let answer = match input.origin {
        Some(origin) => {
            let answer = ServerEvent::Receipt { request_id: input.request_id.clone(), receipt: receipt.clone() };
            Pushes::to_connection(caller, origin, &answer)
        }
        None => Pushes::none(),
    };
    // Nothing moved: nobody else needs to hear it again.
    let Some(previous) = previous else { return Ok(answer) };
    let mut users = app.store.senders_between(id, previous.as_deref(), &current, SENDER_SCAN_LIMIT).await?;
    users.retain(|u| u != caller);
    if input.pointer == Pointer::Read {
        users.push(caller.to_string());
    }
    let event = ServerEvent::Receipt { request_id: None, receipt };
    let targets = match prefetched {
        Some(targets) => targets?.into_iter().filter(|(user, _)| users.contains(user)).collect(),
        None => app.store.connections_of_users(&users).await?,
    };
    Ok(answer.and(Pushes::to_connections(targets, &event, input.origin)))
}
