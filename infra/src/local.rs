//! Wires a whole local backend: AWS endpoint, table, App, gateway. Used by `local-gateway` (what
//! `make dev` runs) and by the end-to-end tests, so both exercise the same set-up. The one place
//! in this crate that knows the chat: it runs the functions of `chat_functions::registry` for the
//! gateway, the schedules and the SQS mappings.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chat::{App, Config};
use chat_functions::registry::{self, Function};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::bootstrap::LocalQueue;
use crate::gateway::{ConnectionLimits, GatewayOptions, RunningGateway, serve};
use crate::invoke::{Invoke, InvokeError, Limited};
use crate::process::{FunctionSpec, ProcessFunctions};
use crate::restore::Restore;
use crate::schedules::{LocalSchedules, Tasks};
use crate::sqs_mapping::PollOptions;
use crate::template::Template;

/// Every function of the registry, in this process, each with its own App built from the
/// variables template.yaml gives it (`per_function_apps`); `app` serves any other.
pub struct ChatFunctions {
    app: App,
    own: BTreeMap<String, App>,
}

impl ChatFunctions {
    pub fn new(app: App) -> Self {
        Self { app, own: BTreeMap::new() }
    }

    /// With one App per function (by binary).
    pub fn with_apps(app: App, own: BTreeMap<String, App>) -> Self {
        Self { app, own }
    }

    /// The binary names of every function the registry can run.
    pub fn binaries() -> impl Iterator<Item = &'static str> {
        Function::ALL.into_iter().map(Function::binary)
    }
}

impl Invoke for ChatFunctions {
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> BoxFuture<'a, Result<Value, InvokeError>> {
        Box::pin(async move {
            let function =
                Function::from_binary(function).ok_or_else(|| InvokeError::NoSuchFunction(function.into()))?;
            let app = self.own.get(function.binary()).unwrap_or(&self.app);
            registry::invoke(app, function, event).await.map_err(|e| InvokeError::Failed(e.to_string()))
        })
    }
}

/// A development-only signing secret; `make dev` warns when it is used.
pub const DEV_JWT_SECRET: &str = "local-development-secret-change-me-0123456789";

/// The SDK configuration for `endpoint`, with dummy credentials if none are set (moto accepts any).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let (key, secret) = crate::account::local_credentials();
        loader =
            loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(key, secret, None, None, "local"));
    }
    loader.load().await
}

pub struct LocalBackend {
    pub gateway: RunningGateway,
    pub app: App,
    pub sdk: aws_config::SdkConfig,
    /// The template's queues as created on the endpoint, by logical id.
    pub queues: BTreeMap<String, LocalQueue>,
    /// The template's schedule rules (fire one with `schedules.fire` or the admin endpoint).
    pub schedules: Arc<LocalSchedules>,
    /// Schedule clocks and SQS pollers; stopped when the backend is dropped.
    pub event_tasks: Tasks,
    /// The functions' processes in process mode (their cold starts and memory), else None.
    pub processes: Option<Arc<ProcessFunctions>>,
}

/// How the functions run (`CHAT_LOCAL_FUNCTIONS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FunctionMode {
    /// `in-process` (the default): the handler code called in the gateway's process, one App per
    /// function.
    #[default]
    InProcess,
    /// `process`: the built binaries (`cargo build -p chat-functions --bins` and `-p chat-authorizer`), each execution
    /// environment a process speaking the Lambda Runtime API (infra/src/process/). The binaries
    /// are looked up in `CHAT_LOCAL_FUNCTIONS_DIR`, else beside the running executable.
    Process { dir: Option<std::path::PathBuf> },
}

