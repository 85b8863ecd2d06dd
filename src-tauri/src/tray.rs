//! The tray icon: show the window, quit. A desktop without a tray (no StatusNotifier host) only loses the
//! icon, with a log line.
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

fn french() -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .is_some_and(|v| v.starts_with("fr"))
}

fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Puts the icon in the tray.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let (show_label, quit_label) =
        if french() { ("Afficher Colloque", "Quitter") } else { ("Show Colloque", "Quit") };
    let show_item = MenuItem::with_id(app, "show", show_label, true, None::<&str>)?;
    let quit_item = MenuItem::with_id(app, "quit", quit_label, true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show_item, &quit_item])?;
    let mut tray =
        TrayIconBuilder::with_id("colloque").tooltip("Colloque").menu(&menu).on_menu_event(|app, event| {
            match event.id.as_ref() {
                "show" => show(app),
                "quit" => app.exit(0),
                _ => {}
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}
