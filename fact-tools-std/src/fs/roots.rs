//! [`FileRoots`]: the directories the file tools may read, each held open as a capability.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::Dir;
use fact_runtime::{ToolContext, ToolError};

use super::access;

/// The environment variable [`FileRoots::from_env`] reads the roots from.
pub const ROOTS_ENV: &str = "FACT_FS_ROOTS";

/// The root [`FileRoots::from_env`] opens when [`ROOTS_ENV`] is unset, if it exists.
pub const DEFAULT_ROOT: &str = "./data";

/// How many bytes of JSON one answer of a file tool takes at most, unless configured: 10 MiB.
pub const DEFAULT_MAX_ANSWER_BYTES: u64 = 10 * 1024 * 1024;

/// How many entries `FileSystem.ListDirectory` returns at most, unless configured.
pub const DEFAULT_MAX_LIST_ENTRIES: usize = 10_000;

/// Why a [`FileRoots`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileRootsError {
    /// The list of roots was empty.
    #[error("no file roots configured: expected at least one directory")]
    NoRoots,
    /// A `PATH`-style list named no directory: it was empty, blank, or only separators. Such
    /// a list never means the working directory, nor everything.
    #[error(
        "the list of file roots {list:?} names no directory: expected one or more \
         directories separated by {separator:?}"
    )]
    EmptyList {
        /// The list as given.
        list: String,
        /// The separator of a list on this platform (`:` on Unix, `;` on Windows).
        separator: char,
    },
    /// The roots [`FileRoots::from_env`] read from [`ROOTS_ENV`] (or its default) cannot be
    /// used: `problem` says why.
    #[error("{ROOTS_ENV} (default {DEFAULT_ROOT}): {problem}")]
    Env {
        /// What was wrong with the roots.
        problem: Box<FileRootsError>,
    },
    /// A root could not be opened (it does not exist, is not a directory, or is not readable).
    #[error("cannot open file root '{path}': {source}")]
    Open {
        /// The root as configured.
        path: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

/// The separator of a `PATH`-style list on this platform.
const LIST_SEPARATOR: char = if cfg!(windows) { ';' } else { ':' };

/// One configured root: an open directory plus the absolute paths that name it.
struct Root {
    /// The root as configured, for messages.
    name: String,
    /// The capability every access goes through.
    dir: Dir,
    /// Absolute spellings of the root (as configured, made absolute; and canonical) that an
    /// absolute tool path may start with.
    prefixes: Vec<PathBuf>,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("name", &self.name)
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

/// The sandbox of the `fs` tools: a list of directories (roots), each opened once as a
/// [`cap_std::fs::Dir`], and the limits of the tools.
///
/// Every file the tools touch is opened relative to one of these directories through cap-std,
/// which refuses, in the kernel where it can (`openat2` with `RESOLVE_BENEATH`), any path or
/// symlink that leads out of the root. Hand one to an executor with
/// [`ToolExecutorBuilder::extension`](fact_runtime::ToolExecutorBuilder::extension); without
/// one, the tools refuse every call (403): they never read the environment themselves, so
/// that a root that cannot be opened is found when the program starts
/// ([`FileRoots::from_env`]), not by a caller.
///
/// ```
/// use fact_tools_std::fs::FileRoots;
///
/// let dir = std::env::temp_dir();
/// let roots = FileRoots::new([&dir])?.max_answer_bytes(64 * 1024);
/// assert_eq!(roots.max_answer_bytes_limit(), 64 * 1024);
/// assert_eq!(roots.names(), [dir.display().to_string()]);
///
/// // Hand it to every call of an executor:
/// let executor = fact_runtime::ToolExecutor::builder().extension(roots).build()?;
/// # let _ = executor;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileRoots {
    roots: Arc<[Root]>,
    max_answer_bytes: u64,
    max_list_entries: usize,
}

impl FileRoots {
    /// Opens each of `paths` as a root, in order: a relative tool path is looked up in each
    /// root in this order. Fails if the list is empty or a root cannot be opened as a
    /// directory.
    pub fn new<I, P>(paths: I) -> Result<Self, FileRootsError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let roots = paths
            .into_iter()
            .map(|path| open_root(path.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if roots.is_empty() {
            return Err(FileRootsError::NoRoots);
        }
        Ok(Self {
            roots: roots.into(),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            max_list_entries: DEFAULT_MAX_LIST_ENTRIES,
        })
    }

    /// The roots listed in [`ROOTS_ENV`] (`FACT_FS_ROOTS`), separated like `PATH` (`:` on
    /// Unix, `;` on Windows), each opened now; `None` when the variable is unset and the
    /// default root [`DEFAULT_ROOT`] (`./data`) does not exist, so that a program that does
    /// not use the file tools needs no directory for them. Without roots the file tools refuse
    /// every call.
    ///
    /// Call it once, at start-up, and hand the roots to the executor: a configuration that
    /// cannot work then stops the program, instead of failing each call.
    ///
    /// # Errors
    ///
    /// [`FileRootsError::Env`], naming the variable, when it is set but lists no directory
    /// (empty, blank, only separators: never the working directory, nor everything), or when
    /// a root (the default one included, if it exists) cannot be opened as a directory.
    ///
    /// ```no_run
    /// use fact_runtime::ToolExecutor;
    /// use fact_tools_std::fs::FileRoots;
    ///
    /// let mut builder = ToolExecutor::builder();
    /// if let Some(roots) = FileRoots::from_env()? {
    ///     builder = builder.extension(roots);
    /// }
    /// let executor = builder.build()?;
    /// # let _ = executor;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env() -> Result<Option<Self>, FileRootsError> {
        Self::from_variable(std::env::var_os(ROOTS_ENV), Path::new(DEFAULT_ROOT))
    }

    /// [`from_env`](Self::from_env) with the variable's value and the default root given.
    fn from_variable(
        value: Option<OsString>,
        default_root: &Path,
    ) -> Result<Option<Self>, FileRootsError> {
        let roots = match value {
            Some(list) => Self::from_path_list(list),
            // `symlink_metadata`: a default root that exists as anything at all (a dangling
            // link, a file) is meant to be the root, and its failure to open is reported.
            None if default_root.symlink_metadata().is_ok() => Self::new([default_root]),
            None => return Ok(None),
        };
        roots.map(Some).map_err(|problem| FileRootsError::Env {
            problem: Box::new(problem),
        })
    }

    /// The roots in a `PATH`-style list, as [`from_env`](Self::from_env) reads them: entries
    /// are split with [`std::env::split_paths`], and empty or blank entries are skipped (they
    /// never mean the working directory).
    ///
    /// # Errors
    ///
    /// [`FileRootsError::EmptyList`] when no entry is left; [`FileRootsError::Open`] naming
    /// the first root that cannot be opened as a directory.
    ///
    /// ```
    /// use fact_tools_std::fs::FileRoots;
    ///
    /// let tmp = std::env::temp_dir();
    /// let list = std::env::join_paths([&tmp, &tmp])?;
    /// assert_eq!(FileRoots::from_path_list(list)?.names().len(), 2);
    /// assert!(FileRoots::from_path_list(" ").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_path_list(list: impl AsRef<OsStr>) -> Result<Self, FileRootsError> {
        let list = list.as_ref();
        let paths: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().to_string_lossy().trim().is_empty())
            .collect();
        if paths.is_empty() {
            return Err(FileRootsError::EmptyList {
                list: list.to_string_lossy().into_owned(),
                separator: LIST_SEPARATOR,
            });
        }
        Self::new(paths)
    }

    /// Sets how many bytes of JSON one answer of a file tool takes at most (default 10 MiB),
    /// escapes included. `FileSystem.ReadFile` stops reading before the character that would
    /// not fit, and `FileSystem.ListDirectory` before the entry that would not; each says it
    /// was cut. A read keeps about this much in memory, and one buffer of the file.
    #[must_use]
    pub fn max_answer_bytes(mut self, bytes: u64) -> Self {
        self.max_answer_bytes = bytes;
        self
    }

    /// How many bytes of JSON one answer of a file tool takes at most.
    pub fn max_answer_bytes_limit(&self) -> u64 {
        self.max_answer_bytes
    }

    /// Sets how many entries `FileSystem.ListDirectory` returns at most (default 10,000); a
    /// longer listing is returned truncated, and says so.
    #[must_use]
    pub fn max_list_entries(mut self, entries: usize) -> Self {
        self.max_list_entries = entries;
        self
    }

    /// How many entries `FileSystem.ListDirectory` returns at most.
    pub fn max_list_entries_limit(&self) -> usize {
        self.max_list_entries
    }

    /// The roots as configured, in lookup order.
    pub fn names(&self) -> Vec<String> {
        self.roots.iter().map(|r| r.name.clone()).collect()
    }

    /// The roots of a call: the executor's [`FileRoots`] extension. Without one, no path is
    /// allowed: a 403 that says how to configure the tools, and names no path of the host.
    pub(crate) fn for_call(ctx: &ToolContext) -> Result<&Self, ToolError> {
        ctx.extension::<Self>().ok_or_else(|| {
            ToolError::security(format!(
                "file access is not enabled: no file roots are configured (the `fact` binary \
                 opens the directories listed in {ROOTS_ENV} at start-up; a program hands its \
                 executor a FileRoots)"
            ))
        })
    }

    /// Finds the root and root-relative path that `path` names.
    ///
    /// An absolute path must lie lexically under a root (403 otherwise) and is made relative to
    /// it. A relative path is looked up in each root in order and resolves in the first where
    /// it exists (without following a final symlink); when it exists in none, the first
    /// root's answer is the error, unless some root refused it as an escape (403). The string
    /// checks here only choose a root: the sandbox is cap-std's, at open time.
    pub(crate) fn resolve<'a>(&'a self, path: &'a str) -> Result<Resolved<'a>, ToolError> {
        access::check_path(path)?;
        let requested = Path::new(path);
        if requested.has_root() || requested.is_absolute() {
            return self
                .roots
                .iter()
                .find_map(|root| {
                    root.prefixes.iter().find_map(|prefix| {
                        requested.strip_prefix(prefix).ok().map(|rest| Resolved {
                            dir: &root.dir,
                            relative: relative_or_dot(rest, requested),
                            path,
                        })
                    })
                })
                .ok_or_else(|| {
                    ToolError::security(format!("'{path}' is outside the allowed file roots"))
                });
        }
        let relative = relative_or_dot(requested, requested);
        let mut first_error = None;
        for root in self.roots.iter() {
            match root.dir.symlink_metadata(&relative) {
                Ok(_) => {
                    return Ok(Resolved {
                        dir: &root.dir,
                        relative,
                        path,
                    });
                }
                Err(e) if access::is_escape(&e) => return Err(access::io_error(path, &e)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(match first_error {
            Some(e) => access::io_error(path, &e),
            None => ToolError::fatal("no file roots configured"),
        })
    }
}

/// A tool path resolved to a root.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    /// The root's directory.
    pub(crate) dir: &'a Dir,
    /// The path relative to `dir` (`.` for the root itself); may still hold `..`, which
    /// cap-std allows only while it stays inside the root.
    pub(crate) relative: PathBuf,
    /// The path as the caller wrote it, for output and messages.
    pub(crate) path: &'a str,
}

/// `path` without leading `.` components, or `.` when nothing is left. A trailing `/` (or
/// `/.`) of the path as `written` (of which `path` is the end, a root's prefix taken off) is
/// kept as a final `.`, so that `notes.txt/` still names a directory, as the kernel reads it,
/// and is no file.
fn relative_or_dot(path: &Path, written: &Path) -> PathBuf {
    let mut rest: PathBuf = path
        .components()
        .skip_while(|c| matches!(c, Component::CurDir))
        .collect();
    if rest.as_os_str().is_empty() {
        return PathBuf::from(".");
    }
    let text = written.as_os_str().as_encoded_bytes();
    if text.ends_with(b"/") || text.ends_with(b"/.") {
        rest.push(".");
    }
    rest
}

fn open_root(path: &Path) -> Result<Root, FileRootsError> {
    let name = path.display().to_string();
    let open_error = |source| FileRootsError::Open {
        path: name.clone(),
        source,
    };
    let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(open_error)?;
    let mut prefixes = Vec::with_capacity(2);
    if let Ok(absolute) = std::path::absolute(path) {
        prefixes.push(absolute);
    }
    let canonical = std::fs::canonicalize(path).map_err(open_error)?;
    if !prefixes.contains(&canonical) {
        prefixes.push(canonical);
    }
    Ok(Root {
        name,
        dir,
        prefixes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fact-fs-roots-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates a temporary root");
        dir
    }

    #[test]
    fn an_empty_list_of_roots_is_refused() {
        let none: [&str; 0] = [];
        assert!(matches!(FileRoots::new(none), Err(FileRootsError::NoRoots)));
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let missing = std::env::temp_dir().join("fact-fs-roots-surely-missing-0xdead");
        let message = FileRoots::new([&missing])
            .expect_err("a missing root is refused")
            .to_string();
        assert!(
            message.contains("fact-fs-roots-surely-missing-0xdead"),
            "{message}"
        );
    }

    #[test]
    fn a_path_list_naming_no_directory_is_refused_in_every_form() {
        for list in ["", " ", "\t", ":", "::", " : ", ": :"] {
            let refused = FileRoots::from_path_list(list);
            assert!(
                matches!(refused, Err(FileRootsError::EmptyList { .. })),
                "{list:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_blank_entry_beside_a_root_is_skipped_not_taken_for_the_working_directory() {
        let dir = temp_root("blank-entry");
        let list = format!(" :{}::", dir.display());
        let names = FileRoots::from_path_list(&list).map(|roots| roots.names());
        assert_eq!(names.ok(), Some(vec![dir.display().to_string()]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_comma_is_no_separator_and_names_a_root_that_does_not_exist() {
        let refused = FileRoots::from_path_list(",").map(|roots| roots.names());
        let message = refused.expect_err("',' is no directory here").to_string();
        assert!(message.contains("','"), "{message}");
    }

    #[test]
    fn an_unset_variable_without_the_default_root_means_no_roots() {
        let missing = std::env::temp_dir().join("fact-fs-roots-no-default-0xdead");
        let roots = FileRoots::from_variable(None, &missing);
        assert!(matches!(roots, Ok(None)), "{roots:?}");
    }

    #[test]
    fn an_unset_variable_opens_the_default_root_when_it_exists() {
        let dir = temp_root("default");
        let names = FileRoots::from_variable(None, &dir).map(|roots| roots.map(|r| r.names()));
        assert_eq!(names.ok(), Some(Some(vec![dir.display().to_string()])));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_default_root_that_exists_but_is_no_directory_is_an_error_naming_it() {
        let dir = temp_root("default-file");
        let file = dir.join("data");
        std::fs::write(&file, "not a directory").expect("writes a file");
        let message = FileRoots::from_variable(None, &file)
            .expect_err("a file is no root")
            .to_string();
        assert!(message.contains(ROOTS_ENV), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_set_variable_naming_no_directory_is_an_error_naming_the_variable() {
        let dir = temp_root("set-blank");
        for value in ["", "  ", ":"] {
            let message = FileRoots::from_variable(Some(value.into()), &dir)
                .expect_err("no directory named")
                .to_string();
            assert!(message.contains(ROOTS_ENV), "{value:?}: {message}");
            assert!(
                message.contains("names no directory"),
                "{value:?}: {message}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_set_variable_with_a_root_that_cannot_be_opened_names_the_variable_and_the_root() {
        let dir = temp_root("set-typo");
        let typo = dir.join("dtaa");
        let list = std::env::join_paths([&dir, &typo]).expect("joins");
        let message = FileRoots::from_variable(Some(list), &dir)
            .expect_err("a missing root is refused")
            .to_string();
        assert!(message.contains(ROOTS_ENV), "{message}");
        assert!(
            message.contains(&format!("'{}'", typo.display())),
            "{message}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_absolute_path_under_a_root_resolves_relative_to_it() {
        let dir = temp_root("abs");
        let roots = FileRoots::new([&dir]).expect("root opens");
        let inside = dir.join("sub").join("file.txt");
        let inside = inside.to_string_lossy();
        let resolved = roots.resolve(&inside).map(|r| r.relative);
        assert_eq!(resolved.ok(), Some(PathBuf::from("sub/file.txt")));
        let root_itself = dir.to_string_lossy();
        let resolved = roots.resolve(&root_itself).map(|r| r.relative);
        assert_eq!(resolved.ok(), Some(PathBuf::from(".")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_trailing_slash_is_kept_on_an_absolute_path_too() {
        // Found by the path property (fact-tools-std/tests/properties/paths.rs): the root's
        // prefix was taken off with `strip_prefix`, which drops a trailing slash.
        let dir = temp_root("abs-slash");
        let _ = std::fs::create_dir(dir.join("sub"));
        let _ = std::fs::write(dir.join("notes.txt"), "notes");
        let roots = FileRoots::new([&dir]).expect("root opens");
        for written in ["notes.txt/", "notes.txt/.", "sub//"] {
            let absolute = format!("{}/{written}", dir.display());
            let relative = roots.resolve(&absolute).map(|r| r.relative);
            let expected = roots.resolve(written).map(|r| r.relative);
            assert_eq!(relative.ok(), expected.ok(), "{absolute}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_absolute_path_sharing_only_a_string_prefix_with_a_root_is_outside() {
        let dir = temp_root("prefix");
        let roots = FileRoots::new([&dir]).expect("root opens");
        let sibling = format!("{}-evil/x", dir.display());
        let status = roots
            .resolve(&sibling)
            .err()
            .map(|e| e.kind().status_code());
        assert_eq!(status, Some(403));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_relative_path_resolves_in_the_first_root_where_it_exists() {
        let (a, b) = (temp_root("first-a"), temp_root("first-b"));
        let _ = std::fs::write(b.join("only-in-b.txt"), "b");
        let roots = FileRoots::new([&a, &b]).expect("roots open");
        let found = roots
            .resolve("only-in-b.txt")
            .map(|r| r.dir.exists("only-in-b.txt"));
        assert_eq!(found.ok(), Some(true));
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }
}
