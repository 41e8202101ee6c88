//! Helpers shared by the integration tests: the `roster` command, a `roster emulator` process
//! killed by pid, and a tiny blocking HTTP client for checking servers from synchronous tests.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `roster` command run from the repository root, with colour off and a clean environment
/// for the variables roster reads.
pub fn roster() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("roster").expect("binary built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}

/// The environment variable an [`EmulatorProcess`] reads its token from (`--token-env EMU_TOKEN`)
/// and that test configurations name in `auth: { bearer_token_env: EMU_TOKEN }`.
pub const EMU_TOKEN_ENV: &str = "EMU_TOKEN";

/// A `roster emulator` process on an ephemeral loopback port, killed by pid when dropped (also
/// when a test panics).
pub struct EmulatorProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`: the SCIM base URL (the emulator also serves `/scim/v2`).
    pub url: String,
    /// The value of `EMU_TOKEN` in the emulator's environment; it is enforced only when the
    /// arguments include `--token-env EMU_TOKEN`.
    pub token: String,
}

impl EmulatorProcess {
    /// Start `roster emulator --listen 127.0.0.1:0 ARGS` and wait for its ready line.
    pub fn start(args: &[&str]) -> EmulatorProcess {
        // Unique per process so that one test's token can never authenticate against another's.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let token = format!(
            "emu-token-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .env(EMU_TOKEN_ENV, &token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no url in {line:?}"))
            .to_string();
        EmulatorProcess { child, url, token }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET /_emulator/stats`: reads, writes, by_method, users, groups, held, ...
    pub fn stats(&self) -> Value {
        let (status, body) = http("GET", &format!("{}/_emulator/stats", self.url), None, None);
        assert_eq!(status, 200, "stats: {body}");
        body
    }

    /// `POST /_emulator/release`: let held writes through.
    pub fn release(&self) {
        let (status, body) = http(
            "POST",
            &format!("{}/_emulator/release", self.url),
            None,
            None,
        );
        assert_eq!(status, 200, "release: {body}");
    }

    /// A SCIM request with this emulator's token, e.g. `send("GET", "/Users/ID", None)`.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http(
            method,
            &format!("{}{path}", self.url),
            Some(&self.token),
            body,
        )
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One blocking HTTP/1.0 request (so the answer is never chunked and ends at EOF) to a loopback
/// `http://` URL. Returns the status and the JSON body (`Null` when empty or not JSON).
pub fn http(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let rest = url.strip_prefix("http://").expect("http:// url");
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut req =
        format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/scim+json\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let payload = body.map(Value::to_string).unwrap_or_default();
    if body.is_some() {
        req.push_str("Content-Type: application/scim+json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
    req.push_str(&payload);
    stream.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A filter (or any query value) percent-encoded for a URL.
pub fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
