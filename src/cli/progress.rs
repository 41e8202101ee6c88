//! How apply shows its progress: one line per change, or a progress bar on a terminal, and the
//! result lines, through [`Ui`] like every other output. The shell reports each change as it
//! ends through [`TargetProgress`]; this is `cli`'s side of that trait.

use super::{Format, GlobalArgs, Ui};
use crate::apply::{ChangeResult, Progress, Status};
use crate::plan::Action;
use crate::render;
use crate::shell::apply::TargetProgress;
use indicatif::{ProgressBar, ProgressStyle};

/// What a change did, in words, with the name unless `--redact`.
pub(super) fn describe(r: &ChangeResult, redact: bool) -> String {
    if redact {
        format!("({})", render::redact::digest(&r.name))
    } else {
        format!("({})", r.name)
    }
}

fn verb(r: &ChangeResult) -> String {
    let words: Vec<&str> = r
        .actions
        .iter()
        .map(|a| match a {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Deactivate => "deactivated",
            Action::Reactivate => "reactivated",
            Action::Delete => "deleted",
            Action::AddMembers => "members added",
            Action::RemoveMembers => "members removed",
        })
        .collect();
    words.join(" and ")
}

/// One line per change, or a progress bar on a terminal.
pub(super) struct Printer<'a> {
    ui: &'a Ui,
    global: &'a GlobalArgs,
    bar: Option<ProgressBar>,
}

impl<'a> Printer<'a> {
    pub(super) fn new(ui: &'a Ui, global: &'a GlobalArgs, target: &str, total: u64) -> Printer<'a> {
        let bar = (ui.stderr_tty && !ui.quiet).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30}] {pos}/{len} changes  {rate}  {elapsed_precise}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar.set_prefix(target.to_string());
            super::ui::set_progress_bar(Some(bar.clone()));
            bar
        });
        Printer { ui, global, bar }
    }
}

impl TargetProgress for Printer<'_> {
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            super::ui::set_progress_bar(None);
        }
    }
}

impl Progress for Printer<'_> {
    fn throttled(&self, write_rate: Option<f64>) {
        let rate = write_rate.map_or("unpaced".to_string(), |r| format!("at {r:.1} writes/s"));
        let line = format!(
            "the server answers 429 (Too Many Requests): waiting on its limit, sending {rate}"
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !self.ui.quiet => self.ui.status(&line),
            None => {}
        }
    }

    fn finished(&self, r: &ChangeResult) {
        let name = describe(r, self.global.redact);
        let line = match r.status {
            Status::Applied => {
                let id = match (&r.id, r.actions.contains(&Action::Create)) {
                    (Some(id), true) => format!(" [id={id}]"),
                    _ => String::new(),
                };
                let note = r
                    .note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                format!(
                    "{} {name}: {}{id}{note} after {:.2}s",
                    r.address,
                    verb(r),
                    r.seconds
                )
            }
            Status::Failed => {
                let text = format!(
                    "{} {name}: FAILED: {}",
                    r.address,
                    r.error.as_deref().unwrap_or("")
                );
                let text = crate::escape::escape_control(&text).into_owned();
                crate::style::Paint::new(self.ui.color_out).wrap(crate::style::Style::Red, &text)
            }
            Status::Skipped => format!(
                "{} {name}: {}",
                r.address,
                r.error.as_deref().unwrap_or("skipped")
            ),
        };
        // Names and server messages are live values: shown, never obeyed by the terminal.
        let line = match r.status {
            Status::Failed => line,
            _ => crate::escape::escape_control(&line).into_owned(),
        };
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if r.status != Status::Applied {
                bar.println(line);
            }
            return;
        }
        if !self.ui.quiet {
            result_line(self.ui, self.global, &line);
        }
    }
}

pub(super) fn result_line(ui: &Ui, global: &GlobalArgs, line: &str) {
    if global.format == Format::Text {
        ui.out(line);
    } else {
        ui.status(line);
    }
}
