//! fleet.yaml: model, parser, validator, renderer, diff and blast radius.

pub mod diff;
pub mod incremental;
pub mod model;
pub mod parse;
pub mod render;
pub mod source_map;
pub mod validate;

pub use model::{Assignment, Config, Fleet, Kind, Module, Template};
pub use parse::{parse, Parsed};
pub use source_map::SourceMap;
