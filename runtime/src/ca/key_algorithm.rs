//! The key algorithms `meshd ca` generates: those rustls' ring provider signs and verifies in
//! TLS 1.3. ECDSA P-256 is the default, as in SPIRE and cert-manager: small, fast to verify,
//! accepted everywhere.

use rcgen::{
    KeyPair, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519,
};

/// A key algorithm for a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256 => &PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcdsaP384 => &PKCS_ECDSA_P384_SHA384,
            KeyAlgorithm::Ed25519 => &PKCS_ED25519,
        }
    }

    /// A new key pair.
    pub fn generate(self) -> Result<KeyPair, rcgen::Error> {
        KeyPair::generate_for(self.signature_algorithm())
    }
}
