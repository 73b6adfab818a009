//! `/me/devices`: the caller's devices, where push notifications go.

use chat::domain::device::Device;
use chat::protocol::devices::{DeviceList, RegisterDeviceBody};
use chat::service::devices::{self, Origin};
use utoipa::IntoParams;

use super::openapi::{BadRequest, Conflict, Internal, NotFound, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, empty, json};

/// The source address and User-Agent of an HTTP request.
fn origin(ctx: &Ctx<'_>) -> Origin {
    let user_agent = ctx.req.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_string);
    Origin { ip: ctx.source_ip(), user_agent }
}

#[utoipa::path(post, path = "/me/devices", tag = "devices", summary = "Register a device",
    description = "Creates or replaces the caller's device `deviceId` (upsert). With a `pushToken` (APNs for ios, FCM for android and web) the device gets push notifications while the caller has no open connection; without one, a token registered before is forgotten. Records the request's User-Agent and address as last seen. At most 20 devices per user.",
    request_body = RegisterDeviceBody,
    responses(
        (status = 200, description = "Replaced.", body = Device),
        (status = 201, description = "Created.", body = Device),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn register_device(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    let (device, created) = devices::register(ctx.app, &user, ctx.body::<RegisterDeviceBody>()?, origin(&ctx)).await?;
    json(if created { 201 } else { 200 }, &device)
}

#[utoipa::path(get, path = "/me/devices", tag = "devices", summary = "The caller's devices",
    description = "Every registered device with `lastSeenAt`, `lastIp` and `userAgent` (from its registration or its last WebSocket connect with `?deviceId=`), most recently seen first.",
    responses(
        (status = 200, description = "The devices.", body = DeviceList),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn list_devices(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    json(200, &DeviceList { devices: devices::list(ctx.app, &user).await? })
}

/// The path of `DELETE /me/devices/{deviceId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct DevicePath {
    /// The device's id.
    #[param(rename = "deviceId", max_length = 64, pattern = "^[A-Za-z0-9._:-]{1,64}$")]
    device_id: String,
}

#[utoipa::path(delete, path = "/me/devices/{deviceId}", tag = "devices", summary = "Forget a device",
    description = "The device gets no more push notifications.",
    params(DevicePath),
    responses(
        (status = 204, description = "Forgotten."),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn delete_device(ctx: Ctx<'_>) -> Reply {
    let [device_id] = ctx.params()?;
    let user = ctx.caller()?;
    devices::remove(ctx.app, &user, device_id).await?;
    empty(204)
}
