// The `actions/github-script` steps of examples/github/*.yml, run under Node's test runner
// against an in-memory GitHub. actionlint and zizmor check the YAML around these scripts, not
// what the scripts do. These tests pin the behaviour that matters:
// - one plan comment, updated in place;
// - parts added and removed;
// - only the bot's comments trusted;
// - apply takes a checksum only from the bot's comment for the pull request's last commit;
// - one drift issue, opened, updated and closed.
// The `run:` steps run under bash as GitHub runs them: those of the apply workflow with a real
// roster (ROSTER_BIN) on a copy of the quickstart, and every step that runs roster with a
// stand-in that records what it was given.
//
//   ROSTER_BIN=target/debug/roster node --test tests/workflows/
"use strict";

const test = require("node:test");
const { after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const EXAMPLES = path.join(__dirname, "..", "..", "examples", "github");
const BOT = { login: "github-actions[bot]" };
const HUMAN = { login: "mallory" };
const CHECKSUM = "sha256:" + "ab".repeat(32);
const HEAD = "1234567890abcdef1234567890abcdef12345678";
const BREAK = "\n<!-- roster-plan part break -->\n";

const made = [];
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The body of the `script: |` block of the github-script step named `name` in `file`. */
function script(file, name) {
  const lines = fs.readFileSync(path.join(EXAMPLES, file), "utf8").split("\n");
  const at = lines.findIndex((l) => l.trim() === `- name: ${name}`);
  assert.ok(at >= 0, `no step "${name}" in ${file}`);
  const s = lines.findIndex((l, i) => i > at && l.trim() === "script: |");
  assert.ok(s > at, `step "${name}" has no script`);
  const indent = lines[s].search(/\S/);
  const body = [];
  for (const l of lines.slice(s + 1)) {
    if (l.trim() !== "" && l.search(/\S/) <= indent) break;
    body.push(l);
  }
  return body.join("\n");
}

/** An in-memory repository: comments, issues and pull requests, with the Octokit calls used. */
function fakeGitHub({ comments = [], issues = [], prs = [] } = {}) {
  let nextId = 1000;
  const state = { comments, issues, prs, calls: [] };
  const rest = {
    issues: {
      listComments: async ({ issue_number }) => ({
        data: state.comments.filter((c) => c.issue_number === issue_number),
      }),
      createComment: async ({ issue_number, body }) => {
        state.calls.push("createComment");
        const c = { id: nextId++, issue_number, user: BOT, body };
        state.comments.push(c);
        return { data: c };
      },
      updateComment: async ({ comment_id, body }) => {
        state.calls.push("updateComment");
        state.comments.find((c) => c.id === comment_id).body = body;
        return { data: {} };
      },
      deleteComment: async ({ comment_id }) => {
        state.calls.push("deleteComment");
        state.comments = state.comments.filter((c) => c.id !== comment_id);
        return { data: {} };
      },
      listForRepo: async ({ state: wanted }) => ({
        data: state.issues.filter((i) => i.state === wanted),
      }),
      create: async ({ title, body }) => {
        state.calls.push("create");
        const i = { number: nextId++, title, body, user: BOT, state: "open" };
        state.issues.push(i);
        return { data: i };
      },
      update: async ({ issue_number, ...fields }) => {
        state.calls.push("update");
        const i = state.issues.find((x) => x.number === issue_number);
        delete fields.owner;
        delete fields.repo;
        Object.assign(i, fields);
        return { data: i };
      },
    },
    repos: {
      listPullRequestsAssociatedWithCommit: async ({ commit_sha }) => ({
        data: state.prs.filter((p) => p.commits.includes(commit_sha)),
      }),
    },
  };
  const github = { rest, paginate: async (fn, params) => (await fn(params)).data };
  return { github, state };
}

/** Run a script as github-script does, with these environment variables; returns core's record. */
async function run(body, { github, env = {}, sha = "f".repeat(40), issue = 7 }) {
  const core = { outputs: {}, failed: null, info() {}, notice() {} };
  core.setOutput = (k, v) => (core.outputs[k] = v);
  core.setFailed = (m) => (core.failed = m);
  const context = { repo: { owner: "acme", repo: "identity" }, issue: { number: issue }, sha };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const fn = new AsyncFunction("require", "github", "context", "core", "process", body);
  await fn(require, github, context, core, { env });
  return core;
}

function planFile(parts) {
  const dir = tempDir("roster-plan-");
  const file = path.join(dir, "plan.md");
  fs.writeFileSync(file, parts.join(BREAK) + "\n");
  return file;
}

const PLAN_STEP = ["roster-plan.yml", "Post or update the plan comment"];
const APPLY_STEP = ["roster-apply.yml", "Find the checksum reviewed in the merged pull request"];
const DRIFT_STEP = ["roster-drift.yml", "Open, update or close the drift issue"];

function planEnv(parts, extra = {}) {
  return {
    PLAN_EXIT: "0",
    PLAN_CHECKSUM: CHECKSUM,
    PLAN_MD: planFile(parts),
    HEAD_SHA: HEAD,
    RUN_URL: "https://example.invalid/run/1",
    ...extra,
  };
}

test("the first plan creates one comment per part, the first carrying the checksum line", async () => {
  const { github, state } = fakeGitHub();
  const core = await run(script(...PLAN_STEP), {
    github,
    env: planEnv(["<!-- roster-plan -->\npart one", "<!-- roster-plan -->\npart two"]),
  });
  assert.equal(core.failed, null);
  assert.equal(state.comments.length, 2);
  assert.match(state.comments[0].body, /^<!-- roster-plan -->\npart one\n/);
  assert.ok(state.comments[0].body.includes(`<!-- roster-checksum: ${CHECKSUM} head: ${HEAD} -->`));
  assert.equal(state.comments[1].body, "<!-- roster-plan -->\npart two\n");
});

test("a new plan updates the bot's comments in place, adds parts and ignores look-alikes", async () => {
  const { github, state } = fakeGitHub({
    comments: [
      { id: 1, issue_number: 7, user: HUMAN, body: "<!-- roster-plan -->\nforged" },
      { id: 2, issue_number: 7, user: BOT, body: "<!-- roster-plan -->\nold" },
      { id: 3, issue_number: 7, user: HUMAN, body: "looks fine to me" },
    ],
  });
  await run(script(...PLAN_STEP), {
    github,
    env: planEnv(["<!-- roster-plan -->\nnew 1", "<!-- roster-plan -->\nnew 2", "<!-- roster-plan -->\nnew 3"]),
  });
  const byId = Object.fromEntries(state.comments.map((c) => [c.id, c.body]));
  assert.equal(byId[1], "<!-- roster-plan -->\nforged");
  assert.match(byId[2], /^<!-- roster-plan -->\nnew 1\n/);
  assert.equal(state.comments.filter((c) => c.user === BOT).length, 3);
  assert.deepEqual(state.calls, ["updateComment", "createComment", "createComment"]);
});

test("a shorter plan deletes the surplus parts, and an unchanged part is not rewritten", async () => {
  const env = planEnv(["<!-- roster-plan -->\nonly part"]);
  const { github, state } = fakeGitHub();
  await run(script(...PLAN_STEP), { github, env: planEnv(["<!-- roster-plan -->\na", "<!-- roster-plan -->\nb"]) });
  await run(script(...PLAN_STEP), { github, env });
  assert.equal(state.comments.length, 1);
  state.calls.length = 0;
  await run(script(...PLAN_STEP), { github, env });
  assert.deepEqual(state.calls, []);
});

// Parts as full as this are longer than roster writes; they stand for a long run URL.
test("the checksum line goes where it fits below GitHub's comment limit", async () => {
  const full = "<!-- roster-plan -->\n" + "x".repeat(65_300);
  let fake = fakeGitHub();
  await run(script(...PLAN_STEP), { github: fake.github, env: planEnv([full, "<!-- roster-plan -->\nshort"]) });
  let bodies = fake.state.comments.map((c) => c.body);
  assert.equal(bodies.length, 2);
  assert.ok(!bodies[0].includes("roster-checksum") && bodies[1].includes("roster-checksum"));

  fake = fakeGitHub();
  await run(script(...PLAN_STEP), { github: fake.github, env: planEnv([full, full]) });
  bodies = fake.state.comments.map((c) => c.body);
  assert.equal(bodies.length, 3);
  assert.match(bodies[2], /^<!-- roster-plan -->\n[\s\S]*roster-checksum/);
  assert.ok(bodies.every((b) => b.length < 65_536));
});

test("a failed plan replaces the comment with a notice that has no checksum line", async () => {
  const { github, state } = fakeGitHub();
  await run(script(...PLAN_STEP), { github, env: planEnv(["<!-- roster-plan -->\na", "<!-- roster-plan -->\nb"]) });
  await run(script(...PLAN_STEP), { github, env: planEnv([], { PLAN_EXIT: "1", PLAN_CHECKSUM: "" }) });
  assert.equal(state.comments.length, 1);
  assert.match(state.comments[0].body, /^<!-- roster-plan -->\n### roster plan failed \(exit 1\)/);
  assert.ok(!state.comments[0].body.includes("roster-checksum"));
});

const MERGED = "e".repeat(40);
function mergedPr(head = HEAD) {
  return { number: 7, merged_at: "2026-12-01T00:00:00Z", merge_commit_sha: MERGED, base: { ref: "main" }, head: { sha: head }, commits: [MERGED] };
}

async function planned(parts = ["<!-- roster-plan -->\nplan"]) {
  const fake = fakeGitHub({ prs: [mergedPr()] });
  await run(script(...PLAN_STEP), { github: fake.github, env: planEnv(parts) });
  return fake;
}

test("apply reads the checksum that the plan step wrote for the pull request's last commit", async () => {
  const { github } = await planned(["<!-- roster-plan -->\na", "<!-- roster-plan -->\nb"]);
  const core = await run(script(...APPLY_STEP), { github, sha: MERGED, env: { BRANCH: "main" } });
  assert.equal(core.failed, null);
  assert.equal(core.outputs.checksum, CHECKSUM);
  assert.equal(core.outputs.pr, "7");
});

test("apply refuses a plan made for an earlier commit of the pull request", async () => {
  const { github, state } = await planned();
  state.prs[0].head.sha = "9".repeat(40);
  const core = await run(script(...APPLY_STEP), { github, sha: MERGED, env: { BRANCH: "main" } });
  assert.match(core.failed, /never planned/);
  assert.equal(core.outputs.checksum, undefined);
});

test("apply ignores a checksum line in someone else's comment, and a failed last plan", async () => {
  const line = `<!-- roster-plan -->\n<!-- roster-checksum: ${CHECKSUM} head: ${HEAD} -->`;
  const { github } = fakeGitHub({
    prs: [mergedPr()],
    comments: [{ id: 1, issue_number: 7, user: HUMAN, body: line }],
  });
  let core = await run(script(...APPLY_STEP), { github, sha: MERGED, env: { BRANCH: "main" } });
  assert.match(core.failed, /no successful roster plan/);

  const fake = await planned();
  await run(script(...PLAN_STEP), { github: fake.github, env: planEnv([], { PLAN_EXIT: "1", PLAN_CHECKSUM: "" }) });
  core = await run(script(...APPLY_STEP), { github: fake.github, sha: MERGED, env: { BRANCH: "main" } });
  assert.match(core.failed, /no successful roster plan/);
});

test("a push that no pull request made yields no checksum, and one into another branch too", async () => {
  const { github } = await planned();
  let core = await run(script(...APPLY_STEP), { github, sha: "d".repeat(40), env: { BRANCH: "main" } });
  assert.equal(core.failed, null);
  assert.equal(core.outputs.checksum, "");
  core = await run(script(...APPLY_STEP), { github, sha: MERGED, env: { BRANCH: "release" } });
  assert.equal(core.outputs.checksum, "");
});

function driftEnv(exit, parts = ["<!-- roster-drift -->\ndrift"]) {
  return {
    DRIFT_EXIT: exit,
    DRIFT_MD: planFile(parts),
    RUN_URL: "https://example.invalid/run/2",
    CLOSE_WHEN_IN_SYNC: "true",
  };
}

test("drift opens one issue, updates it on the next run, and closes it when in sync", async () => {
  const { github, state } = fakeGitHub({
    issues: [{ number: 1, user: HUMAN, state: "open", body: "<!-- roster-drift -->\nforged" }],
  });
  await run(script(...DRIFT_STEP), { github, env: driftEnv("2") });
  const ours = () => state.issues.filter((i) => i.user === BOT);
  assert.equal(ours().length, 1);
  assert.match(ours()[0].body, /^<!-- roster-drift -->\ndrift\n/);

  await run(script(...DRIFT_STEP), { github, env: driftEnv("2", ["<!-- roster-drift -->\nmore drift"]) });
  assert.equal(ours().length, 1);
  assert.match(ours()[0].body, /more drift/);

  await run(script(...DRIFT_STEP), { github, env: driftEnv("0") });
  assert.equal(ours()[0].state, "closed");
  assert.equal(state.issues[0].state, "open", "someone else's issue is left alone");

  await run(script(...DRIFT_STEP), { github, env: driftEnv("2") });
  assert.equal(ours().filter((i) => i.state === "open").length, 1, "new drift opens a new issue");
});

test("a drift report in parts continues in tagged comments, and the surplus is removed", async () => {
  const { github, state } = fakeGitHub();
  const three = ["<!-- roster-drift -->\n1", "<!-- roster-drift -->\n2", "3"];
  await run(script(...DRIFT_STEP), { github, env: driftEnv("2", three) });
  assert.deepEqual(
    state.comments.map((c) => c.body),
    ["<!-- roster-drift part -->\n<!-- roster-drift -->\n2\n", "<!-- roster-drift part -->\n3\n"],
  );
  await run(script(...DRIFT_STEP), { github, env: driftEnv("2", ["<!-- roster-drift -->\n1", "2b"]) });
  assert.deepEqual(state.comments.map((c) => c.body), ["<!-- roster-drift part -->\n2b\n"]);
});

test("drift output without the marker does not replace the issue", async () => {
  const { github, state } = fakeGitHub();
  const core = await run(script(...DRIFT_STEP), { github, env: driftEnv("2", ["garbage"]) });
  assert.match(core.failed, /no marker/);
  assert.equal(state.issues.length, 0);
});

// The `run:` steps of roster-apply.yml with a real roster (ROSTER_BIN, e.g. target/debug/roster)
// on a copy of the quickstart (an embedded target: no server, no token). Skipped without it.

const { spawnSync } = require("node:child_process");
const ROSTER_BIN = process.env.ROSTER_BIN;
const needsRoster = { skip: ROSTER_BIN ? false : "set ROSTER_BIN to a roster binary" };

/** The body of the `run: |` block of the step named `name` in `file`. */
function runBody(file, name) {
  const lines = fs.readFileSync(path.join(EXAMPLES, file), "utf8").split("\n");
  const at = lines.findIndex((l) => l.trim() === `- name: ${name}`);
  assert.ok(at >= 0, `no step "${name}" in ${file}`);
  const s = lines.findIndex((l, i) => i > at && l.trim() === "run: |");
  const indent = lines[s].search(/\S/);
  const body = [];
  for (const l of lines.slice(s + 1)) {
    if (l.trim() !== "" && l.search(/\S/) <= indent) break;
    body.push(l);
  }
  return body.join("\n");
}

/** A runner's temporary directory with roster "installed", and a copy of the quickstart. */
function runner(bin = path.resolve(ROSTER_BIN)) {
  const temp = tempDir("roster-runner-");
  fs.mkdirSync(path.join(temp, "roster", "bin"), { recursive: true });
  fs.symlinkSync(bin, path.join(temp, "roster", "bin", "roster"));
  const repo = path.join(temp, "repo");
  fs.cpSync(path.join(EXAMPLES, "..", "quickstart"), repo, { recursive: true });
  fs.rmSync(path.join(repo, ".roster"), { recursive: true, force: true });
  return { temp, config: path.join(repo, "roster.yaml") };
}

/** Run one step as GitHub's `shell: bash` does; returns its exit code, output and outputs. */
function step(r, name, env, file = "roster-apply.yml") {
  const out = path.join(r.temp, `output-${Math.random()}`);
  const summary = path.join(r.temp, "summary.md");
  fs.writeFileSync(out, "");
  const res = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", runBody(file, name)], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RUNNER_TEMP: r.temp,
      GITHUB_OUTPUT: out,
      GITHUB_STEP_SUMMARY: summary,
      ROSTER_CONFIG: r.config,
      NO_COLOR: "1",
      ...env,
    },
    encoding: "utf8",
  });
  const outputs = Object.fromEntries(
    fs.readFileSync(out, "utf8").split("\n").filter(Boolean).map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
  return { code: res.status, log: res.stdout + res.stderr, outputs, summary };
}

