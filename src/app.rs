//! The binary's edge: parses arguments into validated settings, runs the pipeline, maps
//! the outcome to an exit code, and prints fatal errors as one line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser, ValueEnum};

use crate::cli::{
    CatalogFormat, CheckPolicyArgs, Cli, ColorChoice, Command, DefaultSseArg, EvaluateArgs,
    EvidenceArgs, Format, FrameworksArgs, FrameworksCommand, ManArgs, OutputArgs, PolicyKind,
    RuleArgs, RulesCommand, ScanArgs, VerifyArgs,
};
use crate::collect::{self, ConnectionSettings, ObjectScanSettings, ScanSettings};
use crate::config::{ConfigFile, RuleConfig};
use crate::evidence::{self, Bundle};
use crate::model::{Estate, Finding, SNAPSHOT_VERSION, Severity, Status};
use crate::output::{self, Abandoned, OutputFile};
use crate::report::inventory::write_inventory;
use crate::report::{
    ConfigSource, CsvRenderer, FindingFilter, HtmlRenderer, JsonRenderer, OcsfRenderer,
    PolicySource, Render, Report, SarifRenderer, TableRenderer, output_width,
};
use crate::rules;

/// No failing finding at or above `--fail-on`.
pub const EXIT_OK: u8 = 0;
/// At least one failing finding at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Bad usage, configuration or input; nothing was judged.
pub const EXIT_USAGE: u8 = 2;
/// The scan could not read everything (error findings) and nothing failed.
pub const EXIT_INCOMPLETE: u8 = 3;
/// Stopped by SIGINT (Ctrl-C) before its outputs were written: 128 + 2, as a shell reports it.
pub const EXIT_SIGINT: u8 = 130;
/// Stopped by SIGTERM before its outputs were written: 128 + 15.
pub const EXIT_SIGTERM: u8 = 143;

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
    let ui = Ui {
        color: if cli.no_color {
            ColorChoice::Never
        } else {
            cli.color
        },
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Scan(args) => scan(*args, ui),
        Command::Evaluate(args) => evaluate(args, ui),
        Command::Rules(args) => {
            match &args.command {
                None => list_rules(args.format, ui)?,
                Some(RulesCommand::Explain(explain)) => explain_rule(&explain.id, args.format, ui)?,
            }
            Ok(EXIT_OK)
        }
        Command::Frameworks(args) => {
            frameworks_command(&args, ui)?;
            Ok(EXIT_OK)
        }
        Command::CheckPolicy(args) => check_policy(args, ui),
        Command::Diff(args) => diff_command(&args),
        Command::Merge(args) => merge_command(&args),
        Command::Verify(args) => verify(&args, ui),
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "s3audit", &mut script);
            write_stdout(&script).context("cannot write the completion script")?;
            Ok(EXIT_OK)
        }
        Command::Man(args) => {
            man_page(&args)?;
            Ok(EXIT_OK)
        }
        Command::Schema(args) => {
            let schema = match args.of {
                crate::cli::SchemaOf::Report => crate::report::schema::report_schema(),
                crate::cli::SchemaOf::Drift => crate::report::schema::drift_schema(),
            };
            write_stdout(schema.as_bytes()).context("cannot write the schema")?;
            Ok(EXIT_OK)
        }
    }
}

/// How a run talks to the user besides its report: `--color` and `--quiet`.
#[derive(Debug, Clone, Copy)]
struct Ui {
    color: ColorChoice,
    quiet: bool,
}

impl Ui {
    /// Whether to colour output going to stdout (`to_terminal`) or elsewhere: `auto`
    /// colours a terminal only, and not when NO_COLOR is set to anything but "" (as
    /// no-color.org asks); an explicit `always` wins over NO_COLOR.
    fn color(self, to_terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    /// One line on stderr for each expired or unmatched waiver (they are in every format
    /// too), unless `-q`, like the closing line. A waiver's state never changes the exit
    /// code by itself; the failures an expired one no longer covers do.
    fn warn_waivers(self, report: &Report) {
        if self.quiet {
            return;
        }
        for warning in report.waivers.iter().filter_map(|w| w.warning()) {
            eprintln!("s3audit: {}", crate::report::escape::terminal(&warning));
        }
    }

    /// After outputs were written to files: one line on stderr saying what went where
    /// and the verdict, so a scan with `--output` does not end in silence.
    fn announce(self, written: &[(String, String)], report: &Report) {
        if self.quiet || written.is_empty() {
            return;
        }
        let files: Vec<String> = written
            .iter()
            .map(|(path, what)| format!("{} ({what})", crate::report::escape::terminal(path)))
            .collect();
        eprintln!(
            "s3audit: wrote {}: {}",
            files.join(", "),
            report.verdict_counts()
        );
    }
}

/// `s3audit man [SUBCOMMAND]`: the page clap_mangen renders from the same definitions
/// `--help` shows, so the two cannot disagree.
fn man_page(args: &ManArgs) -> anyhow::Result<()> {
    let mut cli = Cli::command();
    // Built, so each subcommand carries the global options (-v, -q, --color) too.
    cli.build();
    let page = match &args.subcommand {
        None => cli,
        Some(name) => {
            let Some(sub) = cli.find_subcommand(name) else {
                let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
                anyhow::bail!(
                    "no subcommand {name:?}: s3audit man takes one of {}",
                    names.join(", ")
                );
            };
            // The page of `scan` is s3audit-scan(1), as git and cargo name theirs.
            sub.clone()
                .display_name(format!("s3audit-{}", sub.get_name()))
                .bin_name(format!("s3audit {}", sub.get_name()))
                .version(env!("S3AUDIT_VERSION"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("s3audit {}", env!("S3AUDIT_VERSION")))
        .render(&mut roff)
        .and_then(|()| write_stdout(&roff))
        .context("cannot write the man page")
}

/// Writes `bytes` to stdout; a reader that went away (`s3audit man | head`) is not an
/// error: nothing useful could be printed about it anyway.
fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn scan(args: ScanArgs, ui: Ui) -> anyhow::Result<u8> {
    let (rule_config, config_source, config_file) = rule_settings(&args.rules)?;
    let shard = shard_settings(&args)?;
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
    // Both name where a bucket's objects are counted from instead of HEADs.
    let data_sources = [args.inventories.as_slice(), args.metadata_tables.as_slice()].concat();
    let accounts = account_settings(&args.accounts, &args.buckets, &data_sources, args.offline)?;
    if args.no_objects && args.objects_csv.is_some() {
        anyhow::bail!("--objects-csv needs the object scan: drop --no-objects");
    }
    if args.no_objects && !args.inventories.is_empty() {
        anyhow::bail!("--inventory counts objects: drop --no-objects");
    }
    if args.no_objects && !args.metadata_tables.is_empty() {
        anyhow::bail!("--metadata-table counts objects: drop --no-objects");
    }
    let objects_from = objects_from(args.objects_from, args.no_objects, &data_sources)?;
    if args.offline {
        offline_inputs(&args.inventories, &args.metadata_tables)?;
    }
    let verify_sample = verify_sample(
        (args.verify_sample, args.verify_seed),
        args.offline,
        &args.inventories,
    )?;
    distinct_paths(
        &[
            report_destination(&args.output),
            ("--save-snapshot", args.save_snapshot.as_deref()),
            ("--objects-csv", args.objects_csv.as_deref()),
        ],
        &[
            ("--config", args.rules.config.as_deref()),
            ("--ca-bundle", connection.ca_bundle.as_deref()),
        ],
    )?;
    let evidence = Evidence::open(
        &args.evidence,
        &args.rules,
        &rule_config,
        config_file.as_deref(),
        &[
            args.output.output.as_deref(),
            args.save_snapshot.as_deref(),
            args.objects_csv.as_deref(),
        ],
    )?;
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
            list_parallelism: usize::from(args.list_parallelism),
            max_rps: args.max_rps,
        }),
        timeout: args.timeout,
        command_line: crate::provenance::command_line(),
        accounts,
        inventories: args.inventories,
        objects_from,
        offline: args.offline,
        verify_sample,
        metadata_tables: args.metadata_tables,
        shard,
    };
    // Caught from before the first temporary file exists until the outputs are in place.
    let interrupt = Interrupt::watch("scan interrupted")?;
    let outputs = ScanOutputs {
        report: &args.output,
        snapshot: args.save_snapshot.as_deref(),
        inventory: args.objects_csv.as_deref(),
    };
    let judged = (&rule_config, config_source);
    let written = scan_and_write(&settings, &outputs, evidence, judged, ui, &interrupt);
    interrupt.settle(written)
}

/// `--objects-from`, checked against the flags it could contradict.
fn objects_from(
    asked: crate::cli::ObjectsFrom,
    no_objects: bool,
    sources: &[String],
) -> anyhow::Result<collect::inventory::ObjectsFrom> {
    use collect::inventory::ObjectsFrom as Source;
    let from = match asked {
        crate::cli::ObjectsFrom::Auto => return Ok(Source::Auto),
        crate::cli::ObjectsFrom::Head => Source::Head,
        crate::cli::ObjectsFrom::Inventory => Source::Inventory,
    };
    if no_objects {
        anyhow::bail!(
            "--objects-from says where objects are read from, --no-objects not to read them: drop one"
        );
    }
    match from {
        Source::Head if !sources.is_empty() => anyhow::bail!(
            "--objects-from head HEADs every bucket's objects, --inventory and --metadata-table count a bucket's from what S3 wrote down: they contradict, drop one"
        ),
        Source::Inventory if sources.is_empty() => anyhow::bail!(
            "--objects-from inventory needs at least one --inventory MANIFEST or --metadata-table LOCATION (without one no object would be read: --no-objects says that)"
        ),
        _ => Ok(from),
    }
}

/// `--offline` reads local inventories and nothing else: at least one, none in S3.
fn offline_inputs(inventories: &[String], tables: &[String]) -> anyhow::Result<()> {
    if inventories.is_empty() && tables.is_empty() {
        anyhow::bail!(
            "--offline audits local S3 Inventory reports and metadata tables: give at least one --inventory MANIFEST or --metadata-table LOCATION"
        );
    }
    if let Some(remote) = inventories.iter().find(|i| i.starts_with("s3://")) {
        anyhow::bail!(
            "--offline makes no AWS call, so it cannot read --inventory {remote}: copy the inventory with aws s3 sync and give the local manifest.json"
        );
    }
    if let Some(remote) = tables
        .iter()
        .find(|t| (t.contains("://") && !t.starts_with("file://")) || t.starts_with("arn:"))
    {
        anyhow::bail!(
            "--offline makes no AWS call, so it cannot read --metadata-table {remote}: copy the table with aws s3 sync and give the local metadata.json"
        );
    }
    Ok(())
}

/// `--verify-sample N` and its seed (`--verify-seed`, else a random one the report
/// records): HEADs of live objects, so neither without an inventory nor offline.
fn verify_sample(
    (sample, seed): (Option<u64>, Option<u64>),
    offline: bool,
    inventories: &[String],
) -> anyhow::Result<Option<(usize, u64)>> {
    let Some(n) = sample else {
        return Ok(None);
    };
    if offline {
        anyhow::bail!("--verify-sample HEADs live objects, --offline makes no AWS call: drop one");
    }
    if inventories.is_empty() {
        anyhow::bail!(
            "--verify-sample checks an S3 Inventory against the live objects: give --inventory MANIFEST"
        );
    }
    let seed = seed.unwrap_or_else(|| fastrand::u64(..));
    Ok(Some((usize::try_from(n)?, seed)))
}

/// Where a scan writes.
struct ScanOutputs<'a> {
    report: &'a OutputArgs,
    snapshot: Option<&'a Path>,
    inventory: Option<&'a Path>,
}

