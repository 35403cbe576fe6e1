use fact_runtime::tool;

/// Lists repositories.
#[tool(name = "Ui.Empty", requires_auth, auth_provider = "")]
async fn empty(owner: String) -> String {
    owner
}

/// Lists repositories.
#[tool(name = "Ui.Spaced", requires_auth, auth_provider = "git hub")]
async fn spaced(owner: String) -> String {
    owner
}

/// Lists repositories.
#[tool(name = "Ui.NotText", requires_auth, auth_provider = github)]
async fn not_text(owner: String) -> String {
    owner
}

/// Lists repositories.
#[tool(name = "Ui.Twice", scopes = ["repo"], auth_provider = "github", auth_provider = "gitlab")]
async fn twice(owner: String) -> String {
    owner
}

fn main() {}
