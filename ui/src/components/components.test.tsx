import { cleanup, fireEvent, render, screen } from "@testing-library/preact";
import { afterEach, describe, expect, it } from "vitest";
import { language } from "../i18n";
import type { Member } from "../state/meeting";
import { Captions } from "./Captions";
import { ChatPanel } from "./ChatPanel";
import { devices, microphoneLevel, previewProblems, settings } from "../settings/store";
import { pinned } from "../store";
import { DeviceFields } from "./DeviceFields";
import { Pager } from "./Pager";
import { Tile } from "./Tile";

afterEach(cleanup);
language.value = "fr";

const camille: Member = {
  sid: "PA_c",
  identity: "camille",
  name: "Camille Martin",
  isLocal: false,
  tracks: [{ sid: "TR_mic", kind: "audio", source: "microphone", muted: true, width: 0, height: 0 }],
  handRaised: true,
  joinedAt: 0,
};

describe("a tile", () => {
  it("names the participant and shows the muted and raised-hand badges, also to a screen reader", () => {
    const { container } = render(<Tile member={camille} speaking={true} width={320} height={180} cameraOn={false} microphoneOn={false} />);
    const tile = container.querySelector("figure.tile");
    expect(tile?.classList.contains("speaking")).toBe(true);
    expect(tile?.getAttribute("aria-label")).toBe("Camille Martin, micro coupé, main levée, parle");
    expect(container.querySelector("[data-badge=muted]")).not.toBeNull();
    expect(container.querySelector("[data-badge=hand]")).not.toBeNull();
    // No camera track: initials instead of a video.
    expect(container.querySelector("canvas")).toBeNull();
    expect(screen.getByText("CM")).toBeTruthy();
  });

  it("shows this user's own microphone state, not the server's echo of it", () => {
    const me: Member = { ...camille, identity: "me", name: "Moi", isLocal: true, handRaised: false };
    const { container } = render(<Tile member={me} speaking={false} width={320} height={180} cameraOn={false} microphoneOn={true} />);
    expect(container.querySelector("[data-badge=muted]")).toBeNull();
    expect(screen.getByText("Moi (vous)")).toBeTruthy();
  });
});

describe("captions", () => {
  it("name the speaker by display name", () => {
    render(<Captions captions={[{ segmentId: "S1", speaker: "camille", text: "Bonjour", final: true }]} members={[camille]} />);
    expect(screen.getByRole("log").textContent).toBe("Camille Martin : Bonjour");
  });
});

describe("the chat panel", () => {
  it("lists messages with their sender's name, this user's own as « vous »", () => {
    const chat = [
      { id: "C1", from: "camille", text: "Bonjour", timestamp: 0, mine: false },
      { id: "C2", from: "me", text: "Salut", timestamp: 0, mine: true },
    ];
    const { container } = render(<ChatPanel chat={chat} members={[camille]} />);
    const items = Array.from(container.querySelectorAll(".messages li")).map((li) => [
      li.querySelector(".from")?.textContent,
      li.querySelector("p")?.textContent,
    ]);
    expect(items).toEqual([
      ["Camille Martin", "Bonjour"],
      ["vous", "Salut"],
    ]);
    expect(screen.getByRole("textbox", { name: "Écrire un message" })).toBeTruthy();
  });
});

describe("the device fields", () => {
  it("offer each device, say when there is no camera, show the microphone's level and a device's problem", () => {
    settings.value = {
      display_name: "Agnès",
      language: null,
      camera: null,
      microphone: "usb-headset",
      speaker: null,
      camera_on_at_start: false,
      microphone_on_at_start: true,
      send_quality: "high",
      receive_quality: "high",
      noise_suppression: true,
    };
    devices.value = {
      cameras: [],
      microphones: [
        { id: "builtin", name: "Micro interne", is_default: true },
        { id: "usb-headset", name: "Casque USB", is_default: false },
      ],
      speakers: [{ id: "spk", name: "Haut-parleurs", is_default: true }],
      problems: [],
    };
    microphoneLevel.value = 0.42;
    previewProblems.value = { microphone: "device busy" };
    const { container } = render(<DeviceFields meter />);
    expect(container.querySelector("[data-none=camera]")?.textContent).toBe("Aucune caméra détectée");
    const microphone = container.querySelector<HTMLSelectElement>("select[name=microphone]");
    expect(Array.from(microphone?.options ?? []).map((o) => o.text)).toEqual(["Celui du système", "Micro interne", "Casque USB"]);
    expect(microphone?.value).toBe("usb-headset");
    expect(screen.getByRole("meter", { name: "Niveau du micro" }).getAttribute("aria-valuenow")).toBe("42");
    expect(container.querySelector("[data-problem=microphone]")?.textContent).toContain("device busy");
    expect(container.querySelector("[data-action=test-speaker]")).not.toBeNull();
  });
});

describe("pinning", () => {
  it("pins a participant from their tile and unpins them again, saying so to a screen reader", () => {
    pinned.value = null;
    const view = render(<Tile member={camille} speaking={false} width={320} height={180} cameraOn={false} microphoneOn={false} pinned={false} />);
    fireEvent.click(screen.getByRole("button", { name: "Épingler Camille Martin" }));
    expect(pinned.value).toBe("camille");
    view.rerender(<Tile member={camille} speaking={false} width={320} height={180} cameraOn={false} microphoneOn={false} pinned={true} />);
    expect(view.container.querySelector("figure")?.getAttribute("aria-label")).toContain("épinglé");
    fireEvent.click(screen.getByRole("button", { name: "Désépingler Camille Martin" }));
    expect(pinned.value).toBe(null);
  });
});

describe("the pager", () => {
  it("says which page is shown, moves by one, and cannot go past either end", () => {
    const asked: number[] = [];
    const view = render(<Pager current={0} pages={3} onPage={(p) => asked.push(p)} />);
    expect(screen.getByRole("navigation", { name: "Page" }).textContent).toContain("Page 1 / 3");
    expect((screen.getByRole("button", { name: "Page précédente" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Page suivante" }));
    view.rerender(<Pager current={2} pages={3} onPage={(p) => asked.push(p)} />);
    expect((screen.getByRole("button", { name: "Page suivante" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Page précédente" }));
    expect(asked).toEqual([1, 1]);
  });

  it("is absent when everything fits on one page", () => {
    const { container } = render(<Pager current={0} pages={1} onPage={() => undefined} />);
    expect(container.innerHTML).toBe("");
  });
});
