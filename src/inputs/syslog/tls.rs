//! The TLS listener's certificates (RFC 5425): the server certificate chain and key in PEM, and, when
//! client certificates are required, the CA that signs them. rustls with ring, the provider the
//! Elasticsearch output installs too.

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The server side of TLS: `certificate` (PEM chain, the server's first), `key` (PEM, PKCS#8, PKCS#1
/// or SEC1), and `client_ca` to require and check client certificates.
pub fn server_config(
    certificate: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    crate::outputs::elasticsearch::client::install_crypto_provider();
    let chain = certificates(certificate, "tls.certificate")?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        anyhow::anyhow!(
            "the syslog input's TLS key {} (`tls.key`) cannot be read as a PEM private key: {e}; give the \
             key of `tls.certificate`, unencrypted (PKCS#8, PKCS#1 or SEC1)",
            key.display()
        )
    })?;
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca, "tls.client_ca")? {
                roots.add(cert).with_context(|| {
                    format!("a certificate in `tls.client_ca` ({}) is not a usable CA", ca.display())
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .with_context(|| format!("`tls.client_ca` ({}) cannot verify clients", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).with_context(|| {
        format!(
            "the syslog input's TLS certificate {} and its key do not go together",
            certificate.display()
        )
    })?;
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file; at least one.
fn certificates(path: &Path, key: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bad = |e: rustls::pki_types::pem::Error| {
        anyhow::anyhow!(
            "the syslog input's `{key}` file {} cannot be read as PEM certificates: {e}",
            path.display()
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(bad)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if certs.is_empty() {
        anyhow::bail!(
            "the syslog input's `{key}` file {} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
            path.display()
        );
    }
    Ok(certs)
}
