//! The PostObject policy document.
//!
//! A policy is an expiration instant and an ordered list of conditions. It is
//! serialised as compact UTF-8 JSON (the bytes `JSON.stringify` writes), parsed
//! from any valid JSON with OSS's error messages, and evaluated against a form
//! the way OSS evaluates it.
//!
//! Serialising a parsed policy does not in general reproduce the bytes it was
//! parsed from, because key order, spacing, escapes and the expiration's
//! fraction may differ. A signature is therefore checked over the base64 text
//! the form carried, never over a re-serialisation.

use std::collections::HashSet;
use std::fmt::{self, Write as _};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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

/// An invalid policy document. `Display` is OSS's `Message` text where OSS's
/// wording is known, and a message in the same style otherwise.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("Invalid Policy: Invalid Base64 Encoding.")]
    InvalidBase64,
    /// The document is not JSON. The detail is worded like OSS's parser
    /// (`unknown char e`, `, or ] expected`) where the cause is the same.
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
    ///
    /// OSS documents four codes for the expiration field: 0006-00000208 for a
    /// missing one (as its help page documents) and 209, 210 and 211 for the other
    /// expiration faults. The mapping of those three is ours: 209 for a value
    /// that is not a string, 210 for an empty string, 211 for a string that is
    /// not an ISO 8601 instant. 0006-00000224 is OSS's code for a condition
    /// element of the wrong type, and is used here for every malformed
    /// condition.
    // NOTE: the help pages for 209 to 211 were not available, so their order above is an assumption.
    pub fn ec(&self) -> Option<&'static str> {
        match self {
            Self::MissingExpiration => Some("0006-00000208"),
            Self::ExpirationNotString => Some("0006-00000209"),
            Self::EmptyExpiration => Some("0006-00000210"),
            Self::InvalidExpiration(_) => Some("0006-00000211"),
            Self::InvalidCondition(_) => Some("0006-00000224"),
            _ => None,
        }
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

impl PolicyViolation {
    /// OSS's error code for this violation: `AccessDenied`, `EntityTooLarge`
    /// or `EntityTooSmall`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired | Self::ConditionFailed(_) => "AccessDenied",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
        }
    }

    /// OSS's `EC` error-detail code, where one is known.
    pub fn ec(&self) -> Option<&'static str> {
        match self {
            Self::Expired => Some("0006-00000213"),
            _ => None,
        }
    }
}

impl Condition {
    /// The form field this condition constrains, without `$`; `None` for
    /// `content-length-range`.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Exact { field, .. }
            | Self::Eq { field, .. }
            | Self::StartsWith { field, .. }
            | Self::In { field, .. }
            | Self::NotIn { field, .. } => Some(field),
            Self::ContentLengthRange { .. } => None,
        }
    }

    /// Renders the condition the way OSS quotes it in a `Policy Condition
    /// failed` message: an array with `", "` between the elements and the field
    /// as `$field`. Exact conditions are rendered as `eq`.
    pub fn render_for_message(&self) -> String {
        let mut out = String::from("[");
        match self {
            Self::Exact { field, value } | Self::Eq { field, value } => {
                push_message_items(&mut out, "eq", field, &[value]);
            }
            Self::StartsWith { field, prefix } => {
                push_message_items(&mut out, "starts-with", field, &[prefix]);
            }
            Self::ContentLengthRange { min, max } => {
                let _ = write!(out, "\"content-length-range\", {min}, {max}");
            }
            Self::In { field, values } => {
                push_message_items(&mut out, "in", field, &[]);
                push_message_list(&mut out, values);
            }
            Self::NotIn { field, values } => {
                push_message_items(&mut out, "not-in", field, &[]);
                push_message_list(&mut out, values);
            }
        }
        out.push(']');
        out
    }

    /// Checks one form value (already looked up, `None` when the field is
    /// absent) against this condition. `content-length-range` always passes
    /// here; it is checked against the object size instead.
    fn accepts(&self, value: Option<&str>) -> bool {
        match self {
            Self::ContentLengthRange { .. } => true,
            Self::Exact {
                value: expected, ..
            }
            | Self::Eq {
                value: expected, ..
            } => value == Some(expected.as_str()),
            Self::StartsWith { prefix, .. } => {
                value.is_some_and(|v| v.starts_with(prefix.as_str()))
            }
            Self::In { values, .. } => {
                value.is_some_and(|v| values.iter().any(|allowed| allowed == v))
            }
            Self::NotIn { values, .. } => {
                value.is_some_and(|v| values.iter().all(|denied| denied != v))
            }
        }
    }
}

