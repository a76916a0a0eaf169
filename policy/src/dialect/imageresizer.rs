//! The imageresizer query vocabulary (DIALECTS.md §1), read by the shared query engine of
//! [`super::generic`]: the same names, with imageresizer's meanings for `fit`, `crop` and defaults.

use super::generic::{translate_with, Vocab};
use super::Translated;
use crate::error::PolicyError;

pub fn translate(path: &[u8], query: &[u8]) -> Result<Translated, PolicyError> {
    translate_with(Vocab::ImageResizer, path, query)
}
