//! Conversations: open a direct one, create groups and rooms, read one, list them (most recent
//! activity first, with unread counts), membership.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::App;
use crate::domain::conversation::{
    MAX_GROUP_MEMBERS, MAX_INITIAL_MEMBERS, MAX_ROOM_MEMBERS, direct_conversation_id, kind_of_id, new_conversation_id,
    validate_conversation_id, validate_name,
};
use crate::domain::id::is_ulid;
use crate::domain::page::PageLimit;
use crate::domain::{Conversation, ConversationKind, MemberRole, Membership, time};
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::{AddMember, AddRule, CreateConversation, CreateDirect, RemoveMember};
use crate::protocol::rest::{ConversationPage, CreateConversationBody, UnreadCount, UnreadSummary};
use crate::protocol::ws::ServerEvent;
use crate::service::push::Pushes;

pub const LIST_LIMIT: PageLimit = PageLimit::new(20, 100);
/// Unread counts read at most this many messages per conversation (clients show "999+").
pub const UNREAD_CAP: u32 = 1000;

/// A conversation with its members, and whether this request created it.
#[derive(Debug, Clone)]
pub struct Opened {
    pub conversation: Conversation,
    pub created: bool,
}

/// `POST /conversations`: returns the conversation with its members and whether it is new.
pub async fn create(app: &App, caller: &str, body: CreateConversationBody) -> Result<Opened> {
    let kind = match body.kind.as_str() {
        "direct" => {
            let other = body.user_id.ok_or_else(|| ChatError::invalid("missing field `userId`"))?;
            return open_direct(app, caller, &other).await;
        }
        "group" => ConversationKind::Group,
        "room" => ConversationKind::Room,
        other => return Err(ChatError::invalid(format!("unknown conversation type {other:?}"))),
    };
    let name = validate_name(body.name.as_deref().ok_or_else(|| ChatError::invalid("missing field `name`"))?)?;
    let mut others: Vec<String> = body.member_ids.unwrap_or_default();
    if kind == ConversationKind::Room && !others.is_empty() {
        return Err(ChatError::invalid("rooms are public: members join themselves (no `memberIds`)"));
    }
    others.sort();
    others.dedup();
    others.retain(|id| id != caller);
    if others.len() > MAX_INITIAL_MEMBERS {
        return Err(ChatError::invalid(format!(
            "at most {MAX_INITIAL_MEMBERS} memberIds at creation; add more with POST /conversations/{{id}}/members"
        )));
    }
    if let Some(bad) = others.iter().find(|id| !is_ulid(id)) {
        return Err(ChatError::not_found(&format!("user {bad}")));
    }
    let now = time::rfc3339(time::now());
    let mut members = vec![(caller.to_string(), MemberRole::Owner)];
    members.extend(others.into_iter().map(|id| (id, MemberRole::Member)));
    let conversation = Conversation {
        id: new_conversation_id(kind),
        kind,
        name: Some(name),
        created_at: now.clone(),
        created_by: caller.to_string(),
        member_count: members.len() as u32,
        last_message: None,
        last_activity_at: now,
        members: None,
        unread_count: None,
        muted: None,
    };
    match app.store.create_conversation(&conversation, &members).await? {
        CreateConversation::Created => {}
        CreateConversation::UserMissing(id) => return Err(ChatError::not_found(&format!("user {id}"))),
    }
    Ok(Opened { conversation: get(app, caller, &conversation.id).await?, created: true })
}

/// Creates the direct conversation between the caller and `other`, or finds it.
pub async fn open_direct(app: &App, caller: &str, other: &str) -> Result<Opened> {
    if !is_ulid(other) {
        return Err(ChatError::not_found("user"));
    }
    if other == caller {
        return Err(ChatError::invalid("a direct conversation needs another user"));
    }
    let id = direct_conversation_id(caller, other);
    let created = create_direct(app, &id, caller, other).await?;
    Ok(Opened { conversation: get(app, caller, &id).await?, created })
}

