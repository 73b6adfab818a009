//! Push notifications for a new message (docs/events.md, "Push"): every member who is not the
//! sender, has no open connection and has not muted the conversation gets an SNS mobile push on
//! each device with a push token. Members are read a page at a time with their connection sets
//! (one Query and one BatchGetItem per 100 members), devices of the offline ones 16 users at a
//! time. One invocation sends about `CHAT_PUSH_PER_INVOCATION` pushes (2,000) and then hands the
//! member cursor on to the next (`PushHandOff`, an event on the bus), so a big room's work is
//! bounded per invocation and every member is still reached.

use std::collections::HashSet;

use futures::StreamExt;
use serde_json::json;

use crate::App;
use crate::domain::conversation::kind_of_id;
use crate::domain::{ConversationKind, Message, MessageKind};
use crate::error::Result;
use crate::ports::{Published, PushNotifier, PushTarget};

pub const MEMBER_PAGE: usize = 100;
const DEVICE_READS_IN_FLIGHT: usize = 16;
const PUBLISHES_IN_FLIGHT: usize = 32;
pub const BODY_MAX_CHARS: usize = 100;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct PushReport {
    pub sent: usize,
    /// Endpoints SNS reported disabled that were re-enabled and published to again.
    pub refreshed: usize,
    pub failed: usize,
    /// The member cursor handed on to the next invocation (this one reached its budget).
    pub handed_off: Option<String>,
}

/// The notification's text: title = sender (and the group's name), body = the content cut to
/// 100 characters, or what was sent.
pub fn notification_text(sender: &str, group: Option<&str>, message: &Message) -> (String, String) {
    let title = match group {
        Some(name) => format!("{sender} ({name})"),
        None => sender.to_string(),
    };
    let content = message.content.as_deref().filter(|c| !c.trim().is_empty());
    let body = match (content, message.kind) {
        (Some(c), _) => c.chars().take(BODY_MAX_CHARS).collect(),
        (None, MessageKind::Voice) => "sent a voice note".to_string(),
        (None, _) => "sent a file".to_string(),
    };
    (title, body)
}

/// SNS `MessageStructure: json`: one payload per platform, the data beside the alert.
pub fn payload(title: &str, body: &str, message: &Message) -> String {
    let data = json!({"conversationId": message.conversation_id, "messageId": message.id});
    let apns = json!({"aps": {"alert": {"title": title, "body": body}, "sound": "default"}, "data": data});
    let fcm = json!({"notification": {"title": title, "body": body}, "data": data});
    json!({
        "default": body,
        "APNS": apns.to_string(),
        "APNS_SANDBOX": apns.to_string(),
        "GCM": fcm.to_string(),
    })
    .to_string()
}

/// Pushes for `message` to the members after `from` (`None`: from the first member). Pages are
/// whole, so an invocation may pass its budget by one page's devices; then the rest is handed on.
pub async fn notify(app: &App, message: &Message, from: Option<String>) -> Result<PushReport> {
    let mut report = PushReport::default();
    let Some(notifier) = app.notifier.as_deref() else { return Ok(report) };
    let budget = app.config.events.push_per_invocation;
    // A small budget reads small pages, so it is not overshot by a whole 100-member page.
    let page_size = budget.clamp(1, MEMBER_PAGE);
    // The text needs the sender's name (and the group's): read once, and only if someone gets a push.
    let mut payload: Option<String> = None;
    let mut cursor = from;
    loop {
        let (page, next) = app.store.recipients(&message.conversation_id, cursor, page_size).await?;
        let candidates: Vec<String> =
            page.into_iter().filter(|r| !r.muted && r.user_id != message.sender_id).map(|r| r.user_id).collect();
        let online: HashSet<String> =
            app.store.connections_of_users(&candidates).await?.into_iter().map(|(user, _)| user).collect();
        let offline: Vec<String> = candidates.into_iter().filter(|u| !online.contains(u)).collect();
        let reads = offline.into_iter().map(|user| async move { app.store.push_targets(&user).await });
        let targets: Vec<PushTarget> = futures::stream::iter(reads)
            .buffer_unordered(DEVICE_READS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        if payload.is_none() && !targets.is_empty() {
            payload = Some(text_of(app, message).await?);
        }
        let payload = payload.as_deref().unwrap_or_default();
        let pushes = targets.into_iter().map(|target| push_one(app, notifier, target, payload));
        let outcomes: Vec<Outcome> =
            futures::stream::iter(pushes).buffer_unordered(PUBLISHES_IN_FLIGHT).collect().await;
        for outcome in outcomes {
            match outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Refreshed => {
                    report.sent += 1;
                    report.refreshed += 1;
                }
                Outcome::Skipped => {}
                Outcome::Failed => report.failed += 1,
            }
        }
        let Some(next) = next else { break };
        if report.sent + report.failed >= budget {
            match app.push_hand_off.as_deref() {
                Some(hand_off) => {
                    hand_off.hand_off(message, &next).await?;
                    report.handed_off = Some(next);
                    break;
                }
                // An App without a bus (built from bare ports) finishes here, unbounded.
                None => tracing::warn!(message = %message.id, "push budget reached and no bus to hand on to"),
            }
        }
        cursor = Some(next);
    }
    Ok(report)
}

