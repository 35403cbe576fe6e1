//! The Kubernetes manifests of `deploy/k8s/`: the Deployment, its Service, the Secret template
//! and the kustomization that applies them (the PrometheusRule is in `rules`).

use std::collections::BTreeSet;

use yaml_rust2::Yaml;

use crate::dockerfile::{STATE_DIR, dockerfile_env, dockerfile_user};
use crate::{list, repo_root, text, yaml};

/// The environment variables that hold secrets, and their key in the Secret `fact-secrets`.
const SECRET_ENV: [(&str, &str); 7] = [
    ("ARCADE_API_KEY", "arcade-api-key"),
    ("ARCADE_WORKER_SECRET", "arcade-worker-secret"),
    ("FACT_API_KEYS", "api-keys"),
    ("SECRET_KEY", "secret-key"),
    ("DATABASE_URL", "database-url"),
    ("OAUTH_CLIENT_SECRET", "oauth-client-secret"),
    ("REDIS_URL", "redis-url"),
];

const SECRET_NAME: &str = "fact-secrets";

fn deployment() -> Yaml {
    yaml("deploy/k8s/deployment.yaml")
}

/// The Deployment's one container.
fn container(deployment: &Yaml) -> Yaml {
    let containers = list(
        &deployment["spec"]["template"]["spec"]["containers"],
        "containers",
    );
    assert_eq!(
        containers.len(),
        1,
        "the Deployment should run one container"
    );
    containers[0].clone()
}

/// The container's env entry named `name`.
fn env_var(container: &Yaml, name: &str) -> Yaml {
    list(&container["env"], "env")
        .iter()
        .find(|var| var["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("the container sets no {name}"))
        .clone()
}

/// The containerPort named `name`.
fn container_port(container: &Yaml, name: &str) -> i64 {
    list(&container["ports"], "ports")
        .iter()
        .find(|port| port["name"].as_str() == Some(name))
        .and_then(|port| port["containerPort"].as_i64())
        .unwrap_or_else(|| panic!("the container has no port named {name}"))
}

/// A security setting as the container gets it: its own, else the pod's.
fn effective_security<'a>(pod: &'a Yaml, container: &'a Yaml, key: &str) -> &'a Yaml {
    let own = &container["securityContext"][key];
    if own.is_badvalue() {
        &pod["spec"]["securityContext"][key]
    } else {
        own
    }
}

#[test]
fn deployment_runs_three_replicas_of_fact_tool_executor() {
    let deployment = deployment();
    assert_eq!(deployment["kind"].as_str(), Some("Deployment"));
    assert_eq!(
        deployment["metadata"]["name"].as_str(),
        Some("fact-tool-executor")
    );
    assert_eq!(deployment["spec"]["replicas"].as_i64(), Some(3));
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["app"].as_str(), Some("fact-tool-executor"));
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
}

#[test]
fn deployment_requests_and_limits_the_seeds_resources() {
    let resources = container(&deployment())["resources"].clone();
    let get = |kind: &str, what: &str| resources[kind][what].as_str().map(str::to_owned);
    assert_eq!(get("requests", "memory").as_deref(), Some("256Mi"));
    assert_eq!(get("requests", "cpu").as_deref(), Some("250m"));
    assert_eq!(get("limits", "memory").as_deref(), Some("512Mi"));
    assert_eq!(get("limits", "cpu").as_deref(), Some("500m"));
}

#[test]
fn deployment_takes_every_secret_from_fact_secrets_never_a_literal() {
    let container = container(&deployment());
    for (name, key) in SECRET_ENV {
        let var = env_var(&container, name);
        assert!(var["value"].is_badvalue(), "{name} has a literal value");
        let reference = &var["valueFrom"]["secretKeyRef"];
        assert_eq!(
            reference["name"].as_str(),
            Some(SECRET_NAME),
            "{name}'s secret"
        );
        assert_eq!(reference["key"].as_str(), Some(key), "{name}'s key");
    }
    let from_secret = list(&container["env"], "env")
        .iter()
        .filter(|var| !var["valueFrom"]["secretKeyRef"].is_badvalue())
        .count();
    assert_eq!(
        from_secret,
        SECRET_ENV.len(),
        "only the known secrets come from a Secret"
    );
}

#[test]
fn deployment_starts_without_the_arcade_oauth_redis_and_worker_secrets_only() {
    let container = container(&deployment());
    let optional: BTreeSet<&str> = SECRET_ENV
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            env_var(&container, name)["valueFrom"]["secretKeyRef"]["optional"].as_bool()
                == Some(true)
        })
        .collect();
    assert_eq!(
        optional,
        BTreeSet::from([
            "ARCADE_API_KEY",
            "ARCADE_WORKER_SECRET",
            "OAUTH_CLIENT_SECRET",
            "REDIS_URL"
        ])
    );
}

#[test]
fn deployment_sets_only_variables_fact_reads_and_answers_after_the_audit_commit() {
    let container = container(&deployment());
    let known = crate::variables_fact_reads();
    for var in list(&container["env"], "env") {
        let name = text(&var["name"], "an env name");
        assert!(known.contains(name), "FACT reads no variable {name}");
    }
    assert_eq!(
        env_var(&container, "FACT_AUDIT_DURABILITY")["value"].as_str(),
        Some("answered")
    );
}

