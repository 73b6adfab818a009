//! Domain events and push notifications (template.yaml gives the events function the bus and
//! the push function the platform applications).

use crate::domain::device::Platform;
use crate::error::{ChatError, Result};

/// Pushes one invocation of the push function sends before it hands the rest on (docs/events.md).
pub const DEFAULT_PUSH_PER_INVOCATION: usize = 2_000;

#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// The EventBridge bus of domain events (`CHAT_EVENT_BUS`); only the events function has it.
    pub bus: Option<String>,
    /// SNS platform application for ios devices (`CHAT_APNS_PLATFORM_APPLICATION_ARN`).
    pub apns_application: Option<String>,
    /// SNS platform application for android and web devices (`CHAT_FCM_PLATFORM_APPLICATION_ARN`).
    pub fcm_application: Option<String>,
    /// Pushes per invocation (`CHAT_PUSH_PER_INVOCATION`): a bigger conversation is finished by
    /// continuations on the bus, each with the member cursor where the last one stopped.
    pub push_per_invocation: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            bus: None,
            apns_application: None,
            fcm_application: None,
            push_per_invocation: DEFAULT_PUSH_PER_INVOCATION,
        }
    }
}

impl EventsConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let push_per_invocation = match var("CHAT_PUSH_PER_INVOCATION") {
            None => DEFAULT_PUSH_PER_INVOCATION,
            Some(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ChatError::invalid(format!("CHAT_PUSH_PER_INVOCATION must be a whole number of at least 1, got {v:?}"))
            })?,
        };
        Ok(Self {
            bus: var("CHAT_EVENT_BUS"),
            apns_application: var("CHAT_APNS_PLATFORM_APPLICATION_ARN"),
            fcm_application: var("CHAT_FCM_PLATFORM_APPLICATION_ARN"),
            push_per_invocation,
        })
    }

    /// The platform application that reaches devices of `platform`, if one is configured.
    pub fn application(&self, platform: Platform) -> Option<&str> {
        match platform {
            Platform::Ios => self.apns_application.as_deref(),
            Platform::Android | Platform::Web => self.fcm_application.as_deref(),
        }
    }

    pub fn push_on(&self) -> bool {
        self.apns_application.is_some() || self.fcm_application.is_some()
    }
}