/// How the local EventBridge and SQS event sources run.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Fire the enabled schedule rules on the wall clock (`CHAT_LOCAL_SCHEDULES=off` stops it;
    /// `POST /_local/schedules/{name}/run` always works).
    pub clock: bool,
    /// Overrides every queue's VisibilityTimeout (`CHAT_LOCAL_SQS_VISIBILITY_TIMEOUT`), so a
    /// failing record comes back in seconds instead of a minute.
    pub visibility_timeout_secs: Option<i64>,
    /// SQS short-polling interval (`CHAT_LOCAL_SQS_POLL_MS`, default 200).
    pub poll: PollOptions,
    /// Template parameter overrides (`CHAT_PARAMETER_<Name>=value`), as `sam deploy
    /// --parameter-overrides`.
    pub parameters: BTreeMap<String, String>,
    /// WebSocket idle timeout and maximum connection duration (`CHAT_LOCAL_IDLE_TIMEOUT_SECS`,
    /// default 600, and `CHAT_LOCAL_MAX_CONNECTION_SECS`, default 7200, as on API Gateway).
    pub connection_limits: ConnectionLimits,
    /// The web client served at `GET /` of the HTTP port (default web/app of this checkout).
    pub web_root: Option<std::path::PathBuf>,
    /// How often the gateway checks that the table still exists and re-creates the template's
    /// resources when the emulator lost them (`CHAT_LOCAL_RECOVERY_MS`, default 1000).
    pub recovery_interval: Duration,
    /// Lambda's account concurrency, shared by the functions without reserved concurrency
    /// (`CHAT_LOCAL_ACCOUNT_CONCURRENCY`, default 64: AWS's default is 1,000, but one moto
    /// process serialises every request and has no back-pressure of its own).
    pub account_concurrency: usize,
    /// In-process handler calls or the built binaries as processes (`CHAT_LOCAL_FUNCTIONS`).
    pub functions: FunctionMode,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            clock: true,
            visibility_timeout_secs: None,
            poll: PollOptions::default(),
            parameters: BTreeMap::new(),
            connection_limits: ConnectionLimits::default(),
            recovery_interval: Duration::from_secs(1),
            account_concurrency: 64,
            functions: FunctionMode::InProcess,
            web_root: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/app")),
        }
    }
}

impl LocalOptions {
    pub fn from_env() -> Result<Self, String> {
        let mut options = Self::default();
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("CHAT_LOCAL_SCHEDULES") {
            options.clock = !matches!(v.as_str(), "off" | "false" | "0");
        }
        if let Some(v) = var("CHAT_LOCAL_SQS_VISIBILITY_TIMEOUT") {
            options.visibility_timeout_secs =
                Some(v.parse().map_err(|_| "CHAT_LOCAL_SQS_VISIBILITY_TIMEOUT is not a number")?);
        }
        if let Some(v) = var("CHAT_LOCAL_SQS_POLL_MS") {
            options.poll.interval =
                Duration::from_millis(v.parse().map_err(|_| "CHAT_LOCAL_SQS_POLL_MS is not a number")?);
        }
        let seconds = |key: &str| -> Result<Option<Duration>, String> {
            var(key)
                .map(|v| v.parse().map(Duration::from_secs).map_err(|_| format!("{key} is not a number")))
                .transpose()
        };
        if let Some(idle) = seconds("CHAT_LOCAL_IDLE_TIMEOUT_SECS")? {
            options.connection_limits.idle_timeout = idle;
        }
        if let Some(max) = seconds("CHAT_LOCAL_MAX_CONNECTION_SECS")? {
            options.connection_limits.max_duration = max;
        }
        if let Some(v) = var("CHAT_LOCAL_ACCOUNT_CONCURRENCY") {
            options.account_concurrency = v.parse().map_err(|_| "CHAT_LOCAL_ACCOUNT_CONCURRENCY is not a number")?;
        }
        if let Some(v) = var("CHAT_LOCAL_RECOVERY_MS") {
            options.recovery_interval =
                Duration::from_millis(v.parse().map_err(|_| "CHAT_LOCAL_RECOVERY_MS is not a number")?);
        }
        match var("CHAT_LOCAL_FUNCTIONS").as_deref() {
            None | Some("in-process") => {}
            Some("process") => {
                options.functions = FunctionMode::Process { dir: var("CHAT_LOCAL_FUNCTIONS_DIR").map(Into::into) }
            }
            Some(other) => return Err(format!("CHAT_LOCAL_FUNCTIONS must be in-process or process, not {other:?}")),
        }
        for (key, value) in std::env::vars() {
            if let Some(name) = key.strip_prefix("CHAT_PARAMETER_") {
                options.parameters.insert(name.to_string(), value);
            }
        }
        Ok(options)
    }
}

/// Creates the table of `template` on `endpoint` as `config.table` and serves the gateway on the
/// two listeners. `config.management_endpoint` is set to the gateway's own WebSocket address.
pub async fn start(
    template_path: &Path,
    endpoint: &str,
    config: Config,
    ws_listener: TcpListener,
    http_listener: TcpListener,
) -> Result<LocalBackend, String> {
    start_with(template_path, endpoint, config, ws_listener, http_listener, LocalOptions::default()).await
}

