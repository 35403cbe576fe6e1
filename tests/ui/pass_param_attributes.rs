//! `#[serde(..)]` and `#[schemars(..)]` on parameters shape the schema as on struct fields,
//! those that name functions (`default = "..."`, `deserialize_with`, `with`) included.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};

/// Lists a page of items.
#[tool(name = "Ui.Page")]
async fn page(
    /// Page size
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    /// Newest first when true
    #[serde(default)]
    descending: bool,
) -> (u32, bool) {
    (limit, descending)
}

#[tokio::main]
async fn main() {
    assert_eq!(page(10, true).await, (10, true));

    let executor = ToolExecutor::builder().build().unwrap();
    let schema = &executor.tool_info("Ui.Page").unwrap().input_schema;
    assert_eq!(
        schema["properties"]["limit"]["minimum"],
        json!(1),
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["limit"]["maximum"],
        json!(100),
        "{schema}"
    );
    assert_eq!(schema["required"], json!(["limit"]), "{schema}");

    let defaulted = executor
        .execute_tool_call(ToolCall::new("Ui.Page", json!({"limit": 5})))
        .await;
    assert_eq!(defaulted.data, Some(json!([5, false])), "{defaulted:?}");

    let out_of_range = executor
        .execute_tool_call(ToolCall::new("Ui.Page", json!({"limit": 500})))
        .await;
    assert_eq!(out_of_range.status_code, 400, "{out_of_range:?}");

    functions_named_by_attributes_deserialize_and_describe_the_parameter(&executor).await;
}

/// Three, unless the caller says otherwise.
fn three() -> u8 {
    3
}

/// A number the schema cannot show as a default: it is not `Serialize`.
#[derive(Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
struct Seed(u32);

impl Default for Seed {
    fn default() -> Self {
        Self(7)
    }
}

fn shouted<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    <String as serde::Deserialize>::deserialize(deserializer).map(|text| text.to_uppercase())
}

/// Reads a comma-separated list.
mod comma_list {
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Ok(text.split(',').map(str::to_owned).collect())
    }
}

/// Every attribute that names a function of the parameter's type.
#[tool(name = "Ui.Functions")]
async fn functions(
    /// How many times
    #[serde(default = "three")]
    times: u8,
    /// Where to start
    #[serde(default)]
    seed: Seed,
    /// Said loudly
    #[serde(deserialize_with = "shouted")]
    word: String,
    /// Tags, comma-separated
    #[serde(with = "comma_list", rename = "tagList")]
    #[schemars(with = "String")]
    tags: Vec<String>,
    /// Shown with the default of schemars' own attribute
    #[schemars(default = "three")]
    #[serde(default)]
    level: u8,
) -> String {
    format!("{times} {} {word} {} {level}", seed.0, tags.join("+"))
}

async fn functions_named_by_attributes_deserialize_and_describe_the_parameter(
    executor: &ToolExecutor,
) {
    let schema = &executor.tool_info("Ui.Functions").unwrap().input_schema;
    let properties = &schema["properties"];
    assert_eq!(properties["times"]["default"], json!(3), "{schema}");
    assert!(properties["seed"].get("default").is_none(), "{schema}");
    assert_eq!(properties["tagList"]["type"], json!("string"), "{schema}");
    assert_eq!(properties["level"]["default"], json!(3), "{schema}");
    assert_eq!(schema["required"], json!(["word", "tagList"]), "{schema}");

    let called = executor
        .execute_tool_call(ToolCall::new(
            "Ui.Functions",
            json!({"word": "hi", "tagList": "a,b"}),
        ))
        .await;
    assert_eq!(called.data, Some(json!("3 7 HI a+b 0")), "{called:?}");
}
