.PHONY: up test setup lint bench
up:
	./dev up
test:
	./dev test
setup:
	./dev setup
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:
	.venv/bin/python bench/io_bench.py
	.venv/bin/python bench/sensor_bench.py
	.venv/bin/python bench/pipeline_bench.py
	.venv/bin/python bench/cleanup_bench.py
