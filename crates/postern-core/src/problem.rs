//! Problems every door renders (a sentence, a next step, an exit code): defined in
//! `postern-types`, so the helper and the handler share them without the desktop core.

pub use postern_types::problem::*;
