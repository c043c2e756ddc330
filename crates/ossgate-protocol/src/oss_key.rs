//! The RSA public key that OSS signs upload callbacks with, as OSS publishes it
//! at `http(s)://gosspublic.alicdn.com/callback_pub_key_v1.pem`. It is a 512-bit
//! key (e = 65537); shipping it here means real callbacks verify without any
//! network fetch.

/// The PEM text OSS serves.
pub const OSS_CALLBACK_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKs/JBGzwUB2aVht4crBx3oIPBLNsjGs
C0fTXv+nvlmklvkcolvpvXLTjaxUHR3W9LXxQ2EHXAJfCB+6H2YF1k8CAwEAAQ==
-----END PUBLIC KEY-----
";

/// The key URLs OSS names in `x-oss-pub-key-url` for the key above.
pub const OSS_CALLBACK_KEY_URLS: [&str; 2] = [
    "http://gosspublic.alicdn.com/callback_pub_key_v1.pem",
    "https://gosspublic.alicdn.com/callback_pub_key_v1.pem",
];

/// The only host whose keys are trusted by default.
pub const OSS_KEY_HOST: &str = "gosspublic.alicdn.com";