function plan(r, env) {
  const p = step(r, "Plan main again", env);
  assert.equal(p.code, 0, p.log);
  return p;
}

const APPLY = "Apply only the reviewed plan";

test("by hand without a checksum: plans, shows the plan and its checksum, applies nothing", needsRoster, () => {
  const r = runner();
  const p = plan(r, { EVENT: "workflow_dispatch", BEFORE: "" });
  assert.match(p.outputs.checksum, /^sha256:[0-9a-f]{64}$/);
  assert.ok(Number(p.outputs.changes) > 0);
  const a = step(r, APPLY, { EVENT: "workflow_dispatch", REQUESTED: "", CHANGES: p.outputs.changes });
  assert.equal(a.code, 0, a.log);
  assert.match(a.log, /Planned only/);
  assert.ok(fs.readFileSync(a.summary, "utf8").includes(p.outputs.checksum));
  assert.equal(plan(r, { EVENT: "workflow_dispatch" }).outputs.checksum, p.outputs.checksum, "nothing was applied");
});

test("by hand with the plan's checksum: applies it; with another checksum: exit 4, nothing written", needsRoster, () => {
  const r = runner();
  let p = plan(r, { EVENT: "workflow_dispatch" });
  const wrong = step(r, APPLY, { EVENT: "workflow_dispatch", REQUESTED: CHECKSUM, CHANGES: p.outputs.changes });
  assert.equal(wrong.code, 4, wrong.log);
  assert.match(wrong.log, /not the reviewed plan/);
  p = plan(r, { EVENT: "workflow_dispatch" });
  assert.ok(Number(p.outputs.changes) > 0, "the refused apply wrote nothing");

  const right = step(r, APPLY, { EVENT: "workflow_dispatch", REQUESTED: p.outputs.checksum, CHANGES: p.outputs.changes });
  assert.equal(right.code, 0, right.log);
  assert.match(right.log, /Apply complete!/);
  assert.equal(plan(r, { EVENT: "workflow_dispatch" }).outputs.changes, "0");
});

