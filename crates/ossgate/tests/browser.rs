//! End-to-end tests of the upload page in a real browser.
//!
//! Each test starts `ossgate dev` (the app server and the embedded OSS
//! emulator on free 127.0.0.1 ports) and Debian's `chromedriver`, then drives
//! headless Chromium through WebDriver. Files are chosen the way a person
//! chooses them: WebDriver types their paths into the page's file input. The
//! tests then check the page, the app server's API and metrics, and the
//! emulator's test hooks (`/_emulator/objects`, `/posts`, `/callbacks`,
//! `/faults`).
//!
//! The WebDriver client is fantoccini rather than chromiumoxide. fantoccini
//! speaks standard WebDriver to the chromedriver that Debian ships in
//! lockstep with chromium, so no DevTools protocol version has to match the
//! browser's. It also compiles far less code.
//!
//! Without `/usr/bin/chromium` or `/usr/bin/chromedriver` each test prints a
//! notice and returns without checking anything, unless
//! `OSSGATE_REQUIRE_BROWSER=1` is set, in which case it fails. Every test also
//! fails when the page reported a Content-Security-Policy violation: a script
//! that Chromium runs before each page's own collects the
//! `securitypolicyviolation` events in the tab's session storage. The tests run
//! one at a time (a shared lock), because several browsers at once on a
//! small machine make the timing checks flaky. Screenshots of each step are
//! saved under `target/browser-screenshots/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::{json, Value};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Allowed types and size for every test server: PNG images and binaries, so
/// a text file is a disallowed type.
const CONTENT_TYPES: &str = "image/png,application/octet-stream";
const MAX_SIZE: u64 = 32 * 1024 * 1024;

/// The 64×48 RGB PNG that the tests upload.
const PNG_FIXTURE: &[u8] = include_bytes!("fixtures/photo-64x48.png");
const PNG_WIDTH: u64 = 64;
const PNG_HEIGHT: u64 = 48;

const BIG_FILE_SIZE: usize = 20 * 1024 * 1024;

/// The app server's Prometheus series for upload tokens and accepted callbacks.
const TOKENS_ISSUED: &str = "ossgate_tokens_issued_total{endpoint=\"upload-token\"}";
const CALLBACKS_ACCEPTED: &str = "ossgate_callbacks_total{outcome=\"accepted\",reason=\"ok\"}";

/// Time allowed for `ossgate dev` to print its two address lines. A debug
/// build may spend seconds generating the emulator's RSA key.
const DEV_START_TIMEOUT: Duration = Duration::from_secs(120);
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(90);

/// Keeps the browser tests from running at the same time.
static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn page_uploads_png_and_binary_and_rejects_text() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let mut harness = Harness::start(
        "upload",
        DevOptions::default(),
        Language::English,
        Viewport::Desktop,
    )
    .await
    .expect("starting ossgate dev and the browser failed");
    let result = upload_scenario(&mut harness).await;
    harness.finish(result).await;
}

#[tokio::test]
async fn page_cancels_and_retries_upload() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let mut harness = Harness::start(
        "cancel",
        DevOptions::default(),
        Language::English,
        Viewport::Desktop,
    )
    .await
    .expect("starting ossgate dev and the browser failed");
    let result = cancel_scenario(&mut harness).await;
    harness.finish(result).await;
}

#[tokio::test]
async fn page_recovers_expired_token_by_retry() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let lifetime = EXPIRY_TOKEN_LIFETIME.to_string();
    let options = DevOptions {
        args: &["--token-lifetime", &lifetime],
        ..DevOptions::default()
    };
    let mut harness = Harness::start("expiry", options, Language::English, Viewport::Desktop)
        .await
        .expect("starting ossgate dev and the browser failed");
    let result = expiry_scenario(&mut harness).await;
    harness.finish(result).await;
}

#[tokio::test]
async fn page_speaks_chinese_on_phone() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let mut harness = Harness::start(
        "zh-cn",
        DevOptions::default(),
        Language::Chinese,
        Viewport::Phone,
    )
    .await
    .expect("starting ossgate dev and the browser failed");
    let result = chinese_scenario(&mut harness).await;
    harness.finish(result).await;
}

#[tokio::test]
async fn page_accepts_dropped_and_pasted_files() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let mut harness = Harness::start(
        "drop-paste",
        DevOptions::default(),
        Language::English,
        Viewport::Desktop,
    )
    .await
    .expect("starting ossgate dev and the browser failed");
    let result = drop_and_paste_scenario(&mut harness).await;
    harness.finish(result).await;
}

#[tokio::test]
async fn page_runs_three_uploads_at_once() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let mut harness = Harness::start(
        "parallel",
        DevOptions::default(),
        Language::English,
        Viewport::Desktop,
    )
    .await
    .expect("starting ossgate dev and the browser failed");
    let result = parallel_scenario(&mut harness).await;
    harness.finish(result).await;
}

#[tokio::test]
async fn page_sends_saved_bearer_token() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let tokens = format!("{BEARER_TOKEN}={BEARER_USER}");
    let options = DevOptions {
        env: &[
            ("OSSGATE_AUTH_MODE", "bearer"),
            ("OSSGATE_AUTH_TOKENS", &tokens),
        ],
        bearer: Some(BEARER_TOKEN),
        ..DevOptions::default()
    };
    let mut harness = Harness::start("bearer", options, Language::English, Viewport::Desktop)
        .await
        .expect("starting ossgate dev and the browser failed");
    let result = bearer_scenario(&mut harness).await;
    harness.finish(result).await;
}

/// The static bearer token and its user id for the auth test.
const BEARER_TOKEN: &str = "browser-test-token-6f1d2c9a";
const BEARER_USER: &str = "alice";

#[tokio::test]
async fn page_uploads_with_jwt_on_chinese_phone() {
    if !browser_available() {
        return;
    }
    let _serial = BROWSER_LOCK.lock().await;
    let options = DevOptions {
        env: &[
            ("OSSGATE_AUTH_MODE", "jwt"),
            ("OSSGATE_JWT_SECRET", JWT_SECRET),
        ],
        ..DevOptions::default()
    };
    let mut harness = Harness::start("jwt", options, Language::Chinese, Viewport::Phone)
        .await
        .expect("starting ossgate dev and the browser failed");
    let result = jwt_scenario(&mut harness).await;
    harness.finish(result).await;
}

/// The HS256 secret of the JWT test's server, and the user its tokens name.
const JWT_SECRET: &str = "browser-test-jwt-secret-0123456789abcdef";
const JWT_USER: &str = "bob";

// -------------------------------------------------------------------------------------------------
// Scenarios

