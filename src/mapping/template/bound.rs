//! Bounded memory for mapping templates. Fuel bounds the instructions a template executes, not
//! the size of what they build: `{% set ns.s = ns.s ~ ns.s %}` in a loop of 40 doubles a string
//! to a terabyte in 160 instructions, and roster aborted on the failed allocation. MiniJinja has
//! no option for value sizes and its operators (`~`, `+`, `*`) cannot be overridden, so the
//! templates run on a copy of their compiled instructions with a check inserted after every
//! instruction that can produce a larger value than its inputs (operators, filter, function,
//! method and macro calls, list and map literals, captured blocks):
//!
//! - every such value is at most [`MAX_VALUE_BYTES`] (strings by bytes; lists and maps by their
//!   elements plus the elements' own sizes);
//! - the values one render builds add up to at most [`MAX_WORK_BYTES`], which also bounds the
//!   time the checks take and the memory held by many values at once (variables, macro frames);
//! - the output, literal text included, is at most [`MAX_OUTPUT_BYTES`];
//! - the filters whose output can be much larger than their bounded inputs (`replace`, `join`,
//!   `indent`, `batch`, `slice`, `format`, `pprint`) are wrapped: their result size is bounded
//!   from the arguments before the builtin runs, so the builtin never allocates past the limit.
//!
//! A string repeated with `*` is capped by MiniJinja itself (100 MB); that value is refused by
//! the check right after, so its memory is held for one instruction only.

use minijinja::machinery::{Instruction, Instructions};
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use std::cell::Cell;

/// The largest value a template may build: far above any SCIM attribute value.
pub const MAX_VALUE_BYTES: usize = 256 << 10;
/// The bytes of all values one render may build.
pub const MAX_WORK_BYTES: usize = 16 << 20;
/// The largest output of one render.
pub const MAX_OUTPUT_BYTES: usize = 256 << 10;
/// Nesting of macro calls and loops; mapping templates need a few levels, and each level may
/// hold values of its own.
pub const RECURSION_LIMIT: usize = 64;

/// The filter inserted after growing instructions.
const CHECK: &str = "__roster_size_check";

thread_local! {
    /// Bytes built and bytes written by the render running on this thread.
    static SPENT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Start counting for a new render on this thread.
pub fn start_render() {
    SPENT.with(|s| s.set((0, 0)));
}

fn kib(n: usize) -> usize {
    n >> 10
}

fn too_large(what: &str, limit: usize) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "the template builds {what} larger than {} KiB, the limit for mapping templates",
            kib(limit)
        ),
    )
}

fn charge_work(n: usize) -> Result<(), Error> {
    SPENT.with(|s| {
        let (work, out) = s.get();
        let work = work.saturating_add(n);
        s.set((work, out));
        if work > MAX_WORK_BYTES {
            Err(too_large("values adding up to", MAX_WORK_BYTES))
        } else {
            Ok(())
        }
    })
}

fn charge_output(n: usize) -> Result<(), Error> {
    SPENT.with(|s| {
        let (work, out) = s.get();
        let out = out.saturating_add(n);
        s.set((work, out));
        if out > MAX_OUTPUT_BYTES {
            Err(too_large("output", MAX_OUTPUT_BYTES))
        } else {
            Ok(())
        }
    })
}

/// The size of a value, counted until it passes `limit` (then any number above it).
/// Lazy iterables of unknown length are not iterated: iterating may consume them; what they
/// produce is checked where it is built.
pub fn size(v: &Value, limit: usize) -> usize {
    if let Some(s) = v.as_str() {
        return s.len();
    }
    match v.kind() {
        ValueKind::Seq | ValueKind::Map => {
            let mut n = 0usize;
            let Ok(iter) = v.try_iter() else {
                return 8;
            };
            let is_map = v.kind() == ValueKind::Map;
            for item in iter {
                n = n.saturating_add(1 + size(&item, limit.saturating_sub(n)));
                if is_map {
                    if let Ok(value) = v.get_item(&item) {
                        n = n.saturating_add(size(&value, limit.saturating_sub(n)));
                    }
                }
                if n > limit {
                    break;
                }
            }
            n
        }
        ValueKind::Iterable => v.len().unwrap_or(8),
        _ => 8,
    }
}

