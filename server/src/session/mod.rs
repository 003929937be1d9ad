//! Session identity and expiry: how ids and passwords are made (as ZooKeeper makes
//! them, so every server can check a password without a shared secret) and the
//! leader's expiry tracker. The session table itself is replicated state (`state`).

mod expiry;
mod ids;
mod password;

pub use expiry::ExpiryTracker;
pub use ids::SessionIdGenerator;
pub use password::session_password;
