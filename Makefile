# mtl — every target sets up the virtual environment first if needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
MTL    := $(BIN)/mtl
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data
export TOKENIZERS_PARALLELISM ?= false
export PYTHONUNBUFFERED := 1

.PHONY: setup train test bench-overhead bench-balancers bench-ddp demo glue glue-balancers glue-balancers-report ud-ewt glue-transfer glue-transfer-report ud-to-cola nsmc nsmc-transfer nsmc-transfer-report clean help

help:
	@echo "make train            set up, then train the embedded demo (offline, ~1 min)"
	@echo "make test             set up, then run the test suite"
	@echo "make glue             GLUE (SST-2, CoLA, MRPC, STS-B, RTE) from DATA=$(DATA)"
	@echo "make glue-balancers   GLUE once per balancer: sum, uncertainty, FAMO, PCGrad, MGDA, soft sharing"
	@echo "make ud-ewt           UD English-EWT tagging (UPOS, XPOS, FEATS, DEPREL)"
	@echo "make glue-transfer    pre-train a denoising autoencoder + masked LM on GLUE text, then fine-tune GLUE from it"
	@echo "make ud-to-cola       CoLA from the UD English-EWT tagger: scratch, freeze, freeze_lower, finetune"
	@echo "make nsmc             NSMC Korean movie-review sentiment with its own Korean tokenizer"
	@echo "make nsmc-transfer    denoising autoencoder on NSMC text, then NSMC sentiment from it"
	@echo "make bench-overhead   module step vs. a plain PyTorch loop"
	@echo "make bench-balancers  balancer step time and memory vs. torchjd and LibMTL (LIBMTL_SRC=...)"
	@echo "make bench-ddp        training throughput, 1 vs. 2 DDP processes"

setup: $(STAMP)

# torch first, pinned by constraints.txt (a CPU build is served for that version), then
# the project under the same constraint so nothing can pull another torch.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

train: demo

demo: setup
	$(MTL) fit -c experiments/demo.yaml

test: setup
	$(BIN)/python -m pytest -q

glue: setup
	$(MTL) fit -c experiments/glue.yaml --data.data_dir=$(DATA)

ud-ewt: setup
	$(MTL) fit -c experiments/ud_ewt.yaml --data.data_dir=$(DATA)

GLUE_BALANCERS := sum uncertainty famo pcgrad mgda soft_sharing

# One GLUE run per balancer (experiments/glue_balancers/<name>.yaml on top of glue.yaml and
# the shared budget.yaml); runs land in runs/glue_balancers/<name>/. About 10 to 15 minutes
# each on one CPU core.
glue-balancers: setup
	for b in $(GLUE_BALANCERS); do \
	  $(MTL) fit -c experiments/glue.yaml -c experiments/glue_balancers/budget.yaml -c experiments/glue_balancers/$$b.yaml --data.data_dir=$(DATA) || exit 1; \
	done
	$(MAKE) glue-balancers-report

# The newest finished run of each balancer, side by side: reports/glue_balancers.md
glue-balancers-report: setup
	$(MTL) report $(foreach b,$(GLUE_BALANCERS),$$(ls -d runs/glue_balancers/$(b)/version_* | sort -V | tail -1)) \
	  --output reports/glue_balancers.md --title "GLUE: one BiLSTM, six ways to combine the task losses" \
	  --notes "Budget: 2 epochs x 100 steps, every task at every step, batch 64 per task (experiments/glue_balancers/budget.yaml); dev sets. Command: make glue-balancers."

# The newest run of a name: runs/<name>/version_<highest>/checkpoints/last.ckpt, looked up
# by the shell when the line runs (after the pre-training line before it has finished).
LAST_CKPT = $$(ls -dv runs/$(1)/version_* | tail -1)/checkpoints/last.ckpt
LAST_RUN = $$(ls -dv runs/$(1)/version_* | tail -1)

# Pre-training on GLUE text, then GLUE from its encoder and tokenizer, beside GLUE from
# scratch on the same budget (glue.yaml, trained first when runs/glue has no finished run);
# the three runs and the advisor's view in reports/glue_transfer.md.
glue-transfer: setup
	$(MTL) fit -c experiments/glue_dae.yaml --data.data_dir=$(DATA)
	$(MTL) fit -c experiments/glue_from_dae.yaml --data.data_dir=$(DATA) --model.transfer.checkpoint=$(call LAST_CKPT,glue_dae)
	ls runs/glue/version_*/results-fit.json >/dev/null 2>&1 || $(MTL) fit -c experiments/glue.yaml --data.data_dir=$(DATA)
	$(MAKE) glue-transfer-report

