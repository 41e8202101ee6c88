//! `roster explain ADDR...`: why objects are, or are not, in the plan. Read-only: it reads live
//! state exactly as `plan` does and asks the planner (docs/contract.md#explain). This file holds
//! the command and its text rendering; JSON is the explanations as they are.

use super::{CommandError, Exit, Format, GlobalArgs, Ui};
use crate::escape::escape_control;
use crate::plan::explain::{Attribute, Explanation, LiveObject};
use crate::render::redact::digest;
use crate::shell;
use clap::Args;
use serde_json::Value;
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Addresses to explain: `<target>:user.<id>`, `<target>:group.<id>`, or
    /// `<target>:<kind>.live:<scim-id>` (the target may be left out when only one is selected).
    #[arg(value_name = "ADDR", required = true)]
    pub addresses: Vec<String>,
}

pub fn run(ui: &Ui, global: &GlobalArgs, args: &ExplainArgs) -> Result<Exit, CommandError> {
    let settings = global.settings();
    let desired = super::read_config(ui, &settings)?;
    let targets = shell::target::select(&desired, &settings.targets)?;
    let compiled = shell::target::compile_all(&desired, &targets)?;
    let addresses = shell::explain::parse_addresses(&args.addresses, &compiled)?;
    let runtime = shell::runtime()?;
    let mut found = runtime.block_on(shell::explain::explain_all(
        &desired,
        &compiled,
        &settings.connect,
        &addresses,
    ))?;
    if global.redact {
        found.iter_mut().for_each(redact);
    }
    match global.format {
        Format::Json => {
            let value = serde_json::json!({ "explanations": found });
            let text =
                serde_json::to_string_pretty(&value).map_err(shell::ShellError::EncodeReport)?;
            ui.out(&format!("{text}\n"));
        }
        Format::Text => ui.out(&render_text(&found)),
        Format::Markdown => ui.out(&format!("```text\n{}```\n", render_text(&found))),
    }
    Ok(Exit::Ok)
}

/// `--redact`: names and attribute values replaced by digests; ids and externalIds are kept,
/// as in a redacted plan.
fn redact(e: &mut Explanation) {
    e.name = digest(&e.name);
    let live = |l: &mut LiveObject| l.name = digest(&l.name);
    if let Some(l) = e.matched.live.as_mut() {
        live(l);
    }
    e.matched.others.iter_mut().for_each(live);
    for a in &mut e.attributes {
        for v in [&mut a.desired, &mut a.live].into_iter().flatten() {
            *v = redact_value(v);
        }
    }
}

fn redact_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(digest(s)),
        Value::Array(a) => Value::Array(a.iter().map(redact_value).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), redact_value(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The text form: one block per address, each part on its own labelled line.
pub fn render_text(found: &[Explanation]) -> String {
    let mut out = String::new();
    for (i, e) in found.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        block(&mut out, e);
    }
    out
}

fn block(out: &mut String, e: &Explanation) {
    let esc = |s: &str| escape_control(s).into_owned();
    let _ = writeln!(out, "{} ({})", e.address, esc(&e.name));
    if let Some(asked) = &e.asked {
        let _ = writeln!(
            out,
            "  asked as:   {asked} (the live object this directory object matched)"
        );
    }
    let how: Vec<String> = e.assignment.how.iter().map(|h| esc(h)).collect();
    let _ = writeln!(
        out,
        "  assignment: {}{}",
        if e.assignment.assigned {
            "assigned: "
        } else {
            ""
        },
        how.join("; ")
    );
    let m = &e.matched;
    let keys = m.keys.join(", then ");
    let what = match e.kind {
        crate::plan::ObjectKind::User => "user",
        crate::plan::ObjectKind::Group => "group",
    };
    let line = match (m.outcome, &m.live, m.key) {
        ("matched", Some(l), Some(k)) => format!(
            "matched by {k} to live {what} {}{}",
            live_text(l),
            if m.adopt {
                " (adopt: externalId set)"
            } else {
                ""
            }
        ),
        ("unmatched", Some(l), _) => format!(
            "live {what} {}; no directory {what} matches it (keys: {keys})",
            live_text(l)
        ),
        ("unmatched", None, _) => format!("no live {what} matches (keys: {keys})"),
        ("conflict", _, key) => {
            let others: Vec<String> = m.others.iter().map(live_text).collect();
            let mut s = format!("conflict on {}", key.unwrap_or("a key"));
            if let Some(d) = &m.conflict {
                let _ = write!(s, ": {}", esc(d));
            }
            if !others.is_empty() {
                let _ = write!(s, " [live: {}]", others.join("; "));
            }
            s
        }
        _ => "takes no part in matching".into(),
    };
    let _ = writeln!(out, "  match:      {line}");
    let _ = writeln!(
        out,
        "  ownership:  {}{}",
        esc(&e.ownership.detail),
        if e.ownership.protected {
            " (protected: never deactivated, deleted or removed from a group)"
        } else {
            ""
        }
    );
    if !e.attributes.is_empty() {
        let _ = writeln!(out, "  attributes:");
        let width = e
            .attributes
            .iter()
            .map(|a| short_path(&a.path).chars().count())
            .max()
            .unwrap_or(0);
        for a in &e.attributes {
            attribute(out, a, width);
        }
    }
    let _ = writeln!(out, "  outcome:    {}", esc(&e.outcome));
}

fn attribute(out: &mut String, a: &Attribute, width: usize) {
    let v = |x: &Option<Value>| match x {
        None | Some(Value::Null) => "(absent)".to_string(),
        Some(Value::String(s)) if s.is_empty() => "(absent)".to_string(),
        Some(x) => escape_control(&x.to_string()).into_owned(),
    };
    let (mark, values) = match a.status {
        "create" => ("+", v(&a.desired)),
        "changes" => ("~", format!("{} -> {}", v(&a.live), v(&a.desired))),
        "same" => ("=", v(&a.desired)),
        _ => (
            " ",
            format!("{} (live {}; not compared)", v(&a.desired), v(&a.live)),
        ),
    };
    let _ = writeln!(
        out,
        "    {mark} {:width$}  {values}    [{}]",
        escape_control(&short_path(&a.path)),
        escape_control(&a.template),
    );
}

fn live_text(l: &LiveObject) -> String {
    let mut s = format!(
        "{} ({}, externalId {}",
        escape_control(&l.id),
        escape_control(&l.name),
        l.external_id
            .as_deref()
            .map(|x| format!("{:?}", escape_control(x)))
            .unwrap_or_else(|| "none".into())
    );
    if let Some(a) = l.active {
        s.push_str(if a { ", active" } else { ", inactive" });
    }
    s.push(')');
    s
}

/// Enterprise extension paths as the text plan writes them (`enterprise:department`); JSON
/// keeps the full URN.
fn short_path(p: &str) -> std::borrow::Cow<'_, str> {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:";
    match p.get(..ENTERPRISE.len()) {
        Some(head) if head.eq_ignore_ascii_case(ENTERPRISE) => {
            format!("enterprise:{}", &p[ENTERPRISE.len()..]).into()
        }
        _ => p.into(),
    }
}
