//! `ossgate callback verify`, run as a process against the callback vectors,
//! OSS's documented callback and key downloads from a local server.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;

use base64::Engine as _;
use serde_json::Value;

const DOC_TARGET: &str = "/index.php?id=1&index=2";
const DOC_BODY: &[u8] = b"bucket=yonghu-test";
const DOC_AUTHORIZATION: &str =
    "kKQeGTRccDKyHB3H9vF+xYMSrmhMZjzzl2/kdD1ktNVgbWEfYTQG0G2SU/RaHBovRCE8OkQDjC3uG33esH2txA==";
const DOC_STRING_TO_SIGN_LINE: &str =
    "string to sign: \"/index.php?id=1&index=2\\nbucket=yonghu-test\"";
const DOC_MD5_LINE: &str = "md5: 5b74fc97cc385b45c6c8b7782d5a2140";
const OSS_HTTP_KEY_URL_HEADER: &str =
    "aHR0cDovL2dvc3NwdWJsaWMuYWxpY2RuLmNvbS9jYWxsYmFja19wdWJfa2V5X3YxLnBlbQ==";
const OSS_HTTPS_KEY_URL_HEADER: &str =
    "aHR0cHM6Ly9nb3NzcHVibGljLmFsaWNkbi5jb20vY2FsbGJhY2tfcHViX2tleV92MS5wZW0=";
/// `http://gosspublic.alicdn.com/234234`: trusted, but not a built-in key.
const OSS_OTHER_KEY_URL_HEADER: &str = "aHR0cDovL2dvc3NwdWJsaWMuYWxpY2RuLmNvbS8yMzQyMzQ=";

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ossgate-protocol/tests/vectors")
}

fn callback_vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(vectors_dir().join("callback_vectors.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

fn text(vector: &Value, field: &str) -> String {
    vector[field]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {field} is missing"))
        .to_owned()
}

fn body_of(vector: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text(vector, "body_base64"))
        .unwrap()
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Writes a body file into `directory` and returns its path.
fn body_file(directory: &tempfile::TempDir, body: &[u8]) -> String {
    let path = directory.path().join("body");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

fn key_path(name: &str) -> String {
    vectors_dir()
        .join("keys")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn ossgate(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ossgate"))
        .args(["callback", "verify"])
        .args(arguments)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn verify_doc_example(target: &str, body: &[u8], extra: &[&str]) -> Output {
    let directory = tempfile::tempdir().unwrap();
    let body = body_file(&directory, body);
    let mut arguments = vec![
        "--target",
        target,
        "--body-file",
        &body,
        "--authorization",
        DOC_AUTHORIZATION,
    ];
    arguments.extend_from_slice(extra);
    ossgate(&arguments)
}

/// A one-shot HTTP server on 127.0.0.1 that responds to the first request with
/// `response` and returns that request's request line.
fn serve_once(response: Vec<u8>) -> (TcpListener, u16, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = listener.try_clone().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut request = Vec::new();
        let mut buffer = [0_u8; 1024];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).unwrap();
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        // The client may close early when it rejects the response.
        let _ = stream.write_all(&response);
        let request = String::from_utf8_lossy(&request).into_owned();
        request.lines().next().unwrap_or_default().to_owned()
    });
    (listener, port, handle)
}

fn http_response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

#[test]
fn vectors_are_valid_with_spki_key() {
    let key = key_path("callback_public_spki.pem");
    for vector in callback_vectors() {
        let directory = tempfile::tempdir().unwrap();
        let body = body_file(&directory, &body_of(&vector));
        let target = text(&vector, "request_target");
        let authorization = text(&vector, "authorization");
        let output = ossgate(&[
            "--target",
            &target,
            "--body-file",
            &body,
            "--authorization",
            &authorization,
            "--public-key",
            &key,
        ]);

        let name = text(&vector, "name");
        let expected_string = text(&vector, "string_to_sign").escape_debug().to_string();
        let expected_md5 = text(&vector, "string_to_sign_md5_hex");
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        assert_eq!(
            stdout_lines(&output),
            [
                format!("string to sign: \"{expected_string}\""),
                format!("md5: {expected_md5}"),
                "valid".to_owned(),
            ],
            "{name}"
        );
    }
}

#[test]
fn vectors_are_valid_with_pkcs1_key() {
    let key = key_path("callback_public_pkcs1.pem");
    for vector in callback_vectors() {
        let directory = tempfile::tempdir().unwrap();
        let body = body_file(&directory, &body_of(&vector));
        let output = ossgate(&[
            "--target",
            &text(&vector, "request_target"),
            "--body-file",
            &body,
            "--authorization",
            &text(&vector, "authorization"),
            "--public-key",
            &key,
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&vector, "name"));
        assert_eq!(stdout_lines(&output).last().unwrap(), "valid");
    }
}

#[test]
fn chinese_path_prints_decoded_string() {
    let vector = callback_vectors()
        .into_iter()
        .find(|vector| vector["name"] == "chinese_path")
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let body = body_file(&directory, &body_of(&vector));
    let output = ossgate(&[
        "--target",
        &text(&vector, "request_target"),
        "--body-file",
        &body,
        "--authorization",
        &text(&vector, "authorization"),
        "--public-key",
        &key_path("callback_public_spki.pem"),
    ]);
    assert!(stdout_lines(&output)[0].starts_with("string to sign: \"/oss/callback/上传\\nbucket="));
}

#[test]
fn doc_example_is_valid_with_http_key_url() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--pub-key-url-header", OSS_HTTP_KEY_URL_HEADER],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout_lines(&output),
        [DOC_STRING_TO_SIGN_LINE, DOC_MD5_LINE, "valid"]
    );
    assert!(stderr(&output).contains("built-in OSS key (512-bit RSA)"));
}

