//! The AWS account and region the local stand-ins claim to run in: they appear in ARNs and in
//! the events API Gateway, EventBridge and SQS would send.

pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The credentials the local stand-ins run with and accept: the environment's
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) if set, else `local`/`local` (moto accepts any).
pub fn local_credentials() -> (String, String) {
    match std::env::var("AWS_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty()) {
        Some(key) => (key, std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default()),
        None => ("local".to_string(), "local".to_string()),
    }
}

/// The SDK app name (`x-amz-user-agent: … app/chat-local-emulation`) of the requests the local
/// stand-ins make for AWS itself (Lambda's stream and queue pollers, EventBridge's deliveries,
/// the gateway's resource checks), so a counting proxy keeps them apart from the functions'.
pub const EMULATION_APP: &str = "chat-local-emulation";

/// `sdk` with the emulation's app name.
pub fn emulation_sdk_config(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    with_app_name(sdk, EMULATION_APP.to_string())
}

/// `sdk` as one function's (`chat-fn-<binary>`), so a counting proxy can tell its requests from
/// the others' (an asynchronous consumer's from the request path's, say).
pub fn function_sdk_config(sdk: &aws_config::SdkConfig, binary: &str) -> aws_config::SdkConfig {
    with_app_name(sdk, format!("chat-fn-{binary}"))
}

fn with_app_name(sdk: &aws_config::SdkConfig, name: String) -> aws_config::SdkConfig {
    let name = aws_config::AppName::new(name).expect("a valid app name");
    sdk.to_builder().app_name(name).build()
}

/// The SDK app name a request's user-agent headers carry (`""` when none).
pub fn caller(headers: &axum::http::HeaderMap) -> String {
    ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .flat_map(|v| v.split(' '))
        .find_map(|part| part.strip_prefix("app/"))
        .unwrap_or_default()
        .to_string()
}
