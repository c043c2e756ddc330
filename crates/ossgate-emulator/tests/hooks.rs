//! The JSON test hooks under `/_emulator/`, and turning them off.

mod common;

use common::*;
use ossgate_protocol::form::SignatureVersion;

#[tokio::test]
async fn objects_hook_lists_every_bucket() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    assert_eq!(
        emulator
            .post("photos", &fields, FilePart::text("abc"))
            .await
            .status(),
        204
    );
    let fields = signed_fields("b.txt", policy(vec![]), SignatureVersion::V1);
    assert_eq!(
        emulator
            .post("open", &fields, FilePart::text("defg"))
            .await
            .status(),
        204
    );

    let listing: serde_json::Value = emulator
        .client
        .get(format!("{}/_emulator/objects", emulator.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let objects = listing["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["bucket"], "photos");
    assert_eq!(objects[0]["key"], "a.txt");
    assert_eq!(objects[0]["size"], 3);
    assert_eq!(objects[0]["etag"], "\"900150983CD24FB0D6963F7D28E17F72\"");
    assert_eq!(objects[1]["bucket"], "open");
    assert_eq!(objects[1]["key"], "b.txt");
}

#[tokio::test]
async fn objects_hook_rejects_unknown_bucket() {
    let emulator = TestEmulator::start().await;

    let response = emulator
        .client
        .get(format!(
            "{}/_emulator/objects?bucket=nothere",
            emulator.base_url
        ))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("\"nothere\""));
}

#[tokio::test]
async fn faults_merge_and_clear() {
    let emulator = TestEmulator::start().await;
    let url = format!("{}/_emulator/faults", emulator.base_url);

    emulator
        .set_faults(serde_json::json!({ "callback_delay_ms": 250 }))
        .await;
    emulator
        .set_faults(serde_json::json!({ "clock_offset_secs": -30 }))
        .await;
    let faults: serde_json::Value = emulator
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        faults,
        serde_json::json!({ "clock_offset_secs": -30, "callback_delay_ms": 250, "fail_storage_writes": false })
    );

    let rejected = emulator
        .client
        .post(&url)
        .json(&serde_json::json!({ "clock_skew": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422);

    let cleared: serde_json::Value = emulator
        .client
        .delete(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        cleared,
        serde_json::json!({ "clock_offset_secs": 0, "callback_delay_ms": 0, "fail_storage_writes": false })
    );
}

#[tokio::test]
async fn records_can_be_cleared() {
    let emulator = TestEmulator::start().await;
    let fields = signed_fields("a.txt", policy(vec![]), SignatureVersion::V1);
    emulator.post("photos", &fields, FilePart::text("x")).await;
    let url = format!("{}/_emulator/posts", emulator.base_url);

    assert_eq!(
        emulator.client.delete(&url).send().await.unwrap().status(),
        204
    );

    let posts: serde_json::Value = emulator
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(posts["posts"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn disabled_hooks_are_not_served() {
    let emulator = TestEmulator::start_with(|config| config.test_hooks = false).await;

    let response = emulator
        .client
        .get(format!("{}/_emulator/posts", emulator.base_url))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(error_body(response).await.code, "NoSuchBucket");
}

#[tokio::test]
async fn public_key_is_served_as_pem() {
    let emulator = TestEmulator::start().await;

    let response = emulator
        .client
        .get(ossgate_emulator::Emulator::key_url(&emulator.base_url))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let pem = response.text().await.unwrap();
    assert_eq!(pem, emulator.emulator.callback_public_key_pem());
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
}
