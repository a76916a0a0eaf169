//! The pipeline limits both origin targets run under.

use pixgate_origin::pipeline::{Limits, AVIF_SPEED_MAX};

/// Small budgets, so that every input runs quickly and a limit is easy to reach; the
/// fastest AVIF encode, since the targets are after decoder and validation bugs.
pub const LIMITS: Limits = Limits {
    max_bytes: 4 << 20,
    max_pixels: 4_000_000,
    max_side: 4_096,
    max_frames: 64,
    avif_max_pixels: 40_000,
    avif_speed: AVIF_SPEED_MAX,
};
