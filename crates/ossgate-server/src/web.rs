//! The upload page: every file under the workspace's `web/` folder, embedded
//! at build time (see `build.rs`) and served with a content type guessed from
//! its extension. `/` serves `index.html`.

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// An embedded file.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    pub body: &'static [u8],
    pub content_type: &'static str,
}

/// Returns the file for a URL path, if one is embedded.
pub fn asset(path: &str) -> Option<Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    let (name, body) = ASSETS.iter().find(|(name, _)| *name == path)?;
    Some(Asset {
        body,
        content_type: content_type(name),
    })
}

/// Returns the content type for a file name, with `charset=utf-8` for text.
fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "txt" | "md" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => mime_guess::from_ext(extension)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("/logo.png"), "image/png");
        assert_eq!(content_type("/blob"), "application/octet-stream");
    }

    #[test]
    fn every_file_in_web_is_embedded() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let Ok(entries) = std::fs::read_dir(&web) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && !name.starts_with('.') && !name.ends_with('~') {
                let served = asset(&format!("/{name}")).map(|asset| asset.body.to_vec());
                assert_eq!(served, Some(std::fs::read(entry.path()).unwrap()), "{name}");
            }
        }
    }
}
