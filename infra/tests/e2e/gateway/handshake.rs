//! The handshake as API Gateway runs it: the product accepts its token as the subprotocol pair
//! `chat, token.<jwt>` and answers `Sec-WebSocket-Protocol: chat` (headers `$connect` returns
//! reach the client); a declared header identity source that is missing is 401 without calling
//! the authorizer; the authorizer's answer is checked (principalId, the policy's resource against
//! the method ARN, scalar context values).

use std::sync::{Arc, Mutex};

use chat_local::gateway::{GatewayOptions, RunningGateway, serve};
use chat_local::invoke::{Invoke, InvokeError};
use chat_local::template::Template;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::client::{CLOSE_WAIT, open, refused_status};
use crate::support::TestEnv;

#[tokio::test]
async fn the_token_as_a_subprotocol_is_accepted_and_chat_is_selected() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let url = format!("{}/", env.ws);
    let token = format!("token.{}", ann.access);
    let mut ws = open(&url, &["chat", &token]).await.expect("the subprotocol handshake is accepted");
    assert_eq!(ws.response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(env.stored_connections(&ann.id).await.len(), 1);
    ws.send_text(r#"{"action":"ping","requestId":"p"}"#).await;
    let pong: Value = serde_json::from_str(&ws.next_text(CLOSE_WAIT).await.expect("pong")).unwrap();
    assert_eq!(pong["type"], "pong");

    // the query string still works, and selects no subprotocol when none is offered
    let plain = open(&env.ws_url_with_token(&ann.access), &[]).await.unwrap();
    assert!(!plain.response.headers().contains_key("sec-websocket-protocol"));

    // a forged, a refresh-type or a missing token is refused at the handshake, nothing stored
    for bad in [format!("token.{}x", ann.access), format!("token.{}", ann.refresh)] {
        assert_eq!(refused_status(open(&url, &["chat", &bad]).await), 401, "{bad}");
    }
    assert_eq!(refused_status(open(&url, &["chat"]).await), 401);
    assert_eq!(refused_status(open(&url, &[]).await), 401);
    assert_eq!(env.stored_connections(&ann.id).await.len(), 2);
}

/// Functions whose answers a test chooses, recording every call: the gateway under test is real,
/// these stand in for authorizers that misbehave in ways the product's never does.
struct Scripted {
    calls: Mutex<Vec<String>>,
    authorizer: Mutex<Value>,
    connect: Value,
}

impl Invoke for Scripted {
    fn invoke<'a>(&'a self, function: &'a str, _event: Value) -> BoxFuture<'a, Result<Value, InvokeError>> {
        self.calls.lock().unwrap().push(function.to_string());
        let answer = match function {
            "ws-authorizer" => self.authorizer.lock().unwrap().clone(),
            "ws-connect" => self.connect.clone(),
            _ => json!({"statusCode": 200}),
        };
        Box::pin(async move { Ok(answer) })
    }
}

fn allow(resource: &str, context: Value) -> Value {
    json!({"principalId": "user-1", "context": context, "policyDocument": {"Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [resource]}]}})
}

/// The template's stage (`StageName`'s default) in the method ARN.
const CONNECT_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/prod/$connect";

/// The project's template with the authorizer's identity source set to `identity_source`.
async fn scripted_gateway(identity_source: &str, connect: Value) -> (RunningGateway, Arc<Scripted>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let marker = "      AuthorizerType: REQUEST\n";
    assert!(text.contains(marker));
    let text = text.replace(marker, &format!("{marker}      IdentitySource: [{identity_source}]\n"));
    let template = Template::parse(&text).expect("the changed template parses");
    let functions = Arc::new(Scripted {
        calls: Mutex::new(vec![]),
        authorizer: Mutex::new(allow(CONNECT_ARN, json!({"userId": "user-1"}))),
        connect,
    });
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = serve(functions.clone(), template, GatewayOptions::default(), ws, http).await.unwrap();
    (gateway, functions)
}

#[tokio::test]
async fn a_missing_header_identity_source_is_401_without_calling_the_authorizer() {
    let (gateway, functions) = scripted_gateway("route.request.header.X-Chat-Token", json!({"statusCode": 200})).await;
    let url = format!("{}/", gateway.ws_url());
    assert_eq!(refused_status(open(&url, &[]).await), 401);
    assert!(functions.calls.lock().unwrap().is_empty(), "the authorizer must not run");

    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    request.headers_mut().insert("x-chat-token", "anything".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("with the header it is accepted");
    assert_eq!(*functions.calls.lock().unwrap(), vec!["ws-authorizer", "ws-connect"]);
    drop(ws);
}

#[tokio::test]
async fn the_authorizers_answer_is_checked_as_api_gateway_does() {
    let (gateway, functions) = scripted_gateway("route.request.querystring.token", json!({"statusCode": 200})).await;
    let url = format!("{}/?token=t", gateway.ws_url());
    let other_api = "arn:aws:execute-api:us-east-1:123456789012:other/prod/$connect";
    let mut no_principal = allow(CONNECT_ARN, json!({}));
    no_principal.as_object_mut().unwrap().remove("principalId");
    let cases = [
        (allow(CONNECT_ARN, json!({"userId": "user-1"})), None),
        (allow("arn:aws:execute-api:us-east-1:123456789012:local/*", json!({})), None),
        (allow(other_api, json!({})), Some(403)),
        (no_principal, Some(500)),
        (allow(CONNECT_ARN, json!({"user": {"id": "nested"}})), Some(500)),
        (json!({"principalId": "user-1"}), Some(500)),
    ];
    for (answer, refused) in cases {
        *functions.authorizer.lock().unwrap() = answer.clone();
        let result = open(&url, &[]).await;
        match refused {
            None => assert!(result.is_ok(), "{answer} should be accepted"),
            Some(status) => assert_eq!(refused_status(result), status, "{answer}"),
        }
    }
}

#[tokio::test]
async fn headers_connect_returns_reach_the_client() {
    let connect = json!({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat", "X-Extra": "yes"}});
    let (gateway, _) = scripted_gateway("route.request.querystring.token", connect).await;
    let ws = open(&format!("{}/?token=t", gateway.ws_url()), &["chat"]).await.expect("accepted");
    assert_eq!(ws.response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(ws.response.headers()["x-extra"], "yes");

    // a client that offers a subprotocol the answer does not select refuses the socket, as browsers do
    let (gateway, _) = scripted_gateway("route.request.querystring.token", json!({"statusCode": 200})).await;
    let refused = open(&format!("{}/?token=t", gateway.ws_url()), &["chat"]).await;
    assert!(refused.is_err(), "no subprotocol selected: the client must refuse the socket");
}

/// The API lives at `/{stage}` (the template's `StageName`) as on API Gateway, and at `/` for a
/// local client; any other path is refused with 403 before the authorizer runs.
#[tokio::test]
async fn the_handshake_path_is_the_stage_or_the_root() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let stage = env.backend.gateway.stage();
    for path in ["/".to_string(), format!("/{stage}"), format!("/{stage}/")] {
        let url = format!("{}{path}?token={}", env.ws, ann.access);
        let mut ws = env.try_connect(&url).await.unwrap_or_else(|e| panic!("{path}: {e}"));
        ws.assert_alive().await;
    }
    for path in ["/beta", "/prod2", "/ws", "/prod/x"] {
        let url = format!("{}{path}?token={}", env.ws, ann.access);
        assert_eq!(env.try_connect(&url).await.err(), Some(403), "{path}");
    }
}
