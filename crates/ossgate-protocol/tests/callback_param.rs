//! The `callback` and `callback-var` values: encoding, decoding of the values
//! Alibaba's samples and SDKs emit, and OSS's `InvalidArgument` messages.

use base64::Engine as _;
use ossgate_protocol::callback::{
    CallbackBodyType, CallbackParam, CallbackParamError, CustomVars, MAX_CALLBACK_PARAM_BYTES,
};
use serde_json::Value;

const POLICY_VECTORS: &str = include_str!("vectors/post_policy_vectors.json");

/// The callback of the official Go sample, as Go's `encoding/json` writes it
/// (`&` as `\u0026`).
const GO_CALLBACK: &str = "eyJjYWxsYmFja1VybCI6Imh0dHA6Ly84OC44OC44OC44ODo4ODg4IiwiY2FsbGJhY2tCb2R5IjoiZmlsZW5hbWU9JHtvYmplY3R9XHUwMDI2c2l6ZT0ke3NpemV9XHUwMDI2bWltZVR5cGU9JHttaW1lVHlwZX1cdTAwMjZoZWlnaHQ9JHtpbWFnZUluZm8uaGVpZ2h0fVx1MDAyNndpZHRoPSR7aW1hZ2VJbmZvLndpZHRofSIsImNhbGxiYWNrQm9keVR5cGUiOiJhcHBsaWNhdGlvbi94LXd3dy1mb3JtLXVybGVuY29kZWQifQ==";

/// The same callback with a plain `&`, as serde_json writes it.
const PLAIN_CALLBACK: &str = "eyJjYWxsYmFja1VybCI6Imh0dHA6Ly84OC44OC44OC44ODo4ODg4IiwiY2FsbGJhY2tCb2R5IjoiZmlsZW5hbWU9JHtvYmplY3R9JnNpemU9JHtzaXplfSZtaW1lVHlwZT0ke21pbWVUeXBlfSZoZWlnaHQ9JHtpbWFnZUluZm8uaGVpZ2h0fSZ3aWR0aD0ke2ltYWdlSW5mby53aWR0aH0iLCJjYWxsYmFja0JvZHlUeXBlIjoiYXBwbGljYXRpb24veC13d3ctZm9ybS11cmxlbmNvZGVkIn0=";

const GO_SAMPLE_BODY: &str =
    "filename=${object}&size=${size}&mimeType=${mimeType}&height=${imageInfo.height}&width=${imageInfo.width}";

fn go_sample_param() -> CallbackParam {
    let mut param = CallbackParam::new("http://88.88.88.88:8888", GO_SAMPLE_BODY);
    param.body_type = Some(CallbackBodyType::Form);
    param
}