/// The check inserted after growing instructions: passes the value through unchanged.
fn check(v: Value) -> Result<Value, Error> {
    let n = size(&v, MAX_VALUE_BYTES);
    if n > MAX_VALUE_BYTES {
        return Err(too_large("a value", MAX_VALUE_BYTES));
    }
    charge_work(n)?;
    Ok(v)
}

/// Whether the instruction leaves a value on the stack that may be larger than its inputs.
fn grows(i: &Instruction<'_>) -> bool {
    matches!(
        i,
        Instruction::StringConcat
            | Instruction::Add
            | Instruction::Mul
            | Instruction::ApplyFilter(..)
            | Instruction::CallFunction(..)
            | Instruction::CallMethod(..)
            | Instruction::CallObject(..)
            | Instruction::BuildList(..)
            | Instruction::BuildMap(..)
            | Instruction::EndCapture
    )
}

/// A copy of `src` with a [`CHECK`] after every growing instruction and literal text emitted
/// through the formatter (so that it counts towards the output limit), jump targets moved to
/// match.
pub fn instrument<'s>(src: &Instructions<'s>) -> Instructions<'s> {
    let len = src.len();
    // where each old instruction (and the end) lands in the new list
    let mut at = Vec::with_capacity(len + 1);
    let mut next = 0u32;
    for idx in 0..len {
        at.push(next);
        next += match src.get(idx as u32) {
            Some(Instruction::EmitRaw(_)) => 2,
            Some(i) if grows(i) => 2,
            _ => 1,
        };
    }
    at.push(next);
    let target = |t: &mut u32| {
        if let Some(&n) = at.get(*t as usize) {
            *t = n;
        }
    };
    let mut out = Instructions::new(src.name(), src.source());
    for idx in 0..len {
        let Some(instr) = src.get(idx as u32) else {
            continue;
        };
        let add = |out: &mut Instructions<'s>, i: Instruction<'s>| {
            if let Some(span) = src.get_span(idx as u32) {
                out.add_with_span(i, span);
            } else if let Some(line) = src.get_line(idx as u32) {
                out.add_with_line(i, u16::try_from(line).unwrap_or(u16::MAX));
            } else {
                out.add(i);
            }
        };
        let mut instr = instr.clone();
        match &mut instr {
            Instruction::Jump(t)
            | Instruction::JumpIfFalse(t)
            | Instruction::JumpIfFalseOrPop(t)
            | Instruction::JumpIfTrueOrPop(t)
            | Instruction::Iterate(t)
            | Instruction::BuildMacro(_, t, _) => target(t),
            _ => {}
        }
        if let Instruction::EmitRaw(text) = instr {
            // A safe string is written as is, like raw text, even under `{% autoescape %}`.
            add(
                &mut out,
                Instruction::LoadConst(Value::from_safe_string(text.to_string())),
            );
            add(&mut out, Instruction::Emit);
            continue;
        }
        let check_after = grows(&instr);
        add(&mut out, instr);
        if check_after {
            add(&mut out, Instruction::ApplyFilter(CHECK, Some(1), !0));
        }
    }
    out
}

/// The output formatter: MiniJinja's own, after counting what it writes.
fn format_counted(out: &mut minijinja::Output, state: &State, value: &Value) -> Result<(), Error> {
    let n = match value.as_str() {
        Some(s) => s.len(),
        None => size(value, MAX_OUTPUT_BYTES).max(value.to_string().len()),
    };
    charge_output(n)?;
    minijinja::escape_formatter(out, state, value)
}

/// The length of a value as a string, as the filters see it.
fn text_len(v: &Value) -> usize {
    v.as_str().map_or_else(|| v.to_string().len(), str::len)
}

fn usize_arg(v: Option<&Value>) -> usize {
    v.and_then(|v| usize::try_from(v.clone()).ok()).unwrap_or(0)
}

