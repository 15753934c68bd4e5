//! Test harness: a real moto S3+KMS server per test (started through the project's own
//! launcher, `scripts/moto_server.py`), the real AWS SDK to seed it, and the real binary.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv's python, as set up by `scripts/venv` (scripts/test exports it).
pub fn python() -> PathBuf {
    let path = std::env::var_os("S3AUDIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} not found: run scripts/test (it creates the venv with moto)",
        path.display()
    );
    path
}

/// A moto server on a free 127.0.0.1 port, stopped when dropped (or when the test process
/// dies: the launcher exits when its stdin closes).
pub struct Moto {
    child: Child,
    _stdin: ChildStdin,
    pub endpoint: String,
    /// moto's request log (werkzeug's access log), one line per request.
    log: tempfile::NamedTempFile,
    /// With `start_tls`: where the throwaway CA (ca.pem) lives.
    tls: Option<tempfile::TempDir>,
}

impl Moto {
    pub fn start() -> Self {
        Self::launch(false, None)
    }

    /// moto as it is: bucket policies enforced on object calls without request context.
    pub fn start_enforcing_policies() -> Self {
        Self::launch(true, None)
    }

    /// moto over HTTPS, with a certificate from a throwaway CA (see `ca_bundle`).
    pub fn start_tls() -> Self {
        Self::launch(
            false,
            Some(tempfile::tempdir().expect("temp dir for the test CA")),
        )
    }

    /// The PEM file of the CA that issued this server's certificate (`start_tls` only).
    pub fn ca_bundle(&self) -> PathBuf {
        self.tls
            .as_ref()
            .expect("started with start_tls")
            .path()
            .join("ca.pem")
    }

    /// moto logging, for every S3 request, the account its credentials resolve to (see
    /// `s3_accounts`).
    pub fn start_logging_accounts() -> Self {
        Self::launch_with(false, None, &["--log-accounts"])
    }

    /// `(account, method, path)` of every S3 request so far (`start_logging_accounts`).
    /// Panics on a line two of moto's request threads wrote into each other: a request in
    /// it would be missed (or misread), so a test could fail, or pass, for the wrong reason.
    pub fn s3_accounts(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        for line in text.lines() {
            assert!(
                line.matches("moto_server:").count() <= 1,
                "moto's log interleaved two lines: {line}"
            );
        }
        text.lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("moto_server: s3-account ")?;
                let mut parts = rest.splitn(3, ' ');
                Some((
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                ))
            })
            .collect()
    }

    fn launch(enforce: bool, tls: Option<tempfile::TempDir>) -> Self {
        Self::launch_with(enforce, tls, &[])
    }

    fn launch_with(enforce: bool, tls: Option<tempfile::TempDir>, extra: &[&str]) -> Self {
        let log = tempfile::NamedTempFile::new().expect("temp file for moto's log");
        let mut cmd = Command::new(python());
        cmd.arg(repo_root().join("scripts/moto_server.py"))
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("reopen moto log"));
        if enforce {
            cmd.arg("--enforce-policies");
        }
        if let Some(dir) = &tls {
            cmd.arg("--tls").arg(dir.path());
        }
        let mut child = cmd.spawn().expect("start scripts/moto_server.py");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto did not print MOTO_READY within 60 s");
        let endpoint = line
            .trim()
            .strip_prefix("MOTO_READY ")
            .unwrap_or_else(|| panic!("unexpected launcher output: {line:?}"))
            .to_string();
        Moto {
            child,
            _stdin: stdin,
            endpoint,
            log,
            tls,
        }
    }

    /// The request lines ("METHOD /path HTTP/1.1") moto has logged so far.
    pub fn requests(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let start = l.find('"')? + 1;
                let end = start + l[start..].find('"')?;
                // werkzeug colours error lines; the request line is what matters.
                Some(strip_ansi(&l[start..end]))
            })
            .collect()
    }

    /// Runs a seeding script of the project against this server.
    pub fn seed(&self, script: &str) {
        self.seed_with(script, &[]);
    }

    pub fn seed_with(&self, script: &str, args: &[&str]) {
        self.run_python(&repo_root().join("scripts").join(script), args);
    }

    /// Runs a Python fixture of `tests/fixtures` against this server and returns its stdout.
    pub fn run_fixture(&self, script: &str) -> String {
        self.run_python(&repo_root().join("tests/fixtures").join(script), &[])
    }

    /// Runs `script --endpoint ENDPOINT ARGS...` with the project's venv; it must succeed.
    fn run_python(&self, script: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .args(["--endpoint", &self.endpoint])
            .args(args);
        if self.tls.is_some() {
            cmd.env("AWS_CA_BUNDLE", self.ca_bundle());
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("script output is UTF-8")
    }

    /// An SDK config pointed at this server, for tests that seed their own estate.
    pub async fn sdk(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(region.to_string()))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk(region).await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk(region).await)
    }
}

