//! How the local stand-ins run a function: by its cargo binary name (template.yaml's
//! `Metadata.BuildProperties.Binary`), with the JSON event AWS would deliver, getting back the
//! JSON the function answered. The gateway, the schedules and the SQS mappings use only this, so
//! they know nothing of what the functions do; `local.rs` provides the implementation.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::template::limits::FunctionLimits;

/// Runs functions the way Lambda would invoke them.
pub trait Invoke: Send + Sync {
    /// Invokes `function` (a binary name) with `event`.
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> BoxFuture<'a, Result<Value, InvokeError>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// No function is deployed under that name.
    NoSuchFunction(String),
    /// The function ran and failed; Lambda's `errorMessage` (an authorizer's `Unauthorized`).
    Failed(String),
    /// Every instance the function may run is busy: Lambda's 429 `TooManyRequestsException`.
    Throttled,
    /// The function ran past its `Timeout` (Lambda's "Task timed out after N seconds").
    TimedOut(Duration),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::NoSuchFunction(name) => write!(f, "no function named {name}"),
            InvokeError::Failed(message) => f.write_str(message),
            InvokeError::Throttled => f.write_str("Rate Exceeded (TooManyRequestsException)"),
            InvokeError::TimedOut(limit) => write!(f, "Task timed out after {:.2} seconds", limit.as_secs_f64()),
        }
    }
}

impl std::error::Error for InvokeError {}

/// Lambda's rules around any [`Invoke`]: each function's `Timeout`, and at most as many
/// invocations in flight as its reserved concurrency, or else as the account's pool allows (the
/// unreserved functions share it). An invocation over the limit is refused at once, as Lambda
/// throttles: callers apply back-pressure instead of queueing unbounded work.
pub struct Limited {
    inner: Arc<dyn Invoke>,
    functions: BTreeMap<String, (Duration, Arc<Semaphore>)>,
}

impl Limited {
    /// `account_concurrency`: the pool of every function without reserved concurrency
    /// (`CHAT_LOCAL_ACCOUNT_CONCURRENCY`).
    pub fn new(inner: Arc<dyn Invoke>, limits: &BTreeMap<String, FunctionLimits>, account_concurrency: usize) -> Self {
        let account = Arc::new(Semaphore::new(account_concurrency));
        let functions = limits
            .iter()
            .map(|(binary, l)| {
                let pool = match l.reserved_concurrency {
                    Some(n) => Arc::new(Semaphore::new(n.max(0) as usize)),
                    None => account.clone(),
                };
                (binary.clone(), (Duration::from_secs(l.timeout_secs.max(1) as u64), pool))
            })
            .collect();
        Self { inner, functions }
    }
}

impl Invoke for Limited {
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> BoxFuture<'a, Result<Value, InvokeError>> {
        Box::pin(async move {
            let Some((timeout, pool)) = self.functions.get(function) else {
                return Err(InvokeError::NoSuchFunction(function.to_string()));
            };
            let _permit = pool.clone().try_acquire_owned().map_err(|_| InvokeError::Throttled)?;
            match tokio::time::timeout(*timeout, self.inner.invoke(function, event)).await {
                Ok(result) => result,
                Err(_) => Err(InvokeError::TimedOut(*timeout)),
            }
        })
    }
}