/// Scans, then writes every output. Each output is written to its temporary file (or
/// straight into a device or FIFO) and all are moved into place together at the very end,
/// so an error or a signal anywhere before that leaves every earlier file untouched.
fn scan_and_write(
    settings: &ScanSettings,
    outputs: &ScanOutputs,
    evidence: Option<Evidence>,
    (rule_config, config_source): (&RuleConfig, Option<ConfigSource>),
    ui: Ui,
    interrupt: &Interrupt,
) -> anyhow::Result<u8> {
    // Open outputs before scanning: an unwritable path must fail now, not after an hour.
    let mut sink = ReportSink::open(outputs.report, false)?;
    let mut snapshot_file = outputs.snapshot.map(OutputFile::create).transpose()?;
    let inventory_file = outputs.inventory.map(OutputFile::create).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The bundle's copy of the inventory, when objects are scanned.
    let mut bundle_inventory = match (&evidence, &settings.objects) {
        (Some(evidence), Some(_)) => Some(evidence.bundle.create_file(evidence::INVENTORY)?),
        _ => None,
    };
    let (inventory, writer) = if inventory_file.is_some() || bundle_inventory.is_some() {
        let mut file = inventory_file;
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let interrupt = interrupt.clone();
        let writer = std::thread::spawn(move || {
            let mut both = Tee(
                file.as_mut().map(|f| f as &mut dyn Write),
                bundle_inventory.as_mut().map(|f| f as &mut dyn Write),
            );
            // On an interrupt the file is dropped here, which removes its temporary file.
            write_inventory(rx, &mut interrupt.guard(&mut both)).map(|_| file)
        });
        (Some(tx), Some(writer))
    } else {
        (None, None)
    };
    let scanned = runtime.block_on(async {
        tokio::select! {
            scanned = collect::scan(settings, inventory) => Some(scanned),
            () = interrupt.wait() => None,
        }
    });
    if scanned.is_none() {
        // The scan future is gone; its tasks go now rather than when the runtime drops.
        runtime.shutdown_background();
    }
    // The scan dropped its sender, so the writer has seen the end of the stream.
    let inventory_file = writer
        .map(|w| w.join().expect("inventory writer thread panicked"))
        .transpose()
        .context("cannot write the objects CSV")?
        .flatten();
    let estate = scanned.ok_or(Interrupted)??;
    if let Some(file) = &mut snapshot_file {
        serde_json::to_writer_pretty(interrupt.guard(file), &estate)
            .context("cannot write snapshot")?;
    }
    let mut report = judge(&estate, rule_config);
    report.judged_with(rule_config, config_source, None);
    let code = render(
        &mut report,
        &mut sink,
        outputs.report.fail_on,
        ui,
        interrupt,
    )?;
    if let Some(evidence) = &evidence {
        let snapshot = serde_json::to_vec_pretty(&estate).context("cannot write snapshot")?;
        evidence.write(&report, &snapshot)?;
    }
    let written: Vec<(String, String)> = sink
        .written()
        .into_iter()
        .chain(snapshot_file.as_ref().and_then(|f| replaced(f, "snapshot")))
        .chain(
            inventory_file
                .as_ref()
                .and_then(|f| replaced(f, "objects CSV")),
        )
        .chain(evidence.as_ref().map(Evidence::announced))
        .collect();
    interrupt.commit(
        [inventory_file, snapshot_file, Some(sink.file)]
            .into_iter()
            .flatten(),
    )?;
    if let Some(evidence) = evidence {
        evidence.bundle.commit()?;
    }
    ui.announce(&written, &report);
    Ok(code)
}