/// `start`, and also: the template's queues (named `{table}-{LogicalId}`), its schedule rules on
/// the wall clock and behind `POST /_local/schedules/{name}/run`, and its SQS mappings polled.
pub async fn start_with(
    template_path: &Path,
    endpoint: &str,
    mut config: Config,
    ws_listener: TcpListener,
    http_listener: TcpListener,
    options: LocalOptions,
) -> Result<LocalBackend, String> {
    let template = Template::load_with_parameters(template_path, &options.parameters)?;
    template.require_functions(ChatFunctions::binaries())?;
    let sdk = sdk_config(endpoint).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    crate::bootstrap::create_table(&dynamo, &config.table, &template.table).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // What Lambda's pollers, EventBridge and the gateway's own checks ask of the endpoint is tagged,
    // so a counting proxy tells it from the functions' requests (aws_proxy.rs).
    let emulation = crate::account::emulation_sdk_config(&sdk);
    let emulation_sqs = aws_sdk_sqs::Client::new(&emulation);
    let emulation_dynamo = aws_sdk_dynamodb::Client::new(&emulation);
    let queues =
        crate::bootstrap::create_queues(&sqs, &config.table, &template.events.queues, options.visibility_timeout_secs)
            .await?;
    // The table's stream, the buses with their taps, and emulator platform applications for push
    // unless the parameters name others (streams.rs, bus.rs).
    let stream = crate::streams::enable(&dynamo, &config.table, &template.table.logical_id, &template.streams).await?;
    let buses = crate::bus::create(&sdk, &config.table, &template.bus).await?;
    let bus_of = |var: &str| template.bus.bus_env.get(var).and_then(|id| buses.iter().find(|b| &b.logical_id == id));
    config.events.bus = bus_of("CHAT_EVENT_BUS").map(|b| b.name.clone());
    let (apns, fcm) = crate::bus::local_platform_applications(&sdk, &config.table).await?;
    let parameter = |name: &str| options.parameters.get(name).filter(|v| !v.is_empty()).cloned();
    config.events.apns_application = parameter("ApnsPlatformApplicationArn").or(Some(apns));
    config.events.fcm_application = parameter("FcmPlatformApplicationArn").or(Some(fcm));
    // The attachments bucket (`CHAT_ATTACHMENTS_BUCKET: !Ref AttachmentsBucket`), named after the table.
    if let Some(bucket) = &template.bucket {
        let name = config.attachments_bucket.clone().unwrap_or_else(|| crate::bootstrap::bucket_name(&config.table));
        crate::bootstrap::create_bucket(&sdk, &name, bucket).await?;
        config.attachments_bucket = Some(name);
    }
    let config_table = config.table.clone();
    let ws_addr = ws_listener.local_addr().map_err(|e| e.to_string())?;
    // The gateway's own address with the template's stage, as the template's
    // `https://{api}.execute-api.{region}.amazonaws.com/{stage}`, unless one is given (a
    // fault-injecting proxy in front of it).
    config.management_endpoint.get_or_insert_with(|| format!("http://{ws_addr}/{}", template.ws_stage));
    // The queue URL the template hands a function (`CHAT_SCHEDULE_QUEUE_URL: !Ref TheQueue`).
    if let Some(queue) = template.events.queue_env.get("CHAT_SCHEDULE_QUEUE_URL") {
        config.scheduling.queue_url = queues.get(queue).map(|q| q.url.clone());
    }
    // The JWT keys as on AWS: a SecureString parameter read at init. Unless one is named, the
    // bootstrap makes it in the emulator from CHAT_JWT_SECRET (docs/protocol.md, "Signing keys").
    let mut jwt_keys = None;
    if config.tokens.jwt_keys_parameter.is_none() && !config.tokens.jwt_secret.is_empty() {
        let name = format!("/{}/jwt-keys", config.table);
        let value = format!("{}={}", chat::auth::tokens::LOCAL_KID, config.tokens.jwt_secret);
        chat::aws::jwt_keys::put(&sdk, &name, &value)
            .await
            .map_err(|e| format!("cannot create the JWT keys parameter: {}", e.message))?;
        config.tokens.jwt_keys_parameter = Some(name.clone());
        jwt_keys = Some((name, value));
    }
    let mut app = App::with_sdk_config(config.clone(), &sdk).map_err(|e| e.to_string())?;
    app.load_jwt_keys(&sdk).await.map_err(|e| e.message)?;
    let (code, processes): (Arc<dyn Invoke>, _) = match &options.functions {
        FunctionMode::InProcess => {
            // No init to fail in-process: a function the template leaves without a required
            // variable stops the start-up instead.
            check_environment(&template)?;
            let own = per_function_apps(&template, &config, &sdk).await?;
            (Arc::new(ChatFunctions::with_apps(app.clone(), own)), None)
        }
        FunctionMode::Process { dir } => {
            let specs = function_specs(&template, &config, endpoint, dir.as_deref())?;
            let processes = Arc::new(ProcessFunctions::new(specs));
            (processes.clone() as Arc<dyn Invoke>, Some(processes))
        }
    };
    // Lambda's rules (each function's Timeout, reserved or account concurrency) around the code.
    let functions: Arc<dyn Invoke> =
        Arc::new(Limited::new(code, &template.function_limits, options.account_concurrency));

    let schedules = LocalSchedules::new(functions.clone(), template.events.schedules.clone());
    let mut event_tasks = crate::sqs_mapping::start(
        functions.clone(),
        emulation_sqs.clone(),
        &template.events.queue_mappings,
        &queues,
        options.poll.clone(),
    )?;
    let readers = match &stream {
        Some(stream) => {
            let mappings = &template.streams.mappings;
            crate::streams::start(functions.clone(), endpoint, emulation_sqs.clone(), stream, mappings, &queues).await?
        }
        None => Tasks::default(),
    };
    // After an emulator restart everything above is made again, the stream's readers included.
    let restore = Arc::new(Restore {
        sdk: emulation.clone(),
        endpoint: endpoint.to_string(),
        table: config_table.clone(),
        template: template.clone(),
        visibility_timeout_secs: options.visibility_timeout_secs,
        invoker: functions.clone(),
        bucket: template.bucket.as_ref().and(app.config.attachments_bucket.clone()),
        jwt_keys,
        readers: std::sync::Mutex::new(readers),
    });
    event_tasks.0.push(watch_resources(&emulation_dynamo, &config_table, restore, &options));
    event_tasks.0.append(&mut crate::bus::start(functions.clone(), emulation_sqs, &buses, &template.bus, &queues).0);
    if options.clock {
        let mut clock = schedules.start_clock();
        event_tasks.0.append(&mut clock.0);
    }
    let gateway_options = GatewayOptions {
        admin: Some(match &processes {
            Some(processes) => schedules.admin_router().merge(processes.admin_router()),
            None => schedules.admin_router(),
        }),
        credentials: crate::gateway::LocalCredentials::new([crate::account::local_credentials()])
            .with_functions(template.functions.keys()),
        limits: options.connection_limits,
        web_root: options.web_root.clone(),
    };
    let gateway =
        serve(functions, template, gateway_options, ws_listener, http_listener).await.map_err(|e| e.to_string())?;
    Ok(LocalBackend { gateway, app, sdk, queues, schedules, event_tasks, processes })
}

