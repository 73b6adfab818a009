//! Process mode (`CHAT_LOCAL_FUNCTIONS=process`): each function runs as its built binary in
//! processes of its own, speaking the Lambda Runtime API, as `cargo lambda watch` runs them and
//! as Lambda does. One process per concurrent execution: a warm one is reused, none idle means a
//! new one (a cold start, timed from spawn to its first poll); a process that times out, crashes
//! or fails its init is killed and the next invocation starts another. Init failures reach the
//! caller as Lambda reports them (`Runtime.ExitError`, `Runtime.InitError`), and the RSS of every
//! live process can be read. The in-process mode (`local.rs`'s `ChatFunctions`) is the default.

mod instance;
mod runtime_api;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::account::{ACCOUNT_ID, REGION};
use crate::invoke::{Invoke, InvokeError};
use instance::Instance;
pub use instance::{INIT_LIMIT, memory_kib};

/// How one function's processes start.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The cargo binary, also its function name here.
    pub binary: String,
    pub path: PathBuf,
    /// Everything the process sees (Lambda's own variables included) but `AWS_LAMBDA_RUNTIME_API`.
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: i64,
}

impl FunctionSpec {
    /// `variables` (the function's template Environment, resolved) with the variables Lambda sets
    /// in every execution environment, the credentials of its role and the AWS endpoint.
    pub fn new(
        binary: &str,
        path: PathBuf,
        timeout: Duration,
        memory_mb: i64,
        variables: BTreeMap<String, String>,
        credentials: (String, String),
        endpoint: &str,
    ) -> Self {
        let mut environment = variables;
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", binary.to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.as_secs().to_string()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/[$LATEST]{}", ulid::Ulid::generate())),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", credentials.0),
            ("AWS_SECRET_ACCESS_KEY", credentials.1),
            // Local only: where the SDK sends every request, and the app name that tells this
            // function's requests apart at a counting proxy (as the in-process SDKs carry it).
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
            ("AWS_SDK_UA_APP_ID", format!("chat-fn-{binary}")),
            ("_HANDLER", "bootstrap".to_string()),
            ("TZ", ":UTC".to_string()),
            ("LANG", "en_US.UTF-8".to_string()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
        ];
        environment.extend(lambda.into_iter().map(|(k, v)| (k.to_string(), v)));
        Self { binary: binary.to_string(), path, environment, timeout, memory_mb }
    }

    pub fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}", self.binary)
    }
}

/// What one function's processes did, and their memory now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionReport {
    pub binary: String,
    pub memory_mb: i64,
    /// Init of each cold start (spawn → first poll), in milliseconds.
    pub init_ms: Vec<f64>,
    pub init_errors: u64,
    pub invocations: u64,
    /// Wall time of each warm invocation, in milliseconds.
    pub warm_ms: Vec<f64>,
    pub instances: Vec<InstanceReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceReport {
    pub pid: u32,
    pub invocations: u64,
    /// `VmRSS` and `VmHWM` of `/proc/<pid>/status`.
    pub rss_kib: u64,
    pub peak_kib: u64,
    /// CPU time the process used so far (user + system, `/proc/<pid>/stat`), init included.
    pub cpu_ms: f64,
}

#[derive(Default)]
struct Stats {
    init_ms: Vec<f64>,
    init_errors: u64,
    invocations: u64,
    /// Wall time of each warm invocation (event handed over → answer), in milliseconds.
    warm_ms: Vec<f64>,
    /// Every running process (idle or busy) → its invocations so far.
    live: BTreeMap<u32, u64>,
}

struct Pool {
    spec: FunctionSpec,
    /// Warm processes; the most recently used is taken first.
    idle: Mutex<Vec<Instance>>,
    stats: Mutex<Stats>,
}

/// A process taken from its pool for one invocation: back to the pool with `release`, killed
/// (and forgotten) when dropped otherwise, as when the invocation's future is dropped on timeout.
struct Lease<'a> {
    pool: &'a Pool,
    instance: Option<Instance>,
}

impl Lease<'_> {
    fn release(mut self) {
        if let Some(instance) = self.instance.take() {
            self.pool.stats.lock().expect("stats").live.insert(instance.pid, instance.invocations);
            self.pool.idle.lock().expect("idle processes").push(instance);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            self.pool.stats.lock().expect("stats").live.remove(&instance.pid);
        }
    }
}

