//! `fakes3`: serve synthetic S3 buckets on loopback for tests, demos and benchmarks.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;

/// mimalloc: glibc malloc and free were 15 % of the server's CPU in the 1M-object bench,
/// where it shares two cores with the scanner it serves.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use fakes3::{BucketSpec, Config, DefaultEncryption, Faults, Latency, ModeMix, SseAlgorithm};

/// A fast, deterministic fake of the read-only S3 (+ KMS, STS) surface s3audit uses.
///
/// Prints `FAKES3_READY http://127.0.0.1:PORT` on stdout once listening; exits on
/// SIGTERM / SIGINT (or stdin EOF with --exit-on-stdin-eof).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Port to bind (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Seed for every synthetic attribute and fault draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A bucket, `name:objects[:versions]`; repeatable. Default: `fakes3-bucket:1000`.
    #[arg(long = "bucket", value_name = "NAME:OBJECTS[:VERSIONS]")]
    buckets: Vec<String>,
    /// Region of every bucket.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Encryption mode weights.
    #[arg(long, default_value = "none=1,sse_s3=1,sse_kms=6,dsse_kms=1,sse_c=1")]
    mix: ModeMix,
    /// KMS key ARN used by SSE-KMS / DSSE-KMS objects; repeatable. Default: one key per
    /// bucket, derived from its name.
    #[arg(long = "kms-key", value_name = "ARN")]
    kms_keys: Vec<String>,
    /// Default bucket encryption: `none`, `aes256`, `kms[:KEY]` or `dsse[:KEY]`.
    #[arg(long, default_value = "none")]
    default_encryption: String,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Latency of each object listing page (ListObjectsV2 / ListObjects /
    /// ListObjectVersions) in milliseconds, in place of --latency-ms: S3 takes tens of ms
    /// per page of 1,000 keys. 0: listings get --latency-ms like every call.
    #[arg(long, default_value_t = 30)]
    list_latency_ms: u64,
    /// S3's per-prefix limit on object reads (HEAD, GET) per second: above it the
    /// prefix (the key up to its first `/`) answers 503 SlowDown. S3's is 5,500.
    #[arg(long, value_name = "PER_SECOND")]
    head_rate_per_prefix: Option<u32>,
    /// Spread each bucket's synthetic keys over N first-level prefixes of uneven size
    /// (`pGGGGG/NNNNNNNNNN.bin`); 0 keeps them all under `data/`.
    #[arg(long, default_value_t = 0)]
    prefixes: u32,
    /// Uniform jitter (±) around --latency-ms, in milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Probability of 503 SlowDown per list/HEAD request.
    #[arg(long, default_value_t = 0.0)]
    slowdown: f64,
    /// Probability of 500 InternalError per list/HEAD request.
    #[arg(long, default_value_t = 0.0)]
    errors: f64,
    /// Probability of a connection reset (no response) per list/HEAD request.
    #[arg(long, default_value_t = 0.0)]
    resets: f64,
    /// Apply the fault probabilities to every operation, not only listings and HEAD.
    #[arg(long)]
    faults_everywhere: bool,
    /// Run the fake's clock this many seconds ahead (negative: behind); S3 requests signed
    /// more than 15 minutes away from it get 403 RequestTimeTooSkewed.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset_secs: i64,
    /// Include hostile keys (spaces, +, %, unicode, trailing slash, ...).
    #[arg(long)]
    awkward: bool,
    /// Objects per bucket whose HEAD answers 403.
    #[arg(long, default_value_t = 0)]
    denied: u64,
    /// Objects per versioned bucket whose latest version is a delete marker.
    #[arg(long, default_value_t = 0)]
    delete_markers: u64,
    /// SSE-KMS objects report the S3 Bucket Key as enabled.
    #[arg(long)]
    bucket_key: bool,
    /// Some objects in non-STANDARD storage classes.
    #[arg(long)]
    storage_classes: bool,
    /// Exit when stdin reaches EOF (for a parent process that may die).
    #[arg(long)]
    exit_on_stdin_eof: bool,
    /// Print the expected counts of every bucket as JSON and exit without serving.
    #[arg(long)]
    print_expected: bool,
}

