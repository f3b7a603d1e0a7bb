//! Typed errors of the library. Every error here is "bad input or failure" (exit 2);
//! "something to see" (exit 1) is an outcome, not an error.

mod domain;

pub use domain::{BoxError, FanoutError, ReceiptsError, ReconcileError, StoreError, SyncError};

use std::fmt;
use std::path::PathBuf;

/// A problem located in a file: `path:line:col: message`, with the
/// offending line when the text was at hand (shown under the header).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The text of line `line` (no newline), for a snippet with a caret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
    /// How many characters from `column` the problem covers (an underline);
    /// unknown: a single caret.
    #[serde(skip)]
    pub width: Option<usize>,
}

impl Diagnostic {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            source_line: None,
            width: None,
        }
    }

    pub fn at(mut self, line: usize, column: usize) -> Diagnostic {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// The problem covers `width` characters from its column.
    pub fn spanning(mut self, width: usize) -> Diagnostic {
        self.width = Some(width);
        self
    }

    /// Keep the offending line of `text` (the whole file this problem is in),
    /// unless one is already kept or the problem has no line.
    pub fn with_source(mut self, text: &str) -> Diagnostic {
        if self.source_line.is_none() {
            if let Some(line) = self.line.filter(|&l| l > 0) {
                self.source_line = text
                    .split('\n')
                    .nth(line - 1)
                    .map(|l| l.trim_end_matches('\r').to_string());
            }
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(col)) => {
                write!(f, "{}:{}:{}: {}", self.file, line, col, self.message)
            }
            (Some(line), None) => write!(f, "{}:{}: {}", self.file, line, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The desired or live state is malformed or invalid; the first problem and any others.
    #[error("{}", first_of(.0))]
    Invalid(Vec<Diagnostic>),

    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("git: {context}")]
    Git {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    #[error("{context}: gave up after {attempts} attempts because other writers kept moving {reference}")]
    Contended {
        context: String,
        reference: String,
        attempts: u32,
    },

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    Sync(#[from] SyncError),

    #[error(transparent)]
    Fanout(#[from] FanoutError),

    #[error(transparent)]
    Reconcile(#[from] ReconcileError),

    #[error(transparent)]
    Receipts(#[from] ReceiptsError),

    /// A command could not do its work for a reason outside its input (a
    /// process that cannot start, stdin or a log that cannot be read or
    /// written); worded by the command layer, exit 2.
    #[error("{0}")]
    Command(String),
}

fn first_of(diags: &[Diagnostic]) -> String {
    match diags {
        [] => "invalid input".into(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!(
            "{first} (and {} more problem{})",
            rest.len(),
            plural(rest.len())
        ),
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn invalid(diag: Diagnostic) -> Error {
        Error::Invalid(vec![diag])
    }

    /// Give the located problems in `file` their source line from `text`
    /// (the file's whole text), so they can be shown with a caret.
    pub fn with_source(self, file: &str, text: &str) -> Error {
        match self {
            Error::Invalid(problems) => Error::Invalid(
                problems
                    .into_iter()
                    .map(|d| {
                        if d.file == file {
                            d.with_source(text)
                        } else {
                            d
                        }
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach context to gix (and other) errors.
pub(crate) trait GitContext<T> {
    fn git(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> GitContext<T> for std::result::Result<T, E> {
    fn git(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Git {
            context: context(),
            source: Box::new(e),
        })
    }
}
