//! Credentials for a SCIM target, read from where the configuration says (an environment
//! variable or a file, never the YAML) and held as `secrecy` secrets so that they cannot end up
//! in a `Debug` print, a log line or an error by accident. Errors name the variable or the file,
//! never the value. `redact` scrubs any text that might echo a token (a server's error detail,
//! a transport error) before it reaches a user.

use base64_lite::encode as b64;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// Why credentials could not be read. Names where they were looked for, never their value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("the environment variable {var} is not set; export the target's token in it")]
    EnvMissing { var: String },
    #[error("the environment variable {var} is empty")]
    EnvEmpty { var: String },
    #[error("the environment variable {var} does not hold valid UTF-8")]
    EnvNotUnicode { var: String },
    #[error("cannot read the token file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("the token file {} is empty", path.display())]
    FileEmpty { path: PathBuf },
    #[error(
        "{what} cannot be sent in an HTTP header (it holds a line break or a control character)"
    )]
    NotAHeaderValue { what: String },
    #[error("{name:?} is not a valid HTTP header name")]
    BadHeaderName { name: String },
}

/// Where a target's secret is read from; the secret itself is never held here. The
/// configuration's `auth` block is converted into this by the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialSource {
    BearerEnv(String),
    BearerFile(PathBuf),
    Basic {
        username: String,
        password_env: String,
    },
    Header {
        name: String,
        value_env: String,
    },
}

/// How requests are authenticated.
#[derive(Clone)]
pub enum Credentials {
    /// No authentication (the embedded provider, tests).
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        username: String,
        password: SecretString,
    },
    /// A custom header, e.g. `X-Api-Key: <value>`.
    Header { name: String, value: SecretString },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::None => f.write_str("Credentials::None"),
            Credentials::Bearer(_) => f.write_str("Credentials::Bearer([REDACTED])"),
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Credentials::Basic {{ username: {username:?}, password: [REDACTED] }}"
                )
            }
            Credentials::Header { name, .. } => {
                write!(
                    f,
                    "Credentials::Header {{ name: {name:?}, value: [REDACTED] }}"
                )
            }
        }
    }
}

/// Which form of credentials a target uses, without the secret: a refusal's hint names what to
/// check, and a target with a custom header is told about that header, not about tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    None,
    Bearer,
    Basic,
    /// A custom header (its name is in the configuration; kept out so errors stay small).
    Header,
}

impl Credentials {
    /// The form of these credentials (never the secret).
    pub fn kind(&self) -> AuthKind {
        match self {
            Credentials::None => AuthKind::None,
            Credentials::Bearer(_) => AuthKind::Bearer,
            Credentials::Basic { .. } => AuthKind::Basic,
            Credentials::Header { .. } => AuthKind::Header,
        }
    }

    /// A bearer token given directly (tests, the embedded provider).
    pub fn bearer(token: impl Into<String>) -> Credentials {
        Credentials::Bearer(SecretString::from(token.into()))
    }

    /// Reads the credentials a target's `auth` names from the process environment or a file.
    pub fn from_source(source: &CredentialSource) -> Result<Credentials, AuthError> {
        Credentials::from_source_with(source, |var| std::env::var(var))
    }

    /// As `from_source`, with the environment given as a function (for tests).
    pub fn from_source_with(
        source: &CredentialSource,
        env: impl Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Credentials, AuthError> {
        let read_env = |var: &str| -> Result<SecretString, AuthError> {
            match env(var) {
                Ok(v) if v.trim().is_empty() => Err(AuthError::EnvEmpty { var: var.into() }),
                Ok(v) => Ok(SecretString::from(v.trim().to_string())),
                Err(std::env::VarError::NotPresent) => {
                    Err(AuthError::EnvMissing { var: var.into() })
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(AuthError::EnvNotUnicode { var: var.into() })
                }
            }
        };
        let creds = match source {
            CredentialSource::BearerEnv(var) => Credentials::Bearer(read_env(var)?),
            CredentialSource::BearerFile(path) => {
                let text = fs_err::read_to_string(path).map_err(|e| AuthError::File {
                    path: path.clone(),
                    // The io error's own text, without fs-err's path prefix duplicated.
                    reason: e.kind().to_string(),
                })?;
                // Files usually end with a newline; a token never contains whitespace.
                let token = text.trim();
                if token.is_empty() {
                    return Err(AuthError::FileEmpty { path: path.clone() });
                }
                Credentials::Bearer(SecretString::from(token.to_string()))
            }
            CredentialSource::Basic {
                username,
                password_env,
            } => Credentials::Basic {
                username: username.clone(),
                password: read_env(password_env)?,
            },
            CredentialSource::Header { name, value_env } => {
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(AuthError::BadHeaderName { name: name.clone() });
                }
                Credentials::Header {
                    name: name.clone(),
                    value: read_env(value_env)?,
                }
            }
        };
        creds.header()?;
        Ok(creds)
    }

