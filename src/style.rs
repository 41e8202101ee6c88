//! Terminal colour in one place: the ANSI codes roster writes and the rule for when it writes
//! them. Diagnostics (`diag`), plans (`render`) and messages (`cli`) all paint through here.
//!
//! A tiny module of roster's own rather than `owo-colors` + `anstream`: roster colours a handful
//! of fixed words and marks, and tests pin its output bytes. `owo-colors` closes each colour
//! with its own reset (`\x1b[39m`), not the `\x1b[0m` roster has always written, and
//! `anstream` would add CLICOLOR rules the command line does not document. It is a leaf (it
//! imports nothing of roster) so that `diag`, which everything uses, can use it too.

/// One style roster writes, as its SGR parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Red,
    Green,
    Yellow,
    Blue,
    BoldRed,
    BoldYellow,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Blue => "34",
            Style::BoldRed => "1;31",
            Style::BoldYellow => "1;33",
        }
    }
}

/// The escape sequences of each style, or empty strings when colour is off, for text that
/// interleaves several styles (`{bold}{red}error{reset}{bold}: …{reset}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub bold: &'static str,
    pub red: &'static str,
    pub green: &'static str,
    pub yellow: &'static str,
    pub blue: &'static str,
    pub reset: &'static str,
}

/// Colour on or off, decided once per stream; painting with it off is the identity, so callers
/// need no branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub fn new(on: bool) -> Paint {
        Paint { on }
    }

    /// `s` in `style`, reset after it.
    pub fn wrap(self, style: Style, s: &str) -> String {
        if self.on {
            format!("\x1b[{}m{s}\x1b[0m", style.sgr())
        } else {
            s.to_string()
        }
    }

    pub fn palette(self) -> Palette {
        if self.on {
            Palette {
                bold: "\x1b[1m",
                red: "\x1b[31m",
                green: "\x1b[32m",
                yellow: "\x1b[33m",
                blue: "\x1b[34m",
                reset: "\x1b[0m",
            }
        } else {
            Palette {
                bold: "",
                red: "",
                green: "",
                yellow: "",
                blue: "",
                reset: "",
            }
        }
    }
}

/// Whether a stream gets colour: `forced` is `--color always` (`Some(true)`) or `never`
/// (`Some(false)`); otherwise only a terminal does, and not when `NO_COLOR` is set to anything
/// non-empty (no-color.org).
pub fn enabled(forced: Option<bool>, tty: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    forced.unwrap_or_else(|| tty && no_color.is_none_or(|v| v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painted_bytes_are_the_ones_roster_always_wrote() {
        let on = Paint::new(true);
        assert_eq!(on.wrap(Style::Green, "+"), "\x1b[32m+\x1b[0m");
        assert_eq!(on.wrap(Style::BoldRed, "x"), "\x1b[1;31mx\x1b[0m");
        assert_eq!(on.palette().bold, "\x1b[1m");
        let off = Paint::new(false);
        assert_eq!(off.wrap(Style::BoldYellow, "x"), "x");
        assert_eq!(off.palette().reset, "");
    }

    #[test]
    fn no_color_turns_off_auto_only() {
        let set = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(enabled(None, true, None));
        assert!(enabled(None, true, empty));
        assert!(!enabled(None, true, set));
        assert!(!enabled(None, false, None));
        assert!(enabled(Some(true), false, set));
        assert!(!enabled(Some(false), true, None));
    }
}