fn ali_oss_vector() -> Value {
    let vectors: Value = serde_json::from_str(POLICY_VECTORS).unwrap();
    vectors["callback_param_encoding_ali-oss"].clone()
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn from_json_text(json: &str) -> Result<CallbackParam, CallbackParamError> {
    CallbackParam::from_json(json.as_bytes())
}

#[test]
fn go_escaped_callback_decodes() {
    assert_eq!(
        CallbackParam::from_base64(GO_CALLBACK),
        Ok(go_sample_param())
    );
}

#[test]
fn plain_callback_decodes() {
    assert_eq!(
        CallbackParam::from_base64(PLAIN_CALLBACK),
        Ok(go_sample_param())
    );
}

#[test]
fn go_and_plain_callbacks_decode_equal() {
    assert_eq!(
        CallbackParam::from_base64(GO_CALLBACK).unwrap(),
        CallbackParam::from_base64(PLAIN_CALLBACK).unwrap()
    );
}

#[test]
fn to_base64_matches_plain_vector() {
    assert_eq!(go_sample_param().to_base64(), PLAIN_CALLBACK);
}

#[test]
fn to_json_keeps_body_verbatim() {
    let json = go_sample_param().to_json();
    assert!(
        json.contains(&format!("\"callbackBody\":\"{GO_SAMPLE_BODY}\"")),
        "{json}"
    );
}

#[test]
fn to_json_writes_documented_key_order() {
    let mut param = CallbackParam::new("https://a.example/cb", "b=${bucket}");
    param.host = Some("a.example".to_owned());
    param.sni = Some(true);
    param.body_type = Some(CallbackBodyType::Json);
    assert_eq!(
        param.to_json(),
        r#"{"callbackUrl":"https://a.example/cb","callbackHost":"a.example","callbackBody":"b=${bucket}","callbackSNI":true,"callbackBodyType":"application/json"}"#
    );
}

#[test]
fn to_json_omits_absent_fields() {
    let param = CallbackParam::new("https://a.example/cb", "b=${bucket}");
    assert_eq!(
        param.to_json(),
        r#"{"callbackUrl":"https://a.example/cb","callbackBody":"b=${bucket}"}"#
    );
}

#[test]
fn to_json_joins_urls_with_semicolon() {
    let mut param = CallbackParam::new("https://a.example/cb", "b=${bucket}");
    param.urls.push("http://b.example:8080/cb?x=1".to_owned());
    let decoded = CallbackParam::from_base64(&param.to_base64()).unwrap();
    assert_eq!(decoded, param);
    assert!(param
        .to_json()
        .contains(r#""callbackUrl":"https://a.example/cb;http://b.example:8080/cb?x=1""#));
}

#[test]
fn round_trip_keeps_every_field() {
    let mut param = CallbackParam::new("https://a.example/cb", r#"{"o":${object}}"#);
    param.host = Some("a.example:8443".to_owned());
    param.sni = Some(false);
    param.body_type = Some(CallbackBodyType::Json);
    assert_eq!(CallbackParam::from_base64(&param.to_base64()), Ok(param));
}

#[test]
fn ali_oss_callback_decodes() {
    let vector = ali_oss_vector();
    let param = CallbackParam::from_base64(vector["x-oss-callback"].as_str().unwrap()).unwrap();
    assert_eq!(
        param.urls,
        ["https://app.example.com/oss/callback?from=%E4%B8%8A%E4%BC%A0"]
    );
    assert_eq!(param.host.as_deref(), Some("app.example.com"));
    assert_eq!(
        param.body,
        "bucket=${bucket}&object=${object}&size=${size}&mimeType=${mimeType}&uid=${x:uid}"
    );
    assert_eq!(param.body_type, Some(CallbackBodyType::Form));
    assert_eq!(param.sni, None);
}

#[test]
fn ali_oss_decoded_json_parses_equal() {
    let vector = ali_oss_vector();
    let from_base64 =
        CallbackParam::from_base64(vector["x-oss-callback"].as_str().unwrap()).unwrap();
    let from_json = from_json_text(vector["x-oss-callback_decoded"].as_str().unwrap()).unwrap();
    assert_eq!(from_base64, from_json);
}

#[test]
fn ali_oss_callback_var_decodes() {
    let vector = ali_oss_vector();
    let vars = CustomVars::from_base64(vector["x-oss-callback-var"].as_str().unwrap()).unwrap();
    assert_eq!(vars.get("x:uid"), Some("42"));
    assert_eq!(vars.len(), 1);
}

#[test]
fn callback_var_encodes_as_ali_oss() {
    let mut vars = CustomVars::new();
    vars.insert("x:uid", "42").unwrap();
    assert_eq!(vars.to_base64(), "eyJ4OnVpZCI6IjQyIn0=");
    assert_eq!(
        vars.to_base64(),
        ali_oss_vector()["x-oss-callback-var"].as_str().unwrap()
    );
}

#[test]
fn callback_var_doc_value_round_trips() {
    let encoded = "eyJ4Om15X3ZhciI6ImZvci1jYWxsYmFjay10ZXN0In0=";
    let vars = CustomVars::from_base64(encoded).unwrap();
    assert_eq!(vars.get("x:my_var"), Some("for-callback-test"));
    assert_eq!(vars.to_base64(), encoded);
}

#[test]
fn callback_var_keeps_key_order() {
    let encoded = base64(r#"{"x:b":"2","x:a":"1","x:c":"3"}"#);
    let vars = CustomVars::from_base64(&encoded).unwrap();
    let names: Vec<&str> = vars.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["x:b", "x:a", "x:c"]);
    assert_eq!(vars.to_base64(), encoded);
}

#[test]
fn callback_var_escapes_values() {
    let mut vars = CustomVars::new();
    vars.insert("x:q", "a\"b\\c&上传").unwrap();
    assert_eq!(vars.to_json(), r#"{"x:q":"a\"b\\c&上传"}"#);
    assert_eq!(CustomVars::from_base64(&vars.to_base64()), Ok(vars));
}

#[test]
fn custom_var_uppercase_name_is_rejected() {
    let mut vars = CustomVars::new();
    assert_eq!(
        vars.insert("x:Uid", "42"),
        Err(CallbackParamError::InvalidVarName("x:Uid".to_owned()))
    );
    assert_eq!(
        vars.insert("X:uid", "42"),
        Err(CallbackParamError::InvalidVarName("X:uid".to_owned()))
    );
    assert!(vars.is_empty());
}

#[test]
fn custom_var_without_prefix_is_rejected() {
    let mut vars = CustomVars::new();
    for name in ["uid", "x_uid", "x:", ":uid", ""] {
        assert_eq!(
            vars.insert(name, "42"),
            Err(CallbackParamError::InvalidVarName(name.to_owned())),
            "{name:?}"
        );
    }
}

#[test]
fn custom_var_insert_replaces_value() {
    let mut vars = CustomVars::new();
    vars.insert("x:a", "1").unwrap();
    vars.insert("x:b", "2").unwrap();
    vars.insert("x:a", "3").unwrap();
    let entries: Vec<(&str, &str)> = vars.iter().collect();
    assert_eq!(entries, [("x:a", "3"), ("x:b", "2")]);
}

#[test]
fn callback_var_bad_name_is_rejected() {
    let encoded = base64(r#"{"x:ok":"1","uid":"2"}"#);
    assert_eq!(
        CustomVars::from_base64(&encoded),
        Err(CallbackParamError::InvalidVarName("uid".to_owned()))
    );
}

#[test]
fn callback_var_number_value_is_rejected() {
    let encoded = base64(r#"{"x:n":1}"#);
    assert_eq!(
        CustomVars::from_base64(&encoded),
        Err(CallbackParamError::InvalidVarValue("x:n".to_owned()))
    );
}

#[test]
fn callback_var_not_base64_is_rejected() {
    assert_eq!(
        CustomVars::from_base64("not base64!"),
        Err(CallbackParamError::VarNotBase64)
    );
}

#[test]
fn callback_var_not_json_is_rejected() {
    assert_eq!(
        CustomVars::from_base64(&base64("x:uid=42")),
        Err(CallbackParamError::VarNotJson)
    );
    assert_eq!(
        CustomVars::from_base64(&base64(r#"["x:uid"]"#)),
        Err(CallbackParamError::VarNotJson)
    );
}

#[test]
fn callback_var_over_5_kb_is_rejected() {
    let json = format!(r#"{{"x:big":"{}"}}"#, "a".repeat(MAX_CALLBACK_PARAM_BYTES));
    assert_eq!(
        CustomVars::from_base64(&base64(&json)),
        Err(CallbackParamError::VarTooLarge)
    );
}

#[test]
fn callback_not_base64_is_rejected() {
    let error = CallbackParam::from_base64("eyJj*").unwrap_err();
    assert_eq!(error, CallbackParamError::NotBase64);
    assert_eq!(
        error.to_string(),
        "The callback configuration is not base64 encoded."
    );
}

#[test]
fn callback_not_json_is_rejected() {
    let error = CallbackParam::from_base64(&base64("callbackUrl=http://a/")).unwrap_err();
    assert_eq!(error, CallbackParamError::NotJson);
    assert_eq!(
        error.to_string(),
        "The callback configuration is not json format."
    );
}

#[test]
fn callback_json_array_is_rejected() {
    assert_eq!(
        from_json_text(r#"["http://a.example/"]"#),
        Err(CallbackParamError::NotJson)
    );
}

#[test]
fn callback_over_5_kb_is_rejected() {
    let json = format!(
        r#"{{"callbackUrl":"http://a.example/","callbackBody":"{}"}}"#,
        "a".repeat(MAX_CALLBACK_PARAM_BYTES)
    );
    assert_eq!(from_json_text(&json), Err(CallbackParamError::TooLarge));
    assert_eq!(
        CallbackParam::from_base64(&base64(&json)),
        Err(CallbackParamError::TooLarge)
    );
}

#[test]
fn callback_at_5_kb_is_accepted() {
    let prefix = r#"{"callbackUrl":"http://a.example/","callbackBody":""#;
    let padding = MAX_CALLBACK_PARAM_BYTES - prefix.len() - 2;
    let json = format!("{prefix}{}\"}}", "a".repeat(padding));
    assert_eq!(json.len(), MAX_CALLBACK_PARAM_BYTES);
    assert!(from_json_text(&json).is_ok());
}

#[test]
fn callback_with_five_urls_is_accepted() {
    let urls = ["http://a.example/cb"; 5].join(";");
    let json = format!(r#"{{"callbackUrl":"{urls}","callbackBody":"b"}}"#);
    assert_eq!(from_json_text(&json).unwrap().urls.len(), 5);
}

#[test]
fn callback_with_six_urls_is_rejected() {
    let urls = ["http://a.example/cb"; 6].join(";");
    let json = format!(r#"{{"callbackUrl":"{urls}","callbackBody":"b"}}"#);
    let error = from_json_text(&json).unwrap_err();
    assert_eq!(error, CallbackParamError::TooManyUrls);
    assert_eq!(
        error.to_string(),
        "The number of callback url exceed max value."
    );
}

#[test]
fn callback_invalid_urls_are_rejected() {
    let invalid = [
        "",
        "a.example/cb",
        "/cb",
        "ftp://a.example/cb",
        "file:///etc/passwd",
        "http://",
        "http:///cb",
        "http://a.example:99999/cb",
        "http://a.example:port/cb",
        "http://a.example:0/cb",
        "http://[::1]:8080/cb",
        "http://[2001:db8::1]/cb",
        "http://a.example/上传",
        "http://a.example/a b",
        "http://a.example/cb;",
        "http:\\\\a.example\\cb",
        "http://@/cb",
    ];
    for url in invalid {
        let json = serde_json::json!({"callbackUrl": url, "callbackBody": "b"}).to_string();
        assert_eq!(
            from_json_text(&json),
            Err(CallbackParamError::InvalidUrl),
            "{url:?}"
        );
    }
}

#[test]
fn callback_valid_urls_are_accepted() {
    let valid = [
        "http://88.88.88.88:8888",
        "https://app.example.com/oss/callback?from=%E4%B8%8A%E4%BC%A0",
        "http://192.0.2.0:8888/cb",
        "HTTPS://App.Example.com/cb",
        "http://localhost:65535/",
    ];
    for url in valid {
        let json = serde_json::json!({"callbackUrl": url, "callbackBody": "b"}).to_string();
        let param = from_json_text(&json).unwrap_or_else(|error| panic!("{url:?}: {error}"));
        assert_eq!(param.urls, [url]);
    }
}

#[test]
fn callback_missing_url_is_rejected() {
    assert_eq!(
        from_json_text(r#"{"callbackBody":"b"}"#),
        Err(CallbackParamError::InvalidUrl)
    );
    assert_eq!(
        from_json_text(r#"{"callbackUrl":7,"callbackBody":"b"}"#),
        Err(CallbackParamError::InvalidUrl)
    );
}

#[test]
fn callback_missing_body_is_rejected() {
    assert_eq!(
        from_json_text(r#"{"callbackUrl":"http://a.example/"}"#),
        Err(CallbackParamError::InvalidBody)
    );
}

#[test]
fn callback_empty_body_is_rejected() {
    assert_eq!(
        from_json_text(r#"{"callbackUrl":"http://a.example/","callbackBody":""}"#),
        Err(CallbackParamError::InvalidBody)
    );
}

#[test]
fn callback_json_body_type_is_accepted() {
    let param = from_json_text(
        r#"{"callbackUrl":"http://a.example/","callbackBody":"{}","callbackBodyType":"application/json"}"#,
    )
    .unwrap();
    assert_eq!(param.body_type, Some(CallbackBodyType::Json));
    assert_eq!(param.effective_body_type(), CallbackBodyType::Json);
}

#[test]
fn callback_absent_body_type_means_form() {
    let param =
        from_json_text(r#"{"callbackUrl":"http://a.example/","callbackBody":"b"}"#).unwrap();
    assert_eq!(param.body_type, None);
    assert_eq!(param.effective_body_type(), CallbackBodyType::Form);
}

#[test]
fn callback_other_body_types_are_rejected() {
    for body_type in [
        r#""text/plain""#,
        r#""application/json; charset=utf-8""#,
        r#""json""#,
        r#""""#,
        "1",
    ] {
        let json = format!(
            r#"{{"callbackUrl":"http://a.example/","callbackBody":"b","callbackBodyType":{body_type}}}"#
        );
        let error = from_json_text(&json).unwrap_err();
        assert_eq!(error, CallbackParamError::InvalidBodyType, "{body_type}");
        assert_eq!(
            error.to_string(),
            "The callback body type configuration is invalid."
        );
    }
}

#[test]
fn callback_sni_must_be_boolean() {
    let accepted = r#"{"callbackUrl":"http://a.example/","callbackBody":"b","callbackSNI":true}"#;
    assert_eq!(from_json_text(accepted).unwrap().sni, Some(true));

    let rejected = r#"{"callbackUrl":"http://a.example/","callbackBody":"b","callbackSNI":"true"}"#;
    assert_eq!(
        from_json_text(rejected),
        Err(CallbackParamError::InvalidSni)
    );
}

#[test]
fn callback_host_is_validated() {
    let json = |host: &str| {
        serde_json::json!({"callbackUrl": "http://a.example/", "callbackBody": "b", "callbackHost": host})
            .to_string()
    };
    assert_eq!(
        from_json_text(&json("cb.example:8080"))
            .unwrap()
            .host
            .as_deref(),
        Some("cb.example:8080")
    );
    assert_eq!(from_json_text(&json("")).unwrap().host, None);
    for host in ["a b", "a/b", "user@a", "a\r\nX-Evil: 1"] {
        assert_eq!(
            from_json_text(&json(host)),
            Err(CallbackParamError::InvalidHost),
            "{host:?}"
        );
    }
}

#[test]
fn callback_unknown_keys_are_ignored() {
    let param = from_json_text(
        r#"{"callbackUrl":"http://a.example/","callbackBody":"b","callbackFoo":"x"}"#,
    )
    .unwrap();
    assert_eq!(param, CallbackParam::new("http://a.example/", "b"));
}

#[test]
fn callback_base64_without_padding_decodes() {
    let trimmed = PLAIN_CALLBACK.trim_end_matches('=');
    assert_eq!(CallbackParam::from_base64(trimmed), Ok(go_sample_param()));
}