/// The SNS message of `message`: two reads (the sender's profile, a group's META).
async fn text_of(app: &App, message: &Message) -> Result<String> {
    let sender = app.store.get_user(&message.sender_id).await?.map(|r| r.user.display_name);
    let group = match kind_of_id(&message.conversation_id) {
        Some(ConversationKind::Group | ConversationKind::Room) => {
            app.store.get_conversation_meta(&message.conversation_id).await?.and_then(|c| c.name)
        }
        _ => None,
    };
    let (title, body) = notification_text(sender.as_deref().unwrap_or("Someone"), group.as_deref(), message);
    Ok(payload(&title, &body, message))
}

enum Outcome {
    Sent,
    Refreshed,
    /// No platform application for the device's platform.
    Skipped,
    Failed,
}

/// One device: its endpoint (made once per token), the publish, and one refresh if disabled.
async fn push_one(app: &App, notifier: &dyn PushNotifier, target: PushTarget, payload: &str) -> Outcome {
    let Some(application) = app.config.events.application(target.platform) else { return Outcome::Skipped };
    let result = async {
        let endpoint = match &target.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => {
                let endpoint = notifier.create_endpoint(application, &target.token).await?;
                app.store.set_endpoint(&target.user_id, &target.device_id, &target.token, &endpoint).await?;
                endpoint
            }
        };
        match notifier.publish(&endpoint, payload).await? {
            Published::Sent => Ok::<_, crate::error::ChatError>(Outcome::Sent),
            // The platform disabled it; the token is the one the app registered last: retry once.
            Published::Disabled => {
                notifier.enable_endpoint(&endpoint, &target.token).await?;
                Ok(match notifier.publish(&endpoint, payload).await? {
                    Published::Sent => Outcome::Refreshed,
                    Published::Disabled => Outcome::Failed,
                })
            }
        }
    };
    match result.await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(error = %e, user = %target.user_id, device = %target.device_id, "push failed");
            Outcome::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: MessageKind, content: Option<&str>) -> Message {
        Message {
            id: "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
            conversation_id: "g-x".into(),
            sender_id: "s".into(),
            kind,
            content: content.map(str::to_string),
            client_msg_id: None,
            created_at: String::new(),
            edited_at: None,
            deleted: false,
            status: None,
            attachment: None,
        }
    }

    #[test]
    fn titles_and_bodies() {
        let long = "é".repeat(150);
        let (title, body) = notification_text("Ann", Some("Team"), &message(MessageKind::Text, Some(&long)));
        assert_eq!((title.as_str(), body.chars().count()), ("Ann (Team)", 100));
        assert_eq!(
            notification_text("Ann", None, &message(MessageKind::Voice, None)),
            ("Ann".into(), "sent a voice note".into())
        );
        assert_eq!(notification_text("Ann", None, &message(MessageKind::File, None)).1, "sent a file");
        let payload: serde_json::Value =
            serde_json::from_str(&payload("t", "b", &message(MessageKind::Text, Some("b")))).unwrap();
        let apns: serde_json::Value = serde_json::from_str(payload["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["data"]["messageId"], "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(apns["aps"]["alert"]["title"], "t");
    }
}
