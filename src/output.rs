//! Output files written whole or not at all.
//!
//! A report, snapshot or inventory is written to a temporary file beside its destination
//! and renamed into place at the end, so a scan that fails or is interrupted never leaves
//! a partial file, and an unwritable destination is detected before a long scan starts
//! rather than after it.
//!
//! What the destination already is decides how it is written:
//! * nothing, or a regular file: temporary file + rename. An existing file keeps its
//!   permission bits and (when we may set it) its owner, as it would with `>` in a shell.
//! * a symlink: followed. The temporary file goes beside the file the link points to and
//!   replaces that file, so the link stays a link. A dangling link gets its target created,
//!   again as `>` would.
//! * a character or block device, a FIFO, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`:
//!   written in place. Renaming a regular file over `/dev/null` or over a FIFO someone is
//!   reading would destroy it (and, as root, replace the device node), and what was
//!   written to a pipe or device cannot be taken back anyway.
//!
//! Every temporary file is also recorded in a process-wide list, so that a signal handler
//! that has to end the process without unwinding ([`abandon_pending`]) can still remove
//! them, and so that abandoning and committing cannot interleave.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

/// Symlinks followed before giving up, as the kernel's own limit (`ELOOP`).
const MAX_SYMLINKS: usize = 40;

pub struct OutputFile {
    /// The path as the user gave it, for messages.
    named: PathBuf,
    sink: Sink,
}

enum Sink {
    /// Written to `tmp`, renamed onto `dest` (the symlink's target when `named` is a link)
    /// by [`commit_all`].
    Replace {
        dest: PathBuf,
        tmp: BufWriter<NamedTempFile>,
    },
    /// Written straight into the destination (a device, FIFO, the process's stdout).
    /// `started` is set on the first byte: from then on an abandoned run has sent
    /// something it cannot take back.
    Direct {
        out: BufWriter<Box<dyn Write + Send>>,
        started: bool,
    },
}

impl OutputFile {
    /// Checks that `dest` can be written, and opens it: creates the temporary file, or
    /// opens the device or FIFO (which, for a FIFO, waits for a reader as `>` does).
    pub fn create(dest: &Path) -> anyhow::Result<Self> {
        let fail = |reason: String| anyhow::anyhow!("cannot write {}: {reason}", dest.display());
        if dest.as_os_str().is_empty() {
            anyhow::bail!("cannot write to an empty path");
        }
        if let Some(stream) = std_stream(dest) {
            return Ok(Self::direct(dest, stream));
        }
        if names_a_directory(dest) {
            return Err(fail("it names a directory".into()));
        }
        match fs::metadata(dest) {
            Ok(meta) if meta.is_dir() => Err(fail("it is a directory".into())),
            Ok(meta) if meta.is_file() && is_descriptor_path(dest) => {
                // `--output /dev/fd/3 3>>log`: the file the shell opened, reopened. Appending
                // honours `>>` and, after `>`, starts at the (empty) file's beginning.
                let file = OpenOptions::new()
                    .append(true)
                    .open(dest)
                    .map_err(|e| fail(io_reason(&e)))?;
                Ok(Self::direct(dest, Box::new(file)))
            }
            Ok(meta) if meta.is_file() => {
                let target = follow_symlinks(dest).map_err(|e| fail(io_reason(&e)))?;
                // A rename replaces a file the user could not have written: it needs only
                // the directory's permission. Opening it for writing (no truncation) asks
                // the file's own permission, as `>` would.
                OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map_err(|e| fail(io_reason(&e)))?;
                Self::replace(dest, target, Some(&meta)).map_err(|e| fail(io_reason(&e)))
            }
            Ok(meta) if is_socket(&meta) => Err(fail("it is a socket".into())),
            Ok(_) => {
                // Devices and FIFOs; `write` without `create` or `truncate` leaves the node
                // as it is.
                let file = OpenOptions::new()
                    .write(true)
                    .open(dest)
                    .map_err(|e| fail(io_reason(&e)))?;
                Ok(Self::direct(dest, Box::new(file)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Nothing there, or a dangling symlink: create the file (the link's target).
                let target = follow_symlinks(dest).map_err(|e| fail(io_reason(&e)))?;
                if names_a_directory(&target) {
                    return Err(fail(format!(
                        "it links to {}, which names a directory",
                        target.display()
                    )));
                }
                Self::replace(dest, target, None).map_err(|e| fail(io_reason(&e)))
            }
            Err(e) => Err(fail(io_reason(&e))),
        }
    }

    fn direct(named: &Path, out: Box<dyn Write + Send>) -> Self {
        OutputFile {
            named: named.to_path_buf(),
            sink: Sink::Direct {
                out: BufWriter::with_capacity(1 << 16, out),
                started: false,
            },
        }
    }

    /// The process's stdout, for a report given no `--output`.
    pub fn stdout() -> Self {
        Self::direct(Path::new("stdout"), Box::new(io::stdout()))
    }

    fn replace(named: &Path, dest: PathBuf, existing: Option<&fs::Metadata>) -> io::Result<Self> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".s3audit-");
        // Temporary files are private (0600); a new report is an ordinary file once in place.
        #[cfg(unix)]
        if existing.is_none() {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o644));
        }
        let mut pending = pending();
        if pending.abandoned {
            return Err(io::Error::other("the run was interrupted"));
        }
        let tmp = builder.tempfile_in(dir)?;
        if let Some(meta) = existing {
            keep_owner_and_mode(tmp.as_file(), meta)?;
        }
        pending.temps.push(tmp.path().to_path_buf());
        Ok(OutputFile {
            named: named.to_path_buf(),
            sink: Sink::Replace {
                dest,
                tmp: BufWriter::with_capacity(1 << 16, tmp),
            },
        })
    }

    /// The path as given on the command line.
    pub fn path(&self) -> &Path {
        &self.named
    }

    /// Whether this output is written in place (a device, FIFO or stdout) rather than
    /// replaced at the end.
    pub fn is_direct(&self) -> bool {
        matches!(self.sink, Sink::Direct { .. })
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Replace { tmp, .. } => tmp.write(buf),
            Sink::Direct { out, started } => {
                if !*started && !buf.is_empty() {
                    *started = true;
                    pending().started.push(self.named.display().to_string());
                }
                out.write(buf)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Replace { tmp, .. } => tmp.flush(),
            Sink::Direct { out, .. } => out.flush(),
        }
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        // NamedTempFile removes the file itself; this only forgets it.
        if let Sink::Replace { tmp, .. } = &self.sink {
            let path = tmp.get_ref().path();
            pending().temps.retain(|p| p != path);
        }
    }
}

