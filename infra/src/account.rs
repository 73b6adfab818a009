//! The AWS account and region the local stand-ins claim to run in: they appear in ARNs and in
//! the events API Gateway, EventBridge and SQS would send.

pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The local WebSocket API's id (`requestContext.apiId`, and the `${WebSocketApi}` of ARNs).
pub const WEBSOCKET_API_ID: &str = "local";

/// The credentials the local stand-ins run with and accept: the environment's
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) if set, else `local`/`local` (moto accepts any).
pub fn local_credentials() -> (String, String) {
    match std::env::var("AWS_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty()) {
        Some(key) => (key, std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default()),
        None => ("local".to_string(), "local".to_string()),
    }
}

/// The credentials of one function's role (by its logical id in template.yaml): each function
/// signs with its own, so `@connections` can tell who calls and apply that function's policy.
/// Derived from the logical id alone, so a function run as a process gets them as
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` from the same function. The emulator accepts any key
/// (moto answers for its default account when it does not know the key).
pub fn function_credentials(logical_id: &str) -> (String, String) {
    let key: String = logical_id.chars().filter(char::is_ascii_alphanumeric).collect();
    (format!("LOCAL{}", key.to_ascii_uppercase()), format!("local-secret-{logical_id}"))
}

/// The SDK app name (`x-amz-user-agent: … app/chat-local-emulation`) of the requests the local
/// stand-ins make for AWS itself (Lambda's stream and queue pollers, EventBridge's deliveries,
/// the gateway's resource checks), so a counting proxy keeps them apart from the functions'.
pub const EMULATION_APP: &str = "chat-local-emulation";

/// `sdk` with the emulation's app name.
pub fn emulation_sdk_config(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    with_app_name(sdk, EMULATION_APP.to_string())
}

/// `sdk` as one function's: its app name (`chat-fn-<binary>`), so a counting proxy can tell its
/// requests from the others' (an asynchronous consumer's from the request path's, say), and its
/// own credentials (`function_credentials`), so what it signs is signed as its role.
pub fn function_sdk_config(sdk: &aws_config::SdkConfig, binary: &str, logical_id: &str) -> aws_config::SdkConfig {
    let (key, secret) = function_credentials(logical_id);
    let credentials = aws_credential_types::Credentials::new(key, secret, None, None, "local-function-role");
    let sdk = sdk
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .build();
    with_app_name(&sdk, format!("chat-fn-{binary}"))
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
