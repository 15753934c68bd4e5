//! The binary's edge: parses arguments into validated settings, runs the pipeline, maps
//! the outcome to an exit code, and prints fatal errors as one line.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::{
    CatalogFormat, CheckPolicyArgs, Cli, Command, DefaultSseArg, EvaluateArgs, Format, OutputArgs,
    PolicyKind, RuleArgs, ScanArgs,
};
use crate::collect::{self, ConnectionSettings, ObjectScanSettings, ScanSettings};
use crate::config::{ConfigFile, RuleConfig};
use crate::model::{Estate, SNAPSHOT_VERSION, Severity, Status};
use crate::output::OutputFile;
use crate::report::inventory::write_inventory;
use crate::report::{CsvRenderer, JsonRenderer, Render, Report, TableRenderer};
use crate::rules;

/// No failing finding at or above `--fail-on`.
pub const EXIT_OK: u8 = 0;
/// At least one failing finding at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Bad usage, configuration or input; nothing was judged.
pub const EXIT_USAGE: u8 = 2;
/// The scan could not read everything (error findings) and nothing failed.
pub const EXIT_INCOMPLETE: u8 = 3;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with success, usage errors to stderr.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // The chain can quote a server's message or a bucket name: shown, never obeyed.
            let line = format!("{e:#}");
            eprintln!("s3audit: error: {}", crate::report::escape::terminal(&line));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "s3audit=warn",
        1 => "s3audit=info",
        2 => "s3audit=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("S3AUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let color = !cli.no_color && std::env::var_os("NO_COLOR").is_none();
    match cli.command {
        Command::Scan(args) => scan(*args, color),
        Command::Evaluate(args) => evaluate(args, color),
        Command::Rules(args) => {
            list_rules(args.format)?;
            Ok(EXIT_OK)
        }
        Command::CheckPolicy(args) => check_policy(args, color),
    }
}