fn push_message_items(out: &mut String, operator: &str, field: &str, arguments: &[&String]) {
    let _ = write!(out, "\"{operator}\", ");
    write_json_string(out, &format!("${field}"));
    for argument in arguments {
        out.push_str(", ");
        write_json_string(out, argument);
    }
}

fn push_message_list(out: &mut String, values: &[String]) {
    out.push_str(", [");
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_json_string(out, value);
    }
    out.push(']');
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
    ///
    /// The bytes are those `JSON.stringify` writes for the same object: no
    /// whitespace, non-ASCII characters raw, and escapes only for `"`, `\` and
    /// control characters. The expiration keeps its milliseconds (as
    /// `Date.toISOString` does) and drops anything finer.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 48 * self.conditions.len());
        out.push_str("{\"expiration\":");
        write_json_string(&mut out, &format_expiration(self.expiration));
        out.push_str(",\"conditions\":[");
        for (index, condition) in self.conditions.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_condition_json(&mut out, condition);
        }
        out.push_str("]}");
        out
    }

    /// Returns the standard base64 of [`Policy::to_json`], the value of the `policy` form field.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_json())
    }

    /// Parses a policy document from JSON bytes.
    ///
    /// Any valid JSON is accepted: keys in any order, any whitespace, `\uXXXX`
    /// escapes. `expiration` must be an ISO 8601 UTC instant with or without
    /// fractional seconds; `conditions` must be an array (it may be empty).
    /// Members other than these two are ignored. A top-level member written
    /// twice is an error, and so is a simple condition that names its field
    /// twice, because JSON parsers disagree on which of the values wins.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] whose message is OSS's for the same fault.
    pub fn from_json(json: &[u8]) -> Result<Self, PolicyError> {
        // Checked first, so that such bytes get their own message instead of
        // serde_json's "expected value" or "invalid unicode code point".
        if let Err(error) = std::str::from_utf8(json) {
            return Err(PolicyError::InvalidJson(format!(
                "the policy is not UTF-8 text: the byte at offset {} is invalid",
                error.valid_up_to()
            )));
        }

        let document: Value =
            serde_json::from_slice(json).map_err(|error| json_error(json, &error))?;
        let Value::Object(members) = document else {
            return Err(PolicyError::InvalidJson(
                "the policy must be a JSON object".to_owned(),
            ));
        };

        // serde_json keeps only the last of repeated keys, while other
        // parsers keep the first. The keys as written are read in a second
        // pass, so that a repeat is an error instead of a silent choice.
        let written: WrittenKeys =
            serde_json::from_slice(json).map_err(|error| json_error(json, &error))?;
        if let Some(key) = first_repeated(&written.members) {
            return Err(PolicyError::InvalidJson(format!(
                "the policy has more than one {key:?} member: keep only one"
            )));
        }

        let expiration = match members.get("expiration") {
            None => return Err(PolicyError::MissingExpiration),
            Some(Value::String(text)) if text.is_empty() => {
                return Err(PolicyError::EmptyExpiration)
            }
            Some(Value::String(text)) => parse_expiration(text)?,
            Some(_) => return Err(PolicyError::ExpirationNotString),
        };

        let conditions = match members.get("conditions") {
            None => return Err(PolicyError::MissingConditions),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    // A repeated key counts as a second property.
                    let written_properties = written
                        .condition_keys
                        .get(index)
                        .and_then(|keys| keys.as_ref().map(Vec::len));
                    if written_properties.is_some_and(|count| count != 1) {
                        return Err(PolicyError::SimpleConditionProperties);
                    }
                    parse_condition(item)
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(PolicyError::InvalidCondition(format!(
                    "conditions must be an array, not {}",
                    json_type_name(other)
                )))
            }
        };

        Ok(Self {
            expiration,
            conditions,
        })
    }

    /// Decodes a `policy` form field (standard base64) and parses it.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidBase64`] when the value is not standard base64,
    /// otherwise the errors of [`Policy::from_json`].
    pub fn from_base64(policy_base64: &str) -> Result<Self, PolicyError> {
        let json = decode_policy_base64(policy_base64)?;
        Self::from_json(&json)
    }

    /// The narrowest size range that all `content-length-range` conditions
    /// allow, as inclusive `(min, max)`; `None` without such a condition.
    /// When the ranges do not overlap, `min` is greater than `max` and no size
    /// satisfies the policy.
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        self.conditions
            .iter()
            .filter_map(|condition| match condition {
                Condition::ContentLengthRange { min, max } => Some((*min, *max)),
                _ => None,
            })
            .reduce(|(low, high), (min, max)| (low.max(min), high.min(max)))
    }

    /// Evaluates the policy against form fields at `now`: first expiration, then
    /// each condition in order. With `size` given, `content-length-range` is
    /// checked too; without it those conditions are skipped (a streaming
    /// receiver checks them itself). Conditions on `key` see the key as sent,
    /// before `${filename}` expansion.
    ///
    /// Field names match case-insensitively. A condition whose field is
    /// absent from the form fails, `not-in` included. Conditions on `bucket`
    /// are compared with a `bucket` field; a receiver that has the bucket
    /// from the request should call [`Policy::evaluate_in_bucket`] instead, so
    /// that a form cannot choose the bucket the condition sees.
    ///
    /// A V4 policy carries exact conditions on `x-oss-signature-version`,
    /// `x-oss-credential`, `x-oss-date` and, with STS credentials,
    /// `x-oss-security-token`; they are checked here against the form fields of
    /// the same names like any other condition.
    ///
    /// # Errors
    ///
    /// The first [`PolicyViolation`] found.
    pub fn evaluate(
        &self,
        fields: &FormFields,
        size: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), PolicyViolation> {
        self.evaluate_with(|name| fields.get(name), size, now)
    }

    /// Evaluates like [`Policy::evaluate`], except that conditions on
    /// `bucket` see `bucket` (the bucket the upload goes to) and never a form
    /// field of that name.
    ///
    /// # Errors
    ///
    /// The first [`PolicyViolation`] found.
    pub fn evaluate_in_bucket(
        &self,
        bucket: &str,
        fields: &FormFields,
        size: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), PolicyViolation> {
        let lookup = |name: &str| {
            if name.eq_ignore_ascii_case("bucket") {
                Some(bucket)
            } else {
                fields.get(name)
            }
        };
        self.evaluate_with(lookup, size, now)
    }

    fn evaluate_with<'f>(
        &self,
        lookup: impl Fn(&str) -> Option<&'f str>,
        size: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), PolicyViolation> {
        if now >= self.expiration {
            return Err(PolicyViolation::Expired);
        }

        for condition in &self.conditions {
            if let Condition::ContentLengthRange { min, max } = condition {
                match size {
                    Some(size) if size > *max => return Err(PolicyViolation::EntityTooLarge),
                    Some(size) if size < *min => return Err(PolicyViolation::EntityTooSmall),
                    _ => continue,
                }
            }

            let value = condition.field().and_then(&lookup);
            if !condition.accepts(value) {
                return Err(PolicyViolation::ConditionFailed(
                    condition.render_for_message(),
                ));
            }
        }
        Ok(())
    }
}

