// Reactions: the toolbar to send one (Visio's set) and the ones received, each with its sender's name.
import { t } from "../i18n";
import { nameOf, type Member, type Reaction } from "../state/meeting";
import { reactionsOpen, sendReaction } from "../store";

/** The emoji Visio offers. */
export const EMOJIS = ["👍", "👎", "👏", "❤️", "😂", "😮", "🎉"];

export function ReactionBar() {
  return (
    <div class="reaction-bar" role="toolbar" aria-label={t("reactions")}>
      {EMOJIS.map((emoji, i) => (
        <button
          key={emoji}
          type="button"
          class="emoji"
          aria-label={`${t("sendReaction")} ${emoji}`}
          data-reaction={emoji}
          autofocus={i === 0}
          onClick={() => {
            void sendReaction(emoji);
            reactionsOpen.value = false;
          }}
        >
          {emoji}
        </button>
      ))}
    </div>
  );
}

export function ReactionsShown({ reactions, members }: { reactions: Reaction[]; members: Member[] }) {
  return (
    <ul class="reactions" aria-live="polite">
      {reactions.map((r) => (
        <li key={r.id} data-reaction={r.emoji} data-from={r.from}>
          <span class="emoji" aria-hidden="true">
            {r.emoji}
          </span>{" "}
          <span>{nameOf(members, r.from)}</span>
        </li>
      ))}
    </ul>
  );
}
