//! Strategies for the path properties: walks through root A of the tree ([`super::tree`]),
//! ended by a file, by a way out of the root, or by random names, and written with any
//! separators, prefixes and trailing slashes.

use proptest::prelude::*;
use proptest::sample::select;

/// Names of entries inside root A (and B), and links that stay inside.
const INSIDE: &[&str] = &[
    "notes.txt",
    "sub",
    "deeper",
    "leaf.txt",
    "file.txt",
    ".hidden",
    "with space.txt",
    "ünïcode.txt",
    "only-in-b.txt",
    "link-inside-file",
    "link-inside-dir",
    "link-up",
    "link-root",
    "link-dot",
];

/// Links that lead out of the root, loop, or lead nowhere.
const LINKS: &[&str] = &[
    "link-abs-inside",
    "link-outside-rel",
    "link-outside-dir",
    "link-outside-abs",
    "link-etc",
    "link-passwd",
    "link-loop-a",
    "link-self",
    "link-escape",
    "dangling",
    "link-parent",
    "link-root-b",
];

/// Names from outside the roots, encoded or look-alike dots, and NUL bytes.
const TRICKS: &[&str] = &[
    "outside",
    "secret.txt",
    "inner.txt",
    "dir",
    "root",
    "root-b",
    "root-link",
    "root-evil",
    "root-link-evil",
    "etc",
    "passwd",
    "missing.txt",
    "...",
    "%2e%2e",
    "..%2f",
    "%2F",
    "\u{ff0e}\u{ff0e}",
    "\u{2025}",
    "..\\",
    "~",
    " ..",
    "NOTES.TXT",
    "notes.txt\0",
    "\0",
];

/// Ways out of root A that the operating system would follow (from the root; from deeper
/// down, most name nothing).
const ESCAPES: &[&str] = &[
    "../outside/secret.txt",
    "../../outside/secret.txt",
    "../../../../../../../etc/passwd",
    "../root-evil/secret.txt",
    "../root-link-evil/secret.txt",
    "../root/notes.txt",
    "../root-link/notes.txt",
    "link-outside-rel",
    "link-outside-abs",
    "link-passwd",
    "link-abs-inside",
    "link-outside-dir/secret.txt",
    "link-outside-dir/dir/inner.txt",
    "link-outside-dir",
    "link-parent/outside/secret.txt",
    "link-parent/root-evil/secret.txt",
    "link-parent",
    "sub/../../outside/secret.txt",
    "sub/link-escape",
    "link-inside-dir/../../outside/secret.txt",
    "sub/deeper/link-root/../outside/secret.txt",
    "link-dot/../outside/secret.txt",
    "link-etc/passwd",
    "link-etc/hostname",
    "link-etc",
    "link-root-b/only-in-b.txt",
    "link-root-b/../outside/secret.txt",
    "link-loop-a/x",
    "link-self",
    "dangling/x",
];

fn weighted(options: &[(u32, &str)]) -> BoxedStrategy<String> {
    let options = options
        .iter()
        .map(|(weight, text)| (*weight, Just((*text).to_owned()).boxed()))
        .collect();
    proptest::strategy::Union::new_weighted(options).boxed()
}

/// A walk through root A's directories, by `.`, `..` and the links that stay inside: its steps,
/// and the directory where it stands as the operating system sees it.
fn dirs() -> impl Strategy<Value = (Vec<&'static str>, Vec<&'static str>)> {
    proptest::collection::vec(any::<u8>(), 0..6).prop_map(|choices| {
        let mut at: Vec<&'static str> = Vec::new();
        let mut steps = Vec::new();
        for choice in choices {
            let moves: &[&str] = match at.as_slice() {
                [] => &[".", "sub", "link-inside-dir", "link-dot"],
                ["sub"] => &[".", "..", "deeper"],
                _ => &[".", "..", "link-root"],
            };
            let step = moves[usize::from(choice) % moves.len()];
            match step {
                "sub" | "link-inside-dir" => at = vec!["sub"],
                "deeper" => at.push("deeper"),
                "link-root" => at.clear(),
                ".." => {
                    at.pop();
                }
                _ => {}
            }
            steps.push(step);
        }
        (steps, at)
    })
}