/// Decodes the base64 text of a `policy` field. Padding may be omitted.
pub(crate) fn decode_policy_base64(policy_base64: &str) -> Result<Vec<u8>, PolicyError> {
    const LENIENT_PADDING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    LENIENT_PADDING
        .decode(policy_base64.trim())
        .map_err(|_| PolicyError::InvalidBase64)
}

/// Formats an expiration the way `Date.toISOString` does:
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn format_expiration(expiration: DateTime<Utc>) -> String {
    expiration.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO 8601 instant in UTC, such as `2026-12-04T09:30:00.000Z` or
/// `2013-12-01T12:00:00Z`. An explicit zero offset (`+00:00`) is accepted;
/// other offsets are not, because OSS requires GMT.
fn parse_expiration(text: &str) -> Result<DateTime<Utc>, PolicyError> {
    // RFC 3339 also allows a space between date and time; ISO 8601 does not.
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(PolicyError::InvalidExpiration(text.to_owned()));
    }
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|_| PolicyError::InvalidExpiration(text.to_owned()))?;
    if parsed.offset().local_minus_utc() != 0 {
        return Err(PolicyError::InvalidExpiration(text.to_owned()));
    }
    Ok(parsed.with_timezone(&Utc))
}

fn parse_condition(item: &Value) -> Result<Condition, PolicyError> {
    match item {
        Value::Object(members) => {
            if members.len() != 1 {
                return Err(PolicyError::SimpleConditionProperties);
            }
            let (field, value) = members.iter().next().expect("one member was counted");
            let Value::String(value) = value else {
                return Err(PolicyError::InvalidCondition(format!(
                    "the value of simple condition {field:?} must be a string, not {}",
                    json_type_name(value)
                )));
            };
            Ok(Condition::Exact {
                field: field.clone(),
                value: value.clone(),
            })
        }
        Value::Array(elements) => parse_operator_condition(elements),
        other => Err(PolicyError::InvalidCondition(format!(
            "a condition must be an object or an array, not {}",
            json_type_name(other)
        ))),
    }
}

