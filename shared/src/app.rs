//! What every function builds once at init: config, token service, store and pusher.

use std::sync::Arc;

use crate::auth::TokenService;
use crate::aws::{DynamoStore, ManagementApiPusher};
use crate::config::Config;
use crate::error::Result;
use crate::ports::{Directory, ObjectStore, Pusher, Queue, RateLimiter, ScheduleStore, Store};

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
    /// The attachments bucket (`CHAT_ATTACHMENTS_BUCKET`); `None`: uploads are refused.
    pub objects: Option<Arc<dyn ObjectStore>>,
}

impl App {
    /// Reads the environment and builds the AWS clients (endpoint overrides such as
    /// `AWS_ENDPOINT_URL` are honoured by aws-config).
    pub async fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::with_sdk_config(config, &sdk)
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
        let tokens = TokenService::new(&config.jwt_secret, &config.jwt_issuer, config.access_token_ttl_secs);
        Self {
            config: Arc::new(config),
            tokens,
            store,
            pusher,
            directory,
            limiter,
            schedules: None,
            queue: None,
            objects: None,
        }
    }
}
