# Colloque: the two set-up commands of the README, plus helpers.
#   make run   — installs what is missing, then runs the app's main job (today: the media demo)
#   make test  — installs what is missing, then runs every test
SHELL := /bin/bash
.DEFAULT_GOAL := run

.PHONY: run test setup setup-test lint bench fixtures

setup:
	@scripts/setup-system.sh build
	@scripts/setup-rust.sh

setup-test:
	@scripts/setup-system.sh test
	@scripts/setup-rust.sh
	@scripts/setup-peers.sh

run: setup-test
	@scripts/run-demo.sh

test: setup-test
	@scripts/test.sh

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: setup-test
	cargo run --release -p colloque-cli -- bench media

fixtures: setup-test
	@crates/media/tests/fixtures/make-fixtures.sh