fn scan(args: ScanArgs, color: bool) -> anyhow::Result<u8> {
    let rule_config = rule_config(&args.rules)?;
    let connection = ConnectionSettings {
        profile: args.connection.profile,
        region: args.connection.region,
        endpoint_url: args.connection.endpoint_url.filter(|u| !u.is_empty()),
        ca_bundle: args
            .connection
            .ca_bundle
            .filter(|p| !p.as_os_str().is_empty()),
        max_attempts: args.connection.max_attempts,
        request_timeout: args.connection.request_timeout,
    };
    validate_connection(&connection)?;
    // Open outputs before scanning: an unwritable path must fail now, not after an hour.
    let sink = ReportSink::open(&args.output)?;
    let mut snapshot_file = args
        .save_snapshot
        .as_deref()
        .map(OutputFile::create)
        .transpose()?;
    let inventory_file = args
        .objects_csv
        .as_deref()
        .map(OutputFile::create)
        .transpose()?;
    let settings = ScanSettings {
        connection,
        buckets: args.buckets,
        exclude: args.exclude,
        bucket_concurrency: usize::from(args.bucket_concurrency),
        objects: (!args.no_objects).then(|| ObjectScanSettings {
            concurrency: usize::from(args.concurrency),
            buckets_in_flight: usize::from(args.object_buckets),
            versions: args.versions,
            prefix: args.prefix.clone(),
            sample: args.sample,
            direct_heads: args.head_via == crate::cli::HeadVia::Direct,
        }),
        timeout: args.timeout,
    };
    if args.no_objects && inventory_file.is_some() {
        anyhow::bail!("--objects-csv needs the object scan: drop --no-objects");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (inventory, writer) = match inventory_file {
        Some(mut file) => {
            let (tx, rx) = tokio::sync::mpsc::channel(4096);
            let writer =
                std::thread::spawn(move || write_inventory(rx, file.writer()).map(|_| file));
            (Some(tx), Some(writer))
        }
        None => (None, None),
    };
    let scanned = runtime.block_on(collect::scan(&settings, inventory));
    // The scan dropped its sender, so the writer has seen the end of the stream.
    let inventory_file = writer
        .map(|w| w.join().expect("inventory writer thread panicked"))
        .transpose()
        .context("cannot write the objects CSV")?;
    let estate = scanned?;
    if let Some(file) = inventory_file {
        file.commit()?;
    }
    if let Some(mut file) = snapshot_file.take() {
        serde_json::to_writer_pretty(file.writer(), &estate).context("cannot write snapshot")?;
        file.commit()?;
    }
    report(&estate, &rule_config, sink, args.output.fail_on, color)
}

fn evaluate(args: EvaluateArgs, color: bool) -> anyhow::Result<u8> {
    let rule_config = rule_config(&args.rules)?;
    let estate = load_snapshot(&args.snapshot)?;
    let sink = ReportSink::open(&args.output)?;
    report(&estate, &rule_config, sink, args.output.fail_on, color)
}

fn check_policy(args: CheckPolicyArgs, color: bool) -> anyhow::Result<u8> {
    let rule_config = rule_config(&args.rules)?;
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))
    };
    match args.kind {
        PolicyKind::Bucket => {
            let [file] = args.files.as_slice() else {
                anyhow::bail!(
                    "check-policy --kind bucket takes one policy file, got {}",
                    args.files.len()
                );
            };
            let Some(bucket) = args.bucket.clone() else {
                anyhow::bail!(
                    "check-policy needs --bucket NAME for a bucket policy (or --kind rcp for resource control policies)"
                );
            };
            let text = read(file)?;
            let sink = ReportSink::open(&args.output)?;
            if args.fix {
                return fix_policy(&text, file, &bucket, &args, &rule_config, sink);
            }
            let options = check_policy_options(&args, &bucket);
            let findings = rules::check_policy(&text, &options, &rule_config)
                .map_err(|e| anyhow::anyhow!("invalid policy {}: {e}", file.display()))?;
            let report = Report::for_document(Some(&bucket), findings);
            render(&report, sink, args.output.fail_on, color)
        }
        PolicyKind::KeyPolicy => {
            let [file] = args.files.as_slice() else {
                anyhow::bail!(
                    "check-policy --kind key-policy takes one key policy file, got {}",
                    args.files.len()
                );
            };
            let Some(key_arn) = args.key_arn.as_deref() else {
                anyhow::bail!(
                    "check-policy --kind key-policy needs --key-arn ARN (the key the policy is attached to)"
                );
            };
            if !(key_arn.starts_with("arn:")
                && key_arn.contains(":kms:")
                && key_arn.contains(":key/"))
            {
                anyhow::bail!(
                    "invalid --key-arn {key_arn:?}: expected arn:aws:kms:REGION:ACCOUNT:key/KEY_ID"
                );
            }
            if args.fix || args.bucket.is_some() {
                anyhow::bail!("--fix and --bucket do not apply to --kind key-policy");
            }
            let text = read(file)?;
            let sink = ReportSink::open(&args.output)?;
            let findings = rules::check_key_policy(&text, key_arn)
                .map_err(|e| anyhow::anyhow!("invalid policy {}: {e}", file.display()))?;
            let report = Report::for_document(None, findings);
            render(&report, sink, args.output.fail_on, color)
        }
        PolicyKind::Rcp => {
            if args.fix {
                anyhow::bail!(
                    "--fix is for bucket policies; an RCP's findings carry the statements to add"
                );
            }
            if args.bucket.is_some() {
                anyhow::bail!(
                    "--bucket does not apply to --kind rcp: an RCP is judged for every bucket of the account"
                );
            }
            let documents = args
                .files
                .iter()
                .map(|f| Ok((f.display().to_string(), read(f)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let sink = ReportSink::open(&args.output)?;
            let findings = rules::check_rcps(&documents, args.account.as_deref())
                .map_err(|e| anyhow::anyhow!("invalid policy {e}"))?;
            let report = Report::for_document(None, findings);
            render(&report, sink, args.output.fail_on, color)
        }
    }
}

/// `check-policy --fix`: the fixed document on stdout (or `--output`), the changes on
/// stderr, exit 0 when every POL rule passes on it.
fn fix_policy(
    text: &str,
    file: &Path,
    bucket: &str,
    args: &CheckPolicyArgs,
    config: &RuleConfig,
    sink: ReportSink,
) -> anyhow::Result<u8> {
    let facts =
        rules::policy_facts_for_document(bucket, &check_policy_options(args, bucket), config);
    let fixed = crate::policy::fix::fix(Some(text), &facts)
        .map_err(|e| anyhow::anyhow!("invalid policy {}: {e}", file.display()))?;
    let mut body = fixed.document.clone();
    body.push('\n');
    match sink.file {
        Some(mut out) => {
            out.writer()
                .write_all(body.as_bytes())
                .context("cannot write the fixed policy")?;
            out.commit()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(body.as_bytes())
                .and_then(|_| lock.flush())
                .context("cannot write the fixed policy to stdout")?;
        }
    }
    if fixed.changes.is_empty() {
        eprintln!("s3audit: fix: nothing to change: every POL rule passes");
    }
    for change in &fixed.changes {
        eprintln!("s3audit: fix: {}", crate::report::escape::terminal(change));
    }
    if fixed.resolved() {
        if !fixed.changes.is_empty() {
            eprintln!("s3audit: fix: every POL rule passes on the fixed policy");
        }
        Ok(EXIT_OK)
    } else {
        Ok(EXIT_FINDINGS)
    }
}

fn check_policy_options(args: &CheckPolicyArgs, bucket: &str) -> rules::CheckPolicyOptions {
    rules::CheckPolicyOptions {
        bucket: bucket.to_string(),
        default_sse: match args.default_sse {
            DefaultSseArg::None => crate::policy::checks::DefaultSse::None,
            DefaultSseArg::SseS3 => crate::policy::checks::DefaultSse::SseS3,
            DefaultSseArg::SseKms => crate::policy::checks::DefaultSse::SseKms,
            DefaultSseArg::DsseKms => crate::policy::checks::DefaultSse::DsseKms,
        },
        default_kms_key: args.default_kms_key.clone(),
        sse_c_blocked: args.sse_c_blocked,
    }
}

fn load_snapshot(path: &Path) -> anyhow::Result<Estate> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read snapshot {}", path.display()))?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .with_context(|| format!("invalid snapshot {}: not JSON", path.display()))?
        .get("snapshot_version")
        .and_then(|v| v.as_u64());
    if version != Some(u64::from(SNAPSHOT_VERSION)) {
        anyhow::bail!(
            "invalid snapshot {}: snapshot_version {} is not supported (this s3audit reads {SNAPSHOT_VERSION})",
            path.display(),
            version.map_or("missing".to_string(), |v| v.to_string())
        );
    }
    serde_json::from_str(&text).with_context(|| format!("invalid snapshot {}", path.display()))
}

fn rule_config(args: &RuleArgs) -> anyhow::Result<RuleConfig> {
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let defaults = RuleConfig::default();
    let mut allowed_kms_keys = file.allowed_kms_keys;
    allowed_kms_keys.extend(args.allowed_kms_keys.iter().cloned());
    Ok(RuleConfig {
        allowed_kms_keys,
        required_object_mode: file
            .required_object_mode
            .unwrap_or(defaults.required_object_mode),
    })
}

/// Catches what would otherwise surface as an opaque DNS failure minutes later.
fn validate_connection(c: &ConnectionSettings) -> anyhow::Result<()> {
    if let Some(url) = &c.endpoint_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        anyhow::bail!(
            "invalid --endpoint-url {url:?}: expected http://host[:port] or https://host[:port]"
        );
    }
    if let Some(region) = &c.region {
        let parts: Vec<&str> = region.split('-').collect();
        let well_formed = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        // S3-compatible stores accept any region name; only AWS's are checked.
        if !well_formed && c.endpoint_url.is_none() {
            anyhow::bail!(
                "unknown region {region:?}: expected an AWS region such as us-east-1 (use --endpoint-url for other S3-compatible stores)"
            );
        }
    }
    if let Some(ca) = &c.ca_bundle
        && !ca.is_file()
    {
        anyhow::bail!("cannot read CA bundle {}: no such file", ca.display());
    }
    Ok(())
}

