//! `GET /users/available`: how many users wait for a random match.

use chat::protocol::attachments::Available;
use chat::service::matching;

use super::openapi::{Internal, Unauthorized};
use super::request::{Ctx, Reply, json};

#[utoipa::path(get, path = "/users/available", tag = "users", summary = "Waiting for a match",
    description = "How many users wait in the random-matching pool now (WebSocket `match`; an entry lapses after 10 minutes or when its connection closes).",
    responses(
        (status = 200, description = "The count.", body = Available),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn available_for_match(ctx: Ctx<'_>) -> Reply {
    ctx.caller()?;
    json(200, &matching::available(ctx.app).await?)
}
