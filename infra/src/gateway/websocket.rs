//! The WebSocket API: the handshake (the `$connect` authorizer, then `$connect`), one
//! integration call per frame routed by the route selection expression, and `$disconnect` when the
//! socket closes, each with the event API Gateway would send.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::state::{
    Connection, GatewayState, MAX_MESSAGE_BYTES, Outbound, new_connection_id, new_request_id, now_ms, plain,
    query_json, request_time,
};
use crate::account::{ACCOUNT_ID, REGION};
use crate::invoke::InvokeError;

fn headers_json(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default().to_string();
        single.insert(name.as_str().to_string(), Value::String(value.clone()));
        match multi.entry(name.as_str().to_string()).or_insert_with(|| Value::Array(vec![])) {
            Value::Array(values) => values.push(Value::String(value)),
            _ => unreachable!("inserted as an array"),
        }
    }
    (single, multi)
}

/// What a WebSocket event needs to know about its connection.
struct ConnInfo {
    connected_at_ms: i64,
    source_ip: String,
    user_agent: String,
    authorizer: Map<String, Value>,
}

impl From<&Connection> for ConnInfo {
    fn from(c: &Connection) -> Self {
        Self {
            connected_at_ms: c.connected_at_ms,
            source_ip: c.source_ip.clone(),
            user_agent: c.user_agent.clone(),
            authorizer: c.authorizer.clone(),
        }
    }
}

/// `requestContext` of a WebSocket event, as API Gateway fills it.
fn ws_context(
    state: &GatewayState,
    route_key: &str,
    event_type: &str,
    connection_id: &str,
    domain: &str,
    conn: &ConnInfo,
) -> Map<String, Value> {
    let now = now_ms();
    let mut ctx = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": new_request_id(),
        "requestTime": request_time(),
        "messageDirection": "IN",
        "stage": state.stage,
        "connectedAt": conn.connected_at_ms,
        "requestTimeEpoch": now,
        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        "requestId": new_request_id(),
        "domainName": domain,
        "connectionId": connection_id,
        "apiId": state.api_id,
    });
    if !conn.authorizer.is_empty() {
        ctx["authorizer"] = Value::Object(conn.authorizer.clone());
    }
    match ctx {
        Value::Object(map) => map,
        _ => unreachable!("built as an object"),
    }
}

