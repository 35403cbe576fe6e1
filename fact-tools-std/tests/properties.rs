//! Property tests of the stages of the standard tools that read untrusted input: each
//! property states a security promise, checked on generated input against an oracle written
//! here, outside the code under test.
//!
//! - SQL (`properties/sql.rs`): a statement the guard accepts changes no byte of the database,
//!   even on a writable connection; no statement through `SQL.Query` changes it or reads a
//!   table off the allow-list; plain reads of the allowed tables are never refused. The first
//!   two also on PostgreSQL, on a fresh schema (`properties/sql_postgres.rs`; skipped without
//!   `FACT_TEST_POSTGRES_URL`).
//! - Paths (`properties/paths.rs`): nothing the file tools accept resolves outside a root;
//!   every spelling of a file inside a root is read.
//! - Addresses (`properties/network.rs`): nothing the web tools accept is internal, by the
//!   IANA registries (`properties/iana.rs`); public addresses are accepted.
//!
//! Cases are fixed by a seed (`fact_tests::property`); `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` explore further.

#[path = "properties/addresses.rs"]
mod addresses;
#[path = "properties/iana.rs"]
mod iana;
#[path = "properties/network.rs"]
mod network;
#[path = "properties/path_spelling.rs"]
mod path_spelling;
#[path = "properties/paths.rs"]
mod paths;
#[path = "properties/sql.rs"]
mod sql;
#[path = "properties/sql_grammar.rs"]
mod sql_grammar;
#[path = "properties/sql_postgres.rs"]
mod sql_postgres;
#[path = "properties/sql_reads.rs"]
mod sql_reads;
#[path = "properties/tree.rs"]
mod tree;
