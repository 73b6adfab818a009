//! Devices of the caller (`/me/devices`) and what a connection from one tells (`$connect
//! ?deviceId=`); notification settings of a membership (`PATCH /conversations/{id}/me`).

use crate::App;
use crate::domain::conversation::validate_conversation_id;
use crate::domain::device::{self, Device, MAX_DEVICES};
use crate::domain::time;
use crate::error::{ChatError, Result};
use crate::ports::Seen;
use crate::protocol::devices::{MyMembership, RegisterDeviceBody};

/// Where a request came from, as the gateway saw it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Creates or replaces the caller's device; `(device, created)`.
pub async fn register(app: &App, user_id: &str, body: RegisterDeviceBody, origin: Origin) -> Result<(Device, bool)> {
    device::validate_device_id(&body.device_id)?;
    if let Some(token) = &body.push_token {
        device::validate_push_token(token)?;
    }
    if let Some(name) = &body.name {
        device::validate_device_name(name)?;
    }
    let existing = app.store.list_devices(user_id).await?;
    let before = existing.iter().find(|d| d.device_id == body.device_id);
    // Every device costs a push per message while its user is offline: bound them.
    if before.is_none() && existing.len() >= MAX_DEVICES {
        return Err(ChatError::conflict(format!("at most {MAX_DEVICES} devices; delete one first")));
    }
    let now = time::rfc3339(time::now());
    let device = Device {
        device_id: body.device_id,
        platform: body.platform,
        push_token: body.push_token,
        name: body.name,
        user_agent: origin.user_agent.as_deref().and_then(device::seen_field),
        last_ip: origin.ip.as_deref().and_then(device::seen_field),
        last_seen_at: Some(now.clone()),
        created_at: before.map_or(now, |d| d.created_at.clone()),
    };
    let created = app.store.put_device(user_id, &device).await?;
    // A concurrent registration may have kept another createdAt; the list shows the stored one.
    Ok((device, created))
}

/// The caller's devices, most recently seen first.
pub async fn list(app: &App, user_id: &str) -> Result<Vec<Device>> {
    let mut devices = app.store.list_devices(user_id).await?;
    devices.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then_with(|| a.device_id.cmp(&b.device_id)));
    Ok(devices)
}

pub async fn remove(app: &App, user_id: &str, device_id: &str) -> Result<()> {
    device::validate_device_id(device_id).map_err(|_| ChatError::not_found("device"))?;
    if app.store.delete_device(user_id, device_id).await? { Ok(()) } else { Err(ChatError::not_found("device")) }
}

/// A `$connect` with `?deviceId=`: last seen, address and user agent of a registered device.
/// Unknown or malformed ids change nothing (the connection itself is not refused for them).
pub async fn seen_on_connect(app: &App, user_id: &str, device_id: &str, origin: Origin) {
    if device::validate_device_id(device_id).is_err() {
        return;
    }
    let seen = Seen {
        at: time::rfc3339(time::now()),
        ip: origin.ip.as_deref().and_then(device::seen_field),
        user_agent: origin.user_agent.as_deref().and_then(device::seen_field),
    };
    if let Err(e) = app.store.touch_device(user_id, device_id, &seen).await {
        tracing::warn!(error = %e, "device last-seen not recorded");
    }
}

/// `PATCH /conversations/{id}/me`: members only; anyone else learns nothing (404).
pub async fn set_muted(app: &App, user_id: &str, conversation_id: &str, muted: bool) -> Result<MyMembership> {
    validate_conversation_id(conversation_id).map_err(|_| ChatError::not_found("conversation"))?;
    match app.store.set_muted(conversation_id, user_id, muted).await? {
        Some(member) => Ok(MyMembership { conversation_id: conversation_id.to_string(), member, muted }),
        None => Err(ChatError::not_found("conversation")),
    }
}
