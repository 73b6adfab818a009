//! Local stand-ins for what AWS runs around the functions: an API Gateway (WebSocket + HTTP +
//! `@connections`) built from template.yaml, the emulator start-up, and the resource bootstrap.
//! Nothing here knows about chat; it only knows API Gateway and the template.

pub mod aws_proxy;
pub mod bootstrap;
pub mod emulator;
pub mod events;
pub mod gateway;
pub mod local;
pub mod schedules;
pub mod sqs_mapping;
pub mod template;
