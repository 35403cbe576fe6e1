//! `GET /arcade/v1/tools` (a page of the executor's tools, sorted by name) and
//! `GET /arcade/v1/tools/{name}` (one), as the Engine lists tools ([`engine_tool`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::Map;

use super::answer::EngineError;
use crate::arcade::convert::engine_tool;
use crate::arcade::wire;
use crate::registry::ToolInfo;
use crate::schema::ToolFormat;
use crate::server::routes::AppState;

/// A page's size when the request names none.
const DEFAULT_LIMIT: u64 = 25;
/// The largest page: a larger `limit` is read as this one (the answer's `limit` says so).
const MAX_LIMIT: u64 = 100;

/// A format of `include_format`: the Engine's own definition, or one of FACT's exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IncludedFormat {
    /// The tool as the Engine lists it, under `formatted_schema.arcade`.
    Arcade,
    /// FACT's export, under `formatted_schema.<format>`.
    Export(ToolFormat),
}

/// The query of a listing. Parameters the Engine knows and this server does not use
/// (`include_all_versions`, `filter`) are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    limit: Option<u64>,
    offset: Option<u64>,
    toolkit: Option<String>,
    include_format: Option<String>,
    /// Accepted and unused: FACT fills in no per-user `requirements.met`.
    #[serde(rename = "user_id")]
    _user_id: Option<String>,
}

/// The query of one tool.
#[derive(Debug, Deserialize)]
pub(super) struct OneQuery {
    include_format: Option<String>,
    /// Accepted and unused, as in a listing.
    #[serde(rename = "user_id")]
    _user_id: Option<String>,
}

/// `GET /arcade/v1/tools`: the tools of the toolkit asked for (case-insensitively; all
/// without one), sorted by name, from `offset`, at most `limit` (1 to 100, default 25).
/// `total_count` and `offset` let a client page to the end (arcadepy asks again while
/// `offset + items < total_count`); every tool appears on exactly one page.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<wire::Page<wire::Tool>>, EngineError> {
    let Query(query) = query.map_err(|rejection| {
        EngineError::bad_request(format!(
            "the query takes at most one each of 'limit' and 'offset' (numbers), 'toolkit', 'include_format' and 'user_id': {}",
            rejection.body_text()
        ))
    })?;
    let formats = included_formats(query.include_format.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = query.offset.unwrap_or(0);
    let matching: Vec<Arc<ToolInfo>> = state
        .executor
        .available_tools()
        .into_iter()
        .filter(|info| {
            query
                .toolkit
                .as_deref()
                .is_none_or(|toolkit| toolkit_of(info).eq_ignore_ascii_case(toolkit))
        })
        .collect();
    let total_count = matching.len() as u64;
    let items = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|info| listed(&info, &formats))
        .collect();
    Ok(Json(wire::Page {
        items,
        total_count,
        offset,
        limit,
        page_count: total_count.div_ceil(limit),
    }))
}

/// `GET /arcade/v1/tools/{name}`: one tool by `Toolkit.Tool` (or its exported name), with an
/// optional `@version` that must be the tool's; 404 otherwise.
pub(super) async fn one(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<OneQuery>, QueryRejection>,
) -> Result<Json<wire::Tool>, EngineError> {
    let Path(name) = name.map_err(|_| {
        EngineError::bad_request(
            "the tool name in the path is not text once percent-decoded: expected 'Toolkit.Tool'",
        )
    })?;
    let Query(query) = query.map_err(|rejection| {
        EngineError::bad_request(format!(
            "the query takes at most one each of 'include_format' and 'user_id': {}",
            rejection.body_text()
        ))
    })?;
    let formats = included_formats(query.include_format.as_deref())?;
    let (bare, version) = match name.split_once('@') {
        Some((bare, version)) => (bare, Some(version)),
        None => (name.as_str(), None),
    };
    let info = state
        .executor
        .tool_info(bare)
        .ok_or_else(|| EngineError::not_found(format!("tool '{name}' not found")))?;
    if let Some(version) = version
        && version != info.version
    {
        return Err(EngineError::not_found(format!(
            "tool '{}' is at version {}, not {version}",
            info.name, info.version
        )));
    }
    Ok(Json(listed(&info, &formats)))
}

/// The formats of an `include_format` value: names separated by commas (arcadepy sends one
/// value, `arcade,openai`, percent-encoded), each `arcade`, `openai` or `anthropic`, in any
/// case; repeats count once.
fn included_formats(value: Option<&str>) -> Result<Vec<IncludedFormat>, EngineError> {
    let mut formats = Vec::new();
    for name in value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let format = match name.to_ascii_lowercase().as_str() {
            "arcade" => IncludedFormat::Arcade,
            "openai" => IncludedFormat::Export(ToolFormat::OpenAi),
            "anthropic" => IncludedFormat::Export(ToolFormat::Anthropic),
            _ => {
                return Err(EngineError::bad_request(format!(
                    "'include_format' takes arcade, openai and anthropic, separated by commas, not '{name}'"
                )));
            }
        };
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    Ok(formats)
}

/// `info` as the Engine lists it, with `formatted_schema` holding each format asked for.
fn listed(info: &ToolInfo, formats: &[IncludedFormat]) -> wire::Tool {
    let exports: Vec<ToolFormat> = formats
        .iter()
        .filter_map(|format| match format {
            IncludedFormat::Export(format) => Some(*format),
            IncludedFormat::Arcade => None,
        })
        .collect();
    let mut tool = engine_tool(info, &exports);
    if formats.contains(&IncludedFormat::Arcade) {
        let plain = serde_json::to_value(wire::Tool {
            formatted_schema: None,
            ..tool.clone()
        })
        .unwrap_or_default();
        tool.formatted_schema
            .get_or_insert_with(Map::new)
            .insert("arcade".to_owned(), plain);
    }
    tool
}

/// The toolkit of a tool: its name before the first dot.
fn toolkit_of(info: &ToolInfo) -> &str {
    info.name.split_once('.').map_or("", |(toolkit, _)| toolkit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_format_reads_a_comma_list_in_any_case_once_each() {
        let formats = included_formats(Some("arcade, OpenAI,arcade,,anthropic")).expect("read");
        assert_eq!(
            formats,
            [
                IncludedFormat::Arcade,
                IncludedFormat::Export(ToolFormat::OpenAi),
                IncludedFormat::Export(ToolFormat::Anthropic)
            ]
        );
        assert!(included_formats(None).expect("read").is_empty());
    }

    #[test]
    fn an_unknown_format_is_refused_by_name() {
        for value in ["mcp", "arcade,native", "open ai"] {
            assert!(included_formats(Some(value)).is_err(), "{value}");
        }
    }
}
