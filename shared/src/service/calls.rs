//! `call`: WebRTC signaling relayed between two users who share a direct or group conversation,
//! to every open connection of the other. Signals are never stored; only the first `answer` of a
//! call is recorded (which connection took it, with a TTL), so exactly one device wins and the
//! callee's other devices hear `end` with reason `answered_elsewhere`. docs/protocol.md, "Calls".

use serde_json::json;

use crate::App;
use crate::domain::ConversationKind;
use crate::domain::call::{ANSWERED_ELSEWHERE, Signal, validate_call_id};
use crate::domain::conversation::{direct_conversation_id, kind_of_id};
use crate::domain::id::is_ulid;
use crate::domain::time;
use crate::error::{ChatError, Result};
use crate::protocol::attachments::CallConfig;
use crate::protocol::ws::{CallFields, ServerEvent};
use crate::service::push::Pushes;

/// How long an answer claim is kept: longer than any call's set-up.
const ANSWER_TTL_SECS: i64 = 3600;

/// Relays one signal from `caller` (on `connection_id`) to `fields.to`.
pub async fn relay(app: &App, caller: &str, connection_id: &str, fields: CallFields) -> Result<Pushes> {
    validate_call_id(&fields.call_id)?;
    if fields.to == caller {
        return Err(ChatError::invalid("a call needs another user"));
    }
    if !is_ulid(&fields.to) {
        return Err(ChatError::not_found("user"));
    }
    let (shared, targets) = tokio::join!(share_a_conversation(app, caller, &fields.to), async {
        app.store.connections_of_users(std::slice::from_ref(&fields.to)).await
    });
    if !shared? {
        return Err(ChatError::not_found("user"));
    }
    let targets = targets?;
    if targets.is_empty() {
        return Err(ChatError::not_found("connected user"));
    }
    let event = |signal, data, reason| ServerEvent::Call {
        from: caller.to_string(),
        call_id: fields.call_id.clone(),
        signal,
        data,
        reason,
    };
    if fields.signal != Signal::Answer {
        return Ok(Pushes::to_connections(targets, &event(fields.signal, fields.data, None), None));
    }
    // `to` placed the call; the caller answers it.
    let expires_at = time::now().timestamp() + ANSWER_TTL_SECS;
    let won = app.store.claim_answer(&fields.to, caller, &fields.call_id, connection_id, expires_at).await?;
    let elsewhere = ServerEvent::Call {
        from: fields.to.clone(),
        call_id: fields.call_id.clone(),
        signal: Signal::End,
        data: json!({ "reason": ANSWERED_ELSEWHERE }),
        reason: Some(ANSWERED_ELSEWHERE),
    };
    if !won {
        return Ok(Pushes::to_connection(caller, connection_id, &elsewhere));
    }
    let answer = Pushes::to_connections(targets, &event(Signal::Answer, fields.data, None), None);
    let mine = app.store.connections_of_users(&[caller.to_string()]).await?;
    Ok(answer.and(Pushes::to_connections(mine, &elsewhere, Some(connection_id))))
}

/// A direct conversation between them (one read), else a group both belong to. Rooms do not
/// count: anyone may join one, and a public room must not let strangers ring each other.
async fn share_a_conversation(app: &App, a: &str, b: &str) -> Result<bool> {
    if app.store.is_member(&direct_conversation_id(a, b), a).await? {
        return Ok(true);
    }
    let (mine, theirs) = tokio::join!(app.store.memberships(a), app.store.memberships(b));
    let theirs = theirs?;
    Ok(mine?.iter().any(|m| {
        kind_of_id(&m.conversation_id) == Some(ConversationKind::Group)
            && theirs.iter().any(|t| t.conversation_id == m.conversation_id)
    }))
}

/// `GET /calls/config`: the ICE servers of this deployment (template parameter `IceServers`).
pub fn config(app: &App) -> CallConfig {
    CallConfig { ice_servers: app.config.ice_servers.clone() }
}
