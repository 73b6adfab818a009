//! The HTTP API (payload 2.0, one `$default` route): a small router over the use cases.

use chat::App;
use chat::error::{ChatError, ErrorCode};
use chat::ports::Pointer;
use chat::protocol::rest::{
    AddMemberBody, CreateConversationBody, EditMessageBody, ErrorBody, ErrorDetail, LoginBody, PatchMeBody,
    PostMessageBody, ReadBody, RefreshBody, RegisterBody,
};
use chat::service::push::deliver;
use chat::service::{auth, conversations, limits, messaging, receipts, scheduling, stats, users};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bodies are small JSON documents; anything bigger is refused before parsing.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

type Reply = Result<Response<Body>, ChatError>;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = route_path(&req);
    let result = route(app, &req, &method, &path).await;
    let response = result.unwrap_or_else(|err| error_response(&err));
    tracing::info!(%method, %path, status = response.status().as_u16(), "request");
    response
}

/// The path without a stage prefix (HTTP APIs put a named stage in `rawPath`).
fn route_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    let raw = if raw.is_empty() { req.uri().path() } else { raw };
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(stage) = ctx.stage.as_deref().filter(|s| *s != "$default")
        && let Some(rest) = raw.strip_prefix(&format!("/{stage}"))
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return if rest.is_empty() { "/".into() } else { rest.into() };
    }
    raw.to_string()
}

async fn route(app: &App, req: &Request, method: &str, path: &str) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["health"]) => json(200, &serde_json::json!({"status": "ok", "version": VERSION, "checks": {}})),
        ("GET", ["openapi.json"]) => crate::api_docs::openapi(),
        ("GET", ["docs"]) => crate::api_docs::docs(),
        ("POST", ["auth", "register"]) => {
            limits::auth_attempt(app, source_ip(req).as_deref()).await?;
            json(201, &auth::register(app, body::<RegisterBody>(req)?).await?)
        }
        ("POST", ["auth", "login"]) => {
            // The per-IP limit runs inside, alongside the login's first read.
            let ip = source_ip(req);
            json(200, &auth::login(app, body::<LoginBody>(req)?, ip.as_deref()).await?)
        }
        ("POST", ["auth", "refresh"]) => json(200, &auth::refresh(app, body::<RefreshBody>(req)?).await?),
        ("POST", ["auth", "logout"]) => {
            auth::logout(app, body::<RefreshBody>(req)?).await?;
            empty(204)
        }
        ("GET", ["me"]) => json(200, &auth::me(app, &caller(app, req)?).await?),
        ("PATCH", ["me"]) => {
            let user = caller(app, req)?;
            json(200, &auth::update_me(app, &user, body::<PatchMeBody>(req)?).await?)
        }
        ("POST", ["conversations"]) => {
            let user = caller(app, req)?;
            let opened = conversations::create(app, &user, body::<CreateConversationBody>(req)?).await?;
            json(if opened.created { 201 } else { 200 }, &opened.conversation)
        }
        ("GET", ["conversations"]) => {
            let user = caller(app, req)?;
            let query = req.query_string_parameters();
            let limit = number(query.first("limit"))?;
            json(200, &conversations::list(app, &user, limit, query.first("cursor")).await?)
        }
        ("GET", ["unread"]) => {
            let user = caller(app, req)?;
            json(200, &conversations::unread(app, &user).await?)
        }
        ("POST", ["conversations", id, "members"]) => {
            let user = caller(app, req)?;
            let body = body_or_empty::<AddMemberBody>(req)?.unwrap_or(AddMemberBody { user_id: None });
            let pushes = match body.user_id.as_deref() {
                Some(member) => conversations::add_member(app, &user, id, member).await?,
                None => conversations::join(app, &user, id).await?,
            };
            deliver(app, pushes).await.log("POST /conversations/{id}/members");
            json(200, &conversations::get(app, &user, id).await?)
        }
        ("DELETE", ["conversations", id, "members", member]) => {
            let user = caller(app, req)?;
            let pushes = conversations::remove_member(app, &user, id, member).await?;
            deliver(app, pushes).await.log("DELETE /conversations/{id}/members/{userId}");
            empty(204)
        }
        ("PATCH", ["conversations", id, "messages", message_id]) => {
            let user = caller(app, req)?;
            let body = body::<EditMessageBody>(req)?;
            let (message, pushes) = messaging::edit_message(app, &user, id, message_id, &body.content).await?;
            deliver(app, pushes).await.log("PATCH /conversations/{id}/messages/{messageId}");
            json(200, &message)
        }
        ("DELETE", ["conversations", id, "messages", message_id]) => {
            let user = caller(app, req)?;
            let pushes = messaging::delete_message(app, &user, id, message_id).await?;
            deliver(app, pushes).await.log("DELETE /conversations/{id}/messages/{messageId}");
            empty(204)
        }
        ("POST", ["conversations", id, "read"]) => {
            let user = caller(app, req)?;
            let body = body::<ReadBody>(req)?;
            let input = receipts::ReceiptInput {
                caller: &user,
                conversation_id: id,
                message_id: &body.message_id,
                pointer: Pointer::Read,
                origin: None,
                request_id: None,
            };
            let pushes = receipts::mark(app, input).await?;
            deliver(app, pushes).await.log("POST /conversations/{id}/read");
            empty(204)
        }
        ("DELETE", ["conversations", id, "history"]) => {
            let user = caller(app, req)?;
            messaging::clear_history(app, &user, id).await?;
            empty(204)
        }
        ("GET", ["conversations", id]) => {
            let user = caller(app, req)?;
            json(200, &conversations::get(app, &user, id).await?)
        }
        ("GET", ["conversations", id, "messages"]) => {
            let user = caller(app, req)?;
            let query = req.query_string_parameters();
            let limit = number(query.first("limit"))?;
            let page = messaging::history(app, &user, id, query.first("before"), query.first("after"), limit).await?;
            json(200, &page)
        }
        ("POST", ["conversations", id, "messages"]) => {
            let user = caller(app, req)?;
            let body = body::<PostMessageBody>(req)?;
            let (sent, pushes) = messaging::send_message(
                app,
                messaging::SendInput {
                    sender_id: user,
                    conversation_id: Some(id.to_string()),
                    to: None,
                    content: body.content,
                    attachment_id: body.attachment_id,
                    client_msg_id: body.client_msg_id,
                    kind: None,
                    request_id: None,
                    origin_connection: None,
                },
            )
            .await?;
            messaging::deliver_sent(app, &sent, pushes).await.log("POST /conversations/{id}/messages");
            json(if sent.duplicate { 200 } else { 201 }, &sent.message)
        }
        // ---- users, stats (users branch)
        ("GET", ["users"]) => {
            caller(app, req)?;
            let query = req.query_string_parameters();
            let limit = number(query.first("limit"))?;
            json(200, &users::search(app, query.first("q"), limit, query.first("cursor")).await?)
        }
        ("GET", ["users", "online"]) => json(200, &users::online_contacts(app, &caller(app, req)?).await?),
        ("GET", ["users", id]) => {
            caller(app, req)?;
            json(200, &users::get(app, id).await?)
        }
        ("GET", ["stats"]) => {
            caller(app, req)?;
            json(200, &stats::stats(app).await?)
        }
        ("POST", ["scheduled-messages"]) => {
            let user = caller(app, req)?;
            json(201, &scheduling::schedule(app, &user, body(req)?).await?)
        }
        ("GET", ["scheduled-messages"]) => {
            let user = caller(app, req)?;
            let query = req.query_string_parameters();
            let limit = number(query.first("limit"))?;
            json(200, &scheduling::list(app, &user, limit, query.first("cursor")).await?)
        }
        ("DELETE", ["scheduled-messages", id]) => {
            let user = caller(app, req)?;
            scheduling::cancel(app, &user, id).await?;
            empty(204)
        }
        _ => Err(if known_path(&segments) {
            ChatError::new(ErrorCode::InvalidInput, format!("method {method} is not allowed on {path}"))
        } else {
            ChatError::not_found("route")
        }),
    }
}

