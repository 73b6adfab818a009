//! Register, log in, rotate and revoke refresh tokens, read and update the caller's profile.

use crate::App;
use crate::auth::{password, refresh};
use crate::domain::user::{self, User};
use crate::domain::{new_id, time};
use crate::error::{ChatError, ErrorCode, Result};
use crate::ports::{Rotation, Taken};
use crate::protocol::rest::{LoginBody, PatchMeBody, RefreshBody, RegisterBody, TokenPair};
use crate::service::{limits, stats};

/// argon2 takes tens of milliseconds of CPU: keep it off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(ChatError::internal)
}

pub async fn register(app: &App, body: RegisterBody) -> Result<TokenPair> {
    let username = body.username.trim().to_string();
    let email = body.email.trim().to_string();
    user::validate_username(&username)?;
    user::validate_email(&email)?;
    let password = password::normalize(&body.password);
    user::validate_password(&password)?;
    let display_name = match body.display_name {
        Some(name) => user::validate_display_name(&name)?,
        None => username.clone(),
    };
    let hash = blocking(move || password::hash(&password)).await??;
    let new_user = User {
        id: new_id(),
        username,
        email: Some(email),
        display_name,
        created_at: time::rfc3339(time::now()),
        last_seen: None,
        online: false,
    };
    match app.store.create_user(&new_user, &hash).await? {
        Ok(()) => {}
        Err(Taken::Username) => return Err(ChatError::conflict("username is taken")),
        Err(Taken::Email) => return Err(ChatError::conflict("email is already registered")),
    }
    // users branch: the /stats user counter, concurrently with the token pair.
    let (pair, ()) = tokio::join!(issue_pair(app, &new_user.id, Some(new_user.clone())), stats::user_registered(app));
    pair
}

/// Logs in. `source_ip` is counted against the per-IP attempt limit in the same wave as the
/// login's lookup; both limits are settled before any password work.
pub async fn login(app: &App, body: LoginBody, source_ip: Option<&str>) -> Result<TokenPair> {
    let bad = || ChatError::new(ErrorCode::InvalidCredentials, "wrong login or password");
    let login = user::normalize(&body.login);
    let (ip_allowed, user_id) = tokio::join!(limits::auth_attempt(app, source_ip), async {
        if login.is_empty() || login.len() > user::EMAIL_MAX {
            Ok(None)
        } else {
            app.store.user_id_by_login(&login).await
        }
    });
    ip_allowed?;
    // The register rule (auth/password.rs): NFKC, then at most PASSWORD_MAX scalar values.
    let password = password::normalize(&body.password);
    if login.is_empty() || login.len() > user::EMAIL_MAX || password::length(&password) > user::PASSWORD_MAX {
        return Err(bad());
    }
    // The per-login attempt limit, checked before any password work. Keyed by the login as typed
    // (normalised), never by the account it names: a key that depended on whether the account
    // exists would answer differently for existing and unknown accounts (an oracle). The price:
    // an account's username and email have a budget each.
    let (allowed, record) = tokio::join!(limits::login_attempt(app, &login), async {
        match user_id? {
            Some(id) => app.store.get_user(&id).await,
            None => Ok(None),
        }
    });
    allowed?;
    let record = record?;
    let Some(record) = record else {
        blocking(move || password::verify_against_nothing(&password)).await?;
        return Err(bad());
    };
    let hash = record.password_hash.clone();
    let raw = body.password;
    let matches = blocking(move || {
        // A hash made before passwords were normalised was made from the raw text: accept it
        // too (a second argon2 run only for passwords that normalisation changes).
        password::verify(&password, &hash) || (raw != password && password::verify(&raw, &hash))
    })
    .await?;
    if !matches {
        return Err(bad());
    }
    let user_id = record.user.id.clone();
    // The activity index (planner) is written in the same wave.
    let (pair, ()) =
        tokio::join!(issue_pair(app, &user_id, Some(record.user)), crate::service::scheduling::seen(app, &user_id));
    pair
}

pub async fn refresh(app: &App, body: RefreshBody) -> Result<TokenPair> {
    let invalid = || ChatError::new(ErrorCode::InvalidToken, "refresh token is invalid, expired or revoked");
    let Some(family) = refresh::family_of(&body.refresh_token) else {
        return Err(invalid());
    };
    let old_hash = refresh::hash(&body.refresh_token);
    let Some(record) = app.store.get_refresh_token(family, &old_hash).await? else {
        return Err(invalid());
    };
    if record.used {
        // A rotated token came back: whoever holds the family may be an attacker. Revoke it all.
        tracing::warn!(family, "refresh token reuse: revoking the family");
        app.store.revoke_refresh_family(family).await?;
        return Err(invalid());
    }
    // A deleted user's refresh token mints nothing more.
    crate::service::users::ensure_exists(app, &record.user_id).await.map_err(|_| invalid())?;
    let next = refresh::issue(family)?;
    let expires_at = time::now().timestamp() + app.config.refresh_token_ttl_secs;
    match app.store.rotate_refresh_token(family, &record.user_id, &old_hash, &next.hash, expires_at).await? {
        Rotation::Rotated => {}
        Rotation::AlreadyUsed => {
            tracing::warn!(family, "concurrent refresh token reuse: revoking the family");
            app.store.revoke_refresh_family(family).await?;
            return Err(invalid());
        }
        Rotation::FamilyClosed => return Err(invalid()),
    }
    let access = app.tokens.issue(&record.user_id, time::now().timestamp())?;
    Ok(TokenPair { access_token: access, refresh_token: next.token, expires_in: app.tokens.ttl_secs(), user: None })
}

/// Revokes the token's family. Unknown or malformed tokens are accepted silently: logout is
/// idempotent and tells a caller nothing about tokens it does not hold.
pub async fn logout(app: &App, body: RefreshBody) -> Result<()> {
    let Some(family) = refresh::family_of(&body.refresh_token) else {
        return Ok(());
    };
    if app.store.get_refresh_token(family, &refresh::hash(&body.refresh_token)).await?.is_some() {
        app.store.revoke_refresh_family(family).await?;
    }
    Ok(())
}

/// The caller's own user (with email), `online` when any of its connections is open; the
/// connection read runs alongside the profile read.
pub async fn me(app: &App, user_id: &str) -> Result<User> {
    let (record, online) = tokio::join!(app.store.get_user(user_id), app.directory.is_online(user_id));
    match record? {
        Some(record) => Ok(User { online: online?, ..record.user }),
        None => Err(ChatError::unauthorized("the token's user no longer exists")),
    }
}

pub async fn update_me(app: &App, user_id: &str, body: PatchMeBody) -> Result<User> {
    let Some(name) = body.display_name else {
        return me(app, user_id).await;
    };
    let name = user::validate_display_name(&name)?;
    match app.store.set_display_name(user_id, &name).await? {
        Some(user) => Ok(user),
        None => Err(ChatError::unauthorized("the token's user no longer exists")),
    }
}

async fn issue_pair(app: &App, user_id: &str, user: Option<User>) -> Result<TokenPair> {
    let now = time::now().timestamp();
    let family = refresh::new_family_id();
    let token = refresh::issue(&family)?;
    app.store.create_refresh_family(&family, user_id, &token.hash, now + app.config.refresh_token_ttl_secs).await?;
    Ok(TokenPair {
        access_token: app.tokens.issue(user_id, now)?,
        refresh_token: token.token,
        expires_in: app.tokens.ttl_secs(),
        user,
    })
}
