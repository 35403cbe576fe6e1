//! How the file tools open what they read, and how file-system failures become tool errors.

use std::io;
use std::path::Path;

use cap_fs_ext::OpenOptionsSyncExt;
use cap_std::fs::{Dir, File, Metadata, OpenOptions};
use fact_runtime::ToolError;

/// The message cap-std gives when a path or symlink would leave its directory (with
/// `io::ErrorKind::PermissionDenied`); `openat2`'s `EXDEV` is mapped to it too.
const ESCAPE_MESSAGE: &str = "a path led outside of the filesystem";

/// Refuses paths that no file can have: empty ones and ones holding a NUL byte (400).
pub(crate) fn check_path(path: &str) -> Result<(), ToolError> {
    if path.is_empty() {
        return Err(ToolError::invalid_input("the path must not be empty"));
    }
    if path.contains('\0') {
        return Err(ToolError::invalid_input(format!(
            "the path {path:?} contains a NUL byte"
        )));
    }
    Ok(())
}

/// Whether cap-std refused `error` because the path would have left the root.
pub(crate) fn is_escape(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::PermissionDenied && error.to_string() == ESCAPE_MESSAGE
}

/// The tool error for a failed file-system operation on `path`: a path leading out of its
/// root or an access the OS denies is a 403; a missing file or a wrong kind of file is a 400
/// naming the path; anything else is a 500.
pub(crate) fn io_error(path: &str, error: &io::Error) -> ToolError {
    match error.kind() {
        _ if is_escape(error) => {
            ToolError::security(format!("'{path}' leads outside the allowed file roots"))
        }
        io::ErrorKind::PermissionDenied => {
            ToolError::security(format!("permission denied: '{path}'"))
        }
        io::ErrorKind::NotFound => {
            ToolError::invalid_input(format!("no such file or directory: '{path}'"))
        }
        io::ErrorKind::NotADirectory => ToolError::invalid_input(format!(
            "'{path}' goes through something that is not a directory"
        )),
        io::ErrorKind::IsADirectory => ToolError::invalid_input(format!(
            "'{path}' is a directory; list it with FileSystem.ListDirectory"
        )),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidFilename => {
            ToolError::invalid_input(format!("'{path}' is not a valid path: {error}"))
        }
        _ if error.raw_os_error() == Some(ELOOP) => {
            ToolError::invalid_input(format!("'{path}' has too many levels of symbolic links"))
        }
        _ => ToolError::fatal(format!("cannot access '{path}': {error}")),
    }
}

/// `ELOOP`, which std does not yet map to a stable `io::ErrorKind`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ELOOP: i32 = 40;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const ELOOP: i32 = 62;

/// Opens `relative` under `dir` for reading, only if it is a regular file.
///
/// The type is checked twice: before opening (following symlinks, inside the root only), so
/// that a FIFO, socket or device is refused without being opened; and on the open handle, so
/// that a file swapped for one in between is refused too. The open is non-blocking, so even a
/// swapped-in FIFO without a writer cannot hold the call. Nothing is ever opened for writing.
pub(crate) fn open_regular_file(
    dir: &Dir,
    relative: &Path,
    path: &str,
) -> Result<(File, Metadata), ToolError> {
    let before = dir.metadata(relative).map_err(|e| io_error(path, &e))?;
    require_regular_file(&before, path)?;
    open_checked(dir, relative, path)
}

/// The second half of [`open_regular_file`]: a non-blocking open, then the type of what was
/// actually opened.
fn open_checked(dir: &Dir, relative: &Path, path: &str) -> Result<(File, Metadata), ToolError> {
    let mut options = OpenOptions::new();
    options.read(true).nonblock(true);
    let file = dir
        .open_with(relative, &options)
        .map_err(|e| io_error(path, &e))?;
    let opened = file.metadata().map_err(|e| io_error(path, &e))?;
    require_regular_file(&opened, path)?;
    Ok((file, opened))
}

fn require_regular_file(metadata: &Metadata, path: &str) -> Result<(), ToolError> {
    if metadata.is_file() {
        Ok(())
    } else if metadata.is_dir() {
        Err(ToolError::invalid_input(format!(
            "'{path}' is a directory; list it with FileSystem.ListDirectory"
        )))
    } else {
        Err(ToolError::security(format!(
            "'{path}' is not a regular file (a device, FIFO or socket): refused"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fact_runtime::ErrorKind;

    #[test]
    fn a_nul_byte_in_a_path_is_invalid_input() {
        let err = check_path("notes\0.txt").expect_err("NUL is refused");
        assert_eq!(err.kind(), ErrorKind::Validation);
    }

    #[test]
    fn an_empty_path_is_invalid_input() {
        let err = check_path("").expect_err("empty is refused");
        assert_eq!(err.kind(), ErrorKind::Validation);
    }

    #[test]
    fn cap_std_escapes_are_security_errors_naming_the_path() {
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, ESCAPE_MESSAGE);
        let err = io_error("../x", &escape);
        assert_eq!(err.kind(), ErrorKind::Security);
        assert!(err.message().contains("'../x'"), "{err}");
        assert!(err.message().contains("outside"), "{err}");
    }

    #[test]
    fn a_missing_file_is_invalid_input_naming_the_path() {
        let err = io_error("gone.txt", &io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.message().contains("'gone.txt'"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let root = std::env::temp_dir().join(format!("fact-fs-access-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("creates the root");
        let made = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .expect("runs mkfifo");
        assert!(made.success());
        let dir = Dir::open_ambient_dir(&root, cap_std::ambient_authority()).expect("opens root");
        let err = open_regular_file(&dir, Path::new("pipe"), "pipe").expect_err("FIFO refused");
        assert_eq!(err.kind(), ErrorKind::Security);
        // A FIFO swapped in after the first check: the open returns at once (no writer is
        // needed with O_NONBLOCK) and the handle's type refuses it.
        let err = open_checked(&dir, Path::new("pipe"), "pipe").expect_err("FIFO refused");
        assert_eq!(err.kind(), ErrorKind::Security);
        let _ = std::fs::remove_dir_all(&root);
    }
}
