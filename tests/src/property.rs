//! How FACT's property tests run: the same cases on every run (a fixed seed), a case count
//! chosen per property so that the whole suite stays well under a minute on two cores, and no
//! failure files written beside the sources.
//!
//! `PROPTEST_CASES` and `PROPTEST_RNG_SEED` still override the count and the seed, to explore
//! further by hand (`PROPTEST_CASES=20000 PROPTEST_RNG_SEED=7 cargo test ...`). A failure
//! prints the smallest failing input proptest found and the seed that found it: make it a
//! regression test beside the property.

use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// The seed of every property's cases unless `PROPTEST_RNG_SEED` names another.
pub const SEED: u64 = 0x00FA_C715;

/// The runner's configuration for a property of `cases` cases.
pub fn config(cases: u32) -> Config {
    // `Config::default()` reads the PROPTEST_* variables.
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config.failure_persistence = None;
    // Shrinking a case that touches files or databases costs milliseconds a step: bounded,
    // so that a failure is reported within a minute or so.
    config.max_shrink_iters = 2_000;
    config
}

/// Checks `property` on `cases` values of `strategy`, panicking with the smallest failing
/// value found (and the seed) if one fails.
///
/// Unlike the `proptest!` macro, this runs inside an ordinary `#[test]`, after the test has
/// built what every case shares (a directory tree, a database, an executor), which its
/// `Drop` then removes whatever happens.
///
/// # Panics
///
/// When the property fails (or panics) for some value.
pub fn check<S>(
    name: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = config(cases);
    let seed = config.rng_seed;
    let mut runner = TestRunner::new(config);
    if let Err(failure) = runner.run(&strategy, property) {
        panic!("property '{name}' failed (seed {seed:?}): {failure}");
    }
}
