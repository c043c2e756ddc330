//! `ossgate callback verify`: an offline tool for the question "why does my
//! callback signature not match?".
//!
//! It prints the exact string OSS signs for a callback (escaped), its MD5,
//! and whether the `authorization` value is a valid signature of it. The key
//! comes from a PEM file or from the callback's `x-oss-pub-key-url` header,
//! checked against the key URL policy first. OSS's own key URLs use the
//! built-in key, and any other trusted URL is fetched only with `--fetch`.
//! Exit codes: 0 valid, 1 invalid, 2 a usage or input error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Subcommand};
use md5::{Digest as _, Md5};
use ossgate_protocol::verify::{
    decode_authorization, string_to_sign, verify_message, KeyUrlPolicy, TrustedKeyUrl,
};
use ossgate_protocol::CallbackPublicKey;

/// How long a key fetch may take in total.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest key document a fetch accepts: a 4096-bit key in PEM is under
/// 1 KiB.
const FETCH_MAX_BYTES: usize = 16 * 1024;

/// The largest key file read with `--public-key`, the same cap as a download.
const MAX_KEY_BYTES: usize = FETCH_MAX_BYTES;

#[derive(Debug, Subcommand)]
pub enum CallbackCommand {
    /// Verify an upload callback's signature and print the string OSS signed.
    ///
    /// Prints the string to sign (escaped), its MD5 in hex, then `valid` or
    /// `invalid: <reason>`. Exit codes: 0 valid, 1 invalid, 2 usage or input
    /// error.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The callback's request target as on its request line: the raw path and
    /// an optional ?query, such as /oss/callback?uid=42.
    #[arg(long, value_name = "RAW_TARGET")]
    target: String,
    /// File with the raw callback body, byte for byte (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    body_file: PathBuf,
    /// The callback's `authorization` header value (base64).
    #[arg(long, value_name = "B64")]
    authorization: String,
    /// PEM file with the public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY).
    #[arg(
        long,
        value_name = "PEM_FILE",
        conflicts_with = "pub_key_url_header",
        required_unless_present = "pub_key_url_header"
    )]
    public_key: Option<PathBuf>,
    /// The callback's `x-oss-pub-key-url` header value (base64). OSS's own
    /// key URLs use the built-in OSS key, without any network access.
    #[arg(long, value_name = "B64")]
    pub_key_url_header: Option<String>,
    /// Download the key when the header names a trusted URL other than OSS's
    /// own key URLs (3 s timeout, 16 KiB limit, no redirects).
    #[arg(long, conflicts_with = "public_key")]
    fetch: bool,
    /// Also trust key URLs under this prefix, such as
    /// http://127.0.0.1:9000/callback_pub_key_v1.pem for a local emulator's
    /// key. Name the key's own path: a prefix that covers the bucket would
    /// trust keys that uploaders put there. Can be repeated.
    #[arg(long, value_name = "URL_PREFIX", conflicts_with = "public_key")]
    trust_prefix: Vec<String>,
}

pub fn run(command: CallbackCommand) -> anyhow::Result<ExitCode> {
    match command {
        CallbackCommand::Verify(args) => verify(args),
    }
}

/// The source of the verification key.
enum KeySource {
    Loaded(CallbackPublicKey),
    Header(String),
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    for prefix in &args.trust_prefix {
        if let Err(message) = KeyUrlPolicy::validate_prefix(prefix) {
            bail!("invalid --trust-prefix: {message}");
        }
    }

    // Read every local input first, so a missing file fails before any output.
    let body = read_body(&args.body_file)?;
    let key_source = match (&args.public_key, &args.pub_key_url_header) {
        (Some(path), _) => KeySource::Loaded(read_public_key(path)?),
        (None, Some(header)) => KeySource::Header(header.clone()),
        (None, None) => {
            bail!("no key given: add --public-key PEM_FILE or --pub-key-url-header B64")
        }
    };

    // The string to sign and its MD5: what to compare with another verifier.
    let message = match string_to_sign(&args.target, &body) {
        Ok(message) => message,
        Err(error) => return Ok(invalid(&error)),
    };
    println!("string to sign: \"{}\"", escape(&message));
    println!("md5: {}", hex::encode(Md5::digest(&message)));

    let key = match key_source {
        KeySource::Loaded(key) => key,
        KeySource::Header(header) => {
            let policy = KeyUrlPolicy {
                extra_prefixes: args.trust_prefix.clone(),
            };
            match policy.check_header(&header) {
                Ok(trusted) => resolve_key(&trusted, args.fetch)?,
                Err(error) => return Ok(invalid(&error)),
            }
        }
    };

    let signature = match decode_authorization(&args.authorization) {
        Ok(signature) => signature,
        Err(error) => return Ok(invalid(&error)),
    };
    match verify_message(&message, &signature, &key) {
        Ok(()) => {
            println!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            explain_mismatch(&signature, &key, &body);
            Ok(invalid(&error))
        }
    }
}

/// Prints the verdict for a rejected callback and returns exit code 1.
fn invalid(error: &dyn std::fmt::Display) -> ExitCode {
    println!("invalid: {error}");
    ExitCode::from(1)
}

