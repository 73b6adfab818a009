//! Wire types: WebSocket frames and events, REST bodies (CONTRACT.md §4, §5).

pub mod directory;
pub mod rest;
pub mod scheduled;
pub mod ws;
