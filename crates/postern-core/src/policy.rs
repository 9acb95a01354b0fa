//! The organization policy, its reader and its renderings: `postern-policy`, shared with the
//! client-connect handler.

pub use postern_policy::*;
