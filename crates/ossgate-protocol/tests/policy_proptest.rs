//! Property tests: any policy survives `to_json` -> `from_json`, and
//! evaluation agrees with what each condition states.

use chrono::{DateTime, Duration, Utc};
use ossgate_protocol::{Condition, FormFields, Policy, PolicyViolation};
use proptest::prelude::*;

/// Field names as forms use them: letters, digits, `-`, `_`, `:`.
fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_:-]{0,20}"
}

/// Any text, control characters, quotes and non-ASCII included.
fn any_text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (field_name(), any_text()).prop_map(|(field, value)| Condition::Exact { field, value }),
        (field_name(), any_text()).prop_map(|(field, value)| Condition::Eq { field, value }),
        (field_name(), any_text())
            .prop_map(|(field, prefix)| Condition::StartsWith { field, prefix }),
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Condition::ContentLengthRange {
            min: a.min(b),
            max: a.max(b),
        }),
        (field_name(), prop::collection::vec(any_text(), 0..4))
            .prop_map(|(field, values)| Condition::In { field, values }),
        (field_name(), prop::collection::vec(any_text(), 0..4))
            .prop_map(|(field, values)| Condition::NotIn { field, values }),
    ]
}

/// Instants with whole milliseconds between 1970 and 9999, the precision the
/// serialised expiration keeps.
fn expiration() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..253_402_300_799_999).prop_map(|millis| DateTime::from_timestamp_millis(millis).unwrap())
}

fn policy() -> impl Strategy<Value = Policy> {
    (expiration(), prop::collection::vec(condition(), 0..8)).prop_map(|(expiration, conditions)| {
        Policy {
            expiration,
            conditions,
        }
    })
}

proptest! {
    #[test]
    fn json_round_trip_keeps_policy(policy in policy()) {
        let json = policy.to_json();
        prop_assert_eq!(Policy::from_json(json.as_bytes()).unwrap(), policy.clone());
        prop_assert_eq!(Policy::from_base64(&policy.to_base64()).unwrap(), policy);
    }

    #[test]
    fn json_is_what_serde_json_reads(policy in policy()) {
        // A general JSON parser reads the same strings back, so the escaping
        // is valid JSON whatever the text.
        let value: serde_json::Value = serde_json::from_str(&policy.to_json()).unwrap();
        let conditions = value["conditions"].as_array().unwrap();
        prop_assert_eq!(conditions.len(), policy.conditions.len());
        for (written, condition) in conditions.iter().zip(&policy.conditions) {
            if let Condition::Eq { value, .. } = condition {
                prop_assert_eq!(written[2].as_str().unwrap(), value.as_str());
            }
        }
    }

    #[test]
    fn starts_with_accepts_exactly_prefixed_values(prefix in any_text(), value in any_text()) {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let policy = Policy::new(now + Duration::hours(1)).with(Condition::StartsWith {
            field: "key".to_owned(),
            prefix: prefix.clone(),
        });
        let fields: FormFields = [("key", value.clone())].into_iter().collect();
        let result = policy.evaluate(&fields, None, now);
        prop_assert_eq!(result.is_ok(), value.starts_with(&prefix));
    }

    #[test]
    fn size_range_accepts_exactly_sizes_inside(min in 0u64..1000, span in 0u64..1000, size in 0u64..3000) {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let max = min + span;
        let policy = Policy::new(now + Duration::hours(1))
            .with(Condition::ContentLengthRange { min, max });
        let result = policy.evaluate(&FormFields::new(), Some(size), now);
        let expected = if size > max {
            Err(PolicyViolation::EntityTooLarge)
        } else if size < min {
            Err(PolicyViolation::EntityTooSmall)
        } else {
            Ok(())
        };
        prop_assert_eq!(result, expected);
    }

    #[test]
    fn expired_policy_always_fails_first(policy in policy(), late in 0i64..1_000_000) {
        let now = policy.expiration + Duration::seconds(late);
        let result = policy.evaluate(&FormFields::new(), Some(0), now);
        prop_assert_eq!(result, Err(PolicyViolation::Expired));
    }
}
