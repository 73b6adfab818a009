//! The HTTP API: every request becomes a payload format 2.0 event for the template's HTTP
//! function, and its answer the HTTP response, with the template's CORS headers. GET of a file of
//! the web client (`web_app.rs`) is answered before it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::state::{
    GatewayState, forwarded, integration_failure, new_request_id, now_ms, plain, query_json, request_time,
};
use crate::account::ACCOUNT_ID;
use crate::template::cors::Cors;

/// The HTTP API: CORS as template.yaml configures it, then payload format 2.0 to the function.
pub(crate) async fn http_api(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if let Some(web) = &state.web
        && let Some(file) = web.serve(request.method(), request.uri().path()).await
    {
        return file;
    }
    let origin = request.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_string);
    let with_cors = |response| add_cors_headers(state.template.http_cors.as_ref(), origin.as_deref(), response);
    // With a CorsConfiguration, API Gateway answers preflight requests itself.
    if state.template.http_cors.is_some()
        && request.method() == Method::OPTIONS
        && request.headers().contains_key("access-control-request-method")
    {
        return with_cors(StatusCode::NO_CONTENT.into_response());
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return with_cors(plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"));
    };
    // Payload 2.0: repeated headers joined by commas, cookies in their own list (each Cookie
    // header split at `;`) and not among the headers.
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &forwarded(&parts.headers, &peer) {
        let value = value.to_str().unwrap_or_default();
        // Hop-by-hop headers are the connection's, not the request's: a proxy drops them.
        if matches!(name.as_str(), "connection" | "keep-alive" | "proxy-connection" | "te" | "upgrade") {
            continue;
        }
        if name == "cookie" {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(|c| json!(c)));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value.to_string()));
            }
        }
    }
    // API Gateway states the body's length even when the client sent none (a GET).
    if !headers.contains_key("content-length") && !headers.contains_key("transfer-encoding") {
        headers.insert("content-length".into(), json!(body.len().to_string()));
    }
    // A repeated query key's values joined by commas.
    let (_, multi) = query_json(parts.uri.query());
    let query: Map<String, Value> = multi
        .into_iter()
        .map(|(key, values)| {
            let values: Vec<&str> = values.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            (key, Value::String(values.join(",")))
        })
        .collect();
    let (body_value, is_base64) = match std::str::from_utf8(&body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(BASE64.encode(&body)), true),
    };
    let now = now_ms();
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": state.api_id,
            "domainName": state.domain_name(&parts.headers),
            "domainPrefix": state.api_id,
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": new_request_id(),
            "routeKey": "$default",
            "stage": "$default",
            "time": request_time(),
            "timeEpoch": now,
        },
        "isBase64Encoded": is_base64,
    });
    // As API Gateway: no `cookies`, `queryStringParameters` or `body` key when there is none.
    let mut event = event;
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    if !state.buckets.allow_http() {
        return with_cors(plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"));
    }
    let answer = match state.invoke(&state.template.http_function, event).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "HTTP integration failed");
            let (status, message) = integration_failure(&error);
            return with_cors(plain(status, message));
        }
    };
    with_cors(http_answer(&answer))
}

/// Turns a payload-2.0 answer into the HTTP response API Gateway would send.
fn http_answer(answer: &Value) -> Response {
    let status =
        answer["statusCode"].as_u64().and_then(|s| StatusCode::from_u16(s as u16).ok()).unwrap_or(StatusCode::OK);
    let body = match answer["body"].as_str() {
        Some(text) if answer["isBase64Encoded"].as_bool() == Some(true) => BASE64.decode(text).unwrap_or_default(),
        Some(text) => text.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let mut response = Response::builder().status(status);
    if let Some(headers) = answer["headers"].as_object() {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                response = response.header(name, value);
            }
        }
    }
    response.body(Body::from(body)).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Adds the `access-control-*` headers of the template's CorsConfiguration, on every answer.
fn add_cors_headers(cors: Option<&Cors>, origin: Option<&str>, mut response: Response) -> Response {
    for (name, value) in cors.map(|c| c.headers(origin)).unwrap_or_default() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
