//! `meganet publish DIR`: a folder as a site (docs/FORMAT.md, "Sites: the
//! directory document"). [`site_files`] walks the folder and checks every
//! rule and cap of the format before anything leaves the machine;
//! [`Client::publish`] then stores each file as an ordinary file and,
//! last, the directory document listing them, whose link is the site's.
//!
//! Only regular files are published, and none whose name (or folder's)
//! starts with a dot: `.git` or `.env` in a site's folder is a secret
//! far more often than a page. Symbolic links and special files are
//! skipped, never followed, so nothing outside the folder is published,
//! even if a file is swapped for a link while publishing (checked on Unix).

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{guess_type, Client, OnProgress};
use crate::format::{
    check_site_path, parse_site, FileKey, Link, Site, SiteEntry, MAX_SITE_DEPTH, MAX_SITE_DOCUMENT,
    MAX_SITE_ENTRIES, SITE_INDEX, SITE_TYPE,
};
use crate::hash::Hash;
use crate::transfer;

/// The name the directory document is stored under.
pub const SITE_DOCUMENT_NAME: &str = "site.json";

/// A file found in the folder, to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    /// Its path in the site (relative, `/` between folders).
    pub path: String,
    /// Where it is on this machine.
    pub local: PathBuf,
    /// Its size when the folder was read.
    pub size: u64,
    /// The media type it will be served with ([`guess_type`]).
    pub mime: &'static str,
    /// Device and inode when the folder was read (Unix), to notice a file
    /// replaced (by a link, say) before it is read.
    id: Option<(u64, u64)>,
}

/// Every regular file under `dir`, sorted by path, checked against the
/// format's rules and caps (including the size of the document they
/// would make and the `index.html` it needs). `skipped(path, why)` is told
/// of each symbolic link and special file left out. A name that is not
/// UTF-8 or that the format refuses is an error naming the file.
pub fn site_files(
    dir: &Path,
    skipped: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<Vec<SiteFile>> {
    let mut files = Vec::new();
    walk(dir, "", 0, &mut files, skipped)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if !files.iter().any(|f| f.path == SITE_INDEX) {
        bail!(
            "{} has no {SITE_INDEX} at its root: a site opens on it",
            dir.display()
        );
    }
    // The document as it will be, links aside (they all have one length).
    let placeholder = Link {
        version: crate::format::VERSION,
        manifest: Hash([0; 32]),
        key: FileKey([0; 32]),
    };
    let entries = files.iter().map(|f| SiteEntry {
        path: f.path.clone(),
        link: placeholder.clone(),
        size: f.size,
        mime: f.mime.to_owned(),
    });
    Site::new(SITE_INDEX.into(), entries.collect())
        .with_context(|| format!("cannot publish {}", dir.display()))?;
    Ok(files)
}

/// Adds the files under `dir` (the site's folder `prefix`, `depth` deep).
fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<SiteFile>,
    skipped: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<()> {
    let listing =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut found = Vec::new();
    for entry in listing {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        found.push(entry);
    }
    found.sort_by_key(|e| e.file_name());
    for entry in found {
        let local = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            let lossy = entry.file_name().to_string_lossy().into_owned();
            bail!(
                "cannot publish {}: its name is not valid UTF-8",
                shown(&format!("{prefix}{lossy}"))
            );
        };
        let path = format!("{prefix}{name}");
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", local.display()))?;
        if name.starts_with('.') {
            skipped(
                &shown(&path),
                "hidden (a name starting with a dot, such as .git or .env)",
            );
        } else if kind.is_symlink() {
            skipped(&shown(&path), "a symbolic link (never followed)");
        } else if kind.is_dir() {
            if depth + 1 >= MAX_SITE_DEPTH {
                bail!(
                    "cannot publish {}: folders nest deeper than {MAX_SITE_DEPTH} levels",
                    shown(&path)
                );
            }
            walk(&local, &format!("{path}/"), depth + 1, out, skipped)?;
        } else if kind.is_file() {
            check_site_path(&path).with_context(|| format!("cannot publish {}", shown(&path)))?;
            if out.len() == MAX_SITE_ENTRIES {
                bail!("cannot publish more than {MAX_SITE_ENTRIES} files as one site");
            }
            let meta = entry
                .metadata()
                .with_context(|| format!("cannot read {}", local.display()))?;
            out.push(SiteFile {
                mime: guess_type(&local),
                size: meta.len(),
                id: file_id(&meta),
                path,
                local,
            });
        } else {
            skipped(&shown(&path), "not a regular file");
        }
    }
    Ok(())
}

