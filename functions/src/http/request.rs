//! What every route handler reads from a request (caller, JSON body, query numbers, source
//! address) and how it answers (JSON, empty, error).

use chat::App;
use chat::error::{ChatError, ErrorCode};
use chat::protocol::rest::{ErrorBody, ErrorDetail};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bodies are small JSON documents; anything bigger is refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub type Reply = Result<Response<Body>, ChatError>;

/// One request as a handler sees it: the app, the request, and the values of its path's
/// `{params}` in the order the route's pattern names them.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    params: &'a [&'a str],
}

impl<'a> Ctx<'a> {
    pub fn new(app: &'a App, req: &'a Request, params: &'a [&'a str]) -> Self {
        Self { app, req, params }
    }

    /// The path parameters, as many as the handler's pattern has (`let [id] = ctx.params()?`).
    pub fn params<const N: usize>(&self) -> Result<[&'a str; N], ChatError> {
        <[&str; N]>::try_from(self.params).map_err(|_| {
            ChatError::internal(format!("route wants {N} path parameters, its pattern has {}", self.params.len()))
        })
    }

    /// A query string parameter.
    pub fn query(&self, name: &str) -> Option<&'a str> {
        self.req.query_string_parameters_ref().and_then(|query| query.first(name))
    }

    /// The user id of the `Authorization: Bearer` access token.
    pub fn caller(&self) -> Result<String, ChatError> {
        let header = self.req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or_default();
        self.app.tokens.verify(token.trim())
    }

    /// The client's address as API Gateway saw it (`requestContext.http.sourceIp`, payload 2.0).
    pub fn source_ip(&self) -> Option<String> {
        match self.req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            _ => None,
        }
    }

    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ChatError> {
        let bytes: &[u8] = self.req.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ChatError::new(ErrorCode::PayloadTooLarge, format!("body is over {MAX_BODY_BYTES} bytes")));
        }
        if bytes.is_empty() {
            return Err(ChatError::invalid("a JSON body is required"));
        }
        serde_json::from_slice(bytes).map_err(|e| ChatError::invalid(format!("invalid JSON body: {e}")))
    }

    /// A JSON body that may be absent.
    pub fn body_or_empty<T: DeserializeOwned>(&self) -> Result<Option<T>, ChatError> {
        if self.req.body().as_ref().is_empty() { Ok(None) } else { self.body().map(Some) }
    }

    /// The `limit` query parameter as a whole number, if given.
    pub fn limit(&self) -> Result<Option<usize>, ChatError> {
        self.query("limit")
            .map(|v| v.parse::<usize>().map_err(|_| ChatError::invalid("limit must be a whole number")))
            .transpose()
    }
}

pub fn json<T: Serialize>(status: u16, value: &T) -> Reply {
    let body = serde_json::to_string(value).map_err(ChatError::internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .map_err(ChatError::internal)
}

pub fn empty(status: u16) -> Reply {
    Response::builder().status(status).body(Body::Empty).map_err(ChatError::internal)
}

pub fn error_response(err: &ChatError) -> Response<Body> {
    let body = ErrorBody { error: ErrorDetail { code: err.code, message: &err.message, retry_after: err.retry_after } };
    let mut builder = Response::builder().status(err.code.http_status()).header("content-type", "application/json");
    if let Some(seconds) = err.retry_after {
        builder = builder.header("retry-after", seconds.to_string());
    }
    builder
        .body(Body::Text(serde_json::to_string(&body).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
