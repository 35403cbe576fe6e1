//! GET /v1/tools, GET /v1/tools/{name}, and routes that do not exist.

use fact_runtime::ToolFormat;

use crate::support::*;

// ---- /v1/tools ----

#[tokio::test]
async fn tools_are_listed_in_every_format() {
    let (server, executor) = running().await;
    let native = server.get("/v1/tools", Some(ADA_KEY)).await;
    assert_eq!(native.status, 200);
    assert_eq!(native.json(), executor.export_tools(ToolFormat::Native));
    for format in ToolFormat::ALL {
        let reply = server
            .get(&format!("/v1/tools?format={format}"), Some(ADA_KEY))
            .await;
        assert_eq!(reply.status, 200, "{format}: {}", reply.text);
        assert_eq!(reply.json(), executor.export_tools(format), "{format}");
    }
    let openai = server
        .get("/v1/tools?format=openai", Some(ADA_KEY))
        .await
        .json();
    assert!(
        openai
            .as_array()
            .into_iter()
            .flatten()
            .any(|tool| tool["function"]["name"] == "MyApp_Calculator"),
        "{openai}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_unknown_format_is_400_listing_the_formats() {
    let (server, _) = running().await;
    let reply = server.get("/v1/tools?format=yaml", Some(ADA_KEY)).await;
    reply.assert_refusal(
        400,
        "InvalidRequestError",
        "expected one of native, openai, openai-strict, anthropic, mcp",
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn one_tool_by_name_or_exported_name_and_404_for_none() {
    let (server, executor) = running().await;
    let expected = executor
        .tool_info("MyApp.Calculator")
        .expect("linked")
        .export(ToolFormat::Mcp);
    for name in ["MyApp.Calculator", "MyApp_Calculator"] {
        let reply = server
            .get(&format!("/v1/tools/{name}?format=mcp"), Some(ADA_KEY))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json(), expected);
    }
    let missing = server.get("/v1/tools/MyApp.Nope", Some(ADA_KEY)).await;
    missing.assert_refusal(404, "ToolNotFoundError", "Tool 'MyApp.Nope' not found");
    server.stop().await.expect("stops");
}

// ---- routes ----

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let (server, _) = running().await;
    server
        .get("/v2/anything", Some(ADA_KEY))
        .await
        .assert_refusal(404, "NotFoundError", "no endpoint GET /v2/anything");
    server.post("/health", None, "{}").await.assert_refusal(
        405,
        "MethodNotAllowedError",
        "/health does not accept POST",
    );
    server.stop().await.expect("stops");
}
