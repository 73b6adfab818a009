//! REST bodies of `/me/devices` and `PATCH /conversations/{id}/me`.

use serde::{Deserialize, Serialize};

use crate::domain::Member;
use crate::domain::device::{Device, Platform};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterDeviceBody {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._:-]{1,64}$")]
    pub device_id: String,
    pub platform: Platform,
    /// Absent: the device gets no push notifications (a token registered before is forgotten).
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 4096)]
    pub push_token: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    /// Most recently seen first.
    pub devices: Vec<Device>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchMembershipBody {
    /// true: this conversation sends the caller no push notifications.
    pub muted: bool,
}

/// The caller's own membership: the member as others see it, and its private settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyMembership {
    pub conversation_id: String,
    #[serde(flatten)]
    pub member: Member,
    pub muted: bool,
}
