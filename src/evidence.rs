//! The evidence bundle (`scan --evidence DIR`, `evaluate --evidence DIR`) and its check
//! (`s3audit verify DIR`).
//!
//! A bundle is a directory of the run's outputs (the reports, the snapshot that reproduces
//! them, the objects inventory, the rule settings) and a `SHA256SUMS` manifest in GNU
//! coreutils format, so an assessor can check it with `sha256sum -c SHA256SUMS` and no
//! s3audit. With `--sign-key` the manifest is signed as OpenSSH signs files
//! (`ssh-keygen -Y sign -n file`), so `ssh-keygen -Y verify` checks it.
//!
//! The bundle is written into a temporary directory beside DIR and renamed onto it at the
//! end: DIR holds a whole bundle or nothing.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The manifest: `<sha256 hex>  <path>` per file, sorted by path.
pub const MANIFEST: &str = "SHA256SUMS";
/// The manifest's SSHSIG signature (PEM), when signed.
pub const SIGNATURE: &str = "SHA256SUMS.sig";
/// The files of a bundle besides the manifest.
pub const REPORT_JSON: &str = "report.json";
pub const FINDINGS_CSV: &str = "findings.csv";
pub const REPORT_HTML: &str = "report.html";
pub const SNAPSHOT: &str = "snapshot.json";
/// The objects inventory (as `--objects-csv`), when objects were scanned.
pub const INVENTORY: &str = "objects.csv";
/// The rule settings, as a file `--config` reads.
pub const CONFIG: &str = "config.toml";
/// The SSHSIG namespace, as `ssh-keygen -Y sign -n file` uses for files.
pub const NAMESPACE: &str = "file";

/// A bundle being written: files go into a private temporary directory beside `dest`.
pub struct Bundle {
    dest: PathBuf,
    tmp: tempfile::TempDir,
}

impl Bundle {
    /// Refuses a `dest` that exists and is anything but an empty directory, and creates
    /// the temporary directory: before any scan, so the mistake costs nothing.
    pub fn create(dest: &Path) -> anyhow::Result<Self> {
        let shown = dest.display();
        match fs::symlink_metadata(dest) {
            Ok(meta) if meta.is_dir() => {
                let mut entries = fs::read_dir(dest)
                    .with_context(|| format!("--evidence {shown}: cannot read the directory"))?;
                if entries.next().is_some() {
                    anyhow::bail!(
                        "--evidence {shown}: the directory is not empty: give a new or empty directory, so the bundle holds only this run's files"
                    );
                }
            }
            Ok(_) => anyhow::bail!(
                "--evidence {shown}: it exists and is not a directory: give a new or empty directory"
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("--evidence {shown}")),
        }
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".s3audit-evidence-")
            .tempdir_in(parent)
            .with_context(|| format!("--evidence {shown}: cannot create a directory beside it"))?;
        Ok(Bundle {
            dest: dest.to_path_buf(),
            tmp,
        })
    }

    /// Where the bundle will be.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// A new file of the bundle, for a writer that streams into it.
    pub fn create_file(&self, name: &str) -> anyhow::Result<BufWriter<File>> {
        let path = self.tmp.path().join(name);
        let file = File::create(&path)
            .with_context(|| format!("cannot write {name} of the evidence bundle"))?;
        Ok(BufWriter::new(file))
    }

    /// Writes one file of the bundle with `write`.
    pub fn write_with(
        &self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> anyhow::Result<()> {
        let mut out = self.create_file(name)?;
        write(&mut out)
            .and_then(|()| out.flush())
            .and_then(|()| out.get_ref().sync_all())
            .with_context(|| format!("cannot write {name} of the evidence bundle"))
    }

    /// Writes the manifest over every file written, and its signature with `key`.
    pub fn seal(&self, key: Option<&PrivateKey>) -> anyhow::Result<()> {
        let manifest = manifest(self.tmp.path())?;
        self.write_with(MANIFEST, |out| out.write_all(manifest.as_bytes()))?;
        if let Some(key) = key {
            let pem = sign(key, manifest.as_bytes())?;
            self.write_with(SIGNATURE, |out| out.write_all(pem.as_bytes()))?;
        }
        Ok(())
    }

    /// Moves the bundle onto `dest` (an empty directory there is replaced).
    pub fn commit(self) -> anyhow::Result<()> {
        let Bundle { dest, tmp } = self;
        let tmp = tmp.keep();
        if let Err(e) = fs::rename(&tmp, &dest) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e).with_context(|| {
                format!(
                    "cannot move the evidence bundle into {} (is it still a new or empty directory?)",
                    dest.display()
                )
            });
        }
        Ok(())
    }
}