#[test]
fn doc_example_is_valid_with_https_key_url() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--pub-key-url-header", OSS_HTTPS_KEY_URL_HEADER],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout_lines(&output).last().unwrap(), "valid");
}

#[test]
fn doc_example_without_slash_is_invalid() {
    let output = verify_doc_example(
        "index.php?id=1&index=2",
        DOC_BODY,
        &["--pub-key-url-header", OSS_HTTP_KEY_URL_HEADER],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output).last().unwrap(),
        "invalid: the callback signature does not match"
    );
}

#[test]
fn tampered_body_is_invalid() {
    let output = verify_doc_example(
        DOC_TARGET,
        b"bucket=yonghu-test\n",
        &["--pub-key-url-header", OSS_HTTP_KEY_URL_HEADER],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output).last().unwrap(),
        "invalid: the callback signature does not match"
    );
    assert!(stderr(&output).contains("ends with a newline"));
}

#[test]
fn signature_for_other_key_is_invalid() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--public-key", &key_path("callback_public_spki.pem")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("the signature is 64 bytes but a 2048-bit key"));
}

#[test]
fn lookalike_key_url_is_invalid() {
    let header = base64("http://gosspublic.alicdn.com.evil.test/callback_pub_key_v1.pem");
    let output = verify_doc_example(DOC_TARGET, DOC_BODY, &["--pub-key-url-header", &header]);
    assert_eq!(output.status.code(), Some(1));
    let lines = stdout_lines(&output);
    assert_eq!(lines[0], DOC_STRING_TO_SIGN_LINE);
    assert!(
        lines[2].starts_with("invalid: untrusted public key URL"),
        "{lines:?}"
    );
}

#[test]
fn userinfo_key_url_is_invalid() {
    let header = base64("http://gosspublic.alicdn.com@evil.test/callback_pub_key_v1.pem");
    let output = verify_doc_example(DOC_TARGET, DOC_BODY, &["--pub-key-url-header", &header]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout_lines(&output)[2].ends_with("a key URL must not carry user information"));
}

#[test]
fn key_url_header_not_base64_is_invalid() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--pub-key-url-header", "http://gosspublic.alicdn.com/"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output)[2],
        "invalid: the x-oss-pub-key-url header is not valid base64"
    );
}

#[test]
fn other_oss_key_url_without_fetch_is_error() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--pub-key-url-header", OSS_OTHER_KEY_URL_HEADER],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("add --fetch"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn authorization_not_base64_is_invalid() {
    let directory = tempfile::tempdir().unwrap();
    let body = body_file(&directory, DOC_BODY);
    let output = ossgate(&[
        "--target",
        DOC_TARGET,
        "--body-file",
        &body,
        "--authorization",
        "not*base64",
        "--pub-key-url-header",
        OSS_HTTP_KEY_URL_HEADER,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output).last().unwrap(),
        "invalid: the authorization header is not valid base64"
    );
}

#[test]
fn invalid_path_escape_is_invalid() {
    let output = verify_doc_example(
        "/index%zz.php",
        DOC_BODY,
        &["--pub-key-url-header", OSS_HTTP_KEY_URL_HEADER],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&output),
        ["invalid: invalid percent-escape in the callback path \"/index%zz.php\""]
    );
}