/// Uploads a PNG and a 20 MiB binary, while the browser rejects a text file.
async fn upload_scenario(harness: &mut Harness) -> Result<()> {
    let png = harness.write_file("photo.png", PNG_FIXTURE)?;
    let big_bytes = pseudo_random_bytes(BIG_FILE_SIZE, 0x5eed_f00d);
    let big = harness.write_file("big.bin", &big_bytes)?;
    let text = harness.write_file("notes.txt", b"plain text is not an allowed type\n")?;

    harness.open_page().await?;
    let limits = harness.text("#limits-list").await?;
    ensure!(
        limits.contains("image/png") && limits.contains("application/octet-stream"),
        "the page does not show the allowed types before a file is chosen: {limits:?}"
    );
    harness.screenshot("01-ready").await?;

    harness.choose_files(&[&png, &big, &text]).await?;

    // The text file is rejected at once, with the reason, and never requests a token.
    let rejected = harness
        .wait_for_state("notes.txt", "rejected", Duration::from_secs(5))
        .await?;
    assert_eq!(rejected.error_code.as_deref(), Some("InvalidContentType"));
    assert!(
        rejected.message.contains("text/plain"),
        "the rejection does not name the type: {:?}",
        rejected.message
    );
    assert_eq!(
        rejected.attempts, 0,
        "a rejected file requested a token: {rejected:?}"
    );

    let photo = harness
        .wait_for_state("photo.png", "done", UPLOAD_TIMEOUT)
        .await?;
    let binary = harness
        .wait_for_state("big.bin", "done", UPLOAD_TIMEOUT)
        .await?;
    for row in [&photo, &binary] {
        assert_eq!(row.percent, 100, "progress did not reach 100%: {row:?}");
        assert_eq!(row.attempts, 1, "one token per upload expected: {row:?}");
        assert!(row.link.is_some(), "no link to the uploaded file: {row:?}");
        assert!(
            row.object.is_some(),
            "no object key from the callback: {row:?}"
        );
    }
    assert!(
        photo.thumbnail.is_some(),
        "no thumbnail for the image: {photo:?}"
    );
    assert!(
        binary.thumbnail.is_none(),
        "a thumbnail for a binary: {binary:?}"
    );
    assert_eq!(
        harness
            .attribute("#overall-progress", "data-percent")
            .await?
            .as_deref(),
        Some("100")
    );

    // The thumbnail is the uploaded image, fetched by the browser through its presigned URL.
    let width = harness
        .wait_for_script(
            "const image = document.querySelector('li.file[data-name=\"photo.png\"] img.file-thumb');\
             return image && image.complete && image.naturalWidth > 0 ? image.naturalWidth : null;",
            Duration::from_secs(10),
        )
        .await?;
    assert_eq!(
        width,
        json!(PNG_WIDTH),
        "the thumbnail did not load the uploaded image"
    );

    let photo_key = photo.object.clone().unwrap_or_default();
    let binary_key = binary.object.clone().unwrap_or_default();
    assert!(
        photo_key.ends_with(".png"),
        "the key lost the extension: {photo_key}"
    );
    assert!(
        binary_key.ends_with(".bin"),
        "the key lost the extension: {binary_key}"
    );

    // "My uploads" lists both, newest first.
    harness
        .wait_for_script(
            "return document.querySelectorAll('#uploads-list li.upload').length >= 2 ? true : null;",
            Duration::from_secs(10),
        )
        .await?;
    let listed = harness.listed_uploads().await?;
    assert_eq!(listed.len(), 2, "the page lists other uploads: {listed:?}");
    assert!(
        listed.contains(&photo_key) && listed.contains(&binary_key),
        "{listed:?}"
    );

    // Each row shows the file's own name, with the server-chosen key beneath it.
    for (key, name) in [(&photo_key, "photo.png"), (&binary_key, "big.bin")] {
        let row = harness
            .listed_upload(key)
            .await?
            .with_context(|| format!("no row for {key}"))?;
        assert_eq!(
            row.name, name,
            "the row does not show the file's name: {row:?}"
        );
        assert_eq!(row.filename, name, "data-filename: {row:?}");
        assert_eq!(row.key, format!("Stored as {key}"), "the key line: {row:?}");
    }
    harness.screenshot("02-uploaded").await?;

    // The app server recorded both uploads, with the image's size read by OSS.
    let uploads = harness.dev.uploads().await?;
    assert_eq!(uploads.len(), 2, "recorded uploads: {uploads:?}");
    assert_eq!(
        uploads[0].object, listed[0],
        "the API and the page disagree on the order"
    );
    let photo_record = find_upload(&uploads, &photo_key)?;
    assert_eq!(photo_record.filename, "photo.png");
    assert_eq!(photo_record.size, PNG_FIXTURE.len() as u64);
    assert_eq!(photo_record.mime_type.as_deref(), Some("image/png"));
    assert_eq!(photo_record.image_width, Some(PNG_WIDTH));
    assert_eq!(photo_record.image_height, Some(PNG_HEIGHT));
    let binary_record = find_upload(&uploads, &binary_key)?;
    assert_eq!(binary_record.size, BIG_FILE_SIZE as u64);
    assert_eq!(
        binary_record.mime_type.as_deref(),
        Some("application/octet-stream")
    );

    // The stored bytes equal the originals, read back through the presigned URLs.
    let stored_photo = harness.dev.download(&photo_record.url).await?;
    assert!(
        stored_photo == PNG_FIXTURE,
        "the stored PNG differs from the original"
    );
    let stored_binary = harness.dev.download(&binary_record.url).await?;
    assert_eq!(
        stored_binary.len(),
        big_bytes.len(),
        "the stored binary has another size"
    );
    assert!(
        stored_binary == big_bytes,
        "the stored binary differs from the original"
    );

    // The emulator stored exactly these two objects and received exactly two form posts.
    let objects = harness.dev.emulator_objects().await?;
    let mut object_keys: Vec<&str> = objects.iter().map(|object| object.key.as_str()).collect();
    object_keys.sort_unstable();
    let mut expected_keys = vec![photo_key.as_str(), binary_key.as_str()];
    expected_keys.sort_unstable();
    assert_eq!(object_keys, expected_keys);

    let posts = harness.dev.emulator_posts().await?;
    assert_eq!(posts.len(), 2, "form posts: {posts:?}");
    for post in &posts {
        assert_eq!(post.status, 200, "a form post failed: {post:?}");
        let key = post.key.as_deref().unwrap_or_default();
        assert!(
            !key.ends_with(".txt"),
            "the text file reached the bucket: {post:?}"
        );
    }

    // Each callback reached the app server, passed verification and got its 200 JSON.
    let callbacks = harness.dev.emulator_callbacks().await?;
    assert_eq!(callbacks.len(), 2, "callbacks: {callbacks:?}");
    for callback in &callbacks {
        assert_eq!(callback.outcome, "ok", "{callback:?}");
        assert_eq!(callback.response_status, Some(200), "{callback:?}");
        let body = callback.response_body.as_deref().unwrap_or_default();
        let body: Value =
            serde_json::from_str(body).context("the callback response is not JSON")?;
        assert_eq!(body["Status"], "OK", "callback response: {body}");
    }

    // Two tokens in all: the rejected text file never asked for one.
    let metrics = harness.dev.metrics().await?;
    assert_eq!(counter(&metrics, TOKENS_ISSUED), 2);
    assert_eq!(counter(&metrics, CALLBACKS_ACCEPTED), 2);
    Ok(())
}

