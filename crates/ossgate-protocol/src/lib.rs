//! The Alibaba Cloud OSS browser-upload protocol, as pure functions over bytes,
//! strings, keys and instants.
//!
//! This crate has no HTTP server or client types and no async runtime: handlers
//! elsewhere pull bytes out of requests and call in here. Its modules:
//!
//! - [`secret`]: credential types whose secrets are redacted in `Debug` and
//!   `Display` and wiped on drop.
//! - [`fields`]: an ordered list of form fields with case-insensitive lookup.
//! - [`policy`]: the PostObject policy document: model, compact serialisation,
//!   parsing with OSS's error messages, and evaluation against a form.
//! - [`v4`]: the OSS4-HMAC-SHA256 credential, signing-key chain and canonical
//!   request shared by form, header and query signing.
//! - [`form`]: V1 and V4 signed PostObject forms, and their verification.
//! - [`presign`]: presigned GET URLs (V1 and V4) and their verification.
//! - [`callback`]: the `callback` form field, custom `x:` variables and
//!   callback body rendering.
//! - [`verify`]: upload-callback verification (string to sign, key URL policy,
//!   RSA-MD5 check) and signing.
//! - [`oss_key`]: the public key OSS signs real callbacks with.

pub mod callback;
pub mod fields;
pub mod form;
pub mod oss_key;
pub mod policy;
pub mod presign;
pub mod secret;
pub mod v4;
pub mod verify;

pub use callback::{
    CallbackBodyType, CallbackParam, CallbackParamError, CustomVars, RenderContext,
};
pub use fields::FormFields;
pub use form::{SignatureVersion, SignedForm};
pub use policy::{Condition, Policy, PolicyError, PolicyViolation};
pub use secret::{AccessKeySecret, Credentials, SecurityToken};
pub use verify::{CallbackPublicKey, KeyUrlPolicy, VerifyError};
