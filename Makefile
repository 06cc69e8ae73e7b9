# Shortcuts for the scripts; the scripts are the source of truth.
.PHONY: demo test deps build release clean
demo:
	./scripts/demo.sh
test:
	./scripts/test.sh
deps:
	./scripts/deps.sh
build:
	cmake --preset debug && cmake --build --preset debug
release:
	cmake --preset release && cmake --build --preset release
clean:
	rm -rf build