/// Cancels an upload halfway, which stores nothing, then retries it with a fresh token.
async fn cancel_scenario(harness: &mut Harness) -> Result<()> {
    const SIZE: usize = 4 * 1024 * 1024;
    let bytes = pseudo_random_bytes(SIZE, 0xca9c_e1ed);
    let file = harness.write_file("slow.bin", &bytes)?;

    harness.open_page().await?;
    // About four seconds for the whole file, so the cancel lands mid-transfer.
    harness.throttle_upload(Some(1_000_000)).await?;
    harness.choose_files(&[&file]).await?;

    harness
        .wait_for_script(
            "const row = document.querySelector('li.file[data-name=\"slow.bin\"]');\
             const percent = Number(row.querySelector('.file-progress').dataset.percent);\
             return row.dataset.phase === 'sending' && percent >= 10 ? percent : null;",
            Duration::from_secs(30),
        )
        .await?;
    harness
        .click("li.file[data-name=\"slow.bin\"] button.file-cancel")
        .await?;
    let canceled = harness
        .wait_for_state("slow.bin", "canceled", Duration::from_secs(5))
        .await?;
    assert!(
        canceled.percent < 100,
        "the cancel came too late to test: {canceled:?}"
    );
    let status = harness.text("#status").await?;
    assert!(
        status.contains("canceled"),
        "the live region did not announce the cancel: {status:?}"
    );
    harness.screenshot("01-canceled").await?;

    // The aborted form post stored nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let objects = harness.dev.emulator_objects().await?;
    assert!(
        objects.is_empty(),
        "the canceled upload was stored: {objects:?}"
    );
    let posts = harness.dev.emulator_posts().await?;
    assert!(
        posts.iter().all(|post| post.status != 200),
        "the canceled upload succeeded: {posts:?}"
    );

    harness.throttle_upload(None).await?;
    harness
        .click("li.file[data-name=\"slow.bin\"] button.file-retry")
        .await?;
    let done = harness
        .wait_for_state("slow.bin", "done", UPLOAD_TIMEOUT)
        .await?;
    assert_eq!(done.percent, 100);
    assert_eq!(
        done.attempts, 2,
        "the retry did not request a new token: {done:?}"
    );
    harness.screenshot("02-retried").await?;

    let metrics = harness.dev.metrics().await?;
    assert_eq!(counter(&metrics, TOKENS_ISSUED), 2);
    let uploads = harness.dev.uploads().await?;
    assert_eq!(uploads.len(), 1, "recorded uploads: {uploads:?}");
    assert_eq!(Some(&uploads[0].object), done.object.as_ref());
    let stored = harness.dev.download(&uploads[0].url).await?;
    assert!(stored == bytes, "the stored file differs from the original");
    Ok(())
}

/// Token lifetime for the expiry test. Expirations are whole seconds, so a
/// one-second token may have almost no time left when it is issued. Two
/// seconds leave at least one for the retried upload to start.
const EXPIRY_TOKEN_LIFETIME: u64 = 2;

/// Uploads whose token expired fail with OSS's error; "retry all failed" requests fresh tokens.
async fn expiry_scenario(harness: &mut Harness) -> Result<()> {
    let first = harness.write_file("first.png", PNG_FIXTURE)?;
    let second = harness.write_file("second.png", PNG_FIXTURE)?;
    harness.open_page().await?;

    // The emulator's clock runs ahead, so every token is past its expiration on arrival.
    harness
        .dev
        .set_faults(&json!({ "clock_offset_secs": 600 }))
        .await?;
    harness.choose_files(&[&first, &second]).await?;
    for name in ["first.png", "second.png"] {
        let row = harness
            .wait_for_state(name, "failed", UPLOAD_TIMEOUT)
            .await?;
        assert_eq!(row.error_code.as_deref(), Some("AccessDenied"), "{row:?}");
        assert_eq!(
            row.message, "The upload form expired before the file arrived. Retry to get a new one.",
            "the page does not explain OSS's error"
        );
        let detail = row.message_title.as_deref().unwrap_or_default();
        assert!(
            detail.contains("AccessDenied: Invalid according to Policy: Policy expired."),
            "OSS's own message is not kept as the detail: {detail:?}"
        );
    }
    let posts = harness.dev.emulator_posts().await?;
    assert_eq!(posts.len(), 2, "form posts: {posts:?}");
    assert!(posts.iter().all(|post| post.status == 403), "{posts:?}");
    let retry_label = harness.text("#retry-failed").await?;
    assert!(
        retry_label.contains('2'),
        "the retry button does not count the failures: {retry_label:?}"
    );
    harness.screenshot("01-expired").await?;

    // Back to the real clock, and long enough that the first tokens expired for real too:
    // a retry that reused them would fail again.
    harness.dev.clear_faults().await?;
    tokio::time::sleep(Duration::from_secs(EXPIRY_TOKEN_LIFETIME + 1)).await;
    harness.click("#retry-failed").await?;
    for name in ["first.png", "second.png"] {
        let row = harness.wait_for_state(name, "done", UPLOAD_TIMEOUT).await?;
        assert_eq!(
            row.attempts, 2,
            "the retry did not request a new token: {row:?}"
        );
        assert_eq!(row.percent, 100);
    }
    harness.screenshot("02-recovered").await?;

    let metrics = harness.dev.metrics().await?;
    assert_eq!(counter(&metrics, TOKENS_ISSUED), 4);
    let uploads = harness.dev.uploads().await?;
    assert_eq!(uploads.len(), 2, "recorded uploads: {uploads:?}");
    Ok(())
}

/// Shows the Chinese page to a browser preferring zh-CN. The switch changes the
/// language, and the choice survives a reload.
async fn chinese_scenario(harness: &mut Harness) -> Result<()> {
    let png = harness.write_file("照片.png", PNG_FIXTURE)?;
    let text = harness.write_file("notes.txt", b"not allowed\n")?;
    harness.open_page().await?;

    assert_eq!(
        harness.attribute("html", "lang").await?.as_deref(),
        Some("zh-CN")
    );
    assert_eq!(harness.text("h1").await?, "上传文件");
    assert_eq!(harness.text("#lang-switch").await?, "English");
    let limits = harness.text("#limits-list").await?;
    assert!(
        limits.contains("单个文件最大 32.0 MiB"),
        "limits: {limits:?}"
    );

    harness.choose_files(&[&png, &text]).await?;
    let rejected = harness
        .wait_for_state("notes.txt", "rejected", Duration::from_secs(5))
        .await?;
    assert!(
        rejected.message.contains("不允许的类型 text/plain"),
        "message: {:?}",
        rejected.message
    );
    let done = harness
        .wait_for_state("照片.png", "done", UPLOAD_TIMEOUT)
        .await?;
    assert_eq!(done.state_text, "上传成功");
    assert_eq!(done.percent, 100);
    let status = harness.text("#status").await?;
    assert!(status.contains("上传成功"), "live region: {status:?}");

    // Nothing is wider than the phone's screen.
    let overflow = harness
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )
        .await?;
    assert_eq!(overflow, json!(0), "the page scrolls sideways on a phone");
    harness
        .wait_for_script(
            "return document.querySelector('#uploads-list li.upload') ? true : null;",
            Duration::from_secs(10),
        )
        .await?;
    let key = done
        .object
        .clone()
        .context("no object key from the callback")?;
    let listed = harness
        .listed_upload(&key)
        .await?
        .context("the upload is not listed")?;
    assert_eq!(
        listed.name, "照片.png",
        "the list shows the key, not the name: {listed:?}"
    );
    assert_eq!(
        listed.key,
        format!("对象名：{key}"),
        "the key line: {listed:?}"
    );
    harness.screenshot("01-chinese-phone").await?;

    harness.click("#lang-switch").await?;
    assert_eq!(
        harness.attribute("html", "lang").await?.as_deref(),
        Some("en")
    );
    assert_eq!(harness.text("h1").await?, "Upload files");
    let row = harness
        .file_row("照片.png")
        .await?
        .context("the row vanished")?;
    assert_eq!(row.state_text, "Uploaded");
    let listed = harness
        .listed_upload(&key)
        .await?
        .context("the upload is not listed in English")?;
    assert_eq!(listed.name, "照片.png", "{listed:?}");
    assert_eq!(listed.key, format!("Stored as {key}"), "{listed:?}");
    harness.screenshot("02-english-phone").await?;

    harness.client.refresh().await?;
    harness.wait_for_limits().await?;
    assert_eq!(
        harness.text("h1").await?,
        "Upload files",
        "the language choice was not kept"
    );
    harness.click("#lang-switch").await?;
    assert_eq!(harness.text("h1").await?, "上传文件");
    let uploads = harness.text("#uploads-list").await?;
    assert!(uploads.contains("64 × 48"), "my uploads: {uploads:?}");
    harness.screenshot("03-chinese-after-reload").await?;

    // OSS's English error XML is shown in Chinese; its own text stays as the detail.
    let late = harness.write_file("过期.png", PNG_FIXTURE)?;
    harness
        .dev
        .set_faults(&json!({ "clock_offset_secs": 600 }))
        .await?;
    harness.choose_files(&[&late]).await?;
    let failed = harness
        .wait_for_state("过期.png", "failed", UPLOAD_TIMEOUT)
        .await?;
    harness.dev.clear_faults().await?;
    assert_eq!(failed.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(
        failed.message, "上传表单在文件到达前已过期。请重试以获取新的表单。",
        "{failed:?}"
    );
    assert!(
        failed
            .message_title
            .as_deref()
            .is_some_and(|title| title.starts_with("详细信息：AccessDenied: ")),
        "{failed:?}"
    );
    let overflow = harness
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )
        .await?;
    assert_eq!(
        overflow,
        json!(0),
        "the error makes the page scroll sideways"
    );
    harness.screenshot("04-chinese-oss-error").await?;
    Ok(())
}

