//! [`Sealer`]: the authenticated encryption of the OAuth2 secrets FACT keeps in a database
//! (grant tokens, the PKCE verifiers of pending flows), under a key derived from `SECRET_KEY`.
//!
//! XChaCha20-Poly1305 under a key derived from the secret by HKDF-SHA256; every seal draws a
//! fresh random 192-bit nonce. The caller's associated data binds a sealed value to its row
//! (a grant to its user, a flow to its id, user, tool and expiry), so a sealed value copied
//! onto another row does not open. A short key id, derived from the same secret, tells
//! "written under another `SECRET_KEY`" apart from "altered".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::auth::AuthError;

/// The shortest `SECRET_KEY` accepted, in bytes.
pub const MIN_SECRET_KEY_LEN: usize = 32;

const KEY_INFO: &[u8] = b"fact-runtime/oauth-grants/v1/xchacha20poly1305";
const KEY_ID_INFO: &[u8] = b"fact-runtime/oauth-grants/v1/key-id";
const NONCE_LEN: usize = 24;

/// Why a sealed value does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpenError {
    /// It was sealed under another `SECRET_KEY`.
    OtherKey,
    /// It was altered, or belongs to another row.
    Altered,
}

/// The AEAD under the key derived from the secret.
pub(super) struct Sealer {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl Sealer {
    /// The sealer of `secret`, which must be at least [`MIN_SECRET_KEY_LEN`] bytes long.
    pub(super) fn new(secret: &[u8]) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_KEY_LEN {
            return Err(AuthError::Config(format!(
                "SECRET_KEY is {} bytes long; the encrypted OAuth stores need at least {MIN_SECRET_KEY_LEN} random bytes",
                secret.len()
            )));
        }
        let hkdf = Hkdf::<Sha256>::new(None, secret);
        let mut key = [0_u8; 32];
        let mut key_id = [0_u8; 8];
        // Both lengths are far below HKDF-SHA256's limit of 255 * 32 bytes.
        let expanded = hkdf
            .expand(KEY_INFO, &mut key)
            .and_then(|()| hkdf.expand(KEY_ID_INFO, &mut key_id));
        if expanded.is_err() {
            return Err(AuthError::Config(
                "cannot derive the key of the OAuth stores".to_owned(),
            ));
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            key_id: key_id.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// The id of the key, stored beside each sealed value.
    pub(super) fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `base64(nonce || ciphertext)` of `plaintext`, bound to `aad`.
    pub(super) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String, AuthError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| AuthError::Store("cannot encrypt a value for the database".to_owned()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(BASE64.encode(out))
    }

    /// The plaintext of `sealed`, written under the key `key_id` and bound to `aad`.
    pub(super) fn open(
        &self,
        aad: &[u8],
        key_id: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, OpenError> {
        if key_id != self.key_id {
            return Err(OpenError::OtherKey);
        }
        let bytes = BASE64.decode(sealed).map_err(|_| OpenError::Altered)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError::Altered);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| OpenError::Altered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

    #[test]
    fn a_sealed_value_opens_with_its_associated_data_and_hides_the_plaintext() {
        let sealer = Sealer::new(SECRET).expect("key");
        let sealed = sealer.seal(b"row-1", b"token-in-the-clear").expect("seal");
        assert!(!sealed.contains("token-in-the-clear"));
        let decoded = BASE64.decode(&sealed).expect("base64");
        assert!(!decoded.windows(5).any(|w| w == b"token"));
        assert_eq!(
            sealer.open(b"row-1", sealer.key_id(), &sealed),
            Ok(b"token-in-the-clear".to_vec())
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let sealer = Sealer::new(SECRET).expect("key");
        assert_ne!(
            sealer.seal(b"row", b"same").expect("seal"),
            sealer.seal(b"row", b"same").expect("seal")
        );
    }

    #[test]
    fn a_value_moved_to_another_row_does_not_open() {
        let sealer = Sealer::new(SECRET).expect("key");
        let sealed = sealer.seal(b"row-1", b"secret").expect("seal");
        assert_eq!(
            sealer.open(b"row-2", sealer.key_id(), &sealed),
            Err(OpenError::Altered)
        );
    }

    #[test]
    fn another_key_is_reported_as_such_and_never_decrypts() {
        let sealer = Sealer::new(SECRET).expect("key");
        let other = Sealer::new(OTHER).expect("key");
        assert_ne!(sealer.key_id(), other.key_id());
        let sealed = sealer.seal(b"row", b"secret").expect("seal");
        assert_eq!(
            other.open(b"row", sealer.key_id(), &sealed),
            Err(OpenError::OtherKey)
        );
        // Even when the key id is forged to match, the AEAD refuses.
        assert_eq!(
            other.open(b"row", other.key_id(), &sealed),
            Err(OpenError::Altered)
        );
    }

    #[test]
    fn altered_ciphertext_is_refused() {
        let sealer = Sealer::new(SECRET).expect("key");
        let mut bytes = BASE64
            .decode(sealer.seal(b"row", b"secret").expect("seal"))
            .expect("base64");
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        let key_id = sealer.key_id();
        assert!(sealer.open(b"row", key_id, &BASE64.encode(bytes)).is_err());
        assert!(sealer.open(b"row", key_id, "not base64!").is_err());
        assert!(sealer.open(b"row", key_id, "AAAA").is_err());
    }

    #[test]
    fn short_secret_is_refused() {
        let error = Sealer::new(b"too short").err().expect("refused");
        assert!(error.to_string().contains("at least 32"), "{error}");
    }
}
