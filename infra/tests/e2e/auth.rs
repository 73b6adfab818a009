//! Auth end to end: REST through the local gateway against the emulator, and the WebSocket
//! handshake with every kind of bad token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::support::{ISSUER, JWT_SECRET, TestEnv};

#[tokio::test]
async fn register_login_me_and_profile_update() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;

    let (status, me) = env.call("GET", "/me", Some(&ann.access), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], ann.id.as_str());
    assert_eq!(me["username"], ann.username.as_str());
    assert!(me.get("passwordHash").is_none() && me.get("password").is_none(), "{me}");

    // login by username (any case) and by email
    for login in [ann.username.to_uppercase(), ann.email.clone()] {
        let (status, body) =
            env.call("POST", "/auth/login", None, Some(json!({"login": login, "password": ann.password}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["id"], ann.id.as_str());
        assert!(body["expiresIn"].as_i64().unwrap() > 0);
    }
    let (status, body) =
        env.call("POST", "/auth/login", None, Some(json!({"login": ann.username, "password": "wrong-password"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    let (status, body) =
        env.call("POST", "/auth/login", None, Some(json!({"login": "nobody_here", "password": "whatever1"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_credentials")));

    let (status, me) = env.call("PATCH", "/me", Some(&ann.access), Some(json!({"displayName": "  Ann B.  "}))).await;
    assert_eq!((status, me["displayName"].as_str()), (200, Some("Ann B.")));
    let (status, body) = env.call("PATCH", "/me", Some(&ann.access), Some(json!({"displayName": ""}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")));

    let (status, body) = env.call("GET", "/me", None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = env.call("GET", "/me", Some("not-a-token"), None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn register_rejects_duplicates_and_bad_input() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let taken_name =
        json!({"username": ann.username.to_uppercase(), "email": "other@example.com", "password": "long-enough"});
    let (status, body) = env.call("POST", "/auth/register", None, Some(taken_name)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    let taken_email = json!({"username": "fresh_name", "email": ann.email.to_uppercase(), "password": "long-enough"});
    let (status, body) = env.call("POST", "/auth/register", None, Some(taken_email)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    // the failed attempts claimed nothing: the fresh name is still free
    let (status, _) = env
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": "fresh_name", "email": "fresh@example.com", "password": "long-enough"})),
        )
        .await;
    assert_eq!(status, 201);

    for bad in [
        json!({"username": "ab", "email": "a@b.co", "password": "long-enough"}),
        json!({"username": "has space", "email": "a@b.co", "password": "long-enough"}),
        json!({"username": "okname", "email": "not-an-email", "password": "long-enough"}),
        json!({"username": "okname", "email": "a@b.co", "password": "short"}),
        json!({"username": "okname", "email": "a@b.co"}),
    ] {
        let (status, body) = env.call("POST", "/auth/register", None, Some(bad.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad} -> {body}");
    }
    let response = env.http.post(env.url("/auth/register")).body("{not json").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;

    let (status, first) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": ann.refresh}))).await;
    assert_eq!(status, 200, "{first}");
    let rotated = first["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, ann.refresh);
    let (status, _) = env.call("GET", "/me", Some(first["accessToken"].as_str().unwrap()), None).await;
    assert_eq!(status, 200);

    // the old token again: reuse → 401, and the whole family (the rotated token too) is revoked
    let (status, body) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": ann.refresh}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")));
    let (status, _) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": rotated}))).await;
    assert_eq!(status, 401, "a reused family must be revoked");

    // logout revokes; garbage is refused
    let (_, login) =
        env.call("POST", "/auth/login", None, Some(json!({"login": ann.username, "password": ann.password}))).await;
    let token = login["refreshToken"].as_str().unwrap();
    let (status, _) = env.call("POST", "/auth/logout", None, Some(json!({"refreshToken": token}))).await;
    assert_eq!(status, 204);
    let (status, _) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": token}))).await;
    assert_eq!(status, 401);
    let (status, _) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": "garbage"}))).await;
    assert_eq!(status, 401);
    let (status, _) = env.call("POST", "/auth/logout", None, Some(json!({"refreshToken": "garbage"}))).await;
    assert_eq!(status, 204);
}

fn token_with(claims: serde_json::Value, secret: &str) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn handshake_refuses_bad_tokens_and_writes_nothing() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, typ: &str| json!({"sub": ann.id, "iat": now - 10, "exp": exp, "iss": ISSUER, "typ": typ});

    let expired = token_with(claims(now - 3600, "access"), JWT_SECRET);
    let forged = token_with(claims(now + 600, "access"), "some-other-secret-some-other-secret");
    let refresh_type = token_with(claims(now + 600, "refresh"), JWT_SECRET);
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now + 600, "access").to_string())
    );
    let urls = [
        ("missing", format!("{}/", env.ws)),
        ("empty", format!("{}/?token=", env.ws)),
        ("expired", env.ws_url_with_token(&expired)),
        ("forged", env.ws_url_with_token(&forged)),
        ("alg none", env.ws_url_with_token(&alg_none)),
        ("refresh type", env.ws_url_with_token(&refresh_type)),
        ("opaque refresh token", env.ws_url_with_token(&ann.refresh)),
    ];
    for (what, url) in urls {
        match env.try_connect(&url).await {
            Err(status) => assert_eq!(status, 401, "{what}"),
            Ok(_) => panic!("{what}: handshake accepted"),
        }
    }
    assert!(env.stored_connections(&ann.id).await.is_empty(), "a refused handshake wrote a connection");

    let mut ws = env.connect(&ann.access).await;
    ws.assert_alive().await;
    assert_eq!(env.stored_connections(&ann.id).await.len(), 1);
}

#[tokio::test]
async fn health_needs_no_token_and_unknown_routes_are_404() {
    let env = TestEnv::start().await;
    let (status, body) = env.call("GET", "/health", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert!(body["version"].is_string());
    let (status, body) = env.call("GET", "/no/such/route", None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
}
