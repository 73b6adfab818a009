//! `@connections` as API Gateway serves it, driven by boto3 from the project venv (a client
//! nobody here wrote): requests signed with the developer's keys work under the template's stage;
//! unsigned, wrongly signed, stage-less or wrong-stage requests are 403 `ForbiddenException`; a
//! function's own keys may do what its template policy grants and nothing more; an unknown
//! connection is 410 `GoneException`; DELETE closes it and runs `$disconnect`. And the template
//! grants each function exactly what its code calls: every pushing path runs with no refusal.

use std::collections::BTreeSet;
use std::time::Duration;

use chat_local::account::function_credentials;
use serde_json::{Value, json};

use crate::support::TestEnv;

const BOTO3: &str = r#"
import json, sys
import boto3, botocore.config, botocore.exceptions
endpoint, op, conn, data, key, secret = sys.argv[1:7]
client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id=key, aws_secret_access_key=secret,
    config=botocore.config.Config(retries={"max_attempts": 1}))
try:
    if op == "post":
        client.post_to_connection(ConnectionId=conn, Data=data.encode())
        print(json.dumps({"ok": True}))
    elif op == "get":
        answer = client.get_connection(ConnectionId=conn)
        print(json.dumps({"ok": True, "identity": answer["Identity"], "connectedAt": str(answer["ConnectedAt"])}))
    else:
        client.delete_connection(ConnectionId=conn)
        print(json.dumps({"ok": True}))
