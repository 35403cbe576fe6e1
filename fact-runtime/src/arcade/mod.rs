//! Remote execution on the Arcade platform: [`ArcadeClient`] speaks the Engine API, whose wire
//! format ([`wire`]) FACT's own server answers too, under `/arcade` (docs/ARCHITECTURE.md,
//! "Engine API" and "Remote execution").

mod client;
pub(crate) mod convert;
mod error;
pub(crate) mod kinds;
mod retry;
pub mod wire;

pub use client::{
    API_KEY_ENV, ArcadeClient, ArcadeClientBuilder, BASE_URL_ENV, DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT,
    MAX_AUTH_WAIT, MAX_LISTED_TOOLS, ToolQuery,
};
pub use error::ArcadeError;
pub use retry::{Sleeper, TokioSleeper};