/// Sets an SSE-KMS default (no key id: the AWS managed key) on `bucket`.
pub async fn put_kms_default(s3: &aws_sdk_s3::Client, bucket: &str) {
    put_kms_default_key(s3, bucket, None).await;
}

/// Sets an SSE-KMS default on `bucket` under `key` (any reference S3 takes), or the AWS
/// managed key when `None`.
pub async fn put_kms_default_key(s3: &aws_sdk_s3::Client, bucket: &str, key: Option<&str>) {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .set_kms_master_key_id(key.map(str::to_string))
        .build()
        .expect("algorithm set");
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .build(),
        )
        .build()
        .expect("rules set");
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put_bucket_encryption {bucket}: {e:?}"));
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The s3audit binary with a clean AWS environment (fake credentials, no profile, no IMDS).
/// `S3AUDIT_BIN` runs the suite against another build (e.g. an older release, to show a
/// test fails without a fix).
pub fn s3audit() -> Command {
    let bin = std::env::var_os("S3AUDIT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_s3audit")));
    let mut cmd = Command::new(bin);
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CA_BUNDLE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "NO_COLOR",
        "COLUMNS",
        "S3AUDIT_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/s3audit-tests/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/s3audit-tests/credentials",
        );
    cmd
}

/// `s3audit scan --endpoint-url ENDPOINT`, for the caller to add what the test is about.
pub fn scan_at(endpoint: &str) -> Command {
    let mut cmd = s3audit();
    cmd.args(["scan", "--endpoint-url", endpoint]);
    cmd
}

/// Runs `s3audit scan --format json` against `endpoint` and returns (exit code, report).
pub fn scan_json(endpoint: &str, extra: &[&str]) -> (i32, serde_json::Value, Output) {
    let out = scan_at(endpoint)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run s3audit");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report, out)
}

/// The status of `rule` on `bucket` in a JSON report.
pub fn status_of<'a>(report: &'a serde_json::Value, bucket: &str, rule: &str) -> &'a str {
    let matches: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["bucket"] == bucket && f["rule"] == rule)
        .collect();
    assert_eq!(matches.len(), 1, "expected one {rule} finding for {bucket}");
    matches[0]["status"].as_str().expect("status string")
}

/// A bucket's entry in a JSON report.
pub fn bucket<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in report"))
}

/// The names of a JSON report's buckets, in report order.
pub fn bucket_names(report: &serde_json::Value) -> Vec<&str> {
    report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect()
}

pub fn finding<'a>(
    report: &'a serde_json::Value,
    bucket: &str,
    rule: &str,
) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .find(|f| f["bucket"] == bucket && f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding for {bucket}"))
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The temporary files s3audit leaves in `dir` (`.s3audit-*`), which must be none once it
/// has exited, whatever stopped it.
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with(".s3audit-"))
        .collect()
}

/// Creates a FIFO at `path` (with mkfifo(1): the tests forbid unsafe code, and libc
/// bindings are not a dependency).
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Sends `signal` ("INT", "TERM") to a child with kill(1).
pub fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// Waits for `child` to exit and collects what it wrote; kills it and fails the test if it
/// is still running after `timeout`. Its stdout and stderr must be piped, and small.
pub fn wait_with_timeout(mut child: Child, timeout: Duration) -> Output {
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for s3audit") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("s3audit still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut s) = child.stdout.take() {
        std::io::Read::read_to_end(&mut s, &mut out.stdout).expect("read stdout");
    }
    if let Some(mut s) = child.stderr.take() {
        std::io::Read::read_to_end(&mut s, &mut out.stderr).expect("read stderr");
    }
    out
}

/// Writes the fixture table for `bucket` under `dir` with key ARNs `a` and `b`; returns its
/// metadata file as pyiceberg names it (a file:// URI).
pub fn iceberg_table(dir: &std::path::Path, bucket: &str, a: &str, b: &str) -> String {
    iceberg_fixture(dir, bucket, a, b, &[])
}

/// The same table made as S3 Metadata makes one, in moto's S3 Tables at `endpoint` (table
/// bucket `aws-s3`, namespace `b_<bucket>`, table `inventory`, files in its warehouse):
/// returns the table bucket's ARN.
pub fn s3tables_table(
    dir: &std::path::Path,
    endpoint: &str,
    bucket: &str,
    a: &str,
    b: &str,
) -> String {
    iceberg_fixture(dir, bucket, a, b, &["--s3tables-endpoint", endpoint])
}

fn iceberg_fixture(
    dir: &std::path::Path,
    bucket: &str,
    a: &str,
    b: &str,
    extra: &[&str],
) -> String {
    let out = Command::new(python())
        .arg(repo_root().join("scripts/iceberg_fixture.py"))
        .arg(dir)
        .args(["--bucket", bucket, "--key-a", a, "--key-b", b])
        .args(extra)
        .output()
        .expect("run scripts/iceberg_fixture.py");
    assert!(
        out.status.success(),
        "iceberg_fixture.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