GLUE_TASKS := sst2 cola mrpc stsb rte
GLUE_TRANSFER_NOTES := Budget: pre-training 2 epochs x 1500 steps (batch 64, one task per step by temperature sampling: a denoising autoencoder on SST-2, masked LM on the other four); GLUE 3 epochs, batch 64, temperature sampling, the same BiLSTM from scratch (its own WordPiece tokenizer trained on the same five corpora) and from the pre-trained encoder (finetune, discriminative learning rates 0.8 per layer down); dev sets. Command: make glue-transfer (1 CPU thread per run).

# The advisor per GLUE task, then the report; runs/glue_from_dae/version_N/advice.md keeps the advice.
glue-transfer-report: setup
	run=$(call LAST_RUN,glue_from_dae); rm -f $$run/advice.md; \
	for t in $(GLUE_TASKS); do \
	  case=$$($(MTL) advise --source $(call LAST_CKPT,glue_dae) -c experiments/glue_from_dae.yaml --data_dir $(DATA) --tasks $$t | grep '^case:') || exit 1; \
	  echo "$$t: $$case." >> $$run/advice.md; \
	done; \
	$(MTL) report $(call LAST_RUN,glue) $(call LAST_RUN,glue_dae) $$run \
	  --output reports/glue_transfer.md --title "GLUE from scratch and from a denoising / masked-LM pre-training" \
	  --notes "$(GLUE_TRANSFER_NOTES) Advisor (mtl advise --tasks <task>): $$(tr '\n' ' ' < $$run/advice.md)"

# CoLA from the UD tagger (trained first when runs/ud_ewt has no checkpoint), once per strategy
# (experiments/ud_to_cola/<strategy>.yaml; scratch is the baseline); runs in runs/ud_to_cola/<strategy>/.
ud-to-cola: setup
	ls runs/ud_ewt/version_*/checkpoints/last.ckpt >/dev/null 2>&1 || $(MTL) fit -c experiments/ud_ewt.yaml --data.data_dir=$(DATA)
	for s in scratch freeze freeze_lower finetune; do \
	  $(MTL) fit -c experiments/ud_to_cola.yaml -c experiments/ud_to_cola/$$s.yaml --data.data_dir=$(DATA) --model.transfer.checkpoint=$(call LAST_CKPT,ud_ewt) || exit 1; \
	done

nsmc: setup
	$(MTL) fit -c experiments/nsmc.yaml --data.data_dir=$(DATA)

# Denoising pre-training on the NSMC reviews, then NSMC from it, beside NSMC from scratch
# (nsmc.yaml, trained first when runs/nsmc has no finished run): reports/nsmc_transfer.md.
nsmc-transfer: setup
	$(MTL) fit -c experiments/nsmc_dae.yaml --data.data_dir=$(DATA)
	$(MTL) fit -c experiments/nsmc_from_dae.yaml --data.data_dir=$(DATA) --model.transfer.checkpoint=$(call LAST_CKPT,nsmc_dae)
	ls runs/nsmc/version_*/results-fit.json >/dev/null 2>&1 || $(MTL) fit -c experiments/nsmc.yaml --data.data_dir=$(DATA)
	$(MAKE) nsmc-transfer-report

NSMC_TRANSFER_NOTES := Budget: denoising pre-training 2 epochs x 1500 steps, batch 64 (15% masked, 10% deleted, shuffled within 3); NSMC 2 epochs, batch 64, from scratch and from the pre-trained encoder and Korean tokenizer (gradual unfreezing); the 50,000-review test file serves as validation. Command: make nsmc-transfer (1 CPU thread per run).

nsmc-transfer-report: setup
	run=$(call LAST_RUN,nsmc_from_dae); \
	$(MTL) advise --source $(call LAST_CKPT,nsmc_dae) -c experiments/nsmc_from_dae.yaml --data_dir $(DATA) > $$run/advice.md || exit 1; \
	$(MTL) report $(call LAST_RUN,nsmc) $(call LAST_RUN,nsmc_dae) $$run \
	  --output reports/nsmc_transfer.md --title "NSMC from scratch and from a denoising pre-training" \
	  --notes "$(NSMC_TRANSFER_NOTES) Advisor: $$(grep '^case:' $$run/advice.md)."

bench-overhead: setup
	$(BIN)/python benchmarks/overhead.py

bench-ddp: setup
	$(BIN)/python benchmarks/ddp.py

clean:
	rm -rf $(VENV) runs .pytest_cache

# Balancer cost next to torchjd (registry) and LibMTL (source tree in LIBMTL_SRC, optional),
# in its own environment so the peers never enter .venv.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r constraints.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -c constraints.txt -e . 'torchjd[full]'
	touch $(BENCH_STAMP)

bench-balancers: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/balancers.py