/// Re-creates every resource of the template (`restore.rs`) when the emulator lost the table.
fn watch_resources(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    restore: Arc<Restore>,
    options: &LocalOptions,
) -> tokio::task::JoinHandle<()> {
    let recreate: crate::recovery::Recreate = Box::new(move || {
        let restore = restore.clone();
        Box::pin(async move { restore.run().await })
    });
    crate::recovery::watch(dynamo.clone(), table.to_string(), options.recovery_interval, recreate)
}

/// Every function's configuration needs these (`Config::from_lookup` fails without them).
const REQUIRED_VARIABLES: [&str; 1] = ["CHAT_TABLE"];

/// Fails when template.yaml gives a function none of a variable it cannot start without: on AWS
/// that function would fail at init, so it fails here too, at start-up.
pub fn check_environment(template: &Template) -> Result<(), String> {
    for (binary, names) in &template.environment {
        if let Some(missing) = REQUIRED_VARIABLES.iter().find(|v| !names.contains(**v)) {
            return Err(format!("{binary}: template.yaml gives it no {missing} (it would fail to start on AWS)"));
        }
    }
    Ok(())
}

/// `config` as one function sees it, keeping only what its template Environment declares among
/// the variables that differ by function: the queue URL and the management endpoint, and the JWT
/// keys (only a function whose Environment names the keys parameter reads them at init; any other
/// refuses every token, as it would on AWS), the bus and the platform applications (the events and
/// push functions'). A function the template forgets to give the queue has none here either.
fn function_config(names: &std::collections::BTreeSet<String>, config: &Config) -> Config {
    let mut own = config.clone();
    if !names.contains("CHAT_SCHEDULE_QUEUE_URL") {
        own.scheduling.queue_url = None;
    }
    if !names.contains("CHAT_MANAGEMENT_ENDPOINT") {
        own.management_endpoint = None;
    }
    if !names.contains("CHAT_EVENT_BUS") {
        own.events.bus = None;
    }
    if !names.contains("CHAT_APNS_PLATFORM_APPLICATION_ARN") {
        own.events.apns_application = None;
    }
    if !names.contains("CHAT_FCM_PLATFORM_APPLICATION_ARN") {
        own.events.fcm_application = None;
    }
    if !names.contains("CHAT_JWT_KEYS_PARAMETER") {
        own.tokens.jwt_keys_parameter = None;
        own.tokens.jwt_secret = String::new();
    }
    own
}

