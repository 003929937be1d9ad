//! The data tree: znodes, stats, ACLs, ephemeral/container/TTL bookkeeping. Pure and
//! deterministic: no sockets, no Raft, no clocks, no session table.

pub mod acl;
mod data_tree;
mod node;
pub mod owner;
pub mod path;
pub mod quota;
mod shared_acl;

#[cfg(test)]
mod tests;

pub(crate) use data_tree::Undo;
pub use data_tree::{DataTree, QuotaBreach};
pub use node::Node;
pub use owner::OwnerKind;
pub use shared_acl::SharedAcl;
