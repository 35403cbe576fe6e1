//! `FileSystem.ReadFile`'s encodings: each decodes as it should, each is accepted under its
//! common labels, and an unknown one is refused with the list of accepted values.

use serde_json::json;

use super::{Tree, assert_refused, data, read};

#[tokio::test]
async fn latin1_decodes_every_byte_as_its_code_point() {
    let tree = Tree::new();
    let args = json!({"file_path": "latin1.txt", "encoding": "latin-1"});
    let result = read(&tree.executor(), args).await;
    let data = data(&result);
    assert_eq!(data["content"], json!("café crème"));
    assert_eq!(data["encoding"], json!("latin-1"));
}

#[tokio::test]
async fn utf16_follows_the_byte_order_mark() {
    let tree = Tree::new();
    let executor = tree.executor();
    for file in ["utf16le.txt", "utf16be.txt"] {
        let args = json!({"file_path": file, "encoding": "utf-16"});
        let result = read(&executor, args).await;
        assert_eq!(data(&result)["content"], json!("héllo 𝄞"), "{file}");
    }
}

#[tokio::test]
async fn utf16_of_odd_length_is_a_validation_error() {
    let tree = Tree::new();
    let args = json!({"file_path": "odd.txt", "encoding": "utf-16"});
    let result = read(&tree.executor(), args).await;
    assert_refused(&result, 400, "odd utf-16");
    let message = result.error.unwrap_or_default();
    assert!(message.contains("even number of bytes"), "{message}");
}

#[tokio::test]
async fn non_utf8_content_is_a_validation_error_naming_the_byte_offset() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "binary.bin"})).await;
    assert_refused(&result, 400, "binary as utf-8");
    let message = result.error.unwrap_or_default();
    assert!(message.contains("'binary.bin'"), "{message}");
    assert!(message.contains("byte offset 3"), "{message}");
}

#[tokio::test]
async fn ascii_refuses_a_byte_above_0x7f_naming_its_offset() {
    let tree = Tree::new();
    let args = json!({"file_path": "latin1.txt", "encoding": "ascii"});
    let result = read(&tree.executor(), args).await;
    assert_refused(&result, 400, "latin-1 as ascii");
    let message = result.error.unwrap_or_default();
    assert!(message.contains("byte offset 3"), "{message}");
}

#[tokio::test]
async fn every_encoding_is_accepted_under_its_common_labels_in_any_case() {
    let tree = Tree::new();
    let executor = tree.executor();
    let labels = [
        ("notes.txt", "utf-8", ["UTF-8", "utf8", "Utf_8", "UTF8"]),
        (
            "notes.txt",
            "ascii",
            ["ASCII", "us-ascii", "US_ASCII", "Ascii"],
        ),
        (
            "latin1.txt",
            "latin-1",
            ["LATIN-1", "latin1", "ISO-8859-1", "iso_8859_1"],
        ),
        (
            "utf16le.txt",
            "utf-16",
            ["UTF-16", "utf16", "Utf_16", "UTF16"],
        ),
    ];
    for (file, name, aliases) in labels {
        let canonical = read(&executor, json!({"file_path": file, "encoding": name})).await;
        let expected = data(&canonical)["content"].clone();
        for alias in aliases {
            let args = json!({"file_path": file, "encoding": alias});
            let result = read(&executor, args).await;
            let data = data(&result);
            assert_eq!(data["content"], expected, "{alias}");
            assert_eq!(
                data["encoding"],
                json!(name),
                "{alias} is reported as {name}"
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_encoding_is_refused_naming_the_accepted_values() {
    let tree = Tree::new();
    let executor = tree.executor();
    for encoding in ["windows-1252", "utf-9", "", "utf--8x", "latin-2"] {
        let args = json!({"file_path": "notes.txt", "encoding": encoding});
        let result = read(&executor, args).await;
        assert_refused(&result, 400, encoding);
        let message = result.error.unwrap_or_default();
        for accepted in ["'utf-8'", "'ascii'", "'latin-1'", "'utf-16'"] {
            assert!(message.contains(accepted), "{encoding:?}: {message}");
        }
        assert!(message.contains(&format!("{encoding:?}")), "{message}");
    }
}

#[tokio::test]
async fn an_encoding_that_is_not_a_string_is_refused() {
    let tree = Tree::new();
    let args = json!({"file_path": "notes.txt", "encoding": 8});
    let result = read(&tree.executor(), args).await;
    assert_refused(&result, 400, "encoding 8");
}

#[tokio::test]
async fn the_read_file_schema_names_the_encodings_and_accepts_any_label() {
    let tree = Tree::new();
    let executor = tree.executor();
    let info = executor
        .tool_info("FileSystem.ReadFile")
        .expect("the tool is registered");
    let schema = &info.input_schema;
    assert_eq!(schema["required"], json!(["file_path"]), "{schema}");
    let shown = schema["properties"]["encoding"].to_string();
    for encoding in ["utf-8", "ascii", "latin-1", "utf-16"] {
        assert!(shown.contains(&format!("\"{encoding}\"")), "{shown}");
    }
    // Validation runs before the tool: an enum here would refuse every alias.
    assert!(
        !shown.contains("\"enum\"") && !shown.contains("\"const\""),
        "{shown}"
    );
}
