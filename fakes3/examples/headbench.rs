//! HEAD throughput against fakes3, over keep-alive HTTP/1.1 connections.
//!
//! In-process (server and load generator share one tokio runtime):
//!     cargo run --release --example headbench -- [CONNECTIONS] [SECONDS] [LATENCY_MS]
//! Against a running `fakes3 --bucket bench:100000` (separate process):
//!     FAKES3_ENDPOINT=http://127.0.0.1:PORT cargo run --release --example headbench -- 64 5

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

fn encode(key: &str) -> String {
    let mut out = String::new();
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let conns: usize = args.first().map_or(Ok(64), |s| s.parse())?;
    let secs: u64 = args.get(1).map_or(Ok(5), |s| s.parse())?;
    let latency_ms: u64 = args.get(2).map_or(Ok(0), |s| s.parse())?;
    let objects = 100_000u64;
    let config = fakes3::Config::new(0)
        .bucket(fakes3::BucketSpec::new("bench", objects))
        .latency(fakes3::Latency {
            base_ms: latency_ms,
            jitter_ms: 0,
        });
    let paths: Arc<Vec<String>> = Arc::new(
        config
            .keys("bench")
            .expect("bucket")
            .map(|k| format!("/bench/{}", encode(&k)))
            .collect(),
    );
    let (endpoint, server) = match std::env::var("FAKES3_ENDPOINT") {
        Ok(e) => (e, None),
        Err(_) => {
            let s = fakes3::start(config).await?;
            (s.endpoint(), Some(s))
        }
    };
    let addr = endpoint.trim_start_matches("http://").to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (addr, paths, done, count, errors) = (
            addr.clone(),
            paths.clone(),
            done.clone(),
            count.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut i = c * 7919;
            while !done.load(Ordering::Relaxed) {
                let path = &paths[i % paths.len()];
                i += conns;
                let req = Request::head(path.as_str())
                    .header("host", addr.as_str())
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                match sender.send_request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().as_u16() < 500;
                        let _ = resp.into_body().collect().await;
                        if ok {
                            count.fetch_add(1, Ordering::Relaxed);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }));
    }
    // warm up, then measure
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = count.load(Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let n = count.load(Ordering::Relaxed) - start_count;
    let el = t.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "{} HEAD/s ({n} in {el:.2}s, {conns} connections, latency {latency_ms} ms, {} errors, {})",
        (n as f64 / el) as u64,
        errors.load(Ordering::Relaxed),
        if server.is_some() {
            "in-process"
        } else {
            "external server"
        }
    );
    if let Some(s) = server {
        s.shutdown().await;
    }
    Ok(())
}
