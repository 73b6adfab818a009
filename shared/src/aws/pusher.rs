//! Pushes through the API Gateway Management API (`POST @connections/{id}`).

use std::sync::OnceLock;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::DisplayErrorContext;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::ports::{PushOutcome, Pusher};

/// The Management API methods this adapter calls (`post_to_connection` only; no GetConnection,
/// no DeleteConnection): template.yaml grants each function that pushes exactly these, and a
/// test of the template holds it to that.
pub const MANAGEMENT_API_METHODS: [&str; 1] = ["POST"];

pub struct ManagementApiPusher {
    sdk: aws_config::SdkConfig,
    client: OnceLock<Client>,
}

impl ManagementApiPusher {
    /// With `endpoint` set (template.yaml passes `https://{api}.execute-api.{region}.amazonaws.com/{stage}`,
    /// the local gateway its own address) the client is built now; otherwise from the first event.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: Option<String>) -> Self {
        let pusher = Self { sdk: sdk.clone(), client: OnceLock::new() };
        if let Some(endpoint) = endpoint {
            let _ = pusher.client.set(pusher.build(&endpoint));
        }
        pusher
    }

    fn build(&self, endpoint: &str) -> Client {
        // Always an explicit endpoint: with AWS_ENDPOINT_URL set (moto, LocalStack) the SDK would
        // otherwise post to the emulator instead of the gateway.
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(&self.sdk)
            .endpoint_url(endpoint.trim_end_matches('/'))
            .build();
        Client::from_conf(config)
    }
}

#[async_trait]
impl Pusher for ManagementApiPusher {
    async fn push(&self, connection_id: &str, payload: &str) -> PushOutcome {
        let Some(client) = self.client.get() else {
            return PushOutcome::Failed("no Management API endpoint: set CHAT_MANAGEMENT_ENDPOINT".into());
        };
        let result = client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload.as_bytes().to_vec()))
            .send()
            .await;
        match result {
            Ok(_) => PushOutcome::Delivered,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let service = e.as_service_error();
                if service.is_some_and(|se| se.is_gone_exception()) || status == Some(410) {
                    PushOutcome::Gone
                } else if service.is_some_and(|se| se.is_payload_too_large_exception()) || status == Some(413) {
                    PushOutcome::TooLarge
                } else if status.is_none_or(|s| s == 429 || s >= 500)
                    || service.is_some_and(|se| se.is_limit_exceeded_exception())
                {
                    // No answer at all (timeout, connection refused or reset) or a throttle/5xx.
                    PushOutcome::Retryable(DisplayErrorContext(e).to_string())
                } else {
                    PushOutcome::Failed(DisplayErrorContext(e).to_string())
                }
            }
        }
    }

    fn bind_endpoint(&self, domain_name: &str, stage: &str) {
        if self.client.get().is_none() && !domain_name.is_empty() {
            let endpoint = if stage.is_empty() || stage == "$default" {
                format!("https://{domain_name}")
            } else {
                format!("https://{domain_name}/{stage}")
            };
            let _ = self.client.set(self.build(&endpoint));
        }
    }
}
