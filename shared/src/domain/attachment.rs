//! Attachments (files and voice notes) and the rules on what may be uploaded: docs/protocol.md,
//! "Attachments", lists the allowed content types and the limits.

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, ErrorCode, Result};

/// Files and voice notes: at most 10 MiB each.
pub const MAX_SIZE_BYTES: u64 = 10 * 1024 * 1024;
/// Voice notes: at most 5 minutes.
pub const MAX_VOICE_SECONDS: f64 = 300.0;
pub const FILE_NAME_MAX_CHARS: usize = 255;
const CONTENT_TYPE_MAX_BYTES: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    File,
    Voice,
}

/// Media types a file may have. No `text/html`, `image/svg+xml` or scripts: the bucket serves
/// the bytes with the type they were uploaded with, and those could run in a browser.
pub const FILE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/heic",
    "application/pdf",
    "application/zip",
    "application/json",
    "application/octet-stream",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
    "text/csv",
    "text/markdown",
    "video/mp4",
    "video/webm",
    "video/quicktime",
];

/// Media types of voice notes (and of audio files).
pub const AUDIO_TYPES: &[&str] =
    &["audio/webm", "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/wav", "audio/x-wav", "audio/opus"];

/// An attachment as clients see it (`message.attachment`, `GET /attachments/{id}`): `url` is a
/// presigned GET, made fresh for every answer and valid until `urlExpiresAt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[schema(value_type = crate::openapi::Ulid)]
    pub id: String,
    pub kind: AttachmentKind,
    pub file_name: String,
    /// As declared at upload (and signed into the upload URL).
    pub content_type: String,
    /// Bytes, as declared and as found in the bucket.
    pub size: u64,
    /// Voice notes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub duration_sec: Option<f64>,
    /// Presigned download URL (empty in storage: signed when read).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// When `url` stops working (RFC 3339 UTC); `GET /attachments/{id}` gives a new one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(value_type = crate::openapi::Time)]
    pub url_expires_at: String,
}

impl Attachment {
    /// What a message item keeps: everything but the URL, which is signed per read.
    pub fn unsigned(&self) -> Attachment {
        Attachment { url: String::new(), url_expires_at: String::new(), ..self.clone() }
    }
}

/// An upload as declared by `POST /uploads`, after its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub kind: AttachmentKind,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub duration_sec: Option<f64>,
}

/// Checks a declaration: the name, the type against the allow-lists (parameters such as
/// `;codecs=opus` are kept), the size and a voice note's duration.
pub fn declare(
    kind: AttachmentKind,
    file_name: &str,
    content_type: &str,
    size: i64,
    duration_sec: Option<f64>,
) -> Result<Declared> {
    let file_name = validate_file_name(file_name)?;
    let content_type = validate_content_type(kind, content_type)?;
    if size <= 0 {
        return Err(ChatError::invalid("size must be at least 1 byte"));
    }
    let size = size as u64;
    if size > MAX_SIZE_BYTES {
        return Err(ChatError::new(
            ErrorCode::PayloadTooLarge,
            format!("size is {size} bytes; the limit is {MAX_SIZE_BYTES}"),
        ));
    }
    let duration_sec = match (kind, duration_sec) {
        (AttachmentKind::Voice, None) => return Err(ChatError::invalid("a voice note needs `durationSec`")),
        (AttachmentKind::Voice, Some(d)) if !d.is_finite() || d <= 0.0 => {
            return Err(ChatError::invalid("durationSec must be more than 0"));
        }
        (AttachmentKind::Voice, Some(d)) if d > MAX_VOICE_SECONDS => {
            return Err(ChatError::invalid(format!("a voice note lasts at most {MAX_VOICE_SECONDS} s, not {d} s")));
        }
        (AttachmentKind::File, Some(_)) => return Err(ChatError::invalid("durationSec is for voice notes only")),
        (_, d) => d,
    };
    Ok(Declared { kind, file_name, content_type, size, duration_sec })
}

/// 1-255 characters, no path separators, no control characters, not `.` or `..`.
fn validate_file_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > FILE_NAME_MAX_CHARS {
        return Err(ChatError::invalid(format!("fileName must be 1-{FILE_NAME_MAX_CHARS} characters")));
    }
    if trimmed.chars().any(|c| c.is_control() || c == '/' || c == '\\') || trimmed == "." || trimmed == ".." {
        return Err(ChatError::invalid("fileName must be a plain name (no path, no control characters)"));
    }
    Ok(trimmed.to_string())
}

