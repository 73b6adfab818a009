//! A local API Gateway: the WebSocket API (with `@connections`) and the HTTP API, built from
//! template.yaml's routes. It knows API Gateway's behaviour and event shapes, nothing of chat:
//! every request becomes the JSON event AWS would send, handed to the function registry.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chat::App;
use chat_functions::registry::{self, Function};
use futures::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::template::Template;

/// API Gateway's limits for WebSocket APIs.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct GatewayOptions {
    pub stage: String,
    pub api_id: String,
    /// Extra routes on the HTTP port, ahead of the HTTP API (`/_local/schedules/{name}/run`).
    pub admin: Option<Router>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self { stage: "local".into(), api_id: "local".into(), admin: None }
    }
}

/// A running gateway; dropping it stops both servers.
pub struct RunningGateway {
    pub http_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    state: Arc<GatewayState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }
    /// Connection ids the gateway holds open (for tests of `@connections` and `$disconnect`).
    pub fn open_connections(&self) -> Vec<String> {
        self.state.connections.lock().expect("connections lock").keys().cloned().collect()
    }
    /// Drops a connection's socket without telling the backend, like a network failure that API
    /// Gateway has noticed but whose `$disconnect` never reached the backend.
    pub fn drop_silently(&self, connection_id: &str) -> bool {
        let removed = self.state.connections.lock().expect("connections lock").remove(connection_id);
        match removed {
            Some(conn) => {
                conn.silent.store(1, Ordering::SeqCst);
                let _ = conn.outbound.send(Outbound::Close(1006, String::new()));
                true
            }
            None => false,
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct GatewayState {
    app: App,
    template: Template,
    options: GatewayOptions,
    route_field: String,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

struct Connection {
    outbound: mpsc::UnboundedSender<Outbound>,
    connected_at_ms: i64,
    last_active_ms: AtomicI64,
    source_ip: String,
    user_agent: String,
    headers: Map<String, Value>,
    /// `requestContext.authorizer` for every event of this connection.
    authorizer: Map<String, Value>,
    /// Set when the test harness drops the socket without a `$disconnect`.
    silent: AtomicI64,
}

enum Outbound {
    Text(String),
    Close(u16, String),
}

pub async fn serve(
    app: App,
    template: Template,
    mut options: GatewayOptions,
    ws_listener: TcpListener,
    http_listener: TcpListener,
) -> std::io::Result<RunningGateway> {
    let route_field = template
        .route_selection_expression
        .strip_prefix("$request.body.")
        .ok_or_else(|| std::io::Error::other("only $request.body.<field> route selection is emulated"))?
        .to_string();
    let admin = options.admin.take();
    let state = Arc::new(GatewayState { app, template, options, route_field, connections: Mutex::new(HashMap::new()) });
    let ws_addr = ws_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let ws_router = Router::new()
        .route("/@connections/{id}", any(management))
        .route("/{stage}/@connections/{id}", any(management_with_stage))
        .fallback(websocket_handshake)
        .with_state(state.clone());
    let mut http_router = Router::new().fallback(http_api).with_state(state.clone());
    if let Some(admin) = admin {
        http_router = admin.merge(http_router);
    }

    let ws_task = tokio::spawn(async move {
        let service = ws_router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(ws_listener, service).await {
            tracing::error!(error = %e, "WebSocket server stopped");
        }
    });
    let http_task = tokio::spawn(async move {
        let service = http_router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(http_listener, service).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(RunningGateway { http_addr, ws_addr, state, tasks: vec![ws_task, http_task] })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// API Gateway's request time format, e.g. `09/Apr/2015:12:34:56 +0000`.
fn request_time() -> String {
    chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes
}

/// Connection ids look like API Gateway's (`L0SM9cOFvHcCIhw=`): base64, so clients and the SDK
/// must URL-encode them in `@connections` paths, as on AWS.
fn new_connection_id() -> String {
    BASE64.encode(random_bytes::<11>())
}

fn new_request_id() -> String {
    BASE64.encode(random_bytes::<12>()).replace(['+', '/'], "-")
}

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

fn query_json(query: Option<&str>) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| urlencoding::decode(&s.replace('+', " ")).map(|c| c.into_owned()).unwrap_or_default();
        let (k, v) = (decode(k), decode(v));
        single.insert(k.clone(), Value::String(v.clone()));
        if let Value::Array(values) = multi.entry(k).or_insert_with(|| Value::Array(vec![])) {
            values.push(Value::String(v));
        }
    }
    (single, multi)
}

impl GatewayState {
    async fn invoke(&self, function: Function, event: Value) -> Result<Value, String> {
        registry::invoke(&self.app, function, event).await.map_err(|e| e.to_string())
    }

    fn domain_name(&self, headers: &HeaderMap) -> String {
        headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_string()
    }

    /// `requestContext` of a WebSocket event, as API Gateway fills it.
    fn ws_context(
        &self,
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
            "stage": self.options.stage,
            "connectedAt": conn.connected_at_ms,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": new_request_id(),
            "domainName": domain,
            "connectionId": connection_id,
            "apiId": self.options.api_id,
        });
        if !conn.authorizer.is_empty() {
            ctx["authorizer"] = Value::Object(conn.authorizer.clone());
        }
        match ctx {
            Value::Object(map) => map,
            _ => unreachable!("built as an object"),
        }
    }
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

fn plain(status: StatusCode, message: &str) -> Response {
    (status, [("content-type", "application/json")], json!({ "message": message }).to_string()).into_response()
}

async fn websocket_handshake(
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
            "methodArn": format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{}/{}/$connect", state.options.api_id, state.options.stage),
            "headers": header_map,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "stageVariables": {},
            "requestContext": state.ws_context("$connect", "CONNECT", &connection_id, &domain, &info),
        });
        match state.invoke(authorizer.function, event).await {
            Err(message) if message == "Unauthorized" => return plain(StatusCode::UNAUTHORIZED, "Unauthorized"),
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

    let Some(&connect_fn) = state.template.ws_routes.get("$connect") else {
        return upgrade_now(state, upgrade, connection_id, info, header_map);
    };
    let mut event = Map::new();
    event.insert("headers".into(), Value::Object(header_map.clone()));
    event.insert("multiValueHeaders".into(), Value::Object(multi_headers));
    event.insert("queryStringParameters".into(), Value::Object(query));
    event.insert("multiValueQueryStringParameters".into(), Value::Object(multi_query));
    event.insert(
        "requestContext".into(),
        Value::Object(state.ws_context("$connect", "CONNECT", &connection_id, &domain, &info)),
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
            let route_key = state.select_route(&body, is_base64);
            let Some(&function) = state.template.ws_routes.get(&route_key) else {
                let _ = outbound
                    .send(Outbound::Text(json!({"message": "Forbidden", "connectionId": connection_id}).to_string()));
                return;
            };
            let mut ctx = state.ws_context(&route_key, "MESSAGE", &connection_id, &domain, &info);
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
    if let Some(&function) = state.template.ws_routes.get("$disconnect") {
        let info = ConnInfo::from(connection.as_ref());
        let mut ctx = state.ws_context("$disconnect", "DISCONNECT", &connection_id, &domain, &info);
        ctx.insert("disconnectStatusCode".into(), json!(close_code));
        ctx.insert("disconnectReason".into(), json!(close_reason));
        let event = json!({"headers": connection.headers, "requestContext": ctx, "isBase64Encoded": false});
        if let Err(message) = state.invoke(function, event).await {
            tracing::error!(%message, "$disconnect failed");
        }
    }
}

impl GatewayState {
    /// `$request.body.<field>`: the route whose key equals that field, else `$default`.
    fn select_route(&self, body: &str, is_base64: bool) -> String {
        if !is_base64
            && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body)
            && let Some(Value::String(key)) = map.get(&self.route_field)
            && !key.starts_with('$')
            && self.template.ws_routes.contains_key(key)
        {
            return key.clone();
        }
        "$default".into()
    }
}

async fn management(
    State(state): State<Arc<GatewayState>>,
    Path(id): Path<String>,
    method: Method,
    body: Bytes,
) -> Response {
    manage_connection(&state, &id, method, body)
}

async fn management_with_stage(
    State(state): State<Arc<GatewayState>>,
    Path((_stage, id)): Path<(String, String)>,
    method: Method,
    body: Bytes,
) -> Response {
    manage_connection(&state, &id, method, body)
}

/// `POST|GET|DELETE @connections/{id}` as API Gateway answers them.
fn manage_connection(state: &GatewayState, id: &str, method: Method, body: Bytes) -> Response {
    let gone = || {
        (
            StatusCode::GONE,
            [("content-type", "application/json"), ("x-amzn-errortype", "GoneException")],
            json!({"message": null}).to_string(),
        )
            .into_response()
    };
    let connection = state.connections.lock().expect("connections lock").get(id).cloned();
    let Some(connection) = connection else { return gone() };
    match method {
        Method::POST => {
            if body.len() > MAX_MESSAGE_BYTES {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    [("x-amzn-errortype", "PayloadTooLargeException")],
                    json!({"message": "Message too large"}).to_string(),
                )
                    .into_response();
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            if connection.outbound.send(Outbound::Text(text)).is_err() {
                return gone();
            }
            StatusCode::OK.into_response()
        }
        Method::GET => {
            let iso = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms).map(chat::domain::time::rfc3339).unwrap_or_default()
            };
            let answer = json!({
                "connectedAt": iso(connection.connected_at_ms),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": iso(connection.last_active_ms.load(Ordering::Relaxed)),
            });
            (StatusCode::OK, [("content-type", "application/json")], answer.to_string()).into_response()
        }
        Method::DELETE => {
            let _ = connection.outbound.send(Outbound::Close(1000, "Going away".into()));
            StatusCode::NO_CONTENT.into_response()
        }
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
    }
}

