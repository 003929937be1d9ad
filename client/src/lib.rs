//! The ferrokeeper client crate. Not yet implemented: it reserves its place in the
//! workspace and will build on `ferrokeeper-protocol`.
