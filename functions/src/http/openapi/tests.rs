use serde_json::Value;

use super::*;
use crate::http::docs_page::METHODS;

fn doc() -> Value {
    serde_json::from_str(json()).expect("the generated document is JSON")
}

/// `/users/{id}` and `/users/{userId}` are the same route: parameters compare as `{}`.
fn normalise(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// docs/openapi.json is the generated document, byte for byte. After a change to a route or a
/// wire type, refresh it with the command in the message and review its diff with the change.
#[test]
fn openapi_json_is_the_generated_document() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let generated = json();
    if std::env::var_os("CHAT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&file, generated).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| committed.lines().count().min(generated.lines().count()) + 1, |i| i + 1);
        panic!(
            "docs/openapi.json differs from the document the code generates (first at line {line}). Refresh it with\n\n    \
             CHAT_UPDATE_GOLDEN=1 cargo test -p chat-functions openapi\n\nand commit the diff with the change."
        );
    }
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    assert!(doc["paths"].as_object().unwrap().len() >= 20);
    assert!(doc["components"]["securitySchemes"]["bearerAuth"].is_object());
}

#[test]
fn every_route_of_the_router_is_documented() {
    let routes = crate::http::routes();
    assert!(routes.len() >= 27, "{routes:?}");
    let doc = doc();
    let paths = doc["paths"].as_object().unwrap();
    let missing: Vec<String> = routes
        .iter()
        .filter(|(method, path)| {
            !paths
                .iter()
                .any(|(p, item)| normalise(p) == normalise(path) && item.get(method.to_lowercase().as_str()).is_some())
        })
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(missing.is_empty(), "routes missing from the document: {missing:?}");
}

#[test]
fn every_operation_has_responses_and_public_ones_are_the_contracts() {
    let doc = doc();
    let public =
        ["/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/health", "/openapi.json", "/docs"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
            let open = op.get("security") == Some(&Value::Array(vec![]));
            assert_eq!(open, public.contains(&path.as_str()), "{method} {path}: security");
            if !open {
                assert!(op["responses"].get("401").is_some(), "{method} {path} lacks 401");
            }
        }
    }
}

#[test]
fn every_local_reference_resolves() {
    fn walk(doc: &Value, node: &Value, bad: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let ok = r.strip_prefix('#').is_some_and(|p| doc.pointer(p).is_some());
                    if !ok {
                        bad.push(r.clone());
                    }
                }
                map.values().for_each(|v| walk(doc, v, bad));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v, bad)),
            _ => {}
        }
    }
    let doc = doc();
    let mut bad = Vec::new();
    walk(&doc, &doc, &mut bad);
    assert!(bad.is_empty(), "dangling $ref: {bad:?}");
}

#[test]
fn operation_ids_are_the_handlers_names_in_camel_case() {
    assert_eq!(camel_case("get_me"), "getMe");
    assert_eq!(camel_case("list_scheduled_messages"), "listScheduledMessages");
    assert_eq!(camel_case("register"), "register");
}