/// The HTTP API: CORS as template.yaml configures it, then payload format 2.0 to the function.
async fn http_api(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if request.method() == Method::OPTIONS && request.headers().contains_key("access-control-request-method") {
        return with_cors(StatusCode::NO_CONTENT.into_response());
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return with_cors(plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"));
    };
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = value.to_str().unwrap_or_default();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value.to_string()));
            }
        }
    }
    let (query, _) = query_json(parts.uri.query());
    let (body_value, is_base64) = match std::str::from_utf8(&body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(BASE64.encode(&body)), true),
    };
    let now = now_ms();
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": state.options.api_id,
            "domainName": state.domain_name(&parts.headers),
            "domainPrefix": state.options.api_id,
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": new_request_id(),
            "routeKey": "$default",
            "stage": "$default",
            "time": request_time(),
            "timeEpoch": now,
        },
        "body": body_value,
        "isBase64Encoded": is_base64,
    });
    let answer = match state.invoke(state.template.http_function, event).await {
        Ok(answer) => answer,
        Err(message) => {
            tracing::error!(%message, "HTTP integration failed");
            return with_cors(plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"));
        }
    };
    with_cors(http_answer(&answer))
}

/// Turns a payload-2.0 answer into the HTTP response API Gateway would send.
fn http_answer(answer: &Value) -> Response {
    let status =
        answer["statusCode"].as_u64().and_then(|s| StatusCode::from_u16(s as u16).ok()).unwrap_or(StatusCode::OK);
    let body = match answer["body"].as_str() {
        Some(text) if answer["isBase64Encoded"].as_bool() == Some(true) => BASE64.decode(text).unwrap_or_default(),
        Some(text) => text.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let mut response = Response::builder().status(status);
    if let Some(headers) = answer["headers"].as_object() {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                response = response.header(name, value);
            }
        }
    }
    response.body(Body::from(body)).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The CORS answer of template.yaml's HttpApi CorsConfiguration (all origins).
fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-allow-headers", HeaderValue::from_static("authorization,content-type"));
    headers.insert("access-control-allow-methods", HeaderValue::from_static("GET,POST,PATCH,DELETE,OPTIONS"));
    headers.insert("access-control-max-age", HeaderValue::from_static("600"));
    response
}
