//! The AWS account and region the local stand-ins claim to run in: they appear in ARNs and in
//! the events API Gateway, EventBridge and SQS would send.

pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";
