//! SCIM filters (RFC 7644 §3.4.2.2) built from parts, so that a value is always escaped (a
//! userName with a quote cannot break out of the string) and a dialect can refuse what its
//! server does not understand: AWS accepts only `eq`, joined by `and`.

use crate::scim::dialect::Dialect;
use std::fmt;
use thiserror::Error;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl FilterOp {
    /// The operator a filter word names, ignoring case (RFC 7644 operators are case-insensitive).
    pub fn parse(word: &str) -> Option<FilterOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => FilterOp::Eq,
            "ne" => FilterOp::Ne,
            "co" => FilterOp::Co,
            "sw" => FilterOp::Sw,
            "ew" => FilterOp::Ew,
            "gt" => FilterOp::Gt,
            "ge" => FilterOp::Ge,
            "lt" => FilterOp::Lt,
            "le" => FilterOp::Le,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Ne => "ne",
            FilterOp::Co => "co",
            FilterOp::Sw => "sw",
            FilterOp::Ew => "ew",
            FilterOp::Gt => "gt",
            FilterOp::Ge => "ge",
            FilterOp::Lt => "lt",
            FilterOp::Le => "le",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    #[error("{dialect} filters support only `eq` joined by `and`, not `{op}` (in `{filter}`)")]
    UnsupportedOp {
        dialect: &'static str,
        op: &'static str,
        filter: String,
    },
    #[error("{attribute:?} is not a SCIM attribute path")]
    BadAttribute { attribute: String },
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    attribute: String,
    op: FilterOp,
    value: String,
}

/// A conjunction of `attribute op "value"` clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    clauses: Vec<Clause>,
}

impl Filter {
    /// `attribute eq "value"`.
    pub fn eq(attribute: &str, value: &str) -> Filter {
        Filter::compare(attribute, FilterOp::Eq, value)
    }

    /// `attribute op "value"`.
    pub fn compare(attribute: &str, op: FilterOp, value: &str) -> Filter {
        Filter {
            clauses: vec![Clause {
                attribute: attribute.to_string(),
                op,
                value: value.to_string(),
            }],
        }
    }

    /// `self and other`.
    pub fn and(mut self, other: Filter) -> Filter {
        self.clauses.extend(other.clauses);
        self
    }

    /// The filter text for a server of `dialect`; refuses what the dialect cannot express.
    pub fn render(&self, dialect: Dialect) -> Result<String, FilterError> {
        for c in &self.clauses {
            let valid_path = !c.attribute.is_empty()
                && c.attribute
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "._:$-".contains(ch));
            if !valid_path {
                return Err(FilterError::BadAttribute {
                    attribute: c.attribute.clone(),
                });
            }
            if dialect == Dialect::AwsIdentityCenter && c.op != FilterOp::Eq {
                return Err(FilterError::UnsupportedOp {
                    dialect: dialect.as_str(),
                    op: c.op.as_str(),
                    filter: self.to_string(),
                });
            }
        }
        Ok(self.to_string())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{} {} {}", c.attribute, c.op.as_str(), quote(&c.value))?;
        }
        Ok(())
    }
}

/// A SCIM string literal: the JSON string grammar, which escapes `"`, `\` and control
/// characters.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_and_backslashes() {
        let f = Filter::eq("userName", "a\"b\\c");
        assert_eq!(f.to_string(), r#"userName eq "a\"b\\c""#);
        // The escaped text is a valid JSON string that decodes to the original.
        let lit = quote("x\"y\n\u{1}");
        let back: String = serde_json::from_str(&lit).expect("json string");
        assert_eq!(back, "x\"y\n\u{1}");
    }

    #[test]
    fn and_combines() {
        let f = Filter::eq("id", "1").and(Filter::eq("manager", "2"));
        assert_eq!(
            f.render(Dialect::AwsIdentityCenter).expect("ok"),
            r#"id eq "1" and manager eq "2""#
        );
    }

    #[test]
    fn aws_refuses_other_operators() {
        let f = Filter::eq("userName", "a").and(Filter::compare("title", FilterOp::Co, "x"));
        assert!(f.render(Dialect::Generic).is_ok());
        let e = f.render(Dialect::AwsIdentityCenter).expect_err("co");
        assert!(e.to_string().contains("`co`"), "{e}");
    }

    #[test]
    fn refuses_injected_attribute() {
        let f = Filter::eq("userName eq \"x\" or id", "a");
        assert!(f.render(Dialect::Generic).is_err());
    }

    proptest::proptest! {
        #[test]
        fn quoted_value_decodes_to_itself(v in "\\PC*") {
            let back: String = serde_json::from_str(&quote(&v)).expect("valid JSON string");
            proptest::prop_assert_eq!(back, v);
        }
    }
}
