//! Segment schemes from files: the I/O above the segment kernel ([`crate::rfm::segment`] only
//! parses text).

use std::path::Path;

use datafusion::common::{Result, plan_datafusion_err, plan_err};

use crate::rfm::SegmentScheme;

impl SegmentScheme {
    /// Reads a `.toml` or `.json` definition file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| plan_datafusion_err!("cannot read segment scheme file {}: {e}", path.display()))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json(&text),
            Some("toml") => Self::from_toml(&text),
            _ => plan_err!("segment scheme file {} must end in .toml or .json", path.display()),
        }
    }
}
