//! Callback body rendering: OSS's documented form body, JSON bodies, and the
//! encoding of each kind of value.

use ossgate_protocol::callback::{
    render_body, CallbackBodyType, CustomVars, ImageInfo, RenderContext,
};

/// The template behind OSS's documented callback body.
const DOC_TEMPLATE: &str = "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&mimeType=${mimeType}&imageInfo.height=${imageInfo.height}&imageInfo.width=${imageInfo.width}&imageInfo.format=${imageInfo.format}&x:var1=${x:var1}";

/// The body OSS's documentation shows for that template.
const DOC_BODY: &str = "bucket=callback-test&object=test.txt&etag=D8E8FCA2DC0F896FD7CB4CB0031BA249&size=5&mimeType=text%2Fplain&imageInfo.height=&imageInfo.width=&imageInfo.format=&x:var1=for-callback-test";

fn doc_context() -> RenderContext {
    let mut vars = CustomVars::new();
    vars.insert("x:var1", "for-callback-test").unwrap();
    RenderContext {
        bucket: "callback-test".to_owned(),
        object: "test.txt".to_owned(),
        etag: "D8E8FCA2DC0F896FD7CB4CB0031BA249".to_owned(),
        size: 5,
        mime_type: "text/plain".to_owned(),
        vars,
        ..RenderContext::default()
    }
}

fn image_context() -> RenderContext {
    RenderContext {
        bucket: "examplebucket".to_owned(),
        object: "user-dir/上传 a+b.png".to_owned(),
        etag: "D41D8CD98F00B204E9800998ECF8427E".to_owned(),
        size: 1024,
        mime_type: "image/png".to_owned(),
        image: Some(ImageInfo {
            width: 640,
            height: 480,
            format: "png".to_owned(),
        }),
        crc64: "18446744073709551615".to_owned(),
        content_md5: "1B2M2Y8AsgTpgAmY7PhCfg==".to_owned(),
        client_ip: "192.0.2.7".to_owned(),
        req_id: "5C1B138A109F4E405B2D".to_owned(),
        operation: "PostObject".to_owned(),
        ..RenderContext::default()
    }
}

#[test]
fn form_body_matches_doc_example() {
    assert_eq!(
        render_body(DOC_TEMPLATE, CallbackBodyType::Form, &doc_context()),
        DOC_BODY
    );
}

#[test]
fn form_values_are_percent_encoded() {
    let body = render_body("o=${object}", CallbackBodyType::Form, &image_context());
    assert_eq!(body, "o=user-dir%2F%E4%B8%8A%E4%BC%A0%20a%2Bb.png");
}

#[test]
fn form_encoding_keeps_unreserved_characters() {
    let mut context = RenderContext::default();
    context.vars.insert("x:v", "aZ09-_.~:/?&= ").unwrap();
    let body = render_body("v=${x:v}", CallbackBodyType::Form, &context);
    assert_eq!(body, "v=aZ09-_.~%3A%2F%3F%26%3D%20");
}

#[test]
fn form_image_info_of_image_is_filled() {
    let body = render_body(
        "h=${imageInfo.height}&w=${imageInfo.width}&f=${imageInfo.format}",
        CallbackBodyType::Form,
        &image_context(),
    );
    assert_eq!(body, "h=480&w=640&f=png");
}

#[test]
fn form_newer_system_variables_are_filled() {
    let body = render_body(
        "crc=${crc64}&md5=${contentMd5}&ip=${clientIp}&id=${reqId}&op=${operation}",
        CallbackBodyType::Form,
        &image_context(),
    );
    assert_eq!(
        body,
        "crc=18446744073709551615&md5=1B2M2Y8AsgTpgAmY7PhCfg%3D%3D&ip=192.0.2.7&id=5C1B138A109F4E405B2D&op=PostObject"
    );
}

#[test]
fn unknown_variables_are_empty() {
    let body = render_body(
        "a=${vpcId}&b=${Bucket}&c=${x:absent}&d=${}",
        CallbackBodyType::Form,
        &doc_context(),
    );
    assert_eq!(body, "a=&b=&c=&d=");
}

#[test]
fn unclosed_placeholder_is_copied() {
    let body = render_body(
        "b=${bucket}&o=${object",
        CallbackBodyType::Form,
        &doc_context(),
    );
    assert_eq!(body, "b=callback-test&o=${object");
}

#[test]
fn text_without_placeholders_is_copied() {
    let body = render_body("a=$b&c={d}&e=$", CallbackBodyType::Form, &doc_context());
    assert_eq!(body, "a=$b&c={d}&e=$");
}

#[test]
fn json_body_quotes_strings_and_keeps_numbers_bare() {
    let template = r#"{"bucket":${bucket},"object":${object},"etag":${etag},"size":${size},"mimeType":${mimeType},"height":${imageInfo.height},"width":${imageInfo.width},"format":${imageInfo.format}}"#;
    let body = render_body(template, CallbackBodyType::Json, &image_context());
    assert_eq!(
        body,
        r#"{"bucket":"examplebucket","object":"user-dir/上传 a+b.png","etag":"D41D8CD98F00B204E9800998ECF8427E","size":1024,"mimeType":"image/png","height":480,"width":640,"format":"png"}"#
    );
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
}

#[test]
fn json_body_inside_string_literal_is_raw() {
    let template = r#"{"dimensions":"${imageInfo.width},${imageInfo.height}","size":"${size}"}"#;
    let body = render_body(template, CallbackBodyType::Json, &image_context());
    assert_eq!(body, r#"{"dimensions":"640,480","size":"1024"}"#);
}

#[test]
fn json_body_inside_string_literal_escapes_text() {
    let mut context = RenderContext::default();
    context.vars.insert("x:q", "say \"hi\"\\").unwrap();
    let body = render_body(r#"{"q":"<${x:q}>"}"#, CallbackBodyType::Json, &context);
    assert_eq!(body, r#"{"q":"<say \"hi\"\\>"}"#);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
}

#[test]
fn json_body_escaped_quote_keeps_string_state() {
    // The `\"` inside the literal does not end it, so `${size}` stays raw.
    let body = render_body(
        r#"{"a":"x\"${size}"}"#,
        CallbackBodyType::Json,
        &image_context(),
    );
    assert_eq!(body, r#"{"a":"x\"1024"}"#);
}

#[test]
fn json_body_missing_image_info_is_empty_string() {
    let template = r#"{"h":${imageInfo.height},"w":${imageInfo.width},"f":${imageInfo.format},"in":"${imageInfo.width}"}"#;
    let body = render_body(template, CallbackBodyType::Json, &doc_context());
    assert_eq!(body, r#"{"h":"","w":"","f":"","in":""}"#);
}

#[test]
fn json_body_custom_vars_are_quoted() {
    let body = render_body(
        r#"{"var1":${x:var1},"none":${x:none}}"#,
        CallbackBodyType::Json,
        &doc_context(),
    );
    assert_eq!(body, r#"{"var1":"for-callback-test","none":""}"#);
}

#[test]
fn json_body_crc64_is_quoted() {
    let body = render_body(
        r#"{"crc64":${crc64}}"#,
        CallbackBodyType::Json,
        &image_context(),
    );
    assert_eq!(body, r#"{"crc64":"18446744073709551615"}"#);
}

#[test]
fn json_body_values_are_not_url_encoded() {
    let body = render_body(
        r#"{"m":${mimeType}}"#,
        CallbackBodyType::Json,
        &doc_context(),
    );
    assert_eq!(body, r#"{"m":"text/plain"}"#);
}
