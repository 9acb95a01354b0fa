// The window: renders what the Rust side presents and forwards clicks to its commands. It holds
// no session logic and never sees a token; every type comes from bindings.ts (generated), every
// word from the catalogue (locales/, through `texts`).

import type {
  AccessChoice,
  CheckLine,
  DiagnosticsPreview,
  EgressView,
  Failure,
  Invoke,
  Journey,
  Listen,
  Presentation,
  PrimaryAction,
  ProfileChoice,
  SessionView,
  SettingView,
  SettingsView,
  Step,
  WindowView,
} from "./bindings.js";
import { commands, events } from "./bindings.js";

const tauri = (window as unknown as { __TAURI__: { core: { invoke: Invoke }; event: { listen: Listen } } })
  .__TAURI__;
const api = commands(tauri.core.invoke);
const on = events(tauri.event.listen);

let words: Record<string, string> = {};

/** The catalogue's text for `id`, its `{ $name }` variables filled in. */
function t(id: string, args: Record<string, string | number> = {}): string {
  const pattern = words[id] ?? id;
  return pattern.replace(/\{ \$([a-z]+) \}/g, (_, name: string) => String(args[name] ?? ""));
}

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

function setText(id: string, text: string | null): void {
  const node = el(id);
  node.textContent = text ?? "";
  node.hidden = text === null || text === "";
}

/** Every element that names a message gets the catalogue's words. */
function translate(): void {
  document.querySelectorAll<HTMLElement>("[data-l10n]").forEach((node) => {
    node.textContent = t(node.dataset.l10n ?? "");
  });
  document.title = t("window-title");
}

let choices: AccessChoice[] = [];
let profiles: ProfileChoice[] = [];
let shownState: string | null = null;
let expiresAt: Date | null = null;
let journey: Journey = { steps: [] };

/** A network check describes the moment it ran: a new state makes it stale. */
function clearEgress(): void {
  for (const id of ["egress-address", "egress-match", "egress-country"]) el(id).textContent = "–";
  el("egress-verdict").textContent = "";
}

const PRIMARY_WORDS: Record<PrimaryAction, string> = {
  connect: "window-primary-connect",
  "sign-in": "window-primary-sign-in",
  retry: "window-primary-retry",
  disconnect: "window-primary-disconnect",
  none: "",
};

