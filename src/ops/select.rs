//! Selectors of resources in a desired file: `modules/nginx-*`,
//! `assignments/app-*:nginx-public` (globs on kind/name) and `node=app-01`
//! (every assignment of that node).

use crate::error::{Error, Result};
use crate::fleet::model::split_assignment_key;
use crate::fleet::{Fleet, Kind};
use glob::{MatchOptions, Pattern};

#[derive(Debug, Clone)]
pub struct Selector {
    /// As written, for messages and the commit trailer.
    pub text: String,
    what: What,
}

#[derive(Debug, Clone)]
enum What {
    Resource { kind: Kind, name: Pattern },
    Node(Pattern),
}

const USAGE: &str = "a selector is kind/name-glob (kinds: templates, modules, assignments, provider_configs), e.g. modules/nginx-* or assignments/app-*:nginx-public, or node=NAME";

fn options() -> MatchOptions {
    MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector> {
        let bad = |why: String| Error::usage_hint(format!("selector '{text}': {why}"), USAGE);
        let pattern = |p: &str| {
            if p.is_empty() {
                return Err(bad("the name part is empty".into()));
            }
            Pattern::new(p).map_err(|e| bad(format!("not a valid glob ({})", e.msg)))
        };
        let what = if let Some(node) = text.strip_prefix("node=") {
            What::Node(pattern(node)?)
        } else {
            let (kind, name) = text
                .split_once('/')
                .ok_or_else(|| bad("expected kind/name or node=NAME".into()))?;
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| bad(format!("unknown kind '{kind}'")))?;
            What::Resource {
                kind,
                name: pattern(name)?,
            }
        };
        Ok(Selector {
            text: text.to_string(),
            what,
        })
    }

    pub fn matches(&self, kind: Kind, name: &str) -> bool {
        match &self.what {
            What::Resource { kind: k, name: p } => *k == kind && p.matches_with(name, options()),
            What::Node(p) => {
                kind == Kind::Assignments
                    && split_assignment_key(name).is_some_and(|(n, _)| p.matches_with(n, options()))
            }
        }
    }
}

/// Every resource of `fleet` (kind, name) that one of `selectors` matches,
/// in file order of kinds then names. An empty list of selectors selects all.
pub fn select(fleet: &Fleet, selectors: &[Selector]) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    let mut each = |kind: Kind, names: &mut dyn Iterator<Item = &String>| {
        for name in names {
            if selectors.is_empty() || selectors.iter().any(|s| s.matches(kind, name)) {
                out.push((kind, name.clone()));
            }
        }
    };
    each(Kind::Templates, &mut fleet.templates.keys());
    each(Kind::Modules, &mut fleet.modules.keys());
    each(Kind::Assignments, &mut fleet.assignments.keys());
    each(Kind::ProviderConfigs, &mut fleet.provider_configs.keys());
    out
}

/// Like [`select`], refusing a selector that matches nothing (exit 2): a
/// typo must never become "changed nothing" or "everything".
pub fn select_each(
    fleet: &Fleet,
    selectors: &[Selector],
    file: &str,
) -> Result<Vec<(Kind, String)>> {
    for s in selectors {
        if select(fleet, std::slice::from_ref(s)).is_empty() {
            return Err(Error::usage_hint(
                format!("selector '{}' matches nothing in {file}", s.text),
                "list what there is with `git fleet get KIND/*`",
            ));
        }
    }
    Ok(select(fleet, selectors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_match() {
        let s = Selector::parse("modules/nginx-*").unwrap();
        assert!(s.matches(Kind::Modules, "nginx-public"));
        assert!(!s.matches(Kind::Assignments, "nginx-public"));
        let a = Selector::parse("assignments/app-*:nginx-public").unwrap();
        assert!(a.matches(Kind::Assignments, "app-01:nginx-public"));
        assert!(!a.matches(Kind::Assignments, "app-01:tls"));
        let n = Selector::parse("node=app-01").unwrap();
        assert!(n.matches(Kind::Assignments, "app-01:tls"));
        assert!(!n.matches(Kind::Assignments, "app-011:tls"));
        for bad in ["nginx", "widgets/x", "modules/", "node="] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}
