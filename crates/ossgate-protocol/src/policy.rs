//! The PostObject policy document.
//!
//! A policy is an expiration instant and an ordered list of conditions. It is
//! serialised as compact UTF-8 JSON (the bytes `JSON.stringify` writes), parsed
//! from any valid JSON with OSS's error messages, and evaluated against a form
//! the way OSS evaluates it.

use chrono::{DateTime, Utc};

use crate::fields::FormFields;

/// A PostObject policy: when it expires and what the form must satisfy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub expiration: DateTime<Utc>,
    pub conditions: Vec<Condition>,
}

/// One policy condition. Field names are stored without the `$` prefix, in the
/// case they were written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}`.
    Exact { field: String, value: String },
    /// `["eq", "$field", "value"]`.
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith { field: String, prefix: String },
    /// `["content-length-range", min, max]`, inclusive, in bytes.
    ContentLengthRange { min: u64, max: u64 },
    /// `["in", "$field", ["a", "b"]]`.
    In { field: String, values: Vec<String> },
    /// `["not-in", "$field", ["a", "b"]]`.
    NotIn { field: String, values: Vec<String> },
}

/// An invalid policy document. `Display` is OSS's `Message` text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("Invalid Policy: Invalid Base64 Encoding.")]
    InvalidBase64,
    #[error("Invalid Policy: Invalid JSON: {0}")]
    InvalidJson(String),
    #[error("Invalid Policy: Missing expiration.")]
    MissingExpiration,
    #[error("Invalid Policy: Expiration is empty.")]
    EmptyExpiration,
    #[error("Invalid Policy: Expiration is not a string.")]
    ExpirationNotString,
    #[error("Invalid Policy: Invalid 'expiration' value: '{0}'")]
    InvalidExpiration(String),
    #[error("Invalid Policy: Missing conditions.")]
    MissingConditions,
    #[error("Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")]
    SimpleConditionProperties,
    #[error("Invalid Policy: Invalid Condition: {0}")]
    InvalidCondition(String),
    #[error("Invalid Policy: Unknown condition operator: {0}")]
    UnknownOperator(String),
    #[error("Invalid Policy: Invalid content-length-range: {0}")]
    InvalidContentLengthRange(String),
}

impl PolicyError {
    /// OSS's `EC` error-detail code for this error, where one is known.
    pub fn ec(&self) -> Option<&'static str> {
        todo!()
    }
}

/// Why a form does not satisfy a policy. `Display` is OSS's `Message` text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    /// The failing condition, rendered as OSS renders it, e.g.
    /// `["starts-with", "$key", "user/eric/"]`.
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    #[error("Your proposed upload exceeds the maximum allowed size.")]
    EntityTooLarge,
    #[error("Your proposed upload smaller than the minimum allowed size.")]
    EntityTooSmall,
}

impl Policy {
    pub fn new(expiration: DateTime<Utc>) -> Self {
        Self {
            expiration,
            conditions: Vec::new(),
        }
    }

    /// Appends a condition and returns the policy, for building in one expression.
    pub fn with(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// Serialises to compact UTF-8 JSON: `expiration` first, written
    /// `YYYY-MM-DDTHH:MM:SS.000Z`, then the conditions in order.
    pub fn to_json(&self) -> String {
        todo!()
    }

    /// Returns the standard base64 of [`Policy::to_json`], the value of the `policy` form field.
    pub fn to_base64(&self) -> String {
        todo!()
    }

    /// Parses a policy document from JSON bytes.
    pub fn from_json(json: &[u8]) -> Result<Self, PolicyError> {
        let _ = json;
        todo!()
    }

    /// Decodes a `policy` form field (standard base64) and parses it.
    pub fn from_base64(policy_base64: &str) -> Result<Self, PolicyError> {
        let _ = policy_base64;
        todo!()
    }

    /// The narrowest size range that all `content-length-range` conditions allow.
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        todo!()
    }

    /// Evaluates the policy against form fields at `now`: first expiration, then
    /// each condition in order. With `size` given, `content-length-range` is
    /// checked too; without it those conditions are skipped (a streaming
    /// receiver checks them itself). Conditions on `key` see the key as sent,
    /// before `${filename}` expansion.
    pub fn evaluate(
        &self,
        fields: &FormFields,
        size: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), PolicyViolation> {
        let _ = (fields, size, now);
        todo!()
    }
}
