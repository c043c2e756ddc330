//! Caller identification: `none` (everyone is `dev`), static bearer tokens,
//! or JWTs (HS256 or RS256, `sub` is the user id).
//!
//! The user id names the caller's upload directory, so it is also checked
//! for characters that would let it escape that directory.

use axum::http::{header, HeaderMap};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::{AuthConfig, JwtKey};
use crate::error::ApiError;

/// The user id of every caller when authentication is off.
pub const DEV_USER: &str = "dev";

/// Maximum length of a user id, in bytes.
const MAX_USER_ID_LEN: usize = 128;

/// Clock skew allowed between the JWT issuer and this server, in seconds: a
/// JWT is accepted until this long after its `exp` and from this long before
/// its `nbf`.
pub const JWT_LEEWAY_SECS: u64 = 30;

/// Identifies callers from their `Authorization` header.
pub enum Authenticator {
    None,
    Bearer(Vec<(Zeroizing<String>, String)>),
    Jwt {
        key: DecodingKey,
        validation: Box<Validation>,
    },
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
}

impl Authenticator {
    /// Builds the authenticator for validated settings.
    ///
    /// # Errors
    ///
    /// An RS256 key that does not parse (the settings check this already).
    pub fn new(config: &AuthConfig) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(match config {
            AuthConfig::None => Self::None,
            AuthConfig::Bearer { tokens } => Self::Bearer(tokens.clone()),
            AuthConfig::Jwt(jwt) => {
                let (key, algorithm) = match &jwt.key {
                    JwtKey::Hs256(secret) => (
                        DecodingKey::from_secret(secret.as_bytes()),
                        Algorithm::HS256,
                    ),
                    JwtKey::Rs256 { pem, .. } => {
                        (DecodingKey::from_rsa_pem(pem.as_bytes())?, Algorithm::RS256)
                    }
                };
                let mut validation = Validation::new(algorithm);
                validation.set_required_spec_claims(&["exp", "sub"]);
                validation.leeway = JWT_LEEWAY_SECS;
                validation.validate_nbf = true;
                if let Some(issuer) = &jwt.issuer {
                    validation.set_issuer(&[issuer]);
                }
                match &jwt.audience {
                    Some(audience) => validation.set_audience(&[audience]),
                    None => validation.validate_aud = false,
                }
                Self::Jwt {
                    key,
                    validation: Box::new(validation),
                }
            }
        })
    }

    /// Returns the caller's user id.
    ///
    /// # Errors
    ///
    /// [`ApiError::MissingToken`] without a bearer token, and
    /// [`ApiError::InvalidToken`] for an unknown token, a JWT that fails
    /// validation, or a user id that cannot name a directory.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let user = match self {
            Self::None => return Ok(DEV_USER.to_owned()),
            Self::Bearer(tokens) => {
                let presented = bearer_token(headers)?;
                // Every token is compared, in constant time, so the time taken
                // reveals nothing about which one nearly matched.
                let mut found = None;
                for (token, user) in tokens {
                    if bool::from(token.as_bytes().ct_eq(presented.as_bytes())) {
                        found = Some(user.clone());
                    }
                }
                found.ok_or_else(|| ApiError::InvalidToken("the token is not known".to_owned()))?
            }
            Self::Jwt { key, validation } => {
                let presented = bearer_token(headers)?;
                let data = jsonwebtoken::decode::<Claims>(presented, key, validation).map_err(
                    |error| {
                        tracing::debug!(%error, "JWT rejected");
                        ApiError::InvalidToken(jwt_error_message(&error, presented, validation))
                    },
                )?;
                data.claims
                    .sub
                    .ok_or_else(|| ApiError::InvalidToken("the JWT has no sub claim".to_owned()))?
            }
        };
        check_user_id(&user)?;
        Ok(user)
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?
        .to_str()
        .map_err(|_| ApiError::InvalidToken("the Authorization header is not ASCII".to_owned()))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::InvalidToken("expected \"Authorization: Bearer <token>\"".to_owned())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken(
            "expected \"Authorization: Bearer <token>\"".to_owned(),
        ));
    }
    Ok(token.trim())
}

