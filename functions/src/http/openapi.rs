//! The OpenAPI 3.1 document of the REST API, generated: the routes' operations (each handler's
//! `#[utoipa::path]`), the wire types' schemas (`#[derive(ToSchema)]` in chat::protocol and
//! chat::domain), and the parts that belong to no route, below. `GET /openapi.json` serves it,
//! `GET /docs` renders it (docs_page.rs); docs/openapi.json is a copy that a test keeps equal.

use std::sync::OnceLock;

use chat::error::ChatError;
use chat::protocol::rest::ErrorBody;
use lambda_http::{Body, Response};
use utoipa::openapi::Required;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse};

use super::{RouteOperations, docs_page, planned};

const DESCRIPTION: &str = "JSON over HTTPS. Send `Authorization: Bearer <accessToken>` on every endpoint except `/auth/*`, `/health`, `/openapi.json` and `/docs`.

**Errors** are `{\"error\":{\"code\",\"message\",\"retryAfter?\"}}` with the status of the code (see `ErrorCode`). An unknown path answers 404 `not_found`; a method a known path does not serve answers 400 `invalid_input`. A user sees only conversations it is a member of (rooms: anyone may read and join); anything else is 404, never revealing existence.

**Limits**: request bodies at most 64 KB (413); message content 1-4,000 characters (413 beyond); clientMsgId 1-64 printable characters; usernames 3-32 of `[A-Za-z0-9_.-]`; passwords 8-256 characters; display names 1-64; conversation names 1-100; page sizes as given per endpoint.

**Ids** are ULIDs (they sort by time); times are RFC 3339 UTC with milliseconds.

**Real time**: the WebSocket API (`wss://{api}.execute-api.{region}.amazonaws.com/{stage}?token=<accessToken>`, locally `ws://127.0.0.1:3001/?token=...`) is described in AsyncAPI in docs/asyncapi.yaml.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chat backend REST API",
        description = DESCRIPTION,
        license(name = "MIT", identifier = "MIT"),
    ),
    servers(
        (url = "http://127.0.0.1:3000", description = "Local gateway (make dev)."),
        (url = "https://{apiId}.execute-api.{region}.amazonaws.com", description = "AWS (HTTP API, $default stage).",
            variables(
                ("apiId" = (default = "abc123", description = "The stack output HttpApiUrl.")),
                ("region" = (default = "us-east-1")),
            )),
    ),
    security(("bearerAuth" = [])),
    tags(
        (name = "auth", description = "Registration and tokens (no access token needed)."),
        (name = "users", description = "The caller and other users."),
        (name = "conversations", description = "Direct conversations, groups, rooms and membership."),
        (name = "messages", description = "History, sending, edits, receipts."),
        (name = "scheduled", description = "Messages sent later."),
        (name = "uploads", description = "Attachments (planned)."),
        (name = "devices", description = "The caller's devices and their push tokens."),
        (name = "ops", description = "Health, statistics and this documentation."),
    ),
    components(
        schemas(ErrorBody),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, TooManyRequests, Internal),
    ),
    modifiers(&Outside),
)]
struct Api;

/// `invalid_input`: malformed JSON, a missing or mistyped field, a value out of range, a bad cursor or limit, or a
/// method the path does not serve.
#[derive(ToResponse)]
pub struct BadRequest(#[allow(dead_code)] ErrorBody<'static>);

/// `unauthorized`: missing, malformed, expired, forged or refresh-type access token.
#[derive(ToResponse)]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody<'static>);

/// `forbidden`: the caller may see the resource but not do this.
#[derive(ToResponse)]
pub struct Forbidden(#[allow(dead_code)] ErrorBody<'static>);

/// `not_found`: unknown, or not visible to the caller (never reveals whether it exists).
#[derive(ToResponse)]
pub struct NotFound(#[allow(dead_code)] ErrorBody<'static>);

/// `conflict`.
#[derive(ToResponse)]
pub struct Conflict(#[allow(dead_code)] ErrorBody<'static>);

/// `payload_too_large`: body over 64 KB, or content over 4,000 characters.
#[derive(ToResponse)]
pub struct PayloadTooLarge(#[allow(dead_code)] ErrorBody<'static>);

/// `rate_limited`: too many attempts from this address; `retryAfter` (and the Retry-After header) says how many
/// seconds to wait.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait.")))]
pub struct TooManyRequests(#[allow(dead_code)] ErrorBody<'static>);

/// `internal`: an AWS failure; details are logged, not returned.
#[derive(ToResponse)]
pub struct Internal(#[allow(dead_code)] ErrorBody<'static>);

/// The conversation in every `/conversations/{id}...` path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ConversationPath {
    /// Conversation id.
    #[param(max_length = 64, pattern = "^[A-Za-z0-9-]+$")]
    id: String,
}

/// What utoipa's attributes cannot say.
struct Outside;

impl Modify for Outside {
    fn modify(&self, doc: &mut Document) {
        // OpenAPI 3.1's `info.summary`, which utoipa's `Info` does not have.
        let summary =
            "REST half of a serverless real-time chat backend (API Gateway HTTP API + Rust Lambda + DynamoDB).";
        doc.info.extensions.get_or_insert_default().insert("summary".into(), summary.into());
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("The accessToken from register, login or refresh (HS256, 15 minutes by default)."))
            .build();
        let components = doc.components.get_or_insert_default();
        components.add_security_scheme("bearerAuth", SecurityScheme::Http(scheme));
        // At least a second, as the body's `retryAfter` (a bound the header syntax cannot carry).
        if let Some(RefOr::T(response)) = components.responses.get_mut("TooManyRequests")
            && let Some(RefOr::T(header)) = response.headers.get_mut("Retry-After")
            && let Some(RefOr::T(Schema::Object(seconds))) = header.schema.as_mut()
        {
            seconds.minimum = Some(utoipa::Number::UInt(1));
        }
    }
}

/// The operations of a path item with their methods (upper case, as requests spell them).
pub fn operations_of(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|operation| (method, operation)))
}

/// The whole document.
pub fn document() -> Document {
    let mut doc = Api::openapi().merge_from(RouteOperations::openapi()).merge_from(planned::Planned::openapi());
    planned::add_fields(&mut doc);
    close_response_objects(&mut doc);
    optional_bodies(&mut doc);
    for item in doc.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete] {
            if let Some(operation) = operation.as_mut()
                && let Some(id) = operation.operation_id.as_mut()
            {
                *id = camel_case(id);
            }
        }
    }
    doc
}

/// Operation ids are the handlers' names in camelCase (`get_me` answers `getMe`).
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split('_').enumerate() {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.extend(first.to_lowercase());
            } else {
                out.extend(first.to_uppercase());
            }
            out.push_str(chars.as_str());
        }
    }
    out
}

