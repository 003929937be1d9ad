//! TLS for the client port: key and trust stores as ZooKeeper names them (PEM, PKCS12,
//! JKS), the rustls configuration built from them, client certificate checks, and the
//! `x509` id a certificate gives.

mod acceptor;
mod client_verifier;
mod jks;
mod pem;
mod pkcs12;
pub mod store;
pub mod subject;

#[cfg(test)]
mod tests;

pub use acceptor::{ClientTlsAcceptor, TlsError, server_config};