/// The files of root A's directory `at`, and what each holds.
fn files_at(at: &[&str]) -> &'static [(&'static str, &'static str)] {
    match at {
        [] => &[
            ("notes.txt", "notes in root a\n"),
            ("link-inside-file", "notes in root a\n"),
            (".hidden", "hidden in root a\n"),
            ("with space.txt", "spaced\n"),
            ("ünïcode.txt", "unicode name\n"),
        ],
        ["sub"] => &[
            ("file.txt", "file in sub\n"),
            ("link-up", "notes in root a\n"),
        ],
        _ => &[("leaf.txt", "leaf\n")],
    }
}

/// A walk from root A to one of its files, as `(steps, the file's content)`.
pub(crate) fn walk() -> impl Strategy<Value = (Vec<&'static str>, &'static str)> {
    (dirs(), any::<u8>()).prop_map(|((mut steps, at), last)| {
        let files = files_at(&at);
        let (file, content) = files[usize::from(last) % files.len()];
        steps.push(file);
        (steps, content)
    })
}

/// `prefix`, then `steps` joined by `separators` (in turn), then `trailing` if any step.
fn join(prefix: String, steps: &[String], separators: &[String], trailing: &str) -> String {
    let mut path = prefix;
    for (index, step) in steps.iter().enumerate() {
        if index > 0 {
            path.push_str(&separators[index % separators.len()]);
        }
        path.push_str(step);
    }
    if !steps.is_empty() {
        path.push_str(trailing);
    }
    path
}

/// A path as a caller might write it, under the tree at `base`: relative, `./`, or absolute
/// through a root's own paths (configured and canonical), `/`, the secret's directory, `/etc`
/// or `/proc/self/root`; then a walk through root A ended by one of its files, a way out
/// ([`ESCAPES`]) or random names; with doubled separators, `/./` and trailing slashes.
pub(crate) fn path(base: &str) -> impl Strategy<Value = String> + use<> {
    let prefixes = proptest::strategy::Union::new_weighted(
        [
            (8, String::new()),
            (2, "./".to_owned()),
            (3, format!("{base}/root-link/")),
            (3, format!("{base}/root/")),
            (1, format!("{base}/root-b/")),
            (1, "/".to_owned()),
            (1, format!("{base}/")),
            (1, format!("{base}/outside/")),
            (1, format!("{base}/root/../")),
            (1, format!("{base}/root-link/../root/")),
            (1, format!("/proc/self/root{base}/root/")),
            (1, "/etc/".to_owned()),
        ]
        .into_iter()
        .map(|(weight, prefix)| (weight, Just(prefix)))
        .collect(),
    );
    let name = prop_oneof![
        6 => select(INSIDE),
        2 => select(LINKS),
        2 => select(&[".", ".."][..]),
        1 => select(TRICKS),
    ]
    .prop_map(str::to_owned);
    let random = proptest::collection::vec(name, 1..4);
    let separators = proptest::collection::vec(weighted(&[(6, "/"), (1, "//"), (1, "/./")]), 4);
    let trailing = weighted(&[(6, ""), (1, "/"), (1, "/."), (1, "//")]);
    let ending = (0u8..7, select(ESCAPES), random, any::<u8>());
    (prefixes, dirs(), ending, separators, trailing).prop_map(
        |(prefix, (walked, at), (kind, escape, random, pick), separators, trailing)| {
            let mut steps: Vec<String> = walked.iter().map(|s| (*s).to_owned()).collect();
            match kind {
                0 | 1 => steps.push(escape.to_owned()),
                2 | 3 => {
                    let files = files_at(&at);
                    steps.push(files[usize::from(pick) % files.len()].0.to_owned());
                }
                4 | 5 => steps.extend(random),
                _ => {}
            }
            join(prefix, &steps, &separators, &trailing)
        },
    )
}
