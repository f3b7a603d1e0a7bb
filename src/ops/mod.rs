//! Operations on values: lossless edits of desired files (get/set), adopting
//! live drift, and variants with promotion. Decides and writes; never prints.

pub mod adopt;
pub mod edit;
pub mod getset;
pub mod ignore;
pub mod live_set;
pub mod select;
pub mod variants;
pub mod yamledit;
