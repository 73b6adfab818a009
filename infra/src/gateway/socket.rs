//! One open WebSocket connection after the handshake, with API Gateway's rules: each text message
//! routed to its integration (whose answer's body goes back to the client only on a route with a
//! RouteResponse), a client's close frame answered with its own code, a frame over 32 KB closed
//! with 1009 and a binary frame with 1003 before any function runs, the idle timeout and the
//! maximum connection duration closed with 1001, and `$disconnect` once at the end.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::route::select_route;
use super::state::{Connection, GatewayState, Outbound, new_request_id, now_ms};
use super::websocket::{ConnInfo, disconnect_event, ws_context};
use crate::invoke::InvokeError;

/// API Gateway's limit for one WebSocket frame: a bigger one closes the connection with 1009.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// How long a connection may live: API Gateway's 10 minutes idle and 2 hours in all, unless
/// `CHAT_LOCAL_IDLE_TIMEOUT_SECS` / `CHAT_LOCAL_MAX_CONNECTION_SECS` say otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub idle_timeout: Duration,
    pub max_duration: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(600), max_duration: Duration::from_secs(7200) }
    }
}

/// Why a connection ended: the `$disconnect` event's `disconnectStatusCode` and `disconnectReason`.
struct Ending {
    code: u16,
    reason: String,
}

impl Ending {
    fn new(code: u16, reason: &str) -> Self {
        Self { code, reason: reason.to_string() }
    }
}

type Writer = JoinHandle<Option<Ending>>;

/// Writes what the gateway sends; ends after a close frame (returning its code) or when the peer
/// stops reading.
async fn write_loop(
    mut sink: SplitSink<WebSocket, WsMessage>,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) -> Option<Ending> {
    while let Some(out) = outbound.recv().await {
        match out {
            Outbound::Text(text) => {
                if sink.send(WsMessage::Text(text.into())).await.is_err() {
                    return None;
                }
            }
            Outbound::Close(code, reason) => {
                // After the peer's close frame the send fails (the WebSocket layer has already
                // queued its reply, which carries the peer's own code, RFC 6455 §5.5.1) and
                // `close` flushes that reply; otherwise `close` flushes our frame.
                let _ = sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.clone().into() }))).await;
                let _ = sink.close().await;
                return Some(Ending { code, reason });
            }
        }
    }
    None
}

pub(crate) async fn run_connection(
    state: Arc<GatewayState>,
    connection_id: String,
    connection: Arc<Connection>,
    socket: WebSocket,
    outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    let (sink, stream) = socket.split();
    let mut writer: Writer = tokio::spawn(write_loop(sink, outbound));
    let ending = read_loop(&state, &connection_id, &connection, stream, &mut writer).await;
    if !writer.is_finished() {
        writer.abort();
    }
    state.connections.lock().expect("connections lock").remove(&connection_id);
    if connection.silent.load(Ordering::SeqCst) == 1 {
        return;
    }
    if let Some(function) = state.template.ws_routes.get("$disconnect") {
        let event = disconnect_event(&state, &connection_id, &connection, ending.code, &ending.reason);
        if let Err(message) = state.invoke(function, event).await {
            tracing::error!(%message, "$disconnect failed");
        }
    }
}

/// Asks the writer to close with `code` and waits (briefly) until the frame is out.
async fn close(connection: &Connection, writer: &mut Writer, code: u16, reason: &str) -> Ending {
    let _ = connection.outbound.send(Outbound::Close(code, reason.to_string()));
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    Ending::new(code, reason)
}

async fn read_loop(
    state: &Arc<GatewayState>,
    connection_id: &str,
    connection: &Arc<Connection>,
    mut stream: SplitStream<WebSocket>,
    writer: &mut Writer,
) -> Ending {
    let limits = state.limits;
    let ends_at = Instant::now() + limits.max_duration;
    let mut idle_until = Instant::now() + limits.idle_timeout;
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            written = &mut *writer => {
                // The gateway closed it (`DELETE @connections`), or the peer stopped reading.
                return written.ok().flatten().unwrap_or_else(|| Ending::new(1006, "Connection lost"));
            }
            _ = tokio::time::sleep_until(idle_until) => {
                return close(connection, writer, 1001, "Going away").await;
            }
            _ = tokio::time::sleep_until(ends_at) => {
                return close(connection, writer, 1001, "Going away").await;
            }
        };
        let Some(frame) = frame else { return Ending::new(1006, "Connection lost") };
        idle_until = Instant::now() + limits.idle_timeout;
        connection.last_active_ms.store(now_ms(), Ordering::Relaxed);
        let body = match frame {
            Ok(WsMessage::Text(text)) => text.to_string(),
            // API Gateway refuses binary frames before any function runs.
            Ok(WsMessage::Binary(_)) => return close(connection, writer, 1003, "Unsupported data").await,
            Ok(WsMessage::Close(frame)) => {
                let (code, reason) = frame.map(|f| (f.code, f.reason.to_string())).unwrap_or((1005, String::new()));
                return close(connection, writer, code, &reason).await;
            }
            Ok(_) => continue, // ping/pong: answered by the WebSocket layer, as API Gateway does
            Err(e) => {
                // Over the 32 KB frame or 128 KB message limit: API Gateway closes with 1009.
                let text = e.to_string().to_lowercase();
                if text.contains("too long") || text.contains("size") {
                    return close(connection, writer, 1009, "Message too big").await;
                }
                return Ending::new(1006, "Connection lost");
            }
        };
        // API Gateway invokes the integration for each message independently (concurrently).
        tokio::spawn(integrate(state.clone(), connection_id.to_string(), connection.clone(), body));
    }
}

/// One client message to the route the selection expression picks.
async fn integrate(state: Arc<GatewayState>, connection_id: String, connection: Arc<Connection>, body: String) {
    let route_key = select_route(&state, &body);
    let Some(function) = state.template.ws_routes.get(&route_key) else {
        let answer = json!({"message": "Forbidden", "connectionId": connection_id, "requestId": new_request_id()});
        let _ = connection.outbound.send(Outbound::Text(answer.to_string()));
        return;
    };
    let refuse = |message: &str| {
        let answer = json!({"message": message, "connectionId": connection_id, "requestId": new_request_id()});
        let _ = connection.outbound.send(Outbound::Text(answer.to_string()));
    };
    if !state.buckets.allow_ws(&route_key) {
        return refuse("Too Many Requests");
    }
    let info = ConnInfo::from(connection.as_ref());
    let mut ctx = ws_context(&state, &route_key, "MESSAGE", &connection_id, &connection.domain, &info);
    ctx.insert("messageId".into(), Value::String(new_request_id()));
    let event = json!({"requestContext": ctx, "body": body, "isBase64Encoded": false});
    match state.invoke(function, event).await {
        // Only a two-way route (one with a RouteResponse) sends the integration's body back;
        // on any other API Gateway drops it, and the function must push what the client sees.
        Ok(answer) => {
            if state.template.two_way_routes.contains(&route_key)
                && let Some(body) = answer["body"].as_str().filter(|b| !b.is_empty())
            {
                let _ = connection.outbound.send(Outbound::Text(body.to_string()));
            }
        }
        Err(InvokeError::Throttled) => refuse("Too Many Requests"),
        Err(error) => {
            tracing::error!(route = %route_key, %error, "integration failed");
            refuse("Internal server error");
        }
    }
}
