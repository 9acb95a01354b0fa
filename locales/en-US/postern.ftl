# Postern's words for people: the tray, the window, notifications and the session's status lines.
# One file per language (locales/LANG/postern.ftl); English is the reference. A translation is a
# copy of this file with every value translated; ids and { $variables } stay as they are.
# The causes come from here too (postern-types reads their English as written); what they quote
# from elsewhere (an OpenVPN failure, a posture fix, a detail) arrives as it is.

## The session's status line, one per state

state-not-connected = Not connected
state-not-connected-next = Click Connect when you need AWS access.
state-sign-in = Sign in to continue
state-sign-in-next-code = Open the sign-in page and confirm the code { $code }.
state-sign-in-next = Finish signing in in your browser.
state-checking-sign-in = Checking your sign-in…
state-checking-device = Checking this device…
state-connecting-vpn = Connecting the VPN '{ $profile }'…
state-vpn-sign-in = Sign in to the VPN in your browser
state-vpn-sign-in-next = If no browser page opened, open the link below; the VPN waits up to 5 minutes.
state-verifying-egress = Verifying that traffic leaves through the company network…
state-issuing = Getting AWS credentials…
state-protected = Protected: { $account } / { $role }
state-paused = Paused: AWS credentials are withheld
state-blocked = Blocked: no AWS credentials
state-disconnecting = Disconnecting…
state-starting = Starting…
state-starting-reason = Postern is starting.
state-starting-next = Wait a moment.
state-stopped = Postern stopped
state-stopped-reason = The session has ended.
state-stopped-next = Open Postern again.
state-not-configured = Not configured
state-cannot-start = Postern cannot start
state-cannot-start-reason = The session could not start: { $detail }.
state-cannot-start-next = Quit the other Postern (app or `postern agent`) and open Postern again.

## How a Ready session is described

egress-not-required = egress not required by policy
expiry = until { $clock }, { $left }
expiry-left-under-a-minute = in less than a minute
expiry-left-minutes = in { $minutes } min
expiry-left-hours = in { $hours } h { $minutes } min
terminal-served = AWS credentials are served { $expiry }; { $leaving }.
terminal-leaves-from = traffic leaves from { $address }
# An account as people know it: its name and id, or the id alone.
account-named = { $name } · { $id }

## The tray menu

menu-account = Account { $account } · role { $role }
menu-leaving-through = Leaving through { $address }
menu-connect = Connect
menu-disconnect = Disconnect
menu-open = Open Postern
menu-diagnostics = Export diagnostics…
menu-quit = Quit Postern

## Notifications

notice-connected = Connected
notice-connected-through = AWS credentials for { $account } / { $role } are ready, through { $address }.
notice-connected-without-egress = AWS credentials for { $account } / { $role } are ready ({ $egress }).
notice-vpn-dropped = VPN dropped
notice-device-attention = This device needs attention
notice-sign-in = Sign in to continue
notice-sign-in-code = Confirm the code { $code } in your browser.
notice-sign-in-browser = Finish signing in in your browser.
notice-expiring = AWS credentials expire soon
notice-expiring-body = They expire in { $minutes } min. Click Connect afterwards to get new ones.

## The steps of Connect

step-sign-in = Sign-in
step-device = This device
step-vpn = VPN
step-network = Network
step-credentials = Credentials
step-status-pending = Waiting
step-status-running = In progress
step-status-done = Done
step-status-skipped = Not required
step-status-failed = Failed

## Device checks: a name, and what the organization requires

check-os-version = Operating system
check-disk-encryption = Disk encryption
check-firewall = Firewall
check-required-process = Required app
check-forbidden-process = App not allowed
check-screen-lock = Screen lock
check-secure-boot = Secure Boot
check-system-integrity = System integrity
check-managed = Device management
need-os-version = needs { $version } or later
need-on = must be on
need-running = must be running
need-not-running = must not be running
need-managed = must be managed by your organization
check-not-applicable = not applicable here
check-needs-elevation = needs administrator rights to read
check-unreadable = could not be read ({ $detail })

## What the window says when a command could not be done

failure-no-sign-in-waiting = No sign-in is waiting.
failure-no-sign-in-waiting-next = Click Connect to start one.
failure-no-device-requirements = The company policy has no device requirements.
failure-no-network-requirements = The company policy has no network requirements.
failure-not-required-next = Nothing to check: your company does not require it.
failure-posture-interrupted = The device check stopped before it finished.
failure-posture-interrupted-next = Check the device again.
failure-no-folder-for-bundle = There is no folder to save the bundle in (no Downloads folder and no home folder).
failure-no-folder-for-bundle-next = Set POSTERN_DIAGNOSTICS_DIR to a folder you can write, then export again.
failure-browser-not-opened = The browser could not be opened ({ $detail }).
failure-browser-not-opened-next = Open { $url } in your browser yourself.

## The window

window-skip = Skip to the main content
window-title = Postern
window-status = Connection status
window-journey = Progress
window-journey-elapsed = { $seconds } s
window-primary-connect = Connect
window-primary-sign-in = Open the sign-in page
window-primary-retry = Try again
window-primary-disconnect = Disconnect
window-copy-details = Copy details
window-copied = Copied. Paste it to your helpdesk.
window-copy-failed = Could not copy; select the text below and copy it.
window-sign-in-confirm = Confirm this code on the sign-in page:
window-sign-in-page = Sign-in page:
window-connection = Account
window-access = Account and role
window-profile = VPN profile
window-profile-certificate = certificate
window-profile-password = user and password
window-profile-saml = SAML sign-in
window-protected = Your AWS access
window-protected-account = Account
window-protected-role = Role
window-protected-egress = Traffic leaves through
window-protected-expires = Credentials expire
window-device = This device
window-check-now = Check now
window-network = Network
window-network-address = Public address
window-network-nat = Company NAT
window-network-country = Country (estimate)
window-yes = yes
window-no = no
window-unknown = unknown
window-settings = Settings
window-start-at-login = Start Postern when I log in
window-connect-on-start = Connect when Postern starts at login:
window-help = Help
window-help-text = A bundle for your helpdesk, with every secret removed. See what it holds before saving.
window-preview = Show what it holds
window-save = Save the bundle
window-redactions = { $count } secrets and personal details will be removed.
window-saved = Saved { $path } ({ $bytes } bytes).
window-missing = missing: { $detail }
window-pick-first = Pick an account and role first.
window-on = on
window-off = off

