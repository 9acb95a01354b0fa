# Postern's words for people: the tray, the window, notifications and the session's status lines.
# One file per language (locales/LANG/postern.ftl); English is the reference. A translation is a
# copy of this file with every value translated; ids and { $variables } stay as they are.
# The causes' own sentences (why a session stopped, and what to do) are still English in the
# code (postern-types) and reach every door from there.

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
