// Generated from the Rust types by `cargo test -p postern-app` (POSTERN_WRITE_BINDINGS=1
// rewrites it). Do not edit.

export type Indicator = "signed-out" | "working" | "ready" | "warning" | "blocked";

export type SignInPrompt = { url: string, code: string | null, };

export type Target = { profile: string, account: string, role: string, };

export type Presentation = { 
/**
 * The session state's name (`SessionState::name`), or `not-configured`.
 */
state: string, indicator: Indicator, 
/**
 * One line: where things stand.
 */
headline: string, 
/**
 * Why, when something stopped or is paused.
 */
reason: string | null, 
/**
 * The one thing to do next, if anything.
 */
nextStep: string | null, canConnect: boolean, canDisconnect: boolean, target: Target | null, 
/**
 * The target's account as people know it: "Production · 111122223333", or the id.
 */
accountLabel: string | null, signIn: SignInPrompt | null, 
/**
 * The egress address this session proved, when its rule requires the egress gate.
 */
egress: string | null, 
/**
 * The egress as every door words it: the address, or that the policy does not require it.
 */
egressText: string | null, expiresAt: string | null, primary: PrimaryAction, };

export type PrimaryAction = "connect" | "sign-in" | "retry" | "disconnect" | "none";

export type StepName = "sign-in" | "device" | "vpn" | "network" | "credentials";

export type StepStatus = "pending" | "running" | "done" | "skipped" | "failed";

export type Step = { name: StepName, status: StepStatus, 
/**
 * When it began running (the window counts a running step's time from it).
 */
startedAt: string | null, 
/**
 * How long it took, once it ended.
 */
elapsedMs: number | null, 
/**
 * Why it failed (or is paused), and what to do: the cause's own sentence and next step.
 */
reason: string | null, nextStep: string | null, };

export type Journey = { steps: Array<Step>, };

export type SessionView = { presentation: Presentation, journey: Journey, };

export type AccessChoice = { account: string, role: string, 
/**
 * The account as people know it: "Production · 111122223333" once the portal named it.
 */
accountLabel: string, };

export type ProfileChoice = { name: string, 
/**
 * How it connects and where: "certificate · cvpn-endpoint-….eu-west-1.amazonaws.com".
 */
description: string, };

export type WindowView = { session: SessionView, choices: Array<AccessChoice>, profiles: Array<ProfileChoice>, 
/**
 * The app's settings; `null` with `settingsProblem` when they cannot be read.
 */
settings: SettingsView | null, settingsProblem: Failure | null, };

export type SettingView = { on: boolean, 
/**
 * The organization decides it: the switch is shown, not changeable.
 */
locked: boolean, 
/**
 * Who decided, in words ("your choice", "set by your organization (Group Policy)").
 */
origin: string, 
/**
 * Exactly where (a file, a registry value, the login item), for the helpdesk.
 */
source: string | null, };

export type SettingsView = { startAtLogin: SettingView, connectOnStart: SettingView, };

export type CheckLine = { 
/**
 * The check's id and subject (`required_process falcon-sensor`), for the helpdesk.
 */
name: string, 
/**
 * What people call it: "Operating system", "Required app: falcon-sensor".
 */
label: string, 
/**
 * What the organization requires: "needs 5.15 or later", "must be on".
 */
requirement: string | null, 
/**
 * `pass`, `fail` or `unknown`.
 */
status: string, detail: string, remediation: string | null, 
/**
 * An unknown that blocks access under the policy.
 */
blocks: boolean, };

export type EgressView = { address: string | null, natMatch: boolean, country: string | null, 
/**
 * The verdict in one sentence.
 */
verdict: string, };

export type BundleFile = { name: string, 
/**
 * Size in bytes, or why the part is missing.
 */
detail: string, };

export type DiagnosticsPreview = { files: Array<BundleFile>, missing: Array<BundleFile>, redactions: number, };

export type SavedBundle = { path: string, bytes: number, };

export type CopiedDetails = { copied: boolean, text: string, };

export type FailureKind = "not-running" | "refused" | "no-sign-in-waiting" | "unsafe-sign-in-address" | "not-required" | "interrupted" | "bad-country-database" | "not-saved" | "no-browser" | "setting-locked" | "setting-not-changed";

export type Failure = { kind: FailureKind, 
/**
 * One sentence: what happened.
 */
message: string, 
/**
 * What to do about it, when there is something to do.
 */
nextStep: string | null, };

/** Tauri's `core.invoke`: resolves with the command's value, rejects with a `Failure`. */
export type Invoke = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;

/** The window's commands. */
export const commands = (invoke: Invoke) => ({
  /** Everything the window shows at once. */
  view: (): Promise<WindowView> => invoke<WindowView>("view"),
  /** The window's words, by id (the catalogue's `window-…` messages). */
  texts: (): Promise<{ [key in string]: string }> => invoke<{ [key in string]: string }>("texts"),
  /** Puts the details for the helpdesk (no secrets) on the clipboard. */
  copyDetails: (): Promise<CopiedDetails> => invoke<CopiedDetails>("copy_details"),
  /** Connects to this account and role (and VPN profile, else the policy's). */
  connect: (account: string, role: string, profile: string | null): Promise<null> => invoke<null>("connect", { account, role, profile }),
  /** Withdraws the credentials and brings the tunnel down. */
  disconnect: (): Promise<null> => invoke<null>("disconnect"),
  /** Opens the sign-in page in the person's browser (the web view never loads it). */
  openSignIn: (): Promise<null> => invoke<null>("open_sign_in"),
  /** The device checklist, evaluated now. */
  checkPosture: (): Promise<Array<CheckLine>> => invoke<Array<CheckLine>>("check_posture"),
  /** Where traffic leaves now. */
  checkEgress: (): Promise<EgressView> => invoke<EgressView>("check_egress"),
  /** Turns start at login on or off (refused when the organization decides). */
  setStartAtLogin: (on: boolean): Promise<SettingsView> => invoke<SettingsView>("set_start_at_login", { on }),
  /** The diagnostics bundle's files before it is saved. */
  previewDiagnostics: (): Promise<DiagnosticsPreview> => invoke<DiagnosticsPreview>("preview_diagnostics"),
  /** Saves the bundle in the Downloads folder (or home), under a dated name. */
  exportDiagnostics: (): Promise<SavedBundle> => invoke<SavedBundle>("export_diagnostics"),
});

/** Tauri's `event.listen`: resolves with the function that stops listening. */
export type Listen = <T>(event: string, handler: (event: { payload: T }) => void) => Promise<() => void>;

/** The window's events. */
export const events = (listen: Listen) => ({
  /** Every new session state, as presented, with the steps of the latest Connect. */
  session: (handler: (payload: SessionView) => void): Promise<() => void> =>
    listen<SessionView>("session", (event) => handler(event.payload)),
  /** The tray asked for the diagnostics section. */
  showDiagnostics: (handler: (payload: null) => void): Promise<() => void> =>
    listen<null>("show-diagnostics", (event) => handler(event.payload)),
});
