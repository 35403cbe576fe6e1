#![doc = include_str!("../README.md")]

#[cfg(feature = "fs")]
pub mod fs;
#[cfg(any(feature = "fs", feature = "web"))]
mod json_size;
#[cfg(feature = "sql")]
pub mod sql;
#[cfg(feature = "web")]
pub mod web;
