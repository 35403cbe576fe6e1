//! `deploy/Dockerfile` and the `.dockerignore` that bounds its build context.

use std::collections::BTreeSet;

use crate::read;

/// Where the image keeps its state (the SQLite default) and the Deployment mounts a volume.
pub(crate) const STATE_DIR: &str = "/var/lib/fact";

/// One Dockerfile instruction: its keyword in upper case, and its arguments with line
/// continuations joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of `deploy/Dockerfile`, one list per stage (each starting at its `FROM`).
fn dockerfile_stages() -> Vec<Vec<Instruction>> {
    let source = read("deploy/Dockerfile");
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    let mut pending = String::new();
    for line in source.lines() {
        let trimmed = line.trim();
        // Comments (parser directives included) and blank lines, also between continued lines.
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(continued) = trimmed.strip_suffix('\\') {
            pending.push_str(continued);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, args) = pending
            .split_once(char::is_whitespace)
            .unwrap_or((&pending, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        };
        pending.clear();
        if instruction.keyword == "FROM" {
            stages.push(Vec::new());
        }
        let Some(stage) = stages.last_mut() else {
            // Only ARG may come before the first FROM (a build argument FROM lines can use).
            assert_eq!(
                instruction.keyword, "ARG",
                "deploy/Dockerfile: {} before the first FROM",
                instruction.keyword
            );
            continue;
        };
        stage.push(instruction);
    }
    stages
}

/// The arguments of every `keyword` instruction in `stage`.
fn args_of<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|instruction| instruction.keyword == keyword)
        .map(|instruction| instruction.args.as_str())
        .collect()
}

/// The final stage: the image that runs.
fn final_stage() -> Vec<Instruction> {
    dockerfile_stages()
        .pop()
        .expect("deploy/Dockerfile has no FROM")
}

/// The user (without group) of the final stage's last `USER`.
pub(crate) fn dockerfile_user() -> String {
    let stage = final_stage();
    let user = *args_of(&stage, "USER")
        .last()
        .expect("the final stage sets no USER");
    user.split(':').next().unwrap_or(user).to_owned()
}

/// The value the final stage's `ENV` gives `name` (`ENV A=b C=d` form).
pub(crate) fn dockerfile_env(name: &str) -> String {
    args_of(&final_stage(), "ENV")
        .iter()
        .flat_map(|args| args.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .next_back()
        .unwrap_or_else(|| panic!("the image sets no {name}"))
}

#[test]
fn dockerfile_builds_fact_locked_with_the_cli_feature_in_a_separate_stage() {
    let stages = dockerfile_stages();
    assert!(
        stages.len() >= 2,
        "expected a build stage and a run stage, found {}",
        stages.len()
    );
    let builds: Vec<&str> = stages[..stages.len() - 1]
        .iter()
        .flat_map(|stage| args_of(stage, "RUN"))
        .filter(|run| run.contains("cargo build"))
        .collect();
    assert_eq!(
        builds.len(),
        1,
        "one cargo build in the build stages: {builds:?}"
    );
    for flag in [
        "--release",
        "--locked",
        "-p fact-tools-std",
        "--features cli",
        "--bin fact",
    ] {
        assert!(
            builds[0].contains(flag),
            "the build lacks {flag}: {}",
            builds[0]
        );
    }
    assert!(
        args_of(&stages[stages.len() - 1], "RUN")
            .iter()
            .all(|run| !run.contains("cargo")),
        "the run stage should not build"
    );
}

#[test]
fn dockerfile_copies_every_workspace_member_into_the_build() {
    // Cargo reads every member's manifest before building one package.
    let manifest = read("Cargo.toml");
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(members, _)| members)
        .expect("the workspace Cargo.toml lists its members");
    let members: Vec<&str> = members
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .collect();
    assert!(!members.is_empty());

    let stages = dockerfile_stages();
    let copied: Vec<String> = stages[..stages.len() - 1]
        .iter()
        .flat_map(|stage| args_of(stage, "COPY"))
        .filter(|args| !args.starts_with("--from"))
        .flat_map(|args| {
            let words: Vec<&str> = args.split_whitespace().collect();
            words[..words.len().saturating_sub(1)]
                .iter()
                .map(|source| source.trim_end_matches('/').to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    for file in ["Cargo.toml", "Cargo.lock"] {
        assert!(
            copied.iter().any(|source| source == file),
            "{file} is not copied"
        );
    }
    for member in members {
        assert!(
            copied
                .iter()
                .any(|source| member == source || member.starts_with(&format!("{source}/"))),
            "workspace member {member} is not copied into the build stage (copied: {copied:?})"
        );
    }
}

#[test]
fn dockerfile_runs_fact_serve_as_a_non_root_user() {
    let user = dockerfile_user();
    let root = user == "root" || user.parse::<u32>() == Ok(0);
    assert!(!user.is_empty() && !root, "the image runs as {user:?}");
    let stage = final_stage();
    assert_eq!(args_of(&stage, "ENTRYPOINT"), [r#"["fact"]"#]);
    assert_eq!(args_of(&stage, "CMD"), [r#"["serve"]"#]);
}

#[test]
fn dockerfile_listens_on_all_interfaces_at_the_exposed_port_8080() {
    let stage = final_stage();
    assert_eq!(args_of(&stage, "EXPOSE"), ["8080"]);
    assert_eq!(dockerfile_env("FACT_ADDR"), "0.0.0.0:8080");
}

#[test]
fn dockerignore_keeps_target_and_git_out_of_the_build_context() {
    let ignore = read(".dockerignore");
    let patterns: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|pattern| pattern.trim_end_matches('/'))
        .collect();
    for excluded in ["target", ".git"] {
        assert!(
            patterns.contains(excluded),
            ".dockerignore lets {excluded}/ in"
        );
    }
}
