// A button that is on or off (aria-pressed), named for what pressing it does, with the same name as its
// tooltip. Keyboard shortcuts use `typing` to stay out of text fields.
import type { ComponentChildren } from "preact";

interface Props {
  pressed: boolean;
  /** What pressing does while pressed (e.g. "Mute microphone (M)"), and while not. */
  label: [whenPressed: string, whenNot: string];
  control: string;
  onClick: () => void;
  class?: string;
  children: ComponentChildren;
}

export function ToggleButton({ pressed, label, control, onClick, class: className, children }: Props) {
  const name = pressed ? label[0] : label[1];
  return (
    <button type="button" class={className} aria-pressed={pressed} aria-label={name} title={name} data-control={control} onClick={onClick}>
      {children}
    </button>
  );
}

/** Whether a key press goes to a text field (shortcuts then stay quiet). */
export function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