fn parse_default_encryption(s: &str) -> Result<Option<DefaultEncryption>, String> {
    let (alg, key) = match s.split_once(':') {
        Some((a, k)) => (a, Some(k.to_owned())),
        None => (s, None),
    };
    let algorithm = match alg.to_ascii_lowercase().as_str() {
        "none" => return Ok(None),
        "aes256" | "sse_s3" => SseAlgorithm::Aes256,
        "kms" | "aws:kms" | "sse_kms" => SseAlgorithm::AwsKms,
        "dsse" | "aws:kms:dsse" | "dsse_kms" => SseAlgorithm::AwsKmsDsse,
        other => return Err(format!("unknown default encryption {other:?}")),
    };
    Ok(Some(DefaultEncryption {
        algorithm,
        kms_key: key,
        bucket_key: false,
        block_sse_c: false,
    }))
}

fn build_config(a: &Args) -> Result<Config, String> {
    let default_enc = parse_default_encryption(&a.default_encryption)?;
    let specs = if a.buckets.is_empty() {
        vec!["fakes3-bucket:1000".to_owned()]
    } else {
        a.buckets.clone()
    };
    let mut config = Config::new(a.seed).clock_offset_secs(a.clock_offset_secs);
    config.bind = SocketAddr::new(a.host, a.port);
    config.latency = Latency {
        base_ms: a.latency_ms,
        jitter_ms: a.jitter_ms,
    };
    config.list_page_ms = a.list_latency_ms;
    config.head_rate_per_prefix = a.head_rate_per_prefix;
    config.faults = Faults {
        slowdown_503: a.slowdown,
        internal_500: a.errors,
        reset: a.resets,
        all_operations: a.faults_everywhere,
    };
    for s in specs {
        let parts: Vec<&str> = s.split(':').collect();
        let (name, objects, versions) = match parts.as_slice() {
            [n, o] => (*n, *o, "1"),
            [n, o, v] => (*n, *o, *v),
            _ => return Err(format!("--bucket {s:?}: expected NAME:OBJECTS[:VERSIONS]")),
        };
        let objects: u64 = objects
            .replace('_', "")
            .parse()
            .map_err(|e| format!("--bucket {s:?}: objects: {e}"))?;
        let versions: u32 = versions
            .parse()
            .map_err(|e| format!("--bucket {s:?}: versions: {e}"))?;
        let mut b = BucketSpec::new(name, objects)
            .region(a.region.clone())
            .versions(versions)
            .mix(a.mix)
            .kms_keys(a.kms_keys.clone())
            .awkward(a.awkward)
            .denied(a.denied.min(objects))
            .prefixes(a.prefixes);
        if versions > 1 {
            b.delete_markers = a.delete_markers.min(objects);
        }
        b.bucket_key = a.bucket_key;
        b.storage_classes = a.storage_classes;
        b.default_encryption = default_enc.clone();
        config.buckets.push(b);
    }
    config.validate()?;
    Ok(config)
}

async fn wait_for_exit(stdin_eof: bool) {
    let stdin = async {
        if stdin_eof {
            let mut buf = vec![0u8; 4096];
            let mut input = tokio::io::stdin();
            loop {
                match tokio::io::AsyncReadExt::read(&mut input, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = stdin => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fakes3: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_expected {
        let all: std::collections::BTreeMap<&str, fakes3::Expected> = config
            .buckets
            .iter()
            .map(|b| (b.name.as_str(), config.expected(&b.name)))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&all).expect("serialisable")
        );
        return ExitCode::SUCCESS;
    }
    let server = match fakes3::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fakes3: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "FAKES3_READY {}", server.endpoint());
        let _ = out.flush();
    }
    wait_for_exit(args.exit_on_stdin_eof).await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
