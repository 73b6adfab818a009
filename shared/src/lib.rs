//! The chat backend's shared library: domain rules, use cases, the ports they need, and the AWS
//! adapters behind those ports. Lambda entry points (functions/) and the local gateway (infra/)
//! both build an [`App`] and call the same use cases. The AWS adapters (and the SDK) are behind the
//! default feature `aws`; without it the crate is the domain, the use cases and the token service,
//! which is all the `$connect` authorizer links (functions/authorizer/).

pub mod app;
pub mod auth;
#[cfg(feature = "aws")]
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