/// An unencrypted Ed25519 OpenSSH private key, read before the run so a bad key costs
/// nothing.
pub fn load_signing_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let shown = path.display();
    let key = PrivateKey::read_openssh_file(path)
        .map_err(|e| anyhow::anyhow!("--sign-key {shown}: not an OpenSSH private key ({e})"))?;
    if key.is_encrypted() {
        anyhow::bail!(
            "--sign-key {shown}: the key is encrypted with a passphrase: s3audit signs with an unencrypted key (ssh-keygen -t ed25519 -N '')"
        );
    }
    if key.algorithm() != ssh_key::Algorithm::Ed25519 {
        anyhow::bail!(
            "--sign-key {shown}: a {} key: s3audit signs with Ed25519 keys (ssh-keygen -t ed25519)",
            key.algorithm()
        );
    }
    Ok(key)
}

fn sign(key: &PrivateKey, message: &[u8]) -> anyhow::Result<String> {
    let signature = key
        .sign(NAMESPACE, HashAlg::Sha512, message)
        .map_err(|e| anyhow::anyhow!("cannot sign the evidence manifest: {e}"))?;
    signature
        .to_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the manifest's signature: {e}"))
}

/// Every regular file under `dir` (relative paths with `/`, sorted by bytes), except the
/// manifest and its signature at the top.
fn files(dir: &Path) -> anyhow::Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
        let entries = fs::read_dir(dir)
            .with_context(|| format!("cannot read directory {}", dir.display()))?;
        for entry in entries {
            let entry =
                entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            if kind.is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out)?;
            } else if !(prefix.is_empty() && (name == MANIFEST || name == SIGNATURE)) {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        match io::Read::read(&mut file, &mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest of `dir`, as `sha256sum` prints it (text mode: two spaces).
fn manifest(dir: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    for rel in files(dir)? {
        let sum = sha256_file(&dir.join(&rel))
            .with_context(|| format!("cannot read {rel} to hash it"))?;
        text.push_str(&format!("{sum}  {rel}\n"));
    }
    Ok(text)
}

/// What `verify` found wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Listed, and its content differs (or it is no longer a regular file).
    Changed(String),
    /// Listed, and not there.
    Missing(String),
    /// There, and not listed.
    Extra(String),
    /// The signature is missing or does not verify with the key given.
    BadSignature(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Changed(p) => write!(f, "changed: {p}"),
            Problem::Missing(p) => write!(f, "missing: {p}"),
            Problem::Extra(p) => write!(f, "extra: {p}"),
            Problem::BadSignature(why) => write!(f, "bad signature: {SIGNATURE}: {why}"),
        }
    }
}

/// The outcome of checking a bundle.
#[derive(Debug)]
pub struct Verification {
    /// Files listed in the manifest.
    pub listed: usize,
    pub problems: Vec<Problem>,
    /// Whether the signature was checked (a `--pubkey` was given) and verified.
    pub signature_verified: bool,
    /// The bundle has a signature that was not checked (no `--pubkey`).
    pub signature_unchecked: bool,
}