/** "in 52 minutes", in the person's language. */
function countdown(to: Date): string {
  const minutes = Math.round((to.getTime() - Date.now()) / 60000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  return minutes >= 120 ? format.format(Math.round(minutes / 60), "hour") : format.format(minutes, "minute");
}

function renderExpiry(): void {
  el("expires-in").textContent = expiresAt ? `(${countdown(expiresAt)})` : "";
}

function seconds(ms: number): string {
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(ms / 1000);
}

function renderStep(step: Step): HTMLLIElement {
  const item = document.createElement("li");
  item.className = "step";
  item.dataset.step = step.name;
  item.dataset.status = step.status;
  const mark = document.createElement("span");
  mark.className = "step-mark";
  mark.setAttribute("aria-hidden", "true");
  const name = document.createElement("span");
  name.className = "step-name";
  name.textContent = t(`step-${step.name}`);
  const status = document.createElement("span");
  status.className = "step-status";
  status.textContent = t(`step-status-${step.status}`);
  const time = document.createElement("span");
  time.className = "step-time";
  const elapsed = step.elapsedMs ?? (step.status === "running" && step.startedAt
    ? Date.now() - new Date(step.startedAt).getTime() : null);
  time.textContent = elapsed === null ? "" : t("window-journey-elapsed", { seconds: seconds(elapsed) });
  item.append(mark, name, status, time);
  for (const [cls, text] of [["step-reason", step.reason], ["step-next", step.nextStep]] as const) {
    if (!text) continue;
    const line = document.createElement("p");
    line.className = cls;
    line.textContent = text;
    item.append(line);
  }
  return item;
}

function renderJourney(j: Journey): void {
  journey = j;
  el("journey").hidden = j.steps.length === 0;
  el("steps").replaceChildren(...j.steps.map(renderStep));
}

function renderPresentation(p: Presentation): void {
  if (shownState !== null && shownState !== p.state) clearEgress();
  shownState = p.state;
  const status = el("status");
  status.dataset.indicator = p.indicator;
  status.dataset.state = p.state;
  el("badge-shape").setAttribute("href", `#shape-${p.indicator}`);
  el("headline").textContent = p.headline;
  setText("reason", p.reason);
  setText("next-step", p.nextStep);
  const primary = el<HTMLButtonElement>("primary");
  primary.dataset.action = p.primary;
  primary.hidden = p.primary === "none";
  primary.textContent = t(PRIMARY_WORDS[p.primary]);
  el("sign-in").hidden = p.signIn === null;
  setText("sign-in-code", p.signIn?.code ?? null);
  el("sign-in-confirm").hidden = !p.signIn?.code;
  // Shown as text to copy: the button opens it, after the Rust side has checked it again.
  el("sign-in-url").textContent = p.signIn?.url ?? "";
  el("protected").hidden = p.state !== "ready";
  el("target-account").textContent = p.accountLabel ?? p.target?.account ?? "";
  el("target-role").textContent = p.target?.role ?? "";
  el("egress").textContent = p.egressText ?? "";
  expiresAt = p.expiresAt ? new Date(p.expiresAt) : null;
  const expires = el<HTMLTimeElement>("expires");
  expires.textContent = expiresAt ? expiresAt.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
  expires.dateTime = p.expiresAt ?? "";
  renderExpiry();
  // While connected, the account cannot change under the session.
  el<HTMLSelectElement>("access").disabled = !p.canConnect;
  el<HTMLSelectElement>("profile").disabled = !p.canConnect;
}

function renderSession(s: SessionView): void {
  renderPresentation(s.presentation);
  renderJourney(s.journey);
}

/** "on (set by your organization (Group Policy))", with the exact place as a tooltip. */
function describeSetting(s: SettingView): string {
  return `${t(s.on ? "window-on" : "window-off")} (${s.origin})`;
}

function renderSettings(s: SettingsView | null, problem: Failure | null): void {
  const box = el<HTMLInputElement>("start-at-login");
  box.checked = s?.startAtLogin.on ?? false;
  // The organization's choice is shown, not changeable.
  box.disabled = s === null || s.startAtLogin.locked;
  el("start-at-login-origin").textContent = s ? describeSetting(s.startAtLogin) : "";
  el("start-at-login-origin").title = s?.startAtLogin.source ?? "";
  el("connect-on-start").textContent = s ? describeSetting(s.connectOnStart) : "–";
  el("connect-on-start").title = s?.connectOnStart.source ?? "";
  setText("settings-problem", problem ? describeFailure(problem) : null);
}

function renderProfileDescription(): void {
  const chosen = profiles.find((p) => p.name === el<HTMLSelectElement>("profile").value);
  el("profile-description").textContent = chosen?.description ?? "";
}

function renderView(v: WindowView): void {
  renderSettings(v.settings, v.settingsProblem);
  choices = v.choices;
  profiles = v.profiles;
  const access = el<HTMLSelectElement>("access");
  const picked = access.value;
  access.replaceChildren(
    ...v.choices.map((c, i) => new Option(`${c.accountLabel} — ${c.role}`, String(i))),
  );
  // The session's own account and role stay selected, else what the person picked.
  const target = v.session.presentation.target;
  const current = target ? v.choices.findIndex((c) => c.account === target.account && c.role === target.role) : -1;
  if (current >= 0) access.value = String(current);
  else if (picked && Number(picked) < v.choices.length) access.value = picked;
  const profile = el<HTMLSelectElement>("profile");
  const pickedProfile = profile.value;
  profile.replaceChildren(...v.profiles.map((p) => new Option(p.name, p.name)));
  if (v.profiles.some((p) => p.name === pickedProfile)) profile.value = pickedProfile;
  el("profile-field").hidden = v.profiles.length === 0;
  renderProfileDescription();
  renderSession(v.session);
}

function isFailure(e: unknown): e is Failure {
  return typeof e === "object" && e !== null && "kind" in e && "message" in e;
}

/** A command's failure: its sentence, then what to do about it. */
function describeFailure(e: unknown): string {
  if (isFailure(e)) return e.nextStep ? `${e.message} ${e.nextStep}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

async function run(action: () => Promise<unknown>): Promise<void> {
  setText("command-error", null);
  try {
    await action();
  } catch (e) {
    setText("command-error", describeFailure(e));
  }
}

function renderChecks(lines: CheckLine[]): void {
  el("checks").replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement("li");
      item.className = line.status;
      item.dataset.check = line.name;
      const label = document.createElement("strong");
      label.textContent = line.label;
      const detail = document.createElement("span");
      detail.className = "check-detail";
      detail.textContent = ` — ${line.detail}${line.requirement ? ` (${line.requirement})` : ""}`;
      item.append(label, detail);
      if (line.remediation) {
        const fix = document.createElement("span");
        fix.className = "remediation";
        fix.textContent = line.remediation;
        item.append(fix);
      }
      return item;
    }),
  );
}

function renderEgress(e: EgressView): void {
  el("egress-address").textContent = e.address ?? t("window-unknown");
  el("egress-match").textContent = t(e.natMatch ? "window-yes" : "window-no");
  el("egress-country").textContent = e.country ?? "–";
  el("egress-verdict").textContent = e.verdict;
}

function renderPreview(p: DiagnosticsPreview): void {
  const rows = [...p.files, ...p.missing.map((m) => ({ name: m.name, detail: t("window-missing", { detail: m.detail }) }))];
  el("bundle-files").replaceChildren(
    ...rows.map((f) => {
      const row = document.createElement("tr");
      for (const text of [f.name, f.detail]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }),
  );
  el("export-result").textContent = t("window-redactions", { count: p.redactions });
  el("export-diagnostics").hidden = false;
}

/** The main button does what it says now. */
function primaryAction(): Promise<unknown> {
  const action = el("primary").dataset.action as PrimaryAction;
  switch (action) {
    case "sign-in":
      return api.openSignIn();
    case "disconnect":
      return api.disconnect();
    case "connect":
    case "retry": {
      const choice = choices[Number(el<HTMLSelectElement>("access").value)];
      if (!choice) return Promise.reject(new Error(t("window-pick-first")));
      const profile = el<HTMLSelectElement>("profile").value || null;
      return api.connect(choice.account, choice.role, profile);
    }
    case "none":
      return Promise.resolve();
  }
}

async function copyDetails(): Promise<void> {
  const details = await api.copyDetails();
  el("copy-result").textContent = details.copied
    ? t("window-copied")
    : `${t("window-copy-failed")}\n${details.text}`;
}

el("primary").addEventListener("click", () => run(primaryAction));
el("copy-details").addEventListener("click", () => run(copyDetails));
el("profile").addEventListener("change", renderProfileDescription);
el("start-at-login").addEventListener("change", () =>
  run(async () => {
    try {
      renderSettings(await api.setStartAtLogin(el<HTMLInputElement>("start-at-login").checked), null);
    } finally {
      // Shows what is true now, whether the change was made or refused.
      const now = await api.view();
      renderSettings(now.settings, now.settingsProblem);
    }
  }),
);
el("check-posture").addEventListener("click", () =>
  run(async () => renderChecks(await api.checkPosture())),
);
el("check-egress").addEventListener("click", () =>
  run(async () => renderEgress(await api.checkEgress())),
);
el("preview-diagnostics").addEventListener("click", () =>
  run(async () => renderPreview(await api.previewDiagnostics())),
);
el("export-diagnostics").addEventListener("click", () =>
  run(async () => {
    const saved = await api.exportDiagnostics();
    el("export-result").textContent = t("window-saved", { path: saved.path, bytes: saved.bytes });
  }),
);

// A running step's time and the credentials' countdown move on their own.
setInterval(() => {
  if (journey.steps.some((s) => s.status === "running")) renderJourney(journey);
}, 1000);
setInterval(renderExpiry, 30_000);

void api.texts().then((texts) => {
  words = texts;
  translate();
  void on.session((session) => {
    renderSession(session);
    // Names learned after a sign-in (and a profile imported meanwhile) reach the pickers too.
    if (session.presentation.state === "ready") void api.view().then(renderView);
  });
  void on.showDiagnostics(() => {
    const help = el<HTMLDetailsElement>("diagnostics");
    help.open = true;
    help.scrollIntoView();
    el("preview-diagnostics").focus();
  });
  return api.view().then(renderView);
});
