//! The security pipeline on embedded defaults: `cargo run -p examples --example security_pipeline`.
//!
//! One executor with every stage on: the default structural limits, a validator of our own,
//! per-user rate limiting with a per-tool quota, OAuth2 authorization, and an audit log in a
//! SQLite file. Each section shows a call that passes and one that is refused, then the audit
//! log is read back: every call is in it, refused calls included.
//!
//! The OAuth2 provider here is never contacted: a call without a grant only needs the URL the
//! user would open. The grant that `complete_authorization` would store after the provider's
//! redirect is put into the grant store directly (the whole flow over real HTTP is exercised by
//! `tests/tests/oauth.rs` against a provider on loopback).

use std::sync::Arc;

use fact_runtime::audit::AuditQuery;
use fact_runtime::auth::{Grant, GrantStore, MemoryGrantStore, OAuthConfig};
use fact_runtime::{
    AccessToken, AuditConfig, AuditLog, AuthorizationManager, RateLimit, SqlAuditSink, ToolCall,
    ToolContext, ToolError, ToolExecutor, ToolInfo, ToolResult, tool,
};
use serde_json::json;

/// Saves a note in one of the user's folders.
#[tool(name = "Notes.Save", rate_limit = 100)]
async fn save_note(
    /// The folder to save into
    folder: String,
    /// The note itself: any text
    text: String,
) -> String {
    format!("saved {} characters to '{folder}'", text.chars().count())
}

/// Reads a document from the user's drive, with the user's own OAuth2 token.
#[tool(name = "Docs.Read", requires_auth = true, scopes = ["docs.read"])]
async fn read_doc(
    ctx: &ToolContext,
    /// The document's id
    doc_id: String,
) -> Result<String, ToolError> {
    // A real tool would send `Authorization: Bearer {token.secret()}` to the provider's API.
    // The token never leaves this function: not in its output, nor in a log line.
    let token = ctx
        .access_token()
        .ok_or_else(|| ToolError::fatal("no access token in the context"))?;
    Ok(format!(
        "read '{doc_id}' for {} with a {}-character token",
        ctx.user_id().unwrap_or("?"),
        token.secret().len()
    ))
}

/// Our own check: notes go only to the folders on an allow-list.
fn allowed_folders(_tool: &ToolInfo, call: &ToolCall) -> Result<(), ToolError> {
    const ALLOWED: [&str; 2] = ["inbox", "work"];
    let folder = call.arguments["folder"].as_str().unwrap_or_default();
    if ALLOWED.contains(&folder) {
        Ok(())
    } else {
        Err(ToolError::security(format!(
            "folder '{folder}' is not one of {ALLOWED:?}"
        )))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::temp_dir().join(format!("fact-security-demo-{}.db", std::process::id()));
    let sink = Arc::new(SqlAuditSink::sqlite(&db).await?);
    let grants = Arc::new(MemoryGrantStore::default());
    let oauth = OAuthConfig::new(
        "fact-demo",
        "http://127.0.0.1:8080/oauth/callback",
        "https://provider.example/authorize",
        "https://provider.example/token",
    )?;
    let executor = ToolExecutor::builder()
        .tool_validator("Notes.Save", allowed_folders)
        .enable_rate_limiting(true)
        .max_calls_per_minute(60)
        .tool_rate_limit("Notes.Save", RateLimit::per_minute(5))
        .authorization(
            AuthorizationManager::builder(oauth)
                .grant_store(grants.clone())
                .build()?,
        )
        .audit(AuditLog::start(sink.clone(), AuditConfig::default())?)
        .build()?;
    let mut calls = 0;
    let note = |folder: &str, text: &str, user: &str| {
        ToolCall::new("Notes.Save", json!({"folder": folder, "text": text})).user(user)
    };

    println!("== Legitimate input passes: no character blacklist");
    for text in [
        "O'Brien",
        "a|b",
        "2 + (3*4)",
        "https://example.com/?a=1&b=2",
    ] {
        run(&executor, note("inbox", text, "ada"), &mut calls).await;
    }

    println!("\n== Structural limits (strings at most 10,000 characters)");
    let long = "x".repeat(10_001);
    run(&executor, note("work", &long, "bob"), &mut calls).await;

    println!("\n== A validator of our own (folders on an allow-list)");
    run(&executor, note("../etc", "hi", "bob"), &mut calls).await;

    println!("\n== Rate limiting: Notes.Save allows 5 calls a minute per user");
    run(&executor, note("work", "5th", "ada"), &mut calls).await;
    run(&executor, note("work", "6th", "ada"), &mut calls).await;
    run(&executor, note("work", "1st", "bob"), &mut calls).await;

    println!("\n== Authorization: Docs.Read requires the scope docs.read");
    let read = || ToolCall::new("Docs.Read", json!({"doc_id": "q3-plan"})).user("ada");
    run(&executor, read(), &mut calls).await;
    grants
        .put(Grant::new(
            "ada",
            AccessToken::new("ya29.demo-token"),
            ["docs.list"],
        ))
        .await?;
    run(&executor, read(), &mut calls).await;
    grants
        .put(Grant::new(
            "ada",
            AccessToken::new("ya29.demo-token"),
            ["docs.list", "docs.read"],
        ))
        .await?;
    run(&executor, read(), &mut calls).await;

    println!("\n== The audit log ({})", db.display());
    // Writes every queued record before reading them back.
    executor.shutdown().await?;
    let records = sink.query(&AuditQuery::new()).await?;
    for record in &records {
        println!(
            "  {:<10} {:<4} {:<3} {:<8} {:<18} {} bytes, sha256 {}",
            record.tool_name,
            record.user_id.as_deref().unwrap_or("-"),
            record.status_code,
            record.execution_method,
            record.error_type.as_deref().unwrap_or("-"),
            record.arguments_size,
            shorten(&record.arguments_sha256, 12),
        );
    }
    println!("  {calls} calls, {} records", records.len());
    sink.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    Ok(())
}

/// Runs `call` and shows its result.
async fn run(executor: &ToolExecutor, call: ToolCall, calls: &mut usize) {
    *calls += 1;
    show(&executor.execute_tool_call(call).await);
}

/// Prints a result on one line, and the metadata that tells the caller what to do on the next.
fn show(result: &ToolResult) {
    let outcome = match (&result.data, &result.error) {
        (Some(data), _) => data.to_string(),
        (None, Some(error)) => error.clone(),
        (None, None) => String::new(),
    };
    println!(
        "  {} {}: {}",
        result.tool_name,
        result.status_code,
        shorten(&outcome, 160)
    );
    for key in ["limit", "path", "missing_scopes", "authorization_url"] {
        if let Some(value) = result.metadata.extra.get(key) {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            println!("      {key}: {}", shorten(&value, 70));
        }
    }
    if let Some(ms) = result.metadata.retry_after_ms {
        println!("      retry_after_ms: {ms}");
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
