//! The standard tools on embedded defaults: `cargo run -p examples --example std_tools_demo`.
//!
//! The demo makes everything it needs in a fresh folder under the system's temporary
//! directory: a `data` folder for the file tools, a sample SQLite database for the SQL tools,
//! and a small website on loopback for the web tools. It hands each family its settings the
//! way an application does, through `ToolExecutorBuilder::extension`: the file tools get the
//! `data` folder as their only root, the SQL tools the sample database (read-only), and the
//! web tools a network policy that allows this one loopback site by name. Without these, the
//! tools read `FACT_FS_ROOTS` (default `./data`), `FACT_SQL_DATABASE_URL` (no default) and
//! `ALLOWED_HOSTS`.
//!
//! Each family shows legitimate calls passing and an attack refused.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::routing::get;
use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tools_std::fs::FileRoots;
use fact_tools_std::sql::{SqlDatabase, SqlPolicy};
use fact_tools_std::web::{HttpClient, NetworkPolicy};
use serde_json::{Value, json};
use sqlx::Connection as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workspace =
        std::env::temp_dir().join(format!("fact-std-tools-demo-{}", std::process::id()));
    let outcome = run(&workspace).await;
    let _ = std::fs::remove_dir_all(&workspace);
    outcome
}

async fn run(workspace: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let data = make_data_folder(workspace)?;
    let database = make_sample_database(workspace).await?;
    let site = start_site().await?;
    println!("sample data folder: {}", data.display());
    println!("sample database:    {database}");
    println!("loopback site:      {site}\n");

    let executor = ToolExecutor::builder()
        .extension(FileRoots::new([&data])?)
        .extension(SqlDatabase::connect(&database, SqlPolicy::default()).await?)
        .extension(HttpClient::new(
            NetworkPolicy::default().allow_host("127.0.0.1"),
        ))
        .build()?;
    let call =
        |tool: &str, arguments: Value| executor.execute_tool_call(ToolCall::new(tool, arguments));

    println!("== web ==");
    let fetched = call("Web.HTTPRequest", json!({"url": format!("{site}/status")})).await;
    show(
        "GET the loopback site (allowed by name)",
        &fetched,
        |data| format!("{} -> {}", data["content_type"], data["body"]),
    );
    let parsed = call(
        "Web.ParseJSON",
        json!({"json_text": r#"{"name": "FACT", "tools": 10}"#}),
    )
    .await;
    show("ParseJSON", &parsed, |data| {
        format!("{} with keys {}", data["type"], data["keys"])
    });
    let broken = call(
        "Web.ParseJSON",
        json!({"json_text": "{\"a\": 1,\n \"b\": }"}),
    )
    .await;
    show("ParseJSON of broken JSON", &broken, |_| String::new());
    let urls = call(
        "Web.ExtractURLs",
        json!({"text": "Docs at https://docs.rs/fact?tab=api&v=1, see http://b.org, then ftp://x.org."}),
    )
    .await;
    show("ExtractURLs", &urls, |data| {
        format!("{} URLs: {}", data["count"], data["urls"])
    });
    let metadata = call(
        "Web.HTTPRequest",
        json!({"url": "http://169.254.169.254/latest/meta-data"}),
    )
    .await;
    show("attack: the cloud metadata address", &metadata, |_| {
        String::new()
    });
    let renamed = call(
        "Web.HTTPRequest",
        json!({"url": site.replace("127.0.0.1", "localhost") + "/status"}),
    )
    .await;
    show("attack: the same site by another name", &renamed, |_| {
        String::new()
    });

    println!("\n== file system ==");
    let listing = call(
        "FileSystem.ListDirectory",
        json!({"directory_path": ".", "recursive": true}),
    )
    .await;
    show("ListDirectory", &listing, |data| {
        let names: Vec<&str> = data["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["path"].as_str())
            .collect();
        names.join(", ")
    });
    let notes = call("FileSystem.ReadFile", json!({"file_path": "notes.txt"})).await;
    show("ReadFile notes.txt", &notes, |data| {
        format!("{:?}", data["content"].as_str().unwrap_or_default())
    });
    let info = call("FileSystem.GetFileInfo", json!({"path": "reports/q1.csv"})).await;
    show("GetFileInfo reports/q1.csv", &info, |data| {
        format!("{} of {} bytes", data["type"], data["size"])
    });
    let escape = call("FileSystem.ReadFile", json!({"file_path": "../secret.txt"})).await;
    show("attack: ../secret.txt", &escape, |_| String::new());
    let link = call("FileSystem.ReadFile", json!({"file_path": "shortcut.txt"})).await;
    show("attack: a symlink out of the root", &link, |_| {
        String::new()
    });

    println!("\n== SQL ==");
    let schema = call("SQL.SchemaInfo", json!({})).await;
    show("SchemaInfo", &schema, |data| {
        let tables: Vec<&str> = data["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|table| table["table"].as_str())
            .collect();
        tables.join(", ")
    });
    let totals = call(
        "SQL.Query",
        json!({
            "statement": "SELECT region, SUM(amount) AS total FROM revenue WHERE amount > ? \
                          GROUP BY region ORDER BY total DESC",
            "params": [50]
        }),
    )
    .await;
    show("Query with a bound parameter", &totals, |data| {
        data["rows"].to_string()
    });
    let table = call("SQL.TableInfo", json!({"table": "revenue"})).await;
    show("TableInfo revenue", &table, |data| {
        let columns: Vec<String> = data["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} {}",
                    c["name"].as_str().unwrap_or("?"),
                    c["type"].as_str().unwrap_or("?")
                )
            })
            .collect();
        columns.join(", ")
    });
    let injection = call(
        "SQL.Query",
        json!({"statement": "SELECT * FROM revenue; DROP TABLE revenue; --"}),
    )
    .await;
    show("attack: a second statement", &injection, |_| String::new());
    let after = call(
        "SQL.Query",
        json!({"statement": "SELECT COUNT(*) AS n FROM revenue"}),
    )
    .await;
    show("the table afterwards", &after, |data| {
        data["rows"].to_string()
    });
    Ok(())
}

/// Prints one call's outcome: `describe(data)` on success, the error otherwise.
fn show(label: &str, result: &ToolResult, describe: impl Fn(&Value) -> String) {
    match &result.data {
        Some(data) if result.success => {
            println!("  {label}: {} {}", result.status_code, describe(data))
        }
        _ => println!(
            "  {label}: {} {} {}",
            result.status_code,
            result.metadata.error_type.as_deref().unwrap_or(""),
            result.error.as_deref().unwrap_or("")
        ),
    }
}

/// `workspace/data` with a few files, and a secret beside it that a symlink inside points to.
fn make_data_folder(workspace: &Path) -> std::io::Result<PathBuf> {
    let data = workspace.join("data");
    std::fs::create_dir_all(data.join("reports"))?;
    std::fs::write(
        data.join("notes.txt"),
        "Ship the standard tools.\nThen the server.\n",
    )?;
    std::fs::write(data.join("reports/q1.csv"), "region,amount\nnorth,175.75\n")?;
    std::fs::write(workspace.join("secret.txt"), "the root password\n")?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(workspace.join("secret.txt"), data.join("shortcut.txt"))?;
    Ok(data)
}

/// A SQLite file with a `revenue` table, as a `sqlite://` URL.
async fn make_sample_database(workspace: &Path) -> Result<String, sqlx::Error> {
    let url = format!("sqlite://{}", workspace.join("sample.db").display());
    let mut connection = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc")).await?;
    for sql in [
        "CREATE TABLE revenue (id INTEGER PRIMARY KEY, region TEXT NOT NULL, amount REAL NOT NULL)",
        "INSERT INTO revenue (region, amount) VALUES ('north', 100.5), ('south', 250), \
         ('north', 75.25), ('east', 30), ('east', 300)",
    ] {
        sqlx::query(sql).execute(&mut connection).await?;
    }
    connection.close().await?;
    Ok(url)
}

/// A tiny website on loopback, returning its base URL.
async fn start_site() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = Router::new().route(
        "/status",
        get(|| async { axum::Json(json!({"status": "ok", "tools": 10})) }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{address}"))
}