/// Finishes every output at once: flushes and syncs them all first (where a full disk
/// shows), then renames the temporary files into place. Once this has started, an
/// interrupt no longer abandons the run: [`abandon_pending`] waits for it and then
/// reports that the outputs were written.
pub fn commit_all(files: impl IntoIterator<Item = OutputFile>) -> anyhow::Result<()> {
    let mut staged = Vec::new();
    for mut file in files {
        let named = file.named.clone();
        let fail =
            |e: io::Error| anyhow::anyhow!("cannot write {}: {}", named.display(), io_reason(&e));
        match &mut file.sink {
            Sink::Replace { tmp, .. } => {
                tmp.flush().map_err(fail)?;
                tmp.get_ref().as_file().sync_all().map_err(fail)?;
            }
            Sink::Direct { out, .. } => out.flush().map_err(fail)?,
        }
        if let Some(temp) = file.into_temp() {
            staged.push((named, temp));
        }
    }
    let mut pending = pending();
    if pending.abandoned {
        anyhow::bail!("the run was interrupted");
    }
    pending.committed = true;
    for (named, (tmp, dest)) in staged {
        let tmp_path = tmp.path().to_path_buf();
        tmp.persist(&dest).map_err(|e| {
            anyhow::anyhow!("cannot write {}: {}", named.display(), io_reason(&e.error))
        })?;
        pending.temps.retain(|p| p != &tmp_path);
        // The rename is durable only once the directory is synced; not every file system
        // can sync a directory, and the file itself is already synced.
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

impl OutputFile {
    /// Takes the temporary file out of a replaced output (None for a direct one). What
    /// is left behind is an empty direct sink, so `Drop` no longer touches the list.
    fn into_temp(mut self) -> Option<(NamedTempFile, PathBuf)> {
        let sink = std::mem::replace(&mut self.sink, Sink::discarding());
        match sink {
            Sink::Replace { dest, tmp } => Some((tmp.into_parts().0, dest)),
            Sink::Direct { .. } => None,
        }
    }

    /// For a report whose reader went away (`s3audit ... | head`): drops what is still
    /// buffered, so finishing the output does not fail on it. That is not an error of ours.
    pub fn discard_unwritten(&mut self) {
        if let Sink::Direct { out, .. } = &mut self.sink {
            let _ = std::mem::replace(out, BufWriter::new(Box::new(io::sink()))).into_parts();
        }
    }
}

impl Sink {
    fn discarding() -> Self {
        Sink::Direct {
            out: BufWriter::new(Box::new(io::sink())),
            started: false,
        }
    }
}

/// What [`abandon_pending`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Abandoned {
    /// Nothing had been committed; every temporary file is gone. The outputs named here
    /// (devices, FIFOs, stdout) had already received part of their content.
    Nothing { incomplete: Vec<String> },
    /// The outputs had already been committed when the interrupt came.
    AlreadyCommitted,
    /// Another thread abandoned them first (and reported it).
    AlreadyAbandoned,
}

/// Removes every temporary file of this process and refuses any later commit, for an
/// interrupted run. Waits for a commit in progress, so files are either all renamed
/// into place or all removed.
pub fn abandon_pending() -> Abandoned {
    let mut pending = pending();
    if pending.abandoned {
        return Abandoned::AlreadyAbandoned;
    }
    if pending.committed {
        return Abandoned::AlreadyCommitted;
    }
    pending.abandoned = true;
    for tmp in pending.temps.drain(..) {
        let _ = fs::remove_file(tmp);
    }
    Abandoned::Nothing {
        incomplete: pending.started.clone(),
    }
}

struct Pending {
    temps: Vec<PathBuf>,
    /// Direct outputs that have received bytes.
    started: Vec<String>,
    /// Outputs were moved into place: an interrupt from now on is too late to undo them.
    committed: bool,
    /// An interrupt removed the temporary files: nothing more is created or moved.
    abandoned: bool,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    temps: Vec::new(),
    started: Vec::new(),
    committed: false,
    abandoned: false,
});

