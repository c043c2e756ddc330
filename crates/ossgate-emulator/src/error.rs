//! The two error types of the crate.
//!
//! [`EmulatorError`] is for starting up (configuration, data directory, the
//! callback key). [`OssError`] is what a request handler returns: an OSS error
//! code, HTTP status, message and optional `EC` detail code. It becomes an HTTP
//! response in exactly one place, [`OssError::into_response`], which writes
//! OSS's XML error body.

use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use crate::xml::XmlWriter;

/// A failure to start the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid callback key in {path}: {reason}")]
    CallbackKey { path: PathBuf, reason: String },
}

/// An error returned to an OSS client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OssError {
    pub status: StatusCode,
    /// OSS's error code, e.g. `AccessDenied`.
    pub code: &'static str,
    /// OSS's message text.
    pub message: String,
    /// OSS's error-detail code (`EC`), e.g. `0006-00000213`, where one is known.
    pub ec: Option<&'static str>,
    /// Extra elements OSS adds for some errors, e.g. `OSSAccessKeyId`.
    pub details: Vec<(&'static str, String)>,
    /// Extra response headers, e.g. `Connection: close` after a cut-off upload.
    pub close_connection: bool,
}

impl OssError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            ec: None,
            details: Vec::new(),
            close_connection: false,
        }
    }

    pub fn with_ec(mut self, ec: &'static str) -> Self {
        self.ec = Some(ec);
        self
    }

    pub fn with_detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// Asks the server to close the connection after this response, for errors
    /// sent before the request body was read to its end.
    pub fn closing(mut self) -> Self {
        self.close_connection = true;
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    pub fn bucket_acl_denied() -> Self {
        Self::access_denied("You have no right to access this object because of bucket acl.")
    }

    pub fn malformed_post() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
        )
    }

    pub fn invalid_access_key_id(access_key_id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .with_detail("OSSAccessKeyId", access_key_id)
    }

    pub fn signature_does_not_match(access_key_id: &str, string_to_sign: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        )
        .with_detail("OSSAccessKeyId", access_key_id)
        .with_detail("StringToSign", string_to_sign)
    }

    pub fn entity_too_large() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size.",
        )
    }

    pub fn entity_too_small() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooSmall",
            "Your proposed upload smaller than the minimum allowed size.",
        )
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        )
        .with_detail("BucketName", bucket)
        .with_ec("0015-00000101")
    }

    pub fn no_such_key() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with_ec("0026-00000001")
    }

    pub fn file_already_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "FileAlreadyExists",
            "The object you specified already exists and can not be overwritten.",
        )
    }

    pub fn invalid_object_name(reason: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidObjectName",
            format!("The specified object is not valid: {reason}"),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("{what} is not implemented by the ossgate emulator."),
        )
    }

    /// Logs an internal failure and returns OSS's generic `InternalError`,
    /// so the client never sees the detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// Renders the XML body OSS sends for errors.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut xml = XmlWriter::new();
        xml.open("Error");
        xml.element("Code", self.code);
        xml.element("Message", &self.message);
        xml.element("RequestId", request_id);
        xml.element("HostId", host_id);
        for (name, value) in &self.details {
            xml.element(name, value);
        }
        if let Some(ec) = self.ec {
            xml.element("EC", ec);
        }
        xml.close("Error");
        xml.finish()
    }

    /// Builds the response: the XML body (none for HEAD), `Content-Type:
    /// application/xml` and `x-oss-ec` when an EC is known. The common
    /// headers (`x-oss-request-id`, `Server`, `Date`) are added by the caller.
    pub fn into_response(self, request_id: &str, host_id: &str, head: bool) -> Response {
        let body = if head {
            axum::body::Body::empty()
        } else {
            axum::body::Body::from(self.to_xml(request_id, host_id))
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        if let Some(ec) = self.ec {
            headers.insert("x-oss-ec", HeaderValue::from_static(ec));
        }
        if self.close_connection {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl std::fmt::Display for OssError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for OssError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_xml_has_oss_elements_in_order() {
        let xml = OssError::access_denied("Invalid according to Policy: Policy expired.")
            .with_ec("0006-00000213")
            .to_xml(
                "5C3D9175B6FC201293AD4890",
                "bucket.oss-cn-hangzhou.aliyuncs.com",
            );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>AccessDenied</Code>\n  \
             <Message>Invalid according to Policy: Policy expired.</Message>\n  \
             <RequestId>5C3D9175B6FC201293AD4890</RequestId>\n  \
             <HostId>bucket.oss-cn-hangzhou.aliyuncs.com</HostId>\n  <EC>0006-00000213</EC>\n</Error>\n"
        );
    }

    #[test]
    fn error_xml_escapes_the_message() {
        let xml = OssError::access_denied(
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\", \"a<b&c\"]",
        )
        .to_xml("id", "host");
        assert!(
            xml.contains("[&quot;eq&quot;, &quot;$key&quot;, &quot;a&lt;b&amp;c&quot;]"),
            "{xml}"
        );
    }
}
