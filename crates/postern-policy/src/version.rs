//! OS versions normalized for comparison: numeric parts (missing parts are zero), then macOS's
//! Rapid Security Response letter ("14.5 (a)" > "14.5"). Windows is major.minor.build.UBR.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<u64>,
    rsr: Option<char>,
}

impl Version {
    /// Reads the leading dotted numbers: "6.1.0-18-amd64" → 6.1.0, "14.5 (a)" → 14.5 (a),
    /// "10.0.19045.4291" → 10.0.19045.4291.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let numeric: String = text
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Vec<u64> = numeric
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if parts.is_empty() {
            return None;
        }
        let rsr = text
            .split_once('(')
            .and_then(|(_, r)| r.chars().next())
            .filter(|c| c.is_ascii_lowercase());
        Some(Self { parts, rsr })
    }

    pub fn from_parts(parts: Vec<u64>) -> Self {
        Self { parts, rsr: None }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let (a, b) = (
                self.parts.get(i).unwrap_or(&0),
                other.parts.get(i).unwrap_or(&0),
            );
            match a.cmp(b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        self.rsr.cmp(&other.rsr)
    }
}

/// Equal when they compare equal: "14" is "14.0.0".
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dotted: Vec<String> = self.parts.iter().map(u64::to_string).collect();
        write!(f, "{}", dotted.join("."))?;
        if let Some(r) = self.rsr {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn comparisons_follow_each_os() {
        assert!(v("6.1.0-18-amd64") >= v("5.15"));
        assert!(v("5.10.0") < v("5.15"));
        assert!(v("14.5 (a)") > v("14.5"));
        assert!(v("14.5 (b)") > v("14.5 (a)"));
        assert!(v("14.6") > v("14.5 (c)"));
        assert!(v("10.0.19045.4291") >= v("10.0.19045.4000"));
        assert!(v("10.0.19045.3803") < v("10.0.19045.4000"));
        assert_eq!(v("14"), v("14.0.0"));
        assert_eq!(v("14.5 (a)").to_string(), "14.5 (a)");
        assert!(Version::parse("Ventura").is_none());
        assert!(Version::parse("").is_none());
    }
}
