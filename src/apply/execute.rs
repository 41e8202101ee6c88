//! Running a target's changes: phase by phase, independent changes concurrently, each change
//! waiting only for the creates it names, failures isolated to their dependants.
//!
//! Concurrency is bounded twice: here (at most twice the client's parallelism of changes in
//! flight, so memory stays flat for 100,000 changes) and in the client (its request slots and
//! its read, write and membership budgets, which slow down on 429). The extra changes here keep
//! the client's queue full so the rate, not the round trip, sets the pace.

use super::report::{ChangeResult, Status};
use super::verify::{DigestPaths, Prepared};
use super::{
    classify, fetch, find_by_keys, find_locally, id_of, in_effect, phases, resolve_refs, Found,
    Phase,
};
use crate::plan::{Action, Address, Change, ObjectKind, Operation, TargetPlan};
use crate::scim::client::object_path;
use crate::scim::discovery::Discovered;
use crate::scim::resource::{PatchOp, PatchRequest};
use crate::scim::{dialect, Dialect, ResourceKind, ScimClient, ScimClientError};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Told about every change as it ends, in the order they end (the command line draws its
/// progress bar or log lines from this).
pub trait Progress {
    fn finished(&self, result: &ChangeResult);
    /// The server started answering 429: roster is waiting on its limit, sending writes at
    /// `write_rate` per second (`None` = unpaced). Told once per target.
    fn throttled(&self, _write_rate: Option<f64>) {}
}

/// How many times a create whose outcome was unknown is sent again, after a lookup found
/// nothing each time.
const CREATE_ATTEMPTS: u32 = 3;

/// How long a create whose answer was lost is looked for before it is sent again: a server whose
/// reads lag behind its writes shows a new object only after a while, and sending it again
/// meanwhile would make a duplicate (docs/contract.md#servers-that-keep-less).
const LOST_ANSWER_WAIT: Duration = Duration::from_secs(10);

struct Context {
    client: ScimClient,
    plan: Arc<TargetPlan>,
    paths: Arc<DigestPaths>,
    /// Ids of objects created (or found already created) by this plan, by address.
    ids: Mutex<HashMap<String, String>>,
    versions: HashMap<String, String>,
    t0: Instant,
    /// The first create the plan thought missing that met a 409: proof that the read the plan
    /// rests on missed live objects, so nothing may be removed on its word.
    conflicted: Mutex<Option<String>>,
    /// What the target said it supports (asked once per run).
    discovered: Discovered,
    /// Set by the first PATCH answered 501: every later one goes as a PUT.
    patch_refused: AtomicBool,
    /// Attributes already reported as accepted but not kept, so each is reported once.
    not_kept: Mutex<HashSet<String>>,
}

impl Context {
    fn resolve(&self, v: &Value) -> Result<Value, String> {
        let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        resolve_refs(v, &ids)
    }
}

/// The state of a change others wait for (a create, or a rename that frees a unique value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    Pending,
    Applied,
    NotApplied,
}

/// The bookkeeping of one target's run: which of the changes others wait for have applied,
/// which changes wait for them, and the record of every change. Every change is looked at a bounded number of
/// times (admitted once per phase it waits through, released once), so 100,000 changes schedule
/// in linear time.
struct Schedule<'a> {
    plan: &'a TargetPlan,
    progress: &'a dyn Progress,
    t0: Instant,
    /// By address: the state of the change others name in `depends_on` (the first change at
    /// that address with something to send: its create, or its rename).
    gates: HashMap<&'a str, GateState>,
    gate_of: HashMap<&'a str, usize>,
    results: Vec<Option<ChangeResult>>,
    /// Changes of the current phase waiting for creates: how many creates each still waits for.
    waits: HashMap<usize, usize>,
    /// Pending gate address -> the waiting changes that name it.
    dependents: HashMap<&'a str, Vec<usize>>,
    ready: VecDeque<usize>,
}

impl<'a> Schedule<'a> {
    fn record(&mut self, i: usize, r: ChangeResult) {
        self.progress.finished(&r);
        self.results[i] = Some(r);
    }

