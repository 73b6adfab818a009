//! Other users as a user may see them: search by username prefix, one user, online contacts.
//! Emails never leave through here (`User::public`, and the store's projections omit them).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;

use crate::App;
use crate::domain::id::is_ulid;
use crate::domain::page::PageLimit;
use crate::domain::user::{self, User};
use crate::error::{ChatError, Result};
use crate::protocol::directory::{OnlineUsers, UserPage};
use crate::service::presence;

pub const SEARCH_LIMIT: PageLimit = PageLimit::new(20, 50);
pub const QUERY_MAX_CHARS: usize = user::USERNAME_MAX;
const ONLINE_CHECK_CONCURRENCY: usize = 32;

/// The validated, lowercase search prefix: 1–32 characters a username may contain.
pub fn search_prefix(q: Option<&str>) -> Result<String> {
    let q = q.map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(ChatError::invalid("query parameter `q` is required (1-32 characters)"));
    }
    if q.chars().count() > QUERY_MAX_CHARS {
        return Err(ChatError::invalid(format!("`q` must be at most {QUERY_MAX_CHARS} characters")));
    }
    if !q.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(ChatError::invalid("`q` may contain only letters, digits, '_', '.' and '-'"));
    }
    Ok(q.to_ascii_lowercase())
}

/// Cursor = base64url(`{userId}:{lowercase username}`) of the last user of the previous page.
fn encode_cursor(user: &User) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", user.id, user.username.to_ascii_lowercase()))
}

fn decode_cursor(cursor: &str, prefix: &str) -> Result<(String, String)> {
    let bad = || ChatError::invalid("`cursor` is not valid for this query");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, name) = raw.split_once(':').ok_or_else(bad)?;
    if !is_ulid(id) || user::validate_username(name).is_err() || !name.starts_with(prefix) {
        return Err(bad());
    }
    Ok((name.to_string(), id.to_string()))
}

/// `GET /users?q=&limit=&cursor=`: users whose username starts with `q` (any case), in username
/// order, each with `online`.
pub async fn search(app: &App, q: Option<&str>, limit: Option<usize>, cursor: Option<&str>) -> Result<UserPage> {
    let prefix = search_prefix(q)?;
    let limit = SEARCH_LIMIT.check(limit)?;
    let after = cursor.filter(|c| !c.is_empty()).map(|c| decode_cursor(c, &prefix)).transpose()?;
    let (users, more) =
        app.directory.search_users(&prefix, after.as_ref().map(|(n, i)| (n.as_str(), i.as_str())), limit).await?;
    let users = with_online(app, users).await?;
    let next_cursor = if more { users.last().map(encode_cursor) } else { None };
    Ok(UserPage { users, next_cursor })
}

/// Sets `online` on each user (one eventually consistent connection read each, concurrently).
async fn with_online(app: &App, users: Vec<User>) -> Result<Vec<User>> {
    futures::stream::iter(users)
        .map(|mut u| async move {
            u.online = app.directory.is_online(&u.id).await?;
            Ok(u.public())
        })
        .buffered(ONLINE_CHECK_CONCURRENCY)
        .collect::<Vec<Result<User>>>()
        .await
        .into_iter()
        .collect()
}

/// `GET /users/{id}`: the public user with `online` and `lastSeen`; `not_found` otherwise.
pub async fn get(app: &App, user_id: &str) -> Result<User> {
    if !is_ulid(user_id) {
        return Err(ChatError::not_found("user"));
    }
    let (record, online) = tokio::join!(app.store.get_user(user_id), app.directory.is_online(user_id));
    let Some(record) = record? else {
        return Err(ChatError::not_found("user"));
    };
    Ok(User { online: online?, ..record.user.public() })
}

/// `GET /users/online`: online users who share a conversation with the caller, in username order,
/// within the presence bounds (`presence_max_conversations`, `presence_max_room_members`,
/// `presence_max_contacts`).
pub async fn online_contacts(app: &App, caller: &str) -> Result<OnlineUsers> {
    let contacts = presence::contacts(app, caller).await?;
    let online: Vec<String> = futures::stream::iter(contacts)
        .map(|id| async move { app.directory.is_online(&id).await.map(|online| online.then_some(id)) })
        .buffer_unordered(ONLINE_CHECK_CONCURRENCY)
        .collect::<Vec<Result<Option<String>>>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut users = if online.is_empty() { Vec::new() } else { app.directory.public_users(&online).await? };
    for u in &mut users {
        u.online = true;
    }
    users.sort_by_key(|u| u.username.to_ascii_lowercase());
    Ok(OnlineUsers { users })
}

/// Refuses (`unauthorized`) a validly signed token whose user does not exist (deleted, or
/// minted with a leaked key for an invented id). `$connect` asks every time: it writes a
/// connection record and announces presence, so it must know.
pub async fn ensure_exists(app: &App, user_id: &str) -> Result<()> {
    if is_ulid(user_id) && app.store.get_user(user_id).await?.is_some() {
        Ok(())
    } else {
        Err(ChatError::unauthorized("the token's user no longer exists"))
    }
}

/// How long an HTTP caller found to exist is trusted without another read.
pub const KNOWN_USER_SECS: i64 = 60;
const KNOWN_USERS_MAX: usize = 10_000;

/// [`ensure_exists`] for HTTP requests: a user found is remembered by this instance for
/// [`KNOWN_USER_SECS`], so a busy client costs one profile read a minute rather than one per
/// request; a deleted user's access token stops working on HTTP within that minute.
pub async fn ensure_exists_recently(app: &App, user_id: &str) -> Result<()> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let now = crate::domain::time::now().timestamp();
    let fresh = known.lock().map(|k| k.get(user_id).is_some_and(|seen| now - seen < KNOWN_USER_SECS)).unwrap_or(false);
    if fresh {
        return Ok(());
    }
    ensure_exists(app, user_id).await?;
    if let Ok(mut k) = known.lock() {
        if k.len() >= KNOWN_USERS_MAX {
            k.retain(|_, seen| now - *seen < KNOWN_USER_SECS);
            if k.len() >= KNOWN_USERS_MAX {
                k.clear();
            }
        }
        k.insert(user_id.to_string(), now);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::new_id;

    #[test]
    fn prefixes_are_validated_and_lowercased() {
        assert_eq!(search_prefix(Some(" AnN ")).unwrap(), "ann");
        assert!(search_prefix(None).is_err());
        assert!(search_prefix(Some("")).is_err());
        assert!(search_prefix(Some("a b")).is_err());
        assert!(search_prefix(Some("USER#")).is_err());
        assert!(search_prefix(Some(&"a".repeat(33))).is_err());
        assert!(search_prefix(Some(&"a".repeat(32))).is_ok());
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_the_prefix() {
        let user = User {
            id: new_id(),
            username: "Ann.B".into(),
            email: None,
            display_name: "Ann".into(),
            created_at: String::new(),
            last_seen: None,
            online: false,
        };
        let cursor = encode_cursor(&user);
        assert_eq!(decode_cursor(&cursor, "an").unwrap(), ("ann.b".to_string(), user.id.clone()));
        assert!(decode_cursor(&cursor, "bo").is_err());
        assert!(decode_cursor("not base64!", "an").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("x:ann"), "an").is_err());
    }
}
