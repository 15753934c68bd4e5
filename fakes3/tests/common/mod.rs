//! A tiny HTTP/1.1 client over a raw TcpStream, plus XML and URL helpers, so the tests
//! see exactly the bytes on the wire.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// One keep-alive connection; reconnects after an error.
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(endpoint: &str) -> Client {
        let addr = endpoint
            .strip_prefix("http://")
            .expect("http endpoint")
            .parse()
            .expect("socket address");
        Client { addr, conn: None }
    }

    /// Sends one request; an I/O error (e.g. an injected reset) drops the connection.
    pub async fn try_request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        let r = self.request_inner(method, target, headers, body).await;
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    async fn request_inner(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        if self.conn.is_none() {
            self.conn = Some(BufReader::new(TcpStream::connect(self.addr).await?));
        }
        let conn = self.conn.as_mut().unwrap();
        let mut req = format!("{method} {target} HTTP/1.1\r\nhost: {}\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        conn.get_mut().write_all(&bytes).await?;

        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            conn.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').expect("header line");
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().expect("content-length"))
            .unwrap_or(0);
        let mut body = Vec::new();
        if method != "HEAD" && status != 204 && status != 304 {
            body.resize(len, 0);
            conn.read_exact(&mut body).await?;
        }
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        self.try_request(method, target, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {target}: {e}"))
    }

    pub async fn get(&mut self, target: &str) -> Resp {
        self.request("GET", target, &[], b"").await
    }

    pub async fn head(&mut self, target: &str) -> Resp {
        self.request("HEAD", target, &[], b"").await
    }

    pub async fn kms(&mut self, target: &str, body: &str) -> Resp {
        self.request(
            "POST",
            "/",
            &[
                ("x-amz-target", target),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            body.as_bytes(),
        )
        .await
    }
}

/// Percent-encodes like aws-smithy's greedy label (keeps `/`) or query value.
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `urllib.parse.unquote_plus`, as botocore decodes `encoding-type=url` listings.
pub fn unquote_plus(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex escape");
                out.push(h);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("entity end") + i;
        let ent = &rest[i + 1..end];
        match ent {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            e if e.starts_with('#') => {
                let n: u32 = e[1..].parse().expect("numeric entity");
                out.push(char::from_u32(n).expect("char"));
            }
            e => panic!("unknown entity {e}"),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Raw inner text of every `<tag>...</tag>` (tags are not nested in S3's flat docs).
pub fn blocks<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let j = after.find(&close).expect("closing tag");
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

/// Unescaped text of the first `<tag>` element, if any.
pub fn first(xml: &str, tag: &str) -> Option<String> {
    blocks(xml, tag).first().map(|s| unescape(s))
}

/// The `<tag>` text outside any `<CommonPrefixes>` / `<Contents>` / `<Version>` block.
pub fn top(xml: &str, tag: &str) -> Option<String> {
    let end = [
        "<Contents>",
        "<Version>",
        "<DeleteMarker>",
        "<CommonPrefixes>",
    ]
    .iter()
    .filter_map(|t| xml.find(t))
    .min()
    .unwrap_or(xml.len());
    first(&xml[..end], tag)
}

pub fn is_rfc1123(s: &str) -> bool {
    // "Tue, 15 Nov 1994 08:12:31 GMT"
    let b = s.as_bytes();
    b.len() == 29
        && s.ends_with(" GMT")
        && b[3] == b','
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&s[..3])
}
