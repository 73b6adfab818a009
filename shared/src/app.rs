//! What every function builds once at init: config, token service, store and pusher. The ports
//! are plugged in here; the AWS adapters behind them are wired in `aws/wiring.rs` (feature `aws`).

use std::sync::Arc;

use crate::auth::TokenService;
use crate::config::Config;
use crate::ports::{
    Directory, EventPublisher, ObjectStore, PushHandOff, PushNotifier, Pusher, Queue, RateLimiter, ScheduleStore, Store,
};

#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub tokens: TokenService,
    pub store: Arc<dyn Store>,
    pub pusher: Arc<dyn Pusher>,
    /// User search, presence and stats reads and counters (same table as `store`).
    pub directory: Arc<dyn Directory>,
    /// Fixed-window rate-limit counters (same table as `store`).
    pub limiter: Arc<dyn RateLimiter>,
    /// Scheduled and automated messages; `None` in an App built from bare ports.
    pub schedules: Option<Arc<dyn ScheduleStore>>,
    /// The scheduled-messages queue; only the dispatcher has one (`CHAT_SCHEDULE_QUEUE_URL`).
    pub queue: Option<Arc<dyn Queue>>,
    /// The bus of domain events; only the events function has one (`CHAT_EVENT_BUS`).
    pub events: Option<Arc<dyn EventPublisher>>,
    /// SNS mobile push; only the push function has it (a platform application ARN is set).
    pub notifier: Option<Arc<dyn PushNotifier>>,
    /// Where the push function hands on the rest of a big conversation (the bus, `CHAT_EVENT_BUS`).
    pub push_hand_off: Option<Arc<dyn PushHandOff>>,
    /// The attachments bucket (`CHAT_ATTACHMENTS_BUCKET`); `None`: uploads are refused.
    pub objects: Option<Arc<dyn ObjectStore>>,
}

impl App {
    pub fn with_ports(
        config: Config,
        store: Arc<dyn Store>,
        pusher: Arc<dyn Pusher>,
        directory: Arc<dyn Directory>,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        Self {
            // Replaced by the SSM keys in `load_jwt_keys` when a parameter is named.
            tokens: TokenService::from_config(&config.tokens),
            config: Arc::new(config),
            store,
            pusher,
            directory,
            limiter,
            schedules: None,
            queue: None,
            events: None,
            notifier: None,
            push_hand_off: None,
            objects: None,
        }
    }
}
