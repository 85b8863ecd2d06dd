# Colloque: the two set-up commands of the README, plus helpers.
#   make run   — installs what is missing, then opens the app (the local meeting when no server is given)
#   make test  — installs what is missing, then runs every test
SHELL := /bin/bash
.DEFAULT_GOAL := run

.PHONY: run test setup setup-test lint bench demo fixtures check-windows

setup:
	@scripts/setup-system.sh build
	@scripts/setup-rust.sh
	@scripts/setup-ui.sh

setup-test:
	@scripts/setup-system.sh test
	@scripts/setup-rust.sh
	@scripts/setup-ui.sh
	@scripts/setup-peers.sh
	@scripts/setup-tauri-driver.sh

run: setup
	@scripts/run-app.sh

test: setup-test
	@scripts/test.sh

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

check-windows: setup
	scripts/check-windows.sh

bench: setup-test
	cargo run --release -p colloque-cli -- bench media

demo: setup-test
	cargo run --release -p colloque-cli -- demo --source screen --out out/colloque-demo.h264

fixtures: setup-test
	@crates/media/tests/fixtures/make-fixtures.sh