fn parse_operator_condition(elements: &[Value]) -> Result<Condition, PolicyError> {
    let Some(Value::String(operator)) = elements.first() else {
        return Err(PolicyError::InvalidCondition(
            "an array condition must start with an operator string".to_owned(),
        ));
    };
    let operator_lower = operator.to_ascii_lowercase();
    let rendered = serde_json::to_string(elements).unwrap_or_default();
    if elements.len() != 3 {
        return Err(PolicyError::InvalidCondition(format!(
            "{rendered} must have exactly 3 elements"
        )));
    }

    if operator_lower == "content-length-range" {
        let min = parse_length_bound(&elements[1], &rendered)?;
        let max = parse_length_bound(&elements[2], &rendered)?;
        if min > max {
            return Err(PolicyError::InvalidContentLengthRange(format!(
                "the minimum {min} is greater than the maximum {max}"
            )));
        }
        return Ok(Condition::ContentLengthRange { min, max });
    }

    let field = parse_field_reference(&elements[1], &rendered)?;
    match operator_lower.as_str() {
        "eq" => Ok(Condition::Eq {
            field,
            value: parse_string_argument(&elements[2], &rendered)?,
        }),
        "starts-with" => Ok(Condition::StartsWith {
            field,
            prefix: parse_string_argument(&elements[2], &rendered)?,
        }),
        "in" => Ok(Condition::In {
            field,
            values: parse_string_list(&elements[2], &rendered)?,
        }),
        "not-in" => Ok(Condition::NotIn {
            field,
            values: parse_string_list(&elements[2], &rendered)?,
        }),
        _ => Err(PolicyError::UnknownOperator(operator.clone())),
    }
}

/// Reads `"$field"`, the second element of an operator condition.
fn parse_field_reference(element: &Value, rendered: &str) -> Result<String, PolicyError> {
    match element {
        Value::String(reference) => match reference.strip_prefix('$') {
            Some(field) if !field.is_empty() => Ok(field.to_owned()),
            _ => Err(PolicyError::InvalidCondition(format!(
                "in {rendered} the field {reference:?} must be written with a leading '$', \
                 such as \"$key\""
            ))),
        },
        other => Err(PolicyError::InvalidCondition(format!(
            "in {rendered} the field must be a string, not {}",
            json_type_name(other)
        ))),
    }
}

fn parse_string_argument(element: &Value, rendered: &str) -> Result<String, PolicyError> {
    match element {
        Value::String(text) => Ok(text.clone()),
        other => Err(PolicyError::InvalidCondition(format!(
            "in {rendered} the value must be a string, not {}",
            json_type_name(other)
        ))),
    }
}

fn parse_string_list(element: &Value, rendered: &str) -> Result<Vec<String>, PolicyError> {
    let Value::Array(items) = element else {
        return Err(PolicyError::InvalidCondition(format!(
            "in {rendered} the values must be an array of strings, not {}",
            json_type_name(element)
        )));
    };
    items
        .iter()
        .map(|item| parse_string_argument(item, rendered))
        .collect()
}

/// 2^64: serde_json reads a JSON integer at or above it as a float.
const U64_LIMIT: f64 = 18_446_744_073_709_551_616.0;

/// Reads one bound of `content-length-range`: a non-negative integer, or a
/// string of decimal digits (which some SDKs send).
fn parse_length_bound(element: &Value, rendered: &str) -> Result<u64, PolicyError> {
    let invalid =
        |reason: &str| PolicyError::InvalidContentLengthRange(format!("{rendered}: {reason}"));
    match element {
        Value::Number(number) => {
            if let Some(bound) = number.as_u64() {
                Ok(bound)
            } else if number.as_i64().is_some_and(|n| n < 0)
                || number.as_f64().is_some_and(|n| n < 0.0)
            {
                Err(invalid("the bounds must not be negative"))
            } else if number.as_f64().is_some_and(|n| n >= U64_LIMIT) {
                Err(invalid("the bounds must fit in 64 bits"))
            } else if number.as_f64().is_some_and(|n| n.fract() == 0.0) {
                Err(invalid(
                    "the bounds must be written as integers, without a fraction or an exponent",
                ))
            } else {
                Err(invalid("the bounds must be whole numbers of bytes"))
            }
        }
        Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
            .parse()
            .map_err(|_| invalid("the bounds must fit in 64 bits")),
        Value::String(text) if text.starts_with('-') => {
            Err(invalid("the bounds must not be negative"))
        }
        _ => Err(invalid("the bounds must be whole numbers of bytes")),
    }
}

