import { t } from "../i18n";
import { nameOf, type Caption, type Member } from "../state/meeting";

export function Captions({ captions, members }: { captions: Caption[]; members: Member[] }) {
  return (
    <div class="captions" role="log" aria-live="polite" aria-label={t("captionsOn")}>
      {captions.map((c) => (
        <p key={c.segmentId} class={c.final ? "caption final" : "caption"} data-caption={c.segmentId}>
          <strong>{nameOf(members, c.speaker)} :</strong> {c.text}
        </p>
      ))}
    </div>
  );
}
