//! Attachments: `POST /uploads` (a record and a presigned PUT), the checks a message with an
//! `attachmentId` passes before it is stored, download URLs for readers, `GET /attachments/{id}`,
//! and the object's deletion with its message. docs/protocol.md, "Attachments".

use std::sync::Arc;

use crate::App;
use crate::domain::attachment::{self, Attachment, object_key};
use crate::domain::conversation::{ConversationKind, kind_of_id};
use crate::domain::id::is_ulid;
use crate::domain::message::validate_content;
use crate::domain::{Message, MessageKind, new_id, time};
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::{AttachmentClaim, AttachmentRecord, AttachmentState, ClaimRequest, ObjectStore};
use crate::protocol::attachments::{UploadBody, UploadTicket};
use crate::service::messaging::SendInput;

fn objects(app: &App) -> Result<&Arc<dyn ObjectStore>> {
    app.objects.as_ref().ok_or_else(|| ChatError::invalid("attachments are not enabled on this deployment"))
}

/// `POST /uploads`: checks the declaration, records the pending upload (owned by the caller,
/// lapsing after a day like its object) and answers a presigned PUT of exactly that many bytes.
pub async fn upload(app: &App, caller: &str, body: UploadBody) -> Result<UploadTicket> {
    let objects = objects(app)?;
    let declared = attachment::declare(body.kind, &body.file_name, &body.content_type, body.size, body.duration_sec)?;
    let id = new_id();
    let ttl = app.config.upload_url_ttl_secs;
    let record = AttachmentRecord {
        id: id.clone(),
        owner_id: caller.to_string(),
        kind: declared.kind,
        file_name: declared.file_name,
        content_type: declared.content_type,
        size: declared.size,
        duration_sec: declared.duration_sec,
        created_at: time::rfc3339(time::now()),
        state: AttachmentState::Pending,
        conversation_id: None,
        client_msg_id: None,
        message_id: None,
    };
    let key = object_key(&id);
    let (presigned, stored) = tokio::join!(
        objects.presign_put(&key, &record.content_type, record.size, ttl),
        app.store.put_attachment(&record, time::now().timestamp() + 24 * 3600)
    );
    stored?;
    let presigned = presigned?;
    Ok(UploadTicket {
        attachment_id: id,
        upload_url: presigned.url,
        upload_headers: presigned.headers.into_iter().collect(),
        expires_in: ttl,
    })
}

/// The content of a message to send: required without an attachment, an optional caption with
/// one (blank means none).
pub fn content_of(input: &SendInput, max_chars: usize) -> Result<Option<&str>> {
    match (input.content.as_deref(), &input.attachment_id) {
        (None, None) => Err(ChatError::invalid("missing field `content` or `attachmentId`")),
        (Some(c), Some(_)) if c.trim().is_empty() => Ok(None),
        (None, Some(_)) => Ok(None),
        (Some(c), _) => validate_content(c, max_chars).map(|()| Some(c)),
    }
}

/// Before a member's message with `attachmentId` is stored: the object must exist with the
/// declared size (HeadObject), then one conditional update claims the record for this message
/// (owner only, once). A resend of the same `clientMsgId` to the same conversation passes again
/// (its first attempt may have claimed and died). Answers the message with kind `file`/`voice`
/// and the attachment with a download URL; unchanged without `attachmentId`.
pub async fn attach(app: &App, input: &SendInput, mut message: Message) -> Result<Message> {
    let Some(id) = input.attachment_id.as_deref() else {
        return Ok(message);
    };
    if input.kind.is_some_and(|k| k != MessageKind::Text) {
        return Err(ChatError::invalid("this kind of message takes no attachment"));
    }
    let objects = objects(app)?;
    if !is_ulid(id) {
        return Err(ChatError::not_found("attachment"));
    }
    let Some(actual_size) = objects.object_size(&object_key(id)).await? else {
        // Someone else's id learns the same as an upload not yet done.
        return Err(ChatError::invalid("the attachment has not been uploaded (PUT its bytes to uploadUrl first)"));
    };
    if actual_size > attachment::MAX_SIZE_BYTES {
        return Err(ChatError::new(ErrorCode::PayloadTooLarge, "the uploaded attachment is over the size limit"));
    }
    let request = ClaimRequest {
        attachment_id: id,
        sender_id: &input.sender_id,
        actual_size,
        conversation_id: &message.conversation_id,
        client_msg_id: &input.client_msg_id,
        message_id: &message.id,
    };
    let record = match app.store.claim_attachment(&request).await? {
        AttachmentClaim::Claimed(record) => record,
        AttachmentClaim::Used(record)
            if record.state == AttachmentState::Attached
                && record.client_msg_id.as_deref() == Some(input.client_msg_id.as_str())
                && record.conversation_id.as_deref() == Some(message.conversation_id.as_str()) =>
        {
            record
        }
        AttachmentClaim::Used(_) => return Err(ChatError::conflict("the attachment was sent already")),
        AttachmentClaim::Missing => return Err(ChatError::not_found("attachment")),
        AttachmentClaim::SizeMismatch { declared } => {
            return Err(ChatError::invalid(format!(
                "the upload is {actual_size} bytes but {declared} were declared; upload again"
            )));
        }
    };
    // Off the lifecycle rule for never-sent uploads, before any message points at it.
    objects.keep(&object_key(id)).await?;
    message.kind = attachment::message_kind(record.kind);
    message.attachment = Some(Box::new(sign(app, record.attachment()).await?));
    Ok(message)
}

