//! The alert rules, in `deploy/prometheus/alerts.yml` and as the PrometheusRule of
//! `deploy/k8s/prometheus-rule.yaml`: the seed's rules verbatim, and series the runtime exports
//! with the labels and buckets that let those rules evaluate.

use std::collections::{BTreeMap, BTreeSet};

use fact_runtime::metrics::PrometheusExporter;
use fact_runtime::{ToolCall, ToolDefinition, ToolError, ToolExecutor};
use serde_json::json;
use yaml_rust2::Yaml;

use crate::exposition::{Sample, samples};
use crate::promql::metric_names;
use crate::{list, text, yaml};

/// The seed's alert rules, name and expression, verbatim.
const SEED_RULES: [(&str, &str); 2] = [
    (
        "HighToolErrorRate",
        "(rate(tool_execution_failures_total[5m]) / rate(tool_executions_total[5m])) > 0.1",
    ),
    (
        "SlowToolExecution",
        "histogram_quantile(0.95, rate(tool_execution_duration_seconds_bucket[5m])) > 30",
    ),
];

/// The rules of a Prometheus rule-file `groups` list, in order.
fn rules_of(groups: &Yaml, file: &str) -> Vec<Yaml> {
    list(groups, &format!("{file}: groups"))
        .iter()
        .flat_map(|group| list(&group["rules"], &format!("{file}: a group's rules")))
        .cloned()
        .collect()
}

/// `(alert name, expr)` of each rule, in order.
fn names_and_exprs(rules: &[Yaml], file: &str) -> Vec<(String, String)> {
    rules
        .iter()
        .map(|rule| {
            let name = text(&rule["alert"], &format!("{file}: a rule's alert"));
            let expr = text(&rule["expr"], &format!("{file}: {name}'s expr"));
            (name.to_owned(), expr.to_owned())
        })
        .collect()
}

/// The rules of `deploy/prometheus/alerts.yml`.
fn alerts_yml_rules() -> Vec<Yaml> {
    let file = "deploy/prometheus/alerts.yml";
    rules_of(&yaml(file)["groups"], file)
}

/// `(alert name, expr)` of every rule in `deploy/prometheus/alerts.yml`, in file order.
fn alert_rules() -> Vec<(String, String)> {
    names_and_exprs(&alerts_yml_rules(), "deploy/prometheus/alerts.yml")
}

/// The PrometheusRule of `deploy/k8s/prometheus-rule.yaml`.
fn prometheus_rule() -> Yaml {
    let rule = yaml("deploy/k8s/prometheus-rule.yaml");
    assert_eq!(
        rule["apiVersion"].as_str(),
        Some("monitoring.coreos.com/v1")
    );
    assert_eq!(rule["kind"].as_str(), Some("PrometheusRule"));
    rule
}

#[test]
fn alerts_yml_holds_exactly_the_seeds_two_rules_by_name() {
    let names: Vec<String> = alert_rules().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["HighToolErrorRate", "SlowToolExecution"]);
}

#[test]
fn alerts_yml_exprs_are_the_seeds_verbatim() {
    let seed: Vec<(String, String)> = SEED_RULES
        .iter()
        .map(|(name, expr)| ((*name).to_owned(), (*expr).to_owned()))
        .collect();
    assert_eq!(alert_rules(), seed);
}

#[test]
fn alerts_yml_rules_each_have_a_for_duration_and_a_summary() {
    for rule in alerts_yml_rules() {
        let name = text(&rule["alert"], "alert");
        let duration = text(&rule["for"], &format!("{name}'s for"));
        assert!(
            duration.ends_with('m')
                && duration[..duration.len() - 1]
                    .parse::<u32>()
                    .is_ok_and(|m| m > 0),
            "{name}'s for should be a whole number of minutes, found {duration:?}"
        );
        let summary = text(
            &rule["annotations"]["summary"],
            &format!("{name}'s summary"),
        );
        assert!(!summary.trim().is_empty(), "{name}'s summary is empty");
    }
}

#[test]
fn prometheus_rule_in_k8s_holds_the_same_rules_as_alerts_yml() {
    let file = "deploy/k8s/prometheus-rule.yaml";
    let in_k8s = rules_of(&prometheus_rule()["spec"]["groups"], file);
    assert_eq!(names_and_exprs(&in_k8s, file), alert_rules());
    // The rest too (for, labels, annotations), so that the two ways of loading them alert alike.
    assert_eq!(in_k8s, alerts_yml_rules());
}

#[test]
fn alert_rules_read_exactly_the_three_tool_execution_series() {
    let used: BTreeSet<String> = alert_rules()
        .iter()
        .flat_map(|(_, expr)| metric_names(expr))
        .collect();
    let expected: BTreeSet<String> = [
        "tool_execution_failures_total",
        "tool_executions_total",
        "tool_execution_duration_seconds_bucket",
    ]
    .map(String::from)
    .into();
    assert_eq!(used, expected);
}

// ---- what the runtime exports -----------------------------------------------------------------

/// The tools the exposition tests call; other tests in this binary may record other tools.
const OK_TOOL: &str = "Deploy.Ok";
const FAILING_TOOL: &str = "Deploy.Fail";

