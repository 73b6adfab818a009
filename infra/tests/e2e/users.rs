//! Users and stats end to end: username prefix search (case-insensitive, paged, no emails), one
//! user with `online`/`lastSeen`, online contacts, and `/stats` moving with registrations,
//! connections and messages.

use serde_json::{Value, json};

use crate::support::{TestEnv, assert_no_private_fields};

fn usernames(page: &Value) -> Vec<String> {
    page["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn search_is_a_case_insensitive_paged_prefix_search_without_emails() {
    let env = TestEnv::start().await;
    let ann = env.register_exact("Ann").await;
    for name in ["Zed_Alpha", "zed_beta", "ZED_gamma", "zeb_other", "zz_top"] {
        env.register_exact(name).await;
    }
    // a conversation puts membership items (gsi1pk USER#…) in the same index: they never show up
    env.open_direct(&ann, &env.register_exact("zed_delta").await).await;

    let (status, first) = env.call("GET", "/users?q=zEd_&limit=2", Some(&ann.access), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(usernames(&first), ["Zed_Alpha", "zed_beta"]);
    let cursor = first["nextCursor"].as_str().expect("a next page").to_string();
    let (status, second) =
        env.call("GET", &format!("/users?q=ZED_&limit=2&cursor={cursor}"), Some(&ann.access), None).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(usernames(&second), ["zed_delta", "ZED_gamma"]);
    // the last page fits exactly: no cursor to an empty page
    assert!(second["nextCursor"].is_null(), "{second}");
    let (_, three) = env.call("GET", "/users?q=zed&limit=3", Some(&ann.access), None).await;
    assert_eq!(usernames(&three), ["Zed_Alpha", "zed_beta", "zed_delta"]);
    let cursor = three["nextCursor"].as_str().expect("a next page").to_string();
    let (_, rest) = env.call("GET", &format!("/users?q=zed&limit=3&cursor={cursor}"), Some(&ann.access), None).await;
    assert_eq!((usernames(&rest), rest["nextCursor"].clone()), (vec!["ZED_gamma".to_string()], Value::Null));

    let (_, all) = env.call("GET", "/users?q=Z", Some(&ann.access), None).await;
    assert_eq!(usernames(&all), ["zeb_other", "Zed_Alpha", "zed_beta", "zed_delta", "ZED_gamma", "zz_top"]);
    assert!(all["nextCursor"].is_null());
    for page in [&first, &second, &all] {
        assert_no_private_fields(page);
        for user in page["users"].as_array().unwrap() {
            assert!(user["id"].is_string() && user["displayName"].is_string() && user["online"] == false, "{user}");
        }
    }
    let (_, exact) = env.call("GET", "/users?q=zeb_other", Some(&ann.access), None).await;
    assert_eq!(usernames(&exact), ["zeb_other"]);
    let (_, none) = env.call("GET", "/users?q=nobody", Some(&ann.access), None).await;
    assert_eq!(none, json!({"users": [], "nextCursor": null}));

    let long = "a".repeat(33);
    for bad in [
        "/users".to_string(),
        "/users?q=".to_string(),
        format!("/users?q={long}"),
        "/users?q=a%20b".to_string(),
        "/users?q=USER%23".to_string(),
        "/users?q=z&limit=0".to_string(),
        "/users?q=z&limit=51".to_string(),
        "/users?q=z&limit=ten".to_string(),
        "/users?q=z&cursor=garbage".to_string(),
        // a cursor from another query
        format!("/users?q=zeb&cursor={}", first["nextCursor"].as_str().unwrap()),
    ] {
        let (status, body) = env.call("GET", &bad, Some(&ann.access), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad}: {body}");
    }
    let (status, _) = env.call("GET", "/users?q=z", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_user_by_id_shows_online_and_last_seen_but_no_email() {
    let env = TestEnv::start().await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    // presence is shown to users who share a conversation (e2e security::presence_...)
    env.open_direct(&ann, &bob).await;
    let path = format!("/users/{}", bob.id);

    let (status, before) = env.call("GET", &path, Some(&ann.access), None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["id"], bob.id.as_str());
    assert_eq!(before["username"], bob.username.as_str());
    assert_eq!(before["online"], false);
    assert!(before.get("lastSeen").is_none(), "never connected: {before}");
    assert_no_private_fields(&before);

    let (_, me) = env.call("GET", "/me", Some(&bob.access), None).await;
    assert_eq!((me["online"].clone(), me["email"].as_str()), (json!(false), Some(bob.email.as_str())), "{me}");
    let bob_ws = env.connect(&bob.access).await;
    let (_, during) = env.call("GET", &path, Some(&ann.access), None).await;
    assert_eq!(during["online"], true, "{during}");
    let (_, me) = env.call("GET", "/me", Some(&bob.access), None).await;
    assert_eq!(me["online"], true, "GET /me shows the caller online while connected: {me}");
    let connected_seen = during["lastSeen"].as_str().expect("lastSeen set on connect").to_string();
    assert_no_private_fields(&during);

    bob_ws.close().await;
    env.eventually("bob is offline", || async {
        let (_, after) = env.call("GET", &path, Some(&ann.access), None).await;
        after["online"] == false && after["lastSeen"].as_str().is_some_and(|s| s >= connected_seen.as_str())
    })
    .await;

    // the caller itself through /users/{id}: still no email there
    let (_, own) = env.call("GET", &format!("/users/{}", ann.id), Some(&ann.access), None).await;
    assert_no_private_fields(&own);

    let unknown = chat::domain::new_id();
    for missing in [format!("/users/{unknown}"), "/users/nobody".to_string()] {
        let (status, body) = env.call("GET", &missing, Some(&ann.access), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{missing}");
    }
    let (status, _) = env.call("GET", &path, None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn online_users_are_the_online_contacts_only() {
    let env = TestEnv::start().await;
    let (ann, bob, carol, dave) =
        (env.register("ann").await, env.register("bob").await, env.register("carol").await, env.register("dave").await);
    env.open_direct(&ann, &bob).await;
    env.open_direct(&carol, &ann).await;

    let (status, body) = env.call("GET", "/users/online", Some(&ann.access), None).await;
    assert_eq!((status, body.clone()), (200, json!({"users": []})));

    let _bob_ws = env.connect(&bob.access).await;
    let _dave_ws = env.connect(&dave.access).await; // online, but shares nothing with ann
    let _ann_ws = env.connect(&ann.access).await; // the caller is never listed
    let (_, body) = env.call("GET", "/users/online", Some(&ann.access), None).await;
    assert_eq!(usernames(&body), vec![bob.username.clone()], "{body}");
    assert_eq!(body["users"][0]["online"], true);
    assert_eq!(body["users"][0]["id"], bob.id.as_str());
    assert_no_private_fields(&body);

    let carol_ws = env.connect(&carol.access).await;
    let (_, body) = env.call("GET", "/users/online", Some(&ann.access), None).await;
    assert_eq!(usernames(&body), [bob.username.clone(), carol.username.clone()]);
    carol_ws.close().await;
    env.eventually("carol drops out", || async {
        let (_, body) = env.call("GET", "/users/online", Some(&ann.access), None).await;
        usernames(&body) == [bob.username.clone()]
    })
    .await;

    // dave shares nothing: his list is empty although ann and bob are online
    let (_, body) = env.call("GET", "/users/online", Some(&dave.access), None).await;
    assert_eq!(body, json!({"users": []}));
}

#[tokio::test]
async fn stats_move_with_registrations_connections_and_messages() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let stats = env.stats(&ann.access).await;
    assert_eq!(stats, json!({"users": 1, "onlineUsers": 0, "connections": 0, "messagesLast24h": 0}));
    let (status, _) = env.call("GET", "/stats", None, None).await;
    assert_eq!(status, 401);

    let bob = env.register("bob").await;
    let mut ann_phone = env.connect(&ann.access).await;
    let ann_laptop = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    let stats = env.stats(&ann.access).await;
    assert_eq!(stats, json!({"users": 2, "onlineUsers": 2, "connections": 3, "messagesLast24h": 0}));

    let frame = json!({"action": "send", "to": bob.id, "content": "one", "clientMsgId": "s1"});
    ann_phone.send(frame.clone()).await;
    ann_phone.recv_type("message.sent").await;
    ann_phone.send(frame).await; // a duplicate is not a new message
    ann_phone.recv_type("message.sent").await;
    bob_ws.send(json!({"action": "send", "to": ann.id, "content": "two", "clientMsgId": "s2"})).await;
    bob_ws.recv_type("message.sent").await;
    let conversation = chat::domain::conversation::direct_conversation_id(&ann.id, &bob.id);
    let (status, _) = env
        .call(
            "POST",
            &format!("/conversations/{conversation}/messages"),
            Some(&bob.access),
            Some(json!({"content": "three", "clientMsgId": "s3"})),
        )
        .await;
    assert_eq!(status, 201);
    let stats = env.stats(&bob.access).await;
    assert_eq!(stats["messagesLast24h"], 3, "{stats}");

    ann_laptop.close().await;
    env.eventually("one connection fewer", || async { env.stats(&ann.access).await["connections"] == 2 }).await;
    bob_ws.close().await;
    env.eventually("bob offline", || async {
        env.stats(&ann.access).await == json!({"users": 2, "onlineUsers": 1, "connections": 1, "messagesLast24h": 3})
    })
    .await;
}
