//! Loading callback keys: PEM forms, key sizes from 512 to 4096 bits, and
//! signing with keys of other sizes than the vectors' 2048 bits.

use base64::Engine as _;
use ossgate_protocol::oss_key::OSS_CALLBACK_PUBLIC_KEY_PEM;
use ossgate_protocol::verify::{
    load_private_key_pem, sign, verify, CallbackPublicKey, VerifyError,
};
use rsa::pkcs1::der::asn1::UintRef;
use rsa::pkcs1::der::Encode as _;

const PUBLIC_SPKI: &str = include_str!("vectors/keys/callback_public_spki.pem");
const PUBLIC_PKCS1: &str = include_str!("vectors/keys/callback_public_pkcs1.pem");
const PRIVATE_PKCS1: &str = include_str!("vectors/keys/callback_private_pkcs1.pem");
const PRIVATE_PKCS8: &str = include_str!("vectors/keys/callback_private_pkcs8.pem");

/// Wraps DER in PEM with 64-character lines and a trailing newline.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// A PKCS#1 public key PEM with an odd modulus of exactly `bits` bits. The
/// modulus is not a product of two primes, which parsing does not check.
fn public_key_pem_with_bits(bits: usize) -> String {
    let mut modulus = vec![0xA5_u8; bits.div_ceil(8)];
    let top_bits = bits - (modulus.len() - 1) * 8;
    modulus[0] = 0xFF >> (8 - top_bits) | 1 << (top_bits - 1);
    *modulus.last_mut().unwrap() |= 1;

    let key = rsa::pkcs1::RsaPublicKey {
        modulus: UintRef::new(&modulus).unwrap(),
        public_exponent: UintRef::new(&[0x01, 0x00, 0x01]).unwrap(),
    };
    pem("RSA PUBLIC KEY", &key.to_der().unwrap())
}

fn assert_bad_key(result: Result<CallbackPublicKey, VerifyError>, expected_text: &str) {
    match result {
        Err(VerifyError::BadKey(message)) => {
            assert!(message.contains(expected_text), "{message:?}")
        }
        other => panic!("expected BadKey containing {expected_text:?}, got {other:?}"),
    }
}

#[test]
fn oss_pem_with_trailing_newline_parses() {
    assert!(OSS_CALLBACK_PUBLIC_KEY_PEM.ends_with("-----\n"));
    let key = CallbackPublicKey::from_pem(OSS_CALLBACK_PUBLIC_KEY_PEM).unwrap();
    assert_eq!(&key, CallbackPublicKey::oss());
}

#[test]
fn oss_pem_without_trailing_newline_parses() {
    let key = CallbackPublicKey::from_pem(OSS_CALLBACK_PUBLIC_KEY_PEM.trim_end()).unwrap();
    assert_eq!(&key, CallbackPublicKey::oss());
}

#[test]
fn pem_with_crlf_line_endings_parses() {
    let crlf = OSS_CALLBACK_PUBLIC_KEY_PEM.replace('\n', "\r\n");
    let key = CallbackPublicKey::from_pem(&crlf).unwrap();
    assert_eq!(&key, CallbackPublicKey::oss());
}

#[test]
fn pem_with_surrounding_whitespace_parses() {
    let padded = format!("\n  {}\n\n", OSS_CALLBACK_PUBLIC_KEY_PEM);
    let key = CallbackPublicKey::from_pem(&padded).unwrap();
    assert_eq!(&key, CallbackPublicKey::oss());
}

#[test]
fn test_keys_without_trailing_newline_parse() {
    let spki = CallbackPublicKey::from_pem(PUBLIC_SPKI.trim_end()).unwrap();
    let pkcs1 = CallbackPublicKey::from_pem(PUBLIC_PKCS1.trim_end()).unwrap();
    assert_eq!(spki, pkcs1);
}

#[test]
fn private_pem_is_not_a_public_key() {
    assert_bad_key(
        CallbackPublicKey::from_pem(PRIVATE_PKCS8),
        "found \"PRIVATE KEY\"",
    );
    assert_bad_key(
        CallbackPublicKey::from_pem(PRIVATE_PKCS1),
        "found \"RSA PRIVATE KEY\"",
    );
}