#[test]
fn body_from_standard_input_is_read() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ossgate"))
        .args([
            "callback",
            "verify",
            "--target",
            DOC_TARGET,
            "--body-file",
            "-",
            "--authorization",
            DOC_AUTHORIZATION,
            "--pub-key-url-header",
            OSS_HTTP_KEY_URL_HEADER,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(DOC_BODY).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn missing_body_file_is_error() {
    let output = ossgate(&[
        "--target",
        DOC_TARGET,
        "--body-file",
        "/nonexistent/ossgate-body",
        "--authorization",
        DOC_AUTHORIZATION,
        "--pub-key-url-header",
        OSS_HTTP_KEY_URL_HEADER,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("failed to read the callback body"));
    assert!(output.stdout.is_empty());
}

#[test]
fn invalid_public_key_file_is_error() {
    let directory = tempfile::tempdir().unwrap();
    let key = directory.path().join("key.pem");
    std::fs::write(&key, "not a key").unwrap();
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--public-key", key.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not usable"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn private_key_file_is_error() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &["--public-key", &key_path("callback_private_pkcs8.pem")],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn missing_key_option_is_usage_error() {
    let output = verify_doc_example(DOC_TARGET, DOC_BODY, &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn both_key_options_is_usage_error() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &[
            "--public-key",
            &key_path("callback_public_spki.pem"),
            "--pub-key-url-header",
            OSS_HTTP_KEY_URL_HEADER,
        ],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn trust_prefix_with_public_key_is_usage_error() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &[
            "--public-key",
            &key_path("callback_public_spki.pem"),
            "--trust-prefix",
            "http://127.0.0.1:9000/",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn fetch_without_key_url_header_is_usage_error() {
    let output = verify_doc_example(
        DOC_TARGET,
        DOC_BODY,
        &[
            "--public-key",
            &key_path("callback_public_spki.pem"),
            "--fetch",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
}

/// Runs the `query_string` vector with its key URL on a local server.
fn verify_vector_with_key_url(port: u16, trust_prefix: Option<String>) -> Output {
    let vector = callback_vectors()
        .into_iter()
        .find(|vector| vector["name"] == "query_string")
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let body = body_file(&directory, &body_of(&vector));
    let header = base64(&format!("http://127.0.0.1:{port}/keys/callback.pem"));
    let target = text(&vector, "request_target");
    let authorization = text(&vector, "authorization");
    let mut arguments = vec![
        "--target".to_owned(),
        target,
        "--body-file".to_owned(),
        body,
        "--authorization".to_owned(),
        authorization,
        "--pub-key-url-header".to_owned(),
        header,
        "--fetch".to_owned(),
    ];
    if let Some(prefix) = trust_prefix {
        arguments.push("--trust-prefix".to_owned());
        arguments.push(prefix);
    }
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    ossgate(&arguments)
}

#[test]
fn fetch_from_trusted_prefix_is_valid() {
    let key = std::fs::read(key_path("callback_public_spki.pem")).unwrap();
    let (_listener, port, server) = serve_once(http_response("200 OK", "", &key));

    let output = verify_vector_with_key_url(port, Some(format!("http://127.0.0.1:{port}/keys/")));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout_lines(&output).last().unwrap(), "valid");
    assert_eq!(server.join().unwrap(), "GET /keys/callback.pem HTTP/1.1");
}

#[test]
fn fetch_of_oversized_document_is_error() {
    let document = vec![b'A'; 20 * 1024];
    let (_listener, port, server) = serve_once(http_response("200 OK", "", &document));

    let output = verify_vector_with_key_url(port, Some(format!("http://127.0.0.1:{port}/")));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("larger than 16384 bytes"),
        "{}",
        stderr(&output)
    );
    server.join().unwrap();
}

#[test]
fn fetch_does_not_follow_redirects() {
    let response = http_response("302 Found", "Location: http://127.0.0.1:1/key.pem\r\n", b"");
    let (_listener, port, server) = serve_once(response);

    let output = verify_vector_with_key_url(port, Some(format!("http://127.0.0.1:{port}/")));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("302 Found"), "{}", stderr(&output));
    server.join().unwrap();
}

#[test]
fn fetch_from_untrusted_url_makes_no_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let output = verify_vector_with_key_url(port, None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout_lines(&output)
        .last()
        .unwrap()
        .starts_with("invalid: untrusted public key URL"));

    listener.set_nonblocking(true).unwrap();
    let connection = listener.accept();
    assert!(
        matches!(&connection, Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
        "the tool connected to an untrusted key URL"
    );
}
