//! Wires a whole local backend: AWS endpoint, table, App, gateway. Used by `local-gateway` (what
//! `make dev` runs) and by the end-to-end tests, so both exercise the same set-up.

use std::path::Path;

use chat::{App, Config};
use tokio::net::TcpListener;

use crate::gateway::{GatewayOptions, RunningGateway, serve};
use crate::template::Template;

/// A development-only signing secret; `make dev` warns when it is used.
pub const DEV_JWT_SECRET: &str = "local-development-secret-change-me-0123456789";

/// The SDK configuration for `endpoint`, with dummy credentials if none are set (moto accepts any).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"));
    }
    loader.load().await
}

pub struct LocalBackend {
    pub gateway: RunningGateway,
    pub app: App,
    pub sdk: aws_config::SdkConfig,
}

/// Creates the table of `template` on `endpoint` as `config.table` and serves the gateway on the
/// two listeners. `config.management_endpoint` is set to the gateway's own WebSocket address.
pub async fn start(
    template_path: &Path,
    endpoint: &str,
    mut config: Config,
    ws_listener: TcpListener,
    http_listener: TcpListener,
) -> Result<LocalBackend, String> {
    let template = Template::load(template_path)?;
    let sdk = sdk_config(endpoint).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    crate::bootstrap::create_table(&dynamo, &config.table, &template.table).await?;
    let ws_addr = ws_listener.local_addr().map_err(|e| e.to_string())?;
    config.management_endpoint = Some(format!("http://{ws_addr}"));
    let app = App::with_sdk_config(config, &sdk).map_err(|e| e.to_string())?;
    let gateway = serve(app.clone(), template, GatewayOptions::default(), ws_listener, http_listener)
        .await
        .map_err(|e| e.to_string())?;
    Ok(LocalBackend { gateway, app, sdk })
}