#[test]
fn non_pem_text_is_bad_key() {
    assert_bad_key(CallbackPublicKey::from_pem(""), "empty");
    assert_bad_key(
        CallbackPublicKey::from_pem("<html>404 Not Found</html>"),
        "not PEM",
    );
    assert_bad_key(
        CallbackPublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n"),
        "not valid PEM",
    );
}

#[test]
fn truncated_pem_is_bad_key() {
    let truncated = OSS_CALLBACK_PUBLIC_KEY_PEM.replace("CAwEAAQ==", "");
    assert!(CallbackPublicKey::from_pem(&truncated).is_err());
}

#[test]
fn non_rsa_spki_is_bad_key() {
    // The OSS key with its algorithm OID changed from rsaEncryption
    // (1.2.840.113549.1.1.1) to sha256WithRSAEncryption (…1.1.11).
    let base64_text: String = OSS_CALLBACK_PUBLIC_KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let mut der = base64::engine::general_purpose::STANDARD
        .decode(base64_text)
        .unwrap();
    let oid = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    let position = der
        .windows(oid.len())
        .position(|window| window == oid)
        .unwrap();
    der[position + oid.len() - 1] = 0x0B;

    assert_bad_key(
        CallbackPublicKey::from_pem(&pem("PUBLIC KEY", &der)),
        "not rsaEncryption",
    );
}

#[test]
fn key_of_512_bits_is_accepted() {
    let key = CallbackPublicKey::from_pem(&public_key_pem_with_bits(512)).unwrap();
    assert_eq!(key.bits(), 512);
}

#[test]
fn key_of_4096_bits_is_accepted() {
    let key = CallbackPublicKey::from_pem(&public_key_pem_with_bits(4096)).unwrap();
    assert_eq!(key.bits(), 4096);
    assert_eq!(key.signature_len(), 512);
}

#[test]
fn key_of_511_bits_is_rejected() {
    assert_bad_key(
        CallbackPublicKey::from_pem(&public_key_pem_with_bits(511)),
        "511-bit modulus",
    );
}

#[test]
fn key_of_4097_bits_is_rejected() {
    assert_bad_key(
        CallbackPublicKey::from_pem(&public_key_pem_with_bits(4097)),
        "4097-bit modulus",
    );
}

#[test]
fn key_of_8192_bits_is_rejected() {
    assert_bad_key(
        CallbackPublicKey::from_pem(&public_key_pem_with_bits(8192)),
        "8192-bit modulus",
    );
}

#[test]
fn private_keys_without_trailing_newline_load() {
    let pkcs1 = load_private_key_pem(PRIVATE_PKCS1.trim_end()).unwrap();
    let pkcs8 = load_private_key_pem(PRIVATE_PKCS8.trim_end()).unwrap();
    assert_eq!(pkcs1, pkcs8);
}

#[test]
fn public_pem_is_not_a_private_key() {
    match load_private_key_pem(PUBLIC_SPKI) {
        Err(VerifyError::BadKey(message)) => {
            assert!(message.contains("found \"PUBLIC KEY\""), "{message:?}")
        }
        other => panic!("expected BadKey, got {other:?}"),
    }
}

#[test]
fn generated_512_bit_key_signs_and_verifies() {
    let private_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 512).unwrap();
    let public_key = CallbackPublicKey::from(&private_key);
    let authorization = sign("/cb?a=1", b"size=5", &private_key).unwrap();

    assert_eq!(public_key.bits(), 512);
    assert_eq!(
        verify("/cb?a=1", b"size=5", &authorization, &public_key),
        Ok(())
    );
    assert_eq!(
        verify("/cb?a=2", b"size=5", &authorization, &public_key),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn generated_1024_bit_key_signs_and_verifies() {
    let private_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    let public_key = CallbackPublicKey::from(&private_key);
    let authorization = sign("/cb", b"{}", &private_key).unwrap();

    assert_eq!(verify("/cb", b"{}", &authorization, &public_key), Ok(()));
    assert_eq!(
        verify("/cb", b"{}", &authorization, CallbackPublicKey::oss()),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn sign_rejects_invalid_path_escape() {
    let private_key = load_private_key_pem(PRIVATE_PKCS1).unwrap();
    assert_eq!(
        sign("/cb%zz", b"", &private_key),
        Err(VerifyError::InvalidPathEscape("/cb%zz".to_owned()))
    );
}
