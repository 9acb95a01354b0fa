// The window: renders what the Rust side presents and forwards clicks to its commands. It holds
// no session logic and never sees a token; every type comes from bindings.ts (generated).

import type {
  AccessChoice,
  CheckLine,
  DiagnosticsPreview,
  EgressView,
  Failure,
  Invoke,
  Listen,
  Presentation,
  SettingView,
  SettingsView,
  WindowView,
} from "./bindings.js";
import { commands, events } from "./bindings.js";

const tauri = (window as unknown as { __TAURI__: { core: { invoke: Invoke }; event: { listen: Listen } } })
  .__TAURI__;
const api = commands(tauri.core.invoke);
const on = events(tauri.event.listen);

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

let choices: AccessChoice[] = [];
let shownState: string | null = null;

/** A network check describes the moment it ran: a new state makes it stale. */
function clearEgress(): void {
  for (const id of ["egress-address", "egress-match", "egress-country"]) el(id).textContent = "–";
  el("egress-verdict").textContent = "";
}

function renderSession(p: Presentation): void {
  if (shownState !== null && shownState !== p.state) clearEgress();
  shownState = p.state;
  el("status").dataset.indicator = p.indicator;
  el("status").dataset.state = p.state;
  el("headline").textContent = p.headline;
  setText("reason", p.reason);
  setText("next-step", p.nextStep);
  el<HTMLButtonElement>("connect").disabled = !p.canConnect;
  el<HTMLButtonElement>("disconnect").disabled = !p.canDisconnect;
  el("sign-in").hidden = p.signIn === null;
  setText("sign-in-code", p.signIn?.code ?? null);
  el("sign-in-confirm").hidden = !p.signIn?.code;
  // Shown as text to copy: the button opens it, after the Rust side has checked it again.
  el("sign-in-url").textContent = p.signIn?.url ?? "";
  el("protected").hidden = p.state !== "ready";
  if (p.target) el("target").textContent = `${p.target.account} / ${p.target.role}`;
  el("egress").textContent = p.egressText ?? "";
  el("expires").textContent = p.expiresAt ? new Date(p.expiresAt).toLocaleTimeString() : "";
}

/** "on (set by your organization (Group Policy))", with the exact place as a tooltip. */
function describeSetting(s: SettingView): string {
  return `${s.on ? "on" : "off"} (${s.origin})`;
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

function renderView(v: WindowView): void {
  renderSettings(v.settings, v.settingsProblem);
  choices = v.choices;
  const access = el<HTMLSelectElement>("access");
  access.replaceChildren(
    ...v.choices.map((c, i) => new Option(`${c.account} / ${c.role}`, String(i))),
  );
  const profile = el<HTMLSelectElement>("profile");
  profile.replaceChildren(...v.profiles.map((name) => new Option(name, name)));
  el("profile").parentElement!.hidden = v.profiles.length === 0;
  renderSession(v.session);
}

function isFailure(e: unknown): e is Failure {
  return typeof e === "object" && e !== null && "kind" in e && "message" in e;
}

/** A command's failure: its sentence, then what to do about it. */
function describeFailure(e: unknown): string {
  if (isFailure(e)) return e.nextStep ? `${e.message} ${e.nextStep}` : e.message;
  return String(e);
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
      item.textContent = `${line.name}: ${line.detail}`;
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
  el("egress-address").textContent = e.address ?? "unknown";
  el("egress-match").textContent = e.natMatch ? "yes" : "no";
  el("egress-country").textContent = e.country ?? "–";
  el("egress-verdict").textContent = e.verdict;
}

function renderPreview(p: DiagnosticsPreview): void {
  const rows = [...p.files, ...p.missing.map((m) => ({ name: m.name, detail: `missing: ${m.detail}` }))];
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
  el("export-result").textContent = `${p.redactions} secrets and personal details will be removed.`;
  el("export-diagnostics").hidden = false;
}

el("connect").addEventListener("click", () =>
  run(() => {
    const choice = choices[Number(el<HTMLSelectElement>("access").value)];
    if (!choice) throw new Error("Pick an account and role first.");
    const profile = el<HTMLSelectElement>("profile").value || null;
    return api.connect(choice.account, choice.role, profile);
  }),
);
el("disconnect").addEventListener("click", () => run(() => api.disconnect()));
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
el("open-sign-in").addEventListener("click", () => run(() => api.openSignIn()));
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
    el("export-result").textContent = `Saved ${saved.path} (${saved.bytes} bytes).`;
  }),
);

void on.session(renderSession);
void on.showDiagnostics(() => {
  (el("diagnostics") as HTMLDetailsElement).open = true;
  el("diagnostics").scrollIntoView();
});
void api.view().then(renderView);
