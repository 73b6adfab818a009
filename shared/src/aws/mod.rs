//! AWS adapters behind the ports: DynamoDB store, Management API pusher.

pub mod dynamo;
pub mod keys;
pub mod pusher;
pub mod queue;

pub use dynamo::DynamoStore;
pub use pusher::ManagementApiPusher;
pub use queue::SqsQueue;
