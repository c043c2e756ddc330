//! Regression tests for faults found by probing the protocol core from the
//! outside: hostile policy documents, odd `x-oss-date` values and secrets that
//! could reach `Debug` output.

use ossgate_protocol::v4;

#[test]
fn x_oss_date_rejects_leap_second() {
    // chrono reads second 60 as a leap second, which no x-oss-date carries.
    assert_eq!(v4::parse_x_oss_date("20231114T235960Z"), None);
}

#[test]
fn x_oss_date_accepts_last_second_of_day() {
    let parsed = v4::parse_x_oss_date("20231114T235959Z").unwrap();
    assert_eq!(v4::format_x_oss_date(parsed), "20231114T235959Z");
}
