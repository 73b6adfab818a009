//! Typing indicators: relayed, never stored. A `start` lapses after [`TYPING_EXPIRES_SECS`]
//! unless renewed, which receivers are told in `expiresIn`, so a lost `stop` cannot stick.

use crate::App;
use crate::domain::conversation::{direct_members, validate_conversation_id};
use crate::error::{ChatError, Result};
use crate::protocol::ws::{ServerEvent, TypingState};
use crate::service::push::Pushes;

pub const TYPING_EXPIRES_SECS: u64 = 10;

/// `typing` to the other members' connections (never back to the typist's own devices).
pub async fn relay(app: &App, caller: &str, conversation_id: &str, state: TypingState) -> Result<Pushes> {
    validate_conversation_id(conversation_id)?;
    let event = ServerEvent::Typing {
        conversation_id: conversation_id.to_string(),
        user_id: caller.to_string(),
        state,
        expires_in: (state == TypingState::Start).then_some(TYPING_EXPIRES_SECS),
    };
    // Direct: the id names the other member, so the membership check and its connection lookup
    // share one wave. Others: the member list, then the connections.
    if let Some(pair) = direct_members(conversation_id) {
        let others: Vec<String> = pair.into_iter().filter(|u| u != caller).collect();
        let (member, targets) =
            tokio::join!(app.store.is_member(conversation_id, caller), app.store.connections_of_users(&others));
        if !member? || others.len() != 1 {
            return Err(ChatError::not_found("conversation"));
        }
        return Ok(Pushes::to_connections(targets?, &event, None));
    }
    let Some((_, members)) = app.store.get_conversation(conversation_id).await? else {
        return Err(ChatError::not_found("conversation"));
    };
    if !members.iter().any(|m| m.user_id == caller) {
        return Err(ChatError::not_found("conversation"));
    }
    let others: Vec<String> = members.into_iter().map(|m| m.user_id).filter(|u| u != caller).collect();
    Pushes::to_users(app, &others, &event).await
}
