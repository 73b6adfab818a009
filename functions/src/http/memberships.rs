//! `PATCH /conversations/{id}/me`: the caller's own settings of a membership.

use chat::protocol::devices::{MyMembership, PatchMembershipBody};
use chat::service::devices;

use super::openapi::{BadRequest, ConversationPath, Internal, NotFound, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, json};

#[utoipa::path(patch, path = "/conversations/{id}/me", tag = "conversations", summary = "Mute or unmute",
    description = "`{muted:true}`: the conversation sends the caller no push notifications (WebSocket events still arrive). Members only.",
    params(ConversationPath),
    request_body = PatchMembershipBody,
    responses(
        (status = 200, description = "The caller's membership.", body = MyMembership),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn patch_membership(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    let body = ctx.body::<PatchMembershipBody>()?;
    json(200, &devices::set_muted(ctx.app, &user, id, body.muted).await?)
}