/// One App per function from `config` (`function_config`). Each signs with its own identity
/// (`account::function_credentials`), which `@connections` maps back to the function's policy.
async fn per_function_apps(
    template: &Template,
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<BTreeMap<String, App>, String> {
    let mut apps = BTreeMap::new();
    for (logical_id, binary) in &template.functions {
        let Some(names) = template.environment.get(binary) else { continue };
        let own = function_config(names, config);
        let sdk = crate::account::function_sdk_config(sdk, binary, logical_id);
        let mut app = App::with_sdk_config(own, &sdk).map_err(|e| e.to_string())?;
        app.load_jwt_keys(&sdk).await.map_err(|e| e.message)?;
        apps.insert(binary.clone(), app);
    }
    Ok(apps)
}

/// Variables that name a resource (or its local stand-in, the JWT secret): a process gets one
/// only if its template Environment declares it, with the local resource as its value, as on AWS.
const RESOURCE_VARIABLES: [&str; 9] = [
    "CHAT_TABLE",
    "CHAT_MANAGEMENT_ENDPOINT",
    "CHAT_SCHEDULE_QUEUE_URL",
    "CHAT_EVENT_BUS",
    "CHAT_ATTACHMENTS_BUCKET",
    "CHAT_JWT_KEYS_PARAMETER",
    "CHAT_APNS_PLATFORM_APPLICATION_ARN",
    "CHAT_FCM_PLATFORM_APPLICATION_ARN",
    "CHAT_JWT_SECRET",
];

/// The environment of `binary`'s processes: its template Environment with the values that
/// resolve locally (literals, parameters: `RUST_LOG`, `MALLOC_*`), the local configuration's
/// settings over them (what the in-process Apps run with), and the resources it declares as
/// their local equivalents. A required variable the template forgets is missing here too, and
/// the process fails its init as it would on AWS.
pub fn function_variables(template: &Template, config: &Config, binary: &str) -> BTreeMap<String, String> {
    let empty = BTreeMap::new();
    let declared = template.variables.get(binary).unwrap_or(&empty);
    let names = declared.keys().cloned().collect();
    let own = function_config(&names, config);
    let mut variables: BTreeMap<String, String> =
        declared.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect();
    for (name, value) in own.to_variables() {
        let declared =
            declared.contains_key(name) || (name == "CHAT_JWT_SECRET" && own.tokens.jwt_keys_parameter.is_none());
        if declared || !RESOURCE_VARIABLES.contains(&name) {
            variables.insert(name.to_string(), value);
        }
    }
    variables
}

/// The credentials a function's processes run with: its own local identity (from its logical id),
/// which `@connections` maps back to the function's template policy, as in-process.
fn function_credentials(template: &Template, binary: &str) -> (String, String) {
    match template.functions.iter().find(|(_, b)| b.as_str() == binary) {
        Some((logical_id, _)) => crate::account::function_credentials(logical_id),
        None => crate::account::local_credentials(),
    }
}

/// Where the function binaries are: `dir`, else beside the running executable (target/<profile>/
/// for `local-gateway` and the bench; a test's is in target/<profile>/deps/).
pub fn functions_dir(dir: Option<&Path>) -> std::path::PathBuf {
    if let Some(dir) = dir {
        return dir.to_path_buf();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let parent = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    if parent.file_name().is_some_and(|n| n == "deps") {
        parent.parent().unwrap_or(&parent).to_path_buf()
    } else {
        parent
    }
}

/// How each function of the template runs as a process; fails when a binary is not built.
fn function_specs(
    template: &Template,
    config: &Config,
    endpoint: &str,
    dir: Option<&Path>,
) -> Result<Vec<FunctionSpec>, String> {
    let dir = functions_dir(dir);
    template
        .function_limits
        .iter()
        .map(|(binary, limits)| {
            let path = dir.join(binary);
            if !path.is_file() {
                return Err(format!(
                    "process mode: {} is not built (cargo build -p chat-functions --bins; cargo build -p chat-authorizer; or set CHAT_LOCAL_FUNCTIONS_DIR)",
                    path.display()
                ));
            }
            let timeout = Duration::from_secs(limits.timeout_secs.max(1) as u64);
            let variables = function_variables(template, config, binary);
            let credentials = function_credentials(template, binary);
            Ok(FunctionSpec::new(binary, path, timeout, limits.memory_mb, variables, credentials, endpoint))
        })
        .collect()
}
