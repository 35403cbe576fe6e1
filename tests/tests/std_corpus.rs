//! The attack corpus, verbatim and with more of our own, against one executor serving
//! all ten standard tools: every attack is refused with a 403 or 400 that says why, no output
//! ever carries a secret, and the database stays byte-for-byte unchanged. Then a corpus of
//! legitimate inputs, many of which a character blacklist would have refused, all pass.
//!
//! The per-family files (`std_web.rs`, `std_fs.rs`, `std_sql.rs`) test each defence in depth;
//! this one is the specification read end to end.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::routing::get;
use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tests::scratch::{TempDb, unique};
use fact_tools_std::fs::FileRoots;
use fact_tools_std::sql::{SqlDatabase, SqlPolicy};
use fact_tools_std::web::{HttpClient, NetworkPolicy};
use serde_json::{Value, json};
use sqlx::Connection as _;

/// Text that sits outside every root and in a table no query may change; no output may hold it.
const SECRET: &str = "the-secret-7f3a";

/// A data folder with a secret beside it, a SQLite file, and a site on loopback.
struct World {
    folder: PathBuf,
    database: TempDb,
    site: String,
}

impl World {
    async fn new() -> Self {
        let folder = std::env::temp_dir().join(unique("std-corpus"));
        let data = folder.join("data");
        std::fs::create_dir_all(data.join("reports")).expect("data folder");
        for (name, text) in [
            ("notes.txt", "plain notes\n"),
            ("Q1 & Q2 report.txt", "quarters\n"),
            ("O'Brien.txt", "a name with a quote\n"),
            ("café – ünïcode.txt", "accents\n"),
            ("reports/a|b.csv", "x,y\n"),
        ] {
            std::fs::write(data.join(name), text).expect("file");
        }
        std::fs::write(folder.join("secret.txt"), SECRET).expect("secret");
        std::os::unix::fs::symlink(folder.join("secret.txt"), data.join("link-out.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink("../secret.txt", data.join("relative-out.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink("/dev/zero", data.join("zero")).expect("symlink");

        let database = TempDb::new("std-corpus");
        let mut writer = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", database.url()))
            .await
            .expect("SQLite file");
        for sql in [
            "CREATE TABLE revenue (id INTEGER PRIMARY KEY, region TEXT, amount REAL, note TEXT)".to_owned(),
            "INSERT INTO revenue VALUES (1, 'north', 100, 'Q1 & Q2'), (2, 'south', 250, 'update soon')".to_owned(),
            "CREATE TABLE vault (secret TEXT)".to_owned(),
            format!("INSERT INTO vault VALUES ('{SECRET}')"),
            "CREATE TABLE kv (k TEXT, v TEXT)".to_owned(),
            format!("INSERT INTO kv VALUES ('key', '{SECRET}')"),
        ] {
            sqlx::query(&sql).execute(&mut writer).await.expect("set-up");
        }
        writer.close().await.expect("closed");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let address = listener.local_addr().expect("address");
        let app = Router::new()
            .route(
                "/status",
                get(|| async { axum::Json(json!({"status": "ok"})) }),
            )
            .route("/admin", get(|| async { SECRET }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            folder,
            database,
            site: format!("http://{address}"),
        }
    }

    fn data(&self) -> PathBuf {
        self.folder.join("data")
    }

    /// An executor over this world; `network` decides what the web tools may reach.
    async fn executor(&self, network: NetworkPolicy) -> ToolExecutor {
        ToolExecutor::builder()
            .extension(FileRoots::new([self.data()]).expect("root opens"))
            .extension(
                SqlDatabase::connect(
                    &self.database.url(),
                    SqlPolicy::default().allow_tables(["revenue"]),
                )
                .await
                .expect("database opens"),
            )
            .extension(HttpClient::new(network))
            .build()
            .expect("registry builds")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

async fn call(executor: &ToolExecutor, tool: &str, arguments: Value) -> ToolResult {
    executor
        .execute_tool_call(ToolCall::new(tool, arguments))
        .await
}

fn attacks(world: &World) -> Vec<(&'static str, Value)> {
    let port = world.site.rsplit(':').next().unwrap_or("80").to_owned();
    let data = world.data();
    let mut attacks = vec![
        // The corpus, verbatim.
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue; DROP TABLE revenue; --"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "'; EXEC xp_cmdshell('dir'); --"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue; INSERT INTO revenue VALUES (1)"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "../../../etc/passwd"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "..\\..\\windows\\system32\\config\\sam"}),
        ),
        ("FileSystem.ReadFile", json!({"file_path": "/etc/shadow"})),
        ("FileSystem.ReadFile", json!({"file_path": "~/.ssh/id_rsa"})),
        (
            "Web.HTTPRequest",
            json!({"url": "http://localhost:80/admin"}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": "http://127.0.0.1:8080/status"}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": "http://169.254.169.254/metadata"}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": "http://10.0.0.1/internal"}),
        ),
        ("Web.HTTPRequest", json!({"url": "file:///etc/passwd"})),
        (
            "Web.HTTPRequest",
            json!({"url": "ftp://internal.server/data"}),
        ),
        // And more of our own: SQL.
        ("SQL.Query", json!({"statement": "SELECT * FROM vault"})),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue WHERE id IN (SELECT 1 FROM vault)"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM sqlite_master"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "WITH vault AS (SELECT * FROM vault) SELECT * FROM vault"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "UPDATE revenue SET amount = 0"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "ATTACH DATABASE '/tmp/x.db' AS x"}),
        ),
        ("SQL.Query", json!({"statement": "PRAGMA query_only = OFF"})),
        (
            "SQL.Query",
            json!({"statement": "SELECT load_extension('/tmp/evil')"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue WHERE id = ? ; DELETE FROM revenue", "params": [1]}),
        ),
        // Found in review: SQLite reads `$1::b(')` as one parameter token that swallows the
        // quote, so sqlparser and SQLite disagreed on where the statements were; and a CTE
        // named with a Kelvin sign, which Unicode lower-cases to `k` but the databases do not.
        (
            "SQL.Query",
            json!({"statement": "SELECT 1 AS a, $1::b(') ; SELECT v, 2 FROM kv ; SELECT 3, $2::d(')"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT 1, $1::b(') , (SELECT v FROM kv) , $2::d(')"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT 1; ATTACH DATABASE '/tmp/x.db' AS x"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "WITH \u{212A}v AS (SELECT 1) SELECT * FROM kv"}),
        ),
        (
            "SQL.Query",
            json!({"statement": format!("SELECT 1{}", "+1".repeat(30_000))}),
        ),
        ("SQL.TableInfo", json!({"table": "vault"})),
        (
            "SQL.TableInfo",
            json!({"table": "revenue; DROP TABLE revenue"}),
        ),
        // The file system.
        ("FileSystem.ReadFile", json!({"file_path": "link-out.txt"})),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "relative-out.txt"}),
        ),
        ("FileSystem.ReadFile", json!({"file_path": "zero"})),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "reports/../../secret.txt"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "/proc/self/environ"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "notes.txt\u{0}.png"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": format!("{}/secret.txt", world.folder.display())}),
        ),
        ("FileSystem.ListDirectory", json!({"directory_path": ".."})),
        ("FileSystem.ListDirectory", json!({"directory_path": "/"})),
        ("FileSystem.GetFileInfo", json!({"path": "../secret.txt"})),
        // The network: the loopback site itself, however it is written.
        (
            "Web.HTTPRequest",
            json!({"url": format!("{}/admin", world.site)}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": format!("http://2130706433:{port}/admin")}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": format!("http://0x7f.0.0.1:{port}/admin")}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": format!("http://0177.0.0.1:{port}/admin")}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": format!("http://[::ffff:127.0.0.1]:{port}/admin")}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": format!("http://[::1]:{port}/admin")}),
        ),
        (
            "Web.HTTPRequest",
            json!({"url": format!("http://localhost:{port}/admin")}),
        ),
        ("Web.HTTPRequest", json!({"url": "http://100.64.0.1/"})),
        ("Web.HTTPRequest", json!({"url": "http://[fd00::1]/"})),
        ("Web.HTTPRequest", json!({"url": "http://0.0.0.0/"})),
        ("Web.HTTPRequest", json!({"url": "gopher://127.0.0.1:25/"})),
        (
            "Web.URLHealth",
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
        ),
    ];
    // An absolute path into the root is legitimate; one into its parent is not.
    attacks.push((
        "FileSystem.GetFileInfo",
        json!({"path": data.parent().map(Path::display).map(|p| p.to_string()).unwrap_or_default()}),
    ));
    attacks
}

#[tokio::test]
async fn every_attack_is_refused_no_secret_leaks_and_the_database_is_unchanged() {
    let world = World::new().await;
    let executor = world.executor(NetworkPolicy::default()).await;
    let before = std::fs::read(world.database.path()).expect("database file");
    for (tool, arguments) in attacks(&world) {
        let result = call(&executor, tool, arguments.clone()).await;
        assert!(
            matches!(result.status_code, 400 | 403),
            "{tool} {arguments}: {result:?}"
        );
        assert!(
            result.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{tool} {arguments}: a refusal says why"
        );
        let answer = serde_json::to_string(&result).expect("serializes");
        assert!(
            !answer.contains(SECRET),
            "{tool} {arguments} leaked: {answer}"
        );
    }
    assert!(
        std::fs::read(world.database.path()).expect("database file") == before,
        "the database changed"
    );
}

#[tokio::test]
async fn every_legitimate_input_passes() {
    let world = World::new().await;
    let executor = world
        .executor(NetworkPolicy::default().allow_host("127.0.0.1"))
        .await;
    let inside = world.data().join("notes.txt");
    for (tool, arguments) in [
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue WHERE note LIKE '%&%'"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT 'update revenue' AS a, 'drop table' AS b -- a comment"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "WITH n AS (SELECT * FROM revenue) SELECT region FROM n UNION ALL SELECT 'x'"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue WHERE 1=1 OR 1=1"}),
        ),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM revenue WHERE note = ?", "params": ["'; DROP TABLE revenue; --"]}),
        ),
        ("SQL.TableInfo", json!({"table": "revenue"})),
        ("SQL.SchemaInfo", json!({})),
        ("FileSystem.ReadFile", json!({"file_path": "notes.txt"})),
        ("FileSystem.ReadFile", json!({"file_path": "./notes.txt"})),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "reports/../notes.txt"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": inside.display().to_string()}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "Q1 & Q2 report.txt"}),
        ),
        ("FileSystem.ReadFile", json!({"file_path": "O'Brien.txt"})),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "café – ünïcode.txt"}),
        ),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "reports/a|b.csv"}),
        ),
        (
            "FileSystem.ListDirectory",
            json!({"directory_path": ".", "recursive": true}),
        ),
        ("FileSystem.GetFileInfo", json!({"path": "reports"})),
        (
            "Web.HTTPRequest",
            json!({"url": format!("{}/status?a=1&b=2|3", world.site)}),
        ),
        (
            "Web.URLHealth",
            json!({"url": format!("{}/status", world.site)}),
        ),
        (
            "Web.ParseJSON",
            json!({"json_text": "{\"expr\": \"2 + (3*4)\", \"sql\": \"'; DROP TABLE x; --\", \"path\": \"../../etc/passwd\"}"}),
        ),
        (
            "Web.ExtractURLs",
            json!({"text": "see https://example.com/?a=1&b=2, and http://b.org."}),
        ),
    ] {
        let result = call(&executor, tool, arguments.clone()).await;
        assert_eq!(result.status_code, 200, "{tool} {arguments}: {result:?}");
    }
}
