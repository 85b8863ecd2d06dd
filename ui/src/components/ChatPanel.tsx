import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../i18n";
import { nameOf, type ChatMessage, type Member } from "../state/meeting";
import { sendChat, togglePanel } from "../store";

export function ChatPanel({ chat, members }: { chat: ChatMessage[]; members: Member[] }) {
  const [draft, setDraft] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [chat.length]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    if (await sendChat(text)) setDraft("");
  };
  return (
    <aside class="panel" aria-label={t("chatTitle")}>
      <header>
        <h2>{t("chatTitle")}</h2>
        <button type="button" onClick={() => togglePanel("chat")} aria-label={t("close")}>
          ×
        </button>
      </header>
      <ol class="messages" ref={list} aria-live="polite">
        {chat.map((m) => (
          <li key={m.id} class={m.mine ? "mine" : ""} data-chat={m.id}>
            <span class="from">{m.mine ? t("you") : nameOf(members, m.from)}</span>
            <time>{new Date(m.timestamp).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</time>
            <p>{m.text}</p>
          </li>
        ))}
      </ol>
      <form class="compose" onSubmit={submit}>
        <input
          ref={input}
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
          placeholder={t("chatPlaceholder")}
          aria-label={t("chatPlaceholder")}
          maxLength={4000}
          name="chat"
        />
        <button type="submit">{t("send")}</button>
      </form>
    </aside>
  );
}
