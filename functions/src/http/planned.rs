//! Documented, not yet served: attachments (`POST /uploads` and a message's `attachment`). The
//! router has no handler for them, so `/uploads` answers 404 and an `attachmentId` 400 until
//! they are built; the document says so in each description.

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use super::openapi::{BadRequest, Internal, PayloadTooLarge, Unauthorized};

#[derive(OpenApi)]
#[openapi(paths(create_upload), components(schemas(Attachment)))]
pub struct Planned;

/// Planned: attachments are not yet accepted by this deployment (an attachmentId answers 400).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Attachment {
    /// The attachmentId from `POST /uploads`.
    id: String,
    #[schema(inline)]
    kind: AttachmentKind,
    file_name: String,
    content_type: String,
    #[schema(minimum = 1, maximum = 10485760)]
    size: u64,
    /// Voice notes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0, maximum = 300)]
    duration_sec: Option<f64>,
    /// Presigned download URL (short-lived).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uri")]
    url: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum AttachmentKind {
    File,
    Voice,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UploadBody {
    #[schema(min_length = 1, max_length = 255)]
    file_name: String,
    /// MIME type, e.g. image/png or audio/ogg.
    content_type: String,
    /// Bytes; files at most 10 MB.
    #[schema(minimum = 1, maximum = 10485760)]
    size: u64,
    #[schema(inline)]
    kind: AttachmentKind,
    /// Voice notes: required, at most 300 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, exclusive_minimum = 0, maximum = 300)]
    duration_sec: Option<f64>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UploadTicket {
    /// Send it as attachmentId once the upload is done.
    attachment_id: String,
    /// Presigned S3 PUT URL.
    #[schema(format = "uri")]
    upload_url: String,
    /// Seconds the URL stays valid.
    #[schema(minimum = 1)]
    expires_in: u64,
}

#[utoipa::path(post, path = "/uploads", tag = "uploads", summary = "Start an upload (planned)",
    description = "Planned (not yet served by this deployment: 404). Returns a presigned S3 URL to PUT the file to, and the attachmentId to send with a message. Files at most 10 MB, voice notes at most 300 s.",
    request_body = UploadBody,
    responses(
        (status = 201, description = "Upload ticket.", body = UploadTicket),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
#[allow(dead_code)]
fn create_upload() {}

/// `Message.attachment`: the domain's message has no such field yet.
pub fn add_fields(doc: &mut Document) {
    let message =
        doc.components.as_mut().and_then(|c| c.schemas.get_mut(<chat::domain::Message as ToSchema>::name().as_ref()));
    if let Some(RefOr::T(Schema::Object(message))) = message {
        let attachment = Ref::from_schema_name(<Attachment as ToSchema>::name());
        // Beside `content`, its caption.
        let at = message.properties.get_index_of("content").map_or(message.properties.len(), |i| i + 1);
        message.properties.shift_insert(at, "attachment".into(), RefOr::Ref(attachment));
    }
}
