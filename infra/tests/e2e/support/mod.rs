//! End-to-end harness: one moto server for the whole suite (started from the project venv), and
//! per test its own table, queues and gateway on random ports, driven by real HTTP and WebSocket
//! clients.

use std::sync::{Arc, OnceLock};

use chat_local::aws_proxy::AwsProxy;
use std::time::Duration;

use chat::Config;
use chat_local::emulator::{Moto, default_venv};
use chat_local::local::{self, LocalBackend};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_tungstenite::tungstenite::Message;

pub const JWT_SECRET: &str = "end-to-end-test-secret-0123456789abcdef";
pub const ISSUER: &str = "chat-backend";
pub const WAIT: Duration = Duration::from_secs(5);

/// The AWS endpoint of the suite: `CHAT_TEST_AWS_ENDPOINT` if set, else a moto server
/// started once. It runs on a thread that never ends, so it lives exactly as long as the process.
pub fn aws_endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if let Ok(endpoint) = std::env::var("CHAT_TEST_AWS_ENDPOINT") {
                return endpoint;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || match Moto::start_anywhere(&default_venv(), None) {
                Ok(moto) => {
                    tx.send(Ok(moto.endpoint.clone())).ok();
                    loop {
                        std::thread::park();
                    }
                }
                Err(e) => {
                    tx.send(Err(e)).ok();
                }
            });
            rx.recv().expect("moto thread").unwrap_or_else(|e| panic!("cannot start moto: {e}"))
        })
        .clone()
}

/// At most this many tests run a backend at once, however many test threads there are: every
/// AWS request of the suite goes through one moto process that serialises them, and a test that
/// times its requests (24 messages scheduled 4 s ahead, at least 1 s ahead) fails when more than
/// one other test shares moto on a loaded two-core machine (where each test binary used to run
/// two tests at a time).
const MAX_BACKENDS: usize = 2;
static BACKENDS: Semaphore = Semaphore::const_new(MAX_BACKENDS);

pub struct TestEnv {
    pub backend: LocalBackend,
    pub http: reqwest::Client,
    pub base: String,
    pub ws: String,
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// Released after the backend has stopped (fields drop in order).
    _slot: SemaphorePermit<'static>,
}

pub struct TestUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestEnv {
    pub async fn start() -> TestEnv {
        Self::start_with(|_| None).await
    }

    /// `overrides` may set any `CHAT_*` variable of the config.
    pub async fn start_with(overrides: impl Fn(&str) -> Option<String>) -> TestEnv {
        Self::start_with_options(overrides, local::LocalOptions::default()).await
    }

    /// `start_with`, and how the local EventBridge and SQS event sources run.
    pub async fn start_with_options(
        overrides: impl Fn(&str) -> Option<String>,
        options: local::LocalOptions,
    ) -> TestEnv {
        Self::start_on(&aws_endpoint(), overrides, options).await
    }

    /// With a counting, delaying, fault-injecting proxy between the functions and the emulator.
    pub async fn start_behind_proxy() -> (TestEnv, std::sync::Arc<chat_local::aws_proxy::AwsProxy>) {
        let (proxy, url) = chat_local::aws_proxy::AwsProxy::start(&aws_endpoint()).await;
        (Self::start_on(&url, |_| None, local::LocalOptions::default()).await, proxy)
    }

    /// With one fault-injecting proxy in front of moto and another in front of the gateway's
    /// Management API (`@connections`); returns (moto's proxy, the Management API's proxy).
    pub async fn start_behind_proxies() -> (TestEnv, Arc<AwsProxy>, Arc<AwsProxy>) {
        let (aws, aws_url) = AwsProxy::start(&aws_endpoint()).await;
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (management, management_url) = AwsProxy::start(&format!("http://{}", ws.local_addr().unwrap())).await;
        // The template's stage after the proxy's address, as the endpoint the template gives.
        let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let stage = chat_local::template::Template::load(&template).expect("template.yaml parses").ws_stage;
        let env = Self::start_listening(&aws_url, ws, move |key| {
            (key == "CHAT_MANAGEMENT_ENDPOINT").then(|| format!("{management_url}/{stage}"))
        })
        .await;
        (env, aws, management)
    }

    /// Against a given AWS endpoint (a counting proxy in front of moto, say).
    pub async fn start_on(
        endpoint: &str,
        overrides: impl Fn(&str) -> Option<String>,
        options: local::LocalOptions,
    ) -> TestEnv {
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_listening_with(endpoint, ws, overrides, options).await
    }

    /// From another template (a variant of template.yaml written by the test).
    pub async fn start_from_template(
        template: &std::path::Path,
        endpoint: &str,
        options: local::LocalOptions,
    ) -> TestEnv {
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_from(template, endpoint, ws, |_| None, options).await
    }

