//! `/me` and `/users/*`: the caller and other users.

use chat::domain::User;
use chat::protocol::directory::{OnlineUsers, UserPage};
use chat::protocol::rest::PatchMeBody;
use chat::service::{auth, users};
use utoipa::IntoParams;

use super::openapi::{BadRequest, Internal, NotFound, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, json};

#[utoipa::path(get, path = "/me", tag = "users", summary = "The caller",
    description = "The caller's own user, with email.",
    responses(
        (status = 200, description = "The caller.", body = User),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn get_me(ctx: Ctx<'_>) -> Reply {
    json(200, &auth::me(ctx.app, &ctx.caller()?).await?)
}

#[utoipa::path(patch, path = "/me", tag = "users", summary = "Update the caller",
    description = "Changes the display name. Unknown fields are refused.",
    request_body = PatchMeBody,
    responses(
        (status = 200, description = "The updated user.", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn patch_me(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    json(200, &auth::update_me(ctx.app, &user, ctx.body::<PatchMeBody>()?).await?)
}

/// Paths that need no access token (docs/protocol.md): nothing to check there.
const PUBLIC_PREFIXES: &[&str] = &["/auth/", "/health", "/openapi.json", "/docs", "/_local/"];

/// Before any handler: a validly signed token whose user does not exist answers 401 on every
/// authenticated route (invalid tokens are left to the handler, which answers 401 itself).
pub async fn refuse_unknown_caller(ctx: &Ctx<'_>, path: &str) -> Result<(), chat::error::ChatError> {
    if PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return Ok(());
    }
    match ctx.caller() {
        Ok(user_id) => users::ensure_exists_recently(ctx.app, &user_id).await,
        Err(_) => Ok(()),
    }
}

/// The query of `GET /users`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UserSearchQuery {
    /// Username prefix, 1-32 of [A-Za-z0-9_.-].
    #[param(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9_.-]{1,32}$")]
    q: String,
    /// Page size, 1-50 (default 20).
    #[param(minimum = 1, maximum = 50, default = 20)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/users", tag = "users", summary = "Search users",
    description = "Users whose username starts with `q` (case-insensitive), in username order; public view (no email).",
    params(UserSearchQuery),
    responses(
        (status = 200, description = "A page of users.", body = UserPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn search_users(ctx: Ctx<'_>) -> Reply {
    ctx.caller()?;
    json(200, &users::search(ctx.app, ctx.query("q"), ctx.limit()?, ctx.query("cursor")).await?)
}

#[utoipa::path(get, path = "/users/online", tag = "users", summary = "Online contacts",
    description = "Online users who share at least one conversation with the caller.",
    responses(
        (status = 200, description = "Online contacts.", body = OnlineUsers),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn online_users(ctx: Ctx<'_>) -> Reply {
    json(200, &users::online_contacts(ctx.app, &ctx.caller()?).await?)
}

/// The path of `GET /users/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct UserPath {
    /// User id (a ULID).
    #[param(value_type = chat::openapi::Ulid)]
    id: String,
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", summary = "A user",
    description = "The public view of a user (no email).",
    params(UserPath),
    responses(
        (status = 200, description = "The user.", body = User),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn get_user(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    ctx.caller()?;
    json(200, &users::get(ctx.app, id).await?)
}
