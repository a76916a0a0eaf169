//! Pixgate's policy: everything the edge filter and the origin must agree on, as plain
//! functions with no I/O, no clock and no randomness, so that both runtimes (native and
//! `wasm32-wasip1`) share one grammar.
//!
//! The entry point is [`Policy::decide`]: a request head in, a [`Decision`] out.

pub mod config;
pub mod decide;
pub mod dialect;
pub mod error;
pub mod explain;
pub mod hash;
mod json;
pub mod key;
pub mod negotiate;
pub mod plan;
pub mod query;
pub mod sign;
pub mod ua;
pub mod variant;

pub use config::FilterConfig;
pub use decide::{Decision, Outcome, Policy, RequestHead};
pub use dialect::Dialect;
pub use error::{ErrorCode, PolicyError, Warning, WarningCode};
pub use plan::{plan, Plan};
pub use variant::{Fit, Format, Gravity, Variant};
