# Shortcuts; each target is one plain command you can also type yourself.
.PHONY: install test lint format train bench

install:
	pip install -r requirements.txt

test:
	python -m pytest -q

lint:
	ruff check . && ruff format --check .

format:
	ruff check --fix . && ruff format .

train:
	python train.py

bench:
	python bench/models.py && python bench/ddp.py && python bench/throughput.py
