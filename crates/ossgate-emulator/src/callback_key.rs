//! The RSA key the emulator signs callbacks with, in place of OSS's.
//!
//! OSS signs with a fixed 512-bit key whose public half it serves at
//! `gosspublic.alicdn.com`. The emulator loads its key from a PEM file, or
//! generates one (2048 bits by default, 512 to match OSS) and saves it there,
//! and serves the public half at `/callback_pub_key_v1.pem` on its listener.

use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::error::EmulatorError;

/// The callback signing key and the PEM of its public half.
pub struct CallbackKey {
    pub private: RsaPrivateKey,
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo), as OSS serves its key.
    pub public_pem: String,
}

impl std::fmt::Debug for CallbackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackKey")
            .field("bits", &(self.private.size() * 8))
            .finish_non_exhaustive()
    }
}

impl CallbackKey {
    /// Loads the key at `path`, or generates a `bits`-bit key and saves it
    /// there (mode 0600 on Unix) when the file does not exist.
    ///
    /// With `regenerate_on_mismatch`, a saved key of another size is replaced;
    /// without it that is an error, so an explicitly configured key is never
    /// overwritten.
    ///
    /// # Errors
    /// [`EmulatorError::CallbackKey`] when the file is not an RSA private key
    /// or has the wrong size; [`EmulatorError::Io`] when it cannot be read or written.
    pub fn load_or_generate(
        path: &Path,
        bits: usize,
        regenerate_on_mismatch: bool,
    ) -> Result<Self, EmulatorError> {
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                let private =
                    parse_private_key(&pem).map_err(|reason| EmulatorError::CallbackKey {
                        path: path.to_owned(),
                        reason,
                    })?;
                let actual_bits = private.size() * 8;
                if actual_bits == bits {
                    return Self::from_private(private, path);
                }
                if !regenerate_on_mismatch {
                    return Err(EmulatorError::CallbackKey {
                        path: path.to_owned(),
                        reason: format!(
                            "the key has {actual_bits} bits but callback_key_bits is {bits}; \
                             delete the file or set callback_key_bits = {actual_bits}"
                        ),
                    });
                }
                tracing::info!(path = %path.display(), actual_bits, bits, "replacing the callback key with one of the configured size");
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(EmulatorError::Io {
                    action: "read the callback key",
                    path: path.to_owned(),
                    source,
                })
            }
        }

        let private = Self::generate(bits, path)?;
        save_private_key(&private, path)?;
        tracing::info!(path = %path.display(), bits, "generated a callback signing key");
        Self::from_private(private, path)
    }

    fn generate(bits: usize, path: &Path) -> Result<RsaPrivateKey, EmulatorError> {
        RsaPrivateKey::new(&mut rand::thread_rng(), bits).map_err(|error| {
            EmulatorError::CallbackKey {
                path: path.to_owned(),
                reason: format!("failed to generate a {bits}-bit key: {error}"),
            }
        })
    }

    fn from_private(private: RsaPrivateKey, path: &Path) -> Result<Self, EmulatorError> {
        let public_pem = RsaPublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| EmulatorError::CallbackKey {
                path: path.to_owned(),
                reason: format!("failed to encode the public key: {error}"),
            })?;
        Ok(Self {
            private,
            public_pem,
        })
    }

    pub fn bits(&self) -> usize {
        self.private.size() * 8
    }
}

fn parse_private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|error| format!("invalid PKCS#1 RSA key: {error}"))
    } else if pem.contains("BEGIN PRIVATE KEY") {
        RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|error| format!("invalid PKCS#8 RSA key: {error}"))
    } else {
        Err(
            "expected a PEM RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
                .to_owned(),
        )
    }
}

fn save_private_key(private: &RsaPrivateKey, path: &Path) -> Result<(), EmulatorError> {
    let io_error = |action: &'static str, path: PathBuf| {
        move |source| EmulatorError::Io {
            action,
            path,
            source,
        }
    };
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| EmulatorError::CallbackKey {
            path: path.to_owned(),
            reason: format!("failed to encode the key: {error}"),
        })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(io_error("create the directory", parent.to_owned()))?;
    }

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(io_error("create the callback key file", path.to_owned()))?;
    std::io::Write::write_all(&mut file, pem.as_bytes())
        .map_err(io_error("write the callback key", path.to_owned()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_saved_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/callback.pem");
        let first = CallbackKey::load_or_generate(&path, 512, false).unwrap();
        assert_eq!(first.bits(), 512);
        assert!(first.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let second = CallbackKey::load_or_generate(&path, 512, false).unwrap();
        assert_eq!(first.private, second.private);
    }

    #[test]
    fn key_of_another_size_is_rejected_unless_regenerating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callback.pem");
        CallbackKey::load_or_generate(&path, 512, false).unwrap();
        let error = CallbackKey::load_or_generate(&path, 1024, false).unwrap_err();
        assert!(error.to_string().contains("512 bits"), "{error}");
        let replaced = CallbackKey::load_or_generate(&path, 1024, true).unwrap();
        assert_eq!(replaced.bits(), 1024);
    }

    #[test]
    fn garbage_key_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callback.pem");
        std::fs::write(&path, "not a key").unwrap();
        let error = CallbackKey::load_or_generate(&path, 512, true).unwrap_err();
        assert!(
            error.to_string().contains("expected a PEM RSA private key"),
            "{error}"
        );
    }
}
