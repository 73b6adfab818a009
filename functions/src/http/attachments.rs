//! `GET /attachments/{id}`: an attachment with a fresh download URL.

use chat::protocol::attachments::AttachmentBody;
use chat::service::attachments;
use utoipa::IntoParams;

use super::openapi::{Internal, NotFound, Unauthorized};
use super::request::{Ctx, Reply, json};

/// The attachment in `/attachments/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AttachmentPath {
    /// The attachmentId (a ULID).
    #[param(value_type = chat::openapi::Ulid)]
    id: String,
}

#[utoipa::path(get, path = "/attachments/{id}", tag = "uploads", summary = "Renew a download URL",
    description = "For its uploader, and for whoever may read the conversation it was sent in (members; anyone for a room): the attachment with a new presigned GET `url` (valid until `urlExpiresAt`, default one hour). Anyone else, and the attachment of a deleted message: 404.",
    params(AttachmentPath),
    responses(
        (status = 200, description = "The attachment.", body = AttachmentBody),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn get_attachment(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    let attachment = attachments::get(ctx.app, &user, id).await?;
    json(200, &AttachmentBody { attachment })
}
