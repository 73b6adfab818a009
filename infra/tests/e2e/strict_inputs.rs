//! Requests that are well formed but wrong: a method a known path does not serve (405 with
//! `Allow`), and a read/delivered pointer to a message of another conversation (refused, nothing
//! moves).

use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    for (method, path, allow) in [
        ("DELETE", "/me", "GET, PATCH"),
        ("PUT", "/conversations", "GET, POST"),
        ("GET", "/auth/login", "POST"),
        ("POST", "/users/online", "GET"),
        ("PUT", "/conversations/x/messages/y", "DELETE, PATCH"),
    ] {
        let response = env
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), env.url(path))
            .bearer_auth(&ann.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        let header = response.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!(header, allow, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input", "{method} {path}");
    }
    let (status, _) = env.call("GET", "/no/such/path", Some(&ann.access), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_pointer_to_a_message_of_another_conversation_is_refused() {
    let env = TestEnv::start().await;
    let (ann, bob, cat) = (env.register("ann").await, env.register("bob").await, env.register("cat").await);
    let with_bob = env.open_direct(&ann, &bob).await;
    let with_cat = env.open_direct(&ann, &cat).await;
    let to_bob = env.post_message(&ann, &with_bob, "for bob", "b1").await;
    let to_cat = env.post_message(&ann, &with_cat, "for cat", "c1").await;
    let (mine, elsewhere) = (to_bob["id"].as_str().unwrap(), to_cat["id"].as_str().unwrap());
    let invented = chat::domain::new_id();

    let mut bob_ws = env.connect(&bob.access).await;
    for (action, id) in [("read", elsewhere), ("delivered", elsewhere), ("read", invented.as_str())] {
        bob_ws.send(json!({"action": action, "requestId": action, "conversationId": with_bob, "messageId": id})).await;
        let error = bob_ws.recv_type("error").await;
        assert_eq!((error["code"].as_str(), error["requestId"].as_str()), (Some("not_found"), Some(action)), "{id}");
    }
    let (status, body) = env
        .call(
            "POST",
            &format!("/conversations/{with_bob}/read"),
            Some(&bob.access),
            Some(json!({"messageId": elsewhere})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
    let (_, conversation) = env.call("GET", &format!("/conversations/{with_bob}"), Some(&bob.access), None).await;
    let me = conversation["members"].as_array().unwrap().iter().find(|m| m["userId"] == bob.id.as_str()).unwrap();
    assert!(me["lastReadId"].is_null() && me["lastDeliveredId"].is_null(), "nothing moved: {me}");

    // the conversation's own message moves it
    bob_ws.send(json!({"action": "read", "requestId": "ok", "conversationId": with_bob, "messageId": mine})).await;
    let receipt = bob_ws.recv_type("receipt").await;
    assert_eq!((receipt["messageId"].as_str(), receipt["requestId"].as_str()), (Some(mine), Some("ok")));
}
