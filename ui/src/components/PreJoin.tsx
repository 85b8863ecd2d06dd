// Before joining: a name, camera and microphone at the start, then the local meeting or a LiveKit server.
import { useState } from "preact/hooks";
import { language, t, type Language } from "../i18n";
import { errorDetail, join, joinError, meeting } from "../store";

const NAME_KEY = "colloque.displayName";

export function PreJoin() {
  const [name, setName] = useState(() => localStorage.getItem(NAME_KEY) ?? "");
  const [camera, setCamera] = useState(false);
  const [microphone, setMicrophone] = useState(true);
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  const busy = meeting.value.phase === "joining";
  const error = joinError.value;
  const start = (target: Parameters<typeof join>[0]) => {
    localStorage.setItem(NAME_KEY, name.trim());
    void join(target, name.trim(), camera, microphone);
  };
  return (
    <main class="prejoin">
      <header>
        <h1>{t("appName")}</h1>
        <label class="language">
          {t("language")}{" "}
          <select value={language.value} onChange={(e) => (language.value = (e.target as HTMLSelectElement).value as Language)}>
            <option value="fr">Français</option>
            <option value="en">English</option>
          </select>
        </label>
      </header>
      {error && (
        <p class="error" role="alert" data-error={error.kind}>
          <strong>{t(`error_${error.kind}`)}</strong> {errorDetail(error)}
        </p>
      )}
      <section aria-labelledby="prejoin-title">
        <h2 id="prejoin-title">{t("prejoinTitle")}</h2>
        <label>
          {t("displayName")}
          <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} autoComplete="name" maxLength={64} required />
        </label>
        <label class="check">
          <input type="checkbox" name="camera" checked={camera} onChange={(e) => setCamera((e.target as HTMLInputElement).checked)} />
          {t("cameraOnAtStart")}
        </label>
        <label class="check">
          <input
            type="checkbox"
            name="microphone"
            checked={microphone}
            onChange={(e) => setMicrophone((e.target as HTMLInputElement).checked)}
          />
          {t("microphoneOnAtStart")}
        </label>
        <button type="button" class="primary" data-action="start-local" disabled={busy || !name.trim()} onClick={() => start({ kind: "local" })}>
          {busy ? t("joining") : t("startLocal")}
        </button>
        <p class="hint">{t("startLocalHint")}</p>
      </section>
      <form
        aria-labelledby="server-title"
        onSubmit={(e) => {
          e.preventDefault();
          start({ kind: "server", url, token });
        }}
      >
        <h2 id="server-title">{t("orJoinServer")}</h2>
        <label>
          {t("serverUrl")}
          <input name="url" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} placeholder="wss://" spellcheck={false} />
        </label>
        <label>
          {t("token")}
          <input name="token" type="password" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} spellcheck={false} />
        </label>
        <button type="submit" disabled={busy || !url.trim() || !token.trim()}>
          {t("join")}
        </button>
      </form>
    </main>
  );
}
