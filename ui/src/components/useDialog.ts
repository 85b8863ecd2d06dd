// A modal dialog's keyboard behaviour: Escape closes it, Tab stays inside it, and focus returns to where it
// was when the dialog closes.
import type { RefObject } from "preact";
import { useEffect } from "preact/hooks";

const FOCUSABLE = "button:not([disabled]), select:not([disabled]), input:not([disabled]), [tabindex]:not([tabindex='-1'])";

export function useDialog(dialog: RefObject<HTMLElement | null>, close: () => void): void {
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const keydown = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close();
        return;
      }
      if (e.key !== "Tab" || !dialog.current) return;
      const inside = Array.from(dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE));
      const first = inside[0];
      const last = inside[inside.length - 1];
      if (!first || !last) return;
      const active = document.activeElement;
      if (e.shiftKey && (active === first || !dialog.current.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !dialog.current.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    };
    window.addEventListener("keydown", keydown);
    return () => {
      window.removeEventListener("keydown", keydown);
      before?.focus?.();
    };
  }, []);
}
