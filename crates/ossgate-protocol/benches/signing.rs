//! Form signing throughput: V1, V4 with a cold signing key (the first form of
//! a day), and V4 with the key cached (every later form).

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use ossgate_protocol::form::{sign_policy_v1, sign_policy_v4, FormSigner};
use ossgate_protocol::v4::SigningKey;
use ossgate_protocol::{AccessKeySecret, Condition, Credentials, Policy, SignatureVersion};

const SECRET: &str = "ExampleSecretKey0123456789abcdef";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_373_000, 0).unwrap()
}

/// The policy an app server signs per upload: bucket, key prefix, size range.
fn policy() -> Policy {
    Policy::new(now() + Duration::hours(1))
        .with(Condition::Exact {
            field: "bucket".to_owned(),
            value: "examplebucket".to_owned(),
        })
        .with(Condition::StartsWith {
            field: "key".to_owned(),
            prefix: "user-dir/".to_owned(),
        })
        .with(Condition::ContentLengthRange {
            min: 0,
            max: 10_485_760,
        })
}

fn bench_signing(c: &mut Criterion) {
    let credentials = Credentials::new("LTAI5tExampleKeyId", SECRET);
    let secret = AccessKeySecret::new(SECRET);
    let policy_base64 = policy().to_base64();

    c.bench_function("v1 signature of a base64 policy", |b| {
        b.iter(|| sign_policy_v1(&secret, black_box(&policy_base64)));
    });

    c.bench_function("v4 signature with key derivation", |b| {
        b.iter(|| {
            let key = SigningKey::derive(&secret, now().date_naive(), "cn-hangzhou");
            sign_policy_v4(&key, black_box(&policy_base64))
        });
    });

    let v1_signer = FormSigner::new(credentials.clone(), SignatureVersion::V1, "cn-hangzhou");
    c.bench_function("v1 form (serialise and sign)", |b| {
        b.iter(|| v1_signer.sign(black_box(policy()), now()));
    });

    let v4_signer = FormSigner::new(credentials.clone(), SignatureVersion::V4, "cn-hangzhou");
    v4_signer.sign(policy(), now());
    c.bench_function("v4 form, cached signing key", |b| {
        b.iter(|| v4_signer.sign(black_box(policy()), now()));
    });

    c.bench_function("v4 form, cold signing key", |b| {
        b.iter(|| {
            let signer = FormSigner::new(credentials.clone(), SignatureVersion::V4, "cn-hangzhou");
            signer.sign(black_box(policy()), now())
        });
    });
}

criterion_group!(benches, bench_signing);
criterion_main!(benches);
