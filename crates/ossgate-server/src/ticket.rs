//! Callback tickets: what a token allowed, carried through OSS and back.
//!
//! Issuing a token writes nothing. Instead the callback body template carries a
//! literal ticket naming the user, the directory or exact key, the expiry, a
//! token id and optionally the file's original name, sealed with HMAC-SHA256
//! under a server secret. Because the policy binds the `callback` value
//! exactly, the browser cannot change the ticket. OSS's RSA signature covers
//! the body, so a third party cannot change it either. The HMAC also stops a
//! forger who controls a trusted key.
//!
//! Wire form: `base64url(payload JSON) "." base64url(HMAC-SHA256(secret,
//! "ossgate-ticket-v1." + payload part))`, both without padding. Only
//! characters that need no escaping in a form body or URL are used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation for the MAC, so the secret signs nothing else by accident.
const MAC_CONTEXT: &[u8] = b"ossgate-ticket-v1.";

/// Maximum length of the file name a ticket carries, in bytes.
///
/// OSS limits the `callback` parameter to 5 KB. A 255-byte name becomes at most
/// 510 bytes of JSON when every byte is a `"` or `\`. Base64 grows that to 680
/// bytes in the ticket and to about 910 in the `callback` field, which leaves
/// room for the URL, the body template and the rest of the ticket.
pub const MAX_TICKET_FILENAME_LEN: usize = 255;

/// The objects a ticket allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketScope {
    /// Any key under this directory (ends with '/').
    Dir(String),
    /// Exactly this key.
    Key(String),
}

impl TicketScope {
    /// Returns whether `object` is allowed by this scope.
    pub fn allows(&self, object: &str) -> bool {
        match self {
            Self::Dir(dir) => object.len() > dir.len() && object.starts_with(dir.as_str()),
            Self::Key(key) => object == key,
        }
    }
}

/// The facts a token granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub user: String,
    pub scope: TicketScope,
    /// When the token expires, in Unix seconds.
    pub expires: i64,
    /// Unique per token; with the object it identifies an upload.
    pub token_id: String,
    /// The file's original name as the browser declared it, cut to
    /// [`MAX_TICKET_FILENAME_LEN`] bytes by [`TicketKey::seal`]. `None` in
    /// tickets sealed without one, including every ticket older than the field.
    pub filename: Option<String>,
}

/// Cuts `name` to at most [`MAX_TICKET_FILENAME_LEN`] bytes on a UTF-8
/// character boundary.
pub fn truncate_filename(name: &str) -> &str {
    if name.len() <= MAX_TICKET_FILENAME_LEN {
        return name;
    }
    let mut end = MAX_TICKET_FILENAME_LEN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The ticket's JSON. Strings are borrowed when sealing and owned when
/// opening. A field added later must be optional, so that tickets sealed
/// before it still open.
#[derive(Serialize, Deserialize)]
struct Payload<S> {
    #[serde(rename = "u")]
    user: S,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    dir: Option<S>,
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    key: Option<S>,
    #[serde(rename = "e")]
    expires: i64,
    #[serde(rename = "t")]
    token_id: S,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    filename: Option<S>,
}

/// A reason a ticket was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the ticket is not in the form <payload>.<mac>")]
    Malformed,
    #[error("the ticket's MAC does not match")]
    BadMac,
    #[error("the ticket's payload is invalid")]
    BadPayload,
    #[error("the ticket expired at {0}")]
    Expired(DateTime<Utc>),
}

/// The server secret tickets are sealed with.
pub struct TicketKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKey(<redacted>)")
    }
}

