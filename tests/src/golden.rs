//! Golden files: JSON that a change must show as a reviewed diff. Regenerate them with
//! `FACT_UPDATE_GOLDEN=1 cargo test -p fact-tests --test schemas --test std_schemas`.

use std::path::PathBuf;

use serde_json::Value;

/// Asserts that `actual`, pretty-printed, equals the file `tests/golden/{name}`; with
/// `FACT_UPDATE_GOLDEN` set, writes it instead.
///
/// # Panics
///
/// When the file differs or is missing (and `FACT_UPDATE_GOLDEN` is not set).
pub fn assert_golden(name: &str, actual: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name);
    let pretty = serde_json::to_string_pretty(actual).expect("serializes") + "\n";
    if std::env::var_os("FACT_UPDATE_GOLDEN").is_some() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("golden folder created");
        }
        std::fs::write(&path, &pretty).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with FACT_UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        pretty,
        expected,
        "{} differs; review and regenerate with FACT_UPDATE_GOLDEN=1",
        path.display()
    );
}
