//! Callback verification against the vectors in `tests/vectors/`, computed
//! with Python's `cryptography`, the openssl CLI and Node's crypto, and against
//! OSS's published callback example signed with OSS's own key.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use ossgate_protocol::verify::{
    load_private_key_pem, sign, string_to_sign, verify, CallbackPublicKey, VerifyError,
};
use serde::Deserialize;
use sha2::Sha256;

const VECTORS: &str = include_str!("vectors/callback_vectors.json");
const PUBLIC_SPKI: &str = include_str!("vectors/keys/callback_public_spki.pem");
const PUBLIC_PKCS1: &str = include_str!("vectors/keys/callback_public_pkcs1.pem");
const PRIVATE_PKCS1: &str = include_str!("vectors/keys/callback_private_pkcs1.pem");
const PRIVATE_PKCS8: &str = include_str!("vectors/keys/callback_private_pkcs8.pem");

/// OSS's documented callback: `POST /index.php?id=1&index=2` with body
/// `bucket=yonghu-test`, signed with OSS's 512-bit key.
const DOC_TARGET: &str = "/index.php?id=1&index=2";
const DOC_BODY: &[u8] = b"bucket=yonghu-test";
const DOC_AUTHORIZATION: &str =
    "kKQeGTRccDKyHB3H9vF+xYMSrmhMZjzzl2/kdD1ktNVgbWEfYTQG0G2SU/RaHBovRCE8OkQDjC3uG33esH2txA==";

#[derive(Deserialize)]
struct VectorFile {
    public_key_pem: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    raw_path: String,
    raw_query: Option<String>,
    request_target: String,
    path_decoded: String,
    body: String,
    body_base64: String,
    string_to_sign: String,
    string_to_sign_md5_hex: String,
    authorization: String,
}

impl Vector {
    fn body_bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body_base64)
            .expect("body_base64 is base64")
    }
}

fn vectors() -> VectorFile {
    serde_json::from_str(VECTORS).expect("callback_vectors.json parses")
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

#[test]
fn vector_file_key_matches_key_file() {
    assert_eq!(vectors().public_key_pem, PUBLIC_SPKI);
}

#[test]
fn vector_body_matches_body_base64() {
    for vector in vectors().vectors {
        assert_eq!(
            vector.body.as_bytes(),
            vector.body_bytes(),
            "{}",
            vector.name
        );
    }
}

#[test]
fn vector_request_target_is_path_and_query() {
    for vector in vectors().vectors {
        let expected = match &vector.raw_query {
            Some(query) => format!("{}?{query}", vector.raw_path),
            None => vector.raw_path.clone(),
        };
        assert_eq!(vector.request_target, expected, "{}", vector.name);
    }
}

#[test]
fn string_to_sign_matches_vectors() {
    for vector in vectors().vectors {
        let message = string_to_sign(&vector.request_target, &vector.body_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(message.clone()).unwrap(),
            vector.string_to_sign,
            "{}",
            vector.name
        );
        assert!(
            message.starts_with(vector.path_decoded.as_bytes()),
            "{}: the decoded path starts the string to sign",
            vector.name
        );
    }
}

#[test]
fn string_to_sign_md5_matches_vectors() {
    for vector in vectors().vectors {
        let message = string_to_sign(&vector.request_target, &vector.body_bytes()).unwrap();
        assert_eq!(
            md5_hex(&message),
            vector.string_to_sign_md5_hex,
            "{}",
            vector.name
        );
    }
}

#[test]
fn vectors_verify_with_spki_key() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    for vector in vectors().vectors {
        let result = verify(
            &vector.request_target,
            &vector.body_bytes(),
            &vector.authorization,
            &key,
        );
        assert_eq!(result, Ok(()), "{}", vector.name);
    }
}

#[test]
fn vectors_verify_with_pkcs1_key() {
    let key = CallbackPublicKey::from_pem(PUBLIC_PKCS1).unwrap();
    for vector in vectors().vectors {
        let result = verify(
            &vector.request_target,
            &vector.body_bytes(),
            &vector.authorization,
            &key,
        );
        assert_eq!(result, Ok(()), "{}", vector.name);
    }
}

#[test]
fn spki_and_pkcs1_keys_are_equal() {
    let spki = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let pkcs1 = CallbackPublicKey::from_pem(PUBLIC_PKCS1).unwrap();
    assert_eq!(spki, pkcs1);
    assert_eq!(spki.bits(), 2048);
}

#[test]
fn sign_with_pkcs1_private_key_reproduces_vectors() {
    let private_key = load_private_key_pem(PRIVATE_PKCS1).unwrap();
    for vector in vectors().vectors {
        let authorization =
            sign(&vector.request_target, &vector.body_bytes(), &private_key).unwrap();
        assert_eq!(authorization, vector.authorization, "{}", vector.name);
    }
}

#[test]
fn sign_with_pkcs8_private_key_reproduces_vectors() {
    let private_key = load_private_key_pem(PRIVATE_PKCS8).unwrap();
    for vector in vectors().vectors {
        let authorization =
            sign(&vector.request_target, &vector.body_bytes(), &private_key).unwrap();
        assert_eq!(authorization, vector.authorization, "{}", vector.name);
    }
}

#[test]
fn private_key_matches_public_key() {
    let private_key = load_private_key_pem(PRIVATE_PKCS8).unwrap();
    let public_key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    assert_eq!(CallbackPublicKey::from(&private_key), public_key);
}

#[test]
fn tampered_body_is_signature_mismatch() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    for vector in vectors().vectors {
        let mut body = vector.body_bytes();
        body.push(b' ');
        let result = verify(&vector.request_target, &body, &vector.authorization, &key);
        assert_eq!(
            result,
            Err(VerifyError::SignatureMismatch),
            "{}",
            vector.name
        );
    }
}