    /// The header to send, marked sensitive so that hyper never logs it.
    pub fn header(
        &self,
    ) -> Result<Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, AuthError>
    {
        use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
        let (name, value, what) = match self {
            Credentials::None => return Ok(None),
            Credentials::Bearer(t) => (
                AUTHORIZATION,
                format!("Bearer {}", t.expose_secret()),
                "the bearer token".to_string(),
            ),
            Credentials::Basic { username, password } => (
                AUTHORIZATION,
                format!(
                    "Basic {}",
                    b64(format!("{username}:{}", password.expose_secret()).as_bytes())
                ),
                "the basic credentials".to_string(),
            ),
            Credentials::Header { name, value } => (
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| AuthError::BadHeaderName { name: name.clone() })?,
                value.expose_secret().to_string(),
                format!("the value of header {name}"),
            ),
        };
        let mut value =
            HeaderValue::from_str(&value).map_err(|_| AuthError::NotAHeaderValue { what })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }

    /// Every string that must never appear in output: the secret itself and the encoded form
    /// that travels on the wire.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credentials::None => vec![],
            Credentials::Bearer(t) => vec![t.expose_secret().to_string()],
            Credentials::Basic { username, password } => vec![
                password.expose_secret().to_string(),
                b64(format!("{username}:{}", password.expose_secret()).as_bytes()),
            ],
            Credentials::Header { value, .. } => vec![value.expose_secret().to_string()],
        }
    }
}

/// Replaces every occurrence of each secret in `text` by `[REDACTED]`. Secrets shorter than 4
/// characters are not searched for: replacing every "a" would destroy the message and such a
/// value is no secret anyway.
pub fn redact<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        let s = s.as_ref();
        if s.len() >= 4 && out.contains(s) {
            out = out.replace(s, "[REDACTED]");
        }
    }
    out
}

/// Standard base64, enough for `Authorization: Basic` (no crate needed for 20 lines).
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::env::VarError;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(i.as_bytes()), o);
        }
    }

    #[test]
    fn env_token_is_trimmed_and_debug_redacts() {
        let c = Credentials::from_source_with(&CredentialSource::BearerEnv("TOK".into()), |_| {
            Ok("  s3cret-token\n".into())
        })
        .expect("creds");
        assert_eq!(c.secrets(), vec!["s3cret-token".to_string()]);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        let (_, v) = c.header().expect("header").expect("some");
        assert_eq!(v.to_str().expect("ascii"), "Bearer s3cret-token");
        assert!(v.is_sensitive());
    }

    #[test]
    fn errors_name_the_variable_not_the_value() {
        let e = Credentials::from_source_with(
            &CredentialSource::BearerEnv("AWS_SCIM_TOKEN".into()),
            |_| Err(VarError::NotPresent),
        )
        .expect_err("missing");
        assert!(e.to_string().contains("AWS_SCIM_TOKEN"));
        let e = Credentials::from_source_with(
            &CredentialSource::Header {
                name: "X-Key".into(),
                value_env: "K".into(),
            },
            |_| Ok("bad\nvalue-secret".into()),
        )
        .expect_err("newline");
        assert!(!e.to_string().contains("value-secret"), "{e}");
    }

    #[test]
    fn token_file_is_trimmed_and_missing_file_named() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("tok");
        fs_err::write(&p, "file-token-123\n").expect("write");
        let c = Credentials::from_source(&CredentialSource::BearerFile(p.clone())).expect("creds");
        assert_eq!(c.secrets(), vec!["file-token-123".to_string()]);
        let missing = dir.path().join("nope");
        let e = Credentials::from_source(&CredentialSource::BearerFile(missing.clone()))
            .expect_err("x");
        assert!(e.to_string().contains(&missing.display().to_string()));
        fs_err::write(&p, "\n").expect("write");
        assert!(matches!(
            Credentials::from_source(&CredentialSource::BearerFile(p)),
            Err(AuthError::FileEmpty { .. })
        ));
    }

    #[test]
    fn basic_redacts_password_and_encoded_form() {
        let c = Credentials::from_source_with(
            &CredentialSource::Basic {
                username: "svc".into(),
                password_env: "P".into(),
            },
            |_| Ok("hunter22".into()),
        )
        .expect("creds");
        let (_, v) = c.header().expect("h").expect("some");
        let wire = v.to_str().expect("ascii").to_string();
        let text = format!("echo {wire} and hunter22");
        let r = redact(&text, &c.secrets());
        assert!(!r.contains("hunter22") && !r.contains(&wire[6..]), "{r}");
        assert!(format!("{c:?}").contains("svc"));
    }
}
