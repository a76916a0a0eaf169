//! Orientation as one element of the square's symmetry group, so that EXIF/AVIF
//! orientation, `rot` and `flip` collapse into a single pass over the pixels.

use image::metadata::Orientation;
use image::DynamicImage;
use pixgate_policy::variant::Flip;

/// Rotate clockwise by `quarter_turns`, then mirror left↔right when `mirror`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Orient {
    pub quarter_turns: u8,
    pub mirror: bool,
}

impl Orient {
    pub const IDENTITY: Orient = Orient { quarter_turns: 0, mirror: false };

    /// From an EXIF Orientation value; 0 and out-of-range values mean "as stored".
    pub fn from_exif(value: u8) -> Orient {
        Orient::from_image(Orientation::from_exif(value).unwrap_or(Orientation::NoTransforms))
    }

    pub fn from_image(o: Orientation) -> Orient {
        let (quarter_turns, mirror) = match o {
            Orientation::NoTransforms => (0, false),
            Orientation::Rotate90 => (1, false),
            Orientation::Rotate180 => (2, false),
            Orientation::Rotate270 => (3, false),
            Orientation::FlipHorizontal => (0, true),
            Orientation::FlipVertical => (2, true),
            Orientation::Rotate90FlipH => (1, true),
            Orientation::Rotate270FlipH => (3, true),
        };
        Orient { quarter_turns, mirror }
    }

    fn to_image(self) -> Orientation {
        match (self.quarter_turns & 3, self.mirror) {
            (0, false) => Orientation::NoTransforms,
            (1, false) => Orientation::Rotate90,
            (2, false) => Orientation::Rotate180,
            (3, false) => Orientation::Rotate270,
            (0, true) => Orientation::FlipHorizontal,
            (1, true) => Orientation::Rotate90FlipH,
            (2, true) => Orientation::FlipVertical,
            _ => Orientation::Rotate270FlipH,
        }
    }

    /// This transform followed by a clockwise rotation. A mirror reverses the sense of any
    /// rotation applied after it: R∘M∘Rᵃ = M∘R⁻¹∘Rᵃ.
    pub fn then_rotate_cw(self, quarter_turns: u8) -> Orient {
        let q =
            if self.mirror { self.quarter_turns + 4 - (quarter_turns & 3) } else { self.quarter_turns + quarter_turns };
        Orient { quarter_turns: q & 3, mirror: self.mirror }
    }

    /// This transform followed by a mirror. A vertical mirror is a horizontal one after a half turn.
    pub fn then_flip(self, flip: Flip) -> Orient {
        match flip {
            Flip::H => Orient { mirror: !self.mirror, ..self },
            Flip::V => Orient { quarter_turns: (self.quarter_turns + 2) & 3, mirror: !self.mirror },
            Flip::Hv => Orient { quarter_turns: (self.quarter_turns + 2) & 3, ..self },
        }
    }

    pub fn swaps_axes(self) -> bool {
        self.quarter_turns & 1 == 1
    }

    /// Size after the transform.
    pub fn apply_size(self, w: u32, h: u32) -> (u32, u32) {
        if self.swaps_axes() {
            (h, w)
        } else {
            (w, h)
        }
    }

    pub fn apply(self, img: &mut DynamicImage) {
        if self != Orient::IDENTITY {
            img.apply_orientation(self.to_image());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageLuma8(image::GrayImage::from_fn(w, h, |x, y| image::Luma([(y * w + x) as u8])))
    }

    /// Composition must equal applying the steps one after another.
    #[test]
    fn composed_orientation_equals_sequential_steps() {
        let flips = [None, Some(Flip::H), Some(Flip::V), Some(Flip::Hv)];
        for exif in 1..=8u8 {
            for rot in 0..4u8 {
                for flip in flips {
                    let mut stepwise = numbered(3, 2);
                    stepwise.apply_orientation(Orientation::from_exif(exif).unwrap());
                    stepwise = match rot {
                        1 => stepwise.rotate90(),
                        2 => stepwise.rotate180(),
                        3 => stepwise.rotate270(),
                        _ => stepwise,
                    };
                    stepwise = match flip {
                        Some(Flip::H) => stepwise.fliph(),
                        Some(Flip::V) => stepwise.flipv(),
                        Some(Flip::Hv) => stepwise.fliph().flipv(),
                        None => stepwise,
                    };
                    let mut o = Orient::from_exif(exif).then_rotate_cw(rot);
                    if let Some(f) = flip {
                        o = o.then_flip(f);
                    }
                    let mut once = numbered(3, 2);
                    o.apply(&mut once);
                    assert_eq!(once.as_bytes(), stepwise.as_bytes(), "exif {exif} rot {rot} flip {flip:?}");
                    assert_eq!((once.width(), once.height()), o.apply_size(3, 2));
                }
            }
        }
    }
}