## Why a session changed (the causes), and what to do next. The tray, the window, notifications
## and the CLI say these; values from elsewhere ({ $detail }, an OpenVPN failure, a posture fix)
## arrive as they are.

cause-connect-requested = Connecting.
cause-sign-in-needed = Sign in to continue.
cause-sign-in-needed-next = Finish signing in in your browser.
cause-sign-in-failed = Sign-in failed: { $detail }
cause-sign-in-failed-next = Click Connect to sign in again.
cause-keychain-unavailable = No keychain is available to keep your sign-in ({ $detail }).
cause-keychain-unavailable-next-linux = Start your desktop's keyring (a Secret Service such as gnome-keyring or KWallet), then click Connect.
cause-keychain-unavailable-next = Sign in to your desktop session, then click Connect.
cause-keychain-locked = The keychain is locked or refused Postern ({ $detail }).
cause-keychain-locked-next = Unlock your keychain (log in to your desktop session again), then click Connect.
cause-identity-center-unreachable = IAM Identity Center could not be reached ({ $detail }).
cause-identity-center-unreachable-next = Check your internet connection, then click Connect; if it keeps failing, tell your IT department.
cause-identity-center-fault = IAM Identity Center is having trouble on its side ({ $detail }).
cause-identity-center-fault-next = Wait a few minutes and click Connect again (AWS may be having an outage).
cause-identity-center-denied = IAM Identity Center refused the request ({ $detail }).
cause-identity-center-denied-next = Tell your IT department, with this message.
cause-role-not-granted = IAM Identity Center does not give you the role { $role } in account { $account }.
cause-role-not-granted-next = Pick an account and role you have (`postern accounts`), or ask your IT department for this one.
cause-scope-down-refused = AWS STS refused to limit the credentials to the company network ({ $detail }). AWS credentials are withheld.
cause-scope-down-refused-next = Tell your IT department: Postern could not assume the scope-down role named in the policy.
cause-profile-store-unreadable = The VPN profiles could not be read ({ $detail }).
cause-profile-store-unreadable-next = Check that the folder is yours and readable, or import the profile again (`postern vpn import FILE`).
cause-helper-unavailable = The Postern VPN helper cannot be used ({ $detail }).
cause-helper-unavailable-next-unreachable = Start the Postern VPN helper (or reinstall Postern), then click Connect.
cause-helper-unavailable-next-not-permitted = Ask your IT department to add your account to the 'postern' group, then log in again.
cause-helper-unavailable-next-untrusted = Unset POSTERN_HELPER_SOCKET (so the helper's own socket is used) or point it at the helper's socket; if the default is refused, reinstall Postern.
cause-helper-version = The Postern VPN helper speaks protocol { $helper }, this agent speaks { $agent }.
cause-helper-version-next = Restart the Postern VPN helper (or reinstall Postern) so it matches this version.
cause-country-not-allowed = Traffic leaves from { $address } in { $country }, a country the company policy does not allow. AWS credentials are withheld.
cause-country-not-allowed-next = If you are travelling, ask your IT department; otherwise tell them the VPN does not leave where the policy expects.
cause-country-database-unreadable = The country database { $path } cannot be opened ({ $detail }), so the country cannot be checked. AWS credentials are withheld.
cause-country-database-unreadable-next = Tell your IT department: the country database named in Postern's policy is missing or damaged.
cause-internal = Postern failed unexpectedly ({ $detail }).
cause-internal-next = Click Connect to try again; if it persists, export diagnostics for your helpdesk.
cause-posture-failed = This device does not meet the company's requirements ({ $failing }).
cause-posture-failed-next = { $fixes }
cause-posture-unknown = Postern could not check this device ({ $unknown }).
cause-posture-unknown-next = Try again; if it persists, export diagnostics for your helpdesk.
cause-vpn-failed = { $failure }
cause-vpn-failed-next = { $next }
cause-vpn-reconnecting = The VPN dropped; reconnecting ({ $attempt } of { $max }). AWS credentials are paused.
cause-vpn-reconnecting-next = Wait a moment; Postern resumes by itself when the VPN is back.
cause-vpn-lost = The VPN connection was lost. AWS credentials were withdrawn.
cause-vpn-lost-next = Check your internet connection, then click Connect.
cause-egress-mismatch = Traffic leaves from { $address }, not through the company NAT. AWS credentials are withheld.
cause-egress-mismatch-next = Tell your IT department: the VPN does not route traffic through the company NAT.
cause-egress-undetermined = Postern could not confirm where traffic leaves ({ $detail }). AWS credentials are withheld.
cause-egress-undetermined-next = Check your connection (a captive portal or proxy can interfere) and click Connect.
cause-credentials-expired = The AWS credentials expired.
cause-credentials-expired-next = Click Connect to get new credentials.
cause-all-gates-open = Connected: AWS credentials are ready.
cause-user-disconnected = Disconnected.
cause-user-disconnected-next = Click Connect when you need AWS access.