/// The object keys of a policy document as written, repeats included: the
/// top-level members, and for each element of `conditions` the keys of that
/// element when it is an object (`None` otherwise). Values are skipped.
#[derive(Default)]
struct WrittenKeys {
    members: Vec<String>,
    condition_keys: Vec<Option<Vec<String>>>,
}

impl<'de> Deserialize<'de> for WrittenKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;

        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = WrittenKeys;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a policy document")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WrittenKeys, A::Error> {
                let mut written = WrittenKeys::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "conditions" {
                        written.condition_keys = map.next_value::<ElementKeys>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    written.members.push(key);
                }
                Ok(written)
            }
        }

        deserializer.deserialize_map(DocumentVisitor)
    }
}

/// For a JSON array, the keys of each element that is an object; for any
/// other value, nothing.
struct ElementKeys(Vec<Option<Vec<String>>>);

impl<'de> Deserialize<'de> for ElementKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementsVisitor;

        impl<'de> Visitor<'de> for ElementsVisitor {
            type Value = ElementKeys;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ElementKeys, A::Error> {
                let mut elements = Vec::new();
                while let Some(keys) = seq.next_element::<ObjectKeys>()? {
                    elements.push(keys.0);
                }
                Ok(ElementKeys(elements))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ElementKeys, A::Error> {
                IgnoredAny.visit_map(map)?;
                Ok(ElementKeys(Vec::new()))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ElementKeys, E> {
                Ok(ElementKeys(Vec::new()))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ElementKeys, E> {
                Ok(ElementKeys(Vec::new()))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ElementKeys, E> {
                Ok(ElementKeys(Vec::new()))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ElementKeys, E> {
                Ok(ElementKeys(Vec::new()))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<ElementKeys, E> {
                Ok(ElementKeys(Vec::new()))
            }

            fn visit_unit<E: de::Error>(self) -> Result<ElementKeys, E> {
                Ok(ElementKeys(Vec::new()))
            }
        }

        deserializer.deserialize_any(ElementsVisitor)
    }
}

/// For a JSON object, its keys as written; for any other value, `None`.
struct ObjectKeys(Option<Vec<String>>);

impl<'de> Deserialize<'de> for ObjectKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;

        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = ObjectKeys;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(ObjectKeys(Some(keys)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ObjectKeys, A::Error> {
                IgnoredAny.visit_seq(seq)?;
                Ok(ObjectKeys(None))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ObjectKeys, E> {
                Ok(ObjectKeys(None))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ObjectKeys, E> {
                Ok(ObjectKeys(None))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ObjectKeys, E> {
                Ok(ObjectKeys(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ObjectKeys, E> {
                Ok(ObjectKeys(None))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<ObjectKeys, E> {
                Ok(ObjectKeys(None))
            }

            fn visit_unit<E: de::Error>(self) -> Result<ObjectKeys, E> {
                Ok(ObjectKeys(None))
            }
        }

        deserializer.deserialize_any(KeysVisitor)
    }
}

/// Returns the first key that occurs more than once.
fn first_repeated(keys: &[String]) -> Option<&str> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter()
        .find(|key| !seen.insert(key.as_str()))
        .map(String::as_str)
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Words a JSON syntax error the way OSS's parser does where the cause is the
/// same (`unknown char e`, `, or ] expected`), and like serde_json otherwise.
fn json_error(input: &[u8], error: &serde_json::Error) -> PolicyError {
    let full = error.to_string();
    let message = match full.rfind(" at line ") {
        Some(position) => &full[..position],
        None => full.as_str(),
    };

    let detail = if error.is_eof() {
        "unexpected end of input".to_owned()
    } else if message.starts_with("expected `,` or `]`") {
        ", or ] expected".to_owned()
    } else if message.starts_with("expected `,` or `}`") {
        ", or } expected".to_owned()
    } else if message.starts_with("expected `:`") {
        ": expected".to_owned()
    } else if message.starts_with("expected value") || message.starts_with("expected ident") {
        match char_at(input, error.line(), error.column()) {
            Some(found) if found.is_ascii_graphic() => format!("unknown char {found}"),
            // An invisible character, such as a byte order mark, is named by
            // its code point so the message shows it.
            Some(found) => format!("unknown char U+{:04X}", u32::from(found)),
            None => "unknown char".to_owned(),
        }
    } else {
        message.to_owned()
    };
    PolicyError::InvalidJson(detail)
}

/// Returns the character at a serde_json error position (1-based line, and
/// 1-based byte column within the line).
fn char_at(input: &[u8], line: usize, column: usize) -> Option<char> {
    let text = String::from_utf8_lossy(input);
    let line_text = text.split('\n').nth(line.checked_sub(1)?)?;
    let start = column.checked_sub(1)?;
    line_text.get(start..)?.chars().next()
}

fn write_condition_json(out: &mut String, condition: &Condition) {
    match condition {
        Condition::Exact { field, value } => {
            out.push('{');
            write_json_string(out, field);
            out.push(':');
            write_json_string(out, value);
            out.push('}');
        }
        Condition::Eq { field, value } => write_operator_json(out, "eq", field, |out| {
            write_json_string(out, value);
        }),
        Condition::StartsWith { field, prefix } => {
            write_operator_json(out, "starts-with", field, |out| {
                write_json_string(out, prefix);
            });
        }
        Condition::ContentLengthRange { min, max } => {
            let _ = write!(out, "[\"content-length-range\",{min},{max}]");
        }
        Condition::In { field, values } => write_operator_json(out, "in", field, |out| {
            write_json_string_array(out, values);
        }),
        Condition::NotIn { field, values } => write_operator_json(out, "not-in", field, |out| {
            write_json_string_array(out, values);
        }),
    }
}

fn write_operator_json(
    out: &mut String,
    operator: &str,
    field: &str,
    write_argument: impl FnOnce(&mut String),
) {
    let _ = write!(out, "[\"{operator}\",");
    write_json_string(out, &format!("${field}"));
    out.push(',');
    write_argument(out);
    out.push(']');
}

fn write_json_string_array(out: &mut String, values: &[String]) {
    out.push('[');
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_json_string(out, value);
    }
    out.push(']');
}

/// Writes a JSON string literal with the escapes `JSON.stringify` uses: the
/// short forms for `"`, `\`, backspace, form feed, newline, carriage return
/// and tab, `\u00xx` (lowercase hex) for the other control characters, and
/// every other character raw, `/` and U+2028 included. serde_json escapes
/// the same characters the same way, so the server also uses this to write
/// JSON responses by hand.
pub fn write_json_string(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('"');

    // Most values (base64, keys, dates) need no escape at all. This check
    // has no early exit, so the compiler vectorises it.
    let bytes = value.as_bytes();
    let clean = bytes.iter().fold(true, |clean, &byte| {
        clean & (byte >= 0x20) & (byte != b'"') & (byte != b'\\')
    });
    if clean {
        out.push_str(value);
        out.push('"');
        return;
    }

    // Copy each run of characters that need no escape in one piece. Every
    // escaped character is ASCII, so `start` and `index` always fall on
    // character boundaries.
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0C => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            control if control < 0x20 => "",
            _ => continue,
        };
        out.push_str(&value[start..index]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = index + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_names_unknown_char() {
        let error = Policy::from_json(b"{\"expiration\": e}").unwrap_err();
        assert_eq!(error, PolicyError::InvalidJson("unknown char e".to_owned()));
    }

    #[test]
    fn json_error_names_missing_bracket() {
        let error = Policy::from_json(b"{\"expiration\":\"x\",\"conditions\":[1 2]}").unwrap_err();
        assert_eq!(
            error,
            PolicyError::InvalidJson(", or ] expected".to_owned())
        );
    }

    #[test]
    fn json_string_escapes_like_json_stringify() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c/\u{1}\n\u{2028}上");
        assert_eq!(out, "\"a\\\"b\\\\c/\\u0001\\n\u{2028}上\"");
    }

    #[test]
    fn json_string_matches_serde_json_for_every_ascii() {
        // serde_json escapes the same characters the same way.
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for value in [every_ascii.as_str(), "plain", "", "上\u{1f}x\"", "\\"] {
            let mut out = String::new();
            write_json_string(&mut out, value);
            assert_eq!(out, serde_json::to_string(value).unwrap(), "{value:?}");
        }
    }
}
