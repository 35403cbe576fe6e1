use fact_runtime::tool;

/// Saves a note.
#[tool(name = "Ui.SaveNote", idempotent, destructive = false, idempotent = false)]
async fn save_note(text: String) -> String {
    text
}

fn main() {}
