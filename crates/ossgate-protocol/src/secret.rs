//! Credential types. Secrets never appear in `Debug` or `Display` output and
//! their memory is zeroed when they are dropped.

use std::fmt;

use zeroize::Zeroizing;

/// An AccessKey secret (long-term or STS).
#[derive(Clone)]
pub struct AccessKeySecret(Zeroizing<String>);

impl AccessKeySecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// Returns the secret itself, for signing. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKeySecret(<redacted>)")
    }
}

impl fmt::Display for AccessKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An STS security token, sent as `x-oss-security-token`.
#[derive(Clone)]
pub struct SecurityToken(Zeroizing<String>);

impl SecurityToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Zeroizing::new(token.into()))
    }

    /// Returns the token itself, for a form field or a query parameter.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecurityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityToken(<redacted>)")
    }
}

impl fmt::Display for SecurityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An AccessKey pair, with the security token when the pair comes from STS.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: AccessKeySecret,
    pub security_token: Option<SecurityToken>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: AccessKeySecret::new(access_key_secret),
            security_token: None,
        }
    }

    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(SecurityToken::new(token));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ExampleSecretKey0123456789abcdef";
    const TOKEN: &str = "CAIS-example-token";

    #[test]
    fn secret_debug_and_display_are_redacted() {
        let secret = AccessKeySecret::new(SECRET);
        assert!(!format!("{secret:?}").contains(SECRET));
        assert!(!format!("{secret:#?}").contains(SECRET));
        assert!(!format!("{secret}").contains(SECRET));
        assert_eq!(secret.expose(), SECRET);
    }

    #[test]
    fn token_debug_and_display_are_redacted() {
        let token = SecurityToken::new(TOKEN);
        assert!(!format!("{token:?}").contains(TOKEN));
        assert!(!format!("{token}").contains(TOKEN));
        assert_eq!(token.expose(), TOKEN);
    }

    #[test]
    fn credentials_debug_shows_only_key_id() {
        let credentials = Credentials::new("LTAI5tExampleKeyId", SECRET).with_security_token(TOKEN);
        let debug = format!("{credentials:?}");
        assert!(debug.contains("LTAI5tExampleKeyId"));
        assert!(!debug.contains(SECRET));
        assert!(!debug.contains(TOKEN));
    }
}
