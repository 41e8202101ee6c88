//! Creating users as fast as a rate-limited server allows, with roster's SCIM client against
//! `roster emulator` (a separate process, 20 ms latency, writes limited to 250/s by a token
//! bucket with a burst of one second). The scenarios compare a configured rate with the
//! adaptive limiter that a generic target (no `rate`) relies on:
//!
//! (a) `writes_per_second: 250`, 8 in flight; (b) the same, 1 in flight (latency-bound);
//! (c) no rate, 8 in flight: adaptive only; (d) no rate against random 429s (20%) and 500s (5%)
//! with no rate limit, which must not drag the adaptive budget down to its floor.
//!
//! For each: wall time, the floor N/250 s and the ratio, POSTs sent, 429s received, and the
//! emulator's final user count (must be N: no loss, no duplicate).
//!
//! Run: `cargo bench --bench create_users` (release build). `BENCH_USERS` overrides N (10,000).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use roster::scim::resource::{MultiValue, Name, User, USER_SCHEMA};
use roster::scim::Dialect;
use roster::scim::RateLimits;
use roster::scim::{ClientOptions, Credentials, Filter, ScimClient, ScimClientError};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITE_LIMIT: f64 = 250.0;
const LATENCY_MS: u64 = 20;
/// The emulator reads its bearer token from this variable, so the token is on no command line.
const TOKEN_ENV: &str = "ROSTER_BENCH_CREATE_TOKEN";

struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    fn start(token: &str, extra: &[&str]) -> Emulator {
        let latency = LATENCY_MS.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--dialect",
                "generic",
                "--token-env",
                TOKEN_ENV,
                "--latency-ms",
                &latency,
            ])
            .args(extra)
            .env(TOKEN_ENV, token)
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
        Emulator { child, url }
    }

    /// Users the emulator holds (its observation endpoint is never faulted or limited).
    async fn users(&self) -> u64 {
        let stats: serde_json::Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client")
            .get(format!("{}/_emulator/stats", self.url))
            .send()
            .await
            .expect("stats answer")
            .json()
            .await
            .expect("stats JSON");
        stats["users"].as_u64().expect("users in stats")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user(i: usize) -> User {
    let name = format!("bench{i:06}@example.com");
    User {
        schemas: vec![USER_SCHEMA.to_string()],
        external_id: Some(format!("e{i}")),
        user_name: name.clone(),
        display_name: Some(format!("Bench User {i}")),
        name: Some(Name {
            given_name: Some("Bench".into()),
            family_name: Some(format!("U{i}")),
            ..Name::default()
        }),
        emails: vec![MultiValue {
            value: Some(name),
            kind: Some("work".into()),
            primary: Some(true),
            ..MultiValue::default()
        }],
        active: Some(true),
        ..User::default()
    }
}

/// Creates one user exactly once. The client never repeats a POST whose outcome is unknown (a
/// 5xx, a timeout, a broken connection), so here such a create is followed by a lookup and
/// repeated only when the user is not there; a 429 that outlasted the throttle budget created
/// nothing.
async fn create_exactly_once(client: &ScimClient, u: &User) {
    loop {
        let outcome_unknown = match client.create_user(u).await {
            Ok(_) => return,
            Err(ScimClientError::Http { status: 409, .. }) => return,
            Err(ScimClientError::Http { status: 429, .. })
            | Err(ScimClientError::Throttled { .. }) => false,
            Err(ScimClientError::Http { status, .. }) if status >= 500 => true,
            Err(ScimClientError::Timeout { .. } | ScimClientError::Network { .. }) => true,
            Err(e) => panic!("create {} failed: {e}", u.user_name),
        };
        if outcome_unknown {
            let filter = Filter::eq("userName", &u.user_name);
            loop {
                match client.list_users(Some(&filter)).await {
                    Ok(found) if !found.is_empty() => return,
                    Ok(_) => break,
                    // The lookup itself met the injected faults too often: look again.
                    Err(_) => continue,
                }
            }
        }
    }
}

struct Outcome {
    wall: Duration,
    /// Users created (less than N when the time cap stopped the run).
    done: usize,
    posts: u64,
    throttled: u64,
    users: u64,
}

fn run(
    runtime: &tokio::runtime::Runtime,
    token: &str,
    emulator_args: &[&str],
    n: usize,
    parallelism: usize,
    writes_per_second: Option<f64>,
    cap: Duration,
) -> Outcome {
    let emulator = Emulator::start(token, emulator_args);
    let mut o = ClientOptions::new(
        emulator.url.clone(),
        Credentials::bearer(token),
        Dialect::Generic,
    );
    o.parallelism = parallelism;
    o.rate = RateLimits {
        writes_per_second,
        ..RateLimits::default()
    };
    let client = ScimClient::new(o).expect("client");
    runtime.block_on(async {
        let next = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        // As many workers as slots: each takes the next user when its previous create is done.
        let workers: Vec<_> = (0..parallelism)
            .map(|_| {
                let client = client.clone();
                let next = Arc::clone(&next);
                let done = Arc::clone(&done);
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        // A limiter stuck near its floor would take hours: stop at the cap.
                        if i >= n || t.elapsed() > cap {
                            break;
                        }
                        create_exactly_once(&client, &user(i)).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.expect("worker");
        }
        let wall = t.elapsed();
        let counts = client.counts();
        Outcome {
            wall,
            done: done.load(Ordering::Relaxed),
            posts: counts.post,
            throttled: counts.throttled,
            users: emulator.users().await,
        }
    })
}

/// Empty when all N users exist exactly once.
fn verdict(r: &Outcome, n: usize, cap: Duration) -> String {
    let mut v = String::new();
    if r.users != r.done as u64 {
        v.push_str(&format!("  MISMATCH: {} created", r.done));
    }
    if r.done < n {
        v.push_str(&format!(
            "  STOPPED at the {} s cap after {} of {n} users (BENCH_CAP_SECS)",
            cap.as_secs(),
            r.done
        ));
    }
    v
}

fn main() {
    let n: usize = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // A fresh token per run; it never leaves this process and the emulator's environment.
    let token = format!("bench-{:x}", rand::random::<u64>());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cap = Duration::from_secs(
        std::env::var("BENCH_CAP_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
    );
    let limit = WRITE_LIMIT.to_string();
    let limited = ["--rate-limit-write", limit.as_str()];
    println!(
        "create {n} users; roster emulator (separate process), {LATENCY_MS} ms latency, release build"
    );
    let floor = n as f64 / WRITE_LIMIT;
    let scenarios: [(&str, usize, Option<f64>); 3] = [
        ("(a) rate 250/s, 8 in flight", 8, Some(WRITE_LIMIT)),
        ("(b) rate 250/s, 1 in flight", 1, Some(WRITE_LIMIT)),
        ("(c) no rate (adaptive), 8", 8, None),
    ];
    for (label, parallelism, rate) in scenarios {
        let r = run(&runtime, &token, &limited, n, parallelism, rate, cap);
        let wall = r.wall.as_secs_f64();
        // One request in flight cannot go faster than one per round trip.
        let latency_floor = n as f64 * LATENCY_MS as f64 / 1000.0 / parallelism as f64;
        println!(
            "{label:<30} --rate-limit-write 250: wall {wall:>7.1} s  floor N/250 {floor:.1} s  \
             ratio {:.2}  (latency floor N*{LATENCY_MS}ms/{parallelism} {latency_floor:.1} s)  \
             POSTs {:>6}  429s {:>5}  emulator users {}{}",
            wall / floor,
            r.posts,
            r.throttled,
            r.users,
            verdict(&r, n, cap)
        );
    }
    let nd = n.min(2000);
    let r = run(
        &runtime,
        &token,
        &["--fail-429", "0.2", "--fail-5xx", "0.05"],
        nd,
        8,
        None,
        cap,
    );
    let wall = r.wall.as_secs_f64();
    println!(
        "{:<30} --fail-429 0.2 --fail-5xx 0.05, N={nd}: wall {wall:>7.1} s  ({:.0} users/s; \
         latency floor N*{LATENCY_MS}ms/8 {:.1} s)  POSTs {:>6}  429s {:>5}  emulator users {}{}",
        "(d) no rate (adaptive), 8",
        nd as f64 / wall,
        nd as f64 * LATENCY_MS as f64 / 1000.0 / 8.0,
        r.posts,
        r.throttled,
        r.users,
        verdict(&r, nd, cap)
    );
}