/// An upper bound of the size of a filter's result, from its arguments (the value first).
fn filter_bound(name: &str, args: &[Value]) -> usize {
    let arg = |i: usize| args.get(i);
    let value_len = arg(0).map_or(0, |v| size(v, MAX_VALUE_BYTES));
    match name {
        "replace" => {
            let (Some(s), Some(from), Some(to)) = (arg(0), arg(1), arg(2)) else {
                return value_len;
            };
            let (s, from) = (s.to_string(), from.to_string());
            let hits = if from.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(from.as_str()).count()
            };
            s.len().saturating_add(hits.saturating_mul(text_len(to)))
        }
        "join" => {
            let joiner = arg(1).map_or(0, text_len);
            let Some(v) = arg(0) else { return 0 };
            let (mut n, mut items) = (0usize, 0usize);
            if let Ok(iter) = v.try_iter() {
                for item in iter {
                    items += 1;
                    n = n.saturating_add(text_len(&item));
                    if n > MAX_VALUE_BYTES || items > MAX_VALUE_BYTES {
                        return usize::MAX;
                    }
                }
            } else {
                n = text_len(v);
            }
            n.saturating_add(items.saturating_mul(joiner))
        }
        "indent" => {
            let width = match arg(1) {
                Some(w) if w.as_str().is_some() => text_len(w),
                other => usize_arg(other),
            };
            let lines = arg(0).map_or(0, |v| v.to_string().lines().count() + 1);
            value_len.saturating_add(lines.saturating_mul(width))
        }
        // Rows or columns of the value, padded up to `count` with the fill value.
        "batch" | "slice" => {
            let count = usize_arg(arg(1));
            let fill = arg(2).map_or(0, |f| size(f, MAX_VALUE_BYTES));
            value_len
                .saturating_add(count)
                .saturating_add(count.saturating_mul(fill))
        }
        "format" => {
            // printf widths and precisions are numbers in the format string
            let widths: usize = arg(0)
                .map(|f| f.to_string())
                .unwrap_or_default()
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|d| d.parse::<usize>().ok())
                .fold(0, usize::saturating_add);
            args.iter()
                .map(text_len)
                .fold(widths, usize::saturating_add)
        }
        // pretty-printing indents every element by its depth
        "pprint" => value_len.saturating_mul(depth(arg(0), 0).saturating_add(1) * 4),
        _ => value_len,
    }
}

fn depth(v: Option<&Value>, at: usize) -> usize {
    let Some(v) = v else { return at };
    if at > 64 || !matches!(v.kind(), ValueKind::Seq | ValueKind::Map) {
        return at;
    }
    let Ok(iter) = v.try_iter() else { return at };
    iter.map(|item| {
        let inner = if v.kind() == ValueKind::Map {
            v.get_item(&item).ok()
        } else {
            Some(item)
        };
        depth(inner.as_ref(), at + 1)
    })
    .max()
    .unwrap_or(at + 1)
}

