//! The ferrokeeper server library. Not yet implemented: the standalone server is the
//! subject of the next milestone; this crate only reserves its place in the workspace.