/// The functions of a template as processes; Lambda's concurrency and `Timeout` come from the
/// [`crate::invoke::Limited`] around it (a timed-out invocation's process is killed with it).
pub struct ProcessFunctions {
    pools: BTreeMap<String, Pool>,
}

impl ProcessFunctions {
    pub fn new(specs: Vec<FunctionSpec>) -> Self {
        let pools = specs
            .into_iter()
            .map(|spec| {
                let pool = Pool { spec, idle: Mutex::new(Vec::new()), stats: Mutex::new(Stats::default()) };
                (pool.spec.binary.clone(), pool)
            })
            .collect();
        Self { pools }
    }

    /// Every function's cold starts, invocations and live processes with their memory now.
    pub fn report(&self) -> Vec<FunctionReport> {
        self.pools
            .values()
            .map(|pool| {
                let stats = pool.stats.lock().expect("stats");
                let instances = stats
                    .live
                    .iter()
                    .filter_map(|(&pid, &invocations)| {
                        let (rss_kib, peak_kib) = memory_kib(pid)?;
                        let cpu_ms = instance::cpu_ms(pid)?;
                        Some(InstanceReport { pid, invocations, rss_kib, peak_kib, cpu_ms })
                    })
                    .collect();
                FunctionReport {
                    binary: pool.spec.binary.clone(),
                    memory_mb: pool.spec.memory_mb,
                    init_ms: stats.init_ms.clone(),
                    init_errors: stats.init_errors,
                    invocations: stats.invocations,
                    warm_ms: stats.warm_ms.clone(),
                    instances,
                }
            })
            .collect()
    }

    /// Stops every idle process (Lambda reclaiming idle environments): the next invocation of
    /// each function is a cold start.
    pub fn retire_idle(&self) {
        for pool in self.pools.values() {
            let retired: Vec<Instance> = std::mem::take(&mut *pool.idle.lock().expect("idle processes"));
            let mut stats = pool.stats.lock().expect("stats");
            for instance in &retired {
                stats.live.remove(&instance.pid);
            }
        }
    }

    async fn take(&self, pool: &Pool) -> Result<Instance, InvokeError> {
        loop {
            let warm = pool.idle.lock().expect("idle processes").pop();
            match warm {
                Some(instance) if instance.alive() => return Ok(instance),
                Some(dead) => {
                    pool.stats.lock().expect("stats").live.remove(&dead.pid);
                }
                None => break,
            }
        }
        match Instance::start(&pool.spec).await {
            Ok((instance, init)) => {
                let ms = init.as_secs_f64() * 1000.0;
                tracing::info!(function = %pool.spec.binary, pid = instance.pid, init_ms = ms, "cold start");
                let mut stats = pool.stats.lock().expect("stats");
                stats.init_ms.push(ms);
                stats.live.insert(instance.pid, 0);
                Ok(instance)
            }
            Err(error) => {
                pool.stats.lock().expect("stats").init_errors += 1;
                Err(error)
            }
        }
    }
}

impl Invoke for ProcessFunctions {
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> BoxFuture<'a, Result<Value, InvokeError>> {
        Box::pin(async move {
            let pool = self.pools.get(function).ok_or_else(|| InvokeError::NoSuchFunction(function.to_string()))?;
            let instance = self.take(pool).await?;
            let mut lease = Lease { pool, instance: Some(instance) };
            let Some(instance) = lease.instance.as_mut() else { unreachable!("the lease holds its process") };
            let started = std::time::Instant::now();
            let (result, reusable) = instance.invoke(&pool.spec, event).await;
            {
                let mut stats = pool.stats.lock().expect("stats");
                stats.invocations += 1;
                // Warm ones only: what Lambda bills as the duration of an invocation.
                if instance.invocations > 1 {
                    stats.warm_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            if reusable {
                lease.release();
            }
            result
        })
    }
}

impl ProcessFunctions {
    /// `GET /_local/functions`: every function's cold starts, invocations and processes with
    /// their memory now (the JSON of [`FunctionReport`]).
    pub fn admin_router(self: &std::sync::Arc<Self>) -> axum::Router {
        let processes = self.clone();
        axum::Router::new().route(
            "/_local/functions",
            axum::routing::get(move || {
                let processes = processes.clone();
                async move { axum::Json(processes.report()) }
            }),
        )
    }
}
