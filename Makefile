.PHONY: test plugin-zip

test:
	scripts/test.sh

plugin-zip:
	python3 scripts/plugin_zip.py
