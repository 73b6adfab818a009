//! Hostile input on the auth paths: no answer tells whether an account exists, and a spoofed
//! `X-Forwarded-For` does not buy more attempts.

use serde_json::{Value, json};

use crate::support::TestEnv;

async fn login(env: &TestEnv, login: &str, password: &str, forwarded_for: Option<&str>) -> (u16, Value) {
    let mut request = env.http.post(env.url("/auth/login")).json(&json!({"login": login, "password": password}));
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    let response = request.send().await.expect("HTTP request");
    let status = response.status().as_u16();
    let mut body = response.json::<Value>().await.unwrap_or(Value::Null);
    // `retryAfter` counts down with the clock: compare whether it is there, not its value.
    if let Some(retry) = body["error"].get_mut("retryAfter") {
        *retry = json!(retry.is_u64());
    }
    if let Some(message) = body["error"].get_mut("message") {
        *message = json!(message.as_str().map(|m| m.split(';').next().unwrap_or_default().to_string()));
    }
    (status, body)
}

/// Ten wrong logins by username, then one by email: the same answers for an account that
/// exists and for one that does not.
#[tokio::test]
async fn login_answers_never_reveal_whether_an_account_exists() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let ghost = format!("ghost_{}", &chat::domain::new_id()[20..].to_lowercase());
    let mut answers = Vec::new();
    for (username, email) in
        [(ann.username.clone(), ann.email.clone()), (ghost.clone(), format!("{ghost}@example.com"))]
    {
        let mut seen = Vec::new();
        for i in 0..10 {
            seen.push(login(&env, &username, &format!("wrong-password-{i}"), None).await);
        }
        seen.push(login(&env, &email, "wrong-password-x", None).await);
        seen.push(login(&env, &username, "wrong-password-y", None).await);
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "existing and unknown accounts answer alike");
    assert_eq!(answers[0][10].0, 401, "the email is not locked by the username's attempts");
    assert_eq!(answers[0][11].0, 429, "the username is locked after ten");
}

/// The per-IP limit counts API Gateway's source address; a client-set `X-Forwarded-For` is
/// just a header and changes nothing.
#[tokio::test]
async fn a_spoofed_forwarded_for_does_not_bypass_the_ip_limit() {
    let env = TestEnv::start_with(|key| match key {
        "CHAT_AUTH_RATE_PER_IP_PER_MIN" => Some("3".into()),
        "CHAT_AUTH_RATE_WINDOW_SECS" => Some("3600".into()),
        _ => None,
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let spoofed = format!("203.0.113.{i}");
        statuses.push(login(&env, &format!("nobody_{i}"), "whatever-1", Some(&spoofed)).await.0);
    }
    assert_eq!(statuses, vec![401, 401, 401, 429, 429, 429]);
}
