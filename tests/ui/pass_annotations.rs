//! `title` and the annotation keys, as bare flags and as `= true` / `= false`, reach the tool's
//! `ToolInfo`; a key left out is not declared.

use fact_runtime::{ToolAnnotations, ToolExecutor, tool};

/// Looks a word up in a fixed list.
#[tool(
    name = "Ui.Lookup",
    title = "Word lookup",
    read_only,
    destructive = false,
    idempotent = true,
    open_world = false
)]
fn lookup(word: String) -> bool {
    ["apple", "pear"].contains(&word.as_str())
}

/// Deletes a note; says nothing about its world.
#[tool(name = "Ui.DeleteNote", read_only = false, destructive, idempotent)]
async fn delete_note(id: String) -> String {
    id
}

/// Declares nothing.
#[tool(name = "Ui.Plain")]
async fn plain() {}

#[tokio::main]
async fn main() {
    assert!(lookup("pear".into()));
    assert_eq!(delete_note("n1".into()).await, "n1");
    plain().await;

    let executor = ToolExecutor::builder().build().unwrap();
    let info = executor.tool_info("Ui.Lookup").unwrap();
    assert_eq!(info.title.as_deref(), Some("Word lookup"));
    assert_eq!(
        info.annotations,
        ToolAnnotations {
            read_only: Some(true),
            destructive: Some(false),
            idempotent: Some(true),
            open_world: Some(false),
        }
    );

    let delete = executor.tool_info("Ui.DeleteNote").unwrap();
    assert_eq!(delete.title, None);
    assert_eq!(
        delete.annotations,
        ToolAnnotations {
            read_only: Some(false),
            destructive: Some(true),
            idempotent: Some(true),
            open_world: None,
        }
    );

    assert_eq!(
        executor.tool_info("Ui.Plain").unwrap().annotations,
        ToolAnnotations::default()
    );
}
