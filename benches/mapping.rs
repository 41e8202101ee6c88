//! Mapping throughput: render 100,000 synthetic users through the default AWS mapping, build
//! their create bodies, and run the mapping checks `validate` runs, printing users/s and total
//! times. Run with `cargo bench --bench mapping`.

#![allow(clippy::print_stdout)]

use roster::config::model::FieldValue;
use roster::config::{Desired, Field, Group, User};
use roster::diag::{Loc, SourceMap};
use roster::mapping::CompiledTarget;
use std::time::Instant;

const USERS: usize = 100_000;

const CONFIG: &str = r#"
users:
  - { id: e0, user_name: u0, given_name: G, family_name: F, email: e, department: D, manager: e0 }
groups:
  - { name: everyone }
targets:
  aws:
    type: aws-identity-center
    url: https://scim.us-east-1.amazonaws.com/EXAMPLE/scim/v2
    auth: { bearer_token_env: AWS_SCIM_TOKEN }
    assign: { groups: [everyone] }
"#;

fn user(i: usize) -> User {
    let loc = Loc::default();
    let text = |s: String| Field {
        value: FieldValue::Text(s),
        loc,
    };
    let mut fields = roster::config::FieldMap::default();
    fields.insert("id".into(), text(format!("e{i}")));
    fields.insert("user_name".into(), text(format!("user{i}@example.com")));
    fields.insert("given_name".into(), text(format!("Given{i}")));
    fields.insert("family_name".into(), text(format!("Family{i}")));
    fields.insert("email".into(), text(format!("user{i}@example.com")));
    fields.insert("department".into(), text(format!("Dept{}", i % 50)));
    fields.insert("manager".into(), text(format!("e{}", i.saturating_sub(1))));
    User {
        id: format!("e{i}"),
        user_name: format!("user{i}@example.com"),
        active: true,
        manager: Some(format!("e{}", i.saturating_sub(1))),
        fields,
        loc,
    }
}

fn main() {
    let doc = match roster::config::load::parse_document(CONFIG, 0) {
        Ok(d) => d,
        Err(e) => panic!("bench configuration: {e:?}"),
    };
    let mut diags = Vec::new();
    let mut desired: Desired =
        roster::config::resolve(vec![(0, doc)], SourceMap::default(), ".".into(), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    desired.users = (0..USERS).map(user).collect();
    desired.groups = vec![Group {
        id: "everyone".into(),
        name: "everyone".into(),
        description: None,
        members: desired
            .users
            .iter()
            .map(|u| (u.id.clone(), Loc::default()))
            .collect(),
        include: vec![],
        loc: Loc::default(),
        id_loc: Loc::default(),
        name_loc: Loc::default(),
    }];
    let target = &desired.targets[0];

    let t = Instant::now();
    let compiled = match CompiledTarget::compile(target) {
        Ok(c) => c,
        Err(d) => panic!("compile: {d:?}"),
    };
    let compile_us = t.elapsed().as_micros();

    let t = Instant::now();
    let mut rendered = Vec::with_capacity(USERS);
    for u in &desired.users {
        match compiled.render_user(u) {
            Ok(r) => rendered.push(r),
            Err(e) => panic!("{e}"),
        }
    }
    let render = t.elapsed();

    let t = Instant::now();
    let mut bytes = 0usize;
    for r in &rendered {
        let body = compiled.user_resource(r, true, &|id| Some(format!("target-{id}")));
        bytes += body.len();
    }
    let build = t.elapsed();

    let t = Instant::now();
    let problems = roster::validate::check_mappings(&desired);
    let check = t.elapsed();
    assert!(problems.is_empty(), "{:?}", problems.first());

    let per_s = |d: std::time::Duration| USERS as f64 / d.as_secs_f64();
    println!(
        "mapping benchmark: {USERS} users, default AWS mapping ({} user rules)",
        compiled.user.len()
    );
    println!("  compile          {compile_us} us");
    println!(
        "  render_user      {:>8.1} ms  {:>12.0} users/s",
        render.as_secs_f64() * 1e3,
        per_s(render)
    );
    println!(
        "  user_resource    {:>8.1} ms  {:>12.0} users/s  ({bytes} top-level attributes)",
        build.as_secs_f64() * 1e3,
        per_s(build)
    );
    println!(
        "  mapping checks   {:>8.1} ms  {:>12.0} users/s  (assignment, render, all rendered checks)",
        check.as_secs_f64() * 1e3,
        per_s(check)
    );
}
