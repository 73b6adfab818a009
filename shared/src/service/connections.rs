//! The WebSocket connection lifecycle: authorize the handshake, record and forget connections.

use crate::App;
use crate::domain::time;
use crate::error::Result;

/// The user id behind the `?token=` of a handshake, or `unauthorized`.
pub fn authorize(app: &App, token: Option<&str>) -> Result<String> {
    app.tokens.verify(token.unwrap_or_default())
}

pub async fn connect(app: &App, user_id: &str, connection_id: &str) -> Result<()> {
    let expires_at = time::now().timestamp() + app.config.connection_ttl_secs;
    // The activity index (planner) is written in the same wave.
    let (stored, ()) = tokio::join!(
        app.store.put_connection(user_id, connection_id, expires_at),
        crate::service::scheduling::seen(app, user_id)
    );
    stored
}

pub async fn disconnect(app: &App, user_id: &str, connection_id: &str) -> Result<()> {
    app.store.delete_connection(user_id, connection_id).await
}
