//! `ossgate config check` on bearer-auth settings: the errors it prints name
//! only the problems that are really there.

use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_ossgate");

/// Runs `ossgate config check` with complete serve settings in bearer mode and
/// the given `OSSGATE_AUTH_TOKENS` value, and nothing else in the environment.
fn check_with_tokens(tokens: &str) -> Output {
    Command::new(BINARY)
        .args(["config", "check"])
        .env_clear()
        .env("OSSGATE_BUCKET", "example-bucket")
        .env("OSSGATE_REGION", "cn-shanghai")
        .env(
            "OSSGATE_CALLBACK_URL",
            "https://app.example.com/api/oss/callback",
        )
        .env(
            "OSSGATE_TICKET_SECRET",
            "ticket-secret-0123456789abcdef0123",
        )
        .env("OSSGATE_AUTH_MODE", "bearer")
        .env("OSSGATE_AUTH_TOKENS", tokens)
        .env("OSS_ACCESS_KEY_ID", "LTAI5tExample")
        .env("OSS_ACCESS_KEY_SECRET", "access-key-secret-value")
        .output()
        .unwrap()
}

/// Returns the `  - setting: message` lines of a failed check.
fn problem_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| line.strip_prefix("  - "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn short_tokens_report_only_their_length() {
    let output = check_with_tokens("short-token=alice,tiny=bob");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");

    let problems = problem_lines(&output);
    assert_eq!(problems.len(), 2, "{stderr}");
    assert!(
        problems
            .iter()
            .any(|line| line.contains("\"alice\" is shorter than 16 characters")),
        "{stderr}"
    );
    assert!(
        problems
            .iter()
            .any(|line| line.contains("\"bob\" is shorter than 16 characters")),
        "{stderr}"
    );
    assert!(!stderr.contains("no tokens are set"), "{stderr}");
    assert!(!stderr.contains("short-token"), "token printed:\n{stderr}");
}

#[test]
fn short_token_beside_valid_one_fails() {
    let output = check_with_tokens("bearer-token-0123456789=alice,tiny=bob");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(problem_lines(&output).len(), 1, "{stderr}");
    assert!(stderr.contains("\"bob\" is shorter"), "{stderr}");
}

#[test]
fn empty_token_list_reports_no_tokens() {
    let output = check_with_tokens("");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let problems = problem_lines(&output);
    assert_eq!(problems.len(), 1, "{stderr}");
    assert!(problems[0].contains("no tokens are set"), "{stderr}");
}
