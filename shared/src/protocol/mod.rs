//! Wire types: WebSocket frames and events, REST bodies (docs/protocol.md).

pub mod devices;
pub mod directory;
pub mod rest;
pub mod scheduled;
pub mod ws;
