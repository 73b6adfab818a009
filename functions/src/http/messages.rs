//! `/conversations/{id}/messages`, `/read` and `/history`: history, sending, edits, receipts.

use chat::domain::Message;
use chat::ports::Pointer;
use chat::protocol::rest::{EditMessageBody, ErrorBody, MessagePage, PostMessageBody, ReadBody};
use chat::service::push::deliver;
use chat::service::{messaging, receipts};
use utoipa::IntoParams;

use super::openapi::{BadRequest, ConversationPath, Internal, NotFound, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, empty, json};

/// The query of `GET /conversations/{id}/messages`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// Messages older than this id (newest first).
    #[param(value_type = Option<chat::openapi::Ulid>)]
    before: Option<String>,
    /// Messages newer than this id (oldest first).
    #[param(value_type = Option<chat::openapi::Ulid>)]
    after: Option<String>,
    /// Page size, 1-100 (default 50).
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "messages", summary = "History",
    description = "A page of history: newest first without a cursor or with `before`; oldest first with `after`. Only after the caller's own clear-history point. Give at most one of before/after.",
    params(ConversationPath, HistoryQuery),
    responses(
        (status = 200, description = "A page of messages.", body = MessagePage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn list_messages(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    let limit = ctx.limit()?;
    let page = messaging::history(ctx.app, &user, id, ctx.query("before"), ctx.query("after"), limit).await?;
    json(200, &page)
}

#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "messages", summary = "Send a message",
    description = "Stores the message and pushes `message.new` to every member's open WebSocket connections (as the `send` action does). Idempotent by clientMsgId.",
    params(ConversationPath),
    request_body = PostMessageBody,
    responses(
        (status = 200, description = "A repeat of a clientMsgId: the first message.", body = Message),
        (status = 201, description = "Stored (durable) and pushed.", body = Message),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn post_message(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    let body = ctx.body::<PostMessageBody>()?;
    let (sent, pushes) = messaging::send_message(
        ctx.app,
        messaging::SendInput {
            sender_id: user,
            conversation_id: Some(id.to_string()),
            to: None,
            content: body.content,
            attachment_id: body.attachment_id,
            client_msg_id: body.client_msg_id,
            kind: None,
            request_id: None,
            origin_connection: None,
        },
    )
    .await?;
    messaging::deliver_sent(ctx.app, &sent, pushes).await.log("POST /conversations/{id}/messages");
    json(if sent.duplicate { 200 } else { 201 }, &sent.message)
}

/// The message in `/conversations/{id}/messages/{messageId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MessagePath {
    /// Message id (a ULID).
    #[param(value_type = chat::openapi::Ulid)]
    message_id: String,
}

#[utoipa::path(patch, path = "/conversations/{id}/messages/{messageId}", tag = "messages", summary = "Edit a message",
    description = "Sender only. Sets editedAt and pushes `message.updated` to every member.",
    params(ConversationPath, MessagePath),
    request_body = EditMessageBody,
    responses(
        (status = 200, description = "The edited message.", body = Message),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not the sender.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`conflict`: the message was deleted.", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn edit_message(ctx: Ctx<'_>) -> Reply {
    let [id, message_id] = ctx.params()?;
    let user = ctx.caller()?;
    let body = ctx.body::<EditMessageBody>()?;
    let (message, pushes) = messaging::edit_message(ctx.app, &user, id, message_id, &body.content).await?;
    deliver(ctx.app, pushes).await.log("PATCH /conversations/{id}/messages/{messageId}");
    json(200, &message)
}

#[utoipa::path(delete, path = "/conversations/{id}/messages/{messageId}", tag = "messages",
    summary = "Delete a message",
    description = "Sender only. Leaves a tombstone (deleted: true, content null) and pushes `message.deleted` to every member.",
    params(ConversationPath, MessagePath),
    responses(
        (status = 204, description = "Done; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not the sender.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`conflict`: already deleted.", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn delete_message(ctx: Ctx<'_>) -> Reply {
    let [id, message_id] = ctx.params()?;
    let user = ctx.caller()?;
    let pushes = messaging::delete_message(ctx.app, &user, id, message_id).await?;
    deliver(ctx.app, pushes).await.log("DELETE /conversations/{id}/messages/{messageId}");
    empty(204)
}

#[utoipa::path(post, path = "/conversations/{id}/read", tag = "messages", summary = "Mark read",
    description = "Moves the caller's read (and delivered) pointer forward to messageId, never back; as the WebSocket `read` action: senders and the caller's devices get `receipt`.",
    params(ConversationPath),
    request_body = ReadBody,
    responses(
        (status = 204, description = "Done; no body."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn mark_read(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    let body = ctx.body::<ReadBody>()?;
    let input = receipts::ReceiptInput {
        caller: &user,
        conversation_id: id,
        message_id: &body.message_id,
        pointer: Pointer::Read,
        origin: None,
        request_id: None,
    };
    let pushes = receipts::mark(ctx.app, input).await?;
    deliver(ctx.app, pushes).await.log("POST /conversations/{id}/read");
    empty(204)
}

#[utoipa::path(delete, path = "/conversations/{id}/history", tag = "messages", summary = "Clear history",
    description = "Hides every message so far from the caller only; other members keep theirs.",
    params(ConversationPath),
    responses(
        (status = 204, description = "Done; no body."),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn clear_history(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    messaging::clear_history(ctx.app, &user, id).await?;
    empty(204)
}
