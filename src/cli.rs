//! Raw command-line arguments (clap). `app` turns them into validated settings once; no
//! other code reads these types.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::model::Severity;

#[derive(Debug, Parser)]
#[command(
    name = "s3audit",
    // "0.1.0 (6e8d0b8)", "-dirty" for a modified tree; the bare version outside a git
    // checkout (build.rs).
    version = env!("S3AUDIT_VERSION"),
    about = "Audit Amazon S3 encryption: default encryption, bucket policies and KMS key health",
    long_about = "s3audit reads every bucket's encryption settings, bucket policy and the KMS keys \
they depend on, evaluates them against a catalog of rules (`s3audit rules`), and reports every \
verdict, passes included, as a table, CSV, JSON or a self-contained HTML page.\n\n\
It only reads: it never calls an API that changes anything. Anything it cannot read \
(access denied, throttling) is reported as an `error` finding, never as a pass.",
    after_help = "Exit codes: 0 no failing finding at or above --fail-on; 1 failing findings; \
2 usage or configuration error; 3 scan incomplete (error findings) and nothing failing; \
130 or 143 stopped by SIGINT or SIGTERM before any output was written.\n\n\
Examples:\n  s3audit scan --profile audit\n  s3audit scan --bucket my-bucket --format json --output report.json\n  \
s3audit scan --endpoint-url http://127.0.0.1:5000 --save-snapshot estate.json\n  s3audit evaluate estate.json --format csv\n  \
s3audit evaluate estate.json --status fail --severity high --explain\n  \
s3audit evaluate estate.json --rule 'POL-*' --show-passes\n\n\
Shell completions and a man page: s3audit completions --help, s3audit man --help."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More logging on stderr: -v progress, -vv debug, -vvv trace (or set S3AUDIT_LOG)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// No closing line on stderr after a report, snapshot or inventory is written to a
    /// file (errors are still printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Colour the table's statuses and severities. `auto`: only when the table goes to a
    /// terminal and NO_COLOR is not set; `always`: also into a pipe or file (for `less -R`)
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Same as --color never (kept for scripts written before --color)
    #[arg(long, global = true, hide = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan buckets and KMS keys, evaluate every rule and report
    Scan(Box<ScanArgs>),
    /// Re-run the rules on a snapshot saved by `scan --save-snapshot`, offline
    Evaluate(EvaluateArgs),
    /// List the rule catalog, or explain one rule
    Rules(RulesArgs),
    /// List the framework catalogues (PCI DSS, HIPAA, CIS, AWS FSBP, NIST) rules map to,
    /// or show one catalogue's coverage
    Frameworks(FrameworksArgs),
    /// Evaluate a bucket policy, or the resource control policies of an organization,
    /// before deploying them: the POL findings, offline
    CheckPolicy(CheckPolicyArgs),
    /// Compare two scans (JSON reports or snapshots): new and resolved failures, object
    /// counts, buckets and keys; exit 1 when something regressed
    #[command(
        after_help = "OLD and NEW are each a JSON report (scan or evaluate --format json) \
or a snapshot (scan --save-snapshot), told apart by content; a snapshot is evaluated with the \
default rule settings. A failure missing from NEW, or n/a there because NEW did not read the \
objects, is listed as not covered, never as resolved.\n\n\
Exit codes: 0 nothing regressed; 1 a new failing finding, more unencrypted objects in a \
bucket, a key that left Enabled, or NEW incomplete where OLD was complete; 2 an input that \
cannot be read or is neither a report nor a snapshot.\n\n\
Examples:\n  s3audit diff last-week.json today.json\n  s3audit diff old-estate.json new-estate.json --format json --output drift.json"
    )]
    Diff(DiffArgs),
    /// Check an evidence bundle (`--evidence DIR`): every file against SHA256SUMS, and
    /// with --pubkey the manifest's signature
    #[command(
        after_help = "Prints each changed, missing or extra file on stdout, a summary on \
stderr. Exit codes: 0 every file matches (and with --pubkey the signature verifies); 1 a file \
changed, is missing or is not listed, or the signature does not verify; 2 no such directory, \
no SHA256SUMS, a malformed line, an unreadable key.\n\n\
Without s3audit: cd DIR && sha256sum -c SHA256SUMS; and for a signed bundle\n  \
ssh-keygen -Y verify -f allowed_signers -I auditor -n file -s SHA256SUMS.sig < SHA256SUMS"
    )]
    Verify(VerifyArgs),
    /// Print a shell completion script to stdout
    #[command(after_help = "Install it where your shell looks, e.g.:\n  \
