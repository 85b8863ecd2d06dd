// French and English. French when the system says so (the web view's language follows the system locale),
// English otherwise; the user's choice in the settings wins.
import { signal } from "@preact/signals";

export type Language = "fr" | "en";

const fr = {
  appName: "Colloque",
  prejoinTitle: "Rejoindre une réunion",
  displayName: "Votre nom",
  startLocal: "Démarrer une réunion locale",
  startLocalHint: "Une réunion sur cet ordinateur, avec deux participants de démonstration.",
  orJoinServer: "Ou rejoindre une réunion LiveKit",
  serverUrl: "Adresse du serveur (wss://…)",
  token: "Jeton d'accès",
  join: "Rejoindre",
  joining: "Connexion…",
  cameraOnAtStart: "Caméra activée en arrivant",
  microphoneOnAtStart: "Micro activé en arrivant",
  microphoneOn: "Couper le micro (M)",
  microphoneOff: "Activer le micro (M)",
  cameraOn: "Couper la caméra (C)",
  cameraOff: "Activer la caméra (C)",
  chat: "Discussion (T)",
  chatTitle: "Discussion",
  chatPlaceholder: "Écrire un message",
  send: "Envoyer",
  unread: "non lus",
  captionsOn: "Masquer les sous-titres (S)",
  captionsOff: "Afficher les sous-titres (S)",
  participants: "Participants (P)",
  leave: "Quitter (Ctrl+Q)",
  you: "vous",
  muted: "micro coupé",
  handRaised: "main levée",
  speaking: "parle",
  reconnecting: "Reconnexion…",
  left: "Vous avez quitté la réunion.",
  backToStart: "Retour à l'accueil",
  noVideo: "Caméra coupée",
  page: "Page",
  previousPage: "Page précédente",
  nextPage: "Page suivante",
  close: "Fermer",
  deviceProblem: "Appareil indisponible",
  device_camera: "Caméra",
  device_microphone: "Micro",
  device_speaker: "Haut-parleur",
  error_invalid_input: "Saisie incorrecte",
  error_invalid_address: "Adresse du serveur incorrecte",
  error_refused: "Le serveur a refusé l'accès (jeton invalide ou expiré ?)",
  error_unreachable: "Serveur injoignable : vérifiez l'adresse et le réseau",
  error_media: "La connexion média a échoué",
  error_local_meeting: "La réunion locale n'a pas pu démarrer",
  error_device: "Appareil indisponible",
  error_not_in_meeting: "Aucune réunion en cours",
  error_already_in_meeting: "Une réunion est déjà en cours",
  language: "Langue",
  meetingOf: "Réunion",
};

const en: typeof fr = {
  appName: "Colloque",
  prejoinTitle: "Join a meeting",
  displayName: "Your name",
  startLocal: "Start a local meeting",
  startLocalHint: "A meeting on this computer, with two demo participants.",
  orJoinServer: "Or join a LiveKit meeting",
  serverUrl: "Server address (wss://…)",
  token: "Access token",
  join: "Join",
  joining: "Connecting…",
  cameraOnAtStart: "Camera on when joining",
  microphoneOnAtStart: "Microphone on when joining",
  microphoneOn: "Mute microphone (M)",
  microphoneOff: "Unmute microphone (M)",
  cameraOn: "Turn camera off (C)",
  cameraOff: "Turn camera on (C)",
  chat: "Chat (T)",
  chatTitle: "Chat",
  chatPlaceholder: "Write a message",
  send: "Send",
  unread: "unread",
  captionsOn: "Hide captions (S)",
  captionsOff: "Show captions (S)",
  participants: "Participants (P)",
  leave: "Leave (Ctrl+Q)",
  you: "you",
  muted: "muted",
  handRaised: "hand raised",
  speaking: "speaking",
  reconnecting: "Reconnecting…",
  left: "You left the meeting.",
  backToStart: "Back to start",
  noVideo: "Camera off",
  page: "Page",
  previousPage: "Previous page",
  nextPage: "Next page",
  close: "Close",
  deviceProblem: "Device unavailable",
  device_camera: "Camera",
  device_microphone: "Microphone",
  device_speaker: "Speaker",
  error_invalid_input: "Invalid input",
  error_invalid_address: "Invalid server address",
  error_refused: "The server refused access (invalid or expired token?)",
  error_unreachable: "Server unreachable: check the address and the network",
  error_media: "The media connection failed",
  error_local_meeting: "The local meeting could not start",
  error_device: "Device unavailable",
  error_not_in_meeting: "Not in a meeting",
  error_already_in_meeting: "A meeting is already running",
  language: "Language",
  meetingOf: "Meeting",
};

export type Key = keyof typeof fr;

const tables: Record<Language, typeof fr> = { fr, en };

/** French for a French system locale, English otherwise. */
export function systemLanguage(locale: string | undefined): Language {
  return locale?.toLowerCase().startsWith("fr") ? "fr" : "en";
}

export const language = signal<Language>(systemLanguage(globalThis.navigator?.language));

/** The text of `key` in the current language (a key without text shows as itself). */
export function t(key: Key | string): string {
  const table = tables[language.value] as Record<string, string>;
  return table[key] ?? key;
}
