//! The WebSocket API's handshake (the `$connect` authorizer, then `$connect`, whose returned
//! headers such as `Sec-WebSocket-Protocol` reach the client) and the events API Gateway sends for
//! a connection; `socket.rs` runs the connection once it is open.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::authorizer;
use super::header_case::Peer;
use super::socket::{MAX_FRAME_BYTES, run_connection};
use super::state::{
    Connection, GatewayState, MAX_MESSAGE_BYTES, forwarded, integration_failure, new_connection_id, new_request_id,
    now_ms, plain, query_json, request_time,
};
use crate::account::{ACCOUNT_ID, REGION};
use crate::invoke::InvokeError;

/// `headers` and `multiValueHeaders` of the event, with what API Gateway adds in front of the
/// backend (`forwarded`), each name as the client wrote it (`header_case.rs`) or, for the added
/// ones, as API Gateway writes them.
fn headers_json(headers: &HeaderMap, peer: &Peer) -> (Map<String, Value>, Map<String, Value>) {
    let headers = &forwarded(headers, &peer.addr);
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let name = peer.as_sent(name.as_str()).unwrap_or_else(|| added_name(name.as_str()));
        let value = value.to_str().unwrap_or_default().to_string();
        single.insert(name.clone(), Value::String(value.clone()));
        match multi.entry(name).or_insert_with(|| Value::Array(vec![])) {
            Value::Array(values) => values.push(Value::String(value)),
            _ => unreachable!("inserted as an array"),
        }
    }
    (single, multi)
}

fn added_name(name: &str) -> String {
    match name {
        "x-forwarded-for" => "X-Forwarded-For",
        "x-forwarded-port" => "X-Forwarded-Port",
        "x-forwarded-proto" => "X-Forwarded-Proto",
        "x-amzn-trace-id" => "X-Amzn-Trace-Id",
        other => other,
    }
    .to_string()
}

/// What a WebSocket event needs to know about its connection.
pub(crate) struct ConnInfo {
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
pub(crate) fn ws_context(
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
    ConnectInfo(peer): ConnectInfo<Peer>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    request: Request,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return plain(StatusCode::BAD_REQUEST, "this endpoint accepts WebSocket upgrades and @connections calls");
    };
    // API Gateway serves the API at `/{stage}` and refuses any other path; `/` is accepted too,
    // so a local client needs no stage in its URL (docs/local-gateway.md).
    let path = request.uri().path().trim_end_matches('/');
    if !path.is_empty() && path.strip_prefix('/') != Some(state.stage.as_str()) {
        return plain(StatusCode::FORBIDDEN, "Forbidden");
    }
    let headers = request.headers().clone();
    let (query, multi_query) = query_json(request.uri().query());
    let (header_map, multi_headers) = headers_json(&headers, &peer);
    let connection_id = new_connection_id();
    let domain = state.domain_name(&headers);
    let mut info = ConnInfo {
        connected_at_ms: now_ms(),
        source_ip: peer.addr.ip().to_string(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        authorizer: Map::new(),
    };

    if !state.buckets.allow_ws("$connect") {
        return plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    }
    // The Lambda REQUEST authorizer: a missing identity source is refused without calling it.
    if let Some(auth) = &state.template.connect_authorizer {
        if !authorizer::identity_present(&auth.identity_sources, &query, &headers) {
            return plain(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        let method_arn = format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{}/{}/$connect", state.api_id, state.stage);
        let event = json!({
            "type": "REQUEST",
            "methodArn": method_arn,
            "headers": header_map,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "stageVariables": {},
            "requestContext": ws_context(&state, "$connect", "CONNECT", &connection_id, &domain, &info),
        });
        match state.invoke(&auth.function, event).await {
            Err(InvokeError::Failed(message)) if message == "Unauthorized" => {
                return plain(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            Err(error) => {
                tracing::error!(%error, "authorizer failed");
                let (status, message) = integration_failure(&error);
                return plain(status, message);
            }
            Ok(answer) => match authorizer::check_answer(&answer, &method_arn) {
                Ok(context) => info.authorizer = context,
                Err(status) => return plain(status, status.canonical_reason().unwrap_or("Forbidden")),
            },
        }
    }

    let mut returned_headers = Map::new();
    if let Some(connect_fn) = state.template.ws_routes.get("$connect") {
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
                if let Some(headers) = answer["headers"].as_object() {
                    returned_headers = headers.clone();
                }
            }
            Err(error) => {
                tracing::error!(%error, "$connect failed");
                let (status, message) = integration_failure(&error);
                return plain(status, message);
            }
        }
    }
    let connection = NewConnection { id: connection_id, info, domain };
    upgrade_now(state, upgrade, connection, &returned_headers)
}

struct NewConnection {
    id: String,
    info: ConnInfo,
    domain: String,
}

/// Registers the connection before answering 101, so a push right after `$connect` returned
/// reaches it (as on AWS), and starts its socket loop. `returned` are the headers `$connect`
/// answered with: they go on the 101 response as API Gateway passes them.
fn upgrade_now(
    state: Arc<GatewayState>,
    mut upgrade: WebSocketUpgrade,
    new: NewConnection,
    returned: &Map<String, Value>,
) -> Response {
    let (tx, rx) = mpsc::unbounded_channel();
    let NewConnection { id: connection_id, info, domain } = new;
    let connection = Arc::new(Connection {
        outbound: tx,
        connected_at_ms: info.connected_at_ms,
        last_active_ms: AtomicI64::new(info.connected_at_ms),
        source_ip: info.source_ip,
        user_agent: info.user_agent,
        domain,
        authorizer: info.authorizer,
        silent: AtomicI64::new(0),
    });
    let mut extra = Vec::new();
    for (name, value) in returned {
        let (Ok(name), Some(Ok(value))) =
            (HeaderName::from_bytes(name.as_bytes()), value.as_str().map(HeaderValue::from_str))
        else {
            continue;
        };
        match name.as_str() {
            "sec-websocket-protocol" => upgrade.set_selected_protocol(value),
            // The handshake's own headers are API Gateway's to set.
            "connection" | "upgrade" | "sec-websocket-accept" | "content-length" => {}
            _ => extra.push((name, value)),
        }
    }
    state.connections.lock().expect("connections lock").insert(connection_id.clone(), connection.clone());
    let mut response = upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // tungstenite's defaults (128 KiB read buffer each) made an idle connection cost ~200 KiB;
        // a small read buffer grows as a message needs, and writes go out message by message.
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .on_failed_upgrade({
            let state = state.clone();
            let id = connection_id.clone();
            move |_| {
                state.connections.lock().expect("connections lock").remove(&id);
            }
        })
        .on_upgrade(move |socket| run_connection(state, connection_id, connection, socket, rx));
    for (name, value) in extra {
        response.headers_mut().append(name, value);
    }
    response
}

/// The `$disconnect` event: API Gateway's small header set, the close code and its reason.
pub(crate) fn disconnect_event(
    state: &GatewayState,
    connection_id: &str,
    connection: &Connection,
    code: u16,
    reason: &str,
) -> Value {
    let info = ConnInfo::from(connection);
    let mut ctx = ws_context(state, "$disconnect", "DISCONNECT", connection_id, &connection.domain, &info);
    ctx.insert("disconnectStatusCode".into(), json!(code));
    ctx.insert("disconnectReason".into(), json!(reason));
    let headers = json!({
        "Host": connection.domain,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    });
    json!({"headers": headers, "multiValueHeaders": {}, "requestContext": ctx, "isBase64Encoded": false})
}
