//! `PushNotifier` on SNS mobile push: one platform endpoint per device token (CreatePlatformEndpoint
//! returns the existing one for a known token), re-enabled with SetEndpointAttributes when the
//! platform disabled it, and Publish with per-platform payloads (`MessageStructure: json`).

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;

use crate::error::{ChatError, Result};
use crate::ports::{Published, PushNotifier};

pub struct SnsNotifier {
    client: Client,
}

impl SnsNotifier {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl PushNotifier for SnsNotifier {
    async fn create_endpoint(&self, application: &str, token: &str) -> Result<String> {
        let out = self
            .client
            .create_platform_endpoint()
            .platform_application_arn(application)
            .token(token)
            .send()
            .await
            .map_err(|e| ChatError::internal(DisplayErrorContext(e)))?;
        out.endpoint_arn.ok_or_else(|| ChatError::internal("CreatePlatformEndpoint answered no EndpointArn"))
    }

    async fn enable_endpoint(&self, endpoint: &str, token: &str) -> Result<()> {
        self.client
            .set_endpoint_attributes()
            .endpoint_arn(endpoint)
            .attributes("Enabled", "true")
            .attributes("Token", token)
            .send()
            .await
            .map_err(|e| ChatError::internal(DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn publish(&self, endpoint: &str, message: &str) -> Result<Published> {
        match self.client.publish().target_arn(endpoint).message(message).message_structure("json").send().await {
            Ok(_) => Ok(Published::Sent),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_endpoint_disabled_exception()) => {
                Ok(Published::Disabled)
            }
            Err(e) => Err(ChatError::internal(DisplayErrorContext(e))),
        }
    }
}
