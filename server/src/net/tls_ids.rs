//! The ids a TLS client's certificate gives its connection, as ZooKeeper's
//! X509AuthenticationProvider: `x509:<subject>` (RFC 2253, as Java prints it), and
//! `super:<subject>` for the configured super user.

use ferrokeeper_protocol::Id;
use rustls::pki_types::CertificateDer;

use crate::config::{ClientAuth, ClientTls};

/// The ids for a verified client certificate chain (`None`: the client sent none,
/// which rustls only lets through when certificates are optional). An error closes the
/// connection, as ZooKeeper closes one whose certificate gives no id.
pub fn certificate_ids(
    chain: Option<&[CertificateDer<'_>]>,
    tls: &ClientTls,
) -> Result<Vec<Id>, String> {
    if tls.client_auth == ClientAuth::None {
        return Ok(Vec::new());
    }
    let Some(leaf) = chain.and_then(<[_]>::first) else {
        return if tls.client_auth == ClientAuth::Need {
            Err("no client certificate".into())
        } else {
            Ok(Vec::new())
        };
    };
    let subject = crate::tls::subject::subject_name(leaf)
        .ok_or("the certificate's subject cannot be read")?;
    let mut ids = Vec::new();
    if tls.x509_super_user.as_deref() == Some(subject.as_str()) {
        tracing::info!(subject, "client certificate of the x509 super user");
        ids.push(Id {
            scheme: "super".into(),
            id: subject.clone(),
        });
    }
    ids.push(Id {
        scheme: "x509".into(),
        id: subject,
    });
    Ok(ids)
}
