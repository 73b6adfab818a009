//! `/scheduled-messages`: messages sent later.

use chat::domain::schedule::ScheduledMessage;
use chat::protocol::rest::ErrorBody;
use chat::protocol::scheduled::{ScheduleBody, ScheduledPage};
use chat::service::scheduling;
use utoipa::IntoParams;

use super::openapi::{BadRequest, Internal, NotFound, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, empty, json};

#[utoipa::path(post, path = "/scheduled-messages", tag = "scheduled", summary = "Schedule a message",
    description = "Sends `content` as the caller's message at `sendAt` (1 minute to 30 days ahead), within a minute of that time, exactly once.",
    request_body = ScheduleBody,
    responses(
        (status = 201, description = "Scheduled (status `scheduled`).", body = ScheduledMessage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn schedule_message(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    json(201, &scheduling::schedule(ctx.app, &user, ctx.body::<ScheduleBody>()?).await?)
}

/// The query of `GET /scheduled-messages`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ScheduledListQuery {
    /// Page size, 1-100 (default 50).
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/scheduled-messages", tag = "scheduled", summary = "List scheduled messages",
    description = "The caller's own scheduled messages with their status.",
    params(ScheduledListQuery),
    responses(
        (status = 200, description = "A page of scheduled messages.", body = ScheduledPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn list_scheduled_messages(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    let limit = ctx.limit()?;
    json(200, &scheduling::list(ctx.app, &user, limit, ctx.query("cursor")).await?)
}

/// The path of `DELETE /scheduled-messages/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ScheduledPath {
    /// Scheduled message id.
    id: String,
}

#[utoipa::path(delete, path = "/scheduled-messages/{id}", tag = "scheduled", summary = "Cancel a scheduled message",
    description = "Cancels while still `scheduled`; once queued or sent it is too late (409).",
    params(ScheduledPath),
    responses(
        (status = 204, description = "Done; no body."),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "`conflict`: already queued or sent.", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn cancel_scheduled_message(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    scheduling::cancel(ctx.app, &user, id).await?;
    empty(204)
}
