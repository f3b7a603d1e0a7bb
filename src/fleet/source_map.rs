//! Where each resource of a fleet file was declared: the positions messages
//! point at. Shared by the parser and the validator (neither imports the other back).

use super::model::Kind;
use crate::error::Diagnostic;
use std::collections::HashMap;

/// Where each resource was declared, for messages about it.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub file: String,
    positions: HashMap<(Kind, String), (usize, usize)>,
    /// Positions of fields inside a resource (e.g. `priority`, or a key path in provider_configs).
    fields: HashMap<(Kind, String, String), (usize, usize)>,
}

impl SourceMap {
    pub fn new(file: impl Into<String>) -> SourceMap {
        SourceMap {
            file: file.into(),
            positions: HashMap::new(),
            fields: HashMap::new(),
        }
    }

    pub fn record(&mut self, kind: Kind, name: &str, line: usize, col: usize) {
        self.positions.insert((kind, name.to_string()), (line, col));
    }

    /// A diagnostic pointing at the resource's key (or at the file when unknown).
    pub fn diag(&self, kind: Kind, name: &str, message: impl Into<String>) -> Diagnostic {
        let d = Diagnostic::new(self.file.clone(), message);
        match self.positions.get(&(kind, name.to_string())) {
            Some(&(line, col)) => d.at(line, col),
            None => d,
        }
    }

    pub fn record_field(&mut self, kind: Kind, name: &str, field: &str, line: usize, col: usize) {
        self.fields
            .insert((kind, name.to_string(), field.to_string()), (line, col));
    }

    /// A diagnostic pointing at a field of a resource, else at the resource.
    pub fn diag_field(
        &self,
        kind: Kind,
        name: &str,
        field: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        match self
            .fields
            .get(&(kind, name.to_string(), field.to_string()))
        {
            Some(&(line, col)) => Diagnostic::new(self.file.clone(), message).at(line, col),
            None => self.diag(kind, name, message),
        }
    }

    pub fn field_position(&self, kind: Kind, name: &str, field: &str) -> Option<(usize, usize)> {
        self.fields
            .get(&(kind, name.to_string(), field.to_string()))
            .copied()
    }

    /// Every resource with the position of its key.
    pub fn resources(&self) -> impl Iterator<Item = (Kind, &str, (usize, usize))> + '_ {
        self.positions
            .iter()
            .map(|((k, n), p)| (*k, n.as_str(), *p))
    }

    pub fn position(&self, kind: Kind, name: &str) -> Option<(usize, usize)> {
        self.positions.get(&(kind, name.to_string())).copied()
    }
}
