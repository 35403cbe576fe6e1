//! Every answer of a file tool stays within the configured answer size, measured on the JSON it
//! is sent as: bytes that JSON escapes (NUL as `\u0000`, six bytes for one) cannot make it larger.

use fact_runtime::{ToolCall, ToolResult};
use serde_json::{Value, json};

use super::{CAP, Tree, data, list, read};

/// The size of `value` as compact JSON, as the server sends it.
fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).expect("serializes").len()
}

/// One file, the encoding to read it with, and its whole text decoded.
struct Case {
    file: &'static str,
    bytes: Vec<u8>,
    encoding: &'static str,
    text: String,
}

fn case(file: &'static str, bytes: Vec<u8>, encoding: &'static str) -> Case {
    let text = match encoding {
        "utf-8" => String::from_utf8(bytes.clone()).expect("the fixture is UTF-8"),
        "ascii" | "latin-1" => bytes.iter().copied().map(char::from).collect(),
        "utf-16" => {
            let units = bytes[2..]
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<_, _>>()
                .expect("the fixture is UTF-16")
        }
        other => panic!("no fixture decoder for {other}"),
    };
    Case {
        file,
        bytes,
        encoding,
        text,
    }
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

/// How many bytes of the file `content` stands for in `encoding` (a UTF-16 mark included).
fn encoded_len(encoding: &str, content: &str) -> usize {
    match encoding {
        "utf-8" => content.len(),
        "ascii" | "latin-1" => content.chars().count(),
        "utf-16" => 2 + 2 * content.encode_utf16().count(),
        other => panic!("no encoder for {other}"),
    }
}

/// Files far larger than [`CAP`] once escaped, in every encoding the tool reads: NUL and
/// other control bytes (6 JSON bytes each), quotes and backslashes (2), multi-byte UTF-8,
/// Latin-1 bytes above 0x7F (2 bytes of UTF-8 each), UTF-16 of NULs (2 file bytes, 6 JSON).
fn amplifying_files() -> Vec<Case> {
    let cap = usize::try_from(CAP).expect("CAP fits");
    let controls: Vec<u8> = (0..8 * cap).map(|i| (i % 32) as u8).collect();
    let every_byte: Vec<u8> = (0..4 * cap).map(|i| (i % 256) as u8).collect();
    vec![
        case("nuls.bin", vec![0; 8 * cap], "utf-8"),
        case("controls.bin", controls.clone(), "ascii"),
        case("controls-utf8.bin", controls, "utf-8"),
        case("quotes.txt", "\"\\".repeat(4 * cap).into_bytes(), "utf-8"),
        case(
            "multibyte.txt",
            "é€𝄞\u{7}".repeat(cap).into_bytes(),
            "utf-8",
        ),
        case("every-byte.bin", every_byte, "latin-1"),
        case(
            "utf16-nuls.bin",
            utf16le_with_bom(&"\0".repeat(4 * cap)),
            "utf-16",
        ),
        case(
            "utf16-astral.bin",
            utf16le_with_bom(&"𝄞\u{1}".repeat(cap)),
            "utf-16",
        ),
    ]
}

#[tokio::test]
async fn a_read_file_answer_never_exceeds_the_answer_limit_whatever_the_bytes() {
    let tree = Tree::new();
    let cases = amplifying_files();
    for case in &cases {
        tree.write(case.file, &case.bytes);
    }
    let executor = tree.executor();
    for case in &cases {
        let args = json!({"file_path": case.file, "encoding": case.encoding});
        let result = read(&executor, args).await;
        let what = format!("{} as {}", case.file, case.encoding);
        let data = data(&result);
        assert!(
            json_len(data) <= usize::try_from(CAP).expect("CAP fits"),
            "{what}: an answer of {} bytes, over the limit of {CAP}",
            json_len(data)
        );
        let content = data["content"].as_str().expect("content is a string");
        assert!(!content.is_empty(), "{what}: nothing read");
        assert!(
            case.text.starts_with(content) && content.len() < case.text.len(),
            "{what}: the content is not a strict prefix of the file's text"
        );
        assert_eq!(data["truncated"], json!(true), "{what}");
        assert_eq!(data["truncated_by"], json!("max_answer_bytes"), "{what}");
        assert_eq!(data["size_bytes"], json!(case.bytes.len()), "{what}");
        assert_eq!(
            data["bytes_read"],
            json!(encoded_len(case.encoding, content)),
            "{what}: bytes_read should count the bytes behind the content"
        );
    }
}

#[tokio::test]
async fn a_batch_of_reads_of_one_file_of_nuls_answers_within_the_limit_for_each_call() {
    let tree = Tree::new();
    let cap = usize::try_from(CAP).expect("CAP fits");
    tree.write("nuls.bin", vec![0; 64 * cap]);
    let calls = (0..30)
        .map(|_| ToolCall::new("FileSystem.ReadFile", json!({"file_path": "nuls.bin"})))
        .collect();
    let results: Vec<ToolResult> = tree.executor().execute_tool_calls(calls).await;
    assert_eq!(results.len(), 30);
    for result in &results {
        let data = data(result);
        assert!(json_len(data) <= cap, "{} bytes", json_len(data));
        assert_eq!(data["truncated"], json!(true));
    }
}

#[tokio::test]
async fn a_file_whose_answer_fits_the_limit_is_read_whole() {
    let tree = Tree::new();
    tree.write("fits.txt", "x".repeat(600));
    let result = read(&tree.executor(), json!({"file_path": "fits.txt"})).await;
    let data = data(&result);
    assert_eq!(data["content"], json!("x".repeat(600)));
    assert_eq!(data["truncated"], json!(false));
    assert_eq!(data["truncated_by"], Value::Null);
    assert_eq!(data["bytes_read"], json!(600));
}

#[tokio::test]
async fn max_lines_stops_the_read_before_the_answer_limit_does() {
    let tree = Tree::new();
    tree.write("many-lines.txt", "line\n".repeat(1000));
    let args = json!({"file_path": "many-lines.txt", "max_lines": 3});
    let result = read(&tree.executor(), args).await;
    let data = data(&result);
    assert_eq!(data["content"], json!("line\nline\nline\n"));
    assert_eq!(data["truncated_by"], json!("max_lines"));
    assert_eq!(data["bytes_read"], json!(15));
}

#[tokio::test]
async fn a_listing_stops_before_the_answer_limit_and_says_so() {
    let tree = Tree::new();
    for n in 0..100 {
        tree.write(&format!("wide/f{n:03}-{}.txt", "x".repeat(150)), "x");
    }
    let result = list(&tree.executor(), json!({"directory_path": "wide"})).await;
    let data = data(&result);
    assert!(json_len(data) <= usize::try_from(CAP).expect("CAP fits"));
    assert_eq!(data["truncated"], json!(true), "{data}");
    let names: Vec<&str> = data["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["name"].as_str())
        .collect();
    assert!(!names.is_empty(), "{data}");
    assert_eq!(data["count"], json!(names.len()));
    // The entries kept are the ones that sort first.
    for (n, name) in names.iter().enumerate() {
        assert!(name.starts_with(&format!("f{n:03}-")), "{names:?}");
    }
}

#[tokio::test]
async fn a_long_directory_path_repeated_in_every_entry_counts_against_the_answer_limit() {
    let tree = Tree::new();
    let long_path = format!("{}listing", "./".repeat(1000));
    let args = json!({"directory_path": long_path, "recursive": true});
    let result = list(&tree.executor(), args).await;
    let data = data(&result);
    assert!(
        json_len(data) <= usize::try_from(CAP).expect("CAP fits"),
        "{} bytes",
        json_len(data)
    );
    assert_eq!(data["truncated"], json!(true), "{data}");
}