test("a push with changes and no reviewed plan applies nothing; with the reviewed one it applies", needsRoster, () => {
  const r = runner();
  // A first push to a new branch has no commit before it: no --base.
  const push = { EVENT: "push", BEFORE: "0".repeat(40) };
  const p = plan(r, push);
  const none = step(r, APPLY, { ...push, REVIEWED: "", CHANGES: p.outputs.changes });
  assert.equal(none.code, 1, none.log);
  assert.match(none.log, /no pull request plan reviewed/);
  const bad = step(r, APPLY, { ...push, REVIEWED: "not-a-checksum", CHANGES: p.outputs.changes });
  assert.equal(bad.code, 1, bad.log);

  const ok = step(r, APPLY, { ...push, REVIEWED: p.outputs.checksum, CHANGES: p.outputs.changes });
  assert.equal(ok.code, 0, ok.log);
  const empty = plan(r, push);
  assert.equal(empty.outputs.changes, "0");
  const again = step(r, APPLY, { ...push, REVIEWED: "", CHANGES: "0" });
  assert.equal(again.code, 0, again.log);
  assert.match(again.log, /nothing to apply/);
});

// The other `run:` steps, with a stand-in for roster that records its arguments, prints a
// report, saves a plan when asked to, and exits with STUB_EXIT: what the steps pass to roster and
// what they make of each exit code, independent of a roster that has `plan --base` and `drift`.

