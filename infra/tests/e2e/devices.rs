//! Devices and mute end to end: `POST /me/devices` upserts by deviceId (201 then 200), lists with
//! what was last seen, forgets; a `$connect ?deviceId=` updates last seen, address and user agent
//! of a registered device only; bad input gets `invalid_input` and changes nothing;
//! `PATCH /conversations/{id}/me {muted}` is for members only.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::TestEnv;

async fn devices(env: &TestEnv, token: &str) -> Vec<Value> {
    let (status, list) = env.call("GET", "/me/devices", Some(token), None).await;
    assert_eq!(status, 200, "{list}");
    list["devices"].as_array().unwrap().clone()
}

#[tokio::test]
async fn devices_are_upserted_by_id_listed_and_forgotten() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;

    let phone = json!({"deviceId": "phone-1", "platform": "ios", "pushToken": "a1b2c3", "name": "Ann's phone"});
    let (status, created) = env.call("POST", "/me/devices", Some(&ann.access), Some(phone.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["deviceId"], "phone-1");
    assert_eq!(created["platform"], "ios");
    assert_eq!(created["pushToken"], "a1b2c3");
    assert!(created["lastSeenAt"].is_string() && created["createdAt"].is_string(), "{created}");
    assert_eq!(created["lastIp"], "127.0.0.1");

    // the same deviceId again replaces it: 200, one device, the first createdAt, no token now
    let again = json!({"deviceId": "phone-1", "platform": "android"});
    let (status, replaced) = env.call("POST", "/me/devices", Some(&ann.access), Some(again)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["createdAt"], created["createdAt"]);
    let (status, _) =
        env.call("POST", "/me/devices", Some(&ann.access), Some(json!({"deviceId": "web-1", "platform": "web"}))).await;
    assert_eq!(status, 201);
    let list = devices(&env, &ann.access).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let phone = list.iter().find(|d| d["deviceId"] == "phone-1").unwrap();
    assert_eq!(phone["platform"], "android");
    assert!(phone.get("pushToken").is_none() && phone.get("name").is_none(), "{phone}");
    assert_eq!(phone["createdAt"], created["createdAt"]);
    // another user's list is its own
    assert!(devices(&env, &bob.access).await.is_empty());

    // bad input: the contract's code, nothing stored
    for bad in [
        json!({"deviceId": "", "platform": "ios"}),
        json!({"deviceId": "a b", "platform": "ios"}),
        json!({"deviceId": "USER#x", "platform": "ios"}),
        json!({"deviceId": "x".repeat(65), "platform": "ios"}),
        json!({"deviceId": "d", "platform": "windows"}),
        json!({"deviceId": "d"}),
        json!({"deviceId": "d", "platform": "ios", "pushToken": ""}),
        json!({"deviceId": "d", "platform": "ios", "pushToken": "has space"}),
        json!({"deviceId": "d", "platform": "ios", "pushToken": "t".repeat(4097)}),
        json!({"deviceId": "d", "platform": "ios", "name": " "}),
        json!({"deviceId": "d", "platform": "ios", "extra": 1}),
        json!({"deviceId": 5, "platform": "ios"}),
    ] {
        let (status, body) = env.call("POST", "/me/devices", Some(&ann.access), Some(bad.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad}: {body}");
    }
    let (status, _) = env.call("POST", "/me/devices", None, Some(json!({"deviceId": "d", "platform": "ios"}))).await;
    assert_eq!(status, 401);
    let (status, _) = env.call("GET", "/me/devices", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(devices(&env, &ann.access).await.len(), 2);

    // delete: 204, then 404; someone else's device is not found either
    let (status, body) = env.call("DELETE", "/me/devices/web-1", Some(&bob.access), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = env.call("DELETE", "/me/devices/web-1", Some(&ann.access), None).await;
    assert_eq!(status, 204);
    let (status, _) = env.call("DELETE", "/me/devices/web-1", Some(&ann.access), None).await;
    assert_eq!(status, 404);
    let (status, _) = env.call("DELETE", "/me/devices/a%20b", Some(&ann.access), None).await;
    assert_eq!(status, 404);
    let list = devices(&env, &ann.access).await;
    assert_eq!(list.iter().map(|d| d["deviceId"].as_str().unwrap()).collect::<Vec<_>>(), ["phone-1"]);
}

#[tokio::test]
async fn a_user_has_at_most_twenty_devices() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    for i in 0..20 {
        let body = json!({"deviceId": format!("d{i}"), "platform": "web"});
        let (status, _) = env.call("POST", "/me/devices", Some(&ann.access), Some(body)).await;
        assert_eq!(status, 201);
    }
    let (status, body) =
        env.call("POST", "/me/devices", Some(&ann.access), Some(json!({"deviceId": "d20", "platform": "web"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    // an existing one may still be replaced
    let (status, _) =
        env.call("POST", "/me/devices", Some(&ann.access), Some(json!({"deviceId": "d3", "platform": "ios"}))).await;
    assert_eq!(status, 200);
    assert_eq!(devices(&env, &ann.access).await.len(), 20);
}

#[tokio::test]
async fn connecting_with_a_device_id_updates_what_was_seen_of_that_device_only() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let body = json!({"deviceId": "phone-1", "platform": "ios", "pushToken": "tok"});
    let (_, registered) = env.call("POST", "/me/devices", Some(&ann.access), Some(body)).await;

    let url = format!("{}&deviceId=phone-1", env.ws_url_with_token(&ann.access));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("user-agent", "ChatApp/2.0 (iPhone)".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("handshake");
    // an unknown device id neither refuses the connection nor creates a device
    let mut other = env.try_connect(&format!("{}&deviceId=ghost", env.ws_url_with_token(&ann.access))).await.unwrap();
    other.assert_alive().await;

    let list = devices(&env, &ann.access).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let phone = &list[0];
    assert_eq!(phone["userAgent"], "ChatApp/2.0 (iPhone)");
    assert_eq!(phone["lastIp"], "127.0.0.1");
    assert!(phone["lastSeenAt"].as_str().unwrap() > registered["lastSeenAt"].as_str().unwrap(), "{phone}");
    assert_eq!(phone["pushToken"], "tok");
    drop(ws);
}

#[tokio::test]
async fn only_members_mute_a_conversation() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let bob = env.register("bob").await;
    let eve = env.register("eve").await;
    let conversation = env.open_direct(&ann, &bob).await;

    let path = format!("/conversations/{conversation}/me");
    let (status, mine) = env.call("PATCH", &path, Some(&bob.access), Some(json!({"muted": true}))).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["muted"], true);
    assert_eq!(mine["userId"], bob.id.as_str());
    assert_eq!(mine["conversationId"], conversation.as_str());
    assert!(mine["role"].is_string(), "{mine}");
    // the caller's list says it (only the caller's own setting: ann's list says false)
    let listed = |who: &'static str, body: Value| {
        let item = body["conversations"].as_array().unwrap().iter().find(|c| c["id"] == conversation.as_str()).cloned();
        item.unwrap_or_else(|| panic!("{who}: {conversation} not listed: {body}"))["muted"].clone()
    };
    let (_, list) = env.call("GET", "/conversations", Some(&bob.access), None).await;
    assert_eq!(listed("bob", list), true);
    let (_, list) = env.call("GET", "/conversations", Some(&ann.access), None).await;
    assert_eq!(listed("ann", list), false);
    let (_, mine) = env.call("PATCH", &path, Some(&bob.access), Some(json!({"muted": false}))).await;
    assert_eq!(mine["muted"], false);
    let (_, list) = env.call("GET", "/conversations", Some(&bob.access), None).await;
    assert_eq!(listed("bob", list), false);

    // a stranger and an unknown conversation learn nothing; nothing is created for them
    let (status, body) = env.call("PATCH", &path, Some(&eve.access), Some(json!({"muted": true}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) =
        env.call("PATCH", "/conversations/g-nope/me", Some(&ann.access), Some(json!({"muted": true}))).await;
    assert_eq!(status, 404);
    let (_, conv) = env.call("GET", &format!("/conversations/{conversation}"), Some(&ann.access), None).await;
    assert_eq!(conv["members"].as_array().unwrap().len(), 2, "{conv}");
    // muted is private: not in the members others see
    assert!(conv["members"].as_array().unwrap().iter().all(|m| m.get("muted").is_none()), "{conv}");

    for bad in [json!({}), json!({"muted": "yes"}), json!({"muted": true, "x": 1})] {
        let (status, body) = env.call("PATCH", &path, Some(&ann.access), Some(bad.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")), "{bad}: {body}");
    }
    let (status, _) = env.call("PATCH", &path, None, Some(json!({"muted": true}))).await;
    assert_eq!(status, 401);
}