/// Files dropped on the zone or pasted are checked and uploaded like chosen ones, and the drop
/// zone is reachable with the keyboard.
async fn drop_and_paste_scenario(harness: &mut Harness) -> Result<()> {
    harness.open_page().await?;

    // Skip link, language switch, then the drop zone.
    let mut keys = KeyActions::new("keyboard".to_owned());
    for _ in 0..3 {
        keys = keys
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
    }
    harness.client.perform_actions(keys).await?;
    let focused = harness.script("return document.activeElement.id;").await?;
    assert_eq!(
        focused,
        json!("drop-zone"),
        "the drop zone is not the third tab stop"
    );

    let binary = "application/octet-stream";
    harness
        .drop_file("dropped.bin", binary, "bytes from a drop")
        .await?;
    harness
        .drop_file("dropped.txt", "text/plain", "a disallowed type")
        .await?;
    harness
        .paste_file("pasted.bin", binary, "bytes from a paste")
        .await?;

    let rejected = harness
        .wait_for_state("dropped.txt", "rejected", Duration::from_secs(5))
        .await?;
    assert_eq!(rejected.error_code.as_deref(), Some("InvalidContentType"));
    let dropped = harness
        .wait_for_state("dropped.bin", "done", UPLOAD_TIMEOUT)
        .await?;
    let pasted = harness
        .wait_for_state("pasted.bin", "done", UPLOAD_TIMEOUT)
        .await?;
    harness.screenshot("01-uploaded").await?;

    let uploads = harness.dev.uploads().await?;
    for (row, content) in [
        (&dropped, "bytes from a drop"),
        (&pasted, "bytes from a paste"),
    ] {
        let object = row.object.as_deref().context("no object key on the page")?;
        let record = find_upload(&uploads, object)?;
        let stored = harness.dev.download(&record.url).await?;
        assert_eq!(
            stored,
            content.as_bytes(),
            "the stored bytes of {object} differ"
        );
    }
    let metrics = harness.dev.metrics().await?;
    assert_eq!(counter(&metrics, TOKENS_ISSUED), 2);
    Ok(())
}

/// Uploads 21 files with at most three in flight, each with its own token, then pages
/// through "My uploads", which shows 20 at a time.
async fn parallel_scenario(harness: &mut Harness) -> Result<()> {
    const FILES: usize = 21;
    const SIZE: usize = 64 * 1024;
    let mut paths = Vec::new();
    for index in 0..FILES {
        let bytes = pseudo_random_bytes(SIZE, 0x9a7a_11e1 + index as u64);
        paths.push(harness.write_file(&format!("part-{index}.bin"), &bytes)?);
    }
    harness.open_page().await?;

    // The page counts the rows uploading at once on every state change.
    harness
        .script(
            "window.maxUploading = 0;\
             new MutationObserver(() => {\
               const running = document.querySelectorAll('li.file[data-state=\"uploading\"]').length;\
               window.maxUploading = Math.max(window.maxUploading, running);\
             }).observe(document.getElementById('file-list'),\
               { subtree: true, attributes: true, attributeFilter: ['data-state'] });\
             return null;",
        )
        .await?;
    // Slow enough that the first three are still sending when they could be joined by more.
    harness.throttle_upload(Some(2_000_000)).await?;
    let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    harness.choose_files(&path_refs).await?;

    for index in 0..FILES {
        let row = harness
            .wait_for_state(&format!("part-{index}.bin"), "done", UPLOAD_TIMEOUT)
            .await?;
        assert_eq!(row.attempts, 1, "{row:?}");
        assert_eq!(row.percent, 100, "{row:?}");
    }
    let max_uploading = harness.script("return window.maxUploading;").await?;
    assert_eq!(max_uploading, json!(3), "uploads in flight at once");

    let metrics = harness.dev.metrics().await?;
    assert_eq!(counter(&metrics, TOKENS_ISSUED), FILES as u64);
    let uploads = harness.dev.uploads().await?;
    assert_eq!(uploads.len(), FILES, "recorded uploads: {uploads:?}");
    let newest_first: Vec<&str> = uploads
        .iter()
        .map(|upload| upload.object.as_str())
        .collect();

    // The page reloads its list 300 ms after an upload finishes; let the last reload settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    harness
        .wait_for_script(
            "return document.getElementById('uploads').getAttribute('aria-busy') === 'false' \
             ? true : null;",
            Duration::from_secs(10),
        )
        .await?;
    let first_page = harness.listed_uploads().await?;
    assert_eq!(
        first_page,
        newest_first[..20],
        "the first page of my uploads"
    );
    let more = harness.client.find(Locator::Css("#uploads-more")).await?;
    assert!(
        more.is_displayed().await?,
        "no \"Load more\" button after 20 uploads"
    );
    more.click().await?;
    harness
        .wait_for_script(
            "return document.querySelectorAll('#uploads-list li.upload').length > 20 ? true : null;",
            Duration::from_secs(10),
        )
        .await?;
    assert_eq!(
        harness.listed_uploads().await?,
        newest_first,
        "both pages of my uploads"
    );
    let more_hidden = harness.attribute("#uploads-more", "hidden").await?;
    assert!(
        more_hidden.is_some(),
        "\"Load more\" is still shown after the last page"
    );
    harness.screenshot("01-paged").await?;
    Ok(())
}

