//! The local gateway behaves as API Gateway does, and agrees with template.yaml. One file per
//! group of API Gateway's rules; this one holds the template agreement and `@connections`.

mod back_pressure;
mod client;
mod connections;
mod events;
mod handshake;
mod lifecycle;
mod processes;
mod recovery;
mod web_app;

use std::collections::BTreeSet;

use chat_functions::registry::Function;
use chat_local::template::Template;

use crate::support::TestEnv;

fn template() -> Template {
    Template::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
        .expect("template.yaml parses")
}

#[test]
fn template_routes_functions_and_binaries_agree() {
    let t = template();
    let function =
        |binary: &str| Function::from_binary(binary).unwrap_or_else(|| panic!("{binary} is not in the registry"));
    let routes: Vec<(&str, Function)> = t.ws_routes.iter().map(|(k, f)| (k.as_str(), function(f))).collect();
    assert_eq!(
        routes,
        vec![
            ("$connect", Function::WsConnect),
            ("$default", Function::WsDefault),
            ("$disconnect", Function::WsDisconnect),
            ("delivered", Function::WsReceipts),
            ("read", Function::WsReceipts),
            ("send", Function::WsSend),
            ("typing", Function::WsTyping),
        ]
    );
    let authorizer = t.connect_authorizer.as_ref().expect("$connect has an authorizer");
    assert_eq!(function(&authorizer.function), Function::WsAuthorizer);
    // no identity source: the token may come as `?token=` or as the subprotocol `token.<jwt>`
    assert!(authorizer.identity_sources.is_empty());
    assert_eq!(t.route_selection_expression, "$request.body.action");
    assert_eq!(function(&t.http_function), Function::HttpApi);

    // every binary is a function of the template and has a handler in the registry, and back:
    // functions/src/bin, and the authorizer's package of its own (functions/authorizer)
    let functions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let mut bins: BTreeSet<String> = std::fs::read_dir(functions.join("src/bin"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    // Its `[[bin]]` names (`name = "…"` lines after each `[[bin]]`): no TOML parser for one field.
    let manifest = std::fs::read_to_string(functions.join("authorizer/Cargo.toml")).unwrap();
    for section in manifest.split("[[bin]]").skip(1) {
        let name = section.lines().find_map(|l| l.trim().strip_prefix("name = ")).expect("a [[bin]] name");
        bins.insert(name.trim_matches('"').to_string());
    }
    let in_template: BTreeSet<String> = t.functions.values().cloned().collect();
    let in_registry: BTreeSet<String> = Function::ALL.iter().map(|f| f.binary().to_string()).collect();
    assert_eq!(bins, in_template, "functions/src/bin + functions/authorizer vs template.yaml");
    assert_eq!(in_registry, in_template, "registry vs template.yaml");

    // Lambda's and API Gateway's limits as the template sets them, which the gateway applies
    use chat_local::template::limits::Throttle;
    let throttle = |rate: f64, burst: f64| Some(Throttle { rate, burst });
    assert_eq!(t.throttles.websocket_default, throttle(100.0, 200.0));
    assert_eq!(t.throttles.websocket_routes.get("$connect").copied(), throttle(50.0, 100.0));
    assert_eq!(t.throttles.http_default, throttle(100.0, 200.0));
    assert_eq!(t.function_limits.len(), t.functions.len());
    assert!(t.function_limits.values().all(|l| (1..=900).contains(&l.timeout_secs)));
    assert_eq!(t.function_limits["scheduler-planner"].timeout_secs, 300);

    let table = &t.table;
    assert_eq!((table.hash_key.as_str(), table.range_key.as_deref()), ("pk", Some("sk")));
    assert_eq!(table.ttl_attribute.as_deref(), Some("expiresAt"));
    assert!(table.global_indexes.iter().any(|g| g.name == "gsi1"));
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let env = TestEnv::start().await;
    let response = env
        .http
        .request(reqwest::Method::OPTIONS, env.url("/auth/login"))
        .header("origin", "http://example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // the rest of template.yaml's CorsConfiguration, on the preflight and on every other answer
    let health = env.http.get(env.url("/health")).header("origin", "http://example.com").send().await.unwrap();
    for headers in [response.headers(), health.headers()] {
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(headers["access-control-allow-headers"], "authorization,content-type");
        assert_eq!(headers["access-control-allow-methods"], "GET,POST,PATCH,DELETE,OPTIONS");
        assert_eq!(headers["access-control-max-age"], "600");
    }
}

#[test]
fn template_schedules_queues_and_mappings() {
    use chat_local::template::schedule_expression::ScheduleExpression;
    let t = template();
    let rules: Vec<(&str, Option<Function>, bool)> =
        t.events.schedules.iter().map(|r| (r.name.as_str(), Function::from_binary(&r.function), r.enabled)).collect();
    assert_eq!(
        rules,
        vec![
            ("PlannerSchedule", Some(Function::SchedulerPlanner), true),
            ("DispatcherSchedule", Some(Function::SchedulerDispatcher), true),
            ("SweepSchedule", Some(Function::ConnectionSweeper), true)
        ]
    );
    assert_eq!(
        t.events.schedule("SweepSchedule").unwrap().expression,
        ScheduleExpression::Rate(chrono::Duration::minutes(2))
    );
    let planner = t.events.schedule("PlannerSchedule").unwrap();
    assert_eq!(planner.rule_id, "SchedulerPlannerFunctionPlannerSchedule");
    assert_eq!(planner.expression, ScheduleExpression::parse("cron(0 2 * * ? *)").unwrap(), "default 02:00 UTC");
    assert_eq!(
        t.events.schedule("DispatcherSchedule").unwrap().expression,
        ScheduleExpression::Rate(chrono::Duration::minutes(1))
    );

    let mapping = &t.events.queue_mappings[..];
    assert_eq!(mapping.len(), 1);
    assert_eq!(
        (
            Function::from_binary(&mapping[0].function),
            mapping[0].queue.as_str(),
            mapping[0].batch_size,
            mapping[0].report_batch_item_failures
        ),
        (Some(Function::SchedulerWorker), "ScheduledMessagesQueue", 10, true)
    );
    let queue = &t.events.queues["ScheduledMessagesQueue"];
    let redrive = queue.redrive.as_ref().expect("the queue has a redrive policy");
    assert_eq!((redrive.dead_letter_queue.as_str(), redrive.max_receive_count), ("ScheduledMessagesDLQ", 5));
    assert!(t.events.queues["ScheduledMessagesDLQ"].redrive.is_none());
    assert_eq!(t.events.queue_env.get("CHAT_SCHEDULE_QUEUE_URL").map(String::as_str), Some("ScheduledMessagesQueue"));

    // Lambda's advice for SQS event sources: visibility timeout >= 6x the function timeout.
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    let worker_timeout = doc["Resources"]["SchedulerWorkerFunction"]["Properties"]["Timeout"]
        .as_i64()
        .or_else(|| doc["Globals"]["Function"]["Timeout"].as_i64())
        .unwrap();
    assert!(queue.visibility_timeout.unwrap() >= 6 * worker_timeout);
    // the DLQ has an alarm on its depth
    let alarm = &doc["Resources"]["ScheduledMessagesDLQAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");

    // the planner's parameter turns its rule off
    let params = std::collections::BTreeMap::from([("PlannerEnabled".to_string(), "false".to_string())]);
    let off = Template::load_with_parameters(&template_path(), &params).unwrap();
    assert!(!off.events.schedule("PlannerSchedule").unwrap().enabled);
    assert!(off.events.schedule("DispatcherSchedule").unwrap().enabled);
    let params = std::collections::BTreeMap::from([("NoSuchParameter".to_string(), "x".to_string())]);
    assert!(Template::load_with_parameters(&template_path(), &params).is_err());
}

fn template_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

#[tokio::test]
async fn the_local_emulation_creates_the_templates_queues_and_serves_its_schedules() {
    use aws_sdk_sqs::types::QueueAttributeName as Attr;
    let t = template();
    let options = chat_local::local::LocalOptions { clock: false, ..Default::default() };
    let env = TestEnv::start_with_options(|_| None, options).await;
    let queues = &env.backend.queues;
    assert_eq!(queues.keys().collect::<Vec<_>>(), t.events.queues.keys().collect::<Vec<_>>());
    let sqs = env.sqs();
    for (id, definition) in &t.events.queues {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queues[id].url)
            .attribute_names(Attr::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let number = |a: Attr| attributes.get(&a).map(|v| v.parse::<i64>().unwrap());
        assert_eq!(number(Attr::VisibilityTimeout), Some(definition.visibility_timeout.unwrap_or(30)), "{id}");
        assert_eq!(number(Attr::MessageRetentionPeriod), definition.message_retention_period, "{id}");
        match &definition.redrive {
            Some(redrive) => {
                let policy: serde_json::Value =
                    serde_json::from_str(attributes.get(&Attr::RedrivePolicy).expect("a redrive policy")).unwrap();
                assert_eq!(policy["deadLetterTargetArn"], queues[&redrive.dead_letter_queue].arn.as_str());
                assert_eq!(
                    policy["maxReceiveCount"]
                        .as_i64()
                        .or(policy["maxReceiveCount"].as_str().and_then(|s| s.parse().ok())),
                    Some(redrive.max_receive_count)
                );
            }
            None => assert!(!attributes.contains_key(&Attr::RedrivePolicy), "{id}"),
        }
    }
    assert_eq!(env.backend.schedules.rules(), &t.events.schedules[..]);

    let (status, body) = env.run_schedule("NoSuchRule").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = env.run_schedule("DispatcherSchedule").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["function"], "scheduler-dispatcher");
    assert_eq!(body["result"]["queued"], 0);
    // by the generated rule's logical id too
    let (status, body) = env.run_schedule("SchedulerPlannerFunctionPlannerSchedule").await;
    assert_eq!((status, body["result"]["pairsPlanned"].as_i64()), (200, Some(0)), "{body}");
}

#[test]
fn each_function_gets_the_environment_the_template_gives_it() {
    let t = template();
    chat_local::local::check_environment(&t).expect("every function has what it needs");
    let with_queue: Vec<&str> = t
        .environment
        .iter()
        .filter(|(_, names)| names.contains("CHAT_SCHEDULE_QUEUE_URL"))
        .map(|(binary, _)| binary.as_str())
        .collect();
    assert_eq!(with_queue, vec!["scheduler-dispatcher"], "only the dispatcher sends to the queue");
    assert!(t.environment["scheduler-planner"].contains("CHAT_AUTO_MESSAGES"));
    assert!(!t.environment["ws-send"].contains("CHAT_AUTO_MESSAGES"));

    // a template that forgets a variable a function cannot start without fails locally too
    let text = std::fs::read_to_string(template_path()).unwrap();
    let forgetful = text.replacen("        CHAT_TABLE: !Ref ChatTable\n", "", 1);
    assert_ne!(forgetful, text);
    let error = chat_local::local::check_environment(&Template::parse(&forgetful).unwrap()).unwrap_err();
    assert!(error.contains("CHAT_TABLE"), "{error}");
}

/// The roles' `execute-api:ManageConnections` grants, as the gateway applies them: each function
/// that pushes may POST under the template's stage, none may do what the Management API adapter
/// never does (GetConnection, DeleteConnection), and the others may do nothing.
/// `connections.rs` runs every pushing path to show the same from the calls themselves.
#[test]
fn the_template_grants_the_management_calls_the_code_makes() {
    use chat::aws::pusher::MANAGEMENT_API_METHODS;
    use chat_local::account::WEBSOCKET_API_ID;
    use chat_local::template::policies::{MANAGE_CONNECTIONS, allows, connection_arn};
    let t = template();
    assert_eq!(t.ws_stage, "prod", "the WebSocketStage's StageName (its parameter's default)");
    let may = |function: &str, stage: &str, method: &str| {
        allows(
            &t.management_grants[function],
            MANAGE_CONNECTIONS,
            &connection_arn(WEBSOCKET_API_ID, stage, method, "c="),
        )
    };
    let mut posting = BTreeSet::new();
    for function in t.functions.keys() {
        for method in ["POST", "GET", "DELETE"] {
            assert!(
                !may(function, &t.ws_stage, method) || MANAGEMENT_API_METHODS.contains(&method),
                "{function} may {method} @connections, which the code never does"
            );
        }
        assert!(!may(function, "beta", "POST"), "{function}: only the template's stage");
        if may(function, &t.ws_stage, "POST") {
            posting.insert(function.as_str());
        }
    }
    let pushing = [
        "ConnectionSweeperFunction",
        "HttpApiFunction",
        "SchedulerWorkerFunction",
        "WsConnectFunction",
        "WsDefaultFunction",
        "WsDisconnectFunction",
        "WsReceiptsFunction",
        "WsSendFunction",
        "WsTypingFunction",
    ];
    assert_eq!(posting, BTreeSet::from(pushing));

    // a GET grant added to a role shows up as one the code never uses
    let text = std::fs::read_to_string(template_path()).unwrap();
    let post = "${StageName}/POST/@connections/*\"\n";
    let widened = text.replacen(post, &format!("{post}                - !Sub \"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{WebSocketApi}}/${{StageName}}/GET/@connections/*\"\n"), 1);
    assert_ne!(widened, text);
    let widened = Template::parse(&widened).unwrap();
    assert!(allows(
        &widened.management_grants["WsConnectFunction"],
        MANAGE_CONNECTIONS,
        &connection_arn(WEBSOCKET_API_ID, "prod", "GET", "c=")
    ));
}
