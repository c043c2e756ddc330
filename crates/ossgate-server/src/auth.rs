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
                validation.leeway = 30;
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
                    |error| ApiError::InvalidToken(format!("the JWT is invalid: {error}")),
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

/// Accepts user ids that are safe as one directory level: letters, digits and
/// `-_.@+|:`, not `.` or `..`, at most 128 bytes.
fn check_user_id(user: &str) -> Result<(), ApiError> {
    let safe = !user.is_empty()
        && user.len() <= MAX_USER_ID_LEN
        && user != "."
        && user != ".."
        && user
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.@+|:".contains(&byte));
    if safe {
        Ok(())
    } else {
        Err(ApiError::InvalidToken(format!(
            "the user id {user:?} cannot name an upload directory: use letters, digits and -_.@+|: only"
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
        let result = auth.authenticate(&headers(&format!("Bearer {hs256}")));
        assert!(matches!(result, Err(ApiError::InvalidToken(_))));
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
