//! The Management API on the WebSocket port: `POST|GET|DELETE @connections/{id}`, with the
//! template's stage in the path (or none, locally), SigV4-signed with the local credentials
//! (`sigv4.rs`), answered as API Gateway answers them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::{GatewayState, MAX_MESSAGE_BYTES, Outbound, plain};

pub(crate) async fn management(
    State(state): State<Arc<GatewayState>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorized(&state, &method, &uri, &headers, &body).unwrap_or_else(|| manage_connection(&state, &id, method, body))
}

pub(crate) async fn management_with_stage(
    State(state): State<Arc<GatewayState>>,
    Path((stage, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if stage != state.stage {
        return forbidden();
    }
    authorized(&state, &method, &uri, &headers, &body).unwrap_or_else(|| manage_connection(&state, &id, method, body))
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [("content-type", "application/json"), ("x-amzn-errortype", "ForbiddenException")],
        json!({"message": "Forbidden"}).to_string(),
    )
        .into_response()
}

/// None when the signature holds; else the 403 to answer.
fn authorized(state: &GatewayState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    match super::sigv4::verify(&state.credentials, method, uri, headers, body) {
        Ok(()) => None,
        Err(why) => {
            tracing::warn!(%why, "@connections request refused");
            Some(forbidden())
        }
    }
}

/// `POST|GET|DELETE @connections/{id}` as API Gateway answers them.
fn manage_connection(state: &GatewayState, id: &str, method: Method, body: Bytes) -> Response {
    let gone = || {
        (
            StatusCode::GONE,
            [("content-type", "application/json"), ("x-amzn-errortype", "GoneException")],
            json!({"message": null}).to_string(),
        )
            .into_response()
    };
    let connection = state.connections.lock().expect("connections lock").get(id).cloned();
    let Some(connection) = connection else { return gone() };
    match method {
        Method::POST => {
            if body.len() > MAX_MESSAGE_BYTES {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    [("x-amzn-errortype", "PayloadTooLargeException")],
                    json!({"message": "Message too large"}).to_string(),
                )
                    .into_response();
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            if connection.outbound.send(Outbound::Text(text)).is_err() {
                return gone();
            }
            StatusCode::OK.into_response()
        }
        Method::GET => {
            let iso = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default()
            };
            let answer = json!({
                "connectedAt": iso(connection.connected_at_ms),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": iso(connection.last_active_ms.load(Ordering::Relaxed)),
            });
            (StatusCode::OK, [("content-type", "application/json")], answer.to_string()).into_response()
        }
        Method::DELETE => {
            let _ = connection.outbound.send(Outbound::Close(1000, "Going away".into()));
            StatusCode::NO_CONTENT.into_response()
        }
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
    }
}