s3audit completions bash > ~/.local/share/bash-completion/completions/s3audit\n  \
s3audit completions zsh > ~/.zfunc/_s3audit   (with fpath+=~/.zfunc before compinit)\n  \
s3audit completions fish > ~/.config/fish/completions/s3audit.fish")]
    Completions(CompletionsArgs),
    /// Print a man page (roff) to stdout: s3audit(1), or one subcommand's
    #[command(
        after_help = "Read it with `s3audit man | man -l -`, or install it:\n  \
s3audit man > ~/.local/share/man/man1/s3audit.1\n  \
s3audit man scan > ~/.local/share/man/man1/s3audit-scan.1"
    )]
    Man(ManArgs),
    /// Print the JSON Schema (draft 2020-12) of the JSON report, or of diff's JSON
    #[command(
        after_help = "The schema is generated from the output's own types, so it \
describes exactly what this build writes. Validate a report with any JSON Schema tool, e.g.:\n  \
s3audit schema > report.schema.json\n  \
check-jsonschema --schemafile report.schema.json report.json"
    )]
    Schema(SchemaArgs),
    /// Combine the snapshots of every shard of a split scan (`scan --shard I/N
    /// --save-snapshot`) into the snapshot of the whole run, for `evaluate`
    #[command(
        after_help = "Every shard 0..N-1 of one run must be given, each once, scanned with the \
same settings by the same s3audit: a missing, duplicate or foreign shard is an error (exit 2) \
naming it, and nothing is written. Each bucket's settings come from the shard that owns it; the \
partial S3 Inventory counts of a bucket split across shards are added up exactly. The result is \
the snapshot one whole run would have saved (its command line is this merge's).\n\n\
Example:\n  s3audit merge shard-*.json --output estate.json && s3audit evaluate estate.json"
    )]
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' snapshots (scan --shard I/N --save-snapshot), in any order
    #[arg(value_name = "SNAPSHOT", required = true)]
    pub snapshots: Vec<PathBuf>,

    /// Write the merged snapshot here instead of stdout (replaced whole at the end)
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which output's schema
    #[arg(value_enum, default_value = "report")]
    pub of: SchemaOf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaOf {
    /// The JSON report of `scan` and `evaluate` (reports/schema.json)
    Report,
    /// The JSON of `diff --format json` (reports/drift-schema.json)
    Drift,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle directory written by --evidence
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Also check SHA256SUMS.sig with this OpenSSH public key (the .pub of --sign-key)
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
}

/// `--evidence DIR` and `--sign-key` of `scan` and `evaluate`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Evidence")]
pub struct EvidenceArgs {
    /// Also write an evidence bundle into DIR (new or empty): report.json, findings.csv,
    /// report.html, snapshot.json, objects.csv (when objects were scanned), config.toml and
    /// a SHA256SUMS manifest (`sha256sum -c`, `s3audit verify DIR`). Written whole or not at all
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,

    /// Sign the bundle's SHA256SUMS with this unencrypted Ed25519 OpenSSH private key, as
    /// `ssh-keygen -Y sign -n file` does (SHA256SUMS.sig; checked by `ssh-keygen -Y verify`
    /// or `s3audit verify --pubkey`)
    #[arg(long, value_name = "PATH", requires = "evidence")]
    pub sign_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (s3audit-scan(1), ...); none: s3audit(1)
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Scan only this bucket (repeatable); it must exist in the account
    #[arg(long = "bucket", value_name = "NAME", help_heading = "Selection")]
    pub buckets: Vec<String>,

    /// Skip buckets whose name matches this glob (`*`, `?`; repeatable)
    #[arg(long, value_name = "GLOB", help_heading = "Selection")]
    pub exclude: Vec<String>,

    /// Also save everything the scan observed, for `s3audit evaluate` and as evidence
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub save_snapshot: Option<PathBuf>,