fn evaluate(args: EvaluateArgs, ui: Ui) -> anyhow::Result<u8> {
    let (rule_config, config_source, config_file) = rule_settings(&args.rules)?;
    distinct_paths(
        &[report_destination(&args.output)],
        &[
            ("the snapshot", Some(args.snapshot.as_path())),
            ("--config", args.rules.config.as_deref()),
        ],
    )?;
    let (estate, snapshot_bytes) = read_snapshot(&args.snapshot)?;
    let evidence = Evidence::open(
        &args.evidence,
        &args.rules,
        &rule_config,
        config_file.as_deref(),
        &[args.output.output.as_deref()],
    )?
    // The snapshot's own bytes: the evidence is what was judged, byte for byte.
    .map(|evidence| (evidence, snapshot_bytes));
    let mut report = judge(&estate, &rule_config);
    // The snapshot's scan stays described as scanned; this run is the evaluation.
    report.judged_with(
        &rule_config,
        config_source,
        Some(crate::provenance::command_line()),
    );
    write_report_with(report, Vec::new(), &args.output, ui, evidence)
}

/// The report of the rules on `estate`, with the config file's waivers applied (before any
/// filter, which `render` applies): judged as of the day the scan started, so evaluating a
/// saved snapshot later reaches the same verdicts.
pub fn judge(estate: &Estate, config: &RuleConfig) -> Report {
    let mut findings = rules::evaluate(estate, config);
    let waivers = rules::waivers::apply(
        &mut findings,
        &config.waivers,
        rules::waivers::scan_date(estate),
    );
    let mut report = Report::new(estate, findings);
    report.waivers = waivers;
    report
}

/// `--evidence DIR` opened: the bundle being written, the key that signs it, and the rule
/// settings it records.
struct Evidence {
    bundle: Bundle,
    key: Option<ssh_key::PrivateKey>,
    config: Vec<u8>,
}

impl Evidence {
    /// Checks everything about the bundle that can be wrong before the run: DIR new or
    /// empty, no other output inside it, the signing key readable.
    fn open(
        args: &EvidenceArgs,
        rules: &RuleArgs,
        rule_config: &RuleConfig,
        config_file: Option<&[u8]>,
        outputs: &[Option<&Path>],
    ) -> anyhow::Result<Option<Self>> {
        let Some(dir) = args.evidence.as_deref() else {
            return Ok(None);
        };
        if let Ok(bundle_dir) = std::fs::canonicalize(dir) {
            for output in outputs.iter().flatten() {
                let parent = match output.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                if std::fs::canonicalize(parent).is_ok_and(|p| p == bundle_dir) {
                    anyhow::bail!(
                        "{} is inside --evidence {}: the bundle directory holds the bundle only",
                        output.display(),
                        dir.display()
                    );
                }
            }
        }
        let key = args
            .sign_key
            .as_deref()
            .map(evidence::load_signing_key)
            .transpose()?;
        let config = evidence_config(rules, rule_config, config_file)?;
        let bundle = Bundle::create(dir)?;
        Ok(Some(Evidence {
            bundle,
            key,
            config,
        }))
    }

    /// Writes the report (as filtered for this run), the snapshot and the rule settings,
    /// then the manifest and its signature. The inventory was streamed in already.
    fn write(&self, report: &Report, snapshot: &[u8]) -> anyhow::Result<()> {
        let bundle = &self.bundle;
        bundle.write_with(evidence::REPORT_JSON, |out| {
            JsonRenderer.render(report, out)
        })?;
        bundle.write_with(evidence::FINDINGS_CSV, |out| {
            CsvRenderer.render(report, out)
        })?;
        bundle.write_with(evidence::REPORT_HTML, |out| {
            HtmlRenderer.render(report, out)
        })?;
        bundle.write_with(evidence::SNAPSHOT, |out| out.write_all(snapshot))?;
        bundle.write_with(evidence::CONFIG, |out| out.write_all(&self.config))?;
        bundle.seal(self.key.as_ref())
    }

    fn announced(&self) -> (String, String) {
        let what = if self.key.is_some() {
            "signed evidence bundle"
        } else {
            "evidence bundle"
        };
        (self.bundle.path().display().to_string(), what.to_string())
    }
}

/// The rule settings a bundle records, as a file `--config` reads: the config file's own
/// bytes (`file`, as read once for the run) when it alone set them, else the effective
/// settings (defaults, the file and `--allowed-kms-key` merged).
fn evidence_config(
    args: &RuleArgs,
    config: &RuleConfig,
    file: Option<&[u8]>,
) -> anyhow::Result<Vec<u8>> {
    if let Some(bytes) = file
        && args.allowed_kms_keys.is_empty()
    {
        return Ok(bytes.to_vec());
    }
    let body = config.to_toml().context("cannot write the rule settings")?;
    Ok(format!(
        "# The rule settings of this run (s3audit evaluate snapshot.json --config config.toml)\n{body}"
    )
    .into_bytes())
}

/// Writes into both (either may be absent): the objects inventory to `--objects-csv` and
/// into the evidence bundle.
struct Tee<'a>(Option<&'a mut dyn Write>, Option<&'a mut dyn Write>);

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        for out in [&mut self.0, &mut self.1].into_iter().flatten() {
            out.write_all(buf)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        for out in [&mut self.0, &mut self.1].into_iter().flatten() {
            out.flush()?;
        }
        Ok(())
    }
}

/// `s3audit verify DIR [--pubkey FILE]`: each problem on stdout, a summary on stderr.
fn verify(args: &VerifyArgs, ui: Ui) -> anyhow::Result<u8> {
    let outcome = evidence::verify(&args.dir, args.pubkey.as_deref())?;
    let mut text = String::new();
    for problem in &outcome.problems {
        text.push_str(&crate::report::escape::terminal(&problem.to_string()));
        text.push('\n');
    }
    write_stdout(text.as_bytes()).context("cannot write the verification")?;
    let dir = crate::report::escape::terminal(&args.dir.display().to_string()).to_string();
    if outcome.problems.is_empty() {
        if !ui.quiet {
            let signature = if outcome.signature_verified {
                format!(", and {} verifies", evidence::SIGNATURE)
            } else if outcome.signature_unchecked {
                format!("; {} was not checked (give --pubkey)", evidence::SIGNATURE)
            } else {
                String::new()
            };
            eprintln!(
                "s3audit: verify: {dir}: all {} files match {}{signature}",
                outcome.listed,
                evidence::MANIFEST
            );
        }
        return Ok(EXIT_OK);
    }
    let count =
        |f: fn(&evidence::Problem) -> bool| outcome.problems.iter().filter(|p| f(p)).count();
    let bad_signature = count(|p| matches!(p, evidence::Problem::BadSignature(_)));
    eprintln!(
        "s3audit: verify: {dir}: FAILED: {} changed, {} missing, {} extra{}",
        count(|p| matches!(p, evidence::Problem::Changed(_))),
        count(|p| matches!(p, evidence::Problem::Missing(_))),
        count(|p| matches!(p, evidence::Problem::Extra(_))),
        if bad_signature > 0 {
            ", bad signature"
        } else {
            ""
        }
    );
    Ok(EXIT_FINDINGS)
}

