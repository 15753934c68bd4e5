//! Policy analyser benchmark: for each adversarial bucket policy of [`shapes`] (each the
//! largest of its shape that fits AWS's 20 KB limit), the wall time of parsing it and
//! evaluating POL-001..004, as `check-policy` and a scan do. Prints one line per shape:
//! size, statements, patterns, the median and the maximum over the iterations, and the
//! verdicts (so that a faster analyser that changed an answer is noticed; `fail*` is a
//! fail without a counterexample).
//!
//! `cargo bench --bench policy_bench [-- OPTIONS]`:
//!   --iters N        iterations per shape (default 21; fewer when one takes over 2 s)
//!   --filter TEXT    only shapes whose name contains TEXT
//!   --write DIR      also write each shape as DIR/NAME.json with DIR/NAME.args (the
//!                    `check-policy` flags for its facts, one per line), for timing the CLI
//!                    (`scripts/bench-policy` does both)
//!
//! A plain `Instant` loop, not criterion: the figures that matter are milliseconds against
//! a 100 ms target, which needs no statistics beyond a median and a maximum.

#![allow(clippy::print_stdout)] // printing the figures is what a benchmark is for

use std::path::PathBuf;
use std::time::{Duration, Instant};

use s3audit::rules::pol::{RULE_IDS, evaluate_all};
use s3audit_policy::parse_policy;

struct Options {
    iters: usize,
    filter: Option<String>,
    write: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        iters: 21,
        filter: None,
        write: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iters" => {
                o.iters = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--iters takes a positive number")
            }
            "--filter" => o.filter = Some(args.next().expect("--filter takes a text")),
            "--write" => o.write = Some(args.next().expect("--write takes a directory").into()),
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            other => panic!("unknown option {other:?} (see benches/policy_bench.rs)"),
        }
    }
    o
}

