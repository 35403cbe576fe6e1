//! The byte budgets of answers, measured on the JSON sent: one call's, and one batch's.

use fact_runtime::server::ServerConfig;
use serde_json::{Value, json};

use crate::support::*;

/// A call to `Fixture.Echo` that answers `text` repeated `times` times.
fn echo(text: &str, times: u32) -> Value {
    json!({"tool_name": "Fixture.Echo", "input": {"text": text, "times": times}})
}

fn budgeted(per_answer: usize, per_batch: usize) -> ServerConfig {
    config()
        .max_response_bytes(per_answer)
        .max_batch_response_bytes(per_batch)
}

#[tokio::test]
async fn a_result_past_the_answer_budget_is_a_403_naming_the_limit() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, budgeted(4096, 1 << 20)).await;
    // 1,000 NUL characters are 1,000 bytes of text but 6,000 bytes of JSON: the budget is
    // measured on what is sent. A plain large text is refused the same way.
    for call in [echo("\u{0}", 1000), echo("abcd", 2000)] {
        let reply = server.execute(ADA_KEY, call.clone()).await;
        reply.assert_refusal(403, "SecurityError", "more than the 4096 bytes of JSON");
        let body = reply.json();
        assert_eq!(body["metadata"]["limit"], "max_response_bytes", "{body}");
        assert_eq!(body["metadata"]["max"], 4096, "{body}");
        assert_eq!(body["tool_name"], "Fixture.Echo", "{body}");
        assert!(reply.text.len() <= 4096, "{} bytes sent", reply.text.len());
    }
    // Within the budget, the result is sent as it is.
    let fits = server.execute(ADA_KEY, echo("x", 1000)).await;
    assert_eq!(fits.status, 200, "{}", fits.text);
    assert_eq!(fits.json()["data"], "x".repeat(1000));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_batch_past_its_budget_answers_what_fits_in_input_order_and_refuses_the_rest() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let (per_answer, per_batch) = (4096, 8192);
    let server = Running::start(executor, budgeted(per_answer, per_batch)).await;
    // Six results of about 2.2 KB each sum past the batch's 8 KiB; the second is past one
    // answer's budget on its own.
    let mut calls: Vec<Value> = (0..6).map(|_| echo("y", 2000)).collect();
    calls[1] = echo("\u{0}", 1000);
    let reply = server
        .post(
            "/v1/tools/execute/batch",
            Some(ADA_KEY),
            json!({ "calls": calls }).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let results = reply.json()["results"].clone();
    let outcomes: Vec<(u64, String)> = results
        .as_array()
        .expect("results")
        .iter()
        .map(|result| {
            (
                result["status_code"].as_u64().unwrap_or_default(),
                result["metadata"]["limit"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let fits = (200, String::new());
    let past_answer = (403, "max_response_bytes".to_owned());
    let past_batch = (403, "max_batch_response_bytes".to_owned());
    assert_eq!(
        outcomes,
        [
            fits.clone(),
            past_answer,
            fits.clone(),
            fits,
            past_batch.clone(),
            past_batch
        ]
    );
    assert_eq!(results[0]["data"], "y".repeat(2000));
    assert_eq!(results[4]["metadata"]["max"], per_batch);
    let refusal = results[4]["error"].as_str().unwrap_or_default();
    assert!(
        refusal.contains("does not fit in what is left of the 8192 bytes"),
        "{refusal}"
    );
    // The results that fit stay within the budget; each refusal adds a few hundred bytes.
    let refusals = 3;
    assert!(
        reply.text.len() <= per_batch + refusals * 1024,
        "{} bytes sent",
        reply.text.len()
    );
    server.stop().await.expect("stops");
}
