//! The refresh-token file: read afresh before each use, written atomically (a temporary
//! file in the same folder, then a rename) with mode 0600, so a crash mid-write never
//! leaves a half token and no other user can read it.

use super::AuthError;
use crate::send::Secret;
use std::io::Write;
use std::path::Path;

/// Reads the refresh token from `path`, trimmed.
pub fn read(path: &Path) -> Result<Secret, AuthError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuthError::MissingRefreshToken { path: path.into() });
        }
        Err(source) => return Err(store_error("read", path, source)),
    };
    match text.trim() {
        "" => Err(AuthError::MissingRefreshToken { path: path.into() }),
        token => Ok(Secret::new(token)),
    }
}

/// Checks that `path` can be replaced as [`save`] does (a file created beside it, then
/// renamed): before a refresh token is exchanged, since the service rotates it then, and a
/// rotated token that cannot be saved is lost, and with it the unattended sign-in.
pub fn check_writable(path: &Path) -> Result<(), AuthError> {
    temp_beside(path).map(drop)
}

/// A new, empty temporary file in the folder of `path` (created if missing).
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, AuthError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder).map_err(|e| store_error("write", path, e))?;
    // tempfile creates the file with mode 0600 on Unix before anything is written to it.
    tempfile::NamedTempFile::new_in(folder).map_err(|e| store_error("write", path, e))
}

/// Replaces the content of `path` with `token`, atomically, readable only by its owner.
pub fn save(path: &Path, token: &Secret) -> Result<(), AuthError> {
    let mut temp = temp_beside(path)?;
    owner_only(temp.as_file()).map_err(|e| store_error("write", path, e))?;
    writeln!(temp, "{}", token.expose()).map_err(|e| store_error("write", path, e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| store_error("write", path, e))?;
    temp.persist(path)
        .map_err(|e| store_error("write", path, e.error))?;
    Ok(())
}

/// Makes sure the file is `rw-------` whatever the umask or platform defaults were.
#[cfg(unix)]
fn owner_only(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Elsewhere the file inherits the folder's access rules.
#[cfg(not(unix))]
fn owner_only(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

fn store_error(action: &'static str, path: &Path, source: std::io::Error) -> AuthError {
    AuthError::Store {
        action,
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_token_reads_back_and_is_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("refresh-token");
        save(&path, &Secret::new("first")).expect("save");
        save(&path, &Secret::new("second")).expect("save again");
        assert_eq!(read(&path).expect("read").expose(), "second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(path.parent().expect("folder"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_missing_or_empty_file_says_to_sign_in() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("none");
        assert!(matches!(
            read(&path),
            Err(AuthError::MissingRefreshToken { .. })
        ));
        std::fs::write(&path, "  \n").expect("write");
        let message = read(&path).expect_err("empty").to_string();
        assert!(message.contains("refsync auth login"), "{message}");
    }
}
