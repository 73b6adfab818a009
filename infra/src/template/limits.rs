//! What template.yaml says about how much work may run: each function's `Timeout` and
//! `ReservedConcurrentExecutions` (else `Globals.Function`), and the stages' throttling
//! (`DefaultRouteSettings` and per-route `RouteSettings` of the WebSocket stage, the HTTP API's
//! `DefaultRouteSettings`), with parameters resolved.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::intrinsics::{Error, Scope};

/// Lambda's default when neither the function nor `Globals` sets a `Timeout`.
pub const DEFAULT_TIMEOUT_SECS: i64 = 3;
/// Lambda's default `MemorySize`.
pub const DEFAULT_MEMORY_MB: i64 = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionLimits {
    pub timeout_secs: i64,
    /// `ReservedConcurrentExecutions`: the function's own pool; None draws on the account's.
    pub reserved_concurrency: Option<i64>,
    /// `MemorySize` in MB (Lambda's default 128): what a process-mode function is told it has.
    pub memory_mb: i64,
}

/// A token bucket: `rate` requests a second, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageThrottles {
    /// The WebSocket stage's default for every route.
    pub websocket_default: Option<Throttle>,
    /// Per route key (`$connect`, `send`, …), overriding the default.
    pub websocket_routes: BTreeMap<String, Throttle>,
    /// The HTTP API's default route settings.
    pub http_default: Option<Throttle>,
}

/// Limits of every function, by binary name.
pub fn function_limits(
    doc: &Value,
    scope: &Scope,
    functions: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, FunctionLimits>, Error> {
    let global = doc.get("Globals").and_then(|g| g.get("Function"));
    let mut limits = BTreeMap::new();
    for (id, binary) in functions {
        let props = doc.get("Resources").and_then(|r| r.get(id)).and_then(|r| r.get("Properties"));
        let setting = |name: &str| props.and_then(|p| p.get(name)).or_else(|| global.and_then(|g| g.get(name)));
        let timeout_secs = scope.number(setting("Timeout"), &format!("{id}.Timeout"))?.unwrap_or(DEFAULT_TIMEOUT_SECS);
        let reserved_concurrency =
            scope.number(setting("ReservedConcurrentExecutions"), &format!("{id}.ReservedConcurrentExecutions"))?;
        let memory_mb = scope.number(setting("MemorySize"), &format!("{id}.MemorySize"))?.unwrap_or(DEFAULT_MEMORY_MB);
        limits.insert(binary.clone(), FunctionLimits { timeout_secs, reserved_concurrency, memory_mb });
    }
    Ok(limits)
}

fn throttle(settings: Option<&Value>, scope: &Scope, what: &str) -> Result<Option<Throttle>, Error> {
    let Some(settings) = settings else { return Ok(None) };
    let rate = scope.number(settings.get("ThrottlingRateLimit"), &format!("{what}.ThrottlingRateLimit"))?;
    let burst = scope.number(settings.get("ThrottlingBurstLimit"), &format!("{what}.ThrottlingBurstLimit"))?;
    Ok(match (rate, burst) {
        (None, None) => None,
        (rate, burst) => {
            let rate = rate.unwrap_or(10_000) as f64;
            Some(Throttle { rate, burst: burst.map_or(rate.max(1.0), |b| b as f64) })
        }
    })
}

/// The throttling of the template's WebSocket stage and HTTP API.
pub fn stage_throttles(doc: &Value, scope: &Scope) -> Result<StageThrottles, Error> {
    let mut throttles = StageThrottles::default();
    let Some(resources) = doc.get("Resources").and_then(Value::as_mapping) else { return Ok(throttles) };
    for (id, resource) in resources {
        let id = id.as_str().unwrap_or_default();
        let props = resource.get("Properties");
        match resource.get("Type").and_then(Value::as_str) {
            Some("AWS::ApiGatewayV2::Stage") => {
                throttles.websocket_default = throttle(props.and_then(|p| p.get("DefaultRouteSettings")), scope, id)?;
                if let Some(routes) = props.and_then(|p| p.get("RouteSettings")).and_then(Value::as_mapping) {
                    for (key, settings) in routes {
                        let key = key.as_str().unwrap_or_default().to_string();
                        if let Some(t) = throttle(Some(settings), scope, &format!("{id}.{key}"))? {
                            throttles.websocket_routes.insert(key, t);
                        }
                    }
                }
            }
            Some("AWS::Serverless::HttpApi") => {
                throttles.http_default = throttle(props.and_then(|p| p.get("DefaultRouteSettings")), scope, id)?;
            }
            _ => {}
        }
    }
    Ok(throttles)
}
