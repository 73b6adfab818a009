//! WebSocket API handlers: `$connect`, `$disconnect`, `send`, `delivered` + `read` (one function),
//! `typing`, and `$default` (`ping`, `sync`, `join`, `leave`, `call`, `match`, `match.cancel`).
//! The `$connect` authorizer is a package of its own (functions/authorizer/, no AWS SDK),
//! re-exported here.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chat::App;
use chat::error::{ChatError, ErrorCode};
use chat::ports::Pointer;
use chat::protocol::ws::{
    Frame, MembershipFields, ReceiptFields, SendFields, ServerEvent, SyncFields, TypingFields, parse_frame,
};
use chat::service::push::{self, Pushes};
use chat::service::{
    calls, connections, conversations, devices, limits, matching, messaging, receipts, sync, typing, users,
};
use lambda_http::http::HeaderValue;
use lambda_http::http::header::SEC_WEBSOCKET_PROTOCOL;
use lambda_runtime::Error;

pub use chat_authorizer::{SUBPROTOCOL, USER_ID_KEY, authorize, offered_subprotocols};

/// Who is speaking on which connection, from the event alone.
struct Caller {
    user_id: String,
    connection_id: String,
}

fn caller(app: &App, event: &ApiGatewayWebsocketProxyRequest) -> Option<Caller> {
    let ctx = &event.request_context;
    app.pusher.bind_endpoint(ctx.domain_name.as_deref().unwrap_or_default(), ctx.stage.as_deref().unwrap_or_default());
    let user_id = ctx.authorizer.fields.get(USER_ID_KEY)?.as_str()?.to_string();
    let connection_id = ctx.connection_id.clone()?;
    Some(Caller { user_id, connection_id })
}

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    response
}

