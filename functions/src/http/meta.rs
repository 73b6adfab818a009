//! `/health`, `/stats`, `/openapi.json` and `/docs`: the service about itself.

use std::collections::BTreeMap;

use chat::protocol::directory::Stats;
use chat::service::stats;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::{self, Internal, Unauthorized};
use super::request::{Ctx, Reply, json};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Liveness and the state of what the service depends on.
// Fields in alphabetical order: the order this body has always had on the wire.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Per-dependency checks: `store` is `{"status":"ok"}` or `{"status":"down","error":…}`.
    #[schema(additional_properties = true)]
    checks: BTreeMap<String, serde_json::Value>,
    #[schema(inline)]
    status: HealthStatus,
    #[schema(examples("0.1.0"))]
    version: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HealthStatus {
    Ok,
    Down,
}

#[utoipa::path(get, path = "/health", tag = "ops", summary = "Health",
    description = "Liveness, and one read of the table (a key that never exists); no auth.",
    responses(
        (status = 200, description = "Up, and the store answers.", body = Health),
        (status = 503, description = "Something it depends on is down: `checks` says what.", body = Health),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn health(ctx: Ctx<'_>) -> Reply {
    // One GetItem: fails when the endpoint is unreachable or the table is missing.
    let store = match ctx.app.store.get_user("health-check").await {
        Ok(_) => serde_json::json!({"status": "ok"}),
        Err(err) => {
            tracing::warn!(error = %err, "health: the store does not answer");
            serde_json::json!({"status": "down", "error": "the table cannot be read"})
        }
    };
    let up = store["status"] == "ok";
    let checks = BTreeMap::from([("store".to_string(), store)]);
    let status = if up { HealthStatus::Ok } else { HealthStatus::Down };
    json(if up { 200 } else { 503 }, &Health { checks, status, version: VERSION })
}

#[utoipa::path(get, path = "/stats", tag = "ops", summary = "Statistics", description = "Service-wide counts.",
    responses(
        (status = 200, description = "Counts.", body = Stats),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn stats(ctx: Ctx<'_>) -> Reply {
    ctx.caller()?;
    json(200, &stats::stats(ctx.app).await?)
}

#[utoipa::path(get, path = "/openapi.json", tag = "ops", summary = "This document",
    description = "The OpenAPI 3.1 document; no auth.",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn openapi(_: Ctx<'_>) -> Reply {
    openapi::serve_json()
}

#[utoipa::path(get, path = "/docs", tag = "ops", summary = "Human-readable reference",
    description = "An HTML reference generated from this document; self-contained (no external scripts, styles or fonts), works offline and without JavaScript; no auth.",
    responses(
        (status = 200, description = "HTML page.", body = String, content_type = "text/html"),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn docs(_: Ctx<'_>) -> Reply {
    openapi::serve_html()
}
