//! A user's devices: registration, listing, forgetting, and what a connection tells of them.

use async_trait::async_trait;

use crate::domain::device::Device;
use crate::error::Result;

/// What a connection or registration tells about a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Creates or replaces the device `device.device_id` of `user_id`, keeping its `createdAt`
    /// and push endpoint when the token did not change. True when it is new.
    async fn put_device(&self, user_id: &str, device: &Device) -> Result<bool>;
    async fn list_devices(&self, user_id: &str) -> Result<Vec<Device>>;
    /// False when there was no such device.
    async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<bool>;
    /// Records a connection from a registered device; false (and nothing written) for an
    /// unknown one, so a client cannot create devices by connecting.
    async fn touch_device(&self, user_id: &str, device_id: &str, seen: &Seen) -> Result<bool>;
}