    /// Take a change into the current phase: ready, waiting, or skipped for a failed create.
    fn admit(&mut self, i: usize) {
        let plan = self.plan;
        let c = &plan.changes[i];
        let mut pending: Vec<&'a str> = Vec::new();
        for dep in &c.depends_on {
            if self.gate_of.get(dep.as_str()) == Some(&i) {
                continue;
            }
            match self.gates.get(dep.as_str()) {
                Some(GateState::NotApplied) => {
                    self.skip(i, dep.as_str());
                    return;
                }
                Some(GateState::Pending) if !pending.contains(&dep.as_str()) => {
                    pending.push(dep.as_str())
                }
                _ => {}
            }
        }
        if pending.is_empty() {
            self.ready.push_back(i);
            return;
        }
        self.waits.insert(i, pending.len());
        for d in pending {
            self.dependents.entry(d).or_default().push(i);
        }
    }

    /// Record a change as skipped because `blocker` did not apply, and everything waiting on it
    /// in turn.
    fn skip(&mut self, i: usize, blocker: &str) {
        let mut work = vec![(i, blocker.to_string())];
        while let Some((i, blocker)) = work.pop() {
            let plan = self.plan;
            let c = &plan.changes[i];
            let mut r = ChangeResult::new(c, Status::Skipped);
            r.error = Some(format!(
                "skipped: it depends on {blocker}, which did not apply"
            ));
            r.started_at = self.t0.elapsed().as_secs_f64();
            self.record(i, r);
            if self.is_gate(i) {
                self.gates.insert(c.address.as_str(), GateState::NotApplied);
                for d in self
                    .dependents
                    .remove(c.address.as_str())
                    .unwrap_or_default()
                {
                    if self.waits.remove(&d).is_some() {
                        work.push((d, c.address.to_string()));
                    }
                }
            }
        }
    }

    /// A change finished: record it, and release or skip what waited for it.
    fn finish(&mut self, i: usize, r: ChangeResult) {
        let plan = self.plan;
        let c = &plan.changes[i];
        let applied = r.status == Status::Applied;
        self.record(i, r);
        if !self.is_gate(i) {
            return;
        }
        let addr = c.address.as_str();
        if !applied {
            self.gates.insert(addr, GateState::NotApplied);
            for d in self.dependents.remove(addr).unwrap_or_default() {
                if self.waits.remove(&d).is_some() {
                    self.skip(d, addr);
                }
            }
            return;
        }
        self.gates.insert(addr, GateState::Applied);
        for d in self.dependents.remove(addr).unwrap_or_default() {
            if let Some(n) = self.waits.get_mut(&d) {
                *n -= 1;
                if *n == 0 {
                    self.waits.remove(&d);
                    self.ready.push_back(d);
                }
            }
        }
    }

    /// Every address some change names in `depends_on`, with the change that opens it.
    fn find_gates(&mut self) {
        let plan = self.plan;
        let named: std::collections::HashSet<&str> = plan
            .changes
            .iter()
            .flat_map(|c| c.depends_on.iter().map(Address::as_str))
            .collect();
        for (i, c) in plan.changes.iter().enumerate() {
            let addr = c.address.as_str();
            if !c.operations.is_empty() && named.contains(addr) && !self.gate_of.contains_key(addr)
            {
                self.gate_of.insert(addr, i);
                self.gates.insert(addr, GateState::Pending);
            }
        }
    }

    fn is_gate(&self, i: usize) -> bool {
        self.gate_of.get(self.plan.changes[i].address.as_str()) == Some(&i)
    }

    /// The changes still waiting at the end of a phase (for a create of a later phase), in
    /// plan order.
    fn leftovers(&mut self) -> Vec<usize> {
        self.dependents.clear();
        let mut left: Vec<usize> = self.waits.drain().map(|(i, _)| i).collect();
        left.sort_unstable();
        left
    }
}

