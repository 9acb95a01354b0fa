use std::sync::Mutex;

use postern_core::session::notify::Notice;
use postern_core::session::present::{Indicator, Presentation};
use postern_ipc::agent::AgentError;
use postern_ipc::agent_client::AgentClientError;

use super::*;
use crate::failure::FailureKind;

/// A person's login item, in memory.
#[derive(Default)]
struct LoginItemsInMemory(Mutex<Option<settings::LoginItem>>);

impl LoginItems for LoginItemsInMemory {
    fn read(&self) -> Result<Option<settings::LoginItem>, settings::LoginItemError> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn write(&self, program: &Path) -> Result<settings::LoginItem, settings::LoginItemError> {
        let item = settings::LoginItem {
            location: "memory".into(),
            program: Some(program.to_path_buf()),
        };
        *self.0.lock().unwrap() = Some(item.clone());
        Ok(item)
    }
    fn remove(&self) -> Result<bool, settings::LoginItemError> {
        Ok(self.0.lock().unwrap().take().is_some())
    }
}

/// Records what the controller shows, in order.
#[derive(Default)]
struct Recorder {
    views: Mutex<Vec<Presentation>>,
    journeys: Mutex<Vec<postern_core::session::journey::Journey>>,
    notices: Mutex<Vec<Notice>>,
}

impl Shell for Recorder {
    fn render(&self, view: &SessionView) {
        self.views.lock().unwrap().push(view.presentation.clone());
        self.journeys.lock().unwrap().push(view.journey.clone());
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
    options_with(dir, policy, Arc::new(LoginItemsInMemory::default()))
}

fn options_with(
    dir: &Path,
    policy: Option<&str>,
    login_items: Arc<dyn LoginItems + Send + Sync>,
) -> StartOptions {
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
            login_items,
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
    assert_eq!(view.session.presentation.headline, "Not configured");
    assert!(
        view.session
            .presentation
            .reason
            .unwrap()
            .contains("missing.toml")
    );
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
    assert!(view.session.presentation.can_connect);
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
    // The journey holds the failing step, with the same reason.
    let journey = shell.journeys.lock().unwrap().last().cloned().unwrap();
    let sign_in = &journey.steps[0];
    assert_eq!(
        sign_in.status,
        postern_core::session::journey::StepStatus::Failed
    );
    assert_eq!(sign_in.reason.as_deref(), Some(reason.as_str()));
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

const PLAIN_POLICY: &str = "[identity_center]\nstart_url = \"https://ctl.awsapps.com/start\"\nregion = \"eu-west-1\"\n\
                            oidc_endpoint = \"http://127.0.0.1:9\"\nportal_endpoint = \"http://127.0.0.1:9\"\n\n\
                            [[access]]\naccount = \"111122223333\"\nrole = \"Developer\"\nrequire = []\n";

async fn started_with(
    dir: &Path,
    app_section: &str,
    items: Arc<LoginItemsInMemory>,
) -> Arc<Controller> {
    let policy = format!("{PLAIN_POLICY}\n{app_section}");
    Controller::start(
        options_with(dir, Some(&policy), items),
        Arc::new(Recorder::default()),
    )
    .await
}

#[tokio::test]
async fn the_window_turns_start_at_login_on_and_off_as_the_persons_choice() {
    let dir = tempfile::tempdir().unwrap();
    let items = Arc::new(LoginItemsInMemory::default());
    let controller = started_with(dir.path(), "", items.clone()).await;
    let before = controller.view().settings.unwrap();
    assert!(!before.start_at_login.on && !before.start_at_login.locked);
    assert_eq!(before.start_at_login.origin, "default");
    let on = controller.set_start_at_login(true).unwrap();
    assert!(on.start_at_login.on);
    assert_eq!(on.start_at_login.origin, "your choice");
    assert_eq!(
        items.read().unwrap().unwrap().program,
        Some(std::env::current_exe().unwrap())
    );
    let off = controller.set_start_at_login(false).unwrap();
    assert!(!off.start_at_login.on);
    assert!(items.read().unwrap().is_none());
    controller.shutdown().await;
}

#[tokio::test]
async fn a_setting_the_organization_forces_is_locked_in_the_window_and_written_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let items = Arc::new(LoginItemsInMemory::default());
    let controller = started_with(
        dir.path(),
        "[app]\nstart_at_login = true\nconnect_on_start = true\n",
        items.clone(),
    )
    .await;
    let shown = controller.view().settings.unwrap();
    assert!(shown.start_at_login.on && shown.start_at_login.locked);
    assert_eq!(
        shown.start_at_login.origin,
        "set by your organization (policy file)"
    );
    let refused = controller.set_start_at_login(false).unwrap_err();
    assert_eq!(refused.failure().kind, FailureKind::SettingLocked);
    assert!(
        refused.failure().message.contains("cannot be changed here"),
        "{refused:?}"
    );
    // At start the item is written; at login the organization's connect-on-start applies.
    let app = Path::new("/opt/postern/postern-app");
    assert_eq!(
        controller.after_start(true, Some(app)),
        AfterStart::Stay { connect: true }
    );
    assert_eq!(items.read().unwrap().unwrap().program.as_deref(), Some(app));
    // Started by hand, it never connects by itself.
    assert_eq!(
        controller.after_start(false, Some(app)),
        AfterStart::Stay { connect: false }
    );
    controller.shutdown().await;
}

#[tokio::test]
async fn started_at_login_while_start_at_login_is_off_the_app_quits_and_the_item_goes() {
    let dir = tempfile::tempdir().unwrap();
    let items = Arc::new(LoginItemsInMemory::default());
    items.write(Path::new("/opt/postern/postern-app")).unwrap();
    let controller =
        started_with(dir.path(), "[app]\nstart_at_login = false\n", items.clone()).await;
    assert_eq!(
        controller.after_start(true, Some(Path::new("/opt/postern/postern-app"))),
        AfterStart::Quit
    );
    assert!(
        items.read().unwrap().is_none(),
        "the forced-off item is removed"
    );
    controller.shutdown().await;
}

#[tokio::test]
async fn an_invalid_policy_shows_a_settings_problem_instead_of_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let controller = started_with(
        dir.path(),
        "[app]\nstart_at_login = \"yes\"\n",
        Arc::new(LoginItemsInMemory::default()),
    )
    .await;
    let view = controller.view();
    assert!(view.settings.is_none());
    let problem = view.settings_problem.unwrap();
    assert!(
        problem.message.contains("must be true or false"),
        "{problem:?}"
    );
    assert_eq!(
        controller.after_start(true, Some(Path::new("/x"))),
        AfterStart::Stay { connect: false }
    );
}