fn check_policy(args: CheckPolicyArgs, ui: Ui) -> anyhow::Result<u8> {
    let rule_config = rule_config(&args.rules)?;
    // The format first: it decides whether an invalid document stops the check. (`--fix`
    // writes a policy document, not a report, to any path.)
    let sarif = !args.fix && report_format(&args.output, true)? == Format::Sarif;
    let files = policy_files(&args.files)?;
    let inputs: Vec<(&str, Option<&Path>)> = files
        .paths
        .iter()
        .map(|f| ("the policy", Some(f.as_path())))
        .chain([("--config", args.rules.config.as_deref())])
        .collect();
    distinct_paths(&[report_destination(&args.output)], &inputs)?;
    match args.kind {
        PolicyKind::Bucket => {
            let Some(bucket) = args.bucket.clone() else {
                anyhow::bail!(
                    "check-policy needs --bucket NAME for a bucket policy (or --kind rcp for resource control policies)"
                );
            };
            if args.fix {
                let [file] = files.paths.as_slice() else {
                    anyhow::bail!(
                        "check-policy --fix takes one policy file, got {}",
                        files.paths.len()
                    );
                };
                let text = read_policy(file)?;
                return fix_policy(&text, file, &bucket, &args, &rule_config);
            }
            let options = check_policy_options(&args, &bucket);
            let judged = judge_each(&files, sarif, |text| {
                rules::check_policy(text, &options, &rule_config)
            })?;
            let report = Report::for_document(Some(&bucket), judged.findings);
            write_policy_report(report, judged.sources, judged.invalid, &args.output, ui)
        }
        PolicyKind::KeyPolicy => {
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
            let judged = judge_each(&files, sarif, |text| rules::check_key_policy(text, key_arn))?;
            let report = Report::for_document(None, judged.findings);
            write_policy_report(report, judged.sources, judged.invalid, &args.output, ui)
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
            let mut texts: Vec<(&Path, String)> = Vec::new();
            let mut invalid = Vec::new();
            for file in &files.paths {
                match read_policy(file) {
                    Ok(text) => texts.push((file, text)),
                    Err(e) if sarif && e.not_text => {
                        report_invalid(&e.path, &e.problem);
                        invalid.push(PolicySource::invalid(file, None, &e.problem, None));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if sarif {
                // A chain with a document that is not a policy has no verdict: judged
                // without it, a Deny it holds would look missing. Each such document is a
                // result; nothing else is judged.
                for (file, text) in &texts {
                    if let Err(e) = s3audit_policy::parse_policy(text) {
                        report_invalid(&file.display().to_string(), &e.to_string());
                        invalid.push(PolicySource::invalid(
                            file,
                            Some(text),
                            &e.to_string(),
                            Some(&e),
                        ));
                    }
                }
                if !invalid.is_empty() {
                    let count = invalid.len();
                    return write_policy_report(
                        Report::for_document(None, Vec::new()),
                        invalid,
                        count,
                        &args.output,
                        ui,
                    );
                }
            }
            let documents: Vec<(String, String)> = texts
                .iter()
                .map(|(file, text)| (file.display().to_string(), text.clone()))
                .collect();
            let findings = rules::check_rcps(&documents, args.account.as_deref())
                .map_err(|e| anyhow::anyhow!("invalid policy {e}"))?;
            let resource = findings
                .first()
                .map(|f| f.resource.clone())
                .unwrap_or_default();
            let sources = texts
                .iter()
                .map(|(file, text)| PolicySource::judged(file, text, &resource))
                .collect();
            write_policy_report(
                Report::for_document(None, findings),
                sources,
                0,
                &args.output,
                ui,
            )
        }
    }
}

/// The policy files `check-policy` was given: each FILE as named, each directory's
/// `*.json` files.
struct PolicyFiles {
    paths: Vec<PathBuf>,
    /// More than one FILE, or a directory: each finding then names its file as its
    /// resource (decided by the command line, not by how many files a directory holds, so
    /// the report's shape does not change when a repository gains a policy).
    several: bool,
}

/// Expands the FILE arguments: a directory becomes every `*.json` file under it, walked
/// recursively and sorted by path, so the order (and the report) is the same on every
/// machine. Hidden entries (`.git`, `.terraform`, whose JSON is not policies) are not
/// walked, as `--help` says; everything else that ends in `.json` is read, and one that is
/// not a policy is reported, never skipped. A directory without any is a usage error, as
/// is one that cannot be read. A file named twice (`dir` and `dir/a.json`) is read once.
fn policy_files(args: &[PathBuf]) -> anyhow::Result<PolicyFiles> {
    let mut paths = Vec::new();
    let mut several = args.len() > 1;
    for arg in args {
        if !arg.is_dir() {
            paths.push(arg.clone());
            continue;
        }
        several = true;
        let mut found = Vec::new();
        let mut visited = std::collections::HashSet::new();
        walk_json(arg, &mut found, &mut visited)?;
        if found.is_empty() {
            anyhow::bail!("no *.json file in directory {}", arg.display());
        }
        found.sort();
        paths.extend(found);
    }
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(PolicyFiles { paths, several })
}

fn walk_json(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    visited: &mut std::collections::HashSet<PathBuf>,
) -> anyhow::Result<()> {
    // A symlink back up the tree is walked once.
    if !visited.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            tracing::debug!("not walking hidden {}", entry.path().display());
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk_json(&path, found, visited)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// A policy file that could not be read as text.
#[derive(Debug, thiserror::Error)]
#[error("cannot read policy {path}: {problem}")]
struct UnreadablePolicy {
    path: String,
    problem: String,
    /// It was read, but is not UTF-8 text: a document that is not a policy, which a
    /// SARIF log reports at the file; any other failure stops the check.
    not_text: bool,
}

fn read_policy(path: &Path) -> Result<String, UnreadablePolicy> {
    std::fs::read_to_string(path).map_err(|e| UnreadablePolicy {
        path: path.display().to_string(),
        not_text: e.kind() == std::io::ErrorKind::InvalidData,
        problem: if e.kind() == std::io::ErrorKind::InvalidData {
            "not UTF-8 text".to_string()
        } else {
            e.to_string()
        },
    })
}

/// Bucket and key policies judged one by one.
struct Judged {
    findings: Vec<Finding>,
    sources: Vec<PolicySource>,
    /// Documents that are not valid policies (only with `--format sarif`; otherwise the
    /// first one is an error).
    invalid: usize,
}

/// Judges each file on its own with `judge`. With several documents each finding's
/// resource is its file (and it names no bucket: the table groups by bucket, and every
/// document is for the same one), so every format keeps one set of findings per
/// document. A document that is not a valid policy is an error, or with `sarif` a source
/// the log reports.
fn judge_each(
    files: &PolicyFiles,
    sarif: bool,
    judge: impl Fn(&str) -> Result<Vec<Finding>, s3audit_policy::PolicyError>,
) -> anyhow::Result<Judged> {
    let mut judged = Judged {
        findings: Vec::new(),
        sources: Vec::new(),
        invalid: 0,
    };
    for file in &files.paths {
        let text = match read_policy(file) {
            Ok(text) => text,
            Err(e) if sarif && e.not_text => {
                report_invalid(&e.path, &e.problem);
                judged
                    .sources
                    .push(PolicySource::invalid(file, None, &e.problem, None));
                judged.invalid += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match judge(&text) {
            Ok(mut findings) => {
                if files.several {
                    for f in &mut findings {
                        f.resource = file.display().to_string();
                        f.bucket = None;
                    }
                }
                let resource = findings
                    .first()
                    .map(|f| f.resource.clone())
                    .unwrap_or_default();
                judged
                    .sources
                    .push(PolicySource::judged(file, &text, &resource));
                judged.findings.extend(findings);
            }
            Err(e) if sarif => {
                report_invalid(&file.display().to_string(), &e.to_string());
                judged.sources.push(PolicySource::invalid(
                    file,
                    Some(&text),
                    &e.to_string(),
                    Some(&e),
                ));
                judged.invalid += 1;
            }
            Err(e) => anyhow::bail!("invalid policy {}: {e}", file.display()),
        }
    }
    Ok(judged)
}

/// With `--format sarif`, a document that is not a policy is a result in the log and one
/// line on stderr, so a CI log says it too.
fn report_invalid(file: &str, problem: &str) {
    eprintln!(
        "s3audit: invalid policy {}: {}",
        crate::report::escape::terminal(file),
        crate::report::escape::terminal(problem)
    );
}

/// Writes the report of `check-policy`; `sources` are the documents, for a SARIF log.
/// Exit 2 when any document was not a valid policy (only SARIF gets this far with one),
/// after the log is written.
fn write_policy_report(
    report: Report,
    sources: Vec<PolicySource>,
    invalid: usize,
    args: &OutputArgs,
    ui: Ui,
) -> anyhow::Result<u8> {
    let code = write_report(report, sources, args, ui)?;
    Ok(if invalid > 0 { EXIT_USAGE } else { code })
}

/// `check-policy --fix`: the fixed document on stdout (or `--output`), the changes on
/// stderr, exit 0 when every POL rule passes on it.
fn fix_policy(
    text: &str,
    file: &Path,
    bucket: &str,
    args: &CheckPolicyArgs,
    config: &RuleConfig,
) -> anyhow::Result<u8> {
    let parsed = s3audit_policy::parse_policy(text).ok();
    let facts = rules::policy_facts_for_document(
        bucket,
        parsed.as_ref(),
        &check_policy_options(args, bucket),
        config,
    );
    let fixed = crate::rules::pol::fix::fix(Some(text), &facts)
        .map_err(|e| anyhow::anyhow!("invalid policy {}: {e}", file.display()))?;
    let mut body = fixed.document.clone();
    body.push('\n');
    let interrupt = Interrupt::watch("interrupted")?;
    // A policy document, not a report: no format to infer, so any extension will do.
    let written = output_file(&args.output).and_then(|mut file| {
        let mut out = interrupt.guard(&mut file);
        out.write_all(body.as_bytes())
            .and_then(|_| out.flush())
            .context("cannot write the fixed policy")?;
        interrupt.commit([file])?;
        Ok(())
    });
    interrupt.settle(written.map(|()| EXIT_OK))?;
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
            DefaultSseArg::None => crate::rules::pol::DefaultSse::None,
            DefaultSseArg::SseS3 => crate::rules::pol::DefaultSse::SseS3,
            DefaultSseArg::SseKms => crate::rules::pol::DefaultSse::SseKms,
            DefaultSseArg::DsseKms => crate::rules::pol::DefaultSse::DsseKms,
        },
        default_kms_key: args.default_kms_key.clone(),
        sse_c_blocked: args.sse_c_blocked,
    }
}

/// Writes a report that needs no scan (`evaluate`, `check-policy`, whose policy documents
/// are `sources`): a signal while it is written leaves no temporary file and the previous
/// report in place.
fn write_report(
    report: Report,
    sources: Vec<PolicySource>,
    args: &OutputArgs,
    ui: Ui,
) -> anyhow::Result<u8> {
    write_report_with(report, sources, args, ui, None)
}

/// [`write_report`], and the evidence bundle of `evaluate --evidence` with the snapshot's
/// bytes.
fn write_report_with(
    mut report: Report,
    sources: Vec<PolicySource>,
    args: &OutputArgs,
    ui: Ui,
    evidence: Option<(Evidence, Vec<u8>)>,
) -> anyhow::Result<u8> {
    let interrupt = Interrupt::watch("interrupted")?;
    let written = ReportSink::open(args, !sources.is_empty()).and_then(|mut sink| {
        sink.sources = sources;
        let code = render(&mut report, &mut sink, args.fail_on, ui, &interrupt)?;
        if let Some((evidence, snapshot)) = &evidence {
            evidence.write(&report, snapshot)?;
        }
        let written: Vec<(String, String)> = sink
            .written()
            .into_iter()
            .chain(evidence.as_ref().map(|(e, _)| e.announced()))
            .collect();
        interrupt.commit([sink.file])?;
        if let Some((evidence, _)) = evidence {
            evidence.bundle.commit()?;
        }
        ui.announce(&written, &report);
        Ok(code)
    });
    interrupt.settle(written)
}

fn load_snapshot(path: &Path) -> anyhow::Result<Estate> {
    Ok(read_snapshot(path)?.0)
}

/// The snapshot at `path`, and the bytes it was parsed from (what an evidence bundle
/// files: read once, so the bundle holds exactly what was judged).
fn read_snapshot(path: &Path) -> anyhow::Result<(Estate, Vec<u8>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read snapshot {}", path.display()))?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("cannot read snapshot {}", path.display()))?;
    let version = serde_json::from_str::<serde_json::Value>(text)
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
    let estate = serde_json::from_str(text)
        .with_context(|| format!("invalid snapshot {}", path.display()))?;
    Ok((estate, bytes))
}

fn rule_config(args: &RuleArgs) -> anyhow::Result<RuleConfig> {
    Ok(rule_settings(args)?.0)
}

/// The rule settings of `args`; the config file they came from (its path as given and
/// the SHA-256 of the bytes read), for the report's provenance; and those bytes, which an
/// evidence bundle files. The file is read once, so all three describe the same bytes.
fn rule_settings(
    args: &RuleArgs,
) -> anyhow::Result<(RuleConfig, Option<ConfigSource>, Option<Vec<u8>>)> {
    let (file, source, bytes) = match &args.config {
        Some(path) => {
            let (file, bytes) = ConfigFile::read(path)?;
            let source = ConfigSource {
                path: path.display().to_string(),
                sha256: crate::provenance::sha256_hex(&bytes),
            };
            (file, Some(source), Some(bytes))
        }
        None => (ConfigFile::default(), None, None),
    };
    let defaults = RuleConfig::default();
    let mut allowed_kms_keys = file.allowed_kms_keys;
    allowed_kms_keys.extend(args.allowed_kms_keys.iter().cloned());
    let config = RuleConfig {
        allowed_kms_keys,
        required_object_mode: file
            .required_object_mode
            .unwrap_or(defaults.required_object_mode),
        waivers: file.waivers,
        max_object_data_age: match (args.max_age, &file.max_object_data_age) {
            (Some(age), _) => age,
            (None, Some(text)) => humantime::parse_duration(text).map_err(|e| {
                anyhow::anyhow!(
                    "invalid max_object_data_age {text:?} in the config file: {e} (expected e.g. 8d, 36h)"
                )
            })?,
            (None, None) => defaults.max_object_data_age,
        },
    };
    Ok((config, source, bytes))
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

/// Where the report goes and what it keeps: stdout or a file written whole at the end,
/// in one format, cut down by the filter.
struct ReportSink {
    format: Format,
    file: OutputFile,
    /// No `--output`: the report goes to stdout, in colour on a terminal.
    to_stdout: bool,
    filter: FindingFilter,
    show_passes: bool,
    explain: bool,
    /// The policy documents of `check-policy`, which a SARIF log points into.
    sources: Vec<PolicySource>,
}

impl ReportSink {
    /// Checks everything about the report's output that can be wrong (format, filter,
    /// path) and opens it: before any scan, and before any file is created. `policies`:
    /// the report is of policy documents (`check-policy`), the only one SARIF can locate.
    fn open(args: &OutputArgs, policies: bool) -> anyhow::Result<Self> {
        let format = report_format(args, policies)?;
        let filter = finding_filter(args)?;
        let file = output_file(args)?;
        Ok(ReportSink {
            format,
            file,
            to_stdout: args.output.is_none(),
            filter,
            show_passes: args.show_passes,
            explain: args.explain,
            sources: Vec::new(),
        })
    }

    /// The report file and its format ("json"), when it went to a file.
    fn written(&self) -> Option<(String, String)> {
        if self.to_stdout {
            return None;
        }
        replaced(&self.file, self.format.to_possible_value()?.get_name())
    }
}

/// `--output`, or stdout.
fn output_file(args: &OutputArgs) -> anyhow::Result<OutputFile> {
    match args.output.as_deref() {
        Some(path) => OutputFile::create(path),
        None => Ok(OutputFile::stdout()),
    }
}

/// An output for the closing line on stderr: a file replaced at the end, named as given
/// on the command line. A device, FIFO or stdout was written into as the run went, and
/// `/dev/null` needs no announcement.
fn replaced(file: &OutputFile, what: &str) -> Option<(String, String)> {
    (!file.is_direct()).then(|| (file.path().display().to_string(), what.to_string()))
}

/// The formats a report can have: SARIF only for policy documents (`check-policy`), whose
/// files and lines it points at; an estate has no file to annotate. OCSF only for an
/// estate (`scan`, `evaluate`): its events are findings on AWS resources as they are, for a
/// security data lake, not on documents not yet deployed.
fn report_formats(policies: bool) -> Vec<Format> {
    Format::value_variants()
        .iter()
        .copied()
        .filter(|f| match f {
            Format::Sarif => policies,
            Format::Ocsf => !policies,
            _ => true,
        })
        .collect()
}

/// The report file extension of each format: its name, except the table's (`.txt`).
fn format_extension(format: Format) -> Option<String> {
    let name = format.to_possible_value()?.get_name().to_string();
    Some(if format == Format::Table {
        "txt".to_string()
    } else {
        name
    })
}

/// `--format`, else the format the `--output` extension names, else a table on a
/// terminal and JSON otherwise. An extension no format has (`.xyz`, or `.sarif` outside
/// `check-policy`) is an error, not a JSON file under a misleading name: the reader of
/// `report.sarif` expects SARIF, which only `check-policy` (`policies`) writes. A path
/// without an extension (`/dev/stdout`, a FIFO) gets JSON.
fn report_format(args: &OutputArgs, policies: bool) -> anyhow::Result<Format> {
    if let Some(format) = args.format {
        let formats = report_formats(policies);
        if !formats.contains(&format) {
            let names: Vec<String> = formats
                .iter()
                .filter_map(|f| Some(f.to_possible_value()?.get_name().to_string()))
                .collect();
            let name = format
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            if policies {
                anyhow::bail!(
                    "--format {name} is for scan and evaluate (it reports on AWS resources, not policy files); check-policy writes {}",
                    names.join(", ")
                );
            }
            anyhow::bail!(
                "--format {name} is for check-policy (it annotates policy files); scan and evaluate write {}",
                names.join(", ")
            );
        }
        return Ok(format);
    }
    let Some(path) = args.output.as_deref() else {
        return Ok(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
    };
    let Some(extension) = path.extension() else {
        return Ok(Format::Json);
    };
    let extension = extension.to_string_lossy().to_ascii_lowercase();
    let formats = report_formats(policies);
    if let Some(format) = formats
        .iter()
        .find(|f| format_extension(**f).as_deref() == Some(extension.as_str()))
    {
        return Ok(*format);
    }
    let known: Vec<String> = formats
        .iter()
        .filter_map(|f| format_extension(*f))
        .map(|e| format!(".{e}"))
        .collect();
    anyhow::bail!(
        "cannot write {}: s3audit writes no .{extension} report (it writes {}); use one of those extensions or name the format with --format",
        path.display(),
        known.join(", ")
    )
}

/// `--status`, `--severity`, `--rule` and `--framework` as one filter; a `--rule` that
/// names no rule of the catalog, or a `--framework` no catalogue, is a usage error (a typo
/// must not silently empty the report).
fn finding_filter(args: &OutputArgs) -> anyhow::Result<FindingFilter> {
    let catalog = rules::metadata::catalog();
    for pattern in &args.rules {
        if !catalog
            .iter()
            .any(|m| crate::report::rule_matches(pattern, &m.id))
        {
            anyhow::bail!(
                "--rule {pattern:?} matches no rule (`s3audit rules` lists them: ENC-001, POL-*, ...)"
            );
        }
    }
    let framework = args
        .framework
        .as_deref()
        .map(|id| catalogue(id, "--framework").map(|c| c.id.clone()))
        .transpose()?;
    let mut status = args.status.clone();
    status.sort();
    status.dedup();
    Ok(FindingFilter {
        status,
        min_severity: args.severity,
        rules: args.rules.iter().map(|r| r.to_ascii_uppercase()).collect(),
        framework,
    })
}

/// Filters the report (the one place findings are filtered, so every format and the exit
/// code see the same findings), then renders it into its sink; the caller commits the
/// sink with the other outputs.
fn render(
    report: &mut Report,
    sink: &mut ReportSink,
    fail_on: Severity,
    ui: Ui,
    interrupt: &Interrupt,
) -> anyhow::Result<u8> {
    report.apply_filter(&sink.filter);
    let report = &*report;
    let to_terminal = sink.to_stdout && std::io::stdout().is_terminal();
    let renderer: Box<dyn Render> = match sink.format {
        Format::Json => Box::new(JsonRenderer),
        Format::Csv => Box::new(CsvRenderer),
        Format::Html => Box::new(HtmlRenderer),
        Format::Table => Box::new(TableRenderer {
            color: ui.color(to_terminal),
            width: Some(output_width(to_terminal)),
            show_passes: sink.show_passes,
            explain: sink.explain,
        }),
        Format::Sarif => Box::new(SarifRenderer {
            sources: &sink.sources,
        }),
        Format::Ocsf => Box::new(OcsfRenderer),
    };
    let mut out = interrupt.guard(&mut sink.file);
    match renderer.render(report, &mut out).and_then(|_| out.flush()) {
        Ok(()) => {}
        // The reader went away (`| head`): not an error of ours, and nothing
        // useful can be printed anyway.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && sink.file.is_direct() => {
            sink.file.discard_unwritten();
        }
        Err(e) if sink.to_stdout => return Err(e).context("cannot write report to stdout"),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot write {}", sink.file.path().display()));
        }
    }
    ui.warn_waivers(report);
    Ok(exit_code(report, fail_on))
}

/// 1 when something at or above `fail_on` fails (a waived failure does not count); else 3
/// when anything could not be read.
pub fn exit_code(report: &Report, fail_on: Severity) -> u8 {
    if report
        .findings
        .iter()
        .any(|f| f.status == Status::Fail && f.severity >= fail_on && f.waiver.is_none())
    {
        EXIT_FINDINGS
    } else if !report.scan.complete || report.count(Status::Error) > 0 {
        EXIT_INCOMPLETE
    } else {
        EXIT_OK
    }
}

fn list_rules(format: CatalogFormat, ui: Ui) -> anyhow::Result<()> {
    let catalog = rules::metadata::catalog();
    let to_terminal = std::io::stdout().is_terminal();
    let mut text = match format {
        CatalogFormat::Json => serde_json::to_string_pretty(catalog)?,
        CatalogFormat::Table => {
            let width = output_width(to_terminal);
            crate::report::catalog_table(catalog, Some(width), ui.color(to_terminal))
        }
    };
    text.push('\n');
    write_stdout(text.as_bytes()).context("cannot write the rule catalog")
}

/// The framework catalogue `id` names, or a usage error listing the valid ids (`what` says
/// where the id was given).
fn catalogue(id: &str, what: &str) -> anyhow::Result<&'static rules::frameworks::Catalogue> {
    rules::frameworks::lookup(id).ok_or_else(|| {
        anyhow::anyhow!(
            "{what} {id:?} names no framework catalogue: one of {}",
            rules::frameworks::ids()
        )
    })
}

/// `s3audit frameworks [coverage CATALOGUE [REPORT]]`.
fn frameworks_command(args: &FrameworksArgs, ui: Ui) -> anyhow::Result<()> {
    use crate::report::frameworks as view;
    let to_terminal = std::io::stdout().is_terminal();
    let width = Some(output_width(to_terminal));
    let color = ui.color(to_terminal);
    let mut text = match &args.command {
        None => match args.format {
            CatalogFormat::Json => serde_json::to_string_pretty(&view::catalogues_json())?,
            CatalogFormat::Table => view::catalogues_table(width, color),
        },
        Some(FrameworksCommand::Coverage(cov)) => {
            let catalogue = catalogue(&cov.catalogue, "frameworks coverage:")?;
            let report = cov.report.as_deref().map(load_report).transpose()?;
            let coverage = view::coverage(catalogue, report.as_ref());
            match args.format {
                CatalogFormat::Json => serde_json::to_string_pretty(&coverage)?,
                CatalogFormat::Table => view::coverage_table(&coverage, width, color),
            }
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    write_stdout(text.as_bytes()).context("cannot write the framework catalogues")
}

/// A JSON report written by `scan` or `evaluate` (`--format json`).
fn load_report(path: &Path) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    let report: Report = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a JSON report of s3audit scan or evaluate (--format json)",
            path.display()
        )
    })?;
    if report.schema_version != crate::report::SCHEMA_VERSION {
        anyhow::bail!(
            "{} has schema_version {}; this s3audit reads version {}",
            path.display(),
            report.schema_version,
            crate::report::SCHEMA_VERSION
        );
    }
    Ok(report)
}

/// `s3audit rules explain ID`: an unknown id is a usage error listing the valid ones.
fn explain_rule(id: &str, format: CatalogFormat, ui: Ui) -> anyhow::Result<()> {
    use crate::report::frameworks as view;
    let meta = rules::metadata::catalog()
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| {
            anyhow::anyhow!("rules explain: no rule {id:?}: one of {}", view::rule_ids())
        })?;
    let to_terminal = std::io::stdout().is_terminal();
    let mut text = match format {
        CatalogFormat::Json => serde_json::to_string_pretty(&view::explain_json(meta))?,
        CatalogFormat::Table => {
            view::explain_text(meta, Some(output_width(to_terminal)), ui.color(to_terminal))
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    write_stdout(text.as_bytes()).context("cannot write the rule")
}

/// The report's destination for the same-path check: `--output`, or stdout itself, which
/// a `--save-snapshot /dev/stdout` would otherwise share with the report.
fn report_destination(args: &OutputArgs) -> (&'static str, Option<&Path>) {
    match &args.output {
        Some(path) => ("--output", Some(path.as_path())),
        None => (REPORT_ON_STDOUT, Some(Path::new("/dev/stdout"))),
    }
}

const REPORT_ON_STDOUT: &str = "the report on stdout";

/// Refuses two outputs naming one file, however spelled (`a.json`, `./a.json`,
/// `d/../a.json`, a symlink to it): one would silently replace the other, or both would
/// interleave in one FIFO. Refuses an output naming an input (the snapshot being
/// evaluated, the config), which it would replace. Checked before any network call, so
/// the mistake costs nothing. Character devices (`/dev/null`, a terminal) may be shared:
/// nothing is replaced there.
fn distinct_paths(
    outputs: &[(&str, Option<&Path>)],
    inputs: &[(&str, Option<&Path>)],
) -> anyhow::Result<()> {
    let label = |flag: &str, path: &Path| {
        if flag == REPORT_ON_STDOUT {
            flag.to_string()
        } else {
            format!("{flag} {}", path.display())
        }
    };
    let mut seen: Vec<(String, output::Identity)> = Vec::new();
    for (flag, path) in outputs {
        let Some(path) = path else { continue };
        let Some(id) = output::identity(path) else {
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, seen_id)| *seen_id == id) {
            anyhow::bail!(
                "{other} and {} are the same file: give each output its own path",
                label(flag, path)
            );
        }
        seen.push((label(flag, path), id));
    }
    for (flag, path) in inputs {
        // Only regular files: `/dev/stdin` as an input and `/dev/stdout` as an output
        // may well be the same terminal.
        let Some(path) = path.filter(|p| p.is_file()) else {
            continue;
        };
        let Some(id) = output::identity(path) else {
            continue;
        };
        if let Some((output, _)) = seen.iter().find(|(_, seen_id)| *seen_id == id) {
            anyhow::bail!(
                "{output} is {}: writing there would replace it",
                label(flag, path)
            );
        }
    }
    Ok(())
}

/// A write or a scan stopped because a signal came; never shown (see [`Interrupt::settle`]).
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

/// How long a stop after SIGINT or SIGTERM may take before the signal thread ends the
/// process itself: removing temporary files and exiting usually takes milliseconds, but
/// a write into a FIFO nobody reads, or opening one nobody has opened, never returns.
const STOP_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Term,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            Signal::Int => EXIT_SIGINT,
            Signal::Term => EXIT_SIGTERM,
        }
    }
}

