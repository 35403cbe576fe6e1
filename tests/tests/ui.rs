//! Compile-time behaviour of `#[tool]`: what it accepts (each `ui/pass_*.rs` builds and runs) and
//! how it refuses (each `ui/fail_*.rs` fails with the error reviewed in its `.stderr` file).
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p fact-tests --test ui`, then
//! read every changed `.stderr`: each must be the macro's own message, spanned on the offending
//! token.

#[test]
fn tool_attribute_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass_*.rs");
    cases.compile_fail("ui/fail_*.rs");
}
