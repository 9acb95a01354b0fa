use std::sync::Mutex;

use postern_agent::client::AgentClientError;
use postern_core::session::notify::Notice;
use postern_core::session::present::{Indicator, Presentation};
use postern_ipc::agent::AgentError;

use super::*;
use crate::failure::FailureKind;

/// Records what the controller shows, in order.
#[derive(Default)]
struct Recorder {
    views: Mutex<Vec<Presentation>>,
    notices: Mutex<Vec<Notice>>,
}

impl Shell for Recorder {
    fn render(&self, view: &Presentation) {
        self.views.lock().unwrap().push(view.clone());
    }
    fn notify(&self, notice: &Notice) {
        self.notices.lock().unwrap().push(notice.clone());
    }
}

impl Recorder {
    fn indicators(&self) -> Vec<Indicator> {
        self.views
            .lock()
            .unwrap()
            .iter()
            .map(|v| v.indicator)
            .collect()
    }
}

fn options(dir: &Path, policy: Option<&str>) -> StartOptions {
    let policy_file = policy.map(|text| {
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    StartOptions {
        policy_file: Some(policy_file.unwrap_or_else(|| dir.join("missing.toml"))),
        agent_socket: dir.join("agent/agent.sock"),
        open_browser: false,
        // Nothing of the user's: the agent keeps its state here and its secrets in memory.
        places: Places::Isolated {
            root: dir.to_path_buf(),
            secrets: Arc::new(postern_core::identity::MemoryStore::default()),
        },
    }
}

#[tokio::test]
async fn without_a_policy_the_tray_and_window_say_not_configured_and_commands_explain() {
    let dir = tempfile::tempdir().unwrap();
    let shell = Arc::new(Recorder::default());
    let controller = Controller::start(options(dir.path(), None), shell.clone()).await;
    assert_eq!(shell.indicators(), [Indicator::Blocked]);
    let view = controller.view();
    assert_eq!(view.session.headline, "Not configured");
    assert!(view.session.reason.unwrap().contains("missing.toml"));
    let refused = controller
        .connect("111122223333".into(), "Developer".into(), None)
        .await
        .unwrap_err();
    // A typed cause, carrying the reason the window already shows and its next step.
    let failure = refused.failure();
    assert_eq!(failure.kind, FailureKind::NotRunning);
    assert!(failure.message.contains("missing.toml"), "{failure:?}");
    assert!(matches!(
        controller.posture().await,
        Err(CommandError::NoDeviceRequirements)
    ));
}

#[tokio::test]
async fn a_connect_that_fails_is_rendered_step_by_step_with_its_reason_and_no_pop_up() {
    let dir = tempfile::tempdir().unwrap();
    let shell = Arc::new(Recorder::default());
    // Identity Center at a closed port: the sign-in fails at once.
    let policy = "[identity_center]\nstart_url = \"https://ctl.awsapps.com/start\"\nregion = \"eu-west-1\"\n\
                  oidc_endpoint = \"http://127.0.0.1:9\"\nportal_endpoint = \"http://127.0.0.1:9\"\n\n\
                  [[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\nrequire = []\n";
    let controller = Controller::start(options(dir.path(), Some(policy)), shell.clone()).await;
    let view = controller.view();
    assert_eq!(view.choices.len(), 1);
    assert!(view.session.can_connect);
    // A role the policy does not list is refused by the agent, with its sentence.
    let refused = controller
        .connect("111122223333".into(), "Admin".into(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &refused,
            CommandError::Agent(e) if matches!(&**e, AgentClientError::Refused(AgentError::AccessNotAllowed { role, .. }) if role == "Admin")
        ),
        "{refused:?}"
    );
    assert!(refused.failure().message.contains("does not allow"));

    controller
        .connect("111122223333".into(), "Developer".into(), None)
        .await
        .unwrap();
    let mut blocked = None;
    for _ in 0..200 {
        blocked = shell
            .views
            .lock()
            .unwrap()
            .iter()
            .find(|v| v.indicator == Indicator::Blocked)
            .cloned();
        if blocked.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let blocked = blocked.expect("the failed sign-in is shown");
    // A closed port is an outage to report as such, not "sign in again".
    let reason = blocked.reason.unwrap();
    assert!(
        reason.starts_with("IAM Identity Center could not be reached"),
        "{reason}"
    );
    assert!(
        blocked
            .next_step
            .as_deref()
            .is_some_and(|s| s.starts_with("Check your internet connection")),
        "{:?}",
        blocked.next_step
    );
    let indicators = shell.indicators();
    assert_eq!(
        indicators.first(),
        Some(&Indicator::SignedOut),
        "{indicators:?}"
    );
    assert!(indicators.contains(&Indicator::Working), "{indicators:?}");
    assert!(
        shell.notices.lock().unwrap().is_empty(),
        "a connect that fails while the person watches is not a pop-up"
    );
    // Quitting disconnects and closes the socket.
    controller.shutdown().await;
    assert!(!dir.path().join("agent/agent.sock").exists());
}

#[tokio::test]
async fn connect_from_the_tray_goes_straight_on_only_when_the_choice_is_obvious() {
    let policy = |rules: &[&str]| {
        let mut text = "[identity_center]\nstart_url = \"https://ctl.awsapps.com/start\"\nregion = \"eu-west-1\"\n\
                        oidc_endpoint = \"http://127.0.0.1:9\"\nportal_endpoint = \"http://127.0.0.1:9\"\n"
            .to_string();
        for role in rules {
            text += &format!(
                "\n[[access]]\naccount = \"111122223333\"\nrole = \"{role}\"\nrequire = []\n"
            );
        }
        text
    };
    // Two roles and no session yet: the window must ask.
    let dir = tempfile::tempdir().unwrap();
    let shell = Arc::new(Recorder::default());
    let two = policy(&["Developer", "ReadOnly"]);
    let controller = Controller::start(options(dir.path(), Some(&two)), shell.clone()).await;
    assert_eq!(controller.view().obvious_target(), None);
    assert!(matches!(controller.connect_obvious().await, Ok(false)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(controller.presentation().state, "idle", "nothing started");
    assert!(!shell.indicators().contains(&Indicator::Working));
    controller.shutdown().await;

    // One role: Connect starts at once, towards it.
    let dir = tempfile::tempdir().unwrap();
    let shell = Arc::new(Recorder::default());
    let one = policy(&["Developer"]);
    let controller = Controller::start(options(dir.path(), Some(&one)), shell.clone()).await;
    let only = controller.view().obvious_target().expect("one choice");
    assert_eq!(
        (only.account.as_str(), only.role.as_str()),
        ("111122223333", "Developer")
    );
    assert!(matches!(controller.connect_obvious().await, Ok(true)));
    let mut started = false;
    for _ in 0..100 {
        started = shell.indicators().contains(&Indicator::Working);
        if started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started, "{:?}", shell.indicators());
    controller.shutdown().await;
}
