//! Tokens that are validly signed but must not work: not yet valid (`nbf`), issued in the future
//! (`iat`), or of a user that does not exist or was deleted. Refused at the handshake (401, no
//! connection record) and on HTTP (401).

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::support::{ISSUER, JWT_SECRET, TestEnv};

fn signed(claims: Value) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
}

async fn assert_refused(env: &TestEnv, what: &str, token: &str, user_id: &str) {
    match env.try_connect(&env.ws_url_with_token(token)).await {
        Err(status) => assert_eq!(status, 401, "{what}: handshake"),
        Ok(_) => panic!("{what}: handshake accepted"),
    }
    assert!(env.stored_connections(user_id).await.is_empty(), "{what}: a refused handshake wrote a connection");
    for path in ["/me", "/conversations", "/unread", "/users/online"] {
        let (status, body) = env.call("GET", path, Some(token), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{what}: GET {path}");
    }
}

#[tokio::test]
async fn not_yet_valid_and_future_issued_tokens_are_refused() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |iat: i64, nbf: Option<i64>| {
        let mut c = json!({"sub": ann.id, "iat": iat, "exp": now + 86_400 * 2, "iss": ISSUER, "typ": "access"});
        if let Some(nbf) = nbf {
            c["nbf"] = json!(nbf);
        }
        c
    };
    assert_refused(&env, "nbf in an hour", &signed(claims(now, Some(now + 3600))), &ann.id).await;
    assert_refused(&env, "iat tomorrow", &signed(claims(now + 86_400, None)), &ann.id).await;
    // the same claims, valid now, are accepted: what was refused was the time
    let fine = signed(claims(now - 5, Some(now - 5)));
    let (status, _) = env.call("GET", "/me", Some(&fine), None).await;
    assert_eq!(status, 200);
    env.connect(&fine).await.assert_alive().await;
}

#[tokio::test]
async fn tokens_of_users_that_do_not_exist_are_refused() {
    let env = TestEnv::start().await;
    let now = chrono::Utc::now().timestamp();
    let invented = chat::domain::new_id();
    let token = signed(json!({"sub": invented, "iat": now, "exp": now + 600, "iss": ISSUER, "typ": "access"}));
    assert_refused(&env, "invented user", &token, &invented).await;

    // a user deleted after its tokens were issued (its profile item removed from the table)
    let bob = env.register("bob").await;
    env.dynamo
        .delete_item()
        .table_name(&env.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", bob.id)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()))
        .send()
        .await
        .expect("delete the profile");
    assert_refused(&env, "deleted user", &bob.access, &bob.id).await;
    let (status, _) = env.call("POST", "/auth/refresh", None, Some(json!({"refreshToken": bob.refresh}))).await;
    assert_eq!(status, 401, "a deleted user's refresh token");
}
