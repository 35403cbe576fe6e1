//! The deployment files under `deploy/`: the alert rules, the Kubernetes manifests and the
//! Dockerfile, read as the tools that consume them would (YAML parsed, Dockerfile instructions
//! split per stage). CI has no container engine and no cluster, so these tests are what stops a
//! manifest from drifting away from what the server and the rules depend on.
//!
//! This root only locates and loads the files; `rules`, `k8s` and `dockerfile` each test one kind
//! of file, and `promql` and `exposition` read what the rules and the runtime's `/metrics` say.

// A test crate's root resolves `mod` next to itself, so the submodules name their folder.
#[path = "deploy/compose.rs"]
mod compose;
#[path = "deploy/dockerfile.rs"]
mod dockerfile;
#[path = "deploy/exposition.rs"]
mod exposition;
#[path = "deploy/k8s.rs"]
mod k8s;
#[path = "deploy/promql.rs"]
mod promql;
#[path = "deploy/rules.rs"]
mod rules;

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

/// The repository root: the parent of this crate (`tests/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits inside the repository")
        .to_path_buf()
}

/// The text of `relative` (a path from the repository root).
fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The single YAML document in `relative`.
fn yaml(relative: &str) -> Yaml {
    let mut documents = YamlLoader::load_from_str(&read(relative))
        .unwrap_or_else(|error| panic!("{relative} is not valid YAML: {error}"));
    assert_eq!(
        documents.len(),
        1,
        "{relative} should hold one YAML document"
    );
    documents.remove(0)
}

/// The name of every environment variable FACT reads.
fn variables_fact_reads() -> std::collections::BTreeSet<&'static str> {
    let every = fact_runtime::server::EnvironmentSummary::from_lookup(|_| Some(String::new()));
    every.set().iter().map(|variable| variable.name).collect()
}

/// `node` as a string, or a panic naming `what`.
fn text<'a>(node: &'a Yaml, what: &str) -> &'a str {
    node.as_str()
        .unwrap_or_else(|| panic!("{what} should be a string, found {node:?}"))
}

/// `node` as a sequence, or a panic naming `what`.
fn list<'a>(node: &'a Yaml, what: &str) -> &'a [Yaml] {
    node.as_vec()
        .unwrap_or_else(|| panic!("{what} should be a list, found {node:?}"))
}
