//! The API's own documentation: `GET /openapi.json` and `GET /docs` through the local gateway
//! without a token, and docs/openapi.json + docs/asyncapi.yaml against what the code serves
//! (the REST route table of functions/src/http/mod.rs, WebSocket actions in functions/src/ws.rs).
//! That docs/openapi.json is the document the code generates is a unit test of chat-functions.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::TestEnv;

/// Every REST operation of the product (docs/protocol.md, REST), as the document must list it.
const CONTRACT_OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/me"),
    ("PATCH", "/me"),
    ("GET", "/users"),
    ("GET", "/users/online"),
    ("GET", "/users/{id}"),
    ("POST", "/conversations"),
    ("GET", "/conversations"),
    ("GET", "/conversations/{id}"),
    ("POST", "/conversations/{id}/members"),
    ("DELETE", "/conversations/{id}/members/{userId}"),
    ("GET", "/conversations/{id}/messages"),
    ("POST", "/conversations/{id}/messages"),
    ("PATCH", "/conversations/{id}/messages/{messageId}"),
    ("DELETE", "/conversations/{id}/messages/{messageId}"),
    ("POST", "/conversations/{id}/read"),
    ("DELETE", "/conversations/{id}/history"),
    ("GET", "/unread"),
    ("POST", "/scheduled-messages"),
    ("GET", "/scheduled-messages"),
    ("DELETE", "/scheduled-messages/{id}"),
    ("POST", "/uploads"),
    ("GET", "/attachments/{id}"),
    ("GET", "/users/available"),
    ("GET", "/stats"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
];

/// Endpoints without auth (docs/protocol.md, REST).
const PUBLIC: &[&str] =
    &["/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/health", "/openapi.json", "/docs"];

fn repo_file(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// `/users/{id}` and `/users/{userId}` are the same route: parameters compare as `{}`.
fn normalise(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// Every route of the REST router's table, as (method, path pattern).
fn router_routes() -> Vec<(&'static str, String)> {
    let routes = chat_functions::http::routes();
    // The table must be there, or the check below proves nothing.
    assert!(routes.len() >= 27, "{routes:?}");
    routes
}

fn documents(doc: &Value, method: &str, path: &str) -> bool {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .any(|(p, item)| normalise(p) == normalise(path) && item.get(method.to_lowercase().as_str()).is_some())
}

async fn get(env: &TestEnv, path: &str) -> (u16, String, String) {
    let response = env.http.get(env.url(path)).send().await.expect("HTTP request");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, content_type, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn openapi_json_and_docs_are_served_without_a_token() {
    let env = TestEnv::start().await;

    let (status, content_type, text) = get(&env, "/openapi.json").await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let doc: Value = serde_json::from_str(&text).expect("/openapi.json is JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi = {}", doc["openapi"]);
    assert_eq!(text, repo_file("docs/openapi.json"), "the served document is docs/openapi.json");

    let missing: Vec<String> =
        CONTRACT_OPERATIONS.iter().filter(|(m, p)| !documents(&doc, m, p)).map(|(m, p)| format!("{m} {p}")).collect();
    assert!(missing.is_empty(), "contract operations missing from /openapi.json: {missing:?}");
    let undocumented: Vec<String> =
        router_routes().into_iter().filter(|(m, p)| !documents(&doc, m, p)).map(|(m, p)| format!("{m} {p}")).collect();
    assert!(undocumented.is_empty(), "routes of functions/src/http/ missing from /openapi.json: {undocumented:?}");

    // Bearer JWT everywhere but the public endpoints.
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    assert_eq!(doc["security"][0]["bearerAuth"], serde_json::json!([]));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let open = op.get("security") == Some(&serde_json::json!([]));
            assert_eq!(open, PUBLIC.contains(&path.as_str()), "{method} {path}: security {:?}", op.get("security"));
        }
    }
    // The error body and its codes.
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "invalid_input",
        "unauthorized",
        "forbidden",
        "not_found",
        "conflict",
        "rate_limited",
        "payload_too_large",
        "internal",
    ] {
        assert!(codes.as_array().unwrap().iter().any(|c| c == code), "ErrorCode lacks {code}");
    }
    let message = &doc["components"]["schemas"]["Message"]["properties"];
    assert_eq!(message["content"]["maxLength"], 4000);

    let (status, content_type, html) = get(&env, "/docs").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(html.contains(path.as_str()), "/docs does not mention {path}");
    }
    // Offline: nothing is loaded from anywhere.
    let lower = html.to_lowercase();
    for external in ["<script", "<link", "src=", "@import", "url(", "href=\"http", "href=\"//"] {
        assert!(!lower.contains(external), "/docs must be self-contained: found {external}");
    }

    // A bad token changes nothing (no auth at all), and the paths know their methods.
    let (status, _) = env.call("GET", "/openapi.json", Some("not-a-token"), None).await;
    assert_eq!(status, 200);
    let (status, body) = env.call("POST", "/docs", None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("invalid_input")), "{body}");
}

