//! Settings the `ossgate` binary must reject or warn about, checked through
//! `config check`, `serve` and `dev`, and how it prints the errors.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_ossgate");

/// Complete settings for `ossgate serve` in bearer mode.
const SERVE_ENV: &[(&str, &str)] = &[
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
    ("OSS_ACCESS_KEY_ID", "LTAI5tExample"),
    ("OSS_ACCESS_KEY_SECRET", "access-key-secret-value"),
];

/// Builds `ossgate <args>` with only `SERVE_ENV` and `extra` in the
/// environment (later values win).
fn command(args: &[&str], extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in SERVE_ENV.iter().chain(extra) {
        command.env(name, value);
    }
    command
}

/// Runs `ossgate <args>` and waits for it to exit, killing it and failing the
/// test if it is still running after 30 s, e.g. because it accepted settings
/// it should have rejected and started serving.
fn run(args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut child: Child = command(args, extra).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "ossgate {args:?} still ran after 30 s; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Returns a `serve` command line that listens on a free loopback port.
fn serve_args(database: &Path) -> Vec<String> {
    vec![
        "serve".to_owned(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--database".to_owned(),
        database.display().to_string(),
    ]
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn key_prefix_over_bucket_fails_check_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let overlap = [
        (
            "OSSGATE_TRUSTED_KEY_URL_PREFIXES",
            "http://127.0.0.1:19000/",
        ),
        ("OSSGATE_BUCKET_URL", "http://127.0.0.1:19000/examplebucket"),
    ];
    let serve = serve_args(&dir.path().join("ossgate.db"));
    for args in [vec!["config", "check"], as_strs(&serve)] {
        let output = run(&args, &overlap);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("callback.trusted_key_url_prefixes: prefix \"http://127.0.0.1:19000/\""),
            "{args:?}: {text}"
        );
        assert!(text.contains("uploaders can write"), "{args:?}: {text}");
        assert!(text.contains("callback_pub_key_v1.pem"), "{args:?}: {text}");
    }
}

#[test]
fn emulator_key_prefix_passes_check() {
    let output = run(
        &["config", "check"],
        &[
            (
                "OSSGATE_TRUSTED_KEY_URL_PREFIXES",
                "http://127.0.0.1:19000/callback_pub_key_v1.pem",
            ),
            ("OSSGATE_BUCKET_URL", "http://127.0.0.1:19000/examplebucket"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn callback_verify_help_suggests_key_path() {
    let output = run(&["callback", "verify", "--help"], &[]);
    let text = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        text.contains("http://127.0.0.1:9000/callback_pub_key_v1.pem"),
        "{text}"
    );
    assert!(!text.contains("such as http://127.0.0.1:9000/ "), "{text}");
}

#[test]
fn blank_content_types_env_is_rejected() {
    for value in [" ", ",", "image/png,,image/jpeg"] {
        let output = run(&["config", "check"], &[("OSSGATE_CONTENT_TYPES", value)]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{value:?}: {text}");
        assert!(
            text.contains(&format!(
                "OSSGATE_CONTENT_TYPES: invalid value {value:?} for upload.content_types"
            )),
            "{value:?}: {text}"
        );
    }
}

#[test]
fn blank_content_types_flag_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let serve = serve_args(&dir.path().join("ossgate.db"));
    let data_dir = dir.path().join("dev").display().to_string();
    let dev = [
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--emulator-listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_dir,
    ];
    for base in [vec!["config", "check"], as_strs(&serve), dev.to_vec()] {
        for value in ["", " ", ",", "image/png,"] {
            let mut args = base.clone();
            args.extend(["--content-types", value]);
            let output = run(&args, &[]);
            let text = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {text}");
            assert!(
                text.contains("invalid --content-types") && text.contains("an entry is blank"),
                "{args:?}: {text}"
            );
        }
    }
}

#[test]
fn empty_content_types_array_is_described() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ossgate.toml");
    std::fs::write(&file, "[upload]\ncontent_types = []\n").unwrap();
    let output = run(
        &["config", "check", "--config", &file.display().to_string()],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("content_types = [] # empty: any content type is allowed"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn copied_check_output_is_rejected() {
    // Print the effective settings with every secret set, then use them as
    // the config file with no secrets in the environment.
    let printed = run(
        &["config", "check"],
        &[("OSS_SESSION_TOKEN", "session-token-value")],
    );
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copied.toml");
    std::fs::write(&file, stdout(&printed)).unwrap();

    let output = Command::new(BINARY)
        .args(["config", "check", "--config", &file.display().to_string()])
        .env_clear()
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for setting in [
        "oss.access_key_secret",
        "oss.security_token",
        "callback.ticket_secret",
        "auth.tokens",
    ] {
        assert!(
            text.contains(&format!(
                "{setting}: the value \"<redacted>\" looks like a placeholder copied from \
                 `ossgate config check` output"
            )),
            "{setting}: {text}"
        );
    }
}

#[test]
fn not_set_placeholder_is_rejected() {
    let output = run(
        &["config", "check"],
        &[
            ("OSSGATE_SECURITY_TOKEN", "<not set>"),
            ("OSSGATE_ACCESS_KEY_ID", "LTAI5tOther"),
            ("OSSGATE_ACCESS_KEY_SECRET", "other-secret-value"),
        ],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("oss.security_token: the value \"<not set>\" looks like a placeholder"),
        "{text}"
    );
}

#[test]
fn dir_template_with_dot_dot_is_rejected() {
    let output = run(
        &["config", "check"],
        &[("OSSGATE_UPLOAD_DIR", "up/{user}/../x/")],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("upload.dir: invalid template \"up/{user}/../x/\": a \"..\" path segment"),
        "{text}"
    );
}

#[test]
fn unknown_variables_warn_in_check_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let typos = [("OSSGATE_MAX_SIZ", "1024"), ("OSSGATE_DIR", "x/{user}/")];

    let output = run(&["config", "check"], &typos);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "warning: unknown environment variable OSSGATE_MAX_SIZ is ignored: did you mean \
             OSSGATE_MAX_SIZE?"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: unknown environment variable OSSGATE_DIR is ignored: did you mean \
             OSSGATE_UPLOAD_DIR?"
        ),
        "{text}"
    );

    // `serve` warns at start, before it fails on a setting it does read.
    let serve = serve_args(&dir.path().join("ossgate.db"));
    let mut env = typos.to_vec();
    env.push(("OSSGATE_MAX_SIZE", "0"));
    let output = run(&as_strs(&serve), &env);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("unknown environment variable OSSGATE_MAX_SIZ is ignored"),
        "{text}"
    );
}

#[test]
fn address_in_use_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let database = dir.path().join("ossgate.db").display().to_string();
    let data_dir = dir.path().join("dev").display().to_string();
    let serve = ["serve", "--listen", &address, "--database", &database];
    let dev = ["dev", "--listen", &address, "--data-dir", &data_dir];
    for args in [&serve[..], &dev[..]] {
        let output = run(args, &[]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {text}");
        let error_line = text
            .lines()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line in:\n{text}"));
        assert!(error_line.contains(&address), "{error_line}");
        assert_eq!(error_line.matches("(os error").count(), 1, "{error_line}");
    }
}

#[test]
fn corrupt_database_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("corrupt.db");
    std::fs::write(&database, [0x5a_u8; 4096]).unwrap();
    let database = database.display().to_string();
    let output = run(
        &["serve", "--listen", "127.0.0.1:0", "--database", &database],
        &[],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let error_line = text
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{text}"));
    assert!(error_line.contains(&database), "{error_line}");
    assert_eq!(
        error_line.matches("file is not a database").count(),
        1,
        "{error_line}"
    );
}

#[test]
fn dev_on_public_address_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("dev").display().to_string();
    let output = run(
        &["dev", "--listen", "0.0.0.0:0", "--data-dir", &data_dir],
        &[],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("--listen: 0.0.0.0:0 is not a loopback address"),
        "{text}"
    );
    assert!(!text.contains("invalid input parameter"), "{text}");
}
