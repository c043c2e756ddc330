//! The callback string to sign: path decoding (exactly once, `+` kept,
//! arbitrary bytes), the raw query, and property tests over both.

use ossgate_protocol::verify::{string_to_sign, VerifyError};
use proptest::prelude::*;

/// Percent-encodes every byte, in upper or lower case hex.
fn encode_all(bytes: &[u8], lowercase: bool) -> String {
    bytes
        .iter()
        .map(|byte| {
            if lowercase {
                format!("%{byte:02x}")
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[test]
fn path_is_decoded_exactly_once() {
    let message = string_to_sign("/a%2541", b"").unwrap();
    assert_eq!(message, b"/a%41\n");
}

#[test]
fn plus_in_path_stays_plus() {
    let message = string_to_sign("/a+b", b"").unwrap();
    assert_eq!(message, b"/a+b\n");
}

#[test]
fn encoded_plus_in_path_decodes_to_plus() {
    let message = string_to_sign("/a%2Bb%2bc", b"").unwrap();
    assert_eq!(message, b"/a+b+c\n");
}

#[test]
fn encoded_space_in_path_decodes_to_space() {
    let message = string_to_sign("/a%20b", b"").unwrap();
    assert_eq!(message, b"/a b\n");
}

#[test]
fn non_utf8_path_bytes_are_kept() {
    let message = string_to_sign("/%FF%FE", b"x").unwrap();
    assert_eq!(message, b"/\xff\xfe\nx");
}

#[test]
fn encoded_question_mark_stays_in_path() {
    // `%3F` is part of the path: it decodes to `?` but does not start a query.
    let message = string_to_sign("/a%3Fb?c=%3F", b"").unwrap();
    assert_eq!(message, b"/a?b?c=%3F\n");
}

#[test]
fn query_is_kept_raw() {
    let message = string_to_sign("/cb?a=%E4%B8%8A+b&c=%2B", b"body").unwrap();
    assert_eq!(message, b"/cb?a=%E4%B8%8A+b&c=%2B\nbody");
}

#[test]
fn query_after_second_question_mark_is_kept() {
    let message = string_to_sign("/cb?a=1?b=2", b"").unwrap();
    assert_eq!(message, b"/cb?a=1?b=2\n");
}

#[test]
fn bare_question_mark_is_dropped() {
    let with_mark = string_to_sign("/cb?", b"body").unwrap();
    let without_mark = string_to_sign("/cb", b"body").unwrap();
    assert_eq!(with_mark, b"/cb\nbody");
    assert_eq!(with_mark, without_mark);
}

#[test]
fn body_is_kept_raw() {
    let body = b"a=%2F&b=\r\n\x00\xff";
    let message = string_to_sign("/cb", body).unwrap();
    assert_eq!(message, b"/cb\na=%2F&b=\r\n\x00\xff");
}

#[test]
fn invalid_escapes_are_rejected() {
    for target in ["/a%", "/a%2", "/a%zz", "/a%2g", "/a%%41", "/%-1"] {
        assert_eq!(
            string_to_sign(target, b""),
            Err(VerifyError::InvalidPathEscape(target.to_owned())),
            "{target}"
        );
    }
}

#[test]
fn invalid_escape_names_only_the_path() {
    assert_eq!(
        string_to_sign("/a%zz?q=%zz", b""),
        Err(VerifyError::InvalidPathEscape("/a%zz".to_owned()))
    );
}

#[test]
fn invalid_escape_in_query_is_allowed() {
    let message = string_to_sign("/a?q=%zz", b"").unwrap();
    assert_eq!(message, b"/a?q=%zz\n");
}

/// Any byte but a line break, which a decoded path may not contain.
fn path_byte() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("a line break is rejected", |byte| *byte != b'\n')
}

proptest! {
    #[test]
    fn encoded_bytes_decode_back(bytes in proptest::collection::vec(path_byte(), 0..64), lowercase in any::<bool>()) {
        let target = format!("/{}", encode_all(&bytes, lowercase));
        let message = string_to_sign(&target, b"").unwrap();

        let mut expected = vec![b'/'];
        expected.extend_from_slice(&bytes);
        expected.push(b'\n');
        prop_assert_eq!(message, expected);
    }

    #[test]
    fn mixed_raw_and_encoded_path_decodes(parts in proptest::collection::vec((path_byte(), any::<bool>()), 0..64)) {
        // Bytes that may appear raw in a path are left raw half of the time;
        // `%`, `?`, `#`, controls and non-ASCII bytes are always encoded.
        let mut target = String::from("/");
        let mut expected = vec![b'/'];
        for (byte, keep_raw) in parts {
            let raw_allowed = byte.is_ascii_graphic() && !b"%?#".contains(&byte);
            if keep_raw && raw_allowed {
                target.push(char::from(byte));
            } else {
                target.push_str(&format!("%{byte:02X}"));
            }
            expected.push(byte);
        }
        expected.push(b'\n');
        prop_assert_eq!(string_to_sign(&target, b"").unwrap(), expected);
    }

    #[test]
    fn plus_is_preserved(segments in proptest::collection::vec("[a-z0-9]{0,8}", 1..6)) {
        let path = format!("/{}", segments.join("+"));
        let message = string_to_sign(&path, b"").unwrap();
        prop_assert_eq!(message, format!("{path}\n").into_bytes());
    }

    #[test]
    fn query_and_body_are_not_changed(
        query in "[A-Za-z0-9%+=&._~-]{1,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let message = string_to_sign(&format!("/cb?{query}"), &body).unwrap();
        let mut expected = format!("/cb?{query}\n").into_bytes();
        expected.extend_from_slice(&body);
        prop_assert_eq!(message, expected);
    }
}
