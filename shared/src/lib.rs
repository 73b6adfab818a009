//! The chat backend's shared library: domain rules, use cases, the ports they need, and the AWS
//! adapters behind those ports. Lambda entry points (functions/) and the local gateway (infra/)
//! both build an [`App`] and call the same use cases.

pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod openapi;
pub mod ports;
pub mod protocol;
pub mod service;
pub mod telemetry;

pub use app::App;
pub use config::Config;
pub use error::{ChatError, ErrorCode};
