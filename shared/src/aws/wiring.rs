//! The App over the AWS adapters: what a function builds at init from the environment.

use std::sync::Arc;

use crate::App;
use crate::auth::TokenService;
use crate::aws::{DynamoStore, ManagementApiPusher};
use crate::config::Config;
use crate::error::Result;
use crate::ports::{EventPublisher, ObjectStore, PushHandOff, Queue};

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
        if let Some(name) = &self.config.tokens.jwt_keys_parameter {
            let ring = crate::aws::jwt_keys::load(sdk, name).await?;
            tracing::info!(parameter = %name, kids = ?ring.kids(), "JWT keys loaded");
            let c = &self.config.tokens;
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
}