    /// Buckets whose configuration is read at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Performance")]
    pub bucket_concurrency: u16,

    /// Skip the object scan: judge bucket settings, policies and keys only (OBJ rules become n/a)
    #[arg(long, help_heading = "Objects")]
    pub no_objects: bool,

    /// Also read every noncurrent version (ListObjectVersions), reported as `noncurrent`
    #[arg(long, help_heading = "Objects")]
    pub versions: bool,

    /// Only objects whose key starts with this prefix
    #[arg(long, value_name = "PREFIX", help_heading = "Objects")]
    pub prefix: Option<String>,

    /// Quick scan: read at most N objects per bucket (the report says it was sampled)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Objects")]
    pub sample: Option<u64>,

    /// Stream one CSV row per object (bucket, key, version, mode, key ARN, bucket key, size,
    /// storage class, last-modified, error) to PATH while the scan runs: the pre-migration
    /// inventory. Keys and version ids are URL-encoded as in S3 Inventory (percent-decode
    /// them, e.g. Python's urllib.parse.unquote, for the exact key)
    #[arg(long, value_name = "PATH", help_heading = "Objects")]
    pub objects_csv: Option<PathBuf>,

    /// Count a bucket's objects from an S3 Inventory report instead of listing and HEADing
    /// each one: MANIFEST is the manifest.json of one inventory delivery, as
    /// s3://BUCKET/KEY (read with the scan's credentials and endpoint) or a local path (its
    /// data files are looked up by key under the manifest's directories, as `aws s3 sync`
    /// lays them out). Repeatable, one per bucket; the manifest's source bucket must be one
    /// the scan selects, and its settings are still read live. Every file's MD5 is checked;
    /// CSV, Parquet and ORC inventories are read. The inventory must include
    /// EncryptionStatus; Size adds bytes per mode, all versions add noncurrent counts. S3
    /// Inventory has no KMS key per object: OBJ-003/004 are n/a for its SSE-KMS objects,
    /// and OBJ-007 fails an inventory older than --max-age (README: Auditing billions of
    /// objects)
    #[arg(long = "inventory", value_name = "MANIFEST", help_heading = "Objects")]
    pub inventories: Vec<String>,

    /// Where object counts come from. `auto`: a bucket's S3 Inventory where --inventory
    /// names one, a listing and a HEAD per object for every other bucket. `head`: HEADs
    /// for every bucket (refuses --inventory, which says the opposite). `inventory`: S3
    /// Inventory only, for an audit that must not send a request per object: the objects
    /// of a bucket no --inventory names are not read, and the report says so (its OBJ
    /// rules are errors, the scan incomplete: exit 3); leave such buckets out with
    /// --bucket/--exclude
    #[arg(long, value_enum, value_name = "SOURCE", default_value_t = ObjectsFrom::Auto, help_heading = "Objects")]
    pub objects_from: ObjectsFrom,

    /// Audit local S3 Inventory reports and metadata tables alone, with no AWS call at all
    /// (no credentials or network needed): the buckets are the --inventory manifests'
    /// source buckets and the --metadata-table tables' buckets (local paths only, their
    /// files laid out as `aws s3 sync` copies them), their objects are
    /// counted and judged as usual, and their settings, policies and keys are not read: the
    /// report says so, those rules are errors (never pass) and the scan is incomplete (exit
    /// 3 unless something fails)
    #[arg(long, help_heading = "Objects")]
    pub offline: bool,