/// Creates the direct conversation `id` (whether it was created now), also for a first message.
pub(crate) async fn create_direct(app: &App, id: &str, caller: &str, other: &str) -> Result<bool> {
    let conversation = Conversation {
        id: id.to_string(),
        kind: ConversationKind::Direct,
        name: None,
        created_at: time::rfc3339(time::now()),
        created_by: caller.to_string(),
        member_count: 2,
        last_message: None,
        last_activity_at: String::new(),
        members: None,
        unread_count: None,
        muted: None,
    };
    match app.store.create_direct_conversation(&conversation, [caller, other]).await? {
        CreateDirect::Created => Ok(true),
        CreateDirect::AlreadyExists => Ok(false),
        CreateDirect::OtherUserMissing => Err(ChatError::not_found("user")),
    }
}

/// The conversation with its members, for a member (rooms: for anyone); `not_found` for anyone
/// else, so existence never leaks.
pub async fn get(app: &App, caller: &str, id: &str) -> Result<Conversation> {
    validate_conversation_id(id)?;
    let Some((mut conversation, members)) = app.store.get_conversation(id).await? else {
        return Err(ChatError::not_found("conversation"));
    };
    if conversation.kind != ConversationKind::Room && !members.iter().any(|m| m.user_id == caller) {
        return Err(ChatError::not_found("conversation"));
    }
    conversation.members = Some(members);
    Ok(conversation)
}

/// The list cursor: the last item's sort key, opaque to clients.
fn encode_cursor(c: &Conversation) -> String {
    B64.encode(format!("{}|{}", c.last_activity_at, c.id))
}

fn decode_cursor(cursor: &str) -> Result<(String, String)> {
    let bad = || ChatError::invalid("invalid cursor");
    let text = String::from_utf8(B64.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((at.to_string(), id.to_string()))
}

/// Newest activity first; ties by id, so the order is total and the cursor exact.
fn newest_first(a: &Conversation, b: &Conversation) -> std::cmp::Ordering {
    b.last_activity_at.cmp(&a.last_activity_at).then_with(|| b.id.cmp(&a.id))
}

/// `GET /conversations`: the caller's memberships (gsi1) → their member items and conversation
/// items with each one's newest message (BatchGets and Queries, one wave) → sorted by last
/// activity → the page's unread counts. Three waves; no item is written per
/// member per message, so a message costs the same in a 2-member and a 1,000-member room.
pub async fn list(app: &App, caller: &str, limit: Option<usize>, cursor: Option<&str>) -> Result<ConversationPage> {
    let limit = LIST_LIMIT.check(limit)?;
    let after = cursor.map(decode_cursor).transpose()?;
    let ids = app.store.membership_ids(caller).await?;
    let (memberships, conversations) =
        tokio::join!(app.store.memberships_in(caller, &ids), app.store.get_conversation_metas(&ids));
    let (memberships, mut conversations) = (memberships?, conversations?);
    conversations.sort_by(newest_first);
    if let Some((at, id)) = &after {
        conversations.retain(|c| (c.last_activity_at.as_str(), c.id.as_str()) < (at.as_str(), id.as_str()));
    }
    let more = conversations.len() > limit;
    conversations.truncate(limit);
    let counts = unread_counts(app, caller, &memberships, &conversations).await?;
    for (conversation, count) in conversations.iter_mut().zip(counts) {
        conversation.unread_count = Some(count);
        let membership = memberships.iter().find(|m| m.conversation_id == conversation.id);
        conversation.muted = Some(membership.is_some_and(|m| m.muted));
        // The caller's cleared history hides the last message too.
        let floor = membership.and_then(|m| m.member.history_floor().map(str::to_string));
        if let (Some(floor), Some(last)) = (floor, &conversation.last_message)
            && last.id <= floor
        {
            conversation.last_message = None;
        }
    }
    for c in conversations.iter_mut() {
        if let Some(last) = c.last_message.take() {
            c.last_message = Some(crate::service::attachments::signed_one(app, last).await?);
        }
    }
    let next_cursor = if more { conversations.last().map(encode_cursor) } else { None };
    Ok(ConversationPage { conversations, next_cursor })
}

/// Unread counts of `conversations`, concurrently: messages from others after the caller's read
/// pointer (or cleared point), deleted ones excluded, counted up to [`UNREAD_CAP`].
async fn unread_counts(
    app: &App,
    caller: &str,
    memberships: &[Membership],
    conversations: &[Conversation],
) -> Result<Vec<u32>> {
    let counts =
        conversations.iter().map(|c| {
            let floor = memberships
                .iter()
                .find(|m| m.conversation_id == c.id)
                .and_then(|m| m.member.unread_floor().map(str::to_string));
            // Nothing newer than the floor: no read needed.
            let idle = match (&floor, &c.last_message) {
                (_, None) => true,
                (Some(floor), Some(last)) => last.id <= *floor,
                (None, Some(_)) => false,
            };
            async move {
                if idle { Ok(0) } else { app.store.count_unread(&c.id, caller, floor.as_deref(), UNREAD_CAP).await }
            }
        });
    futures::future::join_all(counts).await.into_iter().collect()
}

/// `GET /unread`: every conversation with unread messages, and the total.
pub async fn unread(app: &App, caller: &str) -> Result<UnreadSummary> {
    let ids = app.store.membership_ids(caller).await?;
    let (memberships, conversations) =
        tokio::join!(app.store.memberships_in(caller, &ids), app.store.get_conversation_metas(&ids));
    let (memberships, mut conversations) = (memberships?, conversations?);
    conversations.sort_by(newest_first);
    let counts = unread_counts(app, caller, &memberships, &conversations).await?;
    let conversations: Vec<UnreadCount> = conversations
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|(c, count)| UnreadCount { conversation_id: c.id.clone(), count })
        .collect();
    Ok(UnreadSummary { total: conversations.iter().map(|c| c.count).sum(), conversations })
}