/// Apply a target's plan. `prepared` carries what a saved plan's re-read found (ids of creates
/// already in effect, fresh versions, changes already done); it is empty for a plan just made.
/// The target's capabilities are assumed to be the RFC's (see [`execute_with`]).
pub async fn execute(
    client: &ScimClient,
    plan: Arc<TargetPlan>,
    paths: Arc<DigestPaths>,
    prepared: Prepared,
    progress: &dyn Progress,
) -> Vec<ChangeResult> {
    let assumed = Discovered::assumed(client.dialect(), "not asked");
    execute_with(client, plan, paths, prepared, assumed, progress).await
}

/// [`execute`] on a target whose capabilities were `discovered`: without PATCH, changes go as a
/// read-modify-write PUT; without filtering, lookups list and match locally.
pub async fn execute_with(
    client: &ScimClient,
    plan: Arc<TargetPlan>,
    paths: Arc<DigestPaths>,
    prepared: Prepared,
    discovered: Discovered,
    progress: &dyn Progress,
) -> Vec<ChangeResult> {
    let n = plan.changes.len();
    let phase_of = phases(&plan.changes);
    let ctx = Arc::new(Context {
        client: client.clone(),
        plan: Arc::clone(&plan),
        paths,
        ids: Mutex::new(prepared.ids),
        versions: prepared.versions,
        t0: Instant::now(),
        conflicted: Mutex::new(None),
        discovered,
        patch_refused: AtomicBool::new(false),
        not_kept: Mutex::new(HashSet::new()),
    });
    let mut s = Schedule {
        plan: &plan,
        progress,
        t0: ctx.t0,
        gates: HashMap::new(),
        gate_of: HashMap::new(),
        results: vec![None; n],
        waits: HashMap::new(),
        dependents: HashMap::new(),
        ready: VecDeque::new(),
    };
    s.find_gates();
    let mut by_phase: BTreeMap<Phase, Vec<usize>> = BTreeMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        let Some(phase) = phase_of[i] else { continue };
        if let Some(note) = prepared.done.get(&i) {
            let mut r = ChangeResult::new(c, Status::Applied);
            r.note = Some(note.clone());
            r.in_effect = true;
            if s.is_gate(i) {
                s.gates.insert(c.address.as_str(), GateState::Applied);
            }
            if c.actions.contains(&Action::Create) {
                r.id = ctx
                    .ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(c.address.as_str())
                    .cloned();
            }
            s.record(i, r);
            continue;
        }
        by_phase.entry(phase).or_default().push(i);
    }

    let limit = client.parallelism() * 2;
    let throttled_before = client.counts().throttled;
    let mut told_throttled = false;
    let mut carried: Vec<usize> = Vec::new();
    for (phase, indices) in by_phase {
        let disproved = ctx
            .conflicted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Changes carried from an earlier phase still run; this phase's removals do not when
        // a 409 disproved the read.
        let indices = match (removes(phase), disproved) {
            (true, Some(addr)) => {
                for i in indices {
                    let mut r = ChangeResult::new(&plan.changes[i], Status::Skipped);
                    r.error = Some(format!(
                        "skipped: the create of {addr} met 409, so the read this plan rests on \
                         missed live objects; no removal, deactivation or delete is sent to this \
                         target on its word (re-run plan)"
                    ));
                    s.record(i, r);
                }
                Vec::new()
            }
            _ => indices,
        };
        for i in std::mem::take(&mut carried).into_iter().chain(indices) {
            s.admit(i);
        }
        let mut running: JoinSet<(usize, ChangeResult)> = JoinSet::new();
        loop {
            while running.len() < limit {
                let Some(i) = s.ready.pop_front() else { break };
                let ctx = Arc::clone(&ctx);
                running.spawn(async move {
                    let r = run_change(&ctx, i).await;
                    (i, r)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            match joined {
                Ok((i, r)) => {
                    s.finish(i, r);
                    if !told_throttled && client.counts().throttled > throttled_before {
                        told_throttled = true;
                        progress.throttled(client.write_rate());
                    }
                }
                // A panicking change is a bug; it is reported as failed below.
                Err(e) => tracing::error!("a change's task ended abnormally: {e}"),
            }
        }
        // What is left waits for a create of a later phase (a rename naming a new manager).
        carried = s.leftovers();
    }
    for i in carried {
        let mut r = ChangeResult::new(&plan.changes[i], Status::Skipped);
        r.error = Some("skipped: a create it depends on never ran".into());
        s.record(i, r);
    }
    let results = std::mem::take(&mut s.results);
    results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.or_else(|| {
                // Only conflicts (nothing to send) have no record; a lost task is a failure.
                phase_of[i].map(|_| {
                    let mut r = ChangeResult::new(&plan.changes[i], Status::Failed);
                    r.error = Some("internal error: the change's task ended abnormally".into());
                    r
                })
            })
        })
        .collect()
}

