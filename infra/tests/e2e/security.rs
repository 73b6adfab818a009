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
    // Many more, each with another spoofed chain and the other client-set address headers, on
    // login and register alike: still 429, every time.
    for i in 0..20 {
        let path = if i % 2 == 0 { "/auth/login" } else { "/auth/register" };
        let body = json!({"login": format!("x_{i}"), "username": format!("x_{i}"), "email": format!("x{i}@example.com"),
            "password": "whatever-1"});
        let body = if path == "/auth/login" {
            json!({"login": body["login"], "password": body["password"]})
        } else {
            json!({"username": body["username"], "email": body["email"], "password": body["password"]})
        };
        let status = env
            .http
            .post(env.url(path))
            .header("x-forwarded-for", format!("198.51.100.{i}, 10.0.0.{i}"))
            .header("x-real-ip", format!("198.51.100.{i}"))
            .header("forwarded", format!("for=198.51.100.{i}"))
            .json(&body)
            .send()
            .await
            .expect("HTTP request")
            .status()
            .as_u16();
        assert_eq!(status, 429, "{path} #{i} with spoofed addresses");
    }
}

/// `GET /users/{id}` and `GET /users?q=` show `online`/`lastSeen` only to those who also get the
/// user's `presence` events: people who share a conversation with it.
#[tokio::test]
async fn presence_is_shown_only_to_people_who_share_a_conversation() {
    let env = TestEnv::start().await;
    let (ann, bob, eve) = (env.register("ann").await, env.register("bob").await, env.register("eve").await);
    env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let _bob_ws = env.connect(&bob.access).await;
    let presence = ann_ws.recv_type("presence").await;
    assert_eq!(presence["userId"], bob.id.as_str(), "ann shares a conversation: she hears bob");

    let path = format!("/users/{}", bob.id);
    let (status, seen_by_ann) = env.call("GET", &path, Some(&ann.access), None).await;
    assert_eq!((status, seen_by_ann["online"].clone()), (200, json!(true)), "{seen_by_ann}");
    assert!(seen_by_ann["lastSeen"].is_string());
    let (status, seen_by_eve) = env.call("GET", &path, Some(&eve.access), None).await;
    assert_eq!(status, 200);
    assert_eq!(seen_by_eve["online"], false, "a stranger: {seen_by_eve}");
    assert!(seen_by_eve.get("lastSeen").is_none(), "a stranger: {seen_by_eve}");
    assert_eq!(seen_by_eve["username"], bob.username.as_str(), "the public profile is still there");

    let query = format!("/users?q={}", bob.username);
    let (_, found_by_eve) = env.call("GET", &query, Some(&eve.access), None).await;
    let found = &found_by_eve["users"][0];
    assert!(found["online"] == false && found.get("lastSeen").is_none(), "search, a stranger: {found}");
    let (_, found_by_ann) = env.call("GET", &query, Some(&ann.access), None).await;
    assert_eq!(found_by_ann["users"][0]["online"], true, "search, a contact");
}