#[test]
fn tampered_path_is_signature_mismatch() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    for vector in vectors().vectors {
        let target = format!("/x{}", vector.request_target);
        let result = verify(&target, &vector.body_bytes(), &vector.authorization, &key);
        assert_eq!(
            result,
            Err(VerifyError::SignatureMismatch),
            "{}",
            vector.name
        );
    }
}

#[test]
fn tampered_query_is_signature_mismatch() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let vector = vectors()
        .vectors
        .into_iter()
        .find(|vector| vector.name == "query_string")
        .unwrap();
    let target = vector.request_target.replace("uid=42", "uid=43");
    let result = verify(&target, &vector.body_bytes(), &vector.authorization, &key);
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn decoded_query_is_signature_mismatch() {
    // The query is signed raw: decoding it changes the string to sign.
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let vector = vectors()
        .vectors
        .into_iter()
        .find(|vector| vector.name == "query_string")
        .unwrap();
    let target = "/oss/callback?uid=42&name=张三&sig=a%2Bb+c";
    let result = verify(target, &vector.body_bytes(), &vector.authorization, &key);
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn tampered_signature_is_signature_mismatch() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let vector = &vectors().vectors[0];
    let mut signature = base64::engine::general_purpose::STANDARD
        .decode(&vector.authorization)
        .unwrap();
    signature[10] ^= 1;
    let authorization = base64::engine::general_purpose::STANDARD.encode(signature);
    let result = verify(
        &vector.request_target,
        &vector.body_bytes(),
        &authorization,
        &key,
    );
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn truncated_signature_is_signature_mismatch() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let vector = &vectors().vectors[0];
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&vector.authorization)
        .unwrap();
    let authorization = base64::engine::general_purpose::STANDARD.encode(&signature[..255]);
    let result = verify(
        &vector.request_target,
        &vector.body_bytes(),
        &authorization,
        &key,
    );
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn signature_from_other_key_is_signature_mismatch() {
    // A 512-bit signature checked against the 2048-bit key.
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let result = verify(DOC_TARGET, DOC_BODY, DOC_AUTHORIZATION, &key);
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn authorization_not_base64_is_bad_base64() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let result = verify(DOC_TARGET, DOC_BODY, "not base64!", &key);
    assert_eq!(
        result,
        Err(VerifyError::BadBase64 {
            header: "authorization"
        })
    );
}

#[test]
fn empty_authorization_is_missing_header() {
    let key = CallbackPublicKey::from_pem(PUBLIC_SPKI).unwrap();
    let result = verify(DOC_TARGET, DOC_BODY, "", &key);
    assert_eq!(result, Err(VerifyError::MissingHeader("authorization")));
}

#[test]
fn doc_example_string_to_sign_and_md5() {
    let message = string_to_sign(DOC_TARGET, DOC_BODY).unwrap();
    assert_eq!(message, b"/index.php?id=1&index=2\nbucket=yonghu-test");
    assert_eq!(md5_hex(&message), "5b74fc97cc385b45c6c8b7782d5a2140");
}

#[test]
fn doc_example_verifies_with_oss_key() {
    let result = verify(
        DOC_TARGET,
        DOC_BODY,
        DOC_AUTHORIZATION,
        CallbackPublicKey::oss(),
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn doc_example_without_leading_slash_does_not_verify() {
    let result = verify(
        "index.php?id=1&index=2",
        DOC_BODY,
        DOC_AUTHORIZATION,
        CallbackPublicKey::oss(),
    );
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn doc_example_tampered_body_does_not_verify() {
    let result = verify(
        DOC_TARGET,
        b"bucket=yonghu-tesT",
        DOC_AUTHORIZATION,
        CallbackPublicKey::oss(),
    );
    assert_eq!(result, Err(VerifyError::SignatureMismatch));
}

#[test]
fn oss_key_is_512_bits() {
    assert_eq!(CallbackPublicKey::oss().bits(), 512);
    assert_eq!(CallbackPublicKey::oss().signature_len(), 64);
}

#[test]
fn oss_key_spki_sha256_matches_published() {
    // The DER inside the embedded PEM, and the DER the parsed key re-encodes to.
    let pem = ossgate_protocol::oss_key::OSS_CALLBACK_PUBLIC_KEY_PEM;
    let base64_text: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let embedded_der = base64::engine::general_purpose::STANDARD
        .decode(base64_text)
        .unwrap();
    let expected = "a1f54d0fb9263a14276c9e890f99cdeae986265b3985e6b1aa4603631c5bc9cf";
    assert_eq!(hex::encode(Sha256::digest(&embedded_der)), expected);

    let reencoded =
        rsa::pkcs8::EncodePublicKey::to_public_key_der(CallbackPublicKey::oss().as_rsa()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(reencoded.as_bytes())), expected);
}

#[test]
fn oss_key_modulus_matches_published() {
    use rsa::traits::PublicKeyParts as _;
    let key = CallbackPublicKey::oss().as_rsa();
    assert_eq!(
        hex::encode_upper(key.n().to_bytes_be()),
        "AB3F2411B3C1407669586DE1CAC1C77A083C12CDB231AC0B47D35EFFA7BE59A496F91CA25BE9BD72D38DAC541D1DD6F4B5F14361075C025F081FBA1F6605D64F"
    );
    assert_eq!(key.e().to_bytes_be(), [0x01, 0x00, 0x01]);
}

#[test]
fn oss_key_is_parsed_once() {
    assert!(std::ptr::eq(
        CallbackPublicKey::oss(),
        CallbackPublicKey::oss()
    ));
}