/// The runtime's exposition after one successful call of [`OK_TOOL`] and one failing call of
/// [`FAILING_TOOL`]: the samples of those two tools only.
async fn exported_after_a_success_and_a_failure() -> Vec<Sample> {
    let exporter =
        PrometheusExporter::install().expect("no other metrics recorder in this test binary");
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(ToolDefinition::new(
            OK_TOOL,
            "succeeds",
            json!({"type": "object"}),
            |_ctx, _args| async { Ok(json!(1)) },
        ))
        .register(ToolDefinition::new(
            FAILING_TOOL,
            "fails",
            json!({"type": "object"}),
            |_ctx, _args| async { Err(ToolError::fatal("boom")) },
        ))
        .build()
        .expect("the executor builds");
    let ok = executor
        .execute_tool_call(ToolCall::new(OK_TOOL, json!({})))
        .await;
    assert!(ok.success, "{OK_TOOL} failed: {:?}", ok.error);
    let failed = executor
        .execute_tool_call(ToolCall::new(FAILING_TOOL, json!({})))
        .await;
    assert!(!failed.success, "{FAILING_TOOL} succeeded");

    samples(&exporter.render())
        .into_iter()
        .filter(|sample| {
            sample
                .labels
                .get("tool")
                .is_some_and(|tool| tool == OK_TOOL || tool == FAILING_TOOL)
        })
        .collect()
}

/// The expression of the rule alerting as `alert`.
fn expr_of(alert: &str) -> String {
    alert_rules()
        .into_iter()
        .find(|(name, _)| name == alert)
        .map(|(_, expr)| expr)
        .unwrap_or_else(|| panic!("alerts.yml has no {alert}"))
}

#[tokio::test]
async fn runtime_exports_every_series_the_alert_rules_read() {
    let exported: BTreeSet<String> = exported_after_a_success_and_a_failure()
        .await
        .into_iter()
        .map(|sample| sample.name)
        .collect();
    for (alert, expr) in alert_rules() {
        let read = metric_names(&expr);
        assert!(!read.is_empty(), "{alert} reads no series");
        for name in read {
            assert!(
                exported.contains(&name),
                "{alert} reads {name}, which the runtime does not export (exported: {exported:?})"
            );
        }
    }
}

#[tokio::test]
async fn high_tool_error_rate_divides_series_with_identical_label_sets() {
    // `a / b` without `on`/`ignoring` matches each left series to the right one with exactly
    // its labels; a left series without one yields nothing, and the alert never fires.
    let expr = expr_of("HighToolErrorRate");
    let (dividend, divisor) = expr
        .split_once('/')
        .expect("HighToolErrorRate divides one rate by another");
    let series_of = |side: &str| -> String {
        let names: Vec<String> = metric_names(side).into_iter().collect();
        assert_eq!(names.len(), 1, "{side:?} should read one series");
        names[0].clone()
    };
    let (failures, executions) = (series_of(dividend), series_of(divisor));

    let samples = exported_after_a_success_and_a_failure().await;
    let label_sets = |name: &str| -> Vec<&BTreeMap<String, String>> {
        samples
            .iter()
            .filter(|sample| sample.name == name)
            .map(|sample| &sample.labels)
            .collect()
    };
    let (failed, executed) = (label_sets(&failures), label_sets(&executions));
    assert!(
        failed
            .iter()
            .any(|labels| labels.get("tool").map(String::as_str) == Some(FAILING_TOOL)),
        "no {failures} series for {FAILING_TOOL}: {failed:?}"
    );
    for labels in failed {
        let matches = executed.iter().filter(|other| **other == labels).count();
        assert_eq!(
            matches, 1,
            "{failures}{labels:?} should match one {executions} series, found {matches} in {executed:?}"
        );
    }
}

#[tokio::test]
async fn duration_buckets_end_at_inf_and_bound_slow_tool_executions_threshold() {
    // histogram_quantile interpolates inside a bucket: the p95 is exact at the threshold only
    // when the threshold is a bucket bound, and needs the +Inf bucket to count every call.
    let expr = expr_of("SlowToolExecution");
    let threshold: f64 = expr
        .rsplit_once('>')
        .and_then(|(_, threshold)| threshold.trim().parse().ok())
        .unwrap_or_else(|| panic!("SlowToolExecution should end in `> seconds`: {expr}"));
    let buckets = metric_names(&expr)
        .into_iter()
        .find(|name| name.ends_with("_bucket"))
        .unwrap_or_else(|| panic!("SlowToolExecution reads no histogram buckets: {expr}"));

    // The bucket bounds of each histogram series (its labels without `le`).
    let mut bounds: BTreeMap<BTreeMap<String, String>, Vec<String>> = BTreeMap::new();
    for sample in exported_after_a_success_and_a_failure().await {
        if sample.name != buckets {
            continue;
        }
        let mut series = sample.labels;
        let le = series
            .remove("le")
            .unwrap_or_else(|| panic!("a {buckets} sample without an le label: {series:?}"));
        bounds.entry(series).or_default().push(le);
    }
    let tools: BTreeSet<&str> = bounds
        .keys()
        .filter_map(|series| series.get("tool").map(String::as_str))
        .collect();
    assert_eq!(tools, BTreeSet::from([FAILING_TOOL, OK_TOOL]));
    for (series, bounds) in &bounds {
        assert!(
            bounds.iter().any(|le| le == "+Inf"),
            "{buckets}{series:?} has no +Inf bucket: {bounds:?}"
        );
        assert!(
            bounds
                .iter()
                .any(|le| le.parse::<f64>().is_ok_and(|le| le == threshold)),
            "{buckets}{series:?} has no bucket bound at {threshold}: {bounds:?}"
        );
    }
}
