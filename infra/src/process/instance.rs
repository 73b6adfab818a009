//! One execution environment: a function's binary in its own process, polling its own Runtime
//! API. Started on demand (a cold start), reused while warm, and killed when it is dropped: after
//! a timeout, a crash or a failed init, as Lambda discards a sandbox.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::FunctionSpec;
use super::runtime_api::{Invocation, Outcome, RuntimeApi};
use crate::invoke::InvokeError;

/// Lambda's limit on an on-demand function's init phase.
pub const INIT_LIMIT: Duration = Duration::from_secs(10);

pub struct Instance {
    pub pid: u32,
    pub invocations: u64,
    events: mpsc::Sender<Invocation>,
    polled: watch::Receiver<bool>,
    init_error: watch::Receiver<Option<String>>,
    /// The exit status once the process has ended.
    exited: watch::Receiver<Option<String>>,
    /// Dropping it kills the process (the waiter task reaps it).
    _kill: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("signal: {signal}"),
            _ => s.to_string(),
        },
        Err(e) => e.to_string(),
    }
}

/// Each line the process writes, as a log record of the gateway (CloudWatch's job on AWS).
fn forward(binary: &str, pid: u32, stream: Option<impl AsyncRead + Unpin + Send + 'static>) {
    let Some(stream) = stream else { return };
    let binary = binary.to_string();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(target: "chat_local::function", function = %binary, pid, "{line}");
        }
    });
}

impl Instance {
    /// Starts the process with its own Runtime API endpoint and waits for its init: the first
    /// poll of `invocation/next`. Returns the environment and how long init took, or the error
    /// Lambda would answer the invocation with (the process is then killed).
    pub async fn start(spec: &FunctionSpec) -> Result<(Instance, Duration), InvokeError> {
        let failed = |what: String| InvokeError::Failed(what);
        let (api, events, polled, init_error) = RuntimeApi::new(spec.function_arn());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| failed(format!("cannot open a Runtime API port: {e}")))?;
        let address = listener.local_addr().map_err(|e| failed(e.to_string()))?;
        let router = api.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let started = Instant::now();
        let mut command = tokio::process::Command::new(&spec.path);
        command
            .env_clear()
            .envs(&spec.environment)
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .current_dir(spec.path.parent().unwrap_or(Path::new("/")))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(failed(format!("cannot start {}: {e}", spec.path.display())));
            }
        };
        let pid = child.id().unwrap_or_default();
        forward(&spec.binary, pid, child.stdout.take());
        forward(&spec.binary, pid, child.stderr.take());
        let (kill, killed) = oneshot::channel::<()>();
        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = killed => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            exit_tx.send_replace(Some(describe(status)));
        });
        let mut instance = Instance { pid, invocations: 0, events, polled, init_error, exited, _kill: kill, server };
        instance.init(spec).await?;
        Ok((instance, started.elapsed()))
    }

    async fn init(&mut self, spec: &FunctionSpec) -> Result<(), InvokeError> {
        let request_id = ulid::Ulid::generate().to_string().to_lowercase();
        let (mut polled, mut init_error, mut exited) =
            (self.polled.clone(), self.init_error.clone(), self.exited.clone());
        let outcome = tokio::select! {
            _ = polled.wait_for(|p| *p) => return Ok(()),
            error = init_error.wait_for(Option::is_some) => {
                let error = error.map(|e| e.clone().unwrap_or_default()).unwrap_or_default();
                format!("RequestId: {request_id} Error: {error} (Runtime.InitError)")
            }
            status = exited.wait_for(Option::is_some) => {
                let status = status.map(|s| s.clone().unwrap_or_default()).unwrap_or_default();
                format!("RequestId: {request_id} Error: Runtime exited with error: {status} (Runtime.ExitError)")
            }
            _ = tokio::time::sleep(INIT_LIMIT) => {
                format!("RequestId: {request_id} Error: Task timed out after {:.2} seconds (init)", INIT_LIMIT.as_secs_f64())
            }
        };
        tracing::warn!(function = %spec.binary, pid = self.pid, "init failed: {outcome}");
        Err(InvokeError::Failed(outcome))
    }

    /// Runs one invocation: its answer, and whether the environment may serve another (a
    /// handled function error leaves it warm; an exit of the process does not).
    pub async fn invoke(&mut self, spec: &FunctionSpec, event: Value) -> (Result<Value, InvokeError>, bool) {
        let request_id = ulid::Ulid::generate().to_string().to_lowercase();
        let deadline = SystemTime::now() + spec.timeout;
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let (reply, answer) = oneshot::channel();
        let invocation = Invocation { request_id: request_id.clone(), event, deadline_ms, reply };
        let gone = |status: &str| {
            InvokeError::Failed(format!(
                "RequestId: {request_id} Error: Runtime exited with error: {status} (Runtime.ExitError)"
            ))
        };
        if self.events.send(invocation).await.is_err() {
            return (Err(gone("the Runtime API stopped")), false);
        }
        self.invocations += 1;
        let mut exited = self.exited.clone();
        tokio::select! {
            outcome = answer => match outcome {
                Ok(Outcome::Response(body)) => {
                    let value = serde_json::from_slice(&body)
                        .map_err(|e| InvokeError::Failed(format!("the function's answer is not JSON: {e}")));
                    (value, true)
                }
                Ok(Outcome::Error(error_type, message)) => {
                    tracing::info!(function = %spec.binary, pid = self.pid, %error_type, "function error: {message}");
                    (Err(InvokeError::Failed(message)), true)
                }
                Err(_) => (Err(gone("the invocation was dropped")), false),
            },
            status = exited.wait_for(Option::is_some) => {
                let status = status.map(|s| s.clone().unwrap_or_default()).unwrap_or_default();
                (Err(gone(&status)), false)
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&self) -> bool {
        self.exited.borrow().is_none()
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB, from `/proc/<pid>/status`.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User + system CPU time of a process so far, in milliseconds (`/proc/<pid>/stat` fields 14 and
/// 15, in clock ticks).
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ticks as f64 * 1000.0 / per_second)
}
