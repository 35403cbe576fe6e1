//! `GET /worker/health` and `GET /worker/tools`: what an Engine learns of the worker.

use fact_tests::fixtures;
use serde_json::{Value, json};

use crate::support::{COUNTED, Worker, engine_token};

/// Every tool the worker serves, sorted: the fixtures, the calculator and the counted tool.
fn served() -> Vec<String> {
    let mut names: Vec<String> = fixtures::TOOL_NAMES
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    names.extend(["MyApp.Calculator".to_owned(), COUNTED.to_owned()]);
    names.sort();
    names
}

/// The listing, read with the Engine's token.
async fn listing(worker: &Worker) -> Vec<Value> {
    let reply = worker.get("/worker/tools", Some(&engine_token())).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    match reply.json() {
        Value::Array(tools) => tools,
        other => panic!("the listing is a JSON array, not {other}"),
    }
}

fn tool<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools
        .iter()
        .find(|tool| tool["fully_qualified_name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

#[tokio::test]
async fn health_is_open_and_counts_the_tools_served_as_a_string() {
    let worker = Worker::start().await;
    let reply = worker.get("/worker/health", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"status": "ok", "tool_count": served().len().to_string()})
    );
}

#[tokio::test]
async fn tools_lists_every_tool_served_sorted_as_arcade_tool_definitions() {
    let worker = Worker::start().await;
    let tools = listing(&worker).await;
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|tool| tool["fully_qualified_name"].as_str())
        .collect();
    assert_eq!(names, served());
    for tool in &tools {
        let qualified = tool["fully_qualified_name"].as_str().unwrap_or_default();
        let (toolkit, name) = qualified.split_once('.').expect("Toolkit.Tool");
        assert_eq!(tool["name"], name, "{tool}");
        assert_eq!(tool["toolkit"]["name"], toolkit, "{tool}");
        assert!(tool["input"]["parameters"].is_array(), "{tool}");
        assert!(tool["output"]["available_modes"].is_array(), "{tool}");
    }
    let echo = tool(&tools, "Fixture.Echo");
    assert_eq!(echo["description"], "Echoes a text, optionally repeated.");
    assert_eq!(
        echo["input"]["parameters"],
        json!([
            {"name": "text", "required": true, "description": "The text to echo",
             "inferrable": true,
             "value_schema": {"val_type": "string", "description": "The text to echo"}},
            {"name": "times", "required": false, "description": "How many times; once when absent",
             "inferrable": true,
             "value_schema": {"val_type": "integer", "nullable": true,
                              "description": "How many times; once when absent"}},
        ])
    );
}

#[tokio::test]
async fn a_tool_that_requires_authorization_lists_its_provider_its_scopes_and_its_secrets() {
    let worker = Worker::start().await;
    let tools = listing(&worker).await;
    let credentials = tool(&tools, "Fixture.Credentials");
    assert_eq!(
        credentials["requirements"],
        json!({
            "authorization": {
                "provider_id": "github",
                "provider_type": "oauth2",
                "oauth2": {"scopes": ["creds.read"]},
            },
            "secrets": [{"key": "SERVICE_KEY"}],
        })
    );
    // Scopes without a named provider: the Engine is told the scopes alone.
    assert_eq!(
        tool(&tools, "Fixture.Private")["requirements"],
        json!({"authorization": {"provider_type": "oauth2", "oauth2": {"scopes": ["secrets.read"]}}})
    );
    assert_eq!(
        tool(&tools, "Fixture.NoCredentials")["requirements"],
        json!({})
    );
}

#[tokio::test]
async fn tools_is_refused_without_the_engines_token() {
    let worker = Worker::start().await;
    let reply = worker.get("/worker/tools", None).await;
    reply.assert_bearer_challenge();
    assert!(
        reply.json()["detail"]
            .as_str()
            .is_some_and(|detail| detail.starts_with("Not authenticated: ")),
        "{}",
        reply.text
    );
}
