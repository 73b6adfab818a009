//! The access-token keys come from an SSM SecureString at init (here moto's); during a rotation
//! two keys are valid: tokens carry the `kid` of the key that signed them.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::support::{ISSUER, JWT_SECRET, TestEnv, aws_endpoint};

const NEW_SECRET: &str = "the-next-key-of-the-rotation-0123456789abcdef";

fn signed(kid: Option<&str>, secret: &str, sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_string);
    let claims = json!({"sub": sub, "iat": now, "exp": now + 600, "iss": ISSUER, "typ": "access"});
    encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn during_a_rotation_both_keys_verify_and_the_new_one_signs() {
    let name = format!("/e2e/{}/jwt-keys", chat::domain::new_id());
    let sdk = chat_local::local::sdk_config(&aws_endpoint()).await;
    // The new key first (it signs), the old one kept (tokens it signed stay valid until they expire).
    chat::aws::jwt_keys::put(&sdk, &name, &format!("k2={NEW_SECRET}\nlocal={JWT_SECRET}\n")).await.unwrap();
    let parameter = name.clone();
    let env = TestEnv::start_with(move |key| (key == "CHAT_JWT_KEYS_PARAMETER").then(|| parameter.clone())).await;
    let ann = env.register("ann").await;
    let header = jsonwebtoken::decode_header(&ann.access).unwrap();
    assert_eq!(header.kid.as_deref(), Some("k2"), "issued with the new key");

    for (what, token) in [
        ("issued now", ann.access.clone()),
        ("old key, its kid", signed(Some("local"), JWT_SECRET, &ann.id)),
        ("new key, its kid", signed(Some("k2"), NEW_SECRET, &ann.id)),
        ("no kid: the signing key", signed(None, NEW_SECRET, &ann.id)),
    ] {
        let (status, body) = env.call("GET", "/me", Some(&token), None).await;
        assert_eq!(status, 200, "{what}: {body}");
        env.connect(&token).await.assert_alive().await;
    }
    for (what, token) in [
        ("unknown kid", signed(Some("k9"), NEW_SECRET, &ann.id)),
        ("kid of the other key", signed(Some("local"), NEW_SECRET, &ann.id)),
        ("no kid, old key", signed(None, JWT_SECRET, &ann.id)),
    ] {
        let (status, _) = env.call("GET", "/me", Some(&token), None).await;
        assert_eq!(status, 401, "{what}");
        assert!(env.try_connect(&env.ws_url_with_token(&token)).await.is_err(), "{what}: handshake");
    }
}
