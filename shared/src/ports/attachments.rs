//! Attachments: the record of each upload (DynamoDB) and the bytes (an object store: S3).

use async_trait::async_trait;

use crate::domain::attachment::{Attachment, AttachmentKind};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentState {
    /// Declared, URL handed out; the bytes may or may not be there yet.
    Pending,
    /// Claimed by a message (sent at most once).
    Attached,
    /// Its message was deleted; the object is gone.
    Deleted,
}

/// One upload as stored, owned by its uploader.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentRecord {
    pub id: String,
    pub owner_id: String,
    pub kind: AttachmentKind,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub duration_sec: Option<f64>,
    pub created_at: String,
    pub state: AttachmentState,
    /// Where it was sent (once attached), and by which `(clientMsgId, message id)`.
    pub conversation_id: Option<String>,
    pub client_msg_id: Option<String>,
    pub message_id: Option<String>,
}

impl AttachmentRecord {
    /// The client's view, without a URL yet.
    pub fn attachment(&self) -> Attachment {
        Attachment {
            id: self.id.clone(),
            kind: self.kind,
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            duration_sec: self.duration_sec,
            url: String::new(),
            url_expires_at: String::new(),
        }
    }
}

/// Who sends an attachment where.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub attachment_id: &'a str,
    pub sender_id: &'a str,
    /// The object's real size (HeadObject).
    pub actual_size: u64,
    pub conversation_id: &'a str,
    pub client_msg_id: &'a str,
    pub message_id: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentClaim {
    Claimed(AttachmentRecord),
    /// No such attachment, or someone else's: the caller learns nothing more.
    Missing,
    /// Sent already (or deleted): the record says by which clientMsgId and where.
    Used(AttachmentRecord),
    /// The object's size differs from the declaration.
    SizeMismatch {
        declared: u64,
    },
}

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Records a pending upload; it lapses at `expires_at` unless claimed.
    async fn put_attachment(&self, record: &AttachmentRecord, expires_at: i64) -> Result<()>;
    async fn get_attachment(&self, id: &str) -> Result<Option<AttachmentRecord>>;
    /// Pending → attached, only for its owner, only once, only when `actual_size` is the declared size.
    async fn claim_attachment(&self, claim: &ClaimRequest<'_>) -> Result<AttachmentClaim>;
    /// Marks it deleted and takes the attachment off its message item (the tombstone keeps no file name).
    async fn forget_attachment(&self, id: &str, conversation_id: &str, message_id: &str) -> Result<()>;
}

/// A presigned request: the URL and the headers the client must send with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Presigned {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// The bucket: presigned URLs (computed locally, no request) and the few calls the service makes.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// A PUT of exactly `size` bytes of `content_type` (both signed), tagged `pending=true`.
    async fn presign_put(&self, key: &str, content_type: &str, size: u64, expires_secs: u64) -> Result<Presigned>;
    /// A GET that downloads as `file_name`.
    async fn presign_get(&self, key: &str, file_name: &str, expires_secs: u64) -> Result<String>;
    /// The object's size, `None` when it does not exist.
    async fn object_size(&self, key: &str) -> Result<Option<u64>>;
    /// Drops the `pending` tag, so the lifecycle rule for never-sent uploads no longer applies.
    async fn keep(&self, key: &str) -> Result<()>;
    async fn delete_object(&self, key: &str) -> Result<()>;
}
