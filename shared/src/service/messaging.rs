//! Messages: send, edit, delete, read and clear history.

use crate::App;
use crate::domain::conversation::{
    ConversationKind, direct_conversation_id, direct_members, kind_of_id, status_for, validate_conversation_id,
};
use crate::domain::id::{is_ulid, parse_ulid};
use crate::domain::message::{validate_client_msg_id, validate_content, validate_message_id};
use crate::domain::message_id::{self, IdPlan};
use crate::domain::page::PageLimit;
use crate::domain::{Member, Message, MessageKind, new_id, time};
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::{Audience, ChangedMessage, Claim, HistoryPage, MessageChange, StoredMessage};
use crate::protocol::rest::MessagePage;
use crate::protocol::ws::ServerEvent;
use crate::service::push::{self, Delivery, Pushes};
use crate::service::{attachments, conversations, stats};

pub const HISTORY_LIMIT: PageLimit = PageLimit::new(50, 100);

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

/// What `send_message` stored.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Message,
    /// The `(sender, clientMsgId)` pair was seen before; `message` is the first one.
    pub duplicate: bool,
}

/// Stores a message and returns what it stored with its pushes, in two waves: `message.sent` to
/// the sending connection (if any), then `message.new` to every other open connection of every
/// member. Deliver them with [`deliver_sent`].
///
/// The answer leaves only once the message is durable AND its recipients are known, and before
/// the members' pushes (docs/architecture.md, "Fan-out in big rooms"). Critical path, two waves:
/// the audience (a direct conversation's id names both members, so their connections are read
/// here too; groups and rooms read the sender's member item and the member ids) ‖ for a
/// claimed id the `(sender, clientMsgId)` claim, then the message item ‖ (groups and rooms) the
/// members' connections. A fresh ULID clientMsgId makes the message item the only write
/// (domain/message_id.rs); nothing is written per member or per recipient (docs/data-model.md).
pub async fn send_message(app: &App, input: SendInput) -> Result<(Sent, Pushes)> {
    validate_client_msg_id(&input.client_msg_id)?;
    let content = attachments::content_of(&input, app.config.max_content_chars)?;
    let (conversation_id, recipient) = match (&input.conversation_id, &input.to) {
        (Some(_), Some(_)) => return Err(ChatError::invalid("give either `conversationId` or `to`, not both")),
        (None, None) => return Err(ChatError::invalid("missing field `conversationId` or `to`")),
        (Some(id), None) => {
            validate_conversation_id(id)?;
            (id.clone(), None)
        }
        (None, Some(to)) => {
            if !is_ulid(to) {
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

    let plan = message_id::plan(&input.sender_id, &conversation_id, &input.client_msg_id, time::now_ms())?;
    match &plan {
        // A ULID a little ahead of our clock: wait for it (at most 1 s).
        IdPlan::Derived { wait_ms, .. } if *wait_ms > 0 => {
            tokio::time::sleep(std::time::Duration::from_millis(*wait_ms)).await;
        }
        // A derived attempt of this clientMsgId may still be writing: come back once it cannot
        // (an answer, not a sleep: a client cannot make the function wait for seconds).
        IdPlan::Claimed { wait_ms, .. } if *wait_ms > 0 => {
            let mut refused = ChatError::new(
                ErrorCode::RateLimited,
                "an earlier attempt with this clientMsgId may still be storing it; resend it after retryAfter",
            );
            refused.retry_after = Some(wait_ms.div_ceil(1000));
            return Err(refused);
        }
        _ => {}
    }
    let fresh = match &plan {
        IdPlan::Derived { id, .. } => id.clone(),
        IdPlan::Claimed { .. } => new_id(),
    };
    let message = new_message(&input, &conversation_id, content, &fresh)?;
    let idempotency_expires_at = time::now().timestamp() + app.config.idempotency_ttl_secs;

    // Wave 1: the audience ‖ (a claimed id only) the claim and the message an earlier derived
    // attempt may have stored. A derived id needs neither: its put dedupes by itself.
    let claimed = async {
        let IdPlan::Claimed { earlier, .. } = &plan else { return None };
        let earlier = async {
            match earlier {
                Some(id) => app.store.get_message(&conversation_id, id).await,
                None => Ok(None),
            }
        };
        Some(tokio::join!(app.store.claim_client_msg_id(&message, idempotency_expires_at), earlier))
    };
    let (claimed, audience) = tokio::join!(claimed, audience(app, &conversation_id, direct.as_ref(), &input.sender_id));
    let mut audience = audience?;
    if !audience.sender_is_member
        && let Some(other) = &recipient
    {
        // First message to this user: open the direct conversation (one wave more).
        conversations::create_direct(app, &conversation_id, &input.sender_id, other).await?;
        audience.sender_is_member = true;
    }
    if !audience.sender_is_member {
        // Membership first: a non-member learns nothing, not even that the clientMsgId was used.
        if let Some((claim, _)) = &claimed {
            release_unused(app, &input, &message.id, claim).await;
        }
        return Err(ChatError::not_found("conversation"));
    }
    let (message, put_by) = match (plan, claimed) {
        (IdPlan::Derived { deadline_ms, .. }, _) => (message, Some(deadline_ms)),
        (IdPlan::Claimed { .. }, None) => return Err(ChatError::internal("a claimed send without its claim")),
        (IdPlan::Claimed { .. }, Some((claim, earlier))) => match earlier? {
            // An earlier derived attempt stored it: that is the message (stored again below, which
            // finds it and pushes it again, as any resend does).
            Some(first) => {
                release_unused(app, &input, &message.id, &claim).await;
                (new_message(&input, &conversation_id, content, &first.id)?, None)
            }
            None => match claim? {
                Claim::New => (message, None),
                Claim::Taken { conversation_id: first_in, message_id } if first_in == conversation_id => {
                    // A resend: the claimed id (stored already, or the first attempt died before).
                    (new_message(&input, &conversation_id, content, &message_id)?, None)
                }
                Claim::Taken { conversation_id: first_in, message_id } => {
                    // The clientMsgId was used in another conversation: answer with that message, store nothing.
                    let first = app.store.get_message(&first_in, &message_id).await?;
                    let first =
                        first.ok_or_else(|| ChatError::internal("a claimed message is not stored yet; retry"))?;
                    let first = attachments::signed_one(app, first).await?;
                    return Ok((Sent { message: first, duplicate: true }, Pushes::none()));
                }
            },
        },
    };
    // A member's message with `attachmentId`: checked and claimed before it is stored.
    let message = attachments::attach(app, &input, message).await?;
    // Wave 2: the message item ‖ the connections of a group's or room's members.
    let connections = async {
        match audience.connections.take() {
            Some(known) => Ok(known),
            None => app.store.connections_for_fan_out(&audience.members).await,
        }
    };
    let (stored, targets) = tokio::join!(app.store.store_message(&message, put_by), connections);
    let (message, duplicate) = match stored? {
        StoredMessage::Stored => (message, false),
        StoredMessage::Exists(first) => (attachments::signed_one(app, first).await?, true),
    };
    // Without the recipients the message cannot be pushed: answer with an error (not
    // `message.sent`), so the client resends with the same clientMsgId and the resend pushes it.
    let targets = targets?;
    // The sender's answer is a wave of its own, ahead of the members' pushes: in a big room those
    // take longer than the store and the lookups, and the sender should not wait for them.
    let answer = match &input.origin_connection {
        Some(origin) => {
            let sent = ServerEvent::MessageSent {
                request_id: input.request_id.clone(),
                client_msg_id: input.client_msg_id.clone(),
                message: message.clone(),
            };
            Pushes::to_connection(&input.sender_id, origin, &sent)
        }
        None => Pushes::none(),
    };
    // A resend pushes `message.new` again (clients dedupe by id): the first attempt may have
    // stored the message and then died before its pushes. (A first message that lives in another
    // conversation was answered above, without pushes: its members may differ.)
    let new = ServerEvent::MessageNew { message: message.clone() };
    let fan_out = Pushes::to_connections(targets, &new, input.origin_connection.as_deref());
    Ok((Sent { message, duplicate }, answer.then(fan_out)))
}

/// Gives up this send's own new claim of `message_id` when it stores nothing under it.
async fn release_unused(app: &App, input: &SendInput, message_id: &str, claim: &Result<Claim>) {
    if !matches!(claim, Ok(Claim::New)) {
        return;
    }
    let release = app.store.release_client_msg_id(&input.sender_id, &input.client_msg_id, message_id).await;
    if let Err(e) = release {
        tracing::warn!(error = %e, "could not release an unused claim");
    }
}

/// The message `input` asks for, with the id `id` (a fresh one, or the one its clientMsgId claimed).
fn new_message(input: &SendInput, conversation_id: &str, content: Option<&str>, id: &str) -> Result<Message> {
    let ulid = parse_ulid(id).ok_or_else(|| ChatError::internal("a message id is a ULID"))?;
    Ok(Message {
        created_at: time::rfc3339_of_ulid(ulid),
        id: id.to_string(),
        conversation_id: conversation_id.to_string(),
        sender_id: input.sender_id.clone(),
        kind: input.kind.unwrap_or(MessageKind::Text),
        content: content.map(str::to_string),
        client_msg_id: Some(input.client_msg_id.clone()),
        edited_at: None,
        deleted: false,
        status: None,
        attachment: None,
    })
}

/// What every sender (WebSocket, REST, scheduler) does after `send_message`: `push::deliver`
/// with [`record_sent`] alongside the pushes.
pub async fn deliver_sent(app: &App, sent: &Sent, pushes: Pushes) -> Delivery {
    let (delivery, ()) = tokio::join!(push::deliver(app, pushes), record_sent(app, sent));
    delivery
}

/// The `/stats` message counter, off the critical path (batched in the store: ≈ 1/100 WRU a
/// message). Nothing else is written per message: the conversation list reads each
/// conversation's newest message itself (docs/data-model.md, "Why the list reads the newest
/// message"). A duplicate records nothing. Never fails: errors are logged.
async fn record_sent(app: &App, sent: &Sent) {
    if sent.duplicate {
        return;
    }
    stats::message_stored(app, &sent.message.id).await;
}

/// Who gets a message: a direct conversation names its members (their connections are read at
/// once); groups and rooms read the member ids, and the connections in the next wave.
async fn audience(app: &App, conversation_id: &str, direct: Option<&[String; 2]>, sender: &str) -> Result<Audience> {
    match direct {
        Some(pair) => {
            let other = if pair[0] == sender { &pair[1] } else { &pair[0] };
            app.store.direct_audience(conversation_id, sender, other).await
        }
        None => app.store.group_audience(conversation_id, sender).await,
    }
}

/// The caller's standing in a conversation, read with the members when statuses are needed.
struct Reader {
    /// The caller's member item (None: a non-member reading a room).
    me: Option<Member>,
    /// Every member, for message statuses (direct and group only).
    members: Option<Vec<Member>>,
}

/// Who may read `conversation_id`: members, and anyone for rooms. One wave: the member list for
/// direct and group conversations (statuses need it), the caller's item and META for rooms.
async fn reader(app: &App, caller: &str, conversation_id: &str) -> Result<Reader> {
    if kind_of_id(conversation_id) == Some(ConversationKind::Room) {
        let (meta, me) = tokio::join!(
            app.store.get_conversation_meta(conversation_id),
            app.store.get_member(conversation_id, caller)
        );
        if meta?.is_none() {
            return Err(ChatError::not_found("conversation"));
        }
        return Ok(Reader { me: me?, members: None });
    }
    let Some((_, members)) = app.store.get_conversation(conversation_id).await? else {
        return Err(ChatError::not_found("conversation"));
    };
    let me = members.iter().find(|m| m.user_id == caller).cloned();
    if me.is_none() {
        return Err(ChatError::not_found("conversation"));
    }
    Ok(Reader { me, members: Some(members) })
}

/// The member list and the caller's item, for a member only (404 otherwise, rooms included).
async fn members_for_member(app: &App, caller: &str, conversation_id: &str) -> Result<Vec<Member>> {
    validate_conversation_id(conversation_id)?;
    match app.store.get_conversation(conversation_id).await? {
        Some((_, members)) if members.iter().any(|m| m.user_id == caller) => Ok(members),
        _ => Err(ChatError::not_found("conversation")),
    }
}

/// Replaces the content of the caller's own message; `message.updated` to every member.
pub async fn edit_message(
    app: &App,
    caller: &str,
    conversation_id: &str,
    message_id: &str,
    content: &str,
) -> Result<(Message, Pushes)> {
    validate_message_id(message_id).map_err(|_| ChatError::not_found("message"))?;
    validate_content(content, app.config.max_content_chars)?;
    let change = MessageChange::Edit { content: content.to_string(), edited_at: time::rfc3339(time::now()) };
    change_message(app, caller, conversation_id, message_id, change).await
}

/// Deletes the caller's own message (its item stays as a tombstone); `message.deleted` to every
/// member.
pub async fn delete_message(app: &App, caller: &str, conversation_id: &str, message_id: &str) -> Result<Pushes> {
    validate_message_id(message_id).map_err(|_| ChatError::not_found("message"))?;
    let change = MessageChange::Delete { deleted_at: time::rfc3339(time::now()) };
    let (_, pushes) = change_message(app, caller, conversation_id, message_id, change).await?;
    Ok(pushes)
}

/// An edit or a delete by the sender, in the same wave as the members' connection lookup.
async fn change_message(
    app: &App,
    caller: &str,
    conversation_id: &str,
    message_id: &str,
    change: MessageChange,
) -> Result<(Message, Pushes)> {
    let members = members_for_member(app, caller, conversation_id).await?;
    let user_ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
    let (changed, targets) = tokio::join!(
        app.store.change_message(conversation_id, message_id, caller, &change),
        app.store.connections_of_users(&user_ids)
    );
    let mut message = match changed? {
        ChangedMessage::Changed(message) => message,
        ChangedMessage::NotFound => return Err(ChatError::not_found("message")),
        ChangedMessage::NotSender => {
            return Err(ChatError::new(ErrorCode::Forbidden, "only the sender may change a message"));
        }
        ChangedMessage::Deleted(_) => return Err(ChatError::conflict("the message was deleted")),
    };
    message = match change {
        MessageChange::Delete { .. } => attachments::forget(app, message).await,
        MessageChange::Edit { .. } => attachments::signed_one(app, message).await?,
    };
    let event = match change {
        MessageChange::Edit { .. } => ServerEvent::MessageUpdated { message: message.clone() },
        MessageChange::Delete { .. } => ServerEvent::MessageDeleted { message: message.clone() },
    };
    let pushes = Pushes::to_connections(targets?, &event, None);
    Ok((message, pushes))
}

/// Hides the conversation's history up to now from the caller (others keep theirs).
pub async fn clear_history(app: &App, caller: &str, conversation_id: &str) -> Result<()> {
    validate_conversation_id(conversation_id)?;
    // A fresh id: every message stored before this moment sorts below it.
    if app.store.clear_history(conversation_id, caller, &new_id()).await? {
        Ok(())
    } else {
        Err(ChatError::not_found("conversation"))
    }
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
    let limit = HISTORY_LIMIT.check(limit)?;
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
    // The reader's standing and the page are read concurrently; a non-member sees nothing of
    // the page. A cleared history hides what is at or below its point, so the page is
    // trimmed here (the floor is known only after the read).
    let (reader, listed) = tokio::join!(
        reader(app, caller, conversation_id),
        app.store.list_messages(conversation_id, &page, None, limit)
    );
    let reader = reader?;
    let floor = reader.me.as_ref().and_then(|m| m.history_floor().map(str::to_string));
    let (messages, more) = match floor {
        None => listed?,
        // Rare (after a clear): read again with the floor in the key condition.
        Some(floor) => app.store.list_messages(conversation_id, &page, Some(&floor), limit).await?,
    };
    let messages = attachments::signed(app, with_status(messages, caller, reader.members.as_deref())).await?;
    let next_cursor = if more { messages.last().map(|m| m.id.clone()) } else { None };
    Ok(MessagePage { messages, next_cursor })
}

/// `status` on the caller's own messages, from the other members' pointers.
pub fn with_status(mut messages: Vec<Message>, caller: &str, members: Option<&[Member]>) -> Vec<Message> {
    if let Some(members) = members {
        for m in messages.iter_mut().filter(|m| m.sender_id == caller && !m.deleted) {
            m.status = Some(status_for(&m.id, caller, members).to_string());
        }
    }
    messages
}
