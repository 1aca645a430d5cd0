//! The files a command reads and writes: every input is recorded as it is opened, and every
//! output is written atomically and never over an input.
//!
//! An output goes to a temporary file in the target's folder, which is renamed over the target
//! when it is complete ([`AtomicFile::commit`]); a run that fails (or is interrupted) before that
//! leaves the target as it was and removes the temporary file. An output path that resolves to a
//! file the command reads (after canonicalising, so `./x.parquet`, `../d/x.parquet` and symbolic
//! links are recognised), or that a folder or glob input would pick up on the next run, is a usage
//! error: an analyst's only copy of a transaction log is never replaced by a result.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{CliError, Result};

/// Something a command reads.
#[derive(Debug, Clone)]
enum Read {
    /// One file, canonical.
    File(PathBuf),
    /// Every file under a folder (recursively) whose name ends with `extension`.
    Folder { dir: PathBuf, extension: String },
    /// Every file a glob matches (the pattern with its folder canonical).
    Glob { dir: PathBuf, pattern: String },
}

static READS: Mutex<Vec<Read>> = Mutex::new(Vec::new());

fn reads() -> std::sync::MutexGuard<'static, Vec<Read>> {
    READS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The canonical form of `path`, which need not exist: its folder is canonicalised and its name
/// kept (a path that exists is canonicalised whole, resolving a symbolic link to its target).
pub fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => canonical(dir).join(name),
        _ => absolute,
    }
}

/// Records a file the command reads (a model, a scheme file, a configuration file).
pub fn reading_file(path: &Path) {
    reads().push(Read::File(canonical(path)));
}

/// Records an input given as a file, a folder (of files ending with `extension`) or a glob,
/// and the files it resolved to.
pub fn reading_input(path: &str, extension: &str, files: &[PathBuf]) {
    let mut reads = reads();
    reads.extend(files.iter().map(|f| Read::File(canonical(f))));
    if path.contains("://") {
        return;
    }
    if path.contains(['*', '?', '[']) {
        // The folder part before the first component with a wildcard, and the rest.
        let (mut dir, mut rest) = (PathBuf::new(), vec![]);
        for part in Path::new(path).components() {
            let text = part.as_os_str().to_string_lossy();
            if rest.is_empty() && !text.contains(['*', '?', '[']) {
                dir.push(part);
            } else {
                rest.push(text.to_string());
            }
        }
        reads.push(Read::Glob {
            dir: canonical(&dir),
            pattern: rest.join("/"),
        });
    } else if Path::new(path).is_dir() {
        reads.push(Read::Folder {
            dir: canonical(Path::new(path)),
            extension: extension.to_ascii_lowercase(),
        });
    }
}

/// Whether `text` matches the glob `pattern` (`*` and `?` within a path component, `**` across
/// components, `[...]` a character class).
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => {
            let across = rest.first() == Some(&'*');
            let rest = if across { &rest[1..] } else { rest };
            (0..=text.len())
                .take_while(|&i| across || !text[..i].contains(&'/'))
                .any(|i| glob_match(rest, &text[i..]))
        }
        Some(('?', rest)) => text.first().is_some_and(|c| *c != '/') && glob_match(rest, &text[1..]),
        Some(('[', rest)) if rest.contains(&']') => {
            let end = rest.iter().position(|c| *c == ']').unwrap_or(0);
            let (class, rest) = (&rest[..end], &rest[end + 1..]);
            let (negated, class) = match class.first() {
                Some('!' | '^') => (true, &class[1..]),
                _ => (false, class),
            };
            let Some(c) = text.first() else { return false };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= *c && *c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == *c;
                    i += 1;
                }
            }
            hit != negated && glob_match(rest, &text[1..])
        }
        Some((p, rest)) => text.first() == Some(p) && glob_match(rest, &text[1..]),
    }
}

/// Whether two paths name the same file (the same device and inode where both exist).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    a == b
}

