//! One place for output: data to stdout, status to stderr, color only for people.

use console::Style;
use git_fleet::workspace::CheckReport;
use git_fleet::Diagnostic;
use std::io::Write;

/// `--color`: when to color human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

pub struct Ui {
    color_out: bool,
    color_err: bool,
    pub quiet: bool,
    /// A JSON object went to stdout: a failing command that already printed
    /// its own (error) object gets no second one.
    printed_json: std::cell::Cell<bool>,
}

/// The JSON schema version of every `--json` object.
pub const JSON_VERSION: u32 = 1;

/// `body` (an object) with `"version"` added.
fn with_version(body: serde_json::Value) -> serde_json::Value {
    match body {
        serde_json::Value::Object(mut map) => {
            map.insert("version".into(), JSON_VERSION.into());
            serde_json::Value::Object(map)
        }
        other => other,
    }
}

/// What a successful command found: nothing to see (0) or something to see (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Found,
}

impl Outcome {
    /// The exit code: 0 nothing to see, 1 something to see.
    pub fn code(self) -> i32 {
        match self {
            Outcome::Done => 0,
            Outcome::Found => 1,
        }
    }
}

impl Ui {
    pub fn new(choice: ColorChoice, quiet: bool) -> Ui {
        let (out, err) = match choice {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => {
                let (out, err) = (
                    console::Term::stdout().is_term(),
                    console::Term::stderr().is_term(),
                );
                // Only ask the environment and git when a terminal would see it.
                if (out || err) && auto_color_allowed() {
                    (out, err)
                } else {
                    (false, false)
                }
            }
        };
        Ui {
            color_out: out,
            color_err: err,
            quiet,
            printed_json: std::cell::Cell::new(false),
        }
    }

    /// A line of data on stdout. A closed pipe (`| head`) is not an error.
    pub fn out(&self, line: impl AsRef<str>) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", line.as_ref());
    }

    /// Exactly one JSON object on stdout, never colored: `body`'s fields in
    /// the envelope every `--json` output shares (`"version"`). The one place
    /// that adds it.
    pub fn json(&self, body: serde_json::Value) {
        self.emit(&with_version(body), true);
    }

    /// Like [`Ui::json`] for one object of a stream (`reconcile --watch`):
    /// compact, a line each, when stdout is not a terminal.
    pub fn json_line(&self, body: serde_json::Value) {
        self.emit(&with_version(body), console::Term::stdout().is_term());
    }

    /// Like [`Ui::json_line`] for any serializable struct, without building a
    /// `Value` (large listings); `"version"` comes first.
    pub fn json_of<T: serde::Serialize>(&self, body: &T) {
        #[derive(serde::Serialize)]
        struct Envelope<'a, T> {
            version: u32,
            #[serde(flatten)]
            body: &'a T,
        }
        let envelope = Envelope {
            version: JSON_VERSION,
            body,
        };
        self.emit(&envelope, console::Term::stdout().is_term());
    }

    fn emit<T: serde::Serialize>(&self, value: &T, pretty: bool) {
        self.printed_json.set(true);
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let _ = if pretty {
            serde_json::to_writer_pretty(&mut out, value)
        } else {
            serde_json::to_writer(&mut out, value)
        };
        let _ = writeln!(out);
    }

    pub fn printed_json(&self) -> bool {
        self.printed_json.get()
    }

    /// A status line on stderr, unless --quiet.
    pub fn status(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    pub fn error(&self, line: impl AsRef<str>) {
        eprintln!(
            "{} {}",
            self.err_style(Style::new().red().bold()).apply_to("error:"),
            line.as_ref()
        );
    }

    /// A located problem: `error: file:line:col: message`, then the
    /// offending line with a caret under the column (an underline over the
    /// span when known); the header alone when the line is not known.
    pub fn problem(&self, d: &Diagnostic) {
        self.error(d.to_string());
        if let Some(snippet) = snippet(d, self.color_err) {
            eprintln!("{snippet}");
        }
    }

    /// `warning: ...` on stderr, even with --quiet (as git does).
    pub fn warn(&self, line: impl AsRef<str>) {
        eprintln!(
            "{} {}",
            self.err_style(Style::new().yellow().bold())
                .apply_to("warning:"),
            line.as_ref()
        );
    }

    pub fn hint(&self, line: impl AsRef<str>) {
        eprintln!(
            "{} {}",
            self.err_style(Style::new().cyan()).apply_to("hint:"),
            line.as_ref()
        );
    }

    /// Each problem as an error, else `<files> ok` (also the pre-commit hook's words).
    pub fn check_report(&self, report: &CheckReport) {
        for p in &report.problems {
            self.problem(p);
        }
        if report.ok() && !report.checked.is_empty() {
            self.status(format!("{} ok", report.checked.join(", ")));
        }
    }

    fn err_style(&self, s: Style) -> Style {
        if self.color_err {
            s.force_styling(true)
        } else {
            Style::new()
        }
    }

    /// Paint for stdout: a no-op style when color is off.
    pub fn paint(&self, s: Style) -> Style {
        if self.color_out {
            s.force_styling(true)
        } else {
            Style::new()
        }
    }

    pub fn green(&self) -> Style {
        self.paint(Style::new().green())
    }
    pub fn red(&self) -> Style {
        self.paint(Style::new().red())
    }
    pub fn yellow(&self) -> Style {
        self.paint(Style::new().yellow())
    }
    pub fn bold(&self) -> Style {
        self.paint(Style::new().bold())
    }
    pub fn dim(&self) -> Style {
        self.paint(Style::new().dim())
    }
}

/// The source line of `d` with a caret or underline, rendered by
/// annotate-snippets; `None` without a line, column and source text.
fn snippet(d: &Diagnostic, color: bool) -> Option<String> {
    use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
    let (line, column) = (d.line?, d.column?.max(1));
    // Control characters (an escape sequence in a name) are shown, not
    // sent to the terminal; one char for one keeps the column.
    let source: String = d
        .source_line
        .as_deref()?
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    let byte = |chars: usize| {
        source
            .char_indices()
            .nth(chars)
            .map_or(source.len(), |(i, _)| i)
    };
    let start = byte(column - 1);
    let end = byte(column - 1 + d.width.unwrap_or(0)).max(start);
    let report = &[Group::with_level(Level::ERROR).element(
        Snippet::source(&source)
            .line_start(line)
            .fold(false)
            .annotation(AnnotationKind::Primary.span(start..end)),
    )];
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    Some(renderer.render(report))
}

/// `--color=auto` on a terminal: off for `NO_COLOR`, `CLICOLOR=0`,
/// `TERM=dumb`, and git's `color.ui` set to never/false (as `git` itself
/// decides; `git -c color.ui=...` reaches us through the environment).
fn auto_color_allowed() -> bool {
    let var = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
    if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if var("CLICOLOR").as_deref() == Some("0") {
        return false;
    }
    if var("TERM").as_deref() == Some("dumb") {
        return false;
    }
    let config = std::process::Command::new("git")
        .args(["config", "--get", "color.ui"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match config {
        Ok(out) if out.status.success() => {
            let value = String::from_utf8_lossy(&out.stdout)
                .trim()
                .to_ascii_lowercase();
            !matches!(value.as_str(), "never" | "false" | "no" | "off" | "0")
        }
        // Unset, or no git: color, as git's default (auto) does.
        _ => true,
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
