//! Whose tunnel it is. The uid comes from the kernel's peer credentials of the connection that
//! asked for the tunnel, never from anything a client says; only that uid, or root, may
//! control the tunnel, answer its sign-in, or read its log and history. Everyone the peer
//! policy admits may see that the helper is busy.

use postern_types::tunnel::TunnelState;

pub const ROOT: u32 = 0;

/// Who asked for the current (or last) tunnel, and under which profile name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelOwner {
    pub uid: u32,
    pub profile: String,
}

/// A tunnel state as published: with the tunnel it belongs to (`None` before the first one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub owner: Option<TunnelOwner>,
    pub state: TunnelState,
}

/// Whether `peer` may control, answer, or read the log and history of the tunnel `owner` asked
/// for. Before any tunnel there is nothing private.
pub fn may_use(owner: Option<&TunnelOwner>, peer: u32) -> bool {
    peer == ROOT || owner.is_none_or(|o| o.uid == peer)
}

/// What `peer` is shown of a state: everything when it may use the tunnel; otherwise that the
/// helper is busy, without the browser address of someone else's sign-in.
pub fn shown_to(published: &Published, peer: u32) -> TunnelState {
    match &published.state {
        TunnelState::AwaitingBrowser { profile, .. }
            if !may_use(published.owner.as_ref(), peer) =>
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
mod tests {
    use super::*;

    fn alice() -> TunnelOwner {
        TunnelOwner {
            uid: 1000,
            profile: "corp".into(),
        }
    }

    #[test]
    fn only_the_uid_that_started_a_tunnel_or_root_may_use_it() {
        assert!(may_use(Some(&alice()), 1000));
        assert!(may_use(Some(&alice()), ROOT));
        assert!(!may_use(Some(&alice()), 1001));
        assert!(!may_use(Some(&alice()), 65534));
        // Before the first tunnel nothing belongs to anyone.
        assert!(may_use(None, 1001));
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
        assert_eq!(shown_to(&waiting, 1000), waiting.state);
        assert_eq!(shown_to(&waiting, ROOT), waiting.state);
        let other = shown_to(&waiting, 1001);
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
        assert_eq!(shown_to(&up, 1001), up.state);
    }
}
