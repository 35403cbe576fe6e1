//! FACT as an Arcade worker: the Engine lists a worker's tools and runs them through it over
//! HTTP. The server answers `GET /worker/health`, `GET /worker/tools` and
//! `POST /worker/tools/invoke` when [`WORKER_SECRET_ENV`] is set
//! ([`ServerConfig::arcade_worker_secret`](crate::server::ServerConfig::arcade_worker_secret));
//! this module holds the wire format ([`wire`]), the listing of a tool, and the Engine's
//! token check ([`WorkerSecret`]) (docs/ARCHITECTURE.md, "Arcade worker").

pub(crate) mod definition;
mod token;
pub mod wire;

pub use token::{
    AUDIENCE, MIN_SECRET_BYTES, TOKEN_VERSION, TokenRefusal, WORKER_SECRET_ENV, WorkerSecret,
    WorkerSecretError,
};
