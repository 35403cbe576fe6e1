use fact_runtime::tool;

/// Reads a note.
#[tool(name = "Ui.ReadNote", read_only = "yes")]
async fn read_note(id: String) -> String {
    id
}

/// Deletes a note.
#[tool(name = "Ui.DeleteNote", destructive = 1)]
async fn delete_note(id: String) -> String {
    id
}

/// Searches the web.
#[tool(name = "Ui.Search", open_world(true))]
async fn search(query: String) -> String {
    query
}

fn main() {}