except botocore.exceptions.ClientError as e:
    print(json.dumps({"ok": False, "code": e.response["Error"]["Code"],
        "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        "message": e.response["Error"].get("Message", "")}))
"#;

/// Runs one Management API call with boto3 signed with `key`/`secret`; its JSON outcome.
async fn boto3_as(endpoint: &str, op: &str, connection: &str, data: &str, key: &str, secret: &str) -> Value {
    let python = chat_local::emulator::default_venv().join("bin/python");
    let output = tokio::process::Command::new(python)
        .args(["-c", BOTO3, endpoint, op, connection, data, key, secret])
        .output()
        .await
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("boto3 said {stdout} / {}", String::from_utf8_lossy(&output.stderr)))
}

/// With the developer's keys (`local`, unless the environment names others).
async fn boto3(endpoint: &str, op: &str, connection: &str, data: &str, secret: &str) -> Value {
    let (key, _) = chat_local::account::local_credentials();
    boto3_as(endpoint, op, connection, data, &key, secret).await
}

fn developer_secret() -> String {
    chat_local::account::local_credentials().1
}

/// `{ok: false, code, status}` of a refusal, without its message.
fn outcome(mut answer: Value) -> Value {
    if let Some(fields) = answer.as_object_mut() {
        fields.remove("message");
    }
    answer
}

#[tokio::test]
async fn the_management_api_answers_signed_requests_like_api_gateway() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let (mut ws, id) = env.connect_with_id(&ann.access).await;
    let base = env.ws.replace("ws://", "http://");
    let stage = env.backend.gateway.stage().to_string();
    assert_eq!(stage, "prod", "template.yaml's StageName default");
    let staged = format!("{base}/{stage}");
    let secret = developer_secret();

    assert_eq!(outcome(boto3(&staged, "post", &id, r#"{"type":"hello"}"#, &secret).await), json!({"ok": true}));
    assert_eq!(ws.recv().await, json!({"type": "hello"}));
    let info = boto3(&staged, "get", &id, "", &secret).await;
    assert_eq!(info["identity"]["SourceIp"], "127.0.0.1", "{info}");

    // a wrong secret, a wrong stage, no stage, no signature at all: 403 ForbiddenException, nothing sent
    let forbidden = json!({"ok": false, "code": "ForbiddenException", "status": 403});
    assert_eq!(outcome(boto3(&staged, "post", &id, r#"{"type":"forged"}"#, "not-the-secret").await), forbidden);
    assert_eq!(outcome(boto3(&format!("{base}/local"), "post", &id, r#"{"type":"stage"}"#, &secret).await), forbidden);
    assert_eq!(outcome(boto3(&base, "post", &id, r#"{"type":"no stage"}"#, &secret).await), forbidden);
    let encoded = urlencoding::encode(&id).into_owned();
    let unsigned = env.http.post(format!("{staged}/@connections/{encoded}")).body("{}").send().await.unwrap();
    assert_eq!(
        (unsigned.status().as_u16(), &unsigned.headers()["x-amzn-errortype"]),
        (403, &"ForbiddenException".parse().unwrap())
    );
    ws.expect_none("forged", Duration::from_millis(300)).await;

    let gone = json!({"ok": false, "code": "GoneException", "status": 410});
    assert_eq!(outcome(boto3(&staged, "post", "bm90LWEtY29ubg==", "{}", &secret).await), gone);

    assert_eq!(boto3(&staged, "delete", &id, "", &secret).await["ok"], true);
    env.eventually("DELETE @connections ran $disconnect", || async {
        env.stored_connections(&ann.id).await.is_empty()
    })
    .await;
    assert_eq!(outcome(boto3(&staged, "post", &id, "{}", &secret).await), gone);
}

#[tokio::test]
async fn a_functions_own_keys_may_do_what_its_template_policy_grants() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let (mut ws, id) = env.connect_with_id(&ann.access).await;
    let staged = format!("{}/{}", env.ws.replace("ws://", "http://"), env.backend.gateway.stage());
    let forbidden = json!({"ok": false, "code": "ForbiddenException", "status": 403});

    // WsConnectFunction's role may POST (a presence push) and nothing else
    let (key, secret) = function_credentials("WsConnectFunction");
    assert_eq!(
        outcome(boto3_as(&staged, "post", &id, r#"{"type":"as ws-connect"}"#, &key, &secret).await),
        json!({"ok": true})
    );
    assert_eq!(ws.recv().await["type"], "as ws-connect");
    let refused = boto3_as(&staged, "get", &id, "", &key, &secret).await;
    assert_eq!(outcome(refused.clone()), forbidden);
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("WsConnectFunction") && message.contains(&format!("/GET/@connections/{id}")),
        "IAM's words, naming the role and the resource: {message}"
    );
    assert_eq!(outcome(boto3_as(&staged, "delete", &id, "", &key, &secret).await), forbidden);
    ws.assert_alive().await;

    // the authorizer's role has no ManageConnections at all; a function's key with another secret is forged
    let (authorizer, authorizer_secret) = function_credentials("WsAuthorizerFunction");
    assert_eq!(
        outcome(boto3_as(&staged, "post", &id, r#"{"type":"x"}"#, &authorizer, &authorizer_secret).await),
        forbidden
    );
    assert_eq!(outcome(boto3_as(&staged, "post", &id, r#"{"type":"x"}"#, &key, &authorizer_secret).await), forbidden);
    ws.expect_none("x", Duration::from_millis(300)).await;

    let calls = env.backend.gateway.management_calls();
    let count = |function: &str, method: &str| calls.get(&(function.to_string(), method.to_string())).copied();
    assert_eq!(count("WsConnectFunction", "GET").map(|c| (c.allowed, c.refused)), Some((0, 1)));
    assert_eq!(count("WsAuthorizerFunction", "POST").map(|c| (c.allowed, c.refused)), Some((0, 1)));
}

/// Waits for the `message.new` of `content` (a sender's other devices get its messages too).
async fn new_message(ws: &mut crate::support::Ws, content: &str) {
    while ws.recv_type("message.new").await["message"]["content"] != content {}
}

/// Every function that pushes, pushing: `$connect` and `$disconnect` presence, `send`, `read`,
/// `typing`, `ping` on `$default`, a REST message and a scheduled one. The gateway applies each
/// function's template policy to what it signs, so a missing grant is a refusal here, and a grant
/// no function used is one the template need not give.
#[tokio::test]
async fn the_template_grants_each_function_exactly_the_management_calls_it_makes() {
    use crate::scheduled::{direct, fast, in_secs, manual, schedule};
    let env = TestEnv::start_with_options(fast, manual()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = direct(&env, &ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    assert_eq!(ann_ws.recv_type("presence").await["online"], true, "ws-connect pushed");

    ann_ws.send(json!({"action": "send", "conversationId": conversation, "content": "hi", "clientMsgId": "c1"})).await;
    let message = bob_ws.recv_type("message.new").await["message"].clone();
    bob_ws.send(json!({"action": "read", "conversationId": conversation, "messageId": message["id"]})).await;
    ann_ws.recv_type("receipt").await;
    bob_ws.send(json!({"action": "typing", "conversationId": conversation, "state": "start"})).await;
    ann_ws.recv_type("typing").await;
    ann_ws.send(json!({"action": "ping", "requestId": "p"})).await;
    ann_ws.recv_type("pong").await;
    env.post_message(&bob, &conversation, "over REST", "r1").await;
    new_message(&mut ann_ws, "over REST").await;
    schedule(&env, &ann, &conversation, "later", &in_secs(2.0)).await;
    let (status, report) = env.run_schedule("DispatcherSchedule").await;
    assert_eq!((status, report["result"]["queued"].as_i64()), (200, Some(1)), "{report}");
    new_message(&mut bob_ws, "later").await;
    bob_ws.close().await;
    assert_eq!(ann_ws.recv_type("presence").await["online"], false, "ws-disconnect pushed");
    // connection-sweeper: a connection whose `$disconnect` never came (made so here by moving its
    // expiry into the past) is swept, and its contacts hear `offline`
    let carl = env.register("carl").await;
    direct(&env, &ann, &carl).await;
    let (_carl_ws, carl_connection) = env.connect_with_id(&carl.access).await;
    assert_eq!(ann_ws.recv_type("presence").await["userId"], carl.id.as_str());
    let past = chrono::Utc::now().timestamp() - 60;
    let s = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
    env.dynamo
        .update_item()
        .table_name(&env.table)
        .key("pk", s(format!("USER#{}", carl.id)))
        .key("sk", s(format!("CONN#{carl_connection}")))
        .update_expression("SET expiresAt = :e, gsi1sk = :sk")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::N(past.to_string()))
        .expression_attribute_values(":sk", s(chat::aws::keys::connection_index_sort(past, &carl.id, &carl_connection)))
        .send()
        .await
        .expect("expire carl's connection");
    let (status, report) = env.run_schedule("SweepSchedule").await;
    assert_eq!(status, 200, "{report}");
    let offline = ann_ws.recv_type("presence").await;
    assert_eq!((offline["userId"].as_str(), offline["online"].as_bool()), (Some(carl.id.as_str()), Some(false)));

    let calls = env.backend.gateway.management_calls();
    let refused: Vec<_> = calls.iter().filter(|(_, c)| c.refused > 0).collect();
    assert!(refused.is_empty(), "calls the template does not grant: {refused:?}");
    let used: BTreeSet<(String, String)> = calls.keys().cloned().collect();
    let t = super::template();
    let mut granted = BTreeSet::new();
    for (function, grants) in &t.management_grants {
        for method in ["POST", "GET", "DELETE", "PATCH", "PUT"] {
            let arn = chat_local::template::policies::connection_arn("local", &t.ws_stage, method, "any");
            if chat_local::template::policies::allows(grants, "execute-api:ManageConnections", &arn) {
                granted.insert((function.clone(), method.to_string()));
            }
        }
    }
    assert_eq!(used, granted, "the template grants exactly the calls the functions made");
}