/// Explains in plain words why a JWT failed validation. The library's own
/// messages name its error variants and serde's internals, so they go to the
/// debug log only.
fn jwt_error_message(
    error: &jsonwebtoken::errors::Error,
    token: &str,
    validation: &Validation,
) -> String {
    use jsonwebtoken::errors::ErrorKind;

    let algorithm = match validation.algorithms.first() {
        Some(algorithm) => format!("{algorithm:?}"),
        None => "the configured algorithm".to_owned(),
    };
    match error.kind() {
        ErrorKind::InvalidToken => {
            "the token is not a JWT: expected three base64url parts separated by dots".to_owned()
        }
        ErrorKind::InvalidAlgorithm => format!("the JWT's alg header must be {algorithm}"),
        ErrorKind::InvalidSignature => {
            "the JWT's signature does not match the server's JWT key".to_owned()
        }
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => {
            "the JWT has no exp claim or it is not a number".to_owned()
        }
        ErrorKind::MissingRequiredClaim(claim) if claim == "sub" => {
            "the JWT has no sub claim or it is not a string".to_owned()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("the JWT has no valid {claim} claim"),
        ErrorKind::ExpiredSignature => match claim_time(token, "exp") {
            Some(time) => format!(
                "the JWT expired at {time}, more than {JWT_LEEWAY_SECS} seconds ago; \
                 get a new token"
            ),
            None => "the JWT has expired; get a new token".to_owned(),
        },
        ErrorKind::ImmatureSignature => {
            let time = claim_time(token, "nbf").unwrap_or_else(|| "a later time".to_owned());
            format!(
                "the JWT is not valid before {time} (its nbf claim, with {JWT_LEEWAY_SECS} \
                 seconds of leeway); check the clocks of the issuer and this server"
            )
        }
        ErrorKind::InvalidIssuer => match &validation.iss {
            Some(issuers) => format!("the JWT's iss claim must be {:?}", sorted(issuers)),
            None => "the JWT's iss claim is not accepted".to_owned(),
        },
        ErrorKind::InvalidAudience => match &validation.aud {
            Some(audiences) => format!("the JWT's aud claim must contain {:?}", sorted(audiences)),
            None => "the JWT has an aud claim, and this server expects none".to_owned(),
        },
        ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            match header_field(token, "alg") {
                Some(alg) if alg != serde_json::Value::String(algorithm.clone()) => {
                    format!("the JWT's alg header must be {algorithm}, not {alg}")
                }
                _ => "the JWT's header or claims are not base64url-encoded JSON".to_owned(),
            }
        }
        _ => "the JWT could not be verified with the server's JWT key".to_owned(),
    }
}

/// Joins a set of accepted claim values in a stable order.
fn sorted(values: &std::collections::HashSet<String>) -> String {
    let mut values: Vec<&str> = values.iter().map(String::as_str).collect();
    values.sort_unstable();
    values.join(" or ")
}

/// Decodes one part of a JWT (0 for the header, 1 for the claims) as a JSON
/// object, without checking anything. Only error messages use it.
fn jwt_part(token: &str, index: usize) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine as _;

    let part = token.split('.').nth(index)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Returns a header field of the JWT, or `null` when the header is a JSON
/// object without it.
fn header_field(token: &str, name: &str) -> Option<serde_json::Value> {
    let header = jwt_part(token, 0)?;
    Some(header.get(name).cloned().unwrap_or(serde_json::Value::Null))
}

