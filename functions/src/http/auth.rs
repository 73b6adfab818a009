//! `/auth/*`: registration and tokens, without an access token.

use chat::protocol::rest::{LoginBody, RefreshBody, RegisterBody, TokenPair};
use chat::service::{auth, limits};

use super::openapi::{BadRequest, Conflict, Internal, PayloadTooLarge, TooManyRequests};
use super::request::{Ctx, Reply, empty, json};
use chat::protocol::rest::ErrorBody;

#[utoipa::path(post, path = "/auth/register", tag = "auth", summary = "Register",
    description = "Creates a user and signs it in. Usernames and emails are unique case-insensitively. Unknown fields are refused.",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered: tokens and the user (with email).", body = TokenPair),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn register(ctx: Ctx<'_>) -> Reply {
    limits::auth_attempt(ctx.app, ctx.source_ip().as_deref()).await?;
    json(201, &auth::register(ctx.app, ctx.body::<RegisterBody>()?).await?)
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", summary = "Log in",
    description = "Signs in with username or email. An unknown user gets the same answer and the same timing as a wrong password.",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in: tokens and the user.", body = TokenPair),
        (status = 400, response = BadRequest),
        (status = 401, description = "`invalid_credentials`: wrong login or password.", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn login(ctx: Ctx<'_>) -> Reply {
    // The per-IP limit runs inside, alongside the login's first read.
    let ip = ctx.source_ip();
    json(200, &auth::login(ctx.app, ctx.body::<LoginBody>()?, ip.as_deref()).await?)
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", summary = "Refresh tokens",
    description = "Exchanges a refresh token for a new pair; the presented token is rotated out. Reusing a rotated token revokes the whole token family.",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new pair (without `user`).", body = TokenPair),
        (status = 400, response = BadRequest),
        (status = 401, description = "`invalid_token`: unknown, expired, revoked or reused refresh token.", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn refresh(ctx: Ctx<'_>) -> Reply {
    json(200, &auth::refresh(ctx.app, ctx.body::<RefreshBody>()?).await?)
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", summary = "Log out",
    description = "Revokes the refresh token. Idempotent: an unknown token also answers 204.",
    request_body = RefreshBody,
    responses(
        (status = 204, description = "Done; no body."),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
    security(),
)]
pub async fn logout(ctx: Ctx<'_>) -> Reply {
    auth::logout(ctx.app, ctx.body::<RefreshBody>()?).await?;
    empty(204)
}
