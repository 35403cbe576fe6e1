//! Fixture tools for the integration tests. A test binary links them by naming this crate,
//! as a user links a crate of tools.

pub mod fixtures;
