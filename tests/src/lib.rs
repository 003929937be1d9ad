//! Shared helpers for the process-level integration tests (none yet: they arrive with
//! the standalone server).