function stub() {
  const dir = tempDir("roster-stub-");
  const bin = path.join(dir, "roster");
  fs.writeFileSync(
    bin,
    `#!/usr/bin/env bash
printf '%s\\n' "$@" > "$STUB_ARGS"
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = --out ]; then out="$2"; fi
  shift
done
if [ -n "$out" ]; then
  printf '{"checksum": "%s", "targets": []}' "$STUB_CHECKSUM" > "$out"
fi
printf '<!-- roster-%s -->\\nreport\\n' "$STUB_KIND"
exit "$STUB_EXIT"
`,
    { mode: 0o755 },
  );
  return bin;
}

function stubStep(file, name, exit, env = {}) {
  const r = runner(stub());
  const args = path.join(r.temp, "args");
  const res = step(r, name, { STUB_ARGS: args, STUB_EXIT: String(exit), STUB_CHECKSUM: CHECKSUM, ...env }, file);
  const argv = fs.existsSync(args) ? fs.readFileSync(args, "utf8").trim().split("\n") : [];
  return { ...res, argv, temp: r.temp, config: r.config };
}

const PLAN_RUN = ["roster-plan.yml", "Plan against the base branch"];

test("the plan step plans against origin/<base> and keeps the checksum of exits 0 and 3", () => {
  for (const exit of [0, 3]) {
    const s = stubStep(...PLAN_RUN, exit, { BASE_REF: "main", STUB_KIND: "plan" });
    assert.equal(s.code, 0, s.log);
    assert.deepEqual(s.argv, [
      "plan", "-c", s.config, "--base", "origin/main", "--format", "markdown", "--out", path.join(s.temp, "plan.json"),
    ]);
    assert.deepEqual(s.outputs, { exit: String(exit), checksum: CHECKSUM });
    assert.equal(fs.readFileSync(path.join(s.temp, "plan.md"), "utf8"), "<!-- roster-plan -->\nreport\n");
    assert.ok(!fs.existsSync(path.join(s.temp, "plan.json")), "the saved plan is removed");
  }
});