pub async fn connect(app: &App, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, Error> {
    // Without the authorizer's context the route is misconfigured: refuse rather than guess.
    let Some(caller) = caller(app, &event) else {
        return Ok(status(401));
    };
    // A validly signed token of a user that does not exist (deleted, invented): refused at the
    // handshake, before any record is written.
    match users::ensure_exists(app, &caller.user_id).await {
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::Unauthorized => {
            tracing::info!(user = %caller.user_id, "refused: the token's user does not exist");
            return Ok(status(401));
        }
        Err(e) => return Err(e.into()),
    }
    // `?deviceId=`: the device's last seen time, address and user agent, in the same wave.
    let identity = &event.request_context.identity;
    let origin = devices::Origin { ip: identity.source_ip.clone(), user_agent: identity.user_agent.clone() };
    let device_seen = async {
        if let Some(device_id) = event.query_string_parameters.first("deviceId") {
            devices::seen_on_connect(app, &caller.user_id, device_id, origin).await;
        }
    };
    let (presence, ()) = tokio::join!(connections::connect(app, &caller.user_id, &caller.connection_id), device_seen);
    let presence = presence?;
    tracing::info!(user = %caller.user_id, connection = %caller.connection_id, "connected");
    // Inside `$connect`, before the handshake completes: contacts hear `online` first.
    push::deliver(app, presence).await.log("$connect");
    let mut answer = status(200);
    // A client that offers subprotocols (browsers passing the token that way) refuses the socket
    // unless one is selected: select ours.
    if offered_subprotocols(&event.headers).contains(&SUBPROTOCOL) {
        answer.headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
    }
    Ok(answer)
}

pub async fn disconnect(app: &App, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, Error> {
    if let Some(caller) = caller(app, &event) {
        let (presence, ()) = tokio::join!(
            connections::disconnect(app, &caller.user_id, &caller.connection_id),
            matching::disconnected(app, &caller.user_id, &caller.connection_id)
        );
        let presence = presence?;
        tracing::info!(user = %caller.user_id, connection = %caller.connection_id, "disconnected");
        push::deliver(app, presence).await.log("$disconnect");
    }
    Ok(status(200))
}

/// Route `send`.
pub async fn send(app: &App, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, Error> {
    handle_frame(app, event, "send", |caller, frame| async move {
        let fields: SendFields = frame.fields()?;
        let (sent, pushes) = messaging::send_message(
            app,
            messaging::SendInput {
                sender_id: caller.user_id,
                conversation_id: fields.conversation_id,
                to: fields.to,
                content: fields.content,
                attachment_id: fields.attachment_id,
                client_msg_id: fields.client_msg_id,
                kind: None,
                request_id: frame.request_id.clone(),
                origin_connection: Some(caller.connection_id),
            },
        )
        .await?;
        // Delivered here, not by `handle_frame`: the message counter is recorded alongside the
        // pushes.
        messaging::deliver_sent(app, &sent, pushes).await.log("send");
        Ok(Pushes::none())
    })
    .await
}

/// Routes `delivered` and `read`.
pub async fn receipt(app: &App, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, Error> {
    handle_frame(app, event, "delivered/read", |caller, frame| async move {
        let pointer = match frame.action.as_str() {
            "delivered" => Pointer::Delivered,
            "read" => Pointer::Read,
            other => return Err(ChatError::invalid(format!("unknown action {:?}", truncate(other, 64)))),
        };
        let fields: ReceiptFields = frame.fields()?;
        receipts::mark(
            app,
            receipts::ReceiptInput {
                caller: &caller.user_id,
                conversation_id: &fields.conversation_id,
                message_id: &fields.message_id,
                pointer,
                origin: Some(&caller.connection_id),
                request_id: frame.request_id.clone(),
            },
        )
        .await
    })
    .await
}

/// Route `typing`.
pub async fn typing(app: &App, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, Error> {
    handle_frame(app, event, "typing", |caller, frame| async move {
        let fields: TypingFields = frame.fields()?;
        typing::relay(app, &caller.user_id, &fields.conversation_id, fields.state).await
    })
    .await
}

/// Route `$default`: every action without a route of its own.
pub async fn default(app: &App, event: ApiGatewayWebsocketProxyRequest) -> Result<ApiGatewayProxyResponse, Error> {
    handle_frame(app, event, "$default", |caller, frame| async move {
        let request_id = frame.request_id.clone();
        match frame.action.as_str() {
            "ping" => Ok(reply(&caller, &ServerEvent::Pong { request_id })),
            "sync" => {
                let fields: SyncFields = frame.fields()?;
                let page =
                    sync::sync(app, &caller.user_id, fields.since.as_deref(), fields.cursor.as_deref(), fields.limit)
                        .await?;
                let event = ServerEvent::Sync {
                    request_id,
                    messages: page.messages,
                    receipts: page.receipts,
                    has_more: page.has_more,
                    cursor: page.cursor,
                };
                Ok(reply(&caller, &event))
            }
            "join" => {
                let fields: MembershipFields = frame.fields()?;
                let pushes = conversations::join(app, &caller.user_id, &fields.conversation_id).await?;
                Ok(with_answer(pushes, &caller, &fields.conversation_id, request_id, true))
            }
            "leave" => {
                let fields: MembershipFields = frame.fields()?;
                let pushes = conversations::leave(app, &caller.user_id, &fields.conversation_id).await?;
                Ok(with_answer(pushes, &caller, &fields.conversation_id, request_id, false))
            }
            "call" => calls::relay(app, &caller.user_id, &caller.connection_id, frame.fields()?).await,
            "match" => matching::join(app, &caller.user_id, &caller.connection_id, request_id).await,
            "match.cancel" => matching::cancel(app, &caller.user_id).await.map(|()| Pushes::none()),
            other => Err(ChatError::invalid(format!("unknown action {:?}", truncate(other, 64)))),
        }
    })
    .await
}

/// The members' pushes, with the asking connection's copy replaced by one that echoes its
/// `requestId` (and sent even when nothing changed, e.g. joining a room one is in).
fn with_answer(
    pushes: Pushes,
    caller: &Caller,
    conversation_id: &str,
    request_id: Option<String>,
    joined: bool,
) -> Pushes {
    let (conversation_id, user_id, by) = (conversation_id.to_string(), caller.user_id.clone(), caller.user_id.clone());
    let event = if joined {
        ServerEvent::MemberJoined { request_id, conversation_id, user_id, by }
    } else {
        ServerEvent::MemberLeft { request_id, conversation_id, user_id, by }
    };
    pushes.without_connection(&caller.connection_id).and(reply(caller, &event))
}

fn reply(caller: &Caller, event: &ServerEvent) -> Pushes {
    Pushes::to_connection(&caller.user_id, &caller.connection_id, event)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The shape every message route shares: parse the frame, run the action, push its results, and
/// answer any failure with an `error` event on the same connection, which stays open.
async fn handle_frame<F, Fut>(
    app: &App,
    event: ApiGatewayWebsocketProxyRequest,
    route: &str,
    action: F,
) -> Result<ApiGatewayProxyResponse, Error>
where
    F: FnOnce(Caller, Frame) -> Fut,
    Fut: std::future::Future<Output = Result<Pushes, ChatError>>,
{
    let Some(caller) = caller(app, &event) else {
        return Ok(status(401));
    };
    let origin = Caller { user_id: caller.user_id.clone(), connection_id: caller.connection_id.clone() };
    // Any frame proves the connection alive (written at most once per refresh interval), ahead
    // of the action so a frame that fails still counts.
    let connected_at = event.request_context.connected_at / 1000;
    let kept_alive =
        connections::active(app, &caller.user_id, &caller.connection_id, (connected_at > 0).then_some(connected_at))
            .await;
    let raw = if event.is_base64_encoded { None } else { event.body.as_deref() };
    let pushes = match raw {
        None => reply(&origin, &ServerEvent::error(&ChatError::invalid("frames must be JSON text"), None)),
        Some(raw) => match parse_frame(raw, app.config.max_frame_bytes) {
            Err((err, request_id)) => reply(&origin, &ServerEvent::error(&err, request_id)),
            Ok(frame) => {
                let request_id = frame.request_id.clone();
                // Per-user rate limit on every action but `ping`, before the action does anything.
                let result = match limits::ws_action(app, &caller.user_id, &frame.action).await {
                    Ok(()) => action(caller, frame).await,
                    Err(err) => Err(err),
                };
                match result {
                    Ok(pushes) => pushes,
                    Err(err) => reply(&origin, &ServerEvent::error(&err, request_id)),
                }
            }
        },
    };
    push::deliver(app, kept_alive.and(pushes)).await.log(route);
    Ok(status(200))
}
