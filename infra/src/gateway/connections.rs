//! The Management API on the WebSocket port: `POST|GET|DELETE /{stage}/@connections/{id}`, with
//! the template's stage in the path, SigV4-signed (`sigv4.rs`) by the developer's keys or by a
//! function's own, whose template policy must allow `execute-api:ManageConnections` on
//! `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/@connections/{id}`
//! (`template/policies.rs`); answered as API Gateway answers them. A path without the stage is
//! one with a wrong stage (its first segment is taken for the stage): 403.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::sigv4::Principal;
use super::state::{GatewayState, MAX_MESSAGE_BYTES, Outbound, plain};
use crate::account::ACCOUNT_ID;
use crate::template::policies::{MANAGE_CONNECTIONS, allows, connection_arn};

/// `/@connections/{id}`: no stage, so refused.
pub(crate) async fn management_without_stage() -> Response {
    tracing::warn!("@connections request without the stage refused");
    forbidden("Forbidden")
}

pub(crate) async fn management(
    State(state): State<Arc<GatewayState>>,
    Path((stage, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if stage != state.stage {
        tracing::warn!(%stage, "@connections request for another stage refused");
        return forbidden("Forbidden");
    }
    refused(&state, &id, &method, &uri, &headers, &body).unwrap_or_else(|| manage_connection(&state, &id, method, body))
}

fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [("content-type", "application/json"), ("x-amzn-errortype", "ForbiddenException")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// None when the signature holds and the signer may call this method on this connection; else
/// the 403 to answer.
fn refused(
    state: &GatewayState,
    id: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let principal = match super::sigv4::verify(&state.credentials, method, uri, headers, body) {
        Ok(principal) => principal,
        Err(why) => {
            tracing::warn!(%why, "@connections request refused");
            return Some(forbidden("Forbidden"));
        }
    };
    let Principal::Function(function) = principal else { return None };
    let arn = connection_arn(&state.api_id, &state.stage, method.as_str(), id);
    let grants = state.template.management_grants.get(&function).map(Vec::as_slice).unwrap_or_default();
    let allowed = allows(grants, MANAGE_CONNECTIONS, &arn);
    let mut calls = state.management_calls.lock().expect("calls lock");
    let counts = calls.entry((function.clone(), method.to_string())).or_default();
    if allowed {
        counts.allowed += 1;
        return None;
    }
    counts.refused += 1;
    tracing::warn!(%function, %method, "@connections request not allowed by the function's policy");
    // IAM's words for a role without the grant (the role's session is named after the function).
    Some(forbidden(&format!(
        "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{function}Role/{function} is not authorized to perform: \
         {MANAGE_CONNECTIONS} on resource: {arn}"
    )))
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
