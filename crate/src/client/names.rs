//! Names from the command line (docs/FORMAT.md, "Names"): the publisher's
//! key file, finding a name's newest record through the nodes (Kademlia
//! GET_VALUE) and putting a new one on every node this client knows
//! (PUT_VALUE), then reading it back, since a node answers a PUT the same
//! whether it kept the record or refused it.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context};
use libp2p::kad;

use super::Client;
use crate::format::{Link, NameKey, NameLink, NameRecord, PublisherKey};

/// The name key in `path`, made (mode 0600) if there is no file there;
/// `true` when it was made. An existing file is never replaced.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<(NameKey, bool)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let key = NameKey::random();
            let written = file
                .write_all(key.to_text().as_bytes())
                .and_then(|()| file.sync_all());
            if let Err(e) = written {
                let _ = std::fs::remove_file(path);
                return Err(e).with_context(|| format!("cannot write {}", path.display()));
            }
            Ok((key, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the name key {}", path.display()))?;
            let key = NameKey::from_text(&text)
                .with_context(|| format!("{} is not a meganet name key", path.display()))?;
            Ok((key, false))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `ms` (unix milliseconds) as `2026-12-07T01:02:03Z`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Client {
    /// The newest valid record of the name `publisher` any node holds.
    pub async fn name_record(
        &mut self,
        publisher: &PublisherKey,
    ) -> anyhow::Result<Option<(NameRecord, Vec<u8>)>> {
        let values = self.get_values(publisher).await?;
        let (best, refused) = NameRecord::newest(publisher, &values, now_ms());
        if refused > 0 {
            tracing::warn!(refused, "the nodes sent name records that do not verify");
        }
        Ok(best)
    }

    /// Resolves a name link: its newest record and the site link in it.
    pub async fn resolve(&mut self, name: &NameLink) -> anyhow::Result<(NameRecord, Link)> {
        let (record, _) = self
            .name_record(&name.publisher)
            .await?
            .with_context(|| {
                format!(
                    "no node has a record of the name {}: it was never published, or the nodes that held it restarted",
                    name.publisher.short()
                )
            })?;
        let link = record.open(&name.read)?;
        Ok((record, link))
    }

    /// Points the name `key` at `site`: one version above the newest the
    /// nodes hold (or 1), put on every node this client knows, then read
    /// back. Returns the version.
    pub async fn publish_name(&mut self, key: &NameKey, site: &Link) -> anyhow::Result<u64> {
        let publisher = key.publisher();
        let found = self.name_record(&publisher).await?;
        let sequence = found.map_or(1, |(record, _)| record.sequence + 1);
        let record = key.sign(sequence, now_ms(), site);
        self.put_value(&publisher, record.clone()).await?;
        let held = self.name_record(&publisher).await?;
        match NameRecord::check_published(held.as_ref(), &record, sequence) {
            Ok(()) => Ok(sequence),
            Err(why) => bail!("{why}"),
        }
    }

    /// Every value the nodes hold under the name's DHT key.
    async fn get_values(&mut self, publisher: &PublisherKey) -> anyhow::Result<Vec<Vec<u8>>> {
        let key = kad::RecordKey::new(&publisher.dht_key().0);
        let id = self.swarm.behaviour_mut().kad.get_record(key);
        let mut values = Vec::new();
        self.query(id, "the name lookup", |result| {
            if let kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(found))) = result {
                values.push(found.record.value);
            }
        })
        .await?;
        Ok(values)
    }

    /// PUT_VALUE of `value` under the name's DHT key to every known node,
    /// as it is: the nodes decide whether to keep it (a test sends forged
    /// and replayed records through this).
    pub async fn put_value(
        &mut self,
        publisher: &PublisherKey,
        value: Vec<u8>,
    ) -> anyhow::Result<()> {
        let record = kad::Record {
            key: kad::RecordKey::new(&publisher.dht_key().0),
            value,
            publisher: None,
            // Sent without a TTL: each node keeps it as its own rules say.
            expires: None,
        };
        let nodes = self.node_ids();
        let kad = &mut self.swarm.behaviour_mut().kad;
        let id = kad.put_record_to(record, nodes.into_iter(), kad::Quorum::All);
        let mut last = None;
        self.query(id, "putting the name record", |result| {
            if let kad::QueryResult::PutRecord(result) = result {
                last = Some(result);
            }
        })
        .await?;
        match last.context("the put of the name record ended without a result")? {
            Ok(_) => Ok(()),
            // Some node did not answer: the read back says whether any kept it.
            Err(kad::PutRecordError::QuorumFailed { success, .. }) if !success.is_empty() => {
                tracing::warn!(
                    stored = success.len(),
                    "not every node took the name record"
                );
                Ok(())
            }
            Err(e) => Err(e).context("no node took the name record"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ReadKey;
    use crate::hash::Hash;
    use crate::temp_dir::TempDir;

    fn site(n: u8) -> Link {
        Link {
            version: 2,
            manifest: Hash([n; 32]),
            key: crate::format::FileKey([n; 32]),
        }
    }

    #[test]
    fn a_key_file_is_made_once_private_and_then_read() {
        let dir = TempDir::new("name-key");
        std::fs::create_dir_all(dir.path()).unwrap();
        let path = dir.path().join("site.key");
        let (made, created) = load_or_create_key(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (read, created) = load_or_create_key(&path).unwrap();
        assert!(!created);
        assert_eq!(read.publisher(), made.publisher());
        assert_eq!(read.read, made.read);
        std::fs::write(&path, "not a key").unwrap();
        let err = format!("{:#}", load_or_create_key(&path).unwrap_err());
        assert!(err.contains("is not a meganet name key"), "{err}");
    }

    #[test]
    fn the_newest_valid_record_of_the_name_wins() {
        let key = NameKey::from_parts([1; 32], ReadKey([2; 32]));
        let thief = NameKey::from_parts([3; 32], ReadKey([2; 32]));
        let now = now_ms();
        let one = key.sign(1, now, &site(1));
        let three = key.sign(3, now, &site(3));
        let mut forged = thief.sign(9, now, &site(9));
        forged[5..37].copy_from_slice(&key.publisher().0);
        let values = vec![
            one.clone(),
            forged,
            thief.sign(8, now, &site(8)),
            three,
            b"x".to_vec(),
        ];
        let (best, refused) = NameRecord::newest(&key.publisher(), &values, now);
        let (record, bytes) = best.unwrap();
        assert_eq!(record.sequence, 3);
        assert_eq!(record.open(&key.read).unwrap(), site(3));
        assert_eq!(refused, 3);
        assert_ne!(bytes, one);
        assert!(NameRecord::newest(&key.publisher(), &[], now).0.is_none());
    }

    #[test]
    fn times_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_601_600_000), "2026-12-07T00:00:00Z");
        assert_eq!(utc(951_782_400_000 + 3_723_000), "2000-02-29T01:02:03Z");
    }
}
