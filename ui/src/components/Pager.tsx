// Previous / next page of tiles, for the grid and the speaker view's strip.
import { t } from "../i18n";

interface Props {
  /** 0-based page shown. */
  current: number;
  pages: number;
  onPage: (page: number) => void;
}

export function Pager({ current, pages, onPage }: Props) {
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label={t("page")}>
      <button type="button" onClick={() => onPage(Math.max(0, current - 1))} disabled={current === 0} aria-label={t("previousPage")}>
        ‹
      </button>
      <span>
        {t("page")} {current + 1} / {pages}
      </span>
      <button
        type="button"
        onClick={() => onPage(Math.min(pages - 1, current + 1))}
        disabled={current >= pages - 1}
        aria-label={t("nextPage")}
      >
        ›
      </button>
    </nav>
  );
}