/// Checks the bundle in `dir` against its manifest (and, with `pubkey`, the manifest
/// against its signature). `Err` is a usage error: no such directory, no manifest, a
/// malformed manifest line, an unreadable key.
pub fn verify(dir: &Path, pubkey: Option<&Path>) -> anyhow::Result<Verification> {
    let shown = dir.display();
    if !dir.is_dir() {
        anyhow::bail!("verify: {shown} is not a directory");
    }
    let manifest_path = dir.join(MANIFEST);
    let manifest = fs::read(&manifest_path)
        .with_context(|| format!("verify: cannot read {}", manifest_path.display()))?;
    let key = pubkey
        .map(|p| {
            PublicKey::read_openssh_file(p).map_err(|e| {
                anyhow::anyhow!(
                    "verify: --pubkey {}: not an OpenSSH public key ({e})",
                    p.display()
                )
            })
        })
        .transpose()?;
    let listed = parse_manifest(&manifest)?;
    let mut problems = Vec::new();
    for (sum, rel) in &listed {
        let path = dir.join(rel);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(Problem::Missing(rel.clone()));
            }
            Ok(meta) if !meta.is_file() => problems.push(Problem::Changed(rel.clone())),
            _ => match sha256_file(&path) {
                Ok(actual) if actual == *sum => {}
                Ok(_) => problems.push(Problem::Changed(rel.clone())),
                Err(e) => anyhow::bail!("verify: cannot read {}: {e}", path.display()),
            },
        }
    }
    for rel in files(dir)? {
        if !listed.iter().any(|(_, listed)| *listed == rel) {
            problems.push(Problem::Extra(rel));
        }
    }
    let sig_path = dir.join(SIGNATURE);
    let mut signature_verified = false;
    let signature_unchecked = key.is_none() && sig_path.exists();
    if let Some(key) = key {
        let checked = fs::read(&sig_path)
            .map_err(|e| format!("cannot read it ({e})"))
            .and_then(|pem| SshSig::from_pem(pem).map_err(|e| format!("not a signature ({e})")))
            .and_then(|sig| {
                key.verify(NAMESPACE, &manifest, &sig).map_err(|e| match e {
                    ssh_key::Error::PublicKey => "made with another key than --pubkey".to_string(),
                    ssh_key::Error::Namespace => {
                        format!("not made for namespace {NAMESPACE:?}")
                    }
                    _ => format!("does not match {MANIFEST}"),
                })
            });
        match checked {
            Ok(()) => signature_verified = true,
            Err(why) => problems.push(Problem::BadSignature(why)),
        }
    }
    Ok(Verification {
        listed: listed.len(),
        problems,
        signature_verified,
        signature_unchecked,
    })
}

/// `<64 hex>  <path>` (or `<64 hex> *<path>`, sha256sum's binary mode) lines; anything
/// else, a path that leaves the bundle, or a path listed twice is an error naming the line.
fn parse_manifest(bytes: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("verify: {MANIFEST} is not UTF-8 text"))?;
    let mut listed: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let bad = |why: &str| {
            anyhow::anyhow!(
                "verify: {MANIFEST} line {n} is malformed ({why}): {:?}",
                crate::report::escape::terminal(line)
            )
        };
        let (sum, rest) = line
            .split_at_checked(64)
            .ok_or_else(|| bad("expected 64 hex digits, two spaces and a path"))?;
        if !sum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("expected 64 lowercase hex digits"));
        }
        let rel = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .ok_or_else(|| bad("expected two spaces after the checksum"))?;
        if rel.is_empty()
            || rel.starts_with('/')
            || rel.contains('\\')
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(bad("the path must be relative, inside the bundle"));
        }
        if listed.iter().any(|(_, r)| r == rel) {
            return Err(bad("the path is listed twice"));
        }
        listed.push((sum.to_string(), rel.to_string()));
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lines_are_checked() {
        let sum = "a".repeat(64);
        assert_eq!(
            parse_manifest(format!("{sum}  report.json\n{sum} *x/y.csv\n").as_bytes()).unwrap(),
            vec![
                (sum.clone(), "report.json".to_string()),
                (sum.clone(), "x/y.csv".to_string())
            ]
        );
        for bad in [
            format!("{sum} report.json"),
            format!("{}  report.json", "A".repeat(64)),
            format!("{sum}  ../etc/passwd"),
            format!("{sum}  /etc/passwd"),
            "short  report.json".to_string(),
            format!("{sum}  a\n{sum}  a"),
        ] {
            let e = parse_manifest(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("line"), "{bad:?}: {e}");
        }
    }
}
