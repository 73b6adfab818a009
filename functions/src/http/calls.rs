//! `GET /calls/config`: the ICE servers clients hand to `RTCPeerConnection`.

use chat::protocol::attachments::CallConfig;
use chat::service::calls;

use super::openapi::{Internal, Unauthorized};
use super::request::{Ctx, Reply, json};

#[utoipa::path(get, path = "/calls/config", tag = "calls", summary = "Call configuration",
    description = "The STUN/TURN servers of this deployment (template parameter `IceServers`), as `RTCConfiguration.iceServers`. The signals themselves travel over the WebSocket `call` action (docs/protocol.md, \"Calls\").",
    responses(
        (status = 200, description = "The ICE servers.", body = CallConfig),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn call_config(ctx: Ctx<'_>) -> Reply {
    ctx.caller()?;
    json(200, &calls::config(ctx.app))
}