/// SIGINT and SIGTERM, turned from "die now" (which would leave temporary files behind)
/// into "stop, remove what was being written, exit 130 or 143". The first signal asks
/// the command to stop: the scan future is dropped and every write of an output fails
/// from then on. If the command has not finished stopping within [`STOP_GRACE`], or a
/// second signal comes, the signal thread removes the temporary files and exits itself.
/// Once the outputs are being moved into place, a signal no longer stops anything: the
/// renames take milliseconds and the run ends as it would have.
#[derive(Clone)]
struct Interrupt {
    received: tokio::sync::watch::Receiver<Option<Signal>>,
    /// How the stop is announced: "scan interrupted".
    doing: &'static str,
}

impl Interrupt {
    /// Installs the handlers (on a thread of its own, so they work while the main thread
    /// renders or blocks on a FIFO) and returns once they are in place.
    fn watch(doing: &'static str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot install the signal handlers")?;
        let mut signals = {
            let _in_runtime = runtime.enter();
            Signals::install().context("cannot install the signal handlers")?
        };
        let (tx, received) = tokio::sync::watch::channel(None);
        std::thread::Builder::new()
            .name("s3audit-signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let signal = signals.next().await;
                    let _ = tx.send(Some(signal));
                    tokio::select! {
                        _ = signals.next() => {}
                        () = tokio::time::sleep(STOP_GRACE) => {}
                    }
                    if let Abandoned::Nothing { incomplete } = output::abandon_pending() {
                        eprintln!("{}", interrupted_line(doing, signal, &incomplete));
                        std::process::exit(i32::from(signal.exit_code()));
                    }
                    // Committed: the run ends on its own. Abandoned: the main thread is
                    // already exiting with the signal's code.
                })
            })
            .context("cannot install the signal handlers")?;
        Ok(Interrupt { received, doing })
    }

    fn received(&self) -> Option<Signal> {
        *self.received.borrow()
    }

    /// Resolves when a signal has come (never, if the signal thread has settled already).
    async fn wait(&self) {
        let mut rx = self.received.clone();
        if rx.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// `out`, failing every write once a signal has come, so a long render stops
    /// promptly and its temporary file is dropped rather than committed.
    fn guard<'a>(&'a self, out: &'a mut dyn Write) -> Guarded<'a> {
        Guarded {
            out,
            interrupt: self,
        }
    }

    /// Moves the outputs into place unless a signal has come.
    fn commit(&self, files: impl IntoIterator<Item = OutputFile>) -> anyhow::Result<()> {
        if self.received().is_some() {
            return Err(Interrupted.into());
        }
        output::commit_all(files)
    }

    /// The command's outcome, or, if a signal came before its outputs were in place, the
    /// signal's exit code after one line on stderr. Whatever error the stop caused on the
    /// way (a failed write, a dropped scan) is the signal's doing and is not shown.
    fn settle(&self, outcome: anyhow::Result<u8>) -> anyhow::Result<u8> {
        let Some(signal) = self.received() else {
            return outcome;
        };
        match output::abandon_pending() {
            Abandoned::Nothing { incomplete } => {
                eprintln!("{}", interrupted_line(self.doing, signal, &incomplete));
                Ok(signal.exit_code())
            }
            Abandoned::AlreadyCommitted => outcome,
            Abandoned::AlreadyAbandoned => Ok(signal.exit_code()),
        }
    }
}