test("the plan step records a failed plan without a checksum, and the last step fails the check", () => {
  const s = stubStep(...PLAN_RUN, 1, { BASE_REF: "main", STUB_KIND: "plan" });
  assert.equal(s.code, 0, s.log);
  assert.deepEqual(s.outputs, { exit: "1" });
  const last = "Fail the check when the plan failed or a safety gate tripped";
  for (const [exit, code] of [["0", 0], ["3", 3], ["1", 1], ["", 1]]) {
    const f = step(runner(stub()), last, { PLAN_EXIT: exit }, "roster-plan.yml");
    assert.equal(f.code, code, `${exit}: ${f.log}`);
  }
});

test("the apply workflow's plan of a push is made against the commit before it", () => {
  const before = "c".repeat(40);
  const s = stubStep("roster-apply.yml", "Plan main again", 0, { EVENT: "push", BEFORE: before, STUB_KIND: "plan" });
  assert.equal(s.code, 0, s.log);
  assert.deepEqual(s.argv, ["plan", "-c", s.config, "--base", before, "--out", path.join(s.temp, "plan.json")]);
  assert.equal(s.outputs.checksum, CHECKSUM);
  assert.equal(s.outputs.changes, "0");
  const failed = stubStep("roster-apply.yml", "Plan main again", 3, { EVENT: "push", BEFORE: before, STUB_KIND: "plan" });
  assert.equal(failed.code, 3, "a plan that a gate refused stops the job before apply");
});

