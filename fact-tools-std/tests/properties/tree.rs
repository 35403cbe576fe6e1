//! The directory tree the path properties run in: two roots, a secret beside them, and every
//! kind of symlink (inside, outside, absolute, relative, to `/etc`, looping, dangling).
//!
//! ```text
//! base/
//!   root/                      root A, configured as base/root-link
//!     notes.txt  .hidden  with space.txt  ünïcode.txt
//!     sub/file.txt  sub/deeper/leaf.txt
//!     link-inside-file -> notes.txt         link-inside-dir -> sub
//!     sub/link-up -> ../notes.txt           sub/deeper/link-root -> ../..
//!     link-abs-inside -> base/root/notes.txt (absolute)
//!     link-outside-rel -> ../outside/secret.txt   link-outside-dir -> ../outside
//!     link-outside-abs -> base/outside/secret.txt sub/link-escape -> ../../outside/secret.txt
//!     link-etc -> /etc  link-passwd -> /etc/passwd  link-parent -> ..  link-dot -> .
//!     link-root-b -> ../root-b  link-loop-a <-> link-loop-b  link-self -> link-self
//!     dangling -> missing.txt
//!   root-link -> root
//!   root-b/notes.txt  root-b/only-in-b.txt  root B
//!   outside/secret.txt  outside/dir/inner.txt  root-evil/secret.txt  root-link-evil/secret.txt
//! ```

use std::path::{Path, PathBuf};

use fact_tests::scratch::unique;

/// What every file outside the roots holds, and nothing inside them does.
pub(crate) const SECRET: &str = "TOP-SECRET: outside every root";

/// The size of every secret file, which no entry inside the roots has.
pub(crate) const SECRET_LEN: usize = 777;

/// The tree, removed when dropped.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The canonical directory holding everything.
    pub(crate) base: PathBuf,
}

impl Tree {
    pub(crate) fn build() -> Self {
        let base = std::env::temp_dir().join(unique("fact-prop-fs"));
        std::fs::create_dir_all(&base).expect("creates the base directory");
        let base = std::fs::canonicalize(&base).expect("canonical base");
        let tree = Self { base };
        tree.populate();
        tree
    }

    fn populate(&self) {
        let secret = format!("{SECRET}{}", ".".repeat(SECRET_LEN - SECRET.len()));
        for dir in [
            "root/sub/deeper",
            "root-b",
            "outside/dir",
            "root-evil",
            "root-link-evil",
        ] {
            std::fs::create_dir_all(self.base.join(dir)).expect("creates a directory");
        }
        let files: [(&str, &str); 12] = [
            ("root/notes.txt", "notes in root a\n"),
            ("root/.hidden", "hidden in root a\n"),
            ("root/with space.txt", "spaced\n"),
            ("root/ünïcode.txt", "unicode name\n"),
            ("root/sub/file.txt", "file in sub\n"),
            ("root/sub/deeper/leaf.txt", "leaf\n"),
            ("root-b/notes.txt", "notes in root b\n"),
            ("root-b/only-in-b.txt", "only in b\n"),
            ("outside/secret.txt", &secret),
            ("outside/dir/inner.txt", &secret),
            ("root-evil/secret.txt", &secret),
            ("root-link-evil/secret.txt", &secret),
        ];
        for (path, content) in files {
            std::fs::write(self.base.join(path), content).expect("writes a file");
        }
        let base = self.base.display().to_string();
        let links = [
            ("root-link", "root".to_owned()),
            ("root/link-inside-file", "notes.txt".to_owned()),
            ("root/link-inside-dir", "sub".to_owned()),
            ("root/sub/link-up", "../notes.txt".to_owned()),
            ("root/sub/deeper/link-root", "../..".to_owned()),
            ("root/link-abs-inside", format!("{base}/root/notes.txt")),
            ("root/link-outside-rel", "../outside/secret.txt".to_owned()),
            ("root/link-outside-dir", "../outside".to_owned()),
            (
                "root/link-outside-abs",
                format!("{base}/outside/secret.txt"),
            ),
            (
                "root/sub/link-escape",
                "../../outside/secret.txt".to_owned(),
            ),
            ("root/link-etc", "/etc".to_owned()),
            ("root/link-passwd", "/etc/passwd".to_owned()),
            ("root/link-parent", "..".to_owned()),
            ("root/link-dot", ".".to_owned()),
            ("root/link-root-b", "../root-b".to_owned()),
            ("root/link-loop-a", "link-loop-b".to_owned()),
            ("root/link-loop-b", "link-loop-a".to_owned()),
            ("root/link-self", "link-self".to_owned()),
            ("root/dangling", "missing.txt".to_owned()),
        ];
        for (link, target) in links {
            std::os::unix::fs::symlink(target, self.base.join(link)).expect("creates a symlink");
        }
    }

    /// The roots as configured: root A through its symlink, then root B.
    pub(crate) fn configured_roots(&self) -> [PathBuf; 2] {
        [self.base.join("root-link"), self.base.join("root-b")]
    }

    /// The roots' canonical paths.
    pub(crate) fn canonical_roots(&self) -> [PathBuf; 2] {
        [self.base.join("root"), self.base.join("root-b")]
    }

    /// Whether the canonical path `path` lies inside a root.
    pub(crate) fn inside(&self, path: &Path) -> bool {
        self.canonical_roots()
            .iter()
            .any(|root| path.starts_with(root))
    }

    /// Where the operating system finds `path` as a tool would be given it: itself when
    /// absolute, else under each root in order.
    pub(crate) fn candidates(&self, path: &str) -> Vec<PathBuf> {
        if Path::new(path).is_absolute() {
            vec![PathBuf::from(path)]
        } else {
            self.configured_roots()
                .iter()
                .map(|root| root.join(path))
                .collect()
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// The canonical location of the entry `path` names, not following a final symlink (as
/// `FileSystem.GetFileInfo` describes it), judged by the operating system.
pub(crate) fn entry_location(path: &Path) -> Option<PathBuf> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    if metadata.file_type().is_symlink() {
        let parent = std::fs::canonicalize(path.parent()?).ok()?;
        Some(parent.join(path.file_name()?))
    } else {
        std::fs::canonicalize(path).ok()
    }
}
