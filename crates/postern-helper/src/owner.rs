//! Whose tunnel it is. The user comes from the OS's record of the connection that asked for
//! the tunnel (peer credentials, or the pipe client's token), never from anything a client
//! says; only that user, or an administrator, may control the tunnel, answer its sign-in, or
//! read its log and history. Everyone the peer policy admits may see that the helper is busy.

use postern_ipc::peer::{Peer, UserId};
use postern_types::tunnel::TunnelState;

use crate::peer::is_administrator;

/// Who is asking, as far as ownership goes: the user, and whether they administer the machine
/// (root; SYSTEM or an enabled member of Administrators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub administrator: bool,
}

impl Caller {
    pub fn of(peer: Peer) -> Self {
        Self {
            administrator: is_administrator(&peer),
            user: peer.user,
        }
    }

    /// The helper itself (ending the tunnel when it stops).
    pub fn helper() -> Self {
        Self {
            user: UserId::default(),
            administrator: true,
        }
    }
}

/// Who asked for the current (or last) tunnel, and under which profile name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelOwner {
    pub user: UserId,
    pub profile: String,
}

/// A tunnel state as published: with the tunnel it belongs to (`None` before the first one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub owner: Option<TunnelOwner>,
    pub state: TunnelState,
}

/// Whether `caller` may control, answer, or read the log and history of the tunnel `owner`
/// asked for. Before any tunnel there is nothing private.
pub fn may_use(owner: Option<&TunnelOwner>, caller: &Caller) -> bool {
    caller.administrator || owner.is_none_or(|o| o.user == caller.user)
}

/// What `caller` is shown of a state: everything when it may use the tunnel; otherwise that
/// the helper is busy, without the browser address of someone else's sign-in.
pub fn shown_to(published: &Published, caller: &Caller) -> TunnelState {
    match &published.state {
        TunnelState::AwaitingBrowser { profile, .. }
            if !may_use(published.owner.as_ref(), caller) =>
        {
            TunnelState::Connecting {
                profile: profile.clone(),
                phase: "AUTH".into(),
            }
        }
        state => state.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A user by number: a uid on Unix, a SID on Windows.
    #[cfg(unix)]
    pub fn user(n: u32) -> UserId {
        n
    }
    #[cfg(windows)]
    pub fn user(n: u32) -> UserId {
        format!("S-1-5-21-7-7-7-{n}")
    }

    pub fn caller(n: u32) -> Caller {
        Caller {
            user: user(n),
            administrator: false,
        }
    }

    pub fn administrator() -> Caller {
        Caller::helper()
    }

    fn alice() -> TunnelOwner {
        TunnelOwner {
            user: user(1000),
            profile: "corp".into(),
        }
    }

    #[test]
    fn only_the_user_that_started_a_tunnel_or_an_administrator_may_use_it() {
        assert!(may_use(Some(&alice()), &caller(1000)));
        assert!(may_use(Some(&alice()), &administrator()));
        assert!(!may_use(Some(&alice()), &caller(1001)));
        assert!(!may_use(Some(&alice()), &caller(65534)));
        // Before the first tunnel nothing belongs to anyone.
        assert!(may_use(None, &caller(1001)));
    }

    #[test]
    fn others_see_that_the_helper_is_busy_but_not_the_sign_in_address() {
        let waiting = Published {
            owner: Some(alice()),
            state: TunnelState::AwaitingBrowser {
                profile: "corp".into(),
                url: "https://idp.example/saml?SAMLRequest=secret".into(),
            },
        };
        assert_eq!(shown_to(&waiting, &caller(1000)), waiting.state);
        assert_eq!(shown_to(&waiting, &administrator()), waiting.state);
        let other = shown_to(&waiting, &caller(1001));
        assert_eq!(
            other,
            TunnelState::Connecting {
                profile: "corp".into(),
                phase: "AUTH".into()
            }
        );
        let up = Published {
            owner: Some(alice()),
            state: TunnelState::Connected {
                profile: "corp".into(),
                tunnel_ip: "10.0.0.2".into(),
                endpoint_ip: "192.0.2.1".into(),
                dns: Default::default(),
            },
        };
        assert_eq!(shown_to(&up, &caller(1001)), up.state);
    }
}
