# The two commands for a fresh machine: `make demo` (the main job) and `make test`; each sets up .venv if missing.
.PHONY: setup test test-fast test-experiments test-jazzy lint demo

# .venv holds both distributions of this repository, the runtime and then training/ (scripts/setup.sh); a venv that
# cannot import both (missing, or made before training/ was its own distribution) is set up again.
VENV_READY = @.venv/bin/python -c 'import night_seg_ros, night_seg_training' 2>/dev/null || bash scripts/setup.sh

setup:
	bash scripts/setup.sh

test:
	$(VENV_READY)
	.venv/bin/python -m pytest -q test

# The fast layers only (test/unit, test/component; about a minute): what to run while changing code.
test-fast:
	$(VENV_READY)
	.venv/bin/python -m pytest -q test -m "unit or component"

# The studies' own checks (experiments/), apart from the product's suite.
test-experiments:
	$(VENV_READY)
	.venv/bin/python -m pytest -q experiments

# The node, DDS, replay, faults, parameter and launch tests again on the ROS 2 Jazzy wheels (.venv-jazzy, no torch:
# its test bundle is made with .venv), without ROS_DISTRO, as the PyPI wheels run, and the rehearsal of
# docs/INSTALL.md, whose stand-in for /opt/ros is this venv. CI runs it after `make test`.
JAZZY_TESTS = test/unit/test_dds.py test/unit/test_launch_file.py test/component/test_parameters.py \
	test/component/test_dds_profile.py test/component/test_interrupts.py test/dds test/slow/test_install_path.py
JAZZY_BUNDLE = out/test_bundle_64x128
test-jazzy:
	$(VENV_READY)
	@[ -x .venv-jazzy/bin/python ] || bash scripts/setup_jazzy.sh
	@[ -f $(JAZZY_BUNDLE)/model.onnx ] || .venv/bin/night-seg init $(JAZZY_BUNDLE) --onnx --height 64 --width 128
	env -u ROS_DISTRO NIGHT_SEG_TEST_BUNDLE=$(CURDIR)/$(JAZZY_BUNDLE) .venv-jazzy/bin/python -m pytest -q $(JAZZY_TESTS)

lint:
	.venv/bin/ruff check .

# The main job in one command: set up if needed, then drive -> replay -> seg_node -> recorder; results in out/demo/.
demo:
	$(VENV_READY)
	.venv/bin/python scripts/demo.py
