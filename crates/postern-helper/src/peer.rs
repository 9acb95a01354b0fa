//! Who may drive the helper: decided on the OS's word for the peer (`postern_ipc::peer`), never
//! on anything the client says.

use postern_ipc::peer::{GroupId, Peer, UserId};

/// The policy: the machine's administrators always (root; on Windows SYSTEM and enabled
/// members of Administrators); members of one group; a few explicit users.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    pub group_name: String,
    pub group: Option<GroupId>,
    pub allow_users: Vec<UserId>,
}

impl PeerPolicy {
    /// The group is looked up in the system's database (files, NSS, Directory Services, or the
    /// Windows account database); a missing group admits administrators only.
    pub fn new(group_name: &str, allow_users: Vec<UserId>) -> Self {
        #[cfg(unix)]
        let group = postern_ipc::peer::group_named(group_name);
        #[cfg(windows)]
        let group = postern_ipc::pipe::group_sid(group_name);
        Self {
            group_name: group_name.to_string(),
            group,
            allow_users,
        }
    }

    pub fn allows(&self, peer: &Peer) -> bool {
        self.allows_with(peer, user_groups)
    }

    /// The decision, given where a user's current memberships come from: the peer's own groups
    /// (what its process held when it connected) or the system's database now (a membership
    /// granted since the user logged in, a Directory Services or LDAP group).
    fn allows_with(&self, peer: &Peer, memberships: impl FnOnce(&UserId) -> Vec<GroupId>) -> bool {
        if is_administrator(peer) || self.allow_users.contains(&peer.user) {
            return true;
        }
        let Some(group) = &self.group else {
            return false;
        };
        peer.is_in(group) || memberships(&peer.user).contains(group)
    }
}

#[cfg(unix)]
fn user_groups(user: &UserId) -> Vec<GroupId> {
    postern_ipc::peer::user_groups(*user)
}

/// On Windows the token's groups are the system's answer (nested and domain groups included).
#[cfg(windows)]
fn user_groups(_user: &UserId) -> Vec<GroupId> {
    Vec::new()
}

#[cfg(unix)]
pub fn is_administrator(peer: &Peer) -> bool {
    peer.user == 0
}

#[cfg(windows)]
pub fn is_administrator(peer: &Peer) -> bool {
    use postern_ipc::pipe::{ADMINISTRATORS, SYSTEM};
    peer.user == SYSTEM || peer.is_in(&ADMINISTRATORS.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn id(n: u32) -> u32 {
        n
    }
    #[cfg(windows)]
    fn id(n: u32) -> String {
        format!("S-1-5-21-7-7-7-{n}")
    }

    fn peer(user: UserId, groups: Vec<GroupId>) -> Peer {
        Peer {
            user,
            groups,
            pid: Some(7),
        }
    }

    #[test]
    fn the_policy_admits_administrators_the_group_and_listed_users_only() {
        let p = PeerPolicy {
            group_name: "postern".into(),
            group: Some(id(990)),
            allow_users: vec![id(1234)],
        };
        #[cfg(unix)]
        assert!(p.allows(&peer(0, vec![0])));
        #[cfg(windows)]
        {
            use postern_ipc::pipe::{ADMINISTRATORS, SYSTEM};
            assert!(p.allows(&peer(SYSTEM.into(), vec![])));
            assert!(p.allows(&peer(id(1001), vec![ADMINISTRATORS.into()])));
        }
        assert!(
            p.allows(&peer(id(1000), vec![id(100), id(990)])),
            "a supplementary group"
        );
        assert!(p.allows(&peer(id(1234), vec![id(100)])));
        assert!(!p.allows(&peer(id(65534), vec![id(65534)])));
        let no_group = PeerPolicy { group: None, ..p };
        assert!(!no_group.allows(&peer(id(1000), vec![id(990)])));
    }
}