/// The caller adds itself: joins a room. In a group it is a member already (a no-op) or may not
/// add anyone; direct conversations have fixed members. Returns `member.joined` to every member.
pub async fn join(app: &App, caller: &str, conversation_id: &str) -> Result<Pushes> {
    validate_conversation_id(conversation_id)?;
    match kind_of_id(conversation_id) {
        Some(ConversationKind::Room) => insert(app, caller, conversation_id, caller, AddRule::JoinRoom).await,
        Some(ConversationKind::Group) => match app.store.is_member(conversation_id, caller).await? {
            true => Ok(Pushes::none()),
            false => Err(ChatError::not_found("conversation")),
        },
        Some(ConversationKind::Direct) => Err(fixed_members(app, caller, conversation_id).await?),
        None => Err(ChatError::not_found("conversation")),
    }
}

/// A member adds `user_id` to a group (rooms are joined by the user itself: `user_id` may be the
/// caller, which is [`join`]). Returns `member.joined` to every member; adding an existing member
/// is a no-op success without pushes.
pub async fn add_member(app: &App, caller: &str, conversation_id: &str, user_id: &str) -> Result<Pushes> {
    validate_conversation_id(conversation_id)?;
    if !is_ulid(user_id) {
        return Err(ChatError::not_found("user"));
    }
    if user_id == caller {
        return join(app, caller, conversation_id).await;
    }
    match kind_of_id(conversation_id) {
        Some(ConversationKind::Room) => {
            Err(ChatError::new(ErrorCode::Forbidden, "rooms are joined by the user itself"))
        }
        Some(ConversationKind::Group) => {
            let rule = AddRule::ByMember { caller: caller.to_string() };
            insert(app, caller, conversation_id, user_id, rule).await
        }
        Some(ConversationKind::Direct) => Err(fixed_members(app, caller, conversation_id).await?),
        None => Err(ChatError::not_found("conversation")),
    }
}

/// Members of a direct conversation are fixed: `forbidden` for its members; others learn nothing.
async fn fixed_members(app: &App, caller: &str, conversation_id: &str) -> Result<ChatError> {
    Ok(match app.store.is_member(conversation_id, caller).await? {
        true => ChatError::new(ErrorCode::Forbidden, "direct conversations have exactly two members"),
        false => ChatError::not_found("conversation"),
    })
}

