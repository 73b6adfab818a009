//! Process mode (`CHAT_LOCAL_FUNCTIONS=process`): the built function binaries run as processes
//! of their own speaking the Lambda Runtime API, so a cold start, a failed init, a timeout and a
//! function's memory are what Lambda would see. The binaries are built here once per test run
//! (`cargo build -p chat-functions --bins`, then `-p chat-authorizer` on its own as sam builds it;
//! the test's own profile and target dir).

use std::path::PathBuf;
use std::sync::OnceLock;

use chat_local::aws_proxy::AwsProxy;
use chat_local::local::{FunctionMode, LocalOptions};
use chat_local::process::{FunctionReport, ProcessFunctions};
use serde_json::json;
use serde_yaml_ng::Value as Yaml;

use crate::support::{TestEnv, aws_endpoint};

/// The directory of the function binaries, built (or found up to date) on first use.
fn built_functions() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            for package in [&["-p", "chat-functions", "--bins"][..], &["-p", "chat-authorizer"]] {
                let mut build = std::process::Command::new(&cargo);
                build.current_dir(&workspace).arg("build").args(package);
                if !cfg!(debug_assertions) {
                    build.arg("--release");
                }
                let status = build.status().expect("run cargo build");
                assert!(status.success(), "cargo build {package:?} failed");
            }
            chat_local::local::functions_dir(None)
        })
        .clone()
}

fn process_mode() -> LocalOptions {
    LocalOptions {
        clock: false,
        functions: FunctionMode::Process { dir: Some(built_functions()) },
        ..Default::default()
    }
}

fn processes(env: &TestEnv) -> &ProcessFunctions {
    env.backend.processes.as_deref().expect("the backend runs in process mode")
}

fn report(env: &TestEnv, binary: &str) -> FunctionReport {
    processes(env).report().into_iter().find(|r| r.binary == binary).unwrap_or_else(|| panic!("no {binary}"))
}

/// Waits until `binary` has finished `n` invocations: a function pushes `message.sent` before it
/// returns, so a client that has its answer may still find the invocation running (and a second
/// message then needs a second process, as on Lambda).
async fn finished(env: &TestEnv, binary: &str, n: u64) {
    env.eventually(&format!("{binary} finished {n} invocations"), || async { report(env, binary).invocations == n })
        .await;
}

/// template.yaml changed by `edit`, written under the test's temporary directory.
fn template_variant(name: &str, edit: impl FnOnce(&mut Yaml)) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let mut doc: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("template-{name}-{}.yaml", std::process::id()));
    std::fs::write(&out, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    out
}

fn function_properties<'a>(doc: &'a mut Yaml, logical_id: &str) -> &'a mut serde_yaml_ng::Mapping {
    doc["Resources"][logical_id]["Properties"].as_mapping_mut().unwrap_or_else(|| panic!("{logical_id}"))
}

