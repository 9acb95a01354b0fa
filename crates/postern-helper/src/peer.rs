//! Who is on the other end of the socket: the kernel's answer (SO_PEERCRED / getpeereid), never
//! anything the client says.

use std::path::Path;

/// The policy: root always; members of one group; a few explicit uids.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    pub group_name: String,
    pub group_id: Option<u32>,
    pub allow_uids: Vec<u32>,
}

impl PeerPolicy {
    pub fn new(group_name: &str, allow_uids: Vec<u32>) -> Self {
        Self {
            group_name: group_name.to_string(),
            group_id: group_id(Path::new("/etc/group"), group_name),
            allow_uids,
        }
    }

    pub fn allows(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        if uid == 0 || self.allow_uids.contains(&uid) {
            return true;
        }
        let Some(group) = self.group_id else {
            return false;
        };
        gid == group || pid.is_some_and(|pid| supplementary_groups(pid).contains(&group))
    }
}

/// Looks a group up in a group(5) file.
pub fn group_id(file: &Path, name: &str) -> Option<u32> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|line| {
            let mut f = line.split(':');
            (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
        })
}

/// The peer's supplementary groups, from /proc (Linux); empty elsewhere.
fn supplementary_groups(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Groups:")).map(|g| {
                g.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_lookup_reads_group_files() {
        let dir = std::env::temp_dir().join(format!("pg-{}", std::process::id()));
        std::fs::write(&dir, "root:x:0:\npostern:x:990:alice,bob\n").unwrap();
        assert_eq!(group_id(&dir, "postern"), Some(990));
        assert_eq!(group_id(&dir, "nope"), None);
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn the_policy_admits_root_the_group_and_listed_uids_only() {
        let p = PeerPolicy {
            group_name: "postern".into(),
            group_id: Some(990),
            allow_uids: vec![1234],
        };
        assert!(p.allows(0, 0, None));
        assert!(p.allows(1000, 990, None));
        assert!(p.allows(1234, 100, None));
        assert!(!p.allows(65534, 65534, None));
        let no_group = PeerPolicy {
            group_id: None,
            ..p
        };
        assert!(!no_group.allows(1000, 990, None));
    }
}
