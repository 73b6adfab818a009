//! AWS adapters behind the ports: the DynamoDB store (every storage port), the Management API
//! pusher, the SQS queue of scheduled messages.

pub mod dynamo;
pub mod eventbridge;
pub mod keys;
pub mod pusher;
pub mod queue;
pub mod sns;

pub use dynamo::DynamoStore;
pub use pusher::ManagementApiPusher;
pub use queue::SqsQueue;