/// Fails with a usage error when the output `out` (given with `flag`) would replace a file the
/// command reads, or would be read as input by the next run over the same folder or glob.
pub fn check_output(out: &Path, flag: &str) -> Result<()> {
    let target = canonical(out);
    let shown = out.display();
    for read in reads().iter() {
        let problem = match read {
            Read::File(f) => (f == &target || same_file(f, &target))
                .then(|| format!("{flag} '{shown}' is a file this command reads: writing it would destroy the input")),
            Read::Folder { dir, extension } => (target.starts_with(dir)
                && target
                    .to_string_lossy()
                    .to_ascii_lowercase()
                    .ends_with(extension.as_str()))
            .then(|| {
                format!(
                    "{flag} '{shown}' is inside the input folder '{}': the next run would read it as input",
                    dir.display()
                )
            }),
            Read::Glob { dir, pattern } => target
                .strip_prefix(dir)
                .ok()
                .filter(|rest| {
                    let pattern: Vec<char> = pattern.chars().collect();
                    let rest: Vec<char> = rest.to_string_lossy().chars().collect();
                    glob_match(&pattern, &rest)
                })
                .map(|_| format!("{flag} '{shown}' matches the input glob: the next run would read it as input")),
        };
        if let Some(problem) = problem {
            return Err(CliError::usage(format!("{problem}; write the result to another file")));
        }
    }
    Ok(())
}

/// A file written in full or not at all; see the module documentation.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    /// Checks `target` with [`check_output`] and opens a temporary file beside it.
    pub fn create(target: &Path, flag: &str) -> Result<Self> {
        check_output(target, flag)?;
        if target.is_dir() {
            return Err(CliError::usage(format!(
                "{flag} '{}' is a folder; name a file",
                target.display()
            )));
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let temp = dir.join(format!(
            ".{name}.clv-{}-{}.tmp",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| CliError::data(format!("cannot create '{}': {e}", target.display())))?;
        Ok(Self {
            target: target.to_path_buf(),
            temp,
            file: Some(std::io::BufWriter::new(file)),
        })
    }

    /// Writes the data to disk and renames the temporary file over the target.
    pub fn commit(mut self) -> Result<()> {
        let shown = self.target.display().to_string();
        let fail = |e: std::io::Error| CliError::data(format!("cannot write '{shown}': {e}"));
        let file = self.file.take().expect("an AtomicFile is committed once");
        let file = file.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        drop(file);
        std::fs::rename(&self.temp, &self.target).map_err(fail)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("the file is already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    /// An uncommitted file is removed: the target keeps its old content, or stays absent.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomically(target: &Path, flag: &str, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(target, flag)?;
    file.write_all(bytes)
        .map_err(|e| CliError::data(format!("cannot write '{}': {e}", target.display())))?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        glob_match(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
    }

    #[test]
    fn globs_match_like_the_listing() {
        assert!(matches("*.parquet", "a.parquet"));
        assert!(!matches("*.parquet", "sub/a.parquet"));
        assert!(matches("**/*.parquet", "sub/a.parquet"));
        assert!(matches("part-?.csv", "part-1.csv"));
        assert!(matches("part-[0-9].csv", "part-7.csv"));
        assert!(!matches("part-[!0-9].csv", "part-7.csv"));
        assert!(!matches("*.csv", "a.parquet"));
    }

    #[test]
    fn an_uncommitted_file_leaves_the_target_as_it_was() {
        let dir = std::env::temp_dir().join(format!("clv-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        std::fs::write(&target, "old").unwrap();
        {
            let mut f = AtomicFile::create(&target, "--out").unwrap();
            f.write_all(b"partial").unwrap();
            // Dropped without commit: a failed run.
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        let fresh = dir.join("fresh.csv");
        drop(AtomicFile::create(&fresh, "--out").unwrap());
        assert!(!fresh.exists());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        write_atomically(&target, "--out", b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
