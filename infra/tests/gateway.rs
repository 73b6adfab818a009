//! The local gateway behaves as API Gateway does, and agrees with template.yaml.

mod support;

use std::collections::BTreeSet;

use chat_functions::registry::Function;
use chat_local::template::Template;
use serde_json::json;
use support::TestEnv;

fn template() -> Template {
    Template::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
        .expect("template.yaml parses")
}

#[test]
fn template_routes_functions_and_binaries_agree() {
    let t = template();
    let routes: Vec<(&str, Function)> = t.ws_routes.iter().map(|(k, f)| (k.as_str(), *f)).collect();
    assert_eq!(
        routes,
        vec![
            ("$connect", Function::WsConnect),
            ("$default", Function::WsDefault),
            ("$disconnect", Function::WsDisconnect),
            ("delivered", Function::WsReceipts),
            ("read", Function::WsReceipts),
            ("send", Function::WsSend),
            ("typing", Function::WsTyping),
        ]
    );
    let authorizer = t.connect_authorizer.as_ref().expect("$connect has an authorizer");
    assert_eq!(authorizer.function, Function::WsAuthorizer);
    assert_eq!(authorizer.required_query, vec!["token".to_string()]);
    assert_eq!(t.route_selection_expression, "$request.body.action");
    assert_eq!(t.http_function, Function::HttpApi);

    // every binary is a function of the template and has a handler in the registry, and back
    let bins: BTreeSet<String> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/src/bin"))
            .unwrap()
            .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
    let in_template: BTreeSet<String> = t.functions.values().cloned().collect();
    let in_registry: BTreeSet<String> = Function::ALL.iter().map(|f| f.binary().to_string()).collect();
    assert_eq!(bins, in_template, "functions/src/bin vs template.yaml");
    assert_eq!(in_registry, in_template, "registry vs template.yaml");

    let table = &t.table;
    assert_eq!((table.hash_key.as_str(), table.range_key.as_deref()), ("pk", Some("sk")));
    assert_eq!(table.ttl_attribute.as_deref(), Some("expiresAt"));
    assert!(table.global_indexes.iter().any(|g| g.name == "gsi1"));
}

#[tokio::test]
async fn management_api_answers_like_api_gateway() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let (mut ws, id) = env.connect_with_id(&ann.access).await;
    let encoded: String = id
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let url = |stage: &str, conn: &str| format!("{}{stage}/@connections/{conn}", env.ws.replace("ws://", "http://"));

    let response = env.http.post(url("", &encoded)).body(r#"{"type":"hello"}"#).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(ws.recv().await, json!({"type": "hello"}));
    // with a stage in the path, as the SDK sends it on AWS
    let response = env.http.post(url("/local", &encoded)).body(r#"{"type":"again"}"#).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(ws.recv().await["type"], "again");

    let info: serde_json::Value = env.http.get(url("", &encoded)).send().await.unwrap().json().await.unwrap();
    assert!(info["connectedAt"].is_string() && info["identity"]["sourceIp"] == "127.0.0.1", "{info}");

    let response = env.http.post(url("", "bm90LWEtY29ubg%3D%3D")).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 410);
    assert_eq!(response.headers()["x-amzn-errortype"], "GoneException");

    let response = env.http.delete(url("", &encoded)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    env.eventually("DELETE @connections ran $disconnect", || async {
        env.stored_connections(&ann.id).await.is_empty()
    })
    .await;
    let response = env.http.post(url("", &encoded)).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 410);
}

#[tokio::test]
async fn a_message_over_128_kb_closes_the_connection_with_1009() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let mut ws = env.connect(&ann.access).await;
    ws.send_text(&"x".repeat(130 * 1024)).await;
    assert!(ws.try_recv(support::WAIT).await.is_none(), "the connection should close");
    env.eventually("the closed connection is forgotten", || async { env.stored_connections(&ann.id).await.is_empty() })
        .await;
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let env = TestEnv::start().await;
    let response = env
        .http
        .request(reqwest::Method::OPTIONS, env.url("/auth/login"))
        .header("origin", "http://example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}
