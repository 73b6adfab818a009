//! Event shapes as API Gateway sends them, seen by a function that records its events: HTTP API
//! payload 2.0 with `cookies` and repeated query keys joined by commas, compared with the
//! aws_lambda_events crate's fixtures of real API Gateway events (copied under `../fixtures/`);
//! WebSocket events with the client's header names as it wrote them, `X-Forwarded-*` and
//! `X-Amzn-Trace-Id`; `$disconnect` with API Gateway's
//! header set, the close code and a reason; and the integration's answer sent back to the client
//! only on a route with a RouteResponse.

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
            _ => json!({"statusCode": 200, "body": json!({"from": function}).to_string()}),
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
    assert_eq!(headers["X-Forwarded-For"], "127.0.0.1");
    assert_eq!(headers["X-Forwarded-Port"], gateway.ws_addr.port().to_string());
    assert_eq!(headers["X-Forwarded-Proto"], "http");
    assert!(headers["X-Amzn-Trace-Id"].as_str().is_some_and(|t| t.starts_with("Root=1-")), "{headers}");
    // the names as the client (tungstenite) wrote them, as API Gateway keeps them
    assert!(headers["Sec-WebSocket-Key"].is_string() && headers["Host"].is_string(), "{headers}");
    assert!(headers.get("sec-websocket-key").is_none(), "{headers}");
    assert_eq!(connect["multiValueHeaders"]["Sec-WebSocket-Version"], json!(["13"]));

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

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn recording_gateway(template: Template) -> (chat_local::gateway::RunningGateway, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (serve(recorder.clone(), template, GatewayOptions::default(), ws, http).await.unwrap(), recorder)
}

fn project_template_text() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")).unwrap()
}

/// The request as raw HTTP/1.1 (what curl sends), to the HTTP API; the event its function got.
async fn raw_request(
    gateway: &chat_local::gateway::RunningGateway,
    recorder: &Recorder,
    head: &str,
    body: &str,
) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gateway.http_addr).await.unwrap();
    let host = gateway.http_addr.to_string();
    let request = format!("{}\r\nHost: {host}\r\nConnection: close\r\n\r\n{body}", head.replace('\n', "\r\n"));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    recorder.of("http-api").pop().expect("the HTTP function ran")
}

/// Key → the JSON type of its value, for comparing shapes.
fn shape(value: &Value) -> std::collections::BTreeMap<String, &'static str> {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    value.as_object().unwrap().iter().map(|(k, v)| (k.clone(), kind(v))).collect()
}

#[tokio::test]
async fn http_events_have_the_shape_of_api_gateways() {
    let (gateway, recorder) = recording_gateway(Template::parse(&project_template_text()).unwrap()).await;

    // curl's GET / (the fixture's request): the same keys with the same types, at every level
    let ours = raw_request(&gateway, &recorder, "GET / HTTP/1.1\nUser-Agent: curl/7.58.0\nAccept: */*", "").await;
    let aws = fixture("apigw-v2-request-no-authorizer.json");
    assert_eq!(shape(&ours), shape(&aws), "top level: {ours}");
    let mut aws_context = aws["requestContext"].clone();
    // mutual TLS only, which the template does not configure
    aws_context.as_object_mut().unwrap().remove("authentication");
    assert_eq!(shape(&ours["requestContext"]), shape(&aws_context));
    assert_eq!(shape(&ours["requestContext"]["http"]), shape(&aws["requestContext"]["http"]));
    let names = |event: &Value| {
        event["headers"].as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(names(&ours), names(&aws), "the headers API Gateway adds: {}", ours["headers"]);
    for (key, value) in [("content-length", "0"), ("x-forwarded-proto", "http"), ("accept", "*/*")] {
        assert_eq!(ours["headers"][key], value);
    }
    for event in [&ours, &aws] {
        serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(event.clone())
            .expect("the crate the functions use reads it");
    }

    // repeated query keys, cookies, repeated headers: the fixture's values
    let ours = raw_request(
        &gateway,
        &recorder,
        "GET /my/path?Parameter1=value1&Parameter1=value2 HTTP/1.1\nUser-Agent: agent\nCookie: cookie1; cookie2\nHeader2: value1\nHeader2: value2\nContent-Length: 13",
        "{\r\n\t\"a\": 1\r\n}",
    )
    .await;
    let aws = fixture("apigw-v2-request-multi-value-parameters.json");
    for key in [
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "cookies",
        "queryStringParameters",
        "body",
        "isBase64Encoded",
    ] {
        assert_eq!(ours[key], aws[key], "{key}");
    }
    for key in ["method", "path", "protocol", "userAgent"] {
        assert_eq!(ours["requestContext"]["http"][key], aws["requestContext"]["http"][key], "{key}");
    }
    assert_eq!(ours["requestContext"]["stage"], aws["requestContext"]["stage"]);
    // payload 2.0 lower-cases header names (the fixture's `Header2` is hand-written)
    assert_eq!(ours["headers"]["header2"], aws["headers"]["Header2"]);
    assert!(ours["headers"].get("cookie").is_none(), "the cookies leave the headers");
}

#[tokio::test]
async fn only_a_route_with_a_route_response_answers_the_client() {
    let text = project_template_text();
    let marker = "  WebSocketStage:\n";
    assert!(text.contains(marker));
    let two_way = text.replacen(
        marker,
        &format!(
            "  SendRouteResponse:\n    Type: AWS::ApiGatewayV2::RouteResponse\n    Properties:\n      ApiId: !Ref WebSocketApi\n      RouteId: !Ref SendRoute\n      RouteResponseKey: $default\n\n{marker}"
        ),
        1,
    );
    for (text, two_way_send) in [(text, false), (two_way, true)] {
        let template = Template::parse(&text).unwrap();
        assert_eq!(template.two_way_routes.contains("send"), two_way_send);
        let (gateway, recorder) = recording_gateway(template).await;
        let mut socket = open(&format!("{}/?token=t", gateway.ws_url()), &[]).await.expect("accepted");
        socket.send_text(r#"{"action":"typing"}"#).await;
        socket.send_text(r#"{"action":"send"}"#).await;
        let answer = socket.next_text(std::time::Duration::from_millis(700)).await;
        assert_eq!(recorder.of("ws-send").len() + recorder.of("ws-typing").len(), 2, "both routes ran");
        if two_way_send {
            assert_eq!(answer.as_deref(), Some(r#"{"from":"ws-send"}"#), "the send route's body, and only its");
            assert_eq!(socket.next_text(std::time::Duration::from_millis(300)).await, None);
        } else {
            assert_eq!(answer, None, "one-way routes drop the integration's answer");
        }
    }
}