/// Uploads fail with the server's 401 message until the user saves a bearer token, which the
/// page then sends with every API call and keeps across reloads.
async fn bearer_scenario(harness: &mut Harness) -> Result<()> {
    let png = harness.write_file("photo.png", PNG_FIXTURE)?;
    harness.open_page().await?;

    let auth = harness.client.find(Locator::Css("#auth")).await?;
    assert!(
        auth.is_displayed().await?,
        "no token field although the server requires one"
    );
    assert_eq!(
        harness
            .attribute("#limits", "data-auth-mode")
            .await?
            .as_deref(),
        Some("bearer")
    );

    harness.choose_files(&[&png]).await?;
    let failed = harness
        .wait_for_state("photo.png", "failed", UPLOAD_TIMEOUT)
        .await?;
    assert_eq!(
        failed.error_code.as_deref(),
        Some("MissingToken"),
        "{failed:?}"
    );
    assert!(
        failed.message.contains("Enter a valid access token above"),
        "the page does not say how to fix it: {:?}",
        failed.message
    );
    harness.screenshot("01-missing-token").await?;

    let input = harness.client.find(Locator::Css("#auth-token")).await?;
    input.send_keys(BEARER_TOKEN).await?;
    harness.click("#auth-save").await?;
    assert_eq!(harness.text("#status").await?, "Access token saved.");
    harness
        .click("li.file[data-name=\"photo.png\"] button.file-retry")
        .await?;
    let done = harness
        .wait_for_state("photo.png", "done", UPLOAD_TIMEOUT)
        .await?;
    let object = done.object.clone().context("no object key on the page")?;
    assert!(
        object.contains(&format!("/{BEARER_USER}/")),
        "the object is not in the token's user directory: {object}"
    );

    // The page lists the user's upload, which only the bearer token can see.
    harness
        .wait_for_script(
            "return document.querySelector('#uploads-list li.upload') ? true : null;",
            Duration::from_secs(10),
        )
        .await?;
    assert_eq!(harness.listed_uploads().await?, [object.as_str()]);

    harness.client.refresh().await?;
    harness.wait_for_limits().await?;
    let kept = harness
        .client
        .find(Locator::Css("#auth-token"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(
        kept.as_deref(),
        Some(BEARER_TOKEN),
        "the token was not kept across a reload"
    );
    harness.screenshot("02-uploaded-with-token").await?;

    // A wrong token replaces the user's list with the error.
    let input = harness.client.find(Locator::Css("#auth-token")).await?;
    input.clear().await?;
    input.send_keys("not-a-valid-token-0000").await?;
    harness.click("#auth-save").await?;
    harness
        .wait_for_script(
            "return document.querySelector('#uploads-list li.upload') ? null : true;",
            Duration::from_secs(10),
        )
        .await?;
    assert_eq!(harness.listed_uploads().await?, Vec::<String>::new());
    Ok(())
}

/// Uses a JWT-mode server on a Chinese phone. An expired and a wrongly signed token each get
/// their own message, in Chinese and after a switch in English. A valid token uploads into the
/// user's directory and shows the upload under "My uploads".
async fn jwt_scenario(harness: &mut Harness) -> Result<()> {
    let png = harness.write_file("照片.png", PNG_FIXTURE)?;
    harness.open_page().await?;
    assert_eq!(
        harness
            .attribute("#limits", "data-auth-mode")
            .await?
            .as_deref(),
        Some("jwt")
    );
    let auth = harness.client.find(Locator::Css("#auth")).await?;
    assert!(
        auth.is_displayed().await?,
        "no token field although the server requires a JWT"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let expired = harness
        .sign_jwt(JWT_SECRET, &json!({ "sub": JWT_USER, "exp": now - 3600 }))
        .await?;
    let foreign = harness
        .sign_jwt(
            "another-secret-that-this-server-never-saw",
            &json!({ "sub": JWT_USER, "exp": now + 3600 }),
        )
        .await?;
    let valid = harness
        .sign_jwt(JWT_SECRET, &json!({ "sub": JWT_USER, "exp": now + 3600 }))
        .await?;

    // An expired token.
    harness.save_auth_token(&expired).await?;
    assert_eq!(harness.text("#status").await?, "访问令牌已保存。");
    harness.choose_files(&[&png]).await?;
    let failed = harness
        .wait_for_state("照片.png", "failed", UPLOAD_TIMEOUT)
        .await?;
    assert_eq!(failed.error_code.as_deref(), Some("InvalidToken"));
    assert_eq!(
        failed.message, "访问令牌已过期。请在上方填写有效的访问令牌，然后重试。",
        "{failed:?}"
    );
    harness
        .wait_for_script(
            "const text = document.getElementById('uploads-message').textContent;\
             return text.includes('访问令牌已过期') ? text : null;",
            Duration::from_secs(10),
        )
        .await
        .context("My uploads does not say that the token expired")?;
    harness.screenshot("01-expired-token").await?;

    // A token signed with another secret.
    harness.save_auth_token(&foreign).await?;
    harness
        .click("li.file[data-name=\"照片.png\"] button.file-retry")
        .await?;
    let failed = harness
        .wait_for_state("照片.png", "failed", UPLOAD_TIMEOUT)
        .await?;
    assert_eq!(failed.attempts, 2, "{failed:?}");
    assert_eq!(failed.error_code.as_deref(), Some("InvalidToken"));
    assert_eq!(
        failed.message, "访问令牌无效。请在上方填写有效的访问令牌，然后重试。",
        "{failed:?}"
    );
    assert!(
        failed
            .message_title
            .as_deref()
            .is_some_and(|title| title.contains("InvalidToken: invalid bearer token")),
        "the server's message is not kept as the detail: {failed:?}"
    );
    harness.click("#lang-switch").await?;
    let row = harness
        .file_row("照片.png")
        .await?
        .context("the row vanished")?;
    assert_eq!(
        row.message,
        "The access token was not accepted. Enter a valid access token above, then retry."
    );
    harness.screenshot("02-foreign-token-english").await?;
    harness.click("#lang-switch").await?;

    // A valid token.
    harness.save_auth_token(&valid).await?;
    harness
        .click("li.file[data-name=\"照片.png\"] button.file-retry")
        .await?;
    let done = harness
        .wait_for_state("照片.png", "done", UPLOAD_TIMEOUT)
        .await?;
    assert_eq!(done.state_text, "上传成功");
    let object = done.object.clone().context("no object key on the page")?;
    assert!(
        object.contains(&format!("/{JWT_USER}/")),
        "the object is not in the JWT subject's directory: {object}"
    );
    harness
        .wait_for_script(
            "return document.querySelector('#uploads-list li.upload') ? true : null;",
            Duration::from_secs(10),
        )
        .await
        .context("My uploads does not list the upload")?;
    assert_eq!(harness.listed_uploads().await?, [object.as_str()]);
    assert!(
        harness.text("#uploads-message").await?.is_empty(),
        "an old error is still shown above My uploads"
    );

    // The API lists the upload for the JWT's user.
    harness.dev.bearer = Some(valid);
    let uploads = harness.dev.uploads().await?;
    let record = find_upload(&uploads, &object)?;
    assert_eq!(record.size, PNG_FIXTURE.len() as u64);

    let overflow = harness
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )
        .await?;
    assert_eq!(overflow, json!(0), "the page scrolls sideways on a phone");
    harness.screenshot("03-uploaded-with-jwt").await?;
    Ok(())
}

// -------------------------------------------------------------------------------------------------
// Harness: ossgate dev, chromedriver and a browser session

/// Returns whether Chromium and chromedriver are installed. Without them it
/// prints a notice, or panics when `OSSGATE_REQUIRE_BROWSER=1`.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let notice = format!(
        "browser tests skipped: {} not found (install Debian's chromium and chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var("OSSGATE_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{notice}; OSSGATE_REQUIRE_BROWSER=1 requires them");
    }
    eprintln!("{notice}");
    false
}

#[derive(Clone, Copy, Debug)]
enum Language {
    English,
    Chinese,
}

