//! Form and presigned-URL authentication.