#[test]
fn deployment_probes_get_health_on_the_http_port() {
    let container = container(&deployment());
    assert_eq!(container_port(&container, "http"), 8080);
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some("/health"), "{probe}'s path");
        assert_eq!(get["port"].as_str(), Some("http"), "{probe}'s port");
    }
}

#[test]
fn deployment_runs_as_non_root_without_privileges_on_a_read_only_root() {
    let deployment = deployment();
    let pod = &deployment["spec"]["template"];
    let container = container(&deployment);
    let setting = |key: &str| effective_security(pod, &container, key).clone();
    assert_eq!(setting("runAsNonRoot").as_bool(), Some(true));
    assert!(setting("runAsUser").as_i64().is_some_and(|uid| uid > 0));
    assert_eq!(setting("readOnlyRootFilesystem").as_bool(), Some(true));
    assert_eq!(setting("allowPrivilegeEscalation").as_bool(), Some(false));
    let dropped: Vec<&str> = list(
        &container["securityContext"]["capabilities"]["drop"],
        "drop",
    )
    .iter()
    .filter_map(Yaml::as_str)
    .collect();
    assert_eq!(dropped, ["ALL"]);
}

#[test]
fn deployment_mounts_a_writable_empty_dir_where_the_sqlite_default_lives() {
    let deployment = deployment();
    let container = container(&deployment);
    let mount = list(&container["volumeMounts"], "volumeMounts")
        .iter()
        .find(|mount| mount["mountPath"].as_str() == Some(STATE_DIR))
        .unwrap_or_else(|| panic!("nothing is mounted at {STATE_DIR}"))
        .clone();
    assert_ne!(
        mount["readOnly"].as_bool(),
        Some(true),
        "{STATE_DIR} is read-only"
    );
    let volume_name = text(&mount["name"], "the mount's name");
    let volume = list(
        &deployment["spec"]["template"]["spec"]["volumes"],
        "volumes",
    )
    .iter()
    .find(|volume| volume["name"].as_str() == Some(volume_name))
    .unwrap_or_else(|| panic!("no volume named {volume_name}"))
    .clone();
    assert!(
        !volume["emptyDir"].is_badvalue(),
        "{volume_name} should be an emptyDir"
    );

    let database = dockerfile_env("DATABASE_URL");
    assert!(
        database.starts_with(&format!("sqlite://{STATE_DIR}/")),
        "the image's DATABASE_URL {database} should be a SQLite file under {STATE_DIR}"
    );
}

#[test]
fn deployment_runs_as_the_images_user() {
    let deployment = deployment();
    let pod = &deployment["spec"]["template"];
    let container = container(&deployment);
    let uid = effective_security(pod, &container, "runAsUser").as_i64();
    let image_user = dockerfile_user();
    assert_eq!(uid.map(|uid| uid.to_string()), Some(image_user));
}

#[test]
fn deployment_asks_prometheus_to_scrape_metrics_on_the_http_port() {
    let deployment = deployment();
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    let port = container_port(&container(&deployment), "http").to_string();
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(port.as_str())
    );
}

#[test]
fn deployment_opens_metrics_to_the_keyless_scrape() {
    // The annotation-driven scrape carries no `Authorization` header.
    let var = env_var(&container(&deployment()), "FACT_METRICS_PUBLIC");
    assert_eq!(var["value"].as_str(), Some("true"));
}

#[test]
fn service_selects_the_deployments_pods_and_targets_the_http_port() {
    let service = yaml("deploy/k8s/service.yaml");
    assert_eq!(service["kind"].as_str(), Some("Service"));
    let deployment = deployment();
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selector = &service["spec"]["selector"];
    let selected = selector.as_hash().is_some_and(|selector| {
        !selector.is_empty()
            && selector
                .iter()
                .all(|(key, value)| &pod_labels[text(key, "label")] == value)
    });
    assert!(
        selected,
        "selector {selector:?} does not match pod labels {pod_labels:?}"
    );

    let ports = list(&service["spec"]["ports"], "ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["port"].as_i64(), Some(80));
    assert_eq!(ports[0]["targetPort"].as_str(), Some("http"));
    // The named port exists on the pods (container_port panics otherwise).
    assert_eq!(container_port(&container(&deployment), "http"), 8080);
}

#[test]
fn secret_template_has_every_key_the_deployment_reads_and_only_placeholders() {
    let secret = yaml("deploy/k8s/secret.example.yaml");
    assert_eq!(secret["kind"].as_str(), Some("Secret"));
    assert_eq!(secret["metadata"]["name"].as_str(), Some(SECRET_NAME));
    let data = secret["stringData"].as_hash().expect("stringData");
    let keys: BTreeSet<&str> = data.keys().map(|key| text(key, "a key")).collect();
    let read: BTreeSet<&str> = SECRET_ENV.iter().map(|(_, key)| *key).collect();
    assert_eq!(keys, read);
    for (key, value) in data {
        let value = text(value, "a value");
        assert!(
            value.contains("REPLACE ME"),
            "{key:?} is not a placeholder: {value}"
        );
    }
}

#[test]
fn kustomization_lists_every_manifest_but_the_secret_template() {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let listed: BTreeSet<String> = list(&kustomization["resources"], "resources")
        .iter()
        .map(|resource| text(resource, "a resource").to_owned())
        .collect();
    let dir = repo_root().join("deploy/k8s");
    let manifests: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        // The template holds placeholders; applying it would overwrite the real Secret.
        .filter(|name| name != "kustomization.yaml" && name != "secret.example.yaml")
        .collect();
    assert_eq!(listed, manifests);
}
