//! `Web.ParseJSON` and `Web.ExtractURLs`, which never touch the network.

use serde_json::json;

use super::{call, data, error, public_only};

// --- Web.ParseJSON ---

#[tokio::test]
async fn parse_json_describes_a_unicode_object() {
    let text = r#"{"name": "Zoë ✓", "emoji": "🦀", "list": [1, 2]}"#;
    let result = call(&public_only(), "Web.ParseJSON", json!({"json_text": text})).await;
    let data = data(&result);
    assert_eq!(data["type"], "object");
    assert_eq!(data["keys"], json!(["name", "emoji", "list"]));
    assert_eq!(data["value"]["emoji"], "🦀");
    assert_eq!(data["size"], text.chars().count());
}

#[tokio::test]
async fn parse_json_of_invalid_text_is_a_400_with_line_and_column() {
    let result = call(
        &public_only(),
        "Web.ParseJSON",
        json!({"json_text": "[1,\n 2,,\n 3]"}),
    )
    .await;
    assert_eq!(result.status_code, 400, "{result:?}");
    assert_eq!(
        error(&result),
        "'json_text' is not valid JSON at line 2, column 4: expected value"
    );
    assert_eq!(result.metadata.extra["line"], 2);
    assert_eq!(result.metadata.extra["column"], 4);
}

#[tokio::test]
async fn parse_json_accepts_numbers_of_any_size_and_says_which_are_text() {
    let digits = "7".repeat(5000);
    let text = format!("{{\"huge\": [1e400, {digits}], \"small\": 1.5}}");
    let result = call(&public_only(), "Web.ParseJSON", json!({"json_text": text})).await;
    let parsed = data(&result);
    assert_eq!(
        parsed["value"],
        json!({"huge": ["1e400", digits], "small": 1.5})
    );
    assert_eq!(parsed["numbers_as_text"], json!(["/huge/0", "/huge/1"]));

    let result = call(
        &public_only(),
        "Web.ParseJSON",
        json!({"json_text": "-1e400"}),
    )
    .await;
    assert_eq!(data(&result)["type"], "number");
}

// --- Web.ExtractURLs ---

#[tokio::test]
async fn extract_urls_finds_ipv6_literals_and_hosts_in_any_script() {
    let text = "API at http://[2001:db8::1]:8080/v1, mirror (http://[2001:db8::2]/x). \
                Сайт: http://пример.рф/путь, and https://例子.测试.";
    let result = call(&public_only(), "Web.ExtractURLs", json!({"text": text})).await;
    let data = data(&result);
    assert_eq!(
        data["urls"],
        json!([
            "http://[2001:db8::1]:8080/v1",
            "http://[2001:db8::2]/x",
            "http://пример.рф/путь",
            "https://例子.测试"
        ])
    );
    assert_eq!(data["details"][0]["host"], "[2001:db8::1]");
    assert_eq!(data["details"][2]["host"], "xn--e1afmkfd.xn--p1ai");
}

#[tokio::test]
async fn extract_urls_strips_punctuation_dedups_and_keeps_order() {
    let text = "see http://b.org, then https://a.org/p?x=1&y=2. Again: http://b.org!";
    let result = call(&public_only(), "Web.ExtractURLs", json!({"text": text})).await;
    let data = data(&result);
    assert_eq!(
        data["urls"],
        json!(["http://b.org", "https://a.org/p?x=1&y=2"])
    );
    assert_eq!(data["count"], 2);
    assert_eq!(data["schemes"], json!(["http", "https"]));
    assert_eq!(data["details"][1]["host"], "a.org");
    assert_eq!(data["details"][1]["has_query"], true);
    assert_eq!(data["details"][1]["has_fragment"], false);
}

#[tokio::test]
async fn extract_urls_keeps_only_the_requested_schemes() {
    let text = "http://a.org and https://b.org and ftp://files.example/x";
    let result = call(
        &public_only(),
        "Web.ExtractURLs",
        json!({"text": text, "schemes": ["ftp"]}),
    )
    .await;
    assert_eq!(data(&result)["urls"], json!(["ftp://files.example/x"]));
}
