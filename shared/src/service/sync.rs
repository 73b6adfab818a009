//! `sync`: what a client missed while offline, across all its conversations, in id order.
//!
//! Each conversation is read from a lower bound: `since` when given, else the caller's delivered
//! pointer there; never below its cleared-history point, and after `cursor` on later pages. The
//! pages of all conversations are merged by id (ULIDs sort by time across conversations), so a
//! page holds the globally oldest missed messages and `cursor` (the last id returned) resumes
//! exactly after them. The first page also holds the messages up to `LATE_LANDING_MS` older
//! than its lower bound that were stored after the bound's time (an id derived from a client's
//! ULID is up to that much older than its write): the client may not have seen them, and one it
//! has seen comes again (clients dedupe by id, §6).
//!
//! A page is cut by size as well as by count: API Gateway refuses a message over 128 KB
//! (`PayloadTooLargeException`), so a page holds messages only while its JSON stays under
//! [`PAGE_BYTES`]; `hasMore` and `cursor` then lead to the rest (docs/protocol.md, "sync").

use futures::StreamExt;

use crate::App;
use crate::domain::conversation::{ConversationKind, kind_of_id};
use crate::domain::id::parse_ulid;
use crate::domain::message::validate_pointer_id;
use crate::domain::page::PageLimit;
use crate::domain::{Membership, Message};
use crate::error::Result;
use crate::ports::HistoryPage;
use crate::protocol::ws::Receipt;

pub const SYNC_LIMIT: PageLimit = PageLimit::new(100, 100);
/// Conversations read at once.
const CONCURRENT_READS: usize = 32;
/// The JSON a page's messages and receipts may take: API Gateway's 128 KB per message, less
/// room for the envelope (`type`, a `requestId` of at most 128 bytes, `cursor`, `hasMore`).
pub const PAGE_BYTES: usize = 128 * 1024 - 2 * 1024;
/// Of [`PAGE_BYTES`], what the receipts of a first page may take (one per other member and
/// pointer); beyond it the oldest are left out (every pointer is in `GET /conversations/{id}`).
pub const RECEIPT_BYTES: usize = 32 * 1024;
/// The smallest ULID: "from the beginning".
const ZERO_ID: &str = "00000000000000000000000000";

pub struct SyncPage {
    pub messages: Vec<Message>,
    pub receipts: Vec<Receipt>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

pub async fn sync(
    app: &App,
    caller: &str,
    since: Option<&str>,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<SyncPage> {
    let limit = SYNC_LIMIT.check(limit)?;
    for id in [since, cursor].into_iter().flatten() {
        validate_pointer_id(id)?;
    }
    let memberships = app.store.memberships(caller).await?;
    let reads = memberships
        .iter()
        .map(|m| {
            let bound = lower_bound(m, since, cursor).unwrap_or(ZERO_ID).to_string();
            // The first page also brings what landed behind its lower bound after that bound's
            // time (a derived id, domain/message_id.rs); later pages go on exactly after `cursor`.
            let page = if cursor.is_none() { HistoryPage::AfterOrLate(bound) } else { HistoryPage::After(bound) };
            let store = app.store.clone();
            let conversation_id = m.conversation_id.clone();
            let floor = m.member.cleared_before.clone();
            async move { store.list_messages(&conversation_id, &page, floor.as_deref(), limit).await }
        })
        .collect();
    // Receipts once per sync (on its first page): where the other members' pointers stand; read
    // alongside the pages.
    let receipts =
        async { if cursor.is_none() { receipts(app, caller, &memberships, since).await } else { Ok(Vec::new()) } };
    let (pages, receipts) = tokio::join!(bounded(reads, CONCURRENT_READS), receipts);
    let receipts = fit_receipts(receipts?);
    let mut messages = Vec::new();
    let mut has_more = false;
    for page in pages {
        let (page, more) = page?;
        has_more |= more;
        messages.extend(page);
    }
    messages.sort_by(|a, b| a.id.cmp(&b.id));
    if messages.len() > limit {
        has_more = true;
        messages.truncate(limit);
    }
    let budget = PAGE_BYTES - json_len(&receipts);
    let fitting = fit_count(&messages, budget);
    if fitting < messages.len() {
        has_more = true;
        messages.truncate(fitting);
    }
    // Never behind where the caller stood (a page of late messages only ends behind `since`).
    let next = [messages.last().map(|m| m.id.as_str()), cursor, since].into_iter().flatten().max().map(str::to_string);
    let messages = crate::service::attachments::signed(app, messages).await?;
    Ok(SyncPage { messages, receipts, has_more, cursor: next })
}

fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX / 2)
}

