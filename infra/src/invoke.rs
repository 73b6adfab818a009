//! How the local stand-ins run a function: by its cargo binary name (template.yaml's
//! `Metadata.BuildProperties.Binary`), with the JSON event AWS would deliver, getting back the
//! JSON the function answered. The gateway, the schedules and the SQS mappings use only this, so
//! they know nothing of what the functions do; `local.rs` provides the implementation.

use std::fmt;

use futures::future::BoxFuture;
use serde_json::Value;

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
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::NoSuchFunction(name) => write!(f, "no function named {name}"),
            InvokeError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for InvokeError {}
