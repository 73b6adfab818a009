//! AWS adapters behind the ports: the DynamoDB store (every storage port), the Management API
//! pusher, the SQS queue of scheduled messages.

pub mod dynamo;
pub mod eventbridge;
pub mod jwt_keys;
pub mod keys;
pub mod pusher;
pub mod queue;
pub mod s3;
pub mod sns;
mod wiring;

pub use dynamo::DynamoStore;
pub use pusher::ManagementApiPusher;
pub use queue::SqsQueue;
pub use s3::S3Objects;

mod http_client {
    //! The SDK's HTTPS client (hyper 1 + rustls with aws-lc, what `default-https-client` selects),
    //! with one difference: its root certificates are loaded when it first connects, not when a
    //! client is built. The SDK's own client builds its connector in
    //! `validate_base_client_config`, at client construction, "so that native certs load at
    //! client initialization time": reading ~150 files under /etc/ssl/certs, 57 % of every
    //! function's init (bench/results.md, "Init per function"). A function's first request then
    //! pays it once; `ws-authorizer`, which makes no AWS call, never does.

    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_runtime_api::shared::IntoShared;

    #[derive(Debug)]
    struct LazyRoots(SharedHttpClient);

    impl HttpClient for LazyRoots {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            self.0.http_connector(settings, components)
        }
        // `validate_base_client_config` keeps its default (nothing): that is the whole point.
    }

    pub fn https() -> SharedHttpClient {
        let inner =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https();
        LazyRoots(inner).into_shared()
    }
}

/// The SDK configuration every function builds once at init: the environment's region,
/// credentials and endpoint overrides (`AWS_ENDPOINT_URL`), with the HTTPS client above.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client::https()).load().await
}
