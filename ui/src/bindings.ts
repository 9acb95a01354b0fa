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
nextStep: string | null, canConnect: boolean, canDisconnect: boolean, target: Target | null, signIn: SignInPrompt | null, 
/**
 * The egress address this session proved, when its rule requires the egress gate.
 */
egress: string | null, 
/**
 * The egress as every door words it: the address, or that the policy does not require it.
 */
egressText: string | null, expiresAt: string | null, };

export type AccessChoice = { account: string, role: string, };

export type WindowView = { session: Presentation, choices: Array<AccessChoice>, 
/**
 * Stored VPN profile names.
 */
profiles: Array<string>, };

export type CheckLine = { name: string, 
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