fn known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["health"]
            | ["openapi.json"]
            | ["docs"]
            | ["auth", _]
            | ["me"]
            | ["unread"]
            | ["users"]
            | ["users", _]
            | ["stats"]
            | ["scheduled-messages"]
            | ["scheduled-messages", _]
            | ["conversations"]
            | ["conversations", _]
            | ["conversations", _, "messages" | "members" | "read" | "history"]
            | ["conversations", _, "messages" | "members", _]
    )
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`, payload 2.0).
fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// The `limit` query parameter as a whole number (its range is the use case's `PageLimit`).
fn number(value: Option<&str>) -> Result<Option<usize>, ChatError> {
    value.map(|v| v.parse::<usize>().map_err(|_| ChatError::invalid("limit must be a whole number"))).transpose()
}

/// A JSON body that may be absent.
fn body_or_empty<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ChatError> {
    if req.body().as_ref().is_empty() { Ok(None) } else { body(req).map(Some) }
}

/// The user id of the `Authorization: Bearer` access token.
fn caller(app: &App, req: &Request) -> Result<String, ChatError> {
    let header = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or_default();
    app.tokens.verify(token.trim())
}

fn body<T: DeserializeOwned>(req: &Request) -> Result<T, ChatError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ChatError::new(ErrorCode::PayloadTooLarge, format!("body is over {MAX_BODY_BYTES} bytes")));
    }
    if bytes.is_empty() {
        return Err(ChatError::invalid("a JSON body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| ChatError::invalid(format!("invalid JSON body: {e}")))
}

fn json<T: Serialize>(status: u16, value: &T) -> Reply {
    let body = serde_json::to_string(value).map_err(ChatError::internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .map_err(ChatError::internal)
}

fn empty(status: u16) -> Reply {
    Response::builder().status(status).body(Body::Empty).map_err(ChatError::internal)
}

fn error_response(err: &ChatError) -> Response<Body> {
    let body = ErrorBody { error: ErrorDetail { code: err.code, message: &err.message, retry_after: err.retry_after } };
    let mut builder = Response::builder().status(err.code.http_status()).header("content-type", "application/json");
    if let Some(seconds) = err.retry_after {
        builder = builder.header("retry-after", seconds.to_string());
    }
    builder
        .body(Body::Text(serde_json::to_string(&body).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