/// Set up `env` for bounded rendering: the check filter, the counting formatter, the wrapped
/// filters, and a recursion limit.
pub fn configure(env: &mut Environment<'static>) {
    env.add_filter(CHECK, check);
    env.set_formatter(format_counted);
    env.set_recursion_limit(RECURSION_LIMIT);
    use minijinja::filters as f;
    let wrapped = [
        ("replace", Value::from_function(f::replace)),
        ("join", Value::from_function(f::join)),
        ("indent", Value::from_function(f::indent)),
        ("batch", Value::from_function(f::batch)),
        ("slice", Value::from_function(f::slice)),
        ("format", Value::from_function(f::format)),
        ("pprint", Value::from_function(f::pprint)),
    ];
    for (name, original) in wrapped {
        env.add_filter(name, move |state: &State, args: &[Value]| {
            if filter_bound(name, args) > MAX_VALUE_BYTES {
                return Err(too_large(
                    &format!("a value with `{name}`"),
                    MAX_VALUE_BYTES,
                ));
            }
            original.call(state, args)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Value {
        minijinja::context! { name => "Ada", groups => vec!["a", "b", "c"], n => 3 }
    }

    /// MiniJinja's own render, unbounded: only for templates that stay small.
    fn plain(src: &str) -> Result<String, Error> {
        let mut plain = Environment::new();
        plain.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        plain.add_template("t", src).expect("compiles");
        plain.get_template("t").and_then(|t| t.render(context()))
    }

    /// The instrumented render.
    fn bounded(src: &str) -> Result<String, Error> {
        let ctx = context();
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        configure(&mut env);
        env.add_template_owned("t", src.to_string())
            .expect("compiles");
        let tmpl = env.get_template("t").expect("added");
        let compiled = minijinja::machinery::get_compiled_template(&tmpl);
        let instructions = instrument(&compiled.instructions);
        let blocks: std::collections::BTreeMap<_, _> = compiled
            .blocks
            .iter()
            .map(|(k, v)| (*k, instrument(v)))
            .collect();
        let mut rv = String::new();
        let mut out = minijinja::machinery::make_string_output(&mut rv);
        start_render();
        let got = minijinja::machinery::Vm::new(&env)
            .eval(
                &instructions,
                ctx,
                &blocks,
                &mut out,
                compiled.initial_auto_escape,
            )
            .map(|_| rv);
        got
    }

    #[test]
    fn instrumented_templates_render_like_minijinja() {
        for src in [
            "{{ name }} {{ name | upper }} {{ name ~ '-' ~ n }}",
            "{% for g in groups %}{{ loop.index }}:{{ g }}{% if not loop.last %},{% endif %}{% endfor %}",
            "{% if n > 2 %}big{% elif n > 1 %}mid{% else %}small{% endif %}",
            "{% set ns = namespace(s='') %}{% for g in groups %}{% set ns.s = ns.s ~ g %}{% endfor %}{{ ns.s }}",
            "{% macro m(x, y=2) %}[{{ x }}/{{ y }}]{% endmacro %}{{ m(1) }}{{ m('a', y='b') }}",
            "{% for x in [[1, [2]], [3]] recursive %}{% if x is sequence %}({{ loop(x) }}){% else %}{{ x }}{% endif %}{% endfor %}",
            "{% set x %}captured {{ name }}{% endset %}{{ x | trim }}!",
            "{% filter upper %}in filter {{ name }}{% endfilter %}",
            "{% autoescape true %}<{{ '<b>' }}>{% endautoescape %}",
            "{{ groups | join(', ') }} {{ name | replace('a', 'e') }} {{ groups | batch(2) | list }}",
            "{{ '%s-%05d' | format(name, n) }} {{ (groups + ['d']) | length }} {{ 'ab' * 3 }}",
            "{% for i in range(3) %}{% for j in range(2) %}{{ i * j }}{% endfor %}{% else %}none{% endfor %}",
            "{{ {'k': name}['k'] }} {{ name[1:] }} {{ missing | default('x') }} {{ n is odd }}",
            "{% block b %}block {{ name }}{% endblock %}",
        ] {
            assert_eq!(
                plain(src).map_err(|e| e.to_string()),
                bounded(src).map_err(|e| e.to_string()),
                "{src}"
            );
        }
    }

    #[test]
    fn growing_templates_are_stopped() {
        for (src, words) in [
            (
                "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
                "a value larger than 256 KiB",
            ),
            (
                "{% set a = 'x' * 200000 %}{% set b = a ~ a %}{{ b | length }}",
                "a value larger than 256 KiB",
            ),
            ("{{ ('x' * 1000) | replace('x', 'y' * 1000) }}", "`replace`"),
            ("{{ range(1000) | join('x' * 1000) }}", "`join`"),
            ("{{ [1] | batch(100000000, 'x') | length }}", "`batch`"),
            ("{{ 'x' | indent(100000000) }}", "`indent`"),
            ("{{ '%100000000s' | format('x') }}", "`format`"),
            (
                "{% set ns = namespace(l=[]) %}{% for i in range(20000) %}{% set ns.l = ns.l + [name ~ i] %}{% endfor %}{{ ns.l | length }}",
                "larger than",
            ),
            (
                "{% for i in range(4000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}",
                "output larger than 256 KiB",
            ),
        ] {
            let e = bounded(src).expect_err(src).to_string();
            assert!(e.contains(words), "{src}: {e}");
        }
    }
}
