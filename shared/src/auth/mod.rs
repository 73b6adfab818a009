//! Credentials: access tokens (JWT), password hashes (argon2id), refresh tokens (opaque, hashed).

pub mod password;
pub mod refresh;
pub mod tokens;

pub use tokens::{AccessClaims, KeyRing, TokenService};
