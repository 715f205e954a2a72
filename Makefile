# Everything a newcomer needs: `make run` trains, `make test` tests. Both install what is missing.
PY      := .venv/bin/python
STAMP   := .venv/.installed
GAME    ?= Breakout
ARGS    ?=
MINUTES ?= 30
NP      ?= 2
BATCH   ?= 2560
FRAMES  ?= 5e6
RULE    ?= none
WARMUP  ?= 0
RANKS   ?= 1
SEED    ?= 1
RESULTS ?= batch

.PHONY: install run run-mpi demo test test-fast bench bench-env bench-model bench-train bench-learn bench-allreduce bench-update \
	bench-scaling bench-stragglers bench-node bench-batch scale-study overlap-study defaults-screen screen-table confirm-defaults confirm-table scale-anchors anchors-table plan plan-defaults plan-sweep predict grow-compare plot-batch plot-scale showcase slurm-job plot lint clean help

help:
	@echo "make install          apt packages, .venv, requirements, Horovod CPU build (idempotent)"
	@echo "make run              train $(GAME) in one process (ARGS='...' adds flags); rerun resumes"
	@echo "make run-mpi NP=2     the same under mpirun -np NP"
	@echo "make demo             a shipped trained agent (models/$(GAME).npz): 5 games scored + one game as demo/$(GAME).gif"
	@echo "make test             the full test suite (real emulator, mpirun, local Slurm cluster)"
	@echo "make test-fast        the tests that take seconds (no learning, MPI or Slurm)"
	@echo "make bench            emulator, network and trainer throughput + ratio to the compute bound"
	@echo "make bench-env | bench-model | bench-train   the parts of make bench"
	@echo "make bench-update     one update at 1/4/16 emulators x 5 steps on 1 and 2 cores, split into parts, vs its floor"
	@echo "make bench-learn      train Breakout for MINUTES=$(MINUTES) and report the score (JSON line)"
	@echo "make bench-allreduce  one fused gradient allreduce at 2-12 ranks: each OpenMPI algorithm, horovod vs mpi4py [ARGS=\"--compression none fp16\"]"
	@echo "make bench-scaling    trainer time per update on 2 one-core ranks + projection to 64-1,536 ranks, then"
	@echo "                      make plan-sweep on the new update time (minutes to Breakout 20/100/300 vs ranks)"
	@echo "make bench-node       one node's cores as 2x1 vs 1x2 ranks x threads, and --overlap vs synchronous"
	@echo "make bench-stragglers one rank's per-update time distribution; cost of waiting for the slowest of 64/768/1536"
	@echo "make showcase GAME=Seaquest  train 10M frames with defaults, export models/GAME.npz, 30-game eval, 3 GIFs"
	@echo "                      [FRAMES=2e7] [FLAGS='-o rmsprop ...']: another frame budget, extra training flags"
	@echo "make bench-batch BATCH=2560 FRAMES=5e6 RULE=none WARMUP=0 [GAME=..] [RANKS=1 SEED=1 RESULTS=batch]  large-batch study run (resumes)"
	@echo "make scale-study      the scale study's long runs (batches 80-1,280 to Breakout 100, then 300 or 40M frames), resumable"
	@echo "make overlap-study    --overlap vs synchronous to 3M frames: 3 seeds per arm at batch 80, 2 at 1,280 (resumable)"
	@echo "make defaults-screen [FRAMES=5e6]  candidate default flags x Boxing, Breakout, Space Invaders, Pong, one"
	@echo "                      run at a time (resumable); [CANDIDATES='adam-0.99 defaults'] [GAMES='Breakout Pong']: a subset,"
	@echo "                      in that order; make screen-table: frames to each game's threshold, end score"
	@echo "make confirm-defaults CANDIDATE=adam-0.99 [GAMES=..]  the candidate on the six showcase games, 10M frames each,"
	@echo "                      30-game evals (resumable); make confirm-table CANDIDATE=..: against random play and models/"
	@echo "make scale-anchors CANDIDATE=adam-0.99  the scale study's batch-1,280 and batch-80 runs (seed 1, to Breakout 300"
	@echo "                      or 40M frames) with the candidate's flags (resumable); make anchors-table CANDIDATE=..: the"
	@echo "                      critical batch through them against the old defaults' two seeds, per target"
	@echo "make predict          the fit's pre-registered prediction for BATCH=5120 (commit it before that run); CHECK=1 compares"
	@echo "make grow-compare     --grow_envs vs fixed plans (64 virtual ranks from batch 320; batch 320 and 640): frames, updates, minutes"
	@echo "make plan NP=1536     a job's global batch, time per update, and projected frames/minutes to 20/100/300"
	@echo "                      from the scale study (no training)"
	@echo "make plan-defaults    the emulators per rank the trainer picks at each rank count, from the study's fit"
	@echo "make plan-sweep       minutes to 20/100/300 at 8-1,536 ranks (default plans) from the scale study's fit:"
	@echo "                      table, benchmarks/results/plan_sweep.jsonl, docs/plan-minutes.png beside BA3C's times"
	@echo "make plot-batch       docs/batch-study.png from benchmarks/results/batch.jsonl"
	@echo "make plot-scale       docs/scale-study.png and its table: the scale study so far (finished and running runs),"
	@echo "                      and docs/scale-tradeoff.png: updates vs samples to each score with the fitted curves"
	@echo "make slurm-job NODES=.. TASKS=.. CPUS_PER_TASK=.. TIME=.. ARGS='..' [STAGE=/tmp]   render an sbatch file"
	@echo "make plot RUN=runs/<name>   learning curve PNG;  make lint   ruff"