/// The WebSocket actions the handlers answer: the template's route keys and the `$default`
/// handler's match arms (`"ping" =>`, …), so an action added without docs fails here.
fn served_actions() -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for line in repo_file("functions/src/ws.rs").lines() {
        let line = line.trim_start();
        if let Some((action, rest)) = line.strip_prefix('"').and_then(|r| r.split_once('"'))
            && rest.trim_start().starts_with("=>")
        {
            actions.insert(action.to_string());
        }
    }
    let template =
        chat_local::template::Template::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
            .expect("template.yaml");
    actions.extend(template.ws_routes.into_keys().filter(|key| !key.starts_with('$')));
    actions
}

#[test]
fn asyncapi_documents_every_action_and_event() {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&repo_file("docs/asyncapi.yaml")).expect("asyncapi.yaml");
    let version = doc["asyncapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("2.6") || version.starts_with("3."), "asyncapi = {version}");
    let messages = doc["components"]["messages"].as_mapping().unwrap();
    let payload_const = |message: &serde_yaml_ng::Value, field: &str| -> Vec<String> {
        let mut payload = &message["payload"];
        if let Some(reference) = payload["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap();
            payload = &doc["components"]["schemas"][name];
        }
        let field = &payload["properties"][field];
        match (field["const"].as_str(), field["enum"].as_sequence()) {
            (Some(c), _) => vec![c.to_string()],
            (None, Some(values)) => values.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            _ => vec![],
        }
    };
    let channel = &doc["channels"]["/"];
    let referenced = |op: &str| -> BTreeSet<String> {
        channel[op]["message"]["oneOf"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| m["$ref"].as_str().unwrap().rsplit('/').next().unwrap().to_string())
            .collect()
    };
    let (client, server) = (referenced("publish"), referenced("subscribe"));
    let mut actions = BTreeSet::new();
    let mut events = BTreeSet::new();
    for (key, message) in messages {
        let key = key.as_str().unwrap();
        assert!(client.contains(key) || server.contains(key), "message {key} is in no operation");
        if client.contains(key) {
            actions.extend(payload_const(message, "action"));
        } else {
            events.extend(payload_const(message, "type"));
        }
    }
    let want_actions =
        ["send", "delivered", "read", "typing", "sync", "ping", "join", "leave", "call", "match", "match.cancel"];
    let served = served_actions();
    // The parsers must see the handlers and the template, or this test proves nothing.
    for action in ["send", "delivered", "read", "typing", "ping", "sync", "join", "leave"] {
        assert!(served.contains(action), "{action} not found among the served actions {served:?}");
    }
    for action in want_actions.iter().map(|a| a.to_string()).chain(served) {
        assert!(actions.contains(&action), "action {action} is not in docs/asyncapi.yaml ({actions:?})");
    }
    for event in [
        "message.sent",
        "message.new",
        "message.updated",
        "message.deleted",
        "receipt",
        "typing",
        "presence",
        "sync",
        "pong",
        "member.joined",
        "member.left",
        "call",
        "match.waiting",
        "match.found",
        "error",
    ] {
        assert!(events.contains(event), "event {event} is not in docs/asyncapi.yaml ({events:?})");
    }

    // One Message object on both APIs.
    let openapi: Value = serde_json::from_str(&repo_file("docs/openapi.json")).unwrap();
    let rest: BTreeSet<&str> = openapi["components"]["schemas"]["Message"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let ws: BTreeSet<&str> = doc["components"]["schemas"]["Message"]["properties"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    assert_eq!(rest, ws, "Message differs between openapi.json and asyncapi.yaml");
}
