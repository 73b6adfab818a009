//! Local stand-ins for what AWS runs around the functions: an API Gateway (WebSocket + HTTP +
//! `@connections`) built from template.yaml, EventBridge schedules and SQS event-source mappings,
//! the emulator start-up, and the resource bootstrap. None of it knows about chat: it invokes
//! functions by name through [`invoke::Invoke`]. Only `local.rs` wires the chat's functions in.

pub mod account;
pub mod aws_proxy;
pub mod bootstrap;
pub mod bus;
pub mod emulator;
pub mod gateway;
pub mod invoke;
pub mod local;
pub mod pattern;
pub mod pricing;
pub mod process;
pub mod recovery;
pub mod restore;
pub mod schedules;
pub mod sqs_mapping;
pub mod streams;
pub mod template;
