//! Domain events and push notifications (template.yaml gives the events function the bus and
//! the push function the platform applications).

use crate::domain::device::Platform;

#[derive(Debug, Clone, Default)]
pub struct EventsConfig {
    /// The EventBridge bus of domain events (`CHAT_EVENT_BUS`); only the events function has it.
    pub bus: Option<String>,
    /// SNS platform application for ios devices (`CHAT_APNS_PLATFORM_APPLICATION_ARN`).
    pub apns_application: Option<String>,
    /// SNS platform application for android and web devices (`CHAT_FCM_PLATFORM_APPLICATION_ARN`).
    pub fcm_application: Option<String>,
}

impl EventsConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
        Self {
            bus: var("CHAT_EVENT_BUS"),
            apns_application: var("CHAT_APNS_PLATFORM_APPLICATION_ARN"),
            fcm_application: var("CHAT_FCM_PLATFORM_APPLICATION_ARN"),
        }
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
