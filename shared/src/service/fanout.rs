//! Who gets an event: the open connections of a set of users, looked up with bounded concurrency.

use std::sync::Arc;

use futures::StreamExt;

use crate::App;
use crate::error::Result;
use crate::protocol::ws::ServerEvent;
use crate::service::delivery::Push;

/// `(user id, connection id)` of every open connection of every user in `users`: one
/// BatchGetItem of connection sets per 100 users, all at once (a 1,000-member room is 10
/// requests in one wave).
pub async fn connections_of(app: &App, users: &[String]) -> Result<Vec<(String, String)>> {
    app.store.connections_of_users(users).await
}

/// Runs `futures` at most `limit` at a time; answers in their order. (Built from a list of
/// futures rather than a closure over a stream: closures returning borrowing futures trip the
/// compiler's Send inference in async handlers.)
pub async fn bounded<F: std::future::Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    futures::stream::iter(futures).buffered(limit).collect().await
}

/// Pushes of one event to every target except `skip` (the connection that asked, which gets
/// its own answer).
pub fn pushes_to(targets: Vec<(String, String)>, event: &ServerEvent, skip: Option<&str>) -> Vec<Push> {
    let payload: Arc<str> = event.to_json().into();
    targets
        .into_iter()
        .filter(|(_, connection_id)| Some(connection_id.as_str()) != skip)
        .map(|(user_id, connection_id)| Push { user_id, connection_id, payload: payload.clone() })
        .collect()
}

/// One event to every connection of `users`, except `skip`.
pub async fn to_users(app: &App, users: &[String], event: &ServerEvent, skip: Option<&str>) -> Result<Vec<Push>> {
    Ok(pushes_to(connections_of(app, users).await?, event, skip))
}

/// A push to one known connection (the answer to a request).
pub fn reply(user_id: &str, connection_id: &str, event: &ServerEvent) -> Push {
    Push { user_id: user_id.to_string(), connection_id: connection_id.to_string(), payload: event.to_json().into() }
}
