//! Where a workload's certificate, key and trust bundle live in a directory. meshd writes the
//! cert-manager / Kubernetes `kubernetes.io/tls` names and reads the names SPIRE's tools write too,
//! so a directory filled by cert-manager (csi-driver-spiffe), spiffe-helper or
//! `spire-agent api fetch x509 -write` works as it is.

use std::path::{Path, PathBuf};

/// One naming convention for the three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertFileNames {
    /// Who writes files named this way.
    pub writer: &'static str,
    /// The certificate chain: the workload's certificate first, then intermediates.
    pub chain: &'static str,
    /// The workload's private key (PKCS#8, SEC1 or PKCS#1 PEM).
    pub key: &'static str,
    /// The trust bundle: the CA certificates peers must chain to.
    pub bundle: &'static str,
}

/// The names `meshd ca issue` writes (cert-manager's, as in a `kubernetes.io/tls` Secret).
pub const CERT_MANAGER: CertFileNames = CertFileNames {
    writer: "cert-manager",
    chain: "tls.crt",
    key: "tls.key",
    bundle: "ca.crt",
};

/// Every convention meshd reads, in the order it looks for them.
pub const KNOWN_NAMES: [CertFileNames; 3] = [
    CERT_MANAGER,
    CertFileNames {
        writer: "spiffe-helper",
        chain: "svid.pem",
        key: "svid_key.pem",
        bundle: "svid_bundle.pem",
    },
    CertFileNames {
        writer: "spire-agent api fetch x509",
        chain: "svid.0.pem",
        key: "svid.0.key",
        bundle: "bundle.0.pem",
    },
];

/// The three files of one workload certificate directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// The directory.
    pub dir: PathBuf,
    /// Which naming convention was found.
    pub names: CertFileNames,
}

impl CertPaths {
    /// Finds the convention used in `dir`: the first whose certificate file exists.
    pub fn locate(dir: &Path) -> Result<CertPaths, MissingCertFiles> {
        if !dir.is_dir() {
            return Err(MissingCertFiles::NotADirectory(dir.to_path_buf()));
        }
        KNOWN_NAMES
            .iter()
            .find(|names| dir.join(names.chain).exists())
            .map(|names| CertPaths {
                dir: dir.to_path_buf(),
                names: *names,
            })
            .ok_or_else(|| MissingCertFiles::NoCertificate(dir.to_path_buf()))
    }

    /// The certificate chain file.
    pub fn chain(&self) -> PathBuf {
        self.dir.join(self.names.chain)
    }

    /// The private key file.
    pub fn key(&self) -> PathBuf {
        self.dir.join(self.names.key)
    }

    /// The trust bundle file.
    pub fn bundle(&self) -> PathBuf {
        self.dir.join(self.names.bundle)
    }
}

/// Why a directory holds no workload certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissingCertFiles {
    /// The path is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// None of the known certificate file names is there.
    #[error(
        "{} holds no workload certificate: expected tls.crt, tls.key and ca.crt (cert-manager, \
         `meshd ca issue`), svid.pem, svid_key.pem and svid_bundle.pem (spiffe-helper), or \
         svid.0.pem, svid.0.key and bundle.0.pem (spire-agent)",
        .0.display()
    )]
    NoCertificate(PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_convention_whose_certificate_exists_is_used() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        assert_eq!(
            CertPaths::locate(&dir),
            Err(MissingCertFiles::NoCertificate(dir.clone()))
        );
        std::fs::write(dir.join("svid.pem"), "").unwrap();
        let paths = CertPaths::locate(&dir).unwrap();
        assert_eq!(paths.names.writer, "spiffe-helper");
        assert_eq!(paths.key(), dir.join("svid_key.pem"));
        std::fs::write(dir.join("tls.crt"), "").unwrap();
        assert_eq!(CertPaths::locate(&dir).unwrap().names, CERT_MANAGER);
        drop(scratch);
        assert!(matches!(
            CertPaths::locate(&dir),
            Err(MissingCertFiles::NotADirectory(_))
        ));
    }
}