    /// Check each --inventory against the live bucket: HEAD N of its current objects,
    /// picked at random (uniformly, while its files are decoded), through the scan's own
    /// HEAD path. OBJ-008 fails on any disagreement (a mode that differs, an object gone),
    /// and the sampled objects' KMS keys let OBJ-003/004 judge those keys (a sample, as
    /// their evidence says). Needs the network: not with --offline
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000), help_heading = "Objects")]
    pub verify_sample: Option<u64>,

    /// The seed that picks --verify-sample's objects: the same seed picks the same
    /// objects of the same inventory again [default: random, recorded in OBJ-008's evidence]
    #[arg(
        long,
        value_name = "SEED",
        requires = "verify_sample",
        help_heading = "Objects"
    )]
    pub verify_seed: Option<u64>,
    /// Count a bucket's objects from its S3 Metadata live inventory table (Apache Iceberg)
    /// instead of listing and HEADing each one. LOCATION is an S3 Tables table bucket's ARN
    /// (arn:aws:s3tables:REGION:ACCOUNT:bucket/aws-s3, where S3 Metadata writes: every
    /// live inventory table in it, those of buckets the scan does not read skipped), or one
    /// table's current metadata file (.../metadata/NNNNN-uuid.metadata.json), as
    /// s3://BUCKET/KEY or a local path (a table copied down with `aws s3 sync` is read
    /// relative to its directory), whose bucket must be one the scan selects. Repeatable;
    /// one table per bucket. The table records
    /// each object's KMS key ARN, so OBJ-003/004 judge keys; OBJ-007 fails a snapshot older
    /// than --max-age. Tables with merge-on-read delete files are refused (README: Auditing
    /// billions of objects)
    #[arg(
        long = "metadata-table",
        value_name = "LOCATION",
        help_heading = "Objects"
    )]
    pub metadata_tables: Vec<String>,

    /// HEAD requests in flight at once, across all buckets (S3 serves 5,500 GET/HEAD per second per prefix)
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..=4096), help_heading = "Performance")]
    pub concurrency: u16,

    /// Stop the scan after this long (e.g. `90s`, `45m`, `2h`) and report what was read:
    /// everything not read by then is named in the report, which is marked incomplete (exit 3
    /// unless something failed)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Performance")]
    pub timeout: Option<std::time::Duration>,

    /// Buckets whose objects are scanned at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Performance")]
    pub object_buckets: u16,

    /// How object HEADs are sent. `direct`: signed with the SDK's signer and sent over pooled
    /// connections, for about a quarter of the CPU per object; `sdk`: through the AWS SDK's
    /// full client. Both HEAD the same URL with the same credentials and read the same
    /// headers; `sdk` is there to rule the fast path out when investigating
    #[arg(long, value_enum, value_name = "HOW", default_value_t = HeadVia::Direct, help_heading = "Performance")]
    pub head_via: HeadVia,

    /// Parts of a bucket listed at once. One listing stream reads about 1,000 keys per
    /// round trip, slower than the HEADs it feeds; s3audit splits each bucket by its
    /// `/` prefixes (two levels deep), then by key ranges, and lists the parts in
    /// parallel, every key exactly once. While the scan begins, a survey counts each
    /// first-level prefix's keys (one more listing, counted and dropped), so that the
    /// biggest prefixes, which S3 reads at 5,500/s each, get more listers and are not
    /// left to the end. 1 lists each bucket as a single stream, without a survey (as
    /// --sample always does, to keep its first N keys in key order)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Performance")]
    pub list_parallelism: u16,

    /// At most N requests per second in all (listing pages and object HEADs), for a scan
    /// that must stay polite to production traffic. Without it the scan still backs off
    /// where S3 says so: a prefix answered 503 SlowDown gets fewer objects in flight (its
    /// window halves, then grows back by one per window of successes) while the other
    /// prefixes go on at full speed
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Performance")]
    pub max_rps: Option<u32>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub accounts: AccountArgs,

    /// Scan one shard of a run split across machines: I (from 0) of N. A bucket belongs to
    /// one shard by a stable hash of its name, which reads its settings and HEADs its
    /// objects; an --inventory's data files are shared out by their keys, so every shard
    /// decodes part of a big inventory. `auto/N` reads I from JOB_COMPLETION_INDEX
    /// (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job). A shard's
    /// report is partial (incomplete, exit 3 unless something fails): save each shard's
    /// snapshot and combine them with `s3audit merge`
    #[arg(long, value_name = "I/N", help_heading = "Selection")]
    pub shard: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Connection (the AWS CLI's conventions)")]
pub struct ConnectionArgs {
    /// Named profile from ~/.aws/config and ~/.aws/credentials
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Region to start from; each bucket is then read in its own region
    #[arg(long, env = "AWS_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// Send every request to this endpoint (an S3-compatible store, a local server);
    /// uses path-style addressing
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// PEM file of extra certificate authorities to trust
    #[arg(long, env = "AWS_CA_BUNDLE", value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,

    /// Attempts per request, first included, on throttling and transient faults
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_attempts: u32,

    /// How long one attempt of a request may take before it is abandoned (and retried
    /// while attempts remain): a server that accepts a connection and never answers costs
    /// at most this times --max-attempts per request
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,
}

/// `90s`, `10m`, `1h30m`: humantime's syntax, at least a second.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d =
        humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 90s, 10m, 2h)"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err("must be at least 1s".to_string());
    }
    Ok(d)
}

