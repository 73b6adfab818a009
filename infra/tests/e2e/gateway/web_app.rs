//! The web client on the HTTP port: `/` and the app's files with their content types (the
//! `chat-client.js` symlink followed), `/config.js` pointing at this gateway, no directory
//! traversal, and no API route shadowed by a file.

use crate::support::TestEnv;

fn app_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/app")
}

#[tokio::test]
async fn the_web_client_is_served_beside_the_api() {
    let env = TestEnv::start().await;
    let get = |path: &str| env.http.get(env.url(path)).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status().as_u16(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.text().await.unwrap(), std::fs::read_to_string(app_dir().join("index.html")).unwrap());

    let client = get("/chat-client.js").await.unwrap();
    assert_eq!(client.headers()["content-type"], "text/javascript; charset=utf-8");
    let linked = std::fs::read_to_string(app_dir().join("../lib/chat-client.js")).unwrap();
    assert_eq!(client.text().await.unwrap(), linked, "the symlink is followed");
    assert_eq!(get("/style.css").await.unwrap().headers()["content-type"], "text/css; charset=utf-8");

    let config = get("/config.js").await.unwrap().text().await.unwrap();
    let expected = serde_json::json!({"httpUrl": env.base, "wsUrl": env.ws}).to_string();
    assert!(config.contains(&format!("window.CHAT_CONFIG = {expected};")), "{config}");

    // outside the folder, hidden or missing: the API answers (its 404), never a file
    for path in ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/..%2fCargo.toml", "/.gitignore", "/no-such-file.js"] {
        let response = get(path).await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(status == 404 && !body.contains("[workspace]"), "{path}: {status} {body}");
    }
    // the API is still the API
    let (status, health) = env.call("GET", "/health", None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, _) = env.call("POST", "/", None, Some(serde_json::json!({}))).await;
    assert_ne!(status, 200, "only GET and HEAD are served as files");
}

#[test]
fn no_file_of_the_web_client_shadows_an_api_route() {
    let files: Vec<String> = std::fs::read_dir(app_dir())
        .unwrap()
        .map(|e| format!("/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    for (method, path) in chat_functions::http::routes() {
        let first = format!("/{}", path.trim_start_matches('/').split('/').next().unwrap_or_default());
        assert!(!files.contains(&first), "{method} {path} is shadowed by web/app{first}");
        assert_ne!(path, "/", "the API must not route `/`: the web client is served there");
    }
}