/// Formats a numeric date claim of the JWT in RFC 3339.
fn claim_time(token: &str, claim: &str) -> Option<String> {
    let seconds = jwt_part(token, 1)?.get(claim)?.as_f64()?;
    let time = chrono::DateTime::from_timestamp(seconds as i64, 0)?;
    Some(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Accepts user ids that are safe as one directory level: letters, digits and
/// `-_.@+|:`, not `.` or `..`, at most 128 bytes.
fn check_user_id(user: &str) -> Result<(), ApiError> {
    if user == "." || user == ".." {
        return Err(ApiError::InvalidToken(format!(
            "the user id {user:?} cannot name an upload directory: as a path segment it would \
             refer to the current or parent directory, outside the user's own"
        )));
    }
    let safe = !user.is_empty()
        && user.len() <= MAX_USER_ID_LEN
        && user
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.@+|:".contains(&byte));
    if safe {
        Ok(())
    } else {
        Err(ApiError::InvalidToken(format!(
            "the user id {user:?} cannot name an upload directory: use 1 to 128 letters, \
             digits and -_.@+|: only"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JwtConfig;
    use axum::http::HeaderValue;
    use jsonwebtoken::{encode, EncodingKey, Header};

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    fn bearer() -> Authenticator {
        Authenticator::new(&AuthConfig::Bearer {
            tokens: vec![
                (
                    Zeroizing::new("alice-token-0123456789".into()),
                    "alice".into(),
                ),
                (
                    Zeroizing::new("bob-token-0123456789ab".into()),
                    "bob".into(),
                ),
            ],
        })
        .unwrap()
    }

    #[test]
    fn none_mode_is_the_dev_user() {
        let user = Authenticator::None.authenticate(&HeaderMap::new()).unwrap();
        assert_eq!(user, DEV_USER);
    }

    #[test]
    fn bearer_token_maps_to_its_user() {
        let user = bearer()
            .authenticate(&headers("Bearer bob-token-0123456789ab"))
            .unwrap();
        assert_eq!(user, "bob");
    }

    #[test]
    fn bearer_rejects_missing_and_unknown_tokens() {
        let auth = bearer();
        assert!(matches!(
            auth.authenticate(&HeaderMap::new()),
            Err(ApiError::MissingToken)
        ));
        assert!(matches!(
            auth.authenticate(&headers("Bearer alice-token-012345678")),
            Err(ApiError::InvalidToken(_))
        ));
        assert!(matches!(
            auth.authenticate(&headers("Basic alice-token-0123456789")),
            Err(ApiError::InvalidToken(_))
        ));
    }

    fn jwt(secret: &str) -> Authenticator {
        Authenticator::new(&AuthConfig::Jwt(JwtConfig {
            key: JwtKey::Hs256(Zeroizing::new(secret.into())),
            issuer: Some("https://issuer.example.com".into()),
            audience: None,
        }))
        .unwrap()
    }

    fn token(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn jwt_sub_is_the_user() {
        let secret = "a-jwt-secret-of-at-least-32-chars!!";
        let claims = serde_json::json!({
            "sub": "carol", "exp": chrono::Utc::now().timestamp() + 60,
            "iss": "https://issuer.example.com"
        });
        let user = jwt(secret)
            .authenticate(&headers(&format!("Bearer {}", token(secret, claims))))
            .unwrap();
        assert_eq!(user, "carol");
    }

    #[test]
    fn jwt_rejects_wrong_key_expiry_and_issuer() {
        let secret = "a-jwt-secret-of-at-least-32-chars!!";
        let auth = jwt(secret);
        let now = chrono::Utc::now().timestamp();
        let cases = [
            token(
                "another-secret-of-at-least-32-chars",
                serde_json::json!({
                "sub": "carol", "exp": now + 60, "iss": "https://issuer.example.com"}),
            ),
            token(
                secret,
                serde_json::json!({
                "sub": "carol", "exp": now - 120, "iss": "https://issuer.example.com"}),
            ),
            token(
                secret,
                serde_json::json!({
                "sub": "carol", "exp": now + 60, "iss": "https://other.example.com"}),
            ),
            token(
                secret,
                serde_json::json!({"exp": now + 60, "iss": "https://issuer.example.com"}),
            ),
            token(
                secret,
                serde_json::json!({
                "sub": "../x", "exp": now + 60, "iss": "https://issuer.example.com"}),
            ),
            token(
                secret,
                serde_json::json!({
                "sub": "carol", "exp": now + 600, "nbf": now + 300,
                "iss": "https://issuer.example.com"}),
            ),
        ];
        for case in cases {
            let result = auth.authenticate(&headers(&format!("Bearer {case}")));
            assert!(matches!(result, Err(ApiError::InvalidToken(_))), "{case}");
        }
    }

    #[test]
    fn jwt_rs256_checks_the_public_key() {
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ossgate-protocol/tests/vectors/keys");
        let public_path = keys.join("callback_public_spki.pem");
        let auth = Authenticator::new(&AuthConfig::Jwt(JwtConfig {
            key: JwtKey::Rs256 {
                pem: std::fs::read_to_string(&public_path).unwrap(),
                path: public_path,
            },
            issuer: None,
            audience: Some("ossgate".into()),
        }))
        .unwrap();
        let private = std::fs::read(keys.join("callback_private_pkcs1.pem")).unwrap();
        let claims = serde_json::json!({
            "sub": "dave", "aud": "ossgate", "exp": chrono::Utc::now().timestamp() + 60
        });
        let signed = encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(&private).unwrap(),
        )
        .unwrap();
        let user = auth
            .authenticate(&headers(&format!("Bearer {signed}")))
            .unwrap();
        assert_eq!(user, "dave");

        // An HS256 token must not pass as RS256, whatever its secret.
        let hs256 = token("any-secret-of-at-least-32-characters", claims);
        let message = rejection_message(&auth, &hs256);
        assert_eq!(message, "the JWT's alg header must be RS256");
    }

    /// Returns the message of an `InvalidToken` rejection, and panics on any
    /// other result.
    fn rejection_message(auth: &Authenticator, token: &str) -> String {
        match auth.authenticate(&headers(&format!("Bearer {token}"))) {
            Err(ApiError::InvalidToken(message)) => message,
            Err(other) => panic!("expected InvalidToken, got {other:?}"),
            Ok(user) => panic!("expected InvalidToken, got the user {user:?}"),
        }
    }

    /// Builds a JWT with the given header and claims and an empty signature.
    fn unsigned_token(header: serde_json::Value, claims: serde_json::Value) -> String {
        use base64::Engine as _;
        let encode = |value: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!("{}.{}.", encode(header), encode(claims))
    }

    #[test]
    fn jwt_rejections_explain_the_cause() {
        let secret = "a-jwt-secret-of-at-least-32-chars!!";
        let auth = jwt(secret);
        let now = chrono::Utc::now().timestamp();
        let issuer = "https://issuer.example.com";
        let expired_at = now - 120;
        let expired_text = chrono::DateTime::from_timestamp(expired_at, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let cases = [
            (
                token(
                    secret,
                    serde_json::json!({"sub": "carol", "exp": expired_at, "iss": issuer}),
                ),
                format!("the JWT expired at {expired_text}, more than 30 seconds ago"),
            ),
            (
                unsigned_token(
                    serde_json::json!({"alg": "none", "typ": "JWT"}),
                    serde_json::json!({"sub": "carol", "exp": now + 60, "iss": issuer}),
                ),
                "the JWT's alg header must be HS256, not \"none\"".to_owned(),
            ),
            (
                token(secret, serde_json::json!({"sub": "carol", "iss": issuer})),
                "the JWT has no exp claim or it is not a number".to_owned(),
            ),
            (
                token(
                    secret,
                    serde_json::json!({"sub": "carol", "exp": "tomorrow", "iss": issuer}),
                ),
                "the JWT has no exp claim or it is not a number".to_owned(),
            ),
            (
                token(secret, serde_json::json!({"exp": now + 60, "iss": issuer})),
                "the JWT has no sub claim or it is not a string".to_owned(),
            ),
            (
                token(
                    secret,
                    serde_json::json!({"sub": "carol", "exp": now + 60, "iss": "https://other"}),
                ),
                format!("the JWT's iss claim must be \"{issuer}\""),
            ),
            (
                token(
                    secret,
                    serde_json::json!({
                        "sub": "carol", "exp": now + 600, "nbf": now + 300, "iss": issuer}),
                ),
                "the JWT is not valid before".to_owned(),
            ),
            (
                token(
                    "another-secret-of-at-least-32-chars",
                    serde_json::json!({"sub": "carol", "exp": now + 60, "iss": issuer}),
                ),
                "the JWT's signature does not match the server's JWT key".to_owned(),
            ),
            ("not-a-jwt".to_owned(), "the token is not a JWT".to_owned()),
        ];
        for (case, expected) in cases {
            let message = rejection_message(&auth, &case);
            assert!(
                message.contains(&expected),
                "{message:?} lacks {expected:?}"
            );
            for internal in [
                "ExpiredSignature",
                "JSON error",
                "Missing required claim",
                "variant",
            ] {
                assert!(
                    !message.contains(internal),
                    "{message:?} shows {internal:?}"
                );
            }
        }
    }

    #[test]
    fn user_ids_that_are_dot_segments_say_why() {
        for user in [".", ".."] {
            let message = match check_user_id(user) {
                Err(ApiError::InvalidToken(message)) => message,
                other => panic!("{user:?}: expected InvalidToken, got {other:?}"),
            };
            assert!(message.contains("parent directory"), "{message}");
            assert!(!message.contains("use 1 to 128 letters"), "{message}");
        }
    }

    #[test]
    fn user_ids_that_escape_a_directory_are_rejected() {
        for user in ["", ".", "..", "a/b", "a b", "x\u{e9}"] {
            assert!(check_user_id(user).is_err(), "{user:?}");
        }
        for user in ["alice", "auth0|1234", "user@example.com", "a.b"] {
            assert!(check_user_id(user).is_ok(), "{user:?}");
        }
    }
}