/// A path as messages show it: quoted and escaped when it holds a control
/// character (a name could otherwise write to the terminal).
fn shown(path: &str) -> String {
    if path.chars().any(char::is_control) {
        format!("{path:?}")
    } else {
        path.to_owned()
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// A reader that counts what it reads: the size a site lists is what was
/// stored, even if the file changed since the folder was read.
struct Counting<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl Client {
    /// Stores every file of `files` ([`site_files`]), then the directory
    /// document listing them; returns the site's link (the document's).
    /// `on_file(i, file)` is called before the `i`th file (from 1) is
    /// stored, `progress` as each one's bytes go out.
    pub async fn publish(
        &mut self,
        files: &[SiteFile],
        on_file: &dyn Fn(usize, &SiteFile),
        progress: OnProgress<'_>,
    ) -> anyhow::Result<Link> {
        let mut entries = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            on_file(i + 1, file);
            let opened = std::fs::File::open(&file.local)
                .with_context(|| format!("cannot open {}", file.local.display()))?;
            let meta = opened.metadata()?;
            if !meta.is_file() || file_id(&meta) != file.id {
                bail!("{} changed while publishing: run publish again", file.path);
            }
            let read = Cell::new(0);
            let counting = Counting {
                inner: std::io::BufReader::new(opened),
                read: &read,
            };
            let input = transfer::Input {
                name: file.path.rsplit('/').next().unwrap_or_default().to_owned(),
                mime: file.mime.to_owned(),
                total: meta.len(),
            };
            let reader = futures::io::AllowStdIo::new(counting);
            let link = self.put_reader(reader, &input, progress).await?;
            entries.push(SiteEntry {
                path: file.path.clone(),
                link,
                size: read.get(),
                mime: file.mime.to_owned(),
            });
        }
        let site = Site::new(SITE_INDEX.into(), entries)?;
        let document = site.to_json();
        let input = transfer::Input {
            name: SITE_DOCUMENT_NAME.into(),
            mime: SITE_TYPE.into(),
            total: document.len() as u64,
        };
        let reader = futures::io::Cursor::new(document);
        self.put_reader(reader, &input, progress).await
    }

    /// The directory document `link` names, when it names one (its media
    /// type is the site type); `None` for any other file. Read whole, up
    /// to the document cap.
    pub async fn site_document(&mut self, link: &Link) -> anyhow::Result<Option<Site>> {
        let source = super::Remote::new(self, Some(link.provider_key()));
        let config = transfer::Config::default();
        let mut getter = transfer::Getter::open(source, link, None, config, None).await?;
        let manifest = getter.manifest();
        if manifest.mime != SITE_TYPE {
            return Ok(None);
        }
        if manifest.size > MAX_SITE_DOCUMENT as u64 {
            bail!(
                "the site's document is {} bytes; the limit is {MAX_SITE_DOCUMENT}",
                manifest.size
            );
        }
        let mut bytes = Vec::with_capacity(manifest.size as usize);
        while let Some(chunk) = getter.next().await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(parse_site(&bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    fn folder(files: &[&str]) -> TempDir {
        let dir = TempDir::new("publish");
        for f in files {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, f.as_bytes()).unwrap();
        }
        dir
    }

    fn walk(dir: &TempDir) -> (anyhow::Result<Vec<SiteFile>>, Vec<String>) {
        let mut skipped = Vec::new();
        let files = site_files(dir.path(), &mut |p, why| {
            skipped.push(format!("{p}: {why}"))
        });
        (files, skipped)
    }

    #[test]
    fn a_folder_becomes_sorted_typed_paths() {
        let dir = folder(&["index.html", "img/cat.png", "about/index.html", "a b/é.css"]);
        let files = walk(&dir).0.unwrap();
        let got: Vec<_> = files
            .iter()
            .map(|f| (f.path.as_str(), f.mime, f.size))
            .collect();
        assert_eq!(
            got,
            [
                ("a b/é.css", "text/css", 10),
                ("about/index.html", "text/html; charset=utf-8", 16),
                ("img/cat.png", "image/png", 11),
                ("index.html", "text/html; charset=utf-8", 10),
            ]
        );
        assert_eq!(files[2].local, dir.path().join("img").join("cat.png"));
    }

    #[test]
    fn no_index_no_site() {
        let dir = folder(&["about/index.html", "page.html"]);
        let err = format!("{:#}", walk(&dir).0.unwrap_err());
        assert!(err.contains("has no index.html at its root"), "{err}");
    }

    #[test]
    fn names_the_format_refuses_fail_before_anything_is_stored() {
        let dir = folder(&["index.html", "a\\b.html"]);
        let err = format!("{:#}", walk(&dir).0.unwrap_err());
        assert!(err.contains("cannot publish a\\b.html"), "{err}");
        assert!(err.contains("backslash"), "{err}");

        let dir = folder(&["index.html", "line\nbreak.html"]);
        let err = format!("{:#}", walk(&dir).0.unwrap_err());
        assert!(
            err.contains(r#"cannot publish "line\nbreak.html""#),
            "{err}"
        );
        assert!(err.contains("control character"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_special_files_are_skipped_and_bad_names_refused() {
        use std::os::unix::ffi::OsStrExt;
        let outside = folder(&["secret.txt"]);
        let dir = folder(&["index.html", "sub/page.html", ".env", ".git/config"]);
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("s.txt"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub/out")).unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let (files, skipped) = walk(&dir);
        let paths: Vec<_> = files.unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, ["index.html", "sub/page.html"]);
        let hidden = ": hidden (a name starting with a dot, such as .git or .env)";
        let mut expected = vec![
            format!(".env{hidden}"),
            format!(".git{hidden}"),
            "s.txt: a symbolic link (never followed)".to_owned(),
            "sub/out: a symbolic link (never followed)".to_owned(),
        ];
        if made.is_ok_and(|s| s.success()) {
            expected.insert(2, "pipe: not a regular file".to_owned());
        }
        assert_eq!(skipped, expected);

        let name = std::ffi::OsStr::from_bytes(b"bad\xff.html");
        std::fs::write(dir.path().join(name), b"x").unwrap();
        let err = format!("{:#}", walk(&dir).0.unwrap_err());
        assert!(err.contains("is not valid UTF-8"), "{err}");
        assert!(err.contains("bad\u{fffd}.html"), "{err}");
    }
}