/// An `Option<Body>` request body means the body may be left out, not that it may be `null`
/// (which the handlers refuse): `required: false` and the body's own schema.
fn optional_bodies(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        for operation in [&mut item.post, &mut item.put, &mut item.patch].into_iter().flatten() {
            let Some(RefOr::T(body)) = operation.request_body.as_mut() else { continue };
            if body.required.is_some() {
                continue;
            }
            for content in body.content.values_mut() {
                if let RefOr::T(content) = content
                    && let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema
                    && let [schema, RefOr::T(Schema::Object(null))] = one_of.items.as_slice()
                    && null.schema_type == SchemaType::Type(Type::Null)
                {
                    content.schema = Some(schema.clone());
                }
            }
            body.required = Some(Required::False);
        }
    }
}

/// The objects the server answers with carry exactly their documented fields: each schema a
/// response names (and those they name) gets `additionalProperties: false`, unless it says
/// otherwise. Request bodies are closed only where serde denies unknown fields.
fn close_response_objects(doc: &mut Document) {
    let mut names = Vec::new();
    for item in doc.paths.paths.values() {
        for (_, operation) in operations_of(item) {
            for response in operation.responses.responses.values() {
                if let RefOr::T(response) = response {
                    collect_refs(&serde_json::to_value(response).unwrap_or_default(), &mut names);
                }
            }
        }
    }
    let Some(components) = doc.components.as_mut() else { return };
    for response in components.responses.values() {
        collect_refs(&serde_json::to_value(response).unwrap_or_default(), &mut names);
    }
    let mut i = 0;
    while i < names.len() {
        if let Some(schema) = components.schemas.get(&names[i]) {
            collect_refs(&serde_json::to_value(schema).unwrap_or_default(), &mut names);
        }
        i += 1;
    }
    for name in names {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&name) {
            close(object);
        }
    }
}

fn close(object: &mut utoipa::openapi::schema::Object) {
    if object.properties.is_empty() {
        return;
    }
    object.additional_properties.get_or_insert_with(|| Box::new(AdditionalProperties::FreeForm(false)));
    for property in object.properties.values_mut() {
        if let RefOr::T(Schema::Object(inner)) = property {
            close(inner);
        }
    }
}

/// The names of the `#/components/schemas/...` a JSON value refers to, added once each.
fn collect_refs(value: &serde_json::Value, names: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(name) =
                map.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.strip_prefix("#/components/schemas/"))
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, names));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, names)),
        _ => {}
    }
}

/// The document as served and committed: pretty JSON and a final newline. Built on the first
/// request of a Lambda instance that asks for it, then kept.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).expect("the OpenAPI document serialises");
        text.push('\n');
        text
    })
}

/// `GET /openapi.json`.
pub fn serve_json() -> Result<Response<Body>, ChatError> {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "public, max-age=300")
        .body(Body::Text(json().to_string()))
        .map_err(ChatError::internal)
}

/// `GET /docs`.
pub fn serve_html() -> Result<Response<Body>, ChatError> {
    static HTML: OnceLock<String> = OnceLock::new();
    let html = HTML.get_or_init(|| {
        let doc = serde_json::from_str(json()).expect("the generated document is JSON");
        docs_page::render_html(&doc)
    });
    docs_page::response(html)
}

#[cfg(test)]
mod tests;
