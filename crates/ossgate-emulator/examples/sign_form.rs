//! Prints the fields of a V4-signed PostObject form, one `name=value` per
//! line, for scripts that upload with `curl -F`. The policy allows keys under
//! the given prefix and sizes up to 5 GiB, and expires in an hour.
//!
//! Run: `OSS_ACCESS_KEY_ID=… OSS_ACCESS_KEY_SECRET=… cargo run -p
//! ossgate-emulator --example sign_form -- <key> [region]`.

use chrono::Utc;
use ossgate_protocol::form::{FormSigner, SignatureVersion};
use ossgate_protocol::policy::{Condition, Policy};
use ossgate_protocol::Credentials;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(key) = args.next() else {
        eprintln!("usage: sign_form <key> [region]");
        std::process::exit(2);
    };
    let region = args.next().unwrap_or_else(|| "cn-hangzhou".to_owned());
    let (Ok(id), Ok(secret)) = (
        std::env::var("OSS_ACCESS_KEY_ID"),
        std::env::var("OSS_ACCESS_KEY_SECRET"),
    ) else {
        eprintln!("set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET");
        std::process::exit(2);
    };

    let policy = Policy::new(Utc::now() + chrono::Duration::hours(1))
        .with(Condition::Exact {
            field: "key".to_owned(),
            value: key.clone(),
        })
        .with(Condition::ContentLengthRange {
            min: 0,
            max: 5 * 1024 * 1024 * 1024,
        });
    let signer = FormSigner::new(Credentials::new(id, secret), SignatureVersion::V4, &region);
    let signed = signer.sign(policy, Utc::now());

    println!("key={key}");
    for (name, value) in signed.fields.iter() {
        println!("{name}={value}");
    }
}
