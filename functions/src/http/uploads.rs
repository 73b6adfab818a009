//! `POST /uploads`: a presigned S3 PUT for one attachment.

use chat::protocol::attachments::{UploadBody, UploadTicket};
use chat::service::attachments;

use super::openapi::{BadRequest, Internal, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, json};

#[utoipa::path(post, path = "/uploads", tag = "uploads", summary = "Start an upload",
    description = "Records the attachment (owned by the caller) and answers a presigned S3 PUT valid for `expiresIn` seconds (default 300). PUT exactly `size` bytes with `uploadHeaders`: Content-Length, Content-Type and the `x-amz-tagging` header are signed, so S3 refuses any other length or type. Then send a message with `attachmentId` (once, by the uploader, within a day: never-sent uploads are deleted by the bucket's lifecycle rule). Allowed types: docs/protocol.md, \"Attachments\"; files and voice notes at most 10 MiB, voice notes at most 300 s.",
    request_body = UploadBody,
    responses(
        (status = 201, description = "Upload ticket.", body = UploadTicket),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn create_upload(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    let body = ctx.body::<UploadBody>()?;
    json(201, &attachments::upload(ctx.app, &user, body).await?)
}
