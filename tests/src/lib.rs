//! Fixture tools for the integration tests, and the services they run against. A test binary
//! links the tools by naming this crate, as a user links a crate of tools.

pub mod audit_sinks;
pub mod audit_tables;
pub mod captured_log;
pub mod cluster;
pub mod fixtures;
pub mod golden;
pub mod grants;
pub mod oauth_provider;
pub mod openai_strict;
pub mod private_postgres;
pub mod property;
pub mod redis_server;
pub mod scratch;
pub mod serve_process;
pub mod services;
pub mod thin_router;
