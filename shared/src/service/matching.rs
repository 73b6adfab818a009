//! Random matching: `match` enters the pool and pairs the caller with someone waiting, exactly
//! once however many invocations run at the same moment; `match.cancel` and `$disconnect` leave.
//!
//! Why nobody is left waiting beside someone else: every newcomer writes its entry first and
//! then reads the pool (strongly consistent). Of two users waiting at the same time, the later
//! one's read sees the earlier one's entry, and its pairing fails only if one of them was paired
//! by someone else meanwhile. Why nobody is paired twice: a pairing deletes both entries in one
//! transaction, each on the condition that it still exists. docs/protocol.md, "Random matching".

use crate::App;
use crate::domain::conversation::direct_conversation_id;
use crate::domain::matching::{Waiting, candidates, random_below};
use crate::domain::{User, time};
use crate::error::{ChatError, Result};
use crate::protocol::attachments::Available;
use crate::protocol::ws::ServerEvent;
use crate::service::conversations;
use crate::service::push::Pushes;

/// At most this many waiting users are read by a newcomer (the pool's one partition).
const POOL_READ: usize = 1000;

/// `match`: `match.waiting` to the asking connection, then, if a partner was found, `match.found`
/// to both connections.
pub async fn join(app: &App, caller: &str, connection_id: &str, request_id: Option<String>) -> Result<Pushes> {
    let expires_at = time::now().timestamp() + app.config.match_wait_secs;
    app.store.join_pool(caller, connection_id, expires_at).await?;
    let waiting = Pushes::to_connection(caller, connection_id, &ServerEvent::MatchWaiting { request_id });
    let me = Waiting { user_id: caller.to_string(), connection_id: connection_id.to_string() };
    let pool = app.store.waiting(POOL_READ).await?;
    for partner in candidates(pool, caller, random_below) {
        match app.store.pair(&me, &partner).await? {
            crate::ports::Pairing::Paired => return Ok(waiting.then(found(app, &me, &partner).await?)),
            // Someone else's invocation paired us and tells us.
            crate::ports::Pairing::TakenMe => return Ok(waiting),
            crate::ports::Pairing::TakenPartner => continue,
        }
    }
    Ok(waiting)
}

/// Opens (or finds) their direct conversation and tells each about the other.
async fn found(app: &App, me: &Waiting, partner: &Waiting) -> Result<Pushes> {
    let id = direct_conversation_id(&me.user_id, &partner.user_id);
    conversations::create_direct(app, &id, &me.user_id, &partner.user_id).await?;
    let (mine, theirs) = tokio::join!(public_user(app, &me.user_id), public_user(app, &partner.user_id));
    let to_me = ServerEvent::MatchFound { conversation_id: id.clone(), user: theirs? };
    let to_partner = ServerEvent::MatchFound { conversation_id: id, user: mine? };
    Ok(Pushes::to_connection(&me.user_id, &me.connection_id, &to_me).and(Pushes::to_connection(
        &partner.user_id,
        &partner.connection_id,
        &to_partner,
    )))
}

/// Both were connected a moment ago: shown online.
async fn public_user(app: &App, user_id: &str) -> Result<User> {
    let record = app.store.get_user(user_id).await?.ok_or_else(|| ChatError::not_found("user"))?;
    Ok(User { online: true, ..record.user.public() })
}

/// `match.cancel`: leaves the pool (nothing to answer).
pub async fn cancel(app: &App, caller: &str) -> Result<()> {
    app.store.leave_pool(caller, None).await?;
    Ok(())
}

/// `$disconnect`: the connection's pool entry goes (another device's stays). Never fails (logged).
pub async fn disconnected(app: &App, user_id: &str, connection_id: &str) {
    if let Err(e) = app.store.leave_pool(user_id, Some(connection_id)).await {
        tracing::warn!(error = %e, "could not leave the match pool on disconnect");
    }
}

/// `GET /users/available`.
pub async fn available(app: &App) -> Result<Available> {
    Ok(Available { waiting: app.store.count_waiting().await? })
}
