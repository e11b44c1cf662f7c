//! HTTPS: the server's certificate and key, from PEM text.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use tokio_rustls::TlsAcceptor;

/// The certificate chain and private key the server presents, as PEM text
/// (in configuration usually `$file: server.crt` and `$file: server.key`).
#[derive(Clone, PartialEq, Eq)]
pub struct Tls {
    /// The certificate chain, the server's own certificate first.
    pub certificate: String,
    /// The private key.
    pub key: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("key", &"<secret>")
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Builds what accepts TLS connections with this certificate and key.
    ///
    /// # Errors
    ///
    /// Returns why the PEM text is not a usable certificate and key.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.certificate.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|error| format!("the certificate is not PEM: {error}"))?;
        if certificates.is_empty() {
            return Err("the certificate holds no PEM certificate".to_string());
        }
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes())
            .map_err(|error| format!("the key is not a PEM private key: {error}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .map_err(|error| format!("the certificate and key do not go together: {error}"))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