/// The essence (`type/subtype`, lowercase) must be allowed for the kind; parameters may follow
/// (`audio/webm;codecs=opus`, what browsers record). Printable ASCII only: the value is a signed
/// header of the upload.
fn validate_content_type(kind: AttachmentKind, content_type: &str) -> Result<String> {
    let value = content_type.trim();
    if value.is_empty()
        || value.len() > CONTENT_TYPE_MAX_BYTES
        || !value.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        return Err(ChatError::invalid("contentType must be a media type such as image/png"));
    }
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let allowed = match kind {
        AttachmentKind::Voice => AUDIO_TYPES.contains(&essence.as_str()),
        AttachmentKind::File => FILE_TYPES.contains(&essence.as_str()) || AUDIO_TYPES.contains(&essence.as_str()),
    };
    if !allowed {
        let what = if kind == AttachmentKind::Voice { "voice notes take audio types" } else { "see docs/protocol.md" };
        return Err(ChatError::invalid(format!("content type {essence:?} is not allowed ({what})")));
    }
    Ok(value.to_string())
}

/// The message kind of an attachment's message.
pub fn message_kind(kind: AttachmentKind) -> crate::domain::MessageKind {
    match kind {
        AttachmentKind::File => crate::domain::MessageKind::File,
        AttachmentKind::Voice => crate::domain::MessageKind::Voice,
    }
}

/// The object key of an attachment: its id alone, so the bucket can be read (HeadObject) before
/// the record is.
pub fn object_key(attachment_id: &str) -> String {
    format!("a/{attachment_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_checked() {
        let ok = declare(AttachmentKind::File, " notes.txt ", "text/plain", 10, None).unwrap();
        assert_eq!((ok.file_name.as_str(), ok.size), ("notes.txt", 10));
        let voice = declare(AttachmentKind::Voice, "v.webm", "audio/webm;codecs=opus", 10, Some(2.5)).unwrap();
        assert_eq!(voice.content_type, "audio/webm;codecs=opus");
        assert_eq!(
            declare(AttachmentKind::File, "a", "text/plain", MAX_SIZE_BYTES as i64 + 1, None).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
        assert!(declare(AttachmentKind::File, "a", "text/plain", MAX_SIZE_BYTES as i64, None).is_ok());
        for bad in [
            declare(AttachmentKind::File, "a", "text/html", 1, None),
            declare(AttachmentKind::File, "a", "image/svg+xml", 1, None),
            declare(AttachmentKind::Voice, "a", "image/png", 1, Some(1.0)),
            declare(AttachmentKind::Voice, "a", "audio/ogg", 1, None),
            declare(AttachmentKind::Voice, "a", "audio/ogg", 1, Some(300.5)),
            declare(AttachmentKind::Voice, "a", "audio/ogg", 1, Some(f64::NAN)),
            declare(AttachmentKind::File, "a", "text/plain", 1, Some(3.0)),
            declare(AttachmentKind::File, "a", "text/plain", 0, None),
            declare(AttachmentKind::File, "../x", "text/plain", 1, None),
            declare(AttachmentKind::File, "", "text/plain", 1, None),
            declare(AttachmentKind::File, "a\nb", "text/plain", 1, None),
            declare(AttachmentKind::File, "a", "text/plain\r\nx-evil: 1", 1, None),
        ] {
            assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidInput);
        }
        assert!(declare(AttachmentKind::Voice, "a", "audio/ogg", 1, Some(300.0)).is_ok());
    }

    #[test]
    fn stored_attachments_carry_no_url() {
        let a = Attachment {
            id: "A".into(),
            kind: AttachmentKind::File,
            file_name: "f".into(),
            content_type: "text/plain".into(),
            size: 1,
            duration_sec: None,
            url: "https://signed".into(),
            url_expires_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let v = serde_json::to_value(a.unsigned()).unwrap();
        assert!(v.get("url").is_none() && v.get("urlExpiresAt").is_none(), "{v}");
    }
}
