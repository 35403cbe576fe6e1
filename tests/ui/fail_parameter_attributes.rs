use fact_runtime::tool;

fn two() -> u8 {
    2
}

/// A default that is not a path.
#[tool(name = "Ui.NumberDefault")]
async fn number_default(#[serde(default = 3)] times: u8) -> u8 {
    times
}

/// Two defaults for one parameter.
#[tool(name = "Ui.TwoDefaults")]
async fn two_defaults(
    #[serde(default)]
    #[serde(default = "two")]
    times: u8,
) -> u8 {
    times
}

mod text {
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
        <u8 as serde::Deserialize>::deserialize(deserializer)
    }
}

/// Two ways to deserialize one parameter.
#[tool(name = "Ui.TwoDeserializers")]
async fn two_deserializers(
    #[serde(with = "text", deserialize_with = "text::deserialize")] times: u8,
) -> u8 {
    times
}

fn main() {}
