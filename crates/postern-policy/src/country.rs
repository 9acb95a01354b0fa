//! Country of an address from a GeoLite2-class Country database (`.mmdb`), the same family AWS
//! WAF's geo match uses. Always an estimate.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, thiserror::Error)]
#[error("The country database {path} cannot be used: {detail}.")]
pub struct CountryError {
    pub path: String,
    pub detail: String,
}

impl postern_types::Problem for CountryError {
    fn exit_code(&self) -> postern_types::ExitCode {
        postern_types::ExitCode::BadInput
    }

    fn next_step(&self) -> String {
        "Tell your IT department: the country database named in Postern's policy is missing or damaged.".into()
    }
}

pub struct CountryDatabase {
    reader: maxminddb::Reader<Vec<u8>>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    iso_code: Option<&'a str>,
}

impl CountryDatabase {
    pub fn open(path: &Path) -> Result<Self, CountryError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| CountryError {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Ok(Self { reader })
    }

    pub fn country(&self, address: IpAddr) -> Option<String> {
        let found = self.reader.lookup(address).ok()?;
        let record: Record = found.decode().ok()??;
        record.country?.iso_code.map(str::to_string)
    }

    pub fn built(&self) -> String {
        OffsetDateTime::from_unix_timestamp(self.reader.metadata().build_epoch as i64)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// Writes a Country database mapping each network to its ISO code, for tests (ours and other
/// crates', through the `test-support` feature).
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::expect_used, reason = "a test helper: a failure is the test's")]
pub fn write_test_database(path: &Path, networks: &[(&str, &str)]) {
    use std::collections::BTreeMap;
    let mut w = mmdb_writer::Writer::new("GeoLite2-Country");
    for (network, code) in networks {
        let record =
            BTreeMap::from([("country", BTreeMap::from([("iso_code", code.to_string())]))]);
        w.insert(network.parse::<ipnet::IpNet>().expect("a network"), &record)
            .expect("insert");
    }
    std::fs::write(path, w.to_bytes().expect("an mmdb")).expect("write the database");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_come_from_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.mmdb");
        write_test_database(
            &path,
            &[
                ("203.0.113.0/24", "DE"),
                ("198.51.100.0/24", "FR"),
                ("2001:db8::/32", "JP"),
            ],
        );
        let db = CountryDatabase::open(&path).unwrap();
        assert_eq!(
            db.country("203.0.113.10".parse().unwrap()).as_deref(),
            Some("DE")
        );
        assert_eq!(
            db.country("198.51.100.10".parse().unwrap()).as_deref(),
            Some("FR")
        );
        assert_eq!(
            db.country("2001:db8::1".parse().unwrap()).as_deref(),
            Some("JP")
        );
        assert_eq!(db.country("8.8.8.8".parse().unwrap()), None);
        assert!(db.built().starts_with("20"), "{}", db.built());
    }

    #[test]
    fn a_missing_or_corrupt_database_is_an_error_not_a_crash() {
        assert!(CountryDatabase::open(Path::new("/nonexistent.mmdb")).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.mmdb");
        std::fs::write(&path, b"not a database at all").unwrap();
        let e = CountryDatabase::open(&path).err().unwrap();
        assert!(e.to_string().contains("cannot be used"));
    }
}