impl TicketKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(Zeroizing::new(secret.to_vec()))
    }

    fn mac(&self) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(MAC_CONTEXT);
        mac
    }

    /// Seals a ticket into its wire form. A file name longer than
    /// [`MAX_TICKET_FILENAME_LEN`] bytes is cut (see [`truncate_filename`]).
    pub fn seal(&self, ticket: &Ticket) -> String {
        let (dir, key) = match &ticket.scope {
            TicketScope::Dir(dir) => (Some(dir.as_str()), None),
            TicketScope::Key(key) => (None, Some(key.as_str())),
        };
        let payload = Payload {
            user: ticket.user.as_str(),
            dir,
            key,
            expires: ticket.expires,
            token_id: ticket.token_id.as_str(),
            filename: ticket.filename.as_deref().map(truncate_filename),
        };
        let json = serde_json::to_vec(&payload).expect("a ticket payload always serialises");
        let payload_part = URL_SAFE_NO_PAD.encode(json);

        let mut mac = self.mac();
        mac.update(payload_part.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload_part}.{tag}")
    }

    /// Checks the MAC (in constant time) and decodes the ticket. Expiry is
    /// checked separately by [`Ticket::check_expiry`].
    ///
    /// # Errors
    ///
    /// A malformed ticket, a MAC that does not match, or an invalid payload.
    pub fn open(&self, sealed: &str) -> Result<Ticket, TicketError> {
        let (payload_part, tag_part) = sealed.split_once('.').ok_or(TicketError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_part)
            .map_err(|_| TicketError::Malformed)?;

        // The MAC is checked before the payload is decoded or trusted.
        let mut mac = self.mac();
        mac.update(payload_part.as_bytes());
        mac.verify_slice(&tag).map_err(|_| TicketError::BadMac)?;

        let json = URL_SAFE_NO_PAD
            .decode(payload_part)
            .map_err(|_| TicketError::BadPayload)?;
        let payload: Payload<String> =
            serde_json::from_slice(&json).map_err(|_| TicketError::BadPayload)?;
        let scope = match (payload.dir, payload.key) {
            (Some(dir), None) => TicketScope::Dir(dir),
            (None, Some(key)) => TicketScope::Key(key),
            _ => return Err(TicketError::BadPayload),
        };
        Ok(Ticket {
            user: payload.user,
            scope,
            expires: payload.expires,
            token_id: payload.token_id,
            filename: payload.filename,
        })
    }
}

impl Ticket {
    /// Accepts the ticket until `grace_secs` after its expiry.
    ///
    /// # Errors
    ///
    /// [`TicketError::Expired`] once the grace period is over.
    pub fn check_expiry(&self, now: DateTime<Utc>, grace_secs: u64) -> Result<(), TicketError> {
        let grace = i64::try_from(grace_secs).unwrap_or(i64::MAX);
        if now.timestamp() > self.expires.saturating_add(grace) {
            let expired_at = DateTime::from_timestamp(self.expires, 0).unwrap_or_default();
            return Err(TicketError::Expired(expired_at));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            user: "alice".into(),
            scope: TicketScope::Dir("uploads/alice/2026-12-04/".into()),
            expires: 1_800_000_000,
            token_id: "0f6c1f7e".into(),
            filename: None,
        }
    }

    /// `ticket()` sealed by the ticket format before it had a file name.
    const SEALED_WITHOUT_FILENAME: &str =
        "eyJ1IjoiYWxpY2UiLCJkIjoidXBsb2Fkcy9hbGljZS8yMDI2LTEyLTA0LyIs\
         ImUiOjE4MDAwMDAwMDAsInQiOiIwZjZjMWY3ZSJ9.zjIEphpPjCI0rJ_exHqS7lxHYXqGYKdMoUWyMKwxvzs";

    #[test]
    fn ticket_without_filename_still_opens() {
        let key = TicketKey::new(b"0123456789abcdef0123456789abcdef");
        let opened = key.open(SEALED_WITHOUT_FILENAME).unwrap();
        assert_eq!(opened, ticket());
        assert_eq!(opened.filename, None);
        // A ticket without a name is sealed exactly as before the field existed.
        assert_eq!(key.seal(&ticket()), SEALED_WITHOUT_FILENAME);
    }

