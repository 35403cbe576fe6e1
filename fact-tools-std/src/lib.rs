#![doc = include_str!("../README.md")]

#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "sql")]
pub mod sql;
#[cfg(feature = "web")]
pub mod web;
