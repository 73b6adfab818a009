//! The WebSocket connection lifecycle: authorize the handshake, record and forget connections,
//! and the presence that follows (docs/architecture.md, "Users, presence, limits and stats").

use crate::App;
use crate::domain::time;
use crate::error::Result;
use crate::service::push::Pushes;
use crate::service::{presence, scheduling};

/// The user id behind the `?token=` of a handshake, or `unauthorized`.
pub fn authorize(app: &App, token: Option<&str>) -> Result<String> {
    app.tokens.verify(token.unwrap_or_default())
}

/// Records the connection; returns `online` to the user's contacts if it is the user's first.
pub async fn connect(app: &App, user_id: &str, connection_id: &str) -> Result<Pushes> {
    let expires_at = time::now().timestamp() + app.config.connection_ttl_secs;
    // The activity index (planner) is written in the same wave.
    let (stored, ()) =
        tokio::join!(app.store.put_connection(user_id, connection_id, expires_at), scheduling::seen(app, user_id));
    stored?;
    Ok(Pushes::presence(presence::online(app, user_id, connection_id).await))
}

/// Forgets the connection; returns `offline` to the user's contacts if it was the user's last.
pub async fn disconnect(app: &App, user_id: &str, connection_id: &str) -> Result<Pushes> {
    app.store.delete_connection(user_id, connection_id).await?;
    Ok(Pushes::presence(presence::offline(app, user_id).await))
}