    #[test]
    fn ticket_with_filename_round_trips() {
        let key = TicketKey::new(b"0123456789abcdef0123456789abcdef");
        let mut named = ticket();
        named.filename = Some("假期 \"照片\" & notes\\1.png".into());
        let sealed = key.seal(&named);
        assert_eq!(key.open(&sealed).unwrap(), named);
        assert!(sealed
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte)));
    }

    #[test]
    fn long_cjk_filename_is_truncated() {
        let key = TicketKey::new(b"0123456789abcdef0123456789abcdef");
        // One ASCII byte, then three-byte characters: byte 255 falls inside one.
        let long = format!("a{}.png", "年度报告".repeat(30));
        assert!(long.len() > MAX_TICKET_FILENAME_LEN);
        let mut named = ticket();
        named.filename = Some(long.clone());

        let opened = key.open(&key.seal(&named)).unwrap();
        let filename = opened.filename.unwrap();
        assert_eq!(filename.len(), 1 + 3 * 84, "{filename}");
        assert!(long.starts_with(&filename), "{filename}");
    }

    #[test]
    fn truncate_filename_keeps_short_names() {
        assert_eq!(truncate_filename("cat.png"), "cat.png");
        let exact = "x".repeat(MAX_TICKET_FILENAME_LEN);
        assert_eq!(truncate_filename(&exact), exact);
        let over = "x".repeat(MAX_TICKET_FILENAME_LEN + 1);
        assert_eq!(truncate_filename(&over).len(), MAX_TICKET_FILENAME_LEN);
    }

    #[test]
    fn sealed_ticket_opens_to_the_same_facts() {
        let key = TicketKey::new(b"0123456789abcdef0123456789abcdef");
        let sealed = key.seal(&ticket());
        assert_eq!(key.open(&sealed).unwrap(), ticket());
        assert!(sealed
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte)));
    }

    #[test]
    fn ticket_under_another_secret_is_rejected() {
        let sealed = TicketKey::new(b"secret one secret one secret one").seal(&ticket());
        let other = TicketKey::new(b"secret two secret two secret two");
        assert_eq!(other.open(&sealed), Err(TicketError::BadMac));
    }

    #[test]
    fn altered_payload_is_rejected() {
        let key = TicketKey::new(b"0123456789abcdef0123456789abcdef");
        let sealed = key.seal(&ticket());
        let (_, tag) = sealed.split_once('.').unwrap();
        let mut forged = ticket();
        forged.user = "mallory".into();
        let forged_payload = key.seal(&forged);
        let (payload, _) = forged_payload.split_once('.').unwrap();
        assert_eq!(
            key.open(&format!("{payload}.{tag}")),
            Err(TicketError::BadMac)
        );
    }

    #[test]
    fn malformed_ticket_is_rejected() {
        let key = TicketKey::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(key.open("no-dot-here"), Err(TicketError::Malformed));
        assert_eq!(key.open("abc.!!!"), Err(TicketError::Malformed));
    }

    #[test]
    fn expiry_allows_the_grace_period() {
        let ticket = ticket();
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        assert!(ticket.check_expiry(at(1_800_000_000), 0).is_ok());
        assert!(ticket.check_expiry(at(1_800_000_001), 0).is_err());
        assert!(ticket.check_expiry(at(1_800_000_060), 60).is_ok());
        assert!(ticket.check_expiry(at(1_800_000_061), 60).is_err());
    }

    #[test]
    fn scope_checks_the_object() {
        let dir = TicketScope::Dir("uploads/alice/".into());
        assert!(dir.allows("uploads/alice/cat.png"));
        assert!(!dir.allows("uploads/alice/"));
        assert!(!dir.allows("uploads/alicex/cat.png"));
        assert!(!dir.allows("uploads/bob/cat.png"));
        let key = TicketScope::Key("uploads/alice/a.png".into());
        assert!(key.allows("uploads/alice/a.png"));
        assert!(!key.allows("uploads/alice/b.png"));
    }
}
