//! AWS adapters behind the ports: the DynamoDB store (every storage port), the Management API
//! pusher, the SQS queue of scheduled messages.

pub mod dynamo;
pub mod keys;
pub mod pusher;
pub mod queue;
pub mod s3;

pub use dynamo::DynamoStore;
pub use pusher::ManagementApiPusher;
pub use queue::SqsQueue;
pub use s3::S3Objects;
