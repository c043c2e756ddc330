//! Callback verification time with OSS's 512-bit key (on OSS's documented
//! callback) and with the 2048-bit test key (on a callback vector), plus
//! building the string to sign on its own.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ossgate_protocol::verify::{string_to_sign, verify, CallbackPublicKey};

const DOC_TARGET: &str = "/index.php?id=1&index=2";
const DOC_BODY: &[u8] = b"bucket=yonghu-test";
const DOC_AUTHORIZATION: &str =
    "kKQeGTRccDKyHB3H9vF+xYMSrmhMZjzzl2/kdD1ktNVgbWEfYTQG0G2SU/RaHBovRCE8OkQDjC3uG33esH2txA==";

/// The `chinese_path` callback vector, signed with the 2048-bit test key.
const VECTOR_TARGET: &str = "/oss/callback/%E4%B8%8A%E4%BC%A0";
const VECTOR_BODY: &[u8] =
    b"bucket=examplebucket&object=%E4%B8%8A%E4%BC%A0%2Fa.png&size=1024&mimeType=image%2Fpng";
const VECTOR_AUTHORIZATION: &str = "oT0WRvjHXTMdjpqrNU1EMpVZOGiYArrZaa7eVmqnUW02QDdrQKbMvb/4Ad2I6LITBL9TR0EmWt27ZTxTVSkl8mBZqoRbIN3zOejgjOry1wV8ErHYfuEXUlCrT1l8aGspdM+qbmI6ZxIrXXEGKlydui2vrz1UUUq/eNYDamUt9Z6trUKgWBs35NyfGiTbdnowsIWtYOvYCc82lv1nlBlvQqeT5stUBaTrAiRPwXYBo2hvSG7hmNoud7u0vR8vNMhnUvGFyLO3jGdCE4LeQzjwb0n0iCZC/72Z5ZcOtXlXBujsh5xMacTsTj3J7qmL8FHNIsJzrmgr5LBMHD78/CzyCg==";
const TEST_PUBLIC_KEY: &str = include_str!("../tests/vectors/keys/callback_public_spki.pem");

fn bench_verify(criterion: &mut Criterion) {
    let oss_key = CallbackPublicKey::oss();
    let test_key = CallbackPublicKey::from_pem(TEST_PUBLIC_KEY).expect("the test key parses");

    // Fail loudly rather than time the error path.
    verify(DOC_TARGET, DOC_BODY, DOC_AUTHORIZATION, oss_key).expect("the doc example verifies");
    verify(VECTOR_TARGET, VECTOR_BODY, VECTOR_AUTHORIZATION, &test_key)
        .expect("the vector verifies");

    let mut group = criterion.benchmark_group("callback_verify");
    group.bench_function("rsa512_oss_key", |bencher| {
        bencher.iter(|| {
            verify(
                black_box(DOC_TARGET),
                black_box(DOC_BODY),
                black_box(DOC_AUTHORIZATION),
                oss_key,
            )
        })
    });
    group.bench_function("rsa2048_test_key", |bencher| {
        bencher.iter(|| {
            verify(
                black_box(VECTOR_TARGET),
                black_box(VECTOR_BODY),
                black_box(VECTOR_AUTHORIZATION),
                &test_key,
            )
        })
    });
    group.finish();

    criterion.bench_function("callback_string_to_sign", |bencher| {
        bencher.iter(|| string_to_sign(black_box(VECTOR_TARGET), black_box(VECTOR_BODY)))
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
