//! `deploy/compose.yaml`: three replicas behind haproxy with PostgreSQL and Redis, as a user
//! scales out on one machine, and the `haproxy.cfg` it mounts (checked by haproxy itself when it
//! is installed).

use std::collections::BTreeSet;
use std::process::Command;

use yaml_rust2::Yaml;

use crate::{read, repo_root, text, yaml};

fn compose() -> Yaml {
    yaml("deploy/compose.yaml")
}

/// The `environment` of `service` as (name, value) pairs.
fn environment(compose: &Yaml, service: &str) -> Vec<(String, String)> {
    let env = compose["services"][service]["environment"]
        .as_hash()
        .unwrap_or_else(|| panic!("{service} has an environment map"));
    env.iter()
        .map(|(name, value)| {
            let value = match value {
                Yaml::String(value) => value.clone(),
                Yaml::Integer(value) => value.to_string(),
                other => panic!("{service}'s environment value {other:?} is not a scalar"),
            };
            (text(name, "a variable name").to_owned(), value)
        })
        .collect()
}

fn value<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    env.iter()
        .find(|(variable, _)| variable == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("the fact service sets no {name}"))
}

/// The variables `text` interpolates (`${NAME}`, `${NAME:?message}`), comments aside.
fn interpolated(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split("${").skip(1))
        .filter_map(|rest| {
            let end = rest.find(['}', ':', '-'])?;
            Some(rest[..end].to_owned())
        })
        .collect()
}

#[test]
fn compose_runs_three_fact_replicas_from_the_repositorys_dockerfile() {
    let compose = compose();
    let fact = &compose["services"]["fact"];
    assert_eq!(fact["deploy"]["replicas"].as_i64(), Some(3));
    assert_eq!(
        fact["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile")
    );
    // The build context is the repository root, as deploy/Dockerfile expects.
    let context = repo_root()
        .join("deploy")
        .join(text(&fact["build"]["context"], "the build context"));
    assert_eq!(
        context.canonicalize().expect("the build context exists"),
        repo_root()
            .canonicalize()
            .expect("the repository root exists")
    );
}

#[test]
fn compose_shares_postgres_and_redis_between_the_replicas_once_they_are_healthy() {
    let compose = compose();
    let env = environment(&compose, "fact");
    let database = value(&env, "DATABASE_URL");
    assert!(database.starts_with("postgres://"), "{database}");
    assert!(database.contains("@postgres:5432/"), "{database}");
    let redis = value(&env, "REDIS_URL");
    assert!(redis.starts_with("redis://"), "{redis}");
    assert!(redis.contains("@redis:6379"), "{redis}");
    assert_eq!(value(&env, "FACT_AUDIT_DURABILITY"), "answered");
    for service in ["postgres", "redis"] {
        assert_eq!(
            compose["services"]["fact"]["depends_on"][service]["condition"].as_str(),
            Some("service_healthy"),
            "the replicas wait for {service}"
        );
        assert!(
            !compose["services"][service]["healthcheck"]["test"].is_badvalue(),
            "{service} has a health check"
        );
    }
}

#[test]
fn compose_gives_the_replicas_only_variables_fact_reads_and_no_literal_secret() {
    let compose = compose();
    let known = crate::variables_fact_reads();
    let env = environment(&compose, "fact");
    for (name, _) in &env {
        assert!(
            known.contains(name.as_str()),
            "FACT reads no variable {name}"
        );
    }
    for secret in ["FACT_API_KEYS", "SECRET_KEY"] {
        let value = value(&env, secret);
        assert!(
            value.starts_with("${") && value.ends_with('}'),
            "{secret} should come from deploy/.env, not be written here: {value}"
        );
    }
    for url in ["DATABASE_URL", "REDIS_URL"] {
        let value = value(&env, url);
        assert!(
            value.contains("${POSTGRES_PASSWORD}") || value.contains("${REDIS_PASSWORD}"),
            "{url}'s password should come from deploy/.env: {value}"
        );
    }
}

#[test]
fn the_example_env_names_every_variable_compose_needs_with_placeholders_only() {
    let needed = interpolated(&read("deploy/compose.yaml"));
    let example = read("deploy/compose.example.env");
    let given: BTreeSet<String> = example
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && line.contains('='))
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap_or_default();
            assert!(value.contains("REPLACE-ME"), "{name} is not a placeholder");
            name.trim().to_owned()
        })
        .collect();
    assert_eq!(given, needed);
    let ignored = read(".gitignore");
    assert!(
        ignored.lines().any(|line| line.trim() == "deploy/.env"),
        "deploy/.env, which holds the real values, must never be committed"
    );
}

#[test]
fn the_balancer_checks_replicas_on_health_and_never_resends_a_call() {
    let compose = compose();
    let volumes = crate::list(&compose["services"]["balancer"]["volumes"], "volumes");
    assert!(
        volumes.iter().any(|volume| volume
            .as_str()
            .is_some_and(|v| v.starts_with("./haproxy.cfg:"))),
        "the balancer mounts deploy/haproxy.cfg"
    );
    let config = read("deploy/haproxy.cfg");
    let lines: Vec<&str> = config.lines().map(str::trim).collect();
    assert!(lines.contains(&"option httpchk GET /health"), "{config}");
    assert!(lines.contains(&"retry-on conn-failure"), "{config}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("server-template fact ") && line.contains(" fact:8080 ")),
        "{config}"
    );
}

#[test]
fn haproxy_accepts_the_balancers_configuration() {
    let Some(haproxy) = fact_tests::services::haproxy("haproxy_accepts_the_configuration") else {
        return;
    };
    let output = Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(repo_root().join("deploy/haproxy.cfg"))
        .output()
        .expect("haproxy runs");
    assert!(
        output.status.success(),
        "haproxy -c refused deploy/haproxy.cfg:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
