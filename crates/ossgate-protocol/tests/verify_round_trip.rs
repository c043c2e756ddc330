//! Property tests: a signed callback verifies, and changing any byte of its
//! path, query or body makes it a signature mismatch.

use std::sync::OnceLock;

use ossgate_protocol::verify::{sign, verify, CallbackPublicKey, VerifyError};
use proptest::prelude::*;
use rsa::RsaPrivateKey;

/// A 512-bit key, the size OSS signs with, generated once per test run.
fn key_pair() -> &'static (RsaPrivateKey, CallbackPublicKey) {
    static KEY_PAIR: OnceLock<(RsaPrivateKey, CallbackPublicKey)> = OnceLock::new();
    KEY_PAIR.get_or_init(|| {
        let private_key = RsaPrivateKey::new(&mut rand::thread_rng(), 512).unwrap();
        let public_key = CallbackPublicKey::from(&private_key);
        (private_key, public_key)
    })
}

/// A raw request target: a path of unreserved characters and escapes (never
/// `%0A`), and an optional query.
fn request_target() -> impl Strategy<Value = String> {
    (
        "(/([A-Za-z0-9._~+-]|%[0-9A-F]{2}){0,12}){1,3}",
        proptest::option::of("[A-Za-z0-9=&%+._~-]{1,24}"),
    )
        // A path that decodes to a line break is rejected before signing.
        .prop_filter("the path must not decode to a line break", |(path, _)| {
            !path.contains("%0A")
        })
        .prop_map(|(path, query)| match query {
            Some(query) => format!("{path}?{query}"),
            None => path,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signed_callback_verifies(
        target in request_target(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (private_key, public_key) = key_pair();
        let authorization = sign(&target, &body, private_key).unwrap();
        prop_assert_eq!(verify(&target, &body, &authorization, public_key), Ok(()));
    }

    #[test]
    fn changed_body_byte_is_mismatch(
        target in request_target(),
        body in proptest::collection::vec(any::<u8>(), 1..200),
        index in any::<prop::sample::Index>(),
        flip in 1..=255_u8,
    ) {
        let (private_key, public_key) = key_pair();
        let authorization = sign(&target, &body, private_key).unwrap();

        let mut changed = body.clone();
        changed[index.index(body.len())] ^= flip;
        prop_assert_eq!(
            verify(&target, &changed, &authorization, public_key),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn appended_target_text_is_mismatch(
        target in request_target(),
        suffix in "[a-z]{1,4}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (private_key, public_key) = key_pair();
        let authorization = sign(&target, &body, private_key).unwrap();

        let changed = format!("{target}{suffix}");
        prop_assert_eq!(
            verify(&changed, &body, &authorization, public_key),
            Err(VerifyError::SignatureMismatch)
        );
    }
}