/// Where the report goes: stdout or a file written whole at the end.
struct ReportSink {
    format: Format,
    file: Option<OutputFile>,
}

impl ReportSink {
    fn open(args: &OutputArgs) -> anyhow::Result<Self> {
        let from_extension = args.output.as_deref().and_then(|p| {
            match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
                "json" => Some(Format::Json),
                "csv" => Some(Format::Csv),
                "txt" => Some(Format::Table),
                _ => None,
            }
        });
        let format = args.format.or(from_extension).unwrap_or_else(|| {
            if args.output.is_none() && std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        });
        let file = args.output.as_deref().map(OutputFile::create).transpose()?;
        Ok(ReportSink { format, file })
    }
}

fn report(
    estate: &Estate,
    config: &RuleConfig,
    sink: ReportSink,
    fail_on: Severity,
    color: bool,
) -> anyhow::Result<u8> {
    let findings = rules::evaluate(estate, config);
    render(&Report::new(estate, findings), sink, fail_on, color)
}

fn render(report: &Report, sink: ReportSink, fail_on: Severity, color: bool) -> anyhow::Result<u8> {
    let to_terminal = sink.file.is_none() && std::io::stdout().is_terminal();
    let renderer: Box<dyn Render> = match sink.format {
        Format::Json => Box::new(JsonRenderer),
        Format::Csv => Box::new(CsvRenderer),
        Format::Table => Box::new(TableRenderer {
            color: color && to_terminal,
            // A terminal's own width; elsewhere (a file, a CI log) a width that stays
            // readable instead of one line per finding hundreds of columns wide.
            width: if to_terminal {
                comfy_table::Table::new().width()
            } else {
                Some(160)
            },
        }),
    };
    match sink.file {
        Some(mut file) => {
            renderer
                .render(report, file.writer())
                .context("cannot write report")?;
            file.commit()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            match renderer
                .render(report, &mut lock)
                .and_then(|_| lock.flush())
            {
                Ok(()) => {}
                // The reader went away (`| head`): not an error of ours, and nothing
                // useful can be printed anyway.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).context("cannot write report to stdout"),
            }
        }
    }
    Ok(exit_code(report, fail_on))
}

/// 1 when something at or above `fail_on` fails; else 3 when anything could not be read.
pub fn exit_code(report: &Report, fail_on: Severity) -> u8 {
    if report
        .findings
        .iter()
        .any(|f| f.status == Status::Fail && f.severity >= fail_on)
    {
        EXIT_FINDINGS
    } else if !report.scan.complete || report.count(Status::Error) > 0 {
        EXIT_INCOMPLETE
    } else {
        EXIT_OK
    }
}

fn list_rules(format: CatalogFormat) -> anyhow::Result<()> {
    let catalog = rules::metadata::catalog();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        CatalogFormat::Json => {
            serde_json::to_writer_pretty(&mut out, catalog)?;
            writeln!(out)?;
        }
        CatalogFormat::Table => {
            let mut table = comfy_table::Table::new();
            table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
            table.set_header(["Rule", "Severity", "Title"]);
            for m in catalog {
                table.add_row([m.id.as_str(), m.severity.as_str(), m.title.as_str()]);
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(())
}
