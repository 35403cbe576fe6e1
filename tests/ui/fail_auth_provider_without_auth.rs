use fact_runtime::tool;

/// Lists public repositories: requires no authorization, so no provider can grant it.
#[tool(name = "Ui.PublicRepos", auth_provider = "github")]
async fn public_repos(owner: String) -> String {
    owner
}

/// Says `requires_auth = false` in so many words, and names a provider all the same.
#[tool(name = "Ui.Explicit", requires_auth = false, auth_provider = "github")]
async fn explicit(owner: String) -> String {
    owner
}

fn main() {}