/// A fresh download URL on the attachment.
async fn sign(app: &App, mut a: Attachment) -> Result<Attachment> {
    let Some(objects) = app.objects.as_ref() else {
        return Ok(a);
    };
    let ttl = app.config.download_url_ttl_secs;
    a.url = objects.presign_get(&object_key(&a.id), &a.file_name, ttl).await?;
    a.url_expires_at = time::rfc3339(time::now() + chrono::Duration::seconds(ttl as i64));
    Ok(a)
}

/// Download URLs on every attachment of `messages` (for readers: history, sync, events); a
/// tombstone shows none.
pub async fn signed(app: &App, mut messages: Vec<Message>) -> Result<Vec<Message>> {
    for m in messages.iter_mut() {
        if m.deleted {
            m.attachment = None;
        } else if let Some(a) = m.attachment.take() {
            m.attachment = Some(Box::new(sign(app, *a).await?));
        }
    }
    Ok(messages)
}

/// One message with its download URL.
pub async fn signed_one(app: &App, message: Message) -> Result<Message> {
    let mut messages = signed(app, vec![message]).await?;
    messages.pop().ok_or_else(|| ChatError::internal("signed drops no message"))
}

/// After a message was deleted: its object goes, its record is marked deleted (so the URL is
/// never renewed) and the tombstone keeps no file name. Never fails (logged): the tombstone is
/// what the sender asked for.
pub async fn forget(app: &App, mut message: Message) -> Message {
    let Some(a) = message.attachment.take() else {
        return message;
    };
    let (forgotten, deleted) =
        tokio::join!(app.store.forget_attachment(&a.id, &message.conversation_id, &message.id), async {
            match app.objects.as_ref() {
                Some(objects) => objects.delete_object(&object_key(&a.id)).await,
                None => Ok(()),
            }
        });
    for e in [forgotten.err(), deleted.err()].into_iter().flatten() {
        tracing::warn!(error = %e, attachment = %a.id, "could not delete a deleted message's attachment");
    }
    message
}

/// `GET /attachments/{id}`: its uploader, or whoever may read the conversation it was sent in
/// (members; anyone for a room), gets it with a fresh URL; everyone else `not_found`.
pub async fn get(app: &App, caller: &str, id: &str) -> Result<Attachment> {
    objects(app)?;
    if !is_ulid(id) {
        return Err(ChatError::not_found("attachment"));
    }
    let Some(record) = app.store.get_attachment(id).await? else {
        return Err(ChatError::not_found("attachment"));
    };
    if record.state == AttachmentState::Deleted {
        return Err(ChatError::not_found("attachment"));
    }
    let allowed = record.owner_id == caller
        || match (record.state, record.conversation_id.as_deref()) {
            (AttachmentState::Attached, Some(conversation)) => {
                kind_of_id(conversation) == Some(ConversationKind::Room)
                    || app.store.is_member(conversation, caller).await?
            }
            _ => false,
        };
    if !allowed {
        return Err(ChatError::not_found("attachment"));
    }
    sign(app, record.attachment()).await
}