$(STAMP): requirements.txt scripts/install.sh
	./scripts/install.sh
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) train.py -e $(GAME) $(ARGS)

run-mpi: $(STAMP)
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np $(NP) --oversubscribe \
		$(PY) train.py -e $(GAME) $(ARGS)

# No training: evaluate the shipped model under the standard protocol on a few games, record one.
demo: $(STAMP)
	@test -f models/$(GAME).npz || { echo "no shipped model models/$(GAME).npz; shipped: $$(ls models/*.npz)"; exit 2; }
	@mkdir -p demo
	$(PY) train.py --task eval --load models/$(GAME).npz -e $(GAME) --episodes 5 --output demo/eval-$(GAME).json
	$(PY) train.py --task record --load models/$(GAME).npz -e $(GAME) --output demo/$(GAME).gif

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=25 tests

test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not slow"

bench-learn: $(STAMP)
	cd benchmarks && ../$(PY) bench_learn.py --minutes $(MINUTES) -- $(ARGS)

NODES         ?= 1
TASKS         ?= 2
CPUS_PER_TASK ?= 1
TIME          ?= 01:00:00
KIND          ?= train
JOB           ?= $(KIND)-job.sbatch
STAGE         ?=
slurm-job: $(STAMP)
	$(PY) scripts/render_slurm.py --kind $(KIND) --nodes $(NODES) --tasks $(TASKS) \
		--cpus-per-task $(CPUS_PER_TASK) --time $(TIME) --args "$(if $(ARGS),$(ARGS),-e $(GAME))" --output $(JOB) \
		$(if $(STAGE),--stage-venv $(STAGE))

clean:
	rm -rf .pytest_cache benchmarks/results/*.tmp

bench-env: $(STAMP)
	cd benchmarks && ../$(PY) bench_env.py

bench-model: $(STAMP)
	cd benchmarks && ../$(PY) bench_model.py

bench-train: $(STAMP)
	cd benchmarks && ../$(PY) bench_train.py

bench-update: $(STAMP)
	cd benchmarks && ../$(PY) bench_update.py $(ARGS)

bench-allreduce: $(STAMP)
	cd benchmarks && ../$(PY) bench_allreduce.py $(ARGS)

bench-scaling: $(STAMP)
	cd benchmarks && ../$(PY) bench_scaling.py && ../$(PY) plan.py --sweep --game $(GAME)

bench-node: $(STAMP)
	cd benchmarks && ../$(PY) bench_node.py $(ARGS)

bench-stragglers: $(STAMP)
	cd benchmarks && ../$(PY) bench_stragglers.py $(ARGS)

bench: $(STAMP)
	cd benchmarks && ../$(PY) bench_all.py

plot: $(STAMP)
	$(PY) -m ba3c.plot $(RUN)

lint: $(STAMP)
	$(PY) -m ruff check .

# About an hour per game at 10M frames on 2 cores; rerunning resumes.
showcase: $(STAMP)
	scripts/showcase.sh $(GAME)

bench-batch: $(STAMP)
	cd benchmarks && ../$(PY) bench_batch.py --game $(GAME) --global_batch $(BATCH) --frames $(FRAMES) \
		--lr_scaling $(RULE) --lr_warmup $(WARMUP) --ranks $(RANKS) --results $(RESULTS) --seed $(SEED) -- $(ARGS)

scale-study: $(STAMP)
	benchmarks/scale_study.sh

overlap-study: $(STAMP)
	benchmarks/overlap_study.sh

defaults-screen: $(STAMP)
	cd benchmarks && ../$(PY) defaults_screen.py run --frames $(FRAMES) \
	    $(if $(CANDIDATES),--candidates $(CANDIDATES)) $(if $(GAMES),--games $(GAMES))

screen-table: $(STAMP)
	cd benchmarks && ../$(PY) defaults_screen.py table --json results/screen-table.json --plot ../docs/defaults-screen.png

CANDIDATE ?= adam-0.99
confirm-defaults: $(STAMP)
	cd benchmarks && ../$(PY) confirm_defaults.py run --candidate $(CANDIDATE) $(if $(GAMES),--games $(GAMES))

confirm-table: $(STAMP)
	cd benchmarks && ../$(PY) confirm_defaults.py table --candidate $(CANDIDATE) --json results/confirm-table.json

scale-anchors: $(STAMP)
	cd benchmarks && ../$(PY) scale_anchors.py run --candidate $(CANDIDATE)

anchors-table: $(STAMP)
	cd benchmarks && ../$(PY) scale_anchors.py compare --candidate $(CANDIDATE) --json results/anchors-$(CANDIDATE).json

plan: $(STAMP)
	cd benchmarks && ../$(PY) plan.py --np $(NP) --game $(GAME) $(ARGS)

plan-defaults: $(STAMP)
	cd benchmarks && ../$(PY) plan.py --defaults

plan-sweep: $(STAMP)
	cd benchmarks && ../$(PY) plan.py --sweep --game $(GAME)

predict: $(STAMP)
	cd benchmarks && ../$(PY) predict.py --global_batch $(BATCH) $(if $(CHECK),--check) $(ARGS)

grow-compare: $(STAMP)
	cd benchmarks && ../$(PY) grow_compare.py $(ARGS)

plot-scale: $(STAMP)
	cd benchmarks && ../$(PY) plot_batch.py --results scale --partial --output ../docs/scale-study.png
	cd benchmarks && ../$(PY) plot_tradeoff.py --game $(GAME)

plot-batch: $(STAMP)
	cd benchmarks && ../$(PY) plot_batch.py --game $$(../$(PY) -c "import sys; sys.path.insert(0, '..'); \
		from ba3c.games import resolve_game; print(resolve_game('$(GAME)'))")