/// Prints hints on standard error for the usual causes of a mismatch.
fn explain_mismatch(signature: &[u8], key: &CallbackPublicKey, body: &[u8]) {
    if signature.len() != key.signature_len() {
        eprintln!(
            "note: the signature is {} bytes but a {}-bit key makes {}-byte signatures, so it \
             was made with another key",
            signature.len(),
            key.bits(),
            key.signature_len()
        );
    }
    if body.ends_with(b"\n") {
        eprintln!(
            "note: the body file ends with a newline. The signature covers the exact body \
             bytes, so check that the newline was part of the callback"
        );
    }
}

/// The largest callback body read. OSS sends bodies rendered from a template
/// of at most 5 KB, so anything near this size is not a callback.
const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

fn read_body(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        return read_limited(std::io::stdin(), MAX_BODY_BYTES, "the callback body")
            .context("failed to read the callback body from standard input");
    }
    let file = std::fs::File::open(path)
        .with_context(|| format!("failed to read the callback body from {}", path.display()))?;
    read_limited(file, MAX_BODY_BYTES, "the callback body")
        .with_context(|| format!("failed to read the callback body from {}", path.display()))
}

/// Reads at most `limit` bytes, failing when the input is longer.
fn read_limited(reader: impl Read, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        bail!("{what} is larger than {limit} bytes");
    }
    Ok(bytes)
}

fn read_public_key(path: &Path) -> anyhow::Result<CallbackPublicKey> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("failed to open the public key file {}", path.display()))?;
    let bytes = read_limited(file, MAX_KEY_BYTES as u64, "the public key file")
        .with_context(|| format!("failed to read the public key from {}", path.display()))?;
    let pem = String::from_utf8(bytes)
        .with_context(|| format!("the public key file {} is not UTF-8 text", path.display()))?;
    CallbackPublicKey::from_pem(&pem)
        .with_context(|| format!("the public key in {} is not usable", path.display()))
}

/// Returns the key for a trusted URL: the built-in key for OSS's own URLs, a
/// downloaded key for the others when `fetch` is set.
fn resolve_key(trusted: &TrustedKeyUrl, fetch: bool) -> anyhow::Result<CallbackPublicKey> {
    if let Some(key) = trusted.builtin_key() {
        eprintln!(
            "key: the built-in OSS key ({}-bit RSA) for {}",
            key.bits(),
            trusted.url()
        );
        return Ok(key.clone());
    }

    let url = trusted.url();
    let Some(download_url) = trusted.fetch_url() else {
        bail!("the key URL {url:?} has no built-in key and no download URL");
    };
    if !fetch {
        bail!(
            "the key URL {url:?} is trusted but is not one of OSS's own key URLs, so its key is \
             not built in: add --fetch to download it, or pass the key with --public-key"
        );
    }
    let pem = fetch_key(&download_url)?;
    let key = CallbackPublicKey::from_pem(&pem)
        .with_context(|| format!("the key downloaded from {download_url:?} is not usable"))?;
    eprintln!("key: {}-bit RSA downloaded from {download_url}", key.bits());
    Ok(key)
}

/// Downloads a key document with a timeout, a size limit and no redirects
/// (a redirect could lead past the key URL policy).
fn fetch_key(url: &str) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the runtime for the key download")?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("failed to set up the HTTP client")?;
        let mut response = client
            .get(url)
            .send()
            .await
            .with_context(|| format!("failed to download the key from {url:?}"))?;

        let status = response.status();
        if status != reqwest::StatusCode::OK {
            bail!("failed to download the key from {url:?}: the server returned {status}");
        }
        if response
            .content_length()
            .is_some_and(|length| length > FETCH_MAX_BYTES as u64)
        {
            bail!(too_large(url));
        }

        let mut document = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("failed to download the key from {url:?}"))?
        {
            if document.len() + chunk.len() > FETCH_MAX_BYTES {
                bail!(too_large(url));
            }
            document.extend_from_slice(&chunk);
        }

        String::from_utf8(document)
            .map_err(|_| anyhow!("the key downloaded from {url:?} is not UTF-8 text"))
    })
}

fn too_large(url: &str) -> String {
    format!(
        "the key document at {url:?} is larger than {FETCH_MAX_BYTES} bytes, so it is not a \
         callback key"
    )
}

/// Escapes the string to sign for one line of output: UTF-8 as Rust's
/// `escape_debug` writes it (newline as `\n`, non-ASCII letters as they are),
/// anything else byte by byte as `\xNN`.
fn escape(message: &[u8]) -> String {
    match std::str::from_utf8(message) {
        Ok(text) => text.escape_debug().to_string(),
        Err(_) => message.escape_ascii().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_utf8_keeps_letters() {
        assert_eq!(escape("/上传\n\"a\"".as_bytes()), "/上传\\n\\\"a\\\"");
    }

    #[test]
    fn escape_non_utf8_uses_hex() {
        assert_eq!(escape(b"/\xff\n"), "/\\xff\\n");
    }
}
