//! Remote execution on the Arcade platform: [`ArcadeClient`] speaks the Engine API, whose wire
//! format ([`wire`]) FACT's own server answers too, under `/arcade` (docs/ARCHITECTURE.md,
//! "Engine API" and "Remote execution").

mod breaker;
mod client;
pub(crate) mod convert;
mod error;
mod gateway;
pub(crate) mod kinds;
mod retry;
pub mod wire;
#[cfg(feature = "server")]
pub mod worker;

pub use breaker::{CircuitState, DEFAULT_BREAKER_COOL_DOWN, DEFAULT_BREAKER_FAILURES};
pub use client::{
    API_KEY_ENV, ArcadeClient, ArcadeClientBuilder, BASE_URL_ENV, DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_TIMEOUT, MAX_AUTH_WAIT, MAX_LISTED_TOOLS, ToolQuery,
};
pub use error::ArcadeError;
pub use gateway::{
    ArcadeGateway, ArcadeHealth, DEFAULT_REFRESH_INTERVAL, DEFAULT_REMOTE_TOOL_TIMEOUT,
    EXECUTION_MODE_ENV, ExecutionMode, REFRESH_SECONDS_ENV, Side, TOOLKITS_ENV,
};
pub(crate) use gateway::{GatewayState, RemoteTool};
pub use retry::{Sleeper, TokioSleeper};
