//! The client port's TLS: a rustls server configuration built from ZooKeeper's
//! `ssl.*` settings, replaced without a restart when the store files change.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::build::{self, FixedCertificate, TlsError};
use crate::config::{ClientAuth, ClientTls};

/// Builds the server configuration from the stores as they are now.
pub fn server_config(tls: &ClientTls) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(build::provider(&tls.cipher_suites)?);
    let identity = build::identity(&tls.key_store, &provider)?;
    let versions = build::versions(&provider, &tls.versions)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let config = match (&tls.trust_store, tls.client_auth) {
        (_, ClientAuth::None) | (None, _) => {
            builder.with_client_cert_verifier(WebPkiClientVerifier::no_client_auth())
        }
        (Some(trust), auth) => builder.with_client_cert_verifier(build::client_verifier(
            trust,
            &provider,
            auth == ClientAuth::Want,
        )?),
    };
    Ok(config.with_cert_resolver(Arc::new(FixedCertificate(identity))))
}

/// The current TLS configuration of the client port, replaced when the stores change.
pub struct ClientTlsAcceptor {
    settings: ClientTls,
    current: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for ClientTlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTlsAcceptor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClientTlsAcceptor {
    /// Reads the stores; an error names the setting and the file.
    pub fn new(settings: ClientTls) -> Result<Arc<Self>, TlsError> {
        let config = server_config(&settings)?;
        Ok(Arc::new(ClientTlsAcceptor {
            settings,
            current: RwLock::new(TlsAcceptor::from(Arc::new(config))),
        }))
    }

    pub fn settings(&self) -> &ClientTls {
        &self.settings
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn files(&self) -> Vec<PathBuf> {
        std::iter::once(&self.settings.key_store)
            .chain(&self.settings.trust_store)
            .map(|s| s.location.clone())
            .collect()
    }

    /// Watches the store files and rebuilds the configuration when one changes. New
    /// connections get the new certificates; open ones keep theirs. A change that does
    /// not load (a half-written file, a wrong password) is logged and the previous
    /// configuration stays.
    pub async fn reload_on_change(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        let files = self.files();
        super::reload::on_change(&files, every, stop, "client TLS", || {
            let config = server_config(&self.settings)?;
            *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                TlsAcceptor::from(Arc::new(config));
            Ok(())
        })
        .await;
    }
}
