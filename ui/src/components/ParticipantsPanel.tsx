import { t } from "../i18n";
import { trackOf, type Member } from "../state/meeting";
import { togglePanel } from "../store";
import { Icon } from "./Icon";

export function ParticipantsPanel({ members }: { members: Member[] }) {
  return (
    <aside class="panel" aria-label={t("participants")}>
      <header>
        <h2>
          {t("participants")} · {members.length}
        </h2>
        <button type="button" onClick={() => togglePanel("participants")} aria-label={t("close")}>
          ×
        </button>
      </header>
      <ul class="people">
        {members.map((m) => {
          const mic = trackOf(m, "microphone");
          return (
            <li key={m.identity} data-identity={m.identity}>
              <span>{m.isLocal ? `${m.name} (${t("you")})` : m.name}</span>
              {m.handRaised && (
                <span title={t("handRaised")}>
                  <Icon name="hand" size={14} />
                </span>
              )}
              {(!mic || mic.muted) && <span class="badge muted">{t("muted")}</span>}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
