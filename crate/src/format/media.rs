//! Media types from file names: what `meganet put` records for a file,
//! and what a published site serves each of its files as (the CLI's
//! `publish` and the page's "Publish a folder" alike, so a site is the
//! same whichever published it). Empty when unknown: the browser then
//! offers the file as a download only.

/// The media type for `name`'s extension (case-insensitive), or `""`.
pub fn type_for_name(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => return "",
    };
    match ext.as_str() {
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "webm" => "video/webm",
        "mp4" | "m4v" => "video/mp4",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "avif" => "image/avif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "xml" => "application/xml",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::type_for_name;

    #[test]
    fn types_from_extensions() {
        assert_eq!(type_for_name("long.WAV"), "audio/wav");
        assert_eq!(type_for_name("site/style.css"), "text/css");
        assert_eq!(type_for_name("index.htm"), "text/html; charset=utf-8");
        assert_eq!(type_for_name("notes"), "");
        assert_eq!(type_for_name(".css"), "");
        assert_eq!(type_for_name("archive.tar.xz"), "");
        for (name, mime) in [
            ("clip.webm", "video/webm"),
            ("old/INDEX.HTM", "text/html; charset=utf-8"),
            ("app.js", "text/javascript"),
            ("mod.mjs", "text/javascript"),
            ("f.woff", "font/woff"),
            ("f.woff2", "font/woff2"),
            ("favicon.ico", "image/x-icon"),
            ("photo.avif", "image/avif"),
            ("meganet_bg.wasm", "application/wasm"),
            ("feed.xml", "application/xml"),
            ("picture.bmp", "image/bmp"),
        ] {
            assert_eq!(type_for_name(name), mime, "{name}");
        }
    }
}
