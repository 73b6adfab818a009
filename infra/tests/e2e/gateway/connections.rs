//! `@connections` as API Gateway serves it, driven by boto3 from the project venv (a client
//! nobody here wrote): signed requests with the local credentials work with or without the stage;
//! unsigned, wrongly signed or wrong-stage requests are 403 `ForbiddenException`; an unknown
//! connection is 410 `GoneException`; DELETE closes it and runs `$disconnect`.

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
        "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
"#;

/// Runs one Management API call with boto3; its JSON outcome.
async fn boto3(endpoint: &str, op: &str, connection: &str, data: &str, secret: &str) -> Value {
    let python = chat_local::emulator::default_venv().join("bin/python");
    let output = tokio::process::Command::new(python)
        .args(["-c", BOTO3, endpoint, op, connection, data, "local", secret])
        .output()
        .await
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("boto3 said {stdout} / {}", String::from_utf8_lossy(&output.stderr)))
}

#[tokio::test]
async fn the_management_api_answers_signed_requests_like_api_gateway() {
    let env = TestEnv::start().await;
    let ann = env.register("ann").await;
    let (mut ws, id) = env.connect_with_id(&ann.access).await;
    let base = env.ws.replace("ws://", "http://");
    let staged = format!("{base}/local");

    assert_eq!(boto3(&staged, "post", &id, r#"{"type":"hello"}"#, "local").await, json!({"ok": true}));
    assert_eq!(ws.recv().await, json!({"type": "hello"}));
    assert_eq!(boto3(&base, "post", &id, r#"{"type":"again"}"#, "local").await["ok"], true, "no stage, locally");
    assert_eq!(ws.recv().await["type"], "again");
    let info = boto3(&staged, "get", &id, "", "local").await;
    assert_eq!(info["identity"]["SourceIp"], "127.0.0.1", "{info}");

    // a wrong secret, a wrong stage, no signature at all: 403 ForbiddenException, nothing sent
    let forbidden = json!({"ok": false, "code": "ForbiddenException", "status": 403});
    assert_eq!(boto3(&staged, "post", &id, r#"{"type":"forged"}"#, "not-the-secret").await, forbidden);
    assert_eq!(boto3(&format!("{base}/prod"), "post", &id, r#"{"type":"stage"}"#, "local").await, forbidden);
    let encoded = urlencoding::encode(&id).into_owned();
    let unsigned = env.http.post(format!("{staged}/@connections/{encoded}")).body("{}").send().await.unwrap();
    assert_eq!(
        (unsigned.status().as_u16(), &unsigned.headers()["x-amzn-errortype"]),
        (403, &"ForbiddenException".parse().unwrap())
    );
    ws.expect_none("forged", std::time::Duration::from_millis(300)).await;

    let gone = json!({"ok": false, "code": "GoneException", "status": 410});
    assert_eq!(boto3(&staged, "post", "bm90LWEtY29ubg==", "{}", "local").await, gone);

    assert_eq!(boto3(&staged, "delete", &id, "", "local").await["ok"], true);
    env.eventually("DELETE @connections ran $disconnect", || async {
        env.stored_connections(&ann.id).await.is_empty()
    })
    .await;
    assert_eq!(boto3(&staged, "post", &id, "{}", "local").await, gone);
}
