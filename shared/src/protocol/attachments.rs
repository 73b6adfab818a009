//! REST bodies of uploads, attachments, call configuration and random matching.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::attachment::{Attachment, AttachmentKind};

/// `POST /uploads`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadBody {
    /// A plain name (no path), 1-255 characters; the download is offered under it.
    #[schema(min_length = 1, max_length = 255)]
    pub file_name: String,
    /// A media type of the allow-list (docs/protocol.md, "Attachments"); voice notes: audio types. Parameters such
    /// as `;codecs=opus` are kept.
    pub content_type: String,
    /// Bytes, 1 to 10,485,760 (10 MiB); the upload must be exactly this long.
    #[schema(minimum = 1, maximum = 10485760)]
    pub size: i64,
    pub kind: AttachmentKind,
    /// Voice notes only: more than 0 and at most 300 seconds.
    #[schema(nullable = false, maximum = 300)]
    pub duration_sec: Option<f64>,
}

/// The answer of `POST /uploads`: PUT the bytes to `uploadUrl` with `uploadHeaders`, then send a message with
/// `attachmentId`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    #[schema(value_type = crate::openapi::Ulid)]
    pub attachment_id: String,
    /// Presigned S3 PUT. It signs Content-Length (exactly `size`), Content-Type and the `x-amz-tagging` header, so S3
    /// refuses any other body length or type.
    pub upload_url: String,
    /// Headers to send with the PUT, exactly (Content-Length is the body's own).
    pub upload_headers: BTreeMap<String, String>,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
}

/// `GET /attachments/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentBody {
    /// With a fresh download `url`.
    pub attachment: Attachment,
}

/// `GET /calls/config`: what a client passes to `RTCPeerConnection`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallConfig {
    /// RTCIceServer objects (`urls`, and `username`/`credential` for TURN), as configured by the deployment
    /// (template parameter `IceServers`).
    #[schema(value_type = Vec<Object>)]
    pub ice_servers: serde_json::Value,
}

/// `GET /users/available`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Available {
    /// Users waiting for a random match now.
    #[schema(minimum = 0)]
    pub waiting: u64,
}