/// The membership transaction of a join or an add, and its `member.joined`.
async fn insert(app: &App, caller: &str, conversation_id: &str, user_id: &str, rule: AddRule) -> Result<Pushes> {
    let max = match rule {
        AddRule::JoinRoom => MAX_ROOM_MEMBERS,
        AddRule::ByMember { .. } => MAX_GROUP_MEMBERS,
    };
    match app.store.add_member(conversation_id, user_id, &rule, max).await? {
        AddMember::Added(_) => {}
        AddMember::AlreadyMember => return Ok(Pushes::none()),
        AddMember::NotAllowed => return Err(ChatError::not_found("conversation")),
        AddMember::UserMissing => return Err(ChatError::not_found("user")),
        AddMember::Full => {
            return Err(ChatError::new(ErrorCode::Forbidden, format!("the conversation is full ({max})")));
        }
    }
    let event = ServerEvent::MemberJoined {
        request_id: None,
        conversation_id: conversation_id.to_string(),
        user_id: user_id.to_string(),
        by: caller.to_string(),
    };
    to_members(app, conversation_id, &[], &event).await
}

/// The caller removes itself.
pub async fn leave(app: &App, caller: &str, conversation_id: &str) -> Result<Pushes> {
    remove_member(app, caller, conversation_id, caller).await
}

/// Removes `user_id`: the caller itself (leave), or someone else by the owner. `member.left`
/// goes to the remaining members and to the one who left.
pub async fn remove_member(app: &App, caller: &str, conversation_id: &str, user_id: &str) -> Result<Pushes> {
    validate_conversation_id(conversation_id)?;
    if !is_ulid(user_id) {
        return Err(ChatError::not_found("member"));
    }
    if kind_of_id(conversation_id) == Some(ConversationKind::Direct) {
        return Err(fixed_members(app, caller, conversation_id).await?);
    }
    let by_owner = (user_id != caller).then_some(caller);
    match app.store.remove_member(conversation_id, user_id, by_owner).await? {
        RemoveMember::Removed => {}
        RemoveMember::NotMember if by_owner.is_none() => return Err(ChatError::not_found("conversation")),
        RemoveMember::NotMember => {
            // The caller is the owner (checked in the same transaction only when the target
            // exists): tell "no such member" apart from "not your conversation".
            return match app.store.get_member(conversation_id, caller).await? {
                Some(_) => Err(ChatError::not_found("member")),
                None => Err(ChatError::not_found("conversation")),
            };
        }
        RemoveMember::NotOwner => {
            return match app.store.get_member(conversation_id, caller).await? {
                Some(_) => Err(ChatError::new(ErrorCode::Forbidden, "only the owner may remove others")),
                None => Err(ChatError::not_found("conversation")),
            };
        }
    }
    let event = ServerEvent::MemberLeft {
        request_id: None,
        conversation_id: conversation_id.to_string(),
        user_id: user_id.to_string(),
        by: caller.to_string(),
    };
    to_members(app, conversation_id, &[user_id.to_string()], &event).await
}

/// One event to every member's connections, plus `extra` users (e.g. the one who just left).
async fn to_members(app: &App, conversation_id: &str, extra: &[String], event: &ServerEvent) -> Result<Pushes> {
    let mut users: Vec<String> = match app.store.get_conversation(conversation_id).await? {
        Some((_, members)) => members.into_iter().map(|m| m.user_id).collect(),
        None => Vec::new(),
    };
    users.extend(extra.iter().cloned());
    users.sort();
    users.dedup();
    Pushes::to_users(app, &users, event).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Conversation {
            id: "g-01".into(),
            kind: ConversationKind::Group,
            name: None,
            created_at: String::new(),
            created_by: String::new(),
            member_count: 1,
            last_message: None,
            last_activity_at: "2026-11-24T10:00:00.000Z".into(),
            members: None,
            unread_count: None,
            muted: None,
        };
        assert_eq!(decode_cursor(&encode_cursor(&c)).unwrap(), (c.last_activity_at.clone(), c.id.clone()));
        assert!(decode_cursor("%%%").is_err());
        assert!(decode_cursor(&B64.encode("no-separator")).is_err());
    }
}