fn pending() -> MutexGuard<'static, Pending> {
    // A panic while holding the lock leaves the list itself valid.
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The paths that mean "this process's own stdout or stderr". Written through the
/// process's handle rather than reopened: reopening a socket fails, and reopening a
/// regular file would write from its start whatever the shell's `>>` asked for.
fn std_stream(path: &Path) -> Option<Box<dyn Write + Send>> {
    match path.to_str()? {
        "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => Some(Box::new(io::stdout())),
        "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => Some(Box::new(io::stderr())),
        _ => None,
    }
}

/// `/dev/fd/N`, `/proc/self/fd/N`, anything else under `/proc`: names that reopen a file
/// descriptor or a kernel file. Neither has a directory to put a temporary file in, and
/// what `/proc/self/fd/N` links to is not a path to rename onto.
fn is_descriptor_path(path: &Path) -> bool {
    path.starts_with("/dev/fd") || path.starts_with("/proc")
}

/// `dir/`, `.`, `..`, `x/.`, `x/..`: a path that can only be a directory, whether or not
/// it exists. Renaming a file onto it would fail only after the scan. (Checked on the
/// text: `Path::components` drops a trailing `.`.)
fn names_a_directory(path: &Path) -> bool {
    let text = path.as_os_str().as_encoded_bytes();
    let last = text.rsplit(|&b| b == b'/').next().unwrap_or(text);
    last.is_empty() || last == b"." || last == b".."
}

/// The path a chain of symlinks ends at (the path itself when it is not a link). The
/// end need not exist: that is a dangling link, whose target is created.
fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// What identifies an output's destination, to tell two spellings of one file apart
/// from two files: the inode when it exists, else the absolute path it would be created
/// at (symlinks followed, the directory canonicalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

/// `None` for destinations two outputs may share: character devices (`/dev/null`, a
/// terminal), where nothing is replaced and nothing is kept as a file.
pub fn identity(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if let Ok(meta) = fs::metadata(path) {
            if meta.file_type().is_char_device() {
                return None;
            }
            return Some(Identity::Inode(meta.dev(), meta.ino()));
        }
    }
    let target = follow_symlinks(path).unwrap_or_else(|_| path.to_path_buf());
    let name = target.file_name().map(|n| n.to_os_string());
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let absolute = match (fs::canonicalize(&dir), name) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(&target).unwrap_or(target),
    };
    Some(Identity::Path(absolute))
}

#[cfg(unix)]
fn is_socket(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_socket()
}

#[cfg(not(unix))]
fn is_socket(_: &fs::Metadata) -> bool {
    false
}

/// Gives the replacement the replaced file's permission bits and owner, so replacing a
/// 0600 report does not widen it to 0644, and root rewriting a user's report leaves it
/// theirs. Changing the owner needs privilege; without it the file is ours, as it would
/// be had we created it.
#[cfg(unix)]
fn keep_owner_and_mode(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // Without privilege, the group alone may still be ours to keep.
    if std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid())).is_err() {
        let _ = std::os::unix::fs::fchown(file, None, Some(meta.gid()));
    }
    file.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o777))
}

#[cfg(not(unix))]
fn keep_owner_and_mode(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    file.set_permissions(meta.permissions())
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "the directory does not exist".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::NotADirectory => "a part of the path is not a directory".to_string(),
        io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only".to_string(),
        io::ErrorKind::StorageFull => "no space left on the device".to_string(),
        _ => e.to_string(),
    }
}
