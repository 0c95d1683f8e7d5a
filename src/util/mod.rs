//! Small helpers shared by several components.

pub mod fs;