impl Language {
    fn tag(self) -> &'static str {
        match self {
            Language::English => "en-US",
            Language::Chinese => "zh-CN",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Viewport {
    Desktop,
    /// A 390 px wide phone screen, through Chromium's mobile emulation.
    Phone,
}

struct Harness {
    name: &'static str,
    dev: DevServer,
    driver: ChromeDriver,
    client: Client,
    viewport: Viewport,
    files: TempDir,
    _profile: TempDir,
}

impl Harness {
    async fn start(
        name: &'static str,
        options: DevOptions<'_>,
        language: Language,
        viewport: Viewport,
    ) -> Result<Harness> {
        remove_old_screenshots(name);
        let dev = DevServer::start(options).await?;

        let driver = ChromeDriver::start().await?;
        let profile = tempfile::tempdir()?;
        let capabilities = browser_capabilities(profile.path(), language, viewport);
        // Plain HTTP to chromedriver on the loopback, so no TLS crypto provider is involved.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .context("chromedriver did not start a Chromium session")?;

        let harness = Harness {
            name,
            dev,
            driver,
            client,
            viewport,
            files: tempfile::tempdir()?,
            _profile: profile,
        };
        harness
            .chromium_command(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": CSP_VIOLATION_LISTENER }),
            )
            .await
            .context("installing the CSP violation listener")?;
        Ok(harness)
    }

    /// Checks that the page reported no CSP violation, closes the browser, then fails the test
    /// with the scenario's error and a last screenshot.
    async fn finish(mut self, result: Result<()>) {
        let result = match result {
            Ok(()) => self.check_no_csp_violations().await,
            Err(error) => Err(error),
        };
        if result.is_err() {
            let _ = self.screenshot("failure").await;
        }
        let _ = self.client.clone().close().await;
        self.driver.stop();
        if let Err(error) = result {
            panic!(
                "{} scenario failed: {error:#}\n{}",
                self.name,
                self.dev.log_tail()
            );
        }
    }

    /// Fails with the violations the listener recorded in this tab, if any.
    async fn check_no_csp_violations(&self) -> Result<()> {
        let stored = self
            .client
            .execute(
                "return sessionStorage.getItem(arguments[0]) || '[]';",
                vec![json!(CSP_VIOLATIONS_KEY)],
            )
            .await
            .context("reading the recorded CSP violations")?;
        let violations: Vec<String> =
            serde_json::from_str(stored.as_str().context("session storage holds no text")?)?;
        ensure!(
            violations.is_empty(),
            "the page reported Content-Security-Policy violations:\n{}",
            violations.join("\n")
        );
        Ok(())
    }

    /// Sends a DevTools protocol command to this session's Chromium through chromedriver.
    async fn chromium_command(&self, command: &str, params: Value) -> Result<Value> {
        let session = self
            .client
            .session_id()
            .await?
            .context("the WebDriver session has no id")?;
        let url = format!("{}/session/{session}/goog/cdp/execute", self.driver.url);
        let response = http_client()
            .post(&url)
            .json(&json!({ "cmd": command, "params": params }))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        ensure!(
            status.is_success(),
            "chromedriver rejected {command}: {status} {body}"
        );
        Ok(body["value"].clone())
    }

    /// Returns an HS256 JWT with these claims, signed in the page with WebCrypto.
    async fn sign_jwt(&self, secret: &str, claims: &Value) -> Result<String> {
        const SCRIPT: &str = r#"
            const [secret, claims, done] = arguments;
            const bytes = (text) => new TextEncoder().encode(text);
            const base64url = (data) => btoa(String.fromCharCode(...data))
              .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
            const part = (value) => base64url(bytes(JSON.stringify(value)));
            const input = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
            crypto.subtle
              .importKey("raw", bytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
              .then((key) => crypto.subtle.sign("HMAC", key, bytes(input)))
              .then(
                (signature) => done(`${input}.${base64url(new Uint8Array(signature))}`),
                (error) => done({ error: String(error) }),
              );
        "#;
        let token = self
            .client
            .execute_async(SCRIPT, vec![json!(secret), claims.clone()])
            .await?;
        match token.as_str() {
            Some(token) => Ok(token.to_owned()),
            None => bail!("signing the JWT in the page failed: {token}"),
        }
    }

    /// Replaces the text of the access token field and saves it, as a person would.
    async fn save_auth_token(&self, token: &str) -> Result<()> {
        let input = self.client.find(Locator::Css("#auth-token")).await?;
        input.clear().await?;
        input.send_keys(token).await?;
        self.click("#auth-save").await
    }

    fn write_file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.files.path().join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    async fn open_page(&mut self) -> Result<()> {
        self.client.goto(&self.dev.app_url).await?;
        self.wait_for_limits().await
    }

    async fn wait_for_limits(&self) -> Result<()> {
        let loaded = self
            .client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(
                "#limits[data-loaded=\"true\"], #limits[data-loaded=\"error\"]",
            ))
            .await
            .context("the page did not load /api/limits")?;
        if loaded.attr("data-loaded").await?.as_deref() == Some("error") {
            bail!(
                "the page could not load /api/limits: {}",
                self.text("#limits-list").await?
            );
        }
        Ok(())
    }

    /// Chooses files through the page's file input, as the file picker would.
    async fn choose_files(&self, paths: &[&Path]) -> Result<()> {
        let input = self.client.find(Locator::Css("#file-input")).await?;
        let joined: Vec<String> = paths
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        input.send_keys(&joined.join("\n")).await?;
        Ok(())
    }

    async fn click(&self, selector: &str) -> Result<()> {
        let element = self
            .client
            .find(Locator::Css(selector))
            .await
            .with_context(|| format!("no element {selector}"))?;
        element
            .click()
            .await
            .with_context(|| format!("clicking {selector}"))?;
        Ok(())
    }

    /// Returns the element's trimmed textContent. WebDriver's own text command would
    /// skip the visually hidden live region.
    async fn text(&self, selector: &str) -> Result<String> {
        let text = self
            .client
            .execute(
                "const element = document.querySelector(arguments[0]);\
                 return element ? element.textContent.trim() : null;",
                vec![json!(selector)],
            )
            .await?;
        let text = text
            .as_str()
            .with_context(|| format!("no element {selector}"))?;
        Ok(text.to_owned())
    }

    async fn attribute(&self, selector: &str, name: &str) -> Result<Option<String>> {
        let element = self.client.find(Locator::Css(selector)).await?;
        Ok(element.attr(name).await?)
    }

    async fn script(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Runs `script` every 100 ms until it returns something other than null.
    async fn wait_for_script(&self, script: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.script(script).await?;
            if !value.is_null() {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for: {script}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads the page's row for a file name.
    async fn file_row(&self, name: &str) -> Result<Option<FileRow>> {
        let value = self
            .client
            .execute(READ_FILE_ROW, vec![json!(name)])
            .await
            .context("reading a file row")?;
        Ok(serde_json::from_value(value)?)
    }

    /// Waits until the file's row reaches `state`, and fails early if it ends in another state.
    async fn wait_for_state(&self, name: &str, state: &str, timeout: Duration) -> Result<FileRow> {
        const FINAL_STATES: [&str; 5] = ["done", "unconfirmed", "failed", "rejected", "canceled"];
        let deadline = Instant::now() + timeout;
        loop {
            let row = self.file_row(name).await?;
            if let Some(row) = row {
                if row.state == state {
                    return Ok(row);
                }
                if FINAL_STATES.contains(&row.state.as_str()) {
                    bail!("{name} ended as {} instead of {state}: {row:?}", row.state);
                }
                if Instant::now() > deadline {
                    bail!("timed out after {timeout:?} waiting for {name} to be {state}: {row:?}");
                }
            } else if Instant::now() > deadline {
                bail!("the page shows no row for {name}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Returns the object keys in "My uploads", top to bottom.
    /// Reads the "My uploads" row of `object`, or `None` when it is not listed.
    async fn listed_upload(&self, object: &str) -> Result<Option<ListedUpload>> {
        let row = self
            .client
            .execute(
                "const item = Array.from(document.querySelectorAll('#uploads-list li.upload'))\
                 .find(item => item.dataset.object === arguments[0]);\
                 return item ? { filename: item.dataset.filename,\
                 name: item.querySelector('.upload__name').textContent,\
                 key: item.querySelector('.upload__key').textContent } : null;",
                vec![json!(object)],
            )
            .await?;
        Ok(serde_json::from_value(row)?)
    }

    async fn listed_uploads(&self) -> Result<Vec<String>> {
        let listed = self
            .script(
                "return Array.from(document.querySelectorAll('#uploads-list li.upload'))\
                 .map(item => item.dataset.object);",
            )
            .await?;
        Ok(serde_json::from_value(listed)?)
    }

    /// Drops a file with this name, type and content on the drop zone.
    async fn drop_file(&self, name: &str, content_type: &str, content: &str) -> Result<()> {
        self.dispatch_file_event("drop", name, content_type, content)
            .await
    }

    /// Pastes a file with this name, type and content into the page.
    async fn paste_file(&self, name: &str, content_type: &str, content: &str) -> Result<()> {
        self.dispatch_file_event("paste", name, content_type, content)
            .await
    }

    /// Fires the DOM events of a drop on the drop zone (`event` = "drop") or of a paste
    /// ("paste"), carrying a file built in the page.
    async fn dispatch_file_event(
        &self,
        event: &str,
        name: &str,
        content_type: &str,
        content: &str,
    ) -> Result<()> {
        const SCRIPT: &str = r#"
            const [event, name, type, content] = arguments;
            const transfer = new DataTransfer();
            transfer.items.add(new File([content], name, { type }));
            const init = { bubbles: true, cancelable: true };
            if (event === "drop") {
              const zone = document.getElementById("drop-zone");
              zone.dispatchEvent(new DragEvent("dragenter", { ...init, dataTransfer: transfer }));
              zone.dispatchEvent(new DragEvent("drop", { ...init, dataTransfer: transfer }));
            } else {
              document.dispatchEvent(new ClipboardEvent("paste", { ...init, clipboardData: transfer }));
            }
        "#;
        let args = vec![
            json!(event),
            json!(name),
            json!(content_type),
            json!(content),
        ];
        self.client.execute(SCRIPT, args).await?;
        Ok(())
    }

    /// Limits the browser's upload speed in bytes per second, or lifts the limit.
    async fn throttle_upload(&self, bytes_per_second: Option<u64>) -> Result<()> {
        let session = self
            .client
            .session_id()
            .await?
            .context("the WebDriver session has no id")?;
        let url = format!(
            "{}/session/{session}/chromium/network_conditions",
            self.driver.url
        );
        let http = http_client();
        let response = match bytes_per_second {
            Some(rate) => {
                let conditions = json!({ "network_conditions": {
                    "offline": false,
                    "latency": 0,
                    "download_throughput": 100_000_000,
                    "upload_throughput": rate,
                }});
                http.post(&url).json(&conditions).send().await?
            }
            None => http.delete(&url).send().await?,
        };
        ensure!(
            response.status().is_success(),
            "chromedriver rejected the network conditions: {}",
            response.text().await?
        );
        Ok(())
    }

    /// Saves a screenshot of the whole page as `<test>-<step>.png`.
    async fn screenshot(&mut self, step: &str) -> Result<()> {
        if let Viewport::Desktop = self.viewport {
            // The window is taller than the page's viewport by the browser's own frame.
            let height = self
                .script(
                    "return document.documentElement.scrollHeight \
                     + window.outerHeight - window.innerHeight;",
                )
                .await?;
            let height = height.as_u64().unwrap_or(1000).clamp(600, 6000) as u32;
            self.client.set_window_size(1280, height).await?;
        }
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}-{step}.png", self.name));
        std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// The session storage key under which [`CSP_VIOLATION_LISTENER`] keeps the violations.
const CSP_VIOLATIONS_KEY: &str = "ossgate-test.csp-violations";

/// Runs before each page's own scripts and records every Content-Security-Policy violation as
/// a line of text in session storage, which keeps them across reloads of the tab. The query is
/// cut from a blocked URL, which keeps presigned signatures out of the test output.
const CSP_VIOLATION_LISTENER: &str = r#"
document.addEventListener("securitypolicyviolation", (event) => {
  const key = "ossgate-test.csp-violations";
  const recorded = JSON.parse(sessionStorage.getItem(key) || "[]");
  const blocked = (event.blockedURI || "inline").split("?")[0];
  recorded.push(`${event.effectiveDirective} blocked ${blocked} `
    + `at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
  sessionStorage.setItem(key, JSON.stringify(recorded));
});
"#;

/// Reads the row of a file (by `data-name`) with everything the tests check.
const READ_FILE_ROW: &str = r#"
const row = document.querySelector(`li.file[data-name="${CSS.escape(arguments[0])}"]`);
if (!row) {
  return null;
}
const link = row.querySelector("a.file-link");
const thumbnail = row.querySelector("img.file-thumb");
return {
  state: row.dataset.state,
  phase: row.dataset.phase || null,
  percent: Number(row.querySelector(".file-progress").dataset.percent),
  stateText: row.querySelector(".file-state").textContent,
  message: row.querySelector(".file-message").textContent,
  messageTitle: row.querySelector(".file-message").title || null,
  errorCode: row.dataset.errorCode || null,
  object: row.dataset.object || null,
  attempts: Number(row.dataset.attempts),
  link: link ? link.href : null,
  thumbnail: thumbnail ? thumbnail.src : null,
};
"#;

/// One file's row on the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Every field shows in failure messages through Debug.
struct FileRow {
    state: String,
    phase: Option<String>,
    percent: u32,
    state_text: String,
    message: String,
    message_title: Option<String>,
    error_code: Option<String>,
    object: Option<String>,
    attempts: u32,
    link: Option<String>,
    thumbnail: Option<String>,
}

fn browser_capabilities(
    profile: &Path,
    language: Language,
    viewport: Viewport,
) -> serde_json::Map<String, Value> {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--disable-sync".to_owned(),
        "--no-proxy-server".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        format!("--lang={}", language.tag()),
    ];
    let mut options = json!({
        "binary": CHROMIUM,
        "prefs": { "intl.accept_languages": language.tag() },
    });
    match viewport {
        Viewport::Desktop => args.push("--window-size=1280,1000".to_owned()),
        Viewport::Phone => {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": 390, "height": 1600, "pixelRatio": 1.0, "touch": true },
            });
        }
    }
    options["args"] = json!(args);

    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".to_owned(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    capabilities
}

/// Returns `<target>/browser-screenshots`, with the target directory taken from
/// `CARGO_TARGET_DIR` when absolute, else from the test binary's path
/// (`<target>/<profile>/deps/<binary>`).
fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        if dir.is_absolute() {
            return dir.join("browser-screenshots");
        }
    }
    let exe = std::env::current_exe().expect("the test binary has a path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("browser-screenshots")
}

/// Removes the screenshots an earlier run of this test saved, so none of them is mistaken for
/// this run's.
fn remove_old_screenshots(test: &str) {
    let prefix = format!("{test}-");
    let Ok(entries) = std::fs::read_dir(screenshot_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Builds a client for the local servers that ignores any proxy settings in the environment.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("building the HTTP client failed")
}

/// Returns a free port on 127.0.0.1 for a server that only takes a port number.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Returns `len` bytes from xorshift64, so a wrong or reordered chunk shows as a difference.
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Returns the value of a Prometheus sample, given its name with labels, or 0 when absent.
fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix(series))
        .filter_map(|rest| rest.trim().parse::<f64>().ok())
        .map(|value| value as u64)
        .next()
        .unwrap_or(0)
}

fn find_upload<'a>(uploads: &'a [UploadRecord], object: &str) -> Result<&'a UploadRecord> {
    uploads
        .iter()
        .find(|upload| upload.object == object)
        .ok_or_else(|| anyhow!("/api/uploads does not list {object}: {uploads:?}"))
}

// -------------------------------------------------------------------------------------------------
// ossgate dev

/// What a test changes in `ossgate dev`: flags besides the ones every test passes, environment
/// variables, and the bearer token that the test's own API calls send.
#[derive(Default)]
struct DevOptions<'a> {
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    bearer: Option<&'a str>,
}

/// A running `ossgate dev`, killed on drop.
struct DevServer {
    child: Child,
    app_url: String,
    emulator_url: String,
    bearer: Option<String>,
    log_path: PathBuf,
    _data: TempDir,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadRecord {
    object: String,
    filename: String,
    size: u64,
    mime_type: Option<String>,
    image_width: Option<u64>,
    image_height: Option<u64>,
    url: String,
}

/// A row of "My uploads" as the page shows it.
#[derive(Debug, Deserialize)]
struct ListedUpload {
    /// The row's `data-filename`.
    filename: String,
    /// The text of its name link.
    name: String,
    /// The text of its key line.
    key: String,
}

#[derive(Debug, Deserialize)]
struct EmulatorObject {
    key: String,
}

#[derive(Debug, Deserialize)]
struct EmulatorPost {
    key: Option<String>,
    status: u16,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmulatorCallback {
    outcome: String,
    response_status: Option<u16>,
    response_body: Option<String>,
}

impl DevServer {
    /// Starts `ossgate dev` on free ports and waits for its two address lines.
    async fn start(options: DevOptions<'_>) -> Result<DevServer> {
        let data = tempfile::tempdir()?;
        let log_path = data.path().join("ossgate-dev.log");
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_ossgate"));

        // Settings and credentials from the developer's shell must not change what is tested.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["OSSGATE_", "OSS_", "ALIBABA_CLOUD_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                command.env_remove(name.as_ref());
            }
        }
        let max_size = MAX_SIZE.to_string();
        let mut child = command
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--emulator-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data.path().join("dev"))
            .args(["--content-types", CONTENT_TYPES, "--max-size", &max_size])
            .args(options.args)
            .envs(options.env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting ossgate dev failed")?;
        let stdout = child.stdout.take().expect("stdout is piped");

        // A thread reads stdout for the whole run, so the pipe never fills up.
        let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });

        let mut server = DevServer {
            child,
            app_url: String::new(),
            emulator_url: String::new(),
            bearer: options.bearer.map(str::to_owned),
            log_path,
            _data: data,
        };
        let deadline = Instant::now() + DEV_START_TIMEOUT;
        while server.app_url.is_empty() || server.emulator_url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(left, lines_rx.recv())
                .await
                .ok()
                .flatten()
                .ok_or_else(|| {
                    anyhow!(
                        "ossgate dev printed no address lines within {DEV_START_TIMEOUT:?} \
                         (or exited)\n{}",
                        server.log_tail()
                    )
                })?;
            if let Some(url) = line.strip_prefix("Emulator listening on ") {
                server.emulator_url = url.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("Open ") {
                let url = rest.strip_suffix(" in your browser").unwrap_or(rest);
                server.app_url = url.trim().to_owned();
            }
        }
        Ok(server)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("last lines of the ossgate dev log:\n{tail}")
    }

    fn app(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.app_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    fn emulator(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.emulator_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    async fn get_json(&self, url: &str) -> Result<Value> {
        let mut request = http_client().get(url);
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        ensure!(status.is_success(), "GET {url} returned {status}: {body}");
        serde_json::from_str(&body)
            .with_context(|| format!("GET {url} returned invalid JSON: {body}"))
    }

    async fn uploads(&self) -> Result<Vec<UploadRecord>> {
        let body = self.get_json(&self.app("/api/uploads?limit=100")).await?;
        Ok(serde_json::from_value(body["uploads"].clone())?)
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>> {
        let response = http_client().get(url).send().await?;
        let status = response.status();
        ensure!(
            status.is_success(),
            "GET {url} returned {status}: {}",
            response.text().await?
        );
        Ok(response.bytes().await?.to_vec())
    }

    async fn metrics(&self) -> Result<String> {
        let response = http_client().get(self.app("/metrics")).send().await?;
        ensure!(
            response.status().is_success(),
            "GET /metrics returned {}",
            response.status()
        );
        Ok(response.text().await?)
    }

    async fn emulator_objects(&self) -> Result<Vec<EmulatorObject>> {
        let body = self.get_json(&self.emulator("/_emulator/objects")).await?;
        Ok(serde_json::from_value(body["objects"].clone())?)
    }

    async fn emulator_posts(&self) -> Result<Vec<EmulatorPost>> {
        let body = self.get_json(&self.emulator("/_emulator/posts")).await?;
        Ok(serde_json::from_value(body["posts"].clone())?)
    }

    async fn emulator_callbacks(&self) -> Result<Vec<EmulatorCallback>> {
        let body = self
            .get_json(&self.emulator("/_emulator/callbacks"))
            .await?;
        Ok(serde_json::from_value(body["callbacks"].clone())?)
    }

    async fn set_faults(&self, faults: &Value) -> Result<()> {
        let url = self.emulator("/_emulator/faults");
        let response = http_client().post(&url).json(faults).send().await?;
        ensure!(
            response.status().is_success(),
            "POST {url} returned {}",
            response.status()
        );
        Ok(())
    }

    async fn clear_faults(&self) -> Result<()> {
        let url = self.emulator("/_emulator/faults");
        let response = http_client().delete(&url).send().await?;
        ensure!(
            response.status().is_success(),
            "DELETE {url} returned {}",
            response.status()
        );
        Ok(())
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// -------------------------------------------------------------------------------------------------
// chromedriver

/// A running chromedriver on a free port, stopped on drop.
struct ChromeDriver {
    child: Child,
    port: u16,
    url: String,
}

impl ChromeDriver {
    async fn start() -> Result<ChromeDriver> {
        let port = free_port()?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver failed")?;
        let driver = ChromeDriver {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };

        let status_url = format!("{}/status", driver.url);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = http_client().get(&status_url).send().await {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return Ok(driver);
                }
            }
            ensure!(
                Instant::now() < deadline,
                "chromedriver on port {port} did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks chromedriver to quit its browsers and exit, then makes sure it has.
    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // GET /shutdown closes every session's Chromium before chromedriver exits, whereas a
        // plain kill would leave the browser running.
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.stop();
    }
}