#[tokio::test]
async fn each_function_runs_in_its_own_process_warm_after_its_cold_start() {
    let (proxy, url) = AwsProxy::start(&aws_endpoint()).await;
    let env = TestEnv::start_on(&url, |_| None, process_mode()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let mut bob_ws = env.connect(&bob.access).await;
    assert!(report(&env, "ws-send").instances.is_empty(), "nothing sent yet: no ws-send process");
    proxy.take_counts_of("ws-send");

    ann_ws
        .send(json!({"action": "send", "requestId": "r1", "to": bob.id, "content": "hi bob", "clientMsgId": "c1"}))
        .await;
    let sent = ann_ws.recv_type("message.sent").await;
    let got = bob_ws.recv_type("message.new").await;
    assert_eq!(got["message"]["id"], sent["message"]["id"]);
    assert_eq!(got["message"]["content"], "hi bob");
    finished(&env, "ws-send", 1).await;

    // ws-send ran in a process of its own: one cold start, timed; its pid is not this process's
    let send = report(&env, "ws-send");
    assert_eq!(send.init_ms.len(), 1, "{send:?}");
    assert!(send.init_ms[0] > 0.0 && send.init_ms[0] < 10_000.0, "{send:?}");
    assert_eq!(send.instances.len(), 1, "{send:?}");
    let process = &send.instances[0];
    assert_ne!(process.pid, std::process::id());
    assert!(process.rss_kib > 1024 && process.peak_kib >= process.rss_kib, "{process:?}");
    assert_eq!(send.memory_mb, 256, "template.yaml's Globals MemorySize");
    // that process's SDK reached the endpoint under its own app name
    assert!(!proxy.take_counts_of("ws-send").is_empty(), "ws-send's requests went through the proxy");

    // the next message is served by the same warm process: no second cold start
    ann_ws
        .send(json!({"action": "send", "requestId": "r2", "to": bob.id, "content": "again", "clientMsgId": "c2"}))
        .await;
    ann_ws.recv_type("message.sent").await;
    bob_ws.recv_type("message.new").await;
    finished(&env, "ws-send", 2).await;
    let send = report(&env, "ws-send");
    assert_eq!(send.init_ms.len(), 1, "{send:?}");
    assert_eq!((send.instances.len(), send.invocations), (1, 2), "{send:?}");
    assert_eq!((send.instances[0].pid, send.instances[0].invocations), (process.pid, 2));
    // the HTTP API, the authorizer and $connect ran as processes too (two connects, one cold start each)
    for binary in ["http-api", "ws-authorizer", "ws-connect"] {
        let r = report(&env, binary);
        assert!(!r.init_ms.is_empty() && r.init_errors == 0, "{r:?}");
    }
    assert_eq!(report(&env, "http-api").memory_mb, 512);
}

#[tokio::test]
async fn a_function_whose_environment_lacks_a_required_variable_fails_its_init_and_the_gateway_stays_up() {
    // CHAT_TABLE moves from Globals to every function but WsTypingFunction
    let template = template_variant("no-table-for-typing", |doc| {
        let table = doc["Globals"]["Function"]["Environment"]["Variables"]
            .as_mapping_mut()
            .unwrap()
            .remove("CHAT_TABLE")
            .expect("Globals give CHAT_TABLE");
        let ids: Vec<String> = doc["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
            .map(|(id, _)| id.as_str().unwrap().to_string())
            .collect();
        for id in ids.iter().filter(|id| *id != "WsTypingFunction") {
            let properties = function_properties(doc, id);
            let environment = properties
                .entry("Environment".into())
                .or_insert_with(|| Yaml::Mapping(Default::default()))
                .as_mapping_mut()
                .unwrap();
            let variables = environment
                .entry("Variables".into())
                .or_insert_with(|| Yaml::Mapping(Default::default()))
                .as_mapping_mut()
                .unwrap();
            variables.insert("CHAT_TABLE".into(), table.clone());
        }
    });
    let env = TestEnv::start_from_template(&template, &aws_endpoint(), process_mode()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let conversation = env.open_direct(&ann, &bob).await;
    let mut ann_ws = env.connect(&ann.access).await;

    for attempt in 1..=2 {
        ann_ws.send(json!({"action": "typing", "conversationId": conversation, "state": "start"})).await;
        let answer = ann_ws.recv().await;
        assert_eq!(answer["message"], "Internal server error", "{answer}");
        // Lambda tries the init again on the next invocation; it fails again, and no process stays
        let typing = report(&env, "ws-typing");
        assert_eq!((typing.init_errors, typing.init_ms.len(), typing.instances.len()), (attempt, 0, 0), "{typing:?}");
    }

    // the gateway and the other functions still serve, on the same connection
    ann_ws
        .send(json!({"action": "send", "requestId": "r1", "to": bob.id, "content": "still here", "clientMsgId": "c1"}))
        .await;
    assert_eq!(ann_ws.recv_type("message.sent").await["message"]["content"], "still here");
    assert_eq!(env.call("GET", "/health", None, None).await.0, 200);
}

#[tokio::test]
async fn a_process_past_its_timeout_is_killed_and_the_next_invocation_starts_another() {
    let template = template_variant("send-timeout-1s", |doc| {
        function_properties(doc, "WsSendFunction").insert("Timeout".into(), 1.into());
    });
    let (proxy, url) = AwsProxy::start(&aws_endpoint()).await;
    let env = TestEnv::start_from_template(&template, &url, process_mode()).await;
    let (ann, bob) = (env.register("ann").await, env.register("bob").await);
    let mut ann_ws = env.connect(&ann.access).await;
    let send = |id: &str| json!({"action": "send", "requestId": id, "to": bob.id, "content": id, "clientMsgId": id});
    ann_ws.send(send("c1")).await;
    ann_ws.recv_type("message.sent").await;
    finished(&env, "ws-send", 1).await;
    let first = report(&env, "ws-send").instances[0].pid;

    // every AWS call now takes 1.2 s: the send runs past its 1 s Timeout
    proxy.delay_ms.store(1200, std::sync::atomic::Ordering::Relaxed);
    ann_ws.send(send("c2")).await;
    assert_eq!(ann_ws.recv().await["message"], "Internal server error");
    proxy.delay_ms.store(0, std::sync::atomic::Ordering::Relaxed);
    env.eventually("the timed-out process is killed", || async {
        !std::path::Path::new(&format!("/proc/{first}")).exists()
            || std::fs::read_to_string(format!("/proc/{first}/status")).unwrap_or_default().contains("State:\tZ")
    })
    .await;
    assert!(report(&env, "ws-send").instances.iter().all(|i| i.pid != first));

    // the next invocation is a cold start in a new process
    ann_ws.send(send("c3")).await;
    ann_ws.recv_type("message.sent").await;
    let send = report(&env, "ws-send");
    assert_eq!(send.init_ms.len(), 2, "{send:?}");
    assert!(send.instances.len() == 1 && send.instances[0].pid != first, "{send:?}");
}

#[test]
fn a_process_gets_its_template_environment_with_local_resources() {
    let template = super::template();
    let config = chat::Config::from_lookup(|k| match k {
        "CHAT_TABLE" => Some("local-table".into()),
        "CHAT_JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
        "CHAT_JWT_KEYS_PARAMETER" => Some("/local-table/jwt-keys".into()),
        "CHAT_SCHEDULE_QUEUE_URL" => Some("http://127.0.0.1:1/queue".into()),
        "CHAT_MANAGEMENT_ENDPOINT" => Some("http://127.0.0.1:2".into()),
        "CHAT_EVENT_BUS" => Some("local-bus".into()),
        "CHAT_WS_RATE_PER_MIN" => Some("7".into()),
        _ => None,
    })
    .unwrap();
    let of = |binary: &str| chat_local::local::function_variables(&template, &config, binary);
    let send = of("ws-send");
    // resources the template gives it, as their local equivalents; literals as the template has them
    assert_eq!(send["CHAT_TABLE"], "local-table");
    assert_eq!(send["CHAT_MANAGEMENT_ENDPOINT"], "http://127.0.0.1:2");
    assert_eq!(send["MALLOC_ARENA_MAX"], "2");
    assert!(send.contains_key("RUST_LOG"));
    // the local settings over the template's parameter values
    assert_eq!(send["CHAT_WS_RATE_PER_MIN"], "7");
    // resources it is not given: absent, as on AWS
    for missing in ["CHAT_SCHEDULE_QUEUE_URL", "CHAT_EVENT_BUS", "CHAT_JWT_KEYS_PARAMETER", "CHAT_JWT_SECRET"] {
        assert!(!send.contains_key(missing), "ws-send has {missing}");
    }
    assert_eq!(of("scheduler-dispatcher")["CHAT_SCHEDULE_QUEUE_URL"], "http://127.0.0.1:1/queue");
    assert_eq!(of("events")["CHAT_EVENT_BUS"], "local-bus");
    let http = of("http-api");
    assert_eq!(http["CHAT_JWT_KEYS_PARAMETER"], "/local-table/jwt-keys");
    assert!(!http.contains_key("CHAT_JWT_SECRET"), "the keys come from the parameter");
}
