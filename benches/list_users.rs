//! Listing a whole collection with roster's SCIM client: 100,000 users served by
//! `roster emulator` (a separate process, so the figures are the client's alone), in both
//! dialects. Prints requests issued next to the minimum ceil(N / page size), wall time, and the
//! client's peak memory.
//!
//! Run: `cargo bench --bench list_users` (release build).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use roster::scim::Dialect;
use roster::scim::{ClientOptions, Credentials, ReadOnlyClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

const USERS: usize = 100_000;

fn peak_rss_mb() -> f64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn write_seed(seed: &std::path::Path) {
    let users: Vec<_> = (0..USERS)
        .map(|i| {
            json!({
                "userName": format!("user{i:06}@example.com"),
                "externalId": format!("e{i}"),
                "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("N{i}")},
                "emails": [{"value": format!("user{i:06}@example.com"), "type": "work", "primary": true}],
                "title": "Engineer",
                "active": true
            })
        })
        .collect();
    fs_err::write(seed, json!({ "users": users }).to_string()).expect("seed");
}

fn main() {
    // The seed is generated in a child process so that its memory never counts as the client's.
    if let Some(path) = std::env::var_os("ROSTER_BENCH_WRITE_SEED") {
        write_seed(std::path::Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    let status = Command::new(std::env::current_exe().expect("own path"))
        .env("ROSTER_BENCH_WRITE_SEED", &seed)
        .status()
        .expect("seed writer runs");
    assert!(status.success(), "seed writer failed");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("list {USERS} users from roster emulator (separate process), release build");
    for dialect in [Dialect::Generic, Dialect::AwsIdentityCenter] {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--dialect",
                dialect.as_str(),
            ])
            .arg("--seed")
            .arg(&seed)
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
            .expect("url in ready line")
            .to_string();
        let seeded = started.elapsed();
        let mut o = ClientOptions::new(url, Credentials::bearer("unused"), dialect);
        o.read_only = true;
        let client = ReadOnlyClient::new(o).expect("client");
        let page = client.capabilities().page_size as usize;
        let base = peak_rss_mb();
        let t = Instant::now();
        let listed = runtime
            .block_on(client.list_users(None))
            .expect("complete list");
        let wall = t.elapsed();
        let counts = client.counts();
        let page_size = page.max(1);
        let minimum = USERS.div_ceil(page_size);
        println!(
            "{:<20} users {:>7}  requests {:>5} (minimum ceil(N/{page_size}) = {minimum})  wall {:>7.0} ms  \
             ({:.0} users/s)  client peak RSS {:.0} MB (of which before listing {:.0} MB)  [emulator seeded in {:.1} s]",
            dialect.as_str(),
            listed.len(),
            counts.get,
            wall.as_secs_f64() * 1000.0,
            listed.len() as f64 / wall.as_secs_f64(),
            peak_rss_mb(),
            base,
            seeded.as_secs_f64()
        );
        assert_eq!(listed.len(), USERS);
        drop(listed);
        let _ = child.kill();
        let _ = child.wait();
    }
}
