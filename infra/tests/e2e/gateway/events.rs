//! Event shapes as API Gateway sends them, seen by a function that records its events: HTTP API
//! payload 2.0 with `cookies` and repeated query keys joined by commas; WebSocket events with
//! `X-Forwarded-*` and `X-Amzn-Trace-Id`; `$disconnect` with API Gateway's header set, the close
//! code and a reason.

use std::sync::{Arc, Mutex};

use chat_local::gateway::{GatewayOptions, serve};
use chat_local::invoke::{Invoke, InvokeError};
use chat_local::template::Template;
use futures::SinkExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::client::open;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, Value)>>,
}

impl Recorder {
    fn of(&self, function: &str) -> Vec<Value> {
        self.events.lock().unwrap().iter().filter(|(f, _)| f == function).map(|(_, e)| e.clone()).collect()
    }
}

impl Invoke for Recorder {
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> BoxFuture<'a, Result<Value, InvokeError>> {
        self.events.lock().unwrap().push((function.to_string(), event));
        let answer = match function {
            "ws-authorizer" => json!({"principalId": "u", "policyDocument": {"Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]}}),
            _ => json!({"statusCode": 200, "body": "{}"}),
        };
        Box::pin(async move { Ok(answer) })
    }
}

#[tokio::test]
async fn events_carry_what_api_gateway_adds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template = Template::load(&path).unwrap();
    let (http_function, connect_function) = (template.http_function.clone(), template.ws_routes["$connect"].clone());
    let disconnect_function = template.ws_routes["$disconnect"].clone();
    let recorder = Arc::new(Recorder::default());
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = serve(recorder.clone(), template, GatewayOptions::default(), ws, http).await.unwrap();

    let response = reqwest::Client::new()
        .get(format!("{}/users?q=a&q=b&limit=5", gateway.http_url()))
        .header("cookie", "session=1; theme=dark")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let event = recorder.of(&http_function).pop().expect("the HTTP function ran");
    assert_eq!(event["queryStringParameters"], json!({"q": "a,b", "limit": "5"}));
    assert_eq!(event["cookies"], json!(["session=1", "theme=dark"]));
    assert!(event["headers"].get("cookie").is_none(), "cookies leave the headers: {event}");

    let mut socket = open(&format!("{}/?token=t", gateway.ws_url()), &[]).await.expect("accepted");
    let connect = recorder.of(&connect_function).pop().expect("$connect ran");
    let headers = &connect["headers"];
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-port"], gateway.ws_addr.port().to_string());
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert!(headers["x-amzn-trace-id"].as_str().is_some_and(|t| t.starts_with("Root=1-")), "{headers}");

    let frame = CloseFrame { code: 4001.into(), reason: "done".into() };
    socket.stream.send(Message::Close(Some(frame))).await.unwrap();
    let _ = socket.close_frame().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let disconnect = loop {
        if let Some(event) = recorder.of(&disconnect_function).pop() {
            break event;
        }
        assert!(tokio::time::Instant::now() < deadline, "$disconnect never ran");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let ctx = &disconnect["requestContext"];
    assert_eq!((ctx["eventType"].as_str(), ctx["disconnectStatusCode"].as_i64()), (Some("DISCONNECT"), Some(4001)));
    assert_eq!(ctx["disconnectReason"], "done");
    let names: Vec<&str> = disconnect["headers"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, vec!["Host", "X-Forwarded-For", "x-api-key", "x-restapi"]);
}
