//! `/health`, `/stats`, `/openapi.json` and `/docs`: the service about itself.

use std::collections::BTreeMap;

use chat::protocol::directory::Stats;
use chat::service::stats;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::{self, Internal, Unauthorized};
use super::request::{Ctx, Reply, json};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Liveness.
// Fields in alphabetical order: the order this body has always had on the wire.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Per-dependency checks (empty: the function answers without touching AWS).
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
}

#[utoipa::path(get, path = "/health", tag = "ops", summary = "Health", description = "Liveness; no auth.",
    responses(
        (status = 200, description = "Up.", body = Health),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn health(_: Ctx<'_>) -> Reply {
    json(200, &Health { checks: BTreeMap::new(), status: HealthStatus::Ok, version: VERSION })
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
