//! The bench's client side: HTTP calls and WebSocket sockets through the local gateway, and the
//! statistics of what it measured.

use std::sync::Arc;
use std::time::Duration;

use chat_local::aws_proxy::AwsProxy;
use chat_local::local::LocalBackend;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub struct Bench {
    pub backend: LocalBackend,
    pub proxy: Arc<AwsProxy>,
    pub http: reqwest::Client,
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct User {
    pub id: String,
    pub username: String,
    pub access: String,
    pub refresh: String,
}

impl Bench {
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request =
            self.http.request(method.parse().unwrap(), format!("{}{path}", self.backend.gateway.http_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn register(&self, name: &str) -> User {
        let username = format!("{name}_{}", &chat::domain::new_id()[18..].to_lowercase());
        let body =
            json!({"username": username, "email": format!("{username}@example.com"), "password": "bench-password"});
        let (status, answer) = self.call("POST", "/auth/register", None, Some(body)).await;
        assert_eq!(status, 201, "{answer}");
        User {
            id: answer["user"]["id"].as_str().unwrap().into(),
            username,
            access: answer["accessToken"].as_str().unwrap().into(),
            refresh: answer["refreshToken"].as_str().unwrap().into(),
        }
    }

    /// Connects as a real client would: a refused handshake (a `$connect` that timed out on a
    /// loaded emulator) is tried again, up to five times, after a pause.
    pub async fn connect_owned(&self, token: String) -> Socket {
        let url = format!("{}/?token={token}", self.backend.gateway.ws_url());
        for attempt in 1.. {
            match tokio_tungstenite::connect_async(url.as_str()).await {
                Ok((socket, _)) => return socket,
                Err(e) if attempt < 5 => {
                    eprintln!("bench: handshake refused ({e}); again");
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                Err(e) => panic!("handshake: {e}"),
            }
        }
        unreachable!()
    }

    pub async fn connect(&self, token: &str) -> Socket {
        let url = format!("{}/?token={token}", self.backend.gateway.ws_url());
        tokio_tungstenite::connect_async(url).await.expect("handshake").0
    }
}

pub async fn recv_type(ws: &mut Socket, kind: &str) -> Value {
    recv_type_within(ws, kind, Duration::from_secs(10)).await
}

pub async fn recv_type_within(ws: &mut Socket, kind: &str, wait: Duration) -> Value {
    loop {
        let frame = tokio::time::timeout(wait, ws.next()).await.expect("event in time");
        if let Some(Ok(Message::Text(text))) = frame {
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == kind {
                return event;
            }
        }
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

pub fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A clientMsgId as the web client mints it: a ULID of now, so the message's id is derived from
/// it and its send is one write (domain/message_id.rs).
pub fn fresh_client_msg_id() -> String {
    ulid::Ulid::generate().to_string()
}