pub(crate) async fn websocket_handshake(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    request: Request,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return plain(StatusCode::BAD_REQUEST, "this endpoint accepts WebSocket upgrades and @connections calls");
    };
    let headers = request.headers().clone();
    let (query, multi_query) = query_json(request.uri().query());
    let (header_map, multi_headers) = headers_json(&headers);
    let connection_id = new_connection_id();
    let domain = state.domain_name(&headers);
    let mut info = ConnInfo {
        connected_at_ms: now_ms(),
        source_ip: peer.ip().to_string(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        authorizer: Map::new(),
    };

    // The Lambda REQUEST authorizer: a missing identity source is refused without calling it.
    if let Some(authorizer) = &state.template.connect_authorizer {
        if authorizer.required_query.iter().any(|k| query.get(k).and_then(Value::as_str).is_none_or(str::is_empty)) {
            return plain(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        let event = json!({
            "type": "REQUEST",
            "methodArn": format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{}/{}/$connect", state.api_id, state.stage),
            "headers": header_map,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "stageVariables": {},
            "requestContext": ws_context(&state, "$connect", "CONNECT", &connection_id, &domain, &info),
        });
        match state.invoke(&authorizer.function, event).await {
            Err(InvokeError::Failed(message)) if message == "Unauthorized" => {
                return plain(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            Err(message) => {
                tracing::error!(%message, "authorizer failed");
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
            }
            Ok(answer) => {
                let allowed = answer["policyDocument"]["Statement"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty() && s.iter().all(|st| st["Effect"] == "Allow"));
                if !allowed {
                    return plain(StatusCode::FORBIDDEN, "Forbidden");
                }
                if let Some(context) = answer["context"].as_object() {
                    info.authorizer = context.clone();
                }
                if let Some(principal) = answer["principalId"].as_str() {
                    info.authorizer.insert("principalId".into(), Value::String(principal.to_string()));
                }
            }
        }
    }

    let Some(connect_fn) = state.template.ws_routes.get("$connect") else {
        return upgrade_now(state, upgrade, connection_id, info, header_map);
    };
    let mut event = Map::new();
    event.insert("headers".into(), Value::Object(header_map.clone()));
    event.insert("multiValueHeaders".into(), Value::Object(multi_headers));
    event.insert("queryStringParameters".into(), Value::Object(query));
    event.insert("multiValueQueryStringParameters".into(), Value::Object(multi_query));
    event.insert(
        "requestContext".into(),
        Value::Object(ws_context(&state, "$connect", "CONNECT", &connection_id, &domain, &info)),
    );
    event.insert("isBase64Encoded".into(), Value::Bool(false));
    match state.invoke(connect_fn, Value::Object(event)).await {
        Ok(answer) => {
            let status = answer["statusCode"].as_i64().unwrap_or(200);
            if !(200..300).contains(&status) {
                let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::FORBIDDEN);
                return plain(status, status.canonical_reason().unwrap_or("Forbidden"));
            }
        }
        Err(message) => {
            tracing::error!(%message, "$connect failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
        }
    }
    upgrade_now(state, upgrade, connection_id, info, header_map)
}

/// Registers the connection before answering 101, so a push right after `$connect` returned
/// reaches it (as on AWS), and starts its socket loop.
fn upgrade_now(
    state: Arc<GatewayState>,
    upgrade: WebSocketUpgrade,
    connection_id: String,
    info: ConnInfo,
    headers: Map<String, Value>,
) -> Response {
    let (tx, rx) = mpsc::unbounded_channel();
    let connection = Arc::new(Connection {
        outbound: tx,
        connected_at_ms: info.connected_at_ms,
        last_active_ms: AtomicI64::new(info.connected_at_ms),
        source_ip: info.source_ip,
        user_agent: info.user_agent,
        headers,
        authorizer: info.authorizer,
        silent: AtomicI64::new(0),
    });
    state.connections.lock().expect("connections lock").insert(connection_id.clone(), connection.clone());
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade({
            let state = state.clone();
            let id = connection_id.clone();
            move |_| {
                state.connections.lock().expect("connections lock").remove(&id);
            }
        })
        .on_upgrade(move |socket| run_connection(state, connection_id, connection, socket, rx))
}

async fn run_connection(
    state: Arc<GatewayState>,
    connection_id: String,
    connection: Arc<Connection>,
    socket: WebSocket,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    let (mut sink, mut stream) = socket.split();
    // The writer ends when the gateway closes the connection (DELETE @connections, a message over
    // the size limit) or the peer stops reading; either ends the connection.
    let mut writer = tokio::spawn(async move {
        while let Some(out) = outbound.recv().await {
            match out {
                Outbound::Text(text) => {
                    if sink.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Outbound::Close(code, reason) => {
                    let _ = sink.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
            }
        }
    });
    let domain = connection.headers.get("host").and_then(Value::as_str).unwrap_or("127.0.0.1").to_string();
    let (mut close_code, mut close_reason) = (1005i64, String::new());
    let mut writer_done = false;
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = &mut writer => {
                writer_done = true;
                close_code = 1000;
                break;
            }
        };
        let Some(frame) = frame else { break };
        connection.last_active_ms.store(now_ms(), Ordering::Relaxed);
        let (body, is_base64) = match frame {
            Ok(WsMessage::Text(text)) => (text.to_string(), false),
            Ok(WsMessage::Binary(bytes)) => (BASE64.encode(&bytes), true),
            Ok(WsMessage::Close(frame)) => {
                if let Some(frame) = frame {
                    close_code = frame.code as i64;
                    close_reason = frame.reason.to_string();
                }
                break;
            }
            Ok(_) => continue, // ping/pong: answered by the WebSocket layer, as API Gateway does
            Err(e) => {
                // Over API Gateway's 128 KB message limit: it closes with 1009.
                let text = e.to_string().to_lowercase();
                close_code = if text.contains("too long") || text.contains("size") { 1009 } else { 1006 };
                if close_code == 1009 {
                    let _ = connection.outbound.send(Outbound::Close(1009, "Message too big".into()));
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), &mut writer).await;
                    writer_done = true;
                }
                break;
            }
        };
        let state = state.clone();
        let info = ConnInfo::from(connection.as_ref());
        let connection_id = connection_id.clone();
        let domain = domain.clone();
        let outbound = connection.outbound.clone();
        // API Gateway invokes the integration for each message independently (concurrently).
        tokio::spawn(async move {
            let route_key = select_route(&state, &body, is_base64);
            let Some(function) = state.template.ws_routes.get(&route_key) else {
                let _ = outbound
                    .send(Outbound::Text(json!({"message": "Forbidden", "connectionId": connection_id}).to_string()));
                return;
            };
            let mut ctx = ws_context(&state, &route_key, "MESSAGE", &connection_id, &domain, &info);
            ctx.insert("messageId".into(), Value::String(new_request_id()));
            let event = json!({"requestContext": ctx, "body": body, "isBase64Encoded": is_base64});
            if let Err(message) = state.invoke(function, event).await {
                tracing::error!(route = %route_key, %message, "integration failed");
                let request_id = new_request_id();
                let answer =
                    json!({"message": "Internal server error", "connectionId": connection_id, "requestId": request_id});
                let _ = outbound.send(Outbound::Text(answer.to_string()));
            }
        });
    }
    if !writer_done {
        writer.abort();
    }
    state.connections.lock().expect("connections lock").remove(&connection_id);
    if connection.silent.load(Ordering::SeqCst) == 1 {
        return;
    }
    if let Some(function) = state.template.ws_routes.get("$disconnect") {
        let info = ConnInfo::from(connection.as_ref());
        let mut ctx = ws_context(&state, "$disconnect", "DISCONNECT", &connection_id, &domain, &info);
        ctx.insert("disconnectStatusCode".into(), json!(close_code));
        ctx.insert("disconnectReason".into(), json!(close_reason));
        let event = json!({"headers": connection.headers, "requestContext": ctx, "isBase64Encoded": false});
        if let Err(message) = state.invoke(function, event).await {
            tracing::error!(%message, "$disconnect failed");
        }
    }
}

/// `$request.body.<field>`: the route whose key equals that field, else `$default`.
fn select_route(state: &GatewayState, body: &str, is_base64: bool) -> String {
    if !is_base64
        && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body)
        && let Some(Value::String(key)) = map.get(&state.route_field)
        && !key.starts_with('$')
        && state.template.ws_routes.contains_key(key)
    {
        return key.clone();
    }
    "$default".into()
}
