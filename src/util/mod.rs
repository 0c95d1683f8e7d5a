//! Small helpers shared by several components.

pub mod data_dir;
pub mod fs;
pub mod json_read;
pub mod json_write;
pub mod path_match;