    async fn start_listening(
        endpoint: &str,
        ws: tokio::net::TcpListener,
        overrides: impl Fn(&str) -> Option<String>,
    ) -> TestEnv {
        Self::start_listening_with(endpoint, ws, overrides, local::LocalOptions::default()).await
    }

    async fn start_listening_with(
        endpoint: &str,
        ws: tokio::net::TcpListener,
        overrides: impl Fn(&str) -> Option<String>,
        options: local::LocalOptions,
    ) -> TestEnv {
        let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        Self::start_from(&template, endpoint, ws, overrides, options).await
    }

    async fn start_from(
        template: &std::path::Path,
        endpoint: &str,
        ws: tokio::net::TcpListener,
        overrides: impl Fn(&str) -> Option<String>,
        options: local::LocalOptions,
    ) -> TestEnv {
        let slot = BACKENDS.acquire().await.expect("the semaphore is never closed");
        // Logs only when asked for (RUST_LOG=warn cargo test ...): internal errors show their cause.
        if std::env::var_os("RUST_LOG").is_some() {
            chat::telemetry::init_pretty_logs();
        }
        let endpoint = endpoint.to_string();
        let table = format!("chat-e2e-{}", chat::domain::new_id().to_lowercase());
        let config = Config::from_lookup(|key| {
            overrides(key).or_else(|| match key {
                "CHAT_TABLE" => Some(table.clone()),
                "CHAT_JWT_SECRET" => Some(JWT_SECRET.into()),
                _ => None,
            })
        })
        .expect("config");
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = local::start_with(template, &endpoint, config, ws, http, options).await.expect("local backend");
        let dynamo = aws_sdk_dynamodb::Client::new(&backend.sdk);
        TestEnv {
            base: backend.gateway.http_url(),
            ws: backend.gateway.ws_url(),
            backend,
            http: reqwest::Client::new(),
            table,
            dynamo,
            _slot: slot,
        }
    }

    /// `POST /_local/schedules/{name}/run`: fires a schedule rule now; its status and answer.
    pub async fn run_schedule(&self, name: &str) -> (u16, Value) {
        self.call("POST", &format!("/_local/schedules/{name}/run"), None, None).await
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.backend.sdk)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A JSON request; returns the status and the body (Null when empty).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn register(&self, name: &str) -> TestUser {
        let suffix = &chat::domain::new_id()[20..].to_lowercase();
        let username = format!("{name}_{suffix}");
        let email = format!("{username}@example.com");
        let password = format!("pw-{username}-secret");
        let (status, body) = self
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"username": username, "email": email, "password": password, "displayName": name})),
            )
            .await;
        assert_eq!(status, 201, "register {username}: {body}");
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_string(),
            username,
            email,
            password,
            access: body["accessToken"].as_str().unwrap().to_string(),
            refresh: body["refreshToken"].as_str().unwrap().to_string(),
        }
    }

    /// Posts a message over REST and returns it (asserting 201).
    pub async fn post_message(&self, user: &TestUser, conversation: &str, content: &str, client: &str) -> Value {
        let (status, m) = self
            .call(
                "POST",
                &format!("/conversations/{conversation}/messages"),
                Some(&user.access),
                Some(json!({"content": content, "clientMsgId": client})),
            )
            .await;
        assert_eq!(status, 201, "{m}");
        m
    }

    pub fn ws_url_with_token(&self, token: &str) -> String {
        format!("{}/?token={}", self.ws, urlencoding_encode(token))
    }

    /// Opens a WebSocket with `token`, or returns the HTTP status of the refused handshake.
    pub async fn try_connect(&self, url: &str) -> Result<Ws, u16> {
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("WebSocket connect failed unexpectedly: {e}"),
        }
    }

    pub async fn connect(&self, token: &str) -> Ws {
        self.try_connect(&self.ws_url_with_token(token)).await.expect("handshake accepted")
    }

    /// Like `connect`, and also returns the connection id the gateway gave it.
    pub async fn connect_with_id(&self, token: &str) -> (Ws, String) {
        let before = self.backend.gateway.open_connections();
        let ws = self.connect(token).await;
        let after = self.backend.gateway.open_connections();
        let id = after.into_iter().find(|c| !before.contains(c)).expect("a new connection id");
        (ws, id)
    }

    /// Connection records stored for a user (read straight from the table).
    pub async fn stored_connections(&self, user_id: &str) -> Vec<String> {
        let out = self
            .dynamo
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :c)")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user_id}")))
            .expression_attribute_values(":c", aws_sdk_dynamodb::types::AttributeValue::S("CONN#".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("query connections");
        out.items().iter().filter_map(|i| i.get("connectionId").and_then(|v| v.as_s().ok()).cloned()).collect()
    }

    /// Moves a connection's `connectedAt` `secs` into the past: a connection that finished its
    /// handshake long ago (only those are removed when a push meets 410, service/push.rs).
    pub async fn age_connection(&self, user_id: &str, connection_id: &str, secs: i64) {
        let at = chat::domain::time::rfc3339(chrono::Utc::now() - chrono::Duration::seconds(secs));
        self.dynamo
            .update_item()
            .table_name(&self.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user_id}")))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONN#{connection_id}")))
            .update_expression("SET connectedAt = :at")
            .expression_attribute_values(":at", aws_sdk_dynamodb::types::AttributeValue::S(at))
            .send()
            .await
            .expect("age the connection");
    }

    /// Waits until `check` holds (for effects that follow a socket close asynchronously).
    pub async fn eventually<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting until {what}");
    }
}

