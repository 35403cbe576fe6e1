//! Where OAuth2 providers send users back: `GET` at the path of `OAUTH_REDIRECT_URI` with
//! `code` and `state` (or `error`), which completes the flow a 401 started and answers the
//! user's browser with a short page saying the tool is now authorized, or why not
//! (docs/ARCHITECTURE.md, "Engine API").

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::routes::AppState;
use crate::auth::AuthError;
use crate::executor::ToolExecutor;

/// The path of the executor's redirect URI, when it has an authorization manager.
pub(crate) fn callback_path(executor: &ToolExecutor) -> Option<String> {
    let manager = executor.authorization_manager()?;
    let url = url::Url::parse(manager.config().redirect_uri()).ok()?;
    Some(url.path().to_owned())
}

/// Completes the flow named by `state` with `code`, or ends it with the provider's `error`.
pub(crate) async fn callback(
    State(state): State<Arc<AppState>>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(manager) = state.executor.authorization_manager() else {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "No authorization is configured here.",
        );
    };
    let Ok(Query(query)) = query else {
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "The provider's answer could not be read.",
        );
    };
    let Some(flow_id) = query.get("state").filter(|state| !state.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "The provider's answer names no authorization ('state' is missing).",
        );
    };
    if let Some(error) = query.get("error") {
        let reason = match query.get("error_description") {
            Some(description) => format!("{error}: {description}"),
            None => error.clone(),
        };
        let detail = match manager.abandon_authorization(flow_id, &reason).await {
            Ok(()) => format!("The provider did not grant access ({reason})."),
            Err(problem) => format!("The provider did not grant access ({reason}), and {problem}."),
        };
        return page(StatusCode::BAD_REQUEST, "Authorization refused", &detail);
    }
    let Some(code) = query.get("code").filter(|code| !code.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "The provider's answer carries no code.",
        );
    };
    // The tool is only named on the page: a store that cannot say leaves it unnamed, and the
    // completion below reports the store's failure.
    let tool = manager
        .flow_status(flow_id)
        .await
        .ok()
        .flatten()
        .map(|(flow, _)| flow.tool_name);
    match manager.complete_authorization(flow_id, code).await {
        Ok(grant) => page(
            StatusCode::OK,
            "Authorized",
            &format!(
                "User '{}' authorized {}. You can close this page and go back to the application.",
                grant.user_id,
                tool.map_or_else(|| "the tool".to_owned(), |tool| format!("tool '{tool}'")),
            ),
        ),
        // The stores' failures are the server's, told in its log rather than to a browser.
        Err(error @ (AuthError::Store(_) | AuthError::GrantBusy { .. })) => {
            tracing::error!(%error, "cannot complete an authorization flow");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Authorization failed",
                "The authorization could not be completed: the server cannot reach its store now. Start the authorization again in a moment.",
            )
        }
        Err(error) => page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            &format!("The authorization could not be completed: {error}."),
        ),
    }
}

/// A short HTML page: `title`, then `text`, both escaped.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1><p>{text}</p></body></html>\n",
        title = escape(title),
        text = escape(text),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// `text` safe between HTML tags.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