fn interrupted_line(doing: &str, signal: Signal, incomplete: &[String]) -> String {
    let signal = signal.name();
    if incomplete.is_empty() {
        format!("s3audit: {doing} by {signal}: nothing was written")
    } else {
        format!(
            "s3audit: {doing} by {signal}: no file was written or replaced; what went to {} is incomplete",
            incomplete.join(", ")
        )
    }
}

/// The two signals a user or a supervisor stops a run with.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers now (inside a runtime), so a signal after this returns is
    /// never the default "terminate".
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(unix)]
    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.int.recv() => Signal::Int,
            _ = self.term.recv() => Signal::Term,
        }
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        Ok(Signals {})
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Signal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Int,
            Err(_) => std::future::pending().await,
        }
    }
}

/// See [`Interrupt::guard`].
struct Guarded<'a> {
    out: &'a mut dyn Write,
    interrupt: &'a Interrupt,
}

impl Guarded<'_> {
    fn check(&self) -> std::io::Result<()> {
        match self.interrupt.received() {
            // Not ErrorKind::Interrupted: `write_all` retries that.
            Some(_) => Err(std::io::Error::other(Interrupted)),
            None => Ok(()),
        }
    }
}

impl Write for Guarded<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.check()?;
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.check()?;
        self.out.flush()
    }
}