/// How many of `messages` (from the first) fit in `budget` bytes of a JSON array; at least one,
/// so a page always moves the cursor (one message is at most ~25 KB: 4,000 characters escaped).
fn fit_count<T: serde::Serialize>(messages: &[T], budget: usize) -> usize {
    let mut used = 2;
    for (i, m) in messages.iter().enumerate() {
        used += json_len(m) + 1;
        if used > budget {
            return i.max(1);
        }
    }
    messages.len()
}

/// The newest receipts that fit in [`RECEIPT_BYTES`], oldest first.
fn fit_receipts(mut receipts: Vec<Receipt>) -> Vec<Receipt> {
    let mut used = 2;
    let mut keep = 0;
    for r in receipts.iter().rev() {
        used += json_len(r) + 1;
        if used > RECEIPT_BYTES {
            break;
        }
        keep += 1;
    }
    if keep < receipts.len() {
        tracing::info!(left_out = receipts.len() - keep, "sync receipts cut to fit the page");
        receipts.drain(..receipts.len() - keep);
    }
    receipts
}

/// The id a conversation is read after, or None for "from the start".
fn lower_bound<'a>(m: &'a Membership, since: Option<&'a str>, cursor: Option<&'a str>) -> Option<&'a str> {
    let start = since.or(m.member.last_delivered_id.as_deref());
    [start, m.member.cleared_before.as_deref(), cursor].into_iter().flatten().max()
}

/// Other members' delivered and read pointers in the caller's direct and group conversations,
/// newer than `since` when given (rooms are left out: their pointers are not shown).
async fn receipts(app: &App, caller: &str, memberships: &[Membership], since: Option<&str>) -> Result<Vec<Receipt>> {
    let since_at = since.and_then(parse_ulid).map(crate::domain::time::rfc3339_of_ulid);
    let reads = memberships
        .iter()
        .filter(|m| kind_of_id(&m.conversation_id) != Some(ConversationKind::Room))
        .map(|m| {
            let store = app.store.clone();
            let id = m.conversation_id.clone();
            async move {
                let answer = store.get_conversation(&id).await;
                (id, answer)
            }
        })
        .collect();
    let answers = bounded(reads, CONCURRENT_READS).await;
    let mut out = Vec::new();
    for (conversation_id, answer) in answers {
        let Some((_, members)) = answer? else { continue };
        for member in members.into_iter().filter(|m| m.user_id != caller) {
            let pointers = [
                ("delivered", member.last_delivered_id, member.last_delivered_at),
                ("read", member.last_read_id, member.last_read_at),
            ];
            for (status, id, at) in pointers {
                let (Some(message_id), Some(at)) = (id, at) else { continue };
                if since_at.as_ref().is_some_and(|s| at <= *s) {
                    continue;
                }
                out.push(Receipt {
                    conversation_id: conversation_id.clone(),
                    user_id: member.user_id.clone(),
                    message_id,
                    status,
                    at,
                });
            }
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(out)
}

/// Runs `futures` at most `limit` at a time; answers in their order. (Built from a list of
/// futures rather than a closure over a stream: closures returning borrowing futures trip the
/// compiler's Send inference in async handlers.)
async fn bounded<F: std::future::Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    futures::stream::iter(futures).buffered(limit).collect().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Member, MemberRole};

    fn membership(delivered: Option<&str>, cleared: Option<&str>) -> Membership {
        Membership {
            conversation_id: "g-1".into(),
            member: Member {
                user_id: "u".into(),
                role: MemberRole::Member,
                joined_at: String::new(),
                last_delivered_id: delivered.map(Into::into),
                last_read_id: None,
                last_delivered_at: None,
                last_read_at: None,
                cleared_before: cleared.map(Into::into),
            },
            muted: false,
        }
    }

    #[test]
    fn pages_are_cut_by_size_and_always_move() {
        let long = vec!["x".repeat(4000); 40];
        let n = fit_count(&long, PAGE_BYTES);
        assert!(n > 0 && n < 40, "{n}");
        assert!(json_len(&long[..n]) <= PAGE_BYTES);
        assert_eq!(fit_count(&long[..3], PAGE_BYTES), 3);
        assert_eq!(fit_count(&long, 10), 1, "one message even when it alone is over");
    }

    #[test]
    fn bounds_take_the_highest_pointer() {
        let m = membership(Some("05"), None);
        assert_eq!(lower_bound(&m, None, None), Some("05"));
        assert_eq!(lower_bound(&m, Some("02"), None), Some("02"), "since replaces the delivered pointer");
        assert_eq!(lower_bound(&m, Some("02"), Some("04")), Some("04"), "the cursor resumes a page");
        let m = membership(None, Some("07"));
        assert_eq!(lower_bound(&m, Some("02"), None), Some("07"), "never below a cleared history");
        assert_eq!(lower_bound(&membership(None, None), None, None), None);
    }
}
