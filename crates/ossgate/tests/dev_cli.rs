//! The `ossgate` binary: `ossgate dev` (and a bare `ossgate`) end to end over
//! real sockets, graceful shutdown on SIGTERM, and `ossgate config check`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;

const BINARY: &str = env!("CARGO_BIN_EXE_ossgate");

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// A running `ossgate` process, killed if a test fails before stopping it.
struct Running {
    child: Child,
    emulator_url: String,
    app_url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Sends SIGTERM and returns whether the process exited successfully.
    fn terminate(&mut self) -> bool {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("ossgate did not stop within 10 s of SIGTERM");
    }
}

/// Places the test key where the emulator looks for its callback key, so no
/// 2048-bit key is generated (slow in debug builds).
fn place_callback_key(data_dir: &Path) {
    let emulator_dir = data_dir.join("emulator");
    std::fs::create_dir_all(&emulator_dir).unwrap();
    let key = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ossgate-protocol/tests/vectors/keys/callback_private_pkcs8.pem");
    std::fs::copy(key, emulator_dir.join("callback_private_key.pem")).unwrap();
}

/// Starts `ossgate <args>` in `cwd` and reads the two lines it prints.
fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();

    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if sender.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut running = Running {
        child,
        emulator_url: String::new(),
        app_url: String::new(),
    };
    let first = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the emulator line");
    let second = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the page line");
    running.emulator_url = first
        .strip_prefix("Emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    running.app_url = second
        .strip_prefix("Open ")
        .and_then(|rest| rest.strip_suffix("/ in your browser"))
        .unwrap_or_else(|| panic!("unexpected second line {second:?}"))
        .to_owned();
    running
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn dev_upload_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    place_callback_key(&data_dir);
    let mut running = start(
        dir.path(),
        &[
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--max-size",
            "4096",
        ],
        &[],
    );
    assert!(
        running.emulator_url.starts_with("http://127.0.0.1:"),
        "{}",
        running.emulator_url
    );
    assert!(
        running.app_url.starts_with("http://127.0.0.1:"),
        "{}",
        running.app_url
    );

    // The page is served.
    let page = client()
        .get(format!("{}/", running.app_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    // A token, then the form straight to the emulated bucket.
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    let token: serde_json::Value = client()
        .get(format!(
            "{}/api/upload-token?filename=dot.png&size={}&contentType=image/png",
            running.app_url,
            png.len()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The token allows the declared size, within the configured 4096 bytes.
    assert_eq!(token["maxSize"], png.len());
    assert!(token["url"]
        .as_str()
        .unwrap()
        .starts_with(&running.emulator_url));
    let mut form = reqwest::multipart::Form::new();
    let fields = token["fields"].as_object().unwrap();
    // `key` must come first; the order of the others does not matter to OSS.
    form = form.text("key", fields["key"].as_str().unwrap().to_owned());
    for (name, value) in fields.iter().filter(|(name, _)| *name != "key") {
        form = form.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    let file = reqwest::multipart::Part::bytes(png)
        .file_name("dot.png")
        .mime_str("image/png")
        .unwrap();
    let response = client()
        .post(token["url"].as_str().unwrap())
        .multipart(form.part("file", file))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{text}");
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reply["Status"], "OK");
    assert_eq!(reply["object"], token["key"]);

    let list: serde_json::Value = client()
        .get(format!("{}/api/uploads", running.app_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["uploads"][0]["object"], token["key"]);

    assert!(running.terminate(), "ossgate dev did not exit cleanly");
    assert!(data_dir.join("ossgate.db").exists());
    assert!(data_dir.join("dev-secrets.toml").exists());
}

#[tokio::test]
async fn bare_ossgate_runs_dev() {
    let dir = tempfile::tempdir().unwrap();
    place_callback_key(&dir.path().join(".ossgate-dev"));
    let mut running = start(dir.path(), &[], &[("OSSGATE_LISTEN", "127.0.0.1:0")]);
    let limits: serde_json::Value = client()
        .get(format!("{}/api/limits", running.app_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limits["authMode"], "none");
    assert_eq!(limits["signatureVersion"], "v4");
    assert!(running.terminate());
    assert!(dir.path().join(".ossgate-dev/ossgate.db").exists());
}

fn config_check(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BINARY);
    command.args(["config", "check"]).env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn config_check_prints_redacted_settings() {
    let output = config_check(&[
        ("OSSGATE_BUCKET", "example-bucket"),
        ("OSSGATE_REGION", "cn-shanghai"),
        (
            "OSSGATE_CALLBACK_URL",
            "https://app.example.com/api/oss/callback",
        ),
        (
            "OSSGATE_TICKET_SECRET",
            "ticket-secret-0123456789abcdef0123",
        ),
        ("OSSGATE_AUTH_MODE", "bearer"),
        ("OSSGATE_AUTH_TOKENS", "bearer-token-0123456789=alice"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tExample"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "access-key-secret-value"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("bucket = \"example-bucket\""), "{stdout}");
    assert!(
        stdout.contains("bucket_url = \"https://example-bucket.oss-cn-shanghai.aliyuncs.com\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("access_key_id = \"LTAI5tExample\""),
        "{stdout}"
    );
    for secret in [
        "ticket-secret-0123456789abcdef0123",
        "bearer-token-0123456789",
        "access-key-secret-value",
    ] {
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
    }
}

#[test]
fn config_check_names_each_missing_setting() {
    let output = config_check(&[("OSSGATE_CALLBACK_URL", "http://10.0.0.5/cb")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for setting in [
        "oss.bucket",
        "oss.region",
        "oss.access_key_id",
        "callback.ticket_secret",
        "auth.mode",
    ] {
        assert!(
            stderr.contains(setting),
            "{setting} missing from:\n{stderr}"
        );
    }
}

#[test]
fn config_check_warns_about_a_private_callback_url() {
    let output = config_check(&[
        ("OSSGATE_BUCKET", "example-bucket"),
        ("OSSGATE_REGION", "cn-shanghai"),
        (
            "OSSGATE_CALLBACK_URL",
            "http://192.168.1.5:8080/api/oss/callback",
        ),
        (
            "OSSGATE_TICKET_SECRET",
            "ticket-secret-0123456789abcdef0123",
        ),
        ("OSSGATE_AUTH_MODE", "none"),
        ("OSS_ACCESS_KEY_ID", "LTAI5tExample"),
        ("OSS_ACCESS_KEY_SECRET", "access-key-secret-value"),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("private address"), "{stderr}");
    assert!(stderr.contains("auth.mode is \"none\""), "{stderr}");
}

/// Settings for `ossgate serve` against a bucket that is never contacted.
const SERVE_ENV: &[(&str, &str)] = &[
    ("OSSGATE_LISTEN", "127.0.0.1:0"),
    ("OSSGATE_BUCKET", "example-bucket"),
    ("OSSGATE_REGION", "cn-hangzhou"),
    (
        "OSSGATE_CALLBACK_URL",
        "https://app.example.com/api/oss/callback",
    ),
    (
        "OSSGATE_TICKET_SECRET",
        "ticket-secret-0123456789abcdef0123",
    ),
    ("OSSGATE_AUTH_MODE", "bearer"),
    ("OSSGATE_AUTH_TOKENS", "bearer-token-0123456789=alice"),
    ("OSS_ACCESS_KEY_ID", "LTAI5tExample"),
    ("OSS_ACCESS_KEY_SECRET", "access-key-secret-value"),
];

#[tokio::test]
async fn serve_logs_json_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BINARY);
    command
        .args(["serve", "--log-format", "json", "--database", "uploads.db"])
        .current_dir(dir.path())
        .env_clear()
        .env("RUST_LOG", "info")
        .envs(SERVE_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();

    // The address comes from the JSON log line announcing it.
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if sender.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut running = Running {
        child,
        emulator_url: String::new(),
        app_url: String::new(),
    };
    loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("a log line announcing the address");
        let event: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
        if event["fields"]["message"] == "app server listening" {
            running.app_url = format!("http://{}", event["fields"]["address"].as_str().unwrap());
            break;
        }
    }

    let health = client()
        .get(format!("{}/healthz", running.app_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let anonymous = client()
        .get(format!("{}/api/upload-token", running.app_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    let token: serde_json::Value = client()
        .get(format!(
            "{}/api/upload-token?filename=a.png",
            running.app_url
        ))
        .bearer_auth("bearer-token-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        token["url"],
        "https://example-bucket.oss-cn-hangzhou.aliyuncs.com"
    );
    assert!(token["dir"].as_str().unwrap().starts_with("uploads/alice/"));

    assert!(running.terminate(), "ossgate serve did not exit cleanly");
    assert!(dir.path().join("uploads.db").exists());
}

#[test]
fn serve_with_invalid_settings_exits_with_1() {
    let output = Command::new(BINARY)
        .arg("serve")
        .env_clear()
        .envs(SERVE_ENV.iter().copied())
        .env("OSSGATE_MAX_SIZE", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("upload.max_size"), "{stderr}");
}