/// `s3audit diff OLD NEW`: each side read as a report or a snapshot (a snapshot evaluated
/// with the default rule settings, as `evaluate` without --config would), then compared.
/// Exit 1 when the drift regressed, 0 otherwise; unreadable input is an error (exit 2).
fn diff_command(args: &crate::cli::DiffArgs) -> anyhow::Result<u8> {
    if let Some(out) = &args.output {
        distinct_paths(
            &[("--output", Some(out.as_path()))],
            &[
                ("OLD", Some(args.old.as_path())),
                ("NEW", Some(args.new.as_path())),
            ],
        )?;
    }
    let (old_kind, old) = load_scan(&args.old)?;
    let (new_kind, new) = load_scan(&args.new)?;
    let drift = crate::report::diff::diff(
        &old,
        &new,
        old_kind,
        &args.old.display().to_string(),
        new_kind,
        &args.new.display().to_string(),
    );
    let mut text = match args.format {
        CatalogFormat::Json => serde_json::to_string_pretty(&drift)?,
        CatalogFormat::Table => crate::report::diff::render_table(&drift),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match &args.output {
        Some(path) => {
            let mut file = OutputFile::create(path)?;
            file.write_all(text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            output::commit_all([file])?;
        }
        None => write_stdout(text.as_bytes()).context("cannot write the drift")?,
    }
    Ok(if drift.regressed {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// `scan --shard I/N` (or `auto/N`), checked against what a shard cannot do yet: several
/// accounts (each account's buckets would need sharding of its own), a `--metadata-table`
/// (read whole, by one shard) and `--verify-sample` (a sample of the whole inventory).
fn shard_settings(args: &ScanArgs) -> anyhow::Result<Option<crate::shard::Shard>> {
    let Some(spec) = &args.shard else {
        return Ok(None);
    };
    let shard = crate::shard::Shard::parse(spec, |var| std::env::var(var).ok())
        .map_err(anyhow::Error::msg)?;
    let conflicts = [
        ("--organization", args.accounts.organization),
        ("--accounts", args.accounts.accounts.is_some()),
        ("--metadata-table", !args.metadata_tables.is_empty()),
        ("--verify-sample", args.verify_sample.is_some()),
    ];
    if let Some((flag, _)) = conflicts.iter().find(|(_, given)| *given) {
        anyhow::bail!("--shard does not work with {flag} yet: scan without --shard");
    }
    Ok(Some(shard))
}

/// `s3audit merge`: every shard's snapshot in, the whole run's snapshot out (written whole
/// or not at all).
fn merge_command(args: &crate::cli::MergeArgs) -> anyhow::Result<u8> {
    if let Some(out) = &args.output {
        let inputs: Vec<(&str, Option<&Path>)> = args
            .snapshots
            .iter()
            .map(|p| ("a SNAPSHOT", Some(p.as_path())))
            .collect();
        distinct_paths(&[("--output", Some(out.as_path()))], &inputs)?;
    }
    let mut shards = Vec::with_capacity(args.snapshots.len());
    for path in &args.snapshots {
        shards.push((path.display().to_string(), load_snapshot(path)?));
    }
    let merged = crate::shard::merge(shards, crate::provenance::command_line())?;
    let mut text = serde_json::to_vec_pretty(&merged).context("cannot write the snapshot")?;
    text.push(b'\n');
    match &args.output {
        Some(path) => {
            let mut file = OutputFile::create(path)?;
            file.write_all(&text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            output::commit_all([file])?;
        }
        None => write_stdout(&text).context("cannot write the snapshot")?,
    }
    Ok(EXIT_OK)
}

/// One side of `diff`: a snapshot (it has `snapshot_version`) evaluated into a report, or
/// a JSON report (it has `schema_version`), with which of the two it was.
fn load_scan(path: &Path) -> anyhow::Result<(&'static str, Report)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if value.get("snapshot_version").is_some() {
        let estate = load_snapshot(path)?;
        let findings = rules::evaluate(&estate, &RuleConfig::default());
        Ok(("snapshot", Report::new(&estate, findings)))
    } else if value.get("schema_version").is_some() && value.get("findings").is_some() {
        Ok(("report", load_report(path)?))
    } else {
        anyhow::bail!(
            "{} is neither a JSON report (scan --format json) nor a snapshot (scan --save-snapshot)",
            path.display()
        )
    }
}

/// The multi-account part of `scan` (`--organization`, `--accounts`), checked before any
/// network call: an unreadable or malformed accounts file, a role option without an account
/// source, a bad template, or `--bucket`/`--inventory` (which name one account's buckets)
/// with many accounts is a usage error.
fn account_settings(
    args: &crate::cli::AccountArgs,
    buckets: &[String],
    data_sources: &[String],
    offline: bool,
) -> anyhow::Result<Option<collect::accounts::AccountSettings>> {
    use collect::accounts::{AccountSettings, AccountSource, DEFAULT_ROLE_NAME, RoleChoice};
    let source = match (&args.accounts, args.organization) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --accounts {}: {e}", path.display()))?;
            let list = collect::accounts::parse_accounts(&text)
                .map_err(|e| anyhow::anyhow!("--accounts {}: {e}", path.display()))?;
            AccountSource::Listed(list)
        }
        (None, true) => AccountSource::Organization {
            ou: args.ou.clone(),
        },
        (None, false) => {
            if args.role_name.is_some()
                || args.role_arn_template.is_some()
                || args.external_id.is_some()
            {
                anyhow::bail!(
                    "--role-name, --role-arn-template and --external-id need --organization or --accounts FILE"
                );
            }
            return Ok(None);
        }
    };
    if !buckets.is_empty() {
        anyhow::bail!(
            "--bucket names one account's buckets: drop it with --organization/--accounts (use --exclude)"
        );
    }
    if offline {
        anyhow::bail!(
            "--offline makes no AWS call, --organization/--accounts assume a role in each account: drop one"
        );
    }
    if !data_sources.is_empty() {
        anyhow::bail!(
            "--inventory and --metadata-table read one account's files: drop them with --organization/--accounts"
        );
    }
    let role = match (&args.role_name, &args.role_arn_template) {
        (_, Some(t)) => {
            RoleChoice::check_template(t).map_err(|e| anyhow::anyhow!(e))?;
            RoleChoice::Template(t.clone())
        }
        (Some(name), None) => RoleChoice::Name(name.clone()),
        (None, None) => RoleChoice::Name(DEFAULT_ROLE_NAME.to_string()),
    };
    Ok(Some(AccountSettings {
        source,
        role,
        external_id: args.external_id.clone(),
        concurrency: usize::from(args.account_concurrency),
    }))
}
