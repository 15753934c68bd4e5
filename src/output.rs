//! Output files written whole or not at all.
//!
//! A report is written to a temporary file beside its destination and renamed into place
//! at the end, so a scan that fails never leaves a partial report, and an unwritable
//! destination is detected before a long scan starts rather than after it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tempfile::NamedTempFile;

pub struct OutputFile {
    dest: PathBuf,
    tmp: NamedTempFile,
}

impl OutputFile {
    /// Checks that `dest` can be written by creating the temporary file now.
    pub fn create(dest: &Path) -> anyhow::Result<Self> {
        if dest.is_dir() {
            anyhow::bail!("cannot write {}: it is a directory", dest.display());
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".s3audit-");
        // Temporary files are private (0600); a report is an ordinary file once in place.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", dest.display(), io_reason(&e)))?;
        Ok(OutputFile {
            dest: dest.to_path_buf(),
            tmp,
        })
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        self.tmp.as_file_mut()
    }

    /// Moves the finished file into place.
    pub fn commit(self) -> anyhow::Result<()> {
        let dest = self.dest;
        self.tmp.as_file().sync_all().ok();
        self.tmp
            .persist(&dest)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(())
    }
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "the directory does not exist".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}
