//! What every function builds once at init: config, token service, store and pusher.

use std::sync::Arc;

use crate::auth::TokenService;
use crate::aws::{DynamoStore, ManagementApiPusher};
use crate::config::Config;
use crate::error::Result;
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
    /// Reads the environment and builds the AWS clients (endpoint overrides such as
    /// `AWS_ENDPOINT_URL` are honoured by aws-config).
    pub async fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        let sdk = crate::aws::sdk_config().await;
        let mut app = Self::with_sdk_config(config, &sdk)?;
        app.load_jwt_keys(&sdk).await?;
        Ok(app)
    }

    /// With `CHAT_JWT_KEYS_PARAMETER` set, the token service takes its keys from SSM.
    pub async fn load_jwt_keys(&mut self, sdk: &aws_config::SdkConfig) -> Result<()> {
        if let Some(name) = &self.config.jwt_keys_parameter {
            let ring = crate::aws::jwt_keys::load(sdk, name).await?;
            tracing::info!(parameter = %name, kids = ?ring.kids(), "JWT keys loaded");
            let c = &self.config;
            self.tokens = TokenService::with_keys(&ring, &c.jwt_issuer, c.access_token_ttl_secs);
        }
        Ok(())
    }

    pub fn with_sdk_config(config: Config, sdk: &aws_config::SdkConfig) -> Result<Self> {
        let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone()));
        let pusher = ManagementApiPusher::new(sdk, config.management_endpoint.clone());
        // Only a function with a queue URL builds an SQS client (init time stays flat elsewhere).
        let queue =
            config.scheduling.queue_url.clone().map(|url| -> Arc<dyn Queue> {
                Arc::new(crate::aws::SqsQueue::new(aws_sdk_sqs::Client::new(sdk), url))
            });
        let mut app = Self::with_ports(config, store.clone(), Arc::new(pusher), store.clone(), store.clone());
        app.schedules = Some(store);
        app.queue = queue;
        // Each client only where its function needs it (init time stays flat elsewhere).
        let bus = app.config.events.bus.clone().map(|bus| {
            Arc::new(crate::aws::eventbridge::EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(sdk), bus))
        });
        app.events = bus.clone().map(|b| -> Arc<dyn EventPublisher> { b });
        if app.config.events.push_on() {
            app.notifier = Some(Arc::new(crate::aws::sns::SnsNotifier::new(aws_sdk_sns::Client::new(sdk))));
            app.push_hand_off = bus.map(|b| -> Arc<dyn PushHandOff> { b });
        }
        app.objects = app
            .config
            .attachments_bucket
            .clone()
            .map(|bucket| -> Arc<dyn ObjectStore> { Arc::new(crate::aws::S3Objects::new(sdk, bucket)) });
        Ok(app)
    }

    pub fn with_ports(
        config: Config,
        store: Arc<dyn Store>,
        pusher: Arc<dyn Pusher>,
        directory: Arc<dyn Directory>,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        let (issuer, ttl) = (&config.jwt_issuer, config.access_token_ttl_secs);
        // Replaced by the SSM keys in `load_jwt_keys` when a parameter is named.
        let tokens = if config.jwt_secret.is_empty() {
            TokenService::without_keys(issuer, ttl)
        } else {
            TokenService::new(&config.jwt_secret, issuer, ttl)
        };
        Self {
            config: Arc::new(config),
            tokens,
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
