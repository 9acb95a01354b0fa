//! Text from outside shown to a person, escaped: defined in `postern-types`.

pub use postern_types::text::*;