const DRIFT_RUN = ["roster-drift.yml", "Compare live state with main"];

test("the drift step passes --ignore-known only when set, and records every exit code", () => {
  let s = stubStep(...DRIFT_RUN, 2, { ROSTER_IGNORE_KNOWN: "", STUB_KIND: "drift" });
  assert.equal(s.code, 0, s.log);
  assert.deepEqual(s.argv, ["drift", "-c", s.config, "--format", "markdown"]);
  assert.deepEqual(s.outputs, { exit: "2" });
  assert.equal(fs.readFileSync(path.join(s.temp, "drift.md"), "utf8"), "<!-- roster-drift -->\nreport\n");
  s = stubStep(...DRIFT_RUN, 1, { ROSTER_IGNORE_KNOWN: "known-drift.yaml", STUB_KIND: "drift" });
  assert.equal(s.code, 0, s.log);
  assert.deepEqual(s.argv, ["drift", "-c", s.config, "--ignore-known", "known-drift.yaml", "--format", "markdown"]);
  assert.deepEqual(s.outputs, { exit: "1" });
  for (const [exit, code] of [["0", 0], ["2", 0], ["1", 1], ["3", 1], ["", 1]]) {
    const f = step(runner(stub()), "Fail on an error", { DRIFT_EXIT: exit }, "roster-drift.yml");
    assert.equal(f.code, code, `${exit}: ${f.log}`);
  }
});
