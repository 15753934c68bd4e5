//! The `fakes3` binary: ready line, serving, exit on stdin EOF, --print-expected.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, blocks, first};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_ready_serves_and_exits_on_stdin_eof() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fakes3"))
        .args([
            "--seed",
            "5",
            "--bucket",
            "cli-a:1200:2",
            "--bucket",
            "cli-b:10",
            "--mix",
            "sse_kms=1,sse_c=1",
            "--awkward",
            "--denied",
            "3",
            "--exit-on-stdin-eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let endpoint = line
        .trim_end()
        .strip_prefix("FAKES3_READY ")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    let mut c = Client::new(&endpoint);
    let x = c.get("/").await.text();
    let names: Vec<String> = blocks(&x, "Bucket")
        .iter()
        .map(|b| first(b, "Name").unwrap())
        .collect();
    assert_eq!(names, ["cli-a", "cli-b"]);
    let x = c.get("/cli-a?versioning").await.text();
    assert!(x.contains("<Status>Enabled</Status>"));
    let expected: serde_json::Value =
        serde_json::from_slice(&c.get("/__fakes3/expected").await.body).unwrap();
    assert_eq!(expected["cli-a"]["keys"], 1200);
    assert_eq!(expected["cli-a"]["denied_objects"], 3);
    let cur = &expected["cli-a"]["current"];
    assert_eq!(cur["total"], 1200);
    let sum = ["sse_kms", "sse_c", "unreadable"]
        .iter()
        .map(|k| cur[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(sum, 1200);
    assert_eq!(cur["unreadable"], 3);

    drop(child.stdin.take()); // EOF
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "did not exit on stdin EOF"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn print_expected_and_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_fakes3"))
        .args([
            "--bucket",
            "x-1:100",
            "--mix",
            "sse_s3=1",
            "--print-expected",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["x-1"]["current"]["sse_s3"], 100);

    for bad in [
        vec!["--bucket", "Bad_Name:10"],
        vec!["--bucket", "ok-name"],
        vec!["--mix", "rot13=1"],
        vec!["--slowdown", "1.5"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fakes3"))
            .args(&bad)
            .arg("--print-expected")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}