/// The phases that take something away, which a read proven incomplete must not drive.
fn removes(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::RemoveMembers | Phase::Deactivate | Phase::Delete
    )
}

async fn run_change(ctx: &Context, i: usize) -> ChangeResult {
    let c = &ctx.plan.changes[i];
    let started = ctx.t0.elapsed();
    let mut r = ChangeResult::new(c, Status::Applied);
    r.started_at = started.as_secs_f64();
    for op in &c.operations {
        let outcome = match op {
            Operation::Create { body } => create(ctx, c, body).await.map(|(id, note)| {
                r.id = Some(id);
                note
            }),
            Operation::Patch { ops } => patch(ctx, c, ops).await,
            Operation::Delete => delete(ctx, c).await,
        };
        match outcome {
            Ok(note) => {
                if note.is_some() {
                    r.note = note;
                }
            }
            Err(e) => {
                r.status = Status::Failed;
                r.error = Some(e);
                break;
            }
        }
    }
    r.seconds = (ctx.t0.elapsed() - started).as_secs_f64();
    r
}

/// The protocol's name for a kind of object: the client's write methods take it.
fn resource_kind(kind: ObjectKind) -> ResourceKind {
    match kind {
        ObjectKind::User => ResourceKind::User,
        ObjectKind::Group => ResourceKind::Group,
    }
}

/// POST a new object; resolve a 409 or an unknown outcome by looking it up by its keys.
async fn create(
    ctx: &Context,
    c: &Change,
    body: &Map<String, Value>,
) -> Result<(String, Option<String>), String> {
    let body = ctx
        .resolve(&Value::Object(body.clone()))
        .map_err(|addr| format!("the id of {addr} is unknown (its create did not apply)"))?;
    let Value::Object(fields) = &body else {
        return Err("internal error: a create body that is not an object".into());
    };
    let mut attempt = 0;
    // Requests the earlier rounds sent, so a failure reports every POST that went out.
    let mut earlier = 0u32;
    loop {
        attempt += 1;
        let sent = ctx.client.create(resource_kind(c.kind), &body).await;
        let err = match sent {
            Ok(answer) => {
                if let Some(id) = answer.as_ref().and_then(id_of) {
                    record_id(ctx, c, &id);
                    let mut notes = Vec::new();
                    notes.extend(not_kept(ctx, c, &body, answer.as_ref()));
                    notes.extend(ensure_members(ctx, c, &id, &body, answer.as_ref()).await?);
                    return Ok((id, join_notes(notes)));
                }
                // A server that answers without the resource: find what it made.
                match lookup(ctx, c, fields).await? {
                    Found::Same(id) => {
                        record_id(ctx, c, &id);
                        return Ok((id, None));
                    }
                    Found::Nothing => return Err(
                        "the server accepted the create but the object cannot be found by its keys"
                            .into(),
                    ),
                    Found::Different(why) => return Err(why),
                }
            }
            Err(e) => {
                let this_round = e.attempts();
                let e = e.after_earlier_sends(earlier);
                earlier = earlier.saturating_add(this_round);
                e
            }
        };
        if err.is_conflict() {
            ctx.conflicted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(|| c.address.to_string());
            return match lookup(ctx, c, fields).await? {
                Found::Same(id) => {
                    record_id(ctx, c, &id);
                    Ok((
                        id,
                        Some("adopted the existing object that matches (409 on create)".into()),
                    ))
                }
                Found::Nothing => Err(format!("{err}")),
                Found::Different(why) => Err(format!("conflict: {err}; {why}")),
            };
        }
        if !err.outcome_unknown() {
            return Err(err.to_string());
        }
        // The server may or may not have made it: look before sending again, long enough for a
        // server whose reads lag to show it.
        match lookup_patiently(ctx, c, fields).await? {
            Found::Same(id) => {
                record_id(ctx, c, &id);
                return Ok((
                    id,
                    Some(format!("created (confirmed by a lookup after: {err})")),
                ));
            }
            Found::Different(why) => return Err(format!("conflict after {err}: {why}")),
            Found::Nothing if attempt < CREATE_ATTEMPTS => {
                tracing::info!(address = %c.address, "create failed with an unknown outcome and the object does not exist; sending it again");
            }
            Found::Nothing => return Err(err.to_string()),
        }
    }
}