/// Wildcard patterns in the document: Resource/NotResource and Action/NotAction entries
/// and condition values containing `*` or `?`.
fn patterns(text: &str) -> usize {
    let p = parse_policy(text).expect("shapes are valid policies");
    let wild = |s: &str| s.contains(['*', '?']);
    p.statements
        .iter()
        .map(|s| {
            s.resources.patterns.iter().filter(|r| wild(&r.raw)).count()
                + s.actions.patterns.iter().filter(|a| wild(&a.raw)).count()
                + s.conditions
                    .iter()
                    .flat_map(|c| &c.values)
                    .filter(|v| wild(&v.raw))
                    .count()
        })
        .sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and maximum of `run` over the iterations (fewer when one takes over 2 s).
fn time<T>(iters: usize, mut run: impl FnMut() -> T) -> (usize, f64, f64, T) {
    let mut times = Vec::new();
    let started = Instant::now();
    let mut last;
    loop {
        let t = Instant::now();
        last = run();
        times.push(t.elapsed());
        let enough = times.len() >= iters
            || (started.elapsed() > Duration::from_secs(2) && times.len() >= 3)
            || started.elapsed() > Duration::from_secs(20);
        if enough {
            break;
        }
    }
    times.sort();
    let median = ms(times[times.len() / 2]);
    let max = ms(*times.last().expect("at least one iteration"));
    (times.len(), median, max, last)
}

/// The second table: KMS key policies (KMS-004/005, up to 32 KB) and resource control
/// policies (POL-001/002 across an account, up to 5 KB), from [`other_shapes`].
fn key_policies_and_rcps(o: &Options) {
    use s3audit::rules::kms::key_policy::key_policy_verdicts;
    use s3audit::rules::pol::rcp::evaluate_rcps;
    println!();
    println!(
        "{:<28} {:>6} {:>5} {:>5} {:>10} {:>10}  verdicts",
        "key policy / RCP shape", "bytes", "stmts", "iters", "median ms", "max ms"
    );
    for shape in other_shapes::all() {
        if o.filter.as_ref().is_some_and(|f| !shape.name.contains(f)) {
            continue;
        }
        let (iters, median, max, verdicts) = time(o.iters, || {
            let found = match shape.kind {
                other_shapes::Kind::KeyPolicy => {
                    let policy = parse_policy(&shape.policy).expect("valid");
                    key_policy_verdicts(&policy, other_shapes::KEY_ARN)
                }
                other_shapes::Kind::Rcp => evaluate_rcps(
                    &[("rcp.json".to_string(), shape.policy.clone())],
                    Some("111122223333"),
                )
                .expect("valid"),
            };
            found
                .iter()
                .map(|(_, v)| v.status.as_str().to_string())
                .collect::<Vec<_>>()
        });
        let mark = if verdicts == shape.expect {
            String::new()
        } else {
            format!("  (expected {})", shape.expect.join("/"))
        };
        println!(
            "{:<28} {:>6} {:>5} {:>5} {:>10.2} {:>10.2}  {}{mark}",
            shape.name,
            shape.policy.len(),
            parse_policy(&shape.policy).expect("valid").statements.len(),
            iters,
            median,
            max,
            verdicts.join("/"),
        );
    }
}

fn main() {
    let o = options();
    if let Some(dir) = &o.write {
        std::fs::create_dir_all(dir).expect("create the --write directory");
    }
    println!(
        "{:<28} {:>6} {:>5} {:>8} {:>5} {:>10} {:>10}  verdicts POL-001..004",
        "shape", "bytes", "stmts", "patterns", "iters", "median ms", "max ms"
    );
    for shape in shapes::all() {
        if o.filter.as_ref().is_some_and(|f| !shape.name.contains(f)) {
            continue;
        }
        if let Some(dir) = &o.write {
            let config = dir.join(format!("{}.toml", shape.name));
            let (args, toml) = shapes::cli_args(&shape, &config.to_string_lossy());
            std::fs::write(dir.join(format!("{}.json", shape.name)), &shape.policy)
                .expect("write the policy");
            std::fs::write(
                dir.join(format!("{}.args", shape.name)),
                args.join("\n") + "\n",
            )
            .expect("write the flags");
            if let Some(toml) = toml {
                std::fs::write(&config, toml).expect("write the config");
            }
        }
        let mut times = Vec::new();
        let mut verdicts = Vec::new();
        let started = Instant::now();
        while times.len() < o.iters {
            let t = Instant::now();
            let outcomes = evaluate_all(Some(&shape.policy), &shape.facts);
            times.push(t.elapsed());
            // POL-001..004: POL-005 (lockout) is not part of the shapes' expectations.
            verdicts = outcomes
                .iter()
                .take(4)
                .map(|(_, o)| {
                    let shown = o.status.as_str().to_string();
                    match o.evidence.to_json().get("counterexample") {
                        Some(serde_json::Value::Null) => format!("{shown}*"),
                        _ => shown,
                    }
                })
                .collect();
            if started.elapsed() > Duration::from_secs(2) && times.len() >= 3 {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        times.sort();
        let expected: Vec<String> = shape
            .expect
            .iter()
            .zip(RULE_IDS)
            .map(|(status, rule)| {
                let conservative = *status == "fail" && shape.conservative.contains(&rule.as_str());
                format!("{status}{}", if conservative { "*" } else { "" })
            })
            .collect();
        let mark = if verdicts == expected {
            String::new()
        } else {
            format!("  (expected {})", expected.join("/"))
        };
        println!(
            "{:<28} {:>6} {:>5} {:>8} {:>5} {:>10.2} {:>10.2}  {}{mark}",
            shape.name,
            shape.policy.len(),
            parse_policy(&shape.policy).expect("valid").statements.len(),
            patterns(&shape.policy),
            times.len(),
            ms(times[times.len() / 2]),
            ms(*times.last().expect("at least one iteration")),
            verdicts.join("/"),
        );
    }
    key_policies_and_rcps(&o);
}

/// Adversarial bucket policies: each the largest document of one shape that fits AWS's
/// 20 KB bucket-policy limit, built to hit one place where the analyser's work could grow
/// with the size of the policy (many wildcard patterns, many statements, long value lists,
/// many condition keys or principals, a witness search with no solution).
///
/// `tests/policy_corpus.rs` includes this file and checks their verdicts, so that what is
/// measured is what is tested. Documents are generated rather than stored: they are large,
/// and the generator says what each one is made of.
pub mod shapes {

    use serde_json::{Value, json};

    use s3audit::rules::pol::{DefaultSse, PolicyFacts};
    use s3audit_policy::actions;

    /// AWS's size limit for a bucket policy, in bytes.
    pub const MAX_POLICY_BYTES: usize = 20 * 1024;

    /// The bucket every shape is evaluated for.
    pub const BUCKET: &str = "b";

    /// One adversarial document and the verdicts AWS's evaluation logic gives it.
    pub struct Shape {
        pub name: &'static str,
        /// What the shape is made of and which part of the analysis it stresses.
        pub what: &'static str,
        /// Compact JSON, at most [`MAX_POLICY_BYTES`].
        pub policy: String,
        pub facts: PolicyFacts,
        /// POL-001..004 statuses (`pass`, `fail`, `not_applicable`).
        pub expect: [&'static str; 4],
        /// Rules whose fail has no counterexample: the denial may hold through a combination
        /// of statements the analyser does not prove (see `policy::analyze`).
        pub conservative: &'static [&'static str],
    }

    /// A deterministic stream of short words, so that every pattern of a shape is distinct
    /// and the documents are the same on every run.
    struct Words(u64);

    impl Words {
        fn next(&mut self, min: usize, max: usize) -> String {
            let mut pick = |n: u64| {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (self.0 >> 33) % n
            };
            let len = min + pick((max - min + 1) as u64) as usize;
            (0..len).map(|_| (b'a' + pick(8) as u8) as char).collect()
        }
    }

    /// The largest `n` for which `build(n)` fits the size limit (and `build(n)` itself).
    fn fill(build: impl Fn(usize) -> Value) -> String {
        let fits = |n: usize| {
            let text = build(n).to_string();
            (text.len() <= MAX_POLICY_BYTES).then_some(text)
        };
        let (mut lo, mut hi) = (1, 1);
        while fits(hi).is_some() {
            lo = hi;
            hi *= 2;
        }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if fits(mid).is_some() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        fits(lo).expect("one statement fits")
    }

    fn policy(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn insecure_transport() -> Value {
        json!({"Bool": {"aws:SecureTransport": "false"}})
    }

    fn both_arns() -> Value {
        json!([
            format!("arn:aws:s3:::{BUCKET}"),
            format!("arn:aws:s3:::{BUCKET}/*")
        ])
    }

    fn deny(principal: Value, action: Value, resource: Value, condition: Value) -> Value {
        json!({"Effect": "Deny", "Principal": principal, "Action": action, "Resource": resource, "Condition": condition})
    }

    fn object_patterns(n: usize, seed: u64) -> Vec<String> {
        let mut w = Words(seed);
        (0..n)
            .map(|_| {
                format!(
                    "arn:aws:s3:::{BUCKET}/{}*{}*{}?{}*",
                    w.next(1, 2),
                    w.next(1, 2),
                    w.next(1, 2),
                    w.next(1, 2)
                )
            })
            .collect()
    }

    fn s3_actions() -> Vec<String> {
        actions::all()
            .iter()
            .filter(|a| a.scope.bucket || a.scope.object)
            .map(|a| a.name.clone())
            .collect()
    }

    fn key_arn(i: usize) -> String {
        format!("arn:aws:kms:us-east-1:111122223333:key/{i:08x}-1111-2222-3333-444455556666")
    }

    fn facts() -> PolicyFacts {
        PolicyFacts::new(BUCKET)
    }

    /// `n` Deny statements, each on three condition keys of its own and a NotAction of its
    /// own, then four that split two keys' values between them (see `search-exhaust`), all
    /// for plain HTTP only when `tls`.
    fn split_keys(n: usize, tls: bool) -> Value {
        let acts = s3_actions();
        let with_tls = |mut cond: serde_json::Map<String, Value>| {
            if tls {
                cond.insert("Bool".into(), json!({"aws:SecureTransport": "false"}));
            }
            Value::Object(cond)
        };
        let mut stmts: Vec<Value> = (0..n)
            .map(|i| {
                let mut cond = serde_json::Map::new();
                cond.insert(
                    "StringEquals".into(),
                    json!({
                        format!("aws:RequestTag/a{i}"): "x",
                        format!("aws:RequestTag/b{i}"): "y",
                        format!("aws:RequestTag/c{i}"): "z",
                    }),
                );
                json!({"Effect": "Deny", "Principal": "*", "NotAction": acts[i % acts.len()],
                    "Resource": both_arns(), "Condition": with_tls(cond)})
            })
            .collect();
        for (k, m) in [
            ("StringEquals", "StringEquals"),
            ("StringNotEquals", "StringEquals"),
            ("StringEquals", "StringNotEquals"),
            ("StringNotEquals", "StringNotEquals"),
        ] {
            let mut cond = serde_json::Map::new();
            cond.entry(k).or_insert_with(|| json!({}))["aws:RequestTag/k"] = json!("a");
            cond.entry(m).or_insert_with(|| json!({}))["aws:RequestTag/m"] = json!("b");
            stmts.push(deny(json!("*"), json!("s3:*"), both_arns(), with_tls(cond)));
        }
        policy(stmts)
    }

    /// Every shape.
    pub fn all() -> Vec<Shape> {
        let mut out = Vec::new();

        out.push(Shape {
            name: "resource-wildcards",
            what: "one TLS Deny whose Resource lists the bucket and hundreds of object patterns like b/a*b*c?d*: object coverage and witness keys over the pattern set",
            policy: fill(|n| {
                let mut r = vec![json!(format!("arn:aws:s3:::{BUCKET}"))];
                r.extend(object_patterns(n, 1).into_iter().map(Value::from));
                policy(vec![deny(json!("*"), json!("s3:*"), Value::Array(r), insecure_transport())])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "resource-wildcards-covering",
            what: "the same, plus b/? and b/??*: together (and only together) they cover every key, so POL-001 passes",
            policy: fill(|n| {
                let mut r = vec![json!(format!("arn:aws:s3:::{BUCKET}"))];
                r.extend(object_patterns(n, 2).into_iter().map(Value::from));
                r.push(json!(format!("arn:aws:s3:::{BUCKET}/?")));
                r.push(json!(format!("arn:aws:s3:::{BUCKET}/??*")));
                policy(vec![deny(json!("*"), json!("s3:*"), Value::Array(r), insecure_transport())])
            }),
            facts: facts(),
            expect: ["pass", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "notresource-wildcards",
            what: "a TLS Deny with a NotResource list of hundreds of patterns with a wildcard right after arn:aws:s3::: (each may match some object of the bucket)",
            policy: fill(|n| {
                let mut w = Words(3);
                let r: Vec<Value> = (0..n)
                    .map(|_| {
                        json!(format!(
                            "arn:aws:s3:::*{}*{}?/{}*{}",
                            w.next(1, 2),
                            w.next(1, 2),
                            w.next(1, 2),
                            w.next(1, 2)
                        ))
                    })
                    .collect();
                policy(vec![json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "NotResource": r, "Condition": insecure_transport()})])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "many-statements",
            what: "a hundred TLS Deny statements, each for two actions of its own and two wildcard object patterns of its own: many distinct sub-classes to decide",
            policy: fill(|n| {
                let acts = s3_actions();
                let stmts = (0..n)
                    .map(|i| {
                        let p = object_patterns(2, 100 + i as u64);
                        deny(
                            json!("*"),
                            json!([acts[(2 * i) % acts.len()], acts[(2 * i + 1) % acts.len()]]),
                            json!([format!("arn:aws:s3:::{BUCKET}"), p[0], p[1]]),
                            insecure_transport(),
                        )
                    })
                    .collect();
                policy(stmts)
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "notaction-statements",
            what: "a hundred TLS Deny statements, each with NotAction naming one action: every action is denied by all but one, so POL-001 passes, through a different set of statements for each action",
            policy: fill(|n| {
                let acts = s3_actions();
                let stmts = (0..n)
                    .map(|i| {
                        json!({"Effect": "Deny", "Principal": "*", "NotAction": acts[i % acts.len()],
                            "Resource": both_arns(), "Condition": insecure_transport()})
                    })
                    .collect();
                policy(stmts)
            }),
            facts: facts(),
            expect: ["pass", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "notaction-lists",
            what: "eight TLS Deny statements with long NotAction lists (names and wildcards), each excluding a different slice of the catalog: every action is denied by the other seven",
            policy: fill(|n| {
                let acts = s3_actions();
                let stmts = (0..8)
                    .map(|s| {
                        let mut list: Vec<Value> = acts
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| i % 8 == s)
                            .map(|(_, a)| json!(a))
                            .collect();
                        let mut w = Words(40 + s as u64);
                        list.extend((0..n).map(|_| json!(format!("s3express:{}*{}?", w.next(1, 3), w.next(1, 3)))));
                        json!({"Effect": "Deny", "Principal": "*", "NotAction": list,
                            "Resource": both_arns(), "Condition": insecure_transport()})
                    })
                    .collect();
                policy(stmts)
            }),
            facts: facts(),
            expect: ["pass", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "notaction-keys",
            what: "a hundred TLS Deny statements, each with a NotAction of its own and a condition key of its own that the request must set to escape it: every action has a witness, a different one, so the witnesses of earlier actions do not carry over",
            policy: fill(|n| {
                let acts = s3_actions();
                let stmts = (0..n)
                    .map(|i| {
                        json!({"Effect": "Deny", "Principal": "*", "NotAction": acts[i % acts.len()],
                            "Resource": both_arns(), "Condition": {
                                "Bool": {"aws:SecureTransport": "false"},
                                "StringNotEquals": {format!("aws:RequestTag/t{i}"): "v"}}})
                    })
                    .collect();
                policy(stmts)
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "stringlike-many",
            what: "a TLS Deny narrowed by StringLikeIfExists on aws:SourceVpce with hundreds of wildcard patterns: universality of the value set and candidate values for the witness",
            policy: fill(|n| {
                let mut w = Words(5);
                let vals: Vec<String> = (0..n)
                    .map(|_| format!("vpce-{}*{}?{}*", w.next(1, 2), w.next(1, 2), w.next(1, 2)))
                    .collect();
                policy(vec![deny(
                    json!("*"),
                    json!("s3:*"),
                    both_arns(),
                    json!({"Bool": {"aws:SecureTransport": "false"}, "StringLikeIfExists": {"aws:SourceVpce": vals}}),
                )])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "stringlike-universal",
            what: "the same plus \"\" and \"?*\": together the patterns match every value, so the condition always holds and POL-001 passes",
            policy: fill(|n| {
                let mut w = Words(6);
                let mut vals: Vec<String> = (0..n)
                    .map(|_| format!("vpce-{}*{}?{}*", w.next(1, 2), w.next(1, 2), w.next(1, 2)))
                    .collect();
                vals.push(String::new());
                vals.push("?*".to_string());
                policy(vec![deny(
                    json!("*"),
                    json!("s3:*"),
                    both_arns(),
                    json!({"Bool": {"aws:SecureTransport": "false"}, "StringLikeIfExists": {"aws:SourceVpce": vals}}),
                )])
            }),
            facts: facts(),
            expect: ["pass", "fail", "fail", "fail"],
            conservative: &[],
        });

        let many_allowed: Vec<String> = (0..500).map(key_arn).collect();

        out.push(Shape {
            name: "kms-notlike-many",
            what: "a key-pinning Deny whose StringNotLikeIfExists lists hundreds of key-id patterns, with 500 allowed keys configured",
            policy: fill(|n| {
                let mut w = Words(7);
                let vals: Vec<String> = (0..n)
                    .map(|_| format!("arn:aws:kms:*:111122223333:key/{}*{}?", w.next(1, 3), w.next(1, 3)))
                    .collect();
                policy(vec![deny(
                    json!("*"),
                    json!("s3:PutObject"),
                    json!(format!("arn:aws:s3:::{BUCKET}/*")),
                    json!({"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]},
                        "StringNotLikeIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": vals}}),
                )])
            }),
            facts: PolicyFacts {
                allowed_keys: many_allowed.clone(),
                ..facts()
            },
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "allowed-keys-500",
            what: "500 allowed keys configured (1000 references with their key ids) and a pinning Deny listing as many of them as fit: POL-004 passes",
            policy: fill(|n| {
                let keys: Vec<String> = (0..n).map(key_arn).collect();
                policy(vec![deny(
                    json!("*"),
                    json!("s3:PutObject"),
                    json!(format!("arn:aws:s3:::{BUCKET}/*")),
                    json!({"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]},
                        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": keys}}),
                )])
            }),
            facts: PolicyFacts {
                allowed_keys: many_allowed.clone(),
                ..facts()
            },
            expect: ["fail", "fail", "fail", "pass"],
            conservative: &[],
        });

        out.push(Shape {
            name: "allowed-keys-500-unlisted",
            what: "500 allowed keys configured and a pinning Deny listing other keys: POL-004 fails with one of those keys",
            policy: fill(|n| {
                let keys: Vec<String> = (0..n).map(|i| key_arn(10_000 + i)).collect();
                policy(vec![deny(
                    json!("*"),
                    json!("s3:PutObject"),
                    json!(format!("arn:aws:s3:::{BUCKET}/*")),
                    json!({"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]},
                        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": keys}}),
                )])
            }),
            facts: PolicyFacts {
                allowed_keys: many_allowed,
                ..facts()
            },
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "many-condition-keys",
            what: "a TLS Deny narrowed by hundreds of StringEqualsIfExists condition keys: one search dimension per key",
            policy: fill(|n| {
                let keys: serde_json::Map<String, Value> = (0..n)
                    .map(|i| (format!("aws:RequestTag/t{i}"), json!(format!("v{i}"))))
                    .collect();
                policy(vec![deny(
                    json!("*"),
                    json!("s3:*"),
                    both_arns(),
                    json!({"Bool": {"aws:SecureTransport": "false"}, "StringEqualsIfExists": keys}),
                )])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "many-principals",
            what: "a TLS Deny for a thousand accounts: thousands of principal candidates, each checked against the list",
            policy: fill(|n| {
                let accounts: Vec<String> = (0..n).map(|i| format!("{:012}", 100_000_000_000u64 + i as u64)).collect();
                policy(vec![deny(json!({"AWS": accounts}), json!("s3:*"), both_arns(), insecure_transport())])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "many-notprincipals",
            what: "a TLS Deny with NotPrincipal exempting hundreds of roles and their accounts",
            policy: fill(|n| {
                let mut list = Vec::new();
                for i in 0..n {
                    let acct = format!("{:012}", 200_000_000_000u64 + i as u64);
                    list.push(format!("arn:aws:iam::{acct}:role/r{i}"));
                    list.push(format!("arn:aws:iam::{acct}:root"));
                }
                policy(vec![
                    json!({"Effect": "Deny", "NotPrincipal": {"AWS": list}, "Action": "s3:*",
                    "Resource": both_arns(), "Condition": insecure_transport()}),
                ])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "arnlike-many",
            what: "a TLS Deny narrowed by ArnLikeIfExists on aws:SourceArn with hundreds of ARN patterns, each matched component by component",
            policy: fill(|n| {
                let mut w = Words(8);
                let vals: Vec<String> = (0..n)
                    .map(|_| format!("arn:aws:*:{}*:1111222233?3:{}*/{}?", w.next(1, 2), w.next(1, 2), w.next(1, 2)))
                    .collect();
                policy(vec![deny(
                    json!("*"),
                    json!("s3:*"),
                    both_arns(),
                    json!({"Bool": {"aws:SecureTransport": "false"}, "ArnLikeIfExists": {"aws:SourceArn": vals}}),
                )])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "long-patterns",
            what: "object patterns of thousands of characters, b/*aaa…ab and b/aaa…a, the worst case for matching a wildcard by backtracking, with b/s* so that the usual key is covered and the long ones must be tried",
            policy: fill(|n| {
                policy(vec![deny(
                    json!("*"),
                    json!("s3:*"),
                    json!([
                        format!("arn:aws:s3:::{BUCKET}"),
                        format!("arn:aws:s3:::{BUCKET}/s*"),
                        format!("arn:aws:s3:::{BUCKET}/*{}b", "a".repeat(n)),
                        format!("arn:aws:s3:::{BUCKET}/{}", "a".repeat(1_000)),
                    ]),
                    insecure_transport(),
                )])
            }),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &[],
        });

        out.push(Shape {
            name: "search-exhaust",
            what: "dozens of TLS Deny statements, each on three condition keys of its own and a NotAction of its own, then four that split two keys between them: no single statement covers, no request escapes them all, and the witness search has exponentially many partial requests to reject for every action",
            policy: fill(|n| split_keys(n, true)),
            facts: facts(),
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &["POL-001"],
        });

        out.push(Shape {
            name: "search-exhaust-all-rules",
            what: "the same without the TLS condition, and with allowed keys configured: every rule's witness search is the hard one",
            policy: fill(|n| split_keys(n, false)),
            facts: PolicyFacts {
                allowed_keys: vec![key_arn(1)],
                ..facts()
            },
            expect: ["fail", "fail", "fail", "fail"],
            conservative: &["POL-001", "POL-002", "POL-003", "POL-004"],
        });

        for s in &out {
            assert!(
                s.policy.len() <= MAX_POLICY_BYTES,
                "{}: {} bytes",
                s.name,
                s.policy.len()
            );
        }
        out
    }

    /// The command-line flags `s3audit check-policy` needs to evaluate a shape with its facts
    /// (the allowed keys go in a config file, written next to the policy).
    pub fn cli_args(shape: &Shape, config_path: &str) -> (Vec<String>, Option<String>) {
        let mut args = vec!["--bucket".to_string(), shape.facts.target.bucket.clone()];
        let sse = match shape.facts.default_sse {
            DefaultSse::None | DefaultSse::Unknown => "none",
            DefaultSse::SseS3 => "sse-s3",
            DefaultSse::SseKms => "sse-kms",
            DefaultSse::DsseKms => "dsse-kms",
        };
        args.extend(["--default-sse".to_string(), sse.to_string()]);
        if let Some(k) = shape.facts.default_key.first() {
            args.extend(["--default-kms-key".to_string(), k.clone()]);
        }
        if shape.facts.allowed_keys.is_empty() {
            return (args, None);
        }
        args.extend(["--config".to_string(), config_path.to_string()]);
        let list: Vec<String> = shape
            .facts
            .allowed_keys
            .iter()
            .map(|k| format!("{k:?}"))
            .collect();
        (
            args,
            Some(format!("allowed_kms_keys = [{}]\n", list.join(", "))),
        )
    }
}

/// Adversarial KMS key policies (AWS's limit: 32 KB) and resource control policies (5 KB),
/// each the largest of its shape. The key-policy questions probe every principal,
/// organization and `kms:ViaService` value the policy names, so these shapes name as many
/// of each as fit.
pub mod other_shapes {
    use serde_json::{Value, json};

    pub const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;
    pub const MAX_RCP_BYTES: usize = 5 * 1024;
    pub const KEY_ARN: &str =
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    pub enum Kind {
        KeyPolicy,
        Rcp,
    }

    pub struct Shape {
        pub name: &'static str,
        pub kind: Kind,
        pub policy: String,
        /// KMS-004/005, or POL-001/002 for an RCP.
        pub expect: Vec<String>,
    }

    /// The largest `n` for which `build(n)` fits `limit`.
    fn fill(limit: usize, build: impl Fn(usize) -> Value) -> String {
        let fits = |n: usize| {
            let text = build(n).to_string();
            (text.len() <= limit).then_some(text)
        };
        let mut n = 1;
        while fits(n * 2).is_some() {
            n *= 2;
        }
        let mut step = n / 2;
        while step > 0 {
            if fits(n + step).is_some() {
                n += step;
            }
            step /= 2;
        }
        fits(n).expect("one statement fits")
    }

    fn doc(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn root() -> Value {
        json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"})
    }

    fn account(i: usize) -> String {
        format!("{:012}", 200_000_000_000u64 + i as u64)
    }

    fn expect(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    pub fn all() -> Vec<Shape> {
        let key = |name, policy, e: &[&str]| Shape {
            name,
            kind: Kind::KeyPolicy,
            policy,
            expect: expect(e),
        };
        let rcp = |name, policy, e: &[&str]| Shape {
            name,
            kind: Kind::Rcp,
            policy,
            expect: expect(e),
        };
        vec![
            // One statement per foreign role: a probe per principal, each asked of every
            // statement.
            key(
                "key-principals-stmts",
                fill(MAX_KEY_POLICY_BYTES, |n| {
                    let mut st = vec![root()];
                    st.extend((0..n).map(|i| {
                        json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:role/r{i}", account(i))}, "Action": ["kms:Decrypt", "kms:CreateGrant"], "Resource": "*"})
                    }));
                    doc(st)
                }),
                &["pass", "pass"],
            ),
            // One statement naming every foreign account at once.
            key(
                "key-principals-one-stmt",
                fill(MAX_KEY_POLICY_BYTES, |n| {
                    let who: Vec<String> = (0..n).map(account).collect();
                    doc(vec![
                        root(),
                        json!({"Effect": "Allow", "Principal": {"AWS": who}, "Action": "kms:*", "Resource": "*"}),
                    ])
                }),
                &["pass", "fail"],
            ),
            // Every statement its own kms:ViaService and organization: probes × services.
            key(
                "key-via-services-orgs",
                fill(MAX_KEY_POLICY_BYTES, |n| {
                    let mut st = vec![root()];
                    st.extend((0..n).map(|i| {
                        json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": format!("s{i}.us-east-1.amazonaws.com"), "aws:PrincipalOrgID": format!("o-{i:010}")}}})
                    }));
                    doc(st)
                }),
                &["pass", "pass"],
            ),
            // Principals, services and Denies together: the product of all three.
            key(
                "key-mixed-denies",
                fill(MAX_KEY_POLICY_BYTES, |n| {
                    let mut st = vec![root()];
                    for i in 0..n {
                        st.push(json!({"Effect": "Allow", "Principal": {"AWS": account(i)}, "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": format!("s{i}.us-east-1.amazonaws.com")}}}));
                        st.push(json!({"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*", "Condition": {"StringNotEquals": {"kms:CallerAccount": account(i)}}}));
                    }
                    doc(st)
                }),
                &["pass", "pass"],
            ),
            // AWS's EnforceSecureTransport RCP, then as many Denies for other services'
            // actions as fit.
            rcp(
                "rcp-many-statements",
                fill(MAX_RCP_BYTES, |n| {
                    let mut st = vec![
                        json!({"Sid": "EnforceSecureTransport", "Effect": "Deny", "Principal": "*", "Action": ["s3:*", "sqs:*", "kms:*", "sts:*", "secretsmanager:*"], "Resource": "*", "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}),
                    ];
                    st.extend((0..n).map(|i| {
                        json!({"Effect": "Deny", "Principal": "*", "Action": format!("s3:Get{i}*"), "Resource": format!("arn:aws:s3:::b{i}-*/*"), "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}})
                    }));
                    doc(st)
                }),
                &["pass", "fail"],
            ),
            // One Deny with as many wildcard resources as fit: none covers every bucket.
            rcp(
                "rcp-resource-wildcards",
                fill(MAX_RCP_BYTES, |n| {
                    let res: Vec<String> =
                        (0..n).map(|i| format!("arn:aws:s3:::*{i}*?/*")).collect();
                    doc(vec![
                        json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": res, "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}),
                    ])
                }),
                &["fail", "fail"],
            ),
            // The TLS floor with as many exempted principals as fit.
            rcp(
                "rcp-exempt-principals",
                fill(MAX_RCP_BYTES, |n| {
                    let arns: Vec<String> = (0..n)
                        .map(|i| format!("arn:aws:iam::*:role/r{i}*"))
                        .collect();
                    doc(vec![
                        json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}, "ArnNotLikeIfExists": {"aws:PrincipalArn": arns}}}),
                    ])
                }),
                &["fail", "fail"],
            ),
        ]
    }
}
