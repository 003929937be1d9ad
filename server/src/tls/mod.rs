//! TLS for the client port: key and trust stores as ZooKeeper names them (PEM, PKCS12,
//! JKS), the rustls configuration built from them, client certificate checks, and the
//! `x509` id a certificate gives.

mod acceptor;
mod build;
mod client_verifier;
mod jks;
pub mod peer;
mod pem;
mod pkcs12;
mod reload;
pub mod store;
pub mod subject;

#[cfg(test)]
mod tests;

pub use acceptor::{ClientTlsAcceptor, server_config};
pub use build::TlsError;