async fn lookup(ctx: &Context, c: &Change, body: &Map<String, Value>) -> Result<Found, String> {
    let reader = ctx.client.reader();
    let found = if ctx.discovered.filter {
        find_by_keys(&reader, c.kind, body).await
    } else {
        find_locally(&reader, c.kind, body).await
    };
    let found = found.map_err(|e| format!("cannot look the object up by its keys: {e}"))?;
    Ok(classify(
        &found,
        &Value::Object(body.clone()),
        ctx.paths.of(c.kind),
    ))
}

/// [`lookup`] until it finds something or [`LOST_ANSWER_WAIT`] has passed, polling with backoff.
async fn lookup_patiently(
    ctx: &Context,
    c: &Change,
    body: &Map<String, Value>,
) -> Result<Found, String> {
    let deadline = Instant::now() + LOST_ANSWER_WAIT;
    let mut pause = Duration::from_millis(250);
    loop {
        let found = lookup(ctx, c, body).await?;
        if found != Found::Nothing || Instant::now() + pause > deadline {
            return Ok(found);
        }
        tracing::debug!(address = %c.address, "not visible yet after a lost answer; looking again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn join_notes(notes: Vec<String>) -> Option<String> {
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// The attributes `sent` set that the server's `answer` does not hold: accepted but not kept. Each
/// is reported once per target (a warning, and a note on the first change that shows it).
fn not_kept(ctx: &Context, c: &Change, sent: &Value, answer: Option<&Value>) -> Option<String> {
    let answer = answer?;
    let mut lost = Vec::new();
    for p in ctx.paths.of(c.kind) {
        let wanted = p.get(sent).is_some_and(|v| !v.is_null());
        if wanted && p.get(answer).is_none_or(Value::is_null) {
            let key = format!("{:?}:{}", c.kind, p.key());
            let mut seen = ctx.not_kept.lock().unwrap_or_else(|e| e.into_inner());
            if seen.insert(key) {
                lost.push(p.to_string());
            }
        }
    }
    if lost.is_empty() {
        return None;
    }
    let what = lost.join(", ");
    tracing::warn!(
        "target {:?} accepted {what} but did not keep it (told once per attribute)",
        ctx.plan.name
    );
    Some(format!("the target accepted {what} but did not keep it"))
}

/// The member ids a group body carries.
fn member_ids(v: &Value) -> Vec<String> {
    v.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// After a group create with members on a server that shows members: those the server did not
/// keep are added by a follow-up PATCH, then checked by a re-read.
async fn ensure_members(
    ctx: &Context,
    c: &Change,
    id: &str,
    sent: &Value,
    answer: Option<&Value>,
) -> Result<Option<String>, String> {
    if c.kind != ObjectKind::Group || !ctx.client.capabilities().groups_list_members {
        return Ok(None);
    }
    let want = member_ids(sent);
    if want.is_empty() {
        return Ok(None);
    }
    let shown = answer.filter(|a| a.get("members").is_some_and(Value::is_array));
    let kept: HashSet<String> = match shown {
        Some(a) if member_ids(a).len() >= want.len() => return Ok(None),
        Some(a) => member_ids(a).into_iter().collect(),
        None => live_members(ctx, id).await?,
    };
    let missing: Vec<String> = want
        .iter()
        .filter(|m| !kept.contains(*m))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    tracing::warn!(
        address = %c.address,
        "the target kept {} of the {} members sent with the group's create; adding the rest",
        want.len() - missing.len(),
        want.len()
    );
    for p in dialect::member_patches(ctx.client.dialect(), id, &missing, &[]) {
        send_patch(ctx, c, id, &p, None)
            .await
            .map_err(|e| format!("adding the members the create dropped: {e}"))?;
    }
    let now = live_members(ctx, id).await?;
    let still = missing.iter().filter(|m| !now.contains(*m)).count();
    if still > 0 {
        return Err(format!(
            "the target dropped {} members sent with the group's create, and {still} are still              missing after a follow-up PATCH",
            missing.len()
        ));
    }
    Ok(Some(format!(
        "the target kept {} of the {} members sent with the create; the other {} were added by a          follow-up PATCH (verified)",
        want.len() - missing.len(),
        want.len(),
        missing.len()
    )))
}

/// The member ids of a live group, read now.
async fn live_members(ctx: &Context, id: &str) -> Result<HashSet<String>, String> {
    let path = object_path(ResourceKind::Group, id);
    let got = ctx
        .client
        .reader()
        .get(&path)
        .await
        .map_err(|e| format!("cannot re-read the group's members: {e}"))?;
    Ok(got
        .body
        .as_ref()
        .map(member_ids)
        .unwrap_or_default()
        .into_iter()
        .collect())
}

fn record_id(ctx: &Context, c: &Change, id: &str) {
    ctx.ids
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(c.address.to_string(), id.to_string());
}

/// The live id of the object a change works on: its own, or the one its create produced.
fn target_id(ctx: &Context, c: &Change) -> Result<String, String> {
    if let Some(id) = &c.id {
        return Ok(id.clone());
    }
    ctx.ids
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(c.address.as_str())
        .cloned()
        .ok_or_else(|| {
            format!(
                "the id of {} is unknown (its create did not apply)",
                c.address
            )
        })
}

/// `If-Match` for a change with a precondition: the version the re-read saw, else the plan's.
fn if_match<'a>(ctx: &'a Context, c: &'a Change) -> Option<&'a str> {
    let pre = c.precondition.as_ref()?;
    ctx.versions
        .get(c.address.as_str())
        .map(String::as_str)
        .or(pre.version.as_deref())
}

fn changed_meanwhile(e: &ScimClientError) -> Option<String> {
    (e.status() == Some(412)).then(|| {
        format!(
            "the object changed on the target while apply ran (If-Match failed); plan again: {e}"
        )
    })
}

async fn patch(ctx: &Context, c: &Change, ops: &[PatchOp]) -> Result<Option<String>, String> {
    let id = target_id(ctx, c)?;
    // member values may name users this plan created: put their ids in
    let resolved = ops
        .iter()
        .map(|op| {
            let value = op.value.as_ref().map(|v| ctx.resolve(v)).transpose()?;
            Ok(PatchOp {
                op: op.op.clone(),
                path: op.path.clone(),
                value,
            })
        })
        .collect::<Result<Vec<PatchOp>, String>>()
        .map_err(|addr| format!("the id of {addr} is unknown (its create did not apply)"))?;
    let request = PatchRequest::new(resolved);
    match send_patch(ctx, c, &id, &request, if_match(ctx, c)).await {
        Ok(note) => Ok(note),
        Err(e) => {
            if let Some(note) = lost_but_applied(ctx, c, &id, &e).await {
                return Ok(Some(note));
            }
            if let Some(why) = changed_meanwhile(&e) {
                return Err(why);
            }
            let removing = c.actions == [Action::RemoveMembers];
            if removing && e.status() == Some(400) && e.scim_type() == Some("noTarget") {
                return Ok(Some("already removed".into()));
            }
            if c.actions.contains(&Action::Deactivate) && e.is_not_found() {
                return Ok(Some("already gone from the target".into()));
            }
            Err(e.to_string())
        }
    }
}

/// Whether a PUT may stand in for a PATCH: AWS takes no PUT of a group, and documents PATCH.
fn may_replace(ctx: &Context, kind: ResourceKind) -> bool {
    ctx.client.dialect() == Dialect::Generic || kind == ResourceKind::User
}

/// Send one PATCH, or its read-modify-write PUT when the target does not support PATCH (its
/// ServiceProviderConfig says so, or it answered 501 to an earlier or to this one). The note says
/// what was checked or done beyond the PATCH itself.
async fn send_patch(
    ctx: &Context,
    c: &Change,
    id: &str,
    request: &PatchRequest,
    version: Option<&str>,
) -> Result<Option<String>, ScimClientError> {
    let kind = resource_kind(c.kind);
    let replace = (!ctx.discovered.patch || ctx.patch_refused.load(Ordering::Relaxed))
        && may_replace(ctx, kind);
    if !replace {
        match ctx.client.patch(kind, id, request, version).await {
            Ok(answer) => {
                let sent = sent_values(c, request);
                return Ok(not_kept(ctx, c, &sent, answer.as_ref()));
            }
            Err(e) if e.status() == Some(501) && may_replace(ctx, kind) => {
                if !ctx.patch_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "target {:?} answered 501 to PATCH: changes are sent as a read-modify-write PUT",
                        ctx.plan.name
                    );
                }
            }
            Err(e) => return Err(e),
        }
    }
    replace_with_put(ctx, c, id, request, version).await
}

/// What a PATCH sets, as a resource (for checking the answer against it).
fn sent_values(c: &Change, request: &PatchRequest) -> Value {
    let mut sent = Map::new();
    for op in &request.operations {
        if op.op.eq_ignore_ascii_case("remove") {
            continue;
        }
        if let (Some(path), Some(v)) = (&op.path, &op.value) {
            if let Ok(p) = crate::mapping::AttrPath::parse(path) {
                if c.after.keys().any(|k| k.eq_ignore_ascii_case(path)) {
                    p.set(&mut sent, v.clone());
                }
            }
        }
    }
    Value::Object(sent)
}

/// The PATCH as a PUT: read the object, apply the operations to it, send it whole, guarded by
/// the plan's version or else the version just read (when the target has ETags).
async fn replace_with_put(
    ctx: &Context,
    c: &Change,
    id: &str,
    request: &PatchRequest,
    version: Option<&str>,
) -> Result<Option<String>, ScimClientError> {
    let kind = resource_kind(c.kind);
    let got = ctx.client.reader().get(&object_path(kind, id)).await?;
    let mut live = match got.body {
        Some(Value::Object(o)) => o,
        _ => {
            return Err(ScimClientError::Setup(
                "the object read back for a PUT has no body".into(),
            ))
        }
    };
    let live_version = live
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            got.headers
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    let etags = ctx.discovered.etag && ctx.client.capabilities().etags;
    super::replace::apply_ops(&mut live, &request.operations).map_err(ScimClientError::Setup)?;
    live.shift_remove("meta");
    let body = Value::Object(live);
    // The plan's version when it has one (a 412 then says the object changed since the plan),
    // else the version just read (a 412 then says it changed since this read).
    let guard = version.or(live_version.as_deref()).filter(|_| etags);
    let answer = ctx.client.replace(kind, id, &body, guard).await?;
    let sent = sent_values(c, request);
    let mut notes = vec!["sent as PUT: the target does not support PATCH".to_string()];
    notes.extend(not_kept(ctx, c, &sent, answer.as_ref()));
    Ok(join_notes(notes))
}

/// A write retried after a lost answer meets 412 (its first attempt applied and moved the
/// version): a re-read that shows the change in effect means it applied, which is what counts.
async fn lost_but_applied(
    ctx: &Context,
    c: &Change,
    id: &str,
    e: &ScimClientError,
) -> Option<String> {
    if e.status() != Some(412) || e.attempts() < 2 {
        return None;
    }
    let live = fetch(&ctx.client.reader(), c.kind, id).await.ok()??;
    let ids = ctx.ids.lock().unwrap_or_else(|p| p.into_inner()).clone();
    in_effect(c, &live, &ids).then(|| {
        "applied: its answer was lost, and a re-read shows the change in effect".to_string()
    })
}

async fn delete(ctx: &Context, c: &Change) -> Result<Option<String>, String> {
    let id = target_id(ctx, c)?;
    let sent = ctx
        .client
        .delete(resource_kind(c.kind), &id, if_match(ctx, c))
        .await;
    match sent {
        Ok(_) => Ok(None),
        // A retried DELETE whose first attempt went through answers 404: the goal holds.
        Err(e) if e.is_not_found() => Ok(Some("already gone from the target".into())),
        Err(e) => Err(changed_meanwhile(&e).unwrap_or_else(|| e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, NotTouching, ObjectKind, Requests, Summary};
    use std::cell::RefCell;

    struct Log(RefCell<Vec<(String, Status)>>);
    impl Progress for Log {
        fn finished(&self, r: &ChangeResult) {
            self.0.borrow_mut().push((r.address.clone(), r.status));
        }
    }

    fn change(address: &str, action: Action, deps: &[&str]) -> Change {
        crate::apply::tests::test_change(address, ObjectKind::User, vec![action], deps)
    }

    fn plan(changes: Vec<Change>) -> TargetPlan {
        TargetPlan {
            name: "t".into(),
            url: "http://x".into(),
            dialect: "generic".into(),
            complete: true,
            summary: Summary::default(),
            requests: Requests::default(),
            changes,
            safety: vec![],
            not_touching: NotTouching::default(),
        }
    }

    fn schedule<'a>(plan: &'a TargetPlan, log: &'a Log) -> Schedule<'a> {
        let mut s = Schedule {
            plan,
            progress: log,
            t0: Instant::now(),
            gates: HashMap::new(),
            gate_of: HashMap::new(),
            results: vec![None; plan.changes.len()],
            waits: HashMap::new(),
            dependents: HashMap::new(),
            ready: VecDeque::new(),
        };
        s.find_gates();
        s
    }

    #[test]
    fn a_change_waits_for_the_creates_it_names_and_is_released_when_they_apply() {
        // b's manager is a; the group membership names both.
        let p = plan(vec![
            change("t:user.a", Action::Create, &[]),
            change("t:user.b", Action::Create, &["t:user.a"]),
            change("t:group.g", Action::AddMembers, &["t:user.a", "t:user.b"]),
        ]);
        let log = Log(RefCell::new(vec![]));
        let mut s = schedule(&p, &log);
        for i in 0..3 {
            s.admit(i);
        }
        assert_eq!(s.ready, VecDeque::from([0]));
        s.ready.clear();
        s.finish(0, ChangeResult::new(&p.changes[0], Status::Applied));
        assert_eq!(s.ready, VecDeque::from([1]));
        s.ready.clear();
        s.finish(1, ChangeResult::new(&p.changes[1], Status::Applied));
        assert_eq!(s.ready, VecDeque::from([2]));
        assert!(s.leftovers().is_empty());
    }

    #[test]
    fn a_failed_create_skips_its_dependants_transitively_and_nothing_else() {
        let p = plan(vec![
            change("t:user.a", Action::Create, &[]),
            change("t:user.b", Action::Create, &["t:user.a"]),
            change("t:group.g", Action::AddMembers, &["t:user.b"]),
            change("t:user.c", Action::Create, &[]),
        ]);
        let log = Log(RefCell::new(vec![]));
        let mut s = schedule(&p, &log);
        for i in 0..4 {
            s.admit(i);
        }
        assert_eq!(s.ready, VecDeque::from([0, 3]));
        s.finish(0, ChangeResult::new(&p.changes[0], Status::Failed));
        let statuses: Vec<(String, Status)> = log.0.borrow().clone();
        assert_eq!(
            statuses,
            vec![
                ("t:user.a".to_string(), Status::Failed),
                ("t:user.b".to_string(), Status::Skipped),
                ("t:group.g".to_string(), Status::Skipped),
            ]
        );
        assert!(s.leftovers().is_empty());
        // A later phase's change naming the failed create is skipped on admission.
        let later = plan(vec![change("t:user.d", Action::Update, &["t:user.b"])]);
        s.plan = &later;
        s.results.push(None);
        s.admit(0);
        assert_eq!(log.0.borrow().last().map(|x| x.1), Some(Status::Skipped));
    }
}