/// The help heading of `--status`, `--severity` and `--rule`.
const FILTERS: &str = "Filters (every format; a JSON report records them)";

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Report format [default: from the --output extension (.json, .csv, .txt for the
    /// table, .html, .sarif for check-policy, .ocsf for scan and evaluate), else table on a
    /// terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write the report here instead of stdout (a file is replaced whole at the end, never
    /// partially; a device or FIFO is written into). An extension s3audit cannot write
    /// (.sarif, .xml, ...) is an error unless --format names the format
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Exit 1 when a finding at or above this severity fails
    #[arg(long, value_enum, value_name = "SEVERITY", default_value = "high")]
    pub fail_on: Severity,

    /// Table: list passing findings as rows (by default each bucket's passes are folded
    /// into one line of rule ids)
    #[arg(long)]
    pub show_passes: bool,

    /// Table: show each failure's remediation (the fix, or the merged policy) under it
    #[arg(long)]
    pub explain: bool,

    /// Keep only findings with these statuses: fail, error, pass, n/a (comma-separated
    /// or repeated). The exit code follows the findings kept, and whether the scan was
    /// complete
    #[arg(long, value_enum, value_delimiter = ',', value_name = "STATUS", help_heading = FILTERS)]
    pub status: Vec<crate::model::Status>,

    /// Keep only findings of this severity or above
    #[arg(long, value_enum, value_name = "SEVERITY", help_heading = FILTERS)]
    pub severity: Option<Severity>,

    /// Keep only these rules: ids or globs such as `POL-*` (comma-separated or repeated;
    /// `s3audit rules` lists them)
    #[arg(long = "rule", value_delimiter = ',', value_name = "ID", help_heading = FILTERS)]
    pub rules: Vec<String>,

    /// Keep only rules mapped to a requirement of this framework catalogue, e.g.
    /// `pci-dss-4.0.1` or `aws-fsbp` (`s3audit frameworks` lists them)
    #[arg(long, value_name = "CATALOGUE", help_heading = FILTERS)]
    pub framework: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Rules")]
pub struct RuleArgs {
    /// TOML file of rule settings (allowed_kms_keys = [...], required_object_mode = "sse_kms")
    /// and waivers: [[waiver]] tables of rule, resource, reason, owner and expires, each
    /// accepting a failure until a date (README: Waivers)
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// A KMS key uploads and defaults may use: ARN, key id or alias (repeatable; adds to the config file's list)
    #[arg(long = "allowed-kms-key", value_name = "KEY")]
    pub allowed_kms_keys: Vec<String>,

    /// OBJ-007: the oldest S3 Inventory (--inventory) whose counts are accepted, judged
    /// against the scan's start (e.g. `36h`, `8d`) [default: the config file's
    /// max_object_data_age, else 8d: a weekly inventory plus a day for delivery]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_age: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Snapshot written by `s3audit scan --save-snapshot`
    pub snapshot: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Every failing finding names a concrete request the policy lets through and \
carries the statements to add, merged into the document, as its remediation.\n\n\
A bucket policy is judged on POL-001..005 for the bucket named by --bucket. Resource control \
policies (--kind rcp) are judged on POL-001 (TLS-only) and POL-002 (TLS 1.2 floor) for every \
bucket of an account: give the RCPs attached to the root, each OU on the account's path and \
the account, in any order; a Deny in any of them applies. A KMS key policy (--kind key-policy) \
is judged on KMS-004 and KMS-005 for the key --key-arn names.\n\n\
Several files, or a directory (every *.json file under it, recursively, in path order; \
hidden files and directories such as .git and .terraform are not walked): with --kind bucket or \
key-policy each document is judged on its own, and each finding's resource is its file; \
with --kind rcp they are the one chain. A file that is not a valid policy stops the check \
(exit 2, nothing written), except with --format sarif: there it is a result of rule \
INVALID-POLICY at the problem's line, the other documents are judged, and the log is written.\n\n\
--format sarif (or --output FILE.sarif) writes SARIF 2.1.0 for code scanning: one result \
per failing or undecidable finding, at the line of the statement it is about (the Deny \
statements that fall short, or lock out; the \"Statement\" member when none applies), \
with file paths relative to the current directory.\n\n\
Partition: every ARN written (a finding's resource, counterexamples, fixes) is in the \
partition the input names, since a statement naming another partition's ARN matches nothing: \
--key-arn's for a key policy; for a bucket policy --default-kms-key's when it is an ARN, else \
the one the document's own S3 ARNs name (arn:aws-cn:s3:::NAME/* is judged as a China \
bucket's policy), else the commercial partition (aws). RCPs are judged in the commercial \
partition. The examples below use arn:aws:; write yours in your partition (arn:aws-cn:, \
arn:aws-us-gov:).\n\n\
Exit codes: 0 every document passes (at --fail-on); 1 a finding fails; 2 usage error, or a \
file that cannot be read or is not a valid policy (with --format sarif, after the log is \
written); 3 a finding could not be decided and nothing fails.\n\n\
Examples:\n  s3audit check-policy policy.json --bucket my-bucket --default-sse sse-kms \
--default-kms-key arn:aws:kms:us-east-1:111122223333:key/...\n  \
s3audit check-policy policies/ --bucket my-bucket --format sarif --output policies.sarif\n  \
s3audit check-policy --kind rcp root-rcp.json ou-rcp.json\n  \
s3audit check-policy --kind key-policy key-policy.json --key-arn arn:aws:kms:us-east-1:111122223333:key/..."
)]
pub struct CheckPolicyArgs {
    /// The policy documents (JSON), or directories of them (every *.json file under
    /// each): bucket policies as given to PutBucketPolicy, each judged on its own, or with
    /// --kind rcp every RCP on the path root → OU → account
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,

    /// What the documents are
    #[arg(long, value_enum, default_value = "bucket")]
    pub kind: PolicyKind,

    /// The bucket the policy is for (its ARN is what the Resource elements must cover);
    /// required for a bucket policy
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,

    /// With --kind rcp: the account the RCPs protect (fixes aws:ResourceAccount)
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,

    /// With --kind key-policy: the key the policy is attached to (its account is "inside")
    #[arg(long, value_name = "ARN")]
    pub key_arn: Option<String>,

    /// Print one fixed policy (of one FILE) that resolves every failing POL rule at once (statements that
    /// conflict with the fix replaced, keys pinned by ARN, re-checked before it is printed):
    /// the document alone on stdout (or --output), what changed and why on stderr. Exit 0
    /// when every rule passes on it, 1 when something still needs you (e.g. a key ARN)
    #[arg(long)]
    pub fix: bool,

    /// The bucket's default encryption: decides whether uploads without an SSE header need a Deny (POL-003)
    #[arg(long, value_enum, value_name = "MODE", default_value = "none")]
    pub default_sse: DefaultSseArg,

    /// The bucket's default KMS key, if any: the key uploads are pinned to when no allowed list is given (POL-004)
    #[arg(long, value_name = "KEY")]
    pub default_kms_key: Option<String>,

    /// The bucket blocks SSE-C uploads (BlockedEncryptionTypes), so the policy need not deny them
    #[arg(long)]
    pub sse_c_blocked: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub rules: RuleArgs,
}

/// What `check-policy` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyKind {
    /// A bucket policy
    Bucket,
    /// Resource control policies (AWS Organizations)
    Rcp,
    /// A KMS key policy: who outside the key's account may decrypt (KMS-004) or destroy
    /// the key (KMS-005)
    KeyPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefaultSseArg {
    None,
    SseS3,
    SseKms,
    DsseKms,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  s3audit rules\n  s3audit rules --format json\n  \
s3audit rules explain POL-001"
)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: Option<RulesCommand>,

    /// Output format
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: CatalogFormat,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print one rule whole: title, severity, rationale, remediation and the framework
    /// requirements it evidences, with their titles
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The rule id, e.g. POL-001 (`s3audit rules` lists them)
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
#[command(
    after_help = "A catalogue is the slice of a standard's version that bears on what \
s3audit examines (encryption at rest, KMS keys, transmission), not the whole standard; \
requirements s3audit cannot evidence are listed as out of scope with the reason. The \
catalogues are rules/frameworks/<id>.toml; each rule names the requirements it evidences \
(`s3audit rules explain ID`).\n\n\
Examples:\n  s3audit frameworks\n  s3audit frameworks coverage pci-dss-4.0.1\n  \
s3audit frameworks coverage pci-dss-4.0.1 report.json\n  \
s3audit evaluate estate.json --framework aws-fsbp"
)]
pub struct FrameworksArgs {
    #[command(subcommand)]
    pub command: Option<FrameworksCommand>,

    /// Output format
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: CatalogFormat,
}

#[derive(Debug, Subcommand)]
pub enum FrameworksCommand {
    /// Each requirement of a catalogue with the rules that evidence it; given a report,
    /// how those rules fared in it and the requirement's status
    #[command(
        after_help = "Without REPORT, each requirement lists its rules. With REPORT \
(written by `s3audit scan` or `evaluate` with --format json), each rule's findings are \
counted by status and each requirement gets one status: FAIL if any finding of its rules \
fails, ERROR if any could not be evaluated and none fails, pass if some pass and none fails \
or errors, not assessed if the report has no such finding (n/a findings do not count). \
Out-of-scope requirements are listed with the reason."
    )]
    Coverage(CoverageArgs),
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// The catalogue id, e.g. pci-dss-4.0.1 (`s3audit frameworks` lists them)
    #[arg(value_name = "CATALOGUE")]
    pub catalogue: String,

    /// A JSON report of `s3audit scan` or `s3audit evaluate` (--format json) to take the
    /// statuses from
    #[arg(value_name = "REPORT")]
    pub report: Option<PathBuf>,
}

/// `scan --objects-from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectsFrom {
    Auto,
    Head,
    Inventory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeadVia {
    Direct,
    Sdk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    /// One self-contained HTML page (no network access): summary, per-bucket chart,
    /// filterable findings with evidence, KMS keys, scan scope
    Html,
    /// SARIF 2.1.0 for code scanning, check-policy only: results on the policy's lines
    Sarif,
    /// OCSF 1.5.0 Compliance Finding events (class 2003), one per finding, as a JSON array;
    /// scan and evaluate only (also from an --output ending in .ocsf)
    Ocsf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier scan: a JSON report or a snapshot
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The later scan: a JSON report or a snapshot
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: CatalogFormat,

    /// Write the drift here instead of stdout (replaced whole at the end)
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Multi-account scans of `scan` (src/collect/accounts.rs).
#[derive(Debug, Args)]
#[command(next_help_heading = "Accounts (one report for many accounts)")]
pub struct AccountArgs {
    /// Scan every active account of the AWS Organization (ListAccountsForParent from the
    /// root, recursively), from the management or a delegated-administrator account;
    /// suspended or closed accounts are listed as skipped
    #[arg(long, conflicts_with = "accounts")]
    pub organization: bool,

    /// With --organization: only the accounts under this OU (ou-...), recursively
    #[arg(long, value_name = "ID", requires = "organization")]
    pub ou: Option<String>,

    /// Scan the accounts in FILE: one 12-digit id per line, or CSV lines id,name (`#`
    /// comments and an id,name header allowed)
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<PathBuf>,

    /// The role assumed in each account [default: OrganizationAccountAccessRole, the role
    /// Organizations creates; a dedicated read-only role is better: see the README]
    #[arg(long, value_name = "NAME", conflicts_with = "role_arn_template")]
    pub role_name: Option<String>,

    /// The ARN of the role to assume, {partition} and {account} replaced, e.g.
    /// 'arn:{partition}:iam::{account}:role/Audit'
    #[arg(long, value_name = "TEMPLATE")]
    pub role_arn_template: Option<String>,

    /// The external id every AssumeRole passes (the roles' trust policies ask for it)
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,

    /// Accounts scanned at once. They share one object budget: --concurrency HEADs in
    /// flight across all of them (taken in turn), one --max-rps and one --timeout
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub account_concurrency: u16,
}