fn urlencoding_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::Text(text.into())).await.expect("send frame");
    }

    /// The next JSON event; fails after `WAIT`.
    pub async fn recv(&mut self) -> Value {
        match self.try_recv(WAIT).await {
            Some(v) => v,
            None => panic!("no event within {WAIT:?}"),
        }
    }

    pub async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(wait, self.stream.next()).await.ok()??;
            match next {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).expect("events are JSON")),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next event of `kind`, skipping others (e.g. presence) that may interleave.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv(left).await {
                Some(event) if event["type"] == kind => return event,
                Some(_) => continue,
                None => panic!("no {kind} event within {WAIT:?}"),
            }
        }
    }

    /// Asserts nothing of `kind` arrives within `wait`.
    pub async fn expect_none(&mut self, kind: &str, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            if let Some(event) = self.try_recv(left).await {
                assert_ne!(event["type"], kind, "unexpected {kind}: {event}");
            } else {
                return;
            }
        }
    }

    /// Round trip a ping: proves the connection is still open and served.
    pub async fn assert_alive(&mut self) {
        let rid = format!("ping-{}", chat::domain::new_id());
        self.send(json!({"action": "ping", "requestId": rid})).await;
        // A pong of an earlier ping may still be on its way (frames run concurrently): skip it.
        loop {
            let pong = self.recv_type("pong").await;
            if pong["requestId"] == rid.as_str() {
                return;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }

    /// Drops the TCP connection without a close handshake.
    pub fn abort(self) {
        drop(self.stream);
    }
}

// ---------------------------------------------------------------- users branch helpers

impl TestEnv {
    /// Registers exactly `username` (no random suffix); the email is derived from it.
    pub async fn register_exact(&self, username: &str) -> TestUser {
        let email = format!("{}@example.com", username.to_lowercase());
        let password = format!("pw-{username}-secret");
        let (status, body) = self
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"username": username, "email": email, "password": password})),
            )
            .await;
        assert_eq!(status, 201, "register {username}: {body}");
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_string(),
            username: username.to_string(),
            email,
            password,
            access: body["accessToken"].as_str().unwrap().to_string(),
            refresh: body["refreshToken"].as_str().unwrap().to_string(),
        }
    }

    /// Opens (or finds) the direct conversation between `a` and `b`; returns its id.
    pub async fn open_direct(&self, a: &TestUser, b: &TestUser) -> String {
        let (status, body) =
            self.call("POST", "/conversations", Some(&a.access), Some(json!({"type": "direct", "userId": b.id}))).await;
        assert!(status == 201 || status == 200, "open direct: {status} {body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// `GET /stats` as `token`.
    pub async fn stats(&self, token: &str) -> Value {
        let (status, body) = self.call("GET", "/stats", Some(token), None).await;
        assert_eq!(status, 200, "stats: {body}");
        body
    }
}

/// Asserts no object anywhere in `value` carries an `email` (or a password hash).
pub fn assert_no_private_fields(value: &Value) {
    match value {
        Value::Object(map) => {
            for key in ["email", "passwordHash", "password"] {
                assert!(!map.contains_key(key), "{key} leaked: {value}");
            }
            map.values().for_each(assert_no_private_fields);
        }
        Value::Array(items) => items.iter().for_each(assert_no_private_fields),
        _ => {}
    }
}

// ---------------------------------------------------------------- gateway branch helpers

impl Ws {
    /// Sends `frame` as one message split into frames of at most `frame_bytes`: how a client
    /// sends a message over API Gateway's 32 KB frame limit (a single bigger frame closes with 1009).
    pub async fn send_fragmented(&mut self, frame: &Value, frame_bytes: usize) {
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let text = frame.to_string();
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(frame_bytes).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 { OpCode::Data(Data::Text) } else { OpCode::Data(Data::Continue) };
            let raw = Frame::message(chunk.to_vec(), opcode, i + 1 == chunks.len());
            self.stream.send(Message::Frame(raw)).await.expect("send frame");
        }
    }
}
