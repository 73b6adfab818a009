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
