//! One password rule on register and login (docs/protocol.md, "Passwords"): NFKC, then 8 to 256
//! Unicode scalar values. Whatever registers logs in.

use serde_json::json;

use crate::support::TestEnv;

async fn register(env: &TestEnv, name: &str, password: &str) -> (u16, String) {
    let suffix = &chat::domain::new_id()[20..].to_lowercase();
    let username = format!("{name}_{suffix}");
    let body = json!({"username": username, "email": format!("{username}@example.com"), "password": password});
    let (status, answer) = env.call("POST", "/auth/register", None, Some(body)).await;
    (status, if status == 201 { username } else { answer.to_string() })
}

async fn login(env: &TestEnv, login: &str, password: &str) -> u16 {
    env.call("POST", "/auth/login", None, Some(json!({"login": login, "password": password}))).await.0
}

#[tokio::test]
async fn a_hundred_emoji_password_registers_and_logs_in() {
    let env = TestEnv::start().await;
    let emoji = "\u{1f600}".repeat(100); // 100 scalar values, 400 bytes
    let (status, username) = register(&env, "emo", &emoji).await;
    assert_eq!(status, 201, "{username}");
    assert_eq!(login(&env, &username, &emoji).await, 200, "the password it registered with");
    assert_eq!(login(&env, &username, &"\u{1f600}".repeat(99)).await, 401);

    // The longest allowed registers and logs in; one more is refused on both paths alike.
    let longest = "\u{1f600}".repeat(256);
    let (status, username) = register(&env, "longest", &longest).await;
    assert_eq!(status, 201, "{username}");
    assert_eq!(login(&env, &username, &longest).await, 200);
    let (status, answer) = register(&env, "too_long", &format!("{longest}x")).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(login(&env, &username, &format!("{longest}x")).await, 401);
}

#[tokio::test]
async fn the_same_password_typed_another_way_logs_in() {
    let env = TestEnv::start().await;
    // Precomposed é and full-width digits at register; combining accent and ASCII digits at login.
    let (status, username) = register(&env, "nfkc", "caf\u{e9}-\u{ff11}\u{ff12}\u{ff13}\u{ff14}").await;
    assert_eq!(status, 201, "{username}");
    assert_eq!(login(&env, &username, "cafe\u{301}-1234").await, 200);
    assert_eq!(login(&env, &username, "cafe-1234").await, 401, "an accent is not dropped");
}
