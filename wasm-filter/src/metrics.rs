//! The edge metrics of DESIGN.md §7. Envoy has no labels for Wasm metrics, so labels are
//! encoded in the name (`pixgate_edge_requests_total.dialect.qiniu`) and `stats_tags` in
//! `envoy/envoy.yaml` extract them back into `{dialect="qiniu"}` for `/stats/prometheus`.
//! This module only names things; it never calls the host.

use pixgate_policy::negotiate::FormatReason;
use pixgate_policy::{Dialect, ErrorCode, Format};

pub const REQUESTS: &str = "pixgate_edge_requests_total";
pub const FORMAT: &str = "pixgate_edge_format_total";
pub const REJECTED: &str = "pixgate_edge_rejected_total";
pub const DROPPED_PARAMS: &str = "pixgate_edge_dropped_params_total";
pub const LOSSY: &str = "pixgate_edge_lossy_total";

pub const FORMATS: [Option<Format>; 6] =
    [Some(Format::Avif), Some(Format::Webp), Some(Format::Jpeg), Some(Format::Png), Some(Format::Gif), None];

pub const REASONS: [FormatReason; 4] =
    [FormatReason::Explicit, FormatReason::Accept, FormatReason::UserAgent, FormatReason::None];

pub const ERRORS: [ErrorCode; 7] = [
    ErrorCode::BadKey,
    ErrorCode::BadParam,
    ErrorCode::TooLarge,
    ErrorCode::UnsupportedLegacyFeature,
    ErrorCode::BadSignature,
    ErrorCode::Expired,
    ErrorCode::RemoteSourceDisabled,
];

/// The `format` label: a concrete format, or `source` when the source's format is kept.
pub fn format_label(f: Option<Format>) -> &'static str {
    f.map_or("source", Format::as_str)
}

/// `user-agent` would not survive Envoy's tag regex as a single dot-free token either
/// way, but `-` is fine; keep the policy's spelling so dashboards match the explain JSON.
pub fn reason_label(r: FormatReason) -> &'static str {
    r.as_str()
}

pub fn requests(d: Dialect) -> String {
    format!("{REQUESTS}.dialect.{}", d.as_str())
}

pub fn lossy(d: Dialect) -> String {
    format!("{LOSSY}.dialect.{}", d.as_str())
}

pub fn format(f: Option<Format>, r: FormatReason) -> String {
    format!("{FORMAT}.format.{}.reason.{}", format_label(f), reason_label(r))
}

pub fn rejected(code: ErrorCode) -> String {
    format!("{REJECTED}.reason.{}", code.as_str())
}

/// Index of a (format, reason) pair in a flat table of `FORMATS.len() * REASONS.len()`.
pub fn format_index(f: Option<Format>, r: FormatReason) -> usize {
    let fi = FORMATS.iter().position(|x| *x == f).unwrap_or(FORMATS.len() - 1);
    let ri = REASONS.iter().position(|x| *x == r).unwrap_or(REASONS.len() - 1);
    fi * REASONS.len() + ri
}

pub fn error_index(code: ErrorCode) -> usize {
    ERRORS.iter().position(|x| *x == code).unwrap_or(0)
}

pub fn dialect_index(d: Dialect) -> usize {
    Dialect::ALL.iter().position(|x| *x == d).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_labels_as_dot_pairs() {
        assert_eq!(requests(Dialect::Qiniu), "pixgate_edge_requests_total.dialect.qiniu");
        assert_eq!(
            format(Some(Format::Webp), FormatReason::Accept),
            "pixgate_edge_format_total.format.webp.reason.accept"
        );
        assert_eq!(format(None, FormatReason::None), "pixgate_edge_format_total.format.source.reason.none");
        assert_eq!(rejected(ErrorCode::BadKey), "pixgate_edge_rejected_total.reason.bad_key");
    }

    #[test]
    fn flat_indices_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for f in FORMATS {
            for r in REASONS {
                assert!(seen.insert(format_index(f, r)));
            }
        }
        assert_eq!(seen.len(), FORMATS.len() * REASONS.len());
    }
}
